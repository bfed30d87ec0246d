"""The analysis assets end to end: insights kept across runs, resolved when fixed, views, and
the impact command on a hand-built workspace."""

from __future__ import annotations

import re

from workato_simulator.workspace import application_config

from archy_pipeline.cli import main
from archy_pipeline.resources.warehouse import WarehouseResource
from tests.support import STOP, acme, block, rows, run_pipeline


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


def test_impact_command_on_the_hand_built_workspace(acme_warehouse, tmp_path, monkeypatch, capsys):
    path = acme_warehouse.copy_to(tmp_path).path
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


# ---------------------------------------------------------------------- roll-ups, retries, order


def bare_code() -> dict:
    return block(0, "trigger", "salesforce", "new_object",
                 block(1, "action", "netsuite", "add_object"))  # fmt: skip


def guarded_code(catch: dict) -> dict:
    """NetSuite inside a try whose catch has ``catch``'s input and children."""
    return block(0, "trigger", "salesforce", "new_object",
                 block(1, "try", None, None, block(2, "action", "netsuite", "add_object"),
                       block(3, "catch", None, None, *catch.get("block", []),
                             input=catch.get("input", {}))))  # fmt: skip


def error_rows(warehouse: WarehouseResource) -> dict[str, tuple]:
    return {
        r[0]: r[1:]
        for r in rows(
            warehouse,
            "select insight_id, status, first_seen_at, evidence, title from archy.insights "
            "where kind = 'missing_error_handling'",
        )
    }


def test_roll_ups_and_catch_settings_from_the_code_end_to_end(
    simulator, tmp_path, monkeypatch, capsys
):
    import json

    from archy_pipeline.analysis import insight_id

    ws, ids = acme()
    ops = ws.add_folder("Ops", ws.root_folder_id)
    config = [application_config("salesforce", ids["sf"]),
              application_config("netsuite", ids["ns"])]  # fmt: skip
    members = [
        ws.add_recipe(f"Bare {i}", bare_code(), config, ops.id, running=True).id for i in range(4)
    ]
    # a catch that only ends the job successfully swallows the error; one that retries does not
    quiet = ws.add_recipe(
        "Quiet stop",
        guarded_code(
            {
                "input": {"max_retry_count": "0"},
                "block": [block(4, "stop", input={"stop_with_error": "false"})],
            }
        ),
        config,
        ops.id,
        running=True,
    )
    retrying = ws.add_recipe("Retrying", guarded_code({"input": {"max_retry_count": "2"}}),
                             config, ops.id, running=True)  # fmt: skip
    archy_yaml = tmp_path / "archy.yaml"
    archy_yaml.write_text("analysis:\n  rollup_min_recipes: 4\n")
    monkeypatch.setenv("ARCHY_CONFIG", str(archy_yaml))
    sim = simulator(ws, rate_limits=None)
    warehouse = WarehouseResource(duckdb_path=str(tmp_path / "warehouse.duckdb"))
    assert run_pipeline(sim, warehouse).success

    ((name,),) = rows(warehouse, "select distinct workspace from archy.integrations")
    folder = f"folder:{name}:Home/Ops"
    folder_id = insight_id("missing_error_handling", "unhandled_errors/folder", [folder])
    first = error_rows(warehouse)
    assert folder_id in first, [v[3] for v in first.values()]
    assert first[folder_id][0] == "open"
    evidence = json.loads(first[folder_id][2])
    recipe = f"recipe:{name}:{{}}".format
    assert {m["id"] for m in evidence["members"]} == {recipe(i) for i in [*members, quiet.id]}
    assert {m["name"]: m["catch_steps"] for m in evidence["members"]}["Quiet stop"] == [3]
    assert recipe(retrying.id) not in first[folder_id][2], "a retrying catch handles the error"

    # fix one member: four left, still rolled up, same id, first sighting kept
    ws.update_recipe(members[0], code=guarded_code({"block": [block(4, "stop", input=STOP)]}))
    assert run_pipeline(sim, warehouse).success
    second = error_rows(warehouse)
    assert second[folder_id][0] == "open" and second[folder_id][1] == first[folder_id][1]
    assert json.loads(second[folder_id][2])["member_count"] == 4
    # fix another: three left, below the threshold: the roll-up resolves, members show one each
    ws.update_recipe(members[1], code=guarded_code({"block": [block(4, "stop", input=STOP)]}))
    assert run_pipeline(sim, warehouse).success
    third = error_rows(warehouse)
    assert third[folder_id][0] == "resolved"
    singles = {
        insight_id("missing_error_handling", "unhandled_errors", [recipe(i)])
        for i in [members[2], members[3], quiet.id]
    }
    assert singles <= {i for i, v in third.items() if v[0] == "open"}

    # the view lists open insights in the order analysis.priority_key gives
    from archy_pipeline.analysis import Insight, priority_key

    view = rows(
        warehouse,
        "select priority, insight_id, workspace, kind, category, severity, title, "
        "affected_recipes, failed_jobs, production from archy.v_recommendations order by priority",
    )
    assert len(view) > 5 and [v[0] for v in view] == list(range(1, len(view) + 1))
    as_insights = [
        Insight(v[1], v[3], v[4], v[5], v[6], "", "", [], {}, v[2], v[7], v[8], v[9]) for v in view
    ]
    assert as_insights == sorted(as_insights, key=priority_key)
    assert len({(i.severity, i.production, i.affected_recipes) for i in as_insights}) > 2

    # the demo's summary of the same table: one line per kind, counts that add up
    import duckdb

    from archy_pipeline.cli.serve import _print_open_insights

    open_by_kind = dict(rows(
        warehouse, "select kind, count(*) from archy.insights where status = 'open' group by 1"
    ))  # fmt: skip
    con = duckdb.connect(str(tmp_path / "warehouse.duckdb"), read_only=True)
    try:
        _print_open_insights(con)
    finally:
        con.close()
    out = capsys.readouterr().out
    assert f"Open insights: {sum(open_by_kind.values())} " in out
    for kind, count in open_by_kind.items():
        assert re.search(rf"^\s+{kind}\s+{count}\s+\(high \d+, medium \d+, low \d+", out, re.M)


