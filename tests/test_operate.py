"""The pipeline runs itself: schedules, sensors tick by tick, and Dagster on PostgreSQL."""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path

import dagster as dg
import psycopg2
import pytest
import yaml

from archy_pipeline.constants import WORKSPACES
from archy_pipeline.definitions import defs
from archy_pipeline.partitions import add_workspaces, add_workspaces_requests
from archy_pipeline.resources import ArchySettingsResource
from archy_pipeline.resources.warehouse import WarehouseResource
from archy_pipeline.sensors.schedules import build_schedules, workspace_partitions_sensor
from archy_pipeline.settings import ConfigError, load_settings
from tests.support import simple_code, workspace_with_recipes

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def instance():
    with dg.instance_for_test() as test_instance:
        yield test_instance


def context(instance: dg.DagsterInstance, when: datetime) -> dg.ScheduleEvaluationContext:
    return dg.build_schedule_context(
        instance=instance,
        scheduled_execution_time=when,
        repository_def=defs.get_repository_def(),
    )


def write_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, data: dict) -> Path:
    path = tmp_path / "archy.yaml"
    path.write_text(yaml.safe_dump(data))
    monkeypatch.setenv("ARCHY_CONFIG", str(path))
    return path


# ---------------------------------------------------------------------- schedules


def test_schedules_default_to_off_hours_utc(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)  # no archy.yaml here
    daily, weekly, retention = build_schedules(load_settings().schedules)
    assert (daily.name, daily.cron_schedule, daily.execution_timezone) == (
        "daily_sync_schedule", "0 2 * * *", "UTC"
    )  # fmt: skip
    assert (weekly.name, weekly.cron_schedule) == ("weekly_sync_schedule", "0 4 * * 0")
    assert daily.job_name == weekly.job_name == "sync_job"
    assert daily.default_status == dg.DefaultScheduleStatus.RUNNING
    assert (retention.name, retention.cron_schedule, retention.job_name) == (
        "retention_schedule", "30 1 * * *", "retention_job"
    )  # fmt: skip


def test_schedules_come_from_archy_yaml(monkeypatch, tmp_path):
    write_config(
        tmp_path,
        monkeypatch,
        {
            "schedules": {
                "daily": "30 1 * * 1-5",
                "weekly": "0 5 * * 6",
                "retention": "15 0 * * *",
                "timezone": "Europe/Berlin",
            }
        },
    )
    daily, weekly, retention = build_schedules(load_settings().schedules)
    assert (daily.cron_schedule, daily.execution_timezone) == ("30 1 * * 1-5", "Europe/Berlin")
    assert weekly.cron_schedule == "0 5 * * 6"
    assert (retention.cron_schedule, retention.execution_timezone) == (
        "15 0 * * *",
        "Europe/Berlin",
    )


@pytest.mark.parametrize(
    ("schedules", "message"),
    [
        pytest.param({"daily": "every day"}, "five fields", id="cron"),
        pytest.param({"timezone": "Mars/Olympus"}, "IANA time zone", id="timezone"),
        pytest.param({"hourly": "0 * * * *"}, "unknown key", id="key"),
    ],
)
def test_bad_schedules_are_refused_with_the_key(monkeypatch, tmp_path, schedules, message):
    write_config(tmp_path, monkeypatch, {"schedules": schedules})
    with pytest.raises(ConfigError, match=message):
        build_schedules(load_settings().schedules)


@pytest.mark.parametrize(
    ("index", "kind", "full"), [pytest.param(0, "daily", False), pytest.param(1, "weekly", True)]
)
def test_a_schedule_tick_asks_one_run_per_workspace(
    index, kind, full, monkeypatch, tmp_path, instance
):
    monkeypatch.chdir(tmp_path)
    schedule = build_schedules(load_settings().schedules)[index]
    when = datetime(2026, 11, 30, 2, 0, tzinfo=timezone.utc)

    empty = schedule.evaluate_tick(context(instance, when))
    assert not empty.run_requests
    assert "no workspace partition yet" in empty.skip_message

    instance.add_dynamic_partitions(WORKSPACES.name, ["US", "EU"])
    data = schedule.evaluate_tick(context(instance, when))
    requests = sorted(data.run_requests, key=lambda r: r.partition_key)
    assert [r.partition_key for r in requests] == ["EU", "US"]
    assert [r.run_key for r in requests] == [
        f"{kind}-EU-2026-11-30T02:00",
        f"{kind}-US-2026-11-30T02:00",
    ]
    job = defs.resolve_job_def("sync_job")
    for request in requests:
        assert request.run_config["ops"]["workato_raw"]["config"]["full_refresh"] is full
        dg.validate_run_config(job, request.run_config)


# ---------------------------------------------------------------------- sensors


