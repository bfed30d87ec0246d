"""Where the architecture report goes, and the Workato addresses its recipe links point at."""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

import dagster as dg
from pydantic import Field

from archy_pipeline.config import WorkspaceConfig
from archy_pipeline.resources.warehouse import DEFAULT_DUCKDB_PATH, WarehouseResource
from archy_pipeline.resources.workato import BASE_URL_ENV_VAR, WorkatoResource
from archy_pipeline.workato.client import WorkatoError, resolve_base_url

REPORT_DIR_ENV_VAR = "ARCHY_REPORT_DIR"


class ReportResource(dg.ConfigurableResource):
    """The static site and exports ``archy-pipeline report`` and the ``docs`` group write.

    An unset ``report_dir`` falls back, at run time, to ``ARCHY_REPORT_DIR``, then to
    ``report/`` beside the DuckDB file (``data/report`` by default; also with PostgreSQL).
    """

    report_dir: str | None = Field(default=None, description="Folder of the report's site.")
    owner: str = Field(
        default="integration-architecture",
        description="Owner of the exported Backstage entities (a Backstage group name).",
    )

    def directory(self, warehouse: WarehouseResource) -> Path:
        chosen = self.report_dir or os.environ.get(REPORT_DIR_ENV_VAR)
        if chosen:
            return Path(chosen)
        if warehouse.kind == "duckdb":
            return warehouse.path.parent / "report"
        return Path(DEFAULT_DUCKDB_PATH).parent / "report"

    def workato_urls(
        self, workato: WorkatoResource, workspaces: Iterable[WorkspaceConfig]
    ) -> dict[str, str]:
        """Each workspace's Workato web address (``https://app.eu.workato.com``): the API
        host a sync of it talks to (the same precedence as ``WorkatoResource.get_client``)
        without ``/api``. Recipes are at ``<address>/recipes/<id>``."""
        urls = {}
        for workspace in workspaces:
            own_host = workspace.base_url or workspace.data_center
            base_url = (
                workato.base_url
                or workspace.base_url
                or (None if own_host else os.environ.get(BASE_URL_ENV_VAR))
            )
            try:
                api = resolve_base_url(workspace.data_center or workato.data_center, base_url)
            except WorkatoError:  # a bad host fails the sync with its own message
                continue
            urls[workspace.name] = api.removesuffix("/api")
        return urls
