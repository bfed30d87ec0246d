"""The audit log, ``archy.audit_log``: who connected, rotated or disconnected a token, what
changed in archy.yaml and its mapping rules, each sync started, finished or failed, and
deletions held or accepted. A public table (docs/tables.md).

Rows are only ever appended (:meth:`Warehouse.append_rows`); the pipeline never updates or
deletes one. A row that cannot be written now (the DuckDB file held by a running sync, the
PostgreSQL server down) waits in ``audit_pending.jsonl`` in the data folder and goes in, with
its own time and id, before the next row written. Nothing secret is stored: no token, no
setting's value (a configuration change names the keys and rules that changed, and holds
hashes), error messages with the known secrets masked.

No Dagster import.
"""

from __future__ import annotations

import fcntl
import getpass
import hashlib
import json
import socket
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from archy_pipeline.settings import ArchySettings

#: The schema of the analysts' tables (constants.ARCHY_SCHEMA, which imports Dagster).
ARCHY_SCHEMA = "archy"
AUDIT_TABLE = "audit_log"

#: Column name to SQL type; DuckDB and PostgreSQL both read these types.
AUDIT_COLUMNS = {
    "event_id": "varchar",
    "occurred_at": "timestamp with time zone",
    "workspace": "varchar",
    "actor": "varchar",
    "action": "varchar",
    "subject": "varchar",
    "detail": "varchar",
    "run_id": "varchar",
}

#: The actions a row may record.
ACTIONS = (
    "connect",
    "rotate",
    "disconnect",
    "config_recorded",
    "config_changed",
    "mapping_changed",
    "sync_started",
    "sync_finished",
    "sync_failed",
    "deletions_held",
    "deletions_accepted",
    "deletions_expired",
)
#: Rows that carry the configuration's fingerprint (the last one is what the next run compares).
CONFIG_ACTIONS = ("config_recorded", "config_changed", "mapping_changed")
#: archy.yaml's sections that hold the mapping rules (the rest is "configuration").
MAPPING_KEYS = ("systems", "mapping")

PENDING_FILE_NAME = "audit_pending.jsonl"


def os_actor() -> str:
    """``user@host`` of the process (a CLI command)."""
    try:
        user = getpass.getuser()
    except (KeyError, OSError):
        user = "unknown"
    return f"{user}@{socket.gethostname()}"


def run_actor(run_id: str) -> str:
    return f"dagster run {run_id}"


@dataclass(frozen=True)
class AuditEvent:
    """One row to be: what happened (``action``), to what (``subject``), by whom (``actor``)."""

    action: str
    actor: str
    workspace: str | None = None
    subject: str | None = None
    detail: Mapping[str, Any] = field(default_factory=dict)
    run_id: str | None = None

    def __post_init__(self) -> None:
        if self.action not in ACTIONS:
            raise ValueError(f"unknown audit action {self.action!r}")

    def row(self, at: datetime) -> tuple:
        """The row, in :data:`AUDIT_COLUMNS` order, with a new id."""
        detail = json.dumps(dict(self.detail), sort_keys=True, default=str)
        return (uuid.uuid4().hex, at, self.workspace, self.actor, self.action, self.subject,
                detail, self.run_id)  # fmt: skip


def mask(text: str, secrets: Iterable[str | None]) -> str:
    """``text`` with each secret (longest first) replaced by ``***``."""
    for secret in sorted((s for s in secrets if s), key=len, reverse=True):
        text = text.replace(secret, "***")
    return text


# ---------------------------------------------------------------------- writing rows


def _encode(row: tuple) -> str:
    values = dict(zip(AUDIT_COLUMNS, row, strict=True))
    values["occurred_at"] = values["occurred_at"].isoformat()
    return json.dumps(values, sort_keys=True)


def _decode(line: str) -> tuple:
    values = json.loads(line)
    values["occurred_at"] = datetime.fromisoformat(values["occurred_at"])
    return tuple(values[column] for column in AUDIT_COLUMNS)


def record(warehouse: Any, events: Iterable[AuditEvent], pending: Path | None = None) -> int:
    """Append ``events`` to archy.audit_log (created when missing), after any rows waiting in
    ``pending``; returns rows written.

    With ``pending``, a write that fails keeps every row in that file (the next call writes
    them) and raises; without it, the error is raised and the rows are lost to the caller.
    """
    rows = [event.row(datetime.now(timezone.utc)) for event in events]
    if pending is None:
        return warehouse.append_rows(ARCHY_SCHEMA, AUDIT_TABLE, AUDIT_COLUMNS, rows)
    written, error = _write_or_queue(warehouse, rows, pending)
    if error is not None:
        raise error
    return written


def record_or_queue(
    warehouse: Any, events: Iterable[AuditEvent], pending: Path
) -> Exception | None:
    """:func:`record`, except that a warehouse that cannot be written is no error here: the
    rows wait in ``pending`` and the warehouse's error is returned (None: they went in).
    Raises only when the rows could not be queued either."""
    rows = [event.row(datetime.now(timezone.utc)) for event in events]
    return _write_or_queue(warehouse, rows, pending)[1]


def enqueue(events: Iterable[AuditEvent], pending: Path) -> None:
    """Add ``events`` to the rows waiting in ``pending`` (the warehouse is known to be busy):
    the next row written anywhere takes them in."""
    rows = [event.row(datetime.now(timezone.utc)) for event in events]
    pending.parent.mkdir(parents=True, exist_ok=True)
    with open(pending, "a", encoding="utf-8") as queue:
        fcntl.flock(queue, fcntl.LOCK_EX)
        queue.writelines(_encode(row) + "\n" for row in rows)


