"""What the report shows, read from the warehouse once: systems with their instances, the flows
between them, integrations with their steps and calls, insights, changes and impact.

Pure: no Dagster import, no settings read. The caller hands in the warehouse (anything with
``fetch_rows`` and ``query``, e.g. :class:`~archy_pipeline.resources.warehouse.WarehouseResource`
or a :class:`~archy_pipeline.warehouse.Warehouse` backend), the analysis input and graphs
(the ones ``archy-pipeline impact`` builds), and the values that come from settings: the
Workato web address of each workspace and when each was last synced.

Systems are the analysis' system nodes (``archy.graph_nodes`` where ``graph = 'systems'``):
the mapped system when ``archy.system_mappings`` matched or partially matched a connection,
else the connection's application. Flows are ``archy.system_flows`` (from what a recipe reads
to what it writes) summed per pair of systems, counting each recipe once.
"""

from __future__ import annotations

import json
import re
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from archy_pipeline.analysis import AnalysisInput, Graphs, ImpactReport, impacts

#: The order environments are listed and coloured in.
ENVIRONMENTS = ("production", "staging", "sandbox", "test", "development", "unknown")
SEVERITIES = ("high", "medium", "low")


class WarehouseReader(Protocol):
    """The read side of the warehouse the report needs."""

    def connect(self, read_only: bool = False) -> AbstractContextManager[Any]: ...

    def fetch_rows(
        self, schema: str, table: str, where: dict[str, Any] | None = None
    ) -> list[dict[str, Any]]: ...

    def query(self, sql: str, params: list[Any] | None = None) -> tuple[list[str], list[tuple]]: ...


def slug(text: str, limit: int = 60) -> str:
    """A file-name-safe, lower-case form of ``text`` (``a-z0-9`` and single dashes)."""
    value = re.sub(r"[^a-z0-9]+", "-", str(text).lower()).strip("-")
    return value[:limit].strip("-") or "x"


def _int(value: Any) -> int | None:
    try:
        return None if value is None else int(value)
    except (TypeError, ValueError):
        return None


@dataclass
class Workspace:
    name: str
    slug: str
    workato_url: str | None
    last_sync: datetime | None = None
    #: ``dagster`` (the sync's own record) or ``load`` (the newest load that changed rows).
    last_sync_source: str | None = None
    recipes: int = 0
    active_recipes: int = 0
    connections: int = 0


@dataclass(eq=False)
class Instance:
    """A connection: one instance of a system."""

    node: str
    workspace: str
    connection_id: int
    name: str
    application: str | None
    environment: str
    status: str | None
    current: bool
    system: str = ""
    match_status: str = "none"
    confidence: float | None = None
    method: str | None = None
    reason: str | None = None
    folder_path: str | None = None
    recipe_count: int = 0
    impact: ImpactReport | None = None

    @property
    def anchor(self) -> str:
        return f"c{self.connection_id}"


@dataclass(eq=False)
class System:
    node: str
    workspace: str
    key: str
    label: str
    system_id: str | None
    page: str
    category: str | None = None
    vendor: str | None = None
    instances: list[Instance] = field(default_factory=list)
    recipes: set[str] = field(default_factory=set)
    inbound: list[Flow] = field(default_factory=list)
    outbound: list[Flow] = field(default_factory=list)
    insights: list[Insight] = field(default_factory=list)
    impact: ImpactReport | None = None

    def environments(self) -> Counter:
        return Counter(i.environment for i in self.instances)


@dataclass(eq=False)
class Flow:
    """Data moving from one system to another through recipes (read there, written here)."""

    workspace: str
    source: str
    target: str
    recipe_ids: list[int]
    #: The ``archy.system_flows`` rows behind it (one per pair of connections).
    rows: list[dict[str, Any]] = field(default_factory=list)

    @property
    def recipe_count(self) -> int:
        return len(self.recipe_ids)


@dataclass(eq=False)
class Step:
    number: int
    parent: int | None
    depth: int
    keyword: str
    application: str | None
    action: str | None
    access: str | None
    skipped: bool
    connection: Instance | None
    reference_kind: str | None
    reference: str | None
    reference_name: str | None


@dataclass(eq=False)
class Call:
    caller: Integration
    callee: Integration | None
    via: str
    detail: str | None
    step_number: int | None


