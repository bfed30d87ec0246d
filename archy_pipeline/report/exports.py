"""The system map in the formats architects keep their diagrams in, and the public tables.

Every export draws the same model as the site: a node per system, an edge per flow (from what
recipes read to what they write) carrying its recipe count.

* Mermaid (``system-map.mmd``): a flowchart for Markdown and Confluence.
* draw.io (``system-map.drawio``): one page per workspace, a cell per system and per flow.
* Structurizr DSL (``workspace.dsl``): a C4 system landscape.
* GraphML (``system-map.graphml``: systems; ``instances.graphml``: connections, with the
  ``archy.system_flows`` rows as edges), written by networkx.
* Backstage (``backstage/catalog-info.yaml``): a Domain per workspace, a System per system, a
  Resource per connection and a Component per recipe, with ``dependsOn`` relations.
* ``tables/<table>.csv`` and ``.parquet``: every table and view of the ``archy`` schema.
"""

from __future__ import annotations

import io
import math
import os
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import networkx as nx
import yaml

from archy_pipeline.report.mapdata import colour
from archy_pipeline.report.model import ReportModel, WarehouseReader, slug

MERMAID = "system-map.mmd"
DRAWIO = "system-map.drawio"
STRUCTURIZR = "workspace.dsl"
GRAPHML = "system-map.graphml"
INSTANCES_GRAPHML = "instances.graphml"
BACKSTAGE = "backstage/catalog-info.yaml"
TABLES = "tables"
#: archy tables the report leaves out: the notification log says where messages went (mail
#: and webhook hosts) and the audit log who ran what from where (users, hosts, errors), which
#: is about running the pipeline, not about the architecture.
NOT_EXPORTED = frozenset({"notification_deliveries", "audit_log"})
#: libyaml's emitter when PyYAML has it: the pure-Python one takes seconds per thousand recipes.
_DUMPER = getattr(yaml, "CSafeDumper", yaml.SafeDumper)


def _ids(model: ReportModel) -> dict[str, str]:
    return {node: f"s{i}" for i, node in enumerate(model.systems)}


def _main_environment(model: ReportModel, node: str) -> str:
    envs = model.systems[node].environments()
    return envs.most_common(1)[0][0] if envs else "unknown"


# ---------------------------------------------------------------------- Mermaid


def _mermaid_text(text: str) -> str:
    return str(text).replace('"', "#quot;")


def mermaid(model: ReportModel) -> str:
    """A Mermaid flowchart: a subgraph per workspace, ``sN["label"]`` per system and
    ``sA -->|"N recipes"| sB`` per flow."""
    ids = _ids(model)
    lines = [
        "flowchart LR",
        "  %% archy-pipeline system map: flows point from what recipes read to what they write",
    ]
    for w, space in enumerate(model.workspaces.values()):
        lines.append(f'  subgraph ws{w}["{_mermaid_text(space.name)}"]')
        for node, system in model.systems.items():
            if system.workspace == space.name:
                lines.append(f'    {ids[node]}["{_mermaid_text(system.label)}"]')
        lines.append("  end")
    for flow in model.flows:
        label = f"{flow.recipe_count} recipe{'s' if flow.recipe_count != 1 else ''}"
        lines.append(f'  {ids[flow.source]} -->|"{label}"| {ids[flow.target]}')
    for environment in model.environments():
        lines.append(f"  classDef {environment} fill:{colour(environment)},color:#000")
    for node in model.systems:
        lines.append(f"  class {ids[node]} {_main_environment(model, node)}")
    return "\n".join(lines) + "\n"


# ---------------------------------------------------------------------- draw.io


