"""The Workato client as a Dagster resource."""

from __future__ import annotations

import os

import dagster as dg
from pydantic import Field

from archy_pipeline.resources.workato_client import WorkatoClient

BASE_URL_ENV_VAR = "WORKATO_BASE_URL"


class WorkatoResource(dg.ConfigurableResource):
    """Read-only access to one Workato workspace through the Developer API.

    Build it with ``api_token=dg.EnvVar("WORKATO_API_TOKEN")`` so the token is read when a run
    starts, never stored in run config and never shown in the UI. ``base_url`` (or the
    ``WORKATO_BASE_URL`` environment variable, read at run time) wins over ``data_center``.
    """

    api_token: str = Field(description="API client token (Workspace admin > API clients).")
    data_center: str = Field(default="us", description="us, eu, jp, sg, au, il, kr, cn or trial.")
    base_url: str | None = Field(
        default=None,
        description="Full API base URL, e.g. https://www.workato.com/api; wins over "
        "data_center. Falls back to the WORKATO_BASE_URL environment variable.",
    )
    user_email: str | None = Field(
        default=None, description="When set, the token must belong to this workspace email."
    )
    user_id: int | None = Field(
        default=None, description="When set, the token must belong to this workspace id."
    )
    workspace_name: str = Field(
        default="Main Workspace", description="The name archy-pipeline gives this workspace."
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
        "enterprise quotas.",
    )

    def get_client(self) -> WorkatoClient:
        """A new client; close it (or use it as a context manager) when done."""
        return WorkatoClient(
            self.api_token,
            data_center=self.data_center,
            base_url=self.base_url or os.environ.get(BASE_URL_ENV_VAR) or None,
            user_email=self.user_email,
            user_id=self.user_id,
            timeout_seconds=self.timeout_seconds,
            max_attempts=self.max_attempts,
            deadline_seconds=self.deadline_seconds,
            requests_per_minute=self.requests_per_minute,
        )

    def __repr_args__(self):  # keep the token out of reprs, logs and tracebacks
        for name, value in super().__repr_args__():
            yield name, ("***" if name == "api_token" else value)
