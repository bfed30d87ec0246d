"""Faults lose nothing, end to end (issue 12, point 7).

Each test runs whole ``archy-pipeline sync`` commands, with the project's dagster.yaml,
against the simulator over loopback: a clean sync first (shared by the module, per warehouse:
each test starts from a copy of its project folder, and on PostgreSQL of its database), then
the command line in a child process with a fault injected, then a clean sync. The clean
syncs run the same command in this process (``archy_pipeline.cli.main``): a child process
would only add an interpreter and the definitions' import (about 10 s each). A faulted sync
has one of two outcomes, asserted:

* **recovered**: it exits 0, and its rows equal what the next clean sync leaves (that sync
  finds nothing to change) and what the simulator serves;
* **one line**: it exits 1, its last line on stderr names the cause, what analysts see is as
  before (the DuckDB snapshot byte for byte; on PostgreSQL every archy table's rows) and no
  row is newly marked deleted.

Either way the next clean sync starts (a killed run's slot and status are reclaimed),
exits 0 and converges: every recipe the simulator serves, once, and no duplicate keys.

Every fault runs with DuckDB as the warehouse; the key ones (transient faults recovering, a
token revoked mid-sync, the sync SIGKILLed mid-load) also with PostgreSQL, each test in a
database of its own made from the template's.

The child processes load ``tests/fault_hooks`` (its sitecustomize.py): it shortens the
client's timeout and backoff, which the command line leaves at 30 s and 1 s, and can pause
dlt's load half way (DuckDB's or PostgreSQL's sql client) so the test can SIGKILL the
process there.
"""

from __future__ import annotations

import hashlib
import io
import itertools
import os
import re
import shutil
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager, redirect_stdout
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb
import psycopg2
import pytest
from dagster import DagsterInstance, DagsterRunStatus, RunsFilter
from workato_simulator import WorkatoSimulator

from tests.support import (
    ISOLATED_ENV_VARS,
    POSTGRES_ADMIN_DSN,
    TIME_SCALE,
    simple_code,
    workspace_with_recipes,
)

ROOT = Path(__file__).resolve().parents[1]
HOOKS = Path(__file__).resolve().parent / "fault_hooks"
# Two to three whole syncs per test (~10-25 s each on a quiet machine, minutes under load).
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


# ---------------------------------------------------------------------- warehouses

#: The warehouses a project can write: every fault runs on DuckDB, the key ones on PostgreSQL.
ON_POSTGRES = pytest.param("postgres", marks=pytest.mark.postgres)


@dataclass
class Project:
    """A project folder (archy.yaml, DAGSTER_HOME, data/) and the warehouse it writes: the
    DuckDB file in data/, or a PostgreSQL database of its own (``dsn``)."""

    path: Path
    dsn: str | None = None

    @property
    def kind(self) -> str:
        return "postgres" if self.dsn else "duckdb"

    @property
    def snapshot(self) -> Path:
        return self.path / "data" / "analysts.duckdb"

    def settings(self, base_url: str, token: str) -> dict[str, str]:
        """The environment a sync of this project runs with (the product's variables)."""
        settings = dict(
            DAGSTER_HOME=str(self.path / "dagster_home"),
            ARCHY_CONFIG=str(self.path / "archy.yaml"),
            ARCHY_DUCKDB_PATH=str(self.path / "data" / "warehouse.duckdb"),
            WORKATO_BASE_URL=base_url,
            WORKATO_API_TOKEN=token,
        )
        if self.dsn:
            # dlt's working folder is then data/.dlt_pipelines/postgres-<database digest>: a
            # killed load's package is resumed from there by the next run into that database.
            settings["ARCHY_POSTGRES_DSN"] = self.dsn
        return settings

    @contextmanager
    def _cursor(self) -> Iterator[Any]:
        if self.dsn is None:
            path = str(self.path / "data" / "warehouse.duckdb")
            with duckdb.connect(path, read_only=True) as con:
                yield con
        else:
            con = psycopg2.connect(self.dsn)
            try:
                yield con.cursor()
            finally:
                con.close()

    def query(self, sql: str) -> list[tuple]:
        with self._cursor() as cursor:
            cursor.execute(sql)
            return cursor.fetchall()

    def published(self) -> str:
        """A digest of what analysts see: the DuckDB snapshot file, byte for byte; on
        PostgreSQL (no snapshot: analysts read the archy schema) every archy table's rows but
        the audit log's (a failed sync appends its failure there, as it should)."""
        if self.dsn is None:
            return hashlib.sha256(self.snapshot.read_bytes()).hexdigest()
        digest = hashlib.sha256()
        with self._cursor() as cursor:
            cursor.execute(
                "select table_name from information_schema.tables where table_schema = 'archy' "
                "and table_type = 'BASE TABLE' and table_name <> 'audit_log' order by 1"
            )
            for (table,) in cursor.fetchall():
                cursor.execute(f'select * from archy."{table}"')
                digest.update(table.encode() + repr(sorted(map(repr, cursor.fetchall()))).encode())
        return digest.hexdigest()


