"""archy.yaml as one pydantic model tree: every section, every rule, checked before a run.

Each section is a frozen model that refuses unknown keys and checks its values strictly, the
way the code using them needs them: cron strings Dagster accepts, time zones zoneinfo knows,
folder globs that can match, regular expressions that compile, numbers in range. Reading the
file and turning pydantic's errors into one line is :mod:`archy_pipeline.settings.load`.

Example::

    workspaces:
      - name: Main Workspace
        data_center: us
        token_env: WORKATO_API_TOKEN
      - name: EU Workspace
        base_url: https://app.eu.workato.com/api
        token_env: WORKATO_EU_TOKEN
        sync:                       # overrides keys of the top-level sync block
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
    access:
      overrides:
        "mssql/execute_procedure": write     # <provider>/<action_name>: read | write
    schedules: {daily: "0 2 * * *", weekly: "0 4 * * 0", retention: "30 1 * * *", timezone: UTC}

``systems:``, ``mapping:``, ``analysis:``, ``retention:`` and ``notifications:`` are documented in
docs/configuration.md (their models are in :mod:`archy_pipeline.settings.sections`). The
mapping, analysis and notify packages turn those validated sections into their own types and
check nothing again.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Mapping
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BeforeValidator, Field, PrivateAttr, model_validator

from archy_pipeline.settings.base import (
    Section,
    Strings,
    data_center_problem,
    env_name,
    glob_problem,
    http_url_problem,
    listed,
    non_blank,
    number,
    optional,
)
from archy_pipeline.settings.environments import (
    DEFAULT_ENVIRONMENTS,
    ENVIRONMENTS,
    environment_of,
)
from archy_pipeline.settings.errors import ConfigError, shown
from archy_pipeline.settings.sections import (
    AnalysisSettings,
    MappingSettings,
    NotificationSettings,
    RetentionSettings,
    Systems,
    catalogue_ids,
)
from archy_pipeline.workato.vocabulary import AccessOverrideError, parse_access_overrides

DEFAULT_WORKSPACE = "Main Workspace"
DEFAULT_TOKEN_ENV = "WORKATO_API_TOKEN"


# ---------------------------------------------------------------------- value checks


def _folder_rule(rule: Any) -> Any:
    if isinstance(rule, bool) or not isinstance(rule, (int, str)):
        raise ValueError(f"{shown(rule)} is neither a folder id nor a path glob")
    if isinstance(rule, int) or rule.isdigit():
        return int(rule)
    problem = glob_problem(rule)
    if problem:
        raise ValueError(f"{rule!r} is not a valid folder glob: it {problem}")
    return rule if rule.startswith("Home") else f"Home/{rule.lstrip('/')}"


#: Folder ids, or path globs made absolute ("Sales*" -> "Home/Sales*").
FolderRules = Annotated[
    tuple[Annotated[int | str, BeforeValidator(_folder_rule)], ...], BeforeValidator(listed)
]


def _connection_environment(value: Any) -> Any:
    if value not in ENVIRONMENTS:
        raise ValueError(f"{shown(value)} is not one of {', '.join(ENVIRONMENTS)}")
    return value


def _recipes(value: Any) -> Any:
    if value not in ("all", "running"):
        raise ValueError(f"must be 'all' or 'running', not {shown(value)}")
    return value


def valid_cron(expression: str) -> bool:
    """What Dagster accepts as a schedule: croniter reads it, five fields, no 30/31 February."""
    from croniter import croniter

    if len(expression.split()) != 5 or not croniter.is_valid(expression):
        return False
    fields = croniter.expand(expression)[0]
    return not (fields[3] == [2] and len(fields[2]) == 1 and fields[2][0] in (30, 31))


def _cron(value: Any) -> Any:
    if not isinstance(value, str) or len(value.split()) != 5:
        raise ValueError(
            "must be a cron string with five fields (minute hour day month weekday), "
            f"e.g. '0 2 * * *', not {shown(value)}"
        )
    if not valid_cron(value):
        raise ValueError(
            f"{value!r} is not a valid cron expression (minute 0-59, hour 0-23, day 1-31, "
            "month 1-12, weekday 0-6), e.g. '0 2 * * *'"
        )
    return value


def _time_zone(value: Any) -> Any:
    from zoneinfo import ZoneInfo

    try:
        ZoneInfo(value)
    except Exception:  # not a string, not a key, not a file: all mean the same to the user
        raise ValueError(
            f"{shown(value)} is not an IANA time zone such as 'UTC' or 'Europe/Berlin'"
        ) from None
    return value


def _data_center(value: Any) -> Any:
    problem = None if value is None else data_center_problem(value)
    if problem:
        raise ValueError(problem)
    return value


def _base_url(value: Any) -> Any:
    problem = None if value is None else http_url_problem(value)
    if problem:
        raise ValueError(problem)
    return value


# ---------------------------------------------------------------------- sync selection


class FolderSelection(Section):
    """Folders to sync: by id or path glob (``Home/Sales*``); a folder's sub-folders follow it."""

    include: FolderRules = ()
    exclude: FolderRules = ()

    @staticmethod
    def named_by(rule: int | str, folder_id: int | None, path: str) -> bool:
        """The folder itself is the one ``rule`` names (its sub-folders follow it)."""
        if isinstance(rule, int):
            return rule == folder_id
        return fnmatch.fnmatchcase(path, rule) or fnmatch.fnmatchcase(path, f"{rule}/*")

    def excludes(self, folder_id: int, path: str) -> bool:
        """The folder is excluded itself (its sub-folders then never get listed)."""
        return any(self.named_by(rule, folder_id, path) for rule in self.exclude)

    def includes(self, folder_id: int | None, path: str) -> bool:
        """The folder itself is named by an include rule (its sub-folders follow it)."""
        return not self.include or any(self.named_by(r, folder_id, path) for r in self.include)

    @property
    def active(self) -> bool:
        return bool(self.include or self.exclude)


