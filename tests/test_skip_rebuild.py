"""Nothing changed, nothing rebuilt (issue 13): an unchanged sync rebuilds no archy table.

Real simulator over HTTP, real DuckDB files, a real Dagster instance (conftest's DAGSTER_HOME):
``archy-pipeline sync`` in process, and the rebuild automation's ticks as the daemon runs them.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import dagster as dg
import duckdb
import pytest
import yaml

from archy_pipeline.assets.publish import SNAPSHOT_KEY
from archy_pipeline.cli import main
from archy_pipeline.constants import WORKSPACES
from archy_pipeline.definitions import build_defs
from tests.support import workspace_with_recipes

#: Several syncs and rebuilds each, on a CPU shared with other test runs.
pytestmark = [pytest.mark.slow, pytest.mark.timeout(900)]

ARCHY_TABLES = (
    "integrations", "system_instances", "integration_systems", "system_mappings", "insights",
    "graph_nodes", "graph_edges",
)  # fmt: skip


def _configure(sim, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, extra: dict | None = None):
    config = {"workspaces": [{"name": "ACME", "base_url": sim.base_url}], **(extra or {})}
    path = tmp_path / "archy.yaml"
    path.write_text(yaml.safe_dump(config))
    monkeypatch.setenv("ARCHY_CONFIG", str(path))
    monkeypatch.setenv("ARCHY_DUCKDB_PATH", str(tmp_path / "data" / "warehouse.duckdb"))
    monkeypatch.setenv("ARCHY_REPORT_DIR", str(tmp_path / "report"))
    monkeypatch.setenv("WORKATO_API_TOKEN", sim.token)
    return path


def _snapshot(tmp_path: Path) -> Path:
    return tmp_path / "data" / "analysts.duckdb"


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _tables(tmp_path: Path) -> dict[str, list[tuple]]:
    """The archy tables as analysts see them (the snapshot), sorted."""
    with duckdb.connect(str(_snapshot(tmp_path)), read_only=True) as con:
        return {
            t: sorted(con.execute(f"select * from archy.{t}").fetchall(), key=repr)
            for t in ARCHY_TABLES
        }


def _transform_keys() -> set[dg.AssetKey]:
    return set(build_defs().resolve_job_def("transform_job").asset_layer.selected_asset_keys)


def _materialization_counts(keys: set[dg.AssetKey]) -> dict[dg.AssetKey, int]:
    instance = dg.DagsterInstance.get()
    return {key: len(instance.fetch_materializations(key, limit=1000).records) for key in keys}


def _sync(capsys, *args: str, code: int = 0) -> str:
    assert main(["sync", *args]) == code
    return capsys.readouterr().out


def _built_once(sim, tmp_path, monkeypatch, capsys, recipes: int = 6):
    _configure(sim, tmp_path, monkeypatch)
    out = _sync(capsys)
    assert "== Rebuilding the archy tables (transform_job): never built" in out
    keys = _transform_keys()
    counts = _materialization_counts(keys)
    assert set(counts.values()) == {1}
    return keys


def test_an_unchanged_daily_sync_rebuilds_nothing(simulator, tmp_path, monkeypatch, capsys):
    sim = simulator(workspace_with_recipes(6), rate_limits=None)
    keys = _built_once(sim, tmp_path, monkeypatch, capsys)
    tables, snapshot = _tables(tmp_path), _digest(_snapshot(tmp_path))
    events = (
        duckdb.connect(str(_snapshot(tmp_path)), read_only=True)
        .execute("select count(*) from archy.change_events")
        .fetchone()
    )

    out = _sync(capsys)
    assert "recipes 6 (+0)" in out, "the sync loaded no row"
    assert "== archy tables not rebuilt: nothing changed since the last build at " in out
    assert "Rebuilding" not in out
    assert _materialization_counts(keys) == dict.fromkeys(keys, 1), "no transform asset ran"
    assert _digest(_snapshot(tmp_path)) == snapshot, "the analysts' snapshot was not rewritten"
    assert _tables(tmp_path) == tables
    with duckdb.connect(str(_snapshot(tmp_path)), read_only=True) as con:
        assert con.execute("select count(*) from archy.change_events").fetchone() == events

    out = _sync(capsys, "--rebuild")
    assert "== Rebuilding the archy tables (transform_job): --rebuild asked for it" in out
    assert _materialization_counts(keys) == dict.fromkeys(keys, 2)
    out = _sync(capsys, "--full")
    assert "(transform_job): a full refresh rebuilds everything" in out
    rebuilt = _tables(tmp_path)
    assert {t: rows for t, rows in rebuilt.items() if t != "insights"} == {
        t: rows for t, rows in tables.items() if t != "insights"
    }, "rebuilt from the same rows: the same tables (insights carry their build's date)"


#: Each change to the workspace, and what shows in the archy tables once they are rebuilt.
CHANGES = (
    ("renamed", lambda ws, ids: ws.update_recipe(ids[0], name="Renamed recipe"),
     "select count(*) from archy.integrations where name = 'Renamed recipe'"),
    # recipe 0 runs: stopping it changes its status only
    ("stopped", lambda ws, ids: ws.stop_recipe(ids[0]),
     "select count(*) from archy.change_events where type = 'recipe_status_changed'"),
    ("deleted", lambda ws, ids: ws.delete_recipe(ids[1]),
     "select count(*) from archy.change_events where type = 'recipe_deleted'"),
    # 4 of the 6 left vanish at once: the deletion is refused, a sync issue and no row changed
    # (last: the issue is recorded again at every sync while the recipes stay missing)
    ("sync issue", lambda ws, ids: [ws.delete_recipe(i) for i in ids[2:6]],
     "select count(*) from archy.change_events where type = 'sync_error'"),
)  # fmt: skip


def test_each_change_in_the_workspace_rebuilds(simulator, tmp_path, monkeypatch, capsys):
    """A renamed recipe, a stopped one (status only), a deleted one, a sync issue with no row
    changed: each sync after one of these rebuilds; the sync after it does not."""
    ws = workspace_with_recipes(7)
    sim = simulator(ws, rate_limits=None)
    keys = _built_once(sim, tmp_path, monkeypatch, capsys)
    ids = sorted(ws.recipes)
    for builds, (name, change, shows) in enumerate(CHANGES, start=2):
        if name == "sync issue":
            assert "not rebuilt" in _sync(capsys), "unchanged again after the changes"
        with duckdb.connect(str(_snapshot(tmp_path)), read_only=True) as con:
            assert con.execute(shows).fetchone() == (0,), name
        change(ws, ids)
        out = _sync(capsys)
        assert "== Rebuilding the archy tables (transform_job): " in out, name
        assert "workato_raw/" in out and "has a new data version" in out, f"{name}: says why"
        assert _materialization_counts(keys) == dict.fromkeys(keys, builds), name
        with duckdb.connect(str(_snapshot(tmp_path)), read_only=True) as con:
            assert con.execute(shows).fetchone() == (1,), name
    with duckdb.connect(str(_snapshot(tmp_path)), read_only=True) as con:
        assert con.execute(
            "select count(*) from workato_raw.recipes where deleted_at is null"
        ).fetchone() == (6,), "the mass deletion was refused"


def test_a_changed_mapping_rule_in_archy_yaml_rebuilds(simulator, tmp_path, monkeypatch, capsys):
    ws = workspace_with_recipes(3)
    ws.add_connection("slack", "Team Slack")
    sim = simulator(ws, rate_limits=None)
    system = {"id": "our-chat", "name": "Our chat", "providers": ["slack"]}
    _configure(sim, tmp_path, monkeypatch, {"systems": [system]})
    assert "(transform_job): never built" in _sync(capsys)
    assert "not rebuilt" in _sync(capsys)
    query = "select system_id from archy.system_mappings where connection_name = 'Team Slack'"
    with duckdb.connect(str(_snapshot(tmp_path)), read_only=True) as con:
        assert con.execute(query).fetchone() != ("our-erp",)

    rule = {"name": "(?i)^team", "system": "our-erp"}
    erp = {"id": "our-erp", "name": "Our ERP"}
    _configure(sim, tmp_path, monkeypatch, {"systems": [system, erp], "mapping": {"rules": [rule]}})
    out = _sync(capsys)
    assert "(transform_job): " in out and "has a new code version" in out
    with duckdb.connect(str(_snapshot(tmp_path)), read_only=True) as con:
        assert con.execute(query).fetchone() == ("our-erp",)

    # A section no table depends on changes nothing.
    _configure(sim, tmp_path, monkeypatch, {
        "systems": [system, erp], "mapping": {"rules": [rule]},
        "schedules": {"daily": "0 3 * * *"},
    })  # fmt: skip
    assert "not rebuilt" in _sync(capsys)


def test_a_failed_rebuild_is_run_again_by_the_next_sync(simulator, tmp_path, monkeypatch, capsys):
    ws = workspace_with_recipes(6)
    sim = simulator(ws, rate_limits=None)
    _built_once(sim, tmp_path, monkeypatch, capsys)
    snapshot = _digest(_snapshot(tmp_path))
    ws.update_recipe(sorted(ws.recipes)[0], name="Renamed recipe")
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("the report cannot be written under a file")
    monkeypatch.setenv("ARCHY_REPORT_DIR", str(blocker / "report"))
    assert main(["sync"]) == 1
    assert "transform failed" in capsys.readouterr().err
    assert _digest(_snapshot(tmp_path)) == snapshot, "nothing published"

    monkeypatch.setenv("ARCHY_REPORT_DIR", str(tmp_path / "report"))
    out = _sync(capsys)  # the workspace did not change since the failed rebuild
    assert "recipes 6 (+0)" in out
    assert "== Rebuilding the archy tables (transform_job): " in out
    with duckdb.connect(str(_snapshot(tmp_path)), read_only=True) as con:
        renamed = "select count(*) from archy.integrations where name = 'Renamed recipe'"
        assert con.execute(renamed).fetchone() == (1,)
    assert "not rebuilt" in _sync(capsys)


# ---------------------------------------------------------------------- the daemon's path


@pytest.mark.filterwarnings("ignore:Parameter `use_user_code_server`:dagster.BetaWarning")
def test_the_automation_requests_no_rebuild_after_an_unchanged_sync(
    simulator, tmp_path, monkeypatch
):
    from tests.test_operate import _automation_tick

    ws = workspace_with_recipes(4)
    sim = simulator(ws, rate_limits=None)
    _configure(sim, tmp_path, monkeypatch)
    defs = build_defs()
    with dg.instance_for_test() as instance:
        instance.add_dynamic_partitions(WORKSPACES.name, ["ACME"])
        sync_job = defs.resolve_job_def("sync_job")

        def sync() -> None:
            assert sync_job.execute_in_process(instance=instance, partition_key="ACME").success

        def rebuild(request: dg.RunRequest) -> None:
            assert defs.resolve_implicit_global_asset_job_def().execute_in_process(
                instance=instance, asset_selection=list(request.asset_selection),
                tags=request.tags,
            ).success  # fmt: skip

        _, cursor = _automation_tick(instance, None)
        sync()
        requests, cursor = _automation_tick(instance, cursor)
        (request,) = requests
        rebuild(request)
        requests, cursor = _automation_tick(instance, cursor)
        assert requests == []

        sync()  # nothing changed in the workspace
        requests, cursor = _automation_tick(instance, cursor)
        assert requests == [], "an unchanged sync requests no rebuild"

        ws.stop_recipe(sorted(ws.recipes)[0])
        sync()
        requests, cursor = _automation_tick(instance, cursor)
        (request,) = requests
        requested = set(request.asset_selection)
        assert {dg.AssetKey(["archy", "integrations"]), dg.AssetKey(["archy", "change_events"]),
                dg.AssetKey(["archy", "insights"]), SNAPSHOT_KEY} <= requested  # fmt: skip
        assert dg.AssetKey(["archy", "systems"]) not in requested, "no connection changed"
