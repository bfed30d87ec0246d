"""Benchmark: archy_pipeline.analysis on a 5,000-recipe workspace and a 50,000-edge call graph.

Run from the repository root::

    .venv/bin/python bench/bench_analysis.py                 # both parts
    .venv/bin/python bench/bench_analysis.py --recipes 1000  # a smaller workspace
    .venv/bin/python bench/bench_analysis.py --skip-workspace
    .venv/bin/python bench/bench_analysis.py --warehouse /tmp/a5000.duckdb  # keep/reuse (a)
    .venv/bin/python bench/bench_analysis.py --cpu  # CPU time, not wall time (a busy box)

(a) Workspace: ``generate_workspace(seed, recipes=N)`` served by a local ``WorkatoSimulator``
(rate limits off), the extract assets and the transform assets (descriptions, systems,
mappings, SQL models) materialized in process into a DuckDB file in a temp dir, exactly as
``tests/test_transform.py::run_pipeline`` does; then the six input tables are read into
DataFrames (:data:`archy_pipeline.analysis.INPUT_TABLES`) and the analysis runs on them.

(b) Synthetic: ``--synthetic-recipes`` recipes (10,000) and exactly ``--edges`` (50,000) resolved
``call_recipe`` rows: ``--sccs`` (5) dense strongly connected components of ``--scc-size``
(40) recipes each calling every other (1,560 edges each), 40 cycles of three recipes
elsewhere, and random forward edges (caller id < callee id, so no other cycle) for the rest;
half the recipes are callable. Every recipe has a trigger and two protected action steps (one
on a connection, one call); 500 connections of 7 applications in 3 environments. Job counts,
tasks and dates stay under the health thresholds, so the insights are the graphs' own (plus
the duplicate connections and consolidation groups that 500 random connections make).
Fixed seed.

Each step is timed ``--repeat`` times (3) on fresh objects and the median is printed, with the
first run beside it; nothing is asserted. ``now`` for the insights is the day after the
newest ``last_run_at``, so ages match the generated data.
"""

from __future__ import annotations

import argparse
import gc
import logging
import os
import platform
import random
import statistics
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import pandas as pd

from archy_pipeline.analysis import (
    INPUT_COLUMNS,
    INPUT_TABLES,
    AnalysisInput,
    build_graphs,
    find_insights,
    graph_tables,
    ranking_tables,
)

PARTITION = "Main Workspace"
QUIET = {"loggers": {"console": {"config": {"log_level": "WARNING"}}}}


# ---------------------------------------------------------------------- (a) workspace


def read_input(path: Path) -> AnalysisInput:
    import duckdb

    with duckdb.connect(str(path), read_only=True) as con:
        frames = {
            name: con.sql(f'select * from "{schema}"."{table}"').df()
            for name, (schema, table) in INPUT_TABLES.items()
        }
    return AnalysisInput(**frames)


def workspace_input(
    recipes: int, seed: int, workdir: Path, path: Path | None = None
) -> tuple[AnalysisInput, float]:
    import dagster as dg
    from dagster_dlt import DagsterDltResource
    from workato_simulator import WorkatoSimulator
    from workato_simulator.generator import generate_workspace

    from archy_pipeline.assets.extract import workato_raw_tables
    from archy_pipeline.assets.mapping import system_mappings, systems
    from archy_pipeline.assets.transform import build_sql_model_assets, integration_descriptions
    from archy_pipeline.constants import WORKSPACES
    from archy_pipeline.resources import WorkatoResource
    from archy_pipeline.resources.warehouse import WarehouseResource

    started = time.perf_counter()
    ws = generate_workspace(seed, recipes=recipes)
    path = path or workdir / f"analysis_{recipes}.duckdb"
    warehouse = WarehouseResource(duckdb_path=str(path))
    instance = dg.DagsterInstance.ephemeral()
    instance.add_dynamic_partitions(WORKSPACES.name, [PARTITION])
    with WorkatoSimulator(ws, rate_limits=None) as sim:
        resources = {
            "dlt": DagsterDltResource(),
            "workato": WorkatoResource(
                api_token=sim.token, base_url=sim.base_url, requests_per_minute=0
            ),
            "warehouse": warehouse,
        }
        assert dg.materialize(
            [workato_raw_tables],
            resources=resources,
            partition_key=PARTITION,
            run_config=QUIET,
            instance=instance,
        ).success
    assert dg.materialize(
        [integration_descriptions, systems, system_mappings, build_sql_model_assets()],
        resources={"warehouse": warehouse},
        run_config=QUIET,
        instance=instance,
    ).success
    pipeline_seconds = time.perf_counter() - started
    return read_input(path), pipeline_seconds


# ---------------------------------------------------------------------- (b) synthetic


