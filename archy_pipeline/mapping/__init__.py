"""Which system does each Workato connection reach? Connection -> system mapping.

A Workato connection says little about the system behind it: a provider id (``salesforce``,
``mssql``, ``rest``, ``coupa_connector_812_1699``) and a name people typed ("ACME Production
Salesforce", "HTTP - Coupa API", "[HR] Workday PROD"). ``map_connections`` turns each
connection into exactly one :class:`SystemMapping` row, using a catalogue of well-known systems
(``archy_pipeline/data/systems.yaml``, :func:`load_catalogue`) plus the user's own records and
overrides from ``archy.yaml``. Connections nothing matches are listed with status ``none``:
they are never hidden.

Evidence, strongest first (the first that decides wins; agreeing evidence raises confidence):

1. manual links (``mapping.links``): always win, ``matched`` 1.0 (a ``reject`` link gives
   ``none`` with method ``manual`` and confidence 1.0: certainly no system). They name
   connections by id or name, so they survive re-syncs.
2. rules (``mapping.rules``), in order, first match wins: ``matched`` 0.95 (``reject``:
   ``none``, method ``rule``, 0.95).
3. provider: the connection's application (``_secondary`` stripped) is listed in a system's
   ``providers``: ``matched`` 0.9, 0.97 when the name also mentions it. Several systems sharing
   a provider: the one the name mentions, else your own system, else the catalogue's primary
   (the first listed). Provider and name naming different systems: ``partial`` 0.5, the reason
   says they disagree. Generic transports (``rest``, ``soap``, ``jdbc``, ``odbc``, ``sftp``, ...)
   name no system; a custom connector (``<slug>_connector_<n>_<n>``) whose slug names one, or
   one of your systems listing a generic provider, is ``partial`` 0.6 unless the name agrees.
   Workato platform connectors (``clock``, ``logger``, ``lookup_table``, ``workato_*``, ...)
   are never systems.
4. alias: the connection name contains a system's name or alias as whole words,
   case-insensitively ("sfdc_ops_prd", "SalesforceSandbox", "SQL Server"): ``matched`` 0.85
   when the alias is distinctive; ``partial`` 0.5-0.6 when it is short, a common word
   ("Box", "Teams") or claimed by several systems ("SF").
5. fuzzy: a rapidfuzz match of the name's words against system names and aliases at or above
   ``fuzzy_threshold`` (default 85 of 100) gives ``partial`` 0.5-0.8 ("Netsuit" ~ "NetSuite").
6. nothing: ``none`` 0.0.

``archy.yaml`` sections read here (other sections belong to ``archy_pipeline.config``)::

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

No Dagster import: pure functions over plain data.
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources
from typing import Any, Literal

import yaml
from rapidfuzz import fuzz, process

from archy_pipeline.config import DEFAULT_ENVIRONMENTS, ConfigError, environment_of
from archy_pipeline.workato.vocabulary import (
    GENERIC_PROVIDERS,
    PLATFORM_PROVIDERS,
    custom_connector_slug,
    is_platform_provider,
)
from archy_pipeline.workato.vocabulary import normalise_provider as _strip_secondary

__all__ = [
    "BUILTIN_PROVIDERS",
    "DEFAULT_ENVIRONMENTS",
    "DEFAULT_FUZZY_THRESHOLD",
    "GENERIC_PROVIDERS",
    "ConnectionInfo",
    "ManualLink",
    "MappingConfig",
    "MappingRule",
    "System",
    "SystemMapping",
    "custom_connector_slug",
    "is_builtin_provider",
    "load_catalogue",
    "map_connections",
    "merge_systems",
    "normalise_provider",
    "parse_mapping_config",
]

MatchStatus = Literal["matched", "partial", "none"]
MatchMethod = Literal["manual", "rule", "provider", "alias", "fuzzy"]

DEFAULT_FUZZY_THRESHOLD = 85.0

#: Provider knowledge lives in the Workato vocabulary; the names stay importable from here.
BUILTIN_PROVIDERS: frozenset[str] = PLATFORM_PROVIDERS

#: Aliases that are ordinary words: in a connection name they suggest, never decide.
_COMMON_WORDS = frozenset(
    "adaptive bamboo bill bob box calendar chatter deputy drive duo dynamics dynamo elastic "
    "exchange falcon front fusion helix heat lambda lattice lever lex mail monday notion ping "
    "ramp sage segment sheet sheets spark square sumo teams vault workplace".split()
)

#: Words in connection names that never name a system (fuzzy matching skips them).
_NOISE_WORDS = frozenset(
    "acme api apis app apps com con conn connection connector connectors copy data dept "
    "engineering finance from hr http https instance int integration integrations it legacy "
    "legal marketing new old ops operations procurement revops sales security service "
    "services support svc sync system team test user users webhook webhooks".split()
)

#: A vendor with this many systems in the catalogue: its bare name names none of them.
_VENDOR_SYSTEMS_AMBIGUOUS = 3

#: Category of platform-wide systems (AWS, Azure, GCP) that yield to a service of theirs.
_UMBRELLA = "Cloud"

_SLUG = re.compile(r"^[a-z0-9][a-z0-9._-]*$")
_WORD = re.compile(r"[^\W_]+")  # letters and digits, underscore separates words
_CAMEL = re.compile(r"(?<=[a-z])(?=[A-Z])")
_TRAILING_DIGITS = re.compile(r"([a-z]{3,})\d+")


# ---------------------------------------------------------------------- data types


@dataclass(frozen=True)
class System:
    """A system connections reach: from the shipped catalogue or the user's ``systems:``."""

    id: str
    name: str
    vendor: str
    category: str
    providers: tuple[str, ...] = ()
    aliases: tuple[str, ...] = ()
    tags: tuple[str, ...] = ()
    source: Literal["catalogue", "user"] = "catalogue"


