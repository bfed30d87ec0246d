"""The folder walk runs in a background thread while the recipes are listed and parsed (issue 13).

Each family has its own quota at Workato (reference §1.4), so a full sync's recipe listing need
not wait for the folder walk. These tests run real syncs against the simulator over HTTP with
its per-family quotas on (a Workato minute shortened to 3 s) and check the behaviour: the two
families' requests interleave, no request is answered 429, the rows are exactly those of a
sync that walks the tree on the spot, and a walk that fails or meets a folder it cannot open
ends the sync as it did before.
"""

from __future__ import annotations

import re
import threading
from datetime import datetime, timezone
from typing import Any

import pytest
from workato_simulator import WorkatoSimulator
from workato_simulator.generator import generate_workspace

from archy_pipeline.extract.state import PreviousState, SyncOptions
from archy_pipeline.extract.sync import WorkspaceSync
from archy_pipeline.workato.errors import WorkatoAuthenticationError, WorkatoServerError
from tests.support import client_for

NOW = datetime(2026, 11, 30, 12, 0, tzinfo=timezone.utc)
#: A small quota per family, on a 3 s minute: the walk (~31 requests) takes 3 windows and the
#: recipe listing (3 pages at 1 a minute) 3 windows too, so a sequential sync would take both.
QUOTA = {"folders": 12, "recipes": 1}
TIME_SCALE = 0.05


def _workspace():
    return generate_workspace(5, recipes=250, folders=30, now=NOW)


def _plan(
    sim: WorkatoSimulator,
    *,
    ahead: bool,
    paced: bool = True,
    previous: PreviousState | None = None,
    token: str | None = None,
) -> tuple[WorkspaceSync, dict[str, list[dict[str, Any]]]]:
    quota: dict[str, int] | int = QUOTA if paced else 0
    client = client_for(sim, token, requests_per_minute=quota, max_attempts=2)
    sync = WorkspaceSync(
        client,
        "Main Workspace",
        previous,
        SyncOptions(full_refresh=True),
        now=NOW,
    )
    sync.walk_ahead = ahead
    try:
        return sync, sync.plan
    finally:
        client.close()


def _walk_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == "archy folder walk"]


def test_folders_and_recipes_are_fetched_side_by_side_without_a_429(simulator):
    ws = _workspace()
    paced = simulator(ws, rate_limits=QUOTA, time_scale=TIME_SCALE)
    _, overlapped = _plan(paced, ahead=True)

    log = paced.log()
    assert 429 not in [r.status for r in log]
    folders = [r.at for r in log if r.family == "folders"]
    recipes = [r.at for r in log if r.family == "recipes"]
    assert len(folders) >= 31 and len(recipes) == 3
    # Recipe pages went out while the walk was under way, not before it or after it.
    during_walk = [at for at in recipes if folders[0] < at < folders[-1]]
    assert len(during_walk) >= 2, (recipes, folders[0], folders[-1])

    # The same workspace synced with the walk on the spot (unpaced: the rows do not depend
    # on the pacing) gives exactly the same rows, issues included.
    plain = simulator(ws, rate_limits=None, time_scale=TIME_SCALE)
    _, sequential = _plan(plain, ahead=False, paced=False)
    assert overlapped.keys() == sequential.keys()
    for table in sequential:
        assert overlapped[table] == sequential[table], table
    assert len(overlapped["recipes"]) == 250
    assert len(overlapped["recipe_steps"]) > 250
    # The plain sync walked after listing recipes, the overlapped one did not wait for that.
    plain_log = plain.log()
    assert max(r.at for r in plain_log if r.family == "recipes") < min(
        r.at for r in plain_log if r.family == "folders" and r.path == "/api/folders"
    )


def test_a_walk_that_fails_fails_the_sync_as_before_and_stops(simulator):
    ws = _workspace()
    errors = []
    for ahead in (True, False):
        sim = simulator(ws, rate_limits=None, time_scale=TIME_SCALE)
        sim.inject("status", path="^/api/folders", status=500, after=5, times=None)
        with pytest.raises(WorkatoServerError) as caught:
            _plan(sim, ahead=ahead, paced=False)
        # The same error but for the id Workato gives each 5xx answer.
        errors.append(
            re.sub(r"error id [\w-]+", "error id X", str(caught.value).split(" (gave up")[0])
        )
    assert errors[0] == errors[1]
    assert "500" in errors[0] and "/api/folders" in errors[0]
    assert not _walk_threads()


def test_a_folder_the_token_cannot_open_gives_the_same_issues_and_no_deletion(simulator):
    ws = _workspace()
    sim = simulator(ws, rate_limits=None, time_scale=TIME_SCALE)
    _, first = _plan(sim, ahead=False, paced=False)
    previous = PreviousState.from_rows(
        {t: first[t] for t in ("recipes", "folders", "connections", "projects", "workspace")}
    )
    # One folder with recipes in it is listed but cannot be opened.
    folder_id = next(
        r["folder_id"] for r in first["recipes"] if r["folder_id"] != ws.root_folder_id
    )
    token = "scoped-token"
    ws.add_token(token)
    ws.tokens[token].out_of_scope = "forbid"
    ws.tokens[token].hidden_folder_ids = frozenset({folder_id})

    plans = {}
    for ahead in (True, False):
        _, plans[ahead] = _plan(sim, ahead=ahead, paced=False, previous=previous, token=token)
    assert plans[True] == plans[False]
    kinds = [row["kind"] for row in plans[True]["sync_issues"]]
    assert "folder_not_visible" in kinds and "not_visible" in kinds
    assert not [r for r in plans[True]["recipes"] if r["deleted_at"] is not None]
    assert not [r for r in plans[True]["folders"] if r["deleted_at"] is not None]


def test_a_sync_that_fails_elsewhere_stops_its_background_walk(simulator):
    """The recipe listing fails at once: the walk stops at its next folder instead of walking
    the whole tree (a paced walk of 30 folders at 12 a minute), even while its client stays
    open (a client may outlive a sync, e.g. in a long-running process)."""
    ws = _workspace()
    sim = simulator(ws, rate_limits=QUOTA, time_scale=TIME_SCALE)
    sim.inject("status", path="^/api/recipes", status=401, times=None)
    with client_for(sim, requests_per_minute=QUOTA, max_attempts=2) as client:
        sync = WorkspaceSync(client, "Main Workspace", options=SyncOptions(full_refresh=True))
        with pytest.raises(WorkatoAuthenticationError):
            _ = sync.plan
        for thread in _walk_threads():
            thread.join(timeout=30)
        assert not _walk_threads()
    walked = [r for r in sim.log() if r.path == "/api/folders"]
    assert len(walked) < 31
