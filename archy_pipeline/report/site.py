"""The static site: jinja2 pages, the map's data and scripts, the exports, written atomically.

The site opens from ``file://`` with no network: every script and style is copied from this
package (``static/``, Cytoscape.js vendored under ``static/vendor/``), and the map's data is a
script (``map-data.js``), since browsers refuse ``fetch`` of local files.
"""

from __future__ import annotations

import functools
import json
import shutil
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from importlib.resources import files
from pathlib import Path
from typing import Any

import jinja2
from markupsafe import Markup

from archy_pipeline.report import exports
from archy_pipeline.report.mapdata import (
    ENVIRONMENT_COLOURS,
    Layout,
    default_min_recipes,
    layout,
    map_data,
)
from archy_pipeline.report.model import (
    SEVERITIES,
    Integration,
    ReportModel,
    WarehouseReader,
    role_label,
)

#: Marks a folder as a report this module wrote, so replacing it never deletes anything else.
MARKER = ".archy-report"
#: Evidence lists longer than this are cut on the insights page (the table has them whole).
EVIDENCE_ITEMS = 25


class ReportDirError(ValueError):
    """The output folder exists, is not empty and is not a report written before."""


@dataclass(frozen=True)
class ReportSummary:
    """What was written, for the asset's metadata and the command line."""

    path: Path
    pages: int
    map_nodes: int
    map_edges: int
    map_edges_shown: int
    size_bytes: int
    exports: list[str] = field(default_factory=list)
    static_svg: bool = False
    layout_problem: str | None = None

    @property
    def index(self) -> Path:
        return self.path / "index.html"


def _escape_text(text: str) -> str:
    return (
        text.replace("&", "&amp;")
        .replace("<", "&lt;")
        .replace(">", "&gt;")
        .replace('"', "&#34;")
        .replace("'", "&#39;")
    )


try:  # markupsafe's own C function behind escape(), on text, without the Markup object
    from markupsafe._speedups import _escape_inner
except ImportError:  # pragma: no cover - markupsafe without its C speedups
    _escape_inner = _escape_text


def html_text(value: Any) -> str:
    """``value`` escaped for HTML exactly as markupsafe's ``escape`` (and so the templates) does
    it, as plain text: the Python loops below build thousands of links per page, and
    ``escape`` makes a Markup object of each value. Escaped by markupsafe's C function when it
    has it (five ``str.replace`` calls took a third of the integration pages' time)."""
    return _escape_inner(str(value))


@functools.lru_cache(maxsize=1 << 16)
def _link(name: Any, href: str | None, root: str) -> str:
    """A link to ``href`` (from ``root``), or the name alone; cached: the same recipes and
    systems are linked from many pages."""
    text = html_text(name)
    return f'<a href="{html_text(root + href)}">{text}</a>' if href else text


def _links(model: ReportModel, kind: str, root: str) -> dict[Any, str]:
    """The links of ``kind`` made so far for pages at ``root``, kept on the model: its pages
    list the same recipes and subjects again and again (a system page of 5,000 recipes links
    each of its recipes from every connection and impact list). The model does not change
    once loaded, so a link made once stays right."""
    caches = model.__dict__.setdefault("_html_links", {})
    found = caches.get((kind, root))
    if found is None:
        found = caches[(kind, root)] = {}
    return found


def recipes_html(model: ReportModel, ids: list[int], workspace: str, root: str) -> Markup:
    """Links to the pages of recipes ``ids``, comma-separated (a Python loop: a template
    macro per link made the system pages of a large workspace slow)."""
    known = _links(model, "recipe", root)
    links = []
    for recipe_id in ids:
        link = known.get((workspace, recipe_id))
        if link is None:
            item = model.integrations.get(f"recipe:{workspace}:{recipe_id}")
            link = _link(item.name, item.page, root) if item else str(recipe_id)
            known[(workspace, recipe_id)] = link
        links.append(link)
    return Markup(", ".join(links))


def subjects_html(model: ReportModel, subjects: list[dict[str, Any]], root: str) -> Markup:
    """Links to the pages of impact or insight subjects (``{"id", "name"}``), comma-separated;
    a breaking call's callee is named after its caller."""
    known = _links(model, "subject", root)
    links = []
    for subject in subjects:
        key = (subject["id"], subject["name"])
        link = known.get(key)
        if link is None:
            link = known[key] = _link(subject["name"], model.page_of(subject["id"]), root)
        if subject.get("calls"):
            link += f" <small>(calls {html_text(subject['calls'])})</small>"
        links.append(link)
    return Markup(", ".join(links))