@dataclass(frozen=True)
class ConnectionInfo:
    """What mapping needs to know about one Workato connection."""

    workspace: str
    connection_id: int
    name: str
    application: str | None
    folder_path: str | None = None
    tags: tuple[str, ...] = ()


@dataclass(frozen=True)
class SystemMapping:
    """One row per connection: the system it reaches (if any), how sure, and why."""

    workspace: str
    connection_id: int
    connection_name: str
    application: str | None
    system_id: str | None
    system_name: str | None
    match_status: MatchStatus
    confidence: float
    method: MatchMethod | None
    reason: str
    environment: str


@dataclass(frozen=True)
class ManualLink:
    """``mapping.links[i]``: one connection (by id and/or name) pinned to a system or rejected."""

    index: int
    workspace: str | None = None
    connection_id: int | None = None
    connection: str | None = None
    system: str | None = None
    reject: bool = False

    @property
    def label(self) -> str:
        return f"mapping.links[{self.index}]"


@dataclass(frozen=True)
class MappingRule:
    """``mapping.rules[i]``: conditions on a connection and the system they point at."""

    index: int
    system: str | None = None
    reject: bool = False
    name: str | None = None
    application: tuple[str, ...] = ()
    folder: tuple[str, ...] = ()
    tags: tuple[str, ...] = ()
    workspace: str | None = None
    pattern: re.Pattern[str] | None = field(default=None, compare=False, repr=False)

    @property
    def number(self) -> int:
        """1-based, as people count rules."""
        return self.index + 1

    @property
    def label(self) -> str:
        return f"mapping.rules[{self.index}]"

    def matches(self, conn: ConnectionInfo, provider: str | None) -> str | None:
        """A description of why the rule matches ``conn``, or None when it does not."""
        said: list[str] = []
        if self.workspace is not None:
            if conn.workspace != self.workspace:
                return None
            said.append(f"workspace is {self.workspace!r}")
        if self.pattern is not None:
            if not self.pattern.search(conn.name or ""):
                return None
            said.append(f"name matches /{self.name}/")
        if self.application:
            raw = (conn.application or "").lower()
            hit = next(
                (
                    g
                    for g in self.application
                    if fnmatch.fnmatchcase(provider or "", g) or fnmatch.fnmatchcase(raw, g)
                ),
                None,
            )
            if hit is None:
                return None
            said.append(f"application is {raw!r}" if hit == raw else f"application matches {hit!r}")
        if self.folder:
            path = conn.folder_path or ""
            hit = next(
                (
                    g
                    for g in self.folder
                    if path
                    and (fnmatch.fnmatchcase(path, g) or fnmatch.fnmatchcase(path, f"{g}/*"))
                ),
                None,
            )
            if hit is None:
                return None
            said.append(f"folder matches {hit!r}")
        if self.tags:
            have = {t.lower() for t in conn.tags}
            if not all(t in have for t in self.tags):
                return None
            said.append(f"tags include {', '.join(self.tags)}")
        return ", ".join(said)


