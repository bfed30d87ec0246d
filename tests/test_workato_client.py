"""The Workato client against the simulator over real HTTP: paging, errors, retries, secrecy."""

from __future__ import annotations

import logging
import time
import traceback
from datetime import datetime, timedelta, timezone
from email.utils import format_datetime

import pytest
from pydantic import SecretStr
from workato_simulator import Workspace

from archy_pipeline.resources import WorkatoResource
from archy_pipeline.workato.client import WorkatoClient
from archy_pipeline.workato.errors import (
    WorkatoAccessDeniedError,
    WorkatoAuthenticationError,
    WorkatoBadRequestError,
    WorkatoConfigError,
    WorkatoError,
    WorkatoNotFoundError,
    WorkatoRateLimitError,
    WorkatoReadOnlyError,
    WorkatoResponseError,
    WorkatoServerError,
    WorkatoUnreachableError,
    WorkatoWorkspaceMismatchError,
)
from archy_pipeline.workato.transport import DATA_CENTERS, parse_retry_after, resolve_base_url
from tests.support import SECRET_TOKEN, client_for, simple_code, workspace_with_recipes

# ---------------------------------------------------------------------- pagination


@pytest.mark.parametrize("pagination", ["since_id", "page"])
@pytest.mark.parametrize("count", [0, 1, 99, 100, 101, 200, 250, 300])
def test_recipe_listing_returns_every_recipe_once_on_full_and_partial_pages(
    simulator, count, pagination
):
    ws = workspace_with_recipes(count)
    sim = simulator(ws)
    with client_for(sim) as client:
        ids = [r["id"] for r in client.iter_recipes(pagination=pagination)]

    assert sorted(ids) == sorted(ws.recipes)
    assert ids == sorted(ids, reverse=True), "newest id first"
    # A short page ends the listing, so an exact multiple of 100 costs one extra, empty page.
    assert len(sim.log(r"^/api/recipes$")) == count // 100 + 1
    pages = [r.param("page") for r in sim.log(r"^/api/recipes$")]
    if pagination == "page":
        assert pages == [str(n) for n in range(1, count // 100 + 2)]
    else:
        since = [r.param("since_id") for r in sim.log(r"^/api/recipes$")]
        assert since[0] is None and all(s is not None for s in since[1:])


def test_recipe_listing_passes_filters_to_the_api(simulator):
    ws = workspace_with_recipes(30)
    folder = ws.add_folder("Billing", ws.projects[min(ws.projects)].folder_id)
    ws.add_recipe("in billing", simple_code(), folder_id=folder.id, running=True)
    sim = simulator(ws)
    with client_for(sim) as client:
        items = list(
            client.iter_recipes(
                updated_after=datetime(2020, 1, 1, tzinfo=timezone.utc),
                folder_id=folder.id,
                running=True,
                exclude_code=True,
            )
        )
    assert [r["name"] for r in items] == ["in billing"]
    assert "code" not in items[0], "a truncated code is dropped, never handed on"
    request = sim.log(r"^/api/recipes$")[-1]
    assert request.param("updated_after") == "2020-01-01T00:00:00Z"
    assert request.param("folder_id") == str(folder.id)
    assert request.param("running") == "true"
    assert request.param("exclude_code") == "true"
    assert request.param("includes[]") == "tags"
    assert request.param("per_page") == "100"


def test_recipe_deleted_mid_listing_does_not_hide_another_recipe(simulator):
    """Keyset paging (since_id) is immune to deletions between pages; page numbers are not."""
    ws = workspace_with_recipes(250)
    sim = simulator(ws)
    newest = max(ws.recipes)
    with client_for(sim) as client:
        seen = []
        for recipe in client.iter_recipes():
            seen.append(recipe["id"])
            if len(seen) == 100:  # first page consumed: delete a recipe already listed
                ws.delete_recipe(newest)
    assert sorted(seen) == sorted(set(ws.recipes) | {newest})


def test_folder_walk_visits_the_whole_tree_and_pages_wide_folders(simulator):
    ws = Workspace()
    project = ws.add_project("Operations")
    wide = ws.add_folder("Wide", project.folder_id)
    for i in range(130):  # more than one page of children
        ws.add_folder(f"Team {i:03d}", wide.id)
    level = ws.add_folder("Level 1", project.folder_id)
    for depth in range(2, 6):
        level = ws.add_folder(f"Level {depth}", level.id)
    other = ws.add_project("Finance")
    ws.add_folder("Close", other.folder_id)
    sim = simulator(ws)

    with client_for(sim, requests_per_minute=0) as client:
        folders = list(client.walk_folders())

    assert {f["id"] for f in folders} == set(ws.folders) - {ws.root_folder_id}
    assert len(folders) == len({f["id"] for f in folders})
    wide_requests = [r for r in sim.log("^/api/folders$") if r.param("parent_id") == str(wide.id)]
    assert [r.param("page") for r in wide_requests] == ["1", "2"]
    # Breadth first: every parent is listed before its children.
    position = {f["id"]: i for i, f in enumerate(folders)}
    for folder in folders:
        if folder["parent_id"] in position:
            assert position[folder["parent_id"]] < position[folder["id"]]


def test_folder_walk_reports_forbidden_folders_and_carries_on(simulator):
    ws = Workspace()
    sales = ws.add_project("Sales")
    ws.add_folder("Deals", sales.folder_id)
    hr = ws.add_project("HR")
    private = ws.add_folder("Private", hr.folder_id)
    ws.add_folder("Salaries", private.id)
    sim = simulator(ws)
    sim.add_token("forbid", hidden_folder_ids=frozenset({private.id}), out_of_scope="forbid")
    sim.add_token("hide", hidden_folder_ids=frozenset({private.id}), out_of_scope="hide")

    errors = []
    with client_for(sim, token="forbid") as client:
        walked = list(client.walk_folders(on_error=lambda f, e: errors.append((f["name"], e))))
        with pytest.raises(WorkatoAccessDeniedError):
            list(client.walk_folders(private.id))
    # "Private" is listed by its parent, but its contents answer 403: reported, walk goes on.
    assert {f["name"] for f in walked} == {"Sales", "Deals", "HR", "Private"}
    assert [(name, type(e)) for name, e in errors] == [("Private", WorkatoAccessDeniedError)]

    with client_for(sim, token="hide") as client:
        assert {f["name"] for f in client.walk_folders()} == {"Sales", "Deals", "HR"}
        with pytest.raises(WorkatoNotFoundError):
            client.list_folders(private.id)


def test_projects_and_connections_are_listed(simulator):
    ws = Workspace()
    for i in range(105):
        ws.add_project(f"Project {i}")
    ws.add_connection("salesforce", "ACME Production Salesforce")
    ws.add_connection("netsuite", "NetSuite - Sandbox")
    sim = simulator(ws)
    with client_for(sim, requests_per_minute=0) as client:
        projects = client.list_projects()
        connections = client.list_connections()
    assert len(projects) == 105
    assert [r.param("page") for r in sim.log("^/api/projects$")] == ["1", "2"]
    assert {c["name"] for c in connections} == {"ACME Production Salesforce", "NetSuite - Sandbox"}


# ---------------------------------------------------------------------- errors a user can act on


def test_401_says_to_generate_a_new_token(simulator):
    sim = simulator(workspace_with_recipes(1))
    with client_for(sim, token="not-a-real-token") as client:
        with pytest.raises(WorkatoAuthenticationError) as info:
            client.me()
    message = str(info.value)
    assert "401" in message
    assert "Generate a new API client token" in message
    assert "WORKATO_API_TOKEN" in message
    assert len(sim.log()) == 1, "a 401 is not retried"


def test_403_names_the_role_or_project_scope(simulator):
    ws = Workspace()
    sales = ws.add_project("Sales")
    hr = ws.add_project("HR")
    sim = simulator(ws)
    sim.add_token("sales-only", project_ids=frozenset({sales.id}), out_of_scope="forbid")
    with client_for(sim, token="sales-only") as client:
        with pytest.raises(WorkatoAccessDeniedError) as info:
            list(client.iter_recipes(folder_id=hr.folder_id))
    assert "403" in str(info.value)
    assert "role or project scope" in str(info.value)
    assert "outside this API client's project scope" in str(info.value), "Workato's own words"


def test_403_for_a_role_without_the_endpoint_family(simulator):
    sim = simulator(workspace_with_recipes(1))
    sim.add_token("recipes-only", families=frozenset({"recipes"}))
    with client_for(sim, token="recipes-only") as client:
        assert len(list(client.iter_recipes())) == 1
        with pytest.raises(WorkatoAccessDeniedError, match="role"):
            client.list_connections()


@pytest.mark.parametrize(
    "said",
    [
        pytest.param("API access is not available on your Workato plan.", id="plan-wording"),
        pytest.param("Forbidden", id="terse"),
        pytest.param("", id="no-message"),
    ],
)
def test_a_403_on_every_request_names_the_plan_whatever_workato_says(simulator, said):
    # The text of the plan 403 is not documented: the client must not depend on it.
    sim = simulator(workspace_with_recipes(1, api_enabled=False))
    sim.plan_message = said
    with client_for(sim) as client:
        with pytest.raises(WorkatoAccessDeniedError) as info:
            client.me()
    message = str(info.value)
    assert "403" in message
    assert "role or project scope" in message
    assert "plan may not include the Developer API" in message
    if said and said != "Forbidden":
        assert said in message, "Workato's own words are quoted"


def test_404_and_400_are_not_retried(simulator):
    sim = simulator(workspace_with_recipes(1))
    with client_for(sim) as client:
        with pytest.raises(WorkatoNotFoundError, match="404"):
            client.get_recipe(999999)
        with pytest.raises(WorkatoBadRequestError, match="400"):
            client.get("/recipes", {"page": "first"})
    assert [r.status for r in sim.log()] == [404, 400]


def test_unreachable_host_says_to_check_the_network():
    with socket_free_port() as port:
        client = WorkatoClient(
            SECRET_TOKEN,
            base_url=f"http://127.0.0.1:{port}/api",
            max_attempts=2,
            backoff_seconds=0.01,
        )
        with pytest.raises(WorkatoUnreachableError) as info:
            client.me()
    message = str(info.value)
    assert "Cannot reach Workato at 127.0.0.1" in message
    assert "firewall" in message and "VPN" in message
    assert "gave up after 2 attempts" in message


def test_timeout_is_retried_then_reported(simulator):
    sim = simulator(workspace_with_recipes(1))
    sim.inject("slow", "/api/users/me", delay=0.5, times=None)
    with client_for(sim, timeout_seconds=0.1, max_attempts=2) as client:
        with pytest.raises(WorkatoUnreachableError, match="did not answer GET /api/users/me"):
            client.me()


def test_timeout_above_workato_limit_is_refused():
    with pytest.raises(WorkatoConfigError, match="40"):
        WorkatoClient(SECRET_TOKEN, timeout_seconds=41)


def test_missing_token_is_a_config_error():
    with pytest.raises(WorkatoConfigError, match="WORKATO_API_TOKEN"):
        WorkatoClient("")


# ---------------------------------------------------------------------- retries


def test_429_waits_for_retry_after_then_succeeds(simulator):
    sim = simulator(workspace_with_recipes(3))
    fault = sim.inject("status", "/api/recipes", status=429, retry_after="0.3", times=2)
    waits: list[float] = []

    def sleep(seconds: float) -> None:
        waits.append(seconds)
        time.sleep(seconds)

    with client_for(sim, sleep=sleep) as client:
        assert len(list(client.iter_recipes())) == 3
    assert fault.hits == 2
    assert waits == [0.3, 0.3]
    assert [r.status for r in sim.log("/api/recipes")] == [429, 429, 200]


def test_429_with_an_http_date_is_honoured(simulator):
    sim = simulator(workspace_with_recipes(1))
    when = datetime.now(timezone.utc) + timedelta(seconds=2)
    sim.inject("status", "/api/users/me", status=429, retry_after=format_datetime(when, True))
    waits: list[float] = []
    with client_for(sim, sleep=waits.append) as client:
        client.me()
    assert len(waits) == 1 and 0.5 < waits[0] <= 2.0


def test_parse_retry_after_forms():
    assert parse_retry_after("7") == 7.0
    assert parse_retry_after("0.25") == 0.25
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT", now=1445412470.0) == 10.0
    assert parse_retry_after("soon") is None
    assert parse_retry_after(None) is None


def test_429_storm_ends_in_a_rate_limit_error(simulator):
    sim = simulator(workspace_with_recipes(1))
    sim.inject("status", "/api/users/me", status=429, retry_after="0.01", times=None)
    with client_for(sim, max_attempts=4) as client:
        with pytest.raises(WorkatoRateLimitError, match="gave up after 4 attempts"):
            client.me()
    assert len(sim.log("/api/users/me")) == 4


@pytest.mark.parametrize("status", [500, 502, 503])
def test_5xx_burst_is_retried_within_the_bound(simulator, status):
    sim = simulator(workspace_with_recipes(1))
    sim.inject("status", "/api/users/me", status=status, times=2)
    with client_for(sim, max_attempts=3) as client:
        assert client.me()["recipes_count"] == 1
    assert [r.status for r in sim.log()] == [status, status, 200]


def test_persistent_5xx_fails_with_a_clear_error(simulator):
    sim = simulator(workspace_with_recipes(1))
    sim.inject("status", "/api/recipes", status=500, times=None)
    with client_for(sim, max_attempts=3) as client:
        with pytest.raises(WorkatoServerError) as info:
            list(client.iter_recipes())
    message = str(info.value)
    assert "500" in message and "GET /api/recipes" in message
    assert "error id" in message, "Workato's error id helps its support find the incident"
    assert "gave up after 3 attempts" in message
    assert len(sim.log("/api/recipes")) == 3


def test_total_deadline_stops_retrying_before_the_attempts_run_out(simulator):
    sim = simulator(workspace_with_recipes(1))
    sim.inject("status", "/api/users/me", status=503, times=None)
    with client_for(
        sim, max_attempts=50, deadline_seconds=0.3, backoff_seconds=0.1, max_backoff_seconds=0.1
    ) as client:
        with pytest.raises(WorkatoServerError):
            client.me()
    assert 2 <= len(sim.log()) < 10


def test_backoff_grows_exponentially_with_jitter(simulator):
    sim = simulator(workspace_with_recipes(1))
    sim.inject("status", "/api/users/me", status=502, times=4)
    waits: list[float] = []
    with client_for(
        sim, sleep=waits.append, backoff_seconds=1.0, max_backoff_seconds=100.0
    ) as client:
        client.me()
    assert len(waits) == 4
    for attempt, wait in enumerate(waits, start=1):
        ceiling = 2 ** (attempt - 1)
        assert ceiling / 2 <= wait <= ceiling


@pytest.mark.parametrize("kind", ["reset", "truncate"])
def test_resets_and_truncated_bodies_are_retried(simulator, kind):
    sim = simulator(workspace_with_recipes(120))
    sim.inject(kind, "/api/recipes", times=1, after=1)  # the second page breaks once
    with client_for(sim) as client:
        assert len(list(client.iter_recipes())) == 120
    assert len(sim.log("/api/recipes")) == 3


def test_persistently_truncated_json_is_reported(simulator):
    sim = simulator(workspace_with_recipes(5))
    sim.inject("truncate", "/api/recipes", times=None)
    with client_for(sim, max_attempts=2) as client:
        with pytest.raises(WorkatoResponseError, match="not complete JSON"):
            list(client.iter_recipes())


@pytest.mark.parametrize(
    ("content_type", "body"),
    [("text/html; charset=utf-8", b"<!DOCTYPE html><html><body>Sign in</body></html>"),
     ("application/octet-stream", b"  <html><title>Portal</title></html>")],
)  # fmt: skip
def test_a_host_answering_a_web_page_is_one_error_without_retries(content_type, body):
    """A 200 with an HTML page is not JSON cut off by a proxy: retrying cannot help."""
    import http.server
    import threading

    hits: list[str] = []

    class Page(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            hits.append(self.path)
            self.send_response(200)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Page)
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.02}).start()
    try:
        base_url = f"http://127.0.0.1:{server.server_address[1]}/api"
        with WorkatoClient(SECRET_TOKEN, base_url=base_url, backoff_seconds=0.01) as client:
            with pytest.raises(WorkatoResponseError, match="with a web page") as error:
                client.me()
    finally:
        server.shutdown()
        server.server_close()
    assert "not Workato's JSON API: check the data center / base URL" in str(error.value)
    assert len(hits) == 1, "no retry"


