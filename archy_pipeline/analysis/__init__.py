"""Graphs, rankings and insights over the archy tables: what the integrations look like as a
whole, and what deserves attention. What each graph, metric and rule means: docs/analysis.md.

Pure: pandas, numpy and networkx, no Dagster or dlt import. The input is an
:class:`AnalysisInput` (one DataFrame per table); :func:`build_graphs` reads it once, and
:func:`graph_tables`, :func:`find_insights`, :func:`ranking_tables` and :func:`impact` work
from the graphs. Modules: ``inputs`` (the frames), ``model`` (the input read into records),
``graph`` (the three graphs and their tables), ``metrics`` (centrality, dependents,
complexity), ``thresholds``, ``insights`` (the record, roll-ups, fix-first order), ``rules``
(one module per family), ``rankings`` and ``impact``.
"""

from archy_pipeline.analysis.graph import Graphs, build_graphs, graph_tables
from archy_pipeline.analysis.impact import (
    ImpactReport,
    ImpactTargetError,
    format_impact,
    impact,
    impacts,
)
from archy_pipeline.analysis.inputs import (
    INPUT_COLUMNS,
    INPUT_TABLES,
    STEP_DETAIL_COLUMNS,
    AnalysisInput,
    add_step_details,
    error_handling_details,
)
from archy_pipeline.analysis.insights import (
    KINDS,
    Insight,
    insight_id,
    insights_table,
    priority_key,
)
from archy_pipeline.analysis.metrics import (
    BETWEENNESS_EXACT_MAX_NODES,
    BETWEENNESS_SAMPLES,
    BETWEENNESS_SEED,
    pagerank,
)
from archy_pipeline.analysis.model import connection_node, recipe_node, system_node
from archy_pipeline.analysis.rankings import ranking_tables
from archy_pipeline.analysis.rules import find_insights
from archy_pipeline.analysis.rules.performance import BATCH_ACTIONS, POLLING_TRIGGERS
from archy_pipeline.analysis.thresholds import Thresholds, parse_thresholds

__all__ = [
    "BATCH_ACTIONS",
    "BETWEENNESS_EXACT_MAX_NODES",
    "BETWEENNESS_SAMPLES",
    "BETWEENNESS_SEED",
    "INPUT_COLUMNS",
    "INPUT_TABLES",
    "KINDS",
    "POLLING_TRIGGERS",
    "STEP_DETAIL_COLUMNS",
    "AnalysisInput",
    "Graphs",
    "ImpactReport",
    "ImpactTargetError",
    "Insight",
    "Thresholds",
    "add_step_details",
    "build_graphs",
    "connection_node",
    "error_handling_details",
    "find_insights",
    "format_impact",
    "graph_tables",
    "impact",
    "impacts",
    "insight_id",
    "insights_table",
    "pagerank",
    "parse_thresholds",
    "priority_key",
    "ranking_tables",
    "recipe_node",
    "system_node",
]
