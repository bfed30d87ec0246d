"""Notifications: a digest of change events and sync errors after each sync, and a notice when
a sync fails, by email (SMTP) and by a generic webhook that takes Slack-compatible JSON.

Configured in the ``notifications:`` section of ``archy.yaml``; without it nothing is sent::

    notifications:
      email:
        host: smtp.acme.example        # or env ARCHY_SMTP_HOST (which wins when set)
        port: 587                      # or env ARCHY_SMTP_PORT; default 25 / 587 / 465 by tls
        tls: starttls                  # none | starttls | ssl (default starttls)
        username_env: ARCHY_SMTP_USER  # NAMES of environment variables, never the secrets
        password_env: ARCHY_SMTP_PASSWORD
        sender: archy@acme.example
        recipients: [architects@acme.example]
      webhook:
        url_env: ARCHY_WEBHOOK_URL     # the URL is a secret (Slack puts its key in the path)
      on: [new_recipe, recipe_status_changed, sync_error]   # event types to include; default all

Secrets are read from the environment when the settings are parsed and never appear in a
repr, a log line, a :class:`DeliveryResult` or an exception message: the webhook is named by
its scheme and host only. :func:`send` never raises: a notification must never fail a sync.

No Dagster import: the sync job's hooks call :func:`build_digest`, :func:`failure_notice` and
:func:`send`.
"""

from __future__ import annotations

import base64
import dataclasses
import html
import json
import logging
import os
import re
import smtplib
import ssl
import time
from collections.abc import Collection, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.utils import formatdate, make_msgid, parseaddr
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import yaml

from archy_pipeline.config import ConfigError, config_path
from archy_pipeline.notify.changes import EVENT_TYPES

logger = logging.getLogger(__name__)

#: Event types of ``archy.change_events``, in the order a digest lists them.
TLS_MODES = ("none", "starttls", "ssl")
DEFAULT_PORTS = {"none": 25, "starttls": 587, "ssl": 465}
DEFAULT_USERNAME_ENV = "ARCHY_SMTP_USER"
DEFAULT_PASSWORD_ENV = "ARCHY_SMTP_PASSWORD"
DEFAULT_WEBHOOK_URL_ENV = "ARCHY_WEBHOOK_URL"
HOST_ENV = "ARCHY_SMTP_HOST"
PORT_ENV = "ARCHY_SMTP_PORT"

#: Items listed per event type before "... and K more".
MAX_ITEMS_PER_GROUP = 10
SMTP_TIMEOUT = 30.0
WEBHOOK_TIMEOUT = 10.0
#: Pauses before the webhook's retries (one retry per entry) on 5xx, 429 or connection errors.
WEBHOOK_RETRY_DELAYS: tuple[float, ...] = (1.0, 3.0)
#: Longest wait a 429's Retry-After may ask for.
MAX_RETRY_AFTER = 10.0

_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_ITEM_CHARS = 300  # one listed item (a name and its detail)
_ERROR_CHARS = 1000  # one sync error, or a failure's reason in Slack
_REASON_CHARS = 4000  # a failure's reason in the email
_SLACK_SECTION_CHARS = 3000  # Slack's limit for a section's text
_SLACK_HEADER_CHARS = 150  # Slack's limit for a header's text


# ---------------------------------------------------------------------- settings


class Secret:
    """A value read from an environment variable; never shown by ``repr``/``str``."""

    __slots__ = ("_value", "env_name")

    def __init__(self, env_name: str, value: str | None) -> None:
        self.env_name = env_name
        self._value = value or ""

    def reveal(self) -> str:
        return self._value

    def __bool__(self) -> bool:
        return bool(self._value)

    def __eq__(self, other: object) -> bool:
        return (
            isinstance(other, Secret)
            and other.env_name == self.env_name
            and other._value == self._value
        )

    def __hash__(self) -> int:
        return hash(self.env_name)

    def __repr__(self) -> str:
        return f"Secret(env_name={self.env_name!r}, set={bool(self._value)})"

    __str__ = __repr__


@dataclass(frozen=True)
class EmailSettings:
    host: str
    port: int
    tls: str
    sender: str
    recipients: tuple[str, ...]
    username_env: str = DEFAULT_USERNAME_ENV
    password_env: str = DEFAULT_PASSWORD_ENV
    #: The user name and password, read from ``username_env`` / ``password_env``.
    username: Secret = field(default_factory=lambda: Secret(DEFAULT_USERNAME_ENV, None))
    password: Secret = field(default_factory=lambda: Secret(DEFAULT_PASSWORD_ENV, None))
    #: ``username_env`` was written in archy.yaml, so an unset variable is an error (with the
    #: default name, an unset variable just means "no login").
    login_required: bool = False

    @property
    def target(self) -> str:
        return f"{self.host}:{self.port}"


