"""Profile: where the CPU of a whole ``archy-pipeline sync --full`` goes, function by function.

Run from the repository root (``make bench`` runs it after ``bench_pipeline.py``)::

    .venv/bin/python bench/profile_pipeline.py --recipes 5000

One unpaced ``archy-pipeline sync --full`` of a generated workspace
(``generate_workspace(seed, recipes=N)``, served by the simulator on loopback), in a child
process (``bench/pipeline/child.py --profile``) under ``cProfile``. Then the section "Profile"
of ``--results`` is rewritten (the other sections stay) with the date, the machine, the
command and two tables: the functions with the most time of their own, and archy_pipeline's
functions by cumulative time (the stages and what inside them costs most). cProfile sees the
main thread only, where Dagster runs every step; the folder walk's thread and dlt's load
workers are not in it, and its own overhead inflates every figure (read them as shares).
Nothing is asserted; ``tests/test_bench_smoke.py`` runs it at 20 recipes.
"""

from __future__ import annotations

import argparse
import os
import platform
import pstats
import re
import shlex
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

from pipeline import results
from pipeline.harness import Site
from pipeline.scenarios import generate, serving

REPO = Path(__file__).resolve().parents[1]
CHILD = REPO / "bench" / "pipeline" / "child.py"
BEGIN = "<!-- profile_pipeline: begin (bench/profile_pipeline.py rewrites this section) -->"
END = "<!-- profile_pipeline: end -->"


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--recipes", type=int, default=1000, help="workspace size (default 1000)")
    parser.add_argument("--seed", type=int, default=1, help="generate_workspace seed")
    parser.add_argument("--top", type=int, default=25, help="rows per table (default 25)")
    parser.add_argument("--results", type=Path, default=REPO / "bench" / "RESULTS.md")
    parser.add_argument("--stats", type=Path, help="keep cProfile's statistics in this file")
    parser.add_argument("--timeout-minutes", type=float, default=20.0)
    return parser.parse_args(argv)


def profile(recipes: int, seed: int, workdir: Path, stats: Path, timeout: float) -> float:
    """Run the sync under cProfile into ``stats``; return its wall seconds."""
    with serving([generate(seed, recipes)], paced=False, time_scale=1.0) as sims:
        site = Site(workdir, [("Main Workspace", sims[0])])
        argv = [
            sys.executable, str(CHILD), "--stages", str(workdir / "stages.json"),
            "--requests-per-minute", "0", "--profile", str(stats), "--", "sync", "--full",
        ]  # fmt: skip
        started = time.perf_counter()
        with (workdir / "sync.log").open("w") as log:
            done = subprocess.run(
                argv,
                cwd=site.root,
                env=site.environment(),
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                timeout=timeout,
            )
        wall = time.perf_counter() - started
    if done.returncode != 0:
        tail = (workdir / "sync.log").read_text(errors="replace").strip().splitlines()[-5:]
        raise SystemExit(f"profile_pipeline: the sync failed ({done.returncode}): {tail}")
    return wall


def _where(func: tuple[str, int, str]) -> str:
    path, line, name = func
    if path == "~":  # a built-in
        return name.strip("<>")
    short = re.sub(r"^.*?/(site-packages|lib/python3\.\d+)/", "", path)
    short = short.replace(str(REPO) + "/", "")
    return f"{name} ({short}:{line})"


def tables(stats: pstats.Stats, top: int) -> tuple[float, list[str], list[str]]:
    """Total seconds; rows by own time; archy_pipeline's rows by cumulative time."""
    entries = stats.stats  # type: ignore[attr-defined]
    total = sum(tt for _, _, tt, _, _ in entries.values())

    def row(func: tuple[str, int, str], values: tuple) -> str:
        calls, _, own, cumulative, _ = values
        return (
            f"| `{_where(func)}` | {calls:,} | {own:.2f} | {own / total:.1%} | {cumulative:.2f} |"
        )

    by_own = sorted(entries.items(), key=lambda item: -item[1][2])[:top]
    ours = [
        item
        for item in entries.items()
        if "/archy_pipeline/" in item[0][0] and "<genexpr>" not in item[0][2]
    ]
    by_cumulative = sorted(ours, key=lambda item: -item[1][3])[:top]
    return total, [row(*i) for i in by_own], [row(*i) for i in by_cumulative]


def section(args: argparse.Namespace, stats: pstats.Stats, wall: float, command: str) -> str:
    total, own, cumulative = tables(stats, args.top)
    header = "| Function | Calls | Own s | Own share | Cumulative s |\n|---|---:|---:|---:|---:|"
    return "\n".join(
        [
            BEGIN,
            "## Profile: where a full sync's CPU goes, function by function",
            "",
            f"Command (from the repository root), {datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC:",
            "",
            "```",
            command,
            "```",
            "",
            f"Machine: {os.cpu_count()} CPUs, Python {platform.python_version()}, "
            f"{platform.platform()}; load average {os.getloadavg()[0]:.1f} at the end. "
            f"One unpaced `archy-pipeline sync --full` of {args.recipes:,} generated recipes "
            f"under cProfile: {wall:.1f} s wall, {total:.1f} s profiled in the main thread "
            "(cProfile's overhead included: read the figures as shares). The folder walk's "
            "thread and dlt's load workers are not profiled.",
            "",
            f"The {args.top} functions with the most time of their own:",
            "",
            header,
            *own,
            "",
            f"archy_pipeline's {args.top} functions with the most cumulative time (the stages, "
            "and what inside them costs most):",
            "",
            header,
            *cumulative,
            "",
            END,
            "",
        ]
    )


def main(argv: list[str]) -> int:
    args = parse_args(argv[1:])
    command = shlex.join([".venv/bin/python", "bench/profile_pipeline.py", *argv[1:]])
    with tempfile.TemporaryDirectory(prefix="profile_pipeline_") as tmp:
        workdir = Path(tmp)
        stats_path = args.stats or workdir / "sync.prof"
        print(f"profile_pipeline: {args.recipes:,} recipes under cProfile", flush=True)
        wall = profile(args.recipes, args.seed, workdir, stats_path, args.timeout_minutes * 60)
        stats = pstats.Stats(str(stats_path))
        text = section(args, stats, wall, command)
    results.rewrite(args.results, text, BEGIN, END)
    print(text)
    print(f"profile_pipeline: rewrote its section of {args.results}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
