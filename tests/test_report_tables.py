"""The report's table exports from a DuckDB warehouse: the frame is made through Arrow
(exports._duckdb_table, warehouse.duckdb.arrow_frame), and the files must be those the pandas
frame of the fetched rows writes (exports._frame_table, the path PostgreSQL and empty tables
take): the same CSV text, the same Parquet schema and values.

Both paths run on the same connection over tables of awkward values: text with commas, quotes,
line feeds, carriage returns and empty strings; integer columns with a null only in another
workspace's rows; doubles near the switch to exponents; timestamps at whole seconds,
milliseconds and microseconds in several session time zones; columns of nulls only; an empty
table; and the types Arrow converts otherwise than pandas infers from Python values.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta
from pathlib import Path

import duckdb
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from archy_pipeline.report import exports
from archy_pipeline.report.exports import _duckdb_table, _frame_table, write_tables
from archy_pipeline.warehouse import DuckDBWarehouse

T0 = datetime(2024, 3, 31, 0, 30, tzinfo=UTC)  # a daylight-saving switch in Europe

AWKWARD = [
    "plain", "", " spaced ", "a,b", 'say "hi"', "two\nlines", "cr\rhere", "tab\there", "é ü ✓",
    "'single'", "#", "nan", "None", "\\back", "nul\x00here", ",", '"', "\n", "x" * 300, None,
]  # fmt: skip


def _both(con: duckdb.DuckDBPyConnection, table: str, workspaces: set[str] | None, tmp: Path):
    """Write ``table`` by both paths; return whether DuckDB wrote it, and the two file pairs."""
    native, frame = tmp / "native", tmp / "frame"
    native.mkdir(exist_ok=True)
    frame.mkdir(exist_ok=True)
    a = native / f"{table}.csv", native / f"{table}.parquet"
    b = frame / f"{table}.csv", frame / f"{table}.parquet"
    with duckdb.connect(":memory:") as scratch:
        done = _duckdb_table(con.cursor(), scratch, table, workspaces, *a)
        if not done:
            assert not a[0].exists() and not a[1].exists()
            return False, None, None
        _frame_table(con.cursor(), scratch, table, workspaces, *b)
    return True, a, b


def _assert_same(a: tuple[Path, Path], b: tuple[Path, Path]) -> None:
    assert a[0].read_bytes().decode() == b[0].read_bytes().decode()
    native, frame = pq.read_table(a[1]), pq.read_table(b[1])
    assert native.schema.equals(frame.schema, check_metadata=True), (native.schema, frame.schema)
    assert native.to_pylist() == frame.to_pylist()


def _awkward_table(con: duckdb.DuckDBPyConnection) -> None:
    con.execute("create schema if not exists archy")
    con.execute(
        """create or replace table archy.awkward (
            workspace varchar not null, s varchar, i bigint not null, j bigint, d double,
            b boolean not null, ts_s timestamptz, ts_ms timestamptz, ts_us timestamptz,
            nothing varchar, no_time timestamptz, no_int bigint
        )"""
    )
    rows = []
    doubles = [0.0, -0.0, 0.1, 1 / 3, 1e15, 1e16, 123456.789, 1e-5, 1e-4, -2.5e-300, None, 7.0]
    for n, text in enumerate(AWKWARD * 2):
        workspace = "Kept" if n % 3 else "Other, Inc."
        rows.append((
            workspace, text, n * 1_000_003, None if workspace == "Other, Inc." else -n,
            doubles[n % len(doubles)], n % 2 == 0,
            T0 + timedelta(hours=n) if n % 5 else None,
            # a fraction of a second only in the other workspace's rows: whole seconds here
            T0 + timedelta(hours=n, milliseconds=0 if workspace == "Kept" else 250),
            T0 + timedelta(minutes=n, milliseconds=n * 7, microseconds=n % 4),
            None, None, None,
        ))  # fmt: skip
    con.executemany(f"insert into archy.awkward values ({', '.join(['?'] * 12)})", rows)


@pytest.mark.parametrize("zone", ["UTC", "Europe/Berlin", "America/St_Johns", "Asia/Kolkata"])
@pytest.mark.parametrize("workspaces", [None, {"Kept"}, {"Kept", "Other, Inc."}, set()])
def test_duckdb_writes_the_files_the_frame_writes(tmp_path, zone, workspaces):
    with duckdb.connect(str(tmp_path / "w.duckdb")) as con:
        con.execute(f"set global TimeZone = '{zone}'")  # for the frame's cursor too
        _awkward_table(con)
        done, a, b = _both(con, "awkward", workspaces, tmp_path)
        assert done
        _assert_same(a, b)
        text = a[0].read_text()
        if workspaces == {"Kept"}:
            assert "Other, Inc." not in text and "+" in text
            # ints with a null in other rows are still written as floats, as pandas does
            assert ",-1.0," in text


def test_an_empty_table_and_a_table_without_workspaces(tmp_path):
    warehouse = DuckDBWarehouse(tmp_path / "w.duckdb")
    with warehouse.connect() as con:
        con.execute("create schema archy")
        con.execute(
            'create table archy.empty (workspace varchar, "odd, ""name""" bigint, t timestamptz)'
        )
        con.execute("create table archy.systems (system_id varchar, score double, ok boolean)")
        con.execute("insert into archy.systems values ('a', 1.5, true), ('b,c', null, false)")
        done, a, b = _both(con, "systems", {"Kept"}, tmp_path)
        assert done
        _assert_same(a, b)
        assert _both(con, "empty", {"Kept"}, tmp_path)[0] is False  # the frame writes it
    write_tables(warehouse, "?", tmp_path / "tables", {"Kept"})
    assert (tmp_path / "tables" / "empty.csv").read_text() == 'workspace,"odd, ""name""",t\n'


