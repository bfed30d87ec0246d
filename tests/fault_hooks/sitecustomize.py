"""Fault hooks for the end-to-end fault tests (tests/test_faults_e2e.py), loaded only by the
``archy-pipeline sync`` processes those tests start (this folder is put on their PYTHONPATH).

Each hook is off unless its variable is set:

* ``ARCHY_FAULT_TIMEOUT_SECONDS``, ``ARCHY_FAULT_BACKOFF_SECONDS``: the Workato client's
  per-request timeout (30 s in the product) and first backoff (1 s, doubling) shortened, so a
  stalled answer times out, and retries end, within the test's time budget. Only the waits
  change: the number of attempts and what each answer becomes are the product's.
* ``ARCHY_FAULT_PAUSE_IN_LOAD=N``: dlt's load into the final ``workato_raw`` tables stops before
  its N-th statement that copies the staging tables into them (1: before the first; a larger
  N than there are statements stops before the last), on DuckDB or PostgreSQL (dlt's
  ``DuckDbSqlClient`` or ``Psycopg2SqlClient``: each table's merge is one statement, in a
  transaction of its own); the process prints
  ``archy-fault: paused in the load`` on stderr and sleeps until it is killed.
* ``ARCHY_FAULT_SQL_LOG``: a file each such statement is appended to (to see the load's steps).
* ``ARCHY_FAULT_SKIP_POOL_WAIT=1``: the command line's wait for the warehouse pool
  (``archy_pipeline.runs.wait_for_warehouse``) returns at once, as it does when the pool was
  free at its last look and another run took the slot just after: Dagster then waits for the
  slot itself.
"""

from __future__ import annotations

import os
import sys
import time


def _install() -> None:
    timeout = os.environ.get("ARCHY_FAULT_TIMEOUT_SECONDS")
    backoff = os.environ.get("ARCHY_FAULT_BACKOFF_SECONDS")
    if timeout or backoff:
        from archy_pipeline.workato import client as client_module

        original_init = client_module.WorkatoClient.__init__

        def init(self, *args, **kwargs):
            if timeout:
                kwargs["timeout_seconds"] = float(timeout)
            if backoff:
                kwargs["backoff_seconds"] = float(backoff)
                kwargs["max_backoff_seconds"] = 4 * float(backoff)
            original_init(self, *args, **kwargs)

        client_module.WorkatoClient.__init__ = init

    pause_at = os.environ.get("ARCHY_FAULT_PAUSE_IN_LOAD")
    sql_log = os.environ.get("ARCHY_FAULT_SQL_LOG")
    if pause_at or sql_log:
        from dlt.destinations.impl.duckdb.sql_client import DuckDbSqlClient
        from dlt.destinations.impl.postgres.sql_client import Psycopg2SqlClient

        seen = [0]  # copies seen, whichever warehouse the sync writes
        for client in (DuckDbSqlClient, Psycopg2SqlClient):
            client.execute_query = _pausing(client.execute_query, seen, pause_at, sql_log)

    if os.environ.get("ARCHY_FAULT_SKIP_POOL_WAIT"):
        from archy_pipeline import runs

        runs.wait_for_warehouse = lambda *args, **kwargs: None


def _pausing(original_query, seen: list[int], pause_at: str | None, sql_log: str | None):
    """``original_query`` (a dlt sql client's ``execute_query``), logging or pausing before the
    statements that copy the staging tables into the final ones."""

    def execute_query(self, query, *args, **kwargs):
        text = str(query)
        copies = "workato_raw_staging" in text and '"workato_raw".' in text
        if sql_log and copies:
            with open(sql_log, "a") as log:
                log.write(text.replace("\n", " ")[:400] + "\n")
        if pause_at and copies:
            seen[0] += 1
            if seen[0] >= int(pause_at):
                sys.stderr.write("archy-fault: paused in the load\n")
                sys.stderr.flush()
                time.sleep(600)
        return original_query(self, query, *args, **kwargs)

    return execute_query


_HOOKS = ("TIMEOUT_SECONDS", "BACKOFF_SECONDS", "PAUSE_IN_LOAD", "SQL_LOG", "SKIP_POOL_WAIT")
if any(os.environ.get(f"ARCHY_FAULT_{name}") for name in _HOOKS):
    _install()
