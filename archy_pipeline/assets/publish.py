"""The analysts' DuckDB snapshot, published last in transform_job.

DuckDB lets one process write a file, and a connection an analyst holds on it, even read-only,
keeps the pipeline out. So analysts open a copy, republished atomically after each successful
rebuild (:meth:`archy_pipeline.warehouse.DuckDBWarehouse.publish_snapshot`); a rebuild that
fails publishes nothing, and analysts keep the previous complete snapshot.
"""

# No "from __future__ import annotations" here: Dagster reads annotations at runtime.

from collections.abc import Iterable

import dagster as dg

from archy_pipeline.constants import OWNERS, PUBLISH_GROUP, TRANSFORM_GROUPS, WAREHOUSE_POOL
from archy_pipeline.resources.warehouse import WarehouseResource

SNAPSHOT_KEY = dg.AssetKey([PUBLISH_GROUP, "analysts_snapshot"])

#: Why PostgreSQL needs no snapshot (the asset's metadata there).
POSTGRES_REASON = (
    "the warehouse is PostgreSQL: readers never block the pipeline there, so analysts query "
    "it directly (archy-pipeline analysts-role) and no snapshot is written"
)


def last_rebuilt(assets: Iterable[dg.AssetsDefinition]) -> list[dg.AssetKey]:
    """The assets of transform_job's groups that no other of them depends on.

    Every asset the job rebuilds is one of these or upstream of one, so a snapshot that
    depends on these runs after all of them, and is skipped when any of them fails (Dagster
    skips everything downstream of a failed step). Depending on these few rather than on every
    asset keeps the lineage graph readable: a node with an edge from each of 17 assets made
    the UI's layout too tall to read.
    """
    specs = [
        spec
        for asset in assets
        for spec in asset.specs
        if asset.group_names_by_key.get(spec.key) in TRANSFORM_GROUPS
    ]
    upstream = {dep.asset_key for spec in specs for dep in spec.deps}
    return sorted(
        (spec.key for spec in specs if spec.key not in upstream),
        key=lambda key: key.to_user_string(),
    )


def build_analysts_snapshot(assets: Iterable[dg.AssetsDefinition]) -> dg.AssetsDefinition:
    """The snapshot asset, after every one of ``assets`` that transform_job rebuilds.

    ``assets`` are the code location's assets: whatever joins transform_job's groups later
    is waited for too, without a list to keep in step (see :func:`last_rebuilt`).
    """

    @dg.asset(
        key=SNAPSHOT_KEY,
        deps=last_rebuilt(assets),
        group_name=PUBLISH_GROUP,
        kinds={"python", "duckdb"},
        owners=OWNERS,
        pool=WAREHOUSE_POOL,
    )
    def analysts_snapshot(
        context: dg.AssetExecutionContext, warehouse: WarehouseResource
    ) -> dg.MaterializeResult:
        """The DuckDB file analysts open (data/analysts.duckdb, or ARCHY_ANALYSTS_DUCKDB_PATH):
        a copy of every table and view of the pipeline's working file, replaced atomically
        after each successful rebuild, so analysts never block a sync and never see half a
        rebuild. Nothing to do on PostgreSQL."""
        published = warehouse.publish_snapshot()
        if published is None:
            context.log.info(POSTGRES_REASON)
            return dg.MaterializeResult(
                metadata={"published": False, "reason": dg.MetadataValue.text(POSTGRES_REASON)}
            )
        context.log.info(
            f"analysts' snapshot: {published.path} ({published.tables} tables, "
            f"{published.views} views, {published.size_bytes / 1e6:.1f} MB, "
            f"{published.seconds:.2f} s)"
        )
        return dg.MaterializeResult(
            metadata={
                "published": True,
                "path": dg.MetadataValue.path(str(published.path.resolve())),
                "size_mb": dg.MetadataValue.float(round(published.size_bytes / 1e6, 2)),
                "tables": dg.MetadataValue.int(published.tables),
                "views": dg.MetadataValue.int(published.views),
                "seconds": dg.MetadataValue.float(round(published.seconds, 3)),
            }
        )

    return analysts_snapshot
