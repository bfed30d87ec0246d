"""Recipes in a sync: which are listed, whose code is fetched, and which are parsed into steps.

A daily sync lists every selected recipe without code (``exclude_code=true``) to catch status
changes and deletions, and lists the recipes updated since the last cursor (minus
``SyncOptions.overlap``) with code; the others keep the code the warehouse holds. A recipe
whose code the warehouse lacks is fetched on its own, up to ``refetch_limit`` of them, beyond
which everything is listed with code again. A full refresh lists everything with code.

A recipe whose code or config changed is parsed into ``recipe_steps`` and
``recipe_connections`` rows (or one ``recipe_errors`` row), and a deleted one has its parsed
rows cleared. Part of :class:`~archy_pipeline.extract.sync.WorkspaceSync`, as a mixin: it reads
the sync's client, options, previous state and folder scope. No Dagster import.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from functools import cached_property
from typing import Any

from archy_pipeline.extract.state import as_datetime, as_int
from archy_pipeline.workato.errors import WorkatoAccessDeniedError, WorkatoNotFoundError
from archy_pipeline.workato.recipe_parser import RecipeParseError
from archy_pipeline.workato.transport import format_api_time

log = logging.getLogger(__name__)


class RecipeRows:
    """The recipe part of :class:`~archy_pipeline.extract.sync.WorkspaceSync`: the rows of
    ``recipes``, ``recipe_steps``, ``recipe_connections`` and ``recipe_errors``."""

    # ------------------------------------------------------------------ listing
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
        return {i: self._row(item, "recipes") for i, item in items.items()}, True

    def _list_recipes_with_code(self) -> dict[int, dict[str, Any]]:
        return {
            r["id"]: self._row(r, "recipes")
            for r in self._iter_recipes(on_page=self._on_page("recipes"))
        }

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
        ``config``, addendum §6; a config too deep to keep as JSON is in ``deep_fields``), or
        that came back after a deletion. A full refresh
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
                and before.get("deep_fields") == row.get("deep_fields")  # a config too deep
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
                parsed = self._parse_recipe(row)  # parsed ahead while folders are walked
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
