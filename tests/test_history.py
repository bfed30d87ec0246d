"""History tables: versions kept across builds, after changes made through the simulator, on
DuckDB and PostgreSQL; and the as-of query docs/tables.md gives."""

from __future__ import annotations

import pytest

from archy_pipeline.resources.warehouse import WarehouseResource
from tests.support import acme, build_archy, rows, run_pipeline

HISTORY = ("recipe_history", "connection_history", "integration_history")

#: The query docs/tables.md gives for "which systems did recipe X touch on date D".
AS_OF_SYSTEMS = """
select connection_id, system_id, role
from archy.integration_history
where workspace = {p} and recipe_id = {p}
  and valid_from <= {p} and (valid_to is null or valid_to > {p})
order by connection_id
"""
AS_OF_RECIPE = """
select name, status from archy.recipe_history
where workspace = {p} and recipe_id = {p}
  and valid_from <= {p} and (valid_to is null or valid_to > {p})
"""


@pytest.fixture(params=["duckdb", pytest.param("postgres", marks=pytest.mark.postgres)])
def warehouse(request, tmp_path) -> WarehouseResource:
    if request.param == "postgres":
        dsn = request.getfixturevalue("postgres_database")
        return WarehouseResource(postgres_dsn=dsn, pipelines_dir=str(tmp_path / "dlt"))
    return WarehouseResource(duckdb_path=str(tmp_path / "warehouse.duckdb"))


def _counts(warehouse: WarehouseResource) -> dict[str, tuple[int, int]]:
    """(rows, open rows) of each history table."""
    return {
        table: rows(
            warehouse,
            f"select count(*), count(*) filter (where valid_to is null) from archy.{table}",
        )[0]
        for table in HISTORY
    }


def _versions(warehouse: WarehouseResource, table: str, key: str, value: int) -> list[tuple]:
    return rows(
        warehouse,
        f"select valid_from, valid_to, ended_by, name from archy.{table} "
        f"where {key} = {value} order by valid_from",
    )


def test_history_keeps_versions_deletions_and_answers_as_of(simulator, warehouse):
    ws, ids = acme()
    sim = simulator(ws, rate_limits=None)
    assert run_pipeline(sim, warehouse).success
    first = _counts(warehouse)
    (systems,) = rows(warehouse, "select count(*) from archy.integration_systems")
    assert first == {
        "recipe_history": (5, 5),
        "connection_history": (6, 6),
        "integration_history": (systems[0], systems[0]),
    }

    # Nothing changed: a sync and a rebuild, then a rebuild alone, add no row.
    assert run_pipeline(sim, warehouse).success
    assert build_archy(warehouse).success
    assert _counts(warehouse) == first

    ws.update_recipe(ids["caller"], name="Opportunity to Sales Order v2")
    ws.delete_recipe(ids["both"])
    ws.delete_connection(ids["jira"])
    assert run_pipeline(sim, warehouse).success

    old, new = _versions(warehouse, "recipe_history", "recipe_id", ids["caller"])
    assert old[2:] == ("change", "Opportunity to Sales Order")
    assert new[1:] == (None, None, "Opportunity to Sales Order v2")
    assert old[1] == new[0], "the old version ends when the new one starts"
    change_time = new[0]
    before = old[0] + (change_time - old[0]) / 2

    # The deleted recipe stays marked in the current table and closed in history.
    assert rows(
        warehouse,
        f"select deleted_at is not null from archy.integrations where recipe_id = {ids['both']}",
    ) == [(True,)]
    ((_, valid_to, ended_by, name),) = _versions(
        warehouse, "recipe_history", "recipe_id", ids["both"]
    )
    assert (valid_to, ended_by, name) == (change_time, "deleted", "Account owner sync")
    ((_, valid_to, ended_by, _),) = _versions(
        warehouse, "connection_history", "connection_id", ids["jira"]
    )
    assert (valid_to, ended_by) == (change_time, "deleted")

    # As of a date before the change and after it.
    p = warehouse.placeholder
    ((workspace,),) = rows(warehouse, "select distinct workspace from archy.integrations")
    as_of_recipe = AS_OF_RECIPE.format(p=p)
    as_of_systems = AS_OF_SYSTEMS.format(p=p)
    params = [workspace, ids["caller"], before, before]
    assert warehouse.query(as_of_recipe, params)[1] == [("Opportunity to Sales Order", "active")]
    params = [workspace, ids["caller"], change_time, change_time]
    assert warehouse.query(as_of_recipe, params)[1] == [("Opportunity to Sales Order v2", "active")]
    then = warehouse.query(as_of_systems, [workspace, ids["both"], before, before])[1]
    assert [(c, r) for c, _, r in then] == [(ids["sf"], "both")]
    assert then[0][1] == "salesforce", "the mapped system"
    after = [workspace, ids["both"], change_time, change_time]
    assert warehouse.query(as_of_systems, after)[1] == []
    assert rows(
        warehouse,
        f"select ended_by from archy.integration_history where recipe_id = {ids['both']}",
    ) == [("removed",)]

    # One more sync and rebuild with nothing changed: still no new row.
    settled = _counts(warehouse)
    assert settled["recipe_history"] == (6, 4)
    assert run_pipeline(sim, warehouse).success
    assert _counts(warehouse) == settled
