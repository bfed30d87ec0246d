"""Run ``archy-pipeline`` (or the naive extractor) in a child process against simulators.

One :class:`Site` is a folder with everything a user's installation has: a Dagster home with
the project's ``dagster.yaml``, an ``archy.yaml`` naming the workspaces, and the DuckDB file.
:func:`run_child` starts the child with that environment only (none of the developer's
Workato or archy settings), waits for it with ``os.wait4`` and returns a :class:`Run`: wall
time, the child's CPU (user and sys) and peak RSS from the kernel, the requests each simulator
answered, by endpoint family, and the steps the child recorded (``child.py``).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from archy_pipeline.settings.variables import SETTING_VARIABLES

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
CHILD = HERE / "child.py"
NAIVE = HERE / "naive.py"

#: Workato's published quota: requests per minute per endpoint family (simulator's default).
QUOTA = 60
PER_PAGE = 100
FAMILIES = ("users", "recipes", "folders", "connections", "jobs", "environment_management")
TOKEN_ENV = "WORKATO_API_TOKEN"

#: What a developer's shell may hold; the child sees none of it (tests/support.py hides the
#: same variables from every test).
#: Not passed to the child: archy's settings and Dagster home (each installation has its own),
#: and PYTHONDONTWRITEBYTECODE (set on some development machines), with which every child would
#: compile archy_pipeline's modules again (~0.4 s CPU) where an installed command reads them
#: from __pycache__ after its first run.
HIDDEN_ENV_VARS = (*SETTING_VARIABLES, "DAGSTER_HOME", "PYTHONDONTWRITEBYTECODE")

#: Dagster step key -> stage shown in the tables and the plot.
STAGES = {
    "workato_raw": "extract",
    "archy__integration_descriptions": "descriptions",
    "archy__systems": "mapping",
    "archy__system_mappings": "mapping",
    "archy_sql_models": "sql models",
    "archy_analysis": "analysis",
    "archy__change_events": "change_events",
    "docs__report": "report",
}
STAGE_ORDER = (
    "extract",
    "descriptions",
    "mapping",
    "sql models",
    "analysis",
    "change_events",
    "report",
    "checks",
    "other steps",
    "outside steps",
)


def stage_of(step_key: str) -> str:
    if step_key in STAGES:
        return STAGES[step_key]
    return "checks" if step_key.endswith("_check") else "other steps"


@dataclass
class Run:
    """One child process and what it cost."""

    scenario: str
    label: str
    recipes: int
    workspaces: int
    command: str
    wall_seconds: float = 0.0
    cpu_user: float = 0.0
    cpu_sys: float = 0.0
    peak_rss_bytes: int = 0
    exit_code: int | None = None
    requests: dict[str, int] = field(default_factory=dict)
    statuses: dict[str, int] = field(default_factory=dict)
    rows_loaded: dict[str, int] = field(default_factory=dict)
    steps: list[dict[str, Any]] = field(default_factory=list)
    child_cpu_seconds: float | None = None
    quota_wait_seconds: float = 0.0
    time_scale: float | None = None
    #: The API minimum of this run's workspaces, by family (see api_minimum).
    minimum_requests: dict[str, int] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)
    note: str = ""

    @property
    def cpu_seconds(self) -> float:
        return self.cpu_user + self.cpu_sys

    @property
    def total_requests(self) -> int:
        return sum(self.requests.values())

    @property
    def ok(self) -> bool:
        return self.exit_code == 0

    def stages(self) -> dict[str, dict[str, float]]:
        """CPU, wall and peak RSS by stage; ``outside steps`` is the rest of the child's CPU
        and wall (interpreter start-up, imports, Dagster's run setup, the CLI's output)."""
        out: dict[str, dict[str, float]] = {}
        for step in self.steps:
            stage = out.setdefault(stage_of(step["step"]), {"cpu": 0.0, "wall": 0.0, "rss": 0})
            stage["cpu"] += step["cpu_seconds"]
            stage["wall"] += step["wall_seconds"]
            stage["rss"] = max(stage["rss"], step["peak_rss_bytes"])
        if self.steps:
            cpu = sum(s["cpu"] for s in out.values())
            wall = sum(s["wall"] for s in out.values())
            out["outside steps"] = {
                "cpu": max(0.0, self.cpu_seconds - cpu),
                "wall": max(0.0, self.wall_seconds - wall),
                "rss": 0,
            }
        return {name: out[name] for name in STAGE_ORDER if name in out}

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["stages"] = self.stages()
        return data


# ---------------------------------------------------------------------- the API's floor


def api_minimum(workspace: Any) -> dict[str, int]:
    """The fewest requests a full sync of ``workspace`` can make, by endpoint family.

    ``/users/me`` once; the recipe listing with code in pages of 100 (paging stops at the first
    short page, so ``N // 100 + 1``); connections in one call; every folder's children listed
    once (Home included, 100 a page) plus ``/api/projects``, which Workato counts among folders.
    """
    with workspace.lock:
        recipes = len(workspace.recipes)
        children = Counter(f.parent_id for f in workspace.folders.values())
        folders = sum(children[f.id] // PER_PAGE + 1 for f in workspace.folders.values())
        projects = len(workspace.projects) // PER_PAGE + 1
    return {
        "users": 1,
        "recipes": recipes // PER_PAGE + 1,
        "folders": folders + projects,
        "connections": 1,
    }


def floor_windows(requests: dict[str, int], quota: int = QUOTA) -> int:
    """Whole quota windows (Workato minutes) the busiest family must wait for: its n-th
    request cannot leave before ``(n - 1) // quota`` windows after its first."""
    return max(((n - 1) // quota for n in requests.values() if n), default=0)


def run_floor_windows(run: dict[str, Any], quota: int = QUOTA) -> int:
    """The floor of a run (``Run.to_json()``): each workspace has its own quota, and the CLI
    syncs the workspaces one after the other, so their floors add up."""
    per_workspace = run.get("extra", {}).get("requests_by_workspace")
    if per_workspace:
        return sum(floor_windows(counts, quota) for counts in per_workspace)
    return floor_windows(run.get("requests") or {}, quota)


def add_counts(*counts: dict[str, int]) -> dict[str, int]:
    total: Counter[str] = Counter()
    for count in counts:
        total.update(count)
    return dict(total)


# ---------------------------------------------------------------------- a user's installation


@dataclass
class Site:
    """A folder laid out as a user's installation: Dagster home, archy.yaml, warehouse."""

    root: Path
    #: (workspace name, simulator) for each workspace archy.yaml names.
    workspaces: list[tuple[str, Any]]

    def __post_init__(self) -> None:
        (self.root / "dagster_home").mkdir(parents=True, exist_ok=True)
        shutil.copy(REPO / "dagster.yaml", self.root / "dagster_home" / "dagster.yaml")
        lines = ["# Written by bench/bench_pipeline.py", "workspaces:"]
        for name, sim in self.workspaces:
            lines += [
                f"  - name: {json.dumps(name)}",
                f"    base_url: {sim.base_url}",
                f"    token_env: {TOKEN_ENV}",
            ]
        (self.root / "archy.yaml").write_text("\n".join(lines) + "\n")

    @property
    def simulators(self) -> list[Any]:
        return [sim for _, sim in self.workspaces]

    def environment(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if k not in HIDDEN_ENV_VARS}
        env.update(
            DAGSTER_HOME=str(self.root / "dagster_home"),
            ARCHY_DUCKDB_PATH=str(self.root / "warehouse.duckdb"),
            ARCHY_CONFIG=str(self.root / "archy.yaml"),
            # Every simulator accepts the same full-access token.
            WORKATO_API_TOKEN=self.simulators[0].token,
            PYTHONUNBUFFERED="1",
        )
        if len(self.workspaces) == 1:
            env["WORKATO_BASE_URL"] = self.simulators[0].base_url
        return env


class BudgetExceeded(RuntimeError):
    """The child was stopped because the bench's time budget ran out."""


def _wait(process: subprocess.Popen, deadline: float | None) -> tuple[int, Any]:
    """``os.wait4`` the child, polling so that the budget can stop it; (exit code, rusage).

    At the deadline the child gets SIGTERM (the CLI stops its run), then SIGKILL 20 s later.
    """
    stop_at, killed = deadline, False
    while True:
        pid, status, usage = os.wait4(process.pid, os.WNOHANG)
        if pid:
            process.returncode = os.waitstatus_to_exitcode(status)
            if stop_at != deadline or killed:
                raise BudgetExceeded
            return process.returncode, usage
        now = time.monotonic()
        if stop_at is not None and now > stop_at:
            if stop_at == deadline:
                process.send_signal(signal.SIGTERM)
                stop_at = now + 20
            elif not killed:
                process.kill()
                killed = True
        time.sleep(0.1)


SYNCED = re.compile(r"^== .* synced: (?P<tables>.*)$")
TABLE_ROWS = re.compile(r"(?P<table>\w+) (?P<rows>\d+) \(\+(?P<loaded>\d+)\)")


def rows_loaded(output: str) -> dict[str, int]:
    """Rows each sync loaded, from the CLI's ``== 'name' synced: table N (+k), ...`` lines."""
    loaded: Counter[str] = Counter()
    for line in output.splitlines():
        match = SYNCED.match(line)
        if match:
            for table in TABLE_ROWS.finditer(match["tables"]):
                loaded[table["table"]] += int(table["loaded"])
    return dict(loaded)


def run_child(
    run: Run,
    argv: list[str],
    site: Site,
    log: Path,
    deadline: float | None,
    *,
    stages: Path | None = None,
    env: dict[str, str] | None = None,
) -> Run:
    """Start ``argv`` (a Python script and its arguments) in ``site`` and measure it.

    Each simulator's request log is cleared first, so ``run.requests`` are this child's.
    """
    for sim in site.simulators:
        sim.clear_log()
    started = time.perf_counter()
    with log.open("w") as out:
        process = subprocess.Popen(
            [sys.executable, *argv],
            cwd=site.root,
            env=env or site.environment(),
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )
        try:
            code, usage = _wait(process, deadline)
        except BudgetExceeded:
            run.note = "stopped: the time budget ran out"
            run.wall_seconds = time.perf_counter() - started
            return run
    run.wall_seconds = time.perf_counter() - started
    run.exit_code = code
    run.cpu_user, run.cpu_sys = usage.ru_utime, usage.ru_stime
    run.peak_rss_bytes = usage.ru_maxrss * 1024  # Linux reports KiB
    records = [r for sim in site.simulators for r in sim.requests]
    run.requests = dict(Counter(r.family or "other" for r in records))
    if len(site.simulators) > 1:
        run.extra["requests_by_workspace"] = [
            dict(Counter(r.family or "other" for r in sim.requests)) for sim in site.simulators
        ]
    run.statuses = {str(k): v for k, v in sorted(Counter(r.status for r in records).items())}
    output = log.read_text(errors="replace")
    run.rows_loaded = rows_loaded(output)
    if stages is not None and stages.exists():
        recorded = json.loads(stages.read_text())
        run.steps = recorded["steps"]
        run.child_cpu_seconds = recorded["cpu_seconds"]
        run.quota_wait_seconds = recorded["quota_wait_seconds"]
    if code != 0:
        tail = " / ".join(output.strip().splitlines()[-3:])
        run.note = f"exit {code}: {tail[:300]}"
    return run


def pacing_args(requests_per_minute: int, time_scale: float) -> list[str]:
    return [
        "--requests-per-minute",
        str(requests_per_minute),
        "--rate-window-seconds",
        repr(60.0 * time_scale),
    ]


def run_cli(
    run: Run,
    cli_args: list[str],
    site: Site,
    deadline: float | None,
    *,
    requests_per_minute: int,
    time_scale: float,
    tag: str,
) -> Run:
    """``archy-pipeline CLI_ARGS`` in a child (bench/pipeline/child.py), measured."""
    stages = site.root / f"{tag}.stages.json"
    stages.unlink(missing_ok=True)
    argv = [
        str(CHILD),
        "--stages",
        str(stages),
        *pacing_args(requests_per_minute, time_scale),
        "--",
        *cli_args,
    ]
    run.command = "archy-pipeline " + " ".join(cli_args)
    if requests_per_minute:
        run.time_scale = time_scale
    return run_child(run, argv, site, site.root / f"{tag}.log", deadline, stages=stages)


def run_naive(run: Run, site: Site, deadline: float | None, *, time_scale: float, tag: str) -> Run:
    """The naive extractor (bench/pipeline/naive.py) in a child, paced like our sync."""
    out = site.root / f"{tag}.naive.json"
    argv = [
        str(NAIVE),
        "--base-url",
        site.simulators[0].base_url,
        "--out",
        str(out),
        *pacing_args(QUOTA, time_scale),
    ]
    run.command = "bench/pipeline/naive.py (list, then GET each recipe)"
    run.time_scale = time_scale
    run_child(run, argv, site, site.root / f"{tag}.log", deadline)
    if out.exists():
        read = json.loads(out.read_text())
        run.quota_wait_seconds = read["quota_wait_seconds"]
        run.extra["recipes_read"] = read["recipes"]
    return run
