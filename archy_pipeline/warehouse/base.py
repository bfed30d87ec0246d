"""The warehouse interface both backends implement."""

from __future__ import annotations

import abc
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from importlib.resources import files
from typing import Any

import pandas as pd

from archy_pipeline.warehouse.frames import Rows, row_count, typed_frame

#: Runs one statement and returns the cursor.
Run = Callable[..., Any]


def read_views(schema: str) -> dict[str, str]:
    """The views of ``schema`` shipped as ``views/<schema>/<name>.sql``, by name, in name order."""
    folder = files(__package__).joinpath("views", schema)
    return {
        entry.name.removesuffix(".sql"): entry.read_text("utf-8")
        for entry in sorted(folder.iterdir(), key=lambda e: e.name)
        if entry.name.endswith(".sql")
    }


class Warehouse(abc.ABC):
    """Where the tables go. Subclasses say how to connect and how a transaction behaves."""

    #: The sqlglot dialect of this warehouse.
    dialect: str
    #: The DB-API parameter placeholder.
    placeholder: str

    @contextmanager
    @abc.abstractmethod
    def connect(self, read_only: bool = False) -> Iterator[Any]:
        """A DB-API connection, closed afterwards."""

    @abc.abstractmethod
    def dlt_destination(self) -> Any:
        """The dlt destination writing into this warehouse."""

    @abc.abstractmethod
    def describe(self) -> str:
        """Where the data is, without credentials."""

    @abc.abstractmethod
    def _cursor(self, connection: Any) -> Any:
        """What statements run on (DuckDB runs them on the connection itself)."""

    @abc.abstractmethod
    def commit_ddl(self, connection: Any) -> None:
        """Make schema changes made so far visible (PostgreSQL commits; DuckDB autocommits)."""

    @abc.abstractmethod
    def _begin(self, connection: Any) -> None:
        """Open the transaction the swap of a published table runs in."""

    @abc.abstractmethod
    def _rollback(self, connection: Any) -> None:
        """Roll back whatever is open, quietly when nothing is."""

    # -- reads ---------------------------------------------------------------------------------

    def _where(self, where: dict[str, Any] | None) -> str:
        conditions = [f'"{column}" = {self.placeholder}' for column in (where or {})]
        return " where " + " and ".join(conditions) if conditions else ""

    def fetch_rows(
        self, schema: str, table: str, where: dict[str, Any] | None = None
    ) -> list[dict[str, Any]]:
        """Every row of ``schema.table`` matching ``where`` (equality), as dicts.

        Returns an empty list when the table does not exist yet (the first sync).
        """
        with self.connect(read_only=True) as connection:
            if not self.table_exists(connection, schema, table):
                return []
            cursor = connection.cursor()
            cursor.execute(
                f'select * from "{schema}"."{table}"{self._where(where)}',
                list((where or {}).values()),
            )
            names = [d[0] for d in cursor.description]
            return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]

    def fetch_frame(self, schema: str, table: str) -> pd.DataFrame:
        """Every row of ``schema.table`` as the frame pandas builds from :meth:`fetch_rows`,
        dtypes inferred from the Python values. Empty (no columns) when the table does not
        exist or has no rows."""
        return pd.DataFrame(self.fetch_rows(schema, table))

    def count_rows(self, schema: str, table: str, where: dict[str, Any] | None = None) -> int:
        """How many rows ``schema.table`` holds (matching ``where``); 0 if it does not exist."""
        with self.connect(read_only=True) as connection:
            if not self.table_exists(connection, schema, table):
                return 0
            cursor = connection.cursor()
            cursor.execute(
                f'select count(*) from "{schema}"."{table}"{self._where(where)}',
                list((where or {}).values()),
            )
            return int(cursor.fetchone()[0])

    def query(self, sql: str, params: list[Any] | None = None) -> tuple[list[str], list[tuple]]:
        """Run one read query; return column names and rows."""
        with self.connect(read_only=True) as connection:
            cursor = connection.cursor()
            cursor.execute(sql, params or [])
            names = [d[0] for d in cursor.description]
            return names, [tuple(row) for row in cursor.fetchall()]

    def columns(self, schema: str, table: str) -> list[tuple[str, str]]:
        """``(name, type)`` of each column of ``schema.table``, in order."""
        _, rows = self.query(
            "select column_name, data_type from information_schema.columns "
            f"where table_schema = {self.placeholder} and table_name = {self.placeholder} "
            "order by ordinal_position",
            [schema, table],
        )
        return [(str(name), str(kind)) for name, kind in rows]

    def table_exists(self, connection: Any, schema: str, table: str) -> bool:
        cursor = connection.cursor()
        cursor.execute(
            "select count(*) from information_schema.tables "
            f"where table_schema = {self.placeholder} and table_name = {self.placeholder}",
            [schema, table],
        )
        return cursor.fetchone()[0] > 0

    # -- writes --------------------------------------------------------------------------------

    def publish_query(self, schema: str, table: str, select_sql: str) -> int:
        """Replace ``schema.table`` with the result of ``select_sql``, atomically.

        The query is built into ``<table>__staging`` first; only when that succeeded is the
        old table dropped and the new one renamed in its place, in one transaction. A query
        that fails leaves the previous table whole and readable. Returns the row count.
        """

        def build(connection: Any, run: Run, staging: str) -> None:
            run(f'create table "{schema}"."{staging}" as {select_sql}')

        return self._publish(schema, table, build)

    def publish_rows(self, schema: str, table: str, columns: dict[str, str], rows: Rows) -> int:
        """Replace ``schema.table`` with ``rows`` (``columns``: name to SQL type), atomically.

        ``rows`` are tuples in the order of ``columns``, or a frame with those columns; they
        are written in one statement (see :mod:`archy_pipeline.warehouse.frames`), each column
        cast to its declared type.
        """
        column_sql = ", ".join(f'"{name}" {kind}' for name, kind in columns.items())
        frame = typed_frame(columns, rows)  # a malformed row fails here, before any change

        def build(connection: Any, run: Run, staging: str) -> None:
            run(f'create table "{schema}"."{staging}" ({column_sql})')
            self._insert(connection, schema, staging, columns, frame)

        return self._publish(schema, table, build)

    def ensure_table(self, schema: str, table: str, columns: dict[str, str]) -> None:
        """Create ``schema.table`` (``columns``: name to SQL type) unless it exists."""
        column_sql = ", ".join(f'"{name}" {kind}' for name, kind in columns.items())
        with self.connect() as connection:
            cursor = self._cursor(connection)
            cursor.execute(f'create schema if not exists "{schema}"')
            cursor.execute(f'create table if not exists "{schema}"."{table}" ({column_sql})')
            self.commit_ddl(connection)

    def append_rows(self, schema: str, table: str, columns: dict[str, str], rows: Rows) -> int:
        """Add ``rows`` to ``schema.table``, creating it (``columns``: name to SQL type) if
        missing; all rows or none, in one statement. For logs that only grow, where replacing
        the whole table on every write (as :meth:`publish_rows` does) would be wasted work.
        Returns rows added."""
        frame = typed_frame(columns, rows)  # a malformed row fails here, before any change
        self.ensure_table(schema, table, columns)
        if frame.empty:
            return 0
        with self.transaction() as writes:
            return self._insert(writes.connection, schema, table, columns, frame)

    @contextmanager
    def transaction(self) -> Iterator[Writes]:
        """Set-wise writes (:class:`Writes`) on one connection, committed together when the
        block ends, or all rolled back if it raises. The tables must exist."""
        with self.connect() as connection:
            try:
                self._begin(connection)
                yield Writes(self, connection)
                connection.commit()
            except BaseException:
                self._rollback(connection)
                raise

    @abc.abstractmethod
    def _stage(self, connection: Any, name: str, columns: dict[str, str], frame: Any) -> None:
        """Make ``frame`` (from :func:`typed_frame`) readable as the relation ``name``."""

    @abc.abstractmethod
    def _unstage(self, connection: Any, name: str) -> None:
        """Forget the relation :meth:`_stage` made (quietly if it is gone already)."""

    @contextmanager
    def _staged(self, connection: Any, columns: dict[str, str], frame: Any) -> Iterator[str]:
        """``frame`` (from :func:`typed_frame`) as a relation, for the block's statements."""
        name = f"archy_rows_{uuid.uuid4().hex[:16]}"
        self._stage(connection, name, columns, frame)
        yield name
        # Not after a failure: the transaction is aborted then, and the relation goes with the
        # connection (DuckDB) or the transaction (PostgreSQL) anyway.
        self._unstage(connection, name)

    def _insert(
        self, connection: Any, schema: str, table: str, columns: dict[str, str], frame: Any
    ) -> int:
        """Insert ``frame`` (from :func:`typed_frame`) into ``schema.table`` in one statement."""
        count = len(frame.index)
        if not count:
            return 0
        names = ", ".join(f'"{name}"' for name in columns)
        select = ", ".join(f'cast("{name}" as {kind})' for name, kind in columns.items())
        with self._staged(connection, columns, frame) as staged:
            self._cursor(connection).execute(
                f'insert into "{schema}"."{table}" ({names}) select {select} from "{staged}"'
            )
        return count

    def _publish(self, schema: str, table: str, build: Callable[[Any, Run, str], None]) -> int:
        staging = f"{table}__staging"
        with self.connect() as connection:
            cursor = self._cursor(connection)

            def run(sql: str, params: Any = None) -> Any:
                cursor.execute(sql, params or [])
                return cursor

            run(f'create schema if not exists "{schema}"')
            run(f'drop table if exists "{schema}"."{staging}"')
            self.commit_ddl(connection)
            try:
                build(connection, run, staging)
                (count,) = run(f'select count(*) from "{schema}"."{staging}"').fetchone()
                self._begin(connection)
                # The swap: readers see the old table or the new one, never neither.
                run(f'drop table if exists "{schema}"."{table}"')
                run(f'alter table "{schema}"."{staging}" rename to "{table}"')
                connection.commit()
            except Exception:
                self._rollback(connection)
                run(f'drop table if exists "{schema}"."{staging}"')
                self.commit_ddl(connection)
                raise
        return int(count)

    def drop_views(self, schema: str, views: list[str]) -> None:
        """Drop ``views`` (if they exist), e.g. while the tables they read are swapped."""
        with self.connect() as connection:
            for view in views:
                connection.cursor().execute(f'drop view if exists "{schema}"."{view}"')
            self.commit_ddl(connection)

    def create_views(self, schema: str, views: dict[str, str]) -> None:
        """Create ``views`` (name to ``select`` text)."""
        with self.connect() as connection:
            for view, sql in views.items():
                connection.cursor().execute(f'create view "{schema}"."{view}" as {sql}')
            self.commit_ddl(connection)

    # -- statements in one transaction (the history tables and retention) ----------------------

    def run_in_transaction(
        self, statements: list[tuple[str, list[Any]]], setup: list[str] | tuple[str, ...] = ()
    ) -> list[int]:
        """Run ``setup`` (schema and ``create ... if not exists``, committed first), then
        ``statements`` (SQL, parameters) in one transaction: all take effect or none.

        Returns how many rows each statement changed, in order.
        """
        if setup:
            with self.connect() as connection:
                cursor = self._cursor(connection)
                for sql in setup:
                    cursor.execute(sql)
                self.commit_ddl(connection)
        with self.transaction() as writes:
            return [int(writes.execute(sql, params).rowcount) for sql, params in statements]


