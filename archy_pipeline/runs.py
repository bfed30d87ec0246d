"""Runs the command line executes in its own process, and what is left when that process dies.

``archy-pipeline sync`` runs its jobs in process. Every step that writes the warehouse holds a
slot of the ``warehouse`` pool (dagster.yaml limits it to one), and Dagster frees a run's slots
when the run ends. A process killed with SIGKILL (or a crashed machine) never ends its run: the
run stays STARTED and keeps its slot, and every later sync waits for that slot for ever.

So each run the command line starts carries tags naming its process (host, pid and the pid's
start time, so a recycled pid is not mistaken for the old process), and before starting a run
the command line marks failed, and frees the slots of, every run tagged by a process of this
host that is gone. Runs the daemon launched carry no such tag and are left alone.
"""

from __future__ import annotations

import os
import socket
import time
from collections.abc import Callable

import dagster as dg

from archy_pipeline.constants import WAREHOUSE_POOL
from archy_pipeline.processes import process_alive, process_started

HOST_TAG = "archy/host"
PID_TAG = "archy/pid"
PID_STARTED_TAG = "archy/pid_started"

#: The pool of every step that writes the warehouse.
POOL = WAREHOUSE_POOL

#: Run statuses of a run still in progress (a dead process leaves its run in one of them).
UNFINISHED = [
    dg.DagsterRunStatus.STARTING,
    dg.DagsterRunStatus.STARTED,
    dg.DagsterRunStatus.CANCELING,
]


def owner_tags() -> dict[str, str]:
    """Tags naming this process, for a run it executes in process."""
    pid = os.getpid()
    tags = {HOST_TAG: socket.gethostname(), PID_TAG: str(pid)}
    started = process_started(pid)
    if started is not None:
        tags[PID_STARTED_TAG] = started
    return tags


def reclaim_dead_runs(
    instance: dg.DagsterInstance, say: Callable[[str], None] = print
) -> list[str]:
    """Mark failed, and free the pool slots of, each unfinished run whose process is gone.

    Only runs this host's command line started (tagged by :func:`owner_tags`) are judged.
    Returns their run ids; ``say`` gets one line per run.
    """
    host = socket.gethostname()
    records = instance.get_run_records(dg.RunsFilter(statuses=UNFINISHED, tags={HOST_TAG: host}))
    reclaimed = []
    for record in records:
        run = record.dagster_run
        pid = int(run.tags.get(PID_TAG, "0"))
        if pid <= 0 or pid == os.getpid() or process_alive(pid, run.tags.get(PID_STARTED_TAG)):
            continue
        message = (
            f"run {run.run_id} ({run.job_name}) was left {run.status.value} by process {pid}, "
            "which is gone (killed or crashed): marked failed and its warehouse slot freed"
        )
        instance.report_run_failed(run, message)
        instance.event_log_storage.free_concurrency_slots_for_run(run.run_id)
        say(message)
        reclaimed.append(run.run_id)
    return reclaimed


def fail_own_runs(instance: dg.DagsterInstance, message: str) -> list[str]:
    """Mark failed, and free the pool slots of, each unfinished run of this process (one
    that is being stopped and will not end its runs itself). Returns their run ids."""
    own = {HOST_TAG: socket.gethostname(), PID_TAG: str(os.getpid())}
    failed = []
    for record in instance.get_run_records(dg.RunsFilter(statuses=UNFINISHED, tags=own)):
        instance.report_run_failed(record.dagster_run, message)
        instance.event_log_storage.free_concurrency_slots_for_run(record.dagster_run.run_id)
        failed.append(record.dagster_run.run_id)
    return failed


class PoolBusyError(RuntimeError):
    """The warehouse pool stayed held by another run for longer than the wait allowed."""


def wait_for_warehouse(
    instance: dg.DagsterInstance,
    say: Callable[[str], None] = print,
    timeout_seconds: float = 3600.0,
    poll_seconds: float = 1.0,
) -> None:
    """Return once no other run holds the warehouse pool; say who holds it while waiting.

    Dead runs of this host's command line are reclaimed first, and slots still held by runs
    that have ended are freed. Dagster's in-process executor would wait for a busy slot in a
    loop that neither says what it waits for nor answers Ctrl+C or SIGTERM; this wait does
    both (a plain sleep in the main thread). Raises :class:`PoolBusyError` after
    ``timeout_seconds``, naming the holder.
    """
    deadline = time.monotonic() + timeout_seconds
    told: set[str] = set()
    while True:
        reclaim_dead_runs(instance, say)
        holders: dict[str, dg.DagsterRun] = {}
        for run_id in instance.event_log_storage.get_concurrency_info(POOL).active_run_ids:
            run = instance.get_run_by_id(run_id)
            if run is None or run.is_finished:  # ended without giving its slot back
                instance.event_log_storage.free_concurrency_slots_for_run(run_id)
            else:
                holders[run_id] = run
        if not holders:
            return
        names = ", ".join(
            f"run {run.run_id} ({run.job_name}, pid {run.tags.get(PID_TAG, 'unknown')})"
            for _, run in sorted(holders.items())
        )
        if time.monotonic() >= deadline:
            raise PoolBusyError(
                f"the warehouse is still in use by {names} after {timeout_seconds:.0f} s: "
                "let it finish, or stop it in the Dagster UI"
            )
        if names not in told:
            say(f"waiting for the warehouse: {names} is writing it")
            told.add(names)
        time.sleep(poll_seconds)
