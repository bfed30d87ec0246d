"""``archy.change_events``: the change feed, by comparing consecutive snapshots."""

# No "from __future__ import annotations" here: Dagster reads annotations at runtime.

import json
from datetime import datetime, timezone
from typing import Any

import dagster as dg

from archy_pipeline.assets.transform import table_metadata
from archy_pipeline.constants import ARCHY_SCHEMA, OWNERS, WAREHOUSE_POOL
from archy_pipeline.extract.tables import DATASET_NAME
from archy_pipeline.notify.changes import (
    ChangeEvent,
    Snapshot,
    diff_snapshots,
    sync_error_events,
)
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


#: One row: when the stored snapshot was last brought up to date (each snapshot row keeps the
#: time it was itself written; unchanged subjects are not written again).
TAKEN_TABLE = "snapshot_taken"
TAKEN_COLUMNS = {"taken_at": "timestamp with time zone"}
SNAPSHOT_KEY = {"subject_type": "varchar", "subject_key": "varchar"}
PARTS = ("recipes", "connections", "dependencies", "insights")

#: ``(subject_type, subject_key)`` to ``state``, both as stored (JSON text).
StoredRows = dict[tuple[str, str], str]


def snapshot_rows(snapshot: Snapshot) -> StoredRows:
    """``snapshot`` as the rows ``archy_state.snapshot`` keeps, keyed like them."""
    return {
        (part, json.dumps(list(key))): json.dumps(state, sort_keys=True, default=str)
        for part in PARTS
        for key, state in getattr(snapshot, part).items()
    }


def stored_snapshot(warehouse: WarehouseResource) -> tuple[Snapshot, datetime | None, StoredRows]:
    """The snapshot the last run left, when it was taken, and its rows as stored."""
    rows = warehouse.fetch_rows(STATE_SCHEMA, "snapshot")
    parts: dict[str, dict[tuple, dict[str, Any]]] = {part: {} for part in PARTS}
    stored: StoredRows = {}
    for row in rows:
        parts[row["subject_type"]][tuple(json.loads(row["subject_key"]))] = json.loads(row["state"])
        stored[(row["subject_type"], row["subject_key"])] = row["state"]
    taken = warehouse.fetch_rows(STATE_SCHEMA, TAKEN_TABLE)
    if taken:
        taken_at = taken[0]["taken_at"]
    else:  # written before snapshot_taken existed: every row was rewritten each run
        taken_at = max((row["taken_at"] for row in rows), default=None)
    return Snapshot(**parts), taken_at, stored


def store_events(warehouse: WarehouseResource, events: list[ChangeEvent]) -> list[ChangeEvent]:
    """Append the events not stored yet (by ``event_id``), set-wise; returns those."""
    backend = warehouse.backend
    backend.ensure_table(ARCHY_SCHEMA, "change_events", EVENT_COLUMNS)
    with backend.transaction() as writes:
        ids = list(dict.fromkeys(e.event_id for e in events))
        seen = writes.existing(ARCHY_SCHEMA, "change_events", "event_id", "varchar", ids)
        fresh = []
        for event in events:
            if event.event_id not in seen:
                seen.add(event.event_id)
                fresh.append(event)
        writes.insert(ARCHY_SCHEMA, "change_events", EVENT_COLUMNS, [
            (e.event_id, e.workspace, e.at, e.type, e.subject_type, e.subject_id,
             e.subject_name, _json(e.before), _json(e.after))
            for e in fresh
        ])  # fmt: skip
    return fresh


def store_snapshot(
    warehouse: WarehouseResource, stored: StoredRows, current: StoredRows, now: datetime
) -> int:
    """Bring ``archy_state.snapshot`` from ``stored`` to ``current`` in one transaction,
    writing only the subjects that changed, appeared or went; returns rows written."""
    backend = warehouse.backend
    backend.ensure_table(STATE_SCHEMA, "snapshot", SNAPSHOT_COLUMNS)
    backend.ensure_table(STATE_SCHEMA, TAKEN_TABLE, TAKEN_COLUMNS)
    gone = [key for key in stored if key not in current]
    changed = [key for key, state in current.items() if stored.get(key) != state]
    with backend.transaction() as writes:
        writes.delete(STATE_SCHEMA, "snapshot", SNAPSHOT_KEY, gone + changed)
        writes.insert(
            STATE_SCHEMA,
            "snapshot",
            SNAPSHOT_COLUMNS,
            [(now, part, key, current[(part, key)]) for part, key in changed],
        )
        writes.execute(f'delete from "{STATE_SCHEMA}"."{TAKEN_TABLE}"')
        writes.insert(STATE_SCHEMA, TAKEN_TABLE, TAKEN_COLUMNS, [(now,)])  # fmt: skip
    return len(gone) + len(changed)


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
    previous, taken_at, stored = stored_snapshot(warehouse)
    current = current_snapshot(warehouse)
    basis = str(taken_at)
    new = diff_snapshots(previous, current, now, basis)
    new += sync_error_events(warehouse.fetch_rows(DATASET_NAME, "sync_issues"), taken_at, now)
    fresh = store_events(warehouse, new)
    # The events are safe before the snapshot moves: if this step fails, the next run compares
    # from the same snapshot and gets the same event ids, which are not stored twice.
    written = store_snapshot(warehouse, stored, snapshot_rows(current), now)
    count = warehouse.count_rows(ARCHY_SCHEMA, "change_events")
    by_type: dict[str, int] = {}
    for event in fresh:
        by_type[event.type] = by_type.get(event.type, 0) + 1
    return dg.MaterializeResult(
        metadata={
            **table_metadata(warehouse, ARCHY_SCHEMA, "change_events", count),
            "new_events": len(fresh),
            "snapshot_rows_written": written,
            **{f"new_{k}": v for k, v in sorted(by_type.items())},
        }
    )
