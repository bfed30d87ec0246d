"""Notifications: a digest of each rebuild's change events, and a notice when a sync fails.

Both get the ``notifications:`` section of archy.yaml from the settings resource when they
run; a notification that cannot be delivered is logged and never fails anything.
"""

from __future__ import annotations

from datetime import datetime, timezone

import dagster as dg

from archy_pipeline.constants import ARCHY_SCHEMA
from archy_pipeline.notify import (
    NotifySettings,
    build_digest,
    failure_notice,
    parse_notify_settings,
    send,
)
from archy_pipeline.resources.settings import ArchySettingsResource
from archy_pipeline.resources.warehouse import WarehouseResource
from archy_pipeline.sensors.automation import is_rebuild, job_label
from archy_pipeline.sensors.jobs import sync_job

DEFAULT_UI_URL = "http://127.0.0.1:3000"


def run_url(settings: ArchySettingsResource, run_id: str) -> str:
    """Where a run is in the Dagster UI (``ARCHY_DAGSTER_URL``, default the local one)."""
    base = settings.environment().dagster_url or DEFAULT_UI_URL
    return f"{base.rstrip('/')}/runs/{run_id}"


def notify_settings(settings: ArchySettingsResource) -> NotifySettings:
    """``notifications:`` (validated with the rest of archy.yaml) and its secrets."""
    archy = settings.load()
    return parse_notify_settings(
        archy.notifications_input(), settings.environment().as_mapping(), source=archy.source
    )


def digest_events(warehouse: WarehouseResource, since: datetime) -> dict[str, list[dict]]:
    """Change events found at or after ``since``, by workspace."""
    placeholder = warehouse.placeholder
    names, rows = warehouse.query(
        f"select * from {ARCHY_SCHEMA}.change_events where detected_at >= {placeholder} "
        "order by workspace, detected_at, type",
        [since],
    )
    grouped: dict[str, list[dict]] = {}
    for row in rows:
        event = dict(zip(names, row, strict=True))
        grouped.setdefault(event["workspace"], []).append(event)
    return grouped


# Both sensors watch every job of this code location and pick the runs they notify about:
# the rebuilds the automation launches (sensors/automation.py) are runs of Dagster's implicit
# asset job, which monitored_jobs cannot name.
@dg.run_status_sensor(
    name="change_digest_sensor",
    run_status=dg.DagsterRunStatus.SUCCESS,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Sends the change events of each rebuild of the archy tables (email, webhook): "
    "transform_job runs and the rebuilds after syncs.",
)
def change_digest_sensor(
    context: dg.RunStatusSensorContext,
    warehouse: WarehouseResource,
    settings: ArchySettingsResource,
) -> dg.SkipReason:
    run = context.dagster_run
    if not is_rebuild(run):
        return dg.SkipReason(f"run {run.run_id} of {run.job_name} rebuilt no archy table")
    notify = notify_settings(settings)
    if not notify.enabled:
        return dg.SkipReason("notifications are off (no notifications: section in archy.yaml)")
    record = context.instance.get_run_record_by_id(run.run_id)
    started = datetime.fromtimestamp(record.start_time or 0, tz=timezone.utc)
    sent = []
    for workspace, events in digest_events(warehouse, started).items():
        url = run_url(settings, run.run_id)
        digest = build_digest(workspace, events, [], url, include=notify.on)
        for result in send(digest, notify):
            sent.append(f"{workspace}: {result.channel} {'sent' if result.ok else 'failed'}")
    return dg.SkipReason("; ".join(sent) or "no change events in this rebuild")


@dg.run_failure_sensor(
    name="sync_failure_sensor",
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Sends a notice with the reason and a link when a sync or a rebuild fails.",
)
def sync_failure_sensor(
    context: dg.RunFailureSensorContext, settings: ArchySettingsResource
) -> dg.SkipReason:
    run = context.dagster_run
    if run.job_name != sync_job.name and not is_rebuild(run):
        return dg.SkipReason(f"run {run.run_id} of {run.job_name} is neither a sync nor a rebuild")
    notify = notify_settings(settings)
    if not notify.enabled:
        return dg.SkipReason("notifications are off (no notifications: section in archy.yaml)")
    reasons = [
        event.event_specific_data.error.message.strip().splitlines()[0]
        for event in context.get_step_failure_events()
        if event.event_specific_data and event.event_specific_data.error
    ]
    reason = reasons[0] if reasons else (context.failure_event.message or "the run failed")
    notice = failure_notice(
        run.tags.get("dagster/partition", "all workspaces"),
        job_label(run),
        run.run_id,
        reason,
        run_url(settings, run.run_id),
    )
    results = send(notice, notify)
    return dg.SkipReason(
        "; ".join(f"{r.channel} {'sent' if r.ok else 'failed'}" for r in results) or "no channel"
    )
