"""The same extraction into PostgreSQL (127.0.0.1:5432), in a database made for the test."""

from __future__ import annotations

from pathlib import Path

import psycopg2
import pytest
from dagster_dlt import DagsterDltResource
from workato_simulator.generator import generate_workspace
from workato_simulator.workspace import iter_blocks

from archy_pipeline.resources import WorkatoResource
from archy_pipeline.resources.warehouse import WarehouseResource
from tests.support import materialize_sync, simple_code

pytestmark = pytest.mark.postgres


def test_extraction_runs_into_postgres(simulator, postgres_database, tmp_path, monkeypatch):
    postgres_dsn = postgres_database
    # The project's data folder (pending audit rows, dlt's state): this test's, not the repo's.
    monkeypatch.setenv("ARCHY_DUCKDB_PATH", str(tmp_path / "data" / "warehouse.duckdb"))
    ws = generate_workspace(21, recipes=150)
    sim = simulator(ws, rate_limits=None)
    warehouse = WarehouseResource(postgres_dsn=postgres_dsn, pipelines_dir=str(tmp_path / "dlt"))
    resources = {
        "dlt": DagsterDltResource(),
        "workato": WorkatoResource(
            api_token=sim.token, base_url=sim.base_url, requests_per_minute=0
        ),
        "warehouse": warehouse,
    }

    first = materialize_sync(resources)
    assert first.success
    with psycopg2.connect(postgres_dsn) as con, con.cursor() as cur:
        for table, expected in [
            ("recipes", len(ws.recipes)),
            ("connections", len(ws.connections)),
            ("folders", len(ws.folders) - 1),
            ("projects", len(ws.projects)),
            ("recipe_steps", sum(len(list(iter_blocks(r.code))) for r in ws.recipes.values())),
        ]:
            cur.execute(f"select count(*) from workato_raw.{table}")
            assert cur.fetchone() == (expected,), table

    # The incremental path reads the previous state back from PostgreSQL.
    recipe_id = sorted(ws.recipes)[3]
    ws.stop_recipe(recipe_id, "action_quota_limit")
    ws.delete_recipe(sorted(ws.recipes)[4])
    ws.add_recipe("Added in PostgreSQL test", simple_code("jira"))
    second = materialize_sync(resources)
    assert second.success
    loaded = {
        e.materialization.asset_key.path[-1]: e.materialization.metadata["rows_loaded"].value
        for e in second.get_asset_materialization_events()
    }
    assert loaded["recipes"] == 3
    with psycopg2.connect(postgres_dsn) as con, con.cursor() as cur:
        cur.execute(
            "select running, stop_cause from workato_raw.recipes where id = %s", [recipe_id]
        )
        assert cur.fetchone() == (False, "action_quota_limit")
        cur.execute("select count(*) from workato_raw.recipes where deleted_at is not null")
        assert cur.fetchone() == (1,)
        cur.execute("select count(*) from workato_raw.recipes where deleted_at is null")
        assert cur.fetchone() == (len(ws.recipes),)
    assert warehouse.describe().startswith("PostgreSQL at 127.0.0.1:5432/archy_test_")


def test_the_dsn_password_never_shows(tmp_path):
    warehouse = WarehouseResource(postgres_dsn="postgresql://archy:s3cr3t-pw@db.internal/archy")
    assert "s3cr3t-pw" not in repr(warehouse)
    assert "s3cr3t-pw" not in warehouse.describe()
    assert warehouse.describe() == "PostgreSQL at db.internal:5432/archy"


def test_dlt_keeps_its_state_in_the_data_folder_one_folder_per_postgres_database(
    tmp_path, monkeypatch
):
    """A killed load's package is finished by the next run of the same pipeline: with dlt's
    default (~/.dlt) two databases synced from one machine would share it."""
    monkeypatch.setenv("ARCHY_DUCKDB_PATH", str(tmp_path / "data" / "warehouse.duckdb"))

    def folder(dsn: str) -> Path:
        pipeline = WarehouseResource(postgres_dsn=dsn).dlt_pipeline("archy_acme", "workato_raw")
        return Path(pipeline.pipelines_dir)

    prod = folder("postgresql://archy:s3cr3t-pw@db.internal:5432/prod")
    assert prod.parent == tmp_path / "data" / ".dlt_pipelines"
    assert prod.name.startswith("postgres-") and "s3cr3t" not in str(prod)
    assert folder("postgresql://other:pw@db.internal/prod") == prod, "the same database"
    assert folder("postgresql://archy:s3cr3t-pw@db.internal:5432/staging") != prod
    assert folder("postgresql://archy:s3cr3t-pw@db2.internal:5432/prod") != prod
