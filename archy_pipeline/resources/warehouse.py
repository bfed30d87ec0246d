"""Where the tables go: a DuckDB file by default, or PostgreSQL."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import dagster as dg
import dlt
from pydantic import Field

DUCKDB_PATH_ENV_VAR = "ARCHY_DUCKDB_PATH"
POSTGRES_DSN_ENV_VAR = "ARCHY_POSTGRES_DSN"
DEFAULT_DUCKDB_PATH = "data/archy.duckdb"


class WarehouseResource(dg.ConfigurableResource):
    """The analysts' warehouse: DuckDB (default) or PostgreSQL, chosen by settings alone.

    Unset fields fall back, at run time, to ``ARCHY_POSTGRES_DSN`` (PostgreSQL wins when set)
    and ``ARCHY_DUCKDB_PATH`` (default ``data/archy.duckdb``).
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
        return self.postgres_dsn or os.environ.get(POSTGRES_DSN_ENV_VAR) or None

    @property
    def path(self) -> Path:
        return Path(self.duckdb_path or os.environ.get(DUCKDB_PATH_ENV_VAR) or DEFAULT_DUCKDB_PATH)

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
