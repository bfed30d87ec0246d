"""Memory stays bounded: a sync of one very deep recipe does not take gigabytes (issue 12 point 8,
issue 13).

The sync runs in a child process (the real dlt source over HTTP against the simulator, which runs
here, into a real DuckDB file), and the child reports its own peak RSS (``ru_maxrss``), so
nothing this test process holds counts. Measured (2 cores, shared): a 20,000-step recipe peaked
at 1.5 GB when dlt loaded DuckDB from insert_values SQL text, and at ~0.38 GB with parquet.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from workato_simulator import WorkatoSimulator, Workspace

from tests.support import TIME_SCALE, simple_code

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
