"""``archy.yaml``: the workspaces to sync and what to sync from them.

The file's path comes from ``ARCHY_CONFIG`` (default ``archy.yaml`` in the working directory).
Without a file, one workspace named "Main Workspace" comes from the environment variables
(``WORKATO_API_TOKEN``, ``WORKATO_BASE_URL``, ``WORKATO_DATA_CENTER``) and everything is
synced. Example::

    workspaces:
      - name: Main Workspace
        data_center: us
        token_env: WORKATO_API_TOKEN
      - name: EU Workspace
        base_url: https://app.eu.workato.com/api
        token_env: WORKATO_EU_TOKEN
        sync:                       # overrides the top-level sync block for this workspace
          recipes: running
    sync:
      folders:
        include: ["Home/Sales*", 123456]     # folder ids or path globs (fnmatch)
        exclude: ["Home/Sales/Sandbox*"]
      recipes: all                           # all | running
      connections:
        include_names: ["*"]                 # name globs, case-insensitive
        exclude_names: ["*test*"]
        environments: [production, sandbox]
      max_vanished_share: 0.5
      held_deletions_grace_days: 14
    environments:                            # naming patterns, checked in this order
      staging: [staging, stage, stg, uat, preprod]
    access:                                  # how steps read or write (docs/configuration.md)
      overrides:
        "mssql/execute_procedure": write     # <provider>/<action_name>: read | write
        "acme_connector_12_34/*": read       # every action of a connector

No Dagster import: the CLI, the dlt source and the assets all read it through here.
"""

from __future__ import annotations

import dataclasses
import fnmatch
import os
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from archy_pipeline.workato.vocabulary import AccessOverrideError, parse_access_overrides

CONFIG_ENV_VAR = "ARCHY_CONFIG"
DEFAULT_CONFIG_PATH = "archy.yaml"
DEFAULT_WORKSPACE = "Main Workspace"
DEFAULT_TOKEN_ENV = "WORKATO_API_TOKEN"

#: Environment names and the words that mark them in connection names, checked in order:
#: "preprod" must be staging before "prod" can make it production.
DEFAULT_ENVIRONMENTS: dict[str, tuple[str, ...]] = {
    "staging": ("staging", "stage", "stg", "uat", "preprod", "prepod", "preprd", "pre-prod"),
    "sandbox": ("sandbox", "sbx", "sbox", "sand"),
    "test": ("test", "tst", "qa", "testing"),
    "development": ("dev", "development", "develop"),
    "production": ("production", "prod", "prd", "live"),
}
ENVIRONMENTS = (*DEFAULT_ENVIRONMENTS, "unknown")


#: The sections of archy.yaml; systems:, mapping:, analysis: and notifications: are validated by
#: the modules that use them (mapping, analysis, notify).
TOP_LEVEL_KEYS = frozenset(
    {"workspaces", "sync", "environments", "systems", "mapping", "schedules", "analysis",
     "notifications", "access"}
)  # fmt: skip


class ConfigError(ValueError):
    """``archy.yaml`` is not valid; the message names the file, the key and what is allowed."""


@dataclass(frozen=True)
class FolderSelection:
    """Folders to sync: by id or path glob (``Home/Sales*``); a folder's sub-folders follow it."""

    include: tuple[int | str, ...] = ()
    exclude: tuple[int | str, ...] = ()

    @staticmethod
    def _matches(rules: Iterable[int | str], folder_id: int, path: str) -> bool:
        for rule in rules:
            if isinstance(rule, int):
                if rule == folder_id:
                    return True
            elif fnmatch.fnmatchcase(path, rule) or fnmatch.fnmatchcase(path, f"{rule}/*"):
                return True
        return False

    def excludes(self, folder_id: int, path: str) -> bool:
        """The folder is excluded itself (its sub-folders then never get listed)."""
        return self._matches(self.exclude, folder_id, path)

    def includes(self, folder_id: int, path: str) -> bool:
        """The folder itself is named by an include rule (its sub-folders follow it)."""
        return not self.include or self._matches(self.include, folder_id, path)

    @property
    def active(self) -> bool:
        return bool(self.include or self.exclude)


@dataclass(frozen=True)
class ConnectionSelection:
    include_names: tuple[str, ...] = ()
    exclude_names: tuple[str, ...] = ()
    environments: tuple[str, ...] = ()

    def selects(self, name: str, environment: str) -> bool:
        lowered = (name or "").lower()
        if self.include_names and not any(
            fnmatch.fnmatchcase(lowered, p.lower()) for p in self.include_names
        ):
            return False
        if any(fnmatch.fnmatchcase(lowered, p.lower()) for p in self.exclude_names):
            return False
        return not self.environments or environment in self.environments

    @property
    def active(self) -> bool:
        return bool(self.include_names or self.exclude_names or self.environments)


