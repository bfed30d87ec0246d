"""Where the architecture report goes, and the Workato addresses its recipe links point at."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import dagster as dg
from pydantic import Field

from archy_pipeline.resources.warehouse import WarehouseResource
from archy_pipeline.resources.workato import WorkatoResource
from archy_pipeline.settings import ConfigError, WorkspaceSettings, read_environment
from archy_pipeline.settings.variables import REPORT_DIR_ENV_VAR, EnvironmentVariables
from archy_pipeline.settings.workato import workato_host
from archy_pipeline.workato.errors import WorkatoError

__all__ = ["REPORT_DIR_ENV_VAR", "ReportResource"]


#: The US data center serves its API and its web app on different hosts (reference §1.1).
US_API_HOST = "https://www.workato.com"
US_WEB_APP = "https://app.workato.com"


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
        chosen = self.report_dir or read_environment().report_dir
        if chosen:
            return Path(chosen)
        # Beside the DuckDB file's folder (ARCHY_DUCKDB_PATH) even on PostgreSQL, where that
        # folder also holds the stored credentials and the audit rows waiting to be written.
        return warehouse.path.parent / "report"

    def workato_urls(
        self,
        workato: WorkatoResource,
        workspaces: Iterable[WorkspaceSettings],
        variables: EnvironmentVariables | None = None,
    ) -> dict[str, str]:
        """Each workspace's Workato web address (``https://app.eu.workato.com``): the API
        host a sync of it talks to (the one precedence rule of
        :mod:`archy_pipeline.settings.workato`) without ``/api``, except the US data center,
        whose API is on ``www.workato.com`` and its web app on ``app.workato.com`` (reference
        §1.1). Recipes are at ``<address>/recipes/<id>``."""
        variables = variables or read_environment()
        urls = {}
        for workspace in workspaces:
            try:
                api, _ = workato_host(workspace, variables, workato.overrides())
            except (ConfigError, WorkatoError):  # a bad host fails the sync with its own message
                continue
            web = api.rstrip("/").removesuffix("/api")
            urls[workspace.name] = US_WEB_APP if web == US_API_HOST else web
        return urls
