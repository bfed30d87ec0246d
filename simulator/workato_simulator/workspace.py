"""In-memory model of one Workato workspace, as the simulator serves it.

The model keeps Workato's own shapes: recipes hold their code as a tree (served as a JSON
string), connections and folders carry the documented fields, and every mutation moves
``updated_at`` the way Workato does. Tests change the workspace between syncs through the
mutation methods (``add_recipe``, ``stop_recipe``, ``delete_connection``, ``move_folder``...).
"""

from __future__ import annotations

import copy
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any

#: Workato's own timestamps carry the workspace's offset, e.g. ``2021-11-25T07:07:38.568-08:00``.
DEFAULT_TZ = timezone(timedelta(hours=-8))

#: ``stop_cause`` values documented for ``GET /api/recipes``.
STOP_CAUSES = ("trigger_errors_limit", "action_quota_limit", "trial_expired", "txn_quota_limit")

#: Keywords whose blocks are containers in Workato's recipe grammar (reference §3.3).
CONTROL_KEYWORDS = frozenset(
    {"if", "elsif", "else", "foreach", "repeat", "while_condition", "try", "catch", "stop"}
)

#: ``workspace.environment`` values an activity-log entry can carry (addendum §1.3); a token
#: is scoped to one of them.
ENVIRONMENTS = ("dev", "sandbox", "test", "stage", "uat", "preprod", "prod")

#: The collaborator the simulator names as the actor of every change it logs.
DEFAULT_ACTOR = {"id": 7001, "name": "Ada Admin", "email": "ada.admin@example.com"}


def format_ts(value: datetime | None, tz: timezone = DEFAULT_TZ) -> str | None:
    """Format a timestamp as Workato does: ISO-8601, milliseconds, workspace offset."""
    if value is None:
        return None
    return value.astimezone(tz).isoformat(timespec="milliseconds")


def parse_ts(value: str) -> datetime:
    """Parse an ISO-8601 timestamp as the API accepts it (``Z`` or an offset; naive = UTC)."""
    text = value.strip()
    if text.endswith("Z"):
        text = text[:-1] + "+00:00"
    parsed = datetime.fromisoformat(text)
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=timezone.utc)
    return parsed


