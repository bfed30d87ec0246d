"""The warehouse as a Dagster resource: settings in, a :class:`Warehouse` backend out."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import dagster as dg
import dlt
from pydantic import Field, PrivateAttr

from archy_pipeline.extract.arrow import ARROW_DLT_COLUMNS_CONFIG
from archy_pipeline.settings.errors import ConfigError
from archy_pipeline.settings.variables import (
    DEFAULT_DUCKDB_PATH,
    LOCK_WAIT_ENV_VAR,
    read_environment,
)
from archy_pipeline.warehouse import (
    DEFAULT_LOCK_WAIT_SECONDS,
    DuckDBWarehouse,
    PostgresWarehouse,
    PublishedSnapshot,
    Warehouse,
)

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["DEFAULT_DUCKDB_PATH", "NORMALIZE_BUFFER_ROWS", "WarehouseResource"]

#: Rows per table dlt's normalizer buffers before writing (memory; measured at 1,000 recipes:
#: 457 MB peak with dlt's 5,000, 391 MB with 500).
NORMALIZE_BUFFER_ROWS = 500


class WarehouseResource(dg.ConfigurableResource):
    """The analysts' warehouse: DuckDB (default) or PostgreSQL, chosen by settings alone.

    Unset fields fall back, at run time, to ``ARCHY_POSTGRES_DSN`` (PostgreSQL wins when set),
    ``ARCHY_DUCKDB_PATH`` (default ``data/warehouse.duckdb``), ``ARCHY_ANALYSTS_DUCKDB_PATH``
    (default ``analysts.duckdb`` beside it) and ``ARCHY_DUCKDB_LOCK_WAIT_SECONDS`` (60).
    """

    duckdb_path: str | None = Field(
        default=None, description="Path of the pipeline's DuckDB file (its working file)."
    )
    analysts_path: str | None = Field(
        default=None,
        description="Path of the DuckDB snapshot analysts open, republished after each "
        "rebuild (default: analysts.duckdb beside the working file).",
    )
    lock_wait_seconds: float | None = Field(
        default=None,
        ge=0,
        description="How long to wait for another process that holds the DuckDB file before "
        "failing (default 60).",
    )
    postgres_dsn: str | None = Field(
        default=None, description="postgresql://user:password@host:port/database"
    )
    pipelines_dir: str | None = Field(
        default=None,
        description="Where dlt keeps its local working state (default: .dlt_pipelines next "
        "to the DuckDB file; with PostgreSQL, a folder per database in it).",
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
        return DuckDBWarehouse(path).path  # refuses a reserved file name

    @property
    def analysts_file(self) -> Path:
        """The DuckDB snapshot analysts open (refuses a reserved name or the working file)."""
        path = self.path
        named = self.analysts_path or read_environment().analysts_path
        return DuckDBWarehouse(path, Path(named) if named else None).analysts_path

    @property
    def lock_wait(self) -> float:
        """Seconds to wait for another process holding the DuckDB file."""
        if self.lock_wait_seconds is not None:
            return self.lock_wait_seconds
        written = read_environment().lock_wait_seconds
        if written is None:
            return DEFAULT_LOCK_WAIT_SECONDS
        try:
            seconds = float(written)
        except ValueError:
            seconds = -1.0
        if not 0 <= seconds < float("inf"):  # also refuses nan
            raise ConfigError(
                f"environment: {LOCK_WAIT_ENV_VAR}: must be a number of seconds (0 or more), "
                f"not {written!r}"
            )
        return seconds

    _held: ExitStack | None = PrivateAttr(default=None)

    def setup_for_execution(self, context: dg.InitResourceContext) -> None:
        """A run keeps its DuckDB working file open while it runs: each of the hundreds of
        connections its steps make reuses the open database instead of opening the file."""
        backend = self.backend
        # Runs only: a sensor tick reading the warehouse must not create or hold the file.
        if context.run is not None and isinstance(backend, DuckDBWarehouse):
            self._held = ExitStack()
            self._held.enter_context(backend.held_open())

    def teardown_after_execution(self, context: dg.InitResourceContext) -> None:
        if self._held is not None:
            self._held.close()
            self._held = None

    @property
    def backend(self) -> Warehouse:
        """The warehouse these settings name: PostgreSQL when a DSN is set, else DuckDB."""
        dsn = self.dsn
        if dsn:
            return PostgresWarehouse(dsn)
        return DuckDBWarehouse(self.path, self.analysts_file, lock_wait_seconds=self.lock_wait)

    @property
    def audit_pending_file(self) -> Path:
        """Where audit rows wait while the warehouse is busy: beside the DuckDB file, else
        beside the stored credentials (PostgreSQL); :func:`archy_pipeline.audit.pending_file`."""
        from archy_pipeline.audit import pending_file
        from archy_pipeline.settings.credentials import credentials_path

        return pending_file(self.backend, credentials_path(read_environment()).parent)

    def publish_snapshot(self) -> PublishedSnapshot | None:
        """Publish the analysts' DuckDB snapshot; None on PostgreSQL, which needs none."""
        backend = self.backend
        return backend.publish_snapshot() if isinstance(backend, DuckDBWarehouse) else None

    @property
    def dialect(self) -> str:
        """The sqlglot dialect of this warehouse: 'duckdb' or 'postgres'."""
        return self.backend.dialect

    @property
    def placeholder(self) -> str:
        """The DB-API parameter placeholder of this warehouse."""
        return self.backend.placeholder

    def dlt_destination(self) -> Any:
        """The dlt destination for this warehouse."""
        return self.backend.dlt_destination()

    def dlt_pipeline(self, pipeline_name: str, dataset_name: str) -> dlt.Pipeline:
        """A dlt pipeline writing ``dataset_name`` into this warehouse."""
        pipelines_dir = self.pipelines_dir
        if pipelines_dir is None:
            folder = self.path.parent / ".dlt_pipelines"
            if self.dsn:
                # One folder per PostgreSQL database (named without credentials): the load
                # package a killed sync leaves is finished by the next run of this pipeline,
                # and must go to the database it was meant for, not to another one this
                # machine syncs into (dlt's own default, ~/.dlt, is one folder for all).
                where = self.backend.describe().encode()
                folder = folder / f"postgres-{hashlib.sha256(where).hexdigest()[:12]}"
            pipelines_dir = str(folder)
        # dlt's normalizer holds up to this many rows per table before writing them to a file
        # (dlt's default is 5,000): the recipes table's rows carry each recipe's code.
        dlt.config["normalize.data_writer.buffer_max_items"] = NORMALIZE_BUFFER_ROWS
        # The parsed recipe tables come as Arrow tables (extract/arrow.py): dlt adds its
        # _dlt_id and _dlt_load_id columns to them as it does to dict rows.
        for key, value in ARROW_DLT_COLUMNS_CONFIG.items():
            dlt.config[key] = value
        # dlt's intermediate files live for one sync: gzipping them (the recipes' code) cost
        # about 3 CPU seconds at 5,000 recipes.
        dlt.config["data_writer.disable_compression"] = True
        return dlt.pipeline(
            pipeline_name=pipeline_name,
            destination=self.dlt_destination(),
            dataset_name=dataset_name,
            pipelines_dir=pipelines_dir,
        )

    @contextmanager
    def connect(self, read_only: bool = False) -> Iterator[Any]:
        """A DB-API connection to the warehouse (DuckDB or psycopg2), closed afterwards."""
        with self.backend.connect(read_only=read_only) as connection:
            yield connection

    def fetch_rows(
        self, schema: str, table: str, where: dict[str, Any] | None = None
    ) -> list[dict[str, Any]]:
        """Every row of ``schema.table`` matching ``where`` (equality); [] if no such table."""
        return self.backend.fetch_rows(schema, table, where)

    def fetch_frame(self, schema: str, table: str) -> pd.DataFrame:
        """Every row of ``schema.table`` as a frame: what ``pd.DataFrame(fetch_rows(...))``
        gives; empty if no such table or no rows."""
        return self.backend.fetch_frame(schema, table)

    def count_rows(self, schema: str, table: str, where: dict[str, Any] | None = None) -> int:
        """How many rows ``schema.table`` holds (matching ``where``); 0 if it does not exist."""
        return self.backend.count_rows(schema, table, where)

    def query(self, sql: str, params: list[Any] | None = None) -> tuple[list[str], list[tuple]]:
        """Run one read query; return column names and rows."""
        return self.backend.query(sql, params)

    def columns(self, schema: str, table: str) -> list[tuple[str, str]]:
        """``(name, type)`` of each column of ``schema.table``, in order."""
        return self.backend.columns(schema, table)

    def publish_query(self, schema: str, table: str, select_sql: str) -> int:
        """Replace ``schema.table`` with the result of ``select_sql``, atomically."""
        return self.backend.publish_query(schema, table, select_sql)

    def publish_rows(
        self, schema: str, table: str, columns: dict[str, str], rows: list[tuple]
    ) -> int:
        """Replace ``schema.table`` with ``rows`` (``columns``: name to SQL type), atomically."""
        return self.backend.publish_rows(schema, table, columns, rows)

    def append_rows(
        self, schema: str, table: str, columns: dict[str, str], rows: list[tuple]
    ) -> int:
        """Add ``rows`` to ``schema.table``, created with ``columns`` if missing."""
        return self.backend.append_rows(schema, table, columns, rows)

    def describe(self) -> str:
        """Where the data is, without credentials."""
        return self.backend.describe()

    def __repr_args__(self):  # the DSN may hold a password
        for name, value in super().__repr_args__():
            yield name, ("***" if name == "postgres_dsn" and value else value)