def _new_project(path: Path, dsn: str | None = None) -> Project:
    (path / "dagster_home").mkdir(parents=True)
    shutil.copy(ROOT / "dagster.yaml", path / "dagster_home" / "dagster.yaml")
    (path / "archy.yaml").write_text("workspaces:\n  - name: ACME\n")
    return Project(path, dsn)


@contextmanager
def _postgres_admin() -> Iterator[Any]:
    con = psycopg2.connect(POSTGRES_ADMIN_DSN)
    con.autocommit = True
    try:
        yield con.cursor()
    finally:
        con.close()


def _create_database(template: str | None = None) -> str:
    """A new PostgreSQL database (a copy of ``template``, if named); returns its DSN."""
    name = f"archy_faults_{uuid.uuid4().hex[:12]}"
    with _postgres_admin() as admin:
        admin.execute(f'create database "{name}"' + (f' template "{template}"' if template else ""))
    return f"postgresql://postgres@127.0.0.1:5432/{name}"


def _drop_database(dsn: str) -> None:
    with _postgres_admin() as admin:
        admin.execute(f'drop database if exists "{dsn.rsplit("/", 1)[1]}" with (force)')


# ---------------------------------------------------------------------- syncs


def _env(project: Project, base_url: str, token: str) -> dict[str, str]:
    """The environment of a sync in a child process, with the fault hooks loaded."""
    env = {k: v for k, v in os.environ.items() if k not in ISOLATED_ENV_VARS}
    env.update(
        project.settings(base_url, token),
        PYTHONUNBUFFERED="1",
        PYTHONPATH=os.pathsep.join([str(HOOKS), str(ROOT)]),
        ARCHY_FAULT_TIMEOUT_SECONDS="1.5",
        ARCHY_FAULT_BACKOFF_SECONDS="0.05",
    )
    return env


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
    """A faulted sync: the command line in a child process, with the fault hooks."""
    return _finish(_start_sync(env, *extra))


def _clean_sync(project: Project, base_url: str, token: str) -> tuple[int, str]:
    """A clean sync: the same command (``archy_pipeline.cli.main``), in this process, so it
    does not pay for a new interpreter and the definitions' import; returns its exit code and
    what it printed."""
    from archy_pipeline.cli import main

    out = io.StringIO()
    with pytest.MonkeyPatch.context() as patch, redirect_stdout(out):
        for name in ISOLATED_ENV_VARS:
            patch.delenv(name, raising=False)
        for name, value in project.settings(base_url, token).items():
            patch.setenv(name, value)
        code = main(["sync"])
    return code, out.getvalue()


def _rows(project: Project) -> dict[str, list[tuple]]:
    """Every raw table's rows, without dlt's load bookkeeping, sorted (in the working file)."""
    found = {}
    for table in KEYS:
        columns = [
            c
            for (c,) in project.query(
                "select column_name from information_schema.columns where table_schema = "
                f"'workato_raw' and table_name = '{table}' order by ordinal_position"
            )
            if not c.startswith("_dlt")
        ]
        select = ", ".join(f'cast("{c}" as varchar)' for c in columns)
        found[table] = sorted(project.query(f"select {select} from workato_raw.{table}"), key=repr)
    return found


def _deleted(project: Project) -> int:
    return sum(
        project.query(f"select count(*) from workato_raw.{t} where deleted_at is not null")[0][0]
        for t in ("recipes", "folders", "projects", "connections")
    )


def _assert_one_line(code: int, err: str, *words: str) -> None:
    assert code == 1, err[-3000:]
    last = err.strip().splitlines()[-1]
    assert last.startswith("sync of 'ACME' failed: "), err[-3000:]
    assert all(w.lower() in last.lower() for w in words), last
    assert "Traceback" not in last and len(last) < 400, last


