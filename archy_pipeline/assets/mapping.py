"""Known systems and the system each connection reaches: archy.systems, archy.system_mappings."""

# No "from __future__ import annotations" here: Dagster reads annotations at runtime.

from collections import Counter
from typing import Any

import dagster as dg

from archy_pipeline.assets.audit import record_config_change
from archy_pipeline.assets.transform import table_metadata
from archy_pipeline.constants import ARCHY_SCHEMA, MAPPING_GROUP, OWNERS, WAREHOUSE_POOL
from archy_pipeline.extract.tables import DATASET_NAME
from archy_pipeline.mapping import (
    ConnectionInfo,
    load_catalogue,
    map_connections,
    merge_systems,
    parse_mapping_config,
)
from archy_pipeline.resources.settings import ArchySettingsResource
from archy_pipeline.resources.warehouse import WarehouseResource
from archy_pipeline.workato import json_tree

SYSTEM_COLUMNS = {
    "system_id": "varchar",
    "name": "varchar",
    "vendor": "varchar",
    "category": "varchar",
    "providers": "varchar",
    "aliases": "varchar",
    "tags": "varchar",
    "source": "varchar",
}
MAPPING_COLUMNS = {
    "workspace": "varchar",
    "connection_id": "bigint",
    "connection_name": "varchar",
    "application": "varchar",
    "system_id": "varchar",
    "system_name": "varchar",
    "match_status": "varchar",
    "confidence": "double precision",
    "method": "varchar",
    "reason": "varchar",
    "environment": "varchar",
}


def _mapping_config(settings: ArchySettingsResource) -> tuple[Any, Any]:
    archy = settings.load()
    return archy, parse_mapping_config(archy)


@dg.asset(
    key=[ARCHY_SCHEMA, "systems"],
    group_name=MAPPING_GROUP,
    kinds={"python", "duckdb"},
    owners=OWNERS,
    pool=WAREHOUSE_POOL,
)
def systems(warehouse: WarehouseResource, settings: ArchySettingsResource) -> dg.MaterializeResult:
    """One row per known system: the shipped catalogue of well-known systems plus the user's
    own architecture records from archy.yaml (source 'user'). Lists are comma-separated."""
    _, config = _mapping_config(settings)
    known = merge_systems(load_catalogue(), config.systems).values()
    rows = [
        (s.id, s.name, s.vendor, s.category, ",".join(s.providers), ",".join(s.aliases),
         ",".join(s.tags), s.source)
        for s in known
    ]  # fmt: skip
    count = warehouse.publish_rows(ARCHY_SCHEMA, "systems", SYSTEM_COLUMNS, rows)
    return dg.MaterializeResult(
        metadata={
            **table_metadata(warehouse, ARCHY_SCHEMA, "systems", count),
            "user_systems": len(config.systems),
        }
    )


def _tags(value: Any) -> tuple[str, ...]:
    if isinstance(value, str):
        try:
            value = json_tree.loads(value)  # what Workato sent: read without recursion
        except ValueError:
            return ()
    if not isinstance(value, list):
        return ()
    return tuple(str(t) for t in value)


@dg.asset(
    key=[ARCHY_SCHEMA, "system_mappings"],
    deps=[[ARCHY_SCHEMA, "systems"], [DATASET_NAME, "connections"], [DATASET_NAME, "folders"]],
    group_name=MAPPING_GROUP,
    kinds={"python", "duckdb"},
    owners=OWNERS,
    pool=WAREHOUSE_POOL,
)
def system_mappings(
    context: dg.AssetExecutionContext, warehouse: WarehouseResource, settings: ArchySettingsResource
) -> dg.MaterializeResult:
    """One row per connection: the system it reaches, match_status ('matched', 'partial' or
    'none'), confidence 0-1, method ('manual', 'rule', 'provider', 'alias' or 'fuzzy') and the
    reason in words. Manual links in archy.yaml win, then rules, provider, alias and fuzzy name
    evidence. Unmatched connections are listed, never hidden."""
    archy, config = _mapping_config(settings)
    # A rebuild without a sync (transform_job) applies mapping rules changed since: say so.
    record_config_change(warehouse, archy, context.run.run_id)
    folders = {
        (f["workspace"], f["id"]): f["path"] for f in warehouse.fetch_rows(DATASET_NAME, "folders")
    }
    connections = [
        ConnectionInfo(
            workspace=c["workspace"],
            connection_id=int(c["id"]),
            name=c["name"] or "",
            application=c.get("application"),
            folder_path=folders.get((c["workspace"], c.get("folder_id")), "Home"),
            tags=_tags(c.get("tags")),
        )
        for c in warehouse.fetch_rows(DATASET_NAME, "connections")
    ]
    mappings = map_connections(connections, None, config, archy.environments)
    # The table's columns are the SystemMapping fields, in order.
    rows = [tuple(getattr(m, column) for column in MAPPING_COLUMNS) for m in mappings]
    count = warehouse.publish_rows(ARCHY_SCHEMA, "system_mappings", MAPPING_COLUMNS, rows)
    statuses = Counter(m.match_status for m in mappings)
    return dg.MaterializeResult(
        metadata={
            **table_metadata(warehouse, ARCHY_SCHEMA, "system_mappings", count),
            "matched": statuses["matched"],
            "partial": statuses["partial"],
            "unmatched": statuses["none"],
        }
    )