def synthetic_input(
    recipes: int, edges: int, sccs: int, scc_size: int, seed: int
) -> tuple[AnalysisInput, dict[str, int]]:
    rng = random.Random(seed)
    ws = "Synthetic"
    now = pd.Timestamp("2025-06-20", tz="UTC")
    pairs: set[tuple[int, int]] = set()
    for k in range(sccs):
        members = range(1 + k * scc_size, 1 + (k + 1) * scc_size)
        pairs.update((a, b) for a in members for b in members if a != b)
    dense = len(pairs)
    first_free = sccs * scc_size + 1
    small = 0
    while small < 40:  # small cycles a -> a+1 -> a+2 -> a, away from the dense components
        a = rng.randint(first_free, recipes - 2)
        if not any((x, y) in pairs for x in (a, a + 1, a + 2) for y in (a, a + 1, a + 2)):
            pairs.update({(a, a + 1), (a + 1, a + 2), (a + 2, a)})
            small += 1
    while len(pairs) < edges:
        a, b = rng.randint(1, recipes), rng.randint(1, recipes)
        if a < b and not (a <= sccs * scc_size and b <= sccs * scc_size):
            pairs.add((a, b))
    connections = 500
    apps = ["salesforce", "netsuite", "slack", "jira", "snowflake", "service_now", "workday"]
    integrations, steps, uses, instances, mappings = [], [], [], [], []
    for cid in range(1, connections + 1):
        app = apps[cid % len(apps)]
        env = ["production", "sandbox", "development"][cid % 3]
        instances.append((ws, cid, f"{app} {cid}", app, "active", env, "Home", 0, None))
        mappings.append((ws, cid, app, app.title(), "matched"))
    for rid in range(1, recipes + 1):
        source, target = rng.randint(1, connections), rng.randint(1, connections)
        callable_ = rid <= recipes // 2
        trigger_app = "workato_recipe_function" if callable_ else apps[source % len(apps)]
        integrations.append(
            (ws, rid, f"Recipe {rid}", "active", None, "Home", trigger_app, 3, 1,
             rng.randint(100, 5_000), rng.randint(0, 10), rng.randint(0, 200_000),
             now - pd.Timedelta(days=rng.randint(0, 20)), now - pd.Timedelta(days=90), None)
        )  # fmt: skip
        steps.append((ws, rid, 0, None, 0, "trigger", trigger_app, "execute" if callable_
                      else "new_object_realtime", False, False, False,
                      None if callable_ else source, None))  # fmt: skip
        steps.append((ws, rid, 1, 0, 1, "action", apps[target % len(apps)], "create_object",
                      False, True, False, target, None))  # fmt: skip
        steps.append((ws, rid, 2, 0, 1, "action", "workato_recipe_function", "call_recipe",
                      False, True, False, None, "call_recipe"))  # fmt: skip
        if not callable_:
            uses.append((ws, rid, source, apps[source % len(apps)], "source", "0"))
        if callable_ or target != source:
            uses.append((ws, rid, target, apps[target % len(apps)], "target", "1"))
    calls = [(ws, a, b, "call_recipe", str(b), 2, True) for a, b in sorted(pairs)]

    def frame(rows: list[tuple], name: str) -> pd.DataFrame:
        return pd.DataFrame(rows, columns=list(INPUT_COLUMNS[name]))

    inp = AnalysisInput(
        integrations=frame(integrations, "integrations"),
        integration_systems=frame(uses, "integration_systems"),
        integration_calls=frame(calls, "integration_calls"),
        system_instances=frame(instances, "system_instances"),
        system_mappings=frame(mappings, "system_mappings"),
        steps=frame(steps, "steps"),
    )
    return inp, {"dense_edges": dense, "small_cycles": small, "edges": len(pairs)}


# ---------------------------------------------------------------------- run and report


def analyse(
    label: str, inp: AnalysisInput, repeat: int, clock: Callable[[], float] = time.perf_counter
) -> dict[str, Any]:
    stamps = inp.integrations["last_run_at"].dropna()
    now = (stamps.max() + timedelta(days=1)) if len(stamps) else pd.Timestamp.now(tz="UTC")
    moment = now.to_pydatetime()
    runs: dict[str, list[float]] = {
        "build": [], "tables": [], "insights": [], "insights_cold": [], "ranking": [],
    }  # fmt: skip
    for _ in range(repeat):
        gc.collect()
        start = clock()
        graphs = build_graphs(inp)
        runs["build"].append(clock() - start)
        start = clock()
        nodes, edges = graph_tables(graphs)  # computes and caches the node metrics
        runs["tables"].append(clock() - start)
        start = clock()
        insights = find_insights(inp, graphs, None, moment)  # reuses the cached metrics
        runs["insights"].append(clock() - start)
        cold = build_graphs(inp)
        start = clock()
        find_insights(inp, cold, None, moment)  # computes the metrics itself
        runs["insights_cold"].append(clock() - start)
        start = clock()
        ranking_tables(inp, graphs)
        runs["ranking"].append(clock() - start)
    timing = {k: (statistics.median(v), v[0]) for k, v in runs.items()}
    sizes = {
        name: (g.number_of_nodes(), g.number_of_edges()) for name, g in graphs.by_name().items()
    }
    kinds = Counter((i.kind, i.evidence["rule"]) for i in insights)
    cycles = [i.evidence["size"] for i in insights if i.evidence["rule"] == "call_cycle"]
    result = {
        "label": label,
        "sizes": sizes,
        **timing,
        "insight_count": len(insights),
        "kinds": kinds,
        "cycles": sorted(cycles, reverse=True),
        "rows": (len(nodes), len(edges)),
        "input_rows": {name: len(getattr(inp, name)) for name in INPUT_TABLES},
    }
    print(f"\n{label}")
    print("  input rows: " + ", ".join(f"{k} {v:,}" for k, v in result["input_rows"].items()))
    print(
        "  graphs (nodes, edges): " + ", ".join(f"{k} {v[0]:,}/{v[1]:,}" for k, v in sizes.items())
    )
    print(f"  graph_nodes {len(nodes):,} rows, graph_edges {len(edges):,} rows")
    print(f"  insights: {len(insights):,}; call-cycle sizes: {result['cycles'][:10]}")
    for (kind, rule), count in sorted(kinds.items()):
        print(f"    {kind}/{rule}: {count}")
    return result


