"""The events a RecipeOps relay recipe posts, and their validation.

The event (``POST /events``, ``Content-Type: application/json``, at most 256 KB), as the
relay builds it from the trigger's output::

    {
      "event_id": "recipe_stopped-4242-2026-11-30T09:15:00Z",  # unique per event
      "workspace": "Main Workspace",     # a workspace name from archy.yaml
      "type": "recipe_stopped",          # the RecipeOps trigger, one of EVENT_TYPES
      "recipe_id": 4242,                 # connection_id for shared_account_disconnected
      "occurred_at": "2026-11-30T09:15:00Z",   # optional, ISO-8601
      "stopped_by_user": {"user_id": 7, "user_name": "Ada", "user_email": "ada@acme.example"}
    }

Trigger output fields travel under the snake_case of their documented labels (addendum §3):
``stop_error`` -> ``error`` {``error_id``, ``message``, ``error_count``, ``error_connector``,
``error_source``, ``error_source_name``, ``is_authorization_error``,
``is_rate_limit_error``}; ``recipe_stopped`` / ``recipe_started`` -> ``name``,
``stopped_at`` / ``started_at``, ``last_run_at``, ``created_at``, ``updated_at``,
``stopped_by_user`` / ``started_by_user``; ``job_error`` -> ``job_id``, ``original_job_id``,
``calling_job_id``, ``calling_recipe_id``, ``root_recipe_id``, ``root_job_id``;
``shared_account_disconnected`` -> ``name``, ``application``, ``authorization_error``,
``authorized_at``, ``disconnected_by_user``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

#: The relay recipes as an importable Workato package (its sources sit beside it).
RELAY_PACKAGE = Path(__file__).parents[1] / "data" / "relay" / "archy_realtime_relay.zip"

#: RecipeOps triggers (internal names, addendum §3) whose events name a recipe.
RECIPE_EVENTS = ("stop_error", "recipe_stopped", "recipe_started", "job_error")
#: ... and a connection.
CONNECTION_EVENTS = ("shared_account_disconnected",)
EVENT_TYPES = RECIPE_EVENTS + CONNECTION_EVENTS
SUBJECTS = {
    **dict.fromkeys(RECIPE_EVENTS, "recipe"),
    **dict.fromkeys(CONNECTION_EVENTS, "connection"),
}
MAX_EVENT_ID_LENGTH = 200


class PayloadError(ValueError):
    """The event is not valid; ``field`` names the offending key (None: the body itself)."""

    status = 400

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


class UnknownWorkspaceError(PayloadError):
    """The event names a workspace that archy.yaml does not list."""

    status = 422

    def __init__(self, workspace: str, known: Sequence[str]) -> None:
        listed = ", ".join(repr(name) for name in known) or "none"
        super().__init__(
            f"unknown workspace {workspace!r}: archy.yaml lists {listed}", field="workspace"
        )
        self.known = list(known)


def _required_string(payload: Mapping[str, Any], key: str) -> str:
    if key not in payload or payload[key] is None:
        raise PayloadError(f"field {key!r} is required", key)
    value = payload[key]
    if not isinstance(value, str) or not value.strip():
        raise PayloadError(f"field {key!r} must be a non-empty string", key)
    return value.strip()


def validate_event(
    payload: Any, workspaces: Sequence[str] | None = None
) -> tuple[str, str, str, str, str]:
    """Check one decoded event; return ``(event_id, workspace, type, subject_type, subject_id)``.

    Raises :class:`PayloadError` (400) naming the field, or :class:`UnknownWorkspaceError`
    (422) when ``workspaces`` is given and does not hold the event's workspace.
    """
    if not isinstance(payload, Mapping):
        raise PayloadError("the body must be a JSON object (one event)")
    event_id = _required_string(payload, "event_id")
    if len(event_id) > MAX_EVENT_ID_LENGTH:
        raise PayloadError(
            f"field 'event_id' must be at most {MAX_EVENT_ID_LENGTH} characters", "event_id"
        )
    workspace = _required_string(payload, "workspace")
    kind = _required_string(payload, "type")
    if kind not in EVENT_TYPES:
        raise PayloadError(f"field 'type' is {kind!r}, not one of {', '.join(EVENT_TYPES)}", "type")
    subject_type = SUBJECTS[kind]
    id_key = f"{subject_type}_id"
    subject = payload.get(id_key)
    if subject is None:
        raise PayloadError(f"field {id_key!r} is required for {kind} events", id_key)
    if isinstance(subject, bool) or not isinstance(subject, (int, str)) or subject == "":
        raise PayloadError(f"field {id_key!r} must be an integer or a non-empty string", id_key)
    # Optional: the Job failed and Recipe stopped by Workato outputs carry no time (§3).
    if payload.get("occurred_at") is not None:
        occurred_at = _required_string(payload, "occurred_at")
        try:
            datetime.fromisoformat(occurred_at.replace("Z", "+00:00"))
        except ValueError:
            raise PayloadError(
                f"field 'occurred_at' is {occurred_at!r}, not an ISO-8601 time such as "
                "'2026-11-30T09:15:00Z'",
                "occurred_at",
            ) from None
    if workspaces is not None and workspace not in workspaces:
        raise UnknownWorkspaceError(workspace, workspaces)
    return event_id, workspace, kind, subject_type, str(subject)


# ---------------------------------------------------------------------- the inbox


@dataclass(frozen=True)
class Event:
    """One stored event; ``seq`` orders the inbox (the sensor's cursor)."""

    seq: int
    event_id: str
    workspace: str
    type: str
    subject_type: str
    subject_id: str
    received_at: str
    payload: dict[str, Any]

    @property
    def occurred_at(self) -> str | None:
        return self.payload.get("occurred_at")