def drawio(model: ReportModel, positions: dict[str, tuple[float, float]]) -> str:
    """draw.io XML: one diagram (page) per workspace, a vertex per system at the map's
    position, an edge per flow labelled with its recipe count."""
    ids = _ids(model)
    mxfile = ET.Element("mxfile", host="archy-pipeline", type="device")
    heaviest = max((f.recipe_count for f in model.flows), default=1)
    for w, space in enumerate(model.workspaces.values()):
        diagram = ET.SubElement(mxfile, "diagram", id=f"ws{w}", name=space.name)
        graph = ET.SubElement(diagram, "mxGraphModel", grid="1", gridSize="10", arrows="1")
        root = ET.SubElement(graph, "root")
        ET.SubElement(root, "mxCell", id=f"ws{w}-0")
        ET.SubElement(root, "mxCell", id=f"ws{w}-1", parent=f"ws{w}-0")
        nodes = [n for n, s in model.systems.items() if s.workspace == space.name]
        ys = [positions.get(n, (0.0, 0.0))[1] for n in nodes] or [0.0]
        xs = [positions.get(n, (0.0, 0.0))[0] for n in nodes] or [0.0]
        for node in nodes:
            x, y = positions.get(node, (0.0, 0.0))
            cell = ET.SubElement(
                root, "mxCell", id=ids[node], value=model.systems[node].label,
                style=("rounded=1;whiteSpace=wrap;html=1;"
                       f"fillColor={colour(_main_environment(model, node))};"),
                vertex="1", parent=f"ws{w}-1",
            )  # fmt: skip
            ET.SubElement(
                cell, "mxGeometry", x=f"{1.4 * (x - min(xs)):.0f}",
                y=f"{1.4 * (max(ys) - y):.0f}", width="150", height="40", **{"as": "geometry"},
            )  # fmt: skip
        for f, flow in enumerate(model.flows):
            if flow.workspace != space.name:
                continue
            width = 1 + 5 * math.sqrt(flow.recipe_count / heaviest)
            cell = ET.SubElement(
                root, "mxCell", id=f"e{f}", value=str(flow.recipe_count),
                style=f"endArrow=classic;html=1;strokeWidth={width:.1f};",
                edge="1", parent=f"ws{w}-1", source=ids[flow.source], target=ids[flow.target],
            )  # fmt: skip
            ET.SubElement(cell, "mxGeometry", relative="1", **{"as": "geometry"})
    ET.indent(mxfile)
    return ET.tostring(mxfile, encoding="unicode") + "\n"


# ---------------------------------------------------------------------- Structurizr


def _dsl(text: Any) -> str:
    return '"' + str(text).replace('"', "'").replace("\n", " ") + '"'


def structurizr_names(model: ReportModel) -> dict[str, str]:
    """Each system's software-system name: its label, made unique (Structurizr requires it)
    with the workspace, then the system's key."""
    counts: dict[str, int] = {}
    for system in model.systems.values():
        counts[system.label] = counts.get(system.label, 0) + 1
    names, taken = {}, set()
    for node, system in model.systems.items():
        name = system.label if counts[system.label] == 1 else f"{system.label} ({system.workspace})"
        if name in taken:
            name = f"{name} [{system.key}]"
        taken.add(name)
        names[node] = name
    return names


def structurizr(model: ReportModel) -> str:
    """A Structurizr DSL workspace: the systems as software systems grouped by workspace and
    the flows as relationships tagged with their recipe counts, in a system landscape view.
    A flow between two connections of one system is not drawn: C4 has no self-relationship."""
    ids, names = _ids(model), structurizr_names(model)
    lines = [
        'workspace "Workato integrations" "The system landscape archy-pipeline read from '
        'the Workato recipes: flows point from what recipes read to what they write." {',
        "    model {",
    ]
    for space in model.workspaces.values():
        lines.append(f"        group {_dsl(space.name)} {{")
        for node, system in model.systems.items():
            if system.workspace != space.name:
                continue
            description = system.category or (system.vendor or "")
            lines += [
                f"            {ids[node]} = softwareSystem {_dsl(names[node])} "
                f"{_dsl(description)} {{",
                f'                tags "Workato system,{_main_environment(model, node)}"',
                "                properties {",
                f'                    "archy.id" {_dsl(node)}',
                f'                    "recipes" "{len(system.recipes)}"',
                "                }",
                "            }",
            ]
        lines.append("        }")
    for flow in model.flows:
        if flow.source == flow.target:
            continue
        n = flow.recipe_count
        lines += [
            f'        {ids[flow.source]} -> {ids[flow.target]} "{n} recipe{"s" if n != 1 else ""}"'
            ' "Workato" {',
            f'            tags "Workato flow,recipes:{n}"',
            f'            properties {{\n                "recipe_count" "{n}"\n            }}',
            "        }",
        ]
    lines += [
        "    }",
        "    views {",
        '        systemLandscape "landscape" "Systems and the flows between them." {',
        "            include *",
        "            autolayout lr",
        "        }",
        "        styles {",
    ]
    for environment in model.environments():
        lines += [
            f'            element "{environment}" {{',
            f"                background {colour(environment)}",
            "            }",
        ]
    lines += ["        }", "    }", "}"]
    return "\n".join(lines) + "\n"


