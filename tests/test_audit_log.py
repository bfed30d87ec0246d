"""archy.audit_log: connect / rotate / disconnect, configuration and mapping changes, each sync
started, finished or failed, held and accepted deletions; rows only ever added, never a secret.

Real parts: the CLI's main() in process, the simulator over loopback HTTP, Dagster's
materialize(), DuckDB files in tmp folders, a second process holding the DuckDB file, and the
local PostgreSQL.
"""

from __future__ import annotations

import functools
import json
import shutil
import subprocess
import sys
import uuid
from collections.abc import Iterator
from types import SimpleNamespace
from typing import Any

import duckdb
import keyring
import psycopg2
import psycopg2.errors
import pytest
from dagster_dlt import DagsterDltResource
from keyring.backends import fail

from archy_pipeline.audit import AUDIT_COLUMNS, PENDING_FILE_NAME
from archy_pipeline.resources import WorkatoResource
from archy_pipeline.resources.warehouse import WarehouseResource
from tests.support import documented_columns, materialize_sync, workspace_with_recipes
from tests.test_credentials import OTHER_TOKEN, ROOT, TOKEN, connect
from tests.test_sync_truth import scoped_workspace

LOG = "archy.audit_log"


def audit_rows(warehouse: Any) -> list[dict[str, Any]]:
    """Every row of the audit log, oldest first, ``detail`` decoded."""
    if not warehouse.columns("archy", "audit_log"):
        return []
    names, rows = warehouse.query(f"select * from {LOG} order by occurred_at, event_id")
    found = [dict(zip(names, row, strict=True)) for row in rows]
    for row in found:
        row["detail"] = json.loads(row["detail"])
    return found


def actions(rows: list[dict[str, Any]]) -> list[str]:
    return [row["action"] for row in rows]


def text_of(rows: list[dict[str, Any]]) -> str:
    return json.dumps(rows, default=str)


# ---------------------------------------------------------------------- connect, rotate, disconnect


