"""A real HTTP server that answers like the read side of the Workato Developer API.

Shapes, parameters, status codes and error bodies follow ``shared/reference/workato-api.md``
§1-§2. On top of what Workato does, the server can inject faults (429 storms, 5xx bursts,
slow answers, connection resets, truncated JSON, a token revoked mid-sync) and keeps a request
log, so tests can prove what the client asked for and that it never wrote anything.

Typical use::

    with WorkatoSimulator(generate_workspace(seed=1, recipes=300)) as sim:
        client = WorkatoClient(api_token=sim.token, base_url=sim.base_url)
"""

from __future__ import annotations

import json
import re
import socket
import struct
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from workato_simulator.workspace import STOP_CAUSES, RawJSON, Token, Workspace, parse_ts

#: Workato's published default quotas, requests per minute per workspace (reference §1.4).
DEFAULT_RATE_LIMITS: dict[str, int] = {
    "recipes": 60,
    "connections": 60,
    "folders": 60,
    "users": 60,
    "jobs": 60,
    # Environment management: tags, activity logs, secrets cache (reference §1.4).
    "environment_management": 60,
}

DEFAULT_TOKEN = "sim-token-0123456789abcdef"
MAX_PER_PAGE = 100


@dataclass(frozen=True)
class RequestRecord:
    """One request as the simulator saw it (the token itself is never recorded)."""

    method: str
    path: str
    query: dict[str, list[str]]
    status: int
    at: float
    family: str | None
    token_name: str | None

    def param(self, name: str) -> str | None:
        values = self.query.get(name)
        return values[-1] if values else None


@dataclass
class Fault:
    """A fault the server injects into matching requests.

    ``kind`` is one of ``status`` (answer ``status`` with Workato's error body, plus
    ``Retry-After`` for 429), ``slow`` (wait ``delay`` seconds, then answer normally),
    ``reset`` (drop the TCP connection with a reset), ``truncate`` (a 200 whose JSON body is
    cut in half) and ``revoke_token`` (revoke the calling token, then answer 401).
    The fault skips its first ``after`` matching requests, then hits the next ``times``
    ones (``None`` = every one from then on).
    """

    kind: str
    path: str = ".*"
    times: int | None = 1
    after: int = 0
    status: int = 500
    retry_after: float | str | None = None
    delay: float = 0.0
    seen: int = 0
    hits: int = 0

    def matches(self, path: str) -> bool:
        return re.search(self.path, path) is not None

    def take(self) -> bool:
        """Count a matching request; return whether this one is hit."""
        self.seen += 1
        if self.seen <= self.after:
            return False
        if self.times is not None and self.hits >= self.times:
            return False
        self.hits += 1
        return True


class ApiError(Exception):
    """An error answer with Workato's body shape."""

    def __init__(self, status: int, message: str, headers: dict[str, str] | None = None):
        super().__init__(message)
        self.status = status
        self.body: dict[str, Any] = {"message": message}
        if status >= 500:
            self.body["id"] = str(uuid.uuid4())
        self.headers = headers or {}


@dataclass
class _Window:
    times: deque[float] = field(default_factory=deque)


class RateLimiter:
    """Sliding-window quota per endpoint family; ``time_scale`` shrinks the minute."""

    def __init__(self, limits: dict[str, int] | None, time_scale: float) -> None:
        self.limits = dict(limits or {})
        self.window = 60.0 * time_scale
        self.time_scale = time_scale
        self._windows: dict[str, _Window] = {}
        self._lock = threading.Lock()

    def check(self, family: str) -> float | None:
        """Record a request; return seconds to wait if it is over quota, else None."""
        limit = self.limits.get(family)
        if not limit:
            return None
        now = time.monotonic()
        with self._lock:
            window = self._windows.setdefault(family, _Window())
            while window.times and window.times[0] <= now - self.window:
                window.times.popleft()
            if len(window.times) >= limit:
                return window.times[0] + self.window - now
            window.times.append(now)
            return None


def dumps(body: Any) -> str:
    """``json.dumps(body)``, with every :class:`RawJSON` value written verbatim."""
    raw: list[str] = []

    def placeholder(value: Any) -> str:
        if not isinstance(value, RawJSON):
            raise TypeError(f"{type(value).__name__} is not JSON serializable")
        raw.append(value.text)
        return f"\x00raw{len(raw) - 1}\x00"

    text = json.dumps(body, default=placeholder)
    for i, value in enumerate(raw):
        text = text.replace(json.dumps(f"\x00raw{i}\x00"), value, 1)
    return text


