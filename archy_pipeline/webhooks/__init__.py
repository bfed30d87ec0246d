"""Real-time updates: a loopback receiver for what a RecipeOps relay recipe posts.

Workato pushes nothing to outside systems by itself. A *relay recipe* in the workspace can:
its RecipeOps (``workato_app``) triggers fire in real time when a recipe is stopped by
Workato or by a user, a recipe is started, a job fails or a connection is disconnected
(addendum §3), and an HTTP step forwards each one here. The project ships that relay as an
importable package (``archy_pipeline/data/relay/``, see docs/operations.md). No RecipeOps
trigger fires on recipe, connection or folder create / update / delete: those come from the
activity audit log (:mod:`archy_pipeline.workato.activity`).

The receiver authenticates each POST, validates it and appends it to a durable inbox (SQLite
in WAL mode). The Dagster ``webhook_sensor`` reads the inbox after its cursor and asks for an
incremental sync of each workspace named. The receiver and the sensor share nothing but the
inbox file, so they can run in different processes.

Modules: ``events`` (the event format and its validation), ``inbox`` (the SQLite inbox),
``receiver`` (authentication and the HTTP server).

No Dagster import: the CLI runs the receiver without loading the code location.
"""

from archy_pipeline.webhooks.events import (
    CONNECTION_EVENTS,
    EVENT_TYPES,
    MAX_EVENT_ID_LENGTH,
    RECIPE_EVENTS,
    RELAY_PACKAGE,
    SUBJECTS,
    Event,
    PayloadError,
    UnknownWorkspaceError,
    validate_event,
)
from archy_pipeline.webhooks.inbox import (
    DEFAULT_INBOX_PATH,
    Inbox,
)
from archy_pipeline.webhooks.receiver import (
    DEFAULT_HOST,
    DEFAULT_PORT,
    MAX_BODY_BYTES,
    MIN_SECRET_LENGTH,
    SECRET_ENV_VAR,
    SIGNATURE_HEADER,
    WebhookReceiver,
    authenticated,
    serve,
    sign,
)

__all__ = [
    "CONNECTION_EVENTS",
    "DEFAULT_HOST",
    "DEFAULT_INBOX_PATH",
    "DEFAULT_PORT",
    "EVENT_TYPES",
    "MAX_BODY_BYTES",
    "MAX_EVENT_ID_LENGTH",
    "MIN_SECRET_LENGTH",
    "RECIPE_EVENTS",
    "RELAY_PACKAGE",
    "SECRET_ENV_VAR",
    "SIGNATURE_HEADER",
    "SUBJECTS",
    "Event",
    "Inbox",
    "PayloadError",
    "UnknownWorkspaceError",
    "WebhookReceiver",
    "authenticated",
    "serve",
    "sign",
    "validate_event",
]
