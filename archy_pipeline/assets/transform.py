"""The analysts' tables: SQL models from dbt_like_sql/ and the Python tables they read.

Every ``dbt_like_sql/<schema>/<table>.sql`` is an asset ``[schema, table]`` in the group named
by its folder; its dependencies are read from the SQL (see :mod:`archy_pipeline.sql.engine`).
All models run in one step, in dependency order, each published atomically, so a model that
fails leaves its previous table whole. Column tags in the SQL become asset checks.

Python tables (descriptions, systems, mappings) are assets of their own; the models read them
like any other table.
"""

# No "from __future__ import annotations" here: Dagster reads the context annotation at runtime.

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import dagster as dg

from archy_pipeline.constants import ARCHY_SCHEMA, DAILY_FRESHNESS, OWNERS, WAREHOUSE_POOL
from archy_pipeline.extract.tables import DATASET_NAME, RAW_TABLES
from archy_pipeline.resources.warehouse import WarehouseResource
from archy_pipeline.sql.engine import SqlModel, load_models, topological_order
from archy_pipeline.workato import json_tree
from archy_pipeline.workato.descriptions import describe_all
from dbt_like_sql import models_path

#: The models shipped with the package (dbt_like_sql/ in the repository).
DEFAULT_MODELS_DIR = models_path()

#: Tables the models may read that are not models themselves.
PYTHON_TABLES = {
    (ARCHY_SCHEMA, "integration_descriptions"),
    (ARCHY_SCHEMA, "systems"),
    (ARCHY_SCHEMA, "system_mappings"),
}
EXTERNAL_TABLES = {(DATASET_NAME, table) for table in RAW_TABLES} | PYTHON_TABLES
PREVIEW_ROWS = 5


def check_name(test: Any) -> str:
    return f"{test.column}_{test.test}"


def _markdown_preview(names: list[str], rows: list[tuple]) -> str:
    def cell(value: Any) -> str:
        text = "" if value is None else str(value)
        return (text[:60] + "…" if len(text) > 60 else text).replace("|", "\\|").replace("\n", " ")

    lines = ["| " + " | ".join(names) + " |", "|" + "---|" * len(names)]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in rows]
    return "\n".join(lines)


def table_metadata(warehouse: WarehouseResource, schema: str, table: str, count: int) -> dict:
    """Row count, column schema and a small preview, as every table asset reports them."""
    columns = warehouse.columns(schema, table)
    names, rows = warehouse.query(f'select * from "{schema}"."{table}" limit {PREVIEW_ROWS}')
    return {
        "dagster/row_count": count,
        "dagster/table_name": f"{schema}.{table}",
        "dagster/column_schema": dg.TableSchema(
            columns=[dg.TableColumn(name, kind) for name, kind in columns]
        ),
        "preview": dg.MetadataValue.md(_markdown_preview(names, rows)),
    }


def _test_sql(model: SqlModel, test: Any) -> str:
    """A query counting the rows that break a column test (0 = passes)."""
    table = f'"{model.schema}"."{model.table}"'
    column = f'"{test.column}"'
    if test.test == "not_null":
        return f"select count(*) from {table} where {column} is null"
    if test.test == "unique":
        # Ids are unique per workspace: several workspaces share the tables.
        scope = (
            '"workspace", ' if "workspace" in model.columns and test.column != "workspace" else ""
        )
        return (
            f"select count(*) from (select {scope}{column} from {table} "
            f"where {column} is not null group by {scope}{column} having count(*) > 1) as dups"
        )
    if test.test == "accepted_values":
        return f"select count(*) from {table} where {column} not in ({test.arg})"
    raise ValueError(f"{model.path}: no check for column test {test.test!r}")


