"""archy-pipeline: a Workato workspace turned into living architecture documentation."""

import os as _os

__version__ = "0.1.0"

# Nothing leaves the machine but requests to Workato (docs/security.md): dlt's anonymous
# telemetry (on by default, to telemetry.scalevector.ai) and Dagster's telemetry upload are
# off in every process that imports the package, before dlt or Dagster first runs. dlt reads
# this switch from the environment only; a value already set (an explicit opt-in) wins.
_os.environ.setdefault("RUNTIME__DLTHUB_TELEMETRY", "false")
_os.environ.setdefault("DAGSTER_DISABLE_TELEMETRY", "1")

# pyarrow (dlt's Parquet writer) allocates from mimalloc by default, which keeps what it freed:
# a run with a 50 MB recipe held ~330 MB more at its peak than with the system allocator.
# pyarrow reads this once, when it is first imported; a value already set wins.
_os.environ.setdefault("ARROW_DEFAULT_MEMORY_POOL", "system")
