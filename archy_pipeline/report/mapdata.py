"""The system map: its layout (Graphviz), its static SVG, and the data the interactive map reads.

One layout serves both maps: Graphviz's ``dot`` places the systems once, left to right in the
direction data flows (from what recipes read to what they write), and the interactive map
starts from the same positions, so the printed map and the browsed one look alike.

A dense map is unreadable: the generated 300-recipe demo has 904 flows between 53 systems.
Both maps therefore draw, by default, only the flows of at least :func:`default_min_recipes`
recipes (at most :data:`MAX_DEFAULT_EDGES` flows); the interactive map has a slider to show
the rest, and groups the smallest systems into one node per workspace above
:data:`GROUP_ABOVE` systems.
"""

from __future__ import annotations

import json
import math
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from archy_pipeline.report.model import ENVIRONMENTS, ReportModel

#: Colours of the environments (Okabe-Ito, readable by colour-blind people).
ENVIRONMENT_COLOURS = {
    "production": "#D55E00",
    "staging": "#E69F00",
    "sandbox": "#009E73",
    "test": "#56B4E9",
    "development": "#CC79A7",
    "unknown": "#999999",
}
OTHER_COLOUR = "#0072B2"
#: At most this many flows are drawn by default (the rest behind the slider).
MAX_DEFAULT_EDGES = 150
#: Above this many systems, the interactive map groups the smallest ones by default.
GROUP_ABOVE = 80
#: The interactive map squeezes Graphviz's layout into about this many pixels.
MAP_WIDTH, MAP_HEIGHT = 1600.0, 1100.0
#: Graphviz gets this long to lay out the map before the report goes on without it.
LAYOUT_TIMEOUT_SECONDS = 120


def colour(environment: str) -> str:
    return ENVIRONMENT_COLOURS.get(environment, OTHER_COLOUR)


def default_min_recipes(weights: list[int], max_edges: int = MAX_DEFAULT_EDGES) -> int:
    """The smallest recipe count such that at most ``max_edges`` flows have at least that many."""
    ranked = sorted(weights, reverse=True)
    return 1 if len(ranked) <= max_edges else ranked[max_edges] + 1


@dataclass
class Layout:
    """Where each system sits (points, y up as Graphviz gives it) and the static SVG."""

    positions: dict[str, tuple[float, float]]
    svg: str | None
    #: Why there is no SVG (Graphviz missing or failed), for the map page.
    problem: str | None = None


def _quote(text: str) -> str:
    return '"' + str(text).replace("\\", "\\\\").replace('"', '\\"').replace("\n", " ") + '"'


