"""The pipeline runs itself: daily and weekly syncs, daily retention, and partitions kept in
step with archy.yaml (the archy tables are rebuilt after the syncs by the automation in
``sensors/automation.py``).

Cron strings and the time zone come from the ``schedules:`` section of archy.yaml (defaults:
daily at 02:00, weekly on Sunday at 04:00, retention daily at 01:30, UTC: off-hours for most
teams), which ``definitions.py`` reads when the code location loads.
"""

from __future__ import annotations

import dagster as dg

from archy_pipeline.constants import WORKSPACES
from archy_pipeline.partitions import add_workspaces_requests
from archy_pipeline.resources.settings import ArchySettingsResource
from archy_pipeline.sensors.jobs import retention_job, sync_job
from archy_pipeline.settings import ConfigError, ScheduleSettings

FULL_REFRESH = {"ops": {"workato_raw": {"config": {"full_refresh": True}}}}
INCREMENTAL = {"ops": {"workato_raw": {"config": {"full_refresh": False}}}}


def _sync_requests(
    context: dg.ScheduleEvaluationContext, kind: str, run_config: dict
) -> dg.SkipReason | list[dg.RunRequest]:
    """One run per workspace partition (each can fail without the others)."""
    workspaces = context.instance.get_dynamic_partitions(WORKSPACES.name)
    if not workspaces:
        return dg.SkipReason(
            "no workspace partition yet: the workspace_partitions sensor adds those in "
            "archy.yaml (or run `archy-pipeline sync` once)"
        )
    stamp = context.scheduled_execution_time.strftime("%Y-%m-%dT%H:%M")
    return [
        dg.RunRequest(
            run_key=f"{kind}-{name}-{stamp}",
            partition_key=name,
            run_config=run_config,
            tags={"archy/sync": kind},
        )
        for name in sorted(workspaces)
    ]


def build_schedules(settings: ScheduleSettings) -> list[dg.ScheduleDefinition]:
    """The daily and weekly sync schedules at the times ``schedules:`` sets."""

    # Daily: status changes, new and changed recipes through the incremental path.
    @dg.schedule(
        name="daily_sync_schedule",
        job=sync_job,
        cron_schedule=settings.daily,
        execution_timezone=settings.timezone,
        default_status=dg.DefaultScheduleStatus.RUNNING,
        description="Incremental sync of every workspace (archy.yaml schedules.daily).",
    )
    def daily_sync_schedule(context: dg.ScheduleEvaluationContext):
        return _sync_requests(context, "daily", INCREMENTAL)

    # Weekly: a full refresh walks every folder and re-lists every recipe with code.
    @dg.schedule(
        name="weekly_sync_schedule",
        job=sync_job,
        cron_schedule=settings.weekly,
        execution_timezone=settings.timezone,
        default_status=dg.DefaultScheduleStatus.RUNNING,
        description="Full refresh of every workspace (archy.yaml schedules.weekly).",
    )
    def weekly_sync_schedule(context: dg.ScheduleEvaluationContext):
        return _sync_requests(context, "weekly", FULL_REFRESH)

    # Daily: remove what retention: no longer keeps (history, events, issues, run records),
    # before the daily sync so it never waits for a sync's hold on the warehouse.
    retention_schedule = dg.ScheduleDefinition(
        name="retention_schedule",
        job=retention_job,
        cron_schedule=settings.retention,
        execution_timezone=settings.timezone,
        default_status=dg.DefaultScheduleStatus.RUNNING,
        description="Daily retention (schedules.retention; what it keeps: retention:).",
    )

    return [daily_sync_schedule, weekly_sync_schedule, retention_schedule]


@dg.sensor(
    name="workspace_partitions_sensor",
    minimum_interval_seconds=60,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Adds a partition for every workspace in archy.yaml, so it can be synced.",
)
def workspace_partitions_sensor(
    context: dg.SensorEvaluationContext, settings: ArchySettingsResource
) -> dg.SensorResult:
    try:
        names = settings.load().names
    except ConfigError as error:
        return dg.SensorResult(skip_reason=f"archy.yaml cannot be read: {error}")
    requests = add_workspaces_requests(context.instance, names)
    if not requests:
        return dg.SensorResult(
            skip_reason=f"every workspace in archy.yaml has a partition ({', '.join(names)})"
        )
    return dg.SensorResult(dynamic_partitions_requests=requests)
