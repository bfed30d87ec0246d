"""The sections of archy.yaml that other packages turn into their own types.

``systems:`` and ``mapping:`` (:func:`archy_pipeline.mapping.parse_mapping_config`),
``analysis:`` (:func:`archy_pipeline.analysis.parse_thresholds`) and ``notifications:``
(:func:`archy_pipeline.notify.parse_notify_settings`) are validated here, with those packages'
rules and defaults, before any run; the packages get the validated models and check nothing
again. The shipped catalogue of systems (``archy_pipeline/data/systems.yaml``) is validated
with :data:`Systems` too.
"""

from __future__ import annotations

import re
from email.utils import parseaddr
from functools import lru_cache
from importlib import resources
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BeforeValidator, model_validator

from archy_pipeline.settings.base import (
    Section,
    Strings,
    as_list,
    count,
    env_name,
    glob_problem,
    listed,
    non_blank,
    number,
    optional,
)
from archy_pipeline.settings.errors import shown

# ---------------------------------------------------------------------- systems and mapping

_SLUG = re.compile(r"^[a-z0-9][a-z0-9._-]*$")


def _system_id(value: Any) -> Any:
    if not isinstance(value, str) or not _SLUG.match(value):
        raise ValueError(
            f"must be a slug of lowercase letters, digits, '.', '_' or '-', not {shown(value)}"
        )
    return value


class SystemRecord(Section):
    """One of the user's own systems (``systems:``); it wins over the catalogue's."""

    id: Annotated[str, BeforeValidator(_system_id)]
    name: Annotated[str, non_blank("the system's display name")]
    vendor: str | None = None
    category: str | None = None
    providers: Strings = ()
    aliases: Strings = ()
    tags: Strings = ()


def _unique_system_ids(systems: tuple[SystemRecord, ...]) -> tuple[SystemRecord, ...]:
    ids = [s.id for s in systems]
    duplicates = sorted({i for i in ids if ids.count(i) > 1})
    if duplicates:
        raise ValueError(f"system ids must be unique: {', '.join(duplicates)}")
    return systems


#: ``systems:``: a list of records with unique ids.
Systems = Annotated[
    tuple[SystemRecord, ...], BeforeValidator(as_list), AfterValidator(_unique_system_ids)
]


def _check_target(system: str | None, reject: bool) -> None:
    if reject and system is not None:
        raise ValueError("give either system or reject: true, not both")
    if not reject and (system is None or not system.strip()):
        raise ValueError(
            "system is required: a system id from systems: or the catalogue "
            "(or reject: true to never map the connection)"
        )


class MappingLink(Section):
    """``mapping.links[i]``: one connection (by id and/or name) pinned to a system or rejected."""

    workspace: str | None = None
    connection_id: int | None = None
    connection: Annotated[str | None, optional(non_blank("the connection's name"))] = None
    system: str | None = None
    reject: bool = False

    @model_validator(mode="after")
    def _names_a_connection_and_a_target(self) -> MappingLink:
        if self.connection_id is None and self.connection is None:
            raise ValueError(
                "needs connection_id or connection (the connection's name) to say which "
                "connection it links"
            )
        _check_target(self.system, self.reject)
        return self

    @property
    def key(self) -> tuple[Any, ...]:
        return (self.workspace, self.connection_id, (self.connection or "").casefold())


def _one_link_per_connection(links: tuple[MappingLink, ...]) -> tuple[MappingLink, ...]:
    seen: dict[tuple[Any, ...], int] = {}
    for index, link in enumerate(links):
        if link.key in seen:
            raise ValueError(
                f"links[{index}] names the same connection as links[{seen[link.key]}]; "
                "keep one link per connection"
            )
        seen[link.key] = index
    return links


def _regex(value: Any) -> Any:
    if value is None:
        return None
    if not isinstance(value, str):
        raise ValueError(f"must be a regular expression (a string), not {shown(value)}")
    try:
        re.compile(value)
    except re.error as error:
        raise ValueError(f"{value!r} is not a valid regular expression: {error}") from None
    return value


