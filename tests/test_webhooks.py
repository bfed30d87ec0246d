"""Webhooks: the loopback receiver over real HTTP, the SQLite inbox, the sensor tick by tick."""

from __future__ import annotations

import http.client
import json
import logging
import sqlite3
import subprocess
import sys
import textwrap
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import dagster as dg
import pytest
import yaml

from archy_pipeline.constants import WORKSPACES
from archy_pipeline.definitions import defs
from archy_pipeline.resources import ArchySettingsResource
from archy_pipeline.sensors import webhook_sensor as webhook_sensor_module
from archy_pipeline.sensors.webhook_sensor import webhook_sensor
from archy_pipeline.webhooks import (
    MAX_BODY_BYTES,
    Inbox,
    WebhookReceiver,
    serve,
    sign,
)

#: Distinctive enough that finding it anywhere in output or logs is meaningful.
SECRET = "whsec-SECRET-4b8e2d6f0a1c3e5g7i9k"
WORKSPACE_NAMES = ["US", "EU"]
ROOT = Path(__file__).resolve().parent.parent


def write_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, data: dict) -> Path:
    path = tmp_path / "archy.yaml"
    path.write_text(yaml.safe_dump(data))
    monkeypatch.setenv("ARCHY_CONFIG", str(path))
    return path


def event(event_id: str = "evt-1", workspace: str = "US", **changes: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "event_id": event_id,
        "workspace": workspace,
        "type": "recipe_stopped",
        "recipe_id": 4242,
        "occurred_at": "2026-11-30T09:15:00Z",
    }
    body.update(changes)
    return {key: value for key, value in body.items() if value is not None}


@pytest.fixture(autouse=True)
def _webhook_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """archy.yaml lists US and EU; the secret and inbox are this test's own."""
    write_config(tmp_path, monkeypatch, {"workspaces": [{"name": n} for n in WORKSPACE_NAMES]})
    monkeypatch.setenv("ARCHY_WEBHOOK_SECRET", SECRET)
    monkeypatch.setenv("ARCHY_WEBHOOK_INBOX", str(tmp_path / "inbox.sqlite"))


@pytest.fixture
def receiver(tmp_path: Path) -> Iterator[WebhookReceiver]:
    with WebhookReceiver(
        port=0, inbox_path=tmp_path / "inbox.sqlite", secret=SECRET, workspaces=WORKSPACE_NAMES
    ) as started:
        yield started


class Answer:
    def __init__(self, status: int, text: str, headers: dict[str, str]) -> None:
        self.status = status
        self.text = text
        self.headers = headers

    @property
    def json(self) -> dict[str, Any]:
        return json.loads(self.text)


def request(
    receiver: WebhookReceiver,
    method: str = "POST",
    path: str = "/events",
    body: bytes | dict[str, Any] | list[Any] | None = None,
    auth: str | None = "signature",
    headers: dict[str, str] | None = None,
) -> Answer:
    """One request over loopback (http.client: no proxy settings can reroute it)."""
    raw = body if isinstance(body, bytes) else b"" if body is None else json.dumps(body).encode()
    sent = {"Content-Type": "application/json"}
    if auth == "signature":
        sent["X-Archy-Signature"] = sign(raw, SECRET)
    elif auth == "bearer":
        sent["Authorization"] = f"Bearer {SECRET}"
    sent.update(headers or {})
    connection = http.client.HTTPConnection("127.0.0.1", receiver.port, timeout=10)
    try:
        connection.request(method, path, body=raw if method != "GET" else None, headers=sent)
        response = connection.getresponse()
        return Answer(response.status, response.read().decode(), dict(response.getheaders()))
    finally:
        connection.close()


def stored(receiver: WebhookReceiver) -> list[str]:
    return [e.event_id for e in receiver.inbox.since(0, 1000)]


# ---------------------------------------------------------------------- authentication


