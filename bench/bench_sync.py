"""Benchmark: Workato API requests and wall time of full and daily syncs.

Run from the repository root::

    .venv/bin/python bench/bench_sync.py                  # 5,000 and 1,000 recipes
    .venv/bin/python bench/bench_sync.py --sizes 300

For each size it generates a workspace (``generate_workspace(seed, recipes=N)``), serves it on
a local ``WorkatoSimulator`` (rate limits off) and materializes the extract assets in process
(the ``workato_raw`` dlt assets, partition "Main Workspace") four times into one DuckDB file:

1. first sync: the warehouse is empty;
2. daily sync of the unchanged workspace (incremental);
3. daily sync after changes made through the simulator's mutation API: ``--updated`` recipes
   renamed, ``--stopped`` running recipes stopped by Workato, ``--deleted`` recipes deleted and
   ``--renamed-connections`` connections renamed;
4. the weekly full refresh (``full_refresh: True``).

Client pacing is off (``requests_per_minute=0``) and so are the simulator's quotas, so the
seconds measure work, not waiting. Nothing is asserted. Per run it prints the requests by
endpoint family and, for recipes, by kind:

* status: ``GET /api/recipes?exclude_code=true`` (the daily status listing);
* changed: ``GET /api/recipes?updated_after=...`` (recipes changed since the cursor);
* full: ``GET /api/recipes`` with code and no ``updated_after`` (first sync, full refresh);
* single: ``GET /api/recipes/:id``.

It also estimates the wall time at Workato's default quota of 60 requests per minute per
endpoint family, with the pipeline's own pacing (``requests_per_minute=60``):

* est: the recorded requests replayed in their order, each after the same gap that separated
  it from the previous one in the real run, through the client's sliding-window pacer (at
  most 60 requests of a family in any 63 s: a 60 s minute times the client's 1.05 margin),
  plus the run's time outside the requests (start-up, loading);
* the pacing alone is bounded by ``max_f floor((n_f - 1) / 60)`` minutes below (a family's
  n_f-th request cannot leave before that many windows after its first) and
  ``sum_f floor((n_f - 1) / 60)`` minutes above (calls are sequential, so the waits of the
  families can at worst add up), n_f being the requests of family f; both use a 60 s minute.
"""

from __future__ import annotations

import argparse
import gc
import logging
import os
import platform
import tempfile
import time
from collections import Counter, defaultdict, deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

FAMILIES = ("users", "recipes", "folders", "connections", "jobs")
RECIPE_KINDS = ("status", "changed", "full", "single")
QUOTA = 60  # Workato's default requests per minute per endpoint family
WINDOW = 60.0  # seconds
CLIENT_MARGIN = 1.05  # archy_pipeline.workato.transport.RateLimiter.MARGIN
PARTITION = "Main Workspace"
QUIET = {"loggers": {"console": {"config": {"log_level": "WARNING"}}}}


@dataclass
class RunFigures:
    label: str
    seconds: float
    families: Counter = field(default_factory=Counter)
    recipe_kinds: Counter = field(default_factory=Counter)
    folder_paths: Counter = field(default_factory=Counter)
    statuses: Counter = field(default_factory=Counter)
    rows_loaded: dict[str, int] = field(default_factory=dict)
    est_minutes: float = 0.0
    floor_minutes: float = 0.0
    sum_minutes: float = 0.0

    @property
    def total(self) -> int:
        return sum(self.families.values())


def recipe_kind(record: Any) -> str | None:
    if record.path == "/api/recipes":
        if record.param("exclude_code") == "true":
            return "status"
        if record.param("updated_after"):
            return "changed"
        return "full"
    if record.path.startswith("/api/recipes/") and record.path.rsplit("/", 1)[-1].isdigit():
        return "single"
    return None


def paced_replay(records: list[Any], quota: int = QUOTA, window: float = WINDOW) -> float:
    """Seconds the recorded requests would span with the client's sliding-window pacer."""
    window *= CLIENT_MARGIN
    sent: dict[str, deque[float]] = defaultdict(deque)
    clock = 0.0
    previous_at: float | None = None
    for record in records:
        gap = 0.0 if previous_at is None else max(0.0, record.at - previous_at)
        previous_at = record.at
        clock += gap
        family_sent = sent[record.family or "other"]
        if len(family_sent) >= quota:
            clock = max(clock, family_sent[-quota] + window)
        family_sent.append(clock)
    return clock


