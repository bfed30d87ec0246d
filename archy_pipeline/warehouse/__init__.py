"""The analysts' warehouse behind one interface: a DuckDB file (default) or PostgreSQL.

Everything that differs between the two (placeholders, connections, transactions around the
atomic publish, the dlt destination) lives in :mod:`.duckdb` and :mod:`.postgres`; the rest of
the code talks to :class:`~archy_pipeline.warehouse.base.Warehouse`. The analysts' views are
``.sql`` files under ``views/<schema>/``.
"""

from archy_pipeline.warehouse.base import Warehouse, read_views
from archy_pipeline.warehouse.duckdb import RESERVED_STEMS, DuckDBWarehouse
from archy_pipeline.warehouse.postgres import PostgresWarehouse

__all__ = ["RESERVED_STEMS", "DuckDBWarehouse", "PostgresWarehouse", "Warehouse", "read_views"]