def test_a_signed_event_is_accepted_and_stored(receiver):
    answer = request(receiver, body=event("evt-1"))
    assert answer.status == 202
    assert answer.json == {"accepted": True, "event_id": "evt-1", "seq": 1}
    (saved,) = receiver.inbox.since(0, 10)
    assert (saved.seq, saved.event_id, saved.workspace, saved.type) == (
        1, "evt-1", "US", "recipe_stopped"
    )  # fmt: skip
    assert (saved.subject_type, saved.subject_id) == ("recipe", "4242")
    assert saved.occurred_at == "2026-11-30T09:15:00Z"
    assert saved.payload == event("evt-1")


def test_a_bearer_event_is_accepted_and_stored(receiver):
    body = event(
        "evt-c", "EU", type="shared_account_disconnected", recipe_id=None, connection_id="c-77"
    )
    answer = request(receiver, body=body, auth="bearer")
    assert answer.status == 202
    (saved,) = receiver.inbox.since(0, 10)
    assert (saved.workspace, saved.subject_type, saved.subject_id) == ("EU", "connection", "c-77")


@pytest.mark.parametrize(
    "headers",
    [
        pytest.param({"X-Archy-Signature": sign(b"{}", SECRET)}, id="signature-of-another-body"),
        pytest.param(
            {"X-Archy-Signature": sign(json.dumps(event()).encode(), "another-secret-0123456")},
            id="signature-with-another-secret",
        ),
        pytest.param({"X-Archy-Signature": "sha256=zz"}, id="signature-garbage"),
        pytest.param({"Authorization": "Bearer not-the-secret-at-all"}, id="wrong-bearer"),
        pytest.param({"Authorization": f"Bearer {SECRET}x"}, id="bearer-with-a-suffix"),
        pytest.param({"Authorization": f"Basic {SECRET}"}, id="not-bearer"),
        pytest.param({}, id="missing"),
    ],
)
def test_without_valid_credentials_the_answer_is_401_and_nothing_is_stored(receiver, headers):
    answer = request(receiver, body=event(), auth=None, headers=headers)
    assert answer.status == 401
    assert "invalid credentials" in answer.json["error"]
    assert SECRET not in answer.text
    assert stored(receiver) == []


# ---------------------------------------------------------------------- validation


@pytest.mark.parametrize(
    ("body", "field", "message"),
    [
        pytest.param(b'{"event_id": ', None, "not valid JSON", id="bad-json"),
        pytest.param(b"\xff\xfe", None, "not valid JSON", id="not-utf8"),
        pytest.param([event()], None, "JSON object", id="a-list"),
        pytest.param(event(event_id=None), "event_id", "'event_id' is required", id="no-id"),
        pytest.param(event(event_id=""), "event_id", "non-empty", id="empty-id"),
        pytest.param(event(workspace=None), "workspace", "'workspace' is required", id="no-ws"),
        pytest.param(event(type="recipe.updated"), "type", "not one of", id="bad-type"),
        pytest.param(event(type=None), "type", "'type' is required", id="no-type"),
        pytest.param(event(recipe_id=None), "recipe_id", "required for recipe_stopped", id="rid"),
        pytest.param(
            event(type="shared_account_disconnected"),
            "connection_id",
            "required for shared_account_disconnected",
            id="connection-event-with-a-recipe-id",
        ),
        pytest.param(event(recipe_id=True), "recipe_id", "integer or", id="bool-id"),
        pytest.param(event(occurred_at="yesterday"), "occurred_at", "ISO-8601", id="bad-time"),
    ],
)
def test_a_bad_payload_is_400_naming_the_field(receiver, body, field, message):
    answer = request(receiver, body=body)
    assert answer.status == 400
    assert answer.json["field"] == field
    assert message in answer.json["error"]
    if field:
        assert repr(field) in answer.json["error"]
    assert stored(receiver) == []


