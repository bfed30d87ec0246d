"""A JSON decoder without recursion, for recipe trees deeper than ``json.loads`` can take.

``json.loads`` recurses once per nesting level and fails at about 496 nested recipe blocks on
CPython 3.11 (recursion limit 1,000); genuine recipes are shallow, but the parser must not lose a
recipe to its depth, and tests hold expectations on 1,000- and 10,000-deep trees. A depth limit
would reject those, and the libraries tried (orjson stops at 1,024 levels; ijson takes ~10 s at
10,000 blocks against ~0.3 s here) do not do better, so this decoder stays (see the parser's
docstring). Pure module.
"""

from __future__ import annotations

import json
import re
from json.decoder import scanstring
from typing import Any

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


def loads(text: str) -> Any:
    """``json.loads(text)``, also for a tree nested deeper than CPython's decoder recurses.

    Every reader of recipe code uses this, not ``json.loads``: a deep recipe that syncs must not
    stop a later step (descriptions, analysis) with a RecursionError.
    """
    try:
        return json.loads(text)
    except RecursionError:
        return _loads_iterative(text)


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
