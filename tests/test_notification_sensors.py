"""The notification sensors end to end: real runs on a test instance, a real SMTP server."""

from __future__ import annotations

import http.server
import threading
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path

import dagster as dg
import pytest
import yaml

from archy_pipeline.constants import WORKSPACES
from archy_pipeline.definitions import defs
from archy_pipeline.notify import channels
from archy_pipeline.resources.settings import ArchySettingsResource
from archy_pipeline.resources.warehouse import WarehouseResource
from archy_pipeline.sensors import notifications
from archy_pipeline.sensors.notifications import change_digest_sensor, sync_failure_sensor
from tests.support import documented_columns, simple_code, workspace_with_recipes

WORKSPACE = "Main Workspace"
DELIVERIES = "archy.notification_deliveries"


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


def deliveries() -> list[dict]:
    """The rows of archy.notification_deliveries, oldest first ([] before the first)."""
    warehouse = WarehouseResource()
    if not warehouse.columns("archy", "notification_deliveries"):
        return []
    names, rows = warehouse.query(f"select * from {DELIVERIES} order by delivered_at, channel")
    assert names == documented_columns()[DELIVERIES], "the columns docs/tables.md lists"
    return [dict(zip(names, row, strict=True)) for row in rows]


#: Contexts opened by status_context, closed after each test (the warehouse resource has a
#: run lifecycle, so Dagster wants its sensor contexts entered).
_OPEN: list[ExitStack] = []


@pytest.fixture(autouse=True)
def _sensor_contexts() -> Iterator[None]:
    with ExitStack() as stack:
        _OPEN.append(stack)
        yield
        _OPEN.pop()


def status_context(instance, result, event_type, name):
    (record,) = instance.all_logs(result.run_id, of_type=event_type)
    return _OPEN[-1].enter_context(
        dg.build_run_status_sensor_context(
            sensor_name=name,
            dagster_instance=instance,
            dagster_run=instance.get_run_by_id(result.run_id),
            dagster_event=record.dagster_event,
            resources={"warehouse": WarehouseResource(), "settings": ArchySettingsResource()},
        )
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
    assert deliveries() == [], "nothing was sent, so nothing is recorded"

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

    (row,) = deliveries()
    assert row.pop("delivered_at") is not None
    assert WarehouseResource().count_rows("archy", "change_events") >= 2
    assert row == {
        "run_id": rebuild.run_id,
        "job_name": rebuild_job,
        "workspace": WORKSPACE,
        "kind": "digest",
        "channel": "email",
        "target": f"127.0.0.1:{mail.port}",
        "ok": True,
        "attempts": 1,
        # every change event this rebuild found (the baseline build found none)
        "events": WarehouseResource().count_rows("archy", "change_events"),
        "subject": subject,
        "error": None,
    }


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


@pytest.fixture
def echoing_hook() -> Iterator[str]:
    """A webhook receiver on 127.0.0.1 that answers 500 and quotes the URL it was called
    with (path and credentials) in its body: a delivery error that carries the secrets."""

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            self.rfile.read(int(self.headers.get("Content-Length") or 0))
            reply = f"no such hook {self.path} ({self.headers.get('Authorization')})".encode()
            self.send_response(500)
            self.send_header("Content-Length", str(len(reply)))
            self.end_headers()
            self.wfile.write(reply)

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
    ).start()
    yield f"127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_a_failure_notice_is_recorded_per_channel_without_secrets(
    setup, tmp_path, monkeypatch, echoing_hook
):
    ws, sim, mail, instance = setup
    config = yaml.safe_load(Path(tmp_path / "archy.yaml").read_text())
    config["notifications"]["webhook"] = {"url_env": "TEAM_HOOK_URL"}
    (tmp_path / "archy.yaml").write_text(yaml.safe_dump(config))
    hook_secret, hook_password = "B0SECRETPATHTOKEN42", "hook-pw-Zq9"
    monkeypatch.setenv(
        "TEAM_HOOK_URL",
        f"http://hooks:{hook_password}@{echoing_hook}/services/T0/{hook_secret}",
    )
    monkeypatch.setattr(channels, "WEBHOOK_RETRY_DELAYS", (0.01, 0.01))
    ws.revoke_token(sim.token)
    failed = run(instance, "sync_job", partition_key=WORKSPACE)
    assert not failed.success

    skip = sync_failure_sensor(
        status_context(
            instance, failed, dg.DagsterEventType.RUN_FAILURE, "sync_failure_sensor"
        ).for_run_failure()
    )
    assert skip.skip_message == "email sent; webhook failed"
    (message,) = mail.messages

    email, webhook = deliveries()
    for row in (email, webhook):
        assert (row["run_id"], row["job_name"], row["workspace"], row["kind"]) == (
            failed.run_id, "sync_job", WORKSPACE, "failure"
        )  # fmt: skip
        assert row["subject"] == message.message["Subject"]
        assert row["events"] is None
    assert (email["channel"], email["ok"], email["error"]) == ("email", True, None)
    assert email["target"] == f"127.0.0.1:{mail.port}"
    assert (webhook["channel"], webhook["ok"], webhook["attempts"]) == ("webhook", False, 3)
    assert webhook["target"] == f"http://{echoing_hook}"
    assert webhook["error"].startswith("HTTP 500: no such hook ")
    assert "***" in webhook["error"], "the echoed secrets are masked"
    cells = " ".join(str(value) for row in (email, webhook) for value in row.values())
    for secret in (hook_secret, hook_password, "/services/T0", sim.token):
        assert secret not in cells


def test_a_delivery_that_cannot_be_recorded_is_still_sent(setup, tmp_path, monkeypatch):
    ws, sim, mail, instance = setup
    ws.revoke_token(sim.token)
    failed = run(instance, "sync_job", partition_key=WORKSPACE)
    assert not failed.success
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the warehouse's folder should be")
    monkeypatch.setenv("ARCHY_DUCKDB_PATH", str(blocker / "warehouse.duckdb"))
    monkeypatch.setattr(notifications, "RECORD_RETRY_DELAYS", (0.01, 0.01))

    skip = sync_failure_sensor(
        status_context(
            instance, failed, dg.DagsterEventType.RUN_FAILURE, "sync_failure_sensor"
        ).for_run_failure()
    )
    assert skip.skip_message.startswith("email sent (not recorded in ")
    assert len(mail.messages) == 1, "the notice went out all the same"


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
