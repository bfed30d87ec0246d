"""Analysts and the pipeline never block each other (issue 12, point 5).

Analysts open the snapshot the pipeline publishes after each successful rebuild, never its
working file. Here a real analyst process holds a read-only connection on the snapshot and
queries it several times a second through a full and a daily sync run by the command line;
a rebuild that fails publishes nothing; and an analyst who opened the working file anyway is
waited for, within a bound, then named in one line.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import duckdb
import pytest

from archy_pipeline.cli import main
from archy_pipeline.resources.warehouse import WarehouseResource
from archy_pipeline.warehouse import DuckDBWarehouse, WarehouseLockedError
from tests.support import (
    materialize_sync,
    simple_code,
    sync_resources,
    workspace_with_recipes,
)

#: An analyst: with ``held``, one read-only connection on the snapshot for the whole run; with
#: ``fresh``, a new connection for each query. Several times a second it queries the counts,
#: one JSON line per answer, until the stop file appears; then the ``held`` analyst closes
#: its connection and reconnects once. Any error is written down and ends it with exit code 1.
#: (Two processes: DuckDB shares one open database per file within a process, so a process
#: that still holds a connection gets the old snapshot on a new one too.)
ANALYST = """
import json, sys, time
from pathlib import Path
import duckdb

mode, snapshot, out, stop = sys.argv[1], sys.argv[2], Path(sys.argv[3]), Path(sys.argv[4])
COUNTS = (
    "select (select count(*) from workato_raw.recipes where deleted_at is null), "
    "(select count(*) from archy.integrations where deleted_at is null), "
    "(select count(*) from archy.v_most_complex_integrations)"
)
with out.open("a") as log:
    def say(**line):
        log.write(json.dumps({"t": time.time(), **line}) + "\\n")
        log.flush()
    try:
        if mode == "held":
            held = duckdb.connect(snapshot, read_only=True)
        say(ready=True)
        while not stop.exists():
            if mode == "held":
                say(held=held.execute(COUNTS).fetchone())
            else:
                with duckdb.connect(snapshot, read_only=True) as fresh:
                    say(fresh=fresh.execute(COUNTS).fetchone())
            time.sleep(0.15)
        if mode == "held":
            held.close()
            with duckdb.connect(snapshot, read_only=True) as again:
                say(reconnected=again.execute(COUNTS).fetchone())
    except Exception as error:
        say(error=f"{type(error).__name__}: {error}")
        sys.exit(1)