def _format_retry_after(seconds: float, time_scale: float) -> str:
    """Whole seconds as Workato sends them; fractions only when the clock is scaled."""
    if time_scale >= 1:
        return str(max(1, int(seconds + 0.999)))
    return f"{max(seconds, 0.001):.3f}"


def _bool_param(value: str | None, name: str) -> bool | None:
    if value is None or value == "":
        return None
    if value.lower() in {"true", "1"}:
        return True
    if value.lower() in {"false", "0"}:
        return False
    raise ApiError(400, f"Bad request: {name} must be true or false")


def _int_param(value: str | None, name: str, default: int | None = None) -> int | None:
    if value is None or value == "":
        return default
    try:
        return int(value)
    except ValueError:
        raise ApiError(400, f"Bad request: {name} must be an integer") from None


def _ts_param(value: str | None, name: str):
    if value is None or value == "":
        return None
    try:
        return parse_ts(value)
    except ValueError:
        raise ApiError(400, f"Bad request: {name} must be an ISO-8601 time") from None


def _paginate(items: list[Any], query: dict[str, list[str]]) -> list[Any]:
    def last(name: str) -> str | None:
        values = query.get(name)
        return values[-1] if values else None

    page = _int_param(last("page"), "page", 1) or 1
    per_page = _int_param(last("per_page"), "per_page", MAX_PER_PAGE) or MAX_PER_PAGE
    if page < 1 or per_page < 1:
        raise ApiError(400, "Bad request: page and per_page must be positive")
    per_page = min(per_page, MAX_PER_PAGE)
    start = (page - 1) * per_page
    return items[start : start + per_page]


