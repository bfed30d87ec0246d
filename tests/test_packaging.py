"""The product wheel: built from the checkout, it carries the SQL models and the catalogue and
not the simulator, and, installed non-editable into a fresh environment, loads every asset."""

from __future__ import annotations

import json
import subprocess
import sys
import sysconfig
import venv
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--quiet",
            "--no-deps",
            "--no-build-isolation",
            "--wheel-dir",
            str(out),
            str(ROOT),
        ],
        check=True,
        cwd=out,
    )
    (built,) = out.glob("archy_pipeline-*.whl")
    return built


def test_the_wheel_carries_the_models_and_catalogue_but_not_the_simulator(wheel: Path) -> None:
    names = set(zipfile.ZipFile(wheel).namelist())
    models = {
        f"dbt_like_sql/{p.relative_to(ROOT / 'dbt_like_sql')}"
        for p in (ROOT / "dbt_like_sql").rglob("*.sql")
    }
    assert models, "the checkout has no SQL models"
    assert models <= names, f"models missing from the wheel: {sorted(models - names)}"
    assert "archy_pipeline/data/systems.yaml" in names
    assert "archy_pipeline/data/relay/archy_realtime_relay.zip" in names
    leaked = sorted(n for n in names if "simulator" in n.split("/")[0])
    assert not leaked, f"the simulator must not ship in the product wheel: {leaked[:5]}"
    assert not any(n.startswith(("tests/", "bench/", "scripts/")) for n in names)


def test_the_installed_wheel_loads_every_asset_outside_the_checkout(
    wheel: Path, tmp_path: Path
) -> None:
    # A fresh environment that sees the dependencies of this one (so no download is needed)
    # but not its editable installs: archy_pipeline can only come from the wheel.
    env_dir = tmp_path / "env"
    venv.create(env_dir, with_pip=False)
    python = env_dir / "bin" / "python"
    target = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    ours = sysconfig.get_paths()["purelib"]
    # A plain path line: the editable finders (.pth files) of this environment are not run.
    (Path(target) / "deps.pth").write_text(ours + "\n")
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "--quiet",
            "--no-deps",
            "--no-compile",
            "--target",
            target,
            str(wheel),
        ],
        check=True,
    )
    probe = (
        "import json, archy_pipeline, dbt_like_sql\n"
        "from archy_pipeline.definitions import defs\n"
        "from archy_pipeline.assets.transform import DEFAULT_MODELS_DIR\n"
        "try:\n    import workato_simulator\n    sim = True\n"
        "except ImportError:\n    sim = False\n"
        "keys = defs.resolve_asset_graph().get_all_asset_keys()\n"
        "print(json.dumps({'package': archy_pipeline.__file__, 'models': str(DEFAULT_MODELS_DIR),"
        " 'assets': sorted(k.to_user_string() for k in keys), 'simulator': sim}))\n"
    )
    result = subprocess.run(
        [str(python), "-c", probe],
        check=True,
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "DAGSTER_HOME": str(tmp_path)},
    )
    loaded = json.loads(result.stdout.strip().splitlines()[-1])
    assert loaded["package"].startswith(target), loaded["package"]
    assert loaded["models"].startswith(target), loaded["models"]
    assert loaded["simulator"] is False

    from archy_pipeline.definitions import defs

    here = sorted(k.to_user_string() for k in defs.resolve_asset_graph().get_all_asset_keys())
    assert loaded["assets"] == here
    models = {p.stem for p in (ROOT / "dbt_like_sql").rglob("*.sql")}
    assert {f"archy/{m}" for m in models} <= set(loaded["assets"])