def count_by(items: Iterable[Any], *attributes: str) -> Counter:
    """How many of ``items`` have each value of ``attribute`` (a tuple of values for several):
    one pass, where a ``selectattr`` per table cell made a pass over every insight each."""
    if len(attributes) == 1:
        return Counter(getattr(item, attributes[0]) for item in items)
    return Counter(tuple(getattr(item, a) for a in attributes) for item in items)


def env_html(name: str) -> str:
    """An environment's badge, as the ``env`` macro of macros.html.j2 draws it."""
    colour = html_text(ENVIRONMENT_COLOURS.get(name, "#0072B2"))
    return f'<span class="env" style="background: {colour}">{html_text(name)}</span>'


def uses_html(model: ReportModel, item: Integration, root: str) -> Markup:
    """The rows of an integration page's systems table (a Python loop, like
    :func:`recipes_html`: the template loop made the pages of 5,000 recipes slow)."""
    e = html_text
    rows = []
    for use in item.uses:
        instance = use.instance
        system = model.systems[instance.system]
        trigger = " <small>(trigger)</small>" if use.by_trigger else ""
        rows.append(
            f'<tr class="role-{e(use.role)}"><td>{_link(system.label, system.page, root)}</td>'
            f'<td><a href="{e(root)}{e(model.page_of(instance.node))}">{e(instance.name)}</a>'
            f"</td><td>{env_html(instance.environment)}</td>\n"
            f"<td>{e(role_label(use.role))}{trigger}</td>"
            f"<td>{e(use.read_steps)} read, {e(use.write_steps)} write</td></tr>"
        )
    return Markup("\n".join(rows))


def steps_html(model: ReportModel, item: Integration, root: str) -> Markup:
    """The items of an integration page's list of steps (a Python loop, see :func:`uses_html`)."""
    e = html_text
    rows = []
    for step in item.steps:
        html = [f'<li style="margin-left: {e(step.depth * 1.5)}em"']
        if step.skipped:
            html.append(' class="skipped"')
        html.append(f'><span class="kw">{e(step.keyword)}</span> {e(step.application or "")}')
        if step.action:
            html.append(f": {e(step.action)}")
        if step.access in ("read", "write", "unknown"):
            html.append(f'<span class="access access-{e(step.access)}">{e(step.access)}</span>')
        if step.connection:
            page = model.page_of(step.connection.node)
            html.append(f' <a href="{e(root)}{e(page)}">{e(step.connection.name)}</a>')
        if step.reference_name or step.reference:
            reference = step.reference_name or step.reference
            html.append(f" <small>{e(step.reference_kind)} {e(reference)}</small>")
        if step.skipped:
            html.append(" <small>(skipped)</small>")
        html.append("</li>")
        rows.append("".join(html))
    return Markup("\n".join(rows))


def _environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("archy_pipeline.report", "templates"),
        autoescape=jinja2.select_autoescape(enabled_extensions=("html", "j2")),
        trim_blocks=True,
        lstrip_blocks=True,
        undefined=jinja2.StrictUndefined,
        auto_reload=False,
    )
    env.filters["when"] = _when
    env.filters["role"] = role_label
    env.filters["evidence"] = _evidence
    env.filters["pct"] = lambda v: "" if v is None else f"{float(v) * 100:.0f}%"
    env.globals["colours"] = ENVIRONMENT_COLOURS
    env.globals["severities"] = SEVERITIES
    env.globals["recipes_html"] = recipes_html
    env.globals["subjects_html"] = subjects_html
    env.globals["uses_html"] = uses_html
    env.globals["count_by"] = count_by
    env.globals["steps_html"] = steps_html
    return env