@dataclass(frozen=True)
class MappingConfig:
    """The ``systems:`` and ``mapping:`` sections of ``archy.yaml``."""

    systems: tuple[System, ...] = ()
    links: tuple[ManualLink, ...] = ()
    rules: tuple[MappingRule, ...] = ()
    fuzzy_threshold: float = DEFAULT_FUZZY_THRESHOLD
    source: str = "archy.yaml"


# ---------------------------------------------------------------------- catalogue


def load_catalogue() -> list[System]:
    """The shipped catalogue (``archy_pipeline/data/systems.yaml``), in file order."""
    return list(_catalogue())


@lru_cache(maxsize=1)
def _catalogue() -> tuple[System, ...]:
    text = resources.files("archy_pipeline.data").joinpath("systems.yaml").read_text("utf-8")
    data = yaml.safe_load(text) or {}
    where = "archy_pipeline/data/systems.yaml"
    items = data.get("systems") if isinstance(data, dict) else None
    if not isinstance(items, list):
        raise ConfigError(f"{where}: systems must be a list")
    systems = [_system(item, f"{where}: systems[{i}]", "catalogue") for i, item in enumerate(items)]
    _unique_ids(systems, f"{where}: systems")
    return tuple(systems)


def normalise_provider(application: str | None) -> str | None:
    """Lower-case provider id without the ``_secondary`` suffix (None when empty)."""
    if not application:
        return None
    return _strip_secondary(application.strip().lower()) or None


def is_builtin_provider(provider: str | None) -> bool:
    """A Workato platform connector (never a system)."""
    return is_platform_provider(provider)


# ---------------------------------------------------------------------- config parsing


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


# ---------------------------------------------------------------------- name evidence


@dataclass(frozen=True)
class _Alias:
    text: str  # as written in the catalogue or archy.yaml
    key: tuple[str, ...]  # its words, lower-case
    claimants: tuple[str, ...]  # system ids (after user systems took over ties)
    weak: bool  # short, a common word or claimed by several systems


@dataclass(frozen=True)
class _Hit:
    alias: _Alias
    start: int
    end: int
    found: str  # the words as they appear in the connection name

    @property
    def length(self) -> int:
        return self.end - self.start


def _words(text: str) -> list[tuple[str, int, int]]:
    return [(m.group().lower(), m.start(), m.end()) for m in _WORD.finditer(text)]


def _word_variants(text: str) -> list[list[tuple[str, int, int]]]:
    """The name's words several ways: as typed, camelCase split, trailing digits dropped."""
    plain = _words(text)
    camel: list[tuple[str, int, int]] = []
    for m in _WORD.finditer(text):
        word, offset, last = m.group(), m.start(), 0
        for cut in [c.start() for c in _CAMEL.finditer(word)] + [len(word)]:
            camel.append((word[last:cut].lower(), offset + last, offset + cut))
            last = cut
    variants = [plain] if camel == plain else [plain, camel]
    for variant in list(variants):
        stripped = [
            ((m.group(1) if (m := _TRAILING_DIGITS.fullmatch(w)) else w), s, e)
            for w, s, e in variant
        ]
        if stripped != variant:
            variants.append(stripped)
    return variants