def _write_or_queue(
    warehouse: Any, rows: list[tuple], pending: Path
) -> tuple[int, Exception | None]:
    """Write the rows waiting in ``pending``, then ``rows``; or, when the warehouse cannot be
    written, add ``rows`` to ``pending`` and return the error."""
    pending.parent.mkdir(parents=True, exist_ok=True)
    with open(pending, "a+", encoding="utf-8") as queue:
        fcntl.flock(queue, fcntl.LOCK_EX)  # one writer of the queue at a time
        queue.seek(0)
        waiting = [_decode(line) for line in queue.read().splitlines() if line.strip()]
        try:
            written = warehouse.append_rows(
                ARCHY_SCHEMA, AUDIT_TABLE, AUDIT_COLUMNS, waiting + rows
            )
        except Exception as error:
            queue.seek(0, 2)
            queue.writelines(_encode(row) + "\n" for row in rows)
            queue.flush()
            return 0, error
        queue.truncate(0)
    return written, None


def pending_file(warehouse: Any, data_folder: Path) -> Path:
    """Where rows wait: beside the DuckDB file, else in ``data_folder`` (PostgreSQL)."""
    path = getattr(warehouse, "path", None)
    folder = path.parent if isinstance(path, Path) else data_folder
    return folder / PENDING_FILE_NAME


# ---------------------------------------------------------------------- configuration


def _digest(value: Any) -> str:
    text = json.dumps(value, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _mapping_parts(data: Mapping[str, Any]) -> dict[str, Any]:
    """Each mapping rule by name: ``systems.<id>``, ``mapping.links[i]``, ``mapping.rules[i]``
    and ``mapping.fuzzy_threshold``."""
    parts: dict[str, Any] = {}
    for system in data.get("systems") or ():
        parts[f"systems.{system.get('id') or system.get('name')}"] = system
    mapping = data.get("mapping") or {}
    for key, value in mapping.items():
        if isinstance(value, list):
            for index, item in enumerate(value):
                parts[f"mapping.{key}[{index}]"] = item
        else:
            parts[f"mapping.{key}"] = value
    return parts


def config_fingerprint(settings: ArchySettings) -> dict[str, Any]:
    """SHA-256 of the normalised archy.yaml and of its mapping rules, and of each top-level key
    and each rule, so the next run can name what changed.

    Normalised: the validated settings with every default filled in, keys sorted; comments,
    layout and a default spelled out change nothing. archy.yaml holds no secret values (tokens,
    passwords and webhook URLs come from the variables it names), and only hashes are kept.
    """
    data = settings.model_dump(mode="json")
    mapping = {key: data.get(key) for key in MAPPING_KEYS}
    return {
        "archy_yaml_sha256": _digest(data),
        "mapping_sha256": _digest(mapping),
        "keys": {key: _digest(value)[:16] for key, value in sorted(data.items())},
        "rules": {name: _digest(value)[:16] for name, value in _mapping_parts(mapping).items()},
    }


def _changes(before: Mapping[str, str], after: Mapping[str, str]) -> dict[str, list[str]]:
    return {
        "added": sorted(set(after) - set(before)),
        "removed": sorted(set(before) - set(after)),
        "changed": sorted(k for k in set(before) & set(after) if before[k] != after[k]),
    }


def last_fingerprint(warehouse: Any) -> dict[str, Any] | None:
    """The fingerprint the log last recorded, or None (no table yet, or no such row)."""
    if not warehouse.columns(ARCHY_SCHEMA, AUDIT_TABLE):
        return None
    marks = ", ".join(warehouse.placeholder for _ in CONFIG_ACTIONS)
    _, rows = warehouse.query(
        f"select detail from {ARCHY_SCHEMA}.{AUDIT_TABLE} where action in ({marks}) "
        "order by occurred_at desc limit 1",
        list(CONFIG_ACTIONS),
    )
    return json.loads(rows[0][0]).get("fingerprint") if rows else None


def config_events(
    settings: ArchySettings, previous: dict[str, Any] | None, **who: Any
) -> list[AuditEvent]:
    """The rows a configuration change calls for (``who``: actor, run_id, workspace).

    ``config_recorded`` the first time; then ``config_changed`` naming the top-level keys
    (other than the mapping's) that changed, and ``mapping_changed`` naming the rules; none
    when nothing changed.
    """
    now = config_fingerprint(settings)
    source = settings.source
    if previous is None:
        return [AuditEvent("config_recorded", subject=source, detail={"fingerprint": now}, **who)]
    events = []
    if previous.get("archy_yaml_sha256") != now["archy_yaml_sha256"]:
        keys = _changes(previous.get("keys", {}), now["keys"])
        other = {kind: [k for k in names if k not in MAPPING_KEYS] for kind, names in keys.items()}
        if any(other.values()):
            detail = {**other, "fingerprint": now,
                      "previous_sha256": previous.get("archy_yaml_sha256")}  # fmt: skip
            events.append(AuditEvent("config_changed", subject=source, detail=detail, **who))
    if previous.get("mapping_sha256") != now["mapping_sha256"]:
        rules = _changes(previous.get("rules", {}), now["rules"])
        detail = {**rules, "fingerprint": now, "previous_sha256": previous.get("mapping_sha256")}
        events.append(AuditEvent("mapping_changed", subject=source, detail=detail, **who))
    return events


def record_config(warehouse: Any, settings: ArchySettings, pending: Path | None = None,
                  **who: Any) -> list[AuditEvent]:  # fmt: skip
    """Compare archy.yaml with the fingerprint the log last recorded; append what changed."""
    events = config_events(settings, last_fingerprint(warehouse), **who)
    if events:
        record(warehouse, events, pending)
    return events
