"""Faults lose nothing, end to end (issue 12, point 7).

Each test runs whole ``archy-pipeline sync`` commands in child processes, with the project's
dagster.yaml, against the simulator over loopback: a clean sync first (shared by the module:
each test starts from a copy of its warehouse, snapshot and Dagster home), then a sync with
one fault injected, then a clean sync. A faulted sync has one of two outcomes, asserted:

* **recovered**: it exits 0, and its rows equal what the next clean sync leaves (that sync
  finds nothing to change) and what the simulator serves;
* **one line**: it exits 1, its last line on stderr names the cause, the analysts' snapshot
  is byte for byte as before and no row is newly marked deleted.

Either way the next clean sync starts (a killed run's slot and status are reclaimed),
exits 0 and converges: every recipe the simulator serves, once, and no duplicate keys.

The child processes load ``tests/fault_hooks`` (its sitecustomize.py): it shortens the
client's timeout and backoff, which the command line leaves at 30 s and 1 s, and can pause
dlt's load half way so the test can SIGKILL the process there.
"""

from __future__ import annotations

import hashlib
import itertools
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import duckdb
import pytest
from dagster import DagsterInstance, DagsterRunStatus, RunsFilter
from workato_simulator import WorkatoSimulator

from tests.support import ISOLATED_ENV_VARS, TIME_SCALE, simple_code, workspace_with_recipes

ROOT = Path(__file__).resolve().parents[1]
HOOKS = Path(__file__).resolve().parent / "fault_hooks"
# Two to three whole syncs per test (~20 s each on a quiet machine, minutes under load).
pytestmark = [pytest.mark.slow, pytest.mark.timeout(900)]

#: Raw tables and their primary keys (archy_pipeline/extract/__init__.py).
KEYS = {
    "workspace": ("workspace", "id"),
    "folders": ("workspace", "id"),
    "projects": ("workspace", "id"),
    "connections": ("workspace", "id"),
    "recipes": ("workspace", "id"),
    "recipe_steps": ("workspace", "recipe_id", "number"),
    "recipe_connections": ("workspace", "recipe_id", "position"),
    "recipe_errors": ("workspace", "recipe_id"),
}
SYNC_TIMEOUT = 180
_tokens = itertools.count()


# ---------------------------------------------------------------------- helpers


def _env(project: Path, base_url: str, token: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ISOLATED_ENV_VARS}
    env.update(
        PYTHONUNBUFFERED="1",
        PYTHONPATH=os.pathsep.join([str(HOOKS), str(ROOT)]),
        DAGSTER_HOME=str(project / "dagster_home"),
        ARCHY_CONFIG=str(project / "archy.yaml"),
        ARCHY_DUCKDB_PATH=str(project / "data" / "warehouse.duckdb"),
        WORKATO_BASE_URL=base_url,
        WORKATO_API_TOKEN=token,
        ARCHY_FAULT_TIMEOUT_SECONDS="1.5",
        ARCHY_FAULT_BACKOFF_SECONDS="0.05",
    )
    return env


def _new_project(path: Path) -> Path:
    (path / "dagster_home").mkdir(parents=True)
    shutil.copy(ROOT / "dagster.yaml", path / "dagster_home" / "dagster.yaml")
    (path / "archy.yaml").write_text("workspaces:\n  - name: ACME\n")
    return path


def _start_sync(env: dict[str, str], *extra: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "archy_pipeline.cli", "sync", *extra],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )


def _finish(process: subprocess.Popen) -> tuple[int, str, str]:
    try:
        out, err = process.communicate(timeout=SYNC_TIMEOUT)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        out, err = process.communicate()
        pytest.fail(f"the sync hung:\n{out[-2000:]}\n{err[-3000:]}")
    return process.returncode, out, err


def _sync(env: dict[str, str], *extra: str) -> tuple[int, str, str]:
    return _finish(_start_sync(env, *extra))


def _rows(project: Path) -> dict[str, list[tuple]]:
    """Every raw table's rows, without dlt's load bookkeeping, sorted (in the working file)."""
    found = {}
    with duckdb.connect(str(project / "data" / "warehouse.duckdb"), read_only=True) as con:
        for table in KEYS:
            columns = [
                c
                for (c,) in con.execute(
                    "select column_name from information_schema.columns where table_schema = "
                    "'workato_raw' and table_name = ? order by ordinal_position",
                    [table],
                ).fetchall()
                if not c.startswith("_dlt")
            ]
            select = ", ".join(f'"{c}"::varchar' for c in columns)
            found[table] = sorted(
                con.execute(f"select {select} from workato_raw.{table}").fetchall(), key=repr
            )
    return found


