"""Numbers derived from the graphs and the model: node centrality (betweenness, PageRank,
components, articulation points), who breaks when a recipe breaks, system statistics and each
recipe's complexity score. How each is defined: docs/analysis.md."""

from __future__ import annotations

import random
import sys
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import networkx as nx
import numpy as np
import pandas as pd

from archy_pipeline.analysis.model import (
    BRANCH_KEYWORDS,
    CALL_REFERENCE_KINDS,
    LOOP_KEYWORDS,
    Model,
)

#: Above this many non-isolated nodes, betweenness is estimated from sampled sources.
BETWEENNESS_EXACT_MAX_NODES = 1_000
#: Source nodes sampled for the estimate.
BETWEENNESS_SAMPLES = 128
#: Seed of the sampling, fixed so two runs on the same input agree.
BETWEENNESS_SEED = 42

#: ``integration_calls.via`` values where the caller breaks when the callee breaks.
BREAKING_CALLS = frozenset({"call_recipe", "call_recipe_async", "call_service"})

# ---------------------------------------------------------------------- centrality


@dataclass(frozen=True)
class NodeMetrics:
    """One graph's node metrics."""

    betweenness: dict[str, float]
    pagerank: dict[str, float]
    component: dict[str, int]
    articulation: set[str]


def node_metrics(graph: nx.DiGraph, exact_max: int, samples: int, seed: int) -> NodeMetrics:
    """Betweenness (see :func:`betweenness`), PageRank, weakly connected components and the
    articulation points of the undirected graph."""
    return NodeMetrics(
        betweenness=betweenness(graph, exact_max, samples, seed),
        pagerank=pagerank(graph),
        component=components(graph),
        articulation=set(nx.articulation_points(graph.to_undirected(as_view=True))),
    )


def pagerank(graph: nx.DiGraph, alpha: float = 0.85, tol: float = 1e-10) -> dict[str, float]:
    """PageRank by numpy power iteration; unweighted, dangling nodes spread evenly, as
    :func:`networkx.pagerank` does."""
    nodes = list(graph)
    n = len(nodes)
    if n == 0:
        return {}
    index = {node: i for i, node in enumerate(nodes)}
    m = graph.number_of_edges()
    src = np.fromiter((index[u] for u, _ in graph.edges()), dtype=np.int64, count=m)
    dst = np.fromiter((index[v] for _, v in graph.edges()), dtype=np.int64, count=m)
    out_degree = np.bincount(src, minlength=n).astype(float)
    dangling = out_degree == 0
    weights = np.zeros(m) if m == 0 else 1.0 / out_degree[src]
    x = np.full(n, 1.0 / n)
    for _ in range(1000):
        previous = x
        spread = np.bincount(dst, weights=previous[src] * weights, minlength=n)
        x = alpha * (spread + previous[dangling].sum() / n) + (1 - alpha) / n
        if np.abs(x - previous).sum() < n * tol:
            break
    x = x / x.sum()
    return {node: float(value) for node, value in zip(nodes, x)}


def _igraph() -> Any:
    """The igraph module, imported without matplotlib.

    igraph's drawing package imports ``matplotlib.pyplot`` whenever matplotlib is installed
    (``find_matplotlib``), 0.3 s of CPU at every analysis; archy never draws with igraph. So a
    first import sees matplotlib as missing (a ``None`` entry in ``sys.modules`` makes its
    import fail) and igraph keeps a placeholder for it; the entry is removed right after, so
    any other code imports matplotlib as usual.
    """
    if "igraph" in sys.modules or "matplotlib" in sys.modules:
        import igraph

        return igraph
    sys.modules["matplotlib"] = None  # type: ignore[assignment]
    try:
        import igraph
    finally:
        del sys.modules["matplotlib"]
    return igraph


def betweenness(graph: nx.DiGraph, exact_max: int, samples: int, seed: int) -> dict[str, float]:
    """Normalised directed betweenness; sampled sources above ``exact_max`` linked nodes.

    Isolated nodes (a self-loop does not count) lie on no path and start none: the sources are
    the other nodes, in id order, or ``samples`` of them drawn with ``random.Random(seed)``,
    whose sums are scaled by linked nodes / samples. The sums are Brandes' over the shortest
    paths from those sources to every linked node (``networkx.betweenness_centrality_subset``
    with every linked node a target), computed by igraph's C core: the same sums as networkx's
    Python (to 1e-17 at 5,000 recipes, tests/test_analysis.py) in 1/40 of the time (6.5 s ->
    0.17 s CPU on the 6,250-node instance graph of 5,000 recipes). They are normalised by the
    whole graph's ``(n-1)(n-2)``. ``betweenness_centrality(k=...)`` is not used because
    networkx 3.5 and later scale sampled source nodes by ``1/(k-1)``, not ``1/k``, which would
    change the estimate.
    """
    igraph = _igraph()

    n = graph.number_of_nodes()
    result = dict.fromkeys(graph, 0.0)
    if n < 3:
        return result
    linked = sorted(v for v in graph if any(w != v for w in nx.all_neighbors(graph, v)))
    if len(linked) < 3:
        return result
    if len(linked) <= exact_max:
        sources, scale = linked, 1.0
    else:
        k = min(samples, len(linked))
        sources, scale = random.Random(seed).sample(linked, k), len(linked) / k
    index = {node: i for i, node in enumerate(linked)}
    edges = [(index[u], index[v]) for u, v in graph.subgraph(linked).edges() if u != v]
    linked_graph = igraph.Graph(n=len(linked), edges=edges, directed=True)
    sums = linked_graph.betweenness(directed=True, sources=[index[v] for v in sources])
    norm = scale / ((n - 1) * (n - 2))
    for node, i in index.items():
        result[node] = sums[i] * norm
    return result


