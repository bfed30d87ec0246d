"""The ``sync_failed`` rows of the command line's syncs that failed before the sync began.

The sync asset records its own failure (:mod:`archy_pipeline.assets.audit`). A run that never
reached it (its resources could not be initialised) and a sync that never got a run (the
warehouse stayed in use by another run for longer than the wait allowed) are recorded here,
through the same pending file when the warehouse cannot be written. Nothing is printed unless
the row could not even wait in that file.
"""

from __future__ import annotations

import sys
from typing import Any

from archy_pipeline.cli.credentials import AUDIT_LOCK_WAIT_SECONDS


def _resources() -> tuple[Any, Any, Any]:
    from archy_pipeline.resources import WorkatoResource
    from archy_pipeline.resources.settings import ArchySettingsResource
    from archy_pipeline.resources.warehouse import WarehouseResource

    # The warehouse the runs use, waited for briefly: a row that cannot go in waits instead.
    wait = min(WarehouseResource().lock_wait, AUDIT_LOCK_WAIT_SECONDS)
    return WarehouseResource(lock_wait_seconds=wait), WorkatoResource(), ArchySettingsResource()


def _lost(workspace: str, error: Exception, secrets: list[Any]) -> None:
    from archy_pipeline.audit import mask

    first = (str(error).strip().splitlines() or [""])[0]
    reason = mask(f"{type(error).__name__}: {first}", [s for s in secrets if isinstance(s, str)])
    print(f"  the sync_failed row of {workspace!r} could not be recorded ({reason})",
          file=sys.stderr, flush=True)  # fmt: skip


def audit_failed_run(instance: Any, run_id: str, workspace: str) -> None:
    """The ``sync_failed`` row of failed run ``run_id``, unless its sync recorded one."""
    from archy_pipeline.assets.audit import record_failed_run, sync_secrets

    secrets: list[Any] = []
    try:
        warehouse, workato, settings = _resources()
        secrets = sync_secrets(workato, settings, warehouse, workspace)
        record_failed_run(instance, run_id, warehouse, secrets)
    except Exception as error:
        _lost(workspace, error, secrets)


def audit_unstarted_sync(workspace: str, error: Exception) -> None:
    """The ``sync_failed`` row of a sync that got no run (``error`` says why): it waits in
    the pending file, since the warehouse is in use by another run."""
    from archy_pipeline.assets.audit import failed_event, record_failed_sync, sync_secrets
    from archy_pipeline.audit import os_actor

    secrets: list[Any] = []
    try:
        warehouse, workato, settings = _resources()
        secrets = sync_secrets(workato, settings, warehouse, workspace)
        event = failed_event(type(error).__name__, str(error), secrets, actor=os_actor(),
                             workspace=workspace, run_id=None)  # fmt: skip
        record_failed_sync(warehouse, event, busy=True)
    except Exception as lost:
        _lost(workspace, lost, secrets)