def _deleted(project: Path) -> int:
    with duckdb.connect(str(project / "data" / "warehouse.duckdb"), read_only=True) as con:
        return sum(
            con.execute(
                f"select count(*) from workato_raw.{t} where deleted_at is not null"
            ).fetchone()[0]
            for t in ("recipes", "folders", "projects", "connections")
        )


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _assert_one_line(code: int, err: str, *words: str) -> None:
    assert code == 1, err[-3000:]
    last = err.strip().splitlines()[-1]
    assert last.startswith("sync of 'ACME' failed: "), err[-3000:]
    assert all(w.lower() in last.lower() for w in words), last
    assert "Traceback" not in last and len(last) < 400, last


def _assert_converged(project: Path, recipe_ids: set[int], env: dict[str, str]) -> None:
    """The next clean sync started, and the warehouse holds each served recipe once."""
    with duckdb.connect(str(project / "data" / "warehouse.duckdb"), read_only=True) as con:
        for table, key in KEYS.items():
            cols = ", ".join(key)
            dupes = con.execute(
                f"select {cols}, count(*) from workato_raw.{table} group by all having count(*) > 1"
            ).fetchall()
            assert dupes == [], f"duplicate keys in workato_raw.{table}: {dupes[:5]}"
        live = {
            i
            for (i,) in con.execute(
                "select id from workato_raw.recipes where deleted_at is null"
            ).fetchall()
        }
        assert live == recipe_ids
        steps = con.execute(
            "select count(distinct recipe_id) from workato_raw.recipe_steps "
            "where _cleared is not true"
        ).fetchone()[0]
        assert steps == len(recipe_ids), "every live recipe has its steps"
    with DagsterInstance.from_config(env["DAGSTER_HOME"]) as instance:
        assert instance.get_run_records(RunsFilter(statuses=[DagsterRunStatus.STARTED])) == []
        assert instance.event_log_storage.get_concurrency_info("warehouse").claimed_slots == []


# ---------------------------------------------------------------------- the shared clean sync


@pytest.fixture(scope="module")
def sim():
    ws = workspace_with_recipes(6)
    with WorkatoSimulator(ws, time_scale=TIME_SCALE) as running:
        yield running


@pytest.fixture(scope="module")
def template(sim, tmp_path_factory) -> Path:
    """A project after one clean sync and rebuild."""
    project = _new_project(tmp_path_factory.mktemp("template"))
    code, _, err = _sync(_env(project, sim.base_url, sim.token))
    assert code == 0, err[-3000:]
    assert (project / "data" / "analysts.duckdb").exists()
    return project


@pytest.fixture
def project(template, tmp_path) -> Path:
    copy = tmp_path / "project"
    shutil.copytree(template, copy)
    return copy


def _token(sim: WorkatoSimulator) -> str:
    value = f"fault-token-{os.getpid()}-{next(_tokens)}"
    sim.add_token(value)
    return value


def _change(sim: WorkatoSimulator, label: str) -> None:
    """Something for the faulted sync to load: a new recipe and a renamed one."""
    ws = sim.workspace
    ws.add_recipe(f"Added before {label}", simple_code("jira", "slack"))
    first = min(ws.recipes)
    ws.update_recipe(first, name=f"Renamed before {label}")


def _served_ids(sim: WorkatoSimulator) -> set[int]:
    return set(sim.workspace.recipes)


# ---------------------------------------------------------------------- API faults


#: fault id -> (inject options, expected outcome, words the one line must hold)
API_FAULTS = {
    "5xx_burst": (dict(kind="status", path=r"/api/recipes", status=503, times=2), None),
    "connection_resets": (dict(kind="reset", path=r"/api/recipes", times=2), None),
    "truncated_json": (dict(kind="truncate", path=r"/api/recipes", times=2), None),
    "timeout": (dict(kind="slow", path=r"/api/recipes", delay=3, times=1), None),
    "429_storm": (
        dict(kind="status", path=r"/api/recipes", status=429, retry_after=0.05, times=None),
        ("429",),
    ),
    "5xx_that_persists": (
        dict(kind="status", path=r"/api/recipes", status=500, times=None),
        ("500",),
    ),
    "token_revoked_mid_sync": (
        dict(kind="revoke_token", path=r"/api/(recipes|connections|folders)", after=1),
        ("authentication",),
    ),
}


@pytest.mark.parametrize("fault", list(API_FAULTS))
def test_an_api_fault_in_a_whole_sync_recovers_or_fails_in_one_line(sim, project, fault):
    inject, fails_with = API_FAULTS[fault]
    token = _token(sim)
    env = _env(project, sim.base_url, token)
    snapshot = project / "data" / "analysts.duckdb"
    before, deleted_before = _digest(snapshot), _deleted(project)
    _change(sim, fault)
    injected = sim.inject(**inject)
    try:
        code, out, err = _sync(env)
    finally:
        sim.faults.remove(injected)
    assert injected.hits >= 1, "the fault was reached"

    if fails_with is None:  # recovered
        assert code == 0, err[-3000:]
        faulted = _rows(project)
        code, out, err = _sync(env)
        assert code == 0, err[-3000:]
        assert re.search(r"recipes \d+ \(\+0\)", out), out
        assert _rows(project) == faulted, "a clean sync after it finds nothing to change"
    else:
        _assert_one_line(code, err, *fails_with)
        assert _digest(snapshot) == before, "the analysts' snapshot is untouched"
        assert _deleted(project) == deleted_before, "nothing newly marked deleted"
        if fault == "token_revoked_mid_sync":
            env = _env(project, sim.base_url, _token(sim))  # the admin issues a new token
        code, out, err = _sync(env)
        assert code == 0, err[-3000:]
        assert _digest(snapshot) != before, "the next clean sync publishes"
    _assert_converged(project, _served_ids(sim), env)


