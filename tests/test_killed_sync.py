"""A sync killed mid-run (SIGKILL) never stops the next one from running."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import dagster as dg
import duckdb
import pytest
from dagster import DagsterInstance, DagsterRunStatus, RunsFilter
from workato_simulator import Fault

from archy_pipeline.processes import process_started
from archy_pipeline.runs import (
    HOST_TAG,
    PID_STARTED_TAG,
    PID_TAG,
    POOL,
    PoolBusyError,
    owner_tags,
    reclaim_dead_runs,
    wait_for_warehouse,
)
from tests.support import workspace_with_recipes

ROOT = Path(__file__).resolve().parents[1]


def _sync_env(tmp_path: Path, sim) -> dict[str, str]:
    """A project's environment: its own DAGSTER_HOME with the project's dagster.yaml (which
    puts every warehouse-writing step in a pool of one), warehouse and archy.yaml."""
    home = tmp_path / "dagster_home"
    home.mkdir()
    shutil.copy(ROOT / "dagster.yaml", home / "dagster.yaml")
    config = tmp_path / "archy.yaml"
    config.write_text("workspaces:\n  - name: ACME\n")
    return {
        **os.environ,
        "PYTHONUNBUFFERED": "1",
        "DAGSTER_HOME": str(home),
        "ARCHY_CONFIG": str(config),
        "ARCHY_DUCKDB_PATH": str(tmp_path / "data" / "warehouse.duckdb"),
        "WORKATO_BASE_URL": sim.base_url,
        "WORKATO_API_TOKEN": sim.token,
    }


def _sync(env: dict[str, str], *extra: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "archy_pipeline.cli", "sync", *extra],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )


def _wait_for_started_run(home: str, deadline: float) -> None:
    """Until the run is STARTED and its extract step holds the warehouse pool."""
    while time.monotonic() < deadline:
        with DagsterInstance.from_config(home) as instance:
            started = instance.get_run_records(RunsFilter(statuses=[DagsterRunStatus.STARTED]))
            if (
                started
                and instance.event_log_storage.get_concurrency_info("warehouse").claimed_slots
            ):
                return
        time.sleep(0.2)
    pytest.fail("the first sync never reached its extract step")


@pytest.mark.slow
def test_a_sync_waits_for_a_live_one_and_takes_over_from_a_killed_one(simulator, tmp_path):
    sim = simulator(workspace_with_recipes(20))
    # The recipe listing answers after 60 s: the first sync is killed while it waits.
    sim.faults.append(Fault("slow", path=r"/recipes", times=1, delay=60))
    env = _sync_env(tmp_path, sim)

    first = _sync(env)
    _wait_for_started_run(env["DAGSTER_HOME"], time.monotonic() + 90)

    # While the first is alive, a second sync waits, says for whom, and answers SIGTERM.
    waiting = _sync(env)
    seen = []
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and "waiting for the warehouse" not in "".join(seen):
        seen.append(waiting.stdout.readline())
    assert f"(sync_job, pid {first.pid}) is writing it" in "".join(seen)
    waiting.send_signal(signal.SIGTERM)
    try:
        # The process itself must end; communicate() would also wait for every process that
        # inherited its stdout to close it, which is not what this checks.
        waiting.wait(timeout=20)
    except subprocess.TimeoutExpired:
        # What it was doing, for the next person: its signal mask and what it printed.
        status = Path(f"/proc/{waiting.pid}/status")
        caught = [line for line in status.read_text().splitlines() if line.startswith("Sig")]
        os.killpg(waiting.pid, signal.SIGKILL)
        printed = "".join(seen) + waiting.stdout.read()
        pytest.fail(f"a sync waiting for the warehouse ignored SIGTERM; {caught}; it printed:\n"
                    f"{printed[-3000:]}")  # fmt: skip
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(waiting.pid, signal.SIGKILL)  # anything it started
        waiting.stdout.close()
    assert waiting.returncode != 0

    os.killpg(first.pid, signal.SIGKILL)
    first.wait(timeout=10)

    second = _sync(env)
    try:
        out, _ = second.communicate(timeout=120)
    except subprocess.TimeoutExpired:
        os.killpg(second.pid, signal.SIGKILL)
        out, _ = second.communicate()
        pytest.fail(f"the second sync hung behind the killed one:\n{out[-2000:]}")
    assert second.returncode == 0, out[-3000:]
    assert f"left STARTED by process {first.pid}, which is gone (killed or crashed)" in out
    assert "recipes 20 (+20)" in out
    with DagsterInstance.from_config(env["DAGSTER_HOME"]) as instance:
        runs = [r.dagster_run for r in instance.get_run_records(ascending=True)]
        # The stopped one usually never started a run; under load the pool can come free just
        # before the signal, and then its run started and was marked failed.
        stopped = [r for r in runs if r.tags.get(PID_TAG) == str(waiting.pid)]
        assert [r.status for r in stopped] in ([], [DagsterRunStatus.FAILURE])
        assert [(r.job_name, r.status.value) for r in runs if r not in stopped] == [
            ("sync_job", "FAILURE"),  # the killed one, marked failed
            ("sync_job", "SUCCESS"),
            ("transform_job", "SUCCESS"),
        ]
        assert instance.event_log_storage.get_concurrency_info("warehouse").claimed_slots == []
    # The killed sync never wrote its sync_failed row; the sync that reclaimed it did.
    with duckdb.connect(env["ARCHY_DUCKDB_PATH"], read_only=True) as con:
        failed = con.execute(
            "select run_id, detail from archy.audit_log where action = 'sync_failed'"
        ).fetchall()
    killed_run = runs[0].run_id
    assert [run_id for run_id, _ in failed] == [killed_run]
    assert f"process {first.pid}, which is gone" in failed[0][1]


@pytest.mark.slow
def test_a_sync_waiting_inside_dagster_for_the_pool_still_ends_on_sigterm(simulator, tmp_path):
    """The pool can be taken between the command line's last look and Dagster's claim of the
    slot; Dagster then waits for the slot in a loop that never looks at signals. SIGTERM still
    ends the sync within its grace period, its run is marked failed and nothing it waited for
    stays claimed; the run holding the pool is left alone."""
    sim = simulator(workspace_with_recipes(3))
    env = _sync_env(tmp_path, sim)
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT / "tests" / "fault_hooks"), str(ROOT)])
    env["ARCHY_FAULT_SKIP_POOL_WAIT"] = "1"  # the race, every time

    @dg.job
    def other_job():
        pass

    holder = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(300)"])
    home = env["DAGSTER_HOME"]
    try:
        with DagsterInstance.from_config(home) as instance:
            tags = {HOST_TAG: socket.gethostname(), PID_TAG: str(holder.pid)}
            held = instance.create_run_for_job(
                other_job, tags=tags, status=DagsterRunStatus.STARTED
            )
            storage = instance.event_log_storage
            storage.initialize_concurrency_limit_to_default(POOL)  # one slot (dagster.yaml)
            assert storage.claim_concurrency_slot(POOL, held.run_id, "other_step").is_claimed
        waiting = _sync(env)
        try:
            deadline = time.monotonic() + 120
            while time.monotonic() < deadline:  # until Dagster waits for the slot
                with DagsterInstance.from_config(home) as instance:
                    info = instance.event_log_storage.get_concurrency_info(POOL)
                    if any(step.run_id != held.run_id for step in info.pending_steps):
                        break
                time.sleep(0.2)
            else:
                os.killpg(waiting.pid, signal.SIGKILL)
                out, _ = waiting.communicate()
                pytest.fail(f"the sync never waited for the pool inside Dagster:\n{out[-3000:]}")
            waiting.send_signal(signal.SIGTERM)
            out, _ = waiting.communicate(timeout=40)
        except subprocess.TimeoutExpired:
            os.killpg(waiting.pid, signal.SIGKILL)
            out, _ = waiting.communicate()
            pytest.fail(f"a sync waiting inside Dagster ignored SIGTERM:\n{out[-3000:]}")
        assert waiting.returncode == 130, out[-3000:]
        assert "stopping now" in out, out[-3000:]
        with DagsterInstance.from_config(home) as instance:
            runs = {r.dagster_run.job_name: r.dagster_run for r in instance.get_run_records()}
            assert runs["sync_job"].status == DagsterRunStatus.FAILURE
            assert runs["other_job"].status == DagsterRunStatus.STARTED
            info = instance.event_log_storage.get_concurrency_info(POOL)
            assert [s.run_id for s in info.claimed_slots] == [held.run_id]
            assert [s.run_id for s in info.pending_steps] == [held.run_id]
    finally:
        holder.kill()
        holder.wait()


@pytest.mark.slow
@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_a_sync_hung_in_a_workato_request_ends_on_a_signal_and_leaves_nothing_held(
    simulator, tmp_path, signum
):
    """The recipe listing does not answer: SIGTERM (or Ctrl+C) ends the sync, its run is
    marked failed with its slot freed, and the next sync starts without reclaiming anything."""
    sim = simulator(workspace_with_recipes(5))
    stall = Fault("slow", path=r"/recipes", times=1, delay=120)
    sim.faults.append(stall)
    env = _sync_env(tmp_path, sim)
    home = env["DAGSTER_HOME"]
    hung = _sync(env)
    try:
        _wait_for_started_run(home, time.monotonic() + 90)
        deadline = time.monotonic() + 60
        while not stall.hits:
            assert time.monotonic() < deadline, "the sync never asked for the recipes"
            time.sleep(0.1)
        time.sleep(0.5)  # inside the request, waiting for its answer
        hung.send_signal(signum)
        out, _ = hung.communicate(timeout=40)
    except subprocess.TimeoutExpired:
        os.killpg(hung.pid, signal.SIGKILL)
        out, _ = hung.communicate()
        pytest.fail(f"a sync inside a hung request ignored {signum.name}:\n{out[-3000:]}")
    assert hung.returncode == 130, out[-3000:]
    assert "Traceback" not in out, out[-3000:]
    with DagsterInstance.from_config(home) as instance:
        [run] = [r.dagster_run for r in instance.get_run_records()]
        assert run.status == DagsterRunStatus.FAILURE
        assert instance.event_log_storage.get_concurrency_info(POOL).claimed_slots == []

    again = subprocess.run(
        [sys.executable, "-m", "archy_pipeline.cli", "sync"],
        env=env, capture_output=True, text=True, timeout=180,
    )  # fmt: skip
    assert again.returncode == 0, again.stdout[-2000:] + again.stderr[-2000:]
    assert "which is gone" not in again.stdout  # nothing was left to reclaim
    assert "recipes 5 (+5)" in again.stdout


def test_only_a_run_whose_process_is_gone_is_reclaimed(tmp_path):
    """A run of this process, or of another live one, is left be; a dead one's is failed."""

    @dg.job
    def noop_job():
        pass

    def started_run(tags: dict[str, str]) -> dg.DagsterRun:
        return instance.create_run_for_job(noop_job, tags=tags, status=dg.DagsterRunStatus.STARTED)

    with dg.instance_for_test(temp_dir=str(tmp_path)) as instance:
        sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
        try:
            own = started_run(owner_tags())
            other = started_run({HOST_TAG: socket.gethostname(), PID_TAG: str(sleeper.pid)})
            daemons = started_run({})  # launched by the daemon: no owner tags
            assert reclaim_dead_runs(instance, say=lambda _: None) == []
            sleeper.kill()
            sleeper.wait()
            said: list[str] = []
            assert reclaim_dead_runs(instance, say=said.append) == [other.run_id]
            assert f"left STARTED by process {sleeper.pid}, which is gone" in said[0]
        finally:
            sleeper.kill()
        statuses = {run.run_id: run.status for run in instance.get_runs()}
        assert statuses == {
            own.run_id: dg.DagsterRunStatus.STARTED,
            other.run_id: dg.DagsterRunStatus.FAILURE,
            daemons.run_id: dg.DagsterRunStatus.STARTED,
        }