def _alias_forms(system: System) -> list[str]:
    forms = [system.name]
    bare = re.sub(r"\s*\([^)]*\)", "", system.name).strip()
    if bare and bare != system.name:
        forms.append(bare)
    forms.extend(system.aliases)
    return forms


def _is_weak_form(key: tuple[str, ...]) -> bool:
    compact = "".join(key)
    return (len(compact) <= 2 and compact.isalpha()) or (len(key) == 1 and compact in _COMMON_WORDS)


class _Matcher:
    """Indexes of one catalogue + user systems: providers, aliases and fuzzy choices."""

    def __init__(self, systems: Mapping[str, System], threshold: float) -> None:
        self.systems = systems
        self.threshold = threshold
        ordered = sorted(systems.values(), key=lambda s: s.source != "user")  # stable
        self.by_provider: dict[str, list[System]] = {}
        for system in ordered:
            for provider in system.providers:
                self.by_provider.setdefault(provider, []).append(system)
        # A catalogue system defers to the only user system sharing a specific provider.
        self.redirect: dict[str, str] = {}
        for system in systems.values():
            if system.source != "catalogue":
                continue
            owners = {
                s.id
                for p in system.providers
                if p not in GENERIC_PROVIDERS
                for s in self.by_provider.get(p, [])
                if s.source == "user"
            }
            if len(owners) == 1:
                self.redirect[system.id] = owners.pop()
        claims: dict[tuple[str, ...], list[tuple[str, str]]] = {}
        for system in ordered:
            for form in _alias_forms(system):
                key = tuple(w for w, _, _ in _words(form))
                if key and all(system.id != sid for sid, _ in claims.get(key, [])):
                    claims.setdefault(key, []).append((system.id, form))
        # A bare vendor name ("Oracle", "SAP") is ambiguous when the vendor makes several
        # systems, unless it is the system's own name ("Salesforce").
        vendors: dict[tuple[str, ...], int] = {}
        for system in systems.values():
            vendor_key = tuple(w for w, _, _ in _words(system.vendor))
            vendors[vendor_key] = vendors.get(vendor_key, 0) + 1
        self.by_key: dict[tuple[str, ...], _Alias] = {}
        self.by_compact: dict[str, list[_Alias]] = {}
        for key, claimed in claims.items():
            user = [c for c in claimed if systems[c[0]].source == "user"]
            claimed = user or claimed
            ids = tuple(dict.fromkeys(self.redirect.get(sid, sid) for sid, _ in claimed))
            owner = systems[claimed[0][0]]  # before any redirect to a user system
            vendor_only = (
                key == tuple(w for w, _, _ in _words(owner.vendor))
                and key != tuple(w for w, _, _ in _words(owner.name))
                and vendors.get(key, 0) >= _VENDOR_SYSTEMS_AMBIGUOUS
            )
            weak = _is_weak_form(key) or len(ids) > 1 or vendor_only
            alias = _Alias(claimed[0][1], key, ids, weak)
            self.by_key[key] = alias
            self.by_compact.setdefault("".join(key), []).append(alias)
        self.max_words = max((len(k) for k in self.by_key), default=1) + 1
        # Fuzzy choices by word count: a run of k words is compared with aliases of at most
        # k words, so "Microsoft" never half-matches "Microsoft AD".
        self.fuzzy_choices: dict[str, _Alias] = {}
        self.fuzzy_keys: dict[int, list[str]] = {}
        for alias in self.by_key.values():
            compact = "".join(alias.key)
            if not alias.weak and len(compact) >= 5 and compact.isalpha():
                if compact not in self.fuzzy_choices:
                    self.fuzzy_choices[compact] = alias
                    for k in range(len(alias.key), 4):
                        self.fuzzy_keys.setdefault(k, []).append(compact)

    # -- aliases in a text ---------------------------------------------------------
    def hits(self, text: str) -> list[_Hit]:
        """Aliases found as whole words in ``text``; longer finds shadow overlapping ones."""
        found: dict[tuple[tuple[str, ...], int, int], _Hit] = {}
        for words in _word_variants(text):
            for i in range(len(words)):
                for j in range(i + 1, min(len(words), i + self.max_words) + 1):
                    gram = tuple(w for w, _, _ in words[i:j])
                    compact = "".join(gram)
                    aliases: list[_Alias] = []
                    if len(gram) == 1:
                        aliases = self.by_compact.get(compact, [])
                    else:
                        if gram in self.by_key:
                            aliases = [self.by_key[gram]]
                        if len(compact) >= 5:
                            aliases = aliases + [
                                a for a in self.by_compact.get(compact, []) if a.key != gram
                            ]
                    start, end = words[i][1], words[j - 1][2]
                    shown = text[start:end]
                    if any(c in shown for c in "()[]{}|<>"):
                        shown = " ".join(text[s:e] for _, s, e in words[i:j])
                    for alias in aliases:
                        found.setdefault((alias.key, start, end), _Hit(alias, start, end, shown))
        kept: list[_Hit] = []
        spans: list[tuple[int, int]] = []
        for hit in sorted(found.values(), key=lambda h: (-h.length, h.start)):
            span = (hit.start, hit.end)
            if span in spans or not any(s < hit.end and hit.start < e for s, e in spans):
                kept.append(hit)
                if span not in spans:
                    spans.append(span)
        return sorted(kept, key=lambda h: (h.start, -h.length))

    def fuzzy(
        self, text: str, environments: Mapping[str, Iterable[str]]
    ) -> tuple[str, _Alias, float] | None:
        """The best fuzzy match of a run of the name's words against names and aliases."""
        if not self.fuzzy_keys:
            return None
        markers = {m.lower() for ms in environments.values() for m in ms}
        words = [
            (w, s, e)
            for w, s, e in _words(text)
            if w not in _NOISE_WORDS and w not in markers and not w.isdigit()
        ]
        best: tuple[str, _Alias, float] | None = None
        for i in range(len(words)):
            for j in range(i + 1, min(len(words), i + 3) + 1):
                run = words[i:j]
                if any(run[k + 1][1] - run[k][2] > 3 for k in range(len(run) - 1)):
                    break  # words far apart in the name are not one phrase
                query = "".join(w for w, _, _ in run)
                if len(query) < 5 or not query.isalpha():
                    continue
                choices = self.fuzzy_keys.get(len(run), [])
                result = process.extractOne(
                    query, choices, scorer=fuzz.ratio, score_cutoff=self.threshold
                )
                if result and (best is None or result[1] > best[2]):
                    best = (text[run[0][1] : run[-1][2]], self.fuzzy_choices[result[0]], result[1])
        return best


