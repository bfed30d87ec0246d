"""The Workato client as a Dagster resource."""

from __future__ import annotations

import dagster as dg
from pydantic import Field, SecretStr

from archy_pipeline.settings import (
    DEFAULT_WORKSPACE,
    EnvironmentVariables,
    WorkatoOverrides,
    WorkatoTarget,
    WorkspaceSettings,
    read_environment,
    workato_target,
)
from archy_pipeline.workato.client import WorkatoClient


class WorkatoResource(dg.ConfigurableResource):
    """Read-only access to Workato workspaces through the Developer API.

    Which workspaces exist, their hosts and the names of the variables holding their tokens
    come from archy.yaml; tokens are read from the environment, or decrypted from what
    ``archy-pipeline connect`` stored, when a run starts, never put in run config or shown in
    the UI. ``api_token``, ``base_url`` and ``data_center`` below,
    when set, win over archy.yaml for every workspace (tests and one-off runs use them): the
    precedence rule is :func:`archy_pipeline.settings.workato_target`.
    """

    api_token: str | None = Field(
        default=None,
        description="API client token; default: the variable the workspace's token_env names "
        "(WORKATO_API_TOKEN), then the token `archy-pipeline connect` stored.",
    )
    data_center: str | None = Field(
        default=None,
        description="us, eu, jp, sg, au, il, kr, cn or trial; default: the workspace's "
        "archy.yaml entry, then WORKATO_DATA_CENTER, then us.",
    )
    base_url: str | None = Field(
        default=None,
        description="Full API base URL, e.g. https://www.workato.com/api; wins over "
        "data_center. Default: the workspace's archy.yaml entry, then WORKATO_BASE_URL.",
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

    def overrides(self) -> WorkatoOverrides:
        """This resource's host and token: the first level of the precedence rule."""
        return WorkatoOverrides(
            api_token=SecretStr(self.api_token) if self.api_token else None,
            base_url=self.base_url,
            data_center=self.data_center,
        )

    def target(
        self,
        workspace: WorkspaceSettings | None = None,
        variables: EnvironmentVariables | None = None,
    ) -> WorkatoTarget:
        """Host and token for ``workspace`` (raises ConfigError naming what is missing)."""
        return workato_target(
            workspace or WorkspaceSettings(name=DEFAULT_WORKSPACE),
            variables or read_environment(),
            self.overrides(),
        )

    def get_client(
        self,
        workspace: WorkspaceSettings | None = None,
        variables: EnvironmentVariables | None = None,
    ) -> WorkatoClient:
        """A new client for ``workspace`` (the default one when None); close it when done."""
        workspace = workspace or WorkspaceSettings(name=DEFAULT_WORKSPACE)
        target = self.target(workspace, variables)
        return WorkatoClient(
            target.token.get_secret_value(),
            base_url=target.base_url,
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