@dataclass(frozen=True)
class SyncSelection:
    """What to sync from a workspace."""

    folders: FolderSelection = field(default_factory=FolderSelection)
    recipes: str = "all"
    connections: ConnectionSelection = field(default_factory=ConnectionSelection)
    max_vanished_share: float = 0.5
    #: Days a held deletion (items that vanished with their project or folder) waits before
    #: it is applied; None holds it until ``sync --accept-deletions``.
    held_deletions_grace_days: float | None = None

    @property
    def running_only(self) -> bool:
        return self.recipes == "running"


@dataclass(frozen=True)
class WorkspaceConfig:
    """One Workato workspace: its name (the Dagster partition), host and token variable."""

    name: str = DEFAULT_WORKSPACE
    data_center: str | None = None
    base_url: str | None = None
    token_env: str = DEFAULT_TOKEN_ENV
    user_email: str | None = None
    user_id: int | None = None
    sync: SyncSelection = field(default_factory=SyncSelection)

    def token(self) -> str:
        """The token, read from the environment when a sync starts (never stored)."""
        value = os.environ.get(self.token_env, "")
        if not value:
            raise ConfigError(
                f"workspace {self.name!r}: environment variable {self.token_env} is not set; "
                "set it to the workspace's API client token"
            )
        return value


@dataclass(frozen=True)
class ArchyConfig:
    workspaces: tuple[WorkspaceConfig, ...]
    environments: Mapping[str, tuple[str, ...]] = field(
        default_factory=lambda: dict(DEFAULT_ENVIRONMENTS)
    )
    source: str | None = None
    #: The file as read, for sections other modules validate (systems:, mapping:).
    raw: Mapping[str, Any] = field(default_factory=dict)
    #: ``access.overrides``: ``{"<provider>/<action>": "read"|"write"}``, keys lower-cased.
    access_overrides: Mapping[str, str] = field(default_factory=dict)

    def workspace(self, name: str) -> WorkspaceConfig:
        for workspace in self.workspaces:
            if workspace.name == name:
                return workspace
        known = ", ".join(repr(w.name) for w in self.workspaces)
        raise ConfigError(f"no workspace named {name!r} in {self.source or 'the config'}: {known}")

    @property
    def names(self) -> list[str]:
        return [w.name for w in self.workspaces]

    def environment_of(self, name: str | None) -> str:
        return environment_of(name, self.environments)


_WORD = re.compile(r"[A-Za-z0-9]+")


def environment_of(
    name: str | None, patterns: Mapping[str, Iterable[str]] = DEFAULT_ENVIRONMENTS
) -> str:
    """The environment a connection name points at ('unknown' when nothing says).

    Names are split into words ("ACME Production Salesforce", "slack_ops_prd",
    "SalesforceSandbox", "[HR] Workday PROD"), and the first environment with a matching
    word wins. Patterns with a hyphen (``pre-prod``) are matched against the whole name.
    """
    if not name:
        return "unknown"
    spaced = re.sub(r"(?<=[a-z])(?=[A-Z])", " ", name)
    words = {w.lower() for w in _WORD.findall(spaced)}
    words |= {w.rstrip("0123456789") for w in words}  # "prod2", "dev01"
    lowered = name.lower()
    for environment, markers in patterns.items():
        for marker in markers:
            marker = marker.lower()
            if marker in words or (not marker.isalnum() and marker in lowered):
                return environment
    return "unknown"


# ---------------------------------------------------------------------- loading


def config_path() -> Path:
    return Path(os.environ.get(CONFIG_ENV_VAR) or DEFAULT_CONFIG_PATH)


def load_config(path: str | Path | None = None) -> ArchyConfig:
    """Read ``archy.yaml`` (``ARCHY_CONFIG``); without one, a single workspace from env vars.

    An explicit ``path`` or ``ARCHY_CONFIG`` that does not exist is an error; the default
    ``archy.yaml`` is optional.
    """
    explicit = path is not None or bool(os.environ.get(CONFIG_ENV_VAR))
    file = Path(path) if path is not None else config_path()
    if not file.exists():
        if explicit:
            raise ConfigError(f"config file {file} does not exist (set by {CONFIG_ENV_VAR})")
        return ArchyConfig(workspaces=(_workspace_from_env(),))
    try:
        data = yaml.safe_load(file.read_text()) or {}
    except yaml.YAMLError as error:
        raise ConfigError(f"{file} is not valid YAML: {error}") from None
    return parse_config(data, source=str(file))


