"""Rows to write, as one typed pandas frame: what the set-wise writes of both backends read.

Writing row by row (``executemany``) cost about 1 ms a row on DuckDB (issue 13). The backends
instead write a whole table in one statement from a frame: DuckDB scans a registered frame,
PostgreSQL copies it (``COPY … FROM STDIN``). :func:`typed_frame` gives each column the pandas
dtype of its declared SQL type, nullable (``Int64``, ``Float64``, ``boolean``, datetimes, text
as Python ``str``), so NULLs stay NULL and the database casts to the declared type exactly.
A column whose values do not fit its dtype goes as text and the database's own cast decides
(a clear error from the database if it cannot): the same outcome as binding each value.
"""

from __future__ import annotations

import json
import math
from typing import Any

import numpy as np
import pandas as pd

#: Rows to write: tuples in the order of the declared columns, or a frame with those columns.
Rows = list[tuple] | pd.DataFrame

_INTEGER = {"bigint", "integer", "int", "int4", "int8", "smallint", "int2", "tinyint", "hugeint"}
_FLOAT = {"double precision", "double", "float", "float8", "real", "float4"}
_BOOLEAN = {"boolean", "bool"}
_TIMESTAMP_TZ = {"timestamp with time zone", "timestamptz"}
_TIMESTAMP = {"timestamp", "timestamp without time zone", "date"}


def row_count(rows: Rows) -> int:
    return len(rows.index) if isinstance(rows, pd.DataFrame) else len(rows)


def _missing(value: Any) -> bool:
    if value is None or value is pd.NA or value is pd.NaT:
        return True
    return isinstance(value, float) and math.isnan(value)


def _text(value: Any) -> str | None:
    if _missing(value):
        return None
    if isinstance(value, str):
        return value
    if isinstance(value, (bool, np.bool_)):
        return "true" if value else "false"
    if isinstance(value, (dict, list)):
        return json.dumps(value, sort_keys=True, default=str)
    if isinstance(value, pd.Timestamp):
        return value.isoformat()
    return str(value)


def _texts(values: list[Any]) -> pd.Series:
    return pd.Series([v if type(v) is str else _text(v) for v in values], dtype=object)


def _typed_series(series: pd.Series, kind: str) -> pd.Series | None:
    """A frame's column whose dtype already fits ``kind``, converted without a Python loop;
    None when it needs the value-by-value path."""
    dtype = series.dtype
    if kind in _INTEGER and dtype.kind in "iu":
        return series.astype("Int64")
    if kind in _FLOAT and dtype.kind in "fiu":
        return series.astype("Float64")
    if kind in _BOOLEAN and dtype.kind == "b":
        return series.astype("boolean")
    if kind in _TIMESTAMP_TZ and isinstance(dtype, pd.DatetimeTZDtype):
        return series.dt.tz_convert("UTC")
    return None


def typed_column(values: list[Any], sql_type: str) -> pd.Series:
    """``values`` as a nullable pandas column for ``sql_type`` (text when they do not fit)."""
    kind = " ".join(sql_type.lower().split())
    try:
        if kind in _INTEGER:
            return pd.Series(pd.array([None if _missing(v) else v for v in values], "Int64"))
        if kind in _FLOAT:
            return pd.Series(pd.array([None if _missing(v) else v for v in values], "Float64"))
        if kind in _BOOLEAN:
            if all(_missing(v) or isinstance(v, (bool, np.bool_)) for v in values):
                return pd.Series(pd.array([None if _missing(v) else v for v in values], "boolean"))
            return _texts(values)
        if kind in _TIMESTAMP_TZ or kind in _TIMESTAMP:
            if any(isinstance(v, str) for v in values):
                return _texts(values)  # the database parses text as it always did
            return pd.to_datetime(pd.Series(values, dtype=object), utc=kind in _TIMESTAMP_TZ)
    except (TypeError, ValueError, OverflowError):
        return _texts(values)
    return _texts(values)


def typed_frame(columns: dict[str, str], rows: Rows) -> pd.DataFrame:
    """One nullable column per declared column (name to SQL type), in their order.

    Raises ValueError, before anything is written, when a row has more or fewer values than
    there are columns, or a frame lacks a declared column.
    """
    names = list(columns)
    if isinstance(rows, pd.DataFrame):
        missing = [n for n in names if n not in rows.columns]
        if missing:
            raise ValueError(f"the rows to write have no column {', '.join(missing)}")
        typed = {}
        for name in names:
            kind = " ".join(columns[name].lower().split())
            fast = _typed_series(rows[name], kind)
            if fast is None:
                fast = typed_column(rows[name].astype(object).tolist(), columns[name])
            typed[name] = fast.reset_index(drop=True)
        return pd.DataFrame(typed)
    for number, row in enumerate(rows):
        if len(row) != len(names):
            raise ValueError(
                f"row {number} has {len(row)} values for {len(names)} columns "
                f"({', '.join(names)}); nothing was written"
            )
    values = [list(v) for v in zip(*rows, strict=True)] if rows else [[] for _ in names]
    return pd.DataFrame(
        {name: typed_column(vals, columns[name]) for name, vals in zip(names, values, strict=True)}
    )


def csv_field(value: Any) -> str:
    """One CSV field for PostgreSQL's ``COPY … (format csv)``: NULL unquoted and empty, every
    value quoted, so an empty string stays an empty string."""
    if _missing(value):
        return ""
    if isinstance(value, (bool, np.bool_)):
        text = "true" if value else "false"
    elif isinstance(value, pd.Timestamp):
        text = value.isoformat()
    elif isinstance(value, float):
        text = repr(value)
    else:
        text = str(value)
    return '"' + text.replace('"', '""') + '"'
