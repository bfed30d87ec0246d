"""The architecture report as an asset: the static site and exports, rebuilt with the tables.

The work is :func:`archy_pipeline.report.build_report` (pure); this module hands it what comes
from Dagster and the settings: the warehouse, the analysis input ``archy-pipeline impact``
reads, each workspace's Workato address, the last sync of each workspace partition and the
output folder.
"""

# No "from __future__ import annotations" here: Dagster reads annotations at runtime.

from collections.abc import Iterable
from datetime import datetime, timezone

import dagster as dg

from archy_pipeline.assets.analysis import load_analysis_input
from archy_pipeline.constants import (
    ARCHY_SCHEMA,
    DOCS_GROUP,
    OWNERS,
    WAREHOUSE_POOL,
    WORKSPACES,
    raw_key,
    table_key,
)
from archy_pipeline.report import ReportSummary, build_report, long_lived_frozen
from archy_pipeline.resources.report import ReportResource
from archy_pipeline.resources.settings import ArchySettingsResource
from archy_pipeline.resources.warehouse import WarehouseResource
from archy_pipeline.resources.workato import WorkatoResource

#: The tables the report reads (its pages, map and exports).
REPORT_INPUTS = [
    *(
        table_key(ARCHY_SCHEMA, t)
        for t in (
            "integrations", "integration_systems", "integration_calls", "system_flows",
            "system_instances", "system_mappings", "systems", "folders", "insights",
            "graph_nodes", "graph_edges", "recipe_complexity", "system_dependency_ranking",
            "change_events",
        )
    ),
    raw_key("recipe_steps"),
    raw_key("workspace"),
]  # fmt: skip


def last_syncs(instance: dg.DagsterInstance) -> dict[str, datetime]:
    """When each workspace partition was last synced (its recipes materialized)."""
    found = {}
    for name in instance.get_dynamic_partitions(WORKSPACES.name):
        result = instance.fetch_materializations(
            dg.AssetRecordsFilter(asset_key=raw_key("recipes"), asset_partitions=[name]), limit=1
        )
        if result.records:
            found[name] = datetime.fromtimestamp(result.records[0].timestamp, timezone.utc)
    return found


def write_report(
    warehouse: WarehouseResource,
    workato: WorkatoResource,
    report: ReportResource,
    settings: ArchySettingsResource,
    *,
    syncs: dict[str, datetime] | None = None,
    workspaces: Iterable[str] | None = None,
) -> ReportSummary:
    """Build the report from the warehouse into the folder ``report`` names."""
    archy = settings.load()
    with long_lived_frozen() as freeze:
        inp = load_analysis_input(warehouse)
        freeze()
        return build_report(
            warehouse,
            inp,
            report.directory(warehouse),
            placeholder=warehouse.placeholder,
            now=datetime.now(timezone.utc),
            workato_urls=report.workato_urls(workato, archy.workspaces, settings.environment()),
            last_syncs=syncs,
            workspaces=workspaces,
            owner=report.owner,
        )


def report_metadata(summary: ReportSummary) -> dict[str, dg.MetadataValue]:
    exports = "\n".join(f"- `{name}`" for name in summary.exports if "/tables/" not in name)
    return {
        "path": dg.MetadataValue.path(str(summary.path)),
        "index": dg.MetadataValue.url(summary.index.as_uri()),
        "pages": dg.MetadataValue.int(summary.pages),
        "map_nodes": dg.MetadataValue.int(summary.map_nodes),
        "map_edges": dg.MetadataValue.int(summary.map_edges),
        "map_edges_shown": dg.MetadataValue.int(summary.map_edges_shown),
        "size_mb": dg.MetadataValue.float(round(summary.size_bytes / 1e6, 2)),
        "static_svg": dg.MetadataValue.bool(summary.static_svg),
        "exports": dg.MetadataValue.md(exports),
    }


@dg.asset(
    key=[DOCS_GROUP, "report"],
    deps=REPORT_INPUTS,
    group_name=DOCS_GROUP,
    kinds={"python", "html", "graphviz"},
    owners=OWNERS,
    pool=WAREHOUSE_POOL,
)
def architecture_report(
    context: dg.AssetExecutionContext,
    warehouse: WarehouseResource,
    workato: WorkatoResource,
    report: ReportResource,
    settings: ArchySettingsResource,
) -> dg.MaterializeResult:
    """The architecture documentation as a static site that opens from file:// (overview,
    interactive system map, a page per system and per integration, insights, impact) with
    exports beside it (Mermaid, draw.io, Structurizr, GraphML, Backstage, CSV/Parquet);
    written to data/report/ beside the DuckDB file, or ARCHY_REPORT_DIR."""
    summary = write_report(warehouse, workato, report, settings, syncs=last_syncs(context.instance))
    if summary.layout_problem:
        context.log.warning(f"no static map: {summary.layout_problem}")
    context.log.info(f"report: {summary.index} ({summary.pages} pages)")
    return dg.MaterializeResult(metadata=report_metadata(summary))
