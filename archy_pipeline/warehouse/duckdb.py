"""The embedded default: one DuckDB file, and a snapshot of it for analysts.

DuckDB lets one process write a file, and any other process that opens it, even read-only,
keeps the writer out. So the pipeline keeps its working file to itself and, after each
successful rebuild, publishes a copy for analysts (:meth:`DuckDBWarehouse.publish_snapshot`):
built beside the snapshot under a temporary name and renamed onto it, so a connection held
open keeps reading the previous copy and a new one reads the new copy, never a mix.
"""

from __future__ import annotations

import logging
import os
import re
import shutil
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import dlt
import duckdb
import pandas as pd
import pyarrow as pa

from archy_pipeline.processes import process_alive
from archy_pipeline.retry import Transient, delays, retrying
from archy_pipeline.warehouse.base import Warehouse

log = logging.getLogger(__name__)

#: DuckDB names a file's catalog after its stem; a catalog named like one of our schemas makes
#: every ``archy.<table>`` reference ambiguous, so those stems are refused.
RESERVED_STEMS = frozenset({"archy", "workato_raw"})

#: The analysts' snapshot is this file beside the working file unless a setting names another.
DEFAULT_ANALYSTS_FILE = "analysts.duckdb"

#: How long the pipeline waits for another process to let go of its working file.
DEFAULT_LOCK_WAIT_SECONDS = 60.0

#: The pauses between attempts to open a locked file (the last one repeats).
LOCK_RETRY_DELAYS = (0.1, 0.2, 0.5, 1.0)

#: What the snapshot being built is attached as, in the connection reading the working file.
_SNAPSHOT_ALIAS = "archy_analysts_snapshot_new"
#: DuckDB's memory limit while it copies the working file into the analysts' snapshot (it
#: spills to disk beyond it); the default, 80% of the machine's memory, made the copy the
#: peak of a run (bench/RESULTS.md).
SNAPSHOT_COPY_MEMORY = "256MB"

#: Working files held open for a run (:meth:`DuckDBWarehouse.held_open`): path -> [connection,
#: holders]. Opening a DuckDB file costs ~20 ms of CPU on the demo's 10 MB file and a rebuild
#: opens it ~200 times; while one connection stays open, DuckDB hands every further one in the
#: process the open database instead (0.4 ms).
_HELD: dict[str, list[Any]] = {}
_HELD_LOCK = threading.Lock()

_HOLDER = re.compile(r"Conflicting lock is held in (?P<program>.+?) \(PID (?P<pid>\d+)\)")


class WarehouseLockedError(RuntimeError):
    """Another process kept the DuckDB file locked for longer than the pipeline waits.

    The message is one line: the file, the holder when DuckDB names it, and what to do.
    """


@dataclass(frozen=True)
class PublishedSnapshot:
    """What :meth:`DuckDBWarehouse.publish_snapshot` wrote."""

    path: Path
    size_bytes: int
    tables: int
    views: int
    seconds: float


def check_file_name(path: Path, suggestion: str = "warehouse.duckdb") -> Path:
    """``path``, unless DuckDB would name its catalog like one of our schemas."""
    if path.stem.lower() in RESERVED_STEMS:
        raise ValueError(
            f"the DuckDB file {path} cannot be named '{path.stem}': DuckDB names the "
            f"database after the file, and a database called '{path.stem}' makes every "
            f"'{path.stem}.<table>' query ambiguous. Choose another name, e.g. "
            f"{path.with_name(suggestion)}"
        )
    return path


def _is_lock_conflict(error: duckdb.Error) -> bool:
    return isinstance(error, duckdb.IOException) and "Could not set lock" in str(error)


def lock_holder(error: duckdb.Error) -> str | None:
    """``PID 4242, /usr/bin/python3`` when DuckDB's lock error names the holder, else None."""
    found = _HOLDER.search(str(error))
    return f"PID {found['pid']}, {found['program']}" if found else None


