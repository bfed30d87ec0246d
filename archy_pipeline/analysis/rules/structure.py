"""Architecture rules: how recipes fit together (``circular_dependency``, ``high_coupling``,
``bottleneck``, ``high_complexity``)."""

from __future__ import annotations

from collections import Counter, defaultdict, deque

import networkx as nx
import pandas as pd

from archy_pipeline.analysis.graph import Graphs
from archy_pipeline.analysis.insights import Collector
from archy_pipeline.analysis.metrics import COMPLEXITY_WEIGHTS, system_stats
from archy_pipeline.analysis.model import NOTIFY_APPLICATIONS, Model
from archy_pipeline.analysis.thresholds import Thresholds

#: Synchronous calls: the caller waits, so a cycle of them can recurse without end.
SYNC_CALLS = frozenset({"call_recipe", "call_service"})


# -- circular_dependency


def _cycle_through(graph: nx.DiGraph, start: str) -> list[str]:
    """A shortest simple cycle through ``start`` (breadth-first: O(V+E))."""
    if graph.has_edge(start, start):
        return [start]
    parents: dict[str, str | None] = {start: None}
    queue = deque([start])
    while queue:
        node = queue.popleft()
        for succ in sorted(graph.successors(node)):
            if succ == start:
                path = [node]
                while parents[path[-1]] is not None:
                    path.append(parents[path[-1]])  # type: ignore[arg-type]
                return path[::-1]
            if succ not in parents:
                parents[succ] = node
                queue.append(succ)
    return [start]


def circular_dependencies(model: Model, graphs: Graphs, out: Collector) -> None:
    graph = graphs.calls
    for component in nx.strongly_connected_components(graph):
        members = sorted(component)
        start = members[0]
        if len(members) == 1 and not graph.has_edge(start, start):
            continue
        sub = graph.subgraph(members)
        cycle = _cycle_through(sub, start)
        vias = sorted({v for _, _, d in sub.edges(data=True) for v in d["via"]})
        severity = "high" if SYNC_CALLS & set(vias) else "medium"
        names = [out.name(n) for n in cycle]
        loop = " -> ".join([*names, names[0]])
        ws = model.recipes[start].workspace
        size = len(members)
        what = "The recipe calls itself" if size == 1 else f"{size} recipes call each other"
        out.add(
            "circular_dependency",
            "call_cycle",
            severity,
            ws,
            members,
            f"Circular calls: {names[0]}" + ("" if size == 1 else f" and {size - 1} more"),
            f"{what} ({', '.join(vias)}), e.g. {loop}. A job can call back into a recipe "
            "that is still running, recurse without end and exhaust the workspace's jobs.",
            "Break the cycle: move the shared logic into a recipe function that calls no one, "
            "or guard the call with a condition that cannot hold on the way back.",
            {
                "size": size,
                "cycle": cycle,
                "cycle_names": names,
                "members": members,
                "via": vias,
                "edges": sub.number_of_edges(),
            },
        )


