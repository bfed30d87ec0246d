"""Flatten one Workato recipe into step rows, connection rows and dependency references.

Pure module: standard library only (no dagster, no dlt), so the dlt source, the CLI and the
tests can all use it. Grammar and field meanings: ``shared/reference/workato-api.md`` §3-§4.

Input forms
-----------
* **Live API** (``GET /api/recipes[/:id]``): ``code`` is a JSON *string*, ``config[].account_id``
  an int connection id or null, ``flow_id``/``topic_id``/table ids are ids (digits).
* **Export** (``*.recipe.json``): ``code`` is a JSON *object*, ``config[].account_id`` a
  reference object ``{zip_name, name, folder, ...}`` or null, and recipe / table / topic
  references are reference objects too (``flow_id`` may also be a digit string when the callee
  was outside the package).

Public API
----------
* :func:`parse_recipe` ``(recipe) -> ParsedRecipe`` - a live or export recipe dict.
* :func:`parse_code` ``(code, config=None) -> ParsedRecipe`` - just the code (+ config).
* :func:`summarize` ``(parsed) -> dict`` - counts for tests and reports.
* :class:`Step`, :class:`RecipeConnection`, :class:`ParsedRecipe` - the rows.
* :class:`RecipeParseError` (a ``ValueError``) - the code cannot be read as a recipe tree;
  carries a short ``message`` and an ``excerpt`` (at most :data:`EXCERPT_CHARS` characters)
  of the offending text. Callers turn it into an error row and carry on.
* :func:`normalise_provider`, :func:`is_custom_connector` (from
  :mod:`archy_pipeline.workato.vocabulary`), :func:`is_dynamic`.

Access
------
Every step gets ``access`` (``read``/``write``/``unknown``, None for control blocks and
platform connectors without a connection), ``http_method`` and ``access_reason`` from
:func:`archy_pipeline.workato.vocabulary.classify_step`, which owns the rules (workato-api-addendum
§7); archy.yaml overrides come in as ``access_overrides``.

Walk
----
The tree is walked **iteratively** (explicit stack, pre-order), so nesting depth is limited
only by memory. Every ``block`` array is walked whatever the keyword; unknown keywords are
treated as containers. The grammar (``elsif``/``else`` the last children of their ``if``,
``catch`` the last child of its ``try``, ``while_condition`` the last child of its ``repeat``)
is *checked* - deviations become entries in :attr:`ParsedRecipe.warnings` - but nothing
depends on position: ``protected``/``in_catch`` are decided by keyword.

Deep JSON strings: CPython's ``json.loads`` recurses (C decoder, counted against the Python
recursion limit). Observed on CPython 3.11 with the default limit of 1,000: a tree only 500
blocks deep (``{"block":[{...}]}`` is two JSON levels per block) already raises
``RecursionError``. When that happens the text is decoded again by a small iterative decoder
(:func:`_loads_iterative`, same grammar and error messages as ``json``), so 1,000- and
10,000-deep trees parse; a ``RecursionError`` never escapes. Invalid JSON found by either
decoder becomes a :class:`RecipeParseError`.

Why not a depth limit on a plain ``json.loads``: that limit would sit below 500 blocks (CPython
3.11.7 fails from 496 nested blocks under a trigger), and the 1,000- and 10,000-deep trees
must parse (tests/test_recipe_parser.py). orjson stops at 1,024 JSON levels (512 blocks);
ijson's iterative parser needed about 10 s for 10,000 blocks (this decoder: 0.2-0.4 s) and
ran out of memory at 100,000. So the decoder stays, as the fallback only.

Flags
-----
* ``protected``: a strict descendant of a ``try`` block that is not inside that try's
  ``catch`` (the ``try`` block itself is not protected by itself; a ``catch`` block row gets
  the flags of its ``try``). A step in a catch whose try sits in an outer try's protected part
  is both ``protected`` and ``in_catch``.
* ``in_catch``: a strict descendant of a ``catch`` block.

References (one per step; ``reference_kind`` None when the step references nothing)
--------------------------------------------------------------------------------
=====================  ========================================================  ==========
kind                   where                                                     reference
=====================  ========================================================  ==========
call_recipe(_async)    ``workato_recipe_function`` ``input.flow_id``             recipe id
call_service(_async)   legacy ``workato_service`` ``input.flow_id`` /            recipe id
                       ``input.recipe_id`` (field name unverified)
pub_sub_publish        ``workato_pub_sub`` publish_to_topic(_batch) topic_id     topic id
pub_sub_subscribe      ``workato_pub_sub`` (batch_)subscribe_to_topic topic_id   topic id
kafka_topic            ``kafka`` steps with ``input.topic`` (external broker)    topic name
http                   ``rest`` ``input.request.url`` (else ``input.url``);      host
                       ``__adhoc_http_action`` on any provider: ``input.path``
lookup_table           ``lookup_table`` steps ``input.lookup_table_id``          table id
data_table             ``workato_db_table`` steps ``input.table_id``             table id
recipe_ops             ``workato_app`` steps that have ``input.recipe_id``       recipe id
api_platform           ``workato_api_platform/receive_request`` trigger          None
webhook                ``workato_webhooks/new_event`` trigger                    suffix
=====================  ========================================================  ==========

A reference value is **resolved** when it is an int, a literal string (digits for recipe ids)
or an export reference object (``reference`` = its ``zip_name``, ``reference_name`` = its
``name``). It is **unresolved** (``resolved=False``, ``reference=None``) when it is a
datapill/formula (starts with ``=``, or contains ``_dp(``, ``#{`` or a legacy ``_('data.``
pill; the raw text, clipped, goes to ``reference_raw``), missing, or of an unexpected shape
(also reported in ``warnings``). ``reference_name`` falls back to the step's
``dynamicPickListSelection`` label when the reference itself carries no name, and is only set
for resolved references (a pick-list label next to a formula is stale).

HTTP: the host is taken only from an absolute ``scheme://host`` URL whose host part holds no
datapill; relative URLs/paths (connector custom actions usually use a path relative to the
connection's instance, the host then comes from ``connection_id``) and dynamic URLs are
unresolved, with the clipped raw text in ``reference_raw``. ``api_platform`` marks an inbound
entry point: the endpoint path is not in the recipe (it is joined from API endpoints by recipe
id), so ``reference``/``resolved`` stay None.

Connections: ``connection_id`` of a step = ``account_id`` of the ``config`` entry whose
``provider`` equals the step's provider exactly (``salesforce_secondary`` has its own entry):
the int id (live; digit strings are turned into ints), the reference's ``zip_name`` (export),
or None (null). A provider missing from a given config, duplicate config entries and
unexpected shapes are reported in ``warnings`` (never silently guessed).
"""

