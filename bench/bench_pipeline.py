"""Benchmark: the whole pipeline as a user runs it, against the bundled simulator.

Run from the repository root (``make bench`` runs it with ``BENCH_ARGS``)::

    .venv/bin/python bench/bench_pipeline.py                       # 200 and 1,000 recipes
    .venv/bin/python bench/bench_pipeline.py --sizes 200 1000 5000 --max-minutes 120

Scenarios (issue 13), each ``archy-pipeline sync --full`` or ``sync`` in a child process with
an installation of its own (Dagster home, archy.yaml, DuckDB file), measured from outside:
wall time, CPU seconds (user + sys) and peak RSS of the child (``os.wait4``), requests per
endpoint family (the simulator's log), CPU, wall and peak RSS per Dagster step:

* the full pipeline at each ``--sizes``, unpaced (processing alone);
* the same, paced at Workato's published quotas on a minute shortened by ``--time-scale``
  (``--paced-sizes``);
* a daily run of the unchanged workspace, and one after 1% of the recipes changed
  (``--daily-size``, after its full run);
* ``--partitions`` workspaces of ``--partition-size`` recipes in one archy.yaml (the CLI
  syncs them one after the other, then rebuilds the archy tables once);
* the naive per-recipe extractor (``bench/pipeline/naive.py``: list, then GET each recipe)
  on the paced runs' settings (``--naive-sizes``), against ours: requests and paced wall.

The scenarios run cheapest first; one whose estimate (from the runs already measured) does
not fit in what is left of ``--max-minutes`` is skipped and listed, and a child still running
at the end of the budget is stopped. Then the section "Pipeline: the whole sync as a user
runs it" of ``--results`` is rewritten (the other sections stay), with the machine, the date
and this command, and ``--plot`` is drawn (CPU per stage and peak RSS against workspace size).
Nothing is asserted; ``tests/test_bench_smoke.py`` runs it at 20 recipes.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shlex
import shutil
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

from pipeline import results
from pipeline.scenarios import Bench, fmt_seconds, naive_estimate, run_all

REPO = Path(__file__).resolve().parents[1]


def machine(workdir: Path, load_start: float) -> dict[str, object]:
    model = "unknown CPU"
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            model = line.split(":", 1)[1].strip()
            break
    memory_kib = next(
        int(line.split()[1])
        for line in Path("/proc/meminfo").read_text().splitlines()
        if line.startswith("MemTotal:")
    )
    return {
        "cpus": os.cpu_count(),
        "cpu_model": model,
        "memory_gib": memory_kib / 2**20,
        "python": platform.python_version(),
        "platform": platform.platform(),
        "load_start": load_start,
        "load_end": os.getloadavg()[0],
        "workdir_fs": filesystem(workdir),
    }


def filesystem(path: Path) -> str:
    """The file system type under ``path`` (tmpfs means no disk waits), from /proc/mounts."""
    best, kind = "", "unknown"
    for line in Path("/proc/mounts").read_text().splitlines():
        _, mount, fstype, *_ = line.split()
        if str(path.resolve()).startswith(mount) and len(mount) > len(best):
            best, kind = mount, fstype
    return f"{kind} ({path})"


def command_line(argv: list[str]) -> str:
    script = os.path.relpath(Path(argv[0]).resolve(), Path.cwd())
    python = os.path.relpath(sys.executable, Path.cwd()) if Path.cwd() == REPO else sys.executable
    line = shlex.join([python, script, *argv[1:]])
    return f"make bench  # ran: {line}" if os.environ.get("MAKELEVEL") else line


def next_size_note(bench: Bench, args: argparse.Namespace) -> str:
    """How long the run at 5,000 recipes would take, by this run's figures (when not run)."""
    measured = {r.recipes for r in bench.runs if r.scenario == "full" and r.ok}
    if 5000 in args.sizes or len(measured) < 2:
        return ""
    full = bench.estimate_full(5000)
    if full is None:
        return ""
    floor = 10 * 63 * args.time_scale  # 627 folder requests at 5,000: ten windows
    # Several workspaces cost less than as many full runs (one archy rebuild); scale by what
    # the measured several-workspaces run cost against its single-workspace estimate.
    several = next((r for r in bench.runs if r.scenario == "partitions" and r.ok), None)
    share = 1.0
    if several is not None:
        alone = bench.estimate_full(several.recipes, several.workspaces)
        share = min(1.0, several.wall_seconds / alone) if alone else 1.0
    partitions = args.partitions * full * share
    total = (
        full * (1 + 2 * 0.8)  # full, then the two daily runs
        + full
        + floor  # paced
        + naive_estimate(5000, args.time_scale)
        + partitions  # one after the other
    )
    return (
        "At 5,000 recipes (not run here): "
        '`make bench BENCH_ARGS="--sizes 200 1000 5000 --max-minutes 150"`. By this run\'s '
        f"figures (linear in recipes) its 5,000-recipe scenarios alone take about "
        f"{fmt_seconds(total)}: full {fmt_seconds(full)}, the daily runs, paced "
        f"{fmt_seconds(full + floor)}, the naive extractor "
        f"{fmt_seconds(naive_estimate(5000, args.time_scale))} and "
        f"{args.partitions} x 5,000 recipes {fmt_seconds(partitions)}. Wall times here "
        "follow the machine's load; peak memory at 5,000 recipes is several GiB (24 GiB here)."
    )


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--sizes",
        type=int,
        nargs="+",
        default=[200, 1000],
        help="recipes of the unpaced full runs (default: 200 1000)",
    )
    parser.add_argument(
        "--paced-sizes",
        type=int,
        nargs="*",
        help="recipes of the paced full runs (default: --sizes)",
    )
    parser.add_argument(
        "--naive-sizes",
        type=int,
        nargs="*",
        help="recipes of the naive extractor runs (default: --sizes)",
    )
    parser.add_argument(
        "--daily-size",
        type=int,
        help="recipes of the daily runs (default: the largest of --sizes; 0: none)",
    )
    parser.add_argument(
        "--partitions",
        type=int,
        default=5,
        help="workspaces in the several-workspaces run (0: none)",
    )
    parser.add_argument(
        "--partition-size", type=int, help="recipes per workspace there (default: the largest size)"
    )
    parser.add_argument(
        "--time-scale",
        type=float,
        default=0.1,
        help="length of Workato's minute in the paced runs, as a fraction of "
        "60 s (default 0.1: a 6 s minute)",
    )
    parser.add_argument("--seed", type=int, default=1, help="generate_workspace seed")
    parser.add_argument(
        "--max-minutes",
        type=float,
        default=30.0,
        help="time budget of the whole command (default 30)",
    )
    parser.add_argument(
        "--workdir",
        type=Path,
        help="where the installations go (default: a new temp folder, removed after unless --keep)",
    )
    parser.add_argument("--keep", action="store_true", help="keep the work folder")
    parser.add_argument("--results", type=Path, default=REPO / "bench" / "RESULTS.md")
    parser.add_argument("--plot", type=Path, default=REPO / "bench" / "pipeline.png")
    parser.add_argument(
        "--json",
        type=Path,
        default=REPO / "bench" / "pipeline.json",
        help="every figure of the run, for comparing runs (default: bench/pipeline.json)",
    )
    parser.add_argument(
        "--render-only",
        action="store_true",
        help="run nothing: rewrite the section and the plot from the figures in --json",
    )
    args = parser.parse_args(argv)
    if args.paced_sizes is None:
        args.paced_sizes = list(args.sizes)
    if args.naive_sizes is None:
        args.naive_sizes = list(args.sizes)
    if args.daily_size is None:
        args.daily_size = max(args.sizes)
    if args.partition_size is None:
        args.partition_size = max(args.sizes)
    return args


