"""The architecture report: the site the docs asset writes, its exports read back by their own
parsers, and the site in headless Chromium from file:// with the network blocked.

One module-scoped demo: a generated workspace served by the simulator, synced twice through
``archy-pipeline sync`` (which runs the transform job, docs group included) with a change in
between, so the change feed has something to show. Tests copy nothing out of it; those that
rebuild write to their own folders.
"""

from __future__ import annotations

import io
import json
import os
import re
import shutil
import xml.etree.ElementTree as ET
from collections import Counter
from collections.abc import Iterator
from contextlib import redirect_stdout
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urlsplit

import dagster as dg
import duckdb
import networkx as nx
import pytest
import yaml
from workato_simulator import WorkatoSimulator
from workato_simulator.generator import generate_workspace

from archy_pipeline.assets.report import architecture_report
from archy_pipeline.cli import main
from archy_pipeline.report.exports import write_tables
from archy_pipeline.report.mapdata import default_min_recipes
from archy_pipeline.resources.report import ReportResource
from archy_pipeline.resources.settings import ArchySettingsResource
from archy_pipeline.resources.warehouse import WarehouseResource
from archy_pipeline.resources.workato import WorkatoResource
from archy_pipeline.warehouse import DuckDBWarehouse

WORKSPACE = "Demo"
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--no-first-run",
    "--disable-background-networking",
    "--no-proxy-server",
]

#: The system each current connection belongs to, as the analysis decides it: the mapped
#: system when matched or partially matched, else the connection's application.
SYSTEM_OF_CONNECTION = """
    select i.workspace, i.connection_id, i.environment,
           case when m.match_status in ('matched', 'partial') and m.system_id is not null
                then m.system_id else coalesce(i.application, 'unknown') end as system
    from archy.system_instances i
    left join archy.system_mappings m using (workspace, connection_id)
    where i.deleted_at is null
"""

#: archy.system_flows summed per pair of systems, each recipe counted once.
SYSTEM_FLOWS = f"""
    with c as ({SYSTEM_OF_CONNECTION})
    select f.workspace, s.system, t.system, count(distinct r.id) as recipes
    from archy.system_flows f
    join c s on s.workspace = f.workspace and s.connection_id = f.source_connection_id
    join c t on t.workspace = f.workspace and t.connection_id = f.target_connection_id,
    unnest(string_split(f.recipe_ids, ',')) as r(id)
    group by all
"""


@dataclass
class Demo:
    duckdb_path: Path
    site: Path
    base_url: str
    sync_output: str

    def sql(self, query: str, params: list | None = None) -> list[tuple]:
        with duckdb.connect(str(self.duckdb_path), read_only=True) as con:
            return con.execute(query, params or []).fetchall()

    def systems(self) -> dict[tuple[str, str], str]:
        """``(workspace, system key) -> label`` of the map's nodes (the analysis' systems)."""
        rows = self.sql(
            "select workspace, id, label from archy.graph_nodes where graph = 'systems'"
        )
        return {(ws, node.split(":", 2)[2]): label for ws, node, label in rows}

    def flows(self) -> dict[tuple[str, str, str], int]:
        return {(ws, s, t): n for ws, s, t, n in self.sql(SYSTEM_FLOWS)}


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Demo]:
    root = tmp_path_factory.mktemp("report_demo")
    ws = generate_workspace(7, recipes=40)
    with pytest.MonkeyPatch.context() as env, WorkatoSimulator(ws, rate_limits=None) as sim:
        for name in ("WORKATO_BASE_URL", "ARCHY_REPORT_DIR", "ARCHY_POSTGRES_DSN"):
            env.delenv(name, raising=False)
        env.setenv("DAGSTER_HOME", str(root / "dagster_home"))
        (root / "dagster_home").mkdir()
        config = root / "archy.yaml"
        config.write_text(f"workspaces:\n  - name: {WORKSPACE}\n    base_url: {sim.base_url}\n")
        env.setenv("ARCHY_CONFIG", str(config))
        env.setenv("ARCHY_DUCKDB_PATH", str(root / "warehouse.duckdb"))
        env.setenv("WORKATO_API_TOKEN", sim.token)
        assert main(["sync"]) == 0
        running = next(r for r in ws.recipes.values() if r.running)
        ws.stop_recipe(running.id, "trigger_errors_limit")
        out = io.StringIO()
        with redirect_stdout(out):
            assert main(["sync"]) == 0
        yield Demo(root / "warehouse.duckdb", root / "report", sim.base_url.removesuffix("/api"),
                   out.getvalue())  # fmt: skip


