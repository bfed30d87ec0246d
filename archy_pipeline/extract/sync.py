"""What one sync of one workspace loads: the changes since the previous sync, and deletions.

A sync compares what the API returns now with what the warehouse holds from the previous
sync (:class:`PreviousState`) and emits only rows that changed. That makes a second sync of
an unchanged workspace load nothing, and lets deletions be detected safely:

* an item that vanished from a *complete* listing gets ``deleted_at`` (its last known row is
  re-emitted with the timestamp set), and an item that comes back gets ``deleted_at`` null;
* nothing is marked deleted when a listing was incomplete (a folder the token cannot open,
  a failed listing) or when more than ``max_vanished_share`` of the items vanished at once:
  the sync keeps the previous state and records a :class:`SyncIssue` instead.

Recipes are incremental: a daily sync lists every recipe cheaply (``exclude_code=true``) to
catch status changes and deletions, and fetches code only for recipes updated since the
last cursor (minus a safety overlap). A full refresh lists everything with code.

No Dagster import: the dlt source in this package uses this module, and so can a script.
"""

from __future__ import annotations

import logging
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator
from datetime import datetime, timezone
from functools import cached_property
from typing import Any

from archy_pipeline.extract.deletions import HeldDeletions
from archy_pipeline.extract.state import (
    PreviousState,
    ProgressFn,
    SyncIssue,
    SyncOptions,
    as_datetime,
    as_int,
    content_hash,
)
from archy_pipeline.settings import environment_of
from archy_pipeline.workato.client import WorkatoClient
from archy_pipeline.workato.errors import (
    WorkatoAccessDeniedError,
    WorkatoError,
    WorkatoNotFoundError,
)
from archy_pipeline.workato.identity import WorkspaceIdentity
from archy_pipeline.workato.recipe_parser import RecipeParseError, parse_recipe
from archy_pipeline.workato.transport import format_api_time

log = logging.getLogger(__name__)


