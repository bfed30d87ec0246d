"""The ``consolidation_candidate`` rules: recipes with the same trigger and targets, and
near-duplicate step sequences."""

from __future__ import annotations

import difflib
import math
from collections import defaultdict

import networkx as nx
import numpy as np

from archy_pipeline.analysis.insights import Collector
from archy_pipeline.analysis.model import Model, Step
from archy_pipeline.analysis.thresholds import Thresholds


def _tokens(steps: list[Step]) -> tuple[str, ...]:
    return tuple(
        f"{s.application}.{s.action}" if s.keyword in ("trigger", "action") else s.keyword
        for s in steps
        if not s.skipped
    )


def _similar_pairs(
    sequences: list[tuple[str, tuple[str, ...]]], threshold: float
) -> list[tuple[str, str, float]]:
    """Pairs at or above ``threshold`` (difflib ratio), pruned before difflib runs.

    Sorted by length, a sequence is only compared with the next ones while the lengths alone
    allow the ratio (``2·min/(a+b)``); then the multiset bound difflib's ``quick_ratio`` uses
    (``2·Σ min(count_a, count_b)/(a+b)``) is computed for the whole window at once with numpy;
    only pairs passing both get the exact (quadratic) ratio.
    """
    ordered = sorted(sequences, key=lambda item: (len(item[1]), item[0]))
    if len(ordered) < 2:
        return []
    vocabulary: dict[str, int] = {}
    encoded = [[vocabulary.setdefault(t, len(vocabulary)) for t in seq] for _, seq in ordered]
    counts = np.zeros((len(ordered), len(vocabulary)), dtype=np.int32)
    for i, tokens in enumerate(encoded):
        counts[i] = np.bincount(tokens, minlength=len(vocabulary))
    lengths = np.array([len(seq) for _, seq in ordered], dtype=np.int64)
    limit = (2 - threshold) / threshold if threshold > 0 else math.inf
    matcher = difflib.SequenceMatcher(None, autojunk=False)
    pairs = []
    for i, (node_a, seq_a) in enumerate(ordered):
        end = int(np.searchsorted(lengths, lengths[i] * limit, side="right"))
        if end <= i + 1:
            continue
        matches = np.minimum(counts[i], counts[i + 1 : end]).sum(axis=1)
        bound = 2.0 * matches / (lengths[i] + lengths[i + 1 : end])
        candidates = np.nonzero(bound >= threshold)[0]
        if not len(candidates):
            continue
        matcher.set_seq2(seq_a)
        for j in candidates + i + 1:
            node_b, seq_b = ordered[j]
            matcher.set_seq1(seq_b)
            ratio = matcher.ratio()
            if ratio >= threshold:
                a, b = sorted((node_a, node_b))
                pairs.append((a, b, ratio))
    return pairs


def consolidation(model: Model, th: Thresholds, out: Collector) -> None:
    shapes: dict[tuple, list[str]] = defaultdict(list)
    for node, recipe in model.recipes.items():
        sources = tuple(sorted(recipe.sources()))
        targets = frozenset(model.connections[c].application or "?" for c in recipe.targets())
        if sources and targets:
            shapes[(recipe.workspace, recipe.trigger_application, sources, targets)].append(node)
    group_of: dict[str, int] = {}
    for index, ((ws, trigger, sources, targets), members) in enumerate(
        sorted(shapes.items(), key=str)
    ):
        if len(members) < 2:
            continue
        for member in members:
            group_of[member] = index
        out.add(
            "consolidation_candidate",
            "same_trigger_and_targets",
            "low",
            ws,
            members,
            f"{len(members)} recipes with the same trigger and targets: "
            + ", ".join(out.name(m) for m in members[:3])
            + ("..." if len(members) > 3 else ""),
            f"They are triggered by {trigger} on {', '.join(out.name(s) for s in sources)} and "
            f"write to {', '.join(sorted(targets))}. If they watch the same object, one "
            "recipe with branches does the work once per event instead of once per recipe.",
            "Compare their trigger objects and filters; merge them into one recipe (or one "
            "trigger recipe calling functions) if they overlap.",
            {
                "trigger_application": trigger,
                "trigger_connections": list(sources),
                "target_applications": sorted(targets),
            },
        )

    groups: dict[tuple[str, str | None], list[tuple[str, tuple[str, ...]]]] = defaultdict(list)
    for node, recipe in model.recipes.items():
        tokens = _tokens(model.steps.get(node, []))
        if len(tokens) >= th.similarity_min_steps:
            groups[(recipe.workspace, recipe.trigger_application)].append((node, tokens))
    for (ws, trigger), sequences in sorted(groups.items(), key=str):
        pairs = _similar_pairs(sequences, th.similarity_threshold)
        if not pairs:
            continue
        graph = nx.Graph()
        graph.add_weighted_edges_from(pairs)
        for component in sorted(sorted(c) for c in nx.connected_components(graph)):
            shape_groups = {group_of.get(m) for m in component}
            if None not in shape_groups and len(shape_groups) == 1:
                continue  # already one same_trigger_and_targets insight
            ratios = [d["weight"] for _, _, d in graph.subgraph(component).edges(data=True)]
            out.add(
                "consolidation_candidate",
                "near_duplicate",
                "low",
                ws,
                component,
                f"{len(component)} near-duplicate recipes: "
                + ", ".join(out.name(m) for m in component[:3])
                + ("..." if len(component) > 3 else ""),
                f"Their steps match at {min(ratios):.0%} or more (triggered by {trigger}). "
                "Copies drift apart: a fix made in one is missing in the others.",
                "Turn the common steps into a recipe function called by each, or merge the "
                "recipes with a parameter or lookup table for what differs.",
                {
                    "trigger_application": trigger,
                    "min_similarity": round(min(ratios), 4),
                    "max_similarity": round(max(ratios), 4),
                    # An undirected edge comes out as (a, b) or (b, a) by the order the
                    # subgraph view meets its nodes (a set's, which varies with the hash seed).
                    "pairs": [
                        {"a": a, "b": b, "similarity": round(weight, 4)}
                        for a, b, weight in sorted(
                            (*sorted((u, v)), d["weight"])
                            for u, v, d in graph.subgraph(component).edges(data=True)
                        )
                    ][:50],
                },
            )
