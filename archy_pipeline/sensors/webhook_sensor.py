"""Relay events become targeted refreshes: one incremental sync per workspace named.

The receiver (:mod:`archy_pipeline.webhooks`) appends what the RecipeOps relay recipe posts
(a recipe stopped by Workato or a user, started, a job failed, a connection disconnected) to
the SQLite inbox; this sensor reads the events after its cursor, groups them by workspace and
asks for one ``sync_job`` run per workspace. A targeted refresh *is* an incremental sync of
that workspace: Workato's API has no per-recipe incremental endpoint beyond
``updated_after``, so the incremental path (whose status listing sees every recipe's
``running`` and ``stop_cause``, and which lists connections whole) is already the cheap way to
pick up a status change. The rebuild after the sync sends the change digest, so a stop or a
lost connection reaches the notifications.

Deterministic by design: the cursor is ``{"seq": N}`` (the last inbox event handled), and each
run's key is ``webhook-<workspace>-<first seq>-<last seq>``, so a tick evaluated again from
the same cursor asks for the same runs and Dagster launches them once. A repeated delivery
never reaches the inbox (its ``event_id`` is stored once), so it never asks for a run either.
"""

from __future__ import annotations

import json
from collections import defaultdict
from pathlib import Path

import dagster as dg

from archy_pipeline.partitions import add_workspaces_requests
from archy_pipeline.resources.settings import ArchySettingsResource
from archy_pipeline.sensors.jobs import sync_job
from archy_pipeline.sensors.schedules import INCREMENTAL
from archy_pipeline.settings import ConfigError
from archy_pipeline.webhooks import DEFAULT_INBOX_PATH, Event, Inbox

#: Events read per tick; the rest wait for the next tick (the cursor stops at the last read).
MAX_EVENTS_PER_TICK = 1000


def read_cursor(cursor: str | None) -> int:
    """The last handled inbox ``seq`` from a ``{"seq": N}`` cursor (0 before the first tick)."""
    if not cursor:
        return 0
    try:
        return int(json.loads(cursor)["seq"])
    except (ValueError, KeyError, TypeError):
        raise ValueError(f"webhook_sensor cursor {cursor!r} is not {{'seq': N}}") from None


def write_cursor(seq: int) -> str:
    return json.dumps({"seq": seq})


def _request(workspace: str, events: list[Event]) -> dg.RunRequest:
    first, last = events[0].seq, events[-1].seq
    types = sorted({event.type for event in events})
    return dg.RunRequest(
        run_key=f"webhook-{workspace}-{first}-{last}",
        partition_key=workspace,
        run_config=INCREMENTAL,
        tags={
            "archy/sync": "webhook",
            "archy/webhook_events": str(len(events)),
            "archy/webhook_types": ",".join(types),
            "archy/webhook_seq": f"{first}-{last}",
        },
    )


@dg.sensor(
    name="webhook_sensor",
    job=sync_job,
    minimum_interval_seconds=30,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description=(
        "Incremental sync of each workspace named by new relay events (recipes stopped or "
        "started, jobs failed, connections disconnected) in the webhook inbox."
    ),
)
def webhook_sensor(
    context: dg.SensorEvaluationContext, settings: ArchySettingsResource
) -> dg.SensorResult:
    after = read_cursor(context.cursor)
    path = Path(settings.environment().webhook_inbox or DEFAULT_INBOX_PATH)
    if not path.exists():
        # Do not create the inbox (or data/) from the daemon: the receiver owns the file.
        return dg.SensorResult(
            skip_reason=(
                f"no new webhook events after #{after}: the inbox {path} does not exist yet "
                "(start `archy-pipeline webhooks serve`)"
            ),
            cursor=write_cursor(after),
        )
    events = Inbox(path).since(after, MAX_EVENTS_PER_TICK)
    if not events:
        return dg.SensorResult(
            skip_reason=f"no new webhook events after #{after}", cursor=write_cursor(after)
        )
    try:
        configured = set(settings.load().names)
    except ConfigError as error:
        # Keep the cursor: these events are handled once archy.yaml can be read again.
        return dg.SensorResult(
            skip_reason=f"{len(events)} new webhook event(s), but archy.yaml cannot be read: "
            f"{error}",
            cursor=write_cursor(after),
        )

    by_workspace: dict[str, list[Event]] = defaultdict(list)
    for event in events:
        by_workspace[event.workspace].append(event)
    dropped = sorted(name for name in by_workspace if name not in configured)
    for name in dropped:
        # The receiver accepted these while archy.yaml still listed the workspace.
        context.log.warning(
            f"skipping {len(by_workspace.pop(name))} webhook event(s) for workspace {name!r}: "
            "archy.yaml no longer lists it"
        )
    cursor = write_cursor(events[-1].seq)
    if not by_workspace:
        return dg.SensorResult(
            skip_reason=f"{len(events)} new webhook event(s) after #{after}, all for "
            f"workspaces archy.yaml no longer lists ({', '.join(dropped)})",
            cursor=cursor,
        )

    return dg.SensorResult(
        run_requests=[_request(name, by_workspace[name]) for name in sorted(by_workspace)],
        dynamic_partitions_requests=add_workspaces_requests(context.instance, sorted(by_workspace)),
        cursor=cursor,
    )
