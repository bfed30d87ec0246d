"""Raw Workato tables (``workato_raw.*``) loaded by dlt, as Dagster assets."""

# No "from __future__ import annotations" here: Dagster reads the context annotation at runtime.

import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import dagster as dg
import dlt
from dagster_dlt import DagsterDltResource, DagsterDltTranslator, dlt_assets
from dagster_dlt.translator import DltResourceTranslatorData

from archy_pipeline.constants import EXTRACT_GROUP, OWNERS, raw_key
from archy_pipeline.resources.warehouse import WarehouseResource
from archy_pipeline.resources.workato import WorkatoResource
from archy_pipeline.workato_source import DATASET_NAME, workato_source

PIPELINE_NAME = "workato"


class WorkatoDltTranslator(DagsterDltTranslator):
    """Keys ``[workato_raw, <table>]``, group ``extract``, descriptions from the docstrings."""

    def get_asset_spec(self, data: DltResourceTranslatorData) -> dg.AssetSpec:
        spec = super().get_asset_spec(data)
        return spec.replace_attributes(
            key=raw_key(data.resource.name),
            deps=[],
            group_name=EXTRACT_GROUP,
            description=(data.resource.__doc__ or "").strip() or None,
            owners=OWNERS,
        ).merge_attributes(kinds={"workato"})


# Dagster reads the asset specs from this source and pipeline when the definitions load; runs
# build the real ones from the resources. Neither needs a token or touches the warehouse.
_SPEC_PIPELINE = dlt.pipeline(
    pipeline_name=PIPELINE_NAME,
    destination="duckdb",
    dataset_name=DATASET_NAME,
    pipelines_dir=str(Path(tempfile.gettempdir()) / "archy_pipeline_dlt_specs"),
)


@dlt_assets(
    dlt_source=workato_source(),
    dlt_pipeline=_SPEC_PIPELINE,
    name="workato_raw",
    dagster_dlt_translator=WorkatoDltTranslator(),
)
def workato_raw_tables(
    context: dg.AssetExecutionContext,
    dlt: DagsterDltResource,
    workato: WorkatoResource,
    warehouse: WarehouseResource,
) -> Iterator[Any]:
    """Extract folders, projects, connections and recipes from Workato into the warehouse."""

    def progress(stage: str, pages: int, items: int) -> None:
        page_note = f", {pages} page{'s' if pages != 1 else ''}" if pages else ""
        context.log.info(f"{stage}: {items} item{'s' if items != 1 else ''} so far{page_note}")

    with workato.get_client() as client:
        me = client.verify_identity()
        context.log.info(
            f"Extracting Workato workspace {me.get('name')!r} (id {me['id']}) from "
            f"{client.host} into {warehouse.describe()}"
        )
        source = workato_source(client, workspace=workato.workspace_name, progress=progress)
        pipeline = warehouse.dlt_pipeline(PIPELINE_NAME, DATASET_NAME)
        yield from dlt.run(
            context=context, dlt_source=source, dlt_pipeline=pipeline
        ).fetch_row_count()
        context.log.info(f"Requests sent to Workato by family: {dict(client.request_counts)}")