# ---------------------------------------------------------------------- mapping


@dataclass(frozen=True)
class _Decision:
    system: System | None
    status: MatchStatus
    confidence: float
    method: MatchMethod | None
    reason: str


def merge_systems(catalogue: Iterable[System], user: Iterable[System]) -> dict[str, System]:
    """Every known system by id: the catalogue, with the user's own systems added or replacing
    catalogue entries of the same id."""
    systems = {s.id: s for s in catalogue}
    for system in user:  # a user id equal to a catalogue id replaces that entry
        systems.pop(system.id, None)
    systems.update({s.id: s for s in user})
    return systems


def map_connections(
    connections: Iterable[ConnectionInfo],
    catalogue: Iterable[System] | None = None,
    config: MappingConfig | None = None,
    environments: Mapping[str, Iterable[str]] = DEFAULT_ENVIRONMENTS,
) -> list[SystemMapping]:
    """One :class:`SystemMapping` per connection, in input order; unmatched ones included.

    ``catalogue`` defaults to :func:`load_catalogue`; ``config`` to no user systems, links or
    rules. Links or rules naming an unknown system id raise ConfigError.
    """
    config = config or MappingConfig()
    systems = merge_systems(load_catalogue() if catalogue is None else catalogue, config.systems)
    _check_references(config, systems)
    matcher = _Matcher(systems, config.fuzzy_threshold)
    by_id: dict[int, list[ManualLink]] = {}
    by_name: dict[str, list[ManualLink]] = {}
    for link in config.links:
        if link.connection_id is not None:
            by_id.setdefault(link.connection_id, []).append(link)
        else:
            by_name.setdefault((link.connection or "").casefold(), []).append(link)
    rows = []
    for conn in connections:
        if isinstance(conn, Mapping):
            conn = ConnectionInfo(**conn)
        name = conn.name or ""
        candidates = by_id.get(conn.connection_id, []) + by_name.get(name.strip().casefold(), [])
        link = next(
            (
                k
                for k in candidates
                if (k.workspace is None or k.workspace == conn.workspace)
                and (k.connection is None or k.connection.casefold() == name.strip().casefold())
            ),
            None,
        )
        decision = (
            _from_link(link, systems, config.source)
            if link
            else _decide(conn, matcher, config, environments)
        )
        system = decision.system
        rows.append(
            SystemMapping(
                workspace=conn.workspace,
                connection_id=conn.connection_id,
                connection_name=name,
                application=conn.application,
                system_id=system.id if system else None,
                system_name=system.name if system else None,
                match_status=decision.status,
                confidence=round(decision.confidence, 2),
                method=decision.method,
                reason=decision.reason,
                environment=environment_of(name, environments),
            )
        )
    return rows


