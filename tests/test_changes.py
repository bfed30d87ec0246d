"""The change feed: consecutive builds compared, after changes made through the simulator."""

from __future__ import annotations

import json
from datetime import datetime, timezone

from workato_simulator.workspace import application_config

from archy_pipeline.assets.changes import current_snapshot, snapshot_rows, stored_snapshot
from archy_pipeline.notify.changes import Snapshot, diff_snapshots, sync_error_events
from archy_pipeline.resources.warehouse import WarehouseResource
from tests.support import acme, block, rows, run_pipeline

AT = datetime(2026, 11, 29, 12, tzinfo=timezone.utc)


def test_the_first_snapshot_is_a_baseline():
    current = Snapshot(recipes={("W", 1): {"name": "R", "status": "active"}})
    assert diff_snapshots(Snapshot(), current, AT, "none") == []


def test_event_ids_are_stable_for_the_same_two_snapshots():
    before = Snapshot(recipes={("W", 1): {"name": "R", "status": "active", "stop_cause": None}})
    after = Snapshot(
        recipes={("W", 1): {"name": "R", "status": "stopped", "stop_cause": "trial_expired"}}
    )
    first = diff_snapshots(before, after, AT, "t0")
    again = diff_snapshots(before, after, datetime.now(timezone.utc), "t0")
    later = diff_snapshots(before, after, AT, "t1")
    assert [e.type for e in first] == ["recipe_status_changed"]
    assert [e.event_id for e in first] == [e.event_id for e in again]
    assert first[0].event_id != later[0].event_id, "a later comparison is another event"


def test_sync_errors_after_the_last_snapshot_only():
    issues = [
        {"workspace": "W", "kind": "mass_deletion_refused", "subject": "recipes",
         "message": "60 of 100 recipes vanished", "severity": "warning", "synced_at": AT},
        {"workspace": "W", "kind": "folder_not_visible", "subject": "HR", "message": "m",
         "severity": "warning", "synced_at": datetime(2026, 1, 1, tzinfo=timezone.utc)},
    ]  # fmt: skip
    events = sync_error_events(issues, datetime(2026, 6, 1, tzinfo=timezone.utc), AT)
    assert [(e.type, e.subject_name) for e in events] == [("sync_error", "recipes")]


def test_change_feed_after_simulator_mutations(simulator, tmp_path):
    ws, ids = acme()
    sim = simulator(ws, rate_limits=None)
    warehouse = WarehouseResource(duckdb_path=str(tmp_path / "warehouse.duckdb"))
    assert run_pipeline(sim, warehouse).success
    assert rows(warehouse, "select count(*) from archy.change_events") == [(0,)], "baseline"
    tables = (
        "select schema_name, table_name, table_oid from duckdb_tables() "
        "where table_name in ('change_events', 'snapshot') order by 1"
    )
    created = rows(warehouse, tables)
    (baseline_rows,) = rows(warehouse, "select count(*) from archy_state.snapshot")[0]

    new_connection = ws.add_connection("zendesk", "Zendesk PROD")
    added = ws.add_recipe(
        "Tickets to Slack",
        block(0, "trigger", "zendesk", "new_ticket", block(1, "action", "slack", "post_message")),
        [application_config("zendesk", new_connection.id),
         application_config("slack", ids["slack"])],
    )  # fmt: skip
    ws.stop_recipe(ids["caller"], "action_quota_limit")
    ws.delete_recipe(ids["both"])
    ws.update_connection(ids["ns"], authorization_status="failed", authorization_error="expired")
    ws.delete_connection(ids["jira"])
    result = run_pipeline(sim, warehouse)
    assert result.success

    events = rows(
        warehouse,
        "select type, subject_id, subject_name, before, after from archy.change_events",
    )
    by_type: dict[str, list] = {}
    for event in events:
        by_type.setdefault(event[0], []).append(event[1:])
    assert [e[0] for e in by_type["new_recipe"]] == [str(added.id)]
    assert [e[0] for e in by_type["new_connection"]] == [str(new_connection.id)]
    (changed,) = by_type["recipe_status_changed"]
    assert changed[0] == str(ids["caller"])
    assert json.loads(changed[3])["stop_cause"] == "action_quota_limit"
    assert json.loads(changed[2])["status"] == "active"
    assert [e[0] for e in by_type["recipe_deleted"]] == [str(ids["both"])]
    assert [e[0] for e in by_type["connection_deleted"]] == [str(ids["jira"])]
    (auth,) = by_type["connection_auth_changed"]
    assert auth[0] == str(ids["ns"]) and json.loads(auth[3])["authorization_error"] == "expired"
    new_deps = {e[1] for e in by_type["new_dependency"]}
    assert "'Tickets to Slack' uses 'Zendesk PROD' (source)" in new_deps
    removed = {e[1] for e in by_type["dependency_removed"]}
    assert "'Account owner sync' uses 'ACME Production Salesforce' (both)" in removed

    # Written incrementally: the same two tables (not rebuilt), the unchanged subjects' rows
    # as the baseline wrote them, and a stored snapshot equal to the current one.
    assert rows(warehouse, tables) == created
    (untouched,) = rows(
        warehouse,
        "select count(*) from archy_state.snapshot "
        "where taken_at = (select min(taken_at) from archy_state.snapshot)",
    )[0]
    assert 0 < untouched < baseline_rows
    assert rows(warehouse, "select max(taken_at) from archy_state.snapshot") == rows(
        warehouse, "select taken_at from archy_state.snapshot_taken"
    )
    stored, _, stored_rows = stored_snapshot(warehouse)
    assert stored_rows == snapshot_rows(stored) == snapshot_rows(current_snapshot(warehouse))
    assert len(by_type["new_recipe"]) == 1, "each event stored once"

    # Nothing changed: a third build adds no event.
    count = rows(warehouse, "select count(*) from archy.change_events")[0][0]
    assert run_pipeline(sim, warehouse).success
    assert rows(warehouse, "select count(*) from archy.change_events")[0][0] == count


def test_a_snapshot_stored_before_snapshot_taken_existed_is_read_with_its_time(tmp_path):
    """Warehouses written by earlier versions rewrote every snapshot row with the run's time
    and had no ``snapshot_taken``: the comparison starts from that time, so event ids stay
    the same across the upgrade."""
    from archy_pipeline.assets.changes import SNAPSHOT_COLUMNS, STATE_SCHEMA

    warehouse = WarehouseResource(duckdb_path=str(tmp_path / "warehouse.duckdb"))
    state = json.dumps({"name": "R", "status": "active"}, sort_keys=True)
    warehouse.publish_rows(STATE_SCHEMA, "snapshot", SNAPSHOT_COLUMNS, [
        (AT, "recipes", json.dumps(["W", 1]), state),
        (AT, "connections", json.dumps(["W", 7]), json.dumps({"name": "C"})),
    ])  # fmt: skip
    snapshot, taken_at, stored = stored_snapshot(warehouse)
    assert taken_at == AT
    assert snapshot.recipes == {("W", 1): {"name": "R", "status": "active"}}
    assert stored[("recipes", '["W", 1]')] == state
