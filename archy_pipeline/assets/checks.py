"""Referential integrity of the archy tables, as asset checks with evidence."""

# No "from __future__ import annotations" here: Dagster reads annotations at runtime.

import dagster as dg

from archy_pipeline.constants import ARCHY_SCHEMA
from archy_pipeline.resources.warehouse import WarehouseResource

EXAMPLES = 10


def _orphans(warehouse: WarehouseResource, sql: str) -> dg.AssetCheckResult:
    names, rows = warehouse.query(sql)
    return dg.AssetCheckResult(
        passed=not rows,
        metadata={
            "orphan_rows": len(rows),
            "examples": dg.MetadataValue.json([dict(zip(names, r)) for r in rows[:EXAMPLES]]),
        },
    )


@dg.asset_check(
    asset=dg.AssetKey([ARCHY_SCHEMA, "integration_systems"]),
    name="connections_exist_check",
    description="Every integration_systems.connection_id is a row of system_instances.",
)
def connections_exist_check(warehouse: WarehouseResource) -> dg.AssetCheckResult:
    return _orphans(
        warehouse,
        "select s.workspace, s.recipe_id, s.connection_id from archy.integration_systems s "
        "left join archy.system_instances i "
        "on i.workspace = s.workspace and i.connection_id = s.connection_id "
        "where i.connection_id is null order by s.workspace, s.recipe_id, s.connection_id",
    )


@dg.asset_check(
    asset=dg.AssetKey([ARCHY_SCHEMA, "integration_calls"]),
    name="callees_exist_check",
    description="Every resolved call's callee is a row of integrations.",
)
def callees_exist_check(warehouse: WarehouseResource) -> dg.AssetCheckResult:
    return _orphans(
        warehouse,
        "select c.workspace, c.caller_recipe_id, c.callee_recipe_id "
        "from archy.integration_calls c left join archy.integrations i "
        "on i.workspace = c.workspace and i.recipe_id = c.callee_recipe_id "
        "where c.resolved and i.recipe_id is null "
        "order by c.workspace, c.caller_recipe_id, c.callee_recipe_id",
    )


INTEGRITY_CHECKS = [connections_exist_check, callees_exist_check]
