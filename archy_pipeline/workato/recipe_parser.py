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
* :func:`config_problem` ``(config) -> RecipeParseError | None`` - why a ``config`` is not the
  array of connection entries (a sync quarantines such a recipe; the parser only warns).
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
from collections import Counter
from collections.abc import Mapping
from typing import Any

from archy_pipeline.workato import json_tree
from archy_pipeline.workato.recipe_model import (
    _DIGITS,
    _TAIL_OF,
    CALL_KINDS,
    EXCERPT_CHARS,
    REFERENCE_KINDS,
    ParsedRecipe,
    RecipeConnection,
    RecipeParseError,
    Step,
    _excerpt,
    _is_int,
    _is_ref,
    _kind,
    _type_name,
    _Warnings,
)
from archy_pipeline.workato.recipe_references import (
    _reference,
)
from archy_pipeline.workato.vocabulary import (
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
    "config_problem",
    "is_custom_connector",
    "is_dynamic",
    "normalise_provider",
    "parse_code",
    "parse_recipe",
    "summarize",
]


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
        return json_tree.loads(code)
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


def config_problem(config: Any, depth: int | None = None) -> RecipeParseError | None:
    """Why a recipe's ``config`` is not the array of connection entries (objects) Workato
    serves (reference §2.2), as the error that quarantines the recipe in a sync; None when it
    is one, or null. :func:`parse_code` itself only warns about such a config and ignores it.

    ``depth``: the config arrived nested this many levels deep, too deep to keep as JSON
    (``config`` is then text holding it, for the excerpt).
    """
    if depth is not None:
        return RecipeParseError(
            f"config is nested {depth:,} levels deep, not the flat array of connection "
            "entries Workato serves (kept whole as JSON text in workato_raw.recipes.deep_fields)",
            _excerpt(config),
        )
    if config is None:
        return None
    if not isinstance(config, (list, tuple)):
        return RecipeParseError(
            f"config is {_kind(config)}, not the array of connection entries Workato serves",
            _excerpt(config),
        )
    for i, entry in enumerate(config):
        if not isinstance(entry, Mapping):
            return RecipeParseError(
                f"config[{i}] is {_kind(entry)}, not a connection entry (an object)",
                _excerpt(entry),
            )
    return None


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
# ---------------------------------------------------------------------- walk


def _opt_str(block: Mapping[str, Any], key: str, number: int, warnings: _Warnings) -> str | None:
    value = block.get(key)
    if value is None or isinstance(value, str):
        return value or None
    warnings.add(f"step #{number}: {key!r} is {_kind(value)}, not a string; ignored")
    return None


def _repeated_number(root: Mapping[str, Any]) -> int | None:
    """A step number given to two blocks of the tree, or None (without recursion)."""
    seen: set[int] = set()
    stack: list[Any] = [root]
    while stack:
        block = stack.pop()
        if not isinstance(block, Mapping):
            continue  # the walk that builds the steps says what is wrong with it
        given = block.get("number")
        if _is_int(given):
            if given in seen:
                return given
            seen.add(given)
        children = block.get("block")
        if isinstance(children, (list, tuple)):
            stack.extend(children)
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
    # Steps are keyed by their number (recipe_steps' primary key): a number given twice would
    # merge two steps into one row, so then every step is numbered in pre-order instead.
    repeated = _repeated_number(root)
    if repeated is not None:
        warnings.add(f"step number {repeated} is given twice; steps numbered in pre-order")
    while stack:
        block, parent, depth, protected, in_catch = stack.pop()
        given = block.get("number") if repeated is None else None
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
