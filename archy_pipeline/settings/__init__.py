"""Settings: archy.yaml and the environment, validated before anything runs.

Settings flow one way: archy.yaml and the environment -> this package -> the Dagster resources
(:mod:`archy_pipeline.resources`) and the CLI -> the client, the assets and the sensors. Only
this package, the resources, the command line (``cli/``) and ``definitions.py`` read archy.yaml or
``os.environ`` (tests/test_settings.py checks it).
"""

from archy_pipeline.settings.environments import (
    DEFAULT_ENVIRONMENTS,
    ENVIRONMENTS,
    environment_of,
)
from archy_pipeline.settings.errors import ConfigError
from archy_pipeline.settings.load import (
    DEFAULT_CONFIG_PATH,
    check_environment,
    config_path,
    load_settings,
    parse_settings,
    read_yaml,
    smtp_server,
)
from archy_pipeline.settings.model import (
    DEFAULT_TOKEN_ENV,
    DEFAULT_WORKSPACE,
    ArchySettings,
    ConnectionSelection,
    FolderSelection,
    ScheduleSettings,
    SyncSelection,
    WorkspaceSettings,
)
from archy_pipeline.settings.variables import EnvironmentVariables, read_environment
from archy_pipeline.settings.workato import WorkatoOverrides, WorkatoTarget, workato_target

__all__ = [
    "DEFAULT_CONFIG_PATH",
    "DEFAULT_ENVIRONMENTS",
    "DEFAULT_TOKEN_ENV",
    "DEFAULT_WORKSPACE",
    "ENVIRONMENTS",
    "ArchySettings",
    "ConfigError",
    "ConnectionSelection",
    "EnvironmentVariables",
    "FolderSelection",
    "ScheduleSettings",
    "SyncSelection",
    "WorkatoOverrides",
    "WorkatoTarget",
    "WorkspaceSettings",
    "check_environment",
    "config_path",
    "environment_of",
    "load_settings",
    "parse_settings",
    "read_environment",
    "read_yaml",
    "smtp_server",
    "workato_target",
]