class Writes:
    """Set-wise writes inside one :meth:`Warehouse.transaction`: each call is one statement
    however many rows it carries."""

    def __init__(self, warehouse: Warehouse, connection: Any) -> None:
        self._warehouse = warehouse
        self._connection = connection

    @property
    def connection(self) -> Any:
        return self._connection

    def insert(self, schema: str, table: str, columns: dict[str, str], rows: Rows) -> int:
        """Add ``rows`` to ``schema.table``; returns how many."""
        frame = typed_frame(columns, rows)
        return self._warehouse._insert(self._connection, schema, table, columns, frame)

    def delete(self, schema: str, table: str, keys: dict[str, str], rows: Rows) -> None:
        """Delete the rows of ``schema.table`` whose ``keys`` columns (name to SQL type) equal
        those of one of ``rows``."""
        if not row_count(rows):
            return
        warehouse = self._warehouse
        match = " and ".join(f'"{table}"."{n}" = cast(s."{n}" as {t})' for n, t in keys.items())
        with warehouse._staged(self._connection, keys, typed_frame(keys, rows)) as staged:
            warehouse._cursor(self._connection).execute(
                f'delete from "{schema}"."{table}" where exists '
                f'(select 1 from "{staged}" s where {match})'
            )

    def existing(self, schema: str, table: str, column: str, sql_type: str,
                 values: list[Any]) -> set[Any]:  # fmt: skip
        """Which of ``values`` ``schema.table`` already holds in ``column`` (a set-wise
        semi-join: the table is not read whole)."""
        if not values:
            return set()
        warehouse = self._warehouse
        columns = {column: sql_type}
        frame = typed_frame(columns, [(v,) for v in values])
        with warehouse._staged(self._connection, columns, frame) as staged:
            cursor = warehouse._cursor(self._connection)
            cursor.execute(
                f'select distinct t."{column}" from "{schema}"."{table}" t '
                f'where t."{column}" in (select cast(s."{column}" as {sql_type}) from "{staged}" s)'
            )
            return {row[0] for row in cursor.fetchall()}

    def execute(self, sql: str, params: list[Any] | None = None) -> Any:
        """Run one statement in the transaction; returns the cursor."""
        cursor = self._warehouse._cursor(self._connection)
        cursor.execute(sql, params or [])
        return cursor