@pytest.mark.parametrize(
    "body",
    [
        pytest.param(event("e1", type="stop_error", occurred_at=None), id="stop_error"),
        pytest.param(event("e2", type="recipe_started"), id="recipe_started"),
        pytest.param(event("e3", type="job_error", occurred_at=None, job_id="j-1"), id="job"),
        pytest.param(
            event("e4", type="shared_account_disconnected", recipe_id=None, connection_id=5),
            id="shared_account_disconnected",
        ),
    ],
)
def test_every_recipeops_trigger_the_relay_forwards_is_accepted(receiver, body):
    assert request(receiver, body=body).status == 202
    (saved,) = receiver.inbox.since(0, 10)
    assert saved.type == body["type"]
    assert saved.occurred_at == body.get("occurred_at")


def test_an_unknown_workspace_is_422_naming_the_known_ones(receiver):
    answer = request(receiver, body=event(workspace="Mars"))
    assert answer.status == 422
    assert answer.json["field"] == "workspace"
    assert answer.json["known_workspaces"] == WORKSPACE_NAMES
    assert "'Mars'" in answer.json["error"]
    assert "'US', 'EU'" in answer.json["error"]
    assert stored(receiver) == []


def test_a_repeated_event_id_is_200_duplicate_and_stored_once(receiver):
    first = request(receiver, body=event("evt-7"))
    again = request(receiver, body=event("evt-7", recipe_id=1), auth="bearer")
    assert (first.status, again.status) == (202, 200)
    assert again.json == {"duplicate": True, "event_id": "evt-7"}
    assert stored(receiver) == ["evt-7"]
    assert receiver.inbox.since(0, 10)[0].subject_id == "4242", "the first delivery is kept"


def test_a_body_over_256_kb_is_413_and_not_stored(receiver):
    body = json.dumps(event(padding="x" * MAX_BODY_BYTES)).encode()
    assert len(body) > MAX_BODY_BYTES
    answer = request(receiver, body=body)
    assert answer.status == 413
    assert str(MAX_BODY_BYTES) in answer.json["error"]
    assert stored(receiver) == []
    assert request(receiver, body=event()).status == 202, "the receiver still serves"


@pytest.mark.parametrize("levels", [900, 100_000])
def test_a_body_nested_too_deep_for_json_is_400_and_the_receiver_keeps_serving(receiver, levels):
    """An event is a flat object; a value nested 100,000 levels (200 KB, under the size
    limit) would take Python's JSON decoder past its recursion limit. 900 levels decode,
    but an event is never nested like that either: both are refused, nothing is stored."""
    raw = json.dumps(event("evt-deep"))[:-1] + ', "extra": ' + "[" * levels + "]" * levels + "}"
    assert len(raw) < MAX_BODY_BYTES
    answer = request(receiver, body=raw.encode())
    assert answer.status == 400
    assert "nested" in answer.json["error"]
    assert stored(receiver) == []
    assert request(receiver, body=event("evt-2")).status == 202, "the receiver still serves"


def test_a_body_just_under_the_limit_is_accepted(receiver):
    body = event(padding="")
    body["padding"] = "x" * (MAX_BODY_BYTES - len(json.dumps(body)))
    raw = json.dumps(body).encode()
    assert len(raw) == MAX_BODY_BYTES
    assert request(receiver, body=raw).status == 202


# ---------------------------------------------------------------------- routes


@pytest.mark.parametrize(
    ("method", "path", "status", "allow"),
    [
        pytest.param("GET", "/events", 405, "POST", id="get-events"),
        pytest.param("PUT", "/events", 405, "POST", id="put-events"),
        pytest.param("DELETE", "/events", 405, "POST", id="delete-events"),
        pytest.param("POST", "/health", 405, "GET", id="post-health"),
        pytest.param("GET", "/", 404, None, id="root"),
        pytest.param("POST", "/events/1", 404, None, id="sub-path"),
    ],
)
def test_other_paths_are_404_and_other_methods_405(receiver, method, path, status, allow):
    answer = request(receiver, method=method, path=path, body=event())
    assert answer.status == status
    assert answer.headers.get("Allow") == allow
    assert stored(receiver) == []


