"""What breaks when a system, connection or recipe goes down (``archy-pipeline impact``)."""

from __future__ import annotations

from collections import defaultdict, deque
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import networkx as nx

from archy_pipeline.analysis.graph import Graphs
from archy_pipeline.analysis.inputs import AnalysisInput
from archy_pipeline.analysis.insights import Collector
from archy_pipeline.analysis.metrics import BREAKING_CALLS
from archy_pipeline.analysis.model import Model


class ImpactTargetError(ValueError):
    """The impact target matches nothing, or several things (``candidates`` lists them)."""

    def __init__(self, message: str, candidates: list[dict[str, str]] | None = None) -> None:
        super().__init__(message)
        self.candidates = candidates or []


@dataclass(frozen=True)
class ImpactReport:
    """What breaks when ``target`` goes down."""

    target: dict[str, str]
    #: The connections going down with it (a system's connections; a connection itself).
    connections: list[dict[str, str]]
    #: Recipes using it directly (the recipe itself for a recipe).
    direct_recipes: list[dict[str, str]]
    #: Recipes breaking because they call an affected recipe; ``calls`` names that callee.
    caller_recipes: list[dict[str, str]]
    #: Systems the affected recipes write to, through connections that are not down.
    downstream_systems: list[dict[str, str]]

    @property
    def affected_recipes(self) -> list[dict[str, str]]:
        return [*self.direct_recipes, *self.caller_recipes]


def _candidates(model: Model) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    for r in model.recipes.values():
        items.append(
            {"id": r.node, "type": "recipe", "name": r.name, "workspace": r.workspace,
             "keys": {str(r.recipe_id)}}
        )  # fmt: skip
    for c in model.connections.values():
        items.append(
            {"id": c.node, "type": "connection", "name": c.name, "workspace": c.workspace,
             "keys": {str(c.connection_id)}}
        )  # fmt: skip
    for s in model.systems.values():
        apps = {(model.connections[c].application or "").lower() for c in s.connections} - {""}
        keys = {s.key.lower(), *apps} | ({s.system_id.lower()} if s.system_id else set())
        items.append(
            {"id": s.node, "type": "system", "name": s.label, "workspace": s.workspace,
             "keys": keys}
        )  # fmt: skip
    return items


