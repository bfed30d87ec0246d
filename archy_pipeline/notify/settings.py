"""The ``notifications:`` section of archy.yaml: which channels, where, and which events.

Secrets are read from the environment when the settings are parsed, held as pydantic
``SecretStr``, and never appear in a repr, a log line or an exception message.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from email.utils import parseaddr
from pathlib import Path
from typing import Any

import yaml
from pydantic import SecretStr

from archy_pipeline.config import ConfigError, config_path
from archy_pipeline.notify.changes import EVENT_TYPES
from archy_pipeline.notify.redaction import _public_part

TLS_MODES = ("none", "starttls", "ssl")
DEFAULT_PORTS = {"none": 25, "starttls": 587, "ssl": 465}
DEFAULT_USERNAME_ENV = "ARCHY_SMTP_USER"
DEFAULT_PASSWORD_ENV = "ARCHY_SMTP_PASSWORD"
DEFAULT_WEBHOOK_URL_ENV = "ARCHY_WEBHOOK_URL"
HOST_ENV = "ARCHY_SMTP_HOST"
PORT_ENV = "ARCHY_SMTP_PORT"

_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


# ---------------------------------------------------------------------- settings


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
    username: SecretStr = field(default_factory=lambda: SecretStr(""))
    password: SecretStr = field(default_factory=lambda: SecretStr(""))
    #: ``username_env`` was written in archy.yaml, so an unset variable is an error (with the
    #: default name, an unset variable just means "no login").
    login_required: bool = False

    @property
    def target(self) -> str:
        return f"{self.host}:{self.port}"


@dataclass(frozen=True)
class WebhookSettings:
    url_env: str = DEFAULT_WEBHOOK_URL_ENV
    url: SecretStr = field(default_factory=lambda: SecretStr(""))

    @property
    def target(self) -> str:
        """The URL's scheme and host: all of it that may be shown."""
        return _public_part(self.url.get_secret_value()) or f"(${self.url_env})"


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
        webhook = WebhookSettings(url_env, SecretStr(env.get(url_env) or ""))
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
        username=SecretStr(env.get(username_env) or ""),
        password=SecretStr(env.get(password_env) or ""),
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