# ---------------------------------------------------------------------- GraphML


def _attrs(**values: Any) -> dict[str, Any]:
    """GraphML attributes must be strings or numbers: None becomes ''."""
    return {k: ("" if v is None else v) for k, v in values.items()}


def system_graph(model: ReportModel) -> nx.DiGraph:
    graph = nx.DiGraph(name="archy system map")
    for node, system in model.systems.items():
        envs = system.environments()
        graph.add_node(node, **_attrs(
            label=system.label, workspace=system.workspace, key=system.key,
            system_id=system.system_id, category=system.category,
            environments=",".join(sorted(envs)), instances=len(system.instances),
            recipes=len(system.recipes),
        ))  # fmt: skip
    for flow in model.flows:
        graph.add_edge(flow.source, flow.target, recipe_count=flow.recipe_count,
                       recipe_ids=",".join(map(str, flow.recipe_ids)))  # fmt: skip
    return graph


def instance_graph(model: ReportModel) -> nx.DiGraph:
    """Connections as nodes and the ``archy.system_flows`` rows, as they are, as edges."""
    graph = nx.DiGraph(name="archy connection flows")
    for node, instance in model.instances.items():
        graph.add_node(node, **_attrs(
            label=instance.name, workspace=instance.workspace,
            connection_id=instance.connection_id, application=instance.application,
            environment=instance.environment, status=instance.status,
            system=instance.system, system_label=model.systems[instance.system].label,
            match_status=instance.match_status,
        ))  # fmt: skip
    for row in model.flow_rows:
        ws = row["workspace"]
        source = f"connection:{ws}:{int(row['source_connection_id'])}"
        target = f"connection:{ws}:{int(row['target_connection_id'])}"
        if source in graph and target in graph:
            graph.add_edge(source, target, recipe_count=int(row["recipe_count"]),
                           recipe_ids=str(row["recipe_ids"] or ""))  # fmt: skip
    return graph


def graphml(graph: nx.DiGraph) -> bytes:
    """``graph`` as GraphML: the bytes ``nx.write_graphml_xml`` writes (networkx's writer over
    ElementTree, pretty-printed), written as text. networkx builds an element per node, edge
    and value and ElementTree serializes them: a second per 5,000 recipes. Covers what the
    report draws: a directed graph (not a multigraph) with str, int, float and bool values and
    no defaults or ``id`` in the graph's attributes."""
    from xml.etree.ElementTree import _escape_attrib, _escape_cdata  # what ET writes with

    if graph.is_multigraph() or not graph.is_directed():
        raise ValueError("graphml() writes directed graphs only")
    if {"id", "node_default", "edge_default"} & set(graph.graph):
        raise ValueError("graphml() writes no graph id or defaults")
    xml_type = nx.readwrite.graphml.GraphMLWriter().get_xml_type
    keys: dict[tuple[str, str, str], str] = {}
    key_lines: list[str] = []

    def data(scope: str, values: dict[Any, Any], pad: str) -> list[str]:
        lines = []
        for name, value in values.items():
            name = str(name)
            kind = xml_type(type(value))
            key = keys.get((name, kind, scope))
            if key is None:
                key = keys[(name, kind, scope)] = f"d{len(keys)}"
                key_lines.append(
                    f'  <key id="{key}" for="{scope}" attr.name="{_escape_attrib(name)}" '
                    f'attr.type="{kind}" />'
                )
            text = str(value)
            lines.append(
                f'{pad}<data key="{key}">{_escape_cdata(text)}</data>'
                if text
                else f'{pad}<data key="{key}" />'
            )
        return lines

    def element(start: str, values: dict[Any, Any], scope: str) -> str:
        if not values:
            return f"    <{start} />"
        return "\n".join(
            [f"    <{start}>", *data(scope, values, "      "), f"    </{start.split()[0]}>"]
        )

    graph_data = data("graph", graph.graph, "    ")
    body = [
        element(f'node id="{_escape_attrib(str(n))}"', d, "node") for n, d in graph.nodes(data=True)
    ]
    body += [
        element(
            f'edge source="{_escape_attrib(str(u))}" target="{_escape_attrib(str(v))}"', d, "edge"
        )
        for u, v, d in graph.edges(data=True)
    ]
    body += graph_data
    lines = [
        "<?xml version='1.0' encoding='utf-8'?>",
        '<graphml xmlns="http://graphml.graphdrawing.org/xmlns" '
        'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" '
        'xsi:schemaLocation="http://graphml.graphdrawing.org/xmlns '
        'http://graphml.graphdrawing.org/xmlns/1.0/graphml.xsd">',
        *reversed(key_lines),
        *(
            ['  <graph edgedefault="directed">', *body, "  </graph>"]
            if body
            else ['  <graph edgedefault="directed" />']
        ),
        "</graphml>",
    ]
    return ("\n".join(lines) + "\n").encode("utf-8", "xmlcharrefreplace")