class WorkspaceSync(HeldDeletions):
    """One sync of one workspace; each table's rows are computed once, on first use."""

    def __init__(
        self,
        client: WorkatoClient,
        workspace: str,
        previous: PreviousState | None = None,
        options: SyncOptions | None = None,
        progress: ProgressFn | None = None,
        now: datetime | None = None,
        me: dict[str, Any] | None = None,
        on_issue: Callable[[SyncIssue], None] | None = None,
        identity: WorkspaceIdentity | None = None,
    ) -> None:
        self.client = client
        # The caller already identified the workspace: no second /users/me.
        if identity is None and me is not None:
            identity = WorkspaceIdentity("users_me", me)
        if identity is not None:
            self.__dict__["identity"] = identity
        self.workspace = workspace
        self.previous = previous or PreviousState()
        self.options = options or SyncOptions()
        self.progress = progress or (lambda stage, pages, items: None)
        self.now = now or datetime.now(timezone.utc)
        self.issues: list[SyncIssue] = []
        self.on_issue = on_issue
        #: Folders the token can see listed but not open, with their sub-folders.
        self.forbidden_folder_ids: set[int] = set()
        #: Folders excluded by the selection (never requested), and the folders selected.
        self.excluded_folder_ids: set[int] = set()
        self.selected_folder_ids: set[int] | None = None
        #: Items held this sync, by the top folder that vanished and by table.
        self._newly_held: dict[int, Counter[str]] = defaultdict(Counter)
        self._held_applied: Counter[str] = Counter()

    # ------------------------------------------------------------------ shared helpers
    def _row(self, item: dict[str, Any]) -> dict[str, Any]:
        return {
            **item,
            "workspace": self.workspace,
            "content_hash": content_hash(item),
            "deleted_at": None,
            "visible": True,
            "hidden_since": None,
        }

    @property
    def root_folder_id(self) -> int | None:
        """Home's id; None in a workspace without folders identified without /users/me."""
        return self.identity.root_folder_id

    def _issue(self, kind: str, subject: str, message: str, severity: str = "warning") -> None:
        issue = SyncIssue(kind, subject, message, severity)
        log.warning("%s: %s", subject, message)
        self.issues.append(issue)
        if self.on_issue is not None:
            self.on_issue(issue)

    def _diff(
        self,
        table: str,
        current: dict[int, dict[str, Any]],
        complete: bool,
        protected_folders: set[int] | None = None,
        in_scope: Callable[[dict[str, Any]], bool] | None = None,
    ) -> list[dict[str, Any]]:
        """Rows to emit: new or changed items, then deletions where the absence is trustworthy.

        ``in_scope(stored_row)`` tells whether a stored item is one this sync looks for; an
        item outside the selection that is missing from the listing is left as it was.

        A missing item is marked deleted when Workato reported its deletion
        (``confirmed_deletions``), or when the listing was complete and its folder is still
        visible. Items whose folder vanished with them (a project or folder that left the
        token's scope looks exactly like one deleted) are *held*: kept current with
        ``visible`` false, and reported once (see :meth:`_hold`).
        """
        stored = self.previous.table(table)
        rows = []
        for item_id, row in current.items():
            before = stored.get(item_id)
            if (
                before is None
                or before.get("content_hash") != row["content_hash"]
                or before.get("deleted_at") is not None
                or before.get("visible") is False
            ):
                rows.append(row)
        active = self.previous.active(table)
        vanished = [i for i in active if i not in current]
        if in_scope is not None:
            vanished = [i for i in vanished if in_scope(active[i])]
        confirmed = self._confirmed(table)
        deleted = [i for i in vanished if i in confirmed]
        vanished = [i for i in vanished if i not in confirmed]
        if protected_folders:
            hidden = [i for i in vanished if active[i].get("folder_id") in protected_folders]
            if hidden:
                self._issue(
                    "not_visible",
                    table,
                    f"{len(hidden)} {table} in folders this API client cannot open were kept "
                    "as they were: add those projects to the client's scope to sync them",
                )
            vanished = [i for i in vanished if i not in set(hidden)]
        if vanished and not complete:
            self._issue(
                "incomplete_listing",
                table,
                f"the {table} listing was incomplete, so {len(vanished)} {table} missing from it "
                "were not marked deleted",
            )
            vanished = []
        held = [i for i in vanished if self._folder_vanished(table, active[i])]
        vanished = [i for i in vanished if i not in set(held)]
        rows.extend(self._hold(table, [active[i] for i in held]))
        share = len(vanished) / max(1, len(active))
        if vanished and share > self.options.max_vanished_share:
            self._issue(
                "mass_deletion_refused",
                table,
                f"{len(vanished)} of {len(active)} {table} ({share:.0%}) vanished at once, more "
                f"than the {self.options.max_vanished_share:.0%} allowed: nothing was marked "
                "deleted. Check the API client's role and project scope; if the deletions are "
                "real, raise max_vanished_share for one sync.",
            )
            vanished = []
        for item_id in [*deleted, *vanished]:
            rows.append({**active[item_id], "deleted_at": self.now})
        return rows

    # ------------------------------------------------------------------ workspace
    @cached_property
    def identity(self) -> WorkspaceIdentity:
        return self.client.identify(self.workspace)

    @property
    def me(self) -> dict[str, Any]:
        """The workspace's details: the ``/users/me`` object, or what another source told."""
        return self.identity.details

    def workspace_rows(self) -> list[dict[str, Any]]:
        identity = self.identity
        self.progress("workspace", 1, 1)
        if identity.source == "users_me":
            log.info("workspace identified by GET /api/users/me")
        else:
            where = {
                "activity_log": "the newest activity-log entry (GET /api/activity_logs)",
                "config": "archy.yaml (the workspace's name and user_id)",
            }[identity.source]
            notes = "".join(f"; {note}" for note in identity.notes)
            self._issue(
                "identity_source",
                "workspace",
                f"workspace identified from {where}, not /users/me: {identity.reason}{notes}",
                severity="info",
            )
        if self.me.get("id") is None:
            self._issue(
                "identity_unknown",
                "workspace",
                "the workspace id is unknown (no /users/me, no activity-log entry), so no "
                "workato_raw.workspace row was written: set user_id in archy.yaml to the "
                "workspace id",
                severity="info",
            )
            return []
        row = self._row({**self.me, "identity_source": identity.source})
        del row["visible"], row["hidden_since"]
        return self._diff("workspace", {int(row["id"]): row}, complete=False)

    def _check_recipes_count(self) -> None:
        """Compare ``/users/me``'s ``recipes_count`` with an unfiltered, complete listing.

        Skipped when the listing was filtered (folder selection, running only) or when this
        sync already reported why it saw less (a folder it cannot open, held or refused
        deletions): any earlier warning means the listing is not the whole workspace.
        """
        expected = self.me.get("recipes_count")
        selection = self.options.selection
        if (
            self.identity.source != "users_me"
            or not isinstance(expected, int)
            or selection.folders.active
            or selection.running_only
            or self.forbidden_folder_ids
            or any(issue.severity != "info" for issue in self.issues)
        ):
            return
        listed = len(self._recipes[0])
        if listed != expected:
            self._issue(
                "recipes_count_mismatch",
                "recipes",
                f"GET /api/users/me counts {expected} recipes but the recipe listing returned "
                f"{listed}: the API client may not see every project (check its project "
                "scope), or recipes were created or deleted during the sync",
            )

    # ------------------------------------------------------------------ folders
    @cached_property
    def _folders(self) -> tuple[dict[int, dict[str, Any]], bool]:
        """Current folders with paths, and whether the walk saw everything."""
        root_id = self.identity.root_folder_id  # None: a workspace without folders
        paths: dict[int, str] = {root_id: "Home"}
        current: dict[int, dict[str, Any]] = {}
        complete = True

        def forbidden(folder: dict[str, Any], error: WorkatoError) -> None:
            nonlocal complete
            complete = False
            self.forbidden_folder_ids.add(folder["id"])
            path = paths.get(folder["id"], folder["name"])
            self._issue(
                "folder_not_visible",
                path,
                f"folder '{path.removeprefix('Home/')}' is not visible to this API client: add "
                "its project to the client's scope (Workspace admin > API clients)",
            )

        selection = self.options.selection.folders

        excluded_paths: dict[int, str] = {}

        def excluded(folder: dict[str, Any]) -> bool:
            path = f"{paths.get(folder['parent_id'], 'Home')}/{folder['name']}"
            if selection.excludes(folder["id"], path):
                self.excluded_folder_ids.add(folder["id"])
                excluded_paths[folder["id"]] = path
                return True
            return False

        root_selected = selection.includes(root_id, "Home")
        self.selected_folder_ids = {root_id} if root_selected else set()
        for folder in self.client.walk_folders(skip=excluded, on_error=forbidden):
            parent_path = paths.get(folder["parent_id"], "Home")
            path = paths[folder["id"]] = f"{parent_path}/{folder['name']}"
            if folder["parent_id"] in self.selected_folder_ids or (
                selection.include and selection.includes(folder["id"], path)
            ):
                self.selected_folder_ids.add(folder["id"])
            current[folder["id"]] = {**self._row(folder), "path": path}
            if len(current) % 100 == 0:
                self.progress("folders", 0, len(current))
        self.progress("folders", 0, len(current))
        self._warn_unmatched_includes({**paths, **excluded_paths})
        # Folders below a forbidden one cannot be seen; keep their stored sub-tree too.
        stored = self.previous.table("folders")
        frontier = set(self.forbidden_folder_ids)
        while frontier:
            children = {i for i, row in stored.items() if row.get("parent_id") in frontier}
            frontier = children - self.forbidden_folder_ids
            self.forbidden_folder_ids |= children
        return current, complete

    def _warn_unmatched_includes(self, seen: dict[int | None, str]) -> None:
        """An include rule that names no folder is most likely misspelt: say so."""
        selection = self.options.selection.folders
        for rule in selection.include:
            if any(selection.named_by(rule, folder_id, path) for folder_id, path in seen.items()):
                continue
            named = f"folder id {rule}" if isinstance(rule, int) else repr(rule)
            self._issue(
                "folder_rule_unmatched",
                f"sync.folders.include {named}",
                f"sync.folders.include: {named} matches no folder this API client can see; "
                "check its spelling and case (paths look like 'Home/Sales/Quote to Cash')",
            )

    def _folders_needed(self) -> bool:
        """Whether this sync must walk the folder tree (always, except a daily sync that
        met no folder it does not know and was told of no deleted folder)."""
        if (
            self.options.full_refresh
            or self.options.confirmed_deletions.get("folders")
            or self.options.selection.folders.active
            or not self.previous.active("folders")
        ):
            return True
        known = set(self.previous.active("folders")) | {self.identity.root_folder_id}
        used = {r.get("folder_id") for r in self._recipes[0].values()}
        used |= {c.get("folder_id") for c in self._connections[0].values()}
        return not used <= known

    def folder_rows(self) -> list[dict[str, Any]]:
        # The tree may have been walked already to judge vanished recipes or connections.
        if "_folders" not in self.__dict__ and not self._folders_needed():
            self.progress("folders", 0, 0)
            return []
        current, complete = self._folders
        # Excluded sub-trees were never listed: their stored folders are out of scope.
        out_of_scope = self._excluded_subtree
        # The row's hash covers the folder item and its path, so a parent rename moves it.
        for row in current.values():
            row["content_hash"] = content_hash({**row, "content_hash": None})
        return self._diff(
            "folders", current, complete, in_scope=lambda row: row["id"] not in out_of_scope
        )

    @cached_property
    def _excluded_subtree(self) -> set[int]:
        """Excluded folders and every stored folder below them (after the walk)."""
        self._walk_folders()
        stored = self.previous.table("folders")
        found = set(self.excluded_folder_ids)
        frontier = set(found)
        while frontier:
            frontier = {i for i, r in stored.items() if r.get("parent_id") in frontier} - found
            found |= frontier
        return found

    # ------------------------------------------------------------------ projects
    def project_rows(self) -> list[dict[str, Any]]:
        current = {p["id"]: self._row(p) for p in self.client.list_projects()}
        self.progress("projects", 0, len(current))
        return self._diff("projects", current, complete=True)

    # ------------------------------------------------------------------ connections
    def _connection_selected(self, connection: dict[str, Any]) -> bool:
        selection = self.options.selection.connections
        if not selection.active:
            return True
        name = connection.get("name") or ""
        return selection.selects(name, environment_of(name, self.options.environments))

    @cached_property
    def _connections(self) -> tuple[dict[int, dict[str, Any]], bool]:
        current = {
            c["id"]: self._row(c)
            for c in self.client.list_connections()
            if self._connection_selected(c)
        }
        self.progress("connections", 1, len(current))
        return current, True

    def connection_rows(self) -> list[dict[str, Any]]:
        current, complete = self._connections
        return self._diff(
            "connections",
            current,
            complete,
            self._protected_folders(),
            in_scope=self._connection_selected,
        )

    def _protected_folders(self) -> set[int]:
        if self._folders_needed():
            self._walk_folders()
        return self.forbidden_folder_ids

    def _walk_folders(self) -> None:
        """Walk the folder tree once; it tells forbidden, excluded and selected folders."""
        _ = self._folders

    # ------------------------------------------------------------------ recipes
    def _on_page(self, stage: str) -> Callable[[int, int], None]:
        seen = 0

        def report(page: int, items: int) -> None:
            nonlocal seen
            seen += items
            self.progress(stage, page, seen)

        return report

    @cached_property
    def _recipes(self) -> tuple[dict[int, dict[str, Any]], bool]:
        """Every current recipe as a row with code, and whether the listing was complete."""
        stored = self.previous.active("recipes")
        if self.options.full_refresh or not stored:
            return self._list_recipes_with_code(), True
        listed = {
            r["id"]: r
            for r in self._iter_recipes(
                exclude_code=True, on_page=self._on_page("recipes (status listing)")
            )
        }
        cursor = max(
            (as_datetime(r.get("updated_at")) for r in stored.values() if r.get("updated_at")),
            default=None,
        )
        changed: dict[int, dict[str, Any]] = {}
        if cursor is not None:
            since = cursor - self.options.overlap
            changed = {
                r["id"]: r
                for r in self._iter_recipes(
                    updated_after=format_api_time(since),
                    on_page=self._on_page("recipes (changed since last sync)"),
                )
            }
        items: dict[int, dict[str, Any]] = {}
        missing: list[int] = []
        for recipe_id, item in listed.items():
            fresh = changed.get(recipe_id)
            if fresh is not None and as_datetime(fresh["updated_at"]) >= as_datetime(
                item["updated_at"]
            ):
                items[recipe_id] = fresh
                continue
            before = stored.get(recipe_id) or self.previous.table("recipes").get(recipe_id)
            if (
                before is not None
                and before.get("code") is not None
                and as_datetime(before.get("updated_at")) == as_datetime(item["updated_at"])
            ):
                items[recipe_id] = {**item, "code": before["code"]}
            else:
                missing.append(recipe_id)
        for recipe_id, fresh in changed.items():
            items.setdefault(recipe_id, fresh)  # created between the two listings
        if len(missing) > self.options.refetch_limit:
            log.info("%d recipes lack code in the warehouse: listing all with code", len(missing))
            return self._list_recipes_with_code(), True
        for recipe_id in missing:
            try:
                items[recipe_id] = self.client.get_recipe(recipe_id)
            except (WorkatoNotFoundError, WorkatoAccessDeniedError):
                continue  # deleted or hidden since the listing: it is not current
        return {i: self._row(item) for i, item in items.items()}, True

    def _list_recipes_with_code(self) -> dict[int, dict[str, Any]]:
        return {r["id"]: self._row(r) for r in self._iter_recipes(on_page=self._on_page("recipes"))}

    def _listing_folders(self) -> list[int | None]:
        """The folder_id filters to list recipes with: every selected folder when the
        selection names folders to include (nothing else is requested), else one listing."""
        selection = self.options.selection.folders
        if not selection.include:
            return [None]
        self._walk_folders()
        return sorted(self.selected_folder_ids or ())

    def _recipe_selected(self, recipe: dict[str, Any]) -> bool:
        if self.options.selection.running_only and not recipe.get("running"):
            return False
        if not self.options.selection.folders.active:
            return True
        self._walk_folders()
        folder_id = recipe.get("folder_id")
        selected = folder_id in (self.selected_folder_ids or set())
        return selected and folder_id not in self._excluded_subtree

    def _iter_recipes(self, **kwargs: Any) -> Iterator[dict[str, Any]]:
        running = True if self.options.selection.running_only else None
        for folder_id in self._listing_folders():
            try:
                for recipe in self.client.iter_recipes(
                    folder_id=folder_id, running=running, **kwargs
                ):
                    if self._recipe_selected(recipe):
                        yield recipe
            except (WorkatoAccessDeniedError, WorkatoNotFoundError) as error:
                if folder_id is None:
                    raise
                self.forbidden_folder_ids.add(folder_id)
                self._issue(
                    "folder_not_visible",
                    str(folder_id),
                    f"recipes of folder {folder_id} could not be listed ({error.status}): add "
                    "its project to the API client's scope",
                )

    @cached_property
    def _recipe_rows(self) -> list[dict[str, Any]]:
        current, complete = self._recipes
        selection = self.options.selection
        if selection.running_only:
            # A recipe missing from a running-only listing was stopped or deleted: this sync
            # cannot tell which, so it leaves it as it was.
            gone = [
                i for i, r in self.previous.active("recipes").items()
                if i not in current and self._in_folder_scope(r)
            ]  # fmt: skip
            if gone:
                self._issue(
                    "not_running",
                    "recipes",
                    f"{len(gone)} recipes are no longer listed as running (stopped or deleted) "
                    "and were left as they were: sync with recipes: all to tell which",
                    severity="info",
                )
            complete = False
        return self._diff(
            "recipes",
            current,
            complete,
            self._protected_folders(),
            in_scope=self._in_folder_scope,
        )

    def _in_folder_scope(self, row: dict[str, Any]) -> bool:
        if not self.options.selection.folders.active:
            return True
        return self._recipe_selected({**row, "running": True})

    def recipe_rows(self) -> list[dict[str, Any]]:
        return self._recipe_rows

    def _recipes_to_parse(self) -> Iterator[dict[str, Any]]:
        """Recipes whose parsed rows must be (re)built, and deleted ones to clear.

        Daily: a recipe whose ``code`` or ``config`` changed (a connection swap changes only
        ``config``, addendum §6), or that came back after a deletion. A full refresh
        re-derives every current recipe and clears the parsed rows of every deleted one, so
        nothing stale survives it."""
        stored = self.previous.table("recipes")
        emitted = {row["id"]: row for row in self._recipe_rows}
        if self.options.full_refresh:
            rows = {**self._recipes[0], **emitted}
            for recipe_id, row in stored.items():
                if recipe_id not in rows and row.get("deleted_at") is not None:
                    rows[recipe_id] = row
            yield from rows.values()
            return
        for row in emitted.values():
            before = stored.get(row["id"])
            if (
                row.get("deleted_at") is None
                and before is not None
                and before.get("deleted_at") is None
                and before.get("code") == row.get("code")
                and before.get("config") == row.get("config")
            ):
                continue
            yield row

    @cached_property
    def _parsed(self) -> dict[str, list[dict[str, Any]]]:
        """Steps, config connections and parse errors of every recipe that needs them
        (see :meth:`_recipes_to_parse`)."""
        steps: list[dict[str, Any]] = []
        connections: list[dict[str, Any]] = []
        errors: list[dict[str, Any]] = []
        parsed_count = 0
        for row in self._recipes_to_parse():
            key = {"workspace": self.workspace, "recipe_id": row["id"]}
            if row.get("deleted_at") is not None:
                # A deleted recipe's parsed rows describe nothing current: clear them.
                steps.append({**key, "number": -1, "_cleared": True})
                connections.append({**key, "position": -1, "_cleared": True})
                if row["id"] in self.previous.recipe_error_ids:
                    errors.append({**key, "error": None, "excerpt": None, "_cleared": True})
                continue
            try:
                parsed = parse_recipe(row, self.options.access_overrides)
            except RecipeParseError as error:
                errors.append({**key, "error": error.message, "excerpt": error.excerpt})
                # Clear the recipe's old steps and connections: they describe code that is gone.
                steps.append({**key, "number": -1, "_cleared": True})
                connections.append({**key, "position": -1, "_cleared": True})
                continue
            parsed_count += 1
            if row["id"] in self.previous.recipe_error_ids:
                errors.append({**key, "error": None, "excerpt": None, "_cleared": True})
            for step in parsed.steps:
                steps.append(
                    {
                        **key,
                        "number": step.number,
                        "parent_number": step.parent_number,
                        "depth": step.depth,
                        "keyword": step.keyword,
                        "provider": step.provider,
                        "application": step.application,
                        "action_name": step.action_name,
                        "alias": step.alias,
                        "skipped": step.skipped,
                        "protected": step.protected,
                        "in_catch": step.in_catch,
                        "connection_id": as_int(step.connection_id),
                        "reference_kind": step.reference_kind,
                        "reference": step.reference,
                        "reference_name": step.reference_name,
                        "resolved": step.resolved,
                        "reference_raw": step.reference_raw,
                        "access": step.access,
                        "http_method": step.http_method,
                        "access_reason": step.access_reason,
                    }
                )
            for position, connection in enumerate(parsed.connections):
                connections.append(
                    {
                        **key,
                        "position": position,
                        "provider": connection.provider,
                        "application": connection.application,
                        "connection_id": as_int(connection.connection_id),
                    }
                )
        self.progress("recipe steps", 0, len(steps))
        if errors:
            failed = sum(1 for e in errors if not e.get("_cleared"))
            if failed:
                self._issue(
                    "recipe_parse_errors",
                    "recipes",
                    f"{failed} recipe(s) could not be parsed; see workato_raw.recipe_errors",
                )
        log.info("parsed %d changed recipes", parsed_count)
        return {"steps": steps, "connections": connections, "errors": errors}

    def recipe_step_rows(self) -> list[dict[str, Any]]:
        return self._parsed["steps"]

    def recipe_connection_rows(self) -> list[dict[str, Any]]:
        return self._parsed["connections"]

    def recipe_error_rows(self) -> list[dict[str, Any]]:
        return self._parsed["errors"]

    # ------------------------------------------------------------------ issues and plan
    def issue_rows(self) -> list[dict[str, Any]]:
        return [
            {
                "workspace": self.workspace,
                "synced_at": self.now,
                "severity": issue.severity,
                "kind": issue.kind,
                "subject": issue.subject,
                "message": issue.message,
            }
            for issue in self.issues
        ]

    @cached_property
    def plan(self) -> dict[str, list[dict[str, Any]]]:
        """Every table's rows, computed in dependency order (issues last, so they are all
        there). Nothing is loaded unless the whole plan was computed: an error in any listing
        fails the sync before a single row is written."""
        plan = {
            "workspace": self.workspace_rows(),
            "recipes": self.recipe_rows(),
            "connections": self.connection_rows(),
            "folders": self.folder_rows(),
            "projects": self.project_rows(),
            "recipe_steps": self.recipe_step_rows(),
            "recipe_connections": self.recipe_connection_rows(),
            "recipe_errors": self.recipe_error_rows(),
        }
        self._report_holds()
        self._check_recipes_count()
        plan["sync_issues"] = self.issue_rows()
        return plan
