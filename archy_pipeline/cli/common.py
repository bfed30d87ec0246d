"""What every command shares: settings read once, and the exit code of a refusal."""

from __future__ import annotations

from typing import TYPE_CHECKING

from archy_pipeline.settings import (
    ArchySettings,
    EnvironmentVariables,
    load_settings,
    read_environment,
)

if TYPE_CHECKING:
    pass


#: The exit code of a command refused before it started: invalid archy.yaml or environment.
SETTINGS_ERROR = 2


def load_validated() -> tuple[ArchySettings, EnvironmentVariables]:
    """archy.yaml and the environment, read once; a ConfigError ends the command (exit 2)."""
    variables = read_environment()
    return load_settings(variables=variables), variables