def dot_source(model: ReportModel, min_recipes: int) -> str:
    """The map as a Graphviz graph: one cluster per workspace, a node per system (filled with
    its instances' environments), an edge per flow of at least ``min_recipes`` recipes."""
    ids = {node: f"s{i}" for i, node in enumerate(model.systems)}
    drawn = [f for f in model.flows if f.recipe_count >= min_recipes]
    heaviest = max((f.recipe_count for f in drawn), default=1)
    shown = len(drawn)
    total = len(model.flows)
    title = (
        f"System map: {len(model.systems)} systems, {shown} of {total} flows"
        + (f" (those of at least {min_recipes} recipes)" if shown < total else "")
        + ". Arrows point from what recipes read to what they write."
    )
    lines = [
        "digraph archy {",
        f"  graph [rankdir=LR, fontname=Helvetica, fontsize=12, labelloc=t, "
        f"label={_quote(title)}, nodesep=0.25, ranksep=1.1, outputorder=edgesfirst, "
        'tooltip="archy-pipeline system map"];',
        '  node [shape=box, style="rounded,filled", fontname=Helvetica, fontsize=11, '
        'penwidth=1.2, color="#333333"];',
        '  edge [color="#55555588", arrowsize=0.7];',
    ]
    for index, space in enumerate(model.workspaces.values()):
        lines.append(f"  subgraph cluster_{index} {{")
        lines.append(f'    label={_quote(space.name)}; color="#bbbbbb"; style=rounded;')
        for node, system in model.systems.items():
            if system.workspace != space.name:
                continue
            envs = system.environments()
            total_instances = sum(envs.values()) or 1
            ordered = [e for e in ENVIRONMENTS if e in envs] + sorted(set(envs) - set(ENVIRONMENTS))
            fill = ":".join(
                f"{colour(e)};{envs[e] / total_instances:.3f}" for e in ordered
            ) or colour("unknown")
            style = "rounded,filled" if len(ordered) <= 1 else "wedged"
            shape = "box" if len(ordered) <= 1 else "ellipse"
            label = f"{system.label}\n{len(system.recipes)} recipes"
            tip = ", ".join(f"{envs[e]} {e}" for e in ordered) or "no connection"
            lines.append(
                f"    {ids[node]} [label={_quote(label)}, fillcolor={_quote(fill)}, "
                f"style={_quote(style)}, shape={shape}, URL={_quote(system.page)}, "
                f'target="_top", tooltip={_quote(system.label + ": " + tip)}];'
            )
        lines.append("  }")
    for flow in drawn:
        width = 0.8 + 5 * math.sqrt(flow.recipe_count / heaviest)
        tip = (
            f"{model.systems[flow.source].label} -> {model.systems[flow.target].label}: "
            f"{flow.recipe_count} recipes"
        )
        lines.append(
            f"  {ids[flow.source]} -> {ids[flow.target]} [penwidth={width:.2f}, "
            f"weight={flow.recipe_count}, tooltip={_quote(tip)}];"
        )
    legend = " ".join(f'<TD BGCOLOR="{colour(e)}"> {e} </TD>' for e in model.environments())
    if legend:
        lines.append(
            f'  legend [shape=plaintext, style="", label=<<TABLE BORDER="0" '
            f'CELLSPACING="2"><TR><TD>Environments:</TD>{legend}</TR></TABLE>>];'
        )
    lines.append("}")
    return "\n".join(lines) + "\n"


def layout(model: ReportModel, min_recipes: int, workdir: Path) -> Layout:
    """Lay the map out with Graphviz ``dot`` (SVG and positions in one run).

    Without Graphviz (or when it fails), the systems sit on a circle per workspace and
    there is no static SVG; the reason is kept for the map page.
    """
    if not model.systems:
        return Layout({}, None, "no systems yet")
    dot = shutil.which("dot")
    problem = "Graphviz (dot) is not installed: apt-get install graphviz"
    if dot:
        source = workdir / "map.dot"
        source.write_text(dot_source(model, min_recipes), encoding="utf-8")
        svg_path, json_path = workdir / "map.svg", workdir / "map.json"
        try:
            subprocess.run(
                [dot, "-Tsvg", "-o", str(svg_path), "-Tjson0", "-o", str(json_path),
                 str(source)],
                check=True, capture_output=True, timeout=LAYOUT_TIMEOUT_SECONDS,
            )  # fmt: skip
        except (subprocess.CalledProcessError, subprocess.TimeoutExpired) as error:
            stderr = getattr(error, "stderr", b"") or b""
            problem = f"Graphviz failed: {stderr.decode(errors='replace')[:300] or error}"
        else:
            names = {f"s{i}": node for i, node in enumerate(model.systems)}
            positions = {}
            for item in json.loads(json_path.read_text(encoding="utf-8")).get("objects", []):
                if item.get("name") in names and "pos" in item:
                    x, y = (float(v) for v in item["pos"].split(","))
                    positions[names[item["name"]]] = (x, y)
            return Layout(positions, svg_path.read_text(encoding="utf-8"))
    return Layout(circle_positions(model), None, problem)


def circle_positions(model: ReportModel) -> dict[str, tuple[float, float]]:
    """Systems on one circle per workspace, workspaces side by side."""
    positions: dict[str, tuple[float, float]] = {}
    for column, space in enumerate(model.workspaces.values()):
        nodes = [n for n, s in model.systems.items() if s.workspace == space.name]
        radius = max(150.0, 30.0 * len(nodes) / math.pi)
        for i, node in enumerate(nodes):
            angle = 2 * math.pi * i / max(1, len(nodes))
            positions[node] = (
                column * (2 * radius + 200) + radius * math.cos(angle),
                radius * math.sin(angle),
            )
    return positions