def _assert_converged(project: Project, recipe_ids: set[int]) -> None:
    """The next clean sync started, and the warehouse holds each served recipe once."""
    for table, key in KEYS.items():
        cols = ", ".join(key)
        dupes = project.query(
            f"select {cols}, count(*) from workato_raw.{table} group by {cols} having count(*) > 1"
        )
        assert dupes == [], f"duplicate keys in workato_raw.{table}: {dupes[:5]}"
    live = {
        i for (i,) in project.query("select id from workato_raw.recipes where deleted_at is null")
    }
    assert live == recipe_ids
    (steps,) = project.query(
        "select count(distinct recipe_id) from workato_raw.recipe_steps where _cleared is not true"
    )[0]
    assert steps == len(recipe_ids), "every live recipe has its steps"
    with DagsterInstance.from_config(str(project.path / "dagster_home")) as instance:
        assert instance.get_run_records(RunsFilter(statuses=[DagsterRunStatus.STARTED])) == []
        assert instance.event_log_storage.get_concurrency_info("warehouse").claimed_slots == []


def _assert_published(project: Project, out: str) -> None:
    """The sync rebuilt the archy tables and, on DuckDB, published the analysts' snapshot; the
    report lies beside the warehouse's data folder (also on PostgreSQL)."""
    assert f"== report: {project.path / 'data' / 'report'} (" in out, out
    if project.kind == "duckdb":
        assert f"== analysts' snapshot: {project.snapshot} (" in out, out


# ---------------------------------------------------------------------- the shared clean sync


@pytest.fixture(scope="module")
def sim():
    ws = workspace_with_recipes(6)
    with WorkatoSimulator(ws, time_scale=TIME_SCALE) as running:
        yield running


@pytest.fixture(scope="module")
def templates(sim, tmp_path_factory) -> Iterator[Callable[[str], Project]]:
    """The project after one clean sync and rebuild, made once per module and warehouse."""
    made: dict[str, Project] = {}

    def template(kind: str) -> Project:
        if kind not in made:
            dsn = _create_database() if kind == "postgres" else None
            project = _new_project(tmp_path_factory.mktemp(f"template_{kind}"), dsn)
            made[kind] = project  # dropped at the end even if the sync fails
            code, out = _clean_sync(project, sim.base_url, sim.token)
            assert code == 0, out[-3000:]
            _assert_published(project, out)
        return made[kind]

    yield template
    for project in made.values():
        if project.dsn:
            _drop_database(project.dsn)


@pytest.fixture
def project(request, templates, tmp_path) -> Iterator[Project]:
    """A copy of the template project of the warehouse the test is parametrized with
    (``warehouse``): its folder, and on PostgreSQL a database made from the template's."""
    template = templates(request.param)
    copy = tmp_path / "project"
    shutil.copytree(template.path, copy)
    dsn = _create_database(template.dsn.rsplit("/", 1)[1]) if template.dsn else None
    try:
        yield Project(copy, dsn)
    finally:
        if dsn:
            _drop_database(dsn)


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

#: Transient faults, all in one sync, on the three listings an incremental sync reads: each is
#: retried (the client's branch for it: a 5xx, a timeout, a 429 with Retry-After, a reset
#: connection, a cut JSON body) and the sync ends with the data a clean run gives. Faults on
#: one path are met in order: the recipe listing fails three times, then answers; the
#: connections listing four times (within the six attempts a request has).
TRANSIENT_FAULTS = {
    "5xx_burst": dict(kind="status", path=r"/api/recipes", status=503, times=2),
    "timeout": dict(kind="slow", path=r"/api/recipes", delay=3, times=1),
    "429_burst": dict(
        kind="status", path=r"/api/connections", status=429, retry_after=0.05, times=2
    ),
    "connection_resets": dict(kind="reset", path=r"/api/connections", times=2),
    "truncated_json": dict(kind="truncate", path=r"/api/projects", times=2),
}


@pytest.mark.parametrize("project", ["duckdb", ON_POSTGRES], indirect=True)
def test_transient_api_faults_in_a_whole_sync_recover_with_the_data_of_a_clean_run(sim, project):
    env = _env(project, sim.base_url, _token(sim))
    _change(sim, f"transient faults on {project.kind}")
    injected = {name: sim.inject(**fault) for name, fault in TRANSIENT_FAULTS.items()}
    try:
        code, out, err = _sync(env)
    finally:
        for fault in injected.values():
            sim.faults.remove(fault)
    assert {name: f.hits >= 1 for name, f in injected.items()} == dict.fromkeys(injected, True), (
        "every fault was reached"
    )
    assert code == 0, err[-3000:]
    _assert_published(project, out)
    faulted = _rows(project)

    code, out = _clean_sync(project, sim.base_url, env["WORKATO_API_TOKEN"])
    assert code == 0, out[-3000:]
    assert re.search(r"recipes \d+ \(\+0\)", out), out
    assert _rows(project) == faulted, "a clean sync after it finds nothing to change"
    _assert_converged(project, _served_ids(sim))


