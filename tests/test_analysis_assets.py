"""The analysis assets end to end: insights kept across runs, resolved when fixed, views, and
the impact command on a hand-built workspace."""

from __future__ import annotations

from archy_pipeline.cli import main
from archy_pipeline.resources.warehouse import WarehouseResource
from archy_pipeline.simulator.workspace import application_config
from tests.test_transform import acme, block, rows, run_pipeline


def insights(warehouse: WarehouseResource) -> dict[str, tuple]:
    return {
        r[0]: r[1:]
        for r in rows(
            warehouse,
            "select insight_id, kind, status, first_seen_at, last_seen_at, subjects "
            "from archy.insights",
        )
    }


def test_insights_keep_their_ids_and_resolve_when_the_cause_is_fixed(simulator, tmp_path):
    ws, ids = acme()
    sim = simulator(ws, rate_limits=None)
    warehouse = WarehouseResource(duckdb_path=str(tmp_path / "warehouse.duckdb"))
    assert run_pipeline(sim, warehouse).success
    first = insights(warehouse)
    unused = {i: v for i, v in first.items() if v[0] == "unused_connection" and "Jira UAT" in v[4]}
    assert len(unused) == 1, "the Jira connection no recipe uses is found"
    (unused_id,) = unused
    kinds = {v[0] for v in first.values()}
    assert {"unused_connection", "inactive_recipe", "missing_error_handling"} <= kinds

    assert run_pipeline(sim, warehouse).success
    second = insights(warehouse)
    assert set(second) == set(first), "the same findings keep the same ids"
    assert second[unused_id][2] == first[unused_id][2], "first_seen_at stays"
    assert second[unused_id][3] > first[unused_id][3], "last_seen_at moves"

    # Fix the cause: a recipe starts using the Jira connection.
    ws.add_recipe(
        "Issues to Slack",
        block(0, "trigger", "jira", "new_issue", block(1, "action", "slack", "post_message")),
        [application_config("jira", ids["jira"]), application_config("slack", ids["slack"])],
        running=True,
    )
    assert run_pipeline(sim, warehouse).success
    third = insights(warehouse)
    assert third[unused_id][1] == "resolved"
    assert third[unused_id][2] == first[unused_id][2]
    views = {r[0] for r in rows(
        warehouse, "select table_name from information_schema.tables where table_schema = 'archy'"
    )}  # fmt: skip
    assert {"v_most_complex_integrations", "v_system_dependency_ranking",
            "v_recommendations"} <= views  # fmt: skip
    open_ids = {r[0] for r in rows(warehouse, "select insight_id from archy.v_recommendations")}
    assert unused_id not in open_ids
    assert open_ids == {i for i, v in third.items() if v[1] == "open"}


def test_impact_command_on_the_hand_built_workspace(simulator, tmp_path, monkeypatch, capsys):
    ws, _ = acme()
    sim = simulator(ws, rate_limits=None)
    path = tmp_path / "warehouse.duckdb"
    warehouse = WarehouseResource(duckdb_path=str(path))
    assert run_pipeline(sim, warehouse).success
    monkeypatch.setenv("ARCHY_DUCKDB_PATH", str(path))

    assert main(["impact", "NetSuite - Sandbox"]) == 0
    out = capsys.readouterr().out
    # Two recipes use NetSuite directly; nobody calls them, so nothing breaks through calls.
    assert "2 recipe(s) affected: 2 directly, 0 through calls" in out
    assert "Opportunity to Sales Order" in out and "Nightly sync" in out

    assert main(["impact", "Upsert contact"]) == 0
    out = capsys.readouterr().out
    assert "Opportunity to Sales Order" in out, "its caller breaks with it"

    assert main(["impact", "no such thing at all"]) == 1
    assert "impact:" in capsys.readouterr().err
