"""History of recipes, connections and the systems recipes touch, kept build after build.

Each history table holds versions (slowly changing dimension, type 2): a row per item and
version, valid from the build that first saw that content (``valid_from``) until the build that
saw it change or vanish (``valid_to``, null while it is the current version). A content hash
over the fields that matter tells a change; a build that changes nothing adds no row. An item
deleted (``deleted_at`` set in the current tables) or gone has its open row closed with
``ended_by`` saying why, and the row stays.

The current tables are rebuilt on every build; these are only ever updated in place (one
transaction per table: close what changed or vanished, open what is new or changed), never
rebuilt. The current state of each table is a query in ``<table>.sql`` beside this module.
No Dagster import.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from functools import cached_property
from importlib.resources import files

from archy_pipeline.warehouse.base import Warehouse

HISTORY_SCHEMA = "archy"

#: Columns every history table starts with, after its key.
VERSION_COLUMNS = {
    "valid_from": "timestamp with time zone",
    "valid_to": "timestamp with time zone",
    "ended_by": "varchar",
    "content_hash": "varchar",
}
#: ``ended_by`` of a row closed because a new version of the item followed it.
CHANGED = "change"


def _sql(name: str) -> str:
    text = files(__package__).joinpath(f"{name}.sql").read_text("utf-8")
    return "\n".join(line for line in text.splitlines() if not line.lstrip().startswith("--"))


@dataclass(frozen=True)
class HistoryTable:
    """One history table: its key, the fields whose change makes a new version, and what
    ``ended_by`` says when the item is gone (its current query is ``<table>.sql``)."""

    table: str
    key: dict[str, str]
    fields: dict[str, str]
    gone: str

    @property
    def columns(self) -> dict[str, str]:
        """Every column, in table order: key, version columns, fields."""
        return {**self.key, **VERSION_COLUMNS, **self.fields}

    @cached_property
    def current(self) -> str:
        """The current items with their content hash, as a subquery."""
        # chr(1) stands for null, chr(31) separates fields: 'a' + null differs from null + 'a'.
        parts = ", ".join(f'coalesce(cast("{name}" as varchar), chr(1))' for name in self.fields)
        query = _sql(self.table)
        return f"(select *, md5(concat_ws(chr(31), {parts})) as content_hash from ({query}) as c)"

    def _same_key(self, left: str, right: str) -> str:
        return " and ".join(f'{left}."{name}" = {right}."{name}"' for name in self.key)

    def statements(self, placeholder: str, at: datetime) -> list[tuple[str, list]]:
        """Close the open rows whose item changed or vanished, then open a row per new or
        changed item, all stamped ``at``: the two statements of one build, in order."""
        target = f'"{HISTORY_SCHEMA}"."{self.table}"'
        p = placeholder
        close = (
            f"update {target} as h set valid_to = {p}, ended_by = case when exists "
            f"(select 1 from {self.current} as n where {self._same_key('n', 'h')}) "
            f"then '{CHANGED}' else '{self.gone}' end "
            f"where h.valid_to is null and h.workspace in ({_sql('covered_workspaces')}) "
            f"and not exists (select 1 from {self.current} as n where "
            f"{self._same_key('n', 'h')} and n.content_hash = h.content_hash)"
        )
        names = ", ".join(f'"{name}"' for name in self.columns)
        values = ", ".join(
            [f'n."{name}"' for name in self.key]
            + [p, "cast(null as timestamp with time zone)", "cast(null as varchar)",
               "n.content_hash"]
            + [f'n."{name}"' for name in self.fields]
        )  # fmt: skip
        open_ = (
            f"insert into {target} ({names}) select {values} from {self.current} as n "
            f"where not exists (select 1 from {target} as h where h.valid_to is null and "
            f"{self._same_key('h', 'n')})"
        )
        return [(close, [at]), (open_, [at])]

    def create_sql(self) -> str:
        columns = ", ".join(f'"{name}" {kind}' for name, kind in self.columns.items())
        return f'create table if not exists "{HISTORY_SCHEMA}"."{self.table}" ({columns})'


RECIPE_HISTORY = HistoryTable(
    "recipe_history",
    key={"workspace": "varchar", "recipe_id": "bigint"},
    fields={
        "name": "varchar",
        "status": "varchar",
        "folder_path": "varchar",
        "connection_ids": "varchar",
        "step_count": "bigint",
    },
    gone="deleted",
)
CONNECTION_HISTORY = HistoryTable(
    "connection_history",
    key={"workspace": "varchar", "connection_id": "bigint"},
    fields={
        "name": "varchar",
        "application": "varchar",
        "status": "varchar",
        "environment": "varchar",
        "folder_path": "varchar",
    },
    gone="deleted",
)
INTEGRATION_HISTORY = HistoryTable(
    "integration_history",
    key={"workspace": "varchar", "recipe_id": "bigint", "connection_id": "bigint"},
    fields={
        "application": "varchar",
        "system_id": "varchar",
        "system_name": "varchar",
        "role": "varchar",
    },
    gone="removed",
)
HISTORY_TABLES = (RECIPE_HISTORY, CONNECTION_HISTORY, INTEGRATION_HISTORY)


@dataclass(frozen=True)
class Recorded:
    """What one build did to one history table."""

    table: str
    closed: int
    opened: int


def record_history(warehouse: Warehouse, at: datetime) -> list[Recorded]:
    """Bring every history table up to this build (stamped ``at``); one transaction per table,
    so a failure leaves that table as the previous build left it."""
    done = []
    for spec in HISTORY_TABLES:
        closed, opened = warehouse.run_in_transaction(
            spec.statements(warehouse.placeholder, at),
            setup=[f'create schema if not exists "{HISTORY_SCHEMA}"', spec.create_sql()],
        )
        done.append(Recorded(spec.table, closed, opened))
    return done