# ---------------------------------------------------------------------- Backstage


def _name(*parts: Any) -> str:
    """A Backstage entity name: letters, digits, dashes; at most 63 characters."""
    return slug("-".join(str(p) for p in parts), 63)


def backstage(model: ReportModel, owner: str) -> list[dict[str, Any]]:
    """Backstage catalog entities: a Domain per workspace, a System per system, a Resource per
    connection (part of its system) and a Component per recipe, which ``dependsOn`` the
    connections it uses and the recipes it calls."""
    api = "backstage.io/v1alpha1"
    entities: list[dict[str, Any]] = []
    domains = {space.name: _name("workato", space.slug) for space in model.workspaces.values()}
    for space in model.workspaces.values():
        entities.append({
            "apiVersion": api, "kind": "Domain",
            "metadata": {"name": domains[space.name], "title": f"Workato: {space.name}"},
            "spec": {"owner": owner},
        })  # fmt: skip
    systems = {
        node: _name(model.workspaces[s.workspace].slug, s.key) for node, s in model.systems.items()
    }
    for node, system in model.systems.items():
        entities.append({
            "apiVersion": api, "kind": "System",
            "metadata": {
                "name": systems[node], "title": system.label,
                "description": f"{system.category or 'System'} reached by "
                               f"{len(system.recipes)} Workato recipes",
                "annotations": {"archy.io/id": node},
            },
            "spec": {"owner": owner, "domain": domains[system.workspace]},
        })  # fmt: skip
    resources = {
        node: _name("conn", model.workspaces[i.workspace].slug, i.connection_id)
        for node, i in model.instances.items()
    }
    for node, instance in model.instances.items():
        entities.append({
            "apiVersion": api, "kind": "Resource",
            "metadata": {
                "name": resources[node], "title": instance.name,
                "annotations": {"archy.io/id": node},
                "tags": [slug(instance.environment, 63)],
            },
            "spec": {"type": "workato-connection", "owner": owner,
                     "system": systems[instance.system]},
        })  # fmt: skip
    components = {
        node: _name("recipe", model.workspaces[i.workspace].slug, i.recipe_id)
        for node, i in model.integrations.items()
    }
    for node, integration in model.integrations.items():
        depends = [f"resource:default/{resources[u.instance.node]}" for u in integration.uses]
        depends += [
            f"component:default/{components[c.callee.node]}"
            for c in integration.calls
            if c.callee is not None
        ]
        metadata: dict[str, Any] = {
            "name": components[node], "title": integration.name,
            "description": integration.row.get("description") or "",
            "annotations": {"archy.io/id": node},
        }  # fmt: skip
        if integration.workato_url:
            metadata["links"] = [{"url": integration.workato_url, "title": "Open in Workato"}]
        entities.append({
            "apiVersion": api, "kind": "Component", "metadata": metadata,
            "spec": {"type": "workato-recipe", "lifecycle": integration.status or "unknown",
                     "owner": owner, "dependsOn": sorted(set(depends))},
        })  # fmt: skip
    return entities