def test_a_recycled_pid_is_not_taken_for_the_dead_process(tmp_path):
    """The tags hold the pid's start time: a new process with the same pid is not the run's."""
    tags = owner_tags()
    if PID_STARTED_TAG not in tags:
        pytest.skip("no /proc here: process start times are unknown")
    parent = os.getppid()  # alive, but not the process that started the run
    started = process_started(parent)
    assert started is not None
    # "An earlier process" with the parent's pid: a start time the parent does not have (the
    # parent may have started one clock tick before this process, so not "own start - 1").
    tags[PID_STARTED_TAG] = str(int(started) - 100)
    tags[PID_TAG] = str(parent)

    @dg.job
    def noop_job():
        pass

    with dg.instance_for_test(temp_dir=str(tmp_path)) as instance:
        run = instance.create_run_for_job(noop_job, tags=tags, status=dg.DagsterRunStatus.STARTED)
        assert reclaim_dead_runs(instance, say=lambda _: None) == [run.run_id]


def test_a_pool_held_too_long_fails_naming_the_holder_and_ended_runs_give_theirs_back(
    tmp_path,
):
    @dg.job
    def noop_job():
        pass

    overrides = {"concurrency": {"pools": {"default_limit": 1}}}
    with dg.instance_for_test(temp_dir=str(tmp_path), overrides=overrides) as instance:
        storage = instance.event_log_storage
        storage.set_concurrency_slots(POOL, 1)
        ended = instance.create_run_for_job(noop_job, status=dg.DagsterRunStatus.SUCCESS)
        storage.claim_concurrency_slot(POOL, ended.run_id, "workato_raw")
        assert [slot.run_id for slot in storage.get_concurrency_info(POOL).claimed_slots] == [
            ended.run_id
        ]
        said: list[str] = []
        wait_for_warehouse(instance, say=said.append, timeout_seconds=5, poll_seconds=0.05)
        assert said == [] and storage.get_concurrency_info(POOL).claimed_slots == []

        live = instance.create_run_for_job(
            noop_job, tags=owner_tags(), status=dg.DagsterRunStatus.STARTED
        )
        storage.claim_concurrency_slot(POOL, live.run_id, "workato_raw")
        with pytest.raises(PoolBusyError, match=f"still in use by run {live.run_id}"):
            wait_for_warehouse(instance, say=said.append, timeout_seconds=0.2, poll_seconds=0.05)
        assert said == [f"waiting for the warehouse: run {live.run_id} (noop_job, pid "
                        f"{os.getpid()}) is writing it"]  # fmt: skip
