"""The code location: assembles assets, jobs and resources. Loading reads no secrets."""

from __future__ import annotations

import dagster as dg
from dagster_dlt import DagsterDltResource

from archy_pipeline.assets.extract import workato_raw_tables
from archy_pipeline.resources.warehouse import WarehouseResource
from archy_pipeline.resources.workato import WorkatoResource
from archy_pipeline.sensors.jobs import sync_job

defs = dg.Definitions(
    assets=[workato_raw_tables],
    jobs=[sync_job],
    resources={
        "dlt": DagsterDltResource(),
        "workato": WorkatoResource(api_token=dg.EnvVar("WORKATO_API_TOKEN")),
        "warehouse": WarehouseResource(),
    },
)