def _from_link(link: ManualLink, systems: Mapping[str, System], source: str) -> _Decision:
    if link.reject:
        return _Decision(
            None, "none", 1.0, "manual", f"rejected by manual link in {source} ({link.label})"
        )
    return _Decision(
        systems[link.system or ""],
        "matched",
        1.0,
        "manual",
        f"manual link in {source} ({link.label})",
    )


def _decide(
    conn: ConnectionInfo,
    matcher: _Matcher,
    config: MappingConfig,
    environments: Mapping[str, Iterable[str]],
) -> _Decision:
    provider = normalise_provider(conn.application)
    for rule in config.rules:
        why = rule.matches(conn, provider)
        if why is None:
            continue
        if rule.reject:
            return _Decision(
                None, "none", 0.95, "rule", f"rule {rule.number} ({rule.label}) rejects it: {why}"
            )
        return _Decision(
            matcher.systems[rule.system or ""],
            "matched",
            0.95,
            "rule",
            f"rule {rule.number} ({rule.label}): {why}",
        )
    if provider and is_builtin_provider(provider):
        return _Decision(
            None,
            "none",
            0.0,
            None,
            f"provider '{provider}' is a Workato platform connector, not a system",
        )
    hits = matcher.hits(conn.name or "")
    note = ""
    if provider:
        shown = provider if provider == (conn.application or "").lower() else conn.application
        slug = custom_connector_slug(provider)
        if provider in GENERIC_PROVIDERS or slug:
            decision = _generic_provider(provider, shown or provider, slug, hits, matcher)
            if decision:
                return decision
            note = (
                f"custom connector '{shown}' names no known system"
                if slug
                else f"provider '{shown}' is generic"
            )
        elif provider in matcher.by_provider:
            return _specific_provider(
                shown or provider, matcher.by_provider[provider], hits, 0.9, matcher
            )
        else:
            named = _provider_names(provider, matcher)
            if named:
                return _specific_provider(
                    shown or provider, [named], hits, 0.85, matcher, unknown=True
                )
            note = f"provider '{shown}' is not in the catalogue"
    decision = _alias_decision(hits, matcher, note)
    if decision:
        return decision
    found = matcher.fuzzy(conn.name or "", environments)
    if found:
        fragment, alias, score = found
        system = matcher.systems[alias.claimants[0]]
        span = 100 - matcher.threshold or 1
        confidence = min(0.8, 0.5 + 0.3 * (score - matcher.threshold) / span)
        reason = (
            f"fuzzy name match '{fragment}' ~ '{alias.text}' "
            f"({system.name}, score {score / 100:.2f})"
        )
        return _Decision(system, "partial", confidence, "fuzzy", _join(reason, note))
    return _Decision(
        None, "none", 0.0, None, _join("no rule, provider, alias or name matched", note)
    )