def system_loops(model: Model, out: Collector) -> None:
    # Only event-driven flows can ping-pong: a recipe triggered by a change in A that writes B,
    # and one triggered by a change in B that writes A. A lookup starts nothing, and a message
    # or alert posted to a channel (NOTIFY_APPLICATIONS) is not a record copied back.
    flows: dict[tuple[str, str], list[str]] = defaultdict(list)
    for recipe in model.recipes.values():
        for source in recipe.trigger_sources():
            for target in recipe.targets():
                if model.connections[target].application in NOTIFY_APPLICATIONS:
                    continue
                if source != target:
                    flows[(source, target)].append(recipe.node)
    by_systems: dict[tuple[str, ...], list[tuple[str, str]]] = defaultdict(list)
    for a, b in flows:
        if a < b and (b, a) in flows:
            key = tuple(sorted({model.connections[a].system, model.connections[b].system}))
            by_systems[key].append((a, b))
    for key, pairs in sorted(by_systems.items()):
        pairs.sort()
        forward = sorted({r for a, b in pairs for r in flows[(a, b)]})
        backward = sorted({r for a, b in pairs for r in flows[(b, a)]})
        both_active = any(model.recipes[r].active for r in forward) and any(
            model.recipes[r].active for r in backward
        )
        ws = model.systems[key[0]].workspace
        names = [out.name(s) for s in key]
        between = names[0] if len(names) == 1 else f"{names[0]} and {names[1]}"
        out.add(
            "circular_dependency",
            "system_loop",
            "high" if both_active else "medium",
            ws,
            list(key),
            f"Sync loop between {between}",
            f"Recipes triggered by changes in one write to the other, and others triggered "
            f"there write back ({len(forward)} one way, {len(backward)} the other). When they "
            "handle the same object, each write triggers the other recipe again, without end.",
            "Check whether both directions sync the same object. If so, filter the trigger "
            "(e.g. skip records last changed by the integration user) or keep one direction.",
            {
                "connection_pairs": [
                    {
                        "a": a,
                        "b": b,
                        "a_name": out.name(a),
                        "b_name": out.name(b),
                        "recipes_a_to_b": sorted(flows[(a, b)]),
                        "recipes_b_to_a": sorted(flows[(b, a)]),
                    }
                    for a, b in pairs
                ],
                "recipes_one_way": forward,
                "recipes_other_way": backward,
                "both_directions_active": both_active,
            },
        )


# -- high_coupling and bottleneck


def coupling(model: Model, graphs: Graphs, th: Thresholds, out: Collector) -> None:
    stats = system_stats(model, graphs.systems)
    workspace_recipes = Counter(r.workspace for r in model.recipes.values())
    conn_users: dict[str, set[str]] = defaultdict(set)
    for recipe in model.recipes.values():
        for cnode in recipe.uses:
            conn_users[cnode].add(recipe.node)
    for ws in model.workspaces:
        total = workspace_recipes[ws] or 1
        ranked = sorted(
            (s for s in model.systems if model.systems[s].workspace == ws),
            key=lambda s: (-len(stats[s]["recipes"]), -len(stats[s]["neighbours"]), s),
        )
        for rank, node in enumerate(ranked[: th.coupling_top_n], start=1):
            count = len(stats[node]["recipes"])
            if count < th.coupling_min_recipes:
                break
            share = count / total
            neighbours = stats[node]["neighbours"]
            out.add(
                "high_coupling",
                "system",
                "high" if share >= th.coupling_high_share else "medium",
                ws,
                [node],
                f"Highly coupled system: {out.name(node)} (#{rank})",
                f"{count} recipes ({share:.0%} of the workspace) use {out.name(node)} through "
                f"{len(stats[node]['connections'])} connection(s), and it exchanges data with "
                f"{len(neighbours)} other system(s). Changes and outages there ripple widely.",
                "Give it an owner and a change process; consider an API or event layer "
                "(recipe functions, Pub/Sub) so recipes stop calling it directly.",
                {
                    "rank": rank,
                    "recipe_count": count,
                    "share": round(share, 4),
                    "connections": stats[node]["connections"],
                    "neighbour_systems": neighbours,
                    "upstream_systems": stats[node]["upstream"],
                    "downstream_systems": stats[node]["downstream"],
                },
            )
        conns = sorted(
            (c for c in model.connections.values() if c.workspace == ws and conn_users[c.node]),
            key=lambda c: (-len(conn_users[c.node]), c.node),
        )
        for rank, conn in enumerate(conns[: th.coupling_top_n], start=1):
            count = len(conn_users[conn.node])
            if count < th.coupling_min_recipes:
                break
            if len(model.systems[conn.system].connections) < 2:
                continue
            share = count / total
            out.add(
                "high_coupling",
                "instance",
                "high" if share >= th.coupling_high_share else "medium",
                ws,
                [conn.node],
                f"Highly coupled connection: {conn.name} (#{rank})",
                f"{count} recipes ({share:.0%} of the workspace) use this connection to "
                f"{out.name(conn.system)}.",
                "Spread the load or split by purpose (one integration user per domain), so one "
                "expired credential or rate limit does not stop them all.",
                {
                    "rank": rank,
                    "recipe_count": count,
                    "share": round(share, 4),
                    "system": conn.system,
                    "environment": conn.environment,
                },
            )


