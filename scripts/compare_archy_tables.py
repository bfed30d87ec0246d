"""Compare the archy tables (and views) of two warehouse files, row for row.

Used to show that a refactoring changed no output: run `make demo` before and after, keep a copy
of each `data/warehouse.duckdb`, then

    .venv/bin/python scripts/compare_archy_tables.py before.duckdb after.duckdb

Every table and view of the `archy` schema is compared as a multiset of rows (EXCEPT ALL both
ways) over the columns both files have. Columns that hold the wall clock of the run
(`--volatile`, by default the insight and change-event detection times) are left out, since two
runs never share them. Exit status 0 when identical, 1 otherwise, with the differences listed.
"""

from __future__ import annotations

import argparse
import sys

import duckdb

DEFAULT_VOLATILE = ("detected_at", "first_seen_at", "last_seen_at")


def _relations(con: duckdb.DuckDBPyConnection, db: str, schema: str) -> dict[str, list[str]]:
    rows = con.execute(
        "select table_name, column_name from information_schema.columns "
        "where table_catalog = ? and table_schema = ? order by table_name, ordinal_position",
        [db, schema],
    ).fetchall()
    relations: dict[str, list[str]] = {}
    for table, column in rows:
        relations.setdefault(table, []).append(column)
    return relations


def compare(before: str, after: str, schema: str, volatile: set[str]) -> list[str]:
    con = duckdb.connect()
    con.execute(f"attach '{before}' as b (read_only)")
    con.execute(f"attach '{after}' as a (read_only)")
    left, right = _relations(con, "b", schema), _relations(con, "a", schema)
    problems = [f"{schema}.{t}: only in {before}" for t in sorted(set(left) - set(right))]
    problems += [f"{schema}.{t}: only in {after}" for t in sorted(set(right) - set(left))]
    for table in sorted(set(left) & set(right)):
        if set(left[table]) != set(right[table]):
            problems.append(
                f"{schema}.{table}: columns differ: "
                f"-{sorted(set(left[table]) - set(right[table]))} "
                f"+{sorted(set(right[table]) - set(left[table]))}"
            )
        columns = [c for c in left[table] if c in right[table] and c not in volatile]
        select = ", ".join(f'"{c}"' for c in columns)
        rows_b = con.execute(f'select count(*) from b.{schema}."{table}"').fetchone()[0]
        rows_a = con.execute(f'select count(*) from a.{schema}."{table}"').fetchone()[0]
        gone = con.execute(
            f'select count(*) from (select {select} from b.{schema}."{table}" '
            f'except all select {select} from a.{schema}."{table}")'
        ).fetchone()[0]
        new = con.execute(
            f'select count(*) from (select {select} from a.{schema}."{table}" '
            f'except all select {select} from b.{schema}."{table}")'
        ).fetchone()[0]
        status = (
            "same" if gone == new == 0 else f"DIFFERENT: {gone} rows only before, {new} only after"
        )
        print(f"{schema}.{table:<36} {rows_b:>6} / {rows_a:>6} rows  {status}")
        if gone or new:
            problems.append(f"{schema}.{table}: {gone} rows only before, {new} only after")
    return problems


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("before")
    parser.add_argument("after")
    parser.add_argument("--schema", action="append", help="schemas to compare (default: archy)")
    parser.add_argument(
        "--volatile",
        default=",".join(DEFAULT_VOLATILE),
        help="comma-separated columns left out (wall clock of the run)",
    )
    args = parser.parse_args(argv)
    volatile = {c for c in args.volatile.split(",") if c}
    problems: list[str] = []
    for schema in args.schema or ["archy"]:
        problems += compare(args.before, args.after, schema, volatile)
    for problem in problems:
        print(problem, file=sys.stderr)
    print("identical" if not problems else f"{len(problems)} differences")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
