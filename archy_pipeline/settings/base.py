"""The building blocks of the settings models: a strict section, and checks of single values.

Each check raises ``ValueError`` with words a user of archy.yaml reads; the loader puts the
first one into one line with its key path (:mod:`archy_pipeline.settings.errors`).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, model_validator

from archy_pipeline.settings.errors import shown


class Section(BaseModel):
    """A mapping in archy.yaml: its own keys only, values checked strictly, frozen."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)

    @classmethod
    def _prepare(cls, data: dict[Any, Any]) -> dict[Any, Any]:
        """Adjust the raw mapping before its keys are checked (a hook for subclasses)."""
        return data

    @model_validator(mode="before")
    @classmethod
    def _known_keys(cls, data: Any) -> Any:
        if isinstance(data, BaseModel):
            return data
        if not isinstance(data, Mapping):
            raise ValueError(f"must be a mapping (key: value), not {shown(data)}")
        data = cls._prepare(dict(data))
        unknown = [str(key) for key in data if key not in cls.model_fields]
        if unknown:
            raise ValueError(
                f"unknown key{'s' if len(unknown) > 1 else ''} {', '.join(unknown)}; "
                f"allowed: {', '.join(cls.model_fields)}"
            )
        return data


def listed(value: Any) -> Any:
    """One value (or null) where a list is allowed: a list of it (or an empty one)."""
    if value is None:
        return ()
    if isinstance(value, (str, int, float, bool)):
        return (value,)
    return tuple(value) if isinstance(value, list) else value


def as_list(value: Any) -> Any:
    """A list, or null for an empty one."""
    if value is None:
        return ()
    if not isinstance(value, list):
        raise ValueError(f"must be a list, not {shown(value)}")
    return tuple(value)


#: A string or a list of strings.
Strings = Annotated[tuple[str, ...], BeforeValidator(listed)]

_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def env_name(what: str) -> BeforeValidator:
    """The NAME of an environment variable holding ``what`` (a secret)."""

    def check(value: Any) -> str:
        if not isinstance(value, str) or not _ENV_NAME.fullmatch(value):
            # The value may be the secret itself, pasted by mistake: never echo it.
            raise ValueError(
                f"must be the NAME of an environment variable holding the {what} (letters, "
                f"digits and _), never the {what} itself"
            )
        return value

    return BeforeValidator(check)


def non_blank(what: str) -> BeforeValidator:
    def check(value: Any) -> Any:
        if not isinstance(value, str) or not value.strip():
            raise ValueError(f"must be {what} (a non-empty string), not {shown(value)}")
        return value.strip()

    return BeforeValidator(check)


def glob_problem(pattern: str) -> str | None:
    """Why a folder path glob cannot match what it says (None: it can)."""
    if not pattern.strip():
        return "is empty"
    if "//" in pattern or pattern.endswith("/"):
        return "has an empty path segment ('//' or a trailing '/')"
    i = 0
    while i < len(pattern):
        if pattern[i] != "[":
            i += 1
            continue
        # fnmatch: '[' opens a set up to the next ']' ('[]...]' and '[!]...]' hold a ']').
        j = i + 1
        j += pattern[j : j + 1] == "!"
        j += pattern[j : j + 1] == "]"
        end = pattern.find("]", j)
        if end < 0:
            return f"opens a '[' at position {i + 1} that is never closed (write [[] for '[')"
        i = end + 1
    return None


def number(low: float, high: float | None = None, what: str = "a number") -> BeforeValidator:
    """A number (an int is fine) from ``low`` (to ``high``), as a float."""

    def check(value: Any) -> float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ValueError(f"must be {what}, not {shown(value)}")
        if high is not None and not low <= value <= high:
            raise ValueError(f"must be {what} from {low:g} to {high:g}, not {shown(value)}")
        if value < low:
            raise ValueError(f"must be {what} ({low:g} or more), not {shown(value)}")
        return float(value)

    return BeforeValidator(check)


def count(minimum: int = 0) -> BeforeValidator:
    """A whole number (``3.0`` is fine) of at least ``minimum``, as an int."""

    def check(value: Any) -> int:
        if (
            isinstance(value, bool)
            or not isinstance(value, (int, float))
            or not float(value).is_integer()
        ):
            raise ValueError(f"must be an integer, not {shown(value)}")
        if value < minimum:
            raise ValueError(f"must be at least {minimum}, not {shown(value)}")
        return int(value)

    return BeforeValidator(check)


def optional(check: BeforeValidator) -> BeforeValidator:
    return BeforeValidator(lambda value: None if value is None else check.func(value))


def http_url_problem(value: Any) -> str | None:
    from urllib.parse import urlsplit

    if isinstance(value, str):
        parts = urlsplit(value.strip())
        if "@" in parts.netloc:  # user:password@host: never shown, never sent
            host = parts.netloc.rpartition("@")[2]
            return (
                f"the URL of host {host!r} carries a user name or password before '@'; "
                "Workato's API takes the token only: remove them"
            )
        if parts.scheme in ("http", "https") and parts.netloc:
            return None
    return f"{shown(value)} is not an http(s) URL such as https://www.workato.com/api"


def data_center_problem(value: Any) -> str | None:
    from archy_pipeline.workato.transport import DATA_CENTERS

    if isinstance(value, str) and value.strip().lower() in DATA_CENTERS:
        return None
    return (
        f"{shown(value)} is not a Workato data center; use one of "
        f"{', '.join(DATA_CENTERS)} (or base_url for another host)"
    )