class ConnectionSelection(Section):
    include_names: Strings = ()
    exclude_names: Strings = ()
    environments: Annotated[
        tuple[Annotated[str, BeforeValidator(_connection_environment)], ...],
        BeforeValidator(listed),
    ] = ()

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


class SyncSelection(Section):
    """What to sync from a workspace."""

    folders: FolderSelection = FolderSelection()
    recipes: Annotated[Literal["all", "running"], BeforeValidator(_recipes)] = "all"
    connections: ConnectionSelection = ConnectionSelection()
    max_vanished_share: Annotated[float, number(0, 1)] = 0.5
    #: Days a held deletion (items that vanished with their project or folder) waits before
    #: it is applied; None holds it until ``sync --accept-deletions``.
    held_deletions_grace_days: Annotated[
        float | None, optional(number(0, what="a number of days"))
    ] = None

    @property
    def running_only(self) -> bool:
        return self.recipes == "running"


# ---------------------------------------------------------------------- workspaces


class WorkspaceSettings(Section):
    """One Workato workspace: its name (the Dagster partition), host and token variable.

    Where requests go and which token they carry is decided by
    :func:`archy_pipeline.settings.workato.workato_target` (one precedence rule).
    """

    name: Annotated[str, non_blank("the workspace's name in archy-pipeline")]
    data_center: Annotated[str | None, BeforeValidator(_data_center)] = None
    base_url: Annotated[str | None, BeforeValidator(_base_url)] = None
    token_env: Annotated[str, env_name("token")] = DEFAULT_TOKEN_ENV
    user_email: str | None = None
    user_id: int | None = None
    sync: SyncSelection = SyncSelection()

    #: "archy.yaml: workspaces[0]" when the workspace is written in a file (set by the loader).
    _where: str | None = PrivateAttr(default=None)

    @property
    def where(self) -> str | None:
        """Where archy.yaml lists the workspace, for messages (None: not in a file)."""
        return self._where


class ScheduleSettings(Section):
    """When the daily (incremental) and weekly (full refresh) syncs run."""

    daily: Annotated[str, BeforeValidator(_cron)] = "0 2 * * *"
    weekly: Annotated[str, BeforeValidator(_cron)] = "0 4 * * 0"
    #: The retention job (``retention:`` says what it keeps): daily, before the daily sync.
    retention: Annotated[str, BeforeValidator(_cron)] = "30 1 * * *"
    timezone: Annotated[str, BeforeValidator(_time_zone)] = "UTC"


def _environment_name(value: Any) -> Any:
    if value not in DEFAULT_ENVIRONMENTS:
        raise ValueError(
            f"{shown(value)} is not an environment; use one of {', '.join(DEFAULT_ENVIRONMENTS)}"
        )
    return value


def _with_default_environments(value: dict[str, tuple[str, ...]]) -> dict[str, tuple[str, ...]]:
    return {**DEFAULT_ENVIRONMENTS, **value}


#: ``environments:``: the naming patterns given replace the defaults of those environments.
Environments = Annotated[
    dict[Annotated[str, BeforeValidator(_environment_name)], Strings],
    AfterValidator(_with_default_environments),
]


def _overrides_mapping(value: Any) -> Any:
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise ValueError('must be a mapping like {"mssql/run_custom_sql": read}')
    return dict(value)


def _override_key(key: Any) -> Any:
    provider, slash, action = str(key).strip().partition("/")
    if not isinstance(key, str) or not slash or not provider.strip() or not action.strip():
        raise ValueError(
            f"key {key!r} must be '<provider>/<action_name>' "
            "(e.g. 'mssql/run_custom_sql' or 'mssql/*')"
        )
    return key


def _override_access(value: Any) -> Any:
    if value not in ("read", "write"):
        raise ValueError(f"{shown(value)} is not 'read' or 'write'")
    return value


def _normalised_overrides(value: dict[str, str]) -> dict[str, str]:
    try:  # keys lower-cased, '_secondary' stripped: as the recipe parser looks them up
        return dict(parse_access_overrides(value))
    except AccessOverrideError as error:  # pragma: no cover - the checks above ran first
        raise ValueError(str(error)) from None


