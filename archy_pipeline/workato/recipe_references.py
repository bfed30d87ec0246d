"""References out of a recipe step: called recipes and services, Pub/Sub topics, lookup tables,
HTTP hosts. Pure module; used by :mod:`archy_pipeline.workato.recipe_parser`."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from archy_pipeline.workato.recipe_model import (
    _DIGITS,
    _PUBLISH,
    _RECIPE_FUNCTION_CALLS,
    _SCHEME_AUTHORITY,
    _SERVICE_CALLS,
    _SUBSCRIBE,
    EXCERPT_CHARS,
    _clip,
    _excerpt,
    _is_int,
    _is_ref,
    _kind,
    _Warnings,
)
from archy_pipeline.workato.vocabulary import ADHOC_HTTP_ACTION, is_dynamic


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
