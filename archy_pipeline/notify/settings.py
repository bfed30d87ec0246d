"""The ``notifications:`` section of archy.yaml: which channels, where, and which events.

The settings model validates the section before any run (:mod:`archy_pipeline.settings`);
:func:`parse_notify_settings` adds what the environment holds: the SMTP host and port
overrides and the secrets. Secrets are held as pydantic ``SecretStr`` and never appear in a
repr, a log line or an exception message.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from pydantic import SecretStr

from archy_pipeline.notify.changes import EVENT_TYPES
from archy_pipeline.notify.redaction import _public_part
from archy_pipeline.settings import EnvironmentVariables, smtp_server

if TYPE_CHECKING:
    from archy_pipeline.settings.sections import NotificationSettings

DEFAULT_USERNAME_ENV = "ARCHY_SMTP_USER"
DEFAULT_PASSWORD_ENV = "ARCHY_SMTP_PASSWORD"
DEFAULT_WEBHOOK_URL_ENV = "ARCHY_WEBHOOK_URL"


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
    section: NotificationSettings | None,
    environment: EnvironmentVariables,
    *,
    source: str = "archy.yaml",
) -> NotifySettings:
    """The validated ``notifications:`` section (``None``: notifications off) with what
    ``environment`` adds: ``ARCHY_SMTP_HOST`` / ``ARCHY_SMTP_PORT`` and the secrets.

    A secret variable that is not set is no error here: :func:`send` reports it for that
    channel, so a missing secret never stops a sync. An SMTP host or port that is neither in
    archy.yaml nor a valid variable raises :class:`~archy_pipeline.settings.ConfigError`.
    """
    if section is None:
        return NotifySettings()
    email = None
    if section.email is not None:
        written = section.email
        host, port = smtp_server(written, environment, source)
        email = EmailSettings(
            host=host,
            port=port,
            tls=written.tls,
            sender=written.sender,
            recipients=written.recipients,
            username_env=written.username_env,
            password_env=written.password_env,
            username=_secret(environment, written.username_env),
            password=_secret(environment, written.password_env),
            login_required="username_env" in written.model_fields_set,
        )
    webhook = None
    if section.webhook is not None:
        url_env = section.webhook.url_env
        webhook = WebhookSettings(url_env, _secret(environment, url_env))
    on = EVENT_TYPES if section.on is None else tuple(t for t in EVENT_TYPES if t in section.on)
    return NotifySettings(email, webhook, on)


def _secret(environment: EnvironmentVariables, name: str) -> SecretStr:
    return environment.secret(name) or SecretStr("")
