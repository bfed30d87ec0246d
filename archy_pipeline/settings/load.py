"""Reading archy.yaml: the file, its YAML, the model, and any problem in one line.

:func:`load_settings` is the only reader of archy.yaml: the CLI calls it before any command
does anything, ``definitions.py`` when the code location loads, and the settings resource when
a run or a sensor tick starts. :func:`check_environment` then checks what archy.yaml asks of
the environment (tokens, the SMTP host and port: :func:`smtp_server`) before the first
request.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from archy_pipeline.settings.errors import ConfigError, one_line
from archy_pipeline.settings.model import ArchySettings
from archy_pipeline.settings.sections import (
    DEFAULT_SMTP_PORTS,
    EmailSettings,
    smtp_host_problem,
    smtp_port_problem,
)
from archy_pipeline.settings.variables import (
    CONFIG_ENV_VAR,
    SMTP_HOST_ENV_VAR,
    SMTP_PORT_ENV_VAR,
    EnvironmentVariables,
    read_environment,
)
from archy_pipeline.settings.workato import WorkatoOverrides, WorkatoTarget, workato_target

DEFAULT_CONFIG_PATH = "archy.yaml"


def config_path(variables: EnvironmentVariables | None = None) -> Path:
    """archy.yaml's path: ``ARCHY_CONFIG``, else ``archy.yaml`` in the working directory."""
    variables = variables or read_environment()
    return Path(variables.config_path or DEFAULT_CONFIG_PATH)


def load_settings(
    path: str | Path | None = None, variables: EnvironmentVariables | None = None
) -> ArchySettings:
    """Read and validate archy.yaml: ``path``, else ``ARCHY_CONFIG``, else ``./archy.yaml``.

    Without a file (only the default ``archy.yaml`` may be missing), everything is a default:
    one workspace named "Main Workspace" whose host and token come from the environment.

    Raises:
        ConfigError: one line naming the file, the key path and the problem.
    """
    variables = variables or read_environment()
    file = Path(path) if path is not None else config_path(variables)
    if not file.exists():
        if path is not None or variables.config_path:
            named = f"set by {CONFIG_ENV_VAR}" if path is None else "the file given"
            raise ConfigError(f"{file}: the config file does not exist ({named})")
        return parse_settings({}, str(file), from_file=False)
    try:
        text = file.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise ConfigError(f"{file}: cannot be read ({error})") from None
    return parse_settings(read_yaml(text, str(file)), str(file))


def read_yaml(text: str, source: str) -> Any:
    """The YAML document in ``text``; a syntax error names its line and column."""
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark else ""
        problem = getattr(error, "problem", None) or str(error).splitlines()[0]
        raise ConfigError(f"{source}: {where}not valid YAML ({problem})") from None


def parse_settings(data: Any, source: str = "archy.yaml", from_file: bool = True) -> ArchySettings:
    """Validate decoded archy.yaml (an empty document is all defaults)."""
    try:
        settings = ArchySettings.model_validate({} if data is None else data)
    except ValidationError as error:
        raise ConfigError(one_line(error, source)) from None
    listed = from_file and isinstance(data, dict) and data.get("workspaces") is not None
    return settings.located(source, from_file, listed)


def check_environment(
    settings: ArchySettings,
    variables: EnvironmentVariables,
    workspaces: Iterable[str] | None = None,
    overrides: WorkatoOverrides | None = None,
) -> dict[str, WorkatoTarget]:
    """What archy.yaml asks of the environment, before any request: each workspace's host and
    token (``workspaces``: those about to be used; default all) and the SMTP settings.

    Returns each workspace's :class:`WorkatoTarget`. Raises :class:`ConfigError` naming the
    key and the variable.
    """
    names = list(workspaces) if workspaces is not None else settings.names
    targets = {
        name: workato_target(settings.workspace(name), variables, overrides) for name in names
    }
    email = settings.notifications.email if settings.notifications else None
    if email is not None:
        smtp_server(email, variables, settings.source)
    return targets


def smtp_server(
    email: EmailSettings, variables: EnvironmentVariables, source: str = "archy.yaml"
) -> tuple[str, int]:
    """The SMTP host and port: ``ARCHY_SMTP_HOST`` / ``ARCHY_SMTP_PORT`` win over
    ``notifications.email``; the port defaults by ``tls`` (25, 587, 465).

    Raises :class:`ConfigError` naming the variable, or the key when no host is given at all.
    """
    port = variables.smtp_port
    if port is not None and (not port.isdigit() or smtp_port_problem(int(port))):
        raise ConfigError(
            f"environment: {SMTP_PORT_ENV_VAR}: must be a port number from 1 to 65535, not {port!r}"
        )
    if variables.smtp_host is not None and smtp_host_problem(variables.smtp_host):
        raise ConfigError(f"environment: {SMTP_HOST_ENV_VAR}: must be the SMTP server's host name")
    host = variables.smtp_host or email.host
    if host is None:
        raise ConfigError(
            f"{source}: notifications.email.host: is required (the SMTP server's host name), "
            f"or set {SMTP_HOST_ENV_VAR}"
        )
    if port is not None:
        return host.strip(), int(port)
    return host.strip(), DEFAULT_SMTP_PORTS[email.tls] if email.port is None else email.port
