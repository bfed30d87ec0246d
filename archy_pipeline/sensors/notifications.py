"""Notifications: a digest of each rebuild's change events, and a notice when a sync fails.

Both get the ``notifications:`` section of archy.yaml from the settings resource when they
run; a notification that cannot be delivered is logged and never fails anything. Each
delivery attempt is recorded as a row of ``archy.notification_deliveries`` (who was told what
about which run, by which channel, and whether it worked); the skip reason says the same in
one line for the UI. A row that cannot be written is logged and never stops a notification.
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
from archy_pipeline.notify.deliveries import (
    DELIVERY_COLUMNS,
    DELIVERY_TABLE,
    DIGEST,
    FAILURE,
    delivery_rows,
)
from archy_pipeline.resources.settings import ArchySettingsResource
from archy_pipeline.resources.warehouse import WarehouseResource
from archy_pipeline.retry import Transient, delays, retrying
from archy_pipeline.sensors.automation import is_rebuild, job_label
from archy_pipeline.sensors.jobs import sync_job

DEFAULT_UI_URL = "http://127.0.0.1:3000"

#: Pauses before retrying a row that could not be written (DuckDB lets one process write at a
#: time, and a run may hold the file just then).
RECORD_RETRY_DELAYS: tuple[float, ...] = (0.5, 2.0)


def run_url(settings: ArchySettingsResource, run_id: str) -> str:
    """Where a run is in the Dagster UI (``ARCHY_DAGSTER_URL``, default the local one)."""
    base = settings.environment().dagster_url or DEFAULT_UI_URL
    return f"{base.rstrip('/')}/runs/{run_id}"


def notify_settings(settings: ArchySettingsResource) -> NotifySettings:
    """``notifications:`` (validated with the rest of archy.yaml) and its secrets."""
    archy = settings.load()
    return parse_notify_settings(archy.notifications, settings.environment(), source=archy.source)


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


def record_deliveries(
    context: dg.SensorEvaluationContext, warehouse: WarehouseResource, rows: list[tuple]
) -> str:
    """Append ``rows`` to archy.notification_deliveries; never raises.

    Returns ``""``, or a note for the skip reason when the rows could not be written (also
    logged as a warning): the notification went out whatever happens here.
    """
    if not rows:
        return ""

    def append() -> None:
        try:
            warehouse.append_rows(ARCHY_SCHEMA, DELIVERY_TABLE, DELIVERY_COLUMNS, rows)
        except Exception as error:
            raise Transient(error) from error

    policy = retrying(
        attempts=len(RECORD_RETRY_DELAYS) + 1,
        wait=delays(RECORD_RETRY_DELAYS),
        give_up=lambda failure, _attempts, _seconds: failure.error,
    )
    try:
        policy(append)
    except Exception as error:
        lines = str(error).strip().splitlines()
        reason = f"{type(error).__name__}: {lines[0]}" if lines else type(error).__name__
        dsn = warehouse.dsn
        if dsn:  # a PostgreSQL error may quote the DSN, password and all
            reason = reason.replace(dsn, warehouse.describe())
        note = f"not recorded in {ARCHY_SCHEMA}.{DELIVERY_TABLE}: {reason}"
        context.log.warning(f"{len(rows)} notification delivery row(s) {note}")
        return f" ({note})"
    return ""


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
    sent: list[str] = []
    rows: list[tuple] = []
    for workspace, events in digest_events(warehouse, started).items():
        url = run_url(settings, run.run_id)
        digest = build_digest(workspace, events, [], url, include=notify.on)
        if digest is None:  # none of the event types archy.yaml's notifications.on lists
            continue
        results = send(digest, notify)
        sent += [f"{workspace}: {r.channel} {'sent' if r.ok else 'failed'}" for r in results]
        rows += delivery_rows(
            results,
            digest,
            kind=DIGEST,
            run_id=run.run_id,
            job_name=job_label(run),
            workspace=workspace,
            at=datetime.now(timezone.utc),
        )
    note = record_deliveries(context, warehouse, rows)
    return dg.SkipReason(("; ".join(sent) or "no change events in this rebuild") + note)


@dg.run_failure_sensor(
    name="sync_failure_sensor",
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Sends a notice with the reason and a link when a sync or a rebuild fails.",
)
def sync_failure_sensor(
    context: dg.RunFailureSensorContext,
    warehouse: WarehouseResource,
    settings: ArchySettingsResource,
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
    workspace = run.tags.get("dagster/partition")  # none: a rebuild of every workspace
    notice = failure_notice(
        workspace or "all workspaces",
        job_label(run),
        run.run_id,
        reason,
        run_url(settings, run.run_id),
    )
    results = send(notice, notify)
    rows = delivery_rows(
        results,
        notice,
        kind=FAILURE,
        run_id=run.run_id,
        job_name=job_label(run),
        workspace=workspace,
        at=datetime.now(timezone.utc),
    )
    note = record_deliveries(context, warehouse, rows)
    sent = "; ".join(f"{r.channel} {'sent' if r.ok else 'failed'}" for r in results)
    return dg.SkipReason((sent or "no channel") + note)