def _provider_names(provider: str, matcher: _Matcher) -> System | None:
    """The system an unknown provider id names: a distinctive alias in it, or all of it."""
    text = provider.replace("_", " ")
    hits = matcher.hits(text)
    named = _best_systems(hits, matcher, strong=True)
    if named:
        return named[0][0]
    whole = [h for h in hits if h.length == len(text) and len(h.alias.claimants) == 1]
    return matcher.systems[whole[0].alias.claimants[0]] if whole else None


def _join(reason: str, note: str) -> str:
    return f"{reason}; {note}" if note else reason


def _best_systems(
    hits: Sequence[_Hit], matcher: _Matcher, strong: bool | None = None
) -> list[tuple[System, _Hit]]:
    """Systems the hits name, first mention first, each with its best hit."""
    best: dict[str, _Hit] = {}
    for hit in hits:
        if strong is not None and hit.alias.weak == strong:
            continue
        for sid in hit.alias.claimants:
            current = best.get(sid)
            if current is None or (current.alias.weak, -current.length) > (
                hit.alias.weak,
                -hit.length,
            ):
                best[sid] = hit
    order = sorted(best, key=lambda sid: best[sid].start)
    return [(matcher.systems[sid], best[sid]) for sid in order]


def _says(hit: _Hit, system: System) -> str:
    if hit.alias.key == tuple(w for w, _, _ in _words(system.name)):
        return f"'{hit.found}'"
    return f"alias '{hit.found}' of {system.name}"


def _specific_provider(
    provider: str,
    candidates: Sequence[System],
    hits: Sequence[_Hit],
    base: float,
    matcher: _Matcher,
    unknown: bool = False,
) -> _Decision:
    users = [s for s in candidates if s.source == "user"]
    pool = users or list(candidates)
    related = {s.id for s in candidates}
    mentioned = {}
    for hit in hits:
        for sid in hit.alias.claimants:
            if sid in related:
                mentioned.setdefault(sid, hit)
    named = [s for s in pool if s.id in mentioned]
    shared = len(pool) > 1
    chosen = named[0] if named else pool[0]
    what = (
        f"provider '{provider}' is not in the catalogue but names {chosen.name}"
        if unknown
        else f"provider '{provider}' is {chosen.name}"
    )
    if shared:
        others = ", ".join(s.name for s in pool)
        what = f"provider '{provider}' is shared by {others}"
    agree = [h for h in hits if related & set(h.alias.claimants)]
    disagree = [h for h in hits if not h.alias.weak and not related & set(h.alias.claimants)]
    if agree:
        hit = mentioned.get(chosen.id) or agree[0]
        strong = any(not h.alias.weak for h in agree)
        reason = f"{what} and the connection name contains {_says(hit, chosen)}"
        if shared and named:
            reason = f"{what}; the connection name contains {_says(hit, chosen)}"
        if disagree:
            reason += f" (it also mentions '{disagree[0].found}')"
        confidence = (0.97 if strong else 0.93) if base >= 0.9 else (0.9 if strong else 0.88)
        if shared and not named:
            confidence = min(confidence, 0.85)
        return _Decision(chosen, "matched", confidence, "provider", reason)
    if disagree:
        hit = disagree[0]
        other = matcher.systems[hit.alias.claimants[0]].name
        return _Decision(
            chosen,
            "partial",
            0.5,
            "provider",
            f"{what} but the connection name contains '{hit.found}' ({other}); they disagree",
        )
    if shared and users and len(users) > 1:
        return _Decision(
            chosen,
            "partial",
            0.6,
            "provider",
            f"{what}; nothing in the name says which, picked {chosen.name} (your first)",
        )
    if shared:
        why = "your system" if chosen.source == "user" else "the catalogue's primary"
        return _Decision(
            chosen, "matched", 0.85, "provider", f"{what}; picked {chosen.name} ({why})"
        )
    return _Decision(chosen, "matched", base, "provider", what)


