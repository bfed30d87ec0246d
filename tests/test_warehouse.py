"""The warehouse interface: the same calls on a DuckDB file and on PostgreSQL, and the views
shipped as .sql files."""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path

import pandas as pd
import pytest
import sqlglot
from sqlglot import exp

from archy_pipeline.analysis import KINDS
from archy_pipeline.resources.warehouse import WarehouseResource
from archy_pipeline.warehouse import DuckDBWarehouse, PostgresWarehouse, Warehouse, read_views


@pytest.fixture(params=["duckdb", pytest.param("postgres", marks=pytest.mark.postgres)])
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Warehouse:
    if request.param == "duckdb":
        return DuckDBWarehouse(tmp_path / "warehouse.duckdb")
    return PostgresWarehouse(request.getfixturevalue("postgres_database"))


def test_rows_published_are_read_back_and_counted(backend: Warehouse) -> None:
    assert backend.fetch_rows("archy", "things") == []  # no table yet: empty, no error
    count = backend.publish_rows(
        "archy", "things", {"id": "integer", "name": "varchar"}, [(1, "a"), (2, "b"), (3, "b")]
    )
    assert count == 3
    assert backend.fetch_rows("archy", "things", {"name": "b"}) == [
        {"id": 2, "name": "b"},
        {"id": 3, "name": "b"},
    ]
    assert backend.count_rows("archy", "things", {"id": 1}) == 1
    assert backend.columns("archy", "things")[0][0] == "id"


def test_a_failed_publish_leaves_the_previous_table_whole(backend: Warehouse) -> None:
    backend.publish_rows("archy", "things", {"id": "integer"}, [(1,), (2,)])
    with pytest.raises(Exception, match="no_such_table"):
        backend.publish_query("archy", "things", "select * from archy.no_such_table")
    assert backend.count_rows("archy", "things") == 2
    # and no staging table is left behind
    _, rows = backend.query(
        "select table_name from information_schema.tables where table_schema = 'archy'"
    )
    assert sorted(r[0] for r in rows) == ["things"]


def test_appended_rows_add_to_the_table_which_is_created_once(backend: Warehouse) -> None:
    columns = {"at": "timestamp with time zone", "ok": "boolean", "note": "varchar"}
    when = datetime(2026, 11, 30, 2, 0, tzinfo=timezone.utc)
    assert backend.append_rows("archy", "log", columns, [(when, True, "a")]) == 1
    assert backend.append_rows("archy", "log", columns, []) == 0
    assert (
        backend.append_rows("archy", "log", columns, [(when, False, "b"), (when, True, None)]) == 2
    )
    rows = backend.fetch_rows("archy", "log")
    assert [(r["ok"], r["note"]) for r in rows] == [(True, "a"), (False, "b"), (True, None)]
    assert rows[0]["at"] == when
    assert [name for name, _ in backend.columns("archy", "log")] == ["at", "ok", "note"]
    with pytest.raises(Exception):  # a row that does not fit adds nothing
        backend.append_rows("archy", "log", columns, [(when, True, "c"), (when, "no", None, 1)])
    assert backend.count_rows("archy", "log") == 3


def test_views_are_created_from_their_sql_files(backend: Warehouse) -> None:
    backend.publish_rows(
        "archy",
        "system_dependency_ranking",
        {"workspace": "varchar", "rank": "integer", "system": "varchar"},
        [("w", 2, "NetSuite"), ("w", 1, "Salesforce")],
    )
    views = {"v_system_dependency_ranking": read_views("archy")["v_system_dependency_ranking"]}
    backend.create_views("archy", views)
    _, rows = backend.query("select system from archy.v_system_dependency_ranking")
    assert [r[0] for r in rows] == ["Salesforce", "NetSuite"]
    backend.drop_views("archy", list(views))
    _, rows = backend.query(
        "select count(*) from information_schema.views where table_schema = 'archy'"
    )
    assert rows[0][0] == 0


