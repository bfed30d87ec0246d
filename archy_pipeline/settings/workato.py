"""Where a workspace's requests go and which token they carry: one precedence rule.

For the host and for the token, the first of these that says something wins:

1. the Workato resource's own fields (``base_url``, ``data_center``, ``api_token``): run
   config in the Dagster UI, the CLI's ``--base-url`` / ``--data-center``, tests;
2. the workspace's entry in archy.yaml (``base_url``, ``data_center``; for the token, the
   variable its ``token_env`` names);
3. the environment (``WORKATO_BASE_URL``, ``WORKATO_DATA_CENTER``; ``WORKATO_API_TOKEN``);
4. for the host, the default data center, ``us``; for the token, the one
   ``archy-pipeline connect`` stored encrypted for that workspace name
   (:mod:`archy_pipeline.settings.credentials`), which is only sent to the host it was tested
   against. Without any, a missing token is an error naming the variable and the command.

Within one level ``base_url`` wins over ``data_center``. A workspace whose ``token_env`` is
written in archy.yaml needs that variable or a stored token: it never falls back to
``WORKATO_API_TOKEN``, which may hold another workspace's token.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from pydantic import SecretStr

from archy_pipeline.settings.base import data_center_problem, http_url_problem
from archy_pipeline.settings.credentials import CredentialStore, connect_hint, credentials_path
from archy_pipeline.settings.errors import ConfigError
from archy_pipeline.settings.model import WorkspaceSettings
from archy_pipeline.settings.variables import (
    BASE_URL_ENV_VAR,
    DATA_CENTER_ENV_VAR,
    EnvironmentVariables,
)

DEFAULT_DATA_CENTER = "us"


@dataclass(frozen=True)
class WorkatoOverrides:
    """The Workato resource's own host and token: level 1 of the rule."""

    api_token: SecretStr | None = None
    base_url: str | None = None
    data_center: str | None = None


@dataclass(frozen=True)
class WorkatoTarget:
    """A workspace's API base URL and token, and which setting gave each."""

    base_url: str
    token: SecretStr = field(repr=False)
    host_from: str
    token_from: str


def workato_host(
    workspace: WorkspaceSettings,
    variables: EnvironmentVariables,
    overrides: WorkatoOverrides | None = None,
) -> tuple[str, str]:
    """The API base URL of ``workspace`` by the precedence rule, and which setting gave it.

    Raises:
        ConfigError: an invalid host, in one line naming the setting.
    """
    from archy_pipeline.workato.transport import resolve_base_url

    overrides = overrides or WorkatoOverrides()
    where = workspace.where
    levels = [
        ("Workato resource base_url", overrides.base_url, "Workato resource data_center",
         overrides.data_center),
        (f"{where}.base_url" if where else "workspace base_url", workspace.base_url,
         f"{where}.data_center" if where else "workspace data_center", workspace.data_center),
        (f"environment: {BASE_URL_ENV_VAR}", variables.workato_base_url,
         f"environment: {DATA_CENTER_ENV_VAR}", variables.workato_data_center),
    ]  # fmt: skip
    base_url, data_center, host_from = None, DEFAULT_DATA_CENTER, "the default data center"
    for url_from, url, center_from, center in levels:
        if url:
            problem, base_url, host_from = http_url_problem(url), url, url_from
        elif center:
            problem, data_center, host_from = data_center_problem(center), center, center_from
        else:
            continue
        if problem:
            raise ConfigError(f"{host_from}: {problem}")
        break
    return resolve_base_url(data_center, base_url), host_from


def workato_target(
    workspace: WorkspaceSettings,
    variables: EnvironmentVariables,
    overrides: WorkatoOverrides | None = None,
) -> WorkatoTarget:
    """Apply the precedence rule (module docstring) to ``workspace``.

    Raises:
        ConfigError: a missing token or an invalid host, in one line naming the setting.
    """
    overrides = overrides or WorkatoOverrides()
    base_url, host_from = workato_host(workspace, variables, overrides)
    return WorkatoTarget(
        base_url=base_url,
        host_from=host_from,
        **_token(workspace, variables, overrides, base_url),
    )


def checked_token(token: SecretStr, token_from: str) -> SecretStr:
    """``token`` without surrounding white space (a newline pasted with it, ``echo`` into a
    file), refused when what is left holds a character an HTTP header cannot carry.

    The error names the setting and the position, never the token: httpx would refuse the
    header with the whole token in its message, which then reached the run logs.
    """
    value = token.get_secret_value().strip()
    if not value:
        raise ConfigError(f"{token_from}: the token is empty (only white space)")
    for position, character in enumerate(value, start=1):
        if not "!" <= character <= "~":
            kind = "a space" if character == " " else f"the character U+{ord(character):04X}"
            raise ConfigError(
                f"{token_from}: the token holds {kind} at position {position} of "
                f"{len(value)}; a Workato API token is printable ASCII without spaces: "
                "copy it again from Workspace admin > API clients"
            )
    return SecretStr(value)


def _token(
    workspace: WorkspaceSettings,
    variables: EnvironmentVariables,
    overrides: WorkatoOverrides,
    base_url: str,
) -> dict[str, object]:
    if overrides.api_token is not None and overrides.api_token.get_secret_value():
        token_from = "Workato resource api_token"
        return {"token": checked_token(overrides.api_token, token_from), "token_from": token_from}
    name = workspace.token_env
    token = variables.secret(name)
    if token is not None:
        token_from = f"environment: {name}"
        return {"token": checked_token(token, token_from), "token_from": token_from}
    store = CredentialStore(credentials_path(variables))
    token = store.token(workspace.name, base_url, variables)
    if token is not None:
        token_from = f"the token stored for workspace {workspace.name!r} in {store.path}"
        return {"token": checked_token(token, token_from), "token_from": token_from}
    set_it = "set it to the workspace's API client token (Workspace admin > API clients)"
    store_it = f"or store the token encrypted with `{connect_hint(workspace.name)}`"
    where = workspace.where
    if where is None:
        raise ConfigError(f"environment variable {name} is not set; {set_it}, {store_it}")
    if "token_env" in workspace.model_fields_set:
        raise ConfigError(
            f"{where}.token_env: environment variable {name} is not set; {set_it}, {store_it}"
        )
    raise ConfigError(
        f"{where}: environment variable {name} is not set; {set_it} or name another variable "
        f"in token_env, {store_it}"
    )
