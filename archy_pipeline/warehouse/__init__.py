"""The analysts' warehouse behind one interface: a DuckDB file (default) or PostgreSQL.

Everything that differs between the two (placeholders, connections, transactions around the
atomic publish, the dlt destination) lives in :mod:`.duckdb` and :mod:`.postgres`; the rest of
the code talks to :class:`~archy_pipeline.warehouse.base.Warehouse`. On DuckDB, analysts read a
snapshot the pipeline publishes after each rebuild, not its working file. The analysts' views are
``.sql`` files under ``views/<schema>/``.
"""

from archy_pipeline.warehouse.base import Warehouse, read_views
from archy_pipeline.warehouse.duckdb import (
    DEFAULT_ANALYSTS_FILE,
    DEFAULT_LOCK_WAIT_SECONDS,
    RESERVED_STEMS,
    DuckDBWarehouse,
    PublishedSnapshot,
    WarehouseLockedError,
)
from archy_pipeline.warehouse.postgres import PostgresWarehouse

__all__ = [
    "DEFAULT_ANALYSTS_FILE",
    "DEFAULT_LOCK_WAIT_SECONDS",
    "RESERVED_STEMS",
    "DuckDBWarehouse",
    "PostgresWarehouse",
    "PublishedSnapshot",
    "Warehouse",
    "WarehouseLockedError",
    "read_views",
]
