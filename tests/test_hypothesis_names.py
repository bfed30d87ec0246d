"""Bad data from Workato through the whole pipeline (issue 12, point 8): connection names that
are null, unicode, HTML or very long, recipes whose code is broken, 10,000 steps long or
10,000 levels deep, all served by the simulator over HTTP, synced, modelled and reported. The
sync lands everything but the broken recipes, which are quarantined with a reason; the
models and the report never crash; and no name executes in the report."""

from __future__ import annotations

import json
import tempfile
import xml.etree.ElementTree as ET
from html.parser import HTMLParser
from pathlib import Path

import dagster as dg
import duckdb
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from workato_simulator import WorkatoSimulator, Workspace
from workato_simulator.workspace import application_config

from archy_pipeline.assets.report import architecture_report
from archy_pipeline.resources.report import ReportResource
from archy_pipeline.resources.settings import ArchySettingsResource
from archy_pipeline.resources.warehouse import WarehouseResource
from archy_pipeline.resources.workato import WorkatoResource
from tests.support import TIME_SCALE, build_archy, materialize_sync, sync_resources

pytestmark = pytest.mark.slow

HOSTILE = [
    '<script>alert("archy")</script>',
    "<img src=x onerror=alert(1)>",
    '"><svg onload=alert(2)>',
    "</script><script>alert(3)</script>",
    "Salesforce \u2013 Prod \u2713 \u65e5\u672c\u8a9e \U0001f680",
    "null\x00byte",
    "x" * 5000,
    None,
]

names = st.one_of(
    st.none(),
    st.text(min_size=1, max_size=60),
    st.sampled_from(HOSTILE),
    st.text(alphabet="<>\"'&/= abc", min_size=1, max_size=40),
    st.text(min_size=2000, max_size=3000),
)

PROVIDERS = ["salesforce", "slack", "netsuite", "jira"]


def _deep_text(depth: int) -> str:
    """A trigger, ``depth`` nested ``if`` blocks and an action, as JSON text (json.dumps
    itself recurses too deep for it)."""
    head = '{"keyword":"trigger","provider":"salesforce","name":"new_object","block":['
    leaf = '{"keyword":"action","provider":"slack","name":"post_message"}'
    return head + '{"keyword":"if","block":[' * depth + leaf + "]}" * depth + "]}"


def _workspace(
    connection_names: list[str | None], big: bool
) -> tuple[Workspace, list[int], set[int]]:
    ws = Workspace(name="Hostile")
    project = ws.add_project("Names")
    connections = []
    for i, name in enumerate(connection_names):
        provider = PROVIDERS[i % len(PROVIDERS)]
        connections.append(ws.add_connection(provider, name, project.folder_id))
    good: list[int] = []
    for i, connection in enumerate(connections):
        other = connections[(i + 1) % len(connections)]
        code = {
            "number": 0, "keyword": "trigger", "provider": connection.application,
            "name": "new_object", "block": [
                {"number": 1, "keyword": "action", "provider": other.application,
                 "name": "create_object"}],
        }  # fmt: skip
        config = [application_config(connection.application, connection.id)]
        if other.application != connection.application:
            config.append(application_config(other.application, other.id))
        good.append(ws.add_recipe(connection.name or "unnamed", code, config, project.folder_id).id)
    if big:
        steps = {
            "number": 0, "keyword": "trigger", "provider": "salesforce", "name": "new_object",
            "block": [{"number": i, "keyword": "action", "provider": "slack",
                       "name": "post_message"} for i in range(1, 10_000)],
        }  # fmt: skip
        good.append(ws.add_recipe("10,000 steps", steps, folder_id=project.folder_id).id)
        deep = ws.add_recipe("10,000 deep", {"keyword": "trigger"}, folder_id=project.folder_id)
        deep.raw_code = _deep_text(10_000)
        good.append(deep.id)
    broken = set()
    for name, text in (("not JSON", "{not json"), ("a list", "[1, 2]")):
        recipe = ws.add_recipe(name, {"keyword": "trigger"}, folder_id=project.folder_id)
        recipe.raw_code = text
        broken.add(recipe.id)
    return ws, good, broken


