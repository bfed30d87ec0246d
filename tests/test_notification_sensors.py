"""The notification sensors end to end: real runs on a test instance, a real SMTP server."""

from __future__ import annotations

from pathlib import Path

import dagster as dg
import pytest
import yaml

from archy_pipeline.constants import WORKSPACES
from archy_pipeline.definitions import defs
from archy_pipeline.resources.settings import ArchySettingsResource
from archy_pipeline.resources.warehouse import WarehouseResource
from archy_pipeline.sensors.notifications import change_digest_sensor, sync_failure_sensor
from tests.support import simple_code, workspace_with_recipes

WORKSPACE = "Main Workspace"


@pytest.fixture
def setup(simulator, smtp_server, monkeypatch, tmp_path):
    ws = workspace_with_recipes(6)
    sim = simulator(ws, rate_limits=None)
    mail = smtp_server()
    config = tmp_path / "archy.yaml"
    config.write_text(
        yaml.safe_dump(
            {
                "notifications": {
                    "email": {
                        "host": "127.0.0.1",
                        "port": mail.port,
                        "tls": "none",
                        "sender": "archy@acme.example",
                        "recipients": ["architects@acme.example"],
                    }
                }
            }
        )
    )
    monkeypatch.setenv("ARCHY_CONFIG", str(config))
    monkeypatch.setenv("WORKATO_API_TOKEN", sim.token)
    monkeypatch.setenv("WORKATO_BASE_URL", sim.base_url)
    monkeypatch.setenv("ARCHY_DUCKDB_PATH", str(tmp_path / "warehouse.duckdb"))
    monkeypatch.setenv("ARCHY_DAGSTER_URL", "http://dagster.acme.internal")
    with dg.instance_for_test() as instance:
        instance.add_dynamic_partitions(WORKSPACES.name, [WORKSPACE])
        yield ws, sim, mail, instance


def run(instance: dg.DagsterInstance, job: str, **kwargs) -> dg.ExecuteInProcessResult:
    """A run of ``job``; "rebuild after sync" is the run the rebuild automation launches:
    transform_job's assets in Dagster's implicit asset job, with the sensor's tags."""
    if job == "rebuild after sync":
        sensor = defs.resolve_sensor_def("rebuild_after_sync_sensor")
        keys = defs.resolve_job_def("transform_job").asset_layer.selected_asset_keys
        return defs.resolve_implicit_global_asset_job_def().execute_in_process(
            instance=instance,
            asset_selection=list(keys),
            tags=dict(sensor.run_tags),
            raise_on_error=False,
            **kwargs,
        )
    return defs.resolve_job_def(job).execute_in_process(
        instance=instance, raise_on_error=False, **kwargs
    )


def status_context(instance, result, event_type, name):
    (record,) = instance.all_logs(result.run_id, of_type=event_type)
    return dg.build_run_status_sensor_context(
        sensor_name=name,
        dagster_instance=instance,
        dagster_run=instance.get_run_by_id(result.run_id),
        dagster_event=record.dagster_event,
        resources={"warehouse": WarehouseResource(), "settings": ArchySettingsResource()},
    )


@pytest.mark.parametrize("rebuild_job", ["transform_job", "rebuild after sync"])
def test_a_rebuild_with_changes_sends_the_digest(setup, rebuild_job):
    ws, _, mail, instance = setup
    synced = run(instance, "sync_job", partition_key=WORKSPACE)
    assert synced.success
    skip = change_digest_sensor(
        status_context(instance, synced, dg.DagsterEventType.RUN_SUCCESS, "change_digest_sensor")
    )
    assert "rebuilt no archy table" in skip.skip_message
    baseline = run(instance, rebuild_job)
    assert baseline.success
    skip = change_digest_sensor(
        status_context(instance, baseline, dg.DagsterEventType.RUN_SUCCESS, "change_digest_sensor")
    )
    assert "no change events" in skip.skip_message
    assert mail.messages == []

    stopped = next(r for r in ws.recipes.values() if r.running)
    ws.stop_recipe(stopped.id, "trigger_errors_limit")
    ws.add_recipe("Brand new integration", simple_code("jira", "slack"))
    assert run(instance, "sync_job", partition_key=WORKSPACE).success
    rebuild = run(instance, rebuild_job)
    assert rebuild.success

    skip = change_digest_sensor(
        status_context(instance, rebuild, dg.DagsterEventType.RUN_SUCCESS, "change_digest_sensor")
    )
    assert "email sent" in skip.skip_message
    (message,) = mail.messages
    assert message.rcpt_tos == ["architects@acme.example"]
    subject = message.message["Subject"]
    assert subject.startswith(f"[archy] {WORKSPACE}:") and "1 new recipe" in subject
    body = message.message.get_body(("plain",)).get_content()
    assert "Brand new integration" in body
    assert stopped.name in body
    assert f"http://dagster.acme.internal/runs/{rebuild.run_id}" in body


def test_a_failed_sync_sends_a_notice_with_the_reason_and_a_link(setup):
    ws, sim, mail, instance = setup
    ws.revoke_token(sim.token)
    failed = run(instance, "sync_job", partition_key=WORKSPACE)
    assert not failed.success
    context = status_context(
        instance, failed, dg.DagsterEventType.RUN_FAILURE, "sync_failure_sensor"
    ).for_run_failure()
    skip = sync_failure_sensor(context)
    assert "email sent" in skip.skip_message
    (message,) = mail.messages
    body = message.message.get_body(("plain",)).get_content()
    assert "sync_job" in message.message["Subject"] or "sync_job" in body
    assert f"http://dagster.acme.internal/runs/{failed.run_id}" in body
    assert WORKSPACE in body


def test_a_failed_rebuild_after_sync_sends_a_notice(setup):
    _, _, mail, instance = setup
    failed = run(instance, "rebuild after sync")  # nothing synced: no raw table to read
    assert not failed.success
    context = status_context(
        instance, failed, dg.DagsterEventType.RUN_FAILURE, "sync_failure_sensor"
    ).for_run_failure()
    skip = sync_failure_sensor(context)
    assert "email sent" in skip.skip_message
    (message,) = mail.messages
    assert message.message["Subject"] == "[archy] all workspaces: sync failed (rebuild after sync)"
    body = message.message.get_body(("plain",)).get_content()
    assert f"http://dagster.acme.internal/runs/{failed.run_id}" in body


def test_without_notifications_nothing_is_sent(setup, tmp_path, monkeypatch):
    _, _, mail, instance = setup
    empty = tmp_path / "empty.yaml"
    empty.write_text("workspaces:\n  - name: Main Workspace\n")
    monkeypatch.setenv("ARCHY_CONFIG", str(empty))
    assert run(instance, "sync_job", partition_key=WORKSPACE).success
    done = run(instance, "transform_job")
    skip = change_digest_sensor(
        status_context(instance, done, dg.DagsterEventType.RUN_SUCCESS, "change_digest_sensor")
    )
    assert "notifications are off" in skip.skip_message
    assert mail.messages == []
    assert Path(empty).exists()
