"""``archy.recipe_history``, ``archy.connection_history`` and ``archy.integration_history``:
versions kept build after build (see :mod:`archy_pipeline.history`)."""

# No "from __future__ import annotations" here: Dagster reads annotations at runtime.

from collections.abc import Iterator
from datetime import datetime, timezone

import dagster as dg

from archy_pipeline.assets.transform import table_metadata
from archy_pipeline.constants import ARCHY_SCHEMA, OWNERS, WAREHOUSE_POOL
from archy_pipeline.history import HISTORY_TABLES, record_history
from archy_pipeline.resources.warehouse import WarehouseResource

DESCRIPTIONS = {
    "recipe_history": "One row per recipe and version: name, status, folder, connections "
    "used and step count, valid from the build that saw them until the build that saw them "
    "change (valid_to null: the current version). Deleted recipes keep their rows, closed.",
    "connection_history": "One row per connection and version: name, application, status, "
    "environment and folder, valid from one build to the next change (valid_to null: "
    "current). Deleted connections keep their rows, closed.",
    "integration_history": "One row per (recipe, connection) and version: the system the "
    "recipe touches through the connection and its role, valid from one build to the next "
    "change; answers 'which systems did this recipe touch on a date'.",
}


@dg.multi_asset(
    specs=[
        dg.AssetSpec(
            [ARCHY_SCHEMA, spec.table],
            description=DESCRIPTIONS[spec.table],
            group_name=ARCHY_SCHEMA,
            kinds={"python", "duckdb"},
            owners=OWNERS,
            deps=[
                [ARCHY_SCHEMA, "integrations"],
                [ARCHY_SCHEMA, "system_instances"],
                [ARCHY_SCHEMA, "integration_systems"],
                [ARCHY_SCHEMA, "system_mappings"],
            ],
        )
        for spec in HISTORY_TABLES
    ],
    pool=WAREHOUSE_POOL,
)
def history_tables(
    context: dg.AssetExecutionContext, warehouse: WarehouseResource
) -> Iterator[dg.MaterializeResult]:
    """Close the versions this build no longer sees, open the new ones, all at one time."""
    at = datetime.now(timezone.utc)
    for done in record_history(warehouse.backend, at):
        context.log.info(
            "%s: %d version(s) closed, %d opened (build of %s)",
            done.table, done.closed, done.opened, at.isoformat(),
        )  # fmt: skip
        _, ((count, current),) = warehouse.query(
            "select count(*), count(*) filter (where valid_to is null) "
            f'from "{ARCHY_SCHEMA}"."{done.table}"'
        )
        yield dg.MaterializeResult(
            asset_key=[ARCHY_SCHEMA, done.table],
            metadata={
                **table_metadata(warehouse, ARCHY_SCHEMA, done.table, int(count)),
                "closed": done.closed,
                "opened": done.opened,
                "current_rows": int(current),
            },
        )