def test_the_recommendation_order_ranks_kinds_as_the_analysis_lists_them() -> None:
    sql = read_views("archy")["v_recommendations"]
    window = sqlglot.parse_one(sql, read="duckdb").find(exp.Window)
    kind_case = next(
        case
        for case in window.find_all(exp.Case)
        if isinstance(case.this, exp.Column) and case.this.name == "kind"
    )
    ranked = {when.args["this"].this: int(when.args["true"].this) for when in kind_case.args["ifs"]}
    assert list(ranked) == list(KINDS)
    assert list(ranked.values()) == list(range(len(KINDS)))
    assert int(kind_case.args["default"].this) == len(KINDS)


def test_the_resource_picks_the_backend_from_its_settings(tmp_path: Path) -> None:
    duck = WarehouseResource(duckdb_path=str(tmp_path / "w.duckdb"))
    assert isinstance(duck.backend, DuckDBWarehouse)
    assert duck.placeholder == "?"
    pg = WarehouseResource(postgres_dsn="postgresql://u:hunter2@db.example:5433/x")
    assert isinstance(pg.backend, PostgresWarehouse)
    assert pg.placeholder == "%s"
    assert "hunter2" not in repr(pg.backend) and "hunter2" not in pg.describe()
    with pytest.raises(ValueError, match="cannot be named 'archy'"):
        WarehouseResource(duckdb_path=str(tmp_path / "archy.duckdb")).backend


FRAME_TABLE = """
create table archy.mixed as select * from (values
  (1, 10::integer, 1.5::real, 2.5::double, true, 'a', timestamptz '2026-01-02 03:04:05+00',
   timestamp '2026-01-02 03:04:05', date '2026-01-02', 1.25::decimal(9, 2), [1, 2], 7::ubigint,
   '{"k": [1]}'::json, null::varchar, null::timestamptz, null::bigint, 3::tinyint, 4::usmallint),
  (2, null, null, null, null, null, null, null, null, null, null, null, null, null, null, null,
   5::tinyint, 6::usmallint),
  (3, 30::integer, -0.5::real, 1e300::double, false, 'é', timestamptz '2025-12-31 23:00:00+00',
   timestamp '2025-12-31 23:00:00', date '2025-12-31', -3.5::decimal(9, 2), [], 9::ubigint,
   '[]'::json, null::varchar, null::timestamptz, null::bigint, 7::tinyint, 8::usmallint)
) t(id, i32, f32, f64, flag, text, ts, naive, day, money, list, big, doc, none_text, none_ts,
    none_int, tiny, small)
"""


def test_a_duckdb_frame_read_through_arrow_equals_the_frame_of_its_python_rows(
    tmp_path: Path,
) -> None:
    """DuckDB's fetch_frame (Arrow) gives exactly the frame pandas builds from the rows as
    dicts (the generic path, PostgreSQL's): same dtypes and values for every type and NULL
    pattern the archy tables use, and the rest built from the values."""
    backend = DuckDBWarehouse(tmp_path / "warehouse.duckdb")
    with backend.connect() as connection:
        connection.execute("create schema archy")
        connection.execute(FRAME_TABLE)
    fast = backend.fetch_frame("archy", "mixed")
    generic = Warehouse.fetch_frame(backend, "archy", "mixed")
    assert list(fast.columns) == list(generic.columns) and len(fast) == 3
    for column in generic.columns:
        assert str(fast[column].dtype) == str(generic[column].dtype), column
    pd.testing.assert_frame_equal(fast, generic)
    assert fast["none_text"].tolist() == [None, None, None]
    assert fast["list"].tolist() == [[1, 2], None, []]
    assert backend.fetch_frame("archy", "missing").empty
    with backend.connect() as connection:
        connection.execute("delete from archy.mixed")
    assert backend.fetch_frame("archy", "mixed").columns.empty


@pytest.mark.postgres
def test_postgres_fetch_frame_is_the_frame_of_its_rows(postgres_database: str) -> None:
    backend = PostgresWarehouse(postgres_database)
    backend.publish_rows(
        "archy", "things", {"id": "integer", "name": "varchar"}, [(1, "a"), (2, None)]
    )
    frame = backend.fetch_frame("archy", "things")
    pd.testing.assert_frame_equal(frame, pd.DataFrame(backend.fetch_rows("archy", "things")))
    assert frame["id"].tolist() == [1, 2] and frame["name"].isna().tolist() == [False, True]
    assert backend.fetch_frame("archy", "missing").empty