#: Faults that last: fault id -> (inject options, words the one line must hold). A 5xx that
#: persists takes the pipeline's path of a 429 storm (the client gives up with a WorkatoError,
#: the sync fails in one line); its own message is tested on the client
#: (test_workato_client.py::test_persistent_5xx_fails_with_a_clear_error).
LASTING_FAULTS = {
    "429_storm": (
        dict(kind="status", path=r"/api/recipes", status=429, retry_after=0.05, times=None),
        ("429",),
    ),
    "token_revoked_mid_sync": (
        dict(kind="revoke_token", path=r"/api/(recipes|connections|folders)", after=1),
        ("authentication",),
    ),
}


@pytest.mark.parametrize(
    ("fault", "project"),
    [
        ("429_storm", "duckdb"),
        ("token_revoked_mid_sync", "duckdb"),
        pytest.param("token_revoked_mid_sync", "postgres", marks=pytest.mark.postgres),
    ],
    indirect=["project"],
)
def test_a_lasting_api_fault_fails_in_one_line_and_leaves_the_previous_data(sim, project, fault):
    inject, words = LASTING_FAULTS[fault]
    token = _token(sim)
    env = _env(project, sim.base_url, token)
    before, deleted_before = project.published(), _deleted(project)
    _change(sim, f"{fault} on {project.kind}")
    injected = sim.inject(**inject)
    try:
        code, out, err = _sync(env)
    finally:
        sim.faults.remove(injected)
    assert injected.hits >= 1, "the fault was reached"
    _assert_one_line(code, err, *words)
    assert project.published() == before, "what analysts see is untouched"
    assert _deleted(project) == deleted_before, "nothing newly marked deleted"

    if fault == "token_revoked_mid_sync":
        token = _token(sim)  # the admin issues a new token
    code, out = _clean_sync(project, sim.base_url, token)
    assert code == 0, out[-3000:]
    _assert_published(project, out)
    assert project.published() != before, "the next clean sync publishes"
    _assert_converged(project, _served_ids(sim))


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
        code, out = _clean_sync(project, base_url, token)
        assert code == 0, out[-3000:]
        served = _recipe_ids(project)
        assert len(served) == 6
        before, deleted_before = project.published(), _deleted(project)

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
        assert project.published() == before
        assert _deleted(project) == deleted_before
    finally:
        server.kill()

    server, base_url, token = _simulator_process()  # restarted (on another port)
    try:
        code, out = _clean_sync(project, base_url, token)
        assert code == 0, out[-3000:]
        _assert_converged(project, served)
    finally:
        server.kill()


def _recipe_ids(project: Project) -> set[int]:
    return {i for (i,) in project.query("select id from workato_raw.recipes")}


#: Which of the load's statements that copy a staging table into its raw table the sync is
#: killed before: the fourth, so three tables were merged and committed, and five not.
KILLED_BEFORE_STATEMENT = 4


@pytest.mark.parametrize("project", ["duckdb", ON_POSTGRES], indirect=True)
def test_a_sync_killed_during_the_load_leaves_the_previous_data_and_the_next_sync_converges(
    sim, project
):
    """SIGKILL while dlt copies the staging tables into the raw ones, half way: each table's
    copy is one transaction, so three tables hold the new rows and five the old. (A kill
    before the first copy leaves a subset of this state, resumed the same way: dlt finishes
    the load package the killed run left.)"""
    env = _env(project, sim.base_url, _token(sim))
    before, deleted_before = project.published(), _deleted(project)
    _change(sim, f"the kill on {project.kind}")
    sync = _start_sync({**env, "ARCHY_FAULT_PAUSE_IN_LOAD": str(KILLED_BEFORE_STATEMENT)})
    _read_until(sync.stderr, "archy-fault: paused in the load", 120)
    os.killpg(sync.pid, signal.SIGKILL)
    sync.communicate(timeout=20)
    assert project.published() == before, "what analysts see is untouched"
    assert _deleted(project) == deleted_before, "nothing marked deleted"

    code, out = _clean_sync(project, sim.base_url, env["WORKATO_API_TOKEN"])
    assert code == 0, out[-3000:]
    assert f"left STARTED by process {sync.pid}, which is gone" in out
    _assert_published(project, out)
    assert project.published() != before, "the next clean sync publishes"
    _assert_converged(project, _served_ids(sim))
    renamed = min(sim.workspace.recipes)
    if project.kind == "duckdb":
        with duckdb.connect(str(project.snapshot), read_only=True) as con:
            (name,) = con.execute(
                f"select name from archy.integrations where recipe_id = {renamed}"
            ).fetchone()
    else:
        ((name,),) = project.query(
            f"select name from archy.integrations where recipe_id = {renamed}"
        )
    assert name == sim.workspace.recipes[renamed].name
