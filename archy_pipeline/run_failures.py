"""Why a run failed, in one line, from the error Dagster recorded for it.

A step that raised, resources that could not be initialised (the run never reached a step), or
the run itself: Dagster's events carry the error with its causes and stack. The command line
prints the reason from here, the audit log records it, and the console logger of the command
line's runs (:mod:`archy_pipeline.cli.console`) prints it instead of the stack.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import dagster as dg

#: Events whose error ends a run, in the order a reason is looked for: the step's own error
#: first, then the resources', then the run's (which wraps one of them, or is all there is).
FAILURE_EVENTS = (
    dg.DagsterEventType.STEP_FAILURE,
    dg.DagsterEventType.RESOURCE_INIT_FAILURE,
    dg.DagsterEventType.RUN_FAILURE,
)

#: Exception classes (by name prefix) whose message is the reason, wherever they sit in the
#: chain of causes: ours, written for the reader.
OWN_ERRORS = ("Workato", "Config", "WarehouseLocked", "PoolBusy")


def root_cause(error: Any) -> tuple[str, str]:
    """``(class name, message)`` of the error that explains a Dagster error info: the first
    line of our own error in its chain of causes, else of the innermost one."""
    messages = []
    while error is not None:
        lines = [line for line in (error.message or "").strip().splitlines() if line.strip()]
        first = lines[0] if lines else ""
        _, found, rest = first.partition(f"{error.cls_name}: ")
        messages.append((error.cls_name or "", rest if found else first))
        error = error.cause or error.context
    for cls_name, message in reversed(messages):
        if cls_name.startswith(OWN_ERRORS):
            return cls_name, message
    return messages[-1] if messages else ("", "unknown error")


def event_error(event: dg.DagsterEvent) -> Any:
    """The error info a Dagster event carries, or None."""
    return getattr(event.event_specific_data, "error", None)


def failure_reason(events: Iterable[dg.DagsterEvent]) -> tuple[str, str] | None:
    """``(class name, message)`` of why a run ended in failure, from its events; None when
    none of them carries an error."""
    errors: dict[dg.DagsterEventType, Any] = {}
    for event in events:
        error = event_error(event) if event.event_type in FAILURE_EVENTS else None
        if error is not None:
            errors.setdefault(event.event_type, error)
    for kind in FAILURE_EVENTS:
        if kind in errors:
            return root_cause(errors[kind])
    return None


def run_failure_reason(instance: dg.DagsterInstance, run_id: str) -> tuple[str, str]:
    """Why run ``run_id`` failed, from the instance's event log."""
    records = instance.all_logs(run_id, of_type=set(FAILURE_EVENTS))
    events = [r.dagster_event for r in records if r.dagster_event is not None]
    found = failure_reason(events)
    if found:
        return found
    # A run marked failed from outside, with no error (its process died and a later sync
    # reclaimed it, archy_pipeline.runs): the message it was marked with.
    for event in events:
        if event.event_type == dg.DagsterEventType.RUN_FAILURE and event.message:
            return "", event.message
    return "", "the run failed"
