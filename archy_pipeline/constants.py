"""Names shared by the assets, jobs and tests."""

from __future__ import annotations

import dagster as dg

from archy_pipeline.workato_source.settings import DATASET_NAME

EXTRACT_GROUP = "extract"
OWNERS = ["team:integration-architecture"]


def table_key(schema: str, table: str) -> dg.AssetKey:
    """Every table's asset key is its warehouse path ``[schema, table]``."""
    return dg.AssetKey([schema, table])


def raw_key(table: str) -> dg.AssetKey:
    return table_key(DATASET_NAME, table)
