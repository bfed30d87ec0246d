"""Simulator fidelity: envelopes, field names, parameters and errors as the reference documents.

Each field list below is copied from ``shared/reference/workato-api.md`` §2 and kept here on
purpose: if the simulator drifts from the reference, these tests say where.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

import httpx
import pytest
from workato_simulator import Workspace
from workato_simulator.workspace import parse_ts

from tests.support import simple_code, workspace_with_recipes

# §2.1 GET /api/users/me
USERS_ME_FIELDS = {
    "id", "name", "created_at", "plan_id", "current_billing_period_start",
    "current_billing_period_end", "expert", "avatar_url", "recipes_count",
    "interested_applications", "company_name", "location", "last_seen", "contact_phone",
    "contact_email", "about_me", "email", "phone", "active_recipes_count", "root_folder_id",
}  # fmt: skip
# §2.2 recipe object (``code`` shortened with exclude_code, addendum §5.2; ``tags`` only with
# includes[]=tags)
RECIPE_FIELDS = {
    "id", "user_id", "name", "created_at", "updated_at", "copy_count", "trigger_application",
    "action_applications", "applications", "description", "parameters_schema", "parameters",
    "webhook_url", "folder_id", "project_id", "running", "job_succeeded_count",
    "job_failed_count", "lifetime_task_count", "last_run_at", "stopped_at", "version_no",
    "stop_cause", "config", "trigger_closure", "author_name", "version_author_name",
    "version_author_email", "version_comment", "code",
}  # fmt: skip
CONFIG_FIELDS = {"keyword", "name", "provider", "skip_validation", "account_id"}
# §2.6 connection object (``tags`` only with includes[]=tags)
CONNECTION_FIELDS = {
    "id", "application", "name", "description", "authorized_at", "authorization_status",
    "authorization_error", "created_at", "updated_at", "external_id", "folder_id",
    "connection_lost_at", "connection_lost_reason", "parent_id", "provider",
}  # fmt: skip
# §2.7 folders and projects
FOLDER_FIELDS = {"id", "name", "parent_id", "is_project", "project_id", "created_at", "updated_at"}
PROJECT_FIELDS = {"id", "description", "folder_id", "name"}
# §2.8 jobs
JOBS_ENVELOPE = {"job_succeeded_count", "job_failed_count", "job_count", "items"}
JOB_FIELDS = {
    "id", "flow_run_id", "started_at", "completed_at", "title", "is_poll_error", "error",
    "is_error",
}  # fmt: skip


@pytest.fixture
def hand_built() -> Workspace:
    """Two projects, nested folders, connections, running and stopped recipes."""
    ws = Workspace(name="ACME Integrations")
    sales = ws.add_project("Sales", "Quote to cash")
    q2c = ws.add_folder("Quote to Cash", sales.folder_id)
    hr = ws.add_project("HR")
    sf = ws.add_connection("salesforce", "ACME Production Salesforce", sales.folder_id)
    ns = ws.add_connection("netsuite", "NetSuite - Sandbox", q2c.id, tags=["tag-ANgeffPL"])
    ws.add_connection("workday", "[HR] Workday PROD", hr.folder_id)
    ws.add_connection("slack", "slack_ops_prd", runtime=True)
    config = [
        {"keyword": "application", "name": "salesforce", "provider": "salesforce",
         "skip_validation": False, "account_id": sf.id},
        {"keyword": "application", "name": "netsuite", "provider": "netsuite",
         "skip_validation": False, "account_id": ns.id},
    ]  # fmt: skip
    ws.add_recipe(
        "Opportunity to Sales Order",
        simple_code("salesforce", "netsuite", "slack"),
        config,
        q2c.id,
        running=True,
        job_succeeded_count=40,
        job_failed_count=2,
        last_run_at=datetime(2024, 5, 1, tzinfo=timezone.utc),
        tags=["tag-ANgeffPL"],
    )
    ws.add_recipe("New hire", simple_code("workday", "slack"), folder_id=hr.folder_id)
    stopped = ws.add_recipe("Old sync", simple_code("salesforce"), folder_id=sales.folder_id)
    ws.stop_recipe(stopped.id, "trigger_errors_limit")
    return ws


def get(sim, path: str, token: str | None = None, **params) -> httpx.Response:
    headers = {"Authorization": f"Bearer {token or sim.token}"}
    return httpx.get(f"{sim.base_url}{path}", params=params, headers=headers, timeout=10)


# ---------------------------------------------------------------------- envelopes and fields


def test_users_me_fields(simulator, hand_built):
    sim = simulator(hand_built)
    body = get(sim, "/users/me").json()
    assert set(body) == USERS_ME_FIELDS
    assert body["root_folder_id"] == hand_built.root_folder_id
    assert body["recipes_count"] == 3
    assert body["active_recipes_count"] == 1


def test_recipes_envelope_and_fields(simulator, hand_built):
    sim = simulator(hand_built)
    response = get(sim, "/recipes")
    assert response.headers["content-type"] == "application/json; charset=utf-8"
    body = response.json()
    assert set(body) == {"items"}, "an object with items, no totals"
    for item in body["items"]:
        assert set(item) == RECIPE_FIELDS | {"code"}
        assert isinstance(item["code"], str), "code is a JSON string in the live API"
        assert json.loads(item["code"])["keyword"] == "trigger"
        for entry in item["config"]:
            assert set(entry) == CONFIG_FIELDS
    first = next(i for i in body["items"] if i["name"] == "Opportunity to Sales Order")
    assert first["trigger_application"] == "salesforce"
    assert first["action_applications"] == ["netsuite", "slack"]
    assert first["applications"] == ["salesforce", "netsuite", "slack"]
    assert parse_ts(first["created_at"]).utcoffset() is not None


def test_recipe_tags_and_exclude_code(simulator, hand_built):
    sim = simulator(hand_built)
    tagged = get(sim, "/recipes", **{"includes[]": "tags", "exclude_code": "true"}).json()
    full = {i["id"]: i["code"] for i in get(sim, "/recipes").json()["items"]}
    for item in tagged["items"]:
        assert set(item) == RECIPE_FIELDS | {"tags"}
        # Truncated, not omitted (addendum §5.2): a prefix of the code, never the whole tree.
        assert full[item["id"]].startswith(item["code"])
        assert len(item["code"]) < len(full[item["id"]])
    assert ["tag-ANgeffPL"] in [i["tags"] for i in tagged["items"]]


def test_single_recipe_is_a_bare_object(simulator, hand_built):
    sim = simulator(hand_built)
    recipe_id = max(hand_built.recipes)
    body = get(sim, f"/recipes/{recipe_id}").json()
    assert set(body) == RECIPE_FIELDS | {"code"}
    assert body["id"] == recipe_id
    missing = get(sim, "/recipes/1")
    assert missing.status_code == 404
    assert missing.json() == {"message": "Not found"}


def test_connections_are_a_bare_array(simulator, hand_built):
    sim = simulator(hand_built)
    body = get(sim, "/connections").json()
    assert isinstance(body, list)
    assert {c["name"] for c in body} == {
        "ACME Production Salesforce",
        "NetSuite - Sandbox",
        "[HR] Workday PROD",
    }, "runtime-user connections only with include_runtime_connections"
    for item in body:
        assert set(item) == CONNECTION_FIELDS
    tagged = get(sim, "/connections", **{"includes[]": "tags"}).json()
    assert all(set(c) == CONNECTION_FIELDS | {"tags"} for c in tagged)
    with_runtime = get(sim, "/connections", include_runtime_connections="true").json()
    assert len(with_runtime) == 4


def test_connection_filters(simulator, hand_built):
    sim = simulator(hand_built)
    sales = next(p for p in hand_built.projects.values() if p.name == "Sales")
    by_provider = get(sim, "/connections", provider="netsuite").json()
    assert [c["name"] for c in by_provider] == ["NetSuite - Sandbox"]
    by_folder = get(sim, "/connections", folder_id=sales.folder_id).json()
    assert [c["name"] for c in by_folder] == ["ACME Production Salesforce"]
    by_project = get(sim, "/connections", project_id=sales.id).json()
    assert {c["name"] for c in by_project} == {"ACME Production Salesforce", "NetSuite - Sandbox"}
    future = (datetime.now(timezone.utc) + timedelta(days=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    assert get(sim, "/connections", updated_after=future).json() == []


def test_folders_list_direct_children_only(simulator, hand_built):
    sim = simulator(hand_built)
    top = get(sim, "/folders").json()
    assert isinstance(top, list)
    assert {f["name"] for f in top} == {"Sales", "HR"}
    for item in top:
        assert set(item) == FOLDER_FIELDS
        assert item["is_project"] is True
        assert item["parent_id"] == hand_built.root_folder_id
    sales = next(f for f in top if f["name"] == "Sales")
    children = get(sim, "/folders", parent_id=sales["id"]).json()
    assert [(f["name"], f["is_project"]) for f in children] == [("Quote to Cash", False)]
    assert children[0]["project_id"] == sales["project_id"]


def test_folders_and_projects_page_at_most_100(simulator):
    ws = Workspace()
    for i in range(230):
        ws.add_project(f"P{i}")
    sim = simulator(ws, rate_limits=None)
    assert len(get(sim, "/folders", per_page=500).json()) == 100
    assert len(get(sim, "/folders", page=3).json()) == 30
    projects = get(sim, "/projects", page=3, per_page=100).json()
    assert len(projects) == 30
    assert set(projects[0]) == PROJECT_FIELDS


def test_jobs_envelope_and_filters(simulator, hand_built):
    sim = simulator(hand_built)
    recipe = next(r for r in hand_built.recipes.values() if r.job_succeeded_count)
    body = get(sim, f"/recipes/{recipe.id}/jobs").json()
    assert set(body) == JOBS_ENVELOPE
    assert body["job_count"] == 42
    assert len(body["items"]) == 42
    assert JOB_FIELDS <= set(body["items"][0])
    failed = get(sim, f"/recipes/{recipe.id}/jobs", status="failed").json()["items"]
    assert failed and all(j["is_error"] for j in failed)
    older = get(sim, f"/recipes/{recipe.id}/jobs", offset_job_id=body["items"][9]["id"]).json()
    assert older["items"] == body["items"][10:]


# ---------------------------------------------------------------------- recipe parameters


def test_recipes_newest_first_and_per_page_capped(simulator):
    ws = workspace_with_recipes(150)
    sim = simulator(ws, rate_limits=None)
    items = get(sim, "/recipes", per_page=1000).json()["items"]
    assert len(items) == 100
    ids = [i["id"] for i in items]
    assert ids == sorted(ws.recipes, reverse=True)[:100]
    assert len(get(sim, "/recipes", page=2).json()["items"]) == 50
    below = get(sim, "/recipes", since_id=ids[-1]).json()["items"]
    assert [i["id"] for i in below] == sorted(ws.recipes, reverse=True)[100:]


def test_recipe_filters(simulator, hand_built):
    sim = simulator(hand_built)

    def names(**params) -> set[str]:
        return {i["name"] for i in get(sim, "/recipes", **params).json()["items"]}

    hr = next(f for f in hand_built.folders.values() if f.name == "HR")
    sales = next(f for f in hand_built.folders.values() if f.name == "Sales")
    assert names(folder_id=hr.id) == {"New hire"}
    assert names(folder_id=sales.id) == {"Old sync"}
    assert names(folder_id=sales.id, with_subfolders="true") == {
        "Old sync",
        "Opportunity to Sales Order",
    }
    assert names(running="true") == {"Opportunity to Sales Order"}
    assert names(running="false") == {"New hire", "Old sync"}
    assert names(stop_cause="trigger_errors_limit") == {"Old sync"}
    assert names(adapter_names_any="workday,netsuite") == {
        "New hire",
        "Opportunity to Sales Order",
    }
    assert names(adapter_names_all="salesforce,netsuite") == {"Opportunity to Sales Order"}
    assert names(adapter_names_all="salesforce,workday") == set()
    stopped_at = hand_built.recipes[max(hand_built.recipes)].stopped_at
    before = (stopped_at - timedelta(seconds=1)).isoformat()
    assert "Old sync" not in names(stopped_after=before)
    assert get(sim, "/recipes", stop_cause="bored").status_code == 400
    assert get(sim, "/recipes", updated_after="yesterday").status_code == 400
    assert get(sim, "/recipes", running="maybe").status_code == 400


def test_mutations_move_updated_at_as_workato_does(simulator, hand_built):
    sim = simulator(hand_built)
    cursor = max(r.updated_at for r in hand_built.recipes.values())
    after = cursor.strftime("%Y-%m-%dT%H:%M:%S.%f%z")
    assert get(sim, "/recipes", updated_after=after).json()["items"] == []

    new_hire = next(r for r in hand_built.recipes.values() if r.name == "New hire")
    hand_built.start_recipe(new_hire.id)
    added = hand_built.add_recipe("Brand new", simple_code("jira"))
    items = get(sim, "/recipes", updated_after=after).json()["items"]
    assert {i["name"] for i in items} == {"New hire", "Brand new"}
    assert next(i for i in items if i["name"] == "New hire")["running"] is True

    version = hand_built.recipes[added.id].version_no
    hand_built.update_recipe(added.id, name="Renamed")
    assert hand_built.recipes[added.id].version_no == version + 1
    hand_built.delete_recipe(added.id)
    assert get(sim, f"/recipes/{added.id}").status_code == 404

    connection = next(iter(hand_built.connections.values()))
    before = connection.updated_at
    hand_built.update_connection(connection.id, name="Renamed connection")
    assert connection.updated_at > before
    hand_built.delete_connection(connection.id)
    assert connection.id not in {c["id"] for c in get(sim, "/connections").json()}


def test_moving_and_deleting_folders(simulator, hand_built):
    sim = simulator(hand_built)
    q2c = next(f for f in hand_built.folders.values() if f.name == "Quote to Cash")
    hr = next(f for f in hand_built.folders.values() if f.name == "HR")
    hand_built.move_folder(q2c.id, hr.id)
    assert [f["name"] for f in get(sim, "/folders", parent_id=hr.id).json()] == ["Quote to Cash"]
    moved = next(i for i in get(sim, "/recipes").json()["items"] if i["folder_id"] == q2c.id)
    assert moved["project_id"] == hr.project_id
    with pytest.raises(ValueError):
        hand_built.move_folder(hr.id, q2c.id)
    hand_built.delete_folder(hr.id)
    assert {f["name"] for f in get(sim, "/folders").json()} == {"Sales"}
    assert {i["name"] for i in get(sim, "/recipes").json()["items"]} == {"Old sync"}


# ---------------------------------------------------------------------- auth, scopes, errors


def test_missing_or_wrong_token_is_401(simulator, hand_built):
    sim = simulator(hand_built)
    assert httpx.get(f"{sim.base_url}/users/me").status_code == 401
    wrong = get(sim, "/recipes", token="nope")
    assert wrong.status_code == 401
    assert wrong.json() == {"message": "Unauthorized"}


def test_scoped_token_sees_only_its_projects(simulator, hand_built):
    sim = simulator(hand_built)
    sales = next(p for p in hand_built.projects.values() if p.name == "Sales")
    hr = next(p for p in hand_built.projects.values() if p.name == "HR")
    sim.add_token("sales", project_ids=frozenset({sales.id}))
    recipes = get(sim, "/recipes", token="sales").json()["items"]
    assert {r["name"] for r in recipes} == {"Opportunity to Sales Order", "Old sync"}
    connections = get(sim, "/connections", token="sales").json()
    assert "[HR] Workday PROD" not in {c["name"] for c in connections}
    assert [p["name"] for p in get(sim, "/projects", token="sales").json()] == ["Sales"]
    # Out of scope is out of sight: the HR project's folder and recipe do not exist for it.
    hr_recipe = next(r for r in hand_built.recipes.values() if r.name == "New hire")
    assert get(sim, "/recipes", token="sales", folder_id=hr.folder_id).status_code == 404
    assert get(sim, f"/recipes/{hr_recipe.id}", token="sales").status_code == 404
    assert hr.folder_id not in {f["id"] for f in get(sim, "/folders", token="sales").json()}
    # The undocumented "forbid" variant answers 403 instead.
    sim.add_token("sales-forbid", project_ids=frozenset({sales.id}), out_of_scope="forbid")
    forbidden = get(sim, "/recipes", token="sales-forbid", folder_id=hr.folder_id)
    assert forbidden.status_code == 403
    assert "project scope" in forbidden.json()["message"]
    assert get(sim, f"/recipes/{hr_recipe.id}", token="sales-forbid").status_code == 403


def test_server_error_body_carries_an_id(simulator, hand_built):
    sim = simulator(hand_built)
    sim.inject("status", "/api/users/me", status=500)
    response = get(sim, "/users/me")
    assert response.status_code == 500
    body = response.json()
    assert body["message"] == "Server error" and len(body["id"]) == 36


def test_rate_limit_answers_429_with_retry_after(simulator, hand_built):
    # A 6 s minute: the seven requests fit in one window even on a busy machine (at the usual
    # 0.6 s the window could pass mid-test and the sixth request be answered 200).
    sim = simulator(hand_built, rate_limits={"recipes": 5}, time_scale=0.1)
    statuses = [get(sim, "/recipes").status_code for _ in range(7)]
    assert statuses[:5] == [200] * 5 and statuses[5:] == [429, 429]
    limited = get(sim, "/recipes")
    assert 0 < float(limited.headers["Retry-After"]) <= 60 * sim.time_scale
    assert get(sim, "/connections").status_code == 200, "other families keep their own quota"


def test_every_write_answers_405_and_is_recorded(simulator, hand_built):
    sim = simulator(hand_built)
    headers = {"Authorization": f"Bearer {sim.token}"}
    recipe_id = max(hand_built.recipes)
    for method, path in [
        ("POST", "/recipes"),
        ("PUT", f"/recipes/{recipe_id}/stop"),
        ("DELETE", f"/recipes/{recipe_id}"),
        ("PATCH", "/connections"),
    ]:
        response = httpx.request(method, f"{sim.base_url}{path}", headers=headers, json={})
        assert response.status_code == 405
        assert response.headers["Allow"] == "GET"
    assert [r.method for r in sim.log(method=None) if r.method != "GET"] == [
        "POST",
        "PUT",
        "DELETE",
        "PATCH",
    ]
    assert hand_built.recipes[recipe_id].running is False, "nothing changed"


def test_request_log_records_method_path_query_status_and_time(simulator, hand_built):
    sim = simulator(hand_built)
    get(sim, "/recipes", page=2, per_page=10)
    (record,) = sim.log("/api/recipes")
    assert (record.method, record.path, record.status) == ("GET", "/api/recipes", 200)
    assert record.param("page") == "2" and record.param("per_page") == "10"
    assert record.family == "recipes"
    assert record.at > 0
    assert record.token_name == "full-access"


def test_simulator_refuses_to_listen_beyond_loopback(hand_built):
    from workato_simulator import WorkatoSimulator

    with pytest.raises(ValueError, match="loopback"):
        WorkatoSimulator(hand_built, host="0.0.0.0")
