"""Held deletions: when an item that vanished from a listing is deleted, and when it is held.

Deleted only when the activity log confirmed it or the listing completed and the item's folder
is still visible; a project or folder that vanishes with its items is held (rows stay current
with ``visible = false``) until the activity log confirms it or the grace period ends. Part of
:class:`~archy_pipeline.extract.sync.WorkspaceSync`, as a mixin: it reads the sync's listings
and previous state. No Dagster import.
"""

from __future__ import annotations

from functools import cached_property
from typing import Any

from archy_pipeline.extract.state import (
    as_datetime,
    as_int,
)


class HeldDeletions:
    """The held-deletion part of :class:`~archy_pipeline.extract.sync.WorkspaceSync`."""

    def _confirmed(self, table: str) -> set[int]:
        """Ids of ``table`` Workato reported deleted, with what sat in a deleted folder (the
        audit log records the folder's deletion, not each item inside it)."""
        confirmed = set(self.options.confirmed_deletions.get(table, ()))
        folders = self.options.confirmed_deletions.get("folders", ())
        if not folders:
            return confirmed
        inside: set[int] = set()
        for folder_id in folders:
            inside |= self._subtree(folder_id)
        if table == "folders":
            return confirmed | inside
        return confirmed | {
            i
            for i, row in self.previous.active(table).items()
            if as_int(row.get("folder_id")) in inside
        }

    def _folder_of(self, table: str, row: dict[str, Any]) -> int | None:
        """The folder whose visibility decides whether ``row``'s absence is trustworthy."""
        if table == "folders":
            return as_int(row.get("id"))
        return as_int(row.get("folder_id"))

    def _folder_vanished(self, table: str, row: dict[str, Any]) -> bool:
        """Whether the item's folder is gone from view too (then its absence proves nothing).

        Cheap evidence first: Home, the folders of every item listed now and their ancestors
        are visible. Only when that does not settle it is the folder tree walked.
        """
        if table == "projects":
            folder_id = as_int(row.get("folder_id"))
            return folder_id is not None and folder_id in self._held_folder_ids
        folder_id = self._folder_of(table, row)
        if folder_id is None or folder_id == self.root_folder_id:
            return False
        if table != "folders" and folder_id in self._folders_seen_cheaply:
            return False
        if table == "folders":
            # A vanished folder is held when its sub-tree held anything: a project or
            # folder that left the token's scope. An empty folder that vanished is deleted.
            return folder_id in self._held_folder_ids
        return folder_id not in self._visible_folder_ids

    @cached_property
    def _folders_seen_cheaply(self) -> set[int]:
        """Folders known to be visible without walking the tree: Home and the folders of
        every recipe and connection listed now, with their stored ancestors."""
        seen = {self.root_folder_id} - {None}
        for items in (self._recipes[0], self._connections[0]):
            for item in items.values():
                folder_id = as_int(item.get("folder_id"))
                if folder_id is not None:
                    seen.add(folder_id)
        return self._with_ancestors(seen)

    def _with_ancestors(self, folder_ids: set[int]) -> set[int]:
        stored = self.previous.table("folders")
        found = set(folder_ids)
        frontier = set(folder_ids)
        while frontier:
            parents = {
                parent
                for i in frontier
                if (parent := as_int(stored.get(i, {}).get("parent_id"))) is not None
            }
            frontier = parents - found
            found |= frontier
        return found

    @cached_property
    def _visible_folder_ids(self) -> set[int]:
        """Every folder the token sees now (walks the tree if this sync has not yet)."""
        self._walk_folders()
        current, _ = self._folders
        return (set(current) | {self.root_folder_id} | self.forbidden_folder_ids) - {None}

    @cached_property
    def _held_folder_ids(self) -> set[int]:
        """Stored folders that vanished from view together with recipes or connections."""
        stored_folders = self.previous.active("folders")
        gone = {
            i for i in stored_folders if i not in self._visible_folder_ids
        } - self._excluded_subtree
        if not gone:
            return set()
        used = {
            as_int(row.get("folder_id"))
            for table in ("recipes", "connections")
            for row in self.previous.active(table).values()
        }
        held: set[int] = set()
        for folder_id in gone:
            subtree = self._subtree(folder_id) & gone
            if subtree & used:
                held |= subtree
        # Ancestors that vanished too belong to the same held sub-tree.
        return held | (self._with_ancestors(held) & gone)

    def _subtree(self, folder_id: int) -> set[int]:
        stored = self.previous.table("folders")
        found = {folder_id}
        frontier = {folder_id}
        while frontier:
            frontier = {
                i for i, r in stored.items() if as_int(r.get("parent_id")) in frontier
            } - found
            found |= frontier
        return found

    def _top_vanished(self, folder_id: int) -> int:
        """The highest stored ancestor of ``folder_id`` that vanished as well."""
        stored = self.previous.table("folders")
        top = folder_id
        while True:
            parent = as_int(stored.get(top, {}).get("parent_id"))
            if parent is None or parent == self.root_folder_id:
                return top
            if parent in self._folders_seen_cheaply or parent in self._visible_folder_ids:
                return top
            top = parent

    def _hold(self, table: str, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Keep vanished items current but not visible; apply them when accepted or when
        the grace period has run out. Returns the rows to emit."""
        emit: list[dict[str, Any]] = []
        grace = self.options.held_deletions_grace
        for row in rows:
            since = as_datetime(row.get("hidden_since")) if row.get("visible") is False else None
            expired = since is not None and grace is not None and self.now - since >= grace
            if self.options.accept_deletions or expired:
                emit.append({**row, "deleted_at": self.now})
                self._held_applied[table] += 1
                continue
            if since is None:  # newly held: recorded (and reported) once
                emit.append({**row, "visible": False, "hidden_since": self.now})
                folder_id = self._folder_of(table, row)
                if folder_id is not None:
                    self._newly_held[self._top_vanished(folder_id)][table] += 1
        return emit

    def _report_holds(self) -> None:
        """One sync issue per vanished project or folder, in the sync where it vanished."""
        folders = self.previous.table("folders")
        projects = {as_int(p.get("folder_id")): p for p in self.previous.table("projects").values()}
        for top, counts in sorted(self._newly_held.items()):
            if not (counts["recipes"] or counts["connections"]):
                continue
            path = str(folders.get(top, {}).get("path") or f"folder {top}")
            project = projects.get(top)
            what = f"project '{project.get('name')}' ({path})" if project else f"folder '{path}'"
            self._issue(
                "deletion_held",
                path,
                f"{what} is no longer visible to this API client: its {counts['recipes']} "
                f"recipe(s) and {counts['connections']} connection(s) were kept, marked "
                "visible = false and not deleted. If the project left the client's scope, add "
                "it back (Workspace admin > API clients > role > projects); if it was deleted "
                "on purpose, run `archy-pipeline sync --accept-deletions` (or set "
                "held_deletions_grace_days in archy.yaml).",
            )
        applied = {t: n for t, n in self._held_applied.items() if n}
        if applied:
            summary = ", ".join(f"{n} {t}" for t, n in sorted(applied.items()))
            self._issue(
                "held_deletions_applied",
                "deletions",
                f"held deletions applied: {summary} marked deleted",
                severity="info",
            )
