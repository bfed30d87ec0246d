"""What a notification says: a digest of one sync's changes and errors, or a failed-sync
notice, each as plain text, HTML and Slack blocks (:class:`Digest`).

The HTML comes from the jinja2 templates in ``templates/`` (autoescaped); the plain text and
the Slack blocks are built here.
"""

from __future__ import annotations

import dataclasses
import json
import re
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cache
from typing import Any
from urllib.parse import urlsplit

import jinja2

from archy_pipeline.notify.changes import EVENT_TYPES

#: Items listed per event type before "... and K more".
MAX_ITEMS_PER_GROUP = 10
_ITEM_CHARS = 300  # one listed item (a name and its detail)
_ERROR_CHARS = 1000  # one sync error, or a failure's reason in Slack
_REASON_CHARS = 4000  # a failure's reason in the email
_SLACK_SECTION_CHARS = 3000  # Slack's limit for a section's text
_SLACK_HEADER_CHARS = 150  # Slack's limit for a header's text


# ---------------------------------------------------------------------- digests


@dataclass(frozen=True)
class Digest:
    """One message, ready for every channel."""

    subject: str
    text: str
    html: str | None
    slack_payload: dict[str, Any]
    workspace: str = ""
    #: Events (and sync errors) per type, for logs and metadata.
    counts: Mapping[str, int] = field(default_factory=dict)


_TITLES = {
    "new_recipe": "New recipes",
    "new_connection": "New connections",
    "recipe_status_changed": "Recipe status changes",
    "recipe_deleted": "Deleted recipes",
    "connection_deleted": "Deleted connections",
    "connection_auth_changed": "Connection authorization changes",
    "new_dependency": "New dependencies",
    "dependency_removed": "Removed dependencies",
    "new_insight": "New insights",
    "sync_error": "Sync errors",
    "other": "Other changes",
}
_PHRASES = {
    "new_recipe": ("new recipe", "new recipes"),
    "new_connection": ("new connection", "new connections"),
    "recipe_status_changed": ("recipe status change", "recipe status changes"),
    "recipe_deleted": ("recipe deleted", "recipes deleted"),
    "connection_deleted": ("connection deleted", "connections deleted"),
    "connection_auth_changed": ("connection auth change", "connection auth changes"),
    "new_dependency": ("new dependency", "new dependencies"),
    "dependency_removed": ("dependency removed", "dependencies removed"),
    "new_insight": ("new insight", "new insights"),
    "sync_error": ("sync error", "sync errors"),
    "other": ("other change", "other changes"),
}
_STOPPED = {"stopped", "inactive", "paused", "disabled"}
_STARTED = {"active", "running", "started", "enabled"}


@dataclass(frozen=True)
class _Group:
    key: str
    title: str
    items: tuple[str, ...]
    total: int
    summary: tuple[str, ...]  # this group's parts of the subject line


def build_digest(
    workspace: str,
    events: Sequence[Mapping[str, Any] | Any],
    sync_errors: Sequence[str],
    run_url: str | None,
    *,
    include: Collection[str] | None = None,
    max_items: int = MAX_ITEMS_PER_GROUP,
) -> Digest | None:
    """A digest of one sync's change events and errors, or ``None`` when there is nothing.

    ``events`` are rows of ``archy.change_events`` (dicts; ``before``/``after`` may be dicts
    or their JSON text) or ``ChangeEvent`` objects; ``sync_error`` events join
    ``sync_errors``. ``include`` keeps only those event types (``NotifySettings.on``); each
    group lists ``max_items`` items, then "... and K more".
    """
    wanted = set(EVENT_TYPES if include is None else include)
    buckets: dict[str, list[dict[str, Any]]] = {}
    for raw in events:
        event = _as_dict(raw)
        kind = event.get("type")
        kind = kind if kind in EVENT_TYPES else "other"
        if kind in wanted or (kind == "other" and wanted >= set(EVENT_TYPES)):
            buckets.setdefault(kind, []).append(event)
    errors: list[str] = []
    if "sync_error" in wanted:
        errors = [_clip(_one_line(str(e)), _ERROR_CHARS) for e in sync_errors if str(e).strip()]
        errors += [_sync_error_text(e) for e in buckets.pop("sync_error", [])]
        errors = list(dict.fromkeys(errors))  # the same error twice is listed once
    groups = []
    for kind in (*EVENT_TYPES, "other"):
        if kind == "sync_error":
            lines = errors
        else:
            lines = [_item_text(kind, e) for e in buckets.get(kind, [])]
        if not lines:
            continue
        if kind == "recipe_status_changed":
            summary = _status_summary(buckets[kind])
        else:
            summary = (_count(len(lines), *_PHRASES[kind]),)
        groups.append(_Group(kind, _TITLES[kind], tuple(lines[:max_items]), len(lines), summary))
    if not groups:
        return None
    name = _one_line(workspace) or "workspace"
    summary = ", ".join(part for g in groups for part in g.summary)
    subject = f"[archy] {name}: {summary}"
    run_url = _safe_url(run_url)
    text = _digest_text(name, summary, groups, run_url)
    page = _render("digest.html", name=name, summary=summary, groups=groups, run_url=run_url)
    slack = _digest_slack(name, summary, subject, groups, run_url)
    counts = {g.key: g.total for g in groups}
    return Digest(subject, text, page, slack, name, counts)