def figures(label: str, seconds: float, records: list[Any], result: Any) -> RunFigures:
    run = RunFigures(label, seconds)
    for record in records:
        run.families[record.family or "other"] += 1
        run.statuses[record.status] += 1
        kind = recipe_kind(record)
        if kind:
            run.recipe_kinds[kind] += 1
        if record.family == "folders":
            run.folder_paths[record.path] += 1
    run.rows_loaded = {
        e.materialization.asset_key.path[-1]: e.materialization.metadata["rows_loaded"].value
        for e in result.get_asset_materialization_events()
    }
    span = records[-1].at - records[0].at if records else 0.0
    outside = max(0.0, seconds - span)
    run.est_minutes = (paced_replay(records) + outside) / 60
    waits = [max(0, (n - 1) // QUOTA) for n in run.families.values()]
    run.floor_minutes = max(waits, default=0) * WINDOW / 60
    run.sum_minutes = sum(waits) * WINDOW / 60
    return run


def materialize_sync(resources: dict[str, Any], run_config: dict[str, Any] | None, instance: Any):
    """Materialize the extract assets for one workspace partition, in process (as the tests'
    ``tests/support.py`` does)."""
    import dagster as dg

    from archy_pipeline.assets.extract import workato_raw_tables
    from archy_pipeline.constants import WORKSPACES

    instance.add_dynamic_partitions(WORKSPACES.name, [PARTITION])
    return dg.materialize(
        [workato_raw_tables],
        resources=resources,
        partition_key=PARTITION,
        run_config=run_config,
        instance=instance,
        raise_on_error=True,
    )


def mutate(ws: Any, updated: int, stopped: int, deleted: int, connections: int) -> str:
    """Change the workspace through the mutation API; distinct recipes for each change."""
    ids = sorted(ws.recipes)
    step = max(1, len(ids) // max(1, updated + stopped + deleted))
    spread = ids[::step]
    to_update = spread[:updated]
    rest = [i for i in ids if i not in set(to_update)]
    to_stop = [i for i in rest if ws.recipes[i].running][:stopped]
    to_delete = [i for i in reversed(rest) if i not in set(to_stop)][:deleted]
    for recipe_id in to_update:
        ws.update_recipe(recipe_id, name=f"{ws.recipes[recipe_id].name} (edited)")
    for recipe_id in to_stop:
        ws.stop_recipe(recipe_id, "trigger_errors_limit")
    for recipe_id in to_delete:
        ws.delete_recipe(recipe_id)
    renamed = sorted(ws.connections)[:connections]
    for connection_id in renamed:
        ws.update_connection(connection_id, name=f"{ws.connections[connection_id].name} (renamed)")
    return (
        f"{len(to_update)} recipes updated, {len(to_stop)} stopped, {len(to_delete)} deleted, "
        f"{len(renamed)} connection(s) renamed"
    )


def bench_size(recipes: int, args: argparse.Namespace, workdir: Path) -> list[RunFigures]:
    import dagster as dg
    from dagster_dlt import DagsterDltResource
    from workato_simulator import WorkatoSimulator
    from workato_simulator.generator import describe, generate_workspace

    from archy_pipeline.resources import WorkatoResource
    from archy_pipeline.resources.warehouse import WarehouseResource

    start = time.perf_counter()
    ws = generate_workspace(args.seed, recipes=recipes)
    stats = describe(ws)
    print(
        f"\n{recipes} recipes: {stats.steps} steps, {stats.connections} connections, "
        f"{stats.folders} folders (generated in {time.perf_counter() - start:.1f} s)"
    )
    warehouse = WarehouseResource(duckdb_path=str(workdir / f"archy_{recipes}.duckdb"))
    instance = dg.DagsterInstance.ephemeral()
    runs: list[RunFigures] = []
    with WorkatoSimulator(ws, rate_limits=None) as sim:
        resources = {
            "dlt": DagsterDltResource(),
            "workato": WorkatoResource(
                api_token=sim.token, base_url=sim.base_url, requests_per_minute=0
            ),
            "warehouse": warehouse,
        }

        def run(label: str, full_refresh: bool = False) -> None:
            run_config: dict[str, Any] = dict(QUIET)
            if full_refresh:
                run_config["ops"] = {"workato_raw": {"config": {"full_refresh": True}}}
            gc.collect()
            sim.clear_log()
            started = time.perf_counter()
            result = materialize_sync(resources, run_config, instance)
            seconds = time.perf_counter() - started
            fig = figures(label, seconds, list(sim.requests), result)
            runs.append(fig)
            print(
                f"  {label:<22} {fig.total:>5} requests in {seconds:6.1f} s "
                f"{dict(fig.families)} recipes {dict(fig.recipe_kinds)}; "
                f"rows loaded: recipes {fig.rows_loaded.get('recipes', 0)}, "
                f"steps {fig.rows_loaded.get('recipe_steps', 0)}, "
                f"connections {fig.rows_loaded.get('connections', 0)}"
            )

        run("first (full) sync")
        run("daily, unchanged")
        changes = mutate(ws, args.updated, args.stopped, args.deleted, args.renamed_connections)
        print(f"  changes: {changes}")
        run("daily, after changes")
        run("weekly full refresh", full_refresh=True)
    return runs


def print_table(results: dict[int, list[RunFigures]]) -> None:
    header = (
        "| Recipes | Run | users | recipes: status | changed | full | single | folders "
        "(of which /projects) | connections | jobs | Total | Seconds | Est. min @60/min "
        "| Pacing bounds (min) | Rows loaded: recipes / steps |"
    )
    print("\n" + header)
    print("|" + "---:|" * 2 + "---:|" * 13)
    for size, runs in results.items():
        for run in runs:
            k = run.recipe_kinds
            fam = run.families
            print(
                f"| {size:,} | {run.label} | {fam['users']} | {k['status']} | {k['changed']} "
                f"| {k['full']} | {k['single']} | {fam['folders']} "
                f"({run.folder_paths['/api/projects']}) | {fam['connections']} | {fam['jobs']} "
                f"| {run.total} | {run.seconds:.1f} | {run.est_minutes:.1f} "
                f"| {run.floor_minutes:.0f} to {run.sum_minutes:.0f} "
                f"| {run.rows_loaded.get('recipes', 0):,} / "
                f"{run.rows_loaded.get('recipe_steps', 0):,} |"
            )
    others = {
        (size, run.label): run.statuses
        for size, runs in results.items()
        for run in runs
        if set(run.statuses) - {200}
    }
    for (size, label), statuses in others.items():
        print(f"note: {size} recipes, {label}: statuses {dict(statuses)}")
    if len(results) > 1:
        big, small = max(results), min(results)
        print(f"\nratio {big}/{small} recipes ({big / small:.1f}x):")
        for b, s in zip(results[big], results[small]):
            print(
                f"  {b.label:<22} requests {b.total / max(1, s.total):.2f}x, "
                f"seconds {b.seconds / max(1e-9, s.seconds):.2f}x"
            )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[5000, 1000])
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--updated", type=int, default=20)
    parser.add_argument("--stopped", type=int, default=5)
    parser.add_argument("--deleted", type=int, default=3)
    parser.add_argument("--renamed-connections", type=int, default=1)
    args = parser.parse_args()

    # No developer settings: the default single workspace, a throwaway Dagster home.
    for name in (
        "WORKATO_API_TOKEN",
        "WORKATO_BASE_URL",
        "WORKATO_DATA_CENTER",
        "ARCHY_DUCKDB_PATH",
        "ARCHY_POSTGRES_DSN",
        "ARCHY_CONFIG",
    ):
        os.environ.pop(name, None)
    logging.basicConfig(level=logging.WARNING)
    for name in ("dlt", "dagster", "httpx", "httpcore"):
        logging.getLogger(name).setLevel(logging.WARNING)

    print(f"python {platform.python_version()} on {platform.machine()}, {os.cpu_count()} CPUs")
    results: dict[int, list[RunFigures]] = {}
    with tempfile.TemporaryDirectory(prefix="bench_sync_") as tmp:
        workdir = Path(tmp)
        (workdir / "dagster_home").mkdir()
        os.environ["DAGSTER_HOME"] = str(workdir / "dagster_home")
        cwd = os.getcwd()
        os.chdir(workdir)  # no archy.yaml from the checkout: the default workspace
        try:
            for size in args.sizes:
                results[size] = bench_size(size, args, workdir)
        finally:
            os.chdir(cwd)
    print_table(results)


if __name__ == "__main__":
    main()