class WorkatoSimulator:
    """Serve a :class:`Workspace` over HTTP on 127.0.0.1 (ephemeral port by default).

    Args:
        workspace: what to serve.
        port: TCP port; 0 picks a free one.
        time_scale: multiplies every time in the rate limiter and ``Retry-After`` (0.01 turns
            Workato's minute into 0.6 s, so tests never wait a real minute).
        rate_limits: requests per minute per family; ``None`` turns rate limiting off.
        token: a full-access token to register (``WorkatoSimulator.token``).
    """

    def __init__(
        self,
        workspace: Workspace,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        time_scale: float = 1.0,
        rate_limits: dict[str, int] | None = DEFAULT_RATE_LIMITS,
        token: str = DEFAULT_TOKEN,
    ) -> None:
        if host not in {"127.0.0.1", "localhost", "::1"}:
            raise ValueError("the simulator only listens on loopback")
        self.workspace = workspace
        self.time_scale = time_scale
        self.rate_limiter = RateLimiter(rate_limits, time_scale)
        self.token = token
        if token not in workspace.tokens:
            workspace.add_token(token, name="full-access")
        self.requests: list[RequestRecord] = []
        self.faults: list[Fault] = []
        #: Body text of the 403 a plan without API access gets. Workato's wording is not
        #: documented, so tests vary it and the client must not depend on it.
        self.plan_message = "API access is not available on your Workato plan. Contact your CSM."
        self._lock = threading.Lock()
        self._server = _Server((host, port), _make_handler(self))
        self._thread: threading.Thread | None = None

    # ------------------------------------------------------------------ lifecycle
    @property
    def port(self) -> int:
        return self._server.server_address[1]

    @property
    def base_url(self) -> str:
        """The API base, like ``https://www.workato.com/api``."""
        return f"http://127.0.0.1:{self.port}/api"

    def start(self) -> WorkatoSimulator:
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name="workato-simulator",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        if self._thread:
            self._thread.join(timeout=5)

    def serve_forever(self) -> None:
        self._server.serve_forever()

    def __enter__(self) -> WorkatoSimulator:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # ------------------------------------------------------------------ test helpers
    def inject(self, kind: str, path: str = ".*", **options: Any) -> Fault:
        """Add a fault (see :class:`Fault`); returns it so tests can read ``hits``."""
        if kind not in {"status", "slow", "reset", "truncate", "revoke_token"}:
            raise ValueError(f"unknown fault kind {kind!r}")
        fault = Fault(kind=kind, path=path, **options)
        with self._lock:
            self.faults.append(fault)
        return fault

    def clear_faults(self) -> None:
        with self._lock:
            self.faults.clear()

    def clear_log(self) -> None:
        with self._lock:
            self.requests.clear()

    def log(self, path_pattern: str = ".*", method: str | None = None) -> list[RequestRecord]:
        """Requests whose path matches ``path_pattern`` (a regex), oldest first."""
        with self._lock:
            return [
                r
                for r in self.requests
                if re.search(path_pattern, r.path) and (method is None or r.method == method)
            ]

    def add_token(self, value: str, **scope: Any) -> Token:
        """Register a scoped token (see :class:`~workato_simulator.workspace.Token`)."""
        return self.workspace.add_token(value, **scope)

    # ------------------------------------------------------------------ request handling
    def _record(self, record: RequestRecord) -> None:
        with self._lock:
            self.requests.append(record)

    def _pick_fault(self, path: str) -> Fault | None:
        with self._lock:
            for fault in self.faults:
                if fault.matches(path) and fault.take():
                    return fault
        return None

    def handle(self, method: str, raw_path: str, headers: Any) -> tuple[int, Any, dict[str, str]]:
        """Answer one request: ``(status, json_body, extra_headers)``; raises ApiError."""
        parts = urlsplit(raw_path)
        path = parts.path.rstrip("/") or "/"
        query = parse_qs(parts.query, keep_blank_values=True)
        if method != "GET":
            raise ApiError(405, "Method not allowed: the simulator serves the read-only API")
        route, args = _route(path)
        if route is None:
            raise ApiError(404, "Not found")
        token = self._authenticate(headers)
        family = route.family
        if not self.workspace.api_enabled:
            raise ApiError(403, self.plan_message)
        if token.families is not None and family not in token.families:
            raise ApiError(403, f"Your API client role has no access to {family}")
        wait = self.rate_limiter.check(family)
        if wait is not None:
            raise ApiError(
                429,
                "Too many requests",
                {"Retry-After": _format_retry_after(wait, self.time_scale)},
            )
        return 200, route.handler(self.workspace, token, query, *args), {}

    def _authenticate(self, headers: Any) -> Token:
        auth = headers.get("Authorization") or ""
        scheme, _, value = auth.partition(" ")
        token = self.workspace.tokens.get(value.strip()) if scheme.lower() == "bearer" else None
        if token is None or token.revoked:
            raise ApiError(401, "Unauthorized")
        return token


# ---------------------------------------------------------------------- endpoints


@dataclass(frozen=True)
class _Route:
    pattern: re.Pattern[str]
    family: str
    handler: Callable[..., Any]


def _last(query: dict[str, list[str]], name: str) -> str | None:
    values = query.get(name)
    return values[-1] if values else None


def _folder_access(ws: Workspace, token: Token, folder_id: int) -> None:
    """Raise the answer Workato gives for a folder the token cannot see."""
    if folder_id not in ws.folders:
        raise ApiError(404, "Not found")
    if folder_id not in ws.visible_folder_ids(token):
        if token.out_of_scope == "hide":
            raise ApiError(404, "Not found")
        raise ApiError(
            403, f"Access denied: folder {folder_id} is outside this API client's project scope"
        )


def _users_me(ws: Workspace, token: Token, query: dict[str, list[str]]) -> Any:
    if ws.environments and token.environment != "dev":
        # Addendum §4: in workspaces with environments, "only available to API clients with
        # DEV access". The status is what the reference plans for; the wording is ours.
        raise ApiError(
            403, f"Access denied: workspace details are not available to {token.environment} "
            "API clients"
        )  # fmt: skip
    return ws.user_me()


#: Activity-log filters: each accepted with and without ``[]`` (addendum §1.2, [unverified]).
_ACTIVITY_FILTERS = (
    "include_resource_types",
    "exclude_resource_types",
    "include_event_types",
    "exclude_event_types",
)


def _list_param(query: dict[str, list[str]], name: str) -> list[str]:
    values = [*query.get(f"{name}[]", []), *query.get(name, [])]
    return [part.strip() for value in values for part in value.split(",") if part.strip()]