def test_health_answers_ok_with_the_last_seq(receiver):
    assert request(receiver, "GET", "/health", auth=None).json == {"status": "ok", "last_seq": 0}
    request(receiver, body=event())
    assert request(receiver, "GET", "/health", auth=None).json == {"status": "ok", "last_seq": 1}


def test_a_query_string_does_not_change_the_route(receiver):
    assert request(receiver, path="/events?source=relay", body=event()).status == 202


# ---------------------------------------------------------------------- the secret stays secret


def test_the_secret_never_appears_in_answers_or_logs(receiver, caplog):
    caplog.set_level(logging.DEBUG, logger="archy_pipeline.webhooks")
    answers = [
        request(receiver, body=event("evt-1")),
        request(receiver, body=event("evt-2"), auth="bearer"),
        request(receiver, body=event("evt-1"), auth="bearer"),
        request(receiver, body=event("evt-3"), auth=None, headers={"Authorization": "Bearer x"}),
        request(receiver, body=event(workspace="Mars"), auth="bearer"),
        request(receiver, body=b"{", auth="bearer"),
        # A careless sender puts the secret in the query string, or gets the path wrong.
        request(receiver, path=f"/events?token={SECRET}", body=event("evt-4"), auth="bearer"),
        request(receiver, path=f"/hooks?token={SECRET}", body=event("evt-5"), auth="bearer"),
        request(receiver, "GET", f"/events?token={SECRET}"),
        request(receiver, body=event("evt-6", padding="x" * MAX_BODY_BYTES), auth="bearer"),
    ]
    assert [a.status for a in answers] == [202, 202, 200, 401, 422, 400, 202, 404, 405, 413]
    for answer in answers:
        assert SECRET not in answer.text
        assert SECRET not in json.dumps(answer.headers)
    assert "stored as #1" in caplog.text, "the receiver's log was captured"
    assert "webhook refused (401)" in caplog.text
    assert SECRET not in caplog.text


def test_a_malformed_request_line_holding_the_secret_is_logged_redacted(receiver, caplog):
    import socket

    caplog.set_level(logging.DEBUG, logger="archy_pipeline.webhooks")
    with socket.create_connection(("127.0.0.1", receiver.port), timeout=5) as raw:
        # Four words: the stdlib refuses the line and quotes it in its error and log message.
        raw.sendall(f"POST /events?token={SECRET} extra HTTP/1.1\r\n\r\n".encode())
        reply = raw.recv(65536).decode()
    assert "Bad request syntax" in reply
    assert SECRET not in reply
    assert "[redacted]" in caplog.text
    assert SECRET not in caplog.text


# ---------------------------------------------------------------------- startup


@pytest.mark.parametrize("host", ["0.0.0.0", "::", "192.168.1.10", "10.0.0.1", "example.com"])
def test_a_non_loopback_host_is_refused(host, tmp_path):
    inbox = tmp_path / "inbox.sqlite"
    with pytest.raises(ValueError, match="loopback only"):
        WebhookReceiver(host=host, port=0, inbox_path=inbox, secret=SECRET, workspaces=["US"])
    with pytest.raises(ValueError, match="loopback only"):
        serve(host=host, port=0, inbox_path=inbox, secret=SECRET, workspaces=["US"])


@pytest.mark.parametrize("value", [None, "tiny-value"], ids=["unset", "too-short"])
def test_a_missing_or_short_secret_is_refused_naming_the_variable(value, tmp_path):
    with pytest.raises(ValueError, match="ARCHY_WEBHOOK_SECRET") as error:
        WebhookReceiver(
            port=0, inbox_path=tmp_path / "inbox.sqlite", secret=value, workspaces=["US"]
        )
    assert "tiny-value" not in str(error.value)


