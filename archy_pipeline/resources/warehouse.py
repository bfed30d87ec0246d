"""Where the tables go: a DuckDB file by default, or PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import dagster as dg
import dlt
from pydantic import Field

from archy_pipeline.settings.variables import read_environment

DEFAULT_DUCKDB_PATH = "data/warehouse.duckdb"
#: DuckDB names a file's catalog after its stem; a catalog named like one of our schemas makes
#: every ``archy.<table>`` reference ambiguous, so those stems are refused.
RESERVED_STEMS = frozenset({"archy", "workato_raw"})


class WarehouseResource(dg.ConfigurableResource):
    """The analysts' warehouse: DuckDB (default) or PostgreSQL, chosen by settings alone.

    Unset fields fall back, at run time, to ``ARCHY_POSTGRES_DSN`` (PostgreSQL wins when set)
    and ``ARCHY_DUCKDB_PATH`` (default ``data/warehouse.duckdb``).
    """

    duckdb_path: str | None = Field(default=None, description="Path of the DuckDB file.")
    postgres_dsn: str | None = Field(
        default=None, description="postgresql://user:password@host:port/database"
    )
    pipelines_dir: str | None = Field(
        default=None,
        description="Where dlt keeps its local working state (default: next to the DuckDB "
        "file, or dlt's own default for PostgreSQL).",
    )

    @property
    def kind(self) -> str:
        return "postgres" if self.dsn else "duckdb"

    @property
    def dsn(self) -> str | None:
        if self.postgres_dsn:
            return self.postgres_dsn
        dsn = read_environment().postgres_dsn
        return dsn.get_secret_value() if dsn else None

    @property
    def path(self) -> Path:
        path = Path(self.duckdb_path or read_environment().duckdb_path or DEFAULT_DUCKDB_PATH)
        if path.stem.lower() in RESERVED_STEMS:
            raise ValueError(
                f"the DuckDB file {path} cannot be named '{path.stem}': DuckDB names the "
                f"database after the file, and a database called '{path.stem}' makes every "
                f"'{path.stem}.<table>' query ambiguous. Choose another name, e.g. "
                f"{path.with_name('warehouse.duckdb')}"
            )
        return path

    def dlt_destination(self) -> Any:
        """The dlt destination for this warehouse."""
        if self.dsn:
            from dlt.destinations.impl.postgres.configuration import PostgresCredentials

            credentials = PostgresCredentials()
            credentials.parse_native_representation(self.dsn)
            # Trust and peer authentication need no password; dlt would insist on one.
            credentials.password = credentials.password or ""
            return dlt.destinations.postgres(credentials=credentials)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        return dlt.destinations.duckdb(credentials=str(self.path))

    def dlt_pipeline(self, pipeline_name: str, dataset_name: str) -> dlt.Pipeline:
        """A dlt pipeline writing ``dataset_name`` into this warehouse."""
        pipelines_dir = self.pipelines_dir
        if pipelines_dir is None and not self.dsn:
            pipelines_dir = str(self.path.parent / ".dlt_pipelines")
        return dlt.pipeline(
            pipeline_name=pipeline_name,
            destination=self.dlt_destination(),
            dataset_name=dataset_name,
            pipelines_dir=pipelines_dir,
        )

    @contextmanager
    def connect(self, read_only: bool = False) -> Iterator[Any]:
        """A DB-API connection to the warehouse (DuckDB or psycopg2), closed afterwards."""
        if self.dsn:
            import psycopg2

            connection = psycopg2.connect(self.dsn)
            connection.set_session(readonly=read_only, autocommit=read_only)
        else:
            import duckdb

            if read_only and not self.path.exists():
                connection = duckdb.connect(":memory:")
            else:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                connection = duckdb.connect(str(self.path), read_only=read_only)
        try:
            yield connection
        finally:
            connection.close()

    def fetch_rows(
        self, schema: str, table: str, where: dict[str, Any] | None = None
    ) -> list[dict[str, Any]]:
        """Every row of ``schema.table`` matching ``where`` (equality), as dicts.

        Returns an empty list when the table does not exist yet (the first sync).
        """
        placeholder = "%s" if self.dsn else "?"
        conditions = [f'"{column}" = {placeholder}' for column in (where or {})]
        sql = f'select * from "{schema}"."{table}"'
        if conditions:
            sql += " where " + " and ".join(conditions)
        with self.connect(read_only=True) as connection:
            if not self._table_exists(connection, schema, table):
                return []
            cursor = connection.cursor()
            cursor.execute(sql, list((where or {}).values()))
            names = [d[0] for d in cursor.description]
            return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]

    def count_rows(self, schema: str, table: str, where: dict[str, Any] | None = None) -> int:
        """How many rows ``schema.table`` holds (matching ``where``); 0 if it does not exist."""
        placeholder = "%s" if self.dsn else "?"
        conditions = [f'"{column}" = {placeholder}' for column in (where or {})]
        sql = f'select count(*) from "{schema}"."{table}"'
        if conditions:
            sql += " where " + " and ".join(conditions)
        with self.connect(read_only=True) as connection:
            if not self._table_exists(connection, schema, table):
                return 0
            cursor = connection.cursor()
            cursor.execute(sql, list((where or {}).values()))
            return int(cursor.fetchone()[0])

    @property
    def dialect(self) -> str:
        """The sqlglot dialect of this warehouse: 'duckdb' or 'postgres'."""
        return "postgres" if self.dsn else "duckdb"

    def query(self, sql: str, params: list[Any] | None = None) -> tuple[list[str], list[tuple]]:
        """Run one read query; return column names and rows."""
        with self.connect(read_only=True) as connection:
            cursor = connection.cursor()
            cursor.execute(sql, params or [])
            names = [d[0] for d in cursor.description]
            return names, [tuple(row) for row in cursor.fetchall()]

    def columns(self, schema: str, table: str) -> list[tuple[str, str]]:
        """``(name, type)`` of each column of ``schema.table``, in order."""
        placeholder = "%s" if self.dsn else "?"
        _, rows = self.query(
            "select column_name, data_type from information_schema.columns "
            f"where table_schema = {placeholder} and table_name = {placeholder} "
            "order by ordinal_position",
            [schema, table],
        )
        return [(str(name), str(kind)) for name, kind in rows]

    def publish_query(self, schema: str, table: str, select_sql: str) -> int:
        """Replace ``schema.table`` with the result of ``select_sql``, atomically.

        The query is built into ``<table>__staging`` first; only when that succeeded is the
        old table dropped and the new one renamed in its place, in one transaction. A query
        that fails leaves the previous table whole and readable. Returns the row count.
        """

        def build(run: Any, staging: str) -> None:
            run(f'create table "{schema}"."{staging}" as {select_sql}')

        return self._publish(schema, table, build)

    def publish_rows(
        self, schema: str, table: str, columns: dict[str, str], rows: list[tuple]
    ) -> int:
        """Replace ``schema.table`` with ``rows`` (``columns``: name to SQL type), atomically."""
        placeholder = "%s" if self.dsn else "?"
        column_sql = ", ".join(f'"{name}" {kind}' for name, kind in columns.items())

        def build(run: Any, staging: str) -> None:
            run(f'create table "{schema}"."{staging}" ({column_sql})')
            if rows:
                run(
                    f'insert into "{schema}"."{staging}" values '
                    f"({', '.join(placeholder for _ in columns)})",
                    rows,
                    many=True,
                )

        return self._publish(schema, table, build)

    def _publish(self, schema: str, table: str, build: Any) -> int:
        staging = f"{table}__staging"
        with self.connect() as connection:
            cursor = connection.cursor() if self.dsn else connection

            def run(sql: str, params: Any = None, many: bool = False) -> Any:
                if many:
                    cursor.executemany(sql, params)
                else:
                    cursor.execute(sql, params or [])
                return cursor

            run(f'create schema if not exists "{schema}"')
            run(f'drop table if exists "{schema}"."{staging}"')
            if self.dsn:
                connection.commit()
            try:
                build(run, staging)
                (count,) = run(f'select count(*) from "{schema}"."{staging}"').fetchone()
                if self.dsn:
                    connection.commit()
                else:
                    connection.begin()
                # The swap: readers see the old table or the new one, never neither.
                run(f'drop table if exists "{schema}"."{table}"')
                run(f'alter table "{schema}"."{staging}" rename to "{table}"')
                connection.commit()
            except Exception:
                connection.rollback() if self.dsn else _quiet_rollback(connection)
                run(f'drop table if exists "{schema}"."{staging}"')
                if self.dsn:
                    connection.commit()
                raise
        return int(count)

    def _table_exists(self, connection: Any, schema: str, table: str) -> bool:
        placeholder = "%s" if self.dsn else "?"
        cursor = connection.cursor()
        cursor.execute(
            "select count(*) from information_schema.tables "
            f"where table_schema = {placeholder} and table_name = {placeholder}",
            [schema, table],
        )
        return cursor.fetchone()[0] > 0

    def describe(self) -> str:
        """Where the data is, without credentials."""
        if self.dsn:
            from urllib.parse import urlsplit

            parts = urlsplit(self.dsn)
            return f"PostgreSQL at {parts.hostname}:{parts.port or 5432}{parts.path}"
        return f"DuckDB file {self.path.resolve()}"

    def __repr_args__(self):  # the DSN may hold a password
        for name, value in super().__repr_args__():
            yield name, ("***" if name == "postgres_dsn" and value else value)


def _quiet_rollback(connection: Any) -> None:
    """Roll back a DuckDB transaction if one is open (DuckDB raises when none is)."""
    import duckdb

    try:
        connection.rollback()
    except duckdb.TransactionException:
        pass
