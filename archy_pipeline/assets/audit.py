"""What a sync run writes to archy.audit_log: started (with any change to archy.yaml), then
finished or failed, and the deletions it held or applied (:mod:`archy_pipeline.audit`)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from archy_pipeline.audit import (
    AuditEvent,
    config_events,
    last_fingerprint,
    mask,
    record,
    record_config,
    run_actor,
)

#: Sync issue kinds that mean deletions were held back.
HELD_KINDS = ("deletion_held", "mass_deletion_refused")
#: The sync issue kind of held deletions applied (accepted, or their grace period over).
APPLIED_KIND = "held_deletions_applied"


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

    def failed(self, error: BaseException, figures: dict[str, Any], secrets: Iterable[Any]) -> bool:
        """``sync_failed`` with the error (secrets masked) and what the sync gathered; never
        raises (the sync's own error is what the run reports). True when written."""
        lines = str(error).strip().splitlines()
        message = mask(lines[0] if lines else "", [s for s in secrets if isinstance(s, str)])
        detail = {**_figures(figures), "error": type(error).__name__, "message": message[:500]}
        try:
            self._write([AuditEvent("sync_failed", subject=self.who["workspace"], detail=detail,
                                    **self.who)])  # fmt: skip
        except Exception:
            return False
        return True


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
