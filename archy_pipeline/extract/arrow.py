"""Rows as Arrow tables of the declared column types, for dlt to write without normalizing.

dlt normalizes dict rows one by one in Python (type checks, coercion, JSON lines, then
Parquet); an Arrow table goes to Parquet as it is. At 5,000 recipes that is the 117,000 rows
of ``recipe_steps`` and ``recipe_connections``. The table holds the same values dlt's
normalizer would have stored: each column has its declared type, a missing field is null,
and a field that is not declared is an error (dlt would have added a column for it). No
Dagster import.
"""

from __future__ import annotations

from typing import Any

import pyarrow as pa

#: dlt settings that give Arrow tables dlt's own ``_dlt_id`` (a unique id per row) and
#: ``_dlt_load_id`` columns, as dict rows get them (dlt adds neither to Arrow tables by
#: default): the raw tables keep one shape whichever way their rows came.
ARROW_DLT_COLUMNS_CONFIG = {
    "normalize.parquet_normalizer.add_dlt_id": True,
    "normalize.parquet_normalizer.add_dlt_load_id": True,
}

#: dlt data types (``tables.py``) as Arrow types.
ARROW_TYPES: dict[str, pa.DataType] = {
    "text": pa.string(),
    "bigint": pa.int64(),
    "bool": pa.bool_(),
    "timestamp": pa.timestamp("us", tz="UTC"),
}


def arrow_schema(columns: dict[str, dict[str, Any]]) -> pa.Schema:
    """The Arrow schema of declared ``columns`` (dlt column hints), in their order."""
    return pa.schema(
        pa.field(name, ARROW_TYPES[hint["data_type"]], nullable=hint.get("nullable", True))
        for name, hint in columns.items()
    )


def arrow_table(
    table: str, rows: list[dict[str, Any]], columns: dict[str, dict[str, Any]]
) -> pa.Table:
    """``rows`` of ``table`` as one Arrow table with the declared ``columns``.

    Raises ValueError when a row has a field that is not declared (it would be lost), and
    pyarrow's error when a value does not fit its column's type.
    """
    unknown = set().union(*rows) - columns.keys()
    if unknown:
        raise ValueError(f"{table} rows have undeclared fields: {sorted(unknown)}")
    # Column by column: pyarrow converts a list per column about three times faster than it
    # converts a list of dicts.
    return pa.Table.from_pydict(
        {name: [row.get(name) for row in rows] for name in columns}, schema=arrow_schema(columns)
    )
