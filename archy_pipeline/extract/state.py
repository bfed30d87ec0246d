"""What a sync starts from and how it is told what to do: the options, the issues it records,
the previous state read back from the warehouse, and the content hash that makes an unchanged
item load nothing. No Dagster import."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any

from archy_pipeline.settings import DEFAULT_ENVIRONMENTS, SyncSelection
from archy_pipeline.workato import json_tree

ProgressFn = Callable[[str, int, int], None]

#: Columns dlt adds; never re-emitted.
DLT_COLUMNS = frozenset({"_dlt_id", "_dlt_load_id"})
#: Columns that hold JSON, per table: DuckDB hands them back as text, so they are decoded
#: before a stored row is re-emitted.
JSON_COLUMNS: dict[str, frozenset[str]] = {
    "workspace": frozenset({"interested_applications"}),
    "connections": frozenset({"tags"}),
    "recipes": frozenset(
        {
            "action_applications",
            "applications",
            "config",
            "parameters",
            "parameters_schema",
            "tags",
            "trigger_closure",
        }
    ),
    "folders": frozenset(),
    "projects": frozenset(),
}


@dataclass(frozen=True)
class SyncOptions:
    """How a sync behaves.

    Attributes:
        full_refresh: list everything with code (the weekly run) instead of the incremental
            path (the daily run).
        overlap: how far before the last cursor the incremental listing starts, so clock skew
            and recipes saved during the previous sync are not missed.
        max_vanished_share: above this share of items vanishing at once, deletions are not
            applied (a misconfigured token looks exactly like that).
        refetch_limit: recipes whose code the warehouse lacks are fetched one by one up to
            this many; beyond it the sync lists all recipes with code instead.
        selection: which folders, recipes and connections to sync (``archy.yaml``).
        environments: naming patterns that tell a connection's environment.
        access_overrides: ``access.overrides`` from archy.yaml, ``{"<provider>/<action>":
            read|write}``: how parsed steps are classified when the vocabulary cannot tell.
        confirmed_deletions: ids per table (``recipes``, ``connections``, ``folders``) whose
            deletion Workato itself reported (the activity audit log): when such an item is
            missing from the listing it is marked deleted even where a missing item would
            otherwise be held (incomplete listing, a vanished sub-tree, a mass vanishing).
        accept_deletions: apply deletions that earlier syncs held (``sync --accept-deletions``).
        held_deletions_grace: apply a held deletion once it has been held this long (None:
            hold until accepted).
    """

    full_refresh: bool = False
    overlap: timedelta = timedelta(minutes=10)
    max_vanished_share: float = 0.5
    refetch_limit: int = 100
    selection: SyncSelection = field(default_factory=SyncSelection)
    environments: dict[str, tuple[str, ...]] = field(
        default_factory=lambda: dict(DEFAULT_ENVIRONMENTS)
    )
    access_overrides: dict[str, str] = field(default_factory=dict)
    confirmed_deletions: dict[str, frozenset[int]] = field(default_factory=dict)
    accept_deletions: bool = False
    held_deletions_grace: timedelta | None = None


@dataclass(frozen=True)
class SyncIssue:
    """Something the sync could not see or do, in words a user can act on."""

    kind: str
    subject: str
    message: str
    severity: str = "warning"


@dataclass
class PreviousState:
    """The rows the warehouse holds for one workspace, by table and id."""

    rows: dict[str, dict[int, dict[str, Any]]] = field(default_factory=dict)
    #: Recipe ids with a row in ``recipe_errors``.
    recipe_error_ids: set[int] = field(default_factory=set)

    @classmethod
    def from_rows(
        cls, tables: dict[str, Iterable[dict[str, Any]]], error_ids: Iterable[int] = ()
    ) -> PreviousState:
        state = cls(recipe_error_ids=set(error_ids))
        for table, rows in tables.items():
            state.rows[table] = {int(row["id"]): restore_row(table, row) for row in rows}
        return state

    def table(self, name: str) -> dict[int, dict[str, Any]]:
        return self.rows.get(name, {})

    def active(self, name: str) -> dict[int, dict[str, Any]]:
        return {k: v for k, v in self.table(name).items() if v.get("deleted_at") is None}


#: The deepest value a row keeps as JSON. dlt writes json columns with orjson, which stops at
#: 255 levels, and ``json.dumps`` and ``json.loads`` (the content hash, any reader) recurse and
#: fail at about 1,000. Genuine values nest a few levels (a recipe's ``config`` two, an
#: exported one three).
MAX_STORED_DEPTH = 128
#: The text column that holds, whole, every field of an item nested deeper than that.
DEEP_FIELDS_COLUMN = "deep_fields"


def set_aside_deep_values(
    item: dict[str, Any],
) -> tuple[dict[str, Any], dict[str, tuple[int, str]]]:
    """``item`` with every field nested deeper than :data:`MAX_STORED_DEPTH` set to null and
    kept in ``deep_fields`` instead: the JSON text of an object holding those fields, written
    without recursion, so nothing is lost. Returns the row and, for each such field, its depth
    and the first 200 characters of its JSON text (``item`` itself and ``{}`` when no field is
    that deep)."""
    deep = {
        key: levels
        for key, value in item.items()
        if isinstance(value, (dict, list)) and (levels := json_tree.depth(value)) > MAX_STORED_DEPTH
    }
    if not deep:
        return item, {}
    texts = {key: json_tree.dumps(item[key]) for key in deep}
    row = {key: None if key in deep else value for key, value in item.items()}
    row[DEEP_FIELDS_COLUMN] = (
        "{" + ",".join(f"{json.dumps(key, ensure_ascii=False)}:{texts[key]}" for key in deep) + "}"
    )
    return row, {key: (deep[key], texts[key][:200]) for key in deep}


def content_hash(item: dict[str, Any]) -> str:
    """A stable hash of an API item, to tell whether anything in it changed."""
    text = json.dumps(item, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha1(text.encode()).hexdigest()


def restore_row(table: str, row: dict[str, Any]) -> dict[str, Any]:
    restored = {k: v for k, v in row.items() if k not in DLT_COLUMNS}
    for column in JSON_COLUMNS.get(table, ()):
        value = restored.get(column)
        if isinstance(value, str):
            try:
                restored[column] = json_tree.loads(value)
            except ValueError:
                pass
    return restored


def as_datetime(value: Any) -> datetime | None:
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=timezone.utc)
    text = str(value)
    if text.endswith("Z"):
        text = text[:-1] + "+00:00"
    parsed = datetime.fromisoformat(text)
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)


def as_int(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.isdigit():
        return int(value)
    return None
