"""What was delivered: the rows of ``archy.notification_deliveries``, one per channel attempt.

A public table (docs/tables.md). Its cells come from the message's subject, the run and the
:class:`~archy_pipeline.notify.channels.DeliveryResult`, whose ``target`` names a host and never
a secret and whose ``error`` is already redacted; the SMTP password and the webhook URL never
reach a row. The failure reason of a failed run is not stored either (it is in the run's logs).

No Dagster import.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from archy_pipeline.notify.channels import DeliveryResult
from archy_pipeline.notify.messages import Digest

DELIVERY_TABLE = "notification_deliveries"

#: Column name to SQL type; DuckDB and PostgreSQL both read these types.
DELIVERY_COLUMNS = {
    "delivered_at": "timestamp with time zone",
    "run_id": "varchar",
    "job_name": "varchar",
    "workspace": "varchar",
    "kind": "varchar",
    "channel": "varchar",
    "target": "varchar",
    "ok": "boolean",
    "attempts": "bigint",
    "events": "bigint",
    "subject": "varchar",
    "error": "varchar",
}

#: ``kind`` values: a digest of a rebuild's change events, or the notice of a failed run.
DIGEST = "digest"
FAILURE = "failure"


def delivery_rows(
    results: Iterable[DeliveryResult],
    message: Digest,
    *,
    kind: str,
    run_id: str,
    job_name: str,
    workspace: str | None,
    at: datetime,
) -> list[tuple]:
    """One row per delivery attempt of ``message``, in :data:`DELIVERY_COLUMNS` order.

    ``events`` counts the change events and sync errors a digest carried (null for a failure
    notice); ``workspace`` is null when the notice is about all of them (a failed rebuild).
    """
    events = sum(message.counts.values()) if kind == DIGEST else None
    return [
        (
            at,
            run_id,
            job_name,
            workspace,
            kind,
            result.channel,
            result.target,
            result.ok,
            result.attempts,
            events,
            message.subject,
            result.error,
        )
        for result in results
    ]
