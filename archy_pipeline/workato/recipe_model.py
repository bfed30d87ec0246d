"""The rows the recipe parser produces, its error, and the small helpers its modules share.

Pure module (standard library only). Public names are re-exported by
:mod:`archy_pipeline.workato.recipe_parser`.
"""

from __future__ import annotations

import re
import reprlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

#: Longest excerpt carried by :class:`RecipeParseError` and longest ``reference_raw``.
EXCERPT_CHARS = 200
#: At most this many warnings are kept per recipe (then one "... more" line).
MAX_WARNINGS = 50

#: Step kinds that call another recipe.
CALL_KINDS = frozenset({"call_recipe", "call_recipe_async", "call_service", "call_service_async"})
#: Every ``reference_kind`` this module produces.
REFERENCE_KINDS = frozenset(
    CALL_KINDS
    | {
        "pub_sub_publish",
        "pub_sub_subscribe",
        "kafka_topic",
        "http",
        "lookup_table",
        "data_table",
        "recipe_ops",
        "api_platform",
        "webhook",
    }
)

_RECIPE_FUNCTION_CALLS = frozenset({"call_recipe", "call_recipe_async"})
_SERVICE_CALLS = frozenset({"call_service", "call_service_async"})
_PUBLISH = frozenset({"publish_to_topic", "publish_to_topic_batch"})
_SUBSCRIBE = frozenset({"subscribe_to_topic", "batch_subscribe_to_topic"})
#: Keywords that must be the trailing children of a given parent keyword.
_TAIL_OF = {"elsif": "if", "else": "if", "catch": "try", "while_condition": "repeat"}
_DIGITS = re.compile(r"\d+")
_SCHEME_AUTHORITY = re.compile(r"([A-Za-z][A-Za-z0-9+.-]*)://([^/?]*)")

_excerpt_repr = reprlib.Repr()
_excerpt_repr.maxlevel = 3
_excerpt_repr.maxstring = 80
_excerpt_repr.maxother = 80
_excerpt_repr.maxdict = 6
_excerpt_repr.maxlist = 6


# ---------------------------------------------------------------------- rows


class RecipeParseError(ValueError):
    """The recipe's code is not a readable recipe tree.

    ``message`` is one short line; ``excerpt`` at most :data:`EXCERPT_CHARS` characters of
    the offending text (around the error position for invalid JSON).
    """

    def __init__(self, message: str, excerpt: str = "") -> None:
        message = _clip(message, 300)
        super().__init__(message)
        self.message = message
        self.excerpt = _clip(excerpt, EXCERPT_CHARS)

    def __repr__(self) -> str:
        return f"RecipeParseError({self.message!r}, excerpt={self.excerpt!r})"


@dataclass(frozen=True)
class Step:
    """One block of the code tree (pre-order)."""

    number: int
    parent_number: int | None
    depth: int
    keyword: str
    provider: str | None
    application: str | None
    action_name: str | None
    alias: str | None
    skipped: bool
    protected: bool
    in_catch: bool
    connection_id: str | int | None
    reference_kind: str | None = None
    reference: str | None = None
    reference_name: str | None = None
    resolved: bool | None = None
    #: Clipped raw text of an unresolved reference (datapill/formula, relative URL/path...).
    reference_raw: str | None = None
    #: ``read``/``write``/``unknown`` on the step's application; None for control blocks and
    #: platform connectors (:func:`archy_pipeline.workato.vocabulary.classify_step`).
    access: str | None = None
    #: Upper-case HTTP method of an HTTP step (None when absent or dynamic).
    http_method: str | None = None
    #: Which rule decided ``access`` (``prefix``, ``http_verb``, ``sql``, ``override``...).
    access_reason: str | None = None


@dataclass(frozen=True)
class RecipeConnection:
    """One ``config`` entry: the recipe uses ``provider`` through ``connection_id``."""

    provider: str
    application: str
    connection_id: str | int | None
    #: Display name of the connection when the export reference carries one.
    connection_name: str | None = None


@dataclass(frozen=True)
class ParsedRecipe:
    steps: tuple[Step, ...]
    connections: tuple[RecipeConnection, ...]
    #: Non-fatal problems (grammar deviations, unexpected shapes, unknown config providers).
    warnings: tuple[str, ...] = field(default=())

    @property
    def trigger(self) -> Step | None:
        return self.steps[0] if self.steps else None

    @property
    def calls(self) -> tuple[Step, ...]:
        return tuple(s for s in self.steps if s.reference_kind in CALL_KINDS)

    @property
    def references(self) -> tuple[Step, ...]:
        return tuple(s for s in self.steps if s.reference_kind is not None)


# ---------------------------------------------------------------------- helpers


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _excerpt(value: Any) -> str:
    """A short, bounded rendering of any value (never recurses deeply, never huge)."""
    if isinstance(value, str):
        return _clip(value, EXCERPT_CHARS)
    try:
        return _clip(_excerpt_repr.repr(value), EXCERPT_CHARS)
    except Exception:  # a hostile __repr__; the type is still worth reporting
        return type(value).__name__


def _type_name(value: Any) -> str:
    """JSON-ish type name: ``null``, ``boolean``, ``string``, ``number``, ``array``, ``object``."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, str):
        return "string"
    if isinstance(value, (int, float)):
        return "number"
    if isinstance(value, (list, tuple)):
        return "array"
    if isinstance(value, Mapping):
        return "object"
    return type(value).__name__


def _kind(value: Any) -> str:
    """``_type_name`` with an article: ``null``, ``a string``, ``an array``, ``an object``."""
    name = _type_name(value)
    if name == "null":
        return name
    return ("an " if name[0] in "aeiou" else "a ") + name


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_ref(value: Any) -> bool:
    return isinstance(value, Mapping) and isinstance(value.get("zip_name"), str)


class _Warnings:
    def __init__(self) -> None:
        self.items: list[str] = []
        self.dropped = 0

    def add(self, message: str) -> None:
        if len(self.items) < MAX_WARNINGS:
            self.items.append(_clip(message, 300))
        else:
            self.dropped += 1

    def freeze(self) -> tuple[str, ...]:
        if self.dropped:
            return (*self.items, f"... {self.dropped} more warnings")
        return tuple(self.items)


# ---------------------------------------------------------------------- JSON
