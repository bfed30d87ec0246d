"""The bench's figures as a section of bench/RESULTS.md and a PNG plot."""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

from pipeline.harness import QUOTA, STAGE_ORDER, floor_windows, run_floor_windows
from pipeline.scenarios import fmt_seconds

BEGIN = "<!-- bench_pipeline: begin (bench/bench_pipeline.py rewrites this section) -->"
END = "<!-- bench_pipeline: end -->"
HEADING = "## Pipeline: the whole sync as a user runs it (`make bench`)"
MIB = 2**20
SHOWN_FAMILIES = ("users", "recipes", "folders", "connections")

WHAT_IT_DOES = """\
What it does: each run is `archy-pipeline sync --full` (or `sync`, the daily run) in a child
process, with its own Dagster home (the project's `dagster.yaml`), `archy.yaml`, DuckDB file
and `WORKATO_BASE_URL`/`WORKATO_API_TOKEN`, against workspaces that
`generate_workspace(seed, recipes=N)` builds and a `WorkatoSimulator` serves on loopback from
the bench's process. The child is `bench/pipeline/child.py`, which calls the CLI's `main`
unchanged after two hooks: every `WorkatoClient` gets the bench's pacing (the CLI has no flag
for the quota or the length of Workato's minute), and Dagster's step events note the CPU
(`time.process_time`), wall time and sampled RSS of each step. Wall time is the child's, from
start to exit (interpreter start-up and imports included); CPU (user + sys) and peak RSS
(`ru_maxrss`) come from `os.wait4`. Requests are counted from the simulator's log, by
endpoint family (`/api/projects` counts among folders, as at Workato). *Unpaced*: the
simulator's quotas and the client's pacing are off, so the seconds are processing. *Paced*:
the simulator serves Workato's published quotas (60 requests a minute per family) on a minute
shortened by the time scale, and the client paces itself on the same minute (with its 5%
margin). The *daily* runs follow the unpaced full run of the same size in the same
installation: first with the workspace unchanged, then after 1% of its recipes were edited
through the simulator's mutation API (renamed, one logger step added). The *naive extractor*
(`bench/pipeline/naive.py`) lists the recipes without code, then GETs each recipe, through
the same client and pacing on the same simulator settings. Several workspaces are one
`archy.yaml` with one entry each (Dagster partitions): the CLI syncs them one after the
other, then rebuilds the archy tables once; they do not run concurrently. Nothing is
asserted."""

FLOOR_TEXT = """\
The API's floor: a family's n-th request cannot leave before `(n - 1) // 60` Workato minutes
after its first, and the busiest family sets the floor of a run (the folder walk, for our full
sync: `GET /api/folders` lists one folder's children, so the walk asks once per folder). The
*API minimum* is the fewest requests a full sync can make: `/users/me`, the recipe listing
with code in pages of 100 (`N // 100 + 1`, paging stops at a short page), one connections call,
every folder's children once (Home included) and `/api/projects`. On a shortened minute
(time scale s) the waiting shrinks s-fold and the processing does not, so there *paced wall /
floor* says how much processing adds on top of that scale's waiting; issue 13's target
(at most 1.1) is for Workato's real minute (`--time-scale 1`)."""


def _mib(value: float) -> str:
    return f"{value / MIB:,.0f}"


def _ratio(value: float) -> str:
    return f"{value:.1f}" if value >= 1 else f"{value:.2f}"


def _requests(run: dict[str, Any]) -> dict[str, int]:
    return run.get("requests") or {}


def _total(counts: dict[str, int]) -> int:
    return sum(counts.values())