class _Unsupported(Exception):
    """A value :func:`backstage_yaml` leaves to PyYAML's representer."""


class _FastResolver(_DUMPER):
    """The safe dumper with the implicit-tag lookup done from a table per first character: the
    same tags (the resolvers tried in the same order), for the two lookups the serializer makes
    per scalar. Only without path resolvers, which the safe dumpers do not have."""

    _by_first: dict[str, list[tuple[str, Any]]] = {}

    def resolve(self, kind: Any, value: Any, implicit: Any) -> Any:
        if kind is not yaml.ScalarNode or self.yaml_path_resolvers:
            return super().resolve(kind, value, implicit)
        if implicit[0]:
            first = value[:1]
            resolvers = self._by_first.get(first)
            if resolvers is None:
                table = self.yaml_implicit_resolvers
                resolvers = self._by_first[first] = table.get(first, []) + table.get(None, [])
            for tag, regexp in resolvers:
                if regexp.match(value):
                    return tag
        return self.DEFAULT_SCALAR_TAG


_STR, _MAP, _SEQ = "tag:yaml.org,2002:str", "tag:yaml.org,2002:map", "tag:yaml.org,2002:seq"


def _yaml_node(value: Any, seen: set[int]) -> Any:
    """The node PyYAML's safe representer makes of ``value`` (``sort_keys=False``, block
    style), for text, dicts with text keys and lists; a dict or list met twice in a document
    (an alias) or any other value raises :class:`_Unsupported`."""
    kind = type(value)
    if kind is str:
        return yaml.ScalarNode(_STR, value)
    if id(value) in seen:
        raise _Unsupported
    seen.add(id(value))
    if kind is dict:
        items = []
        for key, item in value.items():
            if type(key) is not str:
                raise _Unsupported
            items.append((yaml.ScalarNode(_STR, key), _yaml_node(item, seen)))
        return yaml.MappingNode(_MAP, items, flow_style=False)
    if kind is list:
        return yaml.SequenceNode(_SEQ, [_yaml_node(v, seen) for v in value], flow_style=False)
    raise _Unsupported


def backstage_yaml(entities: list[dict[str, Any]]) -> str:
    """``yaml.dump_all(entities, sort_keys=False, allow_unicode=True)`` with the safe dumper:
    the same text, with the nodes made directly (PyYAML's representer dispatches per value)
    and a faster tag lookup; when an entity has a value of another type, the text is made
    again by ``dump_all``."""
    stream = io.StringIO()
    dumper = _FastResolver(stream, sort_keys=False, allow_unicode=True)
    try:
        dumper.open()
        for entity in entities:  # a document's nodes at a time, as dump_all
            dumper.serialize(_yaml_node(entity, set()))
        dumper.close()
    except _Unsupported:
        return yaml.dump_all(entities, Dumper=_DUMPER, sort_keys=False, allow_unicode=True)
    finally:
        dumper.dispose()
    return stream.getvalue()


# ---------------------------------------------------------------------- tables


def write_tables(
    warehouse: WarehouseReader, placeholder: str, folder: Path, workspaces: set[str] | None
) -> list[Path]:
    """``<table>.csv`` and ``<table>.parquet`` for every table and view of the ``archy``
    schema (rows of ``workspaces`` only, where the table has a workspace column), read over one
    connection, except the notification log (:data:`NOT_EXPORTED`). Parquet is written by
    DuckDB.

    The files are what a pandas frame of the fetched rows writes (:func:`_frame_table`: pandas'
    CSV, the frame's column types in Parquet). From a DuckDB warehouse, a table of the common
    column types is written by DuckDB itself, with SQL that formats each value the way pandas
    does (:func:`_duckdb_table`): the same files for a fraction of the CPU."""
    import duckdb

    folder.mkdir(parents=True, exist_ok=True)
    written = []
    with warehouse.connect(read_only=True) as source, duckdb.connect(":memory:") as con:
        cursor = source.cursor()
        cursor.execute(
            "select table_name from information_schema.tables "
            f"where table_schema = {placeholder} order by table_name",
            ["archy"],
        )
        native = isinstance(cursor, duckdb.DuckDBPyConnection)
        for (table,) in cursor.fetchall():
            if table in NOT_EXPORTED:
                continue
            csv, parquet = folder / f"{table}.csv", folder / f"{table}.parquet"
            if not (native and _duckdb_table(cursor, con, table, workspaces, csv, parquet)):
                _frame_table(cursor, con, table, workspaces, csv, parquet)
            written += [csv, parquet]
    return written


