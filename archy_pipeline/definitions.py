"""The code location: assembles assets, checks, jobs and resources.

Loading validates archy.yaml (the schedules need its cron strings now, and an invalid file
should stop the code location, with its one-line reason in the UI, rather than a run later)
and reads no secret: the resources read tokens when a run starts.
"""

from __future__ import annotations

import dagster as dg
from dagster_dlt import DagsterDltResource

from archy_pipeline.assets.analysis import analysis_tables
from archy_pipeline.assets.changes import change_events
from archy_pipeline.assets.checks import INTEGRITY_CHECKS
from archy_pipeline.assets.extract import workato_raw_tables
from archy_pipeline.assets.history import history_tables
from archy_pipeline.assets.mapping import system_mappings, systems
from archy_pipeline.assets.publish import build_analysts_snapshot
from archy_pipeline.assets.report import architecture_report
from archy_pipeline.assets.transform import (
    DEFAULT_MODELS_DIR,
    build_sql_model_assets,
    integration_descriptions,
)
from archy_pipeline.rebuild import build_code_version, with_code_version
from archy_pipeline.resources.report import ReportResource
from archy_pipeline.resources.settings import ArchySettingsResource
from archy_pipeline.resources.warehouse import WarehouseResource
from archy_pipeline.resources.workato import WorkatoResource
from archy_pipeline.sensors.activity_sensor import activity_log_sensor
from archy_pipeline.sensors.audit import sync_failure_audit_sensor
from archy_pipeline.sensors.automation import rebuild_after_sync_sensor, with_rebuild_condition
from archy_pipeline.sensors.jobs import retention_job, sync_job, transform_job
from archy_pipeline.sensors.notifications import change_digest_sensor, sync_failure_sensor
from archy_pipeline.sensors.schedules import build_schedules, workspace_partitions_sensor
from archy_pipeline.sensors.webhook_sensor import webhook_sensor
from archy_pipeline.settings import load_settings, read_environment


def build_defs() -> dg.Definitions:
    """The definitions; raises ConfigError (one line) when archy.yaml is invalid."""
    variables = read_environment()
    archy = load_settings(variables=variables)
    # Every table transform_job builds is also rebuilt by the automation after the syncs, and
    # carries the code version that tells when code, models or archy.yaml changed
    # (archy_pipeline/rebuild.py: nothing changed, nothing rebuilt).
    code_version = with_code_version(
        build_code_version(variables.models_dir or DEFAULT_MODELS_DIR, archy)
    )
    rebuilt = dg.map_asset_specs(
        lambda spec: with_rebuild_condition(code_version(spec)),
        [
            integration_descriptions,
            systems,
            system_mappings,
            build_sql_model_assets(variables.models_dir),
            analysis_tables,
            change_events,
            history_tables,
            architecture_report,
        ],
    )
    # Last, the analysts' snapshot, after the others and under the same condition.
    snapshot = dg.map_asset_specs(
        lambda spec: with_rebuild_condition(code_version(spec)), [build_analysts_snapshot(rebuilt)]
    )
    return dg.Definitions(
        assets=[workato_raw_tables, *rebuilt, *snapshot],
        asset_checks=INTEGRITY_CHECKS,
        jobs=[sync_job, transform_job, retention_job],
        schedules=build_schedules(archy.schedules),
        sensors=[
            workspace_partitions_sensor,
            rebuild_after_sync_sensor,
            webhook_sensor,
            activity_log_sensor,
            change_digest_sensor,
            sync_failure_sensor,
            sync_failure_audit_sensor,
        ],
        resources={
            "dlt": DagsterDltResource(),
            "workato": WorkatoResource(),
            "warehouse": WarehouseResource(),
            "settings": ArchySettingsResource(),
            "report": ReportResource(),
        },
    )


defs = build_defs()