from __future__ import annotations

import json
import re
import reprlib
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from json.decoder import scanstring
from typing import Any
from urllib.parse import urlsplit

from archy_pipeline.workato.vocabulary import (
    ADHOC_HTTP_ACTION,
    classify_step,
    is_custom_connector,
    is_dynamic,
    normalise_provider,
)

__all__ = [
    "CALL_KINDS",
    "EXCERPT_CHARS",
    "REFERENCE_KINDS",
    "ParsedRecipe",
    "RecipeConnection",
    "RecipeParseError",
    "Step",
    "is_custom_connector",
    "is_dynamic",
    "normalise_provider",
    "parse_code",
    "parse_recipe",
    "summarize",
]

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


_WS = re.compile(r"[ \t\n\r]*")
_NUMBER = re.compile(r"(-?(?:0|[1-9]\d*))(\.\d+)?([eE][-+]?\d+)?")
_CONSTANTS = (
    ("null", None),
    ("true", True),
    ("false", False),
    ("NaN", float("nan")),
    ("Infinity", float("inf")),
    ("-Infinity", float("-inf")),
)


def _loads_iterative(s: str) -> Any:
    """``json.loads`` without recursion: an explicit stack of open containers.

    Accepts what ``json.loads`` accepts by default (``NaN``/``Infinity`` included, strict
    strings via :func:`json.decoder.scanstring`) and raises the same
    :class:`json.JSONDecodeError` messages. Used only when ``json.loads`` hits the recursion
    limit.
    """
    err = json.JSONDecodeError
    ws = _WS.match
    n = len(s)
    stack: list[list[Any]] = []  # [container, pending key]
    pos = ws(s, 0).end()
    while True:
        # ---- a value starts at pos
        ch = s[pos : pos + 1]
        if ch == "{":
            pos = ws(s, pos + 1).end()
            if s[pos : pos + 1] == "}":
                value: Any = {}
                pos += 1
            else:
                if s[pos : pos + 1] != '"':
                    raise err("Expecting property name enclosed in double quotes", s, pos)
                key, pos = scanstring(s, pos + 1)
                pos = ws(s, pos).end()
                if s[pos : pos + 1] != ":":
                    raise err("Expecting ':' delimiter", s, pos)
                pos = ws(s, pos + 1).end()
                stack.append([{}, key])
                continue
        elif ch == "[":
            pos = ws(s, pos + 1).end()
            if s[pos : pos + 1] == "]":
                value = []
                pos += 1
            else:
                stack.append([[], None])
                continue
        elif ch == '"':
            value, pos = scanstring(s, pos + 1)
        else:
            for text, constant in _CONSTANTS:
                if s.startswith(text, pos):
                    value, pos = constant, pos + len(text)
                    break
            else:
                m = _NUMBER.match(s, pos)
                if m is None:
                    raise err("Expecting value", s, pos)
                integer, frac, exp = m.groups()
                value = float(integer + (frac or "") + (exp or "")) if frac or exp else int(integer)
                pos = m.end()
        # ---- attach the finished value, closing containers as they end
        while True:
            if not stack:
                pos = ws(s, pos).end()
                if pos != n:
                    raise err("Extra data", s, pos)
                return value
            top = stack[-1]
            container = top[0]
            if isinstance(container, dict):
                container[top[1]] = value
            else:
                container.append(value)
            pos = ws(s, pos).end()
            ch = s[pos : pos + 1]
            if ch == ",":
                pos = ws(s, pos + 1).end()
                if isinstance(container, dict):
                    if s[pos : pos + 1] != '"':
                        raise err("Expecting property name enclosed in double quotes", s, pos)
                    key, pos = scanstring(s, pos + 1)
                    pos = ws(s, pos).end()
                    if s[pos : pos + 1] != ":":
                        raise err("Expecting ':' delimiter", s, pos)
                    pos = ws(s, pos + 1).end()
                    top[1] = key
                break  # the next value starts at pos
            if ch == ("}" if isinstance(container, dict) else "]"):
                pos += 1
                stack.pop()
                value = container
                continue
            raise err("Expecting ',' delimiter", s, pos)