def map_data(model: ReportModel, positions: dict[str, tuple[float, float]]) -> dict[str, Any]:
    """What the interactive map draws from (``map-data.js``), in compact lists of indexes.

    ``flows`` are the ``archy.system_flows`` rows as ``[source instance, target instance,
    [recipe indexes]]``: the map sums them per pair of shown nodes, so filters by workspace,
    environment, folder and system and the expansion of a system into its instances all
    recount recipes exactly.
    """
    environments = model.environments()
    env_index = {e: i for i, e in enumerate(environments)}
    folder_index = {f: i for i, f in enumerate(model.folders)}
    spaces = list(model.workspaces.values())
    ws_index = {s.name: i for i, s in enumerate(spaces)}
    system_index = {node: i for i, node in enumerate(model.systems)}
    instance_nodes = [i for s in model.systems.values() for i in s.instances]
    instance_index = {i.node: n for n, i in enumerate(instance_nodes)}
    recipes: list[list[Any]] = []
    recipe_index: dict[tuple[str, int], int] = {}
    instance_folders: dict[str, set[int]] = {i.node: set() for i in instance_nodes}
    for integration in model.integrations.values():
        folder = folder_index.get(integration.folder_path, -1)
        recipe_index[(integration.workspace, integration.recipe_id)] = len(recipes)
        recipes.append([ws_index[integration.workspace], integration.recipe_id, folder,
                        integration.name, integration.page])  # fmt: skip
        for use in integration.uses:
            instance_folders[use.instance.node].add(folder)
    flows = []
    for flow in model.flows:
        for row in flow.rows:
            source = f"connection:{row['workspace']}:{int(row['source_connection_id'])}"
            target = f"connection:{row['workspace']}:{int(row['target_connection_id'])}"
            ids = [
                recipe_index[key]
                for i in str(row["recipe_ids"] or "").split(",")
                if i and (key := (flow.workspace, int(i))) in recipe_index
            ]
            flows.append([instance_index[source], instance_index[target], ids])
    xs = [p[0] for p in positions.values()] or [0.0]
    ys = [p[1] for p in positions.values()] or [0.0]
    # Graphviz spaces boxes with their labels inside; the map draws dots with labels below,
    # so it squeezes the layout to a screen's proportions (its y grows downwards).
    sx = min(1.0, MAP_WIDTH / max(1.0, max(xs) - min(xs)))
    sy = min(1.0, MAP_HEIGHT / max(1.0, max(ys) - min(ys)))
    return {
        "environments": environments,
        "colours": {e: colour(e) for e in environments},
        "workspaces": [s.name for s in spaces],
        "folders": model.folders,
        "systems": [
            {
                "label": s.label,
                "ws": ws_index[s.workspace],
                "page": s.page,
                "category": s.category or "",
                "recipes": len(s.recipes),
                "x": round(sx * (positions.get(node, (0.0, 0.0))[0] - min(xs)), 1),
                "y": round(sy * (max(ys) - positions.get(node, (0.0, 0.0))[1]), 1),
            }
            for node, s in model.systems.items()
        ],
        "instances": [
            {
                "label": i.name,
                "sys": system_index[i.system],
                "env": env_index[i.environment],
                "app": i.application or "",
                "status": i.status or "",
                "mapping": i.match_status,
                "page": f"{model.systems[i.system].page}#{i.anchor}",
                "folders": sorted(instance_folders[i.node]),
            }
            for i in instance_nodes
        ],
        "recipes": recipes,
        "flows": flows,
        "defaultMinRecipes": default_min_recipes([f.recipe_count for f in model.flows]),
        "maxDefaultEdges": MAX_DEFAULT_EDGES,
        "groupAbove": GROUP_ABOVE,
    }
