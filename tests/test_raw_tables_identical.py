"""The raw tables hold the same rows whichever way dlt is handed them.

The sync passes the tables it builds itself (parsed steps, config connections, parse errors)
to dlt as Arrow tables, which dlt writes without its row-by-row normalizer
(``archy_pipeline/extract/arrow.py``). Here two warehouses sync the same simulator workspace
through three syncs (a first one, a daily one after edits, deletions and a broken recipe, and
a full refresh): one with the Arrow tables, one with every row as a dict, as before. Every
``workato_raw`` table must match column for column (names and types) and row for row, dlt's
``_dlt_id`` and ``_dlt_load_id`` aside (they differ from load to load), which both must fill.
"""

from __future__ import annotations

import logging
from datetime import datetime, timezone
from pathlib import Path

import pytest
from workato_simulator.generator import generate_workspace

from archy_pipeline.assets.extract import load_previous_state, pipeline_name
from archy_pipeline.extract import DATASET_NAME, SyncOptions, workato_source
from archy_pipeline.extract import sync as sync_module
from archy_pipeline.extract.tables import ARROW_TABLES
from archy_pipeline.resources.warehouse import WarehouseResource
from tests.support import client_for, simple_code

WORKSPACE = "Main Workspace"


def _sync(sim, warehouse: WarehouseResource, *, arrow: bool, full: bool) -> dict[str, int]:
    source = workato_source(
        client_for(sim, requests_per_minute=0),
        workspace=WORKSPACE,
        previous=load_previous_state(warehouse, WORKSPACE),
        options=SyncOptions(full_refresh=full),
        arrow=arrow,
    )
    pipeline = warehouse.dlt_pipeline(pipeline_name(WORKSPACE), DATASET_NAME)
    pipeline.run(source)
    return dict(pipeline.last_trace.last_normalize_info.row_counts)


def _tables(warehouse: WarehouseResource) -> dict[str, tuple[list, list]]:
    """Each raw table's columns (name, type, nullable) and its rows without dlt's columns,
    sorted; and checks that dlt's columns are filled in every row."""
    _, names = warehouse.query(
        "select table_name from information_schema.tables where table_schema = ? "
        "and table_name not like '\\_dlt%' escape '\\' order by table_name",
        [DATASET_NAME],
    )
    tables = {}
    for (table,) in names:
        _, columns = warehouse.query(
            "select column_name, data_type, is_nullable from information_schema.columns "
            "where table_schema = ? and table_name = ? order by ordinal_position",
            [DATASET_NAME, table],
        )
        kept = ", ".join(f'"{c}"' for c, _, _ in columns if not c.startswith("_dlt"))
        _, rows = warehouse.query(f'select {kept} from {DATASET_NAME}."{table}" order by all')
        _, unfilled = warehouse.query(
            f'select count(*) from {DATASET_NAME}."{table}" '
            "where _dlt_id is null or _dlt_load_id is null"
        )
        assert unfilled == [(0,)], f"{table}: rows without _dlt_id or _dlt_load_id"
        tables[table] = (columns, rows)
    return tables


def _assert_identical(arrow: WarehouseResource, dicts: WarehouseResource) -> None:
    got, expected = _tables(arrow), _tables(dicts)
    assert sorted(got) == sorted(expected)
    for table in expected:
        assert got[table][0] == expected[table][0], f"{table}: columns differ"
        assert got[table][1] == expected[table][1], f"{table}: rows differ"


def test_arrow_tables_load_the_same_rows_as_dicts(
    simulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
):
    ws = generate_workspace(23, recipes=60)
    first, second, third, fourth, fifth = sorted(ws.recipes)[:5]
    ws.recipes[first].raw_code = '{"keyword": "trigger", "block": [{"keyword": '  # not JSON
    sim = simulator(ws, rate_limits=None)
    warehouses = {
        arrow: WarehouseResource(duckdb_path=str(tmp_path / f"{name}.duckdb"))
        for arrow, name in ((True, "arrow"), (False, "dicts"))
    }

    def sync_both(full: bool, at: datetime) -> None:
        # One clock for both syncs: deleted_at and synced_at are the sync's time.
        class Clock(datetime):
            @classmethod
            def now(cls, tz=None):
                return at

        monkeypatch.setattr(sync_module, "datetime", Clock)
        counts = {arrow: _sync(sim, w, arrow=arrow, full=full) for arrow, w in warehouses.items()}
        assert counts[True] == counts[False]
        _assert_identical(warehouses[True], warehouses[False])

    with caplog.at_level(logging.WARNING, logger="archy_pipeline.extract"):
        sync_both(full=False, at=datetime(2026, 3, 2, 6, tzinfo=timezone.utc))
        _, steps = warehouses[True].query(f"select count(*) from {DATASET_NAME}.recipe_steps")
        assert steps[0][0] > 100

        # Edits, a fixed recipe, a broken one, deletions: cleared and replaced parsed rows.
        ws.update_recipe(first, code=simple_code("salesforce", "netsuite"))
        ws.update_recipe(second, code={"keyword": "trigger", "block": "not a list"})
        ws.update_recipe(third, name="renamed", code=simple_code("jira", "slack", "hubspot"))
        ws.delete_recipe(fourth)
        ws.stop_recipe(fifth)
        sync_both(full=False, at=datetime(2026, 3, 3, 6, tzinfo=timezone.utc))
        _, errors = warehouses[True].query(
            f"select recipe_id from {DATASET_NAME}.recipe_errors order by recipe_id"
        )
        assert errors == [(second,)]

        sync_both(full=True, at=datetime(2026, 3, 8, 6, tzinfo=timezone.utc))

    # Every Arrow table went to dlt as one: none fell back to dicts.
    assert not [r for r in caplog.records if "rows passed to dlt as dicts" in r.getMessage()]
    assert set(ARROW_TABLES) == {"recipe_steps", "recipe_connections", "recipe_errors"}


def test_rows_that_do_not_fit_their_columns_go_to_dlt_as_dicts(caplog: pytest.LogCaptureFixture):
    from archy_pipeline.extract import _as_arrow

    key = {"workspace": "w", "recipe_id": 1}
    fits = [{**key, "position": 0, "provider": "slack", "connection_id": 7}]
    table = _as_arrow("recipe_connections", fits)
    assert table.to_pylist() == [
        {**key, "_cleared": None, "position": 0, "provider": "slack", "application": None,
         "connection_id": 7}
    ]  # fmt: skip
    undeclared = [{**key, "position": 0, "surprise": "x"}]
    wrong_type = [{**key, "position": 0, "connection_id": "not a number"}]
    with caplog.at_level(logging.WARNING, logger="archy_pipeline.extract"):
        assert _as_arrow("recipe_connections", undeclared) is undeclared
        assert _as_arrow("recipe_connections", wrong_type) is wrong_type
    messages = [r.getMessage() for r in caplog.records]
    assert len(messages) == 2
    assert "undeclared fields: ['surprise']" in messages[0]
