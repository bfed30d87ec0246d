"""The durable inbox between the receiver (which writes) and the webhook sensor (which reads)."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from archy_pipeline.webhooks.events import Event, validate_event

#: The inbox unless ``ARCHY_WEBHOOK_INBOX`` (read by the settings) names another file.
DEFAULT_INBOX_PATH = "data/webhook_inbox.sqlite"


_SCHEMA = """
create table if not exists events (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    event_id TEXT UNIQUE,
    workspace TEXT,
    type TEXT,
    subject_type TEXT,
    subject_id TEXT,
    received_at TEXT,
    payload TEXT
)
"""
_COLUMNS = "seq, event_id, workspace, type, subject_type, subject_id, received_at, payload"


class Inbox:
    """A durable, append-only inbox of events in one SQLite file (WAL mode).

    Each call opens its own connection, so any thread or process may use it: the receiver
    writes, the sensor reads. SQLite serialises writers and hands out ``seq`` inside the write
    transaction, so events become visible in ``seq`` order and a reader that has seen ``seq``
    N never later finds a new event below N. The ``event_id`` unique key makes ``add``
    idempotent across processes.
    """

    def __init__(self, path: str | Path, *, timeout_seconds: float = 30.0) -> None:
        self.path = Path(path)
        self._timeout = timeout_seconds
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self._connect() as con:
            # WAL lets the sensor read while the receiver writes; the mode sticks to the file.
            con.execute("pragma journal_mode=wal")
            con.execute(_SCHEMA)

    @contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        con = sqlite3.connect(self.path, timeout=self._timeout, isolation_level=None)
        try:
            con.execute(f"pragma busy_timeout = {int(self._timeout * 1000)}")
            yield con
        finally:
            con.close()

    def add(self, event: Mapping[str, Any]) -> bool:
        """Store a (validated here) event; False when its ``event_id`` is already stored."""
        event_id, workspace, kind, subject_type, subject_id = validate_event(event)
        received_at = datetime.now(timezone.utc).isoformat(timespec="seconds")
        with self._connect() as con:
            # One statement, so one write transaction: the check and the insert cannot be split
            # by another writer. (A bare INSERT OR IGNORE would burn a seq on every duplicate.)
            cursor = con.execute(
                "insert or ignore into events "
                "(event_id, workspace, type, subject_type, subject_id, received_at, payload) "
                "select ?, ?, ?, ?, ?, ?, ? "
                "where not exists (select 1 from events where event_id = ?)",
                (
                    event_id,
                    workspace,
                    kind,
                    subject_type,
                    subject_id,
                    received_at,
                    json.dumps(dict(event), sort_keys=True, default=str),
                    event_id,
                ),
            )
            return cursor.rowcount == 1

    def since(self, seq: int, limit: int = 1000) -> list[Event]:
        """Events after ``seq``, oldest first, at most ``limit`` of them."""
        with self._connect() as con:
            rows = con.execute(
                f"select {_COLUMNS} from events where seq > ? order by seq limit ?",
                (int(seq), int(limit)),
            ).fetchall()
        return [Event(*row[:7], payload=json.loads(row[7])) for row in rows]

    def last_seq(self) -> int:
        """The newest event's ``seq`` (0 for an empty inbox)."""
        with self._connect() as con:
            (value,) = con.execute("select coalesce(max(seq), 0) from events").fetchone()
        return int(value)

    def get(self, event_id: str) -> Event | None:
        with self._connect() as con:
            row = con.execute(
                f"select {_COLUMNS} from events where event_id = ?", (event_id,)
            ).fetchone()
        return Event(*row[:7], payload=json.loads(row[7])) if row else None
