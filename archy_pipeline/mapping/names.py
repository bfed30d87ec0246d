"""Name evidence: a system's name or aliases found in a connection's name, exactly (as whole
words) or fuzzily (rapidfuzz)."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from rapidfuzz import fuzz, process

from archy_pipeline.mapping.model import System
from archy_pipeline.workato.vocabulary import GENERIC_PROVIDERS

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

_WORD = re.compile(r"[^\W_]+")  # letters and digits, underscore separates words
_CAMEL = re.compile(r"(?<=[a-z])(?=[A-Z])")
_TRAILING_DIGITS = re.compile(r"([a-z]{3,})\d+")


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