def failure_notice(
    workspace: str, job_name: str, run_id: str, reason: str, run_url: str | None
) -> Digest:
    """The notice for a failed sync run (sent whatever ``on`` lists)."""
    name = _one_line(workspace) or "workspace"
    job = _one_line(job_name) or "sync"
    run = _one_line(run_id)
    reason = (reason or "").strip() or "no reason was recorded"
    run_url = _safe_url(run_url)
    subject = f"[archy] {name}: sync failed ({job})"
    lines = [
        f"archy: the sync of {name} failed",
        "",
        f"Job: {job}",
        f"Run: {run}",
        "",
        "Reason:",
        _clip(reason, _REASON_CHARS),
    ]
    if run_url:
        lines += ["", f"Sync run: {run_url}"]
    text = "\n".join(lines) + "\n"
    page = _render(
        "failure.html",
        name=name,
        job=job,
        run=run,
        reason=_clip(reason, _REASON_CHARS),
        run_url=run_url,
    )
    blocks: list[dict[str, Any]] = [
        _slack_header(f"archy · {name}: sync failed"),
        _slack_section(f"*Job* `{_s(job)}` · *run* `{_s(run)}`"),
        _slack_section(f"*Reason*\n```{_s(_clip(reason, _ERROR_CHARS))}```"),
    ]
    if run_url:
        blocks.append(_slack_context(f"<{_s(run_url)}|Open the sync run>"))
    slack = {"text": subject, "blocks": blocks}
    return Digest(subject, text, page, slack, name, {"sync_failed": 1})


def _as_dict(event: Mapping[str, Any] | Any) -> dict[str, Any]:
    if isinstance(event, Mapping):
        data = dict(event)
    elif dataclasses.is_dataclass(event) and not isinstance(event, type):
        data = {f.name: getattr(event, f.name) for f in dataclasses.fields(event)}
    else:
        data = dict(vars(event))
    for side in ("before", "after"):
        value = data.get(side)
        if isinstance(value, str):
            try:
                value = json.loads(value)
            except ValueError:
                value = None
        data[side] = value if isinstance(value, Mapping) else None
    return data


def _label(event: Mapping[str, Any]) -> str:
    name = _one_line(event.get("subject_name"))
    subject_id = _one_line(event.get("subject_id"))
    if not name:
        return f"{event.get('subject_type') or 'item'} {subject_id}".strip()
    if subject_id and event.get("subject_type") in ("recipe", "connection"):
        return f"{name} (id {subject_id})"
    return name


def _item_text(kind: str, event: Mapping[str, Any]) -> str:
    before = event.get("before") or {}
    after = event.get("after") or {}
    label = _label(event)
    detail = ""
    if kind in ("recipe_status_changed", "connection_auth_changed"):
        if before.get("status") or after.get("status"):
            detail = f"{before.get('status') or '?'} → {after.get('status') or '?'}"
        cause = after.get("stop_cause") or after.get("authorization_error")
        if cause:
            detail = f"{detail} ({_one_line(cause)})" if detail else _one_line(cause)
    elif kind == "new_insight":
        text = after.get("detail") or after.get("message") or after.get("description")
        severity = after.get("severity")
        label = f"[{_one_line(severity)}] {label}" if severity else label
        detail = _one_line(text) if text else ""
    elif kind == "other":
        detail = _one_line(event.get("type"))
    return _clip(f"{label}: {detail}" if detail else label, _ITEM_CHARS)