def test_token_revoked_mid_sync_stops_with_an_authentication_error(simulator):
    sim = simulator(workspace_with_recipes(350))
    sim.inject("revoke_token", "/api/recipes", after=2)
    with client_for(sim) as client:
        seen = []
        with pytest.raises(WorkatoAuthenticationError):
            for recipe in client.iter_recipes():
                seen.append(recipe)
    assert len(seen) == 200
    assert [r.status for r in sim.log("/api/recipes")] == [200, 200, 401]


# ---------------------------------------------------------------------- pacing


def test_steady_sync_never_trips_the_simulators_rate_limit(simulator):
    """More requests than one window's quota: the client waits instead of hitting 429."""
    quota = {"users": 20}  # 20 per (scaled) minute: well below what a loop can send
    # A 6 s minute: the client's 5% margin (0.3 s) covers the scheduling jitter of a busy
    # machine (at 0.6 s the margin is 30 ms, which two loaded test workers can exceed).
    sim = simulator(workspace_with_recipes(5), rate_limits=quota, time_scale=0.1)
    with client_for(sim, requests_per_minute=quota) as client:
        for _ in range(45):
            client.me()
        assert client.rate_limiter.waited > 0, "the client had to pace itself"
    statuses = [r.status for r in sim.log()]
    assert statuses.count(200) == 45
    assert 429 not in statuses


