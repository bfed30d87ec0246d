"""The scenarios of issue 13, each a sequence of measured child processes.

Every workspace is generated (``generate_workspace(seed, recipes=N)``) and served by a
``WorkatoSimulator`` in the bench's own process, on loopback. Unpaced scenarios turn the
simulator's quotas and the client's pacing off (the seconds are processing); paced ones serve
Workato's published quotas (60 requests a minute per endpoint family) on a shortened minute
(``time_scale``) and pace the client on the same minute.
"""

from __future__ import annotations

import copy
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pipeline.harness import (
    QUOTA,
    Run,
    Site,
    add_counts,
    api_minimum,
    floor_windows,
    run_cli,
    run_naive,
)

MAIN = "Main Workspace"


def fmt_seconds(seconds: float) -> str:
    if seconds < 90:
        return f"{seconds:.1f} s"
    minutes, rest = divmod(round(seconds), 60)
    if minutes < 90:
        return f"{minutes} min {rest:02d} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min"


@dataclass
class Bench:
    """The run's settings, budget and results."""

    workdir: Path
    time_scale: float
    seed: int
    budget_seconds: float
    started: float = field(default_factory=time.monotonic)
    runs: list[Run] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    say: Any = print

    @property
    def deadline(self) -> float:
        return self.started + self.budget_seconds

    def remaining(self) -> float:
        return self.deadline - time.monotonic()

    def fits(self, what: str, estimate: float | None) -> bool:
        """Whether ``what`` (estimated to take ``estimate`` seconds) fits in the budget left;
        if not, note it as skipped."""
        left = self.remaining()
        if left <= 0 or (estimate is not None and estimate > left):
            guess = f"estimated {fmt_seconds(estimate)}, " if estimate is not None else ""
            self.skipped.append(f"{what}: {guess}{fmt_seconds(max(0.0, left))} of the budget left")
            self.say(f"-- skipped {what} ({self.skipped[-1].split(': ', 1)[1]})")
            return False
        return True

    def estimate_full(self, recipes: int, workspaces: int = 1) -> float | None:
        """Seconds of an unpaced full run, fitted on the unpaced full runs measured so far
        (a + b * recipes through the two largest; proportional with one)."""
        points = sorted(
            {(r.recipes, r.wall_seconds) for r in self.runs if r.scenario == "full" and r.ok}
        )
        if not points:
            return None
        if len(points) == 1:
            size, wall = points[0]
            return workspaces * wall * max(1.0, recipes / max(1, size))
        (n1, w1), (n2, w2) = points[-2], points[-1]
        slope = max(0.0, (w2 - w1) / max(1, n2 - n1))
        return workspaces * max(w1, w1 + slope * (recipes - n1))

    def record(self, run: Run) -> Run:
        self.runs.append(run)
        families = ", ".join(f"{k} {v}" for k, v in sorted(run.requests.items()))
        status = "" if run.ok else f"  [{run.note}]"
        self.say(
            f"   {run.label:<44} {fmt_seconds(run.wall_seconds):>10} wall, "
            f"{run.cpu_seconds:6.1f} s CPU, {run.peak_rss_bytes / 2**20:7.0f} MiB peak, "
            f"{run.total_requests} requests ({families}){status}",
        )
        return run

    def site(self, name: str, workspaces: list[tuple[str, Any]]) -> Site:
        return Site(self.workdir / name, workspaces)


@contextmanager
def serving(workspaces: list[Any], *, paced: bool, time_scale: float) -> Iterator[list[Any]]:
    """One simulator per workspace, on loopback, for the duration of the block."""
    from workato_simulator import DEFAULT_RATE_LIMITS, WorkatoSimulator

    sims = [
        WorkatoSimulator(
            ws,
            time_scale=time_scale if paced else 1.0,
            rate_limits=DEFAULT_RATE_LIMITS if paced else None,
        ).start()
        for ws in workspaces
    ]
    try:
        yield sims
    finally:
        for sim in sims:
            sim.stop()