@dataclass(frozen=True)
class WebhookSettings:
    url_env: str = DEFAULT_WEBHOOK_URL_ENV
    url: Secret = field(default_factory=lambda: Secret(DEFAULT_WEBHOOK_URL_ENV, None))

    @property
    def target(self) -> str:
        """The URL's scheme and host: all of it that may be shown."""
        return _public_part(self.url.reveal()) or f"(${self.url_env})"


@dataclass(frozen=True)
class NotifySettings:
    email: EmailSettings | None = None
    webhook: WebhookSettings | None = None
    #: Event types a digest includes (``sync_error`` covers the sync errors too).
    on: tuple[str, ...] = EVENT_TYPES

    @property
    def enabled(self) -> bool:
        return self.email is not None or self.webhook is not None

    def wants(self, event_type: str) -> bool:
        return event_type in self.on


def parse_notify_settings(
    data: Mapping[str, Any] | None,
    env: Mapping[str, str] = os.environ,
    *,
    source: str = "archy.yaml",
) -> NotifySettings:
    """Validate the ``notifications:`` section of archy.yaml (``None``: notifications off).

    Secrets and ``ARCHY_SMTP_HOST`` / ``ARCHY_SMTP_PORT`` come from ``env``. A secret variable
    that is not set is no error here: :func:`send` reports it for that channel, so a missing
    secret never stops a sync. Invalid values raise :class:`ConfigError` naming the key.
    """
    where = f"{source}: notifications"
    if data is None:
        return NotifySettings()
    if isinstance(data, Mapping) and True in data:
        # YAML 1.1 (PyYAML) reads the key `on:` as the boolean true.
        if "on" in data:
            raise ConfigError(f"{where}: 'on' is given twice")
        data = {("on" if key is True else key): value for key, value in data.items()}
    section = _mapping(data, where, {"email", "webhook", "on"})
    on = EVENT_TYPES
    if section.get("on") is not None:
        raw_on = section["on"]
        if not isinstance(raw_on, list) or not all(isinstance(t, str) for t in raw_on):
            raise ConfigError(
                f"{where}.on must be a list of event types from: {', '.join(EVENT_TYPES)}"
            )
        unknown = [t for t in raw_on if t not in EVENT_TYPES]
        if unknown:
            raise ConfigError(
                f"{where}.on: {', '.join(map(repr, unknown))} not an event type; "
                f"allowed: {', '.join(EVENT_TYPES)}"
            )
        on = tuple(t for t in EVENT_TYPES if t in raw_on)
    email = None
    if section.get("email") is not None:
        email = _email_settings(section["email"], f"{where}.email", env)
    webhook = None
    if section.get("webhook") is not None:
        raw = _mapping(section["webhook"], f"{where}.webhook", {"url_env"})
        url_env = _env_name(
            raw.get("url_env", DEFAULT_WEBHOOK_URL_ENV), f"{where}.webhook.url_env", "URL"
        )
        webhook = WebhookSettings(url_env, Secret(url_env, env.get(url_env)))
    return NotifySettings(email, webhook, on)


def load_notify_settings(
    path: str | Path | None = None, env: Mapping[str, str] = os.environ
) -> NotifySettings:
    """The ``notifications:`` section of archy.yaml (``ARCHY_CONFIG``); off without a file."""
    file = Path(path) if path is not None else config_path()
    if not file.exists():
        return NotifySettings()
    try:
        data = yaml.safe_load(file.read_text()) or {}
    except yaml.YAMLError as error:
        raise ConfigError(f"{file} is not valid YAML: {error}") from None
    section = data.get("notifications") if isinstance(data, dict) else None
    return parse_notify_settings(section, env, source=str(file))


