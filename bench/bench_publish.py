"""Publishing N rows: CPU seconds of ``Warehouse.publish_rows`` (set-wise) against the
row-by-row ``executemany`` it replaced (issue 13), on a DuckDB file and on PostgreSQL.

Usage: ``.venv/bin/python bench/bench_publish.py --rows 1000 10000 [--postgres DSN]``
(the DSN's database gets a schema ``archy`` with tables ``b`` and ``r``: give it a scratch one).
CPU seconds are this process's (``time.process_time``): the database work of DuckDB runs in
this process; PostgreSQL's server work is not counted (its time is given as wall seconds).
The rows look like ``archy.change_events``: seven text columns, a timestamp with time zone
and a nullable JSON text.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

from archy_pipeline.warehouse import DuckDBWarehouse, PostgresWarehouse, Warehouse

COLUMNS = {
    "event_id": "varchar",
    "workspace": "varchar",
    "detected_at": "timestamp with time zone",
    "type": "varchar",
    "subject_type": "varchar",
    "subject_id": "varchar",
    "subject_name": "varchar",
    "before": "varchar",
    "after": "varchar",
    "size": "bigint",
    "ok": "boolean",
}


def rows(count: int) -> list[tuple]:
    start = datetime(2026, 11, 30, tzinfo=timezone.utc)
    return [
        (f"{n:016x}", "acme", start + timedelta(seconds=n), "new_recipe", "recipe", str(n),
         f"Recipe number {n} syncs Salesforce to NetSuite", None if n % 3 else '{"a": 1}',
         '{"name": "R", "status": "active"}', None if n % 5 == 0 else n, n % 2 == 0)
        for n in range(count)
    ]  # fmt: skip


def row_by_row(backend: Warehouse, table: str, data: list[tuple]) -> None:
    """What publish_rows did before: a staging table filled with executemany."""
    column_sql = ", ".join(f'"{n}" {t}' for n, t in COLUMNS.items())
    values = ", ".join(backend.placeholder for _ in COLUMNS)
    with backend.connect() as connection:
        cursor = backend._cursor(connection)
        cursor.execute('create schema if not exists "archy"')
        cursor.execute(f'drop table if exists "archy"."{table}"')
        cursor.execute(f'create table "archy"."{table}" ({column_sql})')
        cursor.executemany(f'insert into "archy"."{table}" values ({values})', data)
        connection.commit()


def measure(work) -> tuple[float, float]:
    cpu, wall = time.process_time(), time.perf_counter()
    work()
    return time.process_time() - cpu, time.perf_counter() - wall


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, nargs="+", default=[1000, 10000])
    parser.add_argument("--postgres", help="a PostgreSQL DSN to measure too")
    parser.add_argument("--skip-row-by-row-above", type=int, default=20000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        backends: list[tuple[str, Warehouse]] = [
            ("duckdb", DuckDBWarehouse(Path(folder) / "bench.duckdb"))
        ]
        if args.postgres:
            backends.append(("postgres", PostgresWarehouse(args.postgres)))
        print("| backend | rows | set-wise CPU s | set-wise wall s | row by row CPU s "
              "| row by row wall s |")  # fmt: skip
        print("|---|---:|---:|---:|---:|---:|")
        for name, backend in backends:
            for count in args.rows:
                data = rows(count)
                bulk = measure(lambda: backend.publish_rows("archy", "b", COLUMNS, data))
                assert backend.count_rows("archy", "b") == count
                if count <= args.skip_row_by_row_above:
                    slow = measure(lambda: row_by_row(backend, "r", data))
                    slow_text = f"{slow[0]:.2f} | {slow[1]:.2f}"
                else:
                    slow_text = "n/a | n/a"
                print(f"| {name} | {count:,} | {bulk[0]:.2f} | {bulk[1]:.2f} | {slow_text} |")


if __name__ == "__main__":
    main()
