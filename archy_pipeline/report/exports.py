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

import math
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


# ---------------------------------------------------------------------- tables


def write_tables(
    warehouse: WarehouseReader, placeholder: str, folder: Path, workspaces: set[str] | None
) -> list[Path]:
    """``<table>.csv`` and ``<table>.parquet`` for every table and view of the ``archy``
    schema (rows of ``workspaces`` only, where the table has a workspace column), read over one
    connection, except the notification log (:data:`NOT_EXPORTED`). Parquet is written by
    DuckDB.

    The files are what a pandas frame of the fetched rows writes (:func:`_frame_table`: pandas'
    CSV, the frame's column types in Parquet). From a DuckDB warehouse the same frame is made
    through Arrow (:func:`_duckdb_table`), for a fraction of the CPU."""
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
    _write_frame(pd.DataFrame(cursor.fetchall(), columns=names), con, workspaces, csv, parquet)


def _write_frame(
    frame: Any, con: Any, workspaces: set[str] | None, csv: Path, parquet: Path
) -> None:
    """pandas writes the CSV; DuckDB the Parquet, from the frame."""
    if workspaces is not None and "workspace" in frame:
        frame = frame[frame["workspace"].isin(workspaces)]
    frame.to_csv(csv, index=False)
    con.register("frame", frame)
    target = str(parquet).replace("'", "''")
    con.execute(f"copy (select * from frame) to '{target}' (format parquet)")
    con.unregister("frame")


def _duckdb_table(
    source: Any,
    scratch: Any,
    table: str,
    workspaces: set[str] | None,
    csv: Path,
    parquet: Path,
) -> bool:
    """Write ``table``'s CSV and Parquet from a DuckDB warehouse: the files
    :func:`_frame_table` writes, from the same frame made through Arrow
    (:func:`~archy_pipeline.warehouse.duckdb.arrow_frame`: the frame of the fetched rows, for
    a fraction of the CPU). False (nothing written) for a table without rows."""
    from archy_pipeline.warehouse.duckdb import arrow_frame

    arrow = source.sql(f'select * from "archy"."{table}"').to_arrow_table()
    if not arrow.num_rows:
        return False
    _write_frame(arrow_frame(arrow), scratch, workspaces, csv, parquet)
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
        BACKSTAGE: yaml.dump_all(backstage(model, owner), Dumper=_DUMPER, sort_keys=False,
                                 allow_unicode=True),
    }  # fmt: skip
    for name, text in files.items():
        (folder / name).write_text(text, encoding="utf-8")
    (folder / GRAPHML).write_bytes(graphml(system_graph(model)))
    (folder / INSTANCES_GRAPHML).write_bytes(graphml(instance_graph(model)))
    return [folder / name for name in (*files, GRAPHML, INSTANCES_GRAPHML)]