def _sql_string(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def _fsync(path: Path) -> None:
    flags = os.O_RDONLY | (getattr(os, "O_DIRECTORY", 0) if path.is_dir() else 0)
    descriptor = os.open(path, flags)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def _log_pending(path: Path) -> bool:
    """Whether the DuckDB file ``path`` has a write-ahead log not yet checkpointed into it."""
    log_file = path.with_name(path.name + ".wal")
    return log_file.exists() and log_file.stat().st_size > 0


def _remove(path: Path) -> None:
    for leftover in (path, path.with_name(path.name + ".wal")):
        leftover.unlink(missing_ok=True)


def _fits_int64(kind: pa.DataType) -> bool:
    return pa.types.is_signed_integer(kind) or (
        pa.types.is_unsigned_integer(kind) and kind.bit_width < 64
    )


def arrow_frame(arrow: pa.Table) -> pd.DataFrame:
    """The frame pandas builds from ``arrow``'s rows as Python values (``pd.DataFrame`` of
    the fetched rows), made from the Arrow columns: the same dtypes and values. Where Arrow's
    pandas conversion would differ from pandas' inference on the Python values, the column is
    built from those values: a column with only NULLs (object, ``None``), and types other than
    integers, floats, booleans, text and timestamps with a time zone (dates, decimals, lists,
    structs, blobs, naive timestamps...). Integers widen to ``int64`` (``float64`` with NULLs,
    as pandas infers them), floats to ``float64``."""
    series = {}
    for name, column in zip(arrow.column_names, arrow.columns, strict=True):
        kind = column.type
        if column.null_count == len(column):
            series[name] = pd.Series([None] * len(column), dtype=object)
        elif _fits_int64(kind) and column.null_count == 0:
            series[name] = column.cast(pa.int64()).to_pandas()
        elif _fits_int64(kind) or pa.types.is_floating(kind):
            # NULL as NaN; an integer beyond 2**53 rounds to the nearest double, as float() does
            series[name] = column.cast(pa.float64(), safe=False).to_pandas()
        elif (
            pa.types.is_boolean(kind)
            or pa.types.is_string(kind)
            or pa.types.is_large_string(kind)
            or (pa.types.is_timestamp(kind) and kind.tz is not None)
        ):
            series[name] = column.to_pandas()
        else:
            series[name] = pd.Series(column.to_pylist())
    return pd.DataFrame(series)


class DuckDBWarehouse(Warehouse):
    """The pipeline's working DuckDB file.

    Args:
        path: the working file (sync state and every table); the pipeline's alone.
        analysts_path: the snapshot analysts open (default ``analysts.duckdb`` beside ``path``).
        lock_wait_seconds: how long :meth:`connect` waits for another process that holds
            ``path`` before it gives up with :class:`WarehouseLockedError`.
        sleep: how to pause between attempts (tests may record the pauses).
    """

    dialect = "duckdb"
    placeholder = "?"

    def __init__(
        self,
        path: Path,
        analysts_path: Path | None = None,
        lock_wait_seconds: float = DEFAULT_LOCK_WAIT_SECONDS,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.path = check_file_name(path)
        self.analysts_path = check_file_name(
            analysts_path if analysts_path is not None else path.with_name(DEFAULT_ANALYSTS_FILE),
            DEFAULT_ANALYSTS_FILE,
        )
        if self.analysts_path.resolve() == self.path.resolve():
            raise ValueError(
                f"the analysts' snapshot and the pipeline's working file are both {path}: "
                "they must be two files (ARCHY_ANALYSTS_DUCKDB_PATH, ARCHY_DUCKDB_PATH)"
            )
        self.lock_wait_seconds = lock_wait_seconds
        self._sleep = sleep

    @contextmanager
    def connect(self, read_only: bool = False) -> Iterator[Any]:
        """A connection to the working file, closed afterwards.

        When another process holds the file, it waits up to ``lock_wait_seconds`` for it (an
        analyst who opened the working file instead of the snapshot), then raises
        :class:`WarehouseLockedError`.
        """
        held = _HELD.get(str(self.path.resolve()))
        if held is not None:
            # The run holds the file open: a connection to the open database. DuckDB has one
            # configuration per open file in a process, so ``read_only`` is not enforced here.
            connection = held[0].cursor()
        elif read_only and not self.path.exists():
            connection = duckdb.connect(":memory:")
        else:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            connection = self._open(read_only)
        try:
            yield connection
        finally:
            connection.close()

    @contextmanager
    def held_open(self) -> Iterator[bool]:
        """Keep the working file open until the block ends, so every :meth:`connect` inside
        reuses the open database; yields whether it could (nested blocks share one hold).

        A run holds it for its duration (the warehouse resource): the file is the pipeline's
        while it runs anyway. A file another process holds is not waited for here: the block
        runs without the hold, and each connect waits as usual (and fails in one line).
        """
        key = str(self.path.resolve())
        with _HELD_LOCK:
            held = _HELD.get(key)
            if held is None:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                try:
                    held = _HELD[key] = [duckdb.connect(str(self.path)), 0]
                except duckdb.Error as error:
                    if not _is_lock_conflict(error):
                        raise
            if held is not None:
                held[1] += 1
        try:
            yield held is not None
        finally:
            if held is not None:
                with _HELD_LOCK:
                    held[1] -= 1
                    if held[1] == 0:
                        del _HELD[key]
                        held[0].close()

    def fetch_frame(self, schema: str, table: str) -> pd.DataFrame:
        """:meth:`Warehouse.fetch_frame` through Arrow (:func:`arrow_frame`): about 10 times
        less CPU than building the frame from Python rows (74,306 steps: 0.86 -> 0.08 s)."""
        with self.connect(read_only=True) as connection:
            if not self.table_exists(connection, schema, table):
                return pd.DataFrame()
            arrow = connection.sql(f'select * from "{schema}"."{table}"').to_arrow_table()
        return arrow_frame(arrow) if arrow.num_rows else pd.DataFrame()

    def _open(self, read_only: bool) -> Any:
        def attempt() -> Any:
            try:
                return duckdb.connect(str(self.path), read_only=read_only)
            except duckdb.Error as error:
                if _is_lock_conflict(error):
                    raise Transient(error) from None
                raise

        def waiting(failure: Transient, attempt_number: int, wait: float) -> None:
            if attempt_number == 1:
                holder = lock_holder(failure.error) or "another process"
                log.warning(
                    "the DuckDB file %s is locked by %s; waiting up to %.0f s for it",
                    self.path, holder, self.lock_wait_seconds,
                )  # fmt: skip

        policy = retrying(
            attempts=sys.maxsize,
            deadline=self.lock_wait_seconds,
            wait=delays(LOCK_RETRY_DELAYS),
            on_retry=waiting,
            give_up=self._locked,
            sleep=self._sleep,
        )
        return policy(attempt)

    def _locked(self, failure: Transient, attempts: int, seconds: float) -> WarehouseLockedError:
        holder = lock_holder(failure.error)
        by = f"another process ({holder})" if holder else "another process"
        return WarehouseLockedError(
            f"the DuckDB file {self.path} is held by {by} and was still held after "
            f"{seconds:.0f} s; it is the pipeline's working file: analysts open the snapshot "
            f"{self.analysts_path} instead (read-only)"
        )

    def dlt_destination(self) -> Any:
        # dlt opens the file itself: wait here until it is ours, so a holder who lets go
        # within the bound is waited for rather than failing the load.
        with self.connect():
            pass
        # Parquet, not dlt's default insert_values: DuckDB reads the files natively, where
        # parsing 16 MB INSERT statements took over 1 GB (a 20,000-step recipe: 1.5 GB peak).
        return dlt.destinations.duckdb(
            credentials=str(self.path), preferred_loader_file_format="parquet"
        )

    def describe(self) -> str:
        return f"DuckDB file {self.path.resolve()}"

    def publish_snapshot(self, target: Path | None = None) -> PublishedSnapshot:
        """Copy the working file's tables and views to the analysts' snapshot, atomically.

        The copy is written to ``<target>.tmp-<pid>``, synced to disk, then renamed onto
        ``target`` (default: :attr:`analysts_path`). A connection open on the old snapshot
        keeps reading it; the next connection reads the new one. If anything fails, the old
        snapshot stays as it was and the temporary file is removed.

        The working file is checkpointed first: then it holds every committed row and its
        bytes are the snapshot (:func:`shutil.copyfile`, 0.02 s CPU at 5,000 recipes, where
        DuckDB's ``copy from database`` re-encoded every table: 1.4 s). Only when the file
        cannot be checkpointed here (opened read-only, with a write-ahead log another process
        left, or no working file yet) does DuckDB copy the tables into a new file.
        """
        target = check_file_name(target or self.analysts_path, DEFAULT_ANALYSTS_FILE)
        if target.resolve() == self.path.resolve():
            raise ValueError(f"the snapshot cannot overwrite the working file {self.path}")
        started = time.monotonic()
        target.parent.mkdir(parents=True, exist_ok=True)
        self._remove_abandoned(target)
        building = target.with_name(f"{target.name}.tmp-{os.getpid()}")
        _remove(building)
        try:
            with self.connect(read_only=True) as connection:
                (source,) = connection.execute("select current_database()").fetchone()
                # Writes the log into the file; nothing on a read-only connection.
                connection.execute("checkpoint")
                if self.path.exists() and not _log_pending(self.path):
                    # The file does not change while the connection is open: this process
                    # writes nothing meanwhile, and DuckDB keeps every other process out.
                    shutil.copyfile(self.path, building)
                else:
                    self._copy_tables(connection, source, building)
                tables, views = connection.execute(
                    "select (select count(*) from duckdb_tables() where database_name = $1),"
                    " (select count(*) from duckdb_views() where database_name = $1 "
                    "and not internal)",
                    [source],
                ).fetchone()
            _fsync(building)
            os.replace(building, target)
            _fsync(target.parent)
        except BaseException:
            _remove(building)
            raise
        return PublishedSnapshot(
            path=target,
            size_bytes=target.stat().st_size,
            tables=int(tables),
            views=int(views),
            seconds=time.monotonic() - started,
        )

    @staticmethod
    def _copy_tables(connection: Any, source: str, building: Path) -> None:
        """Every schema, table and view of ``source`` into a new DuckDB file ``building``."""
        connection.execute(f"attach {_sql_string(str(building))} as "
                           f"{_SNAPSHOT_ALIAS} (read_write)")  # fmt: skip
        # The copy takes what buffer memory DuckDB allows it (80% of the machine's by
        # default): +190 MB at 5,000 recipes, the run's peak. A bound keeps it small.
        connection.execute(f"set memory_limit = '{SNAPSHOT_COPY_MEMORY}'")
        try:
            connection.execute(f'copy from database "{source}" to {_SNAPSHOT_ALIAS}')
            connection.execute(f"checkpoint {_SNAPSHOT_ALIAS}")
        finally:
            connection.execute("reset memory_limit")
            connection.execute(f"detach {_SNAPSHOT_ALIAS}")

    @staticmethod
    def _remove_abandoned(target: Path) -> None:
        """Temporary snapshots of processes that died while publishing (killed, crashed)."""
        for leftover in target.parent.glob(f"{target.name}.tmp-*"):
            pid = leftover.name.rsplit("-", 1)[1].removesuffix(".wal")
            if pid.isdigit() and not process_alive(int(pid)):
                leftover.unlink(missing_ok=True)

    def _cursor(self, connection: Any) -> Any:
        return connection

    def _stage(self, connection: Any, name: str, columns: dict[str, str], frame: Any) -> None:
        # DuckDB scans the frame in place: one statement reads every row.
        connection.register(name, frame)

    def _unstage(self, connection: Any, name: str) -> None:
        connection.unregister(name)

    def commit_ddl(self, connection: Any) -> None:
        """DuckDB autocommits outside an explicit transaction."""

    def _begin(self, connection: Any) -> None:
        connection.begin()

    def _rollback(self, connection: Any) -> None:
        try:
            connection.rollback()
        except duckdb.TransactionException:  # nothing was open
            pass
