"""The data mapping works on: systems, connections, mapping rows, links, rules and config."""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal

from archy_pipeline.workato.vocabulary import PLATFORM_PROVIDERS, is_platform_provider
from archy_pipeline.workato.vocabulary import normalise_provider as _strip_secondary

if TYPE_CHECKING:
    from archy_pipeline.settings.sections import SystemRecord

MatchStatus = Literal["matched", "partial", "none"]
MatchMethod = Literal["manual", "rule", "provider", "alias", "fuzzy"]

DEFAULT_FUZZY_THRESHOLD = 85.0

#: Provider knowledge lives in the Workato vocabulary; the names stay importable from here.
BUILTIN_PROVIDERS: frozenset[str] = PLATFORM_PROVIDERS


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

    @classmethod
    def from_record(cls, record: SystemRecord, source: Literal["catalogue", "user"]) -> System:
        """A validated record (archy.yaml's ``systems:`` or the catalogue's): provider ids
        normalised and de-duplicated, blank aliases and tags dropped."""
        providers = (normalise_provider(p) for p in record.providers)
        return cls(
            id=record.id,
            name=record.name,
            vendor=(record.vendor or "").strip(),
            category=(record.category or "").strip(),
            providers=tuple(dict.fromkeys(p for p in providers if p)),
            aliases=tuple(a.strip() for a in record.aliases if a.strip()),
            tags=tuple(t.strip() for t in record.tags if t.strip()),
            source=source,
        )


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


def normalise_provider(application: str | None) -> str | None:
    """Lower-case provider id without the ``_secondary`` suffix (None when empty)."""
    if not application:
        return None
    return _strip_secondary(application.strip().lower()) or None


def is_builtin_provider(provider: str | None) -> bool:
    """A Workato platform connector (never a system)."""
    return is_platform_provider(provider)


def merge_systems(catalogue: Iterable[System], user: Iterable[System]) -> dict[str, System]:
    """Every known system by id: the catalogue, with the user's own systems added or replacing
    catalogue entries of the same id."""
    systems = {s.id: s for s in catalogue}
    for system in user:  # a user id equal to a catalogue id replaces that entry
        systems.pop(system.id, None)
    systems.update({s.id: s for s in user})
    return systems
