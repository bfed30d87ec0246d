"""PostgreSQL as the warehouse (psycopg2)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any
from urllib.parse import urlsplit

import dlt

from archy_pipeline.warehouse.base import Warehouse


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

    def commit_ddl(self, connection: Any) -> None:
        connection.commit()

    def _begin(self, connection: Any) -> None:
        connection.commit()

    def _rollback(self, connection: Any) -> None:
        connection.rollback()