@pytest.mark.parametrize(
    "ddl, rows",
    [
        ("(s varchar)", [("",), ("a",)]),  # the csv module quotes an empty sole field
        ("(workspace varchar, flag boolean)", [("Kept", None), ("Kept", True)]),  # object
        ("(workspace varchar, d double)", [("Kept", math.nan), ("Kept", 1.0)]),
        ("(workspace varchar, amount decimal(10, 2))", [("Kept", 1.5)]),
        ("(workspace varchar, day date)", [("Kept", datetime(2024, 1, 1).date())]),
        ("(workspace varchar, t timestamptz)", [("Kept", datetime(999, 1, 1, tzinfo=UTC))]),
        ("(workspace varchar, t timestamp)", [("Kept", datetime(2024, 1, 1, 5, 6, 7))]),
        ("(workspace varchar, n integer, u ubigint)", [("Kept", None, 2**64 - 1), ("Kept", 3, 1)]),
        ("(workspace varchar, ids bigint[])", [("Kept", [1, 2]), ("Kept", None)]),
        ("(workspace varchar, r real)", [("Kept", 0.1), ("Kept", None)]),
    ],
)  # fmt: skip
def test_types_arrow_converts_otherwise_give_the_files_of_the_frame(tmp_path, ddl, rows):
    """Columns arrow_frame builds from the Python values (dates, decimals, naive timestamps,
    lists...) or narrows and widens (booleans with a null, NaN, one column): the same files."""
    with duckdb.connect(str(tmp_path / "w.duckdb")) as con:
        con.execute("create schema archy")
        con.execute(f"create table archy.odd {ddl}")
        con.executemany(f"insert into archy.odd values ({', '.join(['?'] * len(rows[0]))})", rows)
        done, a, b = _both(con, "odd", None, tmp_path)
        assert done
        _assert_same(a, b)


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    rows=st.lists(
        st.tuples(
            st.sampled_from(["A", "B"]),
            st.none() | st.text(st.characters(codec="utf-8")),
            st.none() | st.integers(-(2**63), 2**63 - 1),
            st.none() | st.floats(allow_nan=False, allow_infinity=False),
            st.none() | st.datetimes(
                min_value=datetime(1900, 1, 1), max_value=datetime(2200, 1, 1),
                timezones=st.just(UTC),
            ),
        ),
        max_size=8,
    )
)  # fmt: skip
def test_any_rows_give_the_same_files(tmp_path_factory, rows):
    tmp = tmp_path_factory.mktemp("any")
    with duckdb.connect(str(tmp / "w.duckdb")) as con:
        con.execute("create schema archy")
        con.execute(
            "create table archy.t (workspace varchar, s varchar, n bigint, d double, t timestamptz)"
        )
        if rows:
            con.executemany("insert into archy.t values (?, ?, ?, ?, ?)", rows)
        done, a, b = _both(con, "t", {"A"}, tmp)
        assert done == bool(rows)  # a table without rows goes through the frame
        if done:
            _assert_same(a, b)