def test_inactive_findings_on_a_generated_workspace_are_the_recipes_generated_inactive(
    generated_warehouse, tmp_path
):
    """The generator's history ends today, so "inactive" means what the generator made idle
    or stopped, judged here from the generated recipes themselves (not the tables)."""
    import json
    from datetime import datetime, timezone

    ws = generated_warehouse.workspace
    warehouse = generated_warehouse.copy_to(tmp_path)
    found: dict[str, set[int]] = {"stopped": set(), "no_recent_jobs": set()}
    ((seen_at,),) = rows(warehouse, "select max(last_seen_at) from archy.insights")
    for evidence, subjects in rows(
        warehouse,
        "select evidence, subjects from archy.insights "
        "where status = 'open' and kind = 'inactive_recipe'",
    ):
        rule = json.loads(evidence)["rule"]
        for subject in json.loads(subjects):
            if subject["type"] == "recipe" and rule in found:
                found[rule].add(int(subject["id"].rsplit(":", 1)[1]))

    now = seen_at if seen_at.tzinfo else seen_at.replace(tzinfo=timezone.utc)  # analysis time

    def days(then: datetime) -> int:
        return int((now - then).total_seconds() // 86400)

    stopped = {
        r.id for r in ws.recipes.values()
        if not r.running and (r.stop_cause or days(r.updated_at) >= 90)
    }  # fmt: skip
    idle = {
        r.id for r in ws.recipes.values()
        if r.running and days(r.last_run_at or r.updated_at) > 30
    }  # fmt: skip
    assert stopped and idle
    assert found["stopped"] == stopped
    assert found["no_recent_jobs"] == idle
    running = sum(r.running for r in ws.recipes.values())
    assert len(idle) < running / 2, "most running recipes ran within the last 30 days"
