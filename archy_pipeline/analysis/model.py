"""The input read once into records: current recipes, the connections they use, systems and
resolved calls, keyed by node id (``recipe:<ws>:<id>``, ``connection:<ws>:<id>``,
``system:<ws>:<key>``). Every graph, rule and ranking reads a :class:`Model`."""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import pandas as pd

from archy_pipeline.analysis.inputs import (
    INPUT_COLUMNS,
    STEP_DETAIL_COLUMNS,
    AnalysisInput,
    as_flag,
    as_int,
    as_text,
    as_timestamp,
    frame_rows,
)

CALLABLE_TRIGGERS = frozenset({"workato_recipe_function", "workato_service"})
MAPPED_STATUSES = frozenset({"matched", "partial"})
BRANCH_KEYWORDS = frozenset({"if", "elsif", "else"})
LOOP_KEYWORDS = frozenset({"foreach", "repeat"})
CALL_REFERENCE_KINDS = frozenset(
    {"call_recipe", "call_recipe_async", "call_service", "call_service_async", "pub_sub_publish"}
)
#: Alerting and logging connectors: in a catch they report the failure; outside a try their
#: own failure is not counted as missing error handling (an alert has nowhere to alert).
NOTIFY_APPLICATIONS = frozenset(
    {
        "logger", "email", "gmail", "outlook", "slack", "slack_bot", "teams", "teams_bot",
        "microsoft_teams", "twilio", "pagerduty", "opsgenie", "splunk", "datadog",
    }
)  # fmt: skip


def recipe_node(workspace: str, recipe_id: Any) -> str:
    return f"recipe:{workspace}:{int(recipe_id)}"


def connection_node(workspace: str, connection_id: Any) -> str:
    return f"connection:{workspace}:{int(connection_id)}"


def system_node(workspace: str, key: str) -> str:
    return f"system:{workspace}:{key}"


def folder_node(workspace: str, folder_path: str | None) -> str:
    return f"folder:{workspace}:{folder_path or ''}"


@dataclass(slots=True)
class Recipe:
    node: str
    workspace: str
    recipe_id: int
    name: str
    status: str
    stop_cause: str | None
    folder_path: str | None
    trigger_application: str | None
    step_count: int
    max_depth: int
    succeeded: int
    failed: int
    tasks: int | None
    last_run_at: pd.Timestamp | None
    updated_at: pd.Timestamp | None
    uses: dict[str, str] = field(default_factory=dict)  # connection node -> role
    #: Connections whose events start the recipe (its trigger's connection); None when the
    #: input does not say (integration_systems without ``by_trigger``).
    triggered_by: set[str] | None = None

    @property
    def active(self) -> bool:
        return self.status == "active"

    @property
    def callable(self) -> bool:
        return self.trigger_application in CALLABLE_TRIGGERS

    def sources(self) -> list[str]:
        return [c for c, role in self.uses.items() if role in ("source", "both")]

    def targets(self) -> list[str]:
        return [c for c, role in self.uses.items() if role in ("target", "both")]

    def trigger_sources(self) -> list[str]:
        """Sources whose changes start the recipe (a lookup does not start anything)."""
        if self.triggered_by is None:
            return self.sources()
        return [c for c in self.sources() if c in self.triggered_by]


@dataclass(slots=True)
class Connection:
    node: str
    workspace: str
    connection_id: int
    name: str
    application: str | None
    status: str | None
    environment: str
    folder_path: str | None
    recipe_count: int | None
    current: bool
    system: str = ""


@dataclass(slots=True)
class System:
    node: str
    workspace: str
    key: str
    label: str
    system_id: str | None
    connections: list[str] = field(default_factory=list)


@dataclass(slots=True)
class Call:
    caller: str
    callee: str
    via: str
    detail: str | None
    step_number: int | None


@dataclass(slots=True)
class Step:
    number: int
    parent: int | None
    depth: int
    keyword: str
    application: str | None
    action: str | None
    skipped: bool
    protected: bool
    in_catch: bool
    connection: str | None
    reference_kind: str | None
    retries: int | None = None
    stop_error: bool | None = None
    #: ``recipe_steps.access`` (read, write, unknown; None before access was recorded).
    access: str | None = None