def test_partitions_sensor_tick_by_tick(monkeypatch, tmp_path, instance):
    config = write_config(tmp_path, monkeypatch, {"workspaces": [{"name": "US"}, {"name": "EU"}]})

    def tick() -> dg.SensorResult:
        context = dg.build_sensor_context(instance, resources={"settings": ArchySettingsResource()})
        result = workspace_partitions_sensor(context)
        for request in result.dynamic_partitions_requests or []:
            instance.add_dynamic_partitions(request.partitions_def_name, request.partition_keys)
        return result

    first = tick()
    assert [r.partition_keys for r in first.dynamic_partitions_requests] == [["US", "EU"]]
    second = tick()
    assert not second.dynamic_partitions_requests
    assert "every workspace in archy.yaml has a partition" in second.skip_reason.skip_message

    config.write_text(yaml.safe_dump({"workspaces": [{"name": n} for n in ("US", "EU", "JP")]}))
    third = tick()
    assert [r.partition_keys for r in third.dynamic_partitions_requests] == [["JP"]]
    assert set(instance.get_dynamic_partitions(WORKSPACES.name)) == {"US", "EU", "JP"}

    config.write_text("workspaces: [")
    broken = tick()
    assert "archy.yaml cannot be read" in broken.skip_reason.skip_message


def test_workspace_partitions_are_added_once_in_the_order_given(instance):
    assert add_workspaces(instance, ["US", "EU", "US"]) == ["US", "EU"]
    assert add_workspaces(instance, ["EU", "US"]) == []
    (request,) = add_workspaces_requests(instance, ["JP", "US", "AU", "JP"])
    assert (request.partitions_def_name, list(request.partition_keys)) == (
        WORKSPACES.name, ["JP", "AU"]
    )  # fmt: skip
    assert add_workspaces_requests(instance, ["US"]) == []
    assert list(instance.get_dynamic_partitions(WORKSPACES.name)) == ["US", "EU"]


def _sync_run(simulator, monkeypatch, tmp_path, instance: dg.DagsterInstance):
    """Run the real sync_job on ``instance`` against the simulator; return the run."""
    sim = simulator(workspace_with_recipes(4), rate_limits=None)
    monkeypatch.setenv("WORKATO_API_TOKEN", sim.token)
    monkeypatch.setenv("WORKATO_BASE_URL", sim.base_url)
    monkeypatch.setenv("ARCHY_DUCKDB_PATH", str(tmp_path / "warehouse.duckdb"))
    monkeypatch.chdir(tmp_path)
    instance.add_dynamic_partitions(WORKSPACES.name, ["Main Workspace"])
    result = defs.resolve_job_def("sync_job").execute_in_process(
        instance=instance, partition_key="Main Workspace"
    )
    assert result.success
    return result


# ---------------------------------------------------------------------- rebuild after syncs


def test_the_rebuild_automation_is_on_by_default_and_covers_transform_job():
    sensor = defs.resolve_sensor_def("rebuild_after_sync_sensor")
    assert isinstance(sensor, dg.AutomationConditionSensorDefinition)
    assert sensor.default_status == dg.DefaultSensorStatus.RUNNING, "no toggle in the UI needed"
    graph = defs.resolve_asset_graph()
    rebuilt = set(defs.resolve_job_def("transform_job").asset_layer.selected_asset_keys)
    assert sensor.asset_selection.resolve(graph) == rebuilt
    conditioned = {k for k in graph.get_all_asset_keys() if graph.get(k).automation_condition}
    assert conditioned == rebuilt, "every table transform_job builds, and nothing else"
    assert "default_automation_condition_sensor" not in {s.name for s in defs.sensors or []}


def _automation_tick(instance: dg.DagsterInstance, cursor: str | None):
    """One evaluation of rebuild_after_sync_sensor, as the daemon runs it (same target, tags,
    conditions); in process, since the daemon's own sensor cannot be ticked from a test."""
    sensor = defs.resolve_sensor_def("rebuild_after_sync_sensor")
    in_process = dg.AutomationConditionSensorDefinition(
        "rebuild_after_sync_sensor",
        target=sensor.asset_selection,
        run_tags=sensor.run_tags,
        emit_backfills=sensor.emit_backfills,
        use_user_code_server=True,
    )
    context = dg.build_sensor_context(
        instance=instance, repository_def=defs.get_repository_def(), cursor=cursor
    )
    data = in_process.evaluate_tick(context)
    return list(data.run_requests or []), data.cursor


