"""Is a process still there? For cleaning up after one that was killed (no Dagster import).

A pid alone can mislead: the system hands a dead process's pid to a new one. Where /proc exists,
the process's start time tells the two apart.
"""

from __future__ import annotations

import os
from pathlib import Path


def process_started(pid: int) -> str | None:
    """When ``pid`` started (clock ticks since boot, from /proc), or None where unknown."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # Field 22, counted after the command name, which may hold spaces and parentheses.
    return stat.rsplit(")", 1)[1].split()[19]


def process_alive(pid: int, started: str | None = None) -> bool:
    """Whether ``pid`` runs, and (when ``started`` is given and /proc knows) is the process
    that started then, not a newer one with the same pid."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process: it exists
        pass
    now_started = process_started(pid)
    return started is None or now_started is None or now_started == started