def _by_id(items: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    found: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for item in items:
        found[item["id"]].append(item)
    return found


def _resolve(
    model: Model,
    target: str,
    items: list[dict[str, Any]] | None = None,
    by_id: dict[str, list[dict[str, Any]]] | None = None,
) -> dict[str, Any]:
    """The one candidate ``target`` names; ``by_id`` (:func:`_by_id` of ``items``) makes the
    lookup of a node id a dict lookup instead of a scan of every candidate."""
    wanted = target.strip()
    lowered = wanted.lower()
    items = _candidates(model) if items is None else items
    by_id = _by_id(items) if by_id is None else by_id
    stages = [
        lambda: by_id.get(wanted, []),
        lambda: [c for c in items if lowered in c["keys"]],
        lambda: [c for c in items if c["name"].lower() == lowered],
        lambda: [c for c in items if lowered in c["name"].lower()],
    ]
    for stage in stages:
        found = stage()
        if len(found) == 1:
            return found[0]
        if len(found) > 1:
            shown = [{k: c[k] for k in ("id", "type", "name")} for c in found]
            listing = "\n".join(f"  {c['id']}  ({c['type']}) {c['name']}" for c in shown[:30])
            more = f"\n  ... and {len(shown) - 30} more" if len(shown) > 30 else ""
            raise ImpactTargetError(
                f"{target!r} is ambiguous: {len(found)} matches; name one by its id:\n"
                f"{listing}{more}",
                shown,
            )
    if not wanted:
        raise ImpactTargetError("no target given: name a system, connection or recipe")
    raise ImpactTargetError(
        f"{target!r} matches no system, connection or recipe (by id, name or application)"
    )


def impact(graphs: Graphs, inp: AnalysisInput, target: str) -> ImpactReport:
    """What breaks if ``target`` goes down.

    ``target``: a node id (``connection:<ws>:<id>``), a connection or recipe id, a system id
    or application name, or a connection/recipe/system name (case-insensitive exact, else a
    unique substring). Several matches raise :class:`ImpactTargetError` listing them.
    """
    return impacts(graphs, inp, [target])[0]


def impacts(graphs: Graphs, inp: AnalysisInput, targets: Iterable[str]) -> list[ImpactReport]:
    """:func:`impact` of each of ``targets``, in order; what the targets share (the lookup of
    names and who uses each connection) is computed once, so a report on every system and
    connection of a large workspace takes seconds, not minutes."""
    model = graphs.model_for(inp)
    items = _candidates(model)
    by_id = _by_id(items)
    users: dict[str, set[str]] = defaultdict(set)
    for recipe in model.recipes.values():
        for cnode in recipe.uses:
            users[cnode].add(recipe.node)
    writes: dict[str, list[tuple[str, str]]] = {}

    def written(recipe: str) -> list[tuple[str, str]]:
        """What ``recipe`` writes, as (connection, its system) pairs; each recipe once."""
        if recipe not in writes:
            writes[recipe] = [
                (c, model.connections[c].system) for c in model.recipes[recipe].targets()
            ]
        return writes[recipe]

    out = Collector(model)

    def key(n: str) -> tuple:
        return (out.name(n).lower(), n)

    reports = []
    for target in targets:
        found = _resolve(model, target, items, by_id)
        node, kind = found["id"], found["type"]
        if kind == "recipe":
            connections: list[str] = []
            direct = {node}
        elif kind == "connection":
            connections = [node]
            direct = set(users[node])
        else:
            connections = list(model.systems[node].connections)
            direct = set().union(*(users[c] for c in connections)) if connections else set()
        callers = _callers(graphs.calls, direct)
        affected = direct | set(callers)
        down = set(connections)
        downstream = sorted(
            {
                system
                for r in affected
                for c, system in written(r)
                if c not in down and system != node
            }
        )
        reports.append(
            ImpactReport(
                target=out.subject(node),
                connections=[out.subject(c) for c in sorted(connections, key=key)],
                direct_recipes=[out.subject(r) for r in sorted(direct, key=key)],
                caller_recipes=[
                    {**out.subject(r), "calls": out.name(callers[r])}
                    for r in sorted(callers, key=key)
                ],
                downstream_systems=[out.subject(s) for s in downstream],
            )
        )
    return reports


def format_impact(report: ImpactReport) -> str:
    """The report as plain text for the command line."""
    t = report.target
    lines = [
        f"Impact of {t['type']} {t['name']!r} ({t['id']}) going down:",
        f"  {len(report.affected_recipes)} recipe(s) affected: {len(report.direct_recipes)} "
        f"directly, {len(report.caller_recipes)} through calls; "
        f"{len(report.downstream_systems)} downstream system(s).",
    ]
    if report.connections and t["type"] == "system":
        lines.append("\nConnections:")
        lines += [f"  - {c['name']} ({c['id']})" for c in report.connections]
    lines.append(
        "\nThe recipe itself:" if t["type"] == "recipe" else "\nRecipes using it directly:"
    )
    lines += [f"  - {r['name']} ({r['id']})" for r in report.direct_recipes] or ["  (none)"]
    lines.append("\nRecipes breaking through calls:")
    lines += [
        f"  - {r['name']} ({r['id']}), calls {r['calls']!r}" for r in report.caller_recipes
    ] or ["  (none)"]
    lines.append("\nDownstream systems (written to by affected recipes):")
    lines += [f"  - {s['name']} ({s['id']})" for s in report.downstream_systems] or ["  (none)"]
    return "\n".join(lines)


def _callers(graph: nx.DiGraph, recipes: Iterable[str]) -> dict[str, str]:
    """Recipes broken through calls when ``recipes`` break: caller -> the callee breaking it."""
    broken = set(recipes)
    found: dict[str, str] = {}
    queue = deque(sorted(broken))
    while queue:
        node = queue.popleft()
        for caller in sorted(graph.predecessors(node)):
            if caller in broken:
                continue
            if not BREAKING_CALLS & set(graph.edges[caller, node]["via"]):
                continue
            broken.add(caller)
            found[caller] = node
            queue.append(caller)
    return found
