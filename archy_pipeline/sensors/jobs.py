"""Jobs: what a run materializes. Schedules and sensors target these."""

from __future__ import annotations

import dagster as dg

from archy_pipeline.constants import EXTRACT_GROUP

#: The main job: every stage of the pipeline (so far: extraction).
sync_job = dg.define_asset_job(
    "sync_job",
    selection=dg.AssetSelection.groups(EXTRACT_GROUP),
    description="Sync the Workato workspace into the warehouse.",
)