@dataclass(eq=False)
class Use:
    """How an integration uses a connection (``archy.integration_systems``)."""

    instance: Instance
    role: str
    read_steps: int
    write_steps: int
    by_trigger: bool


@dataclass(eq=False)
class Integration:
    node: str
    workspace: str
    recipe_id: int
    name: str
    page: str
    workato_url: str | None
    row: dict[str, Any]
    steps: list[Step] = field(default_factory=list)
    uses: list[Use] = field(default_factory=list)
    calls: list[Call] = field(default_factory=list)
    called_by: list[Call] = field(default_factory=list)
    topics: list[str] = field(default_factory=list)
    insights: list[Insight] = field(default_factory=list)

    @property
    def status(self) -> str:
        return str(self.row.get("status") or "")

    @property
    def folder_path(self) -> str:
        return str(self.row.get("folder_path") or "")

    def trigger(self) -> Step | None:
        return next((s for s in self.steps if s.keyword == "trigger"), None)


@dataclass(eq=False)
class Insight:
    row: dict[str, Any]
    subjects: list[dict[str, str]]
    evidence: dict[str, Any]
    folders: list[str]

    def __getattr__(self, name: str) -> Any:
        try:
            return self.__dict__["row"][name]
        except KeyError:
            raise AttributeError(name) from None


@dataclass
class ReportModel:
    generated_at: datetime
    workspaces: dict[str, Workspace]
    systems: dict[str, System]
    instances: dict[str, Instance]
    integrations: dict[str, Integration]
    flows: list[Flow]
    insights: list[Insight]
    changes: list[dict[str, Any]]
    folders: list[str]
    #: ``archy.system_flows`` rows of the workspaces shown.
    flow_rows: list[dict[str, Any]]

    def environments(self) -> list[str]:
        found = {i.environment for i in self.instances.values()}
        return [e for e in ENVIRONMENTS if e in found] + sorted(found - set(ENVIRONMENTS))

    def page_of(self, node: str) -> str | None:
        """The page (relative to the site's root) showing ``node``, with its anchor."""
        if node in self.integrations:
            return self.integrations[node].page
        if node in self.systems:
            return self.systems[node].page
        if node in self.instances:
            instance = self.instances[node]
            system = self.systems.get(instance.system)
            return f"{system.page}#{instance.anchor}" if system else None
        return None


# ---------------------------------------------------------------------- loading


def _rows(
    warehouse: WarehouseReader, schema: str, table: str, keep: set[str] | None
) -> list[dict[str, Any]]:
    rows = warehouse.fetch_rows(schema, table)
    return [r for r in rows if keep is None or r.get("workspace") in keep]


#: The columns of workato_raw.recipe_steps the model reads, in the order :func:`load_model`
#: unpacks them.
STEP_COLUMNS = (
    "workspace", "recipe_id", "number", "parent_number", "depth", "keyword", "application",
    "action_name", "access", "skipped", "connection_id", "reference_kind", "reference",
    "reference_name",
)  # fmt: skip


def _columns(
    warehouse: WarehouseReader, schema: str, table: str, columns: tuple[str, ...]
) -> list[tuple]:
    """``columns`` of every row of ``schema.table``, as tuples, None for a column the table
    does not have (dlt adds a column with its first value); [] if there is no such table.
    Reading only these columns as tuples: the rows of recipe_steps as dicts of all their
    columns were a quarter of the model's time."""
    _, present = warehouse.query(
        "select column_name from information_schema.columns "
        f"where table_schema = '{schema}' and table_name = '{table}'"
    )
    have = {str(name) for (name,) in present}
    if not have:
        return []
    select = ", ".join(f'"{c}"' if c in have else "null" for c in columns)
    return warehouse.query(f'select {select} from "{schema}"."{table}"')[1]


def last_loads(warehouse: WarehouseReader) -> dict[str, datetime]:
    """Per workspace, when dlt last loaded rows for it (a sync that changed nothing loads
    none): the fallback when the caller does not know the last sync itself."""
    selects = " union all ".join(
        f'select workspace, _dlt_load_id from "workato_raw"."{table}"'
        for table in ("workspace", "recipes", "connections", "folders", "sync_issues")
    )
    try:
        _, rows = warehouse.query(
            f"select t.workspace, max(l.inserted_at) from ({selects}) t "
            'join "workato_raw"."_dlt_loads" l on l.load_id = t._dlt_load_id '
            "group by t.workspace"
        )
    except Exception:  # no raw tables yet: nothing was ever loaded
        return {}
    return {str(ws): at for ws, at in rows if at is not None}


