"""The change feed: what changed between two consecutive snapshots of the archy tables.

Pure: no Dagster import. A snapshot is a set of small keyed records per subject type
(recipes, connections, dependencies); :func:`diff_snapshots` compares two of them and returns
change events, each with a stable ``event_id`` (a hash of the type, the subject, the states
before and after, and the time of the previous snapshot), so comparing the same two snapshots
again gives the same ids and never duplicates events.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

EVENT_TYPES = (
    "new_recipe",
    "new_connection",
    "recipe_status_changed",
    "recipe_deleted",
    "connection_deleted",
    "connection_auth_changed",
    "new_dependency",
    "dependency_removed",
    "new_insight",
    "sync_error",
)

Key = tuple[Any, ...]


@dataclass(frozen=True)
class Snapshot:
    """Current state, keyed by ``(workspace, id...)``; values are small JSON-able dicts."""

    recipes: Mapping[Key, dict[str, Any]] = field(default_factory=dict)
    connections: Mapping[Key, dict[str, Any]] = field(default_factory=dict)
    dependencies: Mapping[Key, dict[str, Any]] = field(default_factory=dict)
    insights: Mapping[Key, dict[str, Any]] = field(default_factory=dict)

    @property
    def empty(self) -> bool:
        return not (self.recipes or self.connections or self.dependencies or self.insights)


@dataclass(frozen=True)
class ChangeEvent:
    event_id: str
    workspace: str
    at: datetime
    type: str
    subject_type: str
    subject_id: str
    subject_name: str | None
    before: dict[str, Any] | None
    after: dict[str, Any] | None


def _event(
    at: datetime,
    basis: str,
    type_: str,
    subject_type: str,
    key: Key,
    name: str | None,
    before: dict[str, Any] | None,
    after: dict[str, Any] | None,
) -> ChangeEvent:
    subject_id = ":".join(str(part) for part in key[1:])
    text = json.dumps(
        [type_, subject_type, [str(k) for k in key], before, after, basis],
        sort_keys=True,
        default=str,
    )
    event_id = hashlib.sha1(text.encode()).hexdigest()[:16]
    workspace = str(key[0])
    return ChangeEvent(
        event_id, workspace, at, type_, subject_type, subject_id, name, before, after
    )


def diff_snapshots(
    previous: Snapshot, current: Snapshot, at: datetime, basis: str
) -> list[ChangeEvent]:
    """Events that turn ``previous`` into ``current``; none when ``previous`` is empty (the
    first snapshot is a baseline, not a flood of 'new' events). ``basis`` names the previous
    snapshot (its time) and goes into every event id."""
    if previous.empty:
        return []
    events: list[ChangeEvent] = []

    def add(*args: Any) -> None:
        events.append(_event(at, basis, *args))

    def entities(
        kind: str, before_all: Mapping[Key, dict], now_all: Mapping[Key, dict],
        changed_type: str, watched: tuple[str, ...],
    ) -> None:  # fmt: skip
        """new_<kind>, <kind>_deleted, and ``changed_type`` when a watched field moves."""
        for key, now in now_all.items():
            before = before_all.get(key)
            name = now.get("name")
            if before is None:
                if now.get("deleted_at") is None:
                    add(f"new_{kind}", kind, key, name, None, now)
            elif now.get("deleted_at") is not None and before.get("deleted_at") is None:
                add(f"{kind}_deleted", kind, key, name, before, now)
            elif any(before.get(f) != now.get(f) for f in watched):
                add(changed_type, kind, key, name, before, now)
        for key, before in before_all.items():
            if key not in now_all and before.get("deleted_at") is None:
                add(f"{kind}_deleted", kind, key, before.get("name"), before, None)

    entities("recipe", previous.recipes, current.recipes, "recipe_status_changed",
             ("status", "stop_cause"))  # fmt: skip
    entities("connection", previous.connections, current.connections,
             "connection_auth_changed", ("status", "authorization_error"))  # fmt: skip
    for key, now in current.dependencies.items():
        if key not in previous.dependencies:
            add("new_dependency", "dependency", key, now.get("label"), None, now)
    for key, before in previous.dependencies.items():
        if key not in current.dependencies:
            add("dependency_removed", "dependency", key, before.get("label"), before, None)
    for key, now in current.insights.items():
        if key not in previous.insights:
            add("new_insight", "insight", key, now.get("title"), None, now)
    return events


def sync_error_events(
    issues: Iterable[Mapping[str, Any]], since: datetime | None, at: datetime
) -> list[ChangeEvent]:
    """One ``sync_error`` event per sync issue recorded after ``since``."""
    events = []
    for issue in issues:
        synced_at = issue.get("synced_at")
        if since is not None and synced_at is not None and synced_at <= since:
            continue
        key = (issue["workspace"], issue.get("kind"), issue.get("subject"))
        detail = {
            "kind": issue.get("kind"),
            "message": issue.get("message"),
            "severity": issue.get("severity"),
            "synced_at": synced_at,
        }
        # The issue's own time is the basis: one event per recorded issue, however often
        # this runs.
        basis = str(synced_at)
        events.append(_event(at, basis, "sync_error", "sync", key, issue.get("subject"), None,
                             detail))  # fmt: skip
    return events
