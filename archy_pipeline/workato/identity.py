"""Who a token belongs to (the workspace identity) and one page of the activity audit log."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

#: Where a sync learnt which workspace its token opens.
IDENTITY_SOURCES = ("users_me", "activity_log", "config")


@dataclass(frozen=True)
class WorkspaceIdentity:
    """Which workspace a token opens, and how that was found out.

    ``details`` is the ``/users/me`` object when ``source`` is ``users_me``. Otherwise it
    holds what the other source tells: ``id``, ``name``, ``email`` and ``environment`` from
    an activity-log entry (addendum §4; every entry names the same workspace), or ``name``
    (and ``id`` when configured) from archy.yaml; ``root_folder_id`` then comes from the
    top-level folders' ``parent_id`` (None in a workspace without folders). ``reason`` says
    why ``/users/me`` was not used.
    """

    source: str
    details: dict[str, Any]
    reason: str | None = None
    notes: tuple[str, ...] = field(default=())

    @property
    def root_folder_id(self) -> int | None:
        return self.details.get("root_folder_id")


@dataclass(frozen=True)
class ActivityPage:
    """One page of ``GET /activity_logs``: its entries (as sent) and the server's ``total``."""

    entries: list[dict[str, Any]]
    total: int | None
    page_size: int

    @property
    def last(self) -> bool:
        """Fewer entries than asked for: the listing ends here (addendum §1.4)."""
        return len(self.entries) < self.page_size