def generate(seed: int, recipes: int, name: str = MAIN) -> Any:
    from workato_simulator.generator import generate_workspace

    return generate_workspace(seed, recipes=recipes, name=name)


def change_one_percent(workspace: Any) -> int:
    """Edit 1% of the recipes (at least one) through the simulator's mutation API: each gets
    a new name and one more logger step, so its code must be parsed again."""
    ids = sorted(workspace.recipes)
    chosen = ids[:: max(1, len(ids) // max(1, len(ids) // 100))][: max(1, len(ids) // 100)]
    for recipe_id in chosen:
        recipe = workspace.recipes[recipe_id]
        code = copy.deepcopy(recipe.code)
        code.setdefault("block", []).append(
            {
                "keyword": "action",
                "provider": "logger",
                "name": "log_message",
                "input": {"message": "changed by bench/bench_pipeline.py"},
            }
        )
        workspace.update_recipe(recipe_id, name=f"{recipe.name} (changed)", code=code)
    return len(chosen)


# ---------------------------------------------------------------------- scenarios


def full_and_daily(bench: Bench, recipes: int, daily: bool, record_full: bool = True) -> None:
    """``sync --full`` unpaced; with ``daily``, then ``sync`` on the unchanged workspace and
    ``sync`` after 1% of the recipes changed, into the same installation."""
    workspace = generate(bench.seed, recipes)
    minimum = api_minimum(workspace)
    with serving([workspace], paced=False, time_scale=1.0) as sims:
        site = bench.site(f"full-{recipes}", [(MAIN, sims[0])])
        label = "full, unpaced" if record_full else "full, unpaced (before the daily runs)"
        full = run_cli(
            Run("full", f"{label}, {recipes:,} recipes", recipes, 1, "", minimum_requests=minimum),
            ["sync", "--full"],
            site,
            bench.deadline,
            requests_per_minute=0,
            time_scale=1.0,
            tag="full",
        )
        bench.record(full)
        if not daily or not full.ok:
            return
        estimate = 0.8 * full.wall_seconds
        if not bench.fits(f"daily run, unchanged, {recipes:,} recipes", estimate):
            return
        bench.record(
            run_cli(
                Run("daily", f"daily, unchanged, {recipes:,} recipes", recipes, 1, ""),
                ["sync"],
                site,
                bench.deadline,
                requests_per_minute=0,
                time_scale=1.0,
                tag="daily-unchanged",
            )
        )
        if not bench.fits(f"daily run, 1% changed, {recipes:,} recipes", estimate):
            return
        changed = change_one_percent(workspace)
        run = Run("daily", f"daily, 1% changed, {recipes:,} recipes", recipes, 1, "")
        run.extra["recipes_changed"] = changed
        bench.record(
            run_cli(
                run,
                ["sync"],
                site,
                bench.deadline,
                requests_per_minute=0,
                time_scale=1.0,
                tag="daily-changed",
            )
        )


def paced(bench: Bench, recipes: int) -> None:
    """``sync --full`` against Workato's quotas on a minute shortened by the time scale."""
    workspace = generate(bench.seed, recipes)
    minimum = api_minimum(workspace)
    with serving([workspace], paced=True, time_scale=bench.time_scale) as sims:
        site = bench.site(f"paced-{recipes}", [(MAIN, sims[0])])
        bench.record(
            run_cli(
                Run(
                    "paced",
                    f"full, paced, {recipes:,} recipes",
                    recipes,
                    1,
                    "",
                    minimum_requests=minimum,
                ),
                ["sync", "--full"],
                site,
                bench.deadline,
                requests_per_minute=QUOTA,
                time_scale=bench.time_scale,
                tag="paced",
            )
        )


def naive(bench: Bench, recipes: int) -> None:
    """The naive extractor on the same simulator settings as the paced run."""
    workspace = generate(bench.seed, recipes)
    with serving([workspace], paced=True, time_scale=bench.time_scale) as sims:
        site = bench.site(f"naive-{recipes}", [(MAIN, sims[0])])
        bench.record(
            run_naive(
                Run("naive", f"naive extractor, paced, {recipes:,} recipes", recipes, 1, ""),
                site,
                bench.deadline,
                time_scale=bench.time_scale,
                tag="naive",
            )
        )


def partitions(bench: Bench, count: int, recipes: int) -> None:
    """``sync --full`` of ``count`` workspaces (archy.yaml lists them; each a Dagster
    partition). The CLI syncs them one after the other, then rebuilds the archy tables once."""
    workspaces = [
        generate(bench.seed + i, recipes, name=f"Workspace {i + 1}") for i in range(count)
    ]
    minima = [api_minimum(ws) for ws in workspaces]
    with serving(workspaces, paced=False, time_scale=1.0) as sims:
        site = bench.site(
            f"partitions-{count}x{recipes}",
            [(f"Workspace {i + 1}", sim) for i, sim in enumerate(sims)],
        )
        run = Run(
            "partitions",
            f"{count} workspaces of {recipes:,} recipes, unpaced",
            recipes,
            count,
            "",
            minimum_requests=add_counts(*minima),
        )
        run.extra["minimum_by_workspace"] = minima
        bench.record(
            run_cli(
                run,
                ["sync", "--full"],
                site,
                bench.deadline,
                requests_per_minute=0,
                time_scale=1.0,
                tag="partitions",
            )
        )


def naive_estimate(recipes: int, time_scale: float) -> float:
    """Seconds the naive extractor waits at the quota: pages plus one GET per recipe."""
    requests = {"recipes": recipes // 100 + 1 + recipes}
    return floor_windows(requests) * 60 * 1.05 * time_scale + 0.02 * recipes


def run_all(
    bench: Bench,
    sizes: list[int],
    paced_sizes: list[int],
    naive_sizes: list[int],
    daily_size: int | None,
    partition_count: int,
    partition_size: int | None,
) -> None:
    """Every scenario, cheapest first, each started only if its estimate fits the budget."""
    for recipes in sorted(set(sizes)):
        if bench.fits(f"full run, unpaced, {recipes:,} recipes", bench.estimate_full(recipes)):
            bench.say(f"-- full pipeline, unpaced, {recipes:,} recipes")
            full_and_daily(bench, recipes, daily=recipes == daily_size)
    if daily_size and daily_size not in sizes:
        estimate = bench.estimate_full(daily_size)
        estimate = None if estimate is None else 2.6 * estimate
        if bench.fits(f"daily runs, {daily_size:,} recipes", estimate):
            bench.say(f"-- daily runs, {daily_size:,} recipes (after a full run)")
            full_and_daily(bench, daily_size, daily=True, record_full=False)
    for recipes in sorted(set(paced_sizes)):
        minimum = floor_windows(api_minimum_estimate(recipes)) * 63 * bench.time_scale
        estimate = bench.estimate_full(recipes)
        estimate = None if estimate is None else estimate + minimum
        if bench.fits(f"full run, paced, {recipes:,} recipes", estimate):
            bench.say(f"-- full pipeline, paced (time scale {bench.time_scale:g}), {recipes:,}")
            paced(bench, recipes)
    for recipes in sorted(set(naive_sizes)):
        if bench.fits(
            f"naive extractor, {recipes:,} recipes", naive_estimate(recipes, bench.time_scale)
        ):
            bench.say(f"-- naive extractor, paced (time scale {bench.time_scale:g}), {recipes:,}")
            naive(bench, recipes)
    if partition_count and partition_size:
        what = f"{partition_count} workspaces of {partition_size:,} recipes"
        if bench.fits(what, bench.estimate_full(partition_size, partition_count)):
            bench.say(f"-- {what}, unpaced")
            partitions(bench, partition_count, partition_size)


def api_minimum_estimate(recipes: int) -> dict[str, int]:
    """The generator's folder count for ``recipes`` (``max(5, recipes // 8)``), listed once
    each with Home and the projects call: enough to estimate the paced floor before
    generating."""
    return {"recipes": recipes // 100 + 1, "folders": max(5, recipes // 8) + 2}
