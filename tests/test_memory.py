"""Memory stays bounded: a sync of one very deep recipe, or of one whose code is 50 MB, does not
take gigabytes (issue 12 point 8, issue 13).

The sync runs in a child process (the real dlt source over HTTP against the simulator, which runs
here, into a real DuckDB file), and the child reports its own peak RSS (``ru_maxrss``), so
nothing this test process holds counts. Measured (2 cores, shared): a 20,000-step recipe peaked
at 1.5 GB when dlt loaded DuckDB from insert_values SQL text, and at ~0.38 GB with parquet. A
whole ``archy-pipeline sync --full`` (sync, rebuild, report, snapshot) with one 50 MB code
string peaked at 0.73-0.97 GB over ten runs, against 0.36 GB for the same command with the code
a few bytes long; most of the difference is pyarrow writing the 50 MB value to Parquet during
dlt's normalize step (dictionary page, data page, compression buffers).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from workato_simulator import WorkatoSimulator, Workspace

from tests.support import TIME_SCALE, report_figure, simple_code

pytestmark = [pytest.mark.slow, pytest.mark.timeout(600)]

#: Far above what the sync takes (~380 MB) and far below what the old load took (1.5 GB).
PEAK_RSS_BOUND_MB = 800

DEPTH = 20_000

CHILD = textwrap.dedent(
    """
    import json, resource, sys
    from archy_pipeline.extract import DATASET_NAME, workato_source
    from archy_pipeline.resources.warehouse import WarehouseResource
    from archy_pipeline.workato.client import WorkatoClient

    base_url, token, path = sys.argv[1:4]
    warehouse = WarehouseResource(duckdb_path=path)
    with WorkatoClient(token, base_url=base_url, rate_window_seconds=0.6,
                       backoff_seconds=0.01, max_backoff_seconds=0.05) as client:
        pipeline = warehouse.dlt_pipeline("workato_main_workspace", DATASET_NAME)
        pipeline.run(workato_source(client, workspace="Main Workspace"))
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux
    print(json.dumps({"peak_rss_mb": peak / 1024}))
    """
)


def _deep_code(depth: int) -> str:
    """A recipe's code as Workato returns it (JSON text): ``depth`` nested ifs, then a step."""
    head = '{"keyword":"trigger","provider":"clock","name":"scheduled_event","block":['
    inner = '{"keyword":"if","block":['
    leaf = '{"keyword":"action","provider":"logger","name":"log_message"}'
    return head + inner * depth + leaf + "]}" * depth + "]}"


@pytest.mark.skipif(sys.platform != "linux", reason="ru_maxrss is in KiB on Linux only")
def test_sync_of_a_very_deep_recipe_stays_under_the_memory_bound(tmp_path: Path) -> None:
    ws = Workspace()
    project = ws.add_project("Sales")
    recipe = ws.add_recipe("Deep", simple_code("clock", "logger"), folder_id=project.folder_id)
    recipe.raw_code = _deep_code(DEPTH)
    path = tmp_path / "warehouse.duckdb"
    sim = WorkatoSimulator(ws, time_scale=TIME_SCALE, rate_limits=None).start()
    try:
        done = subprocess.run(
            [sys.executable, "-c", CHILD, sim.base_url, sim.token, str(path)],
            capture_output=True,
            text=True,
            cwd=tmp_path,
            timeout=540,
        )
    finally:
        sim.stop()
    assert done.returncode == 0, done.stderr[-3000:]
    peak = json.loads(done.stdout.strip().splitlines()[-1])["peak_rss_mb"]

    import duckdb

    with duckdb.connect(str(path), read_only=True) as con:
        steps, deepest = con.execute(
            "select count(*), max(depth) from workato_raw.recipe_steps where recipe_id = ?",
            [recipe.id],
        ).fetchone()
        (code_length,) = con.execute(
            "select length(code) from workato_raw.recipes where id = ?", [recipe.id]
        ).fetchone()
    # Everything landed: the trigger, the ifs and the leaf, and the recipe's code intact.
    assert (steps, deepest) == (DEPTH + 2, DEPTH + 1)
    assert code_length == len(recipe.raw_code)
    assert peak < PEAK_RSS_BOUND_MB, f"peak RSS {peak:.0f} MB"


#: Above the 0.73-0.97 GB a whole sync with a 50 MB code string takes, below "gigabytes".
CLI_PEAK_RSS_BOUND_MB = 1500

CODE_CHARS = 50_000_000

#: Runs the CLI and reports the peak RSS of its largest process: this wrapper's only child.
MEASURE = textwrap.dedent(
    """
    import json, resource, subprocess, sys
    done = subprocess.run([sys.executable, "-m", "archy_pipeline.cli", *sys.argv[1:]],
                          capture_output=True, text=True)
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss  # KiB on Linux
    print(json.dumps({"returncode": done.returncode, "output": done.stdout + done.stderr,
                      "peak_rss_mb": peak / 1024}))
    """
)