def _workspace_from_env() -> WorkspaceConfig:
    return WorkspaceConfig(
        data_center=os.environ.get("WORKATO_DATA_CENTER") or None,
        base_url=os.environ.get("WORKATO_BASE_URL") or None,
    )


def parse_config(data: Any, source: str = "archy.yaml") -> ArchyConfig:
    """Validate a decoded ``archy.yaml``; errors name the key and what it allows."""
    # systems: and mapping: are validated by archy_pipeline.mapping when mapping runs.
    top = _mapping(data, source, TOP_LEVEL_KEYS)
    if "schedules" in top:
        _schedules(top["schedules"], f"{source}: schedules")
    default_sync = _sync(top.get("sync") or {}, f"{source}: sync")
    environments = dict(DEFAULT_ENVIRONMENTS)
    for env, markers in _mapping(top.get("environments") or {}, f"{source}: environments").items():
        if env not in ENVIRONMENTS or env == "unknown":
            raise ConfigError(
                f"{source}: environments.{env} is not one of "
                f"{', '.join(e for e in ENVIRONMENTS if e != 'unknown')}"
            )
        environments[env] = tuple(_strings(markers, f"{source}: environments.{env}"))
    raw_workspaces = top.get("workspaces")
    if raw_workspaces is None:
        workspaces = [dataclasses.replace(_workspace_from_env(), sync=default_sync)]
    else:
        if not isinstance(raw_workspaces, list) or not raw_workspaces:
            raise ConfigError(f"{source}: workspaces must be a non-empty list")
        workspaces = [
            _workspace(item, f"{source}: workspaces[{i}]", default_sync)
            for i, item in enumerate(raw_workspaces)
        ]
    names = [w.name for w in workspaces]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise ConfigError(f"{source}: workspace names must be unique: {', '.join(duplicates)}")
    access_overrides = _access(top.get("access"), f"{source}: access")
    return ArchyConfig(tuple(workspaces), environments, source, dict(top), access_overrides)


def _access(item: Any, where: str) -> dict[str, str]:
    """``access: {overrides: {"<provider>/<action>": read|write}}``."""
    if item is None:
        return {}
    data = _mapping(item, where, {"overrides"})
    try:
        return dict(parse_access_overrides(data.get("overrides"), f"{where}.overrides"))
    except AccessOverrideError as error:
        raise ConfigError(str(error)) from None


@dataclass(frozen=True)
class ScheduleSettings:
    """When the daily (incremental) and weekly (full refresh) syncs run."""

    daily: str = "0 2 * * *"
    weekly: str = "0 4 * * 0"
    timezone: str = "UTC"


def _schedules(item: Any, where: str) -> ScheduleSettings:
    data = _mapping(item, where, {"daily", "weekly", "timezone"})
    defaults = ScheduleSettings()
    values = {}
    for key in ("daily", "weekly"):
        cron = data.get(key, getattr(defaults, key))
        if not isinstance(cron, str) or len(cron.split()) != 5:
            raise ConfigError(
                f"{where}.{key} must be a cron string with five fields, e.g. '0 2 * * *'"
            )
        values[key] = cron
    timezone_name = data.get("timezone", defaults.timezone)
    try:
        from zoneinfo import ZoneInfo

        ZoneInfo(str(timezone_name))
    except Exception:
        raise ConfigError(
            f"{where}.timezone {timezone_name!r} is not an IANA time zone such as "
            "'UTC' or 'Europe/Berlin'"
        ) from None
    return ScheduleSettings(values["daily"], values["weekly"], str(timezone_name))


def load_schedule_settings(path: str | Path | None = None) -> ScheduleSettings:
    """The ``schedules:`` section of archy.yaml, or the off-hours defaults.

    Dagster needs cron strings when the code location loads, so this reads the file then; it
    reads only this section and no environment variable but ``ARCHY_CONFIG``.
    """
    file = Path(path) if path is not None else config_path()
    if not file.exists():
        return ScheduleSettings()
    try:
        data = yaml.safe_load(file.read_text()) or {}
    except yaml.YAMLError as error:
        raise ConfigError(f"{file} is not valid YAML: {error}") from None
    section = data.get("schedules") if isinstance(data, dict) else None
    return _schedules(section, f"{file}: schedules") if section is not None else ScheduleSettings()