def _activity_logs(ws: Workspace, token: Token, query: dict[str, list[str]]) -> Any:
    if not ws.activity_log:
        raise ApiError(403, "Activity audit log is not enabled for this workspace")
    if not token.activity_log:
        raise ApiError(403, "Your API client role has no access to activity logs")
    size = _int_param(_last(query, "page[size]"), "page[size]", MAX_PER_PAGE) or MAX_PER_PAGE
    if size < 1:
        raise ApiError(400, "Bad request: page[size] must be positive")
    size = min(size, MAX_PER_PAGE)  # "default and max 100" (addendum §1.2)
    after = _int_param(_last(query, "page[after]"), "page[after]")
    start = _ts_param(_last(query, "from"), "from")
    end = _ts_param(_last(query, "to"), "to")
    # Case sensitivity of type values is unverified (addendum §1.2): matched case-blind here.
    filters = {name: {v.lower() for v in _list_param(query, name)} for name in _ACTIVITY_FILTERS}
    users = {_int_param(v, "users_ids") for v in _list_param(query, "users_ids")}
    with ws.lock:
        # Order and cursor are unverified (addendum §1.4): newest first here, and page[after]
        # takes the id of the last entry of the previous page.
        entries = sorted(ws.activity, key=lambda e: e.id, reverse=True)
        if after is not None:
            entries = [e for e in entries if e.id < after]
        if start is not None:
            entries = [e for e in entries if e.timestamp >= start]
        if end is not None:
            entries = [e for e in entries if e.timestamp <= end]
        for name, wanted in filters.items():
            if not wanted:
                continue
            include = name.startswith("include")
            field = "type" if "resource" in name else "event"

            def value(entry: Any, field: str = field) -> str:
                return (entry.resource["type"] if field == "type" else entry.event_type).lower()

            entries = [e for e in entries if (value(e) in wanted) == include]
        if users:
            entries = [e for e in entries if e.user["id"] in users]
        page = entries[:size]
        # Each environment is its own workspace (addendum §4); the simulator serves one set
        # of objects to every environment, named by the calling client's environment.
        workspace = {
            "id": ws.id,
            "name": ws.name,
            "email": ws.email,
            "environment": token.environment,
        }
        return {"data": [e.to_api(ws.tz, workspace) for e in page], "total": len(page)}


def _recipes(ws: Workspace, token: Token, query: dict[str, list[str]]) -> Any:
    with ws.lock:
        visible = ws.visible_folder_ids(token)
        recipes = [r for r in ws.recipes.values() if r.folder_id in visible]
        folder_id = _int_param(_last(query, "folder_id"), "folder_id")
        if folder_id is not None:
            _folder_access(ws, token, folder_id)
            folders = {folder_id}
            if _bool_param(_last(query, "with_subfolders"), "with_subfolders"):
                folders |= set(ws.descendants(folder_id)) & visible
            recipes = [r for r in recipes if r.folder_id in folders]
        running = _bool_param(_last(query, "running") or _last(query, "active"), "running")
        if running is not None:
            recipes = [r for r in recipes if r.running == running]
        since_id = _int_param(_last(query, "since_id"), "since_id")
        if since_id is not None:
            recipes = [r for r in recipes if r.id < since_id]
        updated_after = _ts_param(_last(query, "updated_after"), "updated_after")
        if updated_after is not None:
            recipes = [r for r in recipes if r.updated_at > updated_after]
        stopped_after = _ts_param(_last(query, "stopped_after"), "stopped_after")
        if stopped_after is not None:
            recipes = [r for r in recipes if not (r.stopped_at and r.stopped_at > stopped_after)]
        stop_cause = _last(query, "stop_cause")
        if stop_cause:
            if stop_cause not in STOP_CAUSES:
                raise ApiError(400, f"Bad request: unknown stop_cause {stop_cause}")
            recipes = [r for r in recipes if r.stop_cause == stop_cause]
        any_names = [n for n in (_last(query, "adapter_names_any") or "").split(",") if n]
        if any_names:
            recipes = [r for r in recipes if set(_apps(r)) & set(any_names)]
        all_names = [n for n in (_last(query, "adapter_names_all") or "").split(",") if n]
        if all_names:
            recipes = [r for r in recipes if set(all_names) <= set(_apps(r))]
        order = _last(query, "order") or "default"
        if order not in {"default", "activity"}:
            raise ApiError(400, "Bad request: order must be activity or default")
        recipes.sort(key=lambda r: r.id, reverse=True)
        if order == "activity":
            recipes.sort(
                key=lambda r: r.last_run_at.timestamp() if r.last_run_at else 0, reverse=True
            )
        page = _paginate(recipes, query)
        exclude_code = bool(_bool_param(_last(query, "exclude_code"), "exclude_code"))
        include_tags = "tags" in query.get("includes[]", [])
        return {
            "items": [
                r.to_api(ws.tz, exclude_code=exclude_code, include_tags=include_tags) for r in page
            ]
        }