@pytest.mark.slow
@pytest.mark.filterwarnings("ignore:Parameter `use_user_code_server`:dagster.BetaWarning")
def test_syncs_finishing_together_cause_one_rebuild(simulator, monkeypatch, tmp_path, instance):
    """Two workspaces synced and one failing between two ticks: one run rebuilds every archy
    table (and the report) from both; a failed sync alone triggers nothing, and a sync still
    queued holds the rebuild back until it is done."""
    us_workspace = workspace_with_recipes(3, name="US Workspace")
    us = simulator(us_workspace, rate_limits=None)
    eu = simulator(workspace_with_recipes(5, name="EU Workspace"), rate_limits=None)
    write_config(
        tmp_path,
        monkeypatch,
        {
            "workspaces": [
                {"name": "US", "base_url": us.base_url, "token_env": "US_TOKEN"},
                {"name": "EU", "base_url": eu.base_url, "token_env": "EU_TOKEN"},
                {"name": "JP", "base_url": us.base_url, "token_env": "JP_TOKEN"},
            ]
        },
    )
    monkeypatch.setenv("US_TOKEN", us.token)
    monkeypatch.setenv("EU_TOKEN", eu.token)
    monkeypatch.setenv("JP_TOKEN", "revoked-token")  # every JP sync fails
    monkeypatch.setenv("ARCHY_DUCKDB_PATH", str(tmp_path / "warehouse.duckdb"))
    monkeypatch.setenv("ARCHY_REPORT_DIR", str(tmp_path / "report"))
    # "Never" stands for a workspace whose first sync has not succeeded yet: a partition
    # of every raw table that was never materialized (eager() would wait for it for ever).
    instance.add_dynamic_partitions(WORKSPACES.name, ["US", "EU", "JP", "Never"])
    sync_job = defs.resolve_job_def("sync_job")

    def sync(workspace: str) -> bool:
        return sync_job.execute_in_process(
            instance=instance, partition_key=workspace, raise_on_error=False
        ).success

    requests, cursor = _automation_tick(instance, None)
    assert requests == []

    assert sync("US") and sync("EU")
    assert not sync("JP")
    requests, cursor = _automation_tick(instance, cursor)
    (request,) = requests
    transform_job = defs.resolve_job_def("transform_job")
    assert set(request.asset_selection) == set(transform_job.asset_layer.selected_asset_keys)
    assert request.tags["archy/rebuild"] == "after_sync"

    rebuild = defs.resolve_implicit_global_asset_job_def().execute_in_process(
        instance=instance,
        asset_selection=list(request.asset_selection),
        tags=request.tags,
    )
    assert rebuild.success
    built = {e.asset_key for e in rebuild.get_asset_materialization_events()}
    assert built == set(request.asset_selection)
    checks = rebuild.get_asset_check_evaluations()
    assert {c.asset_check_key.name for c in checks} >= {
        "connections_exist_check", "callees_exist_check"
    }, "the integrity checks run with the tables"  # fmt: skip
    _, rows = WarehouseResource().query(
        "select workspace, count(*) from archy.integrations group by workspace order by 1"
    )
    assert rows == [("EU", 5), ("US", 3)]
    assert (tmp_path / "report" / "index.html").exists()

    requests, cursor = _automation_tick(instance, cursor)
    assert requests == [], "nothing synced since the rebuild"

    assert not sync("JP")
    requests, cursor = _automation_tick(instance, cursor)
    assert requests == [], "a failed sync records nothing to rebuild from"

    queued = instance.create_run_for_job(sync_job, tags={"dagster/partition": "EU"})
    us_workspace.add_recipe("Added later", simple_code())  # a sync that changes something
    assert sync("US")
    requests, cursor = _automation_tick(instance, cursor)
    assert requests == [], "the EU sync is still queued"
    instance.report_run_canceled(queued)
    requests, cursor = _automation_tick(instance, cursor)
    assert len(requests) == 1


# ---------------------------------------------------------------------- instance storage


def test_dagster_yaml_in_the_repo_is_a_valid_instance_config(tmp_path):
    home = tmp_path / "home"
    home.mkdir()
    (home / "dagster.yaml").write_text((ROOT / "dagster.yaml").read_text())
    instance = dg.DagsterInstance.from_config(str(home))
    assert instance.run_storage is not None


@pytest.mark.postgres
def test_dagster_runs_on_a_postgres_instance(simulator, monkeypatch, tmp_path, postgres_database):
    home = tmp_path / "dagster_home"
    home.mkdir()
    (home / "dagster.yaml").write_text((ROOT / "docs" / "dagster-postgres.yaml").read_text())
    monkeypatch.setenv("DAGSTER_PG_HOST", "127.0.0.1")
    monkeypatch.setenv("DAGSTER_PG_USER", "postgres")
    monkeypatch.setenv("DAGSTER_PG_PASSWORD", "")
    monkeypatch.setenv("DAGSTER_PG_DB", postgres_database.rsplit("/", 1)[1])
    instance = dg.DagsterInstance.from_config(str(home))
    try:
        result = _sync_run(simulator, monkeypatch, tmp_path, instance)
        with psycopg2.connect(postgres_database) as con:
            cur = con.cursor()
            cur.execute("select pipeline_name, status from runs where run_id = %s", [result.run_id])
            assert cur.fetchone() == ("sync_job", "SUCCESS")
            cur.execute(
                "select partition from dynamic_partitions where partitions_def_name = %s",
                [WORKSPACES.name],
            )
            assert cur.fetchall() == [("Main Workspace",)]
    finally:
        instance.dispose()