class AccessSettings(Section):
    """How steps read or write where the vocabulary cannot tell (docs/configuration.md)."""

    #: ``{"<provider>/<action>": "read"|"write"}``, keys lower-cased.
    overrides: Annotated[
        dict[
            Annotated[str, BeforeValidator(_override_key)],
            Annotated[str, BeforeValidator(_override_access)],
        ],
        BeforeValidator(_overrides_mapping),
        AfterValidator(_normalised_overrides),
    ] = {}


# ---------------------------------------------------------------------- the file


def _workspace_list(value: Any) -> Any:
    if not isinstance(value, list) or not value:
        raise ValueError(
            "must be a non-empty list of workspaces (name, data_center or base_url, token_env)"
        )
    return tuple(value)


def _unique_names(
    workspaces: tuple[WorkspaceSettings, ...],
) -> tuple[WorkspaceSettings, ...]:
    names = [w.name for w in workspaces]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise ValueError(f"workspace names must be unique: {', '.join(duplicates)}")
    return workspaces


def _with_sync(workspace: Any, default: Any) -> Any:
    """A workspace's ``sync:`` keys override the top-level block's, key by key."""
    if not isinstance(workspace, Mapping) or not isinstance(default, Mapping):
        return workspace
    own = workspace.get("sync")
    if own is None:
        return {**workspace, "sync": default}
    return {**workspace, "sync": {**default, **own}} if isinstance(own, Mapping) else workspace


class ArchySettings(Section):
    """archy.yaml, validated. Read it with :func:`archy_pipeline.settings.load_settings`."""

    # sync comes first: an error in it is reported there, not in the workspaces that copy it.
    sync: SyncSelection = SyncSelection()
    #: Without ``workspaces:``, one workspace named "Main Workspace" whose host and token come
    #: from the environment.
    workspaces: Annotated[
        tuple[WorkspaceSettings, ...],
        BeforeValidator(_workspace_list),
        AfterValidator(_unique_names),
    ] = (WorkspaceSettings(name=DEFAULT_WORKSPACE),)
    environments: Environments = Field(default_factory=lambda: dict(DEFAULT_ENVIRONMENTS))
    access: AccessSettings = AccessSettings()
    schedules: ScheduleSettings = ScheduleSettings()
    systems: Systems = ()
    mapping: MappingSettings = MappingSettings()
    analysis: AnalysisSettings = AnalysisSettings()
    retention: RetentionSettings = RetentionSettings()
    notifications: NotificationSettings | None = None

    _source: str = PrivateAttr(default="archy.yaml")
    _from_file: bool = PrivateAttr(default=False)

    def located(self, source: str, from_file: bool, listed: bool) -> ArchySettings:
        """Record where the settings were read from (the loader calls it), for messages;
        ``listed``: the file lists the workspaces (else the default one is the environment's)."""
        self._source, self._from_file = source, from_file
        for index, workspace in enumerate(self.workspaces):
            workspace._where = f"{source}: workspaces[{index}]" if listed else None
        return self

    @property
    def source(self) -> str:
        """The file read (or the one that would be), as messages name it."""
        return self._source

    @property
    def from_file(self) -> bool:
        """Whether a file was read (without one, everything is a default)."""
        return self._from_file

    @classmethod
    def _prepare(cls, data: dict[Any, Any]) -> dict[Any, Any]:
        # An empty section (``mapping:`` with nothing under it) is its defaults.
        data = {key: value for key, value in data.items() if value is not None}
        # A new default workspace each time: the loader records where each workspace is.
        workspaces = data.setdefault("workspaces", [{"name": DEFAULT_WORKSPACE}])
        if isinstance(workspaces, list) and "sync" in data:
            data["workspaces"] = [_with_sync(w, data["sync"]) for w in workspaces]
        return data

    @model_validator(mode="after")
    def _links_and_rules_name_known_systems(self) -> ArchySettings:
        targets = [(f"mapping.links[{i}]", x.system) for i, x in enumerate(self.mapping.links)]
        targets += [(f"mapping.rules[{i}]", x.system) for i, x in enumerate(self.mapping.rules)]
        named = [(label, system.strip()) for label, system in targets if system]
        if not named:
            return self
        known = catalogue_ids() | {s.id for s in self.systems}
        for label, system in named:
            if system not in known:
                raise ValueError(
                    f"{label}.system: {system!r} is not a known system id; use an id from "
                    f"systems: or the catalogue (e.g. {', '.join(sorted(known)[:12])}, ...)"
                )
        return self

    # ------------------------------------------------------------------ reading it

    def workspace(self, name: str) -> WorkspaceSettings:
        for workspace in self.workspaces:
            if workspace.name == name:
                return workspace
        known = ", ".join(repr(w.name) for w in self.workspaces)
        raise ConfigError(f"{self.source}: no workspace named {name!r}; it lists {known}")

    @property
    def names(self) -> list[str]:
        return [w.name for w in self.workspaces]

    def environment_of(self, name: str | None) -> str:
        return environment_of(name, self.environments)

    @property
    def access_overrides(self) -> dict[str, str]:
        """``access.overrides``: ``{"<provider>/<action>": "read"|"write"}``."""
        return dict(self.access.overrides)
