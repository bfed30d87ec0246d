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

Secrets are read from the environment when the settings are parsed, held as pydantic
``SecretStr``, and never appear in a repr, a log line, a :class:`DeliveryResult` or an
exception message: the webhook is named by its scheme and host only. :func:`send` never
raises: a notification must never fail a sync.

No Dagster import: the sync job's hooks call :func:`build_digest`, :func:`failure_notice` and
:func:`send`.
"""

from archy_pipeline.notify.changes import EVENT_TYPES
from archy_pipeline.notify.channels import DeliveryResult, send
from archy_pipeline.notify.messages import MAX_ITEMS_PER_GROUP, Digest, build_digest, failure_notice
from archy_pipeline.notify.settings import (
    EmailSettings,
    NotifySettings,
    WebhookSettings,
    parse_notify_settings,
)

__all__ = [
    "EVENT_TYPES",
    "MAX_ITEMS_PER_GROUP",
    "DeliveryResult",
    "Digest",
    "EmailSettings",
    "NotifySettings",
    "WebhookSettings",
    "build_digest",
    "failure_notice",
    "parse_notify_settings",
    "send",
]
