"""The report's output for a fixed input: the same bytes on every build, and the same pages as
the expected copies kept in tests/fixtures/report_golden/.

The input is a fixed warehouse (tests/fixtures/report_input/, a DuckDB ``EXPORT DATABASE`` of
a 40-recipe generated workspace synced twice, written by scripts/make_report_fixture.py),
imported into a DuckDB file in a temp dir; the clock, the Workato address and the last sync
are pinned. A change to the report's code that changes what it writes fails here; when the
change is wanted, rewrite the expected copies and review their diff::

    ARCHY_REGENERATE_GOLDEN=1 .venv/bin/python -m pytest tests/test_report_golden.py

The expected copies are built without Graphviz (the systems on a circle), so a Graphviz
upgrade does not change them; the byte-for-byte comparison of two builds uses Graphviz when
it is installed.
"""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path

import duckdb
import pytest
from hypothesis import given
from hypothesis import strategies as st
from markupsafe import escape

from archy_pipeline.assets.analysis import load_analysis_input
from archy_pipeline.report import build_report
from archy_pipeline.report.site import html_text
from archy_pipeline.resources.warehouse import WarehouseResource

FIXTURES = Path(__file__).parent / "fixtures"
INPUT = FIXTURES / "report_input"
GOLDEN = FIXTURES / "report_golden"
REGENERATE = os.environ.get("ARCHY_REGENERATE_GOLDEN") == "1"
NOW = datetime(2025, 6, 1, 12, 0, tzinfo=timezone.utc)
WORKSPACE = "Demo"

#: Kept whole in report_golden/: every page but the per-item ones of which two are kept, the
#: map's data and the diagram exports, and the CSV of the tables the pages are built from.
KEY_FILES = (
    "index.html",
    "map.html",
    "systems.html",
    "integrations.html",
    "insights.html",
    "impact.html",
    "map-data.js",
    "exports/system-map.mmd",
    "exports/system-map.drawio",
    "exports/workspace.dsl",
    "exports/system-map.graphml",
    "exports/instances.graphml",
    "exports/backstage/catalog-info.yaml",
    "exports/tables/integrations.csv",
    "exports/tables/system_flows.csv",
)

BUILD = """
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path
from archy_pipeline.assets.analysis import load_analysis_input
from archy_pipeline.report import build_report
from archy_pipeline.report.site import html_text
from archy_pipeline.resources.warehouse import WarehouseResource
now = datetime(2025, 6, 1, 12, 0, tzinfo=timezone.utc)
wh = WarehouseResource(duckdb_path=sys.argv[1])
build_report(wh, load_analysis_input(wh), Path(sys.argv[2]), placeholder=wh.placeholder, now=now,
             workato_urls={"Demo": "https://app.eu.workato.com"},
             last_syncs={"Demo": now - timedelta(hours=3)})
"""


@pytest.fixture(scope="module")
def warehouse(tmp_path_factory: pytest.TempPathFactory) -> WarehouseResource:
    path = tmp_path_factory.mktemp("golden") / "warehouse.duckdb"
    with duckdb.connect(str(path)) as con:
        con.execute(f"import database '{INPUT}'")
    return WarehouseResource(duckdb_path=str(path))


def build(warehouse: WarehouseResource, site: Path) -> Path:
    build_report(
        warehouse, load_analysis_input(warehouse), site, placeholder=warehouse.placeholder,
        now=NOW, workato_urls={WORKSPACE: "https://app.eu.workato.com"},
        last_syncs={WORKSPACE: NOW - timedelta(hours=3)},
    )  # fmt: skip
    return site


#: Per-item pages kept besides the first and last of each kind: the first page showing each of
#: these (skipped steps, recipe calls both ways, unresolved calls, topics, trigger connections,
#: each step access, deleted connections, an instance's impact), so every branch of the
#: templates and of the Python loops that write those pages is compared.
MARKERS = (
    'class="skipped"',
    'class="callee"',
    'class="caller"',
    'class="unresolved"',
    "Topics (Pub/Sub, Kafka)",
    "<small>(trigger)</small>",
    "access-read",
    "access-write",
    "access-unknown",
    "<small>(deleted)</small>",
    "<details><summary>If only",
    "calls <",
)


def files(site: Path) -> list[str]:
    return sorted(str(p.relative_to(site)) for p in site.rglob("*") if p.is_file())


def test_two_builds_in_separate_processes_write_the_same_bytes(warehouse, tmp_path):
    """Different hash seeds, so an output that follows the order of a set of strings fails."""
    sites = []
    for seed in ("1", "2"):
        site = tmp_path / f"site-{seed}"
        subprocess.run(
            [sys.executable, "-c", BUILD, str(warehouse.duckdb_path), str(site)],
            check=True, env={**os.environ, "PYTHONHASHSEED": seed},
        )  # fmt: skip
        sites.append(site)
    first, second = sites
    assert files(first) == files(second)
    assert len(files(first)) > 100
    different = [
        name for name in files(first)
        if (first / name).read_bytes() != (second / name).read_bytes()
    ]  # fmt: skip
    assert different == []


def test_the_pages_and_exports_are_the_expected_ones(warehouse, tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))  # no Graphviz: the layout does not depend on it
    site = build(warehouse, tmp_path / "site")
    kept = list(KEY_FILES)
    for kind in ("integrations/", "systems/"):
        pages = [n for n in files(site) if n.startswith(kind)]
        kept += [pages[0], pages[-1]]
        texts = {n: (site / n).read_text(encoding="utf-8") for n in pages}
        kept += [next(n for n in pages if m in texts[n]) for m in MARKERS if
                 any(m in t for t in texts.values())]  # fmt: skip
    kept = sorted(set(kept))
    listing = "\n".join(files(site)) + "\n"
    if REGENERATE:
        for name in os.listdir(GOLDEN) if GOLDEN.exists() else []:
            (GOLDEN / name).unlink()
        GOLDEN.mkdir(parents=True, exist_ok=True)
        (GOLDEN / "files.txt").write_text(listing, encoding="utf-8")
        (GOLDEN / "kept.txt").write_text("\n".join(kept) + "\n", encoding="utf-8")
        for name in kept:
            (GOLDEN / name.replace("/", "__")).write_bytes((site / name).read_bytes())
        pytest.skip(f"rewrote {GOLDEN}: review its diff")
    assert listing == (GOLDEN / "files.txt").read_text(encoding="utf-8")
    assert "\n".join(kept) + "\n" == (GOLDEN / "kept.txt").read_text(encoding="utf-8")
    for name in kept:
        expected = (GOLDEN / name.replace("/", "__")).read_text(encoding="utf-8")
        assert (site / name).read_text(encoding="utf-8") == expected, name


@given(st.one_of(st.text(), st.text(alphabet="&<>\"' aé;#"), st.integers(), st.floats(), st.none()))
def test_html_text_escapes_as_markupsafe_does(value):
    """The Python loops that write the big pages escape as the templates do."""
    assert html_text(value) == str(escape(value))