class _Tags(HTMLParser):
    """Every start tag and its attributes, as a browser's tokenizer sees them."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.text: list[str] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))

    def handle_data(self, data):
        self.text.append(data)


def _assert_nothing_executes(site: Path) -> str:
    """Check every page's tags; return the pages' text as a browser would show it."""
    shown = []
    for page in site.rglob("*.html"):
        parser = _Tags()
        parser.feed(page.read_text(encoding="utf-8"))
        for tag, attrs in parser.tags:
            handlers = {a: v for a, v in attrs.items() if a.startswith("on")}
            # the templates' own handlers (a form's onsubmit="return false") are constant
            assert handlers in ({}, {"onsubmit": "return false"}), (page.name, tag, attrs)
            assert tag not in {"svg", "iframe", "object", "embed"}, (page.name, tag)
            if tag == "img":  # the static map, drawn by Graphviz, checked below
                assert attrs.get("src") == "map.svg", (page.name, attrs)
            if tag == "script":
                assert attrs.get("src", "").endswith(".js"), (page.name, attrs)
        shown.extend(parser.text)
    for drawing in site.rglob("*.svg"):  # opened on its own, an SVG runs its scripts
        for element in ET.parse(drawing).iter():
            assert not element.tag.endswith("script"), drawing
            assert not any(a.startswith("on") for a in element.attrib), (drawing, element.attrib)
    # The map's data file is one assignment of a JSON value: the names are strings in it,
    # never code (static/map.js puts them on the page through its esc()).
    (data,) = site.rglob("map-data.js")
    text = data.read_text(encoding="utf-8")
    prefix = "window.ARCHY_MAP = "
    assert text.startswith(prefix) and text.rstrip().endswith(";")
    json.loads(text[len(prefix) :].rstrip().removesuffix(";"))
    return "".join(shown)


@settings(
    max_examples=2,
    database=None,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(connection_names=st.lists(names, min_size=2, max_size=5), big=st.just(False))
@example(connection_names=HOSTILE, big=True)  # the big recipes once: they cost the most
@pytest.mark.timeout(900)
def test_hostile_names_and_bad_recipes_sync_model_and_report_without_executing(
    connection_names, big
):
    ws, good, broken = _workspace(connection_names, big)
    with (
        tempfile.TemporaryDirectory() as tmp,
        WorkatoSimulator(ws, time_scale=TIME_SCALE, rate_limits=None) as sim,
    ):
        folder = Path(tmp)
        warehouse = WarehouseResource(duckdb_path=str(folder / "warehouse.duckdb"))
        assert materialize_sync(sync_resources(sim, warehouse)).success
        assert build_archy(warehouse).success
        site = folder / "site"
        report = dg.materialize(
            [architecture_report],
            resources={
                "warehouse": warehouse,
                "workato": WorkatoResource(),
                "report": ReportResource(report_dir=str(site)),
                "settings": ArchySettingsResource(),
            },
        )
        assert report.success

        with duckdb.connect(str(warehouse.path), read_only=True) as con:
            landed = {i for (i,) in con.execute("select id from workato_raw.recipes").fetchall()}
            assert landed == set(good) | broken, "every recipe lands, broken ones too"
            quarantined = dict(
                con.execute("select recipe_id, error from workato_raw.recipe_errors").fetchall()
            )
            assert set(quarantined) == broken
            assert all("JSON" in reason for reason in quarantined.values()), quarantined
            steps = dict(
                con.execute(
                    "select recipe_id, count(*) from workato_raw.recipe_steps group by 1"
                ).fetchall()
            )
            if big:
                assert steps[good[-2]] == 10_000 and steps[good[-1]] == 10_002
            # Loaded as Parquet, every name arrives as given, NUL characters included (dlt's
            # insert_values writer, still used for PostgreSQL, drops them).
            served = {c.id: c.name for c in ws.connections.values()}
            stored = dict(
                con.execute("select connection_id, name from archy.system_instances").fetchall()
            )
            assert {int(k): v for k, v in stored.items()} == served, "names kept as given"
            described = con.execute(
                "select count(*) from archy.integrations where recipe_id in "
                f"({', '.join(map(str, good))})"
            ).fetchone()[0]
            assert described == len(good)
        shown = _assert_nothing_executes(site)
        for name in connection_names:
            if name and "<" in name and len(name) < 100:
                assert name in shown, f"{name!r} is shown as text"
