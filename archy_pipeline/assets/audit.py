"""What a sync writes to archy.audit_log: started (with any change to archy.yaml), then
finished or failed, and the deletions it held or applied (:mod:`archy_pipeline.audit`).

The sync asset records its own failure, with what it gathered. A sync that fails before the
asset's body runs (its resources could not be initialised, or the command line gave up waiting
for the warehouse) is recorded from outside: by the command line for the runs it executes, and
by ``sync_failure_audit_sensor`` for the runs Dagster launched. A run whose row is in (or waits
in the pending file) carries :data:`FAILURE_RECORDED_TAG`, so none is recorded twice.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from archy_pipeline.audit import (
    AuditEvent,
    config_events,
    enqueue,
    last_fingerprint,
    mask,
    record,
    record_config,
    record_or_queue,
    run_actor,
)
from archy_pipeline.warehouse import WarehouseLockedError

#: Sync issue kinds that mean deletions were held back.
HELD_KINDS = ("deletion_held", "mass_deletion_refused")
#: The sync issue kind of held deletions applied (accepted, or their grace period over).
APPLIED_KIND = "held_deletions_applied"
#: The run tag of a sync run whose ``sync_failed`` row is written ("written") or waits in the
#: pending file ("pending").
FAILURE_RECORDED_TAG = "archy/sync_failed_recorded"


def _pending(warehouse: Any) -> Path:
    return warehouse.audit_pending_file


def record_config_change(warehouse: Any, archy: Any, run_id: str) -> list[AuditEvent]:
    """The rows for what changed in archy.yaml since the log last recorded it (a rebuild)."""
    who = {"actor": run_actor(run_id), "run_id": run_id, "workspace": None}
    return record_config(warehouse, archy, _pending(warehouse), **who)


class SyncAudit:
    """The audit rows of one workspace's sync, in one run."""

    def __init__(self, warehouse: Any, run_id: str, workspace: str) -> None:
        self.warehouse = warehouse
        self.who = {"actor": run_actor(run_id), "run_id": run_id, "workspace": workspace}
        self.pending = _pending(warehouse)

    def _write(self, events: list[AuditEvent]) -> None:
        record(self.warehouse, events, self.pending)

    def started(self, archy: Any, full_refresh: bool, accept_deletions: bool) -> None:
        """``sync_started``, after what changed in archy.yaml since the last recorded run (and
        after any rows a CLI command left pending)."""
        events = config_events(archy, last_fingerprint(self.warehouse), **self.who)
        detail = {"full_refresh": full_refresh, "accept_deletions": accept_deletions}
        subject = self.who["workspace"]
        self._write([*events, AuditEvent("sync_started", subject=subject, detail=detail,
                                         **self.who)])  # fmt: skip

    def finished(self, figures: dict[str, Any], accept_deletions: bool) -> None:
        """``sync_finished`` with rows loaded, requests and issues; and the deletions held or
        applied in this sync."""
        issues = figures.get("issues", [])
        detail = {**_figures(figures), "issues": dict(Counter(i.kind for i in issues))}
        events = [AuditEvent("sync_finished", subject=self.who["workspace"], detail=detail,
                             **self.who)]  # fmt: skip
        events += _deletion_events(issues, accept_deletions, self.who)
        self._write(events)

    def failed(
        self, error: BaseException, figures: dict[str, Any], secrets: Iterable[Any]
    ) -> str | None:
        """``sync_failed`` with the error (secrets masked) and what the sync gathered; never
        raises (the sync's own error is what the run reports). "written", "pending" (the
        warehouse could not be written: the row waits in the pending file), or None (lost)."""
        event = failed_event(type(error).__name__, str(error), secrets, figures, **self.who)
        busy = isinstance(error, WarehouseLockedError)  # held by another process: no 2nd wait
        try:
            return record_failed_sync(self.warehouse, event, busy)
        except Exception:
            return None


def failed_event(
    error: str, message: str, secrets: Iterable[Any], figures: dict[str, Any] | None = None,
    **who: Any,
) -> AuditEvent:  # fmt: skip
    """A ``sync_failed`` row: the error's class and the first line of its message (secrets
    masked), and the figures the sync gathered (none when it never started)."""
    lines = message.strip().splitlines()
    first = mask(lines[0] if lines else "", [s for s in secrets if isinstance(s, str)])
    detail = {**_figures(figures or {}), "error": error, "message": first[:500]}
    return AuditEvent("sync_failed", subject=who.get("workspace"), detail=detail, **who)


def record_failed_sync(warehouse: Any, event: AuditEvent, busy: bool = False) -> str:
    """Record a sync's failure: "written" or "pending" (the row waits in the pending file; at
    once when ``busy``, the warehouse known to be in use by another process). Raises only
    when the row could not be queued either."""
    pending = _pending(warehouse)
    if busy:
        enqueue([event], pending)
        return "pending"
    return "pending" if record_or_queue(warehouse, [event], pending) else "written"


def _figures(figures: dict[str, Any]) -> dict[str, Any]:
    requests = dict(figures.get("requests") or {})
    loaded = {t: n for t, n in (figures.get("rows_loaded") or {}).items() if not t.startswith("_")}
    return {
        "requests": requests,
        "requests_total": sum(requests.values()),
        "rows_loaded": loaded,
        "rows_loaded_total": sum(loaded.values()),
    }


def _deletion_events(
    issues: Iterable[Any], accepted: bool, who: dict[str, Any]
) -> list[AuditEvent]:
    events = []
    for issue in issues:
        if issue.kind in HELD_KINDS:
            action = "deletions_held"
        elif issue.kind == APPLIED_KIND:
            action = "deletions_accepted" if accepted else "deletions_expired"
        else:
            continue
        detail = {"kind": issue.kind, "message": issue.message}
        events.append(AuditEvent(action, subject=issue.subject, detail=detail, **who))
    return events


def sync_secrets(workato: Any, settings: Any, warehouse: Any, workspace: str | None) -> list[Any]:
    """What a failure message must not show: the workspace's token (whichever setting gives
    it) and the PostgreSQL DSN."""
    secrets = [workato.api_token, warehouse.dsn]
    try:
        target = workato.target(settings.load().workspace(workspace), settings.environment())
        secrets.append(target.token.get_secret_value())
    except Exception:  # no token to find: nothing to mask
        pass
    return secrets


def record_failed_run(
    instance: Any, run_id: str, warehouse: Any, secrets: Iterable[Any]
) -> str | None:
    """The ``sync_failed`` row of failed sync run ``run_id``, unless it has one (the sync
    asset recorded its own failure): the reason from the run's event log, no figures (the
    sync never started). "written" or "pending", or None when the run had its row; raises
    only when the row could not be queued either."""
    from archy_pipeline.run_failures import run_failure_reason

    run = instance.get_run_by_id(run_id)
    if run is None or run.tags.get(FAILURE_RECORDED_TAG):
        return None
    error, message = run_failure_reason(instance, run_id)
    who = {"actor": run_actor(run_id), "run_id": run_id,
           "workspace": run.tags.get("dagster/partition")}  # fmt: skip
    outcome = record_failed_sync(warehouse, failed_event(error, message, secrets, **who))
    instance.add_run_tags(run_id, {FAILURE_RECORDED_TAG: outcome})
    return outcome
