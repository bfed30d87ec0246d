"""Changes Workato logged become targeted syncs: the activity audit log, polled.

Workato does not push recipe, connection or folder changes anywhere (addendum §3); its
activity audit log API records them (addendum §1). Every minute this sensor reads each
workspace's log after its cursor (:mod:`archy_pipeline.workato.activity`: at most a few requests,
well inside the Environment management family's 60 requests per minute) and, when entries
name recipes, connections or folders, asks for one incremental ``sync_job`` run of that
workspace. Deletions the log records (``recipe_deleted``, ``connection_deleted``,
``folder_deleted``) travel in the run config as ``confirmed_deletions``, so the sync marks
those objects deleted even where it would otherwise hold a vanished object back.

Deterministic: the cursor is JSON, ``{"workspaces": {name: poll state}}``; a run's key is
``activity-<workspace>-<first entry id>-<last entry id>``, so a tick evaluated again from the
same cursor asks for the same runs. Without the add-on or the privilege the log answers 403:
the sensor says so once (a warning and the skip reason), asks again once an hour, and the
schedules carry on.
"""

from __future__ import annotations

import json
from datetime import datetime, timezone
from typing import Any

import dagster as dg

from archy_pipeline.partitions import add_workspaces_requests
from archy_pipeline.resources.settings import ArchySettingsResource
from archy_pipeline.resources.workato import WorkatoResource
from archy_pipeline.sensors.jobs import sync_job
from archy_pipeline.settings import ConfigError
from archy_pipeline.workato.activity import PollResult, poll
from archy_pipeline.workato.client import WorkatoError

#: A sensor tick must finish well inside Dagster's 60 s evaluation timeout.
MAX_ATTEMPTS = 2
DEADLINE_SECONDS = 20.0


def read_cursor(cursor: str | None) -> dict[str, dict[str, Any]]:
    """Poll state per workspace from the sensor cursor (empty before the first tick)."""
    if not cursor:
        return {}
    try:
        states = json.loads(cursor)["workspaces"]
    except (ValueError, KeyError, TypeError):
        raise ValueError(
            f"activity_log_sensor cursor {cursor!r} is not {{'workspaces': {{...}}}}"
        ) from None
    if not isinstance(states, dict):
        raise ValueError(f"activity_log_sensor cursor {cursor!r} has no workspaces mapping")
    return states


def write_cursor(states: dict[str, dict[str, Any]]) -> str:
    return json.dumps({"workspaces": states}, sort_keys=True)


def sync_run_config(confirmed_deletions: dict[str, list[int]]) -> dict[str, Any]:
    """An incremental sync that applies the deletions the log recorded."""
    return {
        "ops": {
            "workato_raw": {
                "config": {"full_refresh": False, "confirmed_deletions": confirmed_deletions}
            }
        }
    }


def _request(workspace: str, result: PollResult) -> dg.RunRequest:
    changes = result.changes
    first, last = changes.ids[0], changes.ids[-1]
    return dg.RunRequest(
        run_key=f"activity-{workspace}-{first}-{last}",
        partition_key=workspace,
        run_config=sync_run_config(changes.confirmed_deletions()),
        tags={
            "archy/sync": "activity_log",
            "archy/activity_entries": str(len(changes.ids)),
            "archy/activity_types": ",".join(sorted(changes.event_types)),
        },
    )


@dg.sensor(
    name="activity_log_sensor",
    job=sync_job,
    minimum_interval_seconds=60,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description=(
        "Polls each workspace's Workato activity audit log (an add-on) and syncs the "
        "workspaces whose recipes, connections or folders changed, passing logged deletions."
    ),
)
def activity_log_sensor(
    context: dg.SensorEvaluationContext, workato: WorkatoResource, settings: ArchySettingsResource
) -> dg.SensorResult:
    states = read_cursor(context.cursor)
    try:
        workspaces = settings.load().workspaces
    except ConfigError as error:
        return dg.SensorResult(
            skip_reason=f"archy.yaml cannot be read: {error}", cursor=write_cursor(states)
        )
    variables = settings.environment()
    now = datetime.now(timezone.utc)
    requests: list[dg.RunRequest] = []
    notes: list[str] = []
    for workspace in workspaces:
        name = workspace.name
        try:
            client = workato.get_client(workspace, variables)
        except (ConfigError, WorkatoError) as error:
            notes.append(f"{name}: {error}")
            continue
        client.max_attempts = MAX_ATTEMPTS
        client.deadline_seconds = DEADLINE_SECONDS
        try:
            with client:
                result = poll(client, states.get(name), now)
        except WorkatoError as error:
            # 429s, 5xx, timeouts: the cursor stays, the next tick tries again.
            notes.append(f"{name}: {error}")
            continue
        states[name] = result.state
        if result.denied_now:
            context.log.warning(f"workspace {name!r}: {result.denied_now}")
        notes.append(f"{name}: {result.note}")
        if result.changes.relevant:
            requests.append(_request(name, result))
    cursor = write_cursor(states)
    if not requests:
        return dg.SensorResult(skip_reason="; ".join(notes) or "no workspace", cursor=cursor)
    return dg.SensorResult(
        run_requests=requests,
        dynamic_partitions_requests=add_workspaces_requests(
            context.instance, sorted({r.partition_key for r in requests})
        ),
        cursor=cursor,
    )