def _sync_error_text(event: Mapping[str, Any]) -> str:
    after = event.get("after") or {}
    message = _one_line(after.get("message"))
    subject = _one_line(event.get("subject_name"))
    kind = _one_line(after.get("kind"))
    where = f"{subject} ({kind})" if subject and kind else subject or kind
    text = f"{where}: {message}" if where and message else (message or where or "sync error")
    return _clip(text, _ERROR_CHARS)


def _status_summary(events: list[dict[str, Any]]) -> tuple[str, ...]:
    stopped = started = other = 0
    for event in events:
        status = str((event.get("after") or {}).get("status") or "").lower()
        before = str((event.get("before") or {}).get("status") or "").lower()
        if status in _STOPPED and before not in _STOPPED:
            stopped += 1
        elif status in _STARTED and before not in _STARTED:
            started += 1
        else:
            other += 1
    parts = []
    if stopped:
        parts.append(f"{stopped} stopped")
    if started:
        parts.append(f"{started} started")
    if other:
        parts.append(_count(other, *_PHRASES["recipe_status_changed"]))
    return tuple(parts)


def _digest_text(name: str, summary: str, groups: list[_Group], run_url: str | None) -> str:
    lines = [f"archy: changes in {name}", summary, ""]
    for group in groups:
        lines.append(f"{group.title} ({group.total})")
        lines += [f"  - {item}" for item in group.items]
        if group.total > len(group.items):
            lines.append(f"  ... and {group.total - len(group.items)} more")
        lines.append("")
    if run_url:
        lines += [f"Sync run: {run_url}", ""]
    lines.append("-- ")
    lines.append("Sent by archy-pipeline; the notifications: section of archy.yaml chooses what.")
    return "\n".join(lines) + "\n"


def _digest_slack(
    name: str, summary: str, subject: str, groups: list[_Group], run_url: str | None
) -> dict[str, Any]:
    blocks: list[dict[str, Any]] = [
        _slack_header(f"archy · {name}"),
        _slack_section(_s(summary)),
    ]
    for group in groups:
        lines = [f"*{_s(group.title)} ({group.total})*"]
        lines += [f"• {_s(item)}" for item in group.items]
        if group.total > len(group.items):
            lines.append(f"_... and {group.total - len(group.items)} more_")
        blocks.append(_slack_section("\n".join(lines)))
    if run_url:
        blocks.append(_slack_context(f"<{_s(run_url)}|Open the sync run>"))
    return {"text": subject, "blocks": blocks}


def _slack_header(text: str) -> dict[str, Any]:
    return {"type": "header", "text": {"type": "plain_text", "text": _clip(text, 150)}}


def _slack_section(mrkdwn: str) -> dict[str, Any]:
    return {"type": "section", "text": {"type": "mrkdwn", "text": _clip(mrkdwn, 3000)}}


def _slack_context(mrkdwn: str) -> dict[str, Any]:
    return {"type": "context", "elements": [{"type": "mrkdwn", "text": mrkdwn}]}


@cache
def _templates() -> jinja2.Environment:
    """The HTML templates (package data in ``templates/``); every value is escaped."""
    return jinja2.Environment(
        loader=jinja2.PackageLoader("archy_pipeline.notify", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )


def _render(template: str, **values: Any) -> str:
    return _templates().get_template(template).render(**values)


def _count(n: int, one: str, many: str) -> str:
    return f"{n} {one if n == 1 else many}"


def _one_line(value: Any) -> str:
    return " ".join(str(value).split()) if value is not None else ""


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _s(text: str) -> str:
    """Escape for Slack mrkdwn (only &, < and > are special)."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _safe_url(url: str | None) -> str | None:
    if not url:
        return None
    url = url.strip()
    return url if urlsplit(url).scheme in ("http", "https") and not re.search(r"\s", url) else None
