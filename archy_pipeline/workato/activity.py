"""Polling Workato's activity audit log for changes to recipes, connections and folders.

Workato pushes no event when a recipe, connection or folder is created, changed or deleted
(no RecipeOps trigger fires on those, addendum §3). What it offers is the activity audit log
API, ``GET /api/activity_logs`` (addendum §1): an add-on, one environment per API client,
in the Environment management family (60 requests per minute). This module reads it after a
cursor and says which objects changed and which were deleted; the Dagster
``activity_log_sensor`` turns that into a targeted sync.

The log's sort order and ``page[after]`` semantics are unverified (addendum §1.2, §1.4), so
nothing here depends on them: the poll asks for entries ``from`` a time, follows
``page[after]`` with the last entry of each page, de-duplicates by entry id, and moves its
time cursor only once a listing has ended, to the newest timestamp seen minus an overlap
(entries in the overlap are recognised by id).

No Dagster import: the sensor wraps it, and a script can use it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any

from archy_pipeline.workato.client import WorkatoClient
from archy_pipeline.workato.errors import WorkatoAccessDeniedError, WorkatoAuthenticationError

#: Requests per workspace per poll: the family allows 60 a minute, shared with syncs.
MAX_PAGES_PER_POLL = 3
#: Entries this much older than the newest one seen are read again (and recognised by id),
#: so an entry written late or a ``from`` that excludes its own instant is not missed.
OVERLAP = timedelta(minutes=2)
#: After a 401/403 the log is asked again only this often (one request, no new warning).
RETRY_DENIED_AFTER = timedelta(hours=1)
#: Ids remembered while a listing runs over several polls.
MAX_SEEN_IDS = 5000

#: Resource types (addendum §1.5) and event prefixes (§1.6) -> raw table.
RESOURCE_TABLES = {"flow": "recipes", "sharedaccount": "connections", "folder": "folders"}
EVENT_PREFIXES = {"recipe_": "recipes", "connection_": "connections", "folder_": "folders"}
TABLES = ("recipes", "connections", "folders")


def _iso(value: datetime) -> str:
    return value.astimezone(timezone.utc).isoformat(timespec="milliseconds")


def parse_time(value: Any) -> datetime | None:
    """An entry's ``timestamp`` (ISO 8601 with an offset, or ``… UTC`` as streamed samples)."""
    if not isinstance(value, str) or not value.strip():
        return None
    text = value.strip().replace(" UTC", "+00:00")
    if text.endswith("Z"):
        text = text[:-1] + "+00:00"
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)


def table_of(entry: dict[str, Any]) -> str | None:
    """The raw table an entry's resource belongs to, or None for anything else."""
    resource = entry.get("resource") if isinstance(entry.get("resource"), dict) else {}
    kind = str(resource.get("type") or "").replace("_", "").lower()
    if kind in RESOURCE_TABLES:
        return RESOURCE_TABLES[kind]
    event = str(entry.get("event_type") or "")
    return next((t for p, t in EVENT_PREFIXES.items() if event.startswith(p)), None)


@dataclass
class Changes:
    """What new entries say about one workspace."""

    entries: int = 0
    ids: list[Any] = field(default_factory=list)
    event_types: set[str] = field(default_factory=set)
    changed: dict[str, set[int]] = field(default_factory=lambda: {t: set() for t in TABLES})
    deleted: dict[str, set[int]] = field(default_factory=lambda: {t: set() for t in TABLES})

    def add(self, entry: dict[str, Any]) -> None:
        self.entries += 1
        table = table_of(entry)
        resource = entry.get("resource") if isinstance(entry.get("resource"), dict) else {}
        resource_id = resource.get("id")
        if table is None or isinstance(resource_id, bool) or not isinstance(resource_id, int):
            return
        event = str(entry.get("event_type") or "")
        self.ids.append(entry.get("id"))
        self.event_types.add(event)
        (self.deleted if event.endswith("_deleted") else self.changed)[table].add(resource_id)

    @property
    def relevant(self) -> bool:
        return bool(self.ids)

    def confirmed_deletions(self) -> dict[str, list[int]]:
        return {table: sorted(self.deleted[table]) for table in TABLES}


