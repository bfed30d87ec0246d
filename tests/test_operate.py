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
from archy_pipeline.sensors.schedules import (
    build_schedules,
    transform_after_sync_sensor,
    workspace_partitions_sensor,
)
from archy_pipeline.settings import ConfigError, load_settings
from tests.support import workspace_with_recipes

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
    daily, weekly = build_schedules(load_settings().schedules)
    assert (daily.name, daily.cron_schedule, daily.execution_timezone) == (
        "daily_sync_schedule", "0 2 * * *", "UTC"
    )  # fmt: skip
    assert (weekly.name, weekly.cron_schedule) == ("weekly_sync_schedule", "0 4 * * 0")
    assert daily.job_name == weekly.job_name == "sync_job"
    assert daily.default_status == dg.DefaultScheduleStatus.RUNNING


def test_schedules_come_from_archy_yaml(monkeypatch, tmp_path):
    write_config(
        tmp_path,
        monkeypatch,
        {
            "schedules": {
                "daily": "30 1 * * 1-5",
                "weekly": "0 5 * * 6",
                "timezone": "Europe/Berlin",
            }
        },
    )
    daily, weekly = build_schedules(load_settings().schedules)
    assert (daily.cron_schedule, daily.execution_timezone) == ("30 1 * * 1-5", "Europe/Berlin")
    assert weekly.cron_schedule == "0 5 * * 6"


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


def test_a_successful_sync_requests_one_transform_run(simulator, monkeypatch, tmp_path, instance):
    result = _sync_run(simulator, monkeypatch, tmp_path, instance)
    run = instance.get_run_by_id(result.run_id)
    (record,) = instance.all_logs(result.run_id, of_type=dg.DagsterEventType.RUN_SUCCESS)
    success = record.dagster_event
    context = dg.build_run_status_sensor_context(
        sensor_name="transform_after_sync_sensor",
        dagster_instance=instance,
        dagster_run=run,
        dagster_event=success,
    )
    request = transform_after_sync_sensor(context)
    assert request.run_key == f"transform-after-{result.run_id}", "the same sync never runs twice"
    assert request.tags["archy/after_sync"] == result.run_id


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
