"""A dlt source for the read side of the Workato Developer API (no Dagster import).

Run it on its own::

    client = WorkatoClient(token, base_url=...)
    pipeline = dlt.pipeline("workato", destination="duckdb", dataset_name="workato_raw")
    pipeline.run(workato_source(client, workspace="Main Workspace"))

Every row carries ``workspace`` so several workspaces can share one warehouse; keys are
``(workspace, id)``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import dlt
from dlt.sources import DltResource

from archy_pipeline.resources.workato_client import WorkatoClient

#: The dlt dataset (warehouse schema) raw Workato tables land in.
DATASET_NAME = "workato_raw"


def _typed(**types: str) -> dict[str, dict[str, Any]]:
    """Column hints, so documented fields exist even while every value is null."""
    return {name: {"data_type": data_type, "nullable": True} for name, data_type in types.items()}


WORKSPACE_COLUMNS = _typed(
    plan_id="text", company_name="text", email="text", contact_email="text", location="text",
    last_seen="timestamp", current_billing_period_start="timestamp",
    current_billing_period_end="timestamp", avatar_url="text", about_me="text", phone="text",
    contact_phone="text", interested_applications="json",
)  # fmt: skip
FOLDER_COLUMNS = _typed(parent_id="bigint", project_id="bigint", is_project="bool")
PROJECT_COLUMNS = _typed(description="text", folder_id="bigint")
CONNECTION_COLUMNS = _typed(
    description="text", authorized_at="timestamp", authorization_status="text",
    authorization_error="text", external_id="text", connection_lost_at="timestamp",
    connection_lost_reason="text", parent_id="bigint", provider="text", tags="json",
)  # fmt: skip
RECIPE_COLUMNS = _typed(
    code="text", trigger_application="text", description="text", webhook_url="text",
    project_id="bigint", last_run_at="timestamp", stopped_at="timestamp", stop_cause="text",
    trigger_closure="json", version_author_name="text", version_author_email="text",
    version_comment="text", tags="json",
)  # fmt: skip

ProgressFn = Callable[[str, int, int], None]


def _noop(stage: str, pages: int, items: int) -> None:
    pass


@dlt.source(name="workato", max_table_nesting=0)
def workato_source(
    client: WorkatoClient | None = None,
    workspace: str = "Main Workspace",
    progress: ProgressFn | None = None,
) -> list[DltResource]:
    """Workato folders, projects, connections and recipes of one workspace.

    ``client`` may be None when the source is only inspected (Dagster builds the asset specs
    from it when the definitions load); the resources need a client when they run.
    """
    report = progress or _noop

    def need_client() -> WorkatoClient:
        if client is None:
            raise RuntimeError("workato_source needs a WorkatoClient to run")
        return client

    @dlt.resource(
        primary_key=("workspace", "id"), write_disposition="merge", columns=WORKSPACE_COLUMNS
    )
    def workspace_details() -> Iterator[dict[str, Any]]:
        """The workspace itself (GET /users/me): one row with its id, name, plan and counts."""
        me = need_client().me()
        report("workspace", 1, 1)
        yield {**me, "workspace": workspace}

    @dlt.resource(
        primary_key=("workspace", "id"), write_disposition="merge", columns=FOLDER_COLUMNS
    )
    def folders() -> Iterator[dict[str, Any]]:
        """One row per folder, with its full path from Home (e.g. "Home/Sales/Quote to Cash")."""
        api = need_client()
        root_id = api.me()["root_folder_id"]
        paths = {root_id: "Home"}
        count = 0
        for folder in api.walk_folders():
            paths[folder["id"]] = f"{paths.get(folder['parent_id'], 'Home')}/{folder['name']}"
            count += 1
            if count % 100 == 0:
                report("folders", 0, count)
            yield {**folder, "path": paths[folder["id"]], "workspace": workspace}
        report("folders", 0, count)

    @dlt.resource(
        primary_key=("workspace", "id"), write_disposition="merge", columns=PROJECT_COLUMNS
    )
    def projects() -> Iterator[dict[str, Any]]:
        """One row per project (a top-level folder with its own scope and properties)."""
        items = need_client().list_projects()
        report("projects", 0, len(items))
        for project in items:
            yield {**project, "workspace": workspace}

    @dlt.resource(
        primary_key=("workspace", "id"), write_disposition="merge", columns=CONNECTION_COLUMNS
    )
    def connections() -> Iterator[dict[str, Any]]:
        """One row per connection: an authenticated account on an application."""
        items = need_client().list_connections()
        report("connections", 1, len(items))
        for connection in items:
            yield {**connection, "workspace": workspace}

    @dlt.resource(
        primary_key=("workspace", "id"), write_disposition="merge", columns=RECIPE_COLUMNS
    )
    def recipes() -> Iterator[dict[str, Any]]:
        """One row per recipe with all its metadata; ``code`` is the recipe tree as JSON text."""
        loaded = 0

        def on_page(page: int, items: int) -> None:
            nonlocal loaded
            loaded += items
            report("recipes", page, loaded)

        for recipe in need_client().iter_recipes(on_page=on_page):
            yield {**recipe, "workspace": workspace}

    return [
        workspace_details.with_name("workspace"),
        folders,
        projects,
        connections,
        recipes,
    ]