def bottlenecks(model: Model, graphs: Graphs, th: Thresholds, out: Collector) -> None:
    metrics = graphs.metrics
    conn_users: dict[str, set[str]] = defaultdict(set)
    for recipe in model.recipes.values():
        for cnode in recipe.uses:
            conn_users[cnode].add(recipe.node)
    candidates: list[tuple[str, str, set[str]]] = []  # (node, graph, direct recipes)
    inst = metrics["instances"]
    for node in model.connections:
        if node in inst.articulation or inst.betweenness[node] >= th.bottleneck_min_betweenness:
            candidates.append((node, "instances", conn_users[node]))
    calls = metrics["calls"]
    for node in model.recipes:
        if graphs.calls.in_degree(node) == 0:
            continue
        if node in calls.articulation or calls.betweenness[node] >= th.bottleneck_min_betweenness:
            candidates.append((node, "calls", set()))
    sysm = metrics["systems"]
    for node, system in model.systems.items():
        if node in sysm.articulation or sysm.betweenness[node] >= th.bottleneck_min_betweenness:
            direct = set().union(*(conn_users[c] for c in system.connections))
            candidates.append((node, "systems", direct))
    closure = graphs.dependents
    for node, graph_name, direct in candidates:
        if graph_name == "calls":  # its callers, not itself
            bits = closure.bits[node] & ~(1 << closure.index[node])
        else:
            bits = closure.union(direct)
        count = bits.bit_count()
        if count < th.bottleneck_min_dependents:
            continue
        dependents = closure.decode(bits, 50)
        callers_count = count - len(direct)
        m = metrics[graph_name]
        subject = out.subject(node)
        severity = "high" if count >= 3 * th.bottleneck_min_dependents else "medium"
        reasons = []
        if node in m.articulation:
            reasons.append("its loss splits the graph in two")
        if m.betweenness[node] >= th.bottleneck_min_betweenness:
            reasons.append(f"it lies on many paths (betweenness {m.betweenness[node]:.3f})")
        out.add(
            "bottleneck",
            "single_point_of_failure",
            severity,
            _subject_workspace(model, node),
            [node],
            f"Single point of failure: {subject['name']} ({subject['type']})",
            f"{count} recipes break if this {subject['type']} goes down "
            f"({len(direct)} use it directly, {callers_count} call those), and "
            + " and ".join(reasons)
            + ".",
            "Monitor it, document a fallback, and avoid routing unrelated flows through it "
            "(separate connections or recipe functions per domain).",
            {
                "graph": graph_name,
                "articulation_point": node in m.articulation,
                "betweenness": round(m.betweenness[node], 6),
                "dependents": count,
                "direct_recipes": len(direct),
                "caller_recipes": callers_count,
                "dependent_recipes": dependents[:50],
            },
        )


def _subject_workspace(model: Model, node: str) -> str:
    for table in (model.recipes, model.connections, model.systems):
        if node in table:
            return table[node].workspace  # type: ignore[attr-defined]
    return ""


# -- high_complexity


def high_complexity(frame: pd.DataFrame, th: Thresholds, out: Collector) -> None:
    for row in frame.itertuples(index=False):
        if row.percentile < th.complexity_percentile or row.score < th.complexity_min_score:
            continue
        parts = {k: int(getattr(row, k)) for k in COMPLEXITY_WEIGHTS}
        out.add(
            "high_complexity",
            "complexity_score",
            "high" if row.score >= 2 * th.complexity_min_score else "medium",
            row.workspace,
            [row.recipe],
            f"Complex recipe: {row.name} (score {row.score:.0f})",
            f"Score {row.score:.0f}, percentile {row.percentile:.1f} in the workspace: "
            f"{parts['steps']} steps, depth {parts['max_depth']}, {parts['branches']} branches, "
            f"{parts['loops']} loops, {parts['calls']} calls, {parts['systems']} systems.",
            "Split it into a small orchestrating recipe and recipe functions, one per system "
            "or step of the process; flatten deep if/else nesting.",
            {"score": float(row.score), "percentile": float(row.percentile), **parts},
        )