@pytest.fixture
def project(simulator, tmp_path, monkeypatch) -> Iterator[SimpleNamespace]:
    """A workspace 'ACME' on a simulator accepting TOKEN and OTHER_TOKEN, the data folder, key
    folder and DAGSTER_HOME under tmp_path, no usable OS keyring (test_credentials' setup)."""
    sim = simulator(workspace_with_recipes(4), token=TOKEN, rate_limits=None)
    sim.add_token(OTHER_TOKEN, name="other")
    config = tmp_path / "archy.yaml"
    config.write_text(f"workspaces:\n  - name: ACME\n    base_url: {sim.base_url}\n")
    home = tmp_path / "dagster_home"
    home.mkdir()
    shutil.copy(ROOT / "dagster.yaml", home / "dagster.yaml")
    monkeypatch.setenv("DAGSTER_HOME", str(home))
    monkeypatch.setenv("ARCHY_CONFIG", str(config))
    monkeypatch.setenv("ARCHY_DUCKDB_PATH", str(tmp_path / "data" / "warehouse.duckdb"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    previous = keyring.get_keyring()
    keyring.set_keyring(fail.Keyring())
    yield SimpleNamespace(sim=sim, credentials=tmp_path / "data" / "credentials.json")
    keyring.set_keyring(previous)


def test_connect_rotate_and_disconnect_leave_three_rows_and_no_token(project, monkeypatch, capsys):
    assert connect(monkeypatch, TOKEN) == 0
    assert connect(monkeypatch, OTHER_TOKEN, "--rotate") == 0
    from archy_pipeline.cli import main

    assert main(["disconnect", "--workspace", "ACME"]) == 0
    assert "audit log" not in capsys.readouterr().err

    warehouse = WarehouseResource()  # ARCHY_DUCKDB_PATH, as the commands found it
    rows = audit_rows(warehouse)
    assert actions(rows) == ["connect", "rotate", "disconnect"]
    assert {row["workspace"] for row in rows} == {"ACME"}
    assert all("@" in row["actor"] and row["run_id"] is None for row in rows)
    assert rows[0]["detail"]["base_url"] == project.sim.base_url
    assert rows[0]["detail"]["key_id"] == rows[1]["detail"]["key_id"]
    assert len({row["event_id"] for row in rows}) == 3
    dump = text_of(rows)
    assert TOKEN not in dump and OTHER_TOKEN not in dump
    assert TOKEN.encode() not in warehouse.path.read_bytes()


def test_connect_while_another_process_holds_the_warehouse_succeeds_and_the_row_goes_in_later(
    project, monkeypatch, capsys, tmp_path
):
    path = tmp_path / "data" / "warehouse.duckdb"
    path.parent.mkdir(parents=True, exist_ok=True)
    duckdb.connect(str(path)).close()
    monkeypatch.setenv("ARCHY_DUCKDB_LOCK_WAIT_SECONDS", "0")
    holder = subprocess.Popen(
        [sys.executable, "-c", "import duckdb, sys; c = duckdb.connect(sys.argv[1]); "
         "print('ready', flush=True); sys.stdin.read()", str(path)],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert holder.stdout.readline().strip() == "ready"
        assert connect(monkeypatch, TOKEN) == 0
    finally:
        holder.stdin.close()
        holder.wait(timeout=30)
    (line,) = [line for line in capsys.readouterr().err.splitlines() if "audit log" in line]
    assert "the connect row waits in" in line and TOKEN not in line
    assert project.credentials.exists(), "the token is stored whatever the log"
    pending = path.parent / PENDING_FILE_NAME
    assert pending.read_text().count("\n") == 1 and TOKEN not in pending.read_text()

    from archy_pipeline.cli import main

    assert main(["disconnect", "--workspace", "ACME"]) == 0
    rows = audit_rows(WarehouseResource())
    assert actions(rows) == ["connect", "disconnect"], "the waiting row first, with its own time"
    assert rows[0]["occurred_at"] < rows[1]["occurred_at"]
    assert pending.read_text() == ""


# ---------------------------------------------------------------------- syncs


def sync(
    sim: Any, warehouse: Any, token: str | None = None, attempts: int = 6, **config: Any
) -> Any:
    return materialize_sync(
        resources={
            "dlt": DagsterDltResource(),
            "workato": WorkatoResource(
                api_token=token or sim.token,
                base_url=sim.base_url,
                requests_per_minute=0,
                max_attempts=attempts,
            ),
            "warehouse": warehouse,
        },
        run_config={"ops": {"workato_raw": {"config": config}}} if config else None,
        raise_on_error=False,
    )


ARCHY_YAML = """\
schedules:
  daily: "{daily}"
mapping:
  rules: {rules}
"""


def test_syncs_record_start_finish_and_configuration_changes_and_never_rewrite_a_row(
    simulator, tmp_path, monkeypatch
):
    ws = workspace_with_recipes(5)
    sim = simulator(ws, rate_limits=None)
    config = tmp_path / "archy.yaml"
    monkeypatch.setenv("ARCHY_CONFIG", str(config))
    config.write_text(ARCHY_YAML.format(daily="0 2 * * *", rules="[]"))
    warehouse = WarehouseResource(duckdb_path=str(tmp_path / "warehouse.duckdb"))

    result = sync(sim, warehouse)
    assert result.success
    first = audit_rows(warehouse)
    assert actions(first) == ["config_recorded", "sync_started", "sync_finished"]
    run_id = result.dagster_run.run_id
    assert {row["run_id"] for row in first} == {run_id}
    assert {row["actor"] for row in first} == {f"dagster run {run_id}"}
    finished = first[2]["detail"]
    assert finished["rows_loaded"]["recipes"] == 5
    assert finished["requests_total"] == len(sim.requests) > 0
    assert sum(finished["requests"].values()) == finished["requests_total"]
    assert first[1]["detail"] == {"full_refresh": False, "accept_deletions": False}

    # Same archy.yaml, written differently: no change recorded.
    config.write_text("# a comment\n" + ARCHY_YAML.format(daily="0 2 * * *", rules="[]"))
    assert sync(sim, warehouse).success
    assert actions(audit_rows(warehouse)[3:]) == ["sync_started", "sync_finished"]

    config.write_text(ARCHY_YAML.format(daily="0 3 * * *", rules="[]"))
    assert sync(sim, warehouse).success
    third = audit_rows(warehouse)[5:]
    assert actions(third) == ["config_changed", "sync_started", "sync_finished"]
    changed = third[0]["detail"]
    assert changed["changed"] == ["schedules"] and not changed["added"] + changed["removed"]
    assert changed["previous_sha256"] == first[0]["detail"]["fingerprint"]["archy_yaml_sha256"]
    assert "0 3 * * *" not in text_of(third), "names only, never values"

    rule = '[{application: "salesforce", system: salesforce}]'
    config.write_text(ARCHY_YAML.format(daily="0 3 * * *", rules=rule))
    assert sync(sim, warehouse, full_refresh=True).success
    fourth = audit_rows(warehouse)[8:]
    assert actions(fourth) == ["mapping_changed", "sync_started", "sync_finished"]
    assert fourth[0]["detail"]["added"] == ["mapping.rules[0]"]
    assert fourth[1]["detail"]["full_refresh"] is True

    everything = audit_rows(warehouse)
    assert everything[:3] == first, "earlier rows are never rewritten"
    assert len({row["event_id"] for row in everything}) == len(everything) == 11
    assert sim.token not in text_of(everything)

    # Analysts read it in the DuckDB snapshot, with the columns docs/tables.md lists.
    assert [c for c, _ in warehouse.columns("archy", "audit_log")] == list(AUDIT_COLUMNS)
    assert documented_columns()[LOG] == list(AUDIT_COLUMNS)
    published = warehouse.publish_snapshot()
    assert published is not None
    with duckdb.connect(str(warehouse.analysts_file), read_only=True) as snapshot:
        assert snapshot.execute(f"select count(*) from {LOG}").fetchone() == (11,)


@pytest.mark.parametrize("failure", ["wrong token", "simulator down"])
def test_a_failed_sync_records_sync_failed_without_the_token(simulator, tmp_path, failure):
    sim = simulator(workspace_with_recipes(3), rate_limits=None)
    warehouse = WarehouseResource(duckdb_path=str(tmp_path / "warehouse.duckdb"))
    wrong = "wrkaus-WRONG-TOKEN-0b1c2d3e4f5a6b7c8d9e"
    if failure == "simulator down":
        sim.stop()
    result = sync(sim, warehouse, token=wrong if failure == "wrong token" else None, attempts=1)
    assert not result.success

    rows = audit_rows(warehouse)
    assert actions(rows) == ["config_recorded", "sync_started", "sync_failed"]
    detail = rows[2]["detail"]
    assert detail["error"] and detail["message"]
    if failure == "wrong token":
        assert "401" in detail["message"] or "authentication" in detail["message"].lower()
        assert detail["requests_total"] >= 1
    assert wrong not in text_of(rows) and sim.token not in text_of(rows)
    # A failed sync leaves no raw table half-written; only the audit log was added to.
    assert not warehouse.columns("workato_raw", "recipes")


def test_held_and_accepted_deletions_are_recorded(simulator, tmp_path):
    ws, s = scoped_workspace()
    sim = simulator(ws, rate_limits=None)
    warehouse = WarehouseResource(duckdb_path=str(tmp_path / "warehouse.duckdb"))
    assert sync(sim, warehouse, token="client").success
    ws.set_token_scope("client", project_ids=frozenset({s["sales"].id}))
    assert sync(sim, warehouse, token="client").success
    assert sync(sim, warehouse, token="client", accept_deletions=True).success

    rows = audit_rows(warehouse)
    (held,) = [row for row in rows if row["action"] == "deletions_held"]
    assert held["subject"] == "Home/HR"
    assert "4 recipe(s) and 2 connection(s)" in held["detail"]["message"]
    (accepted,) = [row for row in rows if row["action"] == "deletions_accepted"]
    assert "held deletions applied" in accepted["detail"]["message"]
    assert accepted["run_id"] != held["run_id"]
    started = [row for row in rows if row["action"] == "sync_started"]
    assert [row["detail"]["accept_deletions"] for row in started] == [False, False, True]


# ---------------------------------------------------------------------- syncs that never began


def pending_rows(path: Any) -> list[dict[str, Any]]:
    """The rows waiting in the pending file beside the DuckDB file ``path``."""
    pending = path.parent / PENDING_FILE_NAME
    if not pending.exists():
        return []
    rows = [json.loads(line) for line in pending.read_text().splitlines() if line.strip()]
    for row in rows:
        row["detail"] = json.loads(row["detail"])
    return rows


def test_a_cli_sync_that_never_got_the_warehouse_records_sync_failed(project, monkeypatch, capsys):
    """Another run kept the warehouse pool past the wait: no run, and still a sync_failed row,
    waiting in the pending file (that run holds the warehouse) until the next write."""
    import dagster as dg

    from archy_pipeline import runs
    from archy_pipeline.cli import main

    monkeypatch.setenv("WORKATO_API_TOKEN", TOKEN)
    # The bound shortened from an hour; the pool and the run holding it are real.
    monkeypatch.setattr(runs, "wait_for_warehouse", functools.partial(
        runs.wait_for_warehouse, timeout_seconds=0.3, poll_seconds=0.05))  # fmt: skip

    @dg.job
    def writer() -> None:
        pass

    instance = dg.DagsterInstance.get()
    instance.event_log_storage.set_concurrency_slots(runs.POOL, 1)
    live = instance.create_run_for_job(
        writer, tags=runs.owner_tags(), status=dg.DagsterRunStatus.STARTED
    )
    instance.event_log_storage.claim_concurrency_slot(runs.POOL, live.run_id, "workato_raw")

    assert main(["sync"]) == 1
    assert f"still in use by run {live.run_id}" in capsys.readouterr().err
    path = WarehouseResource().path
    (waiting,) = pending_rows(path)
    assert waiting["action"] == "sync_failed" and waiting["workspace"] == "ACME"
    assert waiting["run_id"] is None and "@" in waiting["actor"], "no run: the user@host"
    assert waiting["detail"]["error"] == "PoolBusyError"
    assert live.run_id in waiting["detail"]["message"]

    instance.delete_run(live.run_id)  # the other run is gone: its slot is freed
    assert main(["sync"]) == 0
    rows = audit_rows(WarehouseResource())
    assert actions(rows) == ["sync_failed", "config_recorded", "sync_started", "sync_finished"]
    assert rows[0]["event_id"] == waiting["event_id"] and pending_rows(path) == []
    assert TOKEN not in text_of(rows)
    instance.dispose()


@pytest.mark.parametrize("failure", ["resources", "asset"])
def test_a_failed_cli_sync_leaves_one_sync_failed_row(project, monkeypatch, capsys, failure):
    """Resources that cannot be initialised (the DuckDB file is not a database) fail the run
    before the sync asset's body: the command line records it, in the pending file since the
    warehouse cannot be written. A failure the sync asset recorded is not recorded again."""
    import dagster as dg

    from archy_pipeline.assets.audit import FAILURE_RECORDED_TAG
    from archy_pipeline.cli import main

    path = WarehouseResource().path
    path.parent.mkdir(parents=True, exist_ok=True)
    if failure == "resources":
        monkeypatch.setenv("WORKATO_API_TOKEN", TOKEN)
        path.write_bytes(b"not a DuckDB database " * 300)
    else:
        monkeypatch.setenv("WORKATO_API_TOKEN", "wrkaus-WRONG-TOKEN-0b1c2d3e4f5a6b7c8d9e")

    assert main(["sync"]) == 1
    err = capsys.readouterr().err
    (line,) = [line for line in err.splitlines() if line.startswith("sync of")]
    instance = dg.DagsterInstance.get()
    (run,) = [r.dagster_run for r in instance.get_run_records()]
    if failure == "resources":
        assert "is not a valid DuckDB database file" in line
        (waiting,) = pending_rows(path)
        assert waiting["action"] == "sync_failed" and waiting["run_id"] == run.run_id
        assert waiting["detail"]["error"] == "IOException"
        assert waiting["detail"]["requests_total"] == 0
        assert run.tags[FAILURE_RECORDED_TAG] == "pending"

        path.unlink()  # repaired: the next sync takes the waiting row in first
        assert main(["sync"]) == 0
        rows = audit_rows(WarehouseResource())
        assert actions(rows) == ["sync_failed", "config_recorded", "sync_started", "sync_finished"]
        assert rows[0]["run_id"] == run.run_id and pending_rows(path) == []
    else:
        rows = audit_rows(WarehouseResource())
        assert actions(rows) == ["config_recorded", "sync_started", "sync_failed"]
        assert rows[2]["detail"]["requests_total"] >= 1, "the sync's own row, with its figures"
        assert run.tags[FAILURE_RECORDED_TAG] == "written"
    assert TOKEN not in text_of(rows)
    instance.dispose()


def test_the_audit_sensor_records_a_launched_sync_that_failed_before_it_began(
    simulator, tmp_path, monkeypatch
):
    import dagster as dg

    from archy_pipeline.constants import WORKSPACES
    from archy_pipeline.definitions import defs
    from archy_pipeline.resources.settings import ArchySettingsResource
    from archy_pipeline.runs import owner_tags
    from archy_pipeline.sensors.audit import sync_failure_audit_sensor

    sim = simulator(workspace_with_recipes(3), rate_limits=None)
    config = tmp_path / "archy.yaml"
    config.write_text(f"workspaces:\n  - name: ACME\n    base_url: {sim.base_url}\n")
    monkeypatch.setenv("ARCHY_CONFIG", str(config))
    monkeypatch.setenv("WORKATO_API_TOKEN", sim.token)
    path = tmp_path / "data" / "warehouse.duckdb"
    monkeypatch.setenv("ARCHY_DUCKDB_PATH", str(path))
    path.parent.mkdir()
    path.write_bytes(b"not a DuckDB database " * 300)
    resources = {"warehouse": WarehouseResource(), "workato": WorkatoResource(),
                 "settings": ArchySettingsResource()}  # fmt: skip

    def evaluate(instance: dg.DagsterInstance, run_id: str) -> str:
        (record,) = instance.all_logs(run_id, of_type=dg.DagsterEventType.RUN_FAILURE)
        with dg.build_run_status_sensor_context(
            sensor_name="sync_failure_audit_sensor",
            dagster_instance=instance,
            dagster_run=instance.get_run_by_id(run_id),
            dagster_event=record.dagster_event,
            resources=resources,
        ) as context:
            return sync_failure_audit_sensor(context.for_run_failure()).skip_message

    def launched(instance: dg.DagsterInstance, **kwargs: Any) -> str:
        result = defs.resolve_job_def("sync_job").execute_in_process(
            instance=instance, partition_key="ACME", raise_on_error=False, **kwargs
        )
        assert not result.success
        return result.run_id

    assert sync_failure_audit_sensor.name in {sensor.name for sensor in defs.sensors}
    with dg.instance_for_test() as instance:
        instance.add_dynamic_partitions(WORKSPACES.name, ["ACME"])
        first = launched(instance)
        assert "sync_failed row waits in" in evaluate(instance, first)
        (waiting,) = pending_rows(path)
        assert waiting["run_id"] == first and waiting["detail"]["error"] == "IOException"
        assert "its sync recorded" in evaluate(instance, first), "a second tick adds nothing"
        cli = launched(instance, tags=owner_tags())  # the command line records its own
        assert "the command line that ran it records it" in evaluate(instance, cli)
        assert len(pending_rows(path)) == 1

        path.unlink()
        monkeypatch.setenv("WORKATO_API_TOKEN", "wrkaus-WRONG-TOKEN-0b1c2d3e4f5a6b7c8d9e")
        second = launched(instance)  # the sync asset records this one itself
        assert "its sync recorded" in evaluate(instance, second)

    rows = audit_rows(WarehouseResource())
    failed = [row for row in rows if row["action"] == "sync_failed"]
    assert [row["run_id"] for row in failed] == [first, second]
    assert failed[1]["detail"]["requests_total"] >= 1, "the sync's own row, with its figures"
    assert sim.token not in text_of(rows)


@pytest.fixture
def analysts_role(postgres_database: str) -> Iterator[str]:
    """A unique analysts' role (roles are cluster-wide: dropped after)."""
    role = f"archy_analyst_{uuid.uuid4().hex[:8]}"
    yield role
    admin = psycopg2.connect(postgres_database)
    admin.autocommit = True
    cursor = admin.cursor()
    cursor.execute(f"select 1 from pg_roles where rolname = '{role}'")
    if cursor.fetchone():
        cursor.execute(f"drop owned by {role}")
        cursor.execute(f"drop role {role}")
    admin.close()


def as_role(dsn: str, role: str, sql: str) -> list[tuple]:
    connection = psycopg2.connect(dsn)
    try:
        cursor = connection.cursor()
        cursor.execute(f"set role {role}")
        cursor.execute(sql)
        return cursor.fetchall() if cursor.description else []
    finally:
        connection.rollback()
        connection.close()


@pytest.mark.postgres
def test_postgres_gets_the_audit_log_and_the_analysts_role_reads_it_only(
    simulator, postgres_database, analysts_role, tmp_path
):
    sim = simulator(workspace_with_recipes(3), rate_limits=None)
    warehouse = WarehouseResource(
        postgres_dsn=postgres_database, pipelines_dir=str(tmp_path / "dlt")
    )
    warehouse.backend.grant_analysts(analysts_role)  # before the table exists
    assert sync(sim, warehouse).success
    assert not sync(sim, warehouse, token="wrkaus-WRONG-TOKEN-0b1c2d3e4f5a6b7c8d9e").success
    rows = audit_rows(warehouse)
    assert actions(rows) == [
        "config_recorded", "sync_started", "sync_finished", "sync_started", "sync_failed",
    ]  # fmt: skip
    assert rows[2]["detail"]["rows_loaded"]["recipes"] == 3
    assert (
        dict(warehouse.columns("archy", "audit_log"))["occurred_at"] == "timestamp with time zone"
    )
    assert as_role(postgres_database, analysts_role, f"select count(*) from {LOG}") == [(5,)]
    for write in (f"delete from {LOG}", f"update {LOG} set actor = 'x'"):
        with pytest.raises(psycopg2.errors.InsufficientPrivilege):
            as_role(postgres_database, analysts_role, write)


def test_a_rebuild_without_a_sync_records_a_mapping_change(simulator, tmp_path, monkeypatch):
    import dagster as dg

    from archy_pipeline.assets.mapping import system_mappings, systems
    from archy_pipeline.resources.settings import ArchySettingsResource

    sim = simulator(workspace_with_recipes(3), rate_limits=None)
    config = tmp_path / "archy.yaml"
    monkeypatch.setenv("ARCHY_CONFIG", str(config))
    config.write_text(ARCHY_YAML.format(daily="0 2 * * *", rules="[]"))
    warehouse = WarehouseResource(duckdb_path=str(tmp_path / "warehouse.duckdb"))
    assert sync(sim, warehouse).success

    def rebuild() -> Any:
        return dg.materialize(
            [systems, system_mappings],
            resources={"warehouse": warehouse, "settings": ArchySettingsResource()},
        )

    assert rebuild().success
    assert len(audit_rows(warehouse)) == 3, "nothing changed: nothing recorded"
    config.write_text(
        ARCHY_YAML.format(daily="0 2 * * *", rules='[{name: "(?i)^sales", system: salesforce}]')
    )
    result = rebuild()
    assert result.success
    (row,) = audit_rows(warehouse)[3:]
    assert row["action"] == "mapping_changed" and row["run_id"] == result.dagster_run.run_id
    assert row["detail"]["added"] == ["mapping.rules[0]"]
    assert "(?i)^sales" not in text_of([row])
