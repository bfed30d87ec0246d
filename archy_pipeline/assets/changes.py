"""``archy.change_events``: the change feed, by comparing consecutive snapshots."""

# No "from __future__ import annotations" here: Dagster reads annotations at runtime.

import json
from datetime import datetime, timezone
from typing import Any

import dagster as dg

from archy_pipeline.assets.transform import table_metadata
from archy_pipeline.constants import ARCHY_SCHEMA, OWNERS, WAREHOUSE_POOL
from archy_pipeline.extract.tables import DATASET_NAME
from archy_pipeline.notify.changes import Snapshot, diff_snapshots, sync_error_events
from archy_pipeline.resources.warehouse import WarehouseResource

#: Internal schema for state the change feed keeps between runs (not for analysts).
STATE_SCHEMA = "archy_state"
EVENT_COLUMNS = {
    "event_id": "varchar",
    "workspace": "varchar",
    "detected_at": "timestamp with time zone",
    "type": "varchar",
    "subject_type": "varchar",
    "subject_id": "varchar",
    "subject_name": "varchar",
    "before": "varchar",
    "after": "varchar",
}
SNAPSHOT_COLUMNS = {
    "taken_at": "timestamp with time zone",
    "subject_type": "varchar",
    "subject_key": "varchar",
    "state": "varchar",
}


def _json(value: Any) -> str | None:
    return None if value is None else json.dumps(value, sort_keys=True, default=str)


def current_snapshot(warehouse: WarehouseResource) -> Snapshot:
    """Recipes, connections and dependencies as the archy tables have them now."""

    def table(sql: str) -> list[dict[str, Any]]:
        names, rows = warehouse.query(sql)
        return [dict(zip(names, row, strict=True)) for row in rows]

    recipes = {
        (r["workspace"], r["recipe_id"]): {
            "name": r["name"],
            "status": r["status"],
            "stop_cause": r["stop_cause"],
            "deleted_at": None if r["deleted_at"] is None else str(r["deleted_at"]),
        }
        for r in table(
            "select workspace, recipe_id, name, status, stop_cause, deleted_at "
            "from archy.integrations"
        )
    }
    connections = {
        (c["workspace"], c["connection_id"]): {
            "name": c["name"],
            "status": c["status"],
            "authorization_error": c["authorization_error"],
            "deleted_at": None if c["deleted_at"] is None else str(c["deleted_at"]),
        }
        for c in table(
            "select workspace, connection_id, name, status, authorization_error, deleted_at "
            "from archy.system_instances"
        )
    }
    names = {(k[0], k[1]): v["name"] for k, v in recipes.items()}
    conn_names = {(k[0], k[1]): v["name"] for k, v in connections.items()}
    dependencies: dict[tuple, dict[str, Any]] = {}
    for d in table(
        "select workspace, recipe_id, connection_id, role from archy.integration_systems"
    ):
        key = (d["workspace"], "system", d["recipe_id"], d["connection_id"], d["role"])
        recipe = names.get((d["workspace"], d["recipe_id"]), d["recipe_id"])
        connection = conn_names.get((d["workspace"], d["connection_id"]), d["connection_id"])
        dependencies[key] = {"label": f"'{recipe}' uses '{connection}' ({d['role']})"}
    for c in table(
        "select workspace, caller_recipe_id, callee_recipe_id, via from archy.integration_calls "
        "where resolved"
    ):
        key = (c["workspace"], "call", c["caller_recipe_id"], c["callee_recipe_id"], c["via"])
        caller = names.get((c["workspace"], c["caller_recipe_id"]), c["caller_recipe_id"])
        callee = names.get((c["workspace"], c["callee_recipe_id"]), c["callee_recipe_id"])
        dependencies[key] = {"label": f"'{caller}' calls '{callee}' ({c['via']})"}
    from archy_pipeline.assets.analysis import open_insight_snapshot

    return Snapshot(recipes, connections, dependencies, open_insight_snapshot(warehouse))


def stored_snapshot(warehouse: WarehouseResource) -> tuple[Snapshot, datetime | None]:
    rows = warehouse.fetch_rows(STATE_SCHEMA, "snapshot")
    parts: dict[str, dict[tuple, dict[str, Any]]] = {
        "recipes": {}, "connections": {}, "dependencies": {}, "insights": {}
    }  # fmt: skip
    taken_at = None
    for row in rows:
        parts[row["subject_type"]][tuple(json.loads(row["subject_key"]))] = json.loads(row["state"])
        taken_at = row["taken_at"]
    return Snapshot(**parts), taken_at


@dg.asset(
    key=[ARCHY_SCHEMA, "change_events"],
    deps=[
        [ARCHY_SCHEMA, "integrations"],
        [ARCHY_SCHEMA, "system_instances"],
        [ARCHY_SCHEMA, "integration_systems"],
        [ARCHY_SCHEMA, "integration_calls"],
        [DATASET_NAME, "sync_issues"],
        [ARCHY_SCHEMA, "insights"],
    ],
    group_name=ARCHY_SCHEMA,
    kinds={"python", "duckdb"},
    owners=OWNERS,
    pool=WAREHOUSE_POOL,
)
def change_events(warehouse: WarehouseResource) -> dg.MaterializeResult:
    """The change feed, one row per change found by comparing this build of the archy tables
    with the previous one: new_recipe, new_connection, recipe_status_changed, recipe_deleted,
    connection_deleted, connection_auth_changed, new_dependency, dependency_removed,
    new_insight, and a sync_error per sync issue. The first build is a baseline and records
    no change."""
    now = datetime.now(timezone.utc)
    previous, taken_at = stored_snapshot(warehouse)
    current = current_snapshot(warehouse)
    basis = str(taken_at)
    new = diff_snapshots(previous, current, now, basis)
    new += sync_error_events(warehouse.fetch_rows(DATASET_NAME, "sync_issues"), taken_at, now)
    existing = warehouse.fetch_rows(ARCHY_SCHEMA, "change_events")
    seen = {row["event_id"] for row in existing}
    fresh = [e for e in new if e.event_id not in seen]
    rows = [tuple(row[c] for c in EVENT_COLUMNS) for row in existing] + [
        (e.event_id, e.workspace, e.at, e.type, e.subject_type, e.subject_id, e.subject_name,
         _json(e.before), _json(e.after))
        for e in fresh
    ]  # fmt: skip
    count = warehouse.publish_rows(ARCHY_SCHEMA, "change_events", EVENT_COLUMNS, rows)
    # The events are safe before the snapshot moves: if this step fails, the next run compares
    # from the same snapshot and gets the same event ids, which are not stored twice.
    snapshot_rows = [
        (now, part, json.dumps(list(key)), json.dumps(state, sort_keys=True, default=str))
        for part, items in (("recipes", current.recipes), ("connections", current.connections),
                            ("dependencies", current.dependencies),
                            ("insights", current.insights))
        for key, state in items.items()
    ]  # fmt: skip
    warehouse.publish_rows(STATE_SCHEMA, "snapshot", SNAPSHOT_COLUMNS, snapshot_rows)
    by_type: dict[str, int] = {}
    for event in fresh:
        by_type[event.type] = by_type.get(event.type, 0) + 1
    return dg.MaterializeResult(
        metadata={
            **table_metadata(warehouse, ARCHY_SCHEMA, "change_events", count),
            "new_events": len(fresh),
            **{f"new_{k}": v for k, v in sorted(by_type.items())},
        }
    )