def _apps(recipe: Any) -> list[str]:
    trigger, actions = recipe.applications()
    return ([trigger] if trigger else []) + actions


def _recipe(ws: Workspace, token: Token, query: dict[str, list[str]], recipe_id: str) -> Any:
    with ws.lock:
        recipe = ws.recipes.get(int(recipe_id))
        if recipe is None:
            raise ApiError(404, "Not found")
        _folder_access(ws, token, recipe.folder_id)
        include_tags = "tags" in query.get("includes[]", [])
        return recipe.to_api(ws.tz, exclude_code=False, include_tags=include_tags)


def _jobs(ws: Workspace, token: Token, query: dict[str, list[str]], recipe_id: str) -> Any:
    from workato_simulator.jobs import list_jobs

    with ws.lock:
        recipe = ws.recipes.get(int(recipe_id))
        if recipe is None:
            raise ApiError(404, "Not found")
        _folder_access(ws, token, recipe.folder_id)
        status = _last(query, "status")
        if status and status not in {"succeeded", "failed", "pending"}:
            raise ApiError(400, "Bad request: status must be succeeded, failed or pending")
        return list_jobs(
            recipe,
            ws.tz,
            offset_job_id=_last(query, "offset_job_id"),
            prev=bool(_bool_param(_last(query, "prev"), "prev")),
            status=status,
        )


def _connections(ws: Workspace, token: Token, query: dict[str, list[str]]) -> Any:
    with ws.lock:
        visible = ws.visible_folder_ids(token)
        items = [c for c in ws.connections.values() if c.folder_id in visible]
        if not _bool_param(
            _last(query, "include_runtime_connections"), "include_runtime_connections"
        ):
            items = [c for c in items if not c.runtime]
        folder_id = _int_param(_last(query, "folder_id"), "folder_id")
        if folder_id is not None:
            _folder_access(ws, token, folder_id)
            items = [c for c in items if c.folder_id == folder_id]
        project_id = _int_param(_last(query, "project_id"), "project_id")
        if project_id is not None:
            items = [c for c in items if ws.folders[c.folder_id].project_id == project_id]
        parent_id = _int_param(_last(query, "parent_id"), "parent_id")
        if parent_id is not None:
            items = [c for c in items if c.parent_id == parent_id]
        for name in ("provider", "external_id"):
            value = _last(query, name)
            if value:
                attr = "application" if name == "provider" else name
                items = [c for c in items if getattr(c, attr) == value]
        updated_after = _ts_param(_last(query, "updated_after"), "updated_after")
        if updated_after is not None:
            items = [c for c in items if c.updated_at > updated_after]
        include_tags = "tags" in query.get("includes[]", [])
        items.sort(key=lambda c: c.id)
        return [c.to_api(ws.tz, include_tags) for c in items]


def _folders(ws: Workspace, token: Token, query: dict[str, list[str]]) -> Any:
    with ws.lock:
        parent_id = _int_param(_last(query, "parent_id"), "parent_id", ws.root_folder_id)
        _folder_access(ws, token, parent_id)
        visible = ws.visible_folder_ids(token)
        # Out-of-scope folders still show in their parent when the token's scope "forbids"
        # rather than "hides" them: their names are listed, their contents answer 403.
        listed = visible if token.out_of_scope == "hide" else set(ws.folders)
        children = sorted((f for f in ws.children(parent_id) if f.id in listed), key=lambda f: f.id)
        return [f.to_api(ws.tz) for f in _paginate(children, query)]