def _whole_sync(tmp_path: Path, ws: Workspace) -> tuple[float, Path]:
    """``archy-pipeline sync --full`` of ``ws`` in a child process: its peak RSS (MB) and the
    warehouse it wrote."""
    home = tmp_path / "dagster_home"
    home.mkdir()
    shutil.copy(Path(__file__).resolve().parents[1] / "dagster.yaml", home / "dagster.yaml")
    (tmp_path / "archy.yaml").write_text("workspaces:\n  - name: ACME\n")
    warehouse = tmp_path / "data" / "warehouse.duckdb"
    sim = WorkatoSimulator(ws, time_scale=TIME_SCALE, rate_limits=None).start()
    try:
        done = subprocess.run(
            [sys.executable, "-c", MEASURE, "sync", "--full"],
            env={
                **os.environ,
                "DAGSTER_HOME": str(home),
                "ARCHY_CONFIG": str(tmp_path / "archy.yaml"),
                "ARCHY_DUCKDB_PATH": str(warehouse),
                "WORKATO_BASE_URL": sim.base_url,
                "WORKATO_API_TOKEN": sim.token,
            },
            capture_output=True,
            text=True,
            cwd=tmp_path,
            timeout=540,
        )
    finally:
        sim.stop()
    assert done.returncode == 0, done.stderr[-3000:]
    measured = json.loads(done.stdout.strip().splitlines()[-1])
    assert measured["returncode"] == 0, measured["output"][-3000:]
    return measured["peak_rss_mb"], warehouse


@pytest.mark.skipif(sys.platform != "linux", reason="ru_maxrss is in KiB on Linux only")
def test_a_whole_sync_with_a_50_mb_code_string_stays_under_the_memory_bound(
    tmp_path: Path,
) -> None:
    ws = Workspace(name="ACME")
    project = ws.add_project("Sales")
    small = [
        ws.add_recipe(f"Small {i}", simple_code("salesforce", "slack"), folder_id=project.folder_id)
        for i in range(3)
    ]
    big = ws.add_recipe("Big", simple_code("salesforce", "slack"), folder_id=project.folder_id)
    code = simple_code("salesforce", "slack")
    code["block"][0]["input"] = {"message": "x" * CODE_CHARS}
    big.raw_code = json.dumps(code)
    del code
    peak, warehouse = _whole_sync(tmp_path, ws)
    report_figure(f"sync --full with a 50 MB code string: peak RSS {peak:.0f} MB")

    import duckdb

    with duckdb.connect(str(warehouse), read_only=True) as con:
        lengths = dict(con.execute("select id, length(code) from workato_raw.recipes").fetchall())
        steps = dict(
            con.execute(
                "select recipe_id, count(*) from workato_raw.recipe_steps group by 1"
            ).fetchall()
        )
        errors = con.execute("select count(*) from workato_raw.recipe_errors").fetchone()[0]
        integrations = {
            i for (i,) in con.execute("select recipe_id from archy.integrations").fetchall()
        }
    # Everything landed whole: the big code to the last character, and every recipe's steps.
    assert lengths[big.id] == len(big.raw_code)
    assert set(lengths) == {big.id, *(r.id for r in small)}
    assert steps == {r: 2 for r in lengths} and errors == 0  # a trigger and an action
    assert big.id in integrations
    assert (warehouse.parent / "report" / "index.html").exists()
    assert peak < CLI_PEAK_RSS_BOUND_MB, f"peak RSS {peak:.0f} MB"


#: Far above what a whole sync with a 10,000-step recipe takes (measured below), far below
#: "gigabytes".
STEPS_PEAK_RSS_BOUND_MB = 1000


@pytest.mark.skipif(sys.platform != "linux", reason="ru_maxrss is in KiB on Linux only")
def test_a_whole_sync_with_a_10000_step_recipe_stays_under_the_memory_bound(
    tmp_path: Path,
) -> None:
    ws = Workspace(name="ACME")
    project = ws.add_project("Sales")
    small = ws.add_recipe("Small", simple_code("salesforce", "slack"), folder_id=project.folder_id)
    code = simple_code("salesforce", "slack")
    action = code["block"][0]
    code["block"] = [{**action, "number": i + 1, "as": f"step_{i}"} for i in range(10_000)]
    big = ws.add_recipe("Long", code, folder_id=project.folder_id)
    peak, warehouse = _whole_sync(tmp_path, ws)
    report_figure(f"sync --full with a 10,000-step recipe: peak RSS {peak:.0f} MB")

    import duckdb

    with duckdb.connect(str(warehouse), read_only=True) as con:
        steps = dict(
            con.execute(
                "select recipe_id, count(*) from workato_raw.recipe_steps group by 1"
            ).fetchall()
        )
        errors = con.execute("select count(*) from workato_raw.recipe_errors").fetchone()[0]
        integrations = {
            i for (i,) in con.execute("select recipe_id from archy.integrations").fetchall()
        }
    assert steps == {small.id: 2, big.id: 10_001} and errors == 0  # the trigger, then actions
    assert {small.id, big.id} <= integrations
    assert (warehouse.parent / "report" / "index.html").exists()
    assert peak < STEPS_PEAK_RSS_BOUND_MB, f"peak RSS {peak:.0f} MB"