def test_without_pacing_the_simulator_answers_429_and_the_client_recovers(simulator):
    sim = simulator(workspace_with_recipes(5), rate_limits={"users": 20})
    with client_for(sim, requests_per_minute=0) as client:
        for _ in range(50):
            client.me()
    statuses = [r.status for r in sim.log()]
    assert statuses.count(200) == 50
    assert 429 in statuses


def test_quotas_are_per_endpoint_family(simulator):
    quota = {"users": 20, "connections": 20}
    sim = simulator(workspace_with_recipes(5), rate_limits=quota)
    with client_for(sim, requests_per_minute=quota) as client:
        for _ in range(20):
            client.me()
            client.list_connections()
    # 20 of each fit in one window because the families are counted separately.
    assert client.rate_limiter.waited == 0
    assert 429 not in [r.status for r in sim.log()]


def test_enterprise_quota_is_configurable():
    client = WorkatoClient(SECRET_TOKEN, requests_per_minute={"recipes": 2000})
    assert client.rate_limiter.per_window["recipes"] == 2000
    assert client.rate_limiter.per_window["connections"] == 60


# ---------------------------------------------------------------------- read-only


def test_the_client_cannot_send_anything_but_get(simulator):
    sim = simulator(workspace_with_recipes(3))
    with client_for(sim) as client:
        client.me()
        list(client.iter_recipes())
        client.list_connections()
        list(client.walk_folders())
        client.list_projects()
        client.get_recipe(next(iter(sim.workspace.recipes)))
        client.list_jobs(next(iter(sim.workspace.recipes)))
        http = client._http  # even the underlying httpx client refuses writes
        for method in ("POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"):
            with pytest.raises(WorkatoReadOnlyError, match=method):
                http.request(method, "/recipes/1/stop")
    assert sim.log(), "the exercise reached the simulator"
    assert {r.method for r in sim.requests} == {"GET"}


