"""The pipeline benchmark (`make bench`) at 20 recipes: it still runs and reports its figures.

One unpaced `archy-pipeline sync --full` in a child process and the naive extractor, as
`make bench` runs them, into a RESULTS.md and a plot in tmp_path. No timing is asserted: the
figures must exist and agree with what the simulator and the pipeline did.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
BENCH = REPO / "bench" / "bench_pipeline.py"
BEGIN = "<!-- bench_pipeline: begin (bench/bench_pipeline.py rewrites this section) -->"
END = "<!-- bench_pipeline: end -->"

OLD_RESULTS = f"""# Benchmark results

## Simulator: generate and serve

Kept as it is.

{BEGIN}
## Pipeline: the whole sync as a user runs it (`make bench`)

A stale table that the run replaces.

{END}

## Centrality

Kept as well.
"""


@pytest.mark.slow
def test_bench_pipeline_measures_a_sync_and_rewrites_its_section(tmp_path: Path) -> None:
    results = tmp_path / "RESULTS.md"
    results.write_text(OLD_RESULTS)
    plot, figures = tmp_path / "pipeline.png", tmp_path / "figures.json"
    # fmt: off
    argv = [
        sys.executable, str(BENCH),
        "--sizes", "20", "--paced-sizes", "--naive-sizes", "20",
        "--daily-size", "0", "--partitions", "0", "--time-scale", "0.01",
        "--max-minutes", "4",
        "--workdir", str(tmp_path / "work"),
        "--results", str(results), "--plot", str(plot), "--json", str(figures),
    ]
    # fmt: on
    done = subprocess.run(
        argv,
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]

    data = json.loads(figures.read_text())
    runs = {run["scenario"]: run for run in data["runs"]}
    assert set(runs) == {"full", "naive"}
    assert data["skipped"] == []

    full = runs["full"]
    assert full["exit_code"] == 0
    assert full["command"] == "archy-pipeline sync --full"
    assert full["cpu_user"] > 0 and full["wall_seconds"] > 0
    assert full["peak_rss_bytes"] > 50 * 2**20  # Dagster, dlt and DuckDB are loaded
    # Requests from the simulator's log: one identity call, one page of 20 recipes with code.
    assert full["requests"]["users"] == 1
    assert full["requests"]["recipes"] == 1
    assert full["requests"]["folders"] >= full["minimum_requests"]["folders"]
    # Rows loaded, from the CLI's own summary line.
    assert full["rows_loaded"]["recipes"] == 20
    # Steps recorded by the child: the extract, the archy models and the analysis at least,
    # and their CPU within the child's (measured apart, by the kernel).
    steps = {step["step"]: step for step in full["steps"]}
    assert {"workato_raw", "archy_sql_models", "archy_analysis"} <= set(steps)
    assert all(step["ok"] and step["cpu_seconds"] > 0 for step in steps.values())
    in_steps = sum(step["cpu_seconds"] for step in steps.values())
    assert in_steps < full["cpu_user"] + full["cpu_sys"] + 0.5
    assert full["stages"]["extract"]["cpu"] == pytest.approx(steps["workato_raw"]["cpu_seconds"])

    naive = runs["naive"]
    assert naive["exit_code"] == 0
    assert naive["requests"] == {"recipes": 21}  # one listing page, then one GET per recipe
    assert naive["extra"]["recipes_read"] == 20

    text = results.read_text()
    assert text.count(BEGIN) == 1 and text.count(END) == 1
    assert "A stale table" not in text
    assert "Kept as it is." in text and "Kept as well." in text
    section = text[text.index(BEGIN) : text.index(END)]
    assert "| full, unpaced, 20 recipes | `archy-pipeline sync --full` |" in section
    assert "| naive extractor, paced, 20 recipes |" in section
    assert "--sizes 20" in section  # the command that produced it
    assert "![CPU per stage and peak memory against workspace size](pipeline.png)" in section
    assert plot.read_bytes().startswith(b"\x89PNG\r\n\x1a\n")

    # --render-only rebuilds the same section and plot from the figures file alone.
    plot.unlink()
    results.write_text(OLD_RESULTS)
    again = subprocess.run(
        [sys.executable, str(BENCH), "--render-only", "--results", str(results),
         "--plot", str(plot), "--json", str(figures)],
        cwd=REPO, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert again.returncode == 0, again.stdout[-3000:] + again.stderr[-3000:]
    assert results.read_text() == text
    assert plot.read_bytes().startswith(b"\x89PNG\r\n\x1a\n")


PROFILE = REPO / "bench" / "profile_pipeline.py"
PROFILE_BEGIN = "<!-- profile_pipeline: begin (bench/profile_pipeline.py rewrites this section) -->"


@pytest.mark.slow
def test_profile_pipeline_profiles_a_sync_and_rewrites_its_section(tmp_path: Path) -> None:
    """`make bench`'s profile at 20 recipes: the section names the pipeline's own stages
    with their cumulative seconds, and the rest of RESULTS.md stays."""
    results = tmp_path / "RESULTS.md"
    results.write_text(OLD_RESULTS)
    stats = tmp_path / "sync.prof"
    done = subprocess.run(
        [sys.executable, str(PROFILE), "--recipes", "20", "--top", "40",
         "--results", str(results), "--stats", str(stats)],
        cwd=REPO, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    text = results.read_text()
    assert text.count(PROFILE_BEGIN) == 1 and "Kept as it is." in text and "Kept as well." in text
    assert BEGIN in text  # the pipeline's own section is left alone
    profile = text.split(PROFILE_BEGIN, 1)[1]
    assert "of 20 generated recipes under cProfile" in profile
    cumulative = {
        line.split("`")[1].split(" (")[0]: float(line.rsplit("|", 2)[1])
        for line in profile.split("most cumulative time", 1)[1].splitlines()
        if line.startswith("| `")
    }
    # The stages Dagster ran in this process, each with some time inside it.
    for stage in ("workato_raw_tables", "analysis_tables", "architecture_report"):
        assert cumulative[stage] > 0, stage
    assert cumulative["main"] >= max(cumulative.values()) - 1e-6  # the CLI holds them all
    import pstats

    assert pstats.Stats(str(stats)).total_calls > 10_000  # type: ignore[attr-defined]
