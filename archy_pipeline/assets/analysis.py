"""The analysis: dependency graphs, insights and rankings, from the archy tables.

``archy.graph_nodes`` and ``archy.graph_edges`` persist the graphs built with networkx;
``archy.insights`` keeps one row per finding across runs (first seen, last seen, open or
resolved); ``archy.recipe_complexity`` and ``archy.system_dependency_ranking`` feed the views
``archy.v_most_complex_integrations``, ``archy.v_system_dependency_ranking`` and
``archy.v_recommendations`` (documented with example SQL in docs/analysis.md).
"""

# No "from __future__ import annotations" here: Dagster reads annotations at runtime.

from collections import Counter
from collections.abc import Iterator
from datetime import datetime, timezone
from typing import Any

import dagster as dg
import pandas as pd

from archy_pipeline.analysis import (
    INPUT_COLUMNS,
    INPUT_TABLES,
    AnalysisInput,
    add_step_details,
    build_graphs,
    find_insights,
    graph_tables,
    insights_table,
    parse_thresholds,
    ranking_tables,
)
from archy_pipeline.assets.transform import table_metadata
from archy_pipeline.constants import ANALYSIS_GROUP, ARCHY_SCHEMA, OWNERS, WAREHOUSE_POOL
from archy_pipeline.resources.settings import ArchySettingsResource
from archy_pipeline.resources.warehouse import WarehouseResource
from archy_pipeline.warehouse import read_views

INSIGHT_STATE_COLUMNS = ("first_seen_at", "last_seen_at", "status")

#: The views analysts query (``archy_pipeline/warehouse/views/archy/*.sql``); each reads only
#: tables this module publishes.
VIEWS = read_views(ARCHY_SCHEMA)


def _frame(warehouse: WarehouseResource, schema: str, table: str, columns: tuple) -> pd.DataFrame:
    frame = warehouse.fetch_frame(schema, table)
    return frame if len(frame.columns) else pd.DataFrame(columns=list(columns))


def load_analysis_input(warehouse: WarehouseResource) -> AnalysisInput:
    """The archy tables and the steps of current recipes, as the analysis reads them."""
    frames = {
        name: _frame(warehouse, schema, table, INPUT_COLUMNS[name])
        for name, (schema, table) in INPUT_TABLES.items()
    }
    integrations = frames["integrations"]
    if not integrations.empty:
        current = integrations[integrations["deleted_at"].isna()]
        keys = set(zip(current["workspace"], current["recipe_id"], strict=True))
        steps = frames["steps"]
        if not steps.empty:
            mask = [k in keys for k in zip(steps["workspace"], steps["recipe_id"], strict=True)]
            frames["steps"] = steps[mask]
    # Catch retries and stop-with-error flags are not step columns: read them from the code.
    # workato_raw.recipes loads in the same dlt run as recipe_steps, a dependency already.
    recipes = [
        {"workspace": row["workspace"], "recipe_id": row["id"], "code": row.get("code")}
        for row in warehouse.fetch_rows("workato_raw", "recipes")
        if row.get("deleted_at") is None
    ]
    frames["steps"] = add_step_details(
        frames["steps"], pd.DataFrame(recipes, columns=["workspace", "recipe_id", "code"])
    )
    return AnalysisInput(**frames)


def _sql_type(series: pd.Series) -> str:
    kind = series.dtype.kind
    if kind == "b":
        return "boolean"
    if kind in "iu":
        return "bigint"
    if kind == "f":
        return "double precision"
    if kind == "M":
        return "timestamp with time zone"
    return "varchar"


def publish_frame(warehouse: WarehouseResource, table: str, frame: pd.DataFrame) -> int:
    """Replace ``archy.<table>`` with ``frame``, written set-wise (missing values as NULL)."""
    columns = {str(c): _sql_type(frame[c]) for c in frame.columns}
    return warehouse.backend.publish_rows(ARCHY_SCHEMA, table, columns, frame)