def render(data: dict[str, object], args: argparse.Namespace) -> None:
    drawn = results.plot(data, args.plot)
    text = results.section(data, args.plot if drawn else None, args.results)
    results.rewrite(args.results, text)
    print()
    print(text)
    print(
        f"bench_pipeline: rewrote its section of {args.results}"
        + (f" and drew {args.plot}" if drawn else "")
    )


def main(argv: list[str]) -> int:
    args = parse_args(argv[1:])
    if args.render_only:
        render(json.loads(args.json.read_text()), args)
        return 0
    load_start = os.getloadavg()[0]
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="bench_pipeline_"))
    workdir.mkdir(parents=True, exist_ok=True)
    started_at = datetime.now(timezone.utc)
    print(f"bench_pipeline: work folder {workdir}, budget {args.max_minutes:g} min", flush=True)

    def say(line: str) -> None:
        print(line, flush=True)

    bench = Bench(workdir, args.time_scale, args.seed, args.max_minutes * 60, say=say)
    try:
        run_all(
            bench,
            sizes=args.sizes,
            paced_sizes=args.paced_sizes,
            naive_sizes=args.naive_sizes,
            daily_size=args.daily_size or None,
            partition_count=args.partitions,
            partition_size=args.partition_size or None,
        )
        data = {
            "date": started_at.strftime("%Y-%m-%d %H:%M UTC"),
            "command": command_line(argv),
            "machine": machine(workdir, load_start),
            "time_scale": args.time_scale,
            "max_minutes": args.max_minutes,
            "elapsed_seconds": time.monotonic() - bench.started,
            "runs": [run.to_json() for run in bench.runs],
            "skipped": bench.skipped,
            "next_size_note": next_size_note(bench, args),
        }
    finally:
        if not args.keep and args.workdir is None:
            shutil.rmtree(workdir, ignore_errors=True)
    args.json.write_text(json.dumps(data, indent=1) + "\n")
    render(data, args)
    failed = [run.label for run in bench.runs if not run.ok]
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