# ---------------------------------------------------------------------- the site


def test_each_sync_rebuilds_the_report_beside_the_warehouse(demo):
    assert f"== report: {demo.site}" in demo.sync_output
    assert (demo.site / "index.html").is_file()
    assert (demo.site / ".archy-report").is_file()
    pages = list(demo.site.rglob("*.html"))
    match = re.search(r"== report: .* \((\d+) pages\)", demo.sync_output)
    assert match and int(match.group(1)) == len(pages)


def test_a_page_per_system_and_per_current_integration(demo):
    systems = demo.systems()
    assert len(list((demo.site / "systems").glob("*.html"))) == len(systems)
    ((current,),) = demo.sql("select count(*) from archy.integrations where deleted_at is null")
    assert len(list((demo.site / "integrations").glob("*.html"))) == current


class _Links(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.refs: list[tuple[str, str]] = []
        self.ids: set[str] = set()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        if values.get("id"):
            self.ids.add(values["id"])
        for name in ("href", "src"):
            if values.get(name):
                self.refs.append((tag, values[name]))


def test_every_link_resolves_and_nothing_is_fetched_from_the_network(demo):
    parsed: dict[Path, _Links] = {}
    for page in demo.site.rglob("*.html"):
        parser = _Links()
        parser.feed(page.read_text(encoding="utf-8"))
        parsed[page.resolve()] = parser
    broken, remote = [], []
    for page, parser in parsed.items():
        for tag, ref in parser.refs:
            parts = urlsplit(ref)
            if parts.scheme in ("http", "https"):
                # Only links to the workspace's Workato host (its recipes) leave the site.
                if tag in ("script", "link") or not ref.startswith(demo.base_url):
                    remote.append((page.name, ref))
                continue
            target = (page.parent / unquote(parts.path)).resolve() if parts.path else page
            if not target.exists():
                broken.append((page.name, ref))
            elif parts.fragment and target.suffix == ".html" and "=" not in parts.fragment:
                if parts.fragment not in parsed[target].ids:
                    broken.append((page.name, ref))
    assert not broken, broken[:10]
    assert not remote, remote[:10]


def test_an_integration_page_links_to_the_recipe_in_workato(demo):
    ((recipe_id, name),) = demo.sql(
        "select recipe_id, name from archy.integrations where deleted_at is null "
        "order by recipe_id limit 1"
    )
    page = (demo.site / "integrations" / f"demo-{recipe_id}.html").read_text()
    assert f'href="{demo.base_url}/recipes/{recipe_id}"' in page
    assert name.replace("&", "&amp;") in page


def test_the_overview_lists_unmapped_connections_and_the_latest_changes(demo):
    page = (demo.site / "index.html").read_text()
    for (name,) in demo.sql(
        "select connection_name from archy.system_mappings where match_status <> 'matched'"
    ):
        assert name.replace("&", "&amp;") in page
    changes = demo.sql(
        "select type, subject_name from archy.change_events "
        "where detected_at = (select max(detected_at) from archy.change_events)"
    )
    assert "recipe_status_changed" in {t for t, _ in changes}, changes
    for kind, _ in changes:
        assert f'<span class="tag">{kind}</span>' in page
    (open_count,) = demo.sql("select count(*) from archy.insights where status = 'open'")[0]
    assert f"<b>{open_count}</b> open insights" in page


def test_system_pages_give_the_same_impact_as_the_impact_command(demo, capsys, monkeypatch):
    monkeypatch.setenv("ARCHY_DUCKDB_PATH", str(demo.duckdb_path))
    node, label = demo.sql(
        "select id, label from archy.graph_nodes where graph = 'systems' order by degree desc"
    )[0]
    assert main(["impact", node]) == 0
    printed = capsys.readouterr().out
    summary = re.search(r"(\d+) recipe\(s\) affected: (\d+) directly, (\d+) through calls; "
                        r"(\d+) downstream system\(s\)", printed)  # fmt: skip
    assert summary
    key = node.split(":", 2)[2]
    page = next((demo.site / "systems").glob(f"*--{re.sub(r'[^a-z0-9]+', '-', key)}.html"))
    html = page.read_text()
    affected, direct, calls, downstream = summary.groups()
    assert (
        f"<strong>{affected}</strong> recipe(s) affected: {direct} directly, {calls} through "
        f"calls; {downstream} downstream system(s)."
    ) in html
    assert label.replace("&", "&amp;") in html


def test_impacts_of_many_targets_equal_impact_of_each(demo):
    from archy_pipeline.analysis import build_graphs, impact, impacts
    from archy_pipeline.assets.analysis import load_analysis_input

    inp = load_analysis_input(WarehouseResource(duckdb_path=str(demo.duckdb_path)))
    graphs = build_graphs(inp)
    targets = [n for n, d in graphs.systems.nodes(data=True)] + [
        n for n, d in graphs.instances.nodes(data=True) if d["type"] == "connection"
    ]
    assert impacts(graphs, inp, targets) == [impact(graphs, inp, t) for t in targets]


def test_the_static_map_is_an_svg_with_a_node_per_system(demo):
    root = ET.parse(demo.site / "map.svg").getroot()
    texts = " ".join(t.text or "" for t in root.iter("{http://www.w3.org/2000/svg}text"))
    for label in demo.systems().values():
        assert label in texts


def test_the_map_data_holds_every_system_and_flow_row(demo):
    text = (demo.site / "map-data.js").read_text()
    data = json.loads(text.removeprefix("window.ARCHY_MAP = ").rstrip().rstrip(";"))
    assert sorted(s["label"] for s in data["systems"]) == sorted(demo.systems().values())
    (rows,) = demo.sql("select count(*) from archy.system_flows")[0]
    assert len(data["flows"]) == rows


def test_the_docs_asset_records_pages_path_and_map_size(demo, tmp_path):
    site = tmp_path / "site"
    result = dg.materialize(
        [architecture_report],
        resources={
            "warehouse": WarehouseResource(duckdb_path=str(demo.duckdb_path)),
            "workato": WorkatoResource(),
            "report": ReportResource(report_dir=str(site)),
            "settings": ArchySettingsResource(),
        },
    )
    (event,) = result.get_asset_materialization_events()
    metadata = event.materialization.metadata
    assert event.materialization.asset_key == dg.AssetKey(["docs", "report"])
    assert metadata["path"].value == str(site.resolve())
    assert metadata["pages"].value == len(list(site.rglob("*.html")))
    assert metadata["map_nodes"].value == len(demo.systems())
    assert metadata["map_edges"].value == len(demo.flows())
    assert metadata["map_edges_shown"].value <= metadata["map_edges"].value


# ---------------------------------------------------------------------- exports


def test_graphml_reads_back_with_the_edges_of_system_flows(demo):
    instances = nx.read_graphml(demo.site / "exports" / "instances.graphml")
    expected = {
        (f"connection:{ws}:{s}", f"connection:{ws}:{t}"): n
        for ws, s, t, n in demo.sql(
            "select workspace, source_connection_id, target_connection_id, recipe_count "
            "from archy.system_flows"
        )
    }
    got = {(s, t): d["recipe_count"] for s, t, d in instances.edges(data=True)}
    assert got == expected
    systems = nx.read_graphml(demo.site / "exports" / "system-map.graphml")
    got = {
        (s.split(":", 2)[1], s.split(":", 2)[2], t.split(":", 2)[2]): d["recipe_count"]
        for s, t, d in systems.edges(data=True)
    }
    assert got == demo.flows()
    assert {systems.nodes[n]["label"] for n in systems} == set(demo.systems().values())


def test_drawio_is_xml_with_one_cell_per_system_and_flow(demo):
    root = ET.parse(demo.site / "exports" / "system-map.drawio").getroot()
    (diagram,) = root.findall("diagram")
    assert diagram.get("name") == WORKSPACE
    cells = diagram.findall("mxGraphModel/root/mxCell")
    vertices = {c.get("id"): c.get("value") for c in cells if c.get("vertex") == "1"}
    edges = [c for c in cells if c.get("edge") == "1"]
    assert sorted(vertices.values()) == sorted(demo.systems().values())
    assert len(edges) == len(demo.flows())
    assert len(cells) == 2 + len(vertices) + len(edges)  # plus draw.io's two root cells
    labels = {(ws, key): label for (ws, key), label in demo.systems().items()}
    expected = Counter(
        (labels[(ws, s)], labels[(ws, t)], n) for (ws, s, t), n in demo.flows().items()
    )
    got = Counter(
        (vertices[e.get("source")], vertices[e.get("target")], int(e.get("value"))) for e in edges
    )
    assert got == expected


def test_backstage_entities_load_and_every_dependency_exists(demo):
    entities = list(
        yaml.safe_load_all((demo.site / "exports/backstage/catalog-info.yaml").read_text())
    )
    refs = {f"{e['kind'].lower()}:default/{e['metadata']['name']}" for e in entities}
    kinds = Counter(e["kind"] for e in entities)
    (current,) = demo.sql("select count(*) from archy.integrations where deleted_at is null")[0]
    assert kinds["Component"] == current
    assert kinds["System"] == len(demo.systems())
    assert kinds["Domain"] == 1
    name = re.compile(r"^[A-Za-z0-9][-A-Za-z0-9_.]{0,61}[A-Za-z0-9]$")
    depends = 0
    for entity in entities:
        assert name.match(entity["metadata"]["name"]), entity["metadata"]["name"]
        for target in entity["spec"].get("dependsOn", []):
            assert target in refs, target
            depends += 1
        if entity["kind"] == "Resource":
            assert f"system:default/{entity['spec']['system']}" in refs
    (uses,) = demo.sql(
        "select count(distinct (s.workspace, s.recipe_id, s.connection_id)) "
        "from archy.integration_systems s join archy.integrations i using (workspace, recipe_id) "
        "where i.deleted_at is null"
    )[0]
    assert depends >= uses > 0


def test_mermaid_lines_match_the_tables(demo):
    lines = (demo.site / "exports" / "system-map.mmd").read_text().splitlines()
    assert lines[0] == "flowchart LR"
    nodes = dict(re.findall(r'^    (s\d+)\["(.*)"\]$', "\n".join(lines), re.M))
    edges = re.findall(r'^  (s\d+) -->\|"(\d+) recipes?"\| (s\d+)$', "\n".join(lines), re.M)
    assert sorted(nodes.values()) == sorted(demo.systems().values())
    labels = demo.systems()
    expected = Counter(
        (labels[(ws, s)], labels[(ws, t)], n) for (ws, s, t), n in demo.flows().items()
    )
    assert Counter((nodes[a], nodes[b], int(n)) for a, n, b in edges) == expected


def test_structurizr_lines_match_the_tables(demo):
    text = (demo.site / "exports" / "workspace.dsl").read_text()
    nodes = dict(re.findall(r'^ +(s\d+) = softwareSystem "([^"]*)"', text, re.M))
    edges = re.findall(r'^ +(s\d+) -> (s\d+) "(\d+) recipes?" "Workato" \{\n +tags "Workato '
                       r'flow,recipes:(\d+)"', text, re.M)  # fmt: skip
    assert sorted(nodes.values()) == sorted(demo.systems().values())
    labels = demo.systems()
    expected = Counter(
        (labels[(ws, s)], labels[(ws, t)], n) for (ws, s, t), n in demo.flows().items() if s != t
    )
    assert Counter((nodes[a], nodes[b], int(n)) for a, b, n, tag in edges) == expected
    assert all(n == tag for _, _, n, tag in edges)
    assert text.count("{") == text.count("}")


def test_public_tables_export_as_csv_and_parquet(demo):
    from archy_pipeline.report.exports import NOT_EXPORTED

    tables = demo.sql(
        "select table_name from information_schema.tables where table_schema = 'archy'"
    )
    assert len(tables) > 10
    folder = demo.site / "exports" / "tables"
    assert not [t for (t,) in tables if t in NOT_EXPORTED and (folder / f"{t}.csv").exists()]
    with duckdb.connect(str(demo.duckdb_path), read_only=True) as con:
        for (table,) in tables:
            if table in NOT_EXPORTED:
                continue
            (count,) = con.execute(f'select count(*) from archy."{table}"').fetchone()
            columns = [r[0] for r in con.execute(f'describe archy."{table}"').fetchall()]
            parquet = con.execute(f"select * from read_parquet('{folder / table}.parquet')")
            assert [d[0] for d in parquet.description] == columns, table
            assert len(parquet.fetchall()) == count, table
            csv = con.execute(f"select count(*) from read_csv('{folder / table}.csv')").fetchone()
            assert csv == (count,) or count == 0, table


def test_the_notification_and_audit_logs_are_not_exported(tmp_path):
    from archy_pipeline.audit import AuditEvent, record

    warehouse = DuckDBWarehouse(tmp_path / "warehouse.duckdb")
    warehouse.publish_rows("archy", "integrations", {"workspace": "varchar"}, [("W",)])
    warehouse.append_rows(
        "archy", "notification_deliveries", {"workspace": "varchar", "target": "varchar"},
        [("W", "smtp.internal.example:587")],
    )  # fmt: skip
    assert record(warehouse, [AuditEvent("disconnect", "ops@host.internal", "W")]) == 1
    written = write_tables(warehouse, "?", tmp_path / "tables", None)
    assert sorted(path.name for path in written) == ["integrations.csv", "integrations.parquet"]


# ---------------------------------------------------------------------- the command and the folder


def test_report_command_builds_one_workspace_and_refuses_others(
    demo, tmp_path, monkeypatch, capsys
):
    monkeypatch.setenv("ARCHY_DUCKDB_PATH", str(demo.duckdb_path))
    monkeypatch.setenv("ARCHY_REPORT_DIR", str(tmp_path / "out"))
    assert main(["report", "--workspace", "Nowhere"]) == 1
    assert "no integrations of workspace 'Nowhere'" in capsys.readouterr().err
    assert main(["report", "--workspace", WORKSPACE]) == 0
    out = capsys.readouterr().out
    assert out.strip().splitlines()[-1] == f"Report: {(tmp_path / 'out' / 'index.html').resolve()}"

    broken = tmp_path / "archy.yaml"
    broken.write_text("schedules:\n  daily: '99 99 * * *'\n")
    monkeypatch.setenv("ARCHY_CONFIG", str(broken))
    assert main(["report"]) == 2, "an invalid archy.yaml: one line and exit 2, as everywhere"
    (line,) = capsys.readouterr().err.splitlines()
    assert line.startswith(f"{broken}: schedules.daily: '99 99 * * *' is not a valid cron")


def test_a_rebuild_replaces_the_site_whole_and_never_a_foreign_folder(demo, tmp_path, monkeypatch):
    monkeypatch.setenv("ARCHY_DUCKDB_PATH", str(demo.duckdb_path))
    site = tmp_path / "site"
    monkeypatch.setenv("ARCHY_REPORT_DIR", str(site))
    assert main(["report"]) == 0
    (site / "stale.html").write_text("left over")
    assert main(["report"]) == 0
    assert not (site / "stale.html").exists()
    foreign = tmp_path / "documents"
    foreign.mkdir()
    (foreign / "thesis.txt").write_text("precious")
    monkeypatch.setenv("ARCHY_REPORT_DIR", str(foreign))
    assert main(["report"]) == 1
    assert (foreign / "thesis.txt").read_text() == "precious"


def test_without_graphviz_the_map_still_works_and_says_why(demo, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("ARCHY_DUCKDB_PATH", str(demo.duckdb_path))
    monkeypatch.setenv("ARCHY_REPORT_DIR", str(tmp_path / "site"))
    monkeypatch.setenv("PATH", str(tmp_path))  # no dot on it
    assert main(["report"]) == 0
    assert "no static map: Graphviz (dot) is not installed" in capsys.readouterr().err
    assert not (tmp_path / "site" / "map.svg").exists()
    assert "Graphviz (dot) is not installed" in (tmp_path / "site" / "map.html").read_text()


@pytest.mark.parametrize(
    ("weights", "limit", "expected"),
    [
        pytest.param([1, 2, 3], 5, 1, id="few-flows-all-shown"),
        pytest.param([5, 4, 4, 3, 1], 2, 5, id="ties-at-the-limit-drop-together"),
        pytest.param([9, 8, 7, 1, 1], 3, 2, id="cut-below-the-limit"),
    ],
)
def test_default_min_recipes_shows_at_most_the_limit(weights, limit, expected):
    assert default_min_recipes(weights, limit) == expected
    assert sum(1 for w in weights if w >= expected) <= limit


def test_the_wheel_ships_every_template_and_script_of_the_report():
    import fnmatch

    root = Path(__file__).resolve().parent.parent
    package = root / "archy_pipeline" / "report"
    (line,) = [
        line
        for line in (root / "pyproject.toml").read_text().splitlines()
        if line.startswith('"archy_pipeline.report" = ')
    ]
    patterns = json.loads(line.split("=", 1)[1])
    files = [p.relative_to(package).as_posix() for p in package.rglob("*")
             if p.is_file() and p.suffix != ".py" and "__pycache__" not in p.parts]  # fmt: skip
    assert "static/vendor/cytoscape.min.js" in files
    missing = [f for f in files if not any(fnmatch.fnmatch(f, p) for p in patterns)]
    assert not missing, f"not package data, so missing from an installed report: {missing}"


# ---------------------------------------------------------------------- in the browser


def _file_only(blocked: list[str]):
    def handle(route) -> None:
        if route.request.url.startswith(("file:", "data:", "blob:")):
            route.continue_()
        else:
            blocked.append(route.request.url)
            route.abort()

    return handle


def _expected_for_environment(demo: Demo) -> tuple[str, int]:
    """An environment some systems lack, and how many systems have a connection in it."""
    rows = demo.sql(
        f"select environment, count(distinct system) from ({SYSTEM_OF_CONNECTION}) "
        "group by 1 order by 2, 1"
    )
    environment, count = rows[0]
    assert count < len(demo.systems())
    return environment, count


def _a_called_recipe(demo: Demo) -> tuple[str, str, str]:
    """A system, a recipe in one of its flows that calls another recipe, and that callee."""
    rows = demo.sql(
        f"""with c as ({SYSTEM_OF_CONNECTION})
        select g.label, caller.name, callee.name
        from archy.integration_calls k
        join archy.integrations caller
          on caller.workspace = k.workspace and caller.recipe_id = k.caller_recipe_id
        join archy.integrations callee
          on callee.workspace = k.workspace and callee.recipe_id = k.callee_recipe_id
        join archy.system_flows f on f.workspace = k.workspace
          and list_contains(string_split(f.recipe_ids, ','), k.caller_recipe_id::varchar)
        join c on c.workspace = f.workspace and c.connection_id = f.source_connection_id
        join archy.graph_nodes g on g.graph = 'systems'
          and g.id = 'system:' || c.workspace || ':' || c.system
        where k.resolved and caller.deleted_at is null and callee.deleted_at is null
        order by 1, 2, 3 limit 1"""
    )
    assert rows, "the generated workspace has no recipe call inside a flow"
    return rows[0]


@pytest.mark.ui
@pytest.mark.slow
@pytest.mark.skipif(
    not CHROMIUM.exists() and not os.environ.get("CI"),
    reason="needs Debian's chromium at /usr/bin/chromium (make chromium installs it)",
)
def test_the_report_in_a_browser_from_file_with_the_network_blocked(demo, tmp_path):
    from playwright.sync_api import expect, sync_playwright

    site = tmp_path / "site"
    shutil.copytree(demo.site, site)  # a copy: screenshots of a site nobody else rewrites
    environment, with_environment = _expected_for_environment(demo)
    system, caller, callee = _a_called_recipe(demo)
    ((instance_count,),) = demo.sql(
        f"select count(*) from ({SYSTEM_OF_CONNECTION}) c join archy.graph_nodes g "
        "on g.graph = 'systems' and g.id = 'system:' || c.workspace || ':' || c.system "
        "where g.label = ?",
        [system],
    )
    blocked: list[str] = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_FLAGS
        )
        context = browser.new_context(viewport={"width": 1500, "height": 1000}, offline=True)
        context.set_default_timeout(20_000)
        context.route("**/*", _file_only(blocked))
        page = context.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda error: errors.append(str(error)))
        try:
            page.goto((site / "index.html").as_uri())
            page.screenshot(path=str(tmp_path / "overview.png"), full_page=True)
            page.get_by_role("link", name="System map").click()
            expect(page.locator("#map-status")).to_contain_text("systems,")
            shown = page.evaluate("window.archyMap.visibleSystems()")
            assert sorted(shown) == sorted(demo.systems().values())
            page.screenshot(path=str(tmp_path / "map.png"))

            page.select_option("#f-environment", environment)
            expect(page.locator("#map-status")).to_contain_text(f"{with_environment} systems,")
            assert len(page.evaluate("window.archyMap.visibleSystems()")) == with_environment
            page.screenshot(path=str(tmp_path / f"map-{environment}.png"))
            page.select_option("#f-environment", "")

            # Click the system's node on the canvas, then follow the panel's link.
            x, y = page.evaluate(
                """label => {
                    const n = window.archyMap.cy.nodes().filter(n => n.data('label') === label)[0];
                    window.archyMap.cy.center(n);
                    const p = n.renderedPosition(), r = document.getElementById('map')
                        .getBoundingClientRect();
                    return [r.left + p.x, r.top + p.y];
                }""",
                system,
            )
            page.mouse.click(x, y)
            expect(page.locator("#panel h3")).to_have_text(system)
            page.screenshot(path=str(tmp_path / "map-panel.png"))
            # One click deeper: the system opens into its connections, and closes again.
            page.locator("#toggle-expand").click()
            instances = page.evaluate("window.archyMap.cy.nodes(\"[kind = 'instance']\").length")
            assert instances == instance_count
            page.screenshot(path=str(tmp_path / "map-instances.png"))
            page.locator("#toggle-expand").click()
            # Many systems: the smallest are grouped (the demo is small, so lower the bar).
            page.evaluate("window.ARCHY_MAP.groupAbove = 4; window.archyMap.render()")
            expect(page.locator("#map-status")).to_contain_text("smaller ones grouped")
            grouped = page.evaluate("window.archyMap.cy.nodes(\"[kind = 'group']\").length")
            assert grouped == 1 and len(page.evaluate("window.archyMap.visibleSystems()")) <= 4
            page.screenshot(path=str(tmp_path / "map-grouped.png"))
            page.evaluate("window.ARCHY_MAP.groupAbove = 80; window.archyMap.render()")
            page.locator("#panel a.system-page").click()
            expect(page.locator("h1")).to_have_text(system)
            page.screenshot(path=str(tmp_path / "system.png"), full_page=True)
            page.locator("table.flows a", has_text=caller).first.click()
            expect(page.locator("h1")).to_have_text(caller)
            page.screenshot(path=str(tmp_path / "integration.png"), full_page=True)
            page.locator("a.callee", has_text=callee).first.click()
            expect(page.locator("h1")).to_have_text(callee)
            page.screenshot(path=str(tmp_path / "callee.png"), full_page=True)
        except Exception:
            page.screenshot(path=str(tmp_path / "failure.png"))
            raise
        finally:
            context.close()
            browser.close()
    assert not errors, errors
    assert not blocked, f"the report tried to reach the network: {blocked}"
    shots = sorted(p.name for p in tmp_path.glob("*.png"))
    assert shots == sorted(["overview.png", "map.png", f"map-{environment}.png", "map-panel.png",
                            "map-instances.png", "map-grouped.png", "system.png",
                            "integration.png", "callee.png"])  # fmt: skip
    for shot in shots:
        assert (tmp_path / shot).stat().st_size > 10_000, shot


def test_recipe_links_use_the_web_app_host_not_the_us_api_host():
    """US: API on www.workato.com, web app on app.workato.com (reference §1.1); elsewhere the
    API host is the web app's."""
    from archy_pipeline.resources import WorkatoResource
    from archy_pipeline.resources.report import ReportResource
    from archy_pipeline.settings import WorkspaceSettings, read_environment

    workspaces = [
        WorkspaceSettings(name="US", data_center="us"),
        WorkspaceSettings(name="EU", data_center="eu"),
        WorkspaceSettings(name="Own", base_url="http://127.0.0.1:9/api"),
    ]
    urls = ReportResource().workato_urls(WorkatoResource(), workspaces, read_environment({}))
    assert urls == {
        "US": "https://app.workato.com",
        "EU": "https://app.eu.workato.com",
        "Own": "http://127.0.0.1:9",
    }
