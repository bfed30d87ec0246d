"""Benchmark: the architecture report at 1,000 and 5,000 recipes (build time, size, the map).

Run from the repository root::

    .venv/bin/python bench/bench_report.py                       # 1,000 and 5,000 recipes
    .venv/bin/python bench/bench_report.py --recipes 5000 --screenshot docs/images/map-5000.png

For each size: ``generate_workspace(seed, recipes=N)`` served by a local ``WorkatoSimulator``
(rate limits off), the extract assets materialized in process into a DuckDB file in a temp
dir, then the transform job's other assets (descriptions, systems, mappings, SQL models,
analysis, change feed); then :func:`archy_pipeline.assets.report.write_report` (what the
``docs`` asset and ``archy-pipeline report`` run) is timed ``--repeat`` times, split into
reading the analysis input, the model with impact, and writing the site. Sizes are counted on
disk: the site (pages, scripts, map data, SVG) apart from the exports. With ``--screenshot``,
headless Debian Chromium opens the map from file:// and the time until it has drawn (the
status line filled) is measured; the screenshot is kept. Nothing is asserted.
"""

from __future__ import annotations

import argparse
import logging
import os
import platform
import statistics
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

PARTITION = "Main Workspace"
QUIET = {"loggers": {"console": {"config": {"log_level": "WARNING"}}}}


def build_warehouse(recipes: int, seed: int, workdir: Path) -> tuple[Path, float]:
    import dagster as dg
    from dagster_dlt import DagsterDltResource
    from workato_simulator import WorkatoSimulator
    from workato_simulator.generator import generate_workspace

    from archy_pipeline.assets.analysis import analysis_tables
    from archy_pipeline.assets.changes import change_events
    from archy_pipeline.assets.extract import workato_raw_tables
    from archy_pipeline.assets.mapping import system_mappings, systems
    from archy_pipeline.assets.transform import build_sql_model_assets, integration_descriptions
    from archy_pipeline.constants import WORKSPACES
    from archy_pipeline.resources.settings import ArchySettingsResource
    from archy_pipeline.resources.warehouse import WarehouseResource
    from archy_pipeline.resources.workato import WorkatoResource

    started = time.perf_counter()
    path = workdir / f"report_{recipes}.duckdb"
    warehouse = WarehouseResource(duckdb_path=str(path))
    instance = dg.DagsterInstance.ephemeral()
    instance.add_dynamic_partitions(WORKSPACES.name, [PARTITION])
    with WorkatoSimulator(generate_workspace(seed, recipes=recipes), rate_limits=None) as sim:
        workato = WorkatoResource(api_token=sim.token, base_url=sim.base_url, requests_per_minute=0)
        assert dg.materialize(
            [workato_raw_tables],
            resources={
                "dlt": DagsterDltResource(),
                "workato": workato,
                "warehouse": warehouse,
                "settings": ArchySettingsResource(),
            },
            partition_key=PARTITION,
            run_config=QUIET,
            instance=instance,
        ).success
    assert dg.materialize(
        [integration_descriptions, systems, system_mappings, build_sql_model_assets(),
         analysis_tables, change_events],
        resources={"warehouse": warehouse, "settings": ArchySettingsResource()},
        run_config=QUIET,
        instance=instance,
    ).success  # fmt: skip
    return path, time.perf_counter() - started


def size(folder: Path, exclude: str | None = None) -> tuple[int, int]:
    files = [
        p for p in folder.rglob("*")
        if p.is_file() and (exclude is None or exclude not in p.relative_to(folder).parts)
    ]  # fmt: skip
    return len(files), sum(p.stat().st_size for p in files)


