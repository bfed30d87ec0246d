"""What one sync of one workspace loads: the changes since the previous sync, and deletions.

A sync compares what the API returns now with what the warehouse holds from the previous
sync (:class:`PreviousState`) and emits only rows that changed. That makes a second sync of
an unchanged workspace load nothing, and lets deletions be detected safely:

* an item that vanished from a *complete* listing gets ``deleted_at`` (its last known row is
  re-emitted with the timestamp set), and an item that comes back gets ``deleted_at`` null;
* nothing is marked deleted when a listing was incomplete (a folder the token cannot open,
  a failed listing) or when more than ``max_vanished_share`` of the items vanished at once:
  the sync keeps the previous state and records a :class:`SyncIssue` instead.

Recipes are incremental: a daily sync fetches code only for recipes updated since the last
cursor (minus a safety overlap); a full refresh lists everything with code.

:class:`WorkspaceSync` is one object written in four modules. This one holds the comparison
with the previous state (``_diff``), the sync issues, the plan of every table, and the
workspace, project and connection rows; ``folders.py`` the folder walk and selection
(:class:`FolderScope`), ``recipes.py`` the recipe listing and parsing (:class:`RecipeRows`),
``deletions.py`` the held deletions (:class:`HeldDeletions`).

No Dagster import: the dlt source in this package uses this module, and so can a script.
"""

from __future__ import annotations

import logging
from collections import Counter, defaultdict
from collections.abc import Callable
from datetime import datetime, timezone
from functools import cached_property
from typing import Any

from archy_pipeline.extract.deletions import HeldDeletions
from archy_pipeline.extract.folders import FolderScope
from archy_pipeline.extract.recipes import RecipeRows
from archy_pipeline.extract.state import (
    PreviousState,
    ProgressFn,
    SyncIssue,
    SyncOptions,
    content_hash,
    set_aside_deep_values,
)
from archy_pipeline.settings import environment_of
from archy_pipeline.workato.client import WorkatoClient
from archy_pipeline.workato.identity import WorkspaceIdentity
from archy_pipeline.workato.recipe_parser import (
    ParsedRecipe,
    RecipeParseError,
    config_problem,
    parse_recipe,
)

log = logging.getLogger(__name__)


class WorkspaceSync(RecipeRows, FolderScope, HeldDeletions):
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
        #: Recipes parsed while the folder walk waited: id -> (code, config, parse result).
        self._parsed_ahead: dict[int, tuple[Any, Any, ParsedRecipe | RecipeParseError]] = {}
        #: Items held this sync, by the top folder that vanished and by table.
        self._newly_held: dict[int, Counter[str]] = defaultdict(Counter)
        self._held_applied: Counter[str] = Counter()
        #: Fields set aside for their depth: (table, id) -> {field: (levels, excerpt)}.
        self._deep_values: dict[tuple[str, Any], dict[str, tuple[int, str]]] = {}

    # ------------------------------------------------------------------ shared helpers
    def _row(self, item: dict[str, Any], table: str) -> dict[str, Any]:
        """The row of an API item of ``table``. A field nested deeper than a row keeps as JSON
        is null, kept whole as JSON text in ``deep_fields`` (see :func:`set_aside_deep_values`),
        and reported."""
        item, deep = set_aside_deep_values(item)
        if deep:
            self._deep_values[(table, item.get("id"))] = deep
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
        row = self._row({**self.me, "identity_source": identity.source}, "workspace")
        del row["visible"], row["hidden_since"]
        return self._diff("workspace", {int(row["id"]): row}, complete=False)

    # ------------------------------------------------------------------ projects
    def project_rows(self) -> list[dict[str, Any]]:
        current = {p["id"]: self._row(p, "projects") for p in self.client.list_projects()}
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
            c["id"]: self._row(c, "connections")
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
        fails the sync before a single row is written.

        When the sync needs the folder tree whatever the recipes say, the tree is walked in
        a background thread (:meth:`_start_walk_ahead`) while this one does the work that
        does not need it (:meth:`_work_ahead`); the rows are the same as a walk on the spot
        gives, and so are the sync issues, in the same order."""
        workspace = self.workspace_rows()
        self._start_walk_ahead()
        try:
            self._work_ahead()
            plan = {
                "workspace": workspace,
                "recipes": self.recipe_rows(),
                "connections": self.connection_rows(),
                "folders": self.folder_rows(),
                "projects": self.project_rows(),
                "recipe_steps": self.recipe_step_rows(),
                "recipe_connections": self.recipe_connection_rows(),
                "recipe_errors": self.recipe_error_rows(),
            }
        finally:
            self._stop_walk_ahead()  # a failed sync leaves no walk behind
        self._report_holds()
        self._check_recipes_count()
        self._report_deep_values()  # after the count check: a deep value hides no recipe
        plan["sync_issues"] = self.issue_rows()
        return plan

    def _report_deep_values(self) -> None:
        """One sync issue per item with a field stored as JSON text for its depth, in a fixed
        order (the folder walk may have found its own in another thread)."""
        for (table, item_id), fields in sorted(
            self._deep_values.items(), key=lambda entry: (entry[0][0], str(entry[0][1]))
        ):
            said = ", ".join(f"{name} ({levels:,} levels)" for name, (levels, _) in fields.items())
            quarantined = table == "recipes" and "config" in fields
            self._issue(
                "deep_value",
                f"{table} {item_id}",
                f"nested too deep to keep as JSON ({said}): null in its column, kept whole as "
                f"JSON text in workato_raw.{table}.deep_fields"
                + ("; the recipe is quarantined in workato_raw.recipe_errors" * quarantined),
            )

    # ------------------------------------------------------------------ while the walk waits
    def _work_ahead(self) -> None:
        """While a background walk waits for the Folders quota: list the recipes and the
        connections (families with their own quotas, reference §1.4) and parse the recipes
        whose parsed rows this sync will rebuild. Nothing here emits a row or an issue."""
        if self._ahead is None:
            return
        log.info("walking the folder tree in the background while recipes are listed and parsed")
        recipes, _ = self._recipes
        _ = self._connections
        stored = self.previous.table("recipes")
        for recipe_id, row in recipes.items():
            before = stored.get(recipe_id)
            if (
                self.options.full_refresh
                or before is None
                or before.get("deleted_at") is not None
                or before.get("code") != row.get("code")
                or before.get("config") != row.get("config")
                or before.get("deep_fields") != row.get("deep_fields")
            ):
                self._parsed_ahead[recipe_id] = (
                    row.get("code"),
                    row.get("config"),
                    self._parse_now(row),
                )

    def _parse_now(self, row: dict[str, Any]) -> ParsedRecipe | RecipeParseError:
        deep = self._deep_values.get(("recipes", row["id"]), {}).get("config")
        problem = (
            config_problem(row.get("config"))
            if deep is None
            else config_problem(deep[1], depth=deep[0])
        )
        if problem is not None:
            return problem
        try:
            return parse_recipe(row, self.options.access_overrides)
        except RecipeParseError as error:
            return error

    def _parse_recipe(self, row: dict[str, Any]) -> ParsedRecipe:
        """:func:`parse_recipe` of a recipe row: the answer parsed ahead for the same code and
        config when there is one, else parsed now. Raises :class:`RecipeParseError`."""
        ahead = self._parsed_ahead.pop(row["id"], None)
        if ahead is not None and ahead[0] == row.get("code") and ahead[1] == row.get("config"):
            result = ahead[2]
        else:
            result = self._parse_now(row)
        if isinstance(result, RecipeParseError):
            raise result
        return result