def _generic_provider(
    provider: str, shown: str, slug: str | None, hits: Sequence[_Hit], matcher: _Matcher
) -> _Decision | None:
    """Evidence from a generic transport or custom connector, or None to fall through."""
    target: System | None = None
    if slug:
        named = _best_systems(matcher.hits(slug.replace("_", " ")), matcher, strong=True)
        if named:
            target = named[0][0]
            what = f"custom connector '{shown}' looks like {target.name}"
    else:
        users = [s for s in matcher.by_provider.get(provider, [])]
        if users:
            in_name = [s for s in users if any(s.id in h.alias.claimants for h in hits)]
            if in_name or len(users) == 1:
                target = (in_name or users)[0]
                what = f"generic provider '{shown}' is listed by {target.name}"
    if target is None:
        return None
    agree = [h for h in hits if target.id in h.alias.claimants]
    disagree = [h for h in hits if not h.alias.weak and target.id not in h.alias.claimants]
    if agree:
        return _Decision(
            target,
            "matched",
            0.9,
            "provider",
            f"{what} and the connection name contains {_says(agree[0], target)}",
        )
    if disagree:
        hit = disagree[0]
        return _Decision(
            target,
            "partial",
            0.5,
            "provider",
            f"{what} but the connection name contains '{hit.found}' "
            f"({matcher.systems[hit.alias.claimants[0]].name}); they disagree",
        )
    return _Decision(target, "partial", 0.6, "provider", f"{what}; the name does not confirm it")


def _alias_decision(hits: Sequence[_Hit], matcher: _Matcher, note: str) -> _Decision | None:
    strong = _best_systems(hits, matcher, strong=True)
    if len(strong) > 1:  # "Pub/Sub - GCP": the service, not the cloud platform it runs on
        vendors = {s.vendor for s, _ in strong if s.category != _UMBRELLA}
        strong = [(s, h) for s, h in strong if s.category != _UMBRELLA or s.vendor not in vendors]
    if len(strong) == 1:
        system, hit = strong[0]
        return _Decision(
            system,
            "matched",
            0.85,
            "alias",
            _join(f"connection name contains {_says(hit, system)}", note),
        )
    if strong:
        listed = ", ".join(f"{s.name} ('{h.found}')" for s, h in strong)
        system, _ = strong[0]
        return _Decision(
            system,
            "partial",
            0.5,
            "alias",
            _join(f"connection name mentions several systems: {listed}; picked the first", note),
        )
    weak = [h for h in hits if h.alias.weak]
    if not weak:
        return None
    hit = weak[0]
    system = matcher.systems[hit.alias.claimants[0]]
    if len(hit.alias.claimants) > 1:
        names = ", ".join(matcher.systems[s].name for s in hit.alias.claimants)
        reason = f"connection name contains '{hit.found}', which could be {names}"
        return _Decision(system, "partial", 0.5, "alias", _join(reason, note))
    reason = (
        f"connection name contains '{hit.found}', a short, common or ambiguous alias of "
        f"{system.name}"
    )
    return _Decision(system, "partial", 0.6, "alias", _join(reason, note))
