"""What the raw tables must not get wrong: connection swaps, full refreshes that leave nothing
stale, and deletions that are real (a project leaving the token's scope is not a deletion).

Every test runs the extract over real HTTP against the simulator into a real DuckDB file, changes
the workspace the way Workato would, and syncs again into the same file.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from dagster_dlt import DagsterDltResource
from workato_simulator import WorkatoSimulator, Workspace
from workato_simulator.workspace import application_config

from archy_pipeline.resources import WorkatoResource
from archy_pipeline.resources.warehouse import WarehouseResource
from tests.support import materialize_sync, materialize_transform, simple_code


class Run:
    """The extract, run after run, against one simulator and one warehouse file."""

    def __init__(self, sim: WorkatoSimulator, warehouse: WarehouseResource, token: str) -> None:
        self.sim, self.warehouse, self.token = sim, warehouse, token

    def sync(self, **config: Any) -> None:
        result = materialize_sync(
            resources={
                "dlt": DagsterDltResource(),
                "workato": WorkatoResource(
                    api_token=self.token, base_url=self.sim.base_url, requests_per_minute=0
                ),
                "warehouse": self.warehouse,
            },
            run_config={"ops": {"workato_raw": {"config": config}}} if config else None,
        )
        assert result.success

    def rows(self, sql: str, *params: Any) -> list[tuple]:
        with self.warehouse.connect(read_only=True) as con:
            cursor = con.cursor()
            cursor.execute(sql, list(params))
            return cursor.fetchall()

    def issues(self, kind: str) -> list[tuple]:
        return self.rows(
            "select subject, message, severity from workato_raw.sync_issues where kind = ? "
            "order by synced_at",
            kind,
        )


@pytest.fixture
def run(simulator, tmp_path: Path):
    def make(ws: Workspace, token: str | None = None) -> Run:
        sim = simulator(ws, rate_limits=None)
        warehouse = WarehouseResource(duckdb_path=str(tmp_path / "warehouse.duckdb"))
        return Run(sim, warehouse, token or sim.token)

    return make


# ---------------------------------------------------------------------- connection swaps


def swap_workspace() -> tuple[Workspace, dict[str, int]]:
    ws = Workspace()
    sales = ws.add_project("Sales")
    sf = ws.add_connection("salesforce", "Salesforce Production", sales.folder_id)
    old = ws.add_connection("netsuite", "NetSuite Production (old)", sales.folder_id)
    new = ws.add_connection("netsuite", "NetSuite Production (new)", sales.folder_id)
    recipe = ws.add_recipe(
        "Opportunity to sales order",
        simple_code("salesforce", "netsuite"),
        [application_config("salesforce", sf.id), application_config("netsuite", old.id)],
        sales.folder_id,
    )
    for i in range(3):  # so one deletion is not a mass vanishing
        ws.add_recipe(f"Other {i}", simple_code("salesforce", "slack"), folder_id=sales.folder_id)
    return ws, {"recipe": recipe.id, "sf": sf.id, "old": old.id, "new": new.id}


@pytest.mark.parametrize("moves_updated_at", [False, True], ids=["same-updated_at", "touched"])
def test_a_connection_swap_with_unchanged_code_reaches_integration_systems(run, moves_updated_at):
    ws, ids = swap_workspace()
    r = run(ws)
    r.sync()
    ws.connect_recipe(ids["recipe"], "netsuite", ids["new"], moves_updated_at=moves_updated_at)
    code_before = ws.recipes[ids["recipe"]].code

    r.sync()  # the daily, incremental path
    materialize_transform(r.warehouse)

    assert ws.recipes[ids["recipe"]].code == code_before, "only config changed"
    step_connections = r.rows(
        "select connection_id from workato_raw.recipe_steps where recipe_id = ? order by number",
        ids["recipe"],
    )
    assert step_connections == [(ids["sf"],), (ids["new"],)]
    assert r.rows(
        "select connection_id from workato_raw.recipe_connections where recipe_id = ? "
        "order by position",
        ids["recipe"],
    ) == [(ids["sf"],), (ids["new"],)]
    used = {c for (c,) in r.rows("select connection_id from archy.integration_systems")}
    assert used == {ids["sf"], ids["new"]}, "the old connection is gone from the architecture"
    counts = dict(r.rows("select connection_id, recipe_count from archy.system_instances"))
    assert counts[ids["old"]] == 0 and counts[ids["new"]] == 1


def test_a_full_refresh_rederives_every_parsed_table(run):
    ws, ids = swap_workspace()
    r = run(ws)
    r.sync()
    other = ws.add_recipe("Doomed", simple_code("salesforce", "slack"))
    r.sync()
    assert r.rows("select count(*) from workato_raw.recipe_steps where recipe_id = ?", other.id)
    # A stale parse in the warehouse (as an older version of the sync could leave it).
    with r.warehouse.connect() as con:
        con.execute(
            "update workato_raw.recipe_steps set connection_id = ? where recipe_id = ? "
            "and number = 1",
            [ids["old"] + 999, ids["recipe"]],
        )
    ws.delete_recipe(other.id)

    r.sync(full_refresh=True)

    assert r.rows(
        "select connection_id from workato_raw.recipe_steps where recipe_id = ? and number = 1",
        ids["recipe"],
    ) == [(ids["old"],)], "re-derived from the raw recipe, not kept"
    assert r.rows("select deleted_at is not null from workato_raw.recipes where id = ?", other.id)[
        0
    ] == (True,)
    assert r.rows(
        "select count(*) from workato_raw.recipe_steps where recipe_id = ?", other.id
    ) == [(0,)], "a deleted recipe keeps no steps"


def test_a_recipe_that_comes_back_gets_its_steps_again(run):
    ws, ids = swap_workspace()
    r = run(ws)
    r.sync()
    recipe = ws.recipes[ids["recipe"]]
    ws.delete_recipe(recipe.id)
    r.sync()
    assert r.rows(
        "select count(*) from workato_raw.recipe_steps where recipe_id = ?", recipe.id
    ) == [(0,)]
    ws.add_recipe(recipe.name, recipe.code, recipe.config, recipe.folder_id, id=recipe.id)
    r.sync()
    assert r.rows(
        "select count(*) from workato_raw.recipe_steps where recipe_id = ?", recipe.id
    ) == [(2,)]


# ---------------------------------------------------------------------- deletions that are real


def scoped_workspace() -> tuple[Workspace, dict[str, Any]]:
    """Two projects; the HR one holds 4 recipes and 2 connections in a nested folder tree."""
    ws = Workspace()
    sales = ws.add_project("Sales")
    hr = ws.add_project("HR")
    payroll = ws.add_folder("Payroll", hr.folder_id)
    ws.add_connection("salesforce", "Salesforce", sales.folder_id)
    ws.add_connection("workday", "Workday", hr.folder_id)
    ws.add_connection("sftp", "Payroll SFTP", payroll.id)
    for i in range(6):
        ws.add_recipe(f"Sales {i}", simple_code("salesforce", "slack"), folder_id=sales.folder_id)
    hr_recipes = [
        ws.add_recipe(f"HR {i}", simple_code("workday", "sftp"), folder_id=folder).id
        for i, folder in enumerate([hr.folder_id, hr.folder_id, payroll.id, payroll.id])
    ]
    ws.add_token("client", project_ids=None)
    return ws, {"sales": sales, "hr": hr, "payroll": payroll, "hr_recipes": hr_recipes}


def current_recipes(r: Run) -> int:
    return r.rows("select count(*) from workato_raw.recipes where deleted_at is null")[0][0]


@pytest.mark.parametrize("full_refresh", [False, True], ids=["daily", "full"])
def test_a_project_leaving_the_scope_is_held_not_deleted(run, full_refresh):
    ws, s = scoped_workspace()
    r = run(ws, token="client")
    r.sync()
    assert current_recipes(r) == 10

    ws.set_token_scope("client", project_ids=frozenset({s["sales"].id}))
    r.sync(full_refresh=full_refresh)

    assert current_recipes(r) == 10, "nothing deleted"
    hidden = r.rows(
        "select id from workato_raw.recipes where visible = false and hidden_since is not null "
        "order by id"
    )
    assert [i for (i,) in hidden] == sorted(s["hr_recipes"])
    assert r.rows(
        "select count(*) from workato_raw.connections where visible = false and deleted_at is null"
    ) == [(2,)]
    (held,) = r.issues("deletion_held")
    subject, message, _ = held
    assert subject == "Home/HR"
    assert "project 'HR' (Home/HR) is no longer visible" in message
    assert "4 recipe(s) and 2 connection(s)" in message
    assert "--accept-deletions" in message
    assert not r.issues("mass_deletion_refused")

    # Still out of scope the next day: still held, and reported only once.
    r.sync()
    assert current_recipes(r) == 10
    assert len(r.issues("deletion_held")) == 1

    # Back in scope: visible again, nothing lost.
    ws.set_token_scope("client", project_ids=None)
    r.sync()
    assert r.rows("select count(*) from workato_raw.recipes where visible = false") == [(0,)]
    assert r.rows("select count(*) from workato_raw.connections where visible = false") == [(0,)]
    assert current_recipes(r) == 10


def test_accept_deletions_applies_what_was_held(run):
    ws, s = scoped_workspace()
    r = run(ws, token="client")
    r.sync()
    ws.set_token_scope("client", project_ids=frozenset({s["sales"].id}))
    r.sync()

    r.sync(accept_deletions=True)

    deleted = r.rows("select id from workato_raw.recipes where deleted_at is not null order by id")
    assert [i for (i,) in deleted] == sorted(s["hr_recipes"])
    assert r.rows("select count(*) from workato_raw.connections where deleted_at is not null") == [
        (2,)
    ]
    assert r.rows("select count(*) from workato_raw.folders where deleted_at is not null") == [
        (2,)
    ], "the HR folder and its Payroll sub-folder"
    assert r.rows("select name from workato_raw.projects where deleted_at is not null") == [("HR",)]
    (applied,) = r.issues("held_deletions_applied")
    assert "4 recipes" in applied[1] and "2 connections" in applied[1]


def test_held_deletions_apply_after_the_grace_period(run):
    ws, s = scoped_workspace()
    r = run(ws, token="client")
    r.sync()
    ws.set_token_scope("client", project_ids=frozenset({s["sales"].id}))
    r.sync(held_deletions_grace_days=1)
    assert current_recipes(r) == 10, "held: the grace period has not run out"
    with r.warehouse.connect() as con:  # a day and a bit later
        con.execute(
            "update workato_raw.recipes set hidden_since = hidden_since - interval 25 hour "
            "where visible = false"
        )
    r.sync(held_deletions_grace_days=1)
    assert current_recipes(r) == 6


def test_a_recipe_deleted_in_a_visible_folder_is_deleted(run):
    ws, s = scoped_workspace()
    r = run(ws, token="client")
    r.sync()
    gone = s["hr_recipes"][2]  # Payroll keeps another recipe: its folder is visible
    ws.delete_recipe(gone)

    r.sync()

    assert r.rows("select deleted_at is not null from workato_raw.recipes where id = ?", gone) == [
        (True,)
    ]
    assert current_recipes(r) == 9
    assert not r.issues("deletion_held")
    assert not r.rows("select 1 from workato_raw.recipes where visible = false")


def test_an_emptied_folder_is_checked_by_walking_the_tree(run):
    ws, s = scoped_workspace()
    r = run(ws, token="client")
    r.sync()
    # Everything in Payroll goes, the folder stays: only the tree can tell it is still there.
    for recipe_id in s["hr_recipes"][2:]:
        ws.delete_recipe(recipe_id)
    ws.delete_connection(next(c.id for c in ws.connections.values() if c.name == "Payroll SFTP"))
    r.sim.clear_log()

    r.sync()

    assert r.sim.log("^/api/folders$"), "the tree is walked to see Payroll is still there"
    assert current_recipes(r) == 8
    assert r.rows("select count(*) from workato_raw.connections where deleted_at is not null") == [
        (1,)
    ]
    assert not r.issues("deletion_held")


def test_a_deletion_workato_confirmed_applies_even_when_held(run):
    ws, s = scoped_workspace()
    r = run(ws, token="client")
    r.sync()
    ws.set_token_scope("client", project_ids=frozenset({s["sales"].id}))
    confirmed = s["hr_recipes"][0]

    r.sync(confirmed_deletions={"recipes": [confirmed]})

    assert r.rows("select id from workato_raw.recipes where deleted_at is not null") == [
        (confirmed,)
    ]
    assert current_recipes(r) == 9


def test_a_folder_deletion_workato_confirmed_takes_its_contents_along(run):
    ws, s = scoped_workspace()
    r = run(ws, token="client")
    r.sync()
    payroll = s["payroll"].id
    ws.delete_folder(payroll)  # with its two recipes and its connection

    r.sync(confirmed_deletions={"folders": [payroll]})

    assert r.rows(
        "select deleted_at is not null from workato_raw.folders where id = ?", payroll
    ) == [(True,)]
    assert current_recipes(r) == 8
    assert not r.issues("deletion_held")
