"""The ``systems:`` and ``mapping:`` sections of archy.yaml (other sections belong to
:mod:`archy_pipeline.config`)::

    systems:                      # your own architecture records; they win over the catalogue
      - id: sfdc-sales            # slug: lowercase letters, digits, '.', '_' or '-'
        name: Salesforce CRM (Sales)          # required
        vendor: Salesforce
        category: CRM
        providers: [salesforce]   # Workato provider ids; catalogue systems sharing one of
                                  # them defer to this record when it is the only one
        aliases: [SFDC, Sales Cloud]          # win over catalogue aliases when they tie
        tags: [sales]
      # an id that is also a catalogue id replaces that catalogue entry
    mapping:
      links:                      # manual links: always win, survive re-syncs
        - {workspace: Main Workspace, connection_id: 5012, system: sfdc-sales}
        - {workspace: Main Workspace, connection: "NetSuite - Sandbox", system: netsuite}
        - {connection_id: 5099, reject: true}   # never map this connection
        # keys: workspace (optional: any workspace), connection_id and/or connection (exact
        # name, case-insensitive), and exactly one of system (an id) or reject: true;
        # a link by connection_id beats one by name
      rules:                      # then rules, in order; first match wins
        - {name: "(?i)^hr[-_ ]", system: workday}                  # regex on the name (search)
        - {application: jira, folder: "Home/IT*", system: jira-service-management}
        - {tags: [finance], application: rest, system: coupa}
        - {application: "*_connector_*", folder: "Home/Sandbox*", reject: true}
        # conditions (all given ones must hold, at least one): name (regex), application
        # (provider globs, '_secondary' stripped), folder (path globs; a folder's sub-folders
        # follow it; "IT*" means "Home/IT*"), tags (all must be on the connection),
        # workspace; then exactly one of system or reject: true
      fuzzy_threshold: 85         # 50-100; raise it for fewer fuzzy guesses

Errors raise :class:`archy_pipeline.config.ConfigError` naming the key and what it allows.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Literal

from archy_pipeline.config import ConfigError
from archy_pipeline.mapping.model import (
    DEFAULT_FUZZY_THRESHOLD,
    ManualLink,
    MappingConfig,
    MappingRule,
    System,
    merge_systems,
    normalise_provider,
)

_SLUG = re.compile(r"^[a-z0-9][a-z0-9._-]*$")


def parse_mapping_config(
    data: Mapping[str, Any] | None,
    source: str = "archy.yaml",
    catalogue: Iterable[System] | None = None,
) -> MappingConfig:
    """Validate the ``systems:`` and ``mapping:`` sections of a decoded ``archy.yaml``.

    Other top-level keys are left to :func:`archy_pipeline.config.parse_config`. With
    ``catalogue``, the system ids that links and rules name are checked too (otherwise
    :func:`map_connections` checks them).
    """
    if data is None:
        return MappingConfig(source=source)
    if not isinstance(data, Mapping):
        raise ConfigError(f"{source} must be a mapping (key: value)")
    raw_systems = data.get("systems")
    systems: list[System] = []
    if raw_systems is not None:
        if not isinstance(raw_systems, list):
            raise ConfigError(f"{source}: systems must be a list of systems (id, name, ...)")
        systems = [
            _system(item, f"{source}: systems[{i}]", "user") for i, item in enumerate(raw_systems)
        ]
        _unique_ids(systems, f"{source}: systems")
    mapping = _mapping(data.get("mapping") or {}, f"{source}: mapping", _MAPPING_KEYS)
    links = tuple(
        _link(item, i, f"{source}: mapping.links[{i}]")
        for i, item in enumerate(_list(mapping.get("links"), f"{source}: mapping.links"))
    )
    _unique_links(links, source)
    rules = tuple(
        _rule(item, i, f"{source}: mapping.rules[{i}]")
        for i, item in enumerate(_list(mapping.get("rules"), f"{source}: mapping.rules"))
    )
    threshold = mapping.get("fuzzy_threshold", DEFAULT_FUZZY_THRESHOLD)
    if isinstance(threshold, bool) or not isinstance(threshold, (int, float)):
        raise ConfigError(f"{source}: mapping.fuzzy_threshold must be a number from 50 to 100")
    if not 50 <= threshold <= 100:
        raise ConfigError(f"{source}: mapping.fuzzy_threshold must be from 50 to 100")
    config = MappingConfig(tuple(systems), links, rules, float(threshold), source)
    if catalogue is not None:
        _check_references(config, merge_systems(catalogue, config.systems))
    return config


_SYSTEM_KEYS = {"id", "name", "vendor", "category", "providers", "aliases", "tags"}
_MAPPING_KEYS = {"links", "rules", "fuzzy_threshold"}
_LINK_KEYS = {"workspace", "connection_id", "connection", "system", "reject"}
_RULE_KEYS = {"name", "application", "folder", "tags", "workspace", "system", "reject"}


def _system(item: Any, where: str, source: Literal["catalogue", "user"]) -> System:
    data = _mapping(item, where, _SYSTEM_KEYS)
    system_id = data.get("id")
    if not isinstance(system_id, str) or not _SLUG.match(system_id):
        raise ConfigError(
            f"{where}.id is required: a slug of lowercase letters, digits, '.', '_' or '-' "
            f"(got {system_id!r})"
        )
    name = data.get("name")
    if not isinstance(name, str) or not name.strip():
        raise ConfigError(f"{where}.name is required (the system's display name)")
    providers = tuple(
        p
        for p in (
            normalise_provider(x) for x in _strings(data.get("providers"), where, "providers")
        )
        if p
    )
    return System(
        id=system_id,
        name=name.strip(),
        vendor=_text(data.get("vendor"), f"{where}.vendor"),
        category=_text(data.get("category"), f"{where}.category"),
        providers=tuple(dict.fromkeys(providers)),
        aliases=tuple(
            a.strip() for a in _strings(data.get("aliases"), where, "aliases") if a.strip()
        ),
        tags=tuple(t.strip() for t in _strings(data.get("tags"), where, "tags") if t.strip()),
        source=source,
    )


def _link(item: Any, index: int, where: str) -> ManualLink:
    data = _mapping(item, where, _LINK_KEYS)
    connection_id = data.get("connection_id")
    if connection_id is not None and (
        isinstance(connection_id, bool) or not isinstance(connection_id, int)
    ):
        raise ConfigError(f"{where}.connection_id must be an integer (the connection's id)")
    connection = data.get("connection")
    if connection is not None and (not isinstance(connection, str) or not connection.strip()):
        raise ConfigError(f"{where}.connection must be the connection's name (a string)")
    if connection_id is None and connection is None:
        raise ConfigError(
            f"{where} needs connection_id or connection (the connection's name) to say which "
            "connection it links"
        )
    workspace = data.get("workspace")
    if workspace is not None and not isinstance(workspace, str):
        raise ConfigError(f"{where}.workspace must be a workspace name (a string)")
    system, reject = _target(data, where)
    return ManualLink(
        index, workspace, connection_id, connection.strip() if connection else None, system, reject
    )


def _rule(item: Any, index: int, where: str) -> MappingRule:
    data = _mapping(item, where, _RULE_KEYS)
    if not any(data.get(k) for k in ("name", "application", "folder", "tags")):
        raise ConfigError(
            f"{where} needs at least one condition: name (regex), application, folder or tags"
        )
    pattern = None
    name = data.get("name")
    if name is not None:
        if not isinstance(name, str):
            raise ConfigError(f"{where}.name must be a regular expression (a string)")
        try:
            pattern = re.compile(name)
        except re.error as error:
            raise ConfigError(
                f"{where}.name: invalid regular expression {name!r}: {error}"
            ) from None
    folders = []
    for glob in _strings(data.get("folder"), where, "folder"):
        glob = glob.strip().rstrip("/")
        folders.append(glob if glob.startswith("Home") else f"Home/{glob.lstrip('/')}")
    workspace = data.get("workspace")
    if workspace is not None and not isinstance(workspace, str):
        raise ConfigError(f"{where}.workspace must be a workspace name (a string)")
    system, reject = _target(data, where)
    return MappingRule(
        index=index,
        system=system,
        reject=reject,
        name=name,
        application=tuple(
            g
            for g in (
                normalise_provider(x)
                for x in _strings(data.get("application"), where, "application")
            )
            if g
        ),
        folder=tuple(folders),
        tags=tuple(t.lower() for t in _strings(data.get("tags"), where, "tags")),
        workspace=workspace,
        pattern=pattern,
    )


def _target(data: Mapping[str, Any], where: str) -> tuple[str | None, bool]:
    system, reject = data.get("system"), data.get("reject", False)
    if not isinstance(reject, bool):
        raise ConfigError(f"{where}.reject must be true or false")
    if reject and system is not None:
        raise ConfigError(f"{where}: give either system or reject: true, not both")
    if not reject and (not isinstance(system, str) or not system.strip()):
        raise ConfigError(
            f"{where}.system is required: a system id from systems: or the catalogue "
            "(or reject: true to never map the connection)"
        )
    return (system.strip() if isinstance(system, str) else None), reject


def _unique_ids(systems: Sequence[System], where: str) -> None:
    ids = [s.id for s in systems]
    duplicates = sorted({i for i in ids if ids.count(i) > 1})
    if duplicates:
        raise ConfigError(f"{where}: system ids must be unique: {', '.join(duplicates)}")


def _unique_links(links: Sequence[ManualLink], source: str) -> None:
    seen: dict[tuple[Any, ...], ManualLink] = {}
    for link in links:
        key = (link.workspace, link.connection_id, (link.connection or "").casefold())
        if key in seen:
            raise ConfigError(
                f"{source}: {link.label} names the same connection as {seen[key].label}; "
                "keep one link per connection"
            )
        seen[key] = link


def _check_references(config: MappingConfig, systems: Mapping[str, System]) -> None:
    for item in (*config.links, *config.rules):
        if item.system is not None and item.system not in systems:
            label = item.label
            known = ", ".join(sorted(systems)[:12])
            raise ConfigError(
                f"{config.source}: {label}.system {item.system!r} is not a known system id; "
                f"use an id from systems: or the catalogue (e.g. {known}, ...)"
            )


def _mapping(item: Any, where: str, allowed: set[str]) -> Mapping[str, Any]:
    if not isinstance(item, Mapping):
        raise ConfigError(f"{where} must be a mapping (key: value)")
    unknown = sorted(set(map(str, item)) - allowed)
    if unknown:
        raise ConfigError(
            f"{where}: unknown key(s) {', '.join(unknown)}; allowed: {', '.join(sorted(allowed))}"
        )
    return item


def _list(item: Any, where: str) -> list[Any]:
    if item is None:
        return []
    if not isinstance(item, list):
        raise ConfigError(f"{where} must be a list")
    return item


def _strings(item: Any, where: str, key: str) -> list[str]:
    if item is None:
        return []
    if isinstance(item, str):
        return [item]
    if not isinstance(item, list) or not all(isinstance(x, str) for x in item):
        raise ConfigError(f"{where}.{key} must be a string or a list of strings")
    return item


def _text(item: Any, where: str) -> str:
    if item is None:
        return ""
    if not isinstance(item, str):
        raise ConfigError(f"{where} must be a string")
    return item.strip()