def test_serve_runs_until_stopped_with_a_named_secret_variable(tmp_path):
    ready: list[WebhookReceiver] = []
    started = threading.Event()
    stop = threading.Event()

    def on_ready(receiver: WebhookReceiver) -> None:
        ready.append(receiver)
        started.set()

    thread = threading.Thread(
        target=serve,
        kwargs={
            "port": 0,
            "inbox_path": tmp_path / "served.sqlite",
            "secret_env": "TEAM_HOOK_SECRET",
            "secret": SECRET,
            "workspaces": ["Ops"],
            "stop": stop,
            "on_ready": on_ready,
        },
        daemon=True,
    )
    thread.start()
    assert started.wait(10)
    (receiver,) = ready
    assert receiver.url == f"http://127.0.0.1:{receiver.port}"
    assert request(receiver, body=event(workspace="Ops")).status == 202
    assert request(receiver, body=event("evt-2", workspace="US")).status == 422
    stop.set()
    thread.join(10)
    assert not thread.is_alive()
    assert [e.workspace for e in Inbox(tmp_path / "served.sqlite").since(0, 10)] == ["Ops"]


# ---------------------------------------------------------------------- the inbox


def test_the_inbox_is_wal_mode_and_ordered(tmp_path):
    inbox = Inbox(tmp_path / "inbox.sqlite")
    assert inbox.last_seq() == 0
    assert [inbox.add(event(f"e{i}")) for i in range(5)] == [True] * 5
    assert inbox.add(event("e2")) is False
    assert inbox.last_seq() == 5
    assert [e.seq for e in inbox.since(2, 2)] == [3, 4]
    assert inbox.since(5, 10) == []
    with sqlite3.connect(tmp_path / "inbox.sqlite") as con:
        assert con.execute("pragma journal_mode").fetchone() == ("wal",)


_WRITER = textwrap.dedent(
    """
    import json, sys
    from archy_pipeline.webhooks import Inbox
    inbox = Inbox(sys.argv[1])
    name = sys.argv[2]
    added = [
        inbox.add({"event_id": event_id, "workspace": "US", "type": "recipe_stopped",
                   "recipe_id": 1, "occurred_at": "2026-11-30T09:15:00Z"})
        for i in range(40)
        for event_id in (f"shared-{i}", f"{name}-{i}")
    ]
    print(json.dumps(added))
    """
)


def test_the_inbox_is_safe_across_processes(tmp_path):
    """Three writer processes at once, each sending the same 40 shared events and 40 of its own."""
    path = tmp_path / "inbox.sqlite"
    Inbox(path)
    writers = [
        subprocess.Popen(
            [sys.executable, "-c", _WRITER, str(path), f"w{n}"],
            stdout=subprocess.PIPE,
            cwd=ROOT,
            text=True,
        )
        for n in range(3)
    ]
    results = [json.loads(w.communicate(timeout=60)[0]) for w in writers]
    assert all(w.returncode == 0 for w in writers)
    assert sum(sum(added[0::2]) for added in results) == 40, "each shared event stored once"
    assert all(all(added[1::2]) for added in results), "every own event stored"
    events = Inbox(path).since(0, 1000)
    assert len(events) == 40 + 3 * 40
    assert [e.seq for e in events] == list(range(1, 161))


# ---------------------------------------------------------------------- the sensor, tick by tick


@pytest.fixture
def instance() -> Iterator[dg.DagsterInstance]:
    with dg.instance_for_test() as test_instance:
        yield test_instance