def _workspace(item: Any, where: str, default_sync: SyncSelection) -> WorkspaceConfig:
    keys = {"name", "data_center", "base_url", "token_env", "user_email", "user_id", "sync"}
    data = _mapping(item, where, keys)
    name = data.get("name")
    if not isinstance(name, str) or not name.strip():
        raise ConfigError(f"{where}.name is required (the workspace's name in archy-pipeline)")
    token_env = data.get("token_env", DEFAULT_TOKEN_ENV)
    if not isinstance(token_env, str) or not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", token_env):
        raise ConfigError(
            f"{where}.token_env must be the NAME of an environment variable holding the token "
            "(never the token itself)"
        )
    sync = _sync(data["sync"], f"{where}.sync", default_sync) if "sync" in data else default_sync
    user_id = data.get("user_id")
    if user_id is not None and not isinstance(user_id, int):
        raise ConfigError(f"{where}.user_id must be an integer")
    return WorkspaceConfig(
        name=name.strip(),
        data_center=_optional_str(data.get("data_center"), f"{where}.data_center"),
        base_url=_optional_str(data.get("base_url"), f"{where}.base_url"),
        token_env=token_env,
        user_email=_optional_str(data.get("user_email"), f"{where}.user_email"),
        user_id=user_id,
        sync=sync,
    )


def _sync(item: Any, where: str, base: SyncSelection | None = None) -> SyncSelection:
    data = _mapping(
        item,
        where,
        {"folders", "recipes", "connections", "max_vanished_share", "held_deletions_grace_days"},
    )
    base = base or SyncSelection()
    folders = base.folders
    if "folders" in data:
        raw = _mapping(data["folders"], f"{where}.folders", {"include", "exclude"})
        folders = FolderSelection(
            include=tuple(_folder_rules(raw.get("include"), f"{where}.folders.include")),
            exclude=tuple(_folder_rules(raw.get("exclude"), f"{where}.folders.exclude")),
        )
    recipes = data.get("recipes", base.recipes)
    if recipes not in {"all", "running"}:
        raise ConfigError(f"{where}.recipes must be 'all' or 'running', not {recipes!r}")
    connections = base.connections
    if "connections" in data:
        raw = _mapping(
            data["connections"],
            f"{where}.connections",
            {"include_names", "exclude_names", "environments"},
        )
        environments = tuple(_strings(raw.get("environments"), f"{where}.connections.environments"))
        unknown = [e for e in environments if e not in ENVIRONMENTS]
        if unknown:
            raise ConfigError(
                f"{where}.connections.environments: {', '.join(unknown)} not one of "
                f"{', '.join(ENVIRONMENTS)}"
            )
        connections = ConnectionSelection(
            include_names=tuple(_strings(raw.get("include_names"), f"{where}.include_names")),
            exclude_names=tuple(_strings(raw.get("exclude_names"), f"{where}.exclude_names")),
            environments=environments,
        )
    share = data.get("max_vanished_share", base.max_vanished_share)
    if not isinstance(share, (int, float)) or not 0 <= share <= 1:
        raise ConfigError(f"{where}.max_vanished_share must be a number from 0 to 1")
    grace = data.get("held_deletions_grace_days", base.held_deletions_grace_days)
    if grace is not None and (
        isinstance(grace, bool) or not isinstance(grace, (int, float)) or grace < 0
    ):
        raise ConfigError(
            f"{where}.held_deletions_grace_days must be a number of days (0 or more), not {grace!r}"
        )
    return SyncSelection(
        folders,
        recipes,
        connections,
        float(share),
        None if grace is None else float(grace),
    )


def _mapping(item: Any, where: str, allowed: set[str] | None = None) -> dict[str, Any]:
    if not isinstance(item, dict):
        raise ConfigError(f"{where} must be a mapping (key: value)")
    if allowed is not None:
        unknown = sorted(set(item) - allowed)
        if unknown:
            raise ConfigError(
                f"{where}: unknown key(s) {', '.join(map(str, unknown))}; "
                f"allowed: {', '.join(sorted(allowed))}"
            )
    return item


def _strings(item: Any, where: str) -> list[str]:
    if item is None:
        return []
    if isinstance(item, str):
        return [item]
    if not isinstance(item, list) or not all(isinstance(x, str) for x in item):
        raise ConfigError(f"{where} must be a list of strings")
    return item


def _folder_rules(item: Any, where: str) -> list[int | str]:
    if item is None:
        return []
    items = item if isinstance(item, list) else [item]
    rules: list[int | str] = []
    for rule in items:
        if isinstance(rule, bool) or not isinstance(rule, (int, str)):
            raise ConfigError(f"{where}: {rule!r} is neither a folder id nor a path glob")
        if isinstance(rule, str) and rule.isdigit():
            rule = int(rule)
        elif isinstance(rule, str) and not rule.startswith("Home"):
            rule = f"Home/{rule.lstrip('/')}"
        rules.append(rule)
    return rules


def _optional_str(item: Any, where: str) -> str | None:
    if item is None:
        return None
    if not isinstance(item, str):
        raise ConfigError(f"{where} must be a string")
    return item