# ---------------------------------------------------------------------- secrecy


def test_the_token_never_appears_in_errors_logs_or_reprs(simulator, caplog, capsys):
    ws = workspace_with_recipes(3)
    sim = simulator(ws)
    sim.add_token(SECRET_TOKEN)
    caplog.set_level(logging.DEBUG)  # httpx and httpcore log at DEBUG too
    texts: list[str] = []

    def capture(error: BaseException) -> None:
        texts.append(str(error))
        texts.append(repr(error))
        texts.append("".join(traceback.format_exception(error)))

    scenarios = [
        ("status", {"status": 500, "times": None}),
        ("status", {"status": 429, "retry_after": "0.01", "times": None}),
        ("truncate", {"times": None}),
        ("reset", {"times": None}),
        ("slow", {"delay": 0.3, "times": None}),
    ]
    for kind, options in scenarios:
        sim.clear_faults()
        sim.inject(kind, **options)
        with client_for(sim, token=SECRET_TOKEN, max_attempts=2, timeout_seconds=0.1) as client:
            texts.append(repr(client))
            with pytest.raises(WorkatoError) as info:
                client.me()
            capture(info.value)
    sim.clear_faults()
    ws.revoke_token(SECRET_TOKEN)
    with client_for(sim, token=SECRET_TOKEN) as client:
        with pytest.raises(WorkatoAuthenticationError) as info:
            client.me()
        capture(info.value)
    resource = WorkatoResource(api_token=SECRET_TOKEN, base_url=sim.base_url)
    texts += [repr(resource), str(resource), repr(resource.get_client())]

    out, err = capsys.readouterr()
    texts += [out, err, caplog.text]
    texts += [str(record.__dict__) for record in caplog.records]
    assert len(caplog.records) > 5, "logs were captured"
    assert all(SECRET_TOKEN not in text for text in texts)