def _rule_folder(value: Any) -> Any:
    if isinstance(value, str):
        problem = glob_problem(value.strip().rstrip("/"))
        if problem:
            raise ValueError(f"{value!r} is not a valid folder glob: it {problem}")
    return value  # as written: the mapping module makes it absolute


class MappingRule(Section):
    """``mapping.rules[i]``: conditions on a connection and the system they point at."""

    name: Annotated[str | None, BeforeValidator(_regex)] = None
    application: Strings = ()
    folder: Annotated[
        tuple[Annotated[str, BeforeValidator(_rule_folder)], ...], BeforeValidator(listed)
    ] = ()
    tags: Strings = ()
    workspace: str | None = None
    system: str | None = None
    reject: bool = False

    @model_validator(mode="after")
    def _has_a_condition_and_a_target(self) -> MappingRule:
        if not (self.name or self.application or self.folder or self.tags):
            raise ValueError(
                "needs at least one condition: name (regex), application, folder or tags"
            )
        _check_target(self.system, self.reject)
        return self


DEFAULT_FUZZY_THRESHOLD = 85.0


class MappingSettings(Section):
    links: Annotated[
        tuple[MappingLink, ...], BeforeValidator(as_list), AfterValidator(_one_link_per_connection)
    ] = ()
    rules: Annotated[tuple[MappingRule, ...], BeforeValidator(as_list)] = ()
    #: 50-100; raise it for fewer fuzzy guesses.
    fuzzy_threshold: Annotated[float, number(50, 100)] = DEFAULT_FUZZY_THRESHOLD


@lru_cache(maxsize=1)
def catalogue_ids() -> frozenset[str]:
    """The system ids of the shipped catalogue (``archy_pipeline/data/systems.yaml``)."""
    import yaml

    text = resources.files("archy_pipeline.data").joinpath("systems.yaml").read_text("utf-8")
    data = yaml.safe_load(text) or {}
    return frozenset(str(s.get("id")) for s in data.get("systems") or () if isinstance(s, dict))


# ---------------------------------------------------------------------- analysis


class AnalysisSettings(Section):
    """Thresholds of the insight rules (``analysis:``; defaults in docs/analysis.md)."""

    inactive_days: Annotated[int, count()] = 30
    stopped_days: Annotated[int, count()] = 90
    failure_ratio: Annotated[float, number(0, 1)] = 0.2
    failure_min_jobs: Annotated[int, count()] = 20
    failure_high_ratio: Annotated[float, number(0, 1)] = 0.5
    coupling_top_n: Annotated[int, count(1)] = 10
    coupling_min_recipes: Annotated[int, count()] = 10
    coupling_high_share: Annotated[float, number(0, 1)] = 0.25
    bottleneck_min_dependents: Annotated[int, count()] = 10
    bottleneck_min_betweenness: Annotated[float, number(0, 1)] = 0.05
    complexity_percentile: Annotated[float, number(0, 100)] = 95.0
    complexity_min_score: Annotated[float, number(0)] = 60.0
    similarity_threshold: Annotated[float, number(0, 1)] = 0.9
    similarity_min_steps: Annotated[int, count(1)] = 5
    task_count_high: Annotated[int, count()] = 1_000_000
    rollup_min_recipes: Annotated[int, count()] = 5


# ---------------------------------------------------------------------- retention


class RetentionSettings(Section):
    """How many days of each kind of record the daily retention job keeps (``retention:``;
    defaults in docs/configuration.md). Open history rows are kept whatever their age."""

    #: Closed rows of the history tables, by when they were closed (``valid_to``).
    history_days: Annotated[int, count(1)] = 730
    #: ``archy.change_events``, by ``detected_at``.
    change_events_days: Annotated[int, count(1)] = 365
    #: Resolved rows of ``archy.insights``, by when a run last found them (``last_seen_at``).
    resolved_insights_days: Annotated[int, count(1)] = 180
    #: ``workato_raw.sync_issues``, by ``synced_at``.
    sync_issues_days: Annotated[int, count(1)] = 90
    #: Finished Dagster runs (their records and logs), by their last update.
    run_records_days: Annotated[int, count(1)] = 90


# ---------------------------------------------------------------------- notifications

