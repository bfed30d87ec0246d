"""The Workato client as a Dagster resource."""

from __future__ import annotations

import os

import dagster as dg
from pydantic import Field

from archy_pipeline.config import WorkspaceConfig
from archy_pipeline.workato.client import WorkatoClient

BASE_URL_ENV_VAR = "WORKATO_BASE_URL"


class WorkatoResource(dg.ConfigurableResource):
    """Read-only access to Workato workspaces through the Developer API.

    Which workspaces exist, their hosts and the names of the environment variables holding
    their tokens come from ``archy.yaml`` (see :mod:`archy_pipeline.config`); tokens are read
    from the environment when a run starts, never stored in run config or shown in the UI.
    The fields below override that for every workspace, which tests and one-off runs use.
    """

    api_token: str | None = Field(
        default=None,
        description="API client token; default: the workspace's token_env (WORKATO_API_TOKEN).",
    )
    data_center: str = Field(default="us", description="us, eu, jp, sg, au, il, kr, cn or trial.")
    base_url: str | None = Field(
        default=None,
        description="Full API base URL, e.g. https://www.workato.com/api; wins over "
        "data_center. Falls back to the workspace's base_url, then WORKATO_BASE_URL.",
    )
    user_email: str | None = Field(
        default=None, description="When set, the token must belong to this workspace email."
    )
    user_id: int | None = Field(
        default=None, description="When set, the token must belong to this workspace id."
    )
    timeout_seconds: float = Field(
        default=30.0, description="Per-request timeout, at most 40 s (Workato's own limit)."
    )
    max_attempts: int = Field(default=6, description="Attempts per request, retries included.")
    deadline_seconds: float = Field(
        default=600.0, description="Total time one request may take, retries included."
    )
    requests_per_minute: int = Field(
        default=60,
        description="Quota per endpoint family. 60 is Workato's default; raise it only for "
        "enterprise quotas (0 turns pacing off).",
    )

    def get_client(self, workspace: WorkspaceConfig | None = None) -> WorkatoClient:
        """A new client for ``workspace`` (the default one when None); close it when done."""
        workspace = workspace or WorkspaceConfig()
        own_host = workspace.base_url or workspace.data_center
        return WorkatoClient(
            self.api_token or workspace.token(),
            data_center=workspace.data_center or self.data_center,
            base_url=self.base_url
            or workspace.base_url
            or (None if own_host else os.environ.get(BASE_URL_ENV_VAR))
            or None,
            user_email=self.user_email or workspace.user_email,
            user_id=self.user_id if self.user_id is not None else workspace.user_id,
            timeout_seconds=self.timeout_seconds,
            max_attempts=self.max_attempts,
            deadline_seconds=self.deadline_seconds,
            requests_per_minute=self.requests_per_minute,
        )

    def __repr_args__(self):  # keep the token out of reprs, logs and tracebacks
        for name, value in super().__repr_args__():
            yield name, ("***" if name == "api_token" and value else value)
