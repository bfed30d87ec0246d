"""Which system does each connection reach: :func:`map_connections`.

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
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from archy_pipeline.mapping.catalogue import load_catalogue
from archy_pipeline.mapping.model import (
    ConnectionInfo,
    ManualLink,
    MappingConfig,
    MatchMethod,
    MatchStatus,
    System,
    SystemMapping,
    is_builtin_provider,
    merge_systems,
    normalise_provider,
)
from archy_pipeline.mapping.names import _Hit, _Matcher, _words
from archy_pipeline.settings import DEFAULT_ENVIRONMENTS, ConfigError, environment_of
from archy_pipeline.workato.vocabulary import GENERIC_PROVIDERS, custom_connector_slug

#: Category of platform-wide systems (AWS, Azure, GCP) that yield to a service of theirs.
_UMBRELLA = "Cloud"


@dataclass(frozen=True)
class _Decision:
    system: System | None
    status: MatchStatus
    confidence: float
    method: MatchMethod | None
    reason: str


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


def _check_references(config: MappingConfig, systems: Mapping[str, System]) -> None:
    """Links and rules name known systems. The settings model checks archy.yaml against the
    shipped catalogue; this guards a config or a catalogue made in code."""
    for item in (*config.links, *config.rules):
        if item.system is not None and item.system not in systems:
            known = ", ".join(sorted(systems)[:12])
            raise ConfigError(
                f"{config.source}: {item.label}.system {item.system!r} is not a known system id; "
                f"use an id from systems: or the catalogue (e.g. {known}, ...)"
            )


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
