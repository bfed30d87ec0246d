"""A dlt source for the read side of the Workato Developer API (no Dagster import).

Run it on its own::

    client = WorkatoClient(token, base_url=...)
    for key, value in ARROW_DLT_COLUMNS_CONFIG.items():  # _dlt_id on the Arrow tables too
        dlt.config[key] = value
    pipeline = dlt.pipeline("workato", destination="duckdb", dataset_name="workato_raw")
    pipeline.run(workato_source(client, workspace="Main Workspace"))

Every row carries ``workspace`` so several workspaces can share one warehouse; keys are
``(workspace, id)``. Pass the rows of the previous sync as ``previous`` (see
:class:`archy_pipeline.extract.state.PreviousState`) to load only what changed and to
detect deletions; without it every item is loaded and nothing is marked deleted.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from typing import Any

import dlt
from dlt.sources import DltResource

from archy_pipeline.extract.arrow import ARROW_DLT_COLUMNS_CONFIG, arrow_table
from archy_pipeline.extract.state import PreviousState, ProgressFn, SyncIssue, SyncOptions
from archy_pipeline.extract.sync import WorkspaceSync
from archy_pipeline.extract.tables import (
    ARROW_TABLES,
    CONNECTION_COLUMNS,
    DATASET_NAME,
    FOLDER_COLUMNS,
    ISSUE_COLUMNS,
    PROJECT_COLUMNS,
    RAW_TABLES,
    RECIPE_COLUMNS,
    RECIPE_CONNECTION_COLUMNS,
    RECIPE_ERROR_COLUMNS,
    RECIPE_STEP_COLUMNS,
    WORKSPACE_COLUMNS,
)
from archy_pipeline.workato.client import WorkatoClient
from archy_pipeline.workato.identity import WorkspaceIdentity

__all__ = [
    "ARROW_DLT_COLUMNS_CONFIG",
    "DATASET_NAME",
    "PreviousState",
    "SyncIssue",
    "SyncOptions",
    "WorkspaceSync",
    "workato_source",
]

log = logging.getLogger(__name__)

ENTITY_KEY = ("workspace", "id")
RECIPE_KEY = ("workspace", "recipe_id")


def _as_arrow(table: str, rows: list[dict[str, Any]]) -> Any:
    """``rows`` as one Arrow table of the declared columns; the rows themselves (dlt's
    normalizer takes them as before, adding any variant column it needs) when a value does
    not fit its declared column."""
    try:
        return arrow_table(table, rows, ARROW_TABLES[table])
    except (ValueError, TypeError) as error:  # pyarrow's errors included
        log.warning("%s: rows passed to dlt as dicts (%s)", table, error)
        return rows


@dlt.source(name="workato", max_table_nesting=0)
def workato_source(
    client: WorkatoClient | None = None,
    workspace: str = "Main Workspace",
    previous: PreviousState | None = None,
    options: SyncOptions | None = None,
    progress: ProgressFn | None = None,
    me: dict[str, Any] | None = None,
    on_issue: Callable[[SyncIssue], None] | None = None,
    identity: WorkspaceIdentity | None = None,
    arrow: bool = True,
) -> list[DltResource]:
    """Workato folders, projects, connections, recipes and their steps for one workspace.

    ``client`` may be None when the source is only inspected (Dagster builds the asset specs
    from it when the definitions load); the resources need a client when they run.
    ``identity`` (or ``me``, the ``/users/me`` answer) is passed when the caller already
    identified the workspace; ``on_issue`` hears each :class:`SyncIssue` as the sync finds it.

    The tables this package builds itself (``tables.ARROW_TABLES``: parsed steps, config
    connections, parse errors) go to dlt as Arrow tables, which it writes without normalizing
    them row by row; ``arrow=False`` yields them as dicts through dlt's normalizer instead
    (the same rows: tests/test_raw_tables_identical.py compares the two). The pipeline must
    add ``_dlt_id`` and ``_dlt_load_id`` to Arrow tables as it does to dicts
    (:data:`ARROW_DLT_COLUMNS_CONFIG`; ``WarehouseResource.dlt_pipeline`` sets it).
    """
    sync: WorkspaceSync | None = None
    #: Tables of the current sync that dlt has not taken yet.
    pending: set[str] = set()

    def rows(table: str) -> Iterator[dict[str, Any]]:
        nonlocal sync, pending
        if client is None:
            raise RuntimeError("workato_source needs a WorkatoClient to run")
        if sync is None:
            pending = set(RAW_TABLES)
            sync = WorkspaceSync(
                client,
                workspace,
                previous,
                options,
                progress,
                me=me,
                identity=identity,
                on_issue=on_issue,
            )
        # Tables exist from the first sync on, even while empty: analysts query them.
        yield dlt.mark.materialize_table_schema()
        current = sync
        rows = current.plan[table]
        if table in ARROW_TABLES and arrow and rows:
            yield _as_arrow(table, rows)
        else:
            yield from rows
        # Once dlt holds every table's rows, the sync (its listings, code and parsed steps) is
        # let go: dlt normalizes and loads after extracting, and the process's memory would
        # otherwise peak with both.
        pending.discard(table)
        if not pending and sync is current:
            sync = None

    entity = {"primary_key": ENTITY_KEY, "write_disposition": "merge"}
    # A recipe's steps and config entries are replaced as a whole when its code changes.
    per_recipe = {
        "merge_key": RECIPE_KEY,
        "write_disposition": {"disposition": "merge", "strategy": "delete-insert"},
    }

    @dlt.resource(name="workspace", columns=WORKSPACE_COLUMNS, **entity)
    def workspace_details() -> Iterator[dict[str, Any]]:
        """The workspace itself: its id, name, plan and recipe counts from GET /users/me, or
        its id, name and environment from the activity log when /users/me is refused."""
        yield from rows("workspace")

    @dlt.resource(columns=FOLDER_COLUMNS, **entity)
    def folders() -> Iterator[dict[str, Any]]:
        """One row per folder, with its full path from Home (e.g. "Home/Sales/Quote to Cash")."""
        yield from rows("folders")

    @dlt.resource(columns=PROJECT_COLUMNS, **entity)
    def projects() -> Iterator[dict[str, Any]]:
        """One row per project (a top-level folder with its own scope and properties)."""
        yield from rows("projects")

    @dlt.resource(columns=CONNECTION_COLUMNS, **entity)
    def connections() -> Iterator[dict[str, Any]]:
        """One row per connection: an authenticated account on an application."""
        yield from rows("connections")

    @dlt.resource(columns=RECIPE_COLUMNS, **entity)
    def recipes() -> Iterator[dict[str, Any]]:
        """One row per recipe with all its metadata; ``code`` is the recipe tree as JSON text."""
        yield from rows("recipes")

    @dlt.resource(primary_key=(*RECIPE_KEY, "number"), columns=RECIPE_STEP_COLUMNS, **per_recipe)
    def recipe_steps() -> Iterator[dict[str, Any]]:
        """One row per step of a recipe's code tree (pre-order), with what it references."""
        yield from rows("recipe_steps")

    @dlt.resource(
        primary_key=(*RECIPE_KEY, "position"), columns=RECIPE_CONNECTION_COLUMNS, **per_recipe
    )
    def recipe_connections() -> Iterator[dict[str, Any]]:
        """One row per entry of a recipe's config: the connector it uses and through which
        connection."""
        yield from rows("recipe_connections")

    @dlt.resource(primary_key=RECIPE_KEY, write_disposition="merge", columns=RECIPE_ERROR_COLUMNS)
    def recipe_errors() -> Iterator[dict[str, Any]]:
        """One row per recipe whose code could not be parsed, with the error and an excerpt."""
        yield from rows("recipe_errors")

    @dlt.resource(write_disposition="append", columns=ISSUE_COLUMNS)
    def sync_issues() -> Iterator[dict[str, Any]]:
        """What a sync could not see or do (folders outside the token's scope, deletions
        refused...), one row per finding per sync, with a message saying what to do."""
        yield from rows("sync_issues")

    return [
        workspace_details,
        folders,
        projects,
        connections,
        recipes,
        recipe_steps,
        recipe_connections,
        recipe_errors,
        sync_issues,
    ]
