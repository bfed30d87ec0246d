"""Benchmark: networkx's betweenness and PageRank against hand-written ones, on the analysis graphs.

Run from the repository root::

    .venv/bin/python bench/bench_centrality.py --warehouse data/warehouse.duckdb
    .venv/bin/python bench/bench_centrality.py --warehouse data/warehouse.duckdb \\
        --warehouse /tmp/a5000.duckdb       # add (a) of bench_analysis.py, kept with --warehouse

Inputs: each DuckDB file given (the demo's ``data/warehouse.duckdb`` after ``make demo``; a
5,000-recipe one is what ``bench_analysis.py --warehouse PATH`` builds and keeps), read as
``bench_analysis.py`` does, and the synthetic 10,000-recipe, 50,000-call-edge workspace of
``bench_analysis.py`` (``--skip-synthetic`` leaves it out). For every graph of each input, the
median CPU time of ``--repeat`` (3) runs, first run in brackets:

* betweenness: ``archy_pipeline.analysis.metrics.betweenness`` (networkx's
  ``betweenness_centrality_subset``; exact up to 1,000 linked nodes, else 128 sampled sources,
  as the pipeline runs it) against the hand-written Brandes over integer adjacency lists that
  ``archy_pipeline/analysis`` carried before (:func:`handwritten_betweenness`, kept here as
  the reference), and whether the two agree bit for bit;
* PageRank: ``metrics.pagerank`` (numpy power iteration, tolerance 1e-10) against
  ``networkx.pagerank`` with the same tolerance and with its default (1e-6): the largest
  difference, and on how many nodes the value differs at all. ``networkx.pagerank`` needs
  scipy, which the product does not depend on (``pip install scipy``; without it those
  columns are left out).

Nothing is asserted.
"""

from __future__ import annotations

import argparse
import os
import platform
import random
import statistics
import time
from collections import deque
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import networkx as nx
from bench_analysis import read_input, synthetic_input

from archy_pipeline.analysis import build_graphs
from archy_pipeline.analysis.metrics import (
    BETWEENNESS_EXACT_MAX_NODES,
    BETWEENNESS_SAMPLES,
    BETWEENNESS_SEED,
    betweenness,
    pagerank,
)

# ---------------------------------------------------------------------- the reference


def _brandes(successors: list[list[int]], sources: Iterable[int], n: int) -> list[float]:
    """Unnormalised betweenness (Brandes 2001) accumulated from ``sources`` only."""
    result = [0.0] * n
    for source in sources:
        order: list[int] = []
        preds: dict[int, list[int]] = {source: []}
        sigma: dict[int, int] = {source: 1}
        dist: dict[int, int] = {source: 0}
        queue = deque([source])
        while queue:
            v = queue.popleft()
            order.append(v)
            next_dist, paths = dist[v] + 1, sigma[v]
            for w in successors[v]:
                seen = dist.get(w)
                if seen is None:
                    dist[w] = next_dist
                    sigma[w] = paths
                    preds[w] = [v]
                    queue.append(w)
                elif seen == next_dist:
                    sigma[w] += paths
                    preds[w].append(v)
        delta = dict.fromkeys(order, 0.0)
        for w in reversed(order):
            share = (1.0 + delta[w]) / sigma[w]
            for v in preds[w]:
                delta[v] += sigma[v] * share
            if w != source:
                result[w] += delta[w]
    return result


def handwritten_betweenness(
    graph: nx.DiGraph, exact_max: int, samples: int, seed: int
) -> dict[str, float]:
    """The hand-written betweenness ``archy_pipeline/analysis`` used before networkx's."""
    n = graph.number_of_nodes()
    result = dict.fromkeys(graph, 0.0)
    if n < 3:
        return result
    active = sorted(v for v in graph if any(w != v for w in nx.all_neighbors(graph, v)))
    if len(active) < 3:
        return result
    index = {node: i for i, node in enumerate(active)}
    successors = [[index[w] for w in graph.successors(v) if w != v] for v in active]
    if len(active) <= exact_max:
        sources: Iterable[int] = range(len(active))
        scale = 1.0
    else:
        k = min(samples, len(active))
        sources = random.Random(seed).sample(range(len(active)), k)
        scale = len(active) / k
    raw = _brandes(successors, sources, len(active))
    norm = scale / ((n - 1) * (n - 2))
    for node, value in zip(active, raw):
        result[node] = value * norm
    return result


# ---------------------------------------------------------------------- measuring