def merge_insight_state(
    current: pd.DataFrame, previous: list[dict[str, Any]], now: datetime
) -> pd.DataFrame:
    """Keep each finding's first sighting; mark findings whose cause is gone 'resolved'."""
    before = {row["insight_id"]: row for row in previous}
    rows = []
    for row in current.to_dict("records"):
        old = before.get(row["insight_id"])
        rows.append(
            {
                **row,
                "first_seen_at": old["first_seen_at"] if old else now,
                "last_seen_at": now,
                "status": "open",
            }
        )
    seen = set(current["insight_id"]) if not current.empty else set()
    for insight_id, old in before.items():
        if insight_id not in seen:
            rows.append({**{k: old.get(k) for k in current.columns}, **{
                "first_seen_at": old["first_seen_at"],
                "last_seen_at": old["last_seen_at"],
                "status": "resolved",
            }})  # fmt: skip
    columns = [*current.columns, *INSIGHT_STATE_COLUMNS]
    frame = pd.DataFrame(rows, columns=columns)
    # rows resolved before these columns existed have none: 0 and false, typed as the rest
    for column in ("affected_recipes", "failed_jobs"):
        if column in frame:
            frame[column] = frame[column].fillna(0).astype("int64")
    if "production" in frame:
        frame["production"] = frame["production"].astype("boolean").fillna(False).astype(bool)
    for column in ("first_seen_at", "last_seen_at"):
        frame[column] = pd.to_datetime(frame[column], utc=True)
    return frame


def _keys(*names: str) -> list[dg.AssetSpec]:
    descriptions = {
        "graph_nodes": "One row per node of the dependency graphs (recipe, connection, system) "
        "with degree, betweenness, pagerank and connected component.",
        "graph_edges": "One row per edge of the dependency graphs: recipe calls, pub/sub, "
        "reads and writes between recipes and connections, flows between systems.",
        "insights": "One row per finding (circular dependencies, unused or duplicate "
        "connections, inactive or failing recipes, missing error handling, coupling, "
        "bottlenecks, complexity, consolidation and performance opportunities), with a stable "
        "id, first and last sighting, and status 'open' or 'resolved'.",
        "recipe_complexity": "One row per current recipe: its complexity score, the score's "
        "components and its percentile in the workspace.",
        "system_dependency_ranking": "One row per system: how many integrations depend on it, "
        "ranked per workspace.",
    }
    return [
        dg.AssetSpec(
            key=[ARCHY_SCHEMA, name],
            deps=[[s, t] for s, t in INPUT_TABLES.values()],
            group_name=ANALYSIS_GROUP,
            description=descriptions[name],
            kinds={"python", "networkx", "duckdb"},
            owners=OWNERS,
        )
        for name in names
    ]


@dg.multi_asset(
    specs=_keys(
        "graph_nodes", "graph_edges", "insights", "recipe_complexity", "system_dependency_ranking"
    ),
    name="archy_analysis",
    pool=WAREHOUSE_POOL,
)
def analysis_tables(
    context: dg.AssetExecutionContext,
    warehouse: WarehouseResource,
    settings: ArchySettingsResource,
) -> Iterator[dg.MaterializeResult]:
    """Build the graphs, find the insights, rank, and publish every table and view."""
    archy = settings.load()
    thresholds = parse_thresholds(archy.analysis)
    inp = load_analysis_input(warehouse)
    graphs = build_graphs(inp)
    nodes, edges = graph_tables(graphs)
    now = datetime.now(timezone.utc)
    insights = find_insights(inp, graphs, thresholds, now)
    complexity, ranking = ranking_tables(inp, graphs)
    previous = warehouse.fetch_rows(ARCHY_SCHEMA, "insights")
    merged = merge_insight_state(insights_table(insights), previous, now)
    # Views read these tables: drop them while the tables are swapped (PostgreSQL would refuse
    # to drop a table a view depends on), then create them again.
    backend = warehouse.backend
    backend.drop_views(ARCHY_SCHEMA, list(VIEWS))
    for table, frame in (
        ("graph_nodes", nodes),
        ("graph_edges", edges),
        ("insights", merged),
        ("recipe_complexity", complexity),
        ("system_dependency_ranking", ranking),
    ):
        count = publish_frame(warehouse, table, frame)
        metadata = table_metadata(warehouse, ARCHY_SCHEMA, table, count)
        if table == "insights":
            open_rows = merged[merged["status"] == "open"]
            by_severity = Counter(open_rows["severity"])
            metadata |= {
                f"open_{severity}": by_severity.get(severity, 0)
                for severity in ("high", "medium", "low")
            }
            metadata["resolved"] = int((merged["status"] == "resolved").sum())
        context.log.info(f"archy.{table}: {count} rows")
        yield dg.MaterializeResult(asset_key=[ARCHY_SCHEMA, table], metadata=metadata)
    backend.create_views(ARCHY_SCHEMA, VIEWS)


def open_insight_snapshot(warehouse: WarehouseResource) -> dict[tuple, dict[str, Any]]:
    """Open insights for the change feed: ``(workspace, insight_id) -> title, kind, severity``."""
    return {
        (row["workspace"], row["insight_id"]): {
            "title": row["title"],
            "kind": row["kind"],
            "severity": row["severity"],
        }
        for row in warehouse.fetch_rows(ARCHY_SCHEMA, "insights")
        if row.get("status") == "open"
    }
