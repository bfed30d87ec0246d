"""Set-wise writes (issue 13): every column type the pipeline declares goes in and comes back
the same on a DuckDB file and on PostgreSQL, NULLs included, and bad rows change nothing."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from pathlib import Path

import pandas as pd
import pytest

from archy_pipeline.warehouse import DuckDBWarehouse, PostgresWarehouse, Warehouse

COLUMNS = {
    "id": "bigint",
    "small": "integer",
    "score": "double precision",
    "ok": "boolean",
    "at": "timestamp with time zone",
    "loaded": "timestamp",
    "name": "varchar",
    "note": "text",
}
WHEN = datetime(2026, 11, 30, 2, 0, 0, 123456, tzinfo=timezone.utc)
LONG = "ÅÄÖ 漢字 🚀 " * 20_000  # 240,000 characters of unicode
ROWS = [
    (1, 7, 0.5, True, WHEN, datetime(2026, 1, 2, 3, 4, 5), "plain", '{"a": [1, "b"]}'),
    (2, None, None, None, None, None, None, None),  # every NULL
    (3, -1, -1e300, False, WHEN + timedelta(days=400), datetime(1999, 12, 31), "", ""),
    (2**62, 0, 1.0, True, WHEN, None, LONG, 'quote " comma , newline \n and \\ slash'),
]


@pytest.fixture(params=["duckdb", pytest.param("postgres", marks=pytest.mark.postgres)])
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Warehouse:
    if request.param == "duckdb":
        return DuckDBWarehouse(tmp_path / "warehouse.duckdb")
    return PostgresWarehouse(request.getfixturevalue("postgres_database"))


def _read(backend: Warehouse, table: str) -> list[tuple]:
    rows = backend.fetch_rows("archy", table)
    return sorted((tuple(r.values()) for r in rows), key=lambda r: r[0])


def _types(backend: Warehouse, table: str) -> list[str]:
    return [kind.lower() for _, kind in backend.columns("archy", table)]


EXPECTED_TYPES = {
    "duckdb": ["bigint", "integer", "double", "boolean",
               "timestamp with time zone", "timestamp", "varchar", "varchar"],
    "postgres": ["bigint", "integer", "double precision", "boolean",
                 "timestamp with time zone", "timestamp without time zone",
                 "character varying", "text"],
}  # fmt: skip


def test_every_column_type_round_trips_with_nulls(backend: Warehouse) -> None:
    assert backend.publish_rows("archy", "typed", COLUMNS, ROWS) == len(ROWS)
    assert _read(backend, "typed") == sorted(ROWS, key=lambda r: r[0])
    assert _types(backend, "typed") == EXPECTED_TYPES[backend.dialect]
    # NULL and the empty string stay apart
    assert backend.count_rows("archy", "typed", {"name": ""}) == 1
    _, nulls = backend.query('select count(*) from archy.typed where "name" is null')
    assert nulls == [(1,)]
    # appending goes the same way
    assert backend.append_rows("archy", "logged", COLUMNS, ROWS) == len(ROWS)
    assert _read(backend, "logged") == sorted(ROWS, key=lambda r: r[0])
    assert _types(backend, "logged") == EXPECTED_TYPES[backend.dialect]


def test_a_frame_publishes_like_its_rows(backend: Warehouse) -> None:
    frame = pd.DataFrame(ROWS, columns=list(COLUMNS))
    assert backend.publish_rows("archy", "framed", COLUMNS, frame) == len(ROWS)
    assert _read(backend, "framed") == sorted(ROWS, key=lambda r: r[0])


def test_values_the_database_casts_go_as_text(backend: Warehouse) -> None:
    columns = {"id": "bigint", "ok": "boolean", "at": "timestamp with time zone"}
    backend.publish_rows("archy", "cast", columns, [("5", "true", "2026-11-30 02:00:00+00")])
    assert _read(backend, "cast") == [(5, True, datetime(2026, 11, 30, 2, tzinfo=timezone.utc))]


def test_a_row_of_the_wrong_width_writes_nothing_and_says_which(backend: Warehouse) -> None:
    backend.publish_rows("archy", "typed", COLUMNS, ROWS)
    bad = [*ROWS, (5, 1)]
    with pytest.raises(ValueError, match="row 4 has 2 values for 8 columns"):
        backend.publish_rows("archy", "typed", COLUMNS, bad)
    with pytest.raises(ValueError, match="row 4 has 2 values"):
        backend.append_rows("archy", "typed", COLUMNS, bad)
    assert _read(backend, "typed") == sorted(ROWS, key=lambda r: r[0])


def test_a_value_that_does_not_fit_leaves_the_previous_table_whole(backend: Warehouse) -> None:
    backend.publish_rows("archy", "typed", COLUMNS, ROWS)
    bad = [*ROWS[:2], (9, "not a number", *ROWS[0][2:])]
    with pytest.raises(Exception, match="not a number"):
        backend.publish_rows("archy", "typed", COLUMNS, bad)
    with pytest.raises(Exception, match="not a number"):
        backend.append_rows("archy", "typed", COLUMNS, bad)
    assert _read(backend, "typed") == sorted(ROWS, key=lambda r: r[0])
    _, tables = backend.query(
        "select table_name from information_schema.tables where table_schema = 'archy'"
    )
    assert [t for (t,) in tables] == ["typed"]  # no staging table left behind


def test_a_transaction_deletes_by_key_and_inserts_together_or_not_at_all(
    backend: Warehouse,
) -> None:
    columns = {"kind": "varchar", "key": "varchar", "state": "varchar"}
    keys = {"kind": "varchar", "key": "varchar"}
    backend.publish_rows("archy", "state", columns, [("a", "1", "x"), ("a", "2", "y"),
                                                     ("b", "1", "z")])  # fmt: skip
    with backend.transaction() as writes:
        assert writes.existing("archy", "state", "key", "varchar", ["1", "3"]) == {"1"}
        writes.delete("archy", "state", keys, [("a", "1"), ("a", "9")])
        writes.insert("archy", "state", columns, [("a", "1", "new"), ("c", "3", "w")])
    assert sorted(_read(backend, "state")) == [
        ("a", "1", "new"), ("a", "2", "y"), ("b", "1", "z"), ("c", "3", "w")
    ]  # fmt: skip
    with pytest.raises(RuntimeError, match="stop"):
        with backend.transaction() as writes:
            writes.delete("archy", "state", keys, [("a", "2")])
            writes.insert("archy", "state", columns, [("d", "4", "v")])
            raise RuntimeError("stop")
    assert len(_read(backend, "state")) == 4  # the delete and insert were rolled back
