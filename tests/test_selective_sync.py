"""Selective sync and several workspaces, driven by archy.yaml, proven by the request log."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from dagster_dlt import DagsterDltResource
from workato_simulator import Workspace

from archy_pipeline.resources import WorkatoResource
from archy_pipeline.resources.warehouse import WarehouseResource
from tests.support import materialize_sync, simple_code


def write_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, data: dict) -> None:
    path = tmp_path / "archy.yaml"
    path.write_text(yaml.safe_dump(data))
    monkeypatch.setenv("ARCHY_CONFIG", str(path))


def resources(warehouse: WarehouseResource) -> dict:
    return {
        "dlt": DagsterDltResource(),
        # No token or host here: both come from archy.yaml and the variables it names.
        "workato": WorkatoResource(requests_per_minute=0, max_attempts=2),
        "warehouse": warehouse,
    }


def query(warehouse: WarehouseResource, sql: str) -> list[tuple]:
    with warehouse.connect(read_only=True) as con:
        return con.execute(sql).fetchall()


@pytest.fixture
def company() -> Workspace:
    ws = Workspace()
    sales = ws.add_project("Sales")
    q2c = ws.add_folder("Quote to Cash", sales.folder_id)
    private = ws.add_folder("Private", sales.folder_id)
    secret = ws.add_folder("Secret", private.id)
    hr = ws.add_project("HR")
    finance = ws.add_project("Finance")
    for name, folder, running in [
        ("Opportunity to order", q2c.id, True),
        ("Quote sync (stopped)", q2c.id, False),
        ("Private deal desk", private.id, True),
        ("Secret pricing", secret.id, True),
        ("New hire", hr.folder_id, True),
        ("Invoice to ERP", finance.folder_id, True),
        ("Sales root recipe", sales.folder_id, True),
    ]:
        ws.add_recipe(
            name, simple_code("salesforce", "netsuite"), folder_id=folder, running=running
        )
    ws.add_connection("salesforce", "ACME Production Salesforce")
    ws.add_connection("salesforce", "Salesforce Sandbox")
    ws.add_connection("netsuite", "NetSuite test account")
    ws.add_connection("slack", "slack_ops_prd")
    ws.folder_ids = {"private": private.id, "secret": secret.id, "hr": hr.folder_id}
    return ws


def test_included_and_excluded_folders(simulator, company, tmp_path, monkeypatch):
    sim = simulator(company, rate_limits=None)
    monkeypatch.setenv("WORKATO_API_TOKEN", sim.token)
    write_config(
        tmp_path,
        monkeypatch,
        {
            "workspaces": [{"name": "ACME", "base_url": sim.base_url}],
            "sync": {
                "folders": {"include": ["Home/Sales", "Finance"], "exclude": ["Home/Sales/Private"]}
            },
        },
    )
    warehouse = WarehouseResource(duckdb_path=str(tmp_path / "a.duckdb"))

    assert materialize_sync(resources(warehouse), partition="ACME").success

    names = {n for (n,) in query(warehouse, "select name from workato_raw.recipes")}
    assert names == {
        "Opportunity to order",
        "Quote sync (stopped)",
        "Invoice to ERP",
        "Sales root recipe",
    }
    private, secret = company.folder_ids["private"], company.folder_ids["secret"]
    for record in sim.requests:
        asked = {record.param("folder_id"), record.param("parent_id")}
        assert str(private) not in asked and str(secret) not in asked, record
    # Only the selected folders' recipes were requested (HR's never were).
    listed = {r.param("folder_id") for r in sim.log("^/api/recipes$")}
    assert str(company.folder_ids["hr"]) not in listed
    assert None not in listed, "no unfiltered listing when folders are included"
    folders = {p for (p,) in query(warehouse, "select path from workato_raw.folders")}
    assert "Home/Sales/Private" not in folders and "Home/Sales/Private/Secret" not in folders

    # A second, daily sync keeps the selection and deletes nothing outside it.
    assert materialize_sync(resources(warehouse), partition="ACME").success
    assert query(
        warehouse, "select count(*) from workato_raw.recipes where deleted_at is null"
    ) == [(4,)]


def test_running_only_asks_the_api_for_running_recipes(simulator, company, tmp_path, monkeypatch):
    sim = simulator(company, rate_limits=None)
    monkeypatch.setenv("WORKATO_API_TOKEN", sim.token)
    write_config(
        tmp_path,
        monkeypatch,
        {
            "workspaces": [
                {"name": "ACME", "base_url": sim.base_url, "sync": {"recipes": "running"}}
            ]
        },
    )
    warehouse = WarehouseResource(duckdb_path=str(tmp_path / "a.duckdb"))
    assert materialize_sync(resources(warehouse), partition="ACME").success
    assert all(r.param("running") == "true" for r in sim.log("^/api/recipes$"))
    running = {n for (n,) in query(warehouse, "select name from workato_raw.recipes")}
    assert running == {r.name for r in company.recipes.values() if r.running}

    # A recipe stopped since: not listed any more, but not marked deleted either.
    stopped = next(r for r in company.recipes.values() if r.name == "New hire")
    company.stop_recipe(stopped.id)
    assert materialize_sync(resources(warehouse), partition="ACME").success
    assert query(
        warehouse, "select count(*) from workato_raw.recipes where deleted_at is not null"
    ) == [(0,)]
    kinds = {k for (k,) in query(warehouse, "select kind from workato_raw.sync_issues")}
    assert "not_running" in kinds


def test_connection_filters_by_name_and_environment(simulator, company, tmp_path, monkeypatch):
    sim = simulator(company, rate_limits=None)
    monkeypatch.setenv("WORKATO_API_TOKEN", sim.token)
    write_config(
        tmp_path,
        monkeypatch,
        {
            "workspaces": [{"name": "ACME", "base_url": sim.base_url}],
            "sync": {
                "connections": {
                    "exclude_names": ["*test*"],
                    "environments": ["production", "sandbox"],
                }
            },
        },
    )
    warehouse = WarehouseResource(duckdb_path=str(tmp_path / "a.duckdb"))
    assert materialize_sync(resources(warehouse), partition="ACME").success
    names = {n for (n,) in query(warehouse, "select name from workato_raw.connections")}
    assert names == {"ACME Production Salesforce", "Salesforce Sandbox", "slack_ops_prd"}


def test_several_workspaces_sync_and_fail_independently(simulator, tmp_path, monkeypatch):
    def workspace(name: str, recipes: int) -> Workspace:
        ws = Workspace(name=name)
        for i in range(recipes):
            ws.add_recipe(f"{name} recipe {i}", simple_code())
        ws.add_connection("salesforce", f"{name} Salesforce PROD")
        return ws

    us, eu = workspace("US", 12), workspace("EU", 7)
    us_sim, eu_sim = simulator(us, rate_limits=None), simulator(eu, rate_limits=None)
    eu.add_token("eu-token", name="eu-client")
    monkeypatch.setenv("US_TOKEN", us_sim.token)
    monkeypatch.setenv("EU_TOKEN", "eu-token")
    write_config(
        tmp_path,
        monkeypatch,
        {
            "workspaces": [
                {"name": "US", "base_url": us_sim.base_url, "token_env": "US_TOKEN"},
                {"name": "EU", "base_url": eu_sim.base_url, "token_env": "EU_TOKEN"},
            ]
        },
    )
    warehouse = WarehouseResource(duckdb_path=str(tmp_path / "a.duckdb"))

    assert materialize_sync(resources(warehouse), partition="US").success
    assert materialize_sync(resources(warehouse), partition="EU").success
    counts = query(
        warehouse, "select workspace, count(*) from workato_raw.recipes group by 1 order by 1"
    )
    assert counts == [("EU", 7), ("US", 12)]
    # Each workspace was asked with its own token, read from the variable archy.yaml names.
    assert {r.token_name for r in eu_sim.requests} == {"eu-client"}
    assert {r.token_name for r in us_sim.requests} == {"full-access"}

    # EU's token is revoked: its sync fails, US's still succeeds, nothing of EU is lost.
    eu.revoke_token("eu-token")
    us.add_recipe("US recipe added", simple_code())
    failed = materialize_sync(resources(warehouse), partition="EU", raise_on_error=False)
    assert not failed.success
    assert materialize_sync(resources(warehouse), partition="US").success
    counts = query(
        warehouse,
        "select workspace, count(*) from workato_raw.recipes where deleted_at is null "
        "group by 1 order by 1",
    )
    assert counts == [("EU", 7), ("US", 13)]


def test_an_include_rule_that_matches_no_folder_is_a_warning(
    simulator, company, tmp_path, monkeypatch
):
    sim = simulator(company, rate_limits=None)
    monkeypatch.setenv("WORKATO_API_TOKEN", sim.token)
    write_config(
        tmp_path,
        monkeypatch,
        {
            "workspaces": [{"name": "ACME", "base_url": sim.base_url}],
            "sync": {
                "folders": {
                    "include": ["Home/Sales", "Home/Salez*", 999999, "Finance", "Private"],
                    "exclude": ["Home/Sales/Private"],
                }
            },
        },
    )
    warehouse = WarehouseResource(duckdb_path=str(tmp_path / "a.duckdb"))
    result = materialize_sync(resources(warehouse), partition="ACME")
    assert result.success
    (issues,) = [
        event.materialization.metadata["issues_this_sync"].value
        for event in result.get_asset_materialization_events()
        if "issues_this_sync" in event.materialization.metadata
    ]
    # What the CLI prints after a sync: the misspelt glob and the unknown id, nothing else
    # ("Private" is a folder, but not at the top: "Home/Private" names none).
    assert [(i["severity"], i["message"]) for i in issues] == [
        ("warning", f"sync.folders.include: {named} matches no folder this API client can see; "
                    "check its spelling and case (paths look like 'Home/Sales/Quote to Cash')")
        for named in ("'Home/Salez*'", "folder id 999999", "'Home/Private'")
    ]  # fmt: skip
    stored = query(warehouse, "select kind, subject from workato_raw.sync_issues order by subject")
    assert stored == [
        ("folder_rule_unmatched", "sync.folders.include 'Home/Private'"),
        ("folder_rule_unmatched", "sync.folders.include 'Home/Salez*'"),
        ("folder_rule_unmatched", "sync.folders.include folder id 999999"),
    ]
    # The rules that match still select their folders.
    names = {n for (n,) in query(warehouse, "select name from workato_raw.recipes")}
    assert "Invoice to ERP" in names and "Opportunity to order" in names
