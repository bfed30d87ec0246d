"""archy.yaml and the environment as a Dagster resource: how assets and sensors get settings."""

from __future__ import annotations

import dagster as dg
from pydantic import Field

from archy_pipeline.settings import (
    ArchySettings,
    EnvironmentVariables,
    load_settings,
    read_environment,
)


class ArchySettingsResource(dg.ConfigurableResource):
    """The validated settings: archy.yaml (:class:`~archy_pipeline.settings.ArchySettings`)
    and the environment variables (:class:`~archy_pipeline.settings.EnvironmentVariables`).

    Both are read when a run or a sensor tick asks (an edited archy.yaml counts from the next
    run on); an invalid file raises :class:`~archy_pipeline.settings.ConfigError` in one line.
    The code location already refused to load with such a file, so a run sees one only when
    the file was changed after the location loaded.
    """

    config_path: str | None = Field(
        default=None,
        description="archy.yaml to read; default: ARCHY_CONFIG, else ./archy.yaml (optional).",
    )

    def load(self) -> ArchySettings:
        """archy.yaml, validated (raises ConfigError)."""
        return load_settings(self.config_path, self.environment())

    def environment(self) -> EnvironmentVariables:
        """The environment variables archy-pipeline reads (one snapshot per call)."""
        return read_environment()