def _email_settings(item: Any, where: str, env: Mapping[str, str]) -> EmailSettings:
    keys = {"host", "port", "tls", "username_env", "password_env", "sender", "recipients"}
    data = _mapping(item, where, keys)
    tls = data.get("tls", "starttls")
    if tls is False:  # YAML reads `tls: off` / `tls: no` / `tls: false` as false
        tls = "none"
    if tls not in TLS_MODES:
        raise ConfigError(f"{where}.tls must be one of {', '.join(TLS_MODES)}, not {tls!r}")
    host = env.get(HOST_ENV) or data.get("host")
    if not isinstance(host, str) or not host.strip() or any(c.isspace() for c in host.strip()):
        raise ConfigError(f"{where}.host must be the SMTP server's host name (or set {HOST_ENV})")
    if env.get(PORT_ENV):
        port: Any = env[PORT_ENV]
        if not port.isdigit():
            raise ConfigError(f"{PORT_ENV} must be a port number from 1 to 65535")
        port = int(port)
    else:
        port = data.get("port", DEFAULT_PORTS[tls])
    if isinstance(port, bool) or not isinstance(port, int) or not 1 <= port <= 65535:
        raise ConfigError(f"{where}.port must be a port number from 1 to 65535, not {port!r}")
    sender = data.get("sender")
    if not _is_address(sender):
        raise ConfigError(f"{where}.sender must be an email address such as archy@acme.example")
    recipients = data.get("recipients")
    if (
        not isinstance(recipients, list)
        or not recipients
        or not all(_is_address(r) for r in recipients)
    ):
        raise ConfigError(
            f"{where}.recipients must be a non-empty list of email addresses, "
            "e.g. [architects@acme.example]"
        )
    username_env = _env_name(
        data.get("username_env", DEFAULT_USERNAME_ENV), f"{where}.username_env", "user name"
    )
    password_env = _env_name(
        data.get("password_env", DEFAULT_PASSWORD_ENV), f"{where}.password_env", "password"
    )
    return EmailSettings(
        host=host.strip(),
        port=port,
        tls=tls,
        sender=sender,
        recipients=tuple(recipients),
        username_env=username_env,
        password_env=password_env,
        username=Secret(username_env, env.get(username_env)),
        password=Secret(password_env, env.get(password_env)),
        login_required="username_env" in data,
    )


def _is_address(value: Any) -> bool:
    return (
        isinstance(value, str)
        and "@" in parseaddr(value)[1]
        and not any(c in value for c in "\r\n\0")
    )


def _mapping(item: Any, where: str, allowed: set[str]) -> Mapping[str, Any]:
    if not isinstance(item, Mapping):
        raise ConfigError(f"{where} must be a mapping (key: value)")
    unknown = sorted(map(str, set(item) - allowed))
    if unknown:
        raise ConfigError(
            f"{where}: unknown key(s) {', '.join(unknown)}; allowed: {', '.join(sorted(allowed))}"
        )
    return item


