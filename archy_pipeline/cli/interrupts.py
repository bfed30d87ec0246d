"""Ctrl+C and SIGTERM end a sync, also where Dagster does not look for them.

Inside ``execute_in_process`` Dagster catches SIGINT and SIGTERM and acts on them only at its
checkpoints: while a step's Python code runs, or between steps. A step waiting for a slot of
the warehouse pool never reaches one (Dagster's executor loops until the slot is free), and
the pool can be taken between the command line's own wait for it and Dagster's claim; such a
sync held the signal for as long as the other run wrote.

:class:`InterruptWatch` sees every SIGINT and SIGTERM that reaches a Python handler, whoever
installed it (``signal.set_wakeup_fd``: the interpreter writes the signal's number to a pipe
before any handler runs). When the process has not ended ``grace_seconds`` later, it marks
this process's unfinished runs failed, frees their pool slots, says so in one line and ends
the process with exit code 130. Until then Dagster handles the signal its own way (the step
fails, the run is marked failed), and :attr:`InterruptWatch.interrupted` tells the command line
not to go on with the next workspace or the rebuild.
"""

from __future__ import annotations

import os
import select
import signal
import sys
import threading
from collections.abc import Callable

#: The exit code of a process ended by Ctrl+C (128 + SIGINT), as a shell reports it.
INTERRUPTED = 130

#: How long Dagster has to stop after the signal before the watch ends the process.
DEFAULT_GRACE_SECONDS = 10.0

_SIGNALS = {signal.SIGINT, signal.SIGTERM}


class InterruptWatch:
    """Watch for SIGINT/SIGTERM from a daemon thread; end the process if it ignores them.

    Use as a context manager in the main thread around the in-process runs. ``on_stuck`` runs
    in the watch's thread before the process ends (it frees what the runs hold).
    """

    def __init__(
        self,
        on_stuck: Callable[[str], None],
        grace_seconds: float = DEFAULT_GRACE_SECONDS,
    ) -> None:
        self._on_stuck = on_stuck
        self._grace = grace_seconds
        self._signalled = threading.Event()
        self._done = threading.Event()
        self._previous_fd = -1
        self._pipe: tuple[int, int] | None = None
        self._previous_term: signal.Handlers | Callable | int | None = None

    @property
    def interrupted(self) -> bool:
        """Whether a SIGINT or SIGTERM arrived."""
        return self._signalled.is_set()

    def __enter__(self) -> InterruptWatch:
        if threading.current_thread() is not threading.main_thread():
            return self  # signals reach the main thread only: nothing to watch from here
        read, write = os.pipe()
        os.set_blocking(read, False)
        os.set_blocking(write, False)
        self._pipe = (read, write)
        self._previous_fd = signal.set_wakeup_fd(write, warn_on_full_buffer=False)
        # SIGTERM's default ends the process at once, outside any handler; until Dagster maps
        # it to its own handler, make it what Ctrl+C is (KeyboardInterrupt), so it is seen too.
        self._previous_term = signal.signal(signal.SIGTERM, signal.default_int_handler)
        threading.Thread(target=self._watch, name="archy-interrupt-watch", daemon=True).start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        if self._pipe is None:
            return
        if not self._signalled.is_set():
            self._done.set()
        # else the watch stays on: the process must now end within the grace period, also
        # if something it waits for on the way out (a thread, a handler) hangs.
        signal.set_wakeup_fd(self._previous_fd)
        if self._previous_term is not None:
            signal.signal(signal.SIGTERM, self._previous_term)
        # The pipe stays open: the thread may still be reading it, and the process ends soon.

    def _watch(self) -> None:
        assert self._pipe is not None
        read = self._pipe[0]
        while not self._done.is_set():
            ready, _, _ = select.select([read], [], [], 0.5)
            if not ready:
                continue
            try:
                data = os.read(read, 512)
            except BlockingIOError:
                continue
            if any(number in _SIGNALS for number in data):
                break
        else:
            return
        self._signalled.set()
        if self._done.wait(self._grace):
            return
        reason = (
            f"interrupted: the sync did not stop within {self._grace:.0f} s of the signal "
            "(it was waiting for the warehouse, or inside a call that does not look at "
            "signals); its runs are marked failed and their warehouse slots freed; stopping now"
        )
        try:
            self._on_stuck(reason)
        finally:
            print(reason, file=sys.stderr, flush=True)
            os._exit(INTERRUPTED)