def iter_blocks(code: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """Yield every block of a recipe tree in pre-order, without recursion."""
    stack = [code]
    while stack:
        block = stack.pop()
        yield block
        children = block.get("block") or []
        stack.extend(reversed([c for c in children if isinstance(c, dict)]))


def renumber(code: dict[str, Any]) -> int:
    """Give every block its ``number``: its position in a pre-order walk (trigger = 0)."""
    count = 0
    for count, block in enumerate(iter_blocks(code), start=1):
        block["number"] = count - 1
    return count


def applications_of(code: dict[str, Any] | None) -> tuple[str | None, list[str]]:
    """Return ``(trigger_application, action_applications)`` for a recipe tree.

    The trigger's own provider is not repeated among the action applications (the one live
    sample in the reference shows this), and control blocks have no provider.
    """
    if not code:
        return None, []
    trigger = code.get("provider")
    actions: list[str] = []
    for block in iter_blocks(code):
        if block is code:
            continue
        provider = block.get("provider")
        if provider and provider != trigger and provider not in actions:
            actions.append(provider)
    return trigger, actions


@dataclass(frozen=True)
class RawJSON:
    """A JSON value the server writes verbatim (``text`` must be JSON): lets tests serve a value
    nested deeper than ``json.dumps`` (or ``copy.deepcopy``) can take."""

    text: str


@dataclass
class Folder:
    id: int
    name: str
    parent_id: int | None
    project_id: int | None
    is_project: bool
    created_at: datetime
    updated_at: datetime
    #: Fields served beside (or instead of) the documented ones; values may be
    #: :class:`RawJSON`. Workato adds fields without notice, and tests serve odd ones.
    extra: dict[str, Any] = field(default_factory=dict)

    def to_api(self, tz: timezone) -> dict[str, Any]:
        return {
            "id": self.id,
            "name": self.name,
            "parent_id": self.parent_id,
            "is_project": self.is_project,
            "project_id": self.project_id,
            "created_at": format_ts(self.created_at, tz),
            "updated_at": format_ts(self.updated_at, tz),
            **self.extra,
        }


@dataclass
class Project:
    id: int
    name: str
    description: str | None
    folder_id: int

    def to_api(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "description": self.description,
            "folder_id": self.folder_id,
            "name": self.name,
        }


@dataclass
class Connection:
    id: int
    application: str
    name: str
    folder_id: int
    created_at: datetime
    updated_at: datetime
    description: str | None = None
    authorized_at: datetime | None = None
    authorization_status: str | None = "success"
    authorization_error: str | None = None
    external_id: str | None = None
    connection_lost_at: datetime | None = None
    connection_lost_reason: str | None = None
    parent_id: int | None = None
    tags: list[str] = field(default_factory=list)
    #: Runtime-user connections are listed only with ``include_runtime_connections=true``.
    runtime: bool = False
    #: Fields served beside (or instead of) the documented ones; values may be :class:`RawJSON`.
    extra: dict[str, Any] = field(default_factory=dict)

    def to_api(self, tz: timezone, include_tags: bool) -> dict[str, Any]:
        item: dict[str, Any] = {
            "application": self.application,
            "id": self.id,
            "name": self.name,
            "description": self.description,
            "authorized_at": format_ts(self.authorized_at, tz),
            "authorization_status": self.authorization_status,
            "authorization_error": self.authorization_error,
            "created_at": format_ts(self.created_at, tz),
            "updated_at": format_ts(self.updated_at, tz),
            "external_id": self.external_id,
            "folder_id": self.folder_id,
            "connection_lost_at": format_ts(self.connection_lost_at, tz),
            "connection_lost_reason": self.connection_lost_reason,
            "parent_id": self.parent_id,
            "provider": self.application,
        }
        if include_tags:
            item["tags"] = list(self.tags)
        item.update(self.extra)
        return item


@dataclass
class Recipe:
    id: int
    name: str
    folder_id: int
    code: dict[str, Any]
    config: list[dict[str, Any]]
    created_at: datetime
    updated_at: datetime
    user_id: int = 0
    description: str = ""
    project_id: int | None = None
    running: bool = False
    stop_cause: str | None = None
    stopped_at: datetime | None = None
    last_run_at: datetime | None = None
    version_no: int = 1
    copy_count: int = 0
    job_succeeded_count: int = 0
    job_failed_count: int = 0
    lifetime_task_count: int = 0
    webhook_url: str | None = None
    author_name: str = ""
    version_author_name: str | None = None
    version_author_email: str | None = None
    version_comment: str | None = None
    tags: list[str] = field(default_factory=list)
    #: Served verbatim instead of ``json.dumps(code)`` when set: lets tests serve broken code.
    raw_code: str | None = None
    #: Served verbatim (JSON text) instead of ``config`` when set: lets tests serve a config
    #: of any shape or depth.
    raw_config: str | None = None

    def applications(self) -> tuple[str | None, list[str]]:
        return applications_of(self.code if self.raw_code is None else None)

    def to_api(self, tz: timezone, *, exclude_code: bool, include_tags: bool) -> dict[str, Any]:
        import json

        trigger, actions = self.applications()
        item: dict[str, Any] = {
            "id": self.id,
            "user_id": self.user_id,
            "name": self.name,
            "created_at": format_ts(self.created_at, tz),
            "updated_at": format_ts(self.updated_at, tz),
            "copy_count": self.copy_count,
            "trigger_application": trigger,
            "action_applications": actions,
            "applications": ([trigger] if trigger else []) + actions,
            "description": self.description,
            "parameters_schema": [],
            "parameters": {},
            "webhook_url": self.webhook_url,
            "folder_id": self.folder_id,
            "project_id": self.project_id,
            "running": self.running,
            "job_succeeded_count": self.job_succeeded_count,
            "job_failed_count": self.job_failed_count,
            "lifetime_task_count": self.lifetime_task_count,
            "last_run_at": format_ts(self.last_run_at, tz),
            "stopped_at": format_ts(self.stopped_at, tz),
            "version_no": self.version_no,
            "stop_cause": self.stop_cause,
            "config": (
                copy.deepcopy(self.config) if self.raw_config is None else RawJSON(self.raw_config)
            ),
            "trigger_closure": None,
            "author_name": self.author_name,
            "version_author_name": self.version_author_name,
            "version_author_email": self.version_author_email,
            "version_comment": self.version_comment,
        }
        code = self.raw_code if self.raw_code is not None else json.dumps(self.code)
        # exclude_code shortens rather than omits (addendum §5.2: the spec says code "may be
        # truncated"); how much is not documented, so the simulator keeps a stub that is never
        # valid JSON for a real tree.
        item["code"] = code[:EXCLUDED_CODE_CHARS] if exclude_code else code
        if include_tags:
            item["tags"] = list(self.tags)
        return item


#: Characters of ``code`` left in a listing with ``exclude_code=true`` (not documented).
EXCLUDED_CODE_CHARS = 24


@dataclass
class ActivityEntry:
    """One activity audit log record (addendum §1.3), stored as the mutation API made it."""

    id: int
    event_type: str
    timestamp: datetime
    resource: dict[str, Any]
    details: dict[str, Any]
    user: dict[str, Any]

    def to_api(self, tz: timezone, workspace: dict[str, Any]) -> dict[str, Any]:
        # Assembled shape of addendum §1.3 (key names from wk's decoder, not a docs sample).
        return {
            "id": self.id,
            "event_type": self.event_type,
            "timestamp": format_ts(self.timestamp, tz),
            "workspace": dict(workspace),
            "user": dict(self.user),
            "resource": copy.deepcopy(self.resource),
            "details": {
                "request": {"ip_address": "127.0.0.1", "user_agent": "WorkatoSimulator/1.0"},
                **copy.deepcopy(self.details),
            },
        }


@dataclass
class Token:
    """An API client token and what its role and project scopes let it see.

    ``project_ids`` limits the token to those projects (``None`` = every project), and
    ``hidden_folder_ids`` takes folders (with their sub-folders) away from it. Recipes and
    connections out of scope are left out of listings. By default (``out_of_scope="hide"``)
    out-of-scope folders are not listed and answer 404, as if they did not exist: a project
    that leaves the scope vanishes. ``"forbid"`` (listed in their parent, 403 when opened) is
    not documented Workato behaviour; it stays to exercise the client's defence against it
    (docs/simulator.md).
    ``families`` limits the endpoint families the role may call (``None`` = all); others
    answer 403.
    ``environment`` is the environment the API client is scoped to: in a workspace with
    environments only ``dev`` clients may call ``/users/me`` (addendum §4).
    ``activity_log`` is the role's activity-log privilege (addendum §1.1).
    """

    value: str
    name: str = "archy-pipeline"
    project_ids: frozenset[int] | None = None
    hidden_folder_ids: frozenset[int] = frozenset()
    out_of_scope: str = "hide"
    families: frozenset[str] | None = None
    revoked: bool = False
    environment: str = "dev"
    activity_log: bool = True

    def __post_init__(self) -> None:
        if self.environment not in ENVIRONMENTS:
            raise ValueError(
                f"unknown environment {self.environment!r}; expected one of {ENVIRONMENTS}"
            )

    def __repr__(self) -> str:  # never show the secret, even in test failure output
        return f"Token(name={self.name!r}, value='***')"


class Workspace:
    """A Workato workspace: folders, projects, connections, recipes, tokens.

    Thread-safe: the simulator serves requests from several threads while tests mutate the
    workspace. Every mutation moves ``updated_at`` to a time strictly after the previous one.
    """

    def __init__(
        self,
        *,
        workspace_id: int = 4848,
        name: str = "Main Workspace",
        email: str = "integrations@example.com",
        company_name: str = "ACME Corp",
        plan_id: str = "business_plan",
        api_enabled: bool = True,
        tz: timezone = DEFAULT_TZ,
        created_at: datetime | None = None,
        environments: bool = False,
        activity_log: bool = True,
    ) -> None:
        self.lock = threading.RLock()
        self.id = workspace_id
        self.name = name
        self.email = email
        self.company_name = company_name
        self.plan_id = plan_id
        #: False models a plan without Developer API access: every call answers 403.
        self.api_enabled = api_enabled
        #: True models a workspace that uses environments: ``/users/me`` answers 403 to API
        #: clients scoped to anything but DEV (addendum §4).
        self.environments = environments
        #: The Activity audit log add-on (addendum §1.1); without it the endpoint answers 403.
        self.activity_log = activity_log
        #: Every change made through the mutation API, oldest first (addendum §1.6 events).
        self.activity: list[ActivityEntry] = []
        self.tz = tz
        self.created_at = created_at or datetime(2019, 3, 4, 9, 30, tzinfo=timezone.utc)
        self.folders: dict[int, Folder] = {}
        self.projects: dict[int, Project] = {}
        self.connections: dict[int, Connection] = {}
        self.recipes: dict[int, Recipe] = {}
        self.tokens: dict[str, Token] = {}
        self._next_ids = {
            "folder": 1000, "project": 100, "connection": 5000, "recipe": 10000, "activity": 0
        }  # fmt: skip
        self._last_ts = self.created_at
        root = self._new_id("folder")
        self.root_folder_id = root
        self.folders[root] = Folder(
            root, "Home", None, None, False, self.created_at, self.created_at
        )

    # ------------------------------------------------------------------ clock and ids
    def now(self) -> datetime:
        """A timestamp strictly after every earlier one handed out by this workspace."""
        with self.lock:
            ts = datetime.now(timezone.utc)
            ts = ts.replace(microsecond=ts.microsecond // 1000 * 1000)
            if ts <= self._last_ts:
                ts = self._last_ts + timedelta(milliseconds=1)
            self._last_ts = ts
            return ts

    def note_time(self, ts: datetime) -> None:
        """Tell the clock about a historical timestamp so later mutations come after it."""
        with self.lock:
            self._last_ts = max(self._last_ts, ts)

    def _new_id(self, kind: str) -> int:
        self._next_ids[kind] += 1
        return self._next_ids[kind]

    def reserve_id(self, kind: str, value: int) -> None:
        """Make sure ids handed out later for ``kind`` are above ``value``."""
        with self.lock:
            self._next_ids[kind] = max(self._next_ids[kind], value)

    # ------------------------------------------------------------------ activity audit log
    def log_activity(
        self,
        event_type: str,
        resource: dict[str, Any],
        details: dict[str, Any] | None = None,
        at: datetime | None = None,
    ) -> ActivityEntry:
        """Record one change; ``resource`` is ``{id, name, type}`` plus type-specific extras."""
        with self.lock:
            entry = ActivityEntry(
                id=self._new_id("activity"),
                event_type=event_type,
                timestamp=at or self.now(),
                resource=resource,
                details=details or {},
                user=dict(DEFAULT_ACTOR),
            )
            self.activity.append(entry)
            return entry

    def _log_recipe(self, event_type: str, recipe: Recipe, at: datetime, **details: Any) -> None:
        self.log_activity(
            event_type, {"id": recipe.id, "name": recipe.name, "type": "Flow"}, details, at
        )

    def _log_connection(self, event_type: str, connection: Connection, at: datetime) -> None:
        resource = {
            "id": connection.id,
            "name": connection.name,
            "type": "SharedAccount",
            "provider": connection.application,
            "authorized": connection.authorization_status == "success",
        }
        self.log_activity(event_type, resource, None, at)

    def _log_folder(self, event_type: str, folder: Folder, path: str, at: datetime) -> None:
        resource = {"id": folder.id, "name": folder.name, "type": "Folder", "path": path}
        self.log_activity(event_type, resource, None, at)

    # ------------------------------------------------------------------ tokens
    def add_token(self, value: str, **scope: Any) -> Token:
        token = Token(value=value, **scope)
        with self.lock:
            self.tokens[value] = token
        return token

    def revoke_token(self, value: str) -> None:
        with self.lock:
            self.tokens[value].revoked = True

    def set_token_scope(
        self,
        value: str,
        *,
        project_ids: frozenset[int] | None = None,
        hidden_folder_ids: frozenset[int] = frozenset(),
    ) -> Token:
        """Change what an API client's role may see (an admin edits its project scope):
        projects taken away vanish from every listing of that token."""
        with self.lock:
            token = self.tokens[value]
            token.project_ids = project_ids
            token.hidden_folder_ids = hidden_folder_ids
            return token

    # ------------------------------------------------------------------ folders and projects
    def add_project(
        self, name: str, description: str | None = None, created_at: datetime | None = None
    ) -> Project:
        """Create a project: a top-level folder under Home flagged ``is_project``."""
        with self.lock:
            ts = created_at or self.now()
            self.note_time(ts)
            folder_id = self._new_id("folder")
            project_id = self._new_id("project")
            self.folders[folder_id] = Folder(
                folder_id, name, self.root_folder_id, project_id, True, ts, ts
            )
            project = Project(project_id, name, description, folder_id)
            self.projects[project_id] = project
            return project

    def add_folder(
        self, name: str, parent_id: int | None = None, created_at: datetime | None = None
    ) -> Folder:
        with self.lock:
            parent = self.folders[parent_id if parent_id is not None else self.root_folder_id]
            ts = created_at or self.now()
            self.note_time(ts)
            folder = Folder(
                self._new_id("folder"), name, parent.id, parent.project_id, False, ts, ts
            )
            self.folders[folder.id] = folder
            self._log_folder("folder_created", folder, self.folder_path(folder.id), ts)
            return folder

    def move_folder(self, folder_id: int, new_parent_id: int) -> None:
        with self.lock:
            folder = self.folders[folder_id]
            if new_parent_id == folder_id or folder_id in self.ancestors(new_parent_id):
                raise ValueError("cannot move a folder into itself or its own sub-folder")
            folder.parent_id = new_parent_id
            folder.updated_at = self.now()
            project_id = self.folders[new_parent_id].project_id
            for sub_id in [folder_id, *self.descendants(folder_id)]:
                self.folders[sub_id].project_id = project_id
            for recipe in self.recipes.values():
                if recipe.folder_id in {folder_id, *self.descendants(folder_id)}:
                    recipe.project_id = project_id

    def delete_folder(self, folder_id: int) -> None:
        """Delete a folder with everything in it, as Workato's folder delete with ``force``."""
        with self.lock:
            if folder_id == self.root_folder_id:
                raise ValueError("the Home folder cannot be deleted")
            doomed = {folder_id, *self.descendants(folder_id)}
            ts = self.now()
            for fid in sorted(doomed, key=lambda f: -len(self.ancestors(f))):
                self._log_folder("folder_deleted", self.folders[fid], self.folder_path(fid), ts)
            for rid in [r.id for r in self.recipes.values() if r.folder_id in doomed]:
                del self.recipes[rid]
            for cid in [c.id for c in self.connections.values() if c.folder_id in doomed]:
                del self.connections[cid]
            for fid in doomed:
                folder = self.folders.pop(fid)
                if folder.is_project and folder.project_id in self.projects:
                    del self.projects[folder.project_id]

    def children(self, parent_id: int) -> list[Folder]:
        with self.lock:
            return [f for f in self.folders.values() if f.parent_id == parent_id]

    def descendants(self, folder_id: int) -> list[int]:
        with self.lock:
            found: list[int] = []
            stack = [folder_id]
            while stack:
                current = stack.pop()
                for child in self.children(current):
                    found.append(child.id)
                    stack.append(child.id)
            return found

    def ancestors(self, folder_id: int) -> list[int]:
        with self.lock:
            chain: list[int] = []
            current = self.folders[folder_id].parent_id
            while current is not None:
                chain.append(current)
                current = self.folders[current].parent_id
            return chain

    def folder_path(self, folder_id: int) -> str:
        """``Home/Sales/Quote to Cash`` style path of a folder."""
        with self.lock:
            names = [self.folders[folder_id].name]
            names.extend(self.folders[a].name for a in self.ancestors(folder_id))
            return "/".join(reversed(names))

    # ------------------------------------------------------------------ connections
    def add_connection(
        self, application: str, name: str, folder_id: int | None = None, **fields: Any
    ) -> Connection:
        with self.lock:
            ts = fields.pop("created_at", None) or self.now()
            connection = Connection(
                id=fields.pop("id", None) or self._new_id("connection"),
                application=application,
                name=name,
                folder_id=folder_id if folder_id is not None else self.root_folder_id,
                created_at=ts,
                updated_at=fields.pop("updated_at", ts),
                authorized_at=fields.pop("authorized_at", ts),
                **fields,
            )
            self.reserve_id("connection", connection.id)
            self.connections[connection.id] = connection
            self._log_connection("connection_created", connection, ts)
            return connection

    def update_connection(self, connection_id: int, **fields: Any) -> Connection:
        """Change a connection (rename, re-authorise, lose it...); moves ``updated_at``."""
        with self.lock:
            connection = self.connections[connection_id]
            for key, value in fields.items():
                if not hasattr(connection, key) or key in {"id", "created_at", "updated_at"}:
                    raise AttributeError(f"connections have no settable field {key!r}")
                setattr(connection, key, value)
            connection.updated_at = self.now()
            self._log_connection("connection_updated", connection, connection.updated_at)
            return connection

    def delete_connection(self, connection_id: int) -> None:
        with self.lock:
            connection = self.connections.pop(connection_id)
            self._log_connection("connection_deleted", connection, self.now())

    # ------------------------------------------------------------------ recipes
    def add_recipe(
        self,
        name: str,
        code: dict[str, Any],
        config: list[dict[str, Any]] | None = None,
        folder_id: int | None = None,
        **fields: Any,
    ) -> Recipe:
        """Add a recipe. ``config`` defaults to one entry per provider used in ``code``."""
        with self.lock:
            folder_id = folder_id if folder_id is not None else self.root_folder_id
            ts = fields.pop("created_at", None) or self.now()
            if config is None:
                config = default_config(code)
            recipe = Recipe(
                id=fields.pop("id", None) or self._new_id("recipe"),
                name=name,
                folder_id=folder_id,
                code=code,
                config=config,
                created_at=ts,
                updated_at=fields.pop("updated_at", ts),
                user_id=self.id,
                project_id=self.folders[folder_id].project_id,
                **fields,
            )
            self.reserve_id("recipe", recipe.id)
            self.recipes[recipe.id] = recipe
            self._log_recipe("recipe_created", recipe, ts)
            return recipe

    def update_recipe(self, recipe_id: int, **fields: Any) -> Recipe:
        """Edit a recipe (name, code, config, description, folder...): a new version."""
        with self.lock:
            recipe = self.recipes[recipe_id]
            for key, value in fields.items():
                if not hasattr(recipe, key) or key in {"id", "created_at", "updated_at"}:
                    raise AttributeError(f"recipes have no settable field {key!r}")
                setattr(recipe, key, value)
            if "folder_id" in fields:
                recipe.project_id = self.folders[recipe.folder_id].project_id
            if "code" in fields:
                renumber(recipe.code)
                recipe.raw_code = None
            recipe.version_no += 1
            recipe.updated_at = self.now()
            self._log_recipe("recipe_updated", recipe, recipe.updated_at)
            return recipe

    def connect_recipe(
        self, recipe_id: int, provider: str, connection_id: int, *, moves_updated_at: bool = False
    ) -> Recipe:
        """Switch the connection a stopped recipe uses for ``provider``: what
        ``PUT /api/recipes/:id/connect`` does (addendum §6). Only ``config`` changes, never
        ``code``. Whether Workato moves ``updated_at`` is not documented (addendum §8 q6):
        by default it does not, the harder case for a sync."""
        with self.lock:
            recipe = self.recipes[recipe_id]
            if recipe.running:
                raise ValueError("a running recipe's connection cannot be switched (400)")
            entries = [e for e in recipe.config if e.get("provider") == provider]
            if not entries:
                raise KeyError(f"recipe {recipe_id} has no config entry for {provider!r}")
            for entry in entries:
                entry["account_id"] = connection_id
            if moves_updated_at:
                recipe.updated_at = self.now()
            return recipe

    def start_recipe(self, recipe_id: int) -> Recipe:
        with self.lock:
            recipe = self.recipes[recipe_id]
            recipe.running = True
            recipe.stop_cause = None
            recipe.updated_at = self.now()
            self._log_recipe("recipe_started", recipe, recipe.updated_at, run_once=False)
            return recipe

    def stop_recipe(self, recipe_id: int, stop_cause: str | None = None) -> Recipe:
        """Stop a recipe, by a user (no cause) or by Workato (one of ``STOP_CAUSES``)."""
        if stop_cause is not None and stop_cause not in STOP_CAUSES:
            raise ValueError(f"unknown stop_cause {stop_cause!r}; expected one of {STOP_CAUSES}")
        with self.lock:
            recipe = self.recipes[recipe_id]
            ts = self.now()
            recipe.running = False
            recipe.stop_cause = stop_cause
            recipe.stopped_at = ts
            recipe.updated_at = ts
            # docs-2019/2020 samples show stop_reason "user"; what a stop by Workato logs is
            # not documented: the simulator puts the stop cause in details.error [inferred].
            if stop_cause is None:
                self._log_recipe("recipe_stopped", recipe, ts, stop_reason="user", force=False)
            else:
                self._log_recipe("recipe_stopped", recipe, ts, error=stop_cause)
            return recipe

    def delete_recipe(self, recipe_id: int) -> None:
        with self.lock:
            recipe = self.recipes.pop(recipe_id)
            self._log_recipe("recipe_deleted", recipe, self.now())

    # ------------------------------------------------------------------ views
    def user_me(self) -> dict[str, Any]:
        with self.lock:
            return {
                "id": self.id,
                "name": self.name,
                "created_at": format_ts(self.created_at, self.tz),
                "plan_id": self.plan_id,
                "current_billing_period_start": format_ts(self.created_at, self.tz),
                "current_billing_period_end": None,
                "expert": False,
                "avatar_url": None,
                "recipes_count": len(self.recipes),
                "interested_applications": [],
                "company_name": self.company_name,
                "location": None,
                "last_seen": format_ts(self._last_ts, self.tz),
                "contact_phone": None,
                "contact_email": self.email,
                "about_me": None,
                "email": self.email,
                "phone": None,
                "active_recipes_count": sum(1 for r in self.recipes.values() if r.running),
                "root_folder_id": self.root_folder_id,
            }

    def visible_folder_ids(self, token: Token) -> set[int]:
        """Folders a token may see: its projects (or all), minus explicitly hidden ones."""
        with self.lock:
            visible = set()
            for folder in self.folders.values():
                if folder.id == self.root_folder_id:
                    visible.add(folder.id)
                    continue
                if token.project_ids is not None and folder.project_id not in token.project_ids:
                    continue
                if folder.id in token.hidden_folder_ids or any(
                    a in token.hidden_folder_ids for a in self.ancestors(folder.id)
                ):
                    continue
                visible.add(folder.id)
            return visible


def default_config(code: dict[str, Any]) -> list[dict[str, Any]]:
    """One ``config`` entry per provider in ``code``, without connections."""
    providers: list[str] = []
    for block in iter_blocks(code):
        provider = block.get("provider")
        if provider and provider not in providers:
            providers.append(provider)
    return [application_config(p, None) for p in providers]


def application_config(provider: str, account_id: int | None) -> dict[str, Any]:
    """A live-API ``config`` entry."""
    return {
        "keyword": "application",
        "name": provider,
        "provider": provider,
        "skip_validation": False,
        "account_id": account_id,
    }