@dataclass
class PollResult:
    state: dict[str, Any]
    changes: Changes
    requests: int
    #: A sentence for the sensor's skip reason or log.
    note: str
    #: Set on the poll that first met a 401/403: say it once, loudly.
    denied_now: str | None = None


def poll(
    client: WorkatoClient,
    state: dict[str, Any] | None,
    now: datetime,
    max_pages: int = MAX_PAGES_PER_POLL,
) -> PollResult:
    """Read the log after ``state`` (None: start watching at ``now``); return the new state.

    ``state`` is JSON-friendly: ``from`` (ISO time the listing starts at), ``after`` (the
    ``page[after]`` of a listing that continues next poll), ``seen`` (ids of entries already
    handled, with their timestamps), ``newest`` (newest timestamp of the running listing) and
    ``denied`` (``{"at", "status", "message"}`` after a 401/403).
    """
    state = dict(state or {"from": _iso(now), "seen": {}})
    denied = state.get("denied")
    if denied:
        since = parse_time(denied.get("at"))
        if since is not None and now - since < RETRY_DENIED_AFTER:
            return PollResult(
                state,
                Changes(),
                0,
                f"activity log unavailable since {denied['at']} ({denied['status']}); next "
                f"try after {_iso(since + RETRY_DENIED_AFTER)}",
            )
    start = parse_time(state.get("from")) or now
    # Entry id (as text) -> timestamp, for entries handled at or after ``from``.
    seen: dict[str, str] = dict(state.get("seen") or {})
    newest = parse_time(state.get("newest"))
    after = state.get("after")
    fresh: list[dict[str, Any]] = []
    requests = 0
    ended = False
    try:
        while requests < max_pages:
            page = client.activity_log_page(after=after, since=start)
            requests += 1
            for entry in page.entries:
                when = parse_time(entry.get("timestamp")) or now
                newest = when if newest is None or when > newest else newest
                key = str(entry.get("id"))
                if key not in seen:
                    seen[key] = _iso(when)
                    fresh.append(entry)
            if page.last or page.entries[-1].get("id") == after:
                ended = True  # a short page ends the listing; a cursor that did not move too
                break
            after = page.entries[-1].get("id")
    except (WorkatoAuthenticationError, WorkatoAccessDeniedError) as error:
        first = not denied
        state["denied"] = {"at": _iso(now), "status": error.status, "message": str(error)}
        if isinstance(error, WorkatoAuthenticationError):
            cause = (
                "the API token was refused: it is wrong or revoked, or the role has no "
                "access to the Environment management endpoints at all"
            )
        else:
            cause = (
                "it needs the Activity audit log add-on for this environment and an API "
                "client role with the activity-log privilege (Environment management)"
            )
        message = (
            f"the activity audit log cannot be read ({error.status}): {cause}. Real-time "
            "updates from the log are paused (asked again hourly); scheduled syncs carry on."
        )
        return PollResult(
            state, Changes(), requests + 1, message, denied_now=message if first else None
        )
    state.pop("denied", None)
    changes = Changes()
    fresh.sort(key=lambda e: (seen[str(e.get("id"))], str(e.get("id"))))
    for entry in fresh:
        changes.add(entry)
    if ended:
        next_from = max((newest or start) - OVERLAP, start)
        # Only entries the next listing (from next_from) can return again need remembering.
        kept = {k: t for k, t in seen.items() if parse_time(t) >= next_from}
        state.update({"from": _iso(next_from), "seen": kept, "after": None})
        state.pop("newest", None)
    else:
        if len(seen) > MAX_SEEN_IDS:
            seen = dict(sorted(seen.items(), key=lambda kv: kv[1])[-MAX_SEEN_IDS:])
        state.update({"after": after, "seen": seen, "newest": _iso(newest) if newest else None})
    note = (
        f"{len(fresh)} new activity-log entr{'y' if len(fresh) == 1 else 'ies'}, "
        f"{len(changes.ids)} about recipes, connections or folders"
        + ("" if ended else f"; the listing continues next tick after entry {after}")
    )
    return PollResult(state, changes, requests, note)