def _env_name(value: Any, where: str, what: str) -> str:
    if not isinstance(value, str) or not _ENV_NAME.fullmatch(value):
        # The value may be the secret itself, pasted by mistake: never echo it.
        raise ConfigError(
            f"{where} must be the NAME of an environment variable holding the {what} "
            "(letters, digits and _), never the secret itself"
        )
    return value


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
    page = _digest_html(name, summary, groups, run_url)
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
    link = f'<p><a href="{_h(run_url)}">Open the sync run</a></p>' if run_url else ""
    page = _page(
        f"<h2>archy: the sync of {_h(name)} failed</h2>"
        f"<p>Job <b>{_h(job)}</b>, run <code>{_h(run)}</code></p>"
        f"<h3>Reason</h3><pre>{_h(_clip(reason, _REASON_CHARS))}</pre>"
        f"{link}"
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


def _digest_html(name: str, summary: str, groups: list[_Group], run_url: str | None) -> str:
    parts = [f"<h2>archy: changes in {_h(name)}</h2>", f"<p>{_h(summary)}</p>"]
    for group in groups:
        parts.append(f"<h3>{_h(group.title)} ({group.total})</h3><ul>")
        parts += [f"<li>{_h(item)}</li>" for item in group.items]
        parts.append("</ul>")
        if group.total > len(group.items):
            parts.append(f"<p><em>... and {group.total - len(group.items)} more</em></p>")
    if run_url:
        parts.append(f'<p><a href="{_h(run_url)}">Open the sync run</a></p>')
    parts.append(
        '<p style="color:#777;font-size:small">Sent by archy-pipeline; the notifications: '
        "section of archy.yaml chooses what.</p>"
    )
    return _page("".join(parts))


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


def _page(body: str) -> str:
    return (
        '<!DOCTYPE html><html><head><meta charset="utf-8"></head>'
        f'<body style="font-family:sans-serif">{body}</body></html>'
    )


def _count(n: int, one: str, many: str) -> str:
    return f"{n} {one if n == 1 else many}"


def _one_line(value: Any) -> str:
    return " ".join(str(value).split()) if value is not None else ""


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _h(text: str) -> str:
    return html.escape(text, quote=True)


def _s(text: str) -> str:
    """Escape for Slack mrkdwn (only &, < and > are special)."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _safe_url(url: str | None) -> str | None:
    if not url:
        return None
    url = url.strip()
    return url if urlsplit(url).scheme in ("http", "https") and not re.search(r"\s", url) else None


# ---------------------------------------------------------------------- delivery


@dataclass(frozen=True)
class DeliveryResult:
    channel: str  # "email" | "webhook"
    ok: bool
    error: str | None = None
    #: Where it went: "host:port" for email, scheme://host for the webhook (never a secret).
    target: str = ""
    attempts: int = 1


class _Failure(Exception):
    def __init__(self, reason: str, attempts: int = 1) -> None:
        super().__init__(reason)
        self.attempts = attempts


def send(digest: Digest | None, settings: NotifySettings | None) -> list[DeliveryResult]:
    """Deliver ``digest`` by every configured channel, each on its own; never raises.

    A delivery that fails is logged as a warning naming the channel and the reason, and
    returned with ``ok=False``.
    """
    if digest is None or settings is None:
        return []
    results = []
    if settings.email is not None:
        results.append(_deliver("email", settings.email, digest))
    if settings.webhook is not None:
        results.append(_deliver("webhook", settings.webhook, digest))
    return results


def _deliver(
    channel: str, settings: EmailSettings | WebhookSettings, digest: Digest
) -> DeliveryResult:
    target = channel
    secrets: list[str] | None = None  # None: not known, so no error text may be shown
    try:
        target = settings.target
        if isinstance(settings, EmailSettings):
            secrets = _login_secrets(settings.username.reveal(), settings.password.reveal())
            attempts = _send_email(digest, settings)
        else:
            secrets = _url_secrets(settings.url.reveal())
            attempts = _send_webhook(digest, settings)
    except Exception as error:
        attempts = getattr(error, "attempts", 1)
        if secrets is None:
            reason = f"{type(error).__name__} (details withheld: they may hold a secret)"
        else:
            reason = str(error) if isinstance(error, _Failure) else _describe(error)
            reason = _redact(reason, secrets)
        try:
            logger.warning("archy notification by %s to %s failed: %s", channel, target, reason)
        except Exception:  # pragma: no cover - a broken log handler must not fail the sync
            pass
        return DeliveryResult(channel, False, reason, target, attempts)
    try:
        logger.info("archy notification sent by %s to %s: %s", channel, target, digest.subject)
    except Exception:  # pragma: no cover
        pass
    return DeliveryResult(channel, True, None, target, attempts)


def _describe(error: BaseException) -> str:
    text = str(error).strip()
    return f"{type(error).__name__}: {text}" if text else type(error).__name__


def _send_email(digest: Digest, email: EmailSettings) -> int:
    username, password = email.username.reveal(), email.password.reveal()
    if email.login_required and not username:
        raise _Failure(f"environment variable {email.username_env} (the SMTP user) is not set")
    if username and not password:
        raise _Failure(f"environment variable {email.password_env} (the SMTP password) is not set")
    sender = parseaddr(email.sender)[1]
    message = EmailMessage()
    message["Subject"] = digest.subject
    message["From"] = email.sender
    message["To"] = ", ".join(email.recipients)
    message["Date"] = formatdate(usegmt=True)
    message["Message-ID"] = make_msgid("archy", domain=sender.rpartition("@")[2] or None)
    message["Auto-Submitted"] = "auto-generated"
    message.set_content(digest.text)
    if digest.html:
        message.add_alternative(digest.html, subtype="html")
    context = ssl.create_default_context()
    if email.tls == "ssl":
        client: smtplib.SMTP = smtplib.SMTP_SSL(
            email.host, email.port, timeout=SMTP_TIMEOUT, context=context
        )
    else:
        client = smtplib.SMTP(email.host, email.port, timeout=SMTP_TIMEOUT)
    with client:
        if email.tls == "starttls":
            client.starttls(context=context)
        if username:
            client.login(username, password)
        refused = client.send_message(
            message, from_addr=sender, to_addrs=[parseaddr(r)[1] for r in email.recipients]
        )
    if refused:
        logger.warning(
            "archy notification by email to %s: %d recipient(s) refused: %s",
            email.target,
            len(refused),
            ", ".join(sorted(refused)),
        )
    return 1


def _send_webhook(digest: Digest, hook: WebhookSettings) -> int:
    url = hook.url.reveal()
    if not url:
        raise _Failure(f"environment variable {hook.url_env} (the webhook URL) is not set")
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise _Failure(f"environment variable {hook.url_env} does not hold an http(s) URL")
    secrets = _url_secrets(url)
    attempts = 0
    reason = ""
    with (
        _redacted_logs(("httpx", "httpcore"), [(url, hook.target)] + [(s, "***") for s in secrets]),
        httpx.Client(timeout=WEBHOOK_TIMEOUT, follow_redirects=False) as client,
    ):
        for attempt in range(len(WEBHOOK_RETRY_DELAYS) + 1):
            attempts += 1
            delay = WEBHOOK_RETRY_DELAYS[attempt] if attempt < len(WEBHOOK_RETRY_DELAYS) else 0
            try:
                response = client.post(
                    url,
                    json=digest.slack_payload,
                    headers={"User-Agent": "archy-pipeline"},
                )
            except (httpx.TimeoutException, httpx.NetworkError, httpx.RemoteProtocolError) as e:
                reason = _describe(e)
                retry = True
            except httpx.HTTPError as e:
                raise _Failure(_redact(_describe(e), secrets), attempts) from None
            else:
                if response.is_success:
                    return attempts
                body = _one_line(response.text)[:200]
                reason = f"HTTP {response.status_code}" + (f": {body}" if body else "")
                retry = response.status_code >= 500 or response.status_code == 429
                if response.status_code == 429:
                    delay = max(delay, _retry_after(response))
            if not retry or attempt == len(WEBHOOK_RETRY_DELAYS):
                break
            logger.info(
                "archy notification by webhook to %s: %s; retrying in %.1fs",
                hook.target,
                _redact(reason, secrets),
                delay,
            )
            time.sleep(delay)
    raise _Failure(
        f"{_redact(reason, secrets)} (after {attempts} attempt{'s' if attempts > 1 else ''})",
        attempts,
    )


def _retry_after(response: httpx.Response) -> float:
    try:
        return min(float(response.headers.get("Retry-After", "0")), MAX_RETRY_AFTER)
    except ValueError:
        return 0.0


# ---------------------------------------------------------------------- secrets


def _public_part(url: str) -> str:
    """``scheme://host[:port]`` of a URL, or "" when it has none."""
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
        port = parts.port
    except ValueError:
        return ""
    if not parts.scheme or not host:
        return ""
    host = f"[{host}]" if ":" in host else host
    return f"{parts.scheme}://{host}" + (f":{port}" if port else "")


def _url_secrets(url: str) -> list[str]:
    """Every piece of the URL but its scheme and host, longest first."""
    if not url:
        return []
    secrets = [url]
    try:
        parts = urlsplit(url)
        secrets += [parts.path, parts.query, parts.fragment, parts.password or ""]
        public = _public_part(url)
        if public and url.startswith(public):
            secrets.append(url[len(public) :])
    except ValueError:
        pass
    return sorted({s for s in secrets if s and s not in ("/", "?")}, key=len, reverse=True)


def _login_secrets(username: str, password: str) -> list[str]:
    """The password and the forms AUTH PLAIN / AUTH LOGIN send it in."""
    if not password:
        return []
    forms = [
        password,
        base64.b64encode(password.encode()).decode(),
        base64.b64encode(f"\0{username}\0{password}".encode()).decode(),
    ]
    return sorted(set(forms), key=len, reverse=True)


def _redact(text: str, secrets: Sequence[str], mask: str = "***") -> str:
    for secret in secrets:
        if secret:
            text = text.replace(secret, mask)
    return text


class _RedactFilter(logging.Filter):
    """Masks secrets in the records of a library's logger (httpx logs every request's URL)."""

    def __init__(self, replacements: Sequence[tuple[str, str]]) -> None:
        super().__init__()
        self.replacements = [(secret, mask) for secret, mask in replacements if secret]

    def _clean(self, value: Any) -> Any:
        if isinstance(value, (int, float)) or value is None:
            return value
        text = str(value)
        if not any(secret in text for secret, _ in self.replacements):
            return value
        for secret, mask in self.replacements:
            text = text.replace(secret, mask)
        return text

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg = self._clean(record.msg)
        if isinstance(record.args, tuple):
            record.args = tuple(self._clean(a) for a in record.args)
        elif isinstance(record.args, Mapping):
            record.args = {k: self._clean(v) for k, v in record.args.items()}
        return True


@contextmanager
def _redacted_logs(names: Sequence[str], replacements: Sequence[tuple[str, str]]) -> Iterator[None]:
    """Mask ``(secret, mask)`` pairs in these loggers' records while the block runs."""
    log_filter = _RedactFilter(replacements)
    loggers = [logging.getLogger(name) for name in names]
    for each in loggers:
        each.addFilter(log_filter)
    try:
        yield
    finally:
        for each in loggers:
            each.removeFilter(log_filter)
