"""How the analysts' snapshot is written (DuckDBWarehouse.publish_snapshot).

A run holds the working file open: the snapshot step checkpoints it and copies its bytes.
Rows still in the write-ahead log are in the snapshot all the same; and a file that cannot
be checkpointed where it is published (opened read-only, with a log another process left)
is copied table by table, as before, with the log's rows.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import duckdb

from archy_pipeline.warehouse import DuckDBWarehouse


def _counts(path: Path) -> dict[str, int]:
    with duckdb.connect(str(path), read_only=True) as con:
        names = con.execute(
            "select schema_name || '.' || table_name from duckdb_tables() "
            "where database_name = current_database() order by 1"
        ).fetchall()
        counts = {n: con.execute(f"select count(*) from {n}").fetchone()[0] for (n,) in names}
        views = con.execute(
            "select view_name from duckdb_views() where not internal order by 1"
        ).fetchall()
        counts.update({f"view {v}": 0 for (v,) in views})
        return counts


def _working_file(path: Path) -> None:
    with duckdb.connect(str(path)) as con:
        con.execute("create schema archy")
        con.execute("create table archy.items as select range as id from range(1000)")
        con.execute("create view archy.v_items as select id from archy.items where id < 10")


def test_a_run_that_holds_the_file_publishes_rows_still_in_the_log(tmp_path):
    warehouse = DuckDBWarehouse(tmp_path / "warehouse.duckdb")
    _working_file(warehouse.path)
    with warehouse.held_open() as held:
        assert held
        with warehouse.connect() as con:
            con.execute("insert into archy.items select range from range(1000, 1500)")
        assert warehouse.path.with_name("warehouse.duckdb.wal").exists()
        published = warehouse.publish_snapshot()
        # The checkpoint wrote the log into the working file, and the snapshot is its copy.
        assert not warehouse.path.with_name("warehouse.duckdb.wal").exists()
        assert published.path.read_bytes() == warehouse.path.read_bytes()
    assert _counts(published.path) == {"archy.items": 1500, "view v_items": 0}
    assert (published.tables, published.views) == (1, 1)
    assert not list(tmp_path.glob("analysts.duckdb.tmp-*"))
    with duckdb.connect(str(published.path), read_only=True) as con:
        assert con.execute("select count(*) from archy.v_items").fetchone() == (10,)


def test_a_log_left_beside_a_file_opened_read_only_is_in_the_snapshot(tmp_path):
    # A process that wrote rows and died before its checkpoint left the file and its log.
    alive = tmp_path / "alive.duckdb"
    _working_file(alive)
    con = duckdb.connect(str(alive))
    con.execute("insert into archy.items select range from range(1000, 1200)")
    left = tmp_path / "warehouse.duckdb"
    shutil.copyfile(alive, left)
    shutil.copyfile(alive.with_name("alive.duckdb.wal"), left.with_name("warehouse.duckdb.wal"))
    con.close()

    warehouse = DuckDBWarehouse(left)
    published = warehouse.publish_snapshot()  # read-only: the log stays, the rows are copied
    assert left.with_name("warehouse.duckdb.wal").exists()
    assert _counts(published.path) == {"archy.items": 1200, "view v_items": 0}
    assert (published.tables, published.views) == (1, 1)
    assert not list(tmp_path.glob("analysts.duckdb.tmp-*"))