def test_a_secret_str_token_authenticates_and_stays_hidden(simulator, caplog):
    """The settings model hands the token over as a pydantic SecretStr."""
    sim = simulator(workspace_with_recipes(1))
    sim.add_token(SECRET_TOKEN)
    caplog.set_level(logging.DEBUG)
    with WorkatoClient(SecretStr(SECRET_TOKEN), base_url=sim.base_url) as client:
        assert client.me()["recipes_count"] == 1
        texts = [repr(client), str(client), caplog.text]
    assert [r.status for r in sim.log()] == [200]
    assert all(SECRET_TOKEN not in text for text in texts)
    with pytest.raises(WorkatoConfigError, match="WORKATO_API_TOKEN"):
        WorkatoClient(SecretStr(""))


# ---------------------------------------------------------------------- settings


def test_data_centers_and_base_url_precedence():
    assert resolve_base_url("eu") == "https://app.eu.workato.com/api"
    assert resolve_base_url("CN") == "https://app.workatoapp.cn/api"
    assert set(DATA_CENTERS) == {"us", "eu", "jp", "sg", "au", "il", "kr", "cn", "trial"}
    assert resolve_base_url("eu", "https://workato.acme.internal/") == (
        "https://workato.acme.internal/api"
    )
    assert resolve_base_url("us", "http://127.0.0.1:9/api/") == "http://127.0.0.1:9/api"
    with pytest.raises(WorkatoConfigError, match="expected one of"):
        resolve_base_url("mars")
    with pytest.raises(WorkatoConfigError, match="not an http"):
        resolve_base_url("us", "ftp://example")