def load_model(
    warehouse: WarehouseReader,
    inp: AnalysisInput,
    graphs: Graphs,
    *,
    now: datetime,
    workato_urls: Mapping[str, str] | None = None,
    last_syncs: Mapping[str, datetime] | None = None,
    workspaces: Iterable[str] | None = None,
    with_impact: bool = True,
) -> ReportModel:
    """Everything the pages and exports show, for ``workspaces`` (default: all).

    ``workato_urls``: workspace name to its Workato web address (``https://app.eu.workato.com``)
    for links to recipes; ``last_syncs``: workspace name to its last successful sync.
    """
    keep = set(workspaces) if workspaces is not None else None
    urls = dict(workato_urls or {})

    # Workspaces: every one with a row anywhere the report reads.
    raw_workspaces = _rows(warehouse, "workato_raw", "workspace", keep)
    integration_rows = _rows(warehouse, "archy", "integrations", keep)
    names = sorted(
        {str(r["workspace"]) for r in raw_workspaces}
        | {str(r["workspace"]) for r in integration_rows}
        | {str(d.get("workspace")) for _, d in graphs.systems.nodes(data=True)}
    )
    names = [n for n in names if keep is None or n in keep]
    loads = last_loads(warehouse)
    spaces: dict[str, Workspace] = {}
    used_slugs: set[str] = set()
    for name in names:
        base = value = slug(name, 30)
        n = 2
        while value in used_slugs:
            value, n = f"{base}-{n}", n + 1
        used_slugs.add(value)
        space = Workspace(name, value, urls.get(name))
        if last_syncs and name in last_syncs:
            space.last_sync, space.last_sync_source = last_syncs[name], "dagster"
        elif name in loads:
            space.last_sync, space.last_sync_source = loads[name], "load"
        spaces[name] = space
    for row in raw_workspaces:
        space = spaces.get(str(row["workspace"]))
        if space is not None and row.get("deleted_at") is None:
            space.recipes = _int(row.get("recipes_count")) or 0
            space.active_recipes = _int(row.get("active_recipes_count")) or 0

    # Systems and their instances: the analysis' own nodes.
    catalogue = {r["system_id"]: r for r in warehouse.fetch_rows("archy", "systems")}
    systems: dict[str, System] = {}
    for node, data in graphs.systems.nodes(data=True):
        ws = str(data["workspace"])
        if ws not in spaces:
            continue
        entry = catalogue.get(data.get("system_id")) or {}
        systems[node] = System(
            node=node,
            workspace=ws,
            key=str(data["key"]),
            label=str(data["label"]),
            system_id=data.get("system_id"),
            page=f"systems/{spaces[ws].slug}--{slug(data['key'])}.html",
            category=entry.get("category"),
            vendor=entry.get("vendor"),
        )
    mappings = {
        (str(r["workspace"]), _int(r["connection_id"])): r
        for r in _rows(warehouse, "archy", "system_mappings", keep)
    }
    details = {
        (str(r["workspace"]), _int(r["connection_id"])): r
        for r in _rows(warehouse, "archy", "system_instances", keep)
    }
    instances: dict[str, Instance] = {}
    for node, data in graphs.instances.nodes(data=True):
        if data.get("type") != "connection" or data.get("system") not in systems:
            continue
        key = (str(data["workspace"]), int(data["key"]))
        mapping, detail = mappings.get(key, {}), details.get(key, {})
        instance = Instance(
            node=node,
            workspace=key[0],
            connection_id=key[1],
            name=str(data["label"]),
            application=data.get("application"),
            environment=str(data.get("environment") or "unknown"),
            status=data.get("status"),
            current=bool(data.get("current")),
            system=str(data["system"]),
            match_status=str(mapping.get("match_status") or "none"),
            confidence=mapping.get("confidence"),
            method=mapping.get("method"),
            reason=mapping.get("reason"),
            folder_path=detail.get("folder_path"),
            recipe_count=_int(detail.get("recipe_count")) or 0,
        )
        instances[node] = instance
        systems[instance.system].instances.append(instance)
    by_connection = {(i.workspace, i.connection_id): i for i in instances.values()}
    for space in spaces.values():
        space.connections = sum(1 for i in instances.values() if i.workspace == space.name)

    # Integrations (current recipes) with their steps, connections and calls.
    integrations: dict[str, Integration] = {}
    for row in integration_rows:
        if row.get("deleted_at") is not None or row.get("recipe_id") is None:
            continue
        ws, rid = str(row["workspace"]), int(row["recipe_id"])
        base = urls.get(ws)
        node = f"recipe:{ws}:{rid}"
        integrations[node] = Integration(
            node=node,
            workspace=ws,
            recipe_id=rid,
            name=str(row.get("name") or rid),
            page=f"integrations/{spaces[ws].slug}-{rid}.html",
            workato_url=f"{base.rstrip('/')}/recipes/{rid}" if base else None,
            row=row,
        )
    for row in _rows(warehouse, "archy", "integration_systems", keep):
        integration = integrations.get(f"recipe:{row['workspace']}:{_int(row['recipe_id'])}")
        instance = by_connection.get((str(row["workspace"]), _int(row["connection_id"])))
        if integration is None or instance is None:
            continue
        integration.uses.append(
            Use(
                instance,
                str(row.get("role") or "unknown"),
                _int(row.get("read_steps")) or 0,
                _int(row.get("write_steps")) or 0,
                bool(row.get("by_trigger")),
            )
        )
        systems[instance.system].recipes.add(integration.node)
    for integration in integrations.values():
        integration.uses.sort(key=lambda u: (u.instance.name.lower(), u.instance.connection_id))
    for (
        ws, recipe_id, number, parent, depth, keyword, application, action, access, skipped,
        connection_id, reference_kind, reference, reference_name,
    ) in _columns(warehouse, "workato_raw", "recipe_steps", STEP_COLUMNS):  # fmt: skip
        if keep is not None and ws not in keep:
            continue
        integration = integrations.get(f"recipe:{ws}:{_int(recipe_id)}")
        if integration is None or number is None:
            continue
        connection = by_connection.get((str(ws), _int(connection_id)))
        integration.steps.append(
            Step(
                number=int(number),
                parent=_int(parent),
                depth=_int(depth) or 0,
                keyword=str(keyword or ""),
                application=application,
                action=action,
                access=access,
                skipped=bool(skipped),
                connection=connection,
                reference_kind=reference_kind,
                reference=None if reference is None else str(reference),
                reference_name=reference_name,
            )
        )
    for integration in integrations.values():
        integration.steps.sort(key=lambda s: s.number)
        topics = {
            s.reference_name or s.reference or ""
            for s in integration.steps
            if s.reference_kind in ("pub_sub_publish", "pub_sub_subscribe", "kafka_topic")
        }
        integration.topics = sorted(t for t in topics if t)
    for row in _rows(warehouse, "archy", "integration_calls", keep):
        caller = integrations.get(f"recipe:{row['workspace']}:{_int(row['caller_recipe_id'])}")
        if caller is None:
            continue
        callee_id = _int(row.get("callee_recipe_id"))
        callee = integrations.get(f"recipe:{row['workspace']}:{callee_id}")
        call = Call(
            caller, callee, str(row.get("via") or ""), row.get("detail"),
            _int(row.get("step_number")),
        )  # fmt: skip
        caller.calls.append(call)
        if callee is not None:
            callee.called_by.append(call)
        if call.via == "pub_sub" and call.detail:
            caller.topics = sorted({*caller.topics, str(call.detail)})

    # Flows: archy.system_flows summed per pair of systems.
    flow_rows = _rows(warehouse, "archy", "system_flows", keep)
    pairs: dict[tuple[str, str], Flow] = {}
    for row in flow_rows:
        ws = str(row["workspace"])
        source = by_connection.get((ws, _int(row["source_connection_id"])))
        target = by_connection.get((ws, _int(row["target_connection_id"])))
        if source is None or target is None:
            continue
        pair = (source.system, target.system)
        flow = pairs.get(pair) or pairs.setdefault(pair, Flow(ws, *pair, []))
        flow.rows.append(row)
    flows = []
    for flow in pairs.values():
        ids = {int(i) for row in flow.rows for i in str(row["recipe_ids"] or "").split(",") if i}
        flow.recipe_ids = sorted(ids)
        systems[flow.source].outbound.append(flow)
        systems[flow.target].inbound.append(flow)
        flows.append(flow)
    flows.sort(key=lambda f: (f.workspace, -f.recipe_count, f.source, f.target))
    for system in systems.values():
        system.instances.sort(key=lambda i: (i.name.lower(), i.connection_id))
        system.inbound.sort(key=lambda f: (-f.recipe_count, systems[f.source].label.lower()))
        system.outbound.sort(key=lambda f: (-f.recipe_count, systems[f.target].label.lower()))

    # Insights, linked to what they are about.
    insights = []
    for row in _rows(warehouse, "archy", "insights", keep):
        subjects = json.loads(row.get("subjects") or "[]")
        evidence = json.loads(row.get("evidence") or "{}")
        folders = set()
        if evidence.get("folder_path"):
            folders.add(str(evidence["folder_path"]))
        for subject in subjects:
            item = integrations.get(subject.get("id"))
            if item is not None and item.folder_path:
                folders.add(item.folder_path)
            conn = instances.get(subject.get("id"))
            if conn is not None and conn.folder_path:
                folders.add(conn.folder_path)
        insight = Insight(row, subjects, evidence, sorted(folders))
        insights.append(insight)
        if row.get("status") != "open":
            continue
        for subject in subjects:
            node = subject.get("id")
            target = integrations.get(node) or systems.get(node)
            if node in instances:
                target = systems.get(instances[node].system)
            if target is not None and insight not in target.insights:
                target.insights.append(insight)
    rank = {s: i for i, s in enumerate(SEVERITIES)}
    insights.sort(key=lambda i: (i.status != "open", rank.get(i.severity, 9), i.kind, i.title))

    # What changed in each workspace's latest build of the archy tables.
    events = _rows(warehouse, "archy", "change_events", keep)
    latest: dict[str, Any] = {}
    for row in events:
        ws = str(row["workspace"])
        if row.get("detected_at") is not None and (
            ws not in latest or row["detected_at"] > latest[ws]
        ):
            latest[ws] = row["detected_at"]
    changes = sorted(
        (r for r in events if r.get("detected_at") == latest.get(str(r["workspace"]))),
        key=lambda r: (str(r["workspace"]), str(r.get("type")), str(r.get("subject_name"))),
    )

    folders = sorted(
        {str(r["path"]) for r in _rows(warehouse, "archy", "folders", keep) if r.get("path")}
        | {i.folder_path for i in integrations.values() if i.folder_path}
    )
    model = ReportModel(
        generated_at=now,
        workspaces=spaces,
        systems=dict(
            sorted(systems.items(), key=lambda kv: (kv[1].workspace, kv[1].label.lower()))
        ),
        instances=instances,
        integrations=dict(
            sorted(integrations.items(), key=lambda kv: (kv[1].workspace, kv[1].name.lower()))
        ),
        flows=flows,
        insights=insights,
        changes=changes,
        folders=folders,
        flow_rows=flow_rows,
    )
    if with_impact:
        add_impact(model, graphs, inp)
    return model


def add_impact(model: ReportModel, graphs: Graphs, inp: AnalysisInput) -> None:
    """What breaks if each system and each connection goes down: the answer
    ``archy-pipeline impact`` gives for it (:func:`archy_pipeline.analysis.impacts`)."""
    targets = [item for system in model.systems.values() for item in (system, *system.instances)]
    for item, report in zip(targets, impacts(graphs, inp, [t.node for t in targets]), strict=True):
        item.impact = report


def role_label(role: str) -> str:
    return {"source": "reads", "target": "writes", "both": "reads and writes"}.get(
        role, "unknown access"
    )


def flows_between(flows: Iterable[Flow]) -> dict[tuple[str, str], int]:
    """``(source system, target system) -> recipe count``: the map's edges."""
    return {(f.source, f.target): f.recipe_count for f in flows}


def group_by(items: Iterable[Any], key: Any) -> dict[Any, list[Any]]:
    out: dict[Any, list[Any]] = defaultdict(list)
    for item in items:
        out[key(item)].append(item)
    return dict(out)