def tick(instance: dg.DagsterInstance, cursor: str | None) -> dg.SensorResult:
    """Evaluate one tick as the daemon would, then apply its partition requests."""
    context = dg.build_sensor_context(
        instance=instance,
        instance_ref=instance.get_ref(),
        cursor=cursor,
        repository_def=defs.get_repository_def(),
        resources={"settings": ArchySettingsResource()},
    )
    result = webhook_sensor(context)
    # evaluate_tick resolves each request against sync_job's partitions, counting the
    # partitions the same result adds, as the daemon does.
    webhook_sensor.evaluate_tick(context)
    for request in result.dynamic_partitions_requests or []:
        instance.add_dynamic_partitions(request.partitions_def_name, request.partition_keys)
    return result


def cursor_seq(result: dg.SensorResult) -> int:
    return json.loads(result.cursor)["seq"]


def added_partitions(result: dg.SensorResult) -> list[list[str]]:
    return [list(r.partition_keys) for r in result.dynamic_partitions_requests or []]


def test_the_sensor_definition():
    assert webhook_sensor.name == "webhook_sensor"
    assert webhook_sensor.job_name == "sync_job"
    assert webhook_sensor.minimum_interval_seconds == 30
    assert webhook_sensor.default_status == dg.DefaultSensorStatus.RUNNING


def test_webhook_sensor_tick_by_tick(instance, tmp_path):
    job = defs.resolve_job_def("sync_job")

    # First tick: no inbox file yet (the sensor does not create it), then an empty inbox.
    first = tick(instance, None)
    assert not first.run_requests
    assert first.skip_reason.skip_message.startswith("no new webhook events after #0")
    assert "does not exist yet" in first.skip_reason.skip_message
    assert json.loads(first.cursor) == {"seq": 0}
    assert not (tmp_path / "inbox.sqlite").exists()
    inbox = Inbox(tmp_path / "inbox.sqlite")
    empty = tick(instance, first.cursor)
    assert not empty.run_requests
    assert empty.skip_reason.skip_message == "no new webhook events after #0"
    assert empty.cursor == first.cursor

    # One event: one run for its workspace, whose partition is added in the same result.
    inbox.add(event("evt-1", "US"))
    one = tick(instance, empty.cursor)
    (request,) = one.run_requests
    assert request.partition_key == "US"
    assert request.run_key == "webhook-US-1-1"
    assert request.run_config == {"ops": {"workato_raw": {"config": {"full_refresh": False}}}}
    assert request.tags == {
        "archy/sync": "webhook",
        "archy/webhook_events": "1",
        "archy/webhook_types": "recipe_stopped",
        "archy/webhook_seq": "1-1",
    }
    dg.validate_run_config(job, request.run_config)
    assert added_partitions(one) == [["US"]]
    assert cursor_seq(one) == 1

    # Nothing new: skip, cursor unchanged.
    quiet = tick(instance, one.cursor)
    assert not quiet.run_requests
    assert quiet.skip_reason.skip_message == "no new webhook events after #1"
    assert quiet.cursor == one.cursor

    # Many events across two workspaces: one run each, EU's partition added, cursor at the end.
    for body in [
        event("evt-2", "EU", type="shared_account_disconnected", recipe_id=None, connection_id=9),
        event("evt-3", "US", type="stop_error"),
        event("evt-4", "EU", type="job_error"),
        event("evt-5", "EU", type="job_error", recipe_id=5),
        event("evt-6", "US"),
    ]:
        assert inbox.add(body)
    many = tick(instance, quiet.cursor)
    eu, us = many.run_requests
    assert (eu.partition_key, eu.run_key) == ("EU", "webhook-EU-2-5")
    assert (us.partition_key, us.run_key) == ("US", "webhook-US-3-6")
    assert eu.tags["archy/webhook_events"] == "3"
    assert eu.tags["archy/webhook_types"] == "job_error,shared_account_disconnected"
    assert us.tags["archy/webhook_events"] == "2"
    assert us.tags["archy/webhook_types"] == "recipe_stopped,stop_error"
    for request in many.run_requests:
        dg.validate_run_config(job, request.run_config)
    assert added_partitions(many) == [["EU"]], "US has its partition since the second tick"
    assert cursor_seq(many) == 6
    assert set(instance.get_dynamic_partitions(WORKSPACES.name)) == {"US", "EU"}

    # A tick evaluated again from the same cursor asks for the same runs (same run keys).
    replay = tick(instance, quiet.cursor)
    assert [r.run_key for r in replay.run_requests] == ["webhook-EU-2-5", "webhook-US-3-6"]
    assert replay.cursor == many.cursor

    # The same event delivered twice: the inbox keeps one, so no new run.
    assert inbox.add(event("evt-6", "US")) is False
    again = tick(instance, many.cursor)
    assert not again.run_requests
    assert again.skip_reason.skip_message == "no new webhook events after #6"
    assert again.cursor == many.cursor