def _decode(code: str | bytes | bytearray) -> Any:
    if isinstance(code, (bytes, bytearray)):
        try:
            code = bytes(code).decode("utf-8")
        except UnicodeDecodeError as exc:
            raise RecipeParseError(
                f"code is not UTF-8 text: {exc.reason} at byte {exc.start}",
                bytes(code[max(0, exc.start - 40) : exc.start + 40]).decode("utf-8", "replace"),
            ) from None
    try:
        try:
            return json.loads(code)
        except RecursionError:
            # json.loads recurses per nesting level; decode again without recursion.
            return _loads_iterative(code)
    except json.JSONDecodeError as exc:
        start = max(0, exc.pos - EXCERPT_CHARS // 2)
        raise RecipeParseError(
            f"code is not valid JSON: {exc.msg} (line {exc.lineno}, column {exc.colno})",
            code[start : start + EXCERPT_CHARS],
        ) from None


# ---------------------------------------------------------------------- config


def _account(value: Any, where: str, warnings: _Warnings) -> tuple[str | int | None, str | None]:
    """``(connection_id, connection_name)`` of a config ``account_id``."""
    if value is None:
        return None, None
    if _is_int(value):
        return value, None
    if _is_ref(value):
        name = value.get("name")
        return value["zip_name"], name if isinstance(name, str) else None
    if isinstance(value, str) and _DIGITS.fullmatch(value):
        return int(value), None
    if isinstance(value, str) and value:
        warnings.add(f"{where}: account_id is a non-numeric string; kept as given")
        return value, None
    warnings.add(f"{where}: account_id of unexpected type {_type_name(value)}; ignored")
    return None, None


def _connections(
    config: Any, warnings: _Warnings
) -> tuple[tuple[RecipeConnection, ...], dict[str, str | int | None] | None]:
    """Connection rows and ``provider -> connection_id`` (None when no config was given)."""
    if config is None:
        return (), None
    if not isinstance(config, (list, tuple)):
        warnings.add(f"config is {_kind(config)}, not an array; ignored")
        return (), None
    rows: list[RecipeConnection] = []
    by_provider: dict[str, str | int | None] = {}
    for i, entry in enumerate(config):
        where = f"config[{i}]"
        if not isinstance(entry, Mapping):
            warnings.add(f"{where} is {_kind(entry)}, not an object; skipped")
            continue
        provider = entry.get("provider")
        if not isinstance(provider, str) or not provider:
            provider = entry.get("name")
        if not isinstance(provider, str) or not provider:
            warnings.add(f"{where} has no provider; skipped")
            continue
        connection_id, name = _account(entry.get("account_id"), where, warnings)
        rows.append(
            RecipeConnection(
                provider, normalise_provider(provider) or provider, connection_id, name
            )
        )
        if provider in by_provider:
            warnings.add(f"{where}: second entry for provider {provider!r}; the first is used")
        else:
            by_provider[provider] = connection_id
    return tuple(rows), by_provider


# ---------------------------------------------------------------------- references


@dataclass(frozen=True)
class _Ref:
    kind: str
    reference: str | None = None
    name: str | None = None
    resolved: bool | None = None
    raw: str | None = None


def _picklist(block: Mapping[str, Any], *keys: str) -> str | None:
    selection = block.get("dynamicPickListSelection")
    if isinstance(selection, Mapping):
        for key in keys:
            label = selection.get(key)
            if isinstance(label, str) and label:
                return label
    return None


def _id_ref(
    kind: str,
    value: Any,
    block: Mapping[str, Any],
    picklist_keys: tuple[str, ...],
    number: int,
    warnings: _Warnings,
    *,
    digits_only: bool,
) -> _Ref:
    """Classify an id-like reference value (recipe, topic, table id)."""
    if _is_ref(value):
        name = value.get("name")
        name = name if isinstance(name, str) and name else _picklist(block, *picklist_keys)
        return _Ref(kind, value["zip_name"], name, True)
    if _is_int(value):
        return _Ref(kind, str(value), _picklist(block, *picklist_keys), True)
    if value is None or value == "":
        return _Ref(kind, resolved=False)
    if isinstance(value, str):
        text = value.strip()
        if is_dynamic(text):
            return _Ref(kind, resolved=False, raw=_clip(text, EXCERPT_CHARS))
        if _DIGITS.fullmatch(text) or (not digits_only and text):
            return _Ref(kind, text, _picklist(block, *picklist_keys), True)
        warnings.add(f"step #{number}: {kind} id {_excerpt(text)!r} is not a number; unresolved")
        return _Ref(kind, resolved=False, raw=_clip(text, EXCERPT_CHARS))
    warnings.add(f"step #{number}: {kind} reference is {_kind(value)}; unresolved")
    return _Ref(kind, resolved=False, raw=_excerpt(value))


def _host_ref(value: Any, number: int, warnings: _Warnings) -> _Ref:
    """An HTTP target: the host of an absolute URL, else unresolved."""
    if value is None or value == "":
        return _Ref("http", resolved=False)
    if not isinstance(value, str):
        warnings.add(f"step #{number}: HTTP url is {_kind(value)}; unresolved")
        return _Ref("http", resolved=False, raw=_excerpt(value))
    text = value.strip()
    raw = _clip(text, EXCERPT_CHARS)
    if text.startswith("="):
        return _Ref("http", resolved=False, raw=raw)
    m = _SCHEME_AUTHORITY.match(text)
    if m is None or is_dynamic(m.group(2)):
        return _Ref("http", resolved=False, raw=raw)  # relative, or a datapill host
    try:
        host = urlsplit(text[: m.end()]).hostname
    except ValueError:
        host = None
    if not host:
        warnings.add(f"step #{number}: no host in URL {raw!r}; unresolved")
        return _Ref("http", resolved=False, raw=raw)
    return _Ref("http", host, None, True)


def _reference(
    block: Mapping[str, Any],
    keyword: str,
    application: str | None,
    name: str | None,
    number: int,
    warnings: _Warnings,
) -> _Ref | None:
    if application is None or name is None:
        return None
    raw_input = block.get("input")
    inp: Mapping[str, Any] = raw_input if isinstance(raw_input, Mapping) else {}
    if application == "workato_recipe_function" and name in _RECIPE_FUNCTION_CALLS:
        return _id_ref(
            name, inp.get("flow_id"), block, ("flow_id",), number, warnings, digits_only=True
        )
    if application == "workato_service" and name in _SERVICE_CALLS:
        key = "flow_id" if "flow_id" in inp else "recipe_id"
        return _id_ref(
            name, inp.get(key), block, (key, "flow_id"), number, warnings, digits_only=True
        )
    if application == "workato_pub_sub" and (name in _PUBLISH or name in _SUBSCRIBE):
        kind = "pub_sub_publish" if name in _PUBLISH else "pub_sub_subscribe"
        return _id_ref(
            kind,
            inp.get("topic_id"),
            block,
            ("topic_id", "topic"),
            number,
            warnings,
            digits_only=False,
        )
    if name == ADHOC_HTTP_ACTION:
        return _host_ref(inp.get("path"), number, warnings)
    if application == "rest":
        request = inp.get("request")
        url = request.get("url") if isinstance(request, Mapping) else None
        return _host_ref(url if url is not None else inp.get("url"), number, warnings)
    if application == "kafka" and "topic" in inp:
        return _id_ref(
            "kafka_topic", inp.get("topic"), block, ("topic",), number, warnings, digits_only=False
        )
    if application == "lookup_table":
        return _id_ref(
            "lookup_table",
            inp.get("lookup_table_id"),
            block,
            ("lookup_table_id",),
            number,
            warnings,
            digits_only=False,
        )
    if application == "workato_db_table":
        return _id_ref(
            "data_table",
            inp.get("table_id"),
            block,
            ("table_id",),
            number,
            warnings,
            digits_only=False,
        )
    if application == "workato_app" and "recipe_id" in inp:
        return _id_ref(
            "recipe_ops",
            inp.get("recipe_id"),
            block,
            ("recipe_id",),
            number,
            warnings,
            digits_only=True,
        )
    if keyword == "trigger" and application == "workato_api_platform" and name == "receive_request":
        return _Ref("api_platform")
    if keyword == "trigger" and application == "workato_webhooks" and name == "new_event":
        suffix = inp.get("webhook_suffix")
        if isinstance(suffix, str) and suffix.strip() and not is_dynamic(suffix):
            return _Ref("webhook", suffix.strip(), None, True)
        if suffix not in (None, "") and not isinstance(suffix, str):
            warnings.add(f"step #{number}: webhook_suffix is {_kind(suffix)}; unresolved")
        raw = _clip(suffix, EXCERPT_CHARS) if isinstance(suffix, str) and suffix else None
        return _Ref("webhook", resolved=False, raw=raw)
    return None


# ---------------------------------------------------------------------- walk


def _opt_str(block: Mapping[str, Any], key: str, number: int, warnings: _Warnings) -> str | None:
    value = block.get(key)
    if value is None or isinstance(value, str):
        return value or None
    warnings.add(f"step #{number}: {key!r} is {_kind(value)}, not a string; ignored")
    return None


def _children(block: Mapping[str, Any], where: str) -> list[Mapping[str, Any]]:
    children = block.get("block")
    if children is None:
        return []
    if not isinstance(children, (list, tuple)):
        raise RecipeParseError(
            f"{where}: `block` is {_kind(children)}, not an array", _excerpt(children)
        )
    for i, child in enumerate(children):
        if not isinstance(child, Mapping):
            raise RecipeParseError(
                f"{where}: block[{i}] is {_kind(child)}, not an object", _excerpt(child)
            )
    return list(children)


def _check_grammar(
    keyword: str, kids: list[Mapping[str, Any]], number: int, warnings: _Warnings
) -> None:
    """Report deviations from the trailing-children rules (nothing depends on them)."""
    kws = [k.get("keyword") for k in kids]
    for kw in kws:
        owner = _TAIL_OF.get(kw) if isinstance(kw, str) else None
        if owner is not None and owner != keyword:
            warnings.add(f"step #{number} ({keyword}) has a {kw!r} child; expected under {owner!r}")
    if keyword == "if":
        tails = [i for i, kw in enumerate(kws) if kw in ("elsif", "else")]
        if tails and any(kw not in ("elsif", "else") for kw in kws[tails[0] :]):
            warnings.add(f"step #{number} (if): 'elsif'/'else' are not the last children")
        if kws.count("else") > 1 or ("else" in kws and kws[-1] != "else"):
            warnings.add(f"step #{number} (if): 'else' is not the single last child")
    elif keyword in ("try", "repeat"):
        tail = "catch" if keyword == "try" else "while_condition"
        if kws.count(tail) != 1 or kws[-1] != tail:
            warnings.add(f"step #{number} ({keyword}): expected one {tail!r} as the last child")


def parse_code(
    code: str | bytes | Mapping[str, Any],
    config: Any = None,
    access_overrides: Mapping[str, str] | None = None,
) -> ParsedRecipe:
    """Flatten a recipe tree (JSON text or already-decoded object) and its ``config``.

    ``config`` None means "not given": steps then get ``connection_id`` None and no warning
    about providers missing from config. ``access_overrides`` are validated
    ``access.overrides`` from archy.yaml
    (:func:`archy_pipeline.workato.vocabulary.parse_access_overrides`).

    Raises:
        RecipeParseError: ``code`` is not valid JSON, not a JSON object, or not a tree
            (``block`` not an array, a block not an object).
    """
    if isinstance(code, (str, bytes, bytearray)):
        root = _decode(code)
        if not isinstance(root, Mapping):
            raise RecipeParseError(
                f"code is a JSON {_type_name(root)}, not an object", _excerpt(code)
            )
    elif isinstance(code, Mapping):
        root = code
    else:
        raise RecipeParseError(
            f"code is {_kind(code)}, not a JSON string or object", _excerpt(code)
        )

    warnings = _Warnings()
    connections, by_provider = _connections(config, warnings)
    missing_providers: set[str] = set()
    steps: list[Step] = []
    # (block, parent number, depth, protected, in_catch)
    stack: list[tuple[Mapping[str, Any], int | None, int, bool, bool]] = [
        (root, None, 0, False, False)
    ]
    index = 0
    while stack:
        block, parent, depth, protected, in_catch = stack.pop()
        given = block.get("number")
        if _is_int(given):
            number = given
            if given != index:
                warnings.add(f"block {index} (pre-order) has number {given}")
        else:
            number = index
            if given is not None:
                warnings.add(f"block {index} has a non-integer number; pre-order index used")
        index += 1

        keyword = block.get("keyword")
        if not isinstance(keyword, str) or not keyword:
            warnings.add(f"step #{number} has no keyword; recorded as 'unknown'")
            keyword = "unknown"
        if depth == 0 and keyword != "trigger":
            warnings.add(f"root block is {keyword!r}, not 'trigger'")
        elif depth > 0 and keyword == "trigger":
            warnings.add(f"step #{number} is a 'trigger' below the root")

        provider = _opt_str(block, "provider", number, warnings)
        application = normalise_provider(provider)
        name = _opt_str(block, "name", number, warnings)
        alias = _opt_str(block, "as", number, warnings)
        skip = block.get("skip")
        if skip not in (None, True, False):
            warnings.add(f"step #{number}: 'skip' is {_kind(skip)}; treated as not skipped")

        connection_id: str | int | None = None
        if provider is not None and by_provider is not None:
            if provider in by_provider:
                connection_id = by_provider[provider]
            elif provider not in missing_providers:
                missing_providers.add(provider)
                warnings.add(f"provider {provider!r} (step #{number}) has no config entry")

        ref = _reference(block, keyword, application, name, number, warnings)
        access = classify_step(
            keyword,
            application,
            name,
            block.get("input"),
            has_connection=connection_id is not None,
            overrides=access_overrides,
        )
        steps.append(
            Step(
                number=number,
                parent_number=parent,
                depth=depth,
                keyword=keyword,
                provider=provider,
                application=application,
                action_name=name,
                alias=alias,
                skipped=skip is True,
                protected=protected,
                in_catch=in_catch,
                connection_id=connection_id,
                reference_kind=ref.kind if ref else None,
                reference=ref.reference if ref else None,
                reference_name=ref.name if ref else None,
                resolved=ref.resolved if ref else None,
                reference_raw=ref.raw if ref else None,
                access=access.access,
                http_method=access.http_method,
                access_reason=access.reason,
            )
        )

        kids = _children(block, f"step #{number} ({keyword}, depth {depth})")
        if not kids:
            continue
        _check_grammar(keyword, kids, number, warnings)
        for kid in reversed(kids):
            kid_protected, kid_in_catch = protected, in_catch
            if keyword == "try" and kid.get("keyword") != "catch":
                kid_protected = True
            elif keyword == "catch":
                kid_in_catch = True
            stack.append((kid, number, depth + 1, kid_protected, kid_in_catch))

    return ParsedRecipe(tuple(steps), connections, warnings.freeze())


def parse_recipe(
    recipe: Mapping[str, Any], access_overrides: Mapping[str, str] | None = None
) -> ParsedRecipe:
    """Parse a live-API recipe (``code`` a JSON string) or an export (``code`` an object).

    Raises:
        RecipeParseError: not an object, no ``code`` (e.g. listed with ``exclude_code``), or
            ``code`` unreadable (see :func:`parse_code`).
    """
    if not isinstance(recipe, Mapping):
        raise RecipeParseError(f"recipe is {_kind(recipe)}, not an object", _excerpt(recipe))
    code = recipe.get("code")
    if code is None or code == "":
        keys = ", ".join(sorted(str(k) for k in recipe)[:20])
        raise RecipeParseError("recipe has no code (listed with exclude_code?)", f"keys: {keys}")
    return parse_code(code, recipe.get("config"), access_overrides)


def summarize(parsed: ParsedRecipe) -> dict[str, Any]:
    """Counts: ``steps``, ``keywords`` (Counter), ``applications`` (set), ``calls`` (number
    of recipe-call steps, skipped ones included), ``call_references`` (their references in
    step order), ``references`` (Counter of reference kinds), ``unresolved`` and
    ``warnings``, and ``access`` (Counter of ``read``/``write``/``unknown``)."""
    calls = parsed.calls
    return {
        "steps": len(parsed.steps),
        "keywords": Counter(s.keyword for s in parsed.steps),
        "applications": {s.application for s in parsed.steps if s.application},
        "calls": len(calls),
        "call_references": [s.reference for s in calls],
        "references": Counter(s.reference_kind for s in parsed.references),
        "unresolved": sum(1 for s in parsed.steps if s.resolved is False),
        "warnings": len(parsed.warnings),
        "access": Counter(s.access for s in parsed.steps if s.access is not None),
    }