# ---------------------------------------------------------------------- killed processes

#: The simulator in its own process: it prints its base URL and token, then takes faults on
#: stdin ("slow PATH SECONDS") until it is killed.
SIMULATOR = """
import sys
from workato_simulator import WorkatoSimulator
from tests.support import workspace_with_recipes
sim = WorkatoSimulator(workspace_with_recipes(6), time_scale=0.01).start()
print(sim.base_url, sim.token, flush=True)
for line in sys.stdin:
    kind, path, delay = line.split()
    sim.inject(kind, path, delay=float(delay), times=None)
    print("injected", flush=True)
"""


def _simulator_process() -> tuple[subprocess.Popen, str, str]:
    process = subprocess.Popen(
        [sys.executable, "-c", SIMULATOR],
        cwd=ROOT,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    base_url, token = process.stdout.readline().split()
    return process, base_url, token


def _read_until(stream, marker: str, seconds: float) -> str:
    seen = []
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        line = stream.readline()
        if not line:
            break
        seen.append(line)
        if marker in line:
            return "".join(seen)
    pytest.fail(f"never saw {marker!r}:\n{''.join(seen)[-3000:]}")


def test_the_simulator_killed_mid_sync_fails_in_one_line_and_the_next_sync_converges(tmp_path):
    project = _new_project(tmp_path / "project")
    server, base_url, token = _simulator_process()
    try:
        code, _out, err = _sync(_env(project, base_url, token))
        assert code == 0, err[-3000:]
        served = _recipe_ids(project)
        assert len(served) == 6
        snapshot = project / "data" / "analysts.duckdb"
        before, deleted_before = _digest(snapshot), _deleted(project)

        # The recipe listing stalls; once the sync has identified the workspace, the
        # simulator's process is killed under it.
        server.stdin.write("slow /api/recipes 30\n")
        server.stdin.flush()
        assert server.stdout.readline().strip() == "injected"
        sync = _start_sync(_env(project, base_url, token))
        _read_until(sync.stderr, "Syncing 'ACME'", 120)
        server.kill()
        server.wait(timeout=10)
        code, _, rest = _finish(sync)
        _assert_one_line(code, rest, "check the network")
        assert _digest(snapshot) == before
        assert _deleted(project) == deleted_before
    finally:
        server.kill()

    server, base_url, token = _simulator_process()  # restarted (on another port)
    try:
        env = _env(project, base_url, token)
        code, _, err = _sync(env)
        assert code == 0, err[-3000:]
        _assert_converged(project, served, env)
    finally:
        server.kill()


def _recipe_ids(project: Path) -> set[int]:
    with duckdb.connect(str(project / "data" / "warehouse.duckdb"), read_only=True) as con:
        return {i for (i,) in con.execute("select id from workato_raw.recipes").fetchall()}


@pytest.mark.parametrize("statement", [1, 4])
def test_a_sync_killed_during_the_load_leaves_the_snapshot_and_the_next_sync_converges(
    sim, project, statement
):
    """SIGKILL while dlt copies the staging tables into the raw ones: before the first copy,
    and half way (after three of the eight tables were merged and committed)."""
    env = _env(project, sim.base_url, _token(sim))
    snapshot = project / "data" / "analysts.duckdb"
    before, deleted_before = _digest(snapshot), _deleted(project)
    _change(sim, f"the kill at statement {statement}")
    sync = _start_sync({**env, "ARCHY_FAULT_PAUSE_IN_LOAD": str(statement)})
    _read_until(sync.stderr, "archy-fault: paused in the load", 120)
    os.killpg(sync.pid, signal.SIGKILL)
    sync.communicate(timeout=20)
    assert _digest(snapshot) == before, "the analysts' snapshot is untouched"
    assert _deleted(project) == deleted_before, "nothing marked deleted"

    code, out, err = _sync(env)
    assert code == 0, err[-3000:]
    assert f"left STARTED by process {sync.pid}, which is gone" in out
    assert _digest(snapshot) != before, "the next clean sync publishes"
    _assert_converged(project, _served_ids(sim), env)
    renamed = min(sim.workspace.recipes)
    with duckdb.connect(str(snapshot), read_only=True) as con:
        name = con.execute(
            "select name from archy.integrations where recipe_id = ?", [renamed]
        ).fetchone()[0]
    assert name == sim.workspace.recipes[renamed].name
