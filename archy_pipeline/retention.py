"""Retention: which warehouse rows are old enough to remove, by the ``retention:`` settings.

What each setting keeps (defaults in docs/configuration.md): closed history rows, change
events, resolved insights and sync issues, each by its own time column. Open history rows and
open insights are never removed, whatever their age. The Dagster run records are removed by
the retention job itself (``sensors/retention.py``), through the Dagster instance.
No Dagster import.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from archy_pipeline.extract.tables import DATASET_NAME
from archy_pipeline.settings.sections import RetentionSettings
from archy_pipeline.warehouse.base import Warehouse


@dataclass(frozen=True)
class Rule:
    """Rows of ``schema.table`` matching ``condition`` (``{bound}``: the oldest time kept) go
    once older than the days ``setting`` keeps."""

    setting: str
    schema: str
    table: str
    condition: str

    @property
    def name(self) -> str:
        return f"{self.schema}.{self.table}"


RULES = (
    *(
        Rule("history_days", "archy", table, "valid_to is not null and valid_to < {bound}")
        for table in ("recipe_history", "connection_history", "integration_history")
    ),
    Rule("change_events_days", "archy", "change_events", "detected_at < {bound}"),
    Rule(
        "resolved_insights_days",
        "archy",
        "insights",
        "status = 'resolved' and last_seen_at < {bound}",
    ),
    Rule("sync_issues_days", DATASET_NAME, "sync_issues", "synced_at < {bound}"),
)


def bound(settings: RetentionSettings, setting: str, now: datetime) -> datetime:
    """The oldest time ``setting`` keeps, as of ``now``."""
    return now - timedelta(days=getattr(settings, setting))


def apply_retention(
    warehouse: Warehouse, settings: RetentionSettings, now: datetime
) -> dict[str, int]:
    """Remove what ``settings`` no longer keeps, in one transaction (all tables or none).

    Returns the rows removed per table (``schema.table``); a table not there yet is skipped.
    """
    rules = [r for r in RULES if warehouse.columns(r.schema, r.table)]
    statements = [
        (
            f'delete from "{r.schema}"."{r.table}" where '
            + r.condition.format(bound=warehouse.placeholder),
            [bound(settings, r.setting, now)],
        )
        for r in rules
    ]
    counts = warehouse.run_in_transaction(statements)
    return {rule.name: count for rule, count in zip(rules, counts, strict=True)}
