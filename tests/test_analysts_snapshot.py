"""Analysts and the pipeline never block each other (issue 12, point 5).

Analysts open a snapshot of the pipeline's working file, never the file itself; an analyst who
opened the working file anyway is waited for, within a bound, then named in one line.
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import duckdb
import pytest

from archy_pipeline.cli import main
from archy_pipeline.resources.warehouse import WarehouseResource
from archy_pipeline.warehouse import DuckDBWarehouse, WarehouseLockedError
from tests.support import workspace_with_recipes

#: Holds the file named by argv[1] read-only, says so, and lets go after argv[2] seconds.
HOLDER = """
import sys, time
import duckdb
con = duckdb.connect(sys.argv[1], read_only=True)
print("holding", flush=True)
time.sleep(float(sys.argv[2]))
con.close()
"""


def _configure(sim, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """archy.yaml naming the simulator, the working file in tmp_path/data; the snapshot path."""
    config = tmp_path / "archy.yaml"
    config.write_text(f"workspaces:\n  - name: ACME\n    base_url: {sim.base_url}\n")
    monkeypatch.setenv("ARCHY_CONFIG", str(config))
    monkeypatch.setenv("ARCHY_DUCKDB_PATH", str(tmp_path / "data" / "warehouse.duckdb"))
    monkeypatch.setenv("WORKATO_API_TOKEN", sim.token)
    return tmp_path / "data" / "analysts.duckdb"


def _hold(path: Path, seconds: float) -> subprocess.Popen:
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(path), str(seconds)], stdout=subprocess.PIPE, text=True
    )
    assert holder.stdout.readline().strip() == "holding"
    return holder


# ---------------------------------------------------------------------- the snapshot


def test_the_snapshot_holds_every_table_and_view_of_the_working_file(acme_warehouse, tmp_path):
    warehouse = acme_warehouse.copy_to(tmp_path)
    published = warehouse.publish_snapshot()
    assert published is not None and published.path == tmp_path / "analysts.duckdb"

    def catalog(path: Path) -> dict[tuple[str, str], int]:
        with duckdb.connect(str(path), read_only=True) as con:
            names = con.execute(
                "select schema_name, table_name from duckdb_tables() "
                "where database_name = current_database()"
            ).fetchall()
            return {
                (s, t): con.execute(f'select count(*) from "{s}"."{t}"').fetchone()[0]
                for s, t in names
            }

    assert catalog(published.path) == catalog(warehouse.path)
    assert published.tables == len(catalog(warehouse.path))
    query = "select * from archy.v_recommendations order by all"
    with duckdb.connect(str(published.path), read_only=True) as con:
        recommendations = con.execute(query).fetchall()
    assert recommendations and recommendations == warehouse.query(query)[1], "views work there"


@pytest.mark.parametrize(
    ("working", "analysts", "problem"),
    [
        pytest.param("warehouse.duckdb", "archy.duckdb", "cannot be named 'archy'", id="reserved"),
        pytest.param("w.duckdb", "w.duckdb", "must be two files", id="the-working-file"),
    ],
)
def test_a_snapshot_path_that_cannot_work_is_refused(tmp_path, working, analysts, problem):
    resource = WarehouseResource(
        duckdb_path=str(tmp_path / working), analysts_path=str(tmp_path / analysts)
    )
    with pytest.raises(ValueError, match=problem):
        _ = resource.backend


# ---------------------------------------------------------------------- someone on the working file


def test_the_pipeline_waits_for_a_holder_of_its_working_file_who_lets_go(
    simulator, tmp_path, monkeypatch, capsys, caplog
):
    sim = simulator(workspace_with_recipes(8), rate_limits=None)
    _configure(sim, tmp_path, monkeypatch)
    assert main(["sync"]) == 0
    working = tmp_path / "data" / "warehouse.duckdb"
    capsys.readouterr()

    holder = _hold(working, 6.0)
    started = time.monotonic()
    try:
        assert main(["sync", "--full"]) == 0
    finally:
        holder.wait(timeout=30)
    assert time.monotonic() - started >= 5.5, "the sync could not load before the holder left"
    assert "recipes 8 (+0)" in capsys.readouterr().out, "a full refresh, nothing new"
    waits = [r.getMessage() for r in caplog.records if "waiting up to 60 s" in r.getMessage()]
    assert waits and f"locked by PID {holder.pid}" in waits[0]


def test_a_holder_who_keeps_the_working_file_fails_the_sync_in_one_line_naming_it(
    simulator, tmp_path, monkeypatch, capsys
):
    sim = simulator(workspace_with_recipes(8), rate_limits=None)
    snapshot = _configure(sim, tmp_path, monkeypatch)
    assert main(["sync"]) == 0
    working = tmp_path / "data" / "warehouse.duckdb"
    capsys.readouterr()
    monkeypatch.setenv("ARCHY_DUCKDB_LOCK_WAIT_SECONDS", "1")

    holder = _hold(working, 60)
    try:
        started = time.monotonic()
        assert main(["sync"]) == 1
        elapsed = time.monotonic() - started
    finally:
        holder.kill()
        holder.wait(timeout=30)
    err = capsys.readouterr().err
    (line,) = [line for line in err.splitlines() if line.startswith("sync of")]
    assert line.startswith(
        f"sync of 'ACME' failed: the DuckDB file {working} is held by another process "
        f"(PID {holder.pid}, "
    )
    assert line.endswith(f"analysts open the snapshot {snapshot} instead (read-only)")
    assert "open this database in read-only mode" not in err, "not DuckDB's misleading hint"
    assert elapsed < 30


def test_waiting_for_the_working_file_is_bounded(tmp_path):
    path = tmp_path / "warehouse.duckdb"
    duckdb.connect(str(path)).close()
    pauses: list[float] = []

    def sleep(seconds: float) -> None:
        pauses.append(seconds)
        time.sleep(seconds)

    warehouse = DuckDBWarehouse(path, lock_wait_seconds=1.5, sleep=sleep)
    holder = _hold(path, 60)
    try:
        with pytest.raises(WarehouseLockedError) as raised:
            with warehouse.connect():
                pass
    finally:
        holder.kill()
        holder.wait(timeout=30)
    assert f"(PID {holder.pid}, " in str(raised.value)
    assert "\n" not in str(raised.value)
    assert pauses == [0.1, 0.2, 0.5], "no pause that would end past the bound"
    with warehouse.connect() as con:  # the holder gone, the file is the pipeline's again
        assert con.execute("select 1").fetchone() == (1,)
