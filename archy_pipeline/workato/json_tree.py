"""A JSON decoder without recursion, for recipe trees deeper than ``json.loads`` can take.

``json.loads`` recurses once per nesting level and fails at about 496 nested recipe blocks on
CPython 3.11 (recursion limit 1,000); genuine recipes are shallow, but the parser must not lose a
recipe to its depth, and tests hold expectations on 1,000- and 10,000-deep trees. A depth limit
would reject those, and the libraries tried (orjson stops at 1,024 levels; ijson takes ~10 s at
10,000 blocks against ~0.3 s here) do not do better, so this decoder stays (see the parser's
docstring). :func:`loads` tries orjson first (with its check for long integers, about 1.3 times
faster than ``json.loads`` on pages of recipes with their code and on the code itself), and
falls back to ``json.loads``, then to this decoder, for what orjson refuses or misreads. Pure
module.
"""

from __future__ import annotations

import json
import re
from json.decoder import scanstring
from typing import Any

import orjson

_WS = re.compile(r"[ \t\n\r]*")
_DIGITS_AS_ZERO = bytes.maketrans(b"123456789", b"000000000")
_NINETEEN_DIGITS = b"0" * 19
_NUMBER = re.compile(r"(-?(?:0|[1-9]\d*))(\.\d+)?([eE][-+]?\d+)?")
_CONSTANTS = (
    ("null", None),
    ("true", True),
    ("false", False),
    ("NaN", float("nan")),
    ("Infinity", float("inf")),
    ("-Infinity", float("-inf")),
)


def loads(text: str | bytes | bytearray) -> Any:
    """``json.loads(text)``, also for a tree nested deeper than CPython's decoder recurses.

    Every reader of recipe code, and the Workato client for every answer, uses this, not
    ``json.loads``: a deep value must not stop a sync or a later step (descriptions,
    analysis) with a RecursionError. Bytes are decoded as ``json.loads`` decodes them.

    orjson decodes the common case; what it refuses (more than 1,024 levels, ``NaN`` and
    ``Infinity``, text that is not UTF-8, lone surrogates, and of course what is not JSON at
    all) goes through ``json.loads``, and so does text with 19 digits in a row (orjson would
    read an integer beyond 64 bits as a float), so the result and the errors are
    ``json.loads``'s.
    """
    # orjson reads an integer beyond 64 bits as a float (json.loads keeps it exact): text with
    # 19 digits in a row anywhere (in a string too) is left to json.loads.
    data = text.encode("utf-8", "surrogatepass") if isinstance(text, str) else bytes(text)
    if _NINETEEN_DIGITS not in data.translate(_DIGITS_AS_ZERO):
        try:
            return orjson.loads(data)
        except orjson.JSONDecodeError:
            pass
    try:
        return json.loads(text)
    except RecursionError:
        if isinstance(text, (bytes, bytearray)):
            text = text.decode(json.detect_encoding(text), "surrogatepass")
        return _loads_iterative(text)


def depth(value: Any) -> int:
    """How deeply ``value`` nests: 0 for a scalar, 1 for a list or object of scalars (empty
    ones included), one more per level below. Without recursion."""
    deepest = 0
    stack: list[tuple[Any, int]] = [(value, 0)]
    while stack:
        item, level = stack.pop()
        if isinstance(item, dict):
            item = item.values()
        elif not isinstance(item, (list, tuple)):
            continue
        level += 1
        deepest = max(deepest, level)
        stack.extend((child, level) for child in item if isinstance(child, (dict, list, tuple)))
    return deepest


def dumps(value: Any) -> str:
    """``json.dumps(value, ensure_ascii=False, separators=(",", ":"))`` for a value of any
    depth (the standard encoder recurses, and fails about 1,000 levels down). Without
    recursion; keys in their order, values of JSON types (what :func:`loads` returns)."""
    scalar = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode
    parts: list[str] = []
    # A stack of pending pieces: a value to write, or a literal text (a closing bracket, a
    # comma, a key).
    stack: list[tuple[bool, Any]] = [(False, value)]
    while stack:
        literal, item = stack.pop()
        if literal:
            parts.append(item)
        elif isinstance(item, dict):
            parts.append("{")
            stack.append((True, "}"))
            pieces = list(item.items())
            for i in range(len(pieces) - 1, -1, -1):
                key, child = pieces[i]
                stack.append((False, child))
                stack.append((True, ("," if i else "") + scalar(str(key)) + ":"))
        elif isinstance(item, (list, tuple)):
            parts.append("[")
            stack.append((True, "]"))
            for i in range(len(item) - 1, -1, -1):
                stack.append((False, item[i]))
                if i:
                    stack.append((True, ","))
        else:
            parts.append(scalar(item))
    return "".join(parts)


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