def _when(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M UTC") if value.tzinfo else value.isoformat(" ")
    return str(value)


def age(now: datetime, then: datetime | None) -> str:
    """``then`` as an age: ``5 min``, ``3 h``, ``2 days``."""
    if then is None:
        return "never"
    seconds = max(0.0, (now - then).total_seconds())
    if seconds < 3600:
        return f"{seconds / 60:.0f} min"
    if seconds < 2 * 86400:
        return f"{seconds / 3600:.0f} h"
    return f"{seconds / 86400:.0f} days"


def _cut(value: Any) -> Any:
    if isinstance(value, list):
        head = [_cut(v) for v in value[:EVIDENCE_ITEMS]]
        more = len(value) - EVIDENCE_ITEMS
        return [*head, f"... and {more} more (archy.insights has them all)"] if more > 0 else head
    if isinstance(value, dict):
        return {k: _cut(v) for k, v in value.items()}
    return value


def _evidence(evidence: dict[str, Any]) -> str:
    return json.dumps(_cut(evidence), indent=1, sort_keys=True, default=str)


def _replace(site: Path, staging: Path) -> None:
    """Swap the freshly written ``staging`` folder in as ``site`` (readers see the old site or
    the new one); an existing folder is replaced only when this module wrote it."""
    if site.exists() and not (site / MARKER).exists() and any(site.iterdir()):
        raise ReportDirError(
            f"{site} exists and is not an archy-pipeline report: refusing to replace it "
            "(choose another folder with ARCHY_REPORT_DIR)"
        )
    old = site.with_name(f".{site.name}.old")
    shutil.rmtree(old, ignore_errors=True)
    if site.exists():
        site.rename(old)
    staging.rename(site)
    shutil.rmtree(old, ignore_errors=True)


def _copy_static(target: Path) -> None:
    source = files("archy_pipeline.report").joinpath("static")

    def copy(folder: Any, into: Path) -> None:
        into.mkdir(parents=True, exist_ok=True)
        for entry in folder.iterdir():
            if entry.is_dir():
                copy(entry, into / entry.name)
            elif not entry.name.startswith(("_", ".")):
                (into / entry.name).write_bytes(entry.read_bytes())

    copy(source, target)


def build_site(
    model: ReportModel,
    site: Path,
    *,
    warehouse: WarehouseReader,
    placeholder: str,
    owner: str = "integration-architecture",
) -> ReportSummary:
    """Write the whole report (pages, map, exports, tables) to ``site``, replacing it whole."""
    site = site.resolve()
    site.parent.mkdir(parents=True, exist_ok=True)
    staging = site.with_name(f".{site.name}.building")
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir()
    (staging / MARKER).write_text("written by archy-pipeline report\n")
    _copy_static(staging / "static")

    min_recipes = default_min_recipes([f.recipe_count for f in model.flows])
    work = staging / ".layout"
    work.mkdir()
    placed: Layout = layout(model, min_recipes, work)
    shutil.rmtree(work)
    if placed.svg is not None:
        (staging / "map.svg").write_text(placed.svg, encoding="utf-8")
    data = map_data(model, placed.positions)
    (staging / "map-data.js").write_text(
        "window.ARCHY_MAP = " + json.dumps(data, separators=(",", ":")) + ";\n", encoding="utf-8"
    )

    written = exports.write_exports(model, placed.positions, staging / "exports", owner)
    keep = set(model.workspaces)
    written += exports.write_tables(warehouse, placeholder, staging / "exports" / "tables", keep)
    export_names = [str(p.relative_to(staging)) for p in written]

    env = _environment()
    pages: dict[str, tuple[str, dict[str, Any]]] = {
        "index.html": ("index.html.j2", {"exports": export_names, "svg": placed.svg is not None}),
        "map.html": ("map.html.j2", {"layout": placed, "min_recipes": min_recipes}),
        "systems.html": ("systems.html.j2", {}),
        "integrations.html": ("integrations.html.j2", {}),
        "insights.html": ("insights.html.j2", {}),
        "impact.html": ("impact.html.j2", {}),
    }
    for system in model.systems.values():
        pages[system.page] = ("system.html.j2", {"system": system})
    for integration in model.integrations.values():
        pages[integration.page] = ("integration.html.j2", {"item": integration})
    templates: dict[str, jinja2.Template] = {}
    for path, (template, context) in pages.items():
        root = "../" * path.count("/")
        if template not in templates:
            templates[template] = env.get_template(template)
        html = templates[template].render(model=model, root=root, page=path, age=age, **context)
        target = staging / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(html, encoding="utf-8")

    size = sum(p.stat().st_size for p in staging.rglob("*") if p.is_file())
    _replace(site, staging)
    return ReportSummary(
        path=site,
        pages=len(pages),
        map_nodes=len(model.systems),
        map_edges=len(model.flows),
        map_edges_shown=sum(1 for f in model.flows if f.recipe_count >= min_recipes),
        size_bytes=size,
        exports=export_names,
        static_svg=placed.svg is not None,
        layout_problem=placed.problem,
    )
