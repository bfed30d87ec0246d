"""A read-only client for the Workato Developer API, usable with or without Dagster.

What it guarantees:

* **Read-only by construction.** The only request the client can make is a GET: its transport
  refuses every other method before a byte leaves the process.
* **The token stays secret.** It lives in a pydantic ``SecretStr`` and is added to each
  request by an auth hook; no message, log record, repr or exception of this module contains it.
* **Steady syncs never trip a 429.** Requests are paced per endpoint family at Workato's
  published quotas (60 requests per minute by default; raise them for enterprise quotas).
* **Transient failures are retried** (429 honouring ``Retry-After``; 5xx, timeouts, resets and
  truncated bodies with exponential backoff and jitter), with bounded attempts and a total
  deadline, then end in an error that says what to do. The policy is
  :func:`archy_pipeline.retry.retrying` (tenacity).
"""

from __future__ import annotations

import logging
import time
from collections import Counter, deque
from collections.abc import Callable, Iterable, Iterator
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

import httpx
from pydantic import SecretStr

from archy_pipeline.retry import Transient, backoff, retrying, wait_retry_after
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
from archy_pipeline.workato.identity import (
    ActivityPage,
    WorkspaceIdentity,
)
from archy_pipeline.workato.transport import (
    DATA_CENTERS,
    DEFAULT_REQUESTS_PER_MINUTE,
    MAX_PER_PAGE,
    MAX_TIMEOUT_SECONDS,
    TOKEN_ENV_VAR,
    BearerAuth,
    RateLimiter,
    ReadOnlyTransport,
    endpoint_family,
    format_api_time,
    format_log_time,
    message_of,
    parse_retry_after,
    resolve_base_url,
)

log = logging.getLogger(__name__)

__all__ = [
    "DATA_CENTERS",
    "DEFAULT_REQUESTS_PER_MINUTE",
    "MAX_PER_PAGE",
    "MAX_TIMEOUT_SECONDS",
    "TOKEN_ENV_VAR",
    "ActivityPage",
    "RateLimiter",
    "WorkatoAccessDeniedError",
    "WorkatoAuthenticationError",
    "WorkatoBadRequestError",
    "WorkatoClient",
    "WorkatoConfigError",
    "WorkatoError",
    "WorkatoNotFoundError",
    "WorkatoRateLimitError",
    "WorkatoReadOnlyError",
    "WorkatoResponseError",
    "WorkatoServerError",
    "WorkatoUnreachableError",
    "WorkatoWorkspaceMismatchError",
    "WorkspaceIdentity",
    "format_api_time",
    "format_log_time",
    "parse_retry_after",
    "resolve_base_url",
]

# ---------------------------------------------------------------------- client