def test_the_report_exports_use_duckdb_for_its_tables(tmp_path, monkeypatch):
    """write_tables takes the DuckDB path for a DuckDB warehouse's ordinary tables."""
    warehouse = DuckDBWarehouse(tmp_path / "w.duckdb")
    warehouse.publish_rows(
        "archy", "integrations", {"workspace": "varchar", "recipe_id": "bigint"}, [("W", 1)]
    )
    calls = []
    original = exports._duckdb_table
    monkeypatch.setattr(exports, "_duckdb_table", lambda *a: calls.append(a[2]) or original(*a))
    write_tables(warehouse, "?", tmp_path / "tables", {"W"})
    assert calls == ["integrations"]
    assert (tmp_path / "tables" / "integrations.csv").read_text() == "workspace,recipe_id\nW,1\n"


def test_postgres_tables_go_through_the_frame(postgres_database, tmp_path):
    """PostgreSQL: write_tables writes through the frame (its rows come from psycopg2), and the
    model reads the step columns a table has, None for one it lacks."""
    from archy_pipeline.report.model import _columns
    from archy_pipeline.resources.warehouse import WarehouseResource

    warehouse = WarehouseResource(
        postgres_dsn=postgres_database, pipelines_dir=str(tmp_path / "dlt")
    )
    warehouse.backend.publish_rows(
        "archy", "integrations",
        {"workspace": "varchar", "recipe_id": "bigint", "name": "varchar"},
        [("W", 1, 'a, "quoted" name'), ("Other", 2, "b")],
    )  # fmt: skip
    written = write_tables(warehouse, warehouse.placeholder, tmp_path / "tables", {"W"})
    assert sorted(p.name for p in written) == ["integrations.csv", "integrations.parquet"]
    text = (tmp_path / "tables" / "integrations.csv").read_text()
    assert text == 'workspace,recipe_id,name\nW,1,"a, ""quoted"" name"\n'
    assert pq.read_table(tmp_path / "tables" / "integrations.parquet").to_pylist() == [
        {"workspace": "W", "recipe_id": 1, "name": 'a, "quoted" name'}
    ]
    warehouse.backend.publish_rows(
        "workato_raw", "recipe_steps", {"workspace": "varchar", "number": "bigint"}, [("W", 3)]
    )
    assert _columns(warehouse, "workato_raw", "recipe_steps", ("number", "keyword")) == [(3, None)]
    assert _columns(warehouse, "workato_raw", "no_such_table", ("number",)) == []


def test_every_table_of_a_synced_warehouse_is_written_as_the_frame_writes_it(tmp_path):
    """The report fixture's warehouse (a 40-recipe workspace synced twice): every exported
    table and view, by both paths, gives the same files; the Arrow path takes nearly all."""
    fixture = Path(__file__).parent / "fixtures" / "report_input"
    with duckdb.connect(str(tmp_path / "w.duckdb")) as con:
        con.execute(f"import database '{fixture}'")
        tables = [
            t
            for (t,) in con.execute(
                "select table_name from information_schema.tables "
                "where table_schema = 'archy' order by table_name"
            ).fetchall()
            if t not in exports.NOT_EXPORTED
        ]
        native = 0
        for table in tables:
            done, a, b = _both(con, table, {"Demo"}, tmp_path)
            if done:
                native += 1
                _assert_same(a, b)
    assert len(tables) > 15
    assert native >= len(tables) - 2, (native, len(tables))  # the empty ones take the frame