TLS_MODES = ("none", "starttls", "ssl")
#: The SMTP port when neither archy.yaml nor ``ARCHY_SMTP_PORT`` gives one, by ``tls``.
DEFAULT_SMTP_PORTS = {"none": 25, "starttls": 587, "ssl": 465}
SMTP_HOST_ENV = "ARCHY_SMTP_HOST"


def _is_address(value: Any) -> bool:
    return (
        isinstance(value, str)
        and "@" in parseaddr(value)[1]
        and not any(c in value for c in "\r\n\0")
    )


def _sender(value: Any) -> Any:
    if not _is_address(value):
        raise ValueError("must be an email address such as archy@acme.example")
    return value


def _recipients(value: Any) -> Any:
    if not isinstance(value, list) or not value or not all(_is_address(r) for r in value):
        raise ValueError(
            "must be a non-empty list of email addresses, e.g. [architects@acme.example]"
        )
    return tuple(value)


def _tls(value: Any) -> Any:
    if value is False:  # YAML reads `tls: off` / `tls: no` / `tls: false` as false
        return "none"
    if value not in TLS_MODES:
        raise ValueError(f"must be one of {', '.join(TLS_MODES)}, not {shown(value)}")
    return value


def smtp_port_problem(value: Any) -> str | None:
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 65535:
        return f"must be a port number from 1 to 65535, not {shown(value)}"
    return None


def _port(value: Any) -> Any:
    problem = smtp_port_problem(value)
    if problem:
        raise ValueError(problem)
    return value


def smtp_host_problem(value: Any) -> str | None:
    if not isinstance(value, str) or not value.strip() or any(c.isspace() for c in value.strip()):
        return f"must be the SMTP server's host name (or set {SMTP_HOST_ENV})"
    return None


def _host(value: Any) -> Any:
    problem = None if value is None else smtp_host_problem(value)
    if problem:
        raise ValueError(problem)
    return value


def event_types() -> tuple[str, ...]:
    from archy_pipeline.notify.changes import EVENT_TYPES

    return EVENT_TYPES


def _event_types(value: Any) -> Any:
    if value is None:
        return None
    types = event_types()
    if not isinstance(value, list) or not all(isinstance(t, str) for t in value):
        raise ValueError(f"must be a list of event types from: {', '.join(types)}")
    unknown = [t for t in value if t not in types]
    if unknown:
        raise ValueError(
            f"{', '.join(map(repr, unknown))} not an event type; allowed: {', '.join(types)}"
        )
    return tuple(value)


class EmailSettings(Section):
    #: Or ``ARCHY_SMTP_HOST``, which wins when set.
    host: Annotated[str | None, BeforeValidator(_host)] = None
    #: Or ``ARCHY_SMTP_PORT``; default 25 / 587 / 465 by ``tls``.
    port: Annotated[int | None, BeforeValidator(_port)] = None
    tls: Annotated[Literal["none", "starttls", "ssl"], BeforeValidator(_tls)] = "starttls"
    username_env: Annotated[str, env_name("user name")] = "ARCHY_SMTP_USER"
    password_env: Annotated[str, env_name("password")] = "ARCHY_SMTP_PASSWORD"
    sender: Annotated[str, BeforeValidator(_sender)]
    recipients: Annotated[tuple[str, ...], BeforeValidator(_recipients)]


class WebhookSettings(Section):
    #: The URL is a secret (Slack puts its key in the path): archy.yaml names its variable.
    url_env: Annotated[str, env_name("URL")] = "ARCHY_WEBHOOK_URL"


class NotificationSettings(Section):
    email: EmailSettings | None = None
    webhook: WebhookSettings | None = None
    #: Event types a digest includes; default all.
    on: Annotated[tuple[str, ...] | None, BeforeValidator(_event_types)] = None

    @classmethod
    def _prepare(cls, data: dict[Any, Any]) -> dict[Any, Any]:
        if True in data:
            # YAML 1.1 (PyYAML) reads the key `on:` as the boolean true.
            if "on" in data:
                raise ValueError("'on' is given twice")
            data = {("on" if key is True else key): value for key, value in data.items()}
        return data
