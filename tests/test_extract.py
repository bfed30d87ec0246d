"""Extraction end to end: the simulator over HTTP, Dagster's materialize(), a DuckDB file."""

from __future__ import annotations

import re
from pathlib import Path

import duckdb
from dagster_dlt import DagsterDltResource
from workato_simulator.generator import generate_workspace
from workato_simulator.workspace import iter_blocks

from archy_pipeline.definitions import defs
from archy_pipeline.extract.tables import RAW_TABLES
from archy_pipeline.resources import WorkatoResource
from archy_pipeline.resources.warehouse import WarehouseResource
from tests.support import materialize_sync


def resources(sim, duckdb_path) -> dict:
    return {
        "dlt": DagsterDltResource(),
        "workato": WorkatoResource(api_token=sim.token, base_url=sim.base_url),
        "warehouse": WarehouseResource(duckdb_path=str(duckdb_path)),
    }


def test_extract_lands_every_item_the_simulator_serves(generated_warehouse, tmp_path):
    ws = generated_warehouse.workspace
    path = generated_warehouse.copy_to(tmp_path).path
    result = generated_warehouse.sync

    assert result.success
    counts = {
        e.materialization.asset_key.path[-1]: e.materialization.metadata["dagster/row_count"].value
        for e in result.get_asset_materialization_events()
    }
    expected = {
        "workspace": 1,
        "folders": len(ws.folders) - 1,
        "projects": len(ws.projects),
        "connections": len(ws.connections),
        "recipes": len(ws.recipes),
        "recipe_steps": sum(len(list(iter_blocks(r.code))) for r in ws.recipes.values()),
        "recipe_connections": sum(len(r.config) for r in ws.recipes.values()),
        "recipe_errors": 0,
        "sync_issues": 0,
    }
    assert counts == expected
    with duckdb.connect(str(path), read_only=True) as con:
        for table, count in expected.items():
            assert con.execute(f"select count(*) from workato_raw.{table}").fetchone() == (count,)
        ids = {row[0] for row in con.execute("select id from workato_raw.recipes").fetchall()}
        assert ids == set(ws.recipes)
        workspaces = con.execute("select distinct workspace from workato_raw.recipes").fetchall()
        assert workspaces == [("Main Workspace",)]
        # Columns that are null for every item still exist: analysts can rely on them.
        columns = {r[0] for r in con.execute("describe workato_raw.recipes").fetchall()}
        assert {"code", "stop_cause", "webhook_url", "last_run_at", "config"} <= columns
        paths = dict(con.execute("select id, path from workato_raw.folders").fetchall())
    assert paths == {f: ws.folder_path(f) for f in ws.folders if f != ws.root_folder_id}
    assert max(p.count("/") for p in paths.values()) >= 2, "nested folders were walked"
    assert {r.method for r in generated_warehouse.requests} == {"GET"}


def test_a_second_run_merges_instead_of_duplicating(simulator, tmp_path):
    ws = generate_workspace(6, recipes=50)
    sim = simulator(ws, rate_limits=None)
    path = tmp_path / "warehouse.duckdb"
    assert materialize_sync(resources(sim, path)).success
    recipe = next(iter(ws.recipes.values()))
    ws.update_recipe(recipe.id, name="Renamed by the test")
    assert materialize_sync(resources(sim, path)).success
    with duckdb.connect(str(path), read_only=True) as con:
        assert con.execute("select count(*) from workato_raw.recipes").fetchone() == (50,)
        name = con.execute(
            "select name from workato_raw.recipes where id = ?", [recipe.id]
        ).fetchone()
    assert name == ("Renamed by the test",)


def test_definitions_load_offline_and_describe_every_asset():
    graph = defs.resolve_asset_graph()
    keys = {key.to_user_string() for key in graph.get_all_asset_keys()}
    assert {f"workato_raw/{t}" for t in RAW_TABLES} <= keys
    assert {"archy/integrations", "archy/system_instances", "archy/system_mappings"} <= keys
    for key in graph.get_all_asset_keys():
        node = graph.get(key)
        where = key.to_user_string()
        assert node.group_name in {"extract", "archy", "mapping", "analysis", "docs", "publish"}, (
            where
        )
        assert node.kinds, where
        assert node.owners, where
        assert node.description and len(node.description) > 20, where
        if node.group_name == "extract" or key.path[-1] in {"integrations", "system_flows"}:
            assert node.freshness_policy is not None, where
    assert defs.resolve_job_def("sync_job") is not None
    assert defs.resolve_job_def("transform_job") is not None


def documented_tables() -> dict[str, set[str]]:
    """Table -> columns named in docs/extract.md's table list (backticked names)."""
    text = (Path(__file__).parent.parent / "docs" / "extract.md").read_text()
    section = text.split("## Tables", 1)[1].split("\n## ", 1)[0]
    tables: dict[str, set[str]] = {}
    for line in section.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) == 3 and cells[0].startswith("`"):
            table = cells[0].strip("`")
            tables[table] = {
                name
                for name in re.findall(r"`([a-z_]+)`", cells[2])
                if not name.startswith("_") and name not in {"Home"}
            }
    return tables


def test_docs_describe_every_raw_table_and_only_real_columns(generated_warehouse, tmp_path):
    path = generated_warehouse.copy_to(tmp_path).path
    documented = documented_tables()
    assert set(documented) == set(RAW_TABLES)
    with duckdb.connect(str(path), read_only=True) as con:
        for table, columns in documented.items():
            real = {r[0] for r in con.execute(f"describe workato_raw.{table}").fetchall()}
            assert columns <= real, f"{table}: documented but missing {columns - real}"
            assert "workspace" in real