def timed(function: Callable[[], Any], repeat: int) -> tuple[Any, float, float]:
    """(last result, median CPU seconds, first run's CPU seconds).

    CPU time of this process, not wall time: on a shared box other processes stretch the wall
    clock, not the work done here (everything measured runs in one thread).
    """
    seconds = []
    result = None
    for _ in range(repeat):
        start = time.process_time()
        result = function()
        seconds.append(time.process_time() - start)
    return result, statistics.median(seconds), seconds[0]


def differences(a: dict[str, float], b: dict[str, float]) -> tuple[float, int]:
    """(largest absolute difference, number of nodes whose values differ at all)."""
    return max((abs(a[v] - b[v]) for v in a), default=0.0), sum(a[v] != b[v] for v in a)


def measure(label: str, graph: nx.DiGraph, repeat: int, scipy: bool) -> dict[str, Any]:
    args = (BETWEENNESS_EXACT_MAX_NODES, BETWEENNESS_SAMPLES, BETWEENNESS_SEED)
    linked = sum(1 for v in graph if any(w != v for w in nx.all_neighbors(graph, v)))
    ours, ours_s, ours_first = timed(lambda: betweenness(graph, *args), repeat)
    hand, hand_s, hand_first = timed(lambda: handwritten_betweenness(graph, *args), repeat)
    row: dict[str, Any] = {
        "label": label,
        "nodes": graph.number_of_nodes(),
        "edges": graph.number_of_edges(),
        "mode": "exact" if linked <= args[0] else f"sampled ({args[1]})",
        "bc_networkx": (ours_s, ours_first),
        "bc_handwritten": (hand_s, hand_first),
        "bc_identical": differences(ours, hand)[1] == 0,
    }
    rank, rank_s, rank_first = timed(lambda: pagerank(graph), repeat)
    row["pr_numpy"] = (rank_s, rank_first)
    if scipy:
        nx10, nx10_s, nx10_first = timed(lambda: nx.pagerank(graph, tol=1e-10), repeat)
        nx6 = nx.pagerank(graph)
        row["pr_networkx"] = (nx10_s, nx10_first)
        row["pr_diff_1e10"] = differences(rank, nx10)
        row["pr_diff_default"] = differences(rank, nx6)
    return row


def print_table(rows: list[dict[str, Any]], scipy: bool, repeat: int) -> None:
    print(f"\nCPU seconds, median of {repeat} runs (first run in brackets)")

    def fmt(pair: tuple[float, float]) -> str:
        return f"{pair[0]:.3f} ({pair[1]:.3f})"

    print(
        "| Graph | Nodes / edges | Betweenness | networkx | hand-written | identical "
        "| PageRank numpy | networkx.pagerank (tol 1e-10) | largest difference, nodes differing "
        "| same at default tol 1e-6 |"
    )
    print("|---|---:|---|---:|---:|---|---:|---:|---:|---:|")
    for r in rows:
        pr = (
            f"{fmt(r['pr_networkx'])} | {r['pr_diff_1e10'][0]:.1e}, "
            f"{r['pr_diff_1e10'][1]:,} of {r['nodes']:,} | {r['pr_diff_default'][0]:.1e}, "
            f"{r['pr_diff_default'][1]:,}"
            if scipy
            else "- | - | -"
        )
        print(
            f"| {r['label']} | {r['nodes']:,} / {r['edges']:,} | {r['mode']} "
            f"| {fmt(r['bc_networkx'])} | {fmt(r['bc_handwritten'])} "
            f"| {'yes' if r['bc_identical'] else 'NO'} | {fmt(r['pr_numpy'])} | {pr} |"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--warehouse", type=Path, action="append", default=[])
    parser.add_argument("--skip-synthetic", action="store_true")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    try:
        import scipy  # noqa: F401

        scipy_installed = True
    except ImportError:
        scipy_installed = False
    print(
        f"python {platform.python_version()} on {platform.machine()}, {os.cpu_count()} CPUs; "
        f"networkx {nx.__version__}; scipy {'installed' if scipy_installed else 'missing'}"
    )
    inputs = [(path.stem, read_input(path)) for path in args.warehouse]
    if not args.skip_synthetic:
        inputs.append(("synthetic", synthetic_input(10_000, 50_000, 5, 40, 1)[0]))
    rows = []
    for name, inp in inputs:
        graphs = build_graphs(inp)
        for graph_name, graph in graphs.by_name().items():
            label = f"{name} {graph_name}"
            rows.append(measure(label, graph, args.repeat, scipy_installed))
            print(f"measured {label}", flush=True)
    print_table(rows, scipy_installed, args.repeat)


if __name__ == "__main__":
    main()