def _frame_table(
    cursor: Any, con: Any, table: str, workspaces: set[str] | None, csv: Path, parquet: Path
) -> None:
    """One table through a pandas frame of its rows (any warehouse, any column type)."""
    import pandas as pd

    cursor.execute(f'select * from "archy"."{table}"')
    names = [d[0] for d in cursor.description]
    frame = pd.DataFrame(cursor.fetchall(), columns=names)
    if workspaces is not None and "workspace" in frame:
        frame = frame[frame["workspace"].isin(workspaces)]
    frame.to_csv(csv, index=False)
    con.register("frame", frame)
    target = str(parquet).replace("'", "''")
    con.execute(f"copy (select * from frame) to '{target}' (format parquet)")
    con.unregister("frame")


#: Column types :func:`_duckdb_table` formats like pandas; a table with another type goes
#: through the frame.
_NATIVE_TYPES = frozenset({"VARCHAR", "BIGINT", "DOUBLE", "BOOLEAN", "TIMESTAMP WITH TIME ZONE"})
#: Session time zones whose offset is always +00:00.
_UTC_ZONES = frozenset({"UTC", "Etc/UTC", "GMT", "Etc/GMT", "Universal", "Etc/Universal", "Zulu"})


def _sql_text(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def _csv_field(value: str) -> str:
    """``value`` as Python's csv writer (so pandas) writes it: quoted when it holds the
    delimiter, a quote or a line feed."""
    if "," in value or '"' in value or "\n" in value:
        return '"' + value.replace('"', '""') + '"'
    return value


def _duckdb_table(
    source: Any,
    scratch: Any,
    table: str,
    workspaces: set[str] | None,
    csv: Path,
    parquet: Path,
) -> bool:
    """Write ``table``'s CSV and Parquet with DuckDB, the same files :func:`_frame_table`
    writes; False (nothing written) for a table it does not cover: a single column (the
    csv module quotes an empty sole field), another column type, NaN or infinite doubles,
    nullable booleans, years outside 1000-9999.

    What the frame does, done in SQL: pandas infers each column's type from all the rows
    (before the workspace filter): an integer column with a null becomes float (``12.0`` in
    the CSV, DOUBLE in Parquet) and a column of nulls only has no type (DuckDB's NULL type);
    booleans are written ``True``/``False``; a timestamp column is written
    ``YYYY-MM-DD HH:MM:SS+hh:mm``, with ``.ffffff`` on every value when one of the written
    values has a fraction of a second; doubles as DuckDB casts them (the shortest repr, as
    numpy does); text quoted as Python's csv module does (:func:`_csv_field`); null as empty.
    """
    columns = source.execute(
        "select column_name, data_type from information_schema.columns "
        "where table_schema = 'archy' and table_name = ? order by ordinal_position",
        [table],
    ).fetchall()
    if (
        len(columns) < 2
        or any(kind not in _NATIVE_TYPES for _, kind in columns)
        or os.linesep != "\n"  # pandas ends lines with os.linesep and quotes fields with it
    ):
        return False
    names = [name for name, _ in columns]
    keep = "true"
    if workspaces is not None and "workspace" in names:
        keep = (
            '"workspace" in (' + ", ".join(_sql_text(w) for w in sorted(workspaces)) + ")"
            if workspaces
            else "false"
        )
    stats = ["count(*)"]
    for name, kind in columns:
        q = '"' + name.replace('"', '""') + '"'
        stats.append(f"count({q})")
        if kind == "DOUBLE":
            stats.append(f"count(*) filter (where isnan({q}) or isinf({q}))")
        elif kind == "TIMESTAMP WITH TIME ZONE":
            stats.append(
                f"count(*) filter (where year({q}) not between 1000 and 9999"
                f" or date_part('timezone', {q}) % 60 <> 0)"
            )
            for unit in (1000000, 1000):  # a written value with milliseconds, microseconds
                stats.append(f"count(*) filter (where {keep} and microsecond({q}) % {unit} <> 0)")
    found = iter(source.execute(f'select {", ".join(stats)} from "archy"."{table}"').fetchone())
    rows = next(found)
    (zone,) = source.execute("select current_setting('TimeZone')").fetchone()
    fields, values = [], []
    for name, kind in columns:
        q = '"' + name.replace('"', '""') + '"'
        nulls = rows - next(found)
        if nulls == rows:  # no value at all (or no row): an untyped column of the frame
            fields.append("''")
            values.append(f"null as {q}")
            if kind == "DOUBLE":
                next(found)
            elif kind == "TIMESTAMP WITH TIME ZONE":
                next(found), next(found), next(found)
            continue
        if kind == "VARCHAR":
            fields.append(
                f"coalesce(case when contains({q}, ',') or contains({q}, '\"') "
                f"or contains({q}, chr(10)) then '\"' || replace({q}, '\"', '\"\"') || '\"' "
                f"else {q} end, '')"
            )
            values.append(q)
        elif kind == "BIGINT":
            if nulls:
                fields.append(f"coalesce({q}::double::varchar, '')")
                values.append(f"{q}::double as {q}")
            else:
                fields.append(f"{q}::varchar")
                values.append(q)
        elif kind == "DOUBLE":
            if next(found):
                return False
            fields.append(f"coalesce({q}::varchar, '')")
            values.append(q)
        elif kind == "BOOLEAN":
            if nulls:
                return False
            fields.append(f"case when {q} then 'True' else 'False' end")
            values.append(q)
        else:  # TIMESTAMP WITH TIME ZONE
            outside, milliseconds, microseconds = next(found), next(found), next(found)
            if outside:
                return False
            fmt = "%Y-%m-%d %H:%M:%S" + (".%f" if microseconds else ".%g" if milliseconds else "")
            offset = "'+00:00'"
            if zone not in _UTC_ZONES:  # the session's offset at each value, as +hh:mm
                tz = f"date_part('timezone', {q})"
                offset = (
                    f"(case when {tz} < 0 then '-' else '+' end"
                    f" || lpad((abs({tz}) // 3600)::varchar, 2, '0') || ':'"
                    f" || lpad((abs({tz}) % 3600 // 60)::varchar, 2, '0'))"
                )
            fields.append(f"coalesce(strftime({q}, '{fmt}') || {offset}, '')")
            values.append(q)
    select = f'from "archy"."{table}" where {keep}'
    # Each row is one text value, its CSV line, which DuckDB writes as it is (no quote, no
    # escape; the delimiter never comes up in a single column), under the header line.
    line = " || ',' || ".join(fields)
    header = ",".join(_csv_field(name) for name in names).replace('"', '""')
    source.execute(
        f'copy (select {line} as "{header}" {select}) to {_sql_text(str(csv))} '
        "(format csv, header true, quote '', escape '', delimiter '\x01')"
    )
    # Parquet from the rows as Arrow, as the frame's were: copied from the table, DuckDB would
    # mark its NOT NULL columns required.
    relation = source.sql(f"select {', '.join(values)} {select}")
    arrow = getattr(relation, "to_arrow_table", None) or relation.fetch_arrow_table
    scratch.register("frame", arrow())
    target = _sql_text(str(parquet))
    scratch.execute(f"copy (select * from frame) to {target} (format parquet)")
    scratch.unregister("frame")
    return True


def write_exports(
    model: ReportModel,
    positions: dict[str, tuple[float, float]],
    folder: Path,
    owner: str,
) -> list[Path]:
    """Write every diagram export into ``folder``; return the files written."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "backstage").mkdir(exist_ok=True)
    files = {
        MERMAID: mermaid(model),
        DRAWIO: drawio(model, positions),
        STRUCTURIZR: structurizr(model),
        BACKSTAGE: backstage_yaml(backstage(model, owner)),
    }  # fmt: skip
    for name, text in files.items():
        (folder / name).write_text(text, encoding="utf-8")
    (folder / GRAPHML).write_bytes(graphml(system_graph(model)))
    (folder / INSTANCES_GRAPHML).write_bytes(graphml(instance_graph(model)))
    return [folder / name for name in (*files, GRAPHML, INSTANCES_GRAPHML)]
