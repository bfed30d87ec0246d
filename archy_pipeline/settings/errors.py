"""One error type for invalid settings, and pydantic's errors told in one line."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from pydantic import ValidationError


class ConfigError(ValueError):
    """archy.yaml or the environment is not valid.

    The message is one line naming the file, the key path and the problem, e.g.
    ``archy.yaml: schedules.daily: '99 99 * * *' is not a valid cron expression``.
    """


#: pydantic's error types, in words a user of archy.yaml reads.
_TYPE_WORDS = {
    "string_type": "must be a string",
    "int_type": "must be an integer",
    "int_parsing": "must be an integer",
    "int_from_float": "must be an integer",
    "float_type": "must be a number",
    "float_parsing": "must be a number",
    "bool_type": "must be true or false",
    "bool_parsing": "must be true or false",
    "list_type": "must be a list",
    "tuple_type": "must be a list",
    "dict_type": "must be a mapping (key: value)",
    "model_type": "must be a mapping (key: value)",
}


def key_path(loc: Sequence[Any]) -> str:
    """``("workspaces", 0, "sync", "recipes")`` -> ``workspaces[0].sync.recipes``."""
    path = ""
    for part in loc:
        if part == "[key]":  # pydantic marks an invalid dict key this way
            continue
        if isinstance(part, int):
            path += f"[{part}]"
        else:
            path += f".{part}" if path else str(part)
    return path


def shown(value: Any) -> str:
    """A value as an error message quotes it: short, and containers by kind only."""
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, (list, tuple)):
        return "a list"
    text = repr(value)
    return text if len(text) <= 60 else f"{text[:57]}..."


def describe(error: Any) -> str:
    """One pydantic error (a dict from ``ValidationError.errors()``) as ``path: problem``."""
    kind = error["type"]
    message = str(error["msg"])
    if kind in ("value_error", "assertion_error"):
        # Our own validators: their text is the whole message (and never echoes a secret).
        message = message.split(", ", 1)[1] if ", " in message else message
    elif kind == "missing":
        message = "is required"
    elif kind in _TYPE_WORDS:
        message = f"{_TYPE_WORDS[kind]}, not {shown(error.get('input'))}"
    else:
        message = message.replace("Input should be", "must be", 1)
        if "input" in error:
            message += f", not {shown(error['input'])}"
    path = key_path(error["loc"])
    return f"{path}: {message}" if path else message


def one_line(error: ValidationError, source: str) -> str:
    """The first problem pydantic found, prefixed by the file: what the user fixes first."""
    return f"{source}: {describe(error.errors(include_url=False)[0])}"
