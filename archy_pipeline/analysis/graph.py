"""The three dependency graphs (recipe calls, recipes and connections, system flows), built
once from the model, and the rows of ``archy.graph_nodes`` and ``archy.graph_edges``."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from functools import cached_property

import networkx as nx
import pandas as pd

from archy_pipeline.analysis.inputs import AnalysisInput
from archy_pipeline.analysis.metrics import (
    BETWEENNESS_EXACT_MAX_NODES,
    BETWEENNESS_SAMPLES,
    BETWEENNESS_SEED,
    Dependents,
    NodeMetrics,
    dependents,
    node_metrics,
)
from archy_pipeline.analysis.model import Model, prepare

GRAPH_NAMES = ("calls", "instances", "systems")


@dataclass(frozen=True)
class Graphs:
    """The three graphs, how betweenness is computed, and the model they were built from.

    What is derived from the graphs alone is computed on first use and kept (the graphs are
    not changed after :func:`build_graphs`): :attr:`metrics` and :attr:`dependents`.
    """

    calls: nx.DiGraph
    instances: nx.DiGraph
    systems: nx.DiGraph
    betweenness_exact_max_nodes: int = BETWEENNESS_EXACT_MAX_NODES
    betweenness_samples: int = BETWEENNESS_SAMPLES
    betweenness_seed: int = BETWEENNESS_SEED
    #: The model :func:`build_graphs` read (None for graphs made otherwise).
    model: Model | None = field(default=None, repr=False, compare=False)

    def by_name(self) -> dict[str, nx.DiGraph]:
        return {"calls": self.calls, "instances": self.instances, "systems": self.systems}

    def model_for(self, inp: AnalysisInput) -> Model:
        """The model of ``inp``: the graphs' own when they were built from it."""
        if self.model is not None and self.model.source is inp:
            return self.model
        return prepare(inp)

    @cached_property
    def metrics(self) -> dict[str, NodeMetrics]:
        """Node metrics per graph name."""
        return {
            name: node_metrics(
                graph,
                self.betweenness_exact_max_nodes,
                self.betweenness_samples,
                self.betweenness_seed,
            )
            for name, graph in self.by_name().items()
        }

    @cached_property
    def dependents(self) -> Dependents:
        """Who breaks when each recipe breaks (over the call graph's breaking calls)."""
        return dependents(self.calls)


def build_graphs(
    inp: AnalysisInput,
    *,
    betweenness_exact_max_nodes: int = BETWEENNESS_EXACT_MAX_NODES,
    betweenness_samples: int = BETWEENNESS_SAMPLES,
    betweenness_seed: int = BETWEENNESS_SEED,
) -> Graphs:
    """The recipe call graph, the recipe <-> connection graph and the system flow graph
    (docs/analysis.md says which nodes and edges each has)."""
    model = prepare(inp)
    calls = nx.DiGraph(name="calls")
    instances = nx.DiGraph(name="instances")
    systems = nx.DiGraph(name="systems")
    for recipe in model.recipes.values():
        attrs = {
            "type": "recipe",
            "workspace": recipe.workspace,
            "label": recipe.name,
            "key": recipe.recipe_id,
            "status": recipe.status,
            "trigger_application": recipe.trigger_application,
            "callable": recipe.callable,
        }
        calls.add_node(recipe.node, **attrs)
        instances.add_node(recipe.node, **attrs)
    for conn in model.connections.values():
        instances.add_node(
            conn.node,
            type="connection",
            workspace=conn.workspace,
            label=conn.name,
            key=conn.connection_id,
            application=conn.application,
            environment=conn.environment,
            status=conn.status,
            system=conn.system,
            current=conn.current,
        )
    for system in model.systems.values():
        systems.add_node(
            system.node,
            type="system",
            workspace=system.workspace,
            label=system.label,
            key=system.key,
            system_id=system.system_id,
            applications=sorted(
                {model.connections[c].application or "" for c in system.connections} - {""}
            ),
        )

    for call in model.calls:
        recipe_id = model.recipes[call.caller].recipe_id
        if calls.has_edge(call.caller, call.callee):
            data = calls.edges[call.caller, call.callee]
            data["via"].add(call.via)
            data["detail"].append(call.detail)
            data["step_numbers"].append(call.step_number)
        else:
            calls.add_edge(
                call.caller,
                call.callee,
                via={call.via},
                detail=[call.detail],
                step_numbers=[call.step_number],
                recipe_ids=[recipe_id],
            )
    for _, _, data in calls.edges(data=True):
        data["kind"] = "pub_sub" if data["via"] == {"pub_sub"} else "calls"
        data["via"] = sorted(data["via"])

    flows: dict[tuple[str, str], set[int]] = defaultdict(set)
    for recipe in model.recipes.values():
        for cnode, role in sorted(recipe.uses.items()):
            if role in ("source", "both"):
                instances.add_edge(cnode, recipe.node, kind="reads", recipe_ids=[recipe.recipe_id])
            if role in ("target", "both"):
                instances.add_edge(recipe.node, cnode, kind="writes", recipe_ids=[recipe.recipe_id])
        for source in recipe.sources():
            for target in recipe.targets():
                if source != target:
                    pair = (model.connections[source].system, model.connections[target].system)
                    flows[pair].add(recipe.recipe_id)
    for (source, target), recipe_ids in sorted(flows.items()):
        ids = sorted(recipe_ids)
        systems.add_edge(source, target, kind="flows_to", recipe_ids=ids, recipe_count=len(ids))
    return Graphs(
        calls,
        instances,
        systems,
        betweenness_exact_max_nodes,
        betweenness_samples,
        betweenness_seed,
        model=model,
    )


NODE_COLUMNS = (
    "graph", "id", "workspace", "type", "label", "degree", "in_degree", "out_degree",
    "betweenness", "pagerank", "component",
)  # fmt: skip
EDGE_COLUMNS = ("graph", "source", "target", "workspace", "kind", "recipe_ids", "recipe_count")


def graph_tables(graphs: Graphs) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Rows for ``archy.graph_nodes`` and ``archy.graph_edges``, one per graph and node/edge.

    A recipe is a node of both ``calls`` and ``instances``, so both tables carry a ``graph``
    column (``calls``, ``instances`` or ``systems``); metrics are per graph.
    """
    metrics = graphs.metrics
    node_rows: list[tuple] = []
    edge_rows: list[tuple] = []
    for name, graph in graphs.by_name().items():
        m = metrics[name]
        for node, data in sorted(graph.nodes(data=True)):
            node_rows.append(
                (
                    name, node, data["workspace"], data["type"], data["label"],
                    graph.degree(node), graph.in_degree(node), graph.out_degree(node),
                    m.betweenness[node], m.pagerank[node], m.component[node],
                )
            )  # fmt: skip
        for source, target, data in sorted(graph.edges(data=True), key=lambda e: (e[0], e[1])):
            ids = sorted(data.get("recipe_ids", ()))
            edge_rows.append(
                (
                    name, source, target, graph.nodes[source]["workspace"], data["kind"],
                    ",".join(str(i) for i in ids), len(ids),
                )
            )  # fmt: skip
    nodes = pd.DataFrame(node_rows, columns=list(NODE_COLUMNS))
    edges = pd.DataFrame(edge_rows, columns=list(EDGE_COLUMNS))
    return nodes, edges
