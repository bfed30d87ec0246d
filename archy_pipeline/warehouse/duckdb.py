"""The embedded default: one DuckDB file."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import dlt
import duckdb

from archy_pipeline.warehouse.base import Warehouse

#: DuckDB names a file's catalog after its stem; a catalog named like one of our schemas makes
#: every ``archy.<table>`` reference ambiguous, so those stems are refused.
RESERVED_STEMS = frozenset({"archy", "workato_raw"})


class DuckDBWarehouse(Warehouse):
    dialect = "duckdb"
    placeholder = "?"

    def __init__(self, path: Path) -> None:
        if path.stem.lower() in RESERVED_STEMS:
            raise ValueError(
                f"the DuckDB file {path} cannot be named '{path.stem}': DuckDB names the "
                f"database after the file, and a database called '{path.stem}' makes every "
                f"'{path.stem}.<table>' query ambiguous. Choose another name, e.g. "
                f"{path.with_name('warehouse.duckdb')}"
            )
        self.path = path

    @contextmanager
    def connect(self, read_only: bool = False) -> Iterator[Any]:
        if read_only and not self.path.exists():
            connection = duckdb.connect(":memory:")
        else:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            connection = duckdb.connect(str(self.path), read_only=read_only)
        try:
            yield connection
        finally:
            connection.close()

    def dlt_destination(self) -> Any:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        return dlt.destinations.duckdb(credentials=str(self.path))

    def describe(self) -> str:
        return f"DuckDB file {self.path.resolve()}"

    def _cursor(self, connection: Any) -> Any:
        return connection

    def commit_ddl(self, connection: Any) -> None:
        """DuckDB autocommits outside an explicit transaction."""

    def _begin(self, connection: Any) -> None:
        connection.begin()

    def _rollback(self, connection: Any) -> None:
        try:
            connection.rollback()
        except duckdb.TransactionException:  # nothing was open
            pass
