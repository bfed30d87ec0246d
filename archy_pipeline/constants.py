"""Names shared by the assets, jobs and tests."""

from __future__ import annotations

from datetime import timedelta

import dagster as dg

from archy_pipeline.extract.tables import DATASET_NAME

EXTRACT_GROUP = "extract"
MAPPING_GROUP = "mapping"
ANALYSIS_GROUP = "analysis"
#: The architecture report (a static site and exports), rebuilt with the archy tables.
DOCS_GROUP = "docs"
#: The schema of the analysts' tables (and the group of the SQL models in dbt_like_sql/archy).
ARCHY_SCHEMA = "archy"
#: What transform_job rebuilds after the syncs: the archy tables, mapping, analysis, report.
TRANSFORM_GROUPS = (ARCHY_SCHEMA, MAPPING_GROUP, ANALYSIS_GROUP, DOCS_GROUP)
#: The analysts' DuckDB snapshot, published last in transform_job (assets/publish.py).
PUBLISH_GROUP = "publish"

#: The concurrency pool of every step that writes the warehouse (dagster.yaml limits it to 1).
WAREHOUSE_POOL = "warehouse"

#: One partition per Workato workspace (named in archy.yaml), added when a sync starts.
WORKSPACES = dg.DynamicPartitionsDefinition(name="workato_workspaces")
OWNERS = ["team:integration-architecture"]


def table_key(schema: str, table: str) -> dg.AssetKey:
    """Every table's asset key is its warehouse path ``[schema, table]``."""
    return dg.AssetKey([schema, table])


def raw_key(table: str) -> dg.AssetKey:
    return table_key(DATASET_NAME, table)


#: The daily sync keeps every table at most a day old: warn after 26 hours, fail after 50.
DAILY_FRESHNESS = dg.FreshnessPolicy.time_window(
    fail_window=timedelta(hours=50), warn_window=timedelta(hours=26)
)