def build_sql_model_assets(root: str | Path | None = None) -> dg.AssetsDefinition:
    """One multi-asset for every model under ``root`` (default: the shipped models),
    subsettable, with its checks."""
    models = topological_order(load_models(Path(root or DEFAULT_MODELS_DIR)), EXTERNAL_TABLES)
    specs = [
        dg.AssetSpec(
            key=[m.schema, m.table],
            deps=[dg.AssetKey(list(d)) for d in m.all_dependencies],
            group_name=m.schema,
            description=m.description,
            kinds={"sql", "duckdb"},
            owners=OWNERS,
            freshness_policy=DAILY_FRESHNESS,
            metadata={"sql_path": str(m.path), "columns": ", ".join(m.columns)},
        )
        for m in models
    ]
    check_specs = [
        dg.AssetCheckSpec(
            name=check_name(test),
            asset=dg.AssetKey([m.schema, m.table]),
            description=f"{test.column}: {test.test}" + (f" {test.arg}" if test.arg else ""),
        )
        for m in models
        for test in m.tests
    ]

    @dg.multi_asset(
        specs=specs,
        check_specs=check_specs,
        can_subset=True,
        name="archy_sql_models",
        pool=WAREHOUSE_POOL,
    )
    def sql_models(context: dg.AssetExecutionContext, warehouse: WarehouseResource) -> Iterator:
        selected = context.selected_asset_keys
        # The shipped views read model tables (v_most_complex_integrations reads integrations)
        # and PostgreSQL refuses to drop a table a view depends on, which made every rebuild
        # after the first fail there: drop them; the analysis step creates them again.
        from archy_pipeline.assets.analysis import VIEWS

        warehouse.backend.drop_views(ARCHY_SCHEMA, list(VIEWS))
        for model in models:
            key = dg.AssetKey([model.schema, model.table])
            if key not in selected:
                continue
            count = warehouse.publish_query(
                model.schema, model.table, model.sql_for(warehouse.dialect)
            )
            context.log.info(f"{model.schema}.{model.table}: {count} rows")
            yield dg.MaterializeResult(
                asset_key=key,
                metadata=table_metadata(warehouse, model.schema, model.table, count),
            )
            for test in model.tests:
                check_key = dg.AssetCheckKey(key, check_name(test))
                if check_key not in context.selected_asset_check_keys:
                    continue
                _, rows = warehouse.query(_test_sql(model, test))
                failing = int(rows[0][0])
                yield dg.AssetCheckResult(
                    asset_key=key,
                    check_name=check_name(test),
                    passed=failing == 0,
                    metadata={"failing_rows": failing},
                )

    return sql_models


# ---------------------------------------------------------------------- Python tables


def _json(value: Any) -> Any:
    return json_tree.loads(value) if isinstance(value, str) else value


@dg.asset(
    key=[ARCHY_SCHEMA, "integration_descriptions"],
    deps=[[DATASET_NAME, "recipes"], [DATASET_NAME, "connections"]],
    group_name=ARCHY_SCHEMA,
    kinds={"python", "duckdb"},
    owners=OWNERS,
    pool=WAREHOUSE_POOL,
)
def integration_descriptions(warehouse: WarehouseResource) -> dg.MaterializeResult:
    """One row per recipe: a sentence saying what it does, generated from its steps ("When a
    new Opportunity is created in Salesforce (ACME Production Salesforce), creates a Sales
    Order in NetSuite and posts a message to Slack")."""
    recipes = [
        # DuckDB hands JSON columns back as text; the parser wants the config list. Read
        # without recursion, as every reader of what Workato sent (json_tree).
        {**r, "config": _json(r["config"])}
        for r in warehouse.fetch_rows(DATASET_NAME, "recipes")
        if r.get("deleted_at") is None
    ]
    connections = warehouse.fetch_rows(DATASET_NAME, "connections")
    rows: list[tuple] = []
    by_workspace: dict[Any, dict[int, str]] = {}
    for c in connections:
        by_workspace.setdefault(c["workspace"], {})[int(c["id"])] = c["name"]
    for workspace in {r["workspace"] for r in recipes}:
        mine = [r for r in recipes if r["workspace"] == workspace]
        rows += list(describe_all(mine, by_workspace.get(workspace, {})))
    count = warehouse.publish_rows(
        ARCHY_SCHEMA,
        "integration_descriptions",
        {"workspace": "varchar", "recipe_id": "bigint", "generated_description": "varchar"},
        rows,
    )
    return dg.MaterializeResult(
        metadata=table_metadata(warehouse, ARCHY_SCHEMA, "integration_descriptions", count)
    )
