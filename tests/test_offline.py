"""Nothing but requests to Workato leaves the machine: dlt's and Dagster's telemetry are off."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

PROBE = """
import sys, tempfile
if sys.argv[1] == "archy":
    import archy_pipeline.definitions  # what the CLI and the code location import first
import dlt
from dlt.common.runtime import anon_tracker
pipeline = dlt.pipeline("probe", destination="duckdb", pipelines_dir=tempfile.mkdtemp())
pipeline.run([{"a": 1}], table_name="t")
print(anon_tracker._ANON_TRACKER_ENDPOINT)
"""


@pytest.mark.parametrize(
    ("imports", "endpoint"),
    [("archy", "None"), ("dlt-alone", "https://telemetry.scalevector.ai")],
)
def test_dlt_telemetry_is_off_once_the_package_is_imported(tmp_path, imports, endpoint):
    """The second case is the control: dlt alone would start its tracker."""
    env = {k: v for k, v in os.environ.items()
           if k not in ("RUNTIME__DLTHUB_TELEMETRY", "DAGSTER_DISABLE_TELEMETRY")}  # fmt: skip
    env["DAGSTER_HOME"] = str(tmp_path)
    done = subprocess.run(
        [sys.executable, "-c", PROBE, imports],
        env=env, cwd=tmp_path, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip().splitlines()[-1] == endpoint
