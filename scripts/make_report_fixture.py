"""Write tests/fixtures/report_input/: a fixed warehouse for tests/test_report_golden.py.

Run from the repository root, when the tables the report reads change shape::

    .venv/bin/python scripts/make_report_fixture.py

It syncs a generated workspace (seed 7, 40 recipes, pinned to 2025-06-01) from the simulator
twice, with a recipe stopped in between so the change feed has something to show, through
``archy-pipeline sync`` in a temporary folder; then DuckDB's ``EXPORT DATABASE`` writes the
warehouse as Parquet files with its schema (``IMPORT DATABASE`` reads it back). The input is
then fixed: the analysis' day counts no longer depend on the day the tests run. Regenerate the
expected pages afterwards (see tests/test_report_golden.py).
"""

from __future__ import annotations

import io
import os
import shutil
import sys
import tempfile
from contextlib import redirect_stdout
from datetime import datetime, timezone
from pathlib import Path

import duckdb
from workato_simulator import WorkatoSimulator
from workato_simulator.generator import generate_workspace

from archy_pipeline.cli import main as cli

TARGET = Path(__file__).resolve().parents[1] / "tests" / "fixtures" / "report_input"
WORKSPACE = "Demo"


def main() -> int:
    ws = generate_workspace(7, recipes=40, name=WORKSPACE,
                            now=datetime(2025, 6, 1, tzinfo=timezone.utc))  # fmt: skip
    with tempfile.TemporaryDirectory() as tmp, WorkatoSimulator(ws, rate_limits=None) as sim:
        root = Path(tmp)
        for name in ("WORKATO_BASE_URL", "ARCHY_REPORT_DIR", "ARCHY_POSTGRES_DSN"):
            os.environ.pop(name, None)
        (root / "dagster_home").mkdir()
        (root / "archy.yaml").write_text(
            f"workspaces:\n  - name: {WORKSPACE}\n    base_url: {sim.base_url}\n"
        )
        os.environ.update(
            DAGSTER_HOME=str(root / "dagster_home"),
            ARCHY_CONFIG=str(root / "archy.yaml"),
            ARCHY_DUCKDB_PATH=str(root / "warehouse.duckdb"),
            WORKATO_API_TOKEN=sim.token,
        )
        with redirect_stdout(io.StringIO()):
            assert cli(["sync"]) == 0
            running = next(r for r in ws.recipes.values() if r.running)
            ws.stop_recipe(running.id, "trigger_errors_limit")
            assert cli(["sync"]) == 0
        shutil.rmtree(TARGET, ignore_errors=True)
        with duckdb.connect(str(root / "warehouse.duckdb"), read_only=True) as con:
            con.execute(f"export database '{TARGET}' (format parquet)")
    print(f"wrote {TARGET} ({sum(p.stat().st_size for p in TARGET.iterdir()) / 1e3:.0f} kB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
