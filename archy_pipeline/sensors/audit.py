"""Every failed sync leaves a ``sync_failed`` row in archy.audit_log, also one that failed
before the sync asset's body ran (its resources could not be initialised).

The sync asset records its own failure; this sensor records the failures of the sync runs
Dagster launched (the UI, the schedules, the sensors) that have no row yet. The command line
records those of its own runs (archy_pipeline/cli/failures.py), which this sensor leaves alone.
"""

from __future__ import annotations

import dagster as dg

from archy_pipeline.assets.audit import FAILURE_RECORDED_TAG, record_failed_run, sync_secrets
from archy_pipeline.resources.settings import ArchySettingsResource
from archy_pipeline.resources.warehouse import WarehouseResource
from archy_pipeline.resources.workato import WorkatoResource
from archy_pipeline.runs import PID_TAG
from archy_pipeline.sensors.jobs import sync_job


@dg.run_failure_sensor(
    name="sync_failure_audit_sensor",
    monitored_jobs=[sync_job],
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Records a sync_failed row in archy.audit_log for a failed sync run that has "
    "none (it failed before the sync began: its resources could not be initialised).",
)
def sync_failure_audit_sensor(
    context: dg.RunFailureSensorContext,
    warehouse: WarehouseResource,
    workato: WorkatoResource,
    settings: ArchySettingsResource,
) -> dg.SkipReason:
    run = context.dagster_run
    if run.tags.get(FAILURE_RECORDED_TAG):
        return dg.SkipReason(f"run {run.run_id}: its sync recorded the failure")
    if PID_TAG in run.tags:
        return dg.SkipReason(f"run {run.run_id}: the command line that ran it records it")
    workspace = run.tags.get("dagster/partition")
    secrets = sync_secrets(workato, settings, warehouse, workspace)
    outcome = record_failed_run(context.instance, run.run_id, warehouse, secrets)
    if outcome == "pending":
        where = warehouse.audit_pending_file
        return dg.SkipReason(f"run {run.run_id}: sync_failed row waits in {where}")
    return dg.SkipReason(f"run {run.run_id}: sync_failed row {outcome or 'already there'}")