def components(graph: nx.DiGraph) -> dict[str, int]:
    """Weakly connected components numbered in the order of their smallest node id."""
    parts = sorted((sorted(c) for c in nx.weakly_connected_components(graph)), key=lambda c: c[0])
    return {node: i for i, part in enumerate(parts) for node in part}


# ---------------------------------------------------------------------- dependents


@dataclass(frozen=True)
class Dependents:
    """For every recipe, the recipes that break when it breaks (itself and its transitive
    callers over breaking calls) as a bitset over ``nodes`` (sorted recipe ids)."""

    nodes: list[str]
    index: dict[str, int]
    bits: dict[str, int]

    def union(self, recipes: Iterable[str]) -> int:
        value = 0
        for recipe in recipes:
            value |= self.bits[recipe]
        return value

    def decode(self, value: int, limit: int | None = None) -> list[str]:
        """The recipes in ``value``, smallest ids first, at most ``limit`` of them."""
        found: list[str] = []
        while value and (limit is None or len(found) < limit):
            low = value & -value
            found.append(self.nodes[low.bit_length() - 1])
            value ^= low
        return found


def dependents(calls: nx.DiGraph) -> Dependents:
    """Dependents of every recipe at once: one pass over the condensation of the breaking
    calls in topological order (callers first), OR-ing bitsets; O(E·V/64) word operations,
    where a breadth-first search per candidate would cost O(E) each."""
    breaking = nx.DiGraph()
    breaking.add_nodes_from(calls)
    breaking.add_edges_from(
        (u, v) for u, v, data in calls.edges(data=True) if BREAKING_CALLS & set(data["via"])
    )
    nodes = sorted(calls)
    index = {node: i for i, node in enumerate(nodes)}
    condensed = nx.condensation(breaking)
    component_bits: dict[int, int] = {}
    for component in nx.topological_sort(condensed):
        value = 0
        for member in condensed.nodes[component]["members"]:
            value |= 1 << index[member]
        for caller in condensed.predecessors(component):
            value |= component_bits[caller]
        component_bits[component] = value
    mapping = condensed.graph["mapping"]
    return Dependents(nodes, index, {n: component_bits[mapping[n]] for n in nodes})


# ---------------------------------------------------------------------- systems and recipes


def system_stats(model: Model, flows: nx.DiGraph) -> dict[str, dict[str, Any]]:
    """Per system: the recipes using its connections, its neighbours in the flow graph
    (both ways, upstream, downstream) and its connections."""
    users: dict[str, set[str]] = defaultdict(set)
    for recipe in model.recipes.values():
        for cnode in recipe.uses:
            users[model.connections[cnode].system].add(recipe.node)
    stats = {}
    for node, system in model.systems.items():
        neighbours = (set(flows.predecessors(node)) | set(flows.successors(node))) - {node}
        stats[node] = {
            "recipes": sorted(users[node]),
            "neighbours": sorted(neighbours),
            "upstream": sorted(set(flows.predecessors(node)) - {node}),
            "downstream": sorted(set(flows.successors(node)) - {node}),
            "connections": list(system.connections),
        }
    return stats


COMPLEXITY_WEIGHTS = {
    "steps": 1,
    "max_depth": 2,
    "branches": 2,
    "loops": 3,
    "calls": 2,
    "systems": 3,
}
COMPLEXITY_COLUMNS = (
    "workspace", "recipe_id", "recipe", "name", "score", "percentile", "steps", "max_depth",
    "branches", "loops", "calls", "systems",
)  # fmt: skip


def complexity_table(model: Model) -> pd.DataFrame:
    """Each current recipe's complexity score, its components and its percentile in the
    workspace (:data:`COMPLEXITY_COLUMNS`), highest first per workspace."""
    rows = []
    for node, recipe in model.recipes.items():
        live = [s for s in model.steps.get(node, ()) if not s.skipped]
        parts = {
            "steps": recipe.step_count,
            "max_depth": recipe.max_depth,
            "branches": sum(1 for s in live if s.keyword in BRANCH_KEYWORDS),
            "loops": sum(1 for s in live if s.keyword in LOOP_KEYWORDS),
            "calls": sum(1 for s in live if s.reference_kind in CALL_REFERENCE_KINDS),
            "systems": len(recipe.uses),
        }
        score = sum(COMPLEXITY_WEIGHTS[k] * v for k, v in parts.items())
        rows.append(
            (recipe.workspace, recipe.recipe_id, node, recipe.name, score, 0.0, *parts.values())
        )
    frame = pd.DataFrame(rows, columns=list(COMPLEXITY_COLUMNS))
    if not frame.empty:
        frame["score"] = frame["score"].astype(float)
        frame["percentile"] = (
            frame.groupby("workspace")["score"].rank(method="max", pct=True) * 100
        ).round(2)
    return frame.sort_values(["workspace", "score", "recipe_id"], ascending=[True, False, True])
