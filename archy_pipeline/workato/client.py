"""A read-only client for the Workato Developer API, usable with or without Dagster.

:class:`WorkatoClient` is what the rest of archy-pipeline calls: one method per endpoint it
reads (``/users/me`` and the workspace's identity, recipes, connections, folders, projects,
jobs, the activity audit log), with Workato's paging and answer envelopes handled here. Every
request is one :meth:`~archy_pipeline.workato.session.WorkatoSession.get`, which makes the
client read-only, keeps the token secret, paces and retries (``workato/session.py``).
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from datetime import datetime
from typing import Any

from archy_pipeline.workato.errors import (
    WorkatoAccessDeniedError,
    WorkatoAuthenticationError,
    WorkatoConfigError,
    WorkatoError,
    WorkatoNotFoundError,
    WorkatoResponseError,
    WorkatoWorkspaceMismatchError,
)
from archy_pipeline.workato.identity import ActivityPage, WorkspaceIdentity
from archy_pipeline.workato.session import WorkatoSession
from archy_pipeline.workato.transport import (
    MAX_PER_PAGE,
    TOKEN_ENV_VAR,
    format_api_time,
    format_log_time,
)


class WorkatoClient(WorkatoSession):
    """Read-only Workato Developer API client; built with the arguments of
    :class:`~archy_pipeline.workato.session.WorkatoSession` (token, data center or base URL,
    timeouts, retries, pacing)."""

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
        stop: threading.Event | None = None,
    ) -> Iterator[dict[str, Any]]:
        """Every folder below ``root_id`` (Home when None), breadth first.

        The endpoint lists only direct children, so the walk asks once per folder.
        ``skip(folder)`` prunes a sub-tree without requesting it. ``on_error(folder, error)``
        handles a folder whose children cannot be listed (403 from a project scope); without
        it the error is raised. Once ``stop`` is set (a walk in another thread whose sync
        ended), the next request is not sent: :class:`InterruptedError` is raised instead.
        """
        queue: deque[dict[str, Any] | None] = deque([None])
        seen: set[int] = set()
        while queue:
            if stop is not None and stop.is_set():
                raise InterruptedError("the folder walk was stopped: its sync ended")
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


def _bare_array(body: Any, path: str) -> list[dict[str, Any]]:
    if not isinstance(body, list):
        raise WorkatoResponseError(f"GET /api{path} did not return the documented JSON array")
    return body
