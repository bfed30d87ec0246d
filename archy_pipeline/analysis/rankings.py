"""The ranking tables behind the views: per-recipe complexity and per-system dependencies."""

from __future__ import annotations

import pandas as pd

from archy_pipeline.analysis.graph import Graphs
from archy_pipeline.analysis.inputs import AnalysisInput
from archy_pipeline.analysis.metrics import complexity_table, system_stats

SYSTEM_RANKING_COLUMNS = (
    "workspace", "system", "system_key", "name", "rank", "recipe_count", "connection_count",
    "upstream_systems", "downstream_systems", "neighbour_systems", "dependent_recipes",
)  # fmt: skip


def ranking_tables(inp: AnalysisInput, graphs: Graphs) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(per-recipe complexity, per-system dependency ranking), for views.

    Complexity: :data:`COMPLEXITY_COLUMNS`, the score's components and its percentile in the
    workspace, highest first. Systems: :data:`SYSTEM_RANKING_COLUMNS`, ranked per workspace by
    the recipes using them, then neighbour systems; ``dependent_recipes`` adds the recipes that
    call those (what :func:`impact` counts).
    """
    model = graphs.model_for(inp)
    complexity = complexity_table(model).reset_index(drop=True)
    stats = system_stats(model, graphs.systems)
    closure = graphs.dependents
    rows = []
    for ws in model.workspaces:
        ranked = sorted(
            (s for s in model.systems if model.systems[s].workspace == ws),
            key=lambda s: (-len(stats[s]["recipes"]), -len(stats[s]["neighbours"]), s),
        )
        for rank, node in enumerate(ranked, start=1):
            s = stats[node]
            system = model.systems[node]
            dependents = closure.union(s["recipes"]).bit_count()
            rows.append(
                (
                    ws, node, system.key, system.label, rank, len(s["recipes"]),
                    len(s["connections"]), len(s["upstream"]), len(s["downstream"]),
                    len(s["neighbours"]), dependents,
                )
            )  # fmt: skip
    return complexity, pd.DataFrame(rows, columns=list(SYSTEM_RANKING_COLUMNS))
