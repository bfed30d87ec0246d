"""Which folders a sync sees: the walk of the folder tree, the folder selection, and the folders
the API client cannot open.

The tree is walked from Home at most once per sync, and only when something needs it (a daily
sync that met no folder it does not know skips it, see :meth:`FolderScope._folders_needed`).
The walk gives each folder its path ("Home/Sales/Quote to Cash"), marks folders the token can
list but not open as forbidden (with their stored sub-trees, whose items are then kept as they
were), prunes excluded sub-trees without requesting them, collects the folders the selection
includes, and reports an include rule that names no folder.

The walk is the longest wait of a full sync (one ``GET /api/folders`` per folder, at the
Folders family's quota, which no other family shares: reference §1.4). When the sync knows
from the start that it needs the tree, :meth:`FolderScope._start_walk_ahead` walks it in a
background thread while the sync lists recipes and connections (other families, other quotas)
and parses recipes; what needs the tree waits for the walk's end. The walk's sync issues are
reported when the sync first uses the tree, where a walk on the spot would have reported them,
and its error (a failed listing) is raised there, as it would have been. Part of
:class:`~archy_pipeline.extract.sync.WorkspaceSync`, as a mixin: it reads the sync's client,
options, previous state and identity, and fills its ``forbidden_folder_ids``,
``excluded_folder_ids`` and ``selected_folder_ids``. No Dagster import.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import Future
from functools import cached_property
from typing import Any

from archy_pipeline.extract.state import content_hash
from archy_pipeline.workato.errors import WorkatoError

#: A sync issue as :meth:`WorkspaceSync._issue` takes it: kind, subject, message.
ReportFn = Callable[[str, str, str], None]


class FolderScope:
    """The folder part of :class:`~archy_pipeline.extract.sync.WorkspaceSync`."""

    #: Whether a sync that needs the tree from the start walks it in a background thread
    #: (tests turn it off to compare with a walk on the spot).
    walk_ahead = True
    _ahead: tuple[Future, threading.Event, list[tuple[str, str, str]]] | None = None

    def _start_walk_ahead(self) -> None:
        """Start walking the tree in a background thread when this sync needs it whatever the
        recipes say (:meth:`_folders_needed_up_front`); a no-op otherwise.

        The thread is a daemon with a :class:`~concurrent.futures.Future` for its result, so
        an interrupted sync (Ctrl+C, SIGTERM) exits at once; :meth:`_stop_walk_ahead` ends
        the walk at its next folder when the sync stops in-process."""
        if (
            not self.walk_ahead
            or self._ahead is not None
            or "_folders" in self.__dict__
            or not self._folders_needed_up_front()
        ):
            return
        root_id = self.identity.root_folder_id  # identified here, never in the thread
        future: Future = Future()
        stop = threading.Event()
        issues: list[tuple[str, str, str]] = []

        def walk() -> None:
            future.set_running_or_notify_cancel()
            try:
                future.set_result(
                    self._walk_tree(root_id, lambda *issue: issues.append(issue), stop)
                )
            except BaseException as error:  # handed to the sync's thread by future.result()
                future.set_exception(error)

        self._ahead = (future, stop, issues)
        threading.Thread(target=walk, name="archy folder walk", daemon=True).start()

    def _stop_walk_ahead(self) -> None:
        """Tell a background walk to stop at its next folder (the sync is over or failed)."""
        if self._ahead is not None:
            self._ahead[1].set()

    @cached_property
    def _folders(self) -> tuple[dict[int, dict[str, Any]], bool]:
        """Current folders with paths, and whether the walk saw everything (the background
        walk's result when one was started: its issues are reported now, its error raised)."""
        if self._ahead is None:
            return self._walk_tree(self.identity.root_folder_id, self._issue)
        future, _, issues = self._ahead
        try:
            return future.result()
        finally:
            for issue in issues:
                self._issue(*issue)

    def _walk_tree(
        self, root_id: int | None, report: ReportFn, stop: threading.Event | None = None
    ) -> tuple[dict[int, dict[str, Any]], bool]:
        """Walk from Home (``root_id``; None: a workspace without folders), reporting sync
        issues to ``report``; raises :class:`InterruptedError` once ``stop`` is set."""
        paths: dict[int, str] = {root_id: "Home"}
        current: dict[int, dict[str, Any]] = {}
        complete = True

        def forbidden(folder: dict[str, Any], error: WorkatoError) -> None:
            nonlocal complete
            complete = False
            self.forbidden_folder_ids.add(folder["id"])
            path = paths.get(folder["id"], folder["name"])
            report(
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
        for folder in self.client.walk_folders(skip=excluded, on_error=forbidden, stop=stop):
            parent_path = paths.get(folder["parent_id"], "Home")
            path = paths[folder["id"]] = f"{parent_path}/{folder['name']}"
            if folder["parent_id"] in self.selected_folder_ids or (
                selection.include and selection.includes(folder["id"], path)
            ):
                self.selected_folder_ids.add(folder["id"])
            current[folder["id"]] = {**self._row(folder, "folders"), "path": path}
            if len(current) % 100 == 0:
                self.progress("folders", 0, len(current))
        self.progress("folders", 0, len(current))
        self._warn_unmatched_includes({**paths, **excluded_paths}, report)
        # Folders below a forbidden one cannot be seen; keep their stored sub-tree too.
        stored = self.previous.table("folders")
        frontier = set(self.forbidden_folder_ids)
        while frontier:
            children = {i for i, row in stored.items() if row.get("parent_id") in frontier}
            frontier = children - self.forbidden_folder_ids
            self.forbidden_folder_ids |= children
        return current, complete

    def _warn_unmatched_includes(self, seen: dict[int | None, str], report: ReportFn) -> None:
        """An include rule that names no folder is most likely misspelt: say so."""
        selection = self.options.selection.folders
        for rule in selection.include:
            if any(selection.named_by(rule, folder_id, path) for folder_id, path in seen.items()):
                continue
            named = f"folder id {rule}" if isinstance(rule, int) else repr(rule)
            report(
                "folder_rule_unmatched",
                f"sync.folders.include {named}",
                f"sync.folders.include: {named} matches no folder this API client can see; "
                "check its spelling and case (paths look like 'Home/Sales/Quote to Cash')",
            )

    def _folders_needed_up_front(self) -> bool:
        """Whether this sync needs the tree whatever the recipes say: a full refresh, a folder
        selection, deleted folders to confirm, or no folders stored yet."""
        return bool(
            self.options.full_refresh
            or self.options.confirmed_deletions.get("folders")
            or self.options.selection.folders.active
            or not self.previous.active("folders")
        )

    def _folders_needed(self) -> bool:
        """Whether this sync must walk the folder tree (always, except a daily sync that
        met no folder it does not know and was told of no deleted folder)."""
        if self._folders_needed_up_front():
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

    def _protected_folders(self) -> set[int]:
        """Folders the token cannot open: items missing from them are kept as they were."""
        if self._folders_needed():
            self._walk_folders()
        return self.forbidden_folder_ids

    def _walk_folders(self) -> None:
        """Walk the folder tree once; it tells forbidden, excluded and selected folders."""
        _ = self._folders