def print_table(results: list[dict[str, Any]], repeat: int, cpu: bool = False) -> None:
    unit = "CPU seconds of this process" if cpu else "seconds"
    print(f"\nmedian of {repeat} runs (first run in brackets), {unit}")
    print(
        "| Input | calls graph | instances graph | systems graph | build_graphs | graph_tables "
        "| find_insights | find_insights (cold) | ranking_tables | Insights |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for r in results:
        s = r["sizes"]

        def fmt(pair: tuple[float, float]) -> str:
            return f"{pair[0]:.2f} ({pair[1]:.2f})"

        print(
            f"| {r['label']} | {s['calls'][0]:,} / {s['calls'][1]:,} "
            f"| {s['instances'][0]:,} / {s['instances'][1]:,} "
            f"| {s['systems'][0]:,} / {s['systems'][1]:,} | {fmt(r['build'])} "
            f"| {fmt(r['tables'])} | {fmt(r['insights'])} | {fmt(r['insights_cold'])} "
            f"| {fmt(r['ranking'])} | {r['insight_count']:,} |"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--recipes", type=int, default=5000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--skip-workspace", action="store_true")
    parser.add_argument(
        "--warehouse",
        type=Path,
        help="DuckDB file for (a): read it if it exists (no pipeline run), else build it there",
    )
    parser.add_argument("--skip-synthetic", action="store_true")
    parser.add_argument(
        "--cpu",
        action="store_true",
        help="time the analysis steps in CPU time of this process, not wall time (a shared box)",
    )
    parser.add_argument("--synthetic-recipes", type=int, default=10_000)
    parser.add_argument("--edges", type=int, default=50_000)
    parser.add_argument("--sccs", type=int, default=5)
    parser.add_argument("--scc-size", type=int, default=40)
    args = parser.parse_args()

    for name in (
        "WORKATO_API_TOKEN", "WORKATO_BASE_URL", "WORKATO_DATA_CENTER", "ARCHY_DUCKDB_PATH",
        "ARCHY_POSTGRES_DSN", "ARCHY_CONFIG", "ARCHY_MODELS_DIR",
    ):  # fmt: skip
        os.environ.pop(name, None)
    logging.basicConfig(level=logging.WARNING)
    for name in ("dlt", "dagster", "httpx", "httpcore"):
        logging.getLogger(name).setLevel(logging.WARNING)
    print(f"python {platform.python_version()} on {platform.machine()}, {os.cpu_count()} CPUs")

    clock = time.process_time if args.cpu else time.perf_counter
    results = []
    if not args.skip_workspace and args.warehouse and args.warehouse.exists():
        inp = read_input(args.warehouse)
        print(f"\nread {args.warehouse} (no pipeline run)")
        results.append(analyse(f"workspace, {args.recipes:,} recipes", inp, args.repeat, clock))
    elif not args.skip_workspace:
        with tempfile.TemporaryDirectory(prefix="bench_analysis_") as tmp:
            workdir = Path(tmp)
            (workdir / "dagster_home").mkdir()
            os.environ["DAGSTER_HOME"] = str(workdir / "dagster_home")
            cwd = os.getcwd()
            os.chdir(workdir)  # no archy.yaml from the checkout: the default workspace
            try:
                path = args.warehouse.resolve() if args.warehouse else None
                inp, seconds = workspace_input(args.recipes, args.seed, workdir, path)
            finally:
                os.chdir(cwd)
        print(f"\npipeline (generate, serve, extract, transform) for {args.recipes:,} recipes: "
              f"{seconds:.1f} s")  # fmt: skip
        results.append(analyse(f"workspace, {args.recipes:,} recipes", inp, args.repeat, clock))
    if not args.skip_synthetic:
        start = time.perf_counter()
        inp, info = synthetic_input(
            args.synthetic_recipes, args.edges, args.sccs, args.scc_size, args.seed
        )
        print(f"\nsynthetic input built in {time.perf_counter() - start:.1f} s: {info}")
        label = f"synthetic, {args.synthetic_recipes:,} recipes, {info['edges']:,} call edges"
        results.append(analyse(label, inp, args.repeat, clock))
    print_table(results, args.repeat, args.cpu)


if __name__ == "__main__":
    main()