class WorkatoClient:
    """Read-only Workato Developer API client.

    Args:
        api_token: the API client token (sent as ``Authorization: Bearer``).
        data_center: us, eu, jp, sg, au, il, kr, cn or trial.
        base_url: full API base URL; wins over ``data_center`` (tests point it at the
            simulator, Virtual Private Workato customers at their own host).
        user_email, user_id: when set, :meth:`verify_identity` checks the token belongs to
            that workspace.
        timeout_seconds: per-request timeout, at most 40 s (Workato's own limit).
        max_attempts: attempts per request, retries included.
        deadline_seconds: total time one request may take, waits and retries included.
        requests_per_minute: quota per endpoint family (an int for all, or a dict by family:
            users, recipes, connections, folders, jobs); ``0`` turns pacing off.
        rate_window_seconds: the length of Workato's "minute" (tests shrink it together with
            the simulator's time scale).
        backoff_seconds: first backoff; doubles each retry, capped at ``max_backoff_seconds``.
    """

    def __init__(
        self,
        api_token: str | SecretStr,
        *,
        data_center: str | None = "us",
        base_url: str | None = None,
        user_email: str | None = None,
        user_id: int | None = None,
        timeout_seconds: float = 30.0,
        max_attempts: int = 6,
        deadline_seconds: float = 600.0,
        requests_per_minute: int | dict[str, int] | None = None,
        rate_window_seconds: float = 60.0,
        backoff_seconds: float = 1.0,
        max_backoff_seconds: float = 60.0,
        transport: httpx.BaseTransport | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        token = api_token if isinstance(api_token, SecretStr) else SecretStr(api_token or "")
        if not token.get_secret_value():
            raise WorkatoConfigError(
                f"no Workato API token: set {TOKEN_ENV_VAR} to an API client token "
                "(Workspace admin > API clients)"
            )
        if not 0 < timeout_seconds <= MAX_TIMEOUT_SECONDS:
            raise WorkatoConfigError(
                f"timeout_seconds must be between 0 and {MAX_TIMEOUT_SECONDS:g} "
                f"(Workato cuts requests off after 40 s), got {timeout_seconds}"
            )
        if max_attempts < 1:
            raise WorkatoConfigError("max_attempts must be at least 1")
        self.base_url = resolve_base_url(data_center, base_url)
        self.user_email = user_email
        self.user_id = user_id
        self.max_attempts = max_attempts
        self.deadline_seconds = deadline_seconds
        self.backoff_seconds = backoff_seconds
        self.max_backoff_seconds = max_backoff_seconds
        if isinstance(requests_per_minute, dict):
            quotas = {**DEFAULT_REQUESTS_PER_MINUTE, **requests_per_minute}
        elif requests_per_minute is None:
            quotas = dict(DEFAULT_REQUESTS_PER_MINUTE)
        else:
            quotas = {family: requests_per_minute for family in DEFAULT_REQUESTS_PER_MINUTE}
        self.rate_limiter = RateLimiter(quotas, rate_window_seconds, sleep)
        self._sleep = sleep
        #: Requests sent, by endpoint family (retries included).
        self.request_counts: Counter[str] = Counter()
        self._http = httpx.Client(
            base_url=self.base_url,
            auth=BearerAuth(token),
            timeout=httpx.Timeout(timeout_seconds),
            transport=ReadOnlyTransport(transport or httpx.HTTPTransport()),
            headers={"Accept": "application/json", "User-Agent": "archy-pipeline"},
            follow_redirects=False,
        )

    def __repr__(self) -> str:
        return f"WorkatoClient(base_url={self.base_url!r}, api_token='***')"

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> WorkatoClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def host(self) -> str:
        return urlsplit(self.base_url).netloc

    # ------------------------------------------------------------------ the one request method
    def get(self, path: str, params: dict[str, Any] | None = None) -> Any:
        """GET ``path`` (relative to the API base) and return the decoded JSON body.

        Retries what is worth retrying and raises a :class:`WorkatoError` subclass otherwise.
        The retry settings are read at each call (a sensor may shorten them on a client).
        """
        where = f"GET /api{path}"

        def on_retry(failure: Transient, attempt: int, wait: float) -> None:
            error = failure.error
            assert isinstance(error, WorkatoError)
            log.warning(
                "Workato %s failed (%s); retry %d/%d in %.2f s",
                where,
                type(error).__name__ if error.status is None else error.status,
                attempt,
                self.max_attempts - 1,
                wait,
            )

        policy = retrying(
            attempts=self.max_attempts,
            deadline=self.deadline_seconds,
            wait=wait_retry_after(backoff(self.backoff_seconds, self.max_backoff_seconds)),
            on_retry=on_retry,
            give_up=_gave_up,
            sleep=self._sleep,
        )
        return policy(self._get_once, path, params, where)

    def _get_once(self, path: str, params: dict[str, Any] | None, where: str) -> Any:
        """One attempt: the decoded body, :class:`Transient` for what a retry may cure, or the
        error of a request that no retry can fix."""
        family = endpoint_family(path)
        self.rate_limiter.acquire(family)
        self.request_counts[family] += 1
        try:
            response = self._http.get(path, params=_clean(params))
        except httpx.TimeoutException as exc:
            raise Transient(
                WorkatoUnreachableError(
                    f"Workato at {self.host} did not answer {where} in time "
                    f"({type(exc).__name__}). Check the network, firewall, proxy or VPN "
                    "between this machine and Workato, and the data center setting.",
                    path=path,
                )
            ) from None
        except httpx.TransportError as exc:
            raise Transient(
                WorkatoUnreachableError(
                    f"Cannot reach Workato at {self.host} for {where} ({type(exc).__name__}: "
                    f"{_safe_text(exc)}). Check the network, firewall, proxy or VPN, and the "
                    "data center / WORKATO_BASE_URL setting.",
                    path=path,
                )
            ) from None
        status = response.status_code
        if status == 200:
            try:
                return response.json()
            except ValueError:
                raise Transient(
                    WorkatoResponseError(
                        f"Workato answered {where} with a body that is not complete JSON "
                        f"({len(response.content)} bytes); the answer may have been cut "
                        "off by a proxy.",
                        status=status,
                        path=path,
                    )
                ) from None
        if status == 429:
            raise Transient(
                WorkatoRateLimitError(
                    f"Workato kept answering 429 Too Many Requests to {where}. Another "
                    "tool may share this workspace's API quota; lower requests_per_minute "
                    "or run the sync later.",
                    status=status,
                    path=path,
                ),
                retry_after=parse_retry_after(response.headers.get("Retry-After")),
            )
        if status >= 500:
            body_id = _error_id(response)
            raise Transient(
                WorkatoServerError(
                    f"Workato answered {status} {response.reason_phrase} to {where}"
                    + (f" (error id {body_id})" if body_id else "")
                    + ". Workato may be having an incident: check status.workato.com "
                    "and try again later.",
                    status=status,
                    path=path,
                )
            )
        raise self._client_error(response, path, where)

    def _client_error(self, response: httpx.Response, path: str, where: str) -> WorkatoError:
        status = response.status_code
        said = message_of(response)
        quoted = f' Workato said: "{said}".' if said else ""
        if status == 401:
            return WorkatoAuthenticationError(
                f"Workato authentication failed (401 Unauthorized) for {where}: the API token "
                "is wrong, expired or revoked. Generate a new API client token in Workspace "
                f"admin > API clients and update {TOKEN_ENV_VAR}.",
                status=status,
                path=path,
            )
        if status == 403:
            # Workato does not document the text of its 403s (a plan without API access is
            # one of them), so the message names every cause and quotes what Workato said.
            return WorkatoAccessDeniedError(
                f"Access denied (403 Forbidden) to {where}: the API client's role or project "
                f"scope does not include this resource.{quoted} In Workspace admin > API "
                "clients, give the client's role this privilege or add the project to its "
                "scope. If every request is refused, the workspace's plan may not include the "
                "Developer API: ask your Workato account team.",
                status=status,
                path=path,
            )
        if status == 404:
            return WorkatoNotFoundError(
                f"Not found (404) for {where}: it does not exist or is hidden from this API "
                f"client.{quoted}",
                status=status,
                path=path,
            )
        if status == 400:
            return WorkatoBadRequestError(
                f"Workato refused the request {where} (400 Bad Request).{quoted}",
                status=status,
                path=path,
            )
        return WorkatoError(
            f"Workato answered {status} {response.reason_phrase} to {where}.{quoted}",
            status=status,
            path=path,
        )

    # ------------------------------------------------------------------ endpoints
    def me(self) -> dict[str, Any]:
        """``GET /users/me``: the workspace's details (id, name, recipe counts, root folder)."""
        body = self.get("/users/me")
        if not isinstance(body, dict) or "id" not in body:
            raise WorkatoResponseError("GET /api/users/me did not return a workspace object")
        return body

    def verify_identity(self) -> dict[str, Any]:
        """Call ``/users/me`` and check the token belongs to the configured workspace."""
        me = self.me()
        if self.user_id is not None and int(me["id"]) != int(self.user_id):
            raise WorkatoWorkspaceMismatchError(
                f"the API token belongs to workspace {me.get('name')!r} (id {me['id']}), not "
                f"to user id {self.user_id}: check {TOKEN_ENV_VAR} and the workspace settings"
            )
        if self.user_email is not None:
            emails = {str(me.get(k) or "").lower() for k in ("email", "contact_email")}
            if self.user_email.lower() not in emails:
                raise WorkatoWorkspaceMismatchError(
                    f"the API token belongs to workspace {me.get('name')!r} (id {me['id']}, "
                    f"{me.get('email')}), not to {self.user_email}: check {TOKEN_ENV_VAR} and "
                    "the workspace settings"
                )
        return me

    def identify(self, name: str | None = None) -> WorkspaceIdentity:
        """Which workspace the token opens: ``/users/me``, else the activity log, else config.

        Workato answers ``/users/me`` only for DEV-scoped API clients in workspaces with
        environments (addendum §4). On a 401 or 403 there, a second endpoint tells a bad
        token (401 again: raised) from an endpoint this client may not call; then the
        workspace is named by the newest activity-log entry, or by ``name`` (archy.yaml) and
        the configured ``user_id``, and the Home folder by the top-level folders' ``parent_id``.
        """
        try:
            return WorkspaceIdentity("users_me", {**self.verify_identity()})
        except (WorkatoAuthenticationError, WorkatoAccessDeniedError) as error:
            denied = error
        try:
            top = self.list_folders()
        except WorkatoAuthenticationError as error:
            raise WorkatoAuthenticationError(
                f"{error} (GET /api/users/me was refused too: the token itself is not accepted)",
                status=error.status,
                path=error.path,
            ) from None
        reason = (
            f"GET /api/users/me answered {denied.status} while other endpoints answer: "
            "Workato serves it only to DEV-scoped API clients in workspaces with environments"
        )
        notes: list[str] = []
        # Top-level folders carry parent_id = Home's id [inference, addendum §4].
        parents = {f.get("parent_id") for f in top}
        root_id = next(iter(parents)) if len(parents) == 1 else None
        if len(parents) > 1:
            notes.append("top-level folders name different parents: the Home folder is unknown")
        elif root_id is None:
            notes.append("no folder below Home: the Home folder id is unknown")
        workspace = self._workspace_from_activity_log(notes)
        if workspace is not None:
            details = {
                "id": workspace.get("id"),
                "name": workspace.get("name"),
                "email": workspace.get("email"),
                "environment": workspace.get("environment"),
                "root_folder_id": root_id,
            }
            self._check_identity(details)
            return WorkspaceIdentity("activity_log", details, reason, tuple(notes))
        details = {"id": self.user_id, "name": name, "root_folder_id": root_id}
        return WorkspaceIdentity("config", details, reason, tuple(notes))

    def _workspace_from_activity_log(self, notes: list[str]) -> dict[str, Any] | None:
        try:
            page = self.activity_log_page(page_size=1)
        except WorkatoError as error:
            notes.append(
                f"the activity log did not answer ({error.status or type(error).__name__}): it "
                "needs the Activity audit log add-on and the role's activity-log privilege"
            )
            return None
        workspace = page.entries[0].get("workspace") if page.entries else None
        if not isinstance(workspace, dict) or workspace.get("id") is None:
            notes.append("the activity log holds no entry naming the workspace")
            return None
        return workspace

    def _check_identity(self, details: dict[str, Any]) -> None:
        if self.user_id is not None and int(details["id"]) != int(self.user_id):
            raise WorkatoWorkspaceMismatchError(
                f"the API token belongs to workspace {details.get('name')!r} (id "
                f"{details['id']}, per the activity log), not to user id {self.user_id}: check "
                f"{TOKEN_ENV_VAR} and the workspace settings"
            )
        email = str(details.get("email") or "").lower()
        if self.user_email is not None and email and email != self.user_email.lower():
            raise WorkatoWorkspaceMismatchError(
                f"the API token belongs to workspace {details.get('name')!r} ({email}, per the "
                f"activity log), not to {self.user_email}: check {TOKEN_ENV_VAR} and the "
                "workspace settings"
            )

    def activity_log_page(
        self,
        *,
        after: int | str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        resource_types: Iterable[str] = (),
        event_types: Iterable[str] = (),
        page_size: int = MAX_PER_PAGE,
    ) -> ActivityPage:
        """One page of ``GET /activity_logs`` (addendum §1): the bracket parameter names the
        docs examples use; ``after`` is the ``page[after]`` cursor."""
        page_size = max(1, min(page_size, MAX_PER_PAGE))
        params: dict[str, Any] = {
            "page[size]": page_size,
            "page[after]": after,
            "from": format_log_time(since) if since else None,
            "to": format_log_time(until) if until else None,
            "include_resource_types[]": list(resource_types) or None,
            "include_event_types[]": list(event_types) or None,
        }
        body = self.get("/activity_logs", params)
        if not isinstance(body, dict) or not isinstance(body.get("data", []), (list, type(None))):
            raise WorkatoResponseError(
                'GET /api/activity_logs did not return the documented {"data": [...]} envelope'
            )
        entries = [e for e in body.get("data") or [] if isinstance(e, dict)]
        total = body.get("total")
        return ActivityPage(entries, total if isinstance(total, int) else None, page_size)

    def iter_activity_logs(
        self,
        *,
        since: datetime | None = None,
        until: datetime | None = None,
        resource_types: Iterable[str] = (),
        event_types: Iterable[str] = (),
        after: int | str | None = None,
        page_size: int = MAX_PER_PAGE,
        max_pages: int | None = None,
    ) -> Iterator[dict[str, Any]]:
        """Activity-log entries, each once, paged with ``page[after]`` (addendum §1.4).

        The order and the cursor's meaning are unverified, so nothing here relies on them:
        the next page starts after the last entry of the current one, entries are
        de-duplicated by ``id``, and paging stops at a short page, after ``max_pages``, or
        when the server answers a page of entries already seen.
        """
        seen: set[Any] = set()
        pages = 0
        while True:
            page = self.activity_log_page(
                after=after,
                since=since,
                until=until,
                resource_types=resource_types,
                event_types=event_types,
                page_size=page_size,
            )
            pages += 1
            fresh = [e for e in page.entries if e.get("id") not in seen]
            for entry in fresh:
                seen.add(entry.get("id"))
                yield entry
            if page.last or (max_pages is not None and pages >= max_pages):
                return
            if not fresh:
                raise WorkatoResponseError("GET /api/activity_logs page[after] did not move on")
            after = page.entries[-1].get("id")

    def iter_recipes(
        self,
        *,
        updated_after: datetime | str | None = None,
        folder_id: int | None = None,
        running: bool | None = None,
        exclude_code: bool = False,
        include_tags: bool = True,
        per_page: int = MAX_PER_PAGE,
        pagination: str = "since_id",
        on_page: Callable[[int, int], None] | None = None,
    ) -> Iterator[dict[str, Any]]:
        """Every recipe matching the filters, newest id first.

        ``pagination="since_id"`` (default) pages with Workato's keyset parameter: the next
        page asks for ids below the smallest seen, so recipes created or deleted during the
        listing never shift a page and make one item vanish. ``"page"`` walks
        ``page=1,2,...``. Both stop at the first page shorter than ``per_page``.
        ``on_page(page_number, items_on_page)`` reports progress.

        With ``exclude_code`` the items come without ``code``: Workato may send it truncated
        rather than omit it (addendum §5.2), and a truncated tree must never be parsed.
        """
        if pagination not in {"since_id", "page"}:
            raise WorkatoConfigError("pagination must be 'since_id' or 'page'")
        per_page = max(1, min(per_page, MAX_PER_PAGE))
        params: dict[str, Any] = {
            "per_page": per_page,
            "updated_after": format_api_time(updated_after) if updated_after else None,
            "folder_id": folder_id,
            "running": running,
            "exclude_code": exclude_code or None,
            "includes[]": "tags" if include_tags else None,
        }
        seen: set[int] = set()
        page = 1
        since_id: int | None = None
        while True:
            if pagination == "page":
                params["page"] = page
            else:
                params["since_id"] = since_id
            body = self.get("/recipes", params)
            if not isinstance(body, dict) or not isinstance(body.get("items"), list):
                raise WorkatoResponseError(
                    'GET /api/recipes did not return the documented {"items": [...]} envelope'
                )
            items = body["items"]
            if on_page:
                on_page(page, len(items))
            for item in items:
                if item["id"] not in seen:
                    seen.add(item["id"])
                    if exclude_code:
                        item.pop("code", None)
                    yield item
            if len(items) < per_page:
                return
            lowest = min(item["id"] for item in items)
            if since_id is not None and lowest >= since_id:
                raise WorkatoResponseError("GET /api/recipes since_id paging did not move on")
            since_id = lowest
            page += 1

    def get_recipe(self, recipe_id: int, *, include_tags: bool = True) -> dict[str, Any]:
        """One recipe with its code (``GET /recipes/:id``)."""
        return self.get(
            f"/recipes/{int(recipe_id)}", {"includes[]": "tags" if include_tags else None}
        )

    def list_connections(
        self,
        *,
        folder_id: int | None = None,
        project_id: int | None = None,
        updated_after: datetime | str | None = None,
        include_tags: bool = True,
        include_runtime_connections: bool = False,
    ) -> list[dict[str, Any]]:
        """Every connection the token can see (the endpoint is one bare, unpaged array)."""
        body = self.get(
            "/connections",
            {
                "folder_id": folder_id,
                "project_id": project_id,
                "updated_after": format_api_time(updated_after) if updated_after else None,
                "includes[]": "tags" if include_tags else None,
                "include_runtime_connections": include_runtime_connections or None,
            },
        )
        return _bare_array(body, "/connections")

    def list_folders(self, parent_id: int | None = None) -> list[dict[str, Any]]:
        """Direct children of ``parent_id`` (Home when None), every page."""
        return list(self._paged_array("/folders", {"parent_id": parent_id}))

    def walk_folders(
        self,
        root_id: int | None = None,
        *,
        skip: Callable[[dict[str, Any]], bool] | None = None,
        on_error: Callable[[dict[str, Any], WorkatoError], None] | None = None,
    ) -> Iterator[dict[str, Any]]:
        """Every folder below ``root_id`` (Home when None), breadth first.

        The endpoint lists only direct children, so the walk asks once per folder.
        ``skip(folder)`` prunes a sub-tree without requesting it. ``on_error(folder, error)``
        handles a folder whose children cannot be listed (403 from a project scope); without
        it the error is raised.
        """
        queue: deque[dict[str, Any] | None] = deque([None])
        seen: set[int] = set()
        while queue:
            parent = queue.popleft()
            try:
                children = self.list_folders(root_id if parent is None else parent["id"])
            except (WorkatoAccessDeniedError, WorkatoNotFoundError) as error:
                if on_error is None or parent is None:
                    raise
                on_error(parent, error)
                continue
            for folder in children:
                if folder["id"] in seen or (skip and skip(folder)):
                    continue
                seen.add(folder["id"])
                yield folder
                queue.append(folder)

    def list_projects(self) -> list[dict[str, Any]]:
        """Every project (paginated bare array)."""
        return list(self._paged_array("/projects", {}))

    def list_jobs(
        self, recipe_id: int, *, status: str | None = None, offset_job_id: str | None = None
    ) -> dict[str, Any]:
        """Recent jobs of a recipe with its job counts (``GET /recipes/:id/jobs``)."""
        return self.get(
            f"/recipes/{int(recipe_id)}/jobs", {"status": status, "offset_job_id": offset_job_id}
        )

    def _paged_array(self, path: str, params: dict[str, Any]) -> Iterator[dict[str, Any]]:
        page = 1
        while True:
            items = _bare_array(
                self.get(path, {**params, "page": page, "per_page": MAX_PER_PAGE}), path
            )
            yield from items
            if len(items) < MAX_PER_PAGE:
                return
            page += 1


def _clean(params: dict[str, Any] | None) -> dict[str, Any]:
    """Drop unset parameters and spell booleans as the API does."""
    out: dict[str, Any] = {}
    for key, value in (params or {}).items():
        if value is None:
            continue
        out[key] = ("true" if value else "false") if isinstance(value, bool) else value
    return out


def _bare_array(body: Any, path: str) -> list[dict[str, Any]]:
    if not isinstance(body, list):
        raise WorkatoResponseError(f"GET /api{path} did not return the documented JSON array")
    return body


def _error_id(response: httpx.Response) -> str | None:
    try:
        body = response.json()
    except ValueError:
        return None
    return str(body.get("id")) if isinstance(body, dict) and body.get("id") else None


def _gave_up(failure: Transient, attempts: int, elapsed: float) -> WorkatoError:
    """The last failure, saying how long the client tried."""
    error = failure.error
    assert isinstance(error, WorkatoError)
    reason = f"gave up after {attempts} attempt{'s' if attempts > 1 else ''} in {elapsed:.1f} s"
    return type(error)(f"{error} ({reason})", status=error.status, path=error.path)


def _safe_text(exc: Exception) -> str:
    text = str(exc) or type(exc).__name__
    return text[:200]