def test_the_same_webhook_delivered_twice_launches_one_run(receiver, instance):
    """End to end: two HTTP deliveries of one event, two ticks, one run request."""
    assert request(receiver, body=event("evt-9", "EU")).status == 202
    first = tick(instance, None)
    assert [r.run_key for r in first.run_requests] == ["webhook-EU-1-1"]
    assert request(receiver, body=event("evt-9", "EU"), auth="bearer").json["duplicate"] is True
    second = tick(instance, first.cursor)
    assert not second.run_requests
    assert second.skip_reason.skip_message == "no new webhook events after #1"
    assert second.cursor == first.cursor


def test_a_backlog_is_read_in_batches(instance, tmp_path, monkeypatch):
    monkeypatch.setattr(webhook_sensor_module, "MAX_EVENTS_PER_TICK", 2)
    inbox = Inbox(tmp_path / "inbox.sqlite")
    for i in range(1, 6):
        inbox.add(event(f"evt-{i}"))
    cursor = None
    keys = []
    for expected_seq in (2, 4, 5):
        result = tick(instance, cursor)
        keys += [r.run_key for r in result.run_requests]
        assert cursor_seq(result) == expected_seq
        cursor = result.cursor
    assert keys == ["webhook-US-1-2", "webhook-US-3-4", "webhook-US-5-5"]


def test_events_for_a_workspace_no_longer_in_archy_yaml_are_passed_over(instance, tmp_path):
    inbox = Inbox(tmp_path / "inbox.sqlite")
    inbox.add(event("evt-1", "Retired"))
    only_retired = tick(instance, None)
    assert not only_retired.run_requests
    assert "no longer lists (Retired)" in only_retired.skip_reason.skip_message
    assert cursor_seq(only_retired) == 1
    inbox.add(event("evt-2", "Retired"))
    inbox.add(event("evt-3", "US"))
    mixed = tick(instance, only_retired.cursor)
    assert [r.run_key for r in mixed.run_requests] == ["webhook-US-3-3"]
    assert cursor_seq(mixed) == 3
    assert added_partitions(mixed) == [["US"]], "no partition for the retired workspace"


def test_an_unreadable_archy_yaml_keeps_the_cursor(instance, tmp_path):
    Inbox(tmp_path / "inbox.sqlite").add(event())
    (tmp_path / "archy.yaml").write_text("workspaces: [")
    result = tick(instance, json.dumps({"seq": 0}))
    assert not result.run_requests
    assert "archy.yaml cannot be read" in result.skip_reason.skip_message
    assert cursor_seq(result) == 0


def test_a_burst_of_200_parallel_events_is_stored_whole(receiver):
    """Workato's relay may fire many events at once: none may be reset at the door."""
    count = 200
    start = threading.Barrier(count)
    answers: list[int | str] = [0] * count

    def send(index: int) -> None:
        start.wait()
        try:
            answers[index] = request(receiver, body=event(f"burst-{index}")).status
        except OSError as error:  # a reset or a refused connection
            answers[index] = type(error).__name__

    threads = [threading.Thread(target=send, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert [a for a in answers if a != 202] == []
    assert sorted(stored(receiver)) == sorted(f"burst-{i}" for i in range(count))
