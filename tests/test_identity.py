"""Clients without ``/users/me``: TEST/PROD-scoped tokens still sync, and say how they did.

Workato answers ``GET /api/users/me`` only to DEV-scoped API clients in workspaces with
environments (addendum §4). The simulator models that; these tests run the client and the
extract assets against it over real HTTP.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import dagster as dg
import httpx
import pytest
from dagster_dlt import DagsterDltResource
from workato_simulator import Workspace
from workato_simulator.generator import generate_workspace

from archy_pipeline.resources import WorkatoResource
from archy_pipeline.resources.warehouse import WarehouseResource
from archy_pipeline.workato.errors import (
    WorkatoAccessDeniedError,
    WorkatoAuthenticationError,
    WorkatoWorkspaceMismatchError,
)
from tests.support import client_for, materialize_sync, simple_code

PROD = "sim-prod-token-0123456789"
TEST = "sim-test-token-0123456789"


def environments_workspace(**kwargs: Any) -> Workspace:
    ws = generate_workspace(3, recipes=40)
    ws.environments = True
    return ws


def get(sim, path: str, token: str) -> httpx.Response:
    return httpx.get(f"{sim.base_url}{path}", headers={"Authorization": f"Bearer {token}"})


# ---------------------------------------------------------------------- the simulator


def test_users_me_is_403_for_non_dev_clients_in_a_workspace_with_environments(simulator):
    ws = environments_workspace()
    sim = simulator(ws, rate_limits=None)
    sim.add_token(PROD, name="prod", environment="prod")
    sim.add_token(TEST, name="test", environment="test")
    assert get(sim, "/users/me", sim.token).status_code == 200, "the default token is DEV"
    for token in (PROD, TEST):
        answer = get(sim, "/users/me", token)
        assert answer.status_code == 403
        assert set(answer.json()) == {"message"}, "the reference's error body shape"
        assert get(sim, "/folders", token).status_code == 200


def test_users_me_answers_every_environment_in_a_workspace_without_environments(simulator):
    sim = simulator(Workspace(), rate_limits=None)
    sim.add_token(PROD, environment="prod")
    assert get(sim, "/users/me", PROD).status_code == 200


def test_a_token_environment_must_be_one_workato_names():
    with pytest.raises(ValueError, match="unknown environment 'production'"):
        Workspace().add_token("t" * 20, environment="production")


# ---------------------------------------------------------------------- the client


def test_a_dev_client_is_identified_by_users_me(simulator):
    ws = environments_workspace()
    sim = simulator(ws, rate_limits=None)
    with client_for(sim) as client:
        identity = client.identify("Main Workspace")
    assert identity.source == "users_me"
    assert identity.details["recipes_count"] == len(ws.recipes)
    assert identity.root_folder_id == ws.root_folder_id
    assert identity.reason is None


def test_a_prod_client_is_identified_by_the_activity_log(simulator):
    ws = environments_workspace()
    sim = simulator(ws, rate_limits=None)
    sim.add_token(PROD, name="prod", environment="prod")
    with client_for(sim, PROD) as client:
        identity = client.identify("Main Workspace")
    assert identity.source == "activity_log"
    assert identity.details == {
        "id": ws.id,
        "name": ws.name,
        "email": ws.email,
        "environment": "prod",
        "root_folder_id": ws.root_folder_id,
    }
    assert "answered 403" in identity.reason
    activity = sim.log("^/api/activity_logs$")
    assert [r.param("page[size]") for r in activity] == ["1"]


def test_without_the_activity_log_the_workspace_comes_from_archy_yaml(simulator):
    ws = environments_workspace()
    ws.activity_log = False  # no add-on
    sim = simulator(ws, rate_limits=None)
    sim.add_token(PROD, environment="prod")
    with client_for(sim, PROD, user_id=ws.id) as client:
        identity = client.identify("Production")
    assert identity.source == "config"
    assert identity.details == {
        "id": ws.id,
        "name": "Production",
        "root_folder_id": ws.root_folder_id,
    }
    assert any("activity log did not answer (403)" in note for note in identity.notes)


def test_a_workspace_without_folders_has_no_known_home(simulator):
    ws = Workspace(environments=True)
    ws.add_recipe("At home", simple_code())
    sim = simulator(ws, rate_limits=None)
    sim.add_token(PROD, environment="prod")
    with client_for(sim, PROD) as client:
        identity = client.identify("Main Workspace")
    assert identity.source == "activity_log"
    assert identity.root_folder_id is None
    assert "no folder below Home" in identity.notes[0]


def test_a_revoked_token_still_fails_as_a_bad_token(simulator):
    ws = environments_workspace()
    sim = simulator(ws, rate_limits=None)
    sim.add_token(PROD, environment="prod")
    ws.revoke_token(PROD)
    with client_for(sim, PROD) as client:
        with pytest.raises(WorkatoAuthenticationError, match="not accepted") as raised:
            client.identify("Main Workspace")
    assert raised.value.status == 401
    assert PROD not in str(raised.value)


def test_a_role_without_folders_cannot_be_identified_and_says_so(simulator):
    ws = environments_workspace()
    sim = simulator(ws, rate_limits=None)
    sim.add_token(PROD, environment="prod", families=frozenset({"recipes", "connections"}))
    with client_for(sim, PROD) as client:
        with pytest.raises(WorkatoAccessDeniedError, match="GET /api/folders"):
            client.identify("Main Workspace")


def test_the_activity_log_workspace_is_checked_against_the_configured_id(simulator):
    ws = environments_workspace()
    sim = simulator(ws, rate_limits=None)
    sim.add_token(PROD, environment="prod")
    with client_for(sim, PROD, user_id=ws.id + 1) as client:
        with pytest.raises(WorkatoWorkspaceMismatchError, match="per the activity log"):
            client.identify("Main Workspace")


# ---------------------------------------------------------------------- syncs


def sync(sim, token: str, path: Path, raise_on_error: bool = True) -> dg.ExecuteInProcessResult:
    return materialize_sync(
        {
            "dlt": DagsterDltResource(),
            "workato": WorkatoResource(
                api_token=token, base_url=sim.base_url, requests_per_minute=0, max_attempts=2
            ),
            "warehouse": WarehouseResource(duckdb_path=str(path)),
        },
        raise_on_error=raise_on_error,
    )


def query(path: Path, sql: str) -> list[tuple]:
    with WarehouseResource(duckdb_path=str(path)).connect(read_only=True) as con:
        cursor = con.cursor()
        cursor.execute(sql)
        return cursor.fetchall()


def contents(path: Path) -> dict[str, set]:
    return {
        table: set(query(path, f"select id, content_hash from workato_raw.{table}"))
        for table in ("recipes", "connections", "folders", "projects")
    }


def test_a_prod_token_refused_users_me_syncs_like_a_dev_token(simulator, tmp_path):
    """Acceptance (issue 9, point 4): same recipes, connections and folders as DEV."""
    ws = environments_workspace()
    sim = simulator(ws, rate_limits=None)
    sim.add_token(PROD, name="prod", environment="prod")

    assert sync(sim, sim.token, tmp_path / "dev.duckdb").success
    sim.clear_log()
    assert sync(sim, PROD, tmp_path / "prod.duckdb").success

    assert [r.status for r in sim.log("^/api/users/me$")] == [403]
    dev, prod = contents(tmp_path / "dev.duckdb"), contents(tmp_path / "prod.duckdb")
    assert prod == dev
    assert {i for i, _ in prod["recipes"]} == set(ws.recipes)
    assert len(prod["folders"]) == len(ws.folders) - 1
    issues = query(
        tmp_path / "prod.duckdb", "select severity, kind, message from workato_raw.sync_issues"
    )
    assert [(s, k) for s, k, _ in issues] == [("info", "identity_source")]
    assert "activity-log entry" in issues[0][2] and "answered 403" in issues[0][2]
    assert query(tmp_path / "dev.duckdb", "select count(*) from workato_raw.sync_issues") == [(0,)]
    (row,) = query(
        tmp_path / "prod.duckdb",
        "select id, name, environment, identity_source, root_folder_id, recipes_count "
        "from workato_raw.workspace",
    )
    assert row == (ws.id, ws.name, "prod", "activity_log", ws.root_folder_id, None)
    (dev_row,) = query(
        tmp_path / "dev.duckdb",
        "select identity_source, recipes_count from workato_raw.workspace",
    )
    assert dev_row == ("users_me", len(ws.recipes))


def test_a_prod_token_without_the_activity_log_syncs_under_its_configured_name(simulator, tmp_path):
    ws = environments_workspace()
    ws.activity_log = False
    sim = simulator(ws, rate_limits=None)
    sim.add_token(PROD, environment="prod")
    path = tmp_path / "prod.duckdb"
    assert sync(sim, PROD, path).success
    assert {i for (i,) in query(path, "select id from workato_raw.recipes")} == set(ws.recipes)
    kinds = query(path, "select severity, kind from workato_raw.sync_issues order by kind")
    assert kinds == [("info", "identity_source"), ("info", "identity_unknown")]
    assert query(path, "select count(*) from workato_raw.workspace") == [(0,)]


def test_a_recipes_count_mismatch_writes_a_sync_issue(simulator, tmp_path):
    ws = Workspace()
    sales, hr = ws.add_project("Sales"), ws.add_project("HR")
    for i in range(3):
        ws.add_recipe(f"Sales {i}", simple_code(), folder_id=sales.folder_id)
    ws.add_recipe("HR 1", simple_code(), folder_id=hr.folder_id)
    sim = simulator(ws, rate_limits=None)
    scoped = "sim-scoped-token-0123456789"
    # HR's folder vanishes from this token's listings (no 403): the listing looks complete.
    sim.add_token(scoped, project_ids=frozenset({sales.id}), out_of_scope="hide")
    path = tmp_path / "warehouse.duckdb"
    assert sync(sim, scoped, path).success
    issues = query(path, "select severity, kind, message from workato_raw.sync_issues")
    assert [(s, k) for s, k, _ in issues] == [("warning", "recipes_count_mismatch")]
    assert "counts 4 recipes but the recipe listing returned 3" in issues[0][2]


def test_no_recipes_count_check_when_the_listing_is_filtered(simulator, tmp_path, monkeypatch):
    ws = Workspace()
    sales = ws.add_project("Sales")
    ws.add_recipe("Running", simple_code(), folder_id=sales.folder_id, running=True)
    ws.add_recipe("Stopped", simple_code(), folder_id=sales.folder_id)
    config = tmp_path / "archy.yaml"
    config.write_text("workspaces:\n  - name: Main Workspace\nsync:\n  recipes: running\n")
    monkeypatch.setenv("ARCHY_CONFIG", str(config))
    sim = simulator(ws, rate_limits=None)
    path = tmp_path / "warehouse.duckdb"
    assert sync(sim, sim.token, path).success
    assert query(path, "select count(*) from workato_raw.recipes") == [(1,)]
    assert query(path, "select count(*) from workato_raw.sync_issues") == [(0,)]


def test_test_connection_says_where_a_prod_clients_identity_came_from(
    simulator, monkeypatch, capsys
):
    from archy_pipeline.cli import main

    ws = environments_workspace()
    sim = simulator(ws, rate_limits=None)
    sim.add_token(PROD, environment="prod")
    monkeypatch.setenv("WORKATO_API_TOKEN", PROD)
    assert main(["test-connection", "--base-url", sim.base_url]) == 0
    out = capsys.readouterr().out
    assert f"workspace: {ws.name} (id {ws.id})" in out
    assert "identity:  from activity_log, environment prod (GET /api/users/me answered 403" in out
    assert PROD not in out
