"""PostgreSQL as the warehouse (psycopg2)."""

from __future__ import annotations

import io
import re
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any
from urllib.parse import urlsplit

import dlt

from archy_pipeline.warehouse.base import Warehouse
from archy_pipeline.warehouse.frames import csv_field

#: A role name that needs no quoting: what ``analysts_role`` accepts.
ROLE_NAME = re.compile(r"[a-z_][a-z0-9_]{0,62}")


class PostgresWarehouse(Warehouse):
    dialect = "postgres"
    placeholder = "%s"

    def __init__(self, dsn: str) -> None:
        self.dsn = dsn

    def __repr__(self) -> str:  # the DSN may hold a password
        return f"PostgresWarehouse({self.describe()})"

    @contextmanager
    def connect(self, read_only: bool = False) -> Iterator[Any]:
        import psycopg2

        connection = psycopg2.connect(self.dsn)
        connection.set_session(readonly=read_only, autocommit=read_only)
        try:
            yield connection
        finally:
            connection.close()

    def dlt_destination(self) -> Any:
        from dlt.destinations.impl.postgres.configuration import PostgresCredentials

        credentials = PostgresCredentials()
        credentials.parse_native_representation(self.dsn)
        # Trust and peer authentication need no password; dlt would insist on one.
        credentials.password = credentials.password or ""
        return dlt.destinations.postgres(credentials=credentials)

    def describe(self) -> str:
        parts = urlsplit(self.dsn)
        return f"PostgreSQL at {parts.hostname}:{parts.port or 5432}{parts.path}"

    def _cursor(self, connection: Any) -> Any:
        return connection.cursor()

    def _stage(self, connection: Any, name: str, columns: dict[str, str], frame: Any) -> None:
        # A temporary table filled by one COPY: gone when the transaction ends either way.
        column_sql = ", ".join(f'"{column}" {kind}' for column, kind in columns.items())
        cursor = connection.cursor()
        cursor.execute(f'create temporary table "{name}" ({column_sql}) on commit drop')
        values = [frame[column].astype(object).tolist() for column in columns]
        text = io.StringIO()
        for row in zip(*values, strict=True):
            text.write(",".join(csv_field(value) for value in row))
            text.write("\n")
        text.seek(0)
        cursor.copy_expert(f'copy "{name}" from stdin with (format csv)', text)

    def _unstage(self, connection: Any, name: str) -> None:
        """The temporary table goes with the transaction (``on commit drop``)."""

    def commit_ddl(self, connection: Any) -> None:
        connection.commit()

    def _begin(self, connection: Any) -> None:
        connection.commit()

    def _rollback(self, connection: Any) -> None:
        connection.rollback()

    def grant_analysts(self, role: str, schema: str = "archy") -> list[str]:
        """Create ``role`` (NOLOGIN) if missing and let it read ``schema`` and nothing else.

        SELECT on every table and view of ``schema`` now, and, by default privileges, on every
        one this connection's role creates there later: publishing replaces a table by a new
        one, which would otherwise come without the grant. No other schema (``workato_raw``
        holds recipe code) and no write. Users get it with ``GRANT <role> TO <user>``.
        Returns the statements run.
        """
        if not ROLE_NAME.fullmatch(role):
            raise ValueError(
                f"{role!r} is not a plain role name (lower-case letters, digits, _; at most 63)"
            )
        statements = [
            f"do $$ begin if not exists (select from pg_roles where rolname = '{role}') "
            f"then create role {role} nologin; end if; end $$",
            f'create schema if not exists "{schema}"',
            f'grant usage on schema "{schema}" to {role}',
            f'grant select on all tables in schema "{schema}" to {role}',
            f'alter default privileges in schema "{schema}" grant select on tables to {role}',
        ]
        with self.connect() as connection:
            cursor = connection.cursor()
            for statement in statements:
                cursor.execute(statement)
            connection.commit()
        return statements
