"""Run ``archy-pipeline`` in this process, as its console script does, and record each step.

The bench starts this file as a child process::

    python bench/pipeline/child.py --stages STAGES.json [--requests-per-minute N]
        [--rate-window-seconds S] -- sync --full

and measures the whole child from outside (wall time, CPU and peak RSS from ``os.wait4``).
Three things differ from typing ``archy-pipeline sync --full``, and only these:

* **Pacing.** The CLI has no flag for the client's quota or the length of Workato's minute,
  so every ``WorkatoClient`` built in this process gets ``--requests-per-minute`` (0 turns
  pacing off) and ``--rate-window-seconds`` (the simulator's time scale times 60 s), the two
  settings ``tests/support.client_for`` passes the client in the tests. Without the flags the
  client keeps its defaults (60 a minute, a real minute).
* **Step figures.** ``DagsterInstance.handle_new_event`` is wrapped to note this process's CPU
  time (``time.process_time``: all threads, dlt's loader pool included) and the wall clock at
  each STEP_START and STEP_SUCCESS/STEP_FAILURE; a thread samples the resident set size every
  50 ms for each step's peak. Written to ``--stages`` as JSON when the command ends, with the
  seconds the clients waited for their quota.
* With ``--profile PATH``, the command runs under ``cProfile`` (this thread only) and the
  statistics go to PATH (``bench/profile_pipeline.py`` reads them).
* Nothing else: the arguments after ``--`` go to ``archy_pipeline.cli.console_main`` (the
  console script's function) unchanged.
"""

from __future__ import annotations

import argparse
import cProfile
import json
import os
import sys
import threading
import time
from pathlib import Path
from typing import Any

SAMPLE_SECONDS = 0.05
PAGE_BYTES = os.sysconf("SC_PAGE_SIZE")


def rss_bytes() -> int:
    """This process's resident set size now (Linux: /proc/self/statm)."""
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * PAGE_BYTES


class StepRecorder:
    """CPU, wall and sampled peak RSS of every Dagster step run in this process."""

    def __init__(self) -> None:
        self.steps: list[dict[str, Any]] = []
        self._open: dict[tuple[str, str], dict[str, Any]] = {}
        self._peak = 0
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._sampler = threading.Thread(target=self._sample, name="rss-sampler", daemon=True)
        self.quota_wait_seconds = 0.0

    def start(self) -> None:
        self._sampler.start()

    def stop(self) -> None:
        self._stop.set()
        self._sampler.join(timeout=1)

    def _sample(self) -> None:
        while not self._stop.wait(SAMPLE_SECONDS):
            rss = rss_bytes()
            with self._lock:
                self._peak = max(self._peak, rss)
                for step in self._open.values():
                    step["peak_rss_bytes"] = max(step["peak_rss_bytes"], rss)

    def event(self, event: Any) -> None:
        dagster_event = getattr(event, "dagster_event", None)
        step_key = getattr(event, "step_key", None)
        if dagster_event is None or step_key is None:
            return
        kind = dagster_event.event_type_value
        key = (event.run_id, step_key)
        now_cpu, now_wall, rss = time.process_time(), time.perf_counter(), rss_bytes()
        with self._lock:
            if kind == "STEP_START":
                self._open[key] = {
                    "step": step_key,
                    "job": event.job_name,
                    "cpu_start": now_cpu,
                    "wall_start": now_wall,
                    "peak_rss_bytes": rss,
                }
            elif kind in ("STEP_SUCCESS", "STEP_FAILURE") and key in self._open:
                step = self._open.pop(key)
                self.steps.append(
                    {
                        "step": step["step"],
                        "job": step["job"],
                        "ok": kind == "STEP_SUCCESS",
                        "cpu_seconds": now_cpu - step["cpu_start"],
                        "wall_seconds": now_wall - step["wall_start"],
                        "peak_rss_bytes": max(step["peak_rss_bytes"], rss),
                    }
                )

    def write(self, path: Path, exit_code: int) -> None:
        payload = {
            "exit_code": exit_code,
            "steps": self.steps,
            "cpu_seconds": time.process_time(),
            "sampled_peak_rss_bytes": self._peak,
            "quota_wait_seconds": self.quota_wait_seconds,
        }
        path.write_text(json.dumps(payload, indent=1))


def install_hooks(recorder: StepRecorder, rpm: int | None, window: float | None) -> None:
    """Wrap the client's constructor (pacing) and the instance's event handler (steps)."""
    from dagster import DagsterInstance

    from archy_pipeline.workato.client import WorkatoClient

    handle_new_event = DagsterInstance.handle_new_event

    def recording_handle_new_event(self: Any, event: Any, **kwargs: Any) -> None:
        recorder.event(event)
        handle_new_event(self, event, **kwargs)

    DagsterInstance.handle_new_event = recording_handle_new_event  # type: ignore[method-assign]

    client_init, client_close = WorkatoClient.__init__, WorkatoClient.close

    def paced_init(self: Any, *args: Any, **kwargs: Any) -> None:
        if rpm is not None:
            kwargs["requests_per_minute"] = rpm
        if window is not None:
            kwargs["rate_window_seconds"] = window
        client_init(self, *args, **kwargs)

    def counting_close(self: Any) -> None:
        recorder.quota_wait_seconds += self.rate_limiter.waited
        self.rate_limiter.waited = 0.0
        client_close(self)

    WorkatoClient.__init__ = paced_init  # type: ignore[method-assign]
    WorkatoClient.close = counting_close  # type: ignore[method-assign]


def main(argv: list[str]) -> int:
    # Run as a script, this folder is sys.path[0]: keep its modules from shadowing others.
    here = str(Path(__file__).resolve().parent)
    sys.path[:] = [p for p in sys.path if str(Path(p or ".").resolve()) != here]
    if "--" not in argv:
        raise SystemExit("usage: child.py [options] -- ARCHY-PIPELINE ARGUMENTS")
    split = argv.index("--")
    parser = argparse.ArgumentParser()
    parser.add_argument("--stages", type=Path, required=True)
    parser.add_argument("--requests-per-minute", type=int)
    parser.add_argument("--rate-window-seconds", type=float)
    parser.add_argument("--profile", type=Path, help="cProfile the command into this file")
    args = parser.parse_args(argv[:split])

    recorder = StepRecorder()
    recorder.start()
    install_hooks(recorder, args.requests_per_minute, args.rate_window_seconds)
    from archy_pipeline.cli import console_main as cli_main

    code = 1
    profiler = cProfile.Profile() if args.profile else None
    try:
        if profiler is not None:
            profiler.enable()
        code = cli_main(argv[split + 1 :])
    finally:
        if profiler is not None:
            profiler.disable()
            profiler.dump_stats(args.profile)
        recorder.stop()
        recorder.write(args.stages, code)
    return code


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