def machine_lines(data: dict[str, Any]) -> list[str]:
    m = data["machine"]
    return [
        f"Command (from the repository root), {data['date']}:",
        "",
        "```",
        data["command"],
        "```",
        "",
        f"Machine: {m['cpus']} CPUs ({m['cpu_model']}), {m['memory_gib']:.0f} GiB, "
        f"Python {m['python']}, {m['platform']}; load average {m['load_start']:.1f} at the "
        f"start and {m['load_end']:.1f} at the end (the box is shared with other work, so the "
        f"figures are noisy). Work folder on {m['workdir_fs']}. Time scale of the paced runs: "
        f"{data['time_scale']:g} (a Workato minute lasts {60 * data['time_scale']:g} s). "
        f"The whole command took {fmt_seconds(data['elapsed_seconds'])} "
        f"(budget {data['max_minutes']:g} min).",
    ]


def runs_table(runs: list[dict[str, Any]]) -> list[str]:
    lines = [
        "| Run | Command | Wall | CPU (user + sys) | Peak RSS (MiB) | users | recipes "
        "| folders | connections | Requests | Rows loaded: recipes / steps | Waited for quota |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for run in runs:
        counts = _requests(run)
        if run["exit_code"] is None:
            lines.append(f"| {run['label']} | `{run['command']}` | {run['note']} |||||||||")
            continue
        loaded = run.get("rows_loaded") or {}
        rows = (
            f"{loaded.get('recipes', 0):,} / {loaded.get('recipe_steps', 0):,}"
            if run["scenario"] != "naive"
            else f"{run.get('extra', {}).get('recipes_read', 0):,} read, none stored"
        )
        failed = "" if run["exit_code"] == 0 else f" (exit {run['exit_code']})"
        lines.append(
            f"| {run['label']}{failed} | `{run['command']}` | {fmt_seconds(run['wall_seconds'])} "
            f"| {run['cpu_user'] + run['cpu_sys']:.1f} s ({run['cpu_user']:.1f} + "
            f"{run['cpu_sys']:.1f}) | {_mib(run['peak_rss_bytes'])} "
            + "".join(f"| {counts.get(f, 0):,} " for f in SHOWN_FAMILIES)
            + f"| {_total(counts):,} | {rows} | {run.get('quota_wait_seconds', 0):.1f} s |"
        )
    notes = [
        f"* {run['label']}: {run['note']}"
        for run in runs
        if run["note"] and run["exit_code"] is not None
    ]
    others = {
        run["label"]: {k: v for k, v in run["statuses"].items() if k != "200"}
        for run in runs
        if set(run.get("statuses") or {}) - {"200"}
    }
    notes += [f"* {label}: answers other than 200: {codes}" for label, codes in others.items()]
    return lines + (["", *notes] if notes else [])


def stages_table(runs: list[dict[str, Any]]) -> list[str]:
    staged = [r for r in runs if r.get("stages") and r["scenario"] != "naive"]
    if not staged:
        return []
    shown = [s for s in STAGE_ORDER if any(s in r["stages"] for r in staged)]
    lines = [
        "Where the time goes: CPU seconds per stage (wall seconds in brackets), from the "
        "child's step events. *Outside steps* is the rest of the child: interpreter start-up, "
        "imports, loading the definitions, Dagster's run setup and the CLI's summary.",
        "",
        "| Run | " + " | ".join(shown) + " | peak RSS by stage (MiB, sampled every 50 ms) |",
        "|---|" + "---:|" * len(shown) + "---|",
    ]
    for run in staged:
        cells = []
        for stage in shown:
            s = run["stages"].get(stage)
            cells.append(f"{s['cpu']:.1f} ({s['wall']:.1f})" if s else "")
        peaks = ", ".join(
            f"{stage} {_mib(s['rss'])}" for stage, s in run["stages"].items() if s["rss"]
        )
        lines.append(f"| {run['label']} | " + " | ".join(cells) + f" | {peaks} |")
    return lines


def floor_table(runs: list[dict[str, Any]], time_scale: float) -> list[str]:
    rows = [r for r in runs if r["exit_code"] == 0 and r["scenario"] != "daily"]
    if not rows:
        return []
    lines = [
        FLOOR_TEXT,
        "",
        "| Run | Requests | API minimum | Requests / minimum | Floor at 60/min: these requests "
        "/ the minimum | Paced wall | Floor at the time scale | Paced wall / floor |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for run in rows:
        counts = _requests(run)
        minimum = run.get("minimum_requests") or {}
        ours = run_floor_windows(run, QUOTA)
        minima = run.get("extra", {}).get("minimum_by_workspace") or [minimum]
        least = sum(floor_windows(m, QUOTA) for m in minima) if minimum else None
        ratio = f"{_total(counts) / _total(minimum):.2f}" if minimum else ""
        floors = f"{ours} min" + (f" / {least} min" if least is not None else "")
        paced = run.get("time_scale")
        if paced:
            floor_s = ours * 60 * paced
            wall = fmt_seconds(run["wall_seconds"])
            over = f"{run['wall_seconds'] / floor_s:.2f}" if floor_s else "(no floor)"
            lines.append(
                f"| {run['label']} | {_total(counts):,} | {_total(minimum) or ''} | {ratio} "
                f"| {floors} | {wall} | {fmt_seconds(floor_s)} | {over} |"
            )
        else:
            lines.append(
                f"| {run['label']} | {_total(counts):,} | {_total(minimum) or ''} | {ratio} "
                f"| {floors} | | | |"
            )
    return lines


def naive_table(runs: list[dict[str, Any]]) -> list[str]:
    naive = {r["recipes"]: r for r in runs if r["scenario"] == "naive" and r["exit_code"] == 0}
    paced = {r["recipes"]: r for r in runs if r["scenario"] == "paced" and r["exit_code"] == 0}
    full = {r["recipes"]: r for r in runs if r["scenario"] == "full" and r["exit_code"] == 0}
    if not naive:
        return []
    lines = [
        "The naive extractor against ours, on the same simulator settings. Our requests are "
        "those of the paced full run (the unpaced one where no paced run was made); *extract "
        "step* is the wall time of our `workato_raw` step alone, which does what the naive "
        "extractor does and also walks the folders, reads connections, parses and loads.",
        "",
        "| Recipes | Naive: requests | Ours: requests | Ratio | Naive: paced wall | Ours: "
        "paced wall, whole pipeline | Ours: extract step | Naive / ours (whole / extract) "
        "| Floors at Workato's real minute: naive / ours |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for recipes, run in sorted(naive.items()):
        ours = paced.get(recipes) or full.get(recipes)
        theirs = _total(_requests(run))
        if ours is None:
            lines.append(f"| {recipes:,} | {theirs:,} | | | {fmt_seconds(run['wall_seconds'])} "
                         f"| | | | {floor_windows(_requests(run))} min / |")  # fmt: skip
            continue
        mine = _total(_requests(ours))
        extract = sum(s["wall_seconds"] for s in ours["steps"] if s["step"] == "workato_raw")
        is_paced = ours["scenario"] == "paced"
        whole = fmt_seconds(ours["wall_seconds"]) if is_paced else "(not run)"
        ext = fmt_seconds(extract) if is_paced and extract else ""
        ratios = (
            f"{_ratio(run['wall_seconds'] / ours['wall_seconds'])} / "
            f"{_ratio(run['wall_seconds'] / extract)}"
            if is_paced and extract
            else ""
        )
        lines.append(
            f"| {recipes:,} | {theirs:,} | {mine:,} | {_ratio(theirs / mine)} "
            f"| {fmt_seconds(run['wall_seconds'])} | {whole} | {ext} | {ratios} "
            f"| {floor_windows(_requests(run))} min / {floor_windows(_requests(ours))} min |"
        )
    return lines


def section(data: dict[str, Any], plot: Path | None, results: Path) -> str:
    runs = data["runs"]
    parts: list[list[str]] = [
        [BEGIN, HEADING],
        machine_lines(data),
        [WHAT_IT_DOES],
        runs_table(runs),
        stages_table(runs),
        floor_table(runs, data["time_scale"]),
        naive_table(runs),
    ]
    if data["skipped"]:
        parts.append(["Not run (time budget):", ""] + [f"* {s}" for s in data["skipped"]])
    if plot is not None and plot.exists():
        rel = os.path.relpath(plot, results.parent)
        parts.append([f"![CPU per stage and peak memory against workspace size]({rel})"])
    if data.get("next_size_note"):
        parts.append([data["next_size_note"]])
    parts.append([END])
    return "\n\n".join("\n".join(p) for p in parts if p) + "\n"


def rewrite(results: Path, text: str, begin: str = BEGIN, end: str = END) -> None:
    """Replace a section of ``results`` (between its marks ``begin`` and ``end``: the bench's by
    default), or append it; every other section stays as it is."""
    old = results.read_text() if results.exists() else "# Benchmark results\n"
    pattern = re.compile(re.escape(begin) + r".*?" + re.escape(end) + r"\n?", re.S)
    if pattern.search(old):
        new = pattern.sub(lambda _: text, old, count=1)
    else:
        new = old.rstrip("\n") + "\n\n" + text
    results.write_text(new)


def _whole_run_only(ax: Any) -> tuple[list[Any], list[str]]:
    """The memory plot's own legend entry (the stages share the figure's legend)."""
    handles, labels = ax.get_legend_handles_labels()
    return [h for h, lab in zip(handles, labels) if lab.startswith("whole")], [
        lab for lab in labels if lab.startswith("whole")
    ]


def plot(data: dict[str, Any], path: Path) -> bool:
    """CPU per stage and peak RSS against workspace size (the unpaced full runs); False when
    there is nothing to draw."""
    runs = sorted(
        (r for r in data["runs"] if r["scenario"] == "full" and r["exit_code"] == 0),
        key=lambda r: r["recipes"],
    )
    if not runs:
        return False
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    sizes = [f"{r['recipes']:,}" for r in runs]
    x = list(range(len(runs)))
    stages = [s for s in STAGE_ORDER if any(s in r["stages"] for r in runs)]
    fig, (cpu_ax, mem_ax) = plt.subplots(1, 2, figsize=(13, 4.8))
    bottom = [0.0] * len(runs)
    colours = plt.get_cmap("tab10")
    for i, stage in enumerate(stages):
        values = [r["stages"].get(stage, {}).get("cpu", 0.0) for r in runs]
        cpu_ax.bar(x, values, 0.6, bottom=bottom, label=stage, color=colours(i % 10))
        bottom = [b + v for b, v in zip(bottom, values)]
    cpu_ax.plot(x, [r["wall_seconds"] for r in runs], "ko-", label="wall (whole run)")
    cpu_ax.set_xticks(x, sizes)
    cpu_ax.set_xlabel("recipes (one workspace, `sync --full`, unpaced)")
    cpu_ax.set_ylabel("seconds")
    cpu_ax.set_title("CPU seconds per stage, and wall time")

    mem_ax.plot(x, [r["peak_rss_bytes"] / MIB for r in runs], "ko-", label="whole run (ru_maxrss)")
    for i, stage in enumerate(stages):
        values = [r["stages"].get(stage, {}).get("rss", 0) / MIB for r in runs]
        if any(values):
            mem_ax.plot(x, values, "o--", label=stage, color=colours(i % 10))
    mem_ax.set_xticks(x, sizes)
    mem_ax.set_xlabel("recipes")
    mem_ax.set_ylabel("MiB")
    mem_ax.set_ylim(bottom=0)
    mem_ax.set_title("Peak resident memory (by stage: sampled every 50 ms)")
    handles, labels = cpu_ax.get_legend_handles_labels()
    fig.legend(handles, labels, loc="center right", fontsize=8, title="stage")
    mem_ax.legend(*_whole_run_only(mem_ax), fontsize=8, loc="lower right")
    fig.suptitle(f"archy-pipeline sync --full against the simulator ({data['date']})")
    fig.tight_layout(rect=(0, 0, 0.86, 1))
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return True
