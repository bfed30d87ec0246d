"""Jobs: what a run materializes. Schedules and sensors target these."""

from __future__ import annotations

import dagster as dg

from archy_pipeline.constants import EXTRACT_GROUP, PUBLISH_GROUP, TRANSFORM_GROUPS
from archy_pipeline.sensors.retention import retention_job

__all__ = ["TRANSFORM_SELECTION", "retention_job", "sync_job", "transform_job"]

#: Extraction, one run per workspace partition.
sync_job = dg.define_asset_job(
    "sync_job",
    selection=dg.AssetSelection.groups(EXTRACT_GROUP),
    description="Sync one Workato workspace (a partition) into workato_raw.",
)

#: The analysts' tables and the report, then the analysts' DuckDB snapshot after all of them:
#: what a rebuild materializes.
TRANSFORM_SELECTION = dg.AssetSelection.groups(*TRANSFORM_GROUPS, PUBLISH_GROUP)

#: The analysts' tables, rebuilt from every workspace's raw tables: by hand and by the command
#: line; after syncs, the rebuild_after_sync_sensor rebuilds the same selection.
transform_job = dg.define_asset_job(
    "transform_job",
    selection=TRANSFORM_SELECTION,
    description="Rebuild the archy tables (SQL models, systems and mapping, analysis) and the "
    "architecture report, then publish the analysts' DuckDB snapshot.",
)