def test_identity_check_catches_a_token_for_another_workspace(simulator):
    sim = simulator(workspace_with_recipes(1, workspace_id=77, email="ops@acme.example"))
    with client_for(sim, user_id=77, user_email="OPS@acme.example") as client:
        assert client.verify_identity()["id"] == 77
    with client_for(sim, user_id=78) as client:
        with pytest.raises(WorkatoWorkspaceMismatchError, match="id 77"):
            client.verify_identity()
    with client_for(sim, user_email="finance@acme.example") as client:
        with pytest.raises(WorkatoWorkspaceMismatchError, match=r"ops@acme\.example"):
            client.verify_identity()


def test_resource_reads_base_url_from_the_environment_at_run_time(simulator, monkeypatch):
    sim = simulator(workspace_with_recipes(2))
    resource = WorkatoResource(api_token=sim.token)
    monkeypatch.setenv("WORKATO_BASE_URL", sim.base_url)
    with resource.get_client() as client:
        assert client.me()["recipes_count"] == 2
    explicit = WorkatoResource(api_token=sim.token, base_url=sim.base_url, data_center="eu")
    assert explicit.get_client().base_url == sim.base_url


# ---------------------------------------------------------------------- helpers


class socket_free_port:
    """A loopback port nothing listens on (bound then released)."""

    def __enter__(self) -> int:
        import socket

        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            return sock.getsockname()[1]

    def __exit__(self, *exc: object) -> None:
        pass
