"""The activity audit log: the simulator's endpoint, the client's paging, the sensor tick by tick,
and a deletion that travels from the simulator to ``deleted_at`` in the warehouse."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import dagster as dg
import httpx
import pytest
import yaml
from dagster_dlt import DagsterDltResource
from workato_simulator import Workspace

from archy_pipeline.definitions import defs
from archy_pipeline.resources import ArchySettingsResource, WorkatoResource
from archy_pipeline.resources.warehouse import WarehouseResource
from archy_pipeline.sensors.activity_sensor import activity_log_sensor
from archy_pipeline.workato.activity import OVERLAP, poll
from tests.support import client_for, materialize_sync, simple_code

ENTRY_KEYS = {"id", "event_type", "timestamp", "workspace", "user", "resource", "details"}


def get(sim, params: Any = None, token: str | None = None) -> httpx.Response:
    return httpx.get(
        f"{sim.base_url}/activity_logs",
        params=params,
        headers={"Authorization": f"Bearer {token or sim.token}"},
    )


def small_workspace() -> tuple[Workspace, int, int, int]:
    ws = Workspace()
    folder = ws.add_folder("Sales")
    connection = ws.add_connection("salesforce", "SF prod", folder.id)
    recipe = ws.add_recipe("Quote to cash", simple_code(), folder_id=folder.id)
    return ws, folder.id, connection.id, recipe.id


# ---------------------------------------------------------------------- the simulator


def test_the_mutation_api_writes_the_documented_events(simulator):
    ws, folder_id, connection_id, recipe_id = small_workspace()
    ws.start_recipe(recipe_id)
    ws.stop_recipe(recipe_id)
    ws.stop_recipe(recipe_id, "trigger_errors_limit")
    ws.update_recipe(recipe_id, description="v2")
    ws.update_connection(connection_id, name="SF production")
    ws.delete_recipe(recipe_id)
    ws.delete_connection(connection_id)
    ws.delete_folder(folder_id)
    sim = simulator(ws, rate_limits=None)

    body = get(sim).json()

    assert set(body) == {"data", "total"}
    assert body["total"] == len(body["data"]) == 11
    entries = list(reversed(body["data"]))  # newest first (the simulator's inferred order)
    assert [(e["event_type"], e["resource"]["type"]) for e in entries] == [
        ("folder_created", "Folder"),
        ("connection_created", "SharedAccount"),
        ("recipe_created", "Flow"),
        ("recipe_started", "Flow"),
        ("recipe_stopped", "Flow"),
        ("recipe_stopped", "Flow"),
        ("recipe_updated", "Flow"),
        ("connection_updated", "SharedAccount"),
        ("recipe_deleted", "Flow"),
        ("connection_deleted", "SharedAccount"),
        ("folder_deleted", "Folder"),
    ]
    for entry in entries:
        assert set(entry) == ENTRY_KEYS
        assert set(entry["workspace"]) == {"id", "name", "email", "environment"}
        assert set(entry["user"]) == {"id", "name", "email"}
        assert set(entry["details"]["request"]) == {"ip_address", "user_agent"}
    assert entries[4]["details"]["stop_reason"] == "user"
    assert entries[5]["details"]["error"] == "trigger_errors_limit"
    assert entries[3]["details"]["run_once"] is False
    assert entries[0]["resource"]["path"] == "Home/Sales"
    assert entries[1]["resource"]["provider"] == "salesforce"
    assert entries[8]["resource"] == {"id": recipe_id, "name": "Quote to cash", "type": "Flow"}
    assert [e["id"] for e in body["data"]] == sorted((e["id"] for e in entries), reverse=True)


@pytest.mark.parametrize(
    "params",
    [
        pytest.param({"include_resource_types[]": "Flow"}, id="brackets"),
        pytest.param({"include_resource_types": "flow"}, id="no-brackets-lower-case"),
        pytest.param({"exclude_resource_types[]": ["Folder", "SharedAccount"]}, id="exclude"),
    ],
)
def test_type_filters_are_accepted_with_and_without_brackets(simulator, params):
    ws, *_ = small_workspace()
    sim = simulator(ws, rate_limits=None)
    data = get(sim, params).json()["data"]
    assert [e["event_type"] for e in data] == ["recipe_created"]


def test_event_time_and_page_parameters(simulator):
    ws, _, _, recipe_id = small_workspace()
    for i in range(120):
        ws.update_recipe(recipe_id, description=f"v{i}")
    sim = simulator(ws, rate_limits=None)
    events = get(sim, {"include_event_types[]": "recipe_updated", "page[size]": 500}).json()
    assert len(events["data"]) == 100, "page[size] is capped at 100"
    first = events["data"]
    rest = get(sim, {"include_event_types": "recipe_updated", "page[after]": first[-1]["id"]})
    assert len(rest.json()["data"]) == 20
    assert not {e["id"] for e in first} & {e["id"] for e in rest.json()["data"]}
    newest = first[0]["timestamp"]
    assert [e["timestamp"] for e in get(sim, {"from": newest}).json()["data"]] == [newest]
    excluded = get(sim, {"exclude_event_types[]": "recipe_updated"}).json()["data"]
    assert {e["event_type"] for e in excluded} == {
        "folder_created", "connection_created", "recipe_created"
    }  # fmt: skip
    assert get(sim, {"page[after]": "x"}).status_code == 400


def test_without_the_add_on_or_the_privilege_the_log_answers_403(simulator):
    ws, *_ = small_workspace()
    sim = simulator(ws, rate_limits=None)
    sim.add_token("sim-no-audit-0123456789", activity_log=False)
    denied = get(sim, token="sim-no-audit-0123456789")
    assert denied.status_code == 403 and set(denied.json()) == {"message"}
    ws.activity_log = False
    assert get(sim).status_code == 403


def test_the_environment_management_family_allows_60_requests_a_minute(simulator):
    ws, *_ = small_workspace()
    sim = simulator(ws, time_scale=1.0)  # a real minute: 61 requests never take that long
    headers = {"Authorization": f"Bearer {sim.token}"}
    with httpx.Client(base_url=sim.base_url, headers=headers) as http:
        statuses = [http.get("/activity_logs", params={"page[size]": 1}) for _ in range(61)]
        assert [r.status_code for r in statuses[:60]] == [200] * 60
        assert statuses[60].status_code == 429
        assert float(statuses[60].headers["Retry-After"]) > 0
        assert http.get("/folders").status_code == 200, "other families keep their own quota"


# ---------------------------------------------------------------------- the client


def test_the_client_pages_with_page_after_and_counts_the_family(simulator):
    ws, _, _, recipe_id = small_workspace()
    for i in range(247):
        ws.update_recipe(recipe_id, description=f"v{i}")
    sim = simulator(ws, rate_limits=None)
    with client_for(sim) as client:
        entries = list(client.iter_activity_logs())
        assert client.request_counts["environment_management"] == 3
    assert len(entries) == 250 == len({e["id"] for e in entries})
    afters = [r.param("page[after]") for r in sim.log("^/api/activity_logs$")]
    assert afters[0] is None and afters[1:] == [
        str(entries[99]["id"]), str(entries[199]["id"])
    ]  # fmt: skip


def test_the_client_filters_by_resource_and_event_type_and_time(simulator):
    ws, _, connection_id, recipe_id = small_workspace()
    ws.update_connection(connection_id, name="SF production")
    ws.delete_recipe(recipe_id)
    sim = simulator(ws, rate_limits=None)
    with client_for(sim) as client:
        flows = list(client.iter_activity_logs(resource_types=["Flow"]))
        deletions = list(client.iter_activity_logs(event_types=["recipe_deleted"]))
        later = list(client.iter_activity_logs(since=ws.activity[-1].timestamp))
    assert [e["event_type"] for e in flows] == ["recipe_deleted", "recipe_created"]
    assert [e["resource"]["id"] for e in deletions] == [recipe_id]
    assert [e["id"] for e in later] == [ws.activity[-1].id]
    (request, *_) = sim.log("^/api/activity_logs$")
    assert request.query["include_resource_types[]"] == ["Flow"]


def test_the_client_stops_when_the_cursor_does_not_move(simulator):
    ws, _, _, recipe_id = small_workspace()
    for i in range(150):
        ws.update_recipe(recipe_id, description=f"v{i}")
    sim = simulator(ws, rate_limits=None)
    with client_for(sim) as client:
        # A server ignoring page[after] would answer the first page again: no endless loop.
        original = client.activity_log_page
        client.activity_log_page = lambda **kw: original(**{**kw, "after": None})
        from archy_pipeline.workato.errors import WorkatoResponseError

        with pytest.raises(WorkatoResponseError, match="did not move on"):
            list(client.iter_activity_logs())


# ---------------------------------------------------------------------- polling


def test_a_poll_moves_its_time_cursor_only_after_the_listing_ends(simulator):
    ws, _, _, recipe_id = small_workspace()
    sim = simulator(ws, rate_limits=None)
    start = datetime.now(timezone.utc) - timedelta(seconds=1)
    with client_for(sim) as client:
        first = poll(client, None, start)
        first_from = datetime.fromisoformat(first.state["from"])
        for i in range(250):
            ws.update_recipe(recipe_id, description=f"v{i}")
        partial = poll(client, first.state, start, max_pages=2)
        assert partial.requests == 2 and partial.state["after"] is not None
        assert partial.state["from"] == first.state["from"]
        done = poll(client, partial.state, start, max_pages=2)
        again = poll(client, done.state, start)
    assert partial.changes.entries == 200 and done.changes.entries == 50
    assert done.state["after"] is None
    newest = max(e.timestamp for e in ws.activity)
    expected = max(newest - OVERLAP, first_from)
    assert done.state["from"] == expected.isoformat(timespec="milliseconds")
    assert again.changes.entries == 0, "entries inside the overlap are recognised by id"


# ---------------------------------------------------------------------- the sensor


@pytest.fixture
def instance() -> Iterator[dg.DagsterInstance]:
    with dg.instance_for_test() as test_instance:
        yield test_instance


def use_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, workspaces: list[dict]) -> None:
    path = tmp_path / "archy.yaml"
    path.write_text(yaml.safe_dump({"workspaces": workspaces}))
    monkeypatch.setenv("ARCHY_CONFIG", str(path))


def tick(instance, cursor: str | None, workato: WorkatoResource) -> dg.SensorResult:
    context = dg.build_sensor_context(
        instance=instance,
        cursor=cursor,
        repository_def=defs.get_repository_def(),
        resources={"workato": workato, "settings": ArchySettingsResource()},
    )
    result = activity_log_sensor(context)
    for request in result.dynamic_partitions_requests or []:
        instance.add_dynamic_partitions(request.partitions_def_name, request.partition_keys)
    return result


def config_of(request: dg.RunRequest) -> dict[str, Any]:
    return request.run_config["ops"]["workato_raw"]["config"]


def test_the_sensor_definition():
    assert activity_log_sensor.name == "activity_log_sensor"
    assert activity_log_sensor.job_name == "sync_job"
    assert activity_log_sensor.minimum_interval_seconds == 60
    assert activity_log_sensor.default_status == dg.DefaultSensorStatus.RUNNING
    assert "activity_log_sensor" in {s.name for s in defs.sensors}


def test_activity_log_sensor_tick_by_tick(simulator, instance, tmp_path, monkeypatch):
    ws, folder_id, connection_id, recipe_id = small_workspace()
    other = ws.add_recipe("Other", simple_code(), folder_id=folder_id)
    sim = simulator(ws, rate_limits=None)
    use_config(tmp_path, monkeypatch, [{"name": "US"}])
    workato = WorkatoResource(api_token=sim.token, base_url=sim.base_url)
    job = defs.resolve_job_def("sync_job")

    # First tick: the watch starts now; what happened before is the first sync's business.
    first = tick(instance, None, workato)
    assert not first.run_requests
    assert first.skip_reason.skip_message == (
        "US: 0 new activity-log entries, 0 about recipes, connections or folders"
    )
    assert len(sim.log("^/api/activity_logs$")) == 1
    assert set(json.loads(first.cursor)["workspaces"]) == {"US"}

    # Nothing new: skip, one request, the same cursor.
    quiet = tick(instance, first.cursor, workato)
    assert not quiet.run_requests
    assert quiet.cursor == first.cursor
    assert len(sim.log("^/api/activity_logs$")) == 2

    # One change: a deleted recipe, passed on as a confirmed deletion.
    ws.delete_recipe(recipe_id)
    (entry,) = [e for e in ws.activity if e.event_type == "recipe_deleted"]
    one = tick(instance, quiet.cursor, workato)
    (request,) = one.run_requests
    assert request.partition_key == "US"
    assert request.run_key == f"activity-US-{entry.id}-{entry.id}"
    assert request.run_config == {
        "ops": {
            "workato_raw": {
                "config": {
                    "full_refresh": False,
                    "confirmed_deletions": {
                        "recipes": [recipe_id], "connections": [], "folders": []
                    },
                }
            }
        }
    }  # fmt: skip
    assert request.tags == {
        "archy/sync": "activity_log",
        "archy/activity_entries": "1",
        "archy/activity_types": "recipe_deleted",
    }
    dg.validate_run_config(job, request.run_config)
    assert [list(r.partition_keys) for r in one.dynamic_partitions_requests] == [["US"]]
    # As the daemon evaluates it: the request resolves against sync_job's partitions.
    evaluated = activity_log_sensor.evaluate_tick(
        dg.build_sensor_context(
            instance=instance,
            instance_ref=instance.get_ref(),
            cursor=quiet.cursor,
            repository_def=defs.get_repository_def(),
            resources={"workato": workato, "settings": ArchySettingsResource()},
        )
    )
    assert [r.run_key for r in evaluated.run_requests] == [request.run_key]

    # Nothing new again: the overlap re-reads the deletion, recognised by id.
    after_one = tick(instance, one.cursor, workato)
    assert not after_one.run_requests

    # Many changes, one run; a login (resource type User) is read but asks for nothing.
    ws.log_activity("user_login", {"id": 7001, "name": "Ada Admin", "type": "User"})
    new = ws.add_recipe("New", simple_code(), folder_id=folder_id)
    ws.stop_recipe(other.id)
    ws.update_connection(connection_id, name="SF production")
    ws.delete_folder(folder_id)
    many = tick(instance, after_one.cursor, workato)
    (request,) = many.run_requests
    deletions = config_of(request)["confirmed_deletions"]
    assert deletions == {"recipes": [], "connections": [], "folders": [folder_id]}
    assert request.tags["archy/activity_entries"] == "4"
    assert request.tags["archy/activity_types"] == (
        "connection_updated,folder_deleted,recipe_created,recipe_stopped"
    )
    assert new.id and not many.dynamic_partitions_requests
    # The same tick evaluated again from the same cursor asks for the same run.
    replay = tick(instance, after_one.cursor, workato)
    assert [r.run_key for r in replay.run_requests] == [request.run_key]


def test_a_403_is_reported_once_and_polling_pauses(
    simulator, instance, tmp_path, monkeypatch, capfd
):
    ws, *_ = small_workspace()
    ws.activity_log = False
    sim = simulator(ws, rate_limits=None)
    use_config(tmp_path, monkeypatch, [{"name": "US"}])
    workato = WorkatoResource(api_token=sim.token, base_url=sim.base_url)

    first = tick(instance, None, workato)
    second = tick(instance, first.cursor, workato)
    assert not first.run_requests and not second.run_requests
    message = first.skip_reason.skip_message
    assert "cannot be read (403)" in message and "Activity audit log add-on" in message
    assert "scheduled syncs carry on" in message
    assert "unavailable since" in second.skip_reason.skip_message
    assert len(sim.log("^/api/activity_logs$")) == 1, "no request while paused"
    # The sensor's log goes to the daemon's output: one warning, not one per tick.
    assert capfd.readouterr().err.count("WARNING - workspace 'US': the activity audit log") == 1

    # An hour later the log is asked again; the add-on was enabled meanwhile.
    ws.activity_log = True
    state = json.loads(second.cursor)
    state["workspaces"]["US"]["denied"]["at"] = "2000-01-01T00:00:00.000+00:00"
    third = tick(instance, json.dumps(state), workato)
    assert "denied" not in json.loads(third.cursor)["workspaces"]["US"]
    assert len(sim.log("^/api/activity_logs$")) == 2


def test_workspaces_poll_on_their_own(simulator, instance, tmp_path, monkeypatch):
    us, _, _, us_recipe = small_workspace()
    eu, *_ = small_workspace()
    eu.activity_log = False
    us_sim, eu_sim = simulator(us, rate_limits=None), simulator(eu, rate_limits=None)
    monkeypatch.setenv("US_TOKEN", us_sim.token)
    monkeypatch.setenv("EU_TOKEN", eu_sim.token)
    use_config(tmp_path, monkeypatch, [
        {"name": "US", "base_url": us_sim.base_url, "token_env": "US_TOKEN"},
        {"name": "EU", "base_url": eu_sim.base_url, "token_env": "EU_TOKEN"},
        {"name": "JP", "base_url": eu_sim.base_url, "token_env": "JP_TOKEN"},
    ])  # fmt: skip
    workato = WorkatoResource()
    first = tick(instance, None, workato)
    us.delete_recipe(us_recipe)
    second = tick(instance, first.cursor, workato)
    assert [r.partition_key for r in second.run_requests] == ["US"]
    skipped = first.skip_reason.skip_message
    assert "EU: the activity audit log cannot be read (403)" in skipped
    assert "workspaces[2].token_env: environment variable JP_TOKEN is not set" in skipped


def test_a_recipe_deleted_in_the_simulator_is_confirmed_deleted_by_the_sensor(
    simulator, instance, tmp_path, monkeypatch
):
    """Acceptance (issue 9, point 5): simulator -> activity log -> sensor -> deleted_at."""
    ws, folder_id, _, recipe_id = small_workspace()
    for i in range(3):
        ws.add_recipe(f"Keep {i}", simple_code(), folder_id=folder_id)
    sim = simulator(ws, rate_limits=None)
    use_config(tmp_path, monkeypatch, [{"name": "Main Workspace"}])
    workato = WorkatoResource(api_token=sim.token, base_url=sim.base_url, requests_per_minute=0)
    warehouse = WarehouseResource(duckdb_path=str(tmp_path / "warehouse.duckdb"))
    resources = {"dlt": DagsterDltResource(), "workato": workato, "warehouse": warehouse}
    assert materialize_sync(resources, instance=instance).success
    cursor = tick(instance, None, workato).cursor

    ws.delete_recipe(recipe_id)
    (request,) = tick(instance, cursor, workato).run_requests
    assert config_of(request)["confirmed_deletions"]["recipes"] == [recipe_id]
    result = materialize_sync(
        resources, request.partition_key, request.run_config, instance=instance
    )

    assert result.success
    with warehouse.connect(read_only=True) as con:
        rows = con.execute(
            "select id, deleted_at is not null from workato_raw.recipes order by id"
        ).fetchall()
    assert dict(rows) == {rid: rid == recipe_id for rid in [*ws.recipes, recipe_id]}


def test_a_deleted_project_that_would_be_held_is_deleted_once_the_log_confirms_it(
    simulator, instance, tmp_path, monkeypatch
):
    """A project deleted with its recipes vanishes like one taken out of the token's scope: a
    plain sync holds it. The activity log's folder_deleted turns the hold into a deletion."""
    ws = Workspace()
    sales = ws.add_project("Sales")
    old = ws.add_project("Old integrations")
    keep = [
        ws.add_recipe(f"Keep {i}", simple_code(), folder_id=sales.folder_id).id for i in range(4)
    ]
    gone = [ws.add_recipe(f"Gone {i}", simple_code(), folder_id=old.folder_id).id for i in range(2)]
    sim = simulator(ws, rate_limits=None)
    use_config(tmp_path, monkeypatch, [{"name": "Main Workspace"}])
    workato = WorkatoResource(api_token=sim.token, base_url=sim.base_url, requests_per_minute=0)
    warehouse = WarehouseResource(duckdb_path=str(tmp_path / "warehouse.duckdb"))
    resources = {"dlt": DagsterDltResource(), "workato": workato, "warehouse": warehouse}
    assert materialize_sync(resources, instance=instance).success
    cursor = tick(instance, None, workato).cursor

    ws.delete_folder(old.folder_id)
    (request,) = tick(instance, cursor, workato).run_requests
    assert config_of(request)["confirmed_deletions"]["folders"] == [old.folder_id]
    assert materialize_sync(
        resources, request.partition_key, request.run_config, instance=instance
    ).success

    with warehouse.connect(read_only=True) as con:
        deleted = con.execute(
            "select id, deleted_at is not null, visible from workato_raw.recipes order by id"
        ).fetchall()
        held = con.execute(
            "select count(*) from workato_raw.sync_issues where kind = 'deletion_held'"
        ).fetchone()[0]
    assert {rid: (is_deleted, visible) for rid, is_deleted, visible in deleted} == {
        **{rid: (False, True) for rid in keep},
        **{rid: (True, True) for rid in gone},
    }
    assert held == 0
