"""The warehouse interface both backends implement."""

from __future__ import annotations

import abc
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from importlib.resources import files
from typing import Any

#: Runs one statement (``many``: ``executemany`` over ``params``) and returns the cursor.
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

        def build(run: Run, staging: str) -> None:
            run(f'create table "{schema}"."{staging}" as {select_sql}')

        return self._publish(schema, table, build)

    def publish_rows(
        self, schema: str, table: str, columns: dict[str, str], rows: list[tuple]
    ) -> int:
        """Replace ``schema.table`` with ``rows`` (``columns``: name to SQL type), atomically."""
        column_sql = ", ".join(f'"{name}" {kind}' for name, kind in columns.items())
        values = ", ".join(self.placeholder for _ in columns)

        def build(run: Run, staging: str) -> None:
            run(f'create table "{schema}"."{staging}" ({column_sql})')
            if rows:
                run(f'insert into "{schema}"."{staging}" values ({values})', rows, many=True)

        return self._publish(schema, table, build)

    def append_rows(
        self, schema: str, table: str, columns: dict[str, str], rows: list[tuple]
    ) -> int:
        """Add ``rows`` to ``schema.table``, creating it (``columns``: name to SQL type) if
        missing; all rows or none. For logs that only grow, where replacing the whole table on
        every write (as :meth:`publish_rows` does) would be wasted work. Returns rows added."""
        column_sql = ", ".join(f'"{name}" {kind}' for name, kind in columns.items())
        names = ", ".join(f'"{name}"' for name in columns)
        values = ", ".join(self.placeholder for _ in columns)
        with self.connect() as connection:
            cursor = self._cursor(connection)
            cursor.execute(f'create schema if not exists "{schema}"')
            cursor.execute(f'create table if not exists "{schema}"."{table}" ({column_sql})')
            self.commit_ddl(connection)
            if not rows:
                return 0
            try:
                self._begin(connection)
                cursor.executemany(
                    f'insert into "{schema}"."{table}" ({names}) values ({values})', rows
                )
                connection.commit()
            except Exception:
                self._rollback(connection)
                raise
        return len(rows)

    def _publish(self, schema: str, table: str, build: Callable[[Run, str], None]) -> int:
        staging = f"{table}__staging"
        with self.connect() as connection:
            cursor = self._cursor(connection)

            def run(sql: str, params: Any = None, many: bool = False) -> Any:
                if many:
                    cursor.executemany(sql, params)
                else:
                    cursor.execute(sql, params or [])
                return cursor

            run(f'create schema if not exists "{schema}"')
            run(f'drop table if exists "{schema}"."{staging}"')
            self.commit_ddl(connection)
            try:
                build(run, staging)
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
        with self.connect() as connection:
            cursor = self._cursor(connection)
            for sql in setup:
                cursor.execute(sql)
            self.commit_ddl(connection)
            counts = []
            try:
                self._begin(connection)
                for sql, params in statements:
                    cursor.execute(sql, params)
                    counts.append(int(cursor.rowcount))
                connection.commit()
            except Exception:
                self._rollback(connection)
                raise
        return counts