@dataclass(eq=False)
class Model:
    """One :class:`AnalysisInput` read into records (see :func:`prepare`), and the steps of its
    recipes, read on first use and then kept."""

    recipes: dict[str, Recipe]
    connections: dict[str, Connection]
    systems: dict[str, System]
    calls: list[Call]
    #: Unresolved (dynamic) calls per workspace: their callee is unknown.
    unresolved_calls: Counter
    workspaces: list[str]
    #: The input this model was read from.
    source: AnalysisInput = field(repr=False)

    @cached_property
    def steps(self) -> dict[str, list[Step]]:
        """Each current recipe's steps, by number (see :func:`steps_by_recipe`)."""
        return steps_by_recipe(self.source, self)

    @cached_property
    def users(self) -> dict[str, set[str]]:
        """The recipes that use each connection (connection node -> recipe nodes)."""
        found: dict[str, set[str]] = {}
        for recipe in self.recipes.values():
            for connection in recipe.uses:
                found.setdefault(connection, set()).add(recipe.node)
        return found


def prepare(inp: AnalysisInput) -> Model:
    """Current recipes (``deleted_at`` unset), the connections they use or that are current,
    one system per mapped system id or else per application, and the resolved calls between
    current recipes, each sorted by workspace and id."""
    recipes: dict[str, Recipe] = {}
    for row in frame_rows(inp.integrations, INPUT_COLUMNS["integrations"]):
        if row["deleted_at"] is not None or row["recipe_id"] is None:
            continue
        ws = str(row["workspace"])
        node = recipe_node(ws, row["recipe_id"])
        recipes[node] = Recipe(
            node=node,
            workspace=ws,
            recipe_id=int(row["recipe_id"]),
            name=as_text(row["name"]) or str(row["recipe_id"]),
            status=as_text(row["status"]) or "active",
            stop_cause=as_text(row["stop_cause"]),
            folder_path=as_text(row["folder_path"]),
            trigger_application=as_text(row["trigger_application"]),
            step_count=as_int(row["step_count"], 0) or 0,
            max_depth=as_int(row["max_depth"], 0) or 0,
            succeeded=as_int(row["job_succeeded_count"], 0) or 0,
            failed=as_int(row["job_failed_count"], 0) or 0,
            tasks=as_int(row["lifetime_task_count"]),
            last_run_at=as_timestamp(row["last_run_at"]),
            updated_at=as_timestamp(row["updated_at"]),
        )
    recipes = dict(sorted(recipes.items(), key=lambda kv: (kv[1].workspace, kv[1].recipe_id)))

    connections: dict[str, Connection] = {}
    for row in frame_rows(inp.system_instances, INPUT_COLUMNS["system_instances"]):
        if row["connection_id"] is None:
            continue
        ws = str(row["workspace"])
        node = connection_node(ws, row["connection_id"])
        connections[node] = Connection(
            node=node,
            workspace=ws,
            connection_id=int(row["connection_id"]),
            name=as_text(row["name"]) or str(row["connection_id"]),
            application=as_text(row["application"]),
            status=as_text(row["status"]),
            environment=as_text(row["environment"]) or "unknown",
            folder_path=as_text(row["folder_path"]),
            recipe_count=as_int(row["recipe_count"]),
            current=row["deleted_at"] is None,
        )
    used: set[str] = set()
    by_trigger = "by_trigger" in inp.integration_systems.columns
    extra = ["by_trigger"] if by_trigger else []
    for row in frame_rows(inp.integration_systems, [*INPUT_COLUMNS["integration_systems"], *extra]):
        if row["recipe_id"] is None or row["connection_id"] is None:
            continue
        ws = str(row["workspace"])
        recipe = recipes.get(recipe_node(ws, row["recipe_id"]))
        if recipe is None:
            continue
        cnode = connection_node(ws, row["connection_id"])
        if cnode not in connections:  # not visible to the API client: known only by its use
            connections[cnode] = Connection(
                cnode, ws, int(row["connection_id"]), str(row["connection_id"]),
                as_text(row["application"]), None, "unknown", None, None, current=False,
            )  # fmt: skip
        role = as_text(row["role"]) or "target"
        previous = recipe.uses.get(cnode)
        recipe.uses[cnode] = role if previous in (None, role) else "both"
        if by_trigger:
            if recipe.triggered_by is None:
                recipe.triggered_by = set()
            if row["by_trigger"]:
                recipe.triggered_by.add(cnode)
        used.add(cnode)
    connections = {
        node: conn
        for node, conn in sorted(
            connections.items(), key=lambda kv: (kv[1].workspace, kv[1].connection_id)
        )
        if conn.current or node in used
    }

    mappings = {
        (str(row["workspace"]), int(row["connection_id"])): row
        for row in frame_rows(inp.system_mappings, INPUT_COLUMNS["system_mappings"])
        if row["connection_id"] is not None
    }
    systems: dict[str, System] = {}
    for conn in connections.values():
        mapping = mappings.get((conn.workspace, conn.connection_id)) or {}
        system_id = as_text(mapping.get("system_id"))
        if system_id and mapping.get("match_status") in MAPPED_STATUSES:
            key, label = system_id, as_text(mapping.get("system_name")) or system_id
        else:
            key = conn.application or "unknown"
            label, system_id = key, None
        snode = system_node(conn.workspace, key)
        system = systems.setdefault(snode, System(snode, conn.workspace, key, label, system_id))
        system.connections.append(conn.node)
        conn.system = snode
    systems = dict(sorted(systems.items()))

    calls: list[Call] = []
    unresolved: Counter = Counter()
    for row in frame_rows(inp.integration_calls, INPUT_COLUMNS["integration_calls"]):
        ws = str(row["workspace"])
        if row["caller_recipe_id"] is None:
            continue
        caller = recipe_node(ws, row["caller_recipe_id"])
        if caller not in recipes:
            continue
        if not row["resolved"] or row["callee_recipe_id"] is None:
            unresolved[ws] += 1
            continue
        callee = recipe_node(ws, row["callee_recipe_id"])
        if callee in recipes:
            calls.append(
                Call(
                    caller,
                    callee,
                    as_text(row["via"]) or "call_recipe",
                    as_text(row["detail"]),
                    as_int(row["step_number"]),
                )
            )
    calls.sort(
        key=lambda c: (
            recipes[c.caller].workspace,
            recipes[c.caller].recipe_id,
            recipes[c.callee].recipe_id,
            c.via,
            c.step_number or 0,
        )
    )
    workspaces = sorted(
        {r.workspace for r in recipes.values()} | {c.workspace for c in connections.values()}
    )
    return Model(recipes, connections, systems, calls, unresolved, workspaces, inp)