def _projects(ws: Workspace, token: Token, query: dict[str, list[str]]) -> Any:
    with ws.lock:
        projects = sorted(ws.projects.values(), key=lambda p: p.id)
        if token.project_ids is not None:
            projects = [p for p in projects if p.id in token.project_ids]
        return [p.to_api() for p in _paginate(projects, query)]


_ROUTES = [
    _Route(re.compile(r"^/api/users/me$"), "users", _users_me),
    _Route(re.compile(r"^/api/recipes$"), "recipes", _recipes),
    _Route(re.compile(r"^/api/recipes/(\d+)$"), "recipes", _recipe),
    _Route(re.compile(r"^/api/recipes/(\d+)/jobs$"), "jobs", _jobs),
    _Route(re.compile(r"^/api/connections$"), "connections", _connections),
    _Route(re.compile(r"^/api/folders$"), "folders", _folders),
    _Route(re.compile(r"^/api/projects$"), "folders", _projects),
    _Route(re.compile(r"^/api/activity_logs$"), "environment_management", _activity_logs),
]


def _route(path: str) -> tuple[_Route | None, tuple[str, ...]]:
    for route in _ROUTES:
        match = route.pattern.match(path)
        if match:
            return route, match.groups()
    return None, ()


def family_of(path: str) -> str | None:
    route, _ = _route(urlsplit(path).path.rstrip("/"))
    return route.family if route else None


# ---------------------------------------------------------------------- HTTP plumbing


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A client that timed out or hung up mid-answer is normal under fault injection.
        import sys

        if not isinstance(sys.exc_info()[1], (BrokenPipeError, ConnectionResetError)):
            super().handle_error(request, client_address)


def _make_handler(sim: WorkatoSimulator) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        disable_nagle_algorithm = True  # one small answer must not wait 40 ms for an ACK
        server_version = "WorkatoSimulator/1.0"

        def log_message(self, format: str, *args: Any) -> None:  # keep test output clean
            pass

        def _serve(self) -> None:
            method = self.command
            # Drain any body so keep-alive connections stay in sync.
            length = int(self.headers.get("Content-Length") or 0)
            if length:
                self.rfile.read(length)
            path = urlsplit(self.path).path
            query = parse_qs(urlsplit(self.path).query, keep_blank_values=True)
            token = sim.workspace.tokens.get(
                (self.headers.get("Authorization") or "").partition(" ")[2].strip()
            )
            token_name = token.name if token else None
            fault = sim._pick_fault(path) if method == "GET" else None

            def record(status: int) -> None:
                sim._record(
                    RequestRecord(
                        method, path, query, status, time.time(), family_of(path), token_name
                    )
                )

            if fault is not None and fault.kind == "slow":
                time.sleep(fault.delay)
                fault = None
            if fault is not None and fault.kind == "reset":
                record(0)
                self._reset()
                return
            if fault is not None and fault.kind == "revoke_token" and token is not None:
                sim.workspace.revoke_token(token.value)
                fault = None
            try:
                if fault is not None and fault.kind == "status":
                    headers = {}
                    if fault.status == 429:
                        retry = fault.retry_after if fault.retry_after is not None else 1
                        headers["Retry-After"] = str(retry)
                    message = {
                        429: "Too many requests",
                        500: "Server error",
                        502: "Bad gateway",
                        503: "Service unavailable",
                        504: "Gateway timeout",
                    }.get(fault.status, "Error")
                    raise ApiError(fault.status, message, headers)
                status, body, headers = sim.handle(method, self.path, self.headers)
            except ApiError as err:
                status, body, headers = err.status, err.body, err.headers
            payload = dumps(body).encode()
            if fault is not None and fault.kind == "truncate":
                payload = payload[: max(1, len(payload) // 2)]
            record(status)
            self.send_response(status)
            self.send_header("Content-Type", "application/json; charset=utf-8")
            self.send_header("Content-Length", str(len(payload)))
            self.send_header("x-correlation-id", uuid.uuid4().hex)
            if status == 405:
                self.send_header("Allow", "GET")
            for name, value in headers.items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(payload)

        def _reset(self) -> None:
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            self.close_connection = True
            self.connection.close()

        do_GET = _serve
        do_POST = _serve
        do_PUT = _serve
        do_PATCH = _serve
        do_DELETE = _serve
        do_HEAD = _serve
        do_OPTIONS = _serve

    return Handler