def timed_build(path: Path, site: Path) -> dict[str, float]:
    from archy_pipeline.analysis import build_graphs
    from archy_pipeline.assets.analysis import load_analysis_input
    from archy_pipeline.report.model import load_model
    from archy_pipeline.report.site import build_site
    from archy_pipeline.resources.warehouse import WarehouseResource

    warehouse = WarehouseResource(duckdb_path=str(path))
    t0 = time.perf_counter()
    inp = load_analysis_input(warehouse)
    t1 = time.perf_counter()
    graphs = build_graphs(inp)
    model = load_model(warehouse, inp, graphs, now=datetime.now(timezone.utc),
                       workato_urls={PARTITION: "https://www.workato.com"})  # fmt: skip
    t2 = time.perf_counter()
    summary = build_site(model, site, warehouse=warehouse, placeholder=warehouse.placeholder)
    t3 = time.perf_counter()
    return {"input": t1 - t0, "model": t2 - t1, "site": t3 - t2, "total": t3 - t0,
            "pages": summary.pages, "nodes": summary.map_nodes, "edges": summary.map_edges,
            "shown": summary.map_edges_shown}  # fmt: skip


def screenshot(site: Path, target: Path) -> float:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path="/usr/bin/chromium", headless=True,
            args=["--headless", "--no-sandbox", "--disable-gpu", "--no-proxy-server"],
        )  # fmt: skip
        page = browser.new_page(viewport={"width": 1600, "height": 1100})
        started = time.perf_counter()
        page.goto((site / "map.html").as_uri())
        page.wait_for_function("document.getElementById('map-status').textContent.includes(',')")
        seconds = time.perf_counter() - started
        page.screenshot(path=str(target))
        print("   map status:", page.inner_text("#map-status"))
        browser.close()
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--recipes", type=int, nargs="*", default=[1000, 5000])
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--screenshot", type=Path, help="PNG of the map at the largest size")
    parser.add_argument(
        "--workdir", type=Path, help="keep the warehouses here and reuse them on the next run"
    )
    args = parser.parse_args()
    logging.getLogger("dlt").setLevel(logging.WARNING)
    print(f"Python {platform.python_version()}, {platform.machine()}, {os.cpu_count()} CPUs")
    with tempfile.TemporaryDirectory() as tmp:
        workdir = args.workdir or Path(tmp)
        workdir.mkdir(parents=True, exist_ok=True)
        for recipes in args.recipes:
            path = workdir / f"report_{recipes}.duckdb"
            if path.exists():
                print(f"\n== {recipes} recipes: reusing {path}")
            else:
                path, seconds = build_warehouse(recipes, args.seed, workdir)
                print(f"\n== {recipes} recipes: warehouse built in {seconds:.1f} s")
            runs = [timed_build(path, workdir / f"site_{recipes}") for _ in range(args.repeat)]
            for key in ("input", "model", "site", "total"):
                values = [r[key] for r in runs]
                print(f"   {key:<6} median {statistics.median(values):6.2f} s "
                      f"(first {values[0]:.2f} s)")  # fmt: skip
            last = runs[-1]
            print(f"   pages {last['pages']}, map {last['nodes']} systems, {last['edges']} flows "
                  f"({last['shown']} shown by default)")  # fmt: skip
            site = workdir / f"site_{recipes}"
            _, all_bytes = size(site)
            n_site, site_bytes = size(site, exclude="exports")
            n_tables, table_bytes = size(site / "exports" / "tables")
            biggest = max(site.rglob("*.html"), key=lambda p: p.stat().st_size)
            print(f"   site without exports: {n_site} files, {site_bytes / 1e6:.1f} MB; "
                  f"exports: {(all_bytes - site_bytes - table_bytes) / 1e6:.1f} MB diagrams, "
                  f"{table_bytes / 1e6:.1f} MB tables ({n_tables} files); "
                  f"total {all_bytes / 1e6:.1f} MB")  # fmt: skip
            for name in ("index.html", "map.html", "map-data.js", "map.svg", "insights.html",
                         "impact.html", "integrations.html"):  # fmt: skip
                if (site / name).exists():
                    print(f"     {name:<18} {(site / name).stat().st_size / 1e3:8.0f} kB")
            print(f"     largest page: {biggest.relative_to(site)} "
                  f"{biggest.stat().st_size / 1e3:.0f} kB")  # fmt: skip
            if args.screenshot and recipes == max(args.recipes):
                seconds = screenshot(site, args.screenshot)
                print(f"   map drawn in Chromium in {seconds:.2f} s; screenshot {args.screenshot}")


if __name__ == "__main__":
    main()