def steps_by_recipe(inp: AnalysisInput, model: Model) -> dict[str, list[Step]]:
    out: dict[str, list[Step]] = defaultdict(list)
    recipe_nodes: dict[tuple[Any, Any], str | None] = {}
    connection_nodes: dict[tuple[Any, Any], str] = {}
    details = [c for c in (*STEP_DETAIL_COLUMNS, "access") if c in inp.steps.columns]
    for row in frame_rows(inp.steps, [*INPUT_COLUMNS["steps"], *details]):
        key = (row["workspace"], row["recipe_id"])
        node = recipe_nodes.get(key, "")
        if node == "":  # first step of this recipe: is it a current one?
            node = None if key[1] is None else recipe_node(str(key[0]), key[1])
            node = recipe_nodes[key] = node if node in model.recipes else None
        if node is None or row["number"] is None:
            continue
        conn = row["connection_id"]
        if conn is not None:
            conn_key = (row["workspace"], conn)
            conn = connection_nodes.get(conn_key)
            if conn is None:
                conn = connection_nodes[conn_key] = connection_node(str(conn_key[0]), conn_key[1])
        out[node].append(
            Step(
                number=int(row["number"]),
                parent=as_int(row["parent_number"]),
                depth=as_int(row["depth"], 0) or 0,
                keyword=as_text(row["keyword"]) or "",
                application=as_text(row["application"]),
                action=as_text(row["action_name"]),
                skipped=bool(row["skipped"]),
                protected=bool(row["protected"]),
                in_catch=bool(row["in_catch"]),
                connection=conn,
                reference_kind=as_text(row["reference_kind"]),
                retries=as_int(row.get("retry_count")),
                stop_error=as_flag(row.get("stop_with_error")),
                access=as_text(row.get("access")),
            )
        )
    for steps in out.values():
        steps.sort(key=lambda s: s.number)
    return out