"""

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


def _counts(path: Path) -> tuple[int, int, int]:
    with duckdb.connect(str(path), read_only=True) as con:
        return con.execute(
            "select (select count(*) from workato_raw.recipes where deleted_at is null), "
            "(select count(*) from archy.integrations where deleted_at is null), "
            "(select count(*) from archy.v_most_complex_integrations)"
        ).fetchone()


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _hold(path: Path, seconds: float) -> subprocess.Popen:
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(path), str(seconds)], stdout=subprocess.PIPE, text=True
    )
    assert holder.stdout.readline().strip() == "holding"
    return holder


# ---------------------------------------------------------------------- an analyst on the snapshot


@pytest.mark.slow
def test_an_analyst_on_the_snapshot_blocks_neither_a_full_nor_a_daily_sync(
    simulator, tmp_path, monkeypatch, capsys
):
    ws = workspace_with_recipes(30)
    sim = simulator(ws, rate_limits=None)
    snapshot = _configure(sim, tmp_path, monkeypatch)
    assert main(["sync"]) == 0
    assert f"== analysts' snapshot: {snapshot}" in capsys.readouterr().out
    before = _counts(snapshot)
    assert before[:2] == (30, 30)

    stop = tmp_path / "stop"
    logs = {mode: tmp_path / f"{mode}.jsonl" for mode in ("held", "fresh")}
    analysts = {
        mode: subprocess.Popen(
            [sys.executable, "-c", ANALYST, mode, str(snapshot), str(log), str(stop)]
        )
        for mode, log in logs.items()
    }
    try:
        deadline = time.monotonic() + 30
        for mode, log in logs.items():
            while '"ready"' not in (log.read_text() if log.exists() else ""):
                assert analysts[mode].poll() is None, f"the {mode} analyst ended"
                assert time.monotonic() < deadline, f"the {mode} analyst never got ready"
                time.sleep(0.05)

        started = time.time()
        for i in range(5):
            ws.add_recipe(f"Added before the full sync {i}", simple_code("jira", "slack"))
        assert main(["sync", "--full"]) == 0
        after_full = _counts(snapshot)
        for i in range(3):
            ws.add_recipe(f"Added before the daily sync {i}", simple_code("jira", "slack"))
        assert main(["sync"]) == 0
        finished = time.time()
        after_daily = _counts(snapshot)
        time.sleep(0.5)  # a few more answers after the last publish
    finally:
        stop.touch()
        for analyst in analysts.values():
            analyst.wait(timeout=30)
    captured = capsys.readouterr()
    assert "recipes 35 (+5)" in captured.out and "recipes 38 (+3)" in captured.out
    assert after_full[:2] == (35, 35) and after_daily[:2] == (38, 38)

    lines = {
        mode: [json.loads(x) for x in log.read_text().splitlines()] for mode, log in logs.items()
    }
    errors = [line["error"] for found in lines.values() for line in found if "error" in line]
    assert errors == []
    assert [analysts[mode].returncode for mode in logs] == [0, 0]
    for mode, found in lines.items():
        during = [line for line in found if mode in line and started <= line["t"] <= finished]
        assert len(during) >= 10, f"the {mode} analyst kept querying while both syncs ran"

    held = [tuple(line["held"]) for line in lines["held"] if "held" in line]
    assert set(held) == {before}, "the connection held open keeps the snapshot it opened"
    (reconnected,) = [tuple(line["reconnected"]) for line in lines["held"] if "reconnected" in line]
    assert reconnected == after_daily, "reconnecting shows the new snapshot"

    fresh = [tuple(line["fresh"]) for line in lines["fresh"] if "fresh" in line]
    assert set(fresh) <= {before, after_full, after_daily}, "a new connection: never a mix"
    assert fresh[0] == before and fresh[-1] == after_daily
    order = [before, after_full, after_daily]
    assert [order.index(f) for f in fresh] == sorted(order.index(f) for f in fresh), "no going back"
    assert sorted(p.name for p in snapshot.parent.glob("analysts.duckdb*")) == ["analysts.duckdb"]


def test_transform_job_publishes_the_snapshot_after_every_other_asset_it_builds():
    from archy_pipeline.assets.publish import SNAPSHOT_KEY
    from archy_pipeline.definitions import defs

    job = defs.resolve_job_def("transform_job")
    built = set(job.asset_layer.selected_asset_keys)
    assert SNAPSHOT_KEY in built
    graph = defs.resolve_asset_graph()
    before = graph.upstream_key_iterator(SNAPSHOT_KEY)
    assert built - {SNAPSHOT_KEY} <= set(before), "it runs after every other asset of the job"
    others = built - {SNAPSHOT_KEY}
    leaves = {key for key in others if not graph.get(key).child_keys & others}
    assert graph.get(SNAPSHOT_KEY).parent_keys == leaves, "through the last ones, not every edge"
    assert len(leaves) < len(others) / 2
    assert {"archy/integrations", "archy/insights", "docs/report"} <= {
        key.to_user_string() for key in built
    }
    assert graph.get(SNAPSHOT_KEY).pools == {"warehouse"}


# ---------------------------------------------------------------------- a failed rebuild


def _build_and_publish(warehouse: WarehouseResource, models: Path | None = None):
    """Every archy asset and, after them, the snapshot asset, as transform_job builds them."""
    import dagster as dg

    from archy_pipeline.assets.analysis import analysis_tables
    from archy_pipeline.assets.changes import change_events
    from archy_pipeline.assets.mapping import system_mappings, systems
    from archy_pipeline.assets.publish import build_analysts_snapshot
    from archy_pipeline.assets.transform import (
        DEFAULT_MODELS_DIR,
        build_sql_model_assets,
        integration_descriptions,
    )
    from archy_pipeline.resources.settings import ArchySettingsResource

    assets = [
        integration_descriptions,
        systems,
        system_mappings,
        build_sql_model_assets(models or DEFAULT_MODELS_DIR),
        analysis_tables,
        change_events,
    ]
    return dg.materialize(
        [*assets, build_analysts_snapshot(assets)],
        resources={"warehouse": warehouse, "settings": ArchySettingsResource()},
        raise_on_error=False,
    )


def test_a_failed_rebuild_publishes_nothing_and_the_snapshot_stays_as_it_was(simulator, tmp_path):
    from archy_pipeline.assets.publish import SNAPSHOT_KEY
    from archy_pipeline.assets.transform import DEFAULT_MODELS_DIR

    ws = workspace_with_recipes(12)
    sim = simulator(ws, rate_limits=None)
    warehouse = WarehouseResource(duckdb_path=str(tmp_path / "warehouse.duckdb"))
    snapshot = tmp_path / "analysts.duckdb"
    assert materialize_sync(sync_resources(sim, warehouse)).success
    built = _build_and_publish(warehouse)
    assert built.success
    (published,) = [
        e.materialization.metadata
        for e in built.get_asset_materialization_events()
        if e.materialization.asset_key == SNAPSHOT_KEY
    ]
    assert published["path"].value == str(snapshot.resolve())
    assert published["tables"].value >= 20 and published["views"].value == 3
    assert published["size_mb"].value > 0
    before, digest = _counts(snapshot), _digest(snapshot)

    broken = tmp_path / "models"
    shutil.copytree(DEFAULT_MODELS_DIR, broken)
    model = broken / "archy" / "integrations.sql"
    model.write_text(model.read_text().replace("r.lifetime_task_count", "r.no_such_column"))
    ws.add_recipe("Added before the failed rebuild", simple_code("jira", "slack"))
    assert materialize_sync(sync_resources(sim, warehouse)).success
    assert warehouse.count_rows("workato_raw", "recipes") == 13, "the working file moved on"

    failed = _build_and_publish(warehouse, broken)

    assert not failed.success
    assert SNAPSHOT_KEY not in {
        e.materialization.asset_key for e in failed.get_asset_materialization_events()
    }
    assert _digest(snapshot) == digest, "not a byte of the snapshot changed"
    assert _counts(snapshot) == before
    assert sorted(p.name for p in tmp_path.glob("analysts.duckdb*")) == ["analysts.duckdb"]


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


def test_a_held_working_file_fails_the_command_in_one_line_and_the_run_log_keeps_the_stack(
    simulator, tmp_path, monkeypatch
):
    """The terminal shows the one line; Dagster's event log (what the UI shows) keeps the
    failure whole. The command runs in its own process, so what it prints is all it prints."""
    import dagster as dg

    sim = simulator(workspace_with_recipes(4), rate_limits=None)
    _configure(sim, tmp_path, monkeypatch)
    home = tmp_path / "dagster_home"
    home.mkdir()
    shutil.copy(Path(__file__).resolve().parents[1] / "dagster.yaml", home / "dagster.yaml")
    monkeypatch.setenv("DAGSTER_HOME", str(home))
    assert main(["sync"]) == 0
    working = tmp_path / "data" / "warehouse.duckdb"

    holder = _hold(working, 60)
    try:
        done = subprocess.run(
            [sys.executable, "-m", "archy_pipeline.cli", "sync"],
            capture_output=True,
            text=True,
            timeout=120,
            env={**os.environ, "ARCHY_DUCKDB_LOCK_WAIT_SECONDS": "1"},
        )
    finally:
        holder.kill()
        holder.wait(timeout=30)
    assert done.returncode == 1, done.stderr[-3000:]
    err = done.stderr.splitlines()
    (line,) = [line for line in err if line.startswith("sync of")]
    assert f"is held by another process (PID {holder.pid}, " in line
    assert "Traceback" not in done.stderr and "Stack Trace" not in done.stderr
    assert not [line for line in err if line.startswith("  File ")], "no stack frame"
    assert not [line for line in err if " - ERROR - " in line], "no Dagster failure event"
    # What else it may print: the lock wait it announced (one line), nothing per frame.
    assert len(err) <= 3, done.stderr

    instance = dg.DagsterInstance.get()
    (failed,) = instance.get_run_records(dg.RunsFilter(statuses=[dg.DagsterRunStatus.FAILURE]))
    (record,) = instance.all_logs(
        failed.dagster_run.run_id, of_type=dg.DagsterEventType.STEP_FAILURE
    )
    error = record.dagster_event.event_specific_data.error
    causes = []
    while error is not None:
        causes.append(error)
        error = error.cause or error.context
    assert any(e.cls_name == "WarehouseLockedError" and e.stack for e in causes), (
        "the run's event log keeps the error with its stack"
    )
    instance.dispose()


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
