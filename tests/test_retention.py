"""Retention: the daily job removes only what is older than archy.yaml ``retention:`` keeps,
says how much, and deletes finished Dagster runs older than the bound, never a run in progress.
The warehouse tests run on DuckDB and on the local PostgreSQL."""

from __future__ import annotations

import time
from datetime import datetime, timedelta, timezone

import dagster as dg
import pytest

from archy_pipeline.resources.settings import ArchySettingsResource
from archy_pipeline.resources.warehouse import WarehouseResource
from archy_pipeline.sensors.retention import RUN_RECORDS, delete_old_runs, retention_job
from archy_pipeline.settings import parse_settings
from tests.support import acme, rows, run_pipeline

NOW = datetime.now(timezone.utc)


def _ago(days: float) -> datetime:
    return NOW - timedelta(days=days)


@pytest.fixture(params=["duckdb", pytest.param("postgres", marks=pytest.mark.postgres)])
def warehouse(request, tmp_path) -> WarehouseResource:
    """A synced and built ACME warehouse: a copy of the session's DuckDB file, or the ACME
    workspace synced and built into a PostgreSQL database of the test's own."""
    if request.param == "duckdb":
        return request.getfixturevalue("acme_warehouse").copy_to(tmp_path)
    dsn = request.getfixturevalue("postgres_database")
    warehouse = WarehouseResource(postgres_dsn=dsn, pipelines_dir=str(tmp_path / "dlt"))
    workspace, _ = acme()
    sim = request.getfixturevalue("simulator")(workspace, rate_limits=None)
    assert run_pipeline(sim, warehouse).success
    return warehouse


def _seed_old_rows(warehouse) -> None:
    """Rows on each side of the default bounds (730, 365, 180, 90 days), in one transaction."""
    p = warehouse.placeholder
    seeds = [
        (
            "insert into archy.recipe_history (workspace, recipe_id, valid_from, valid_to, "
            f"ended_by, name) values ('old', {p}, {p}, {p}, {p}, {p})",
            [
                (1, _ago(900), _ago(800), "change", "closed 800 days ago"),
                (1, _ago(800), _ago(700), "deleted", "closed 700 days ago"),
                (2, _ago(2000), None, None, "open since 2000 days"),
            ],
        ),
        (
            "insert into archy.integration_history (workspace, recipe_id, connection_id, "
            f"valid_from, valid_to, ended_by) values ('old', 1, 1, {p}, {p}, 'removed')",
            [(_ago(1000), _ago(731))],
        ),
        (
            "insert into archy.change_events (event_id, workspace, detected_at, type) "
            f"values ({p}, 'old', {p}, 'new_recipe')",
            [("e-400", _ago(400)), ("e-300", _ago(300))],
        ),
        (
            "insert into archy.insights (insight_id, workspace, status, last_seen_at) "
            f"values ({p}, 'old', {p}, {p})",
            [
                ("resolved-200", "resolved", _ago(200)),
                ("open-200", "open", _ago(200)),
                ("resolved-100", "resolved", _ago(100)),
            ],
        ),
        (
            "insert into workato_raw.sync_issues (workspace, synced_at, kind, _dlt_load_id, "
            f"_dlt_id) values ('old', {p}, 'not_running', 'x', {p})",
            [(_ago(100), "i-100"), (_ago(10), "i-10")],
        ),
    ]
    with warehouse.backend.transaction() as writes:
        for sql, values in seeds:
            for row in values:
                writes.execute(sql, list(row))


def _count(warehouse, table: str) -> int:
    return rows(warehouse, f"select count(*) from {table} where workspace = 'old'")[0][0]


def test_retention_removes_only_what_is_older_than_the_bounds_and_says_so(warehouse):
    _seed_old_rows(warehouse)
    (history_before,) = rows(warehouse, "select count(*) from archy.recipe_history")[0]

    with dg.instance_for_test() as instance:
        result = retention_job.execute_in_process(
            resources={"warehouse": warehouse, "settings": ArchySettingsResource()},
            instance=instance,
        )
        logged = [entry.user_message for entry in instance.all_logs(result.run_id)]
    assert result.success
    removed = result.output_for_node("remove_expired_records")
    assert removed == {
        "archy.recipe_history": 1,
        "archy.connection_history": 0,
        "archy.integration_history": 1,
        "archy.change_events": 1,
        "archy.insights": 1,
        "workato_raw.sync_issues": 1,
        RUN_RECORDS: 0,
    }
    (output,) = [e for e in result.all_events if e.event_type_value == "STEP_OUTPUT"]
    metadata = output.event_specific_data.metadata
    assert metadata["removed archy.recipe_history"].value == 1
    assert metadata["removed_total"].value == 5
    (line,) = [message for message in logged if message.startswith("retention removed")]
    assert "1 from archy.change_events" in line and "0 from dagster runs" in line

    assert rows(
        warehouse, "select name from archy.recipe_history where workspace = 'old' order by 1"
    ) == [("closed 700 days ago",), ("open since 2000 days",)], "open rows stay, whatever age"
    (history_after,) = rows(warehouse, "select count(*) from archy.recipe_history")[0]
    assert history_after == history_before - 1, "the build's own rows are untouched"
    assert _count(warehouse, "archy.integration_history") == 0
    assert rows(warehouse, "select event_id from archy.change_events where workspace = 'old'") == [
        ("e-300",)
    ]
    assert rows(
        warehouse, "select insight_id from archy.insights where workspace = 'old' order by 1"
    ) == [("open-200",), ("resolved-100",)]
    assert _count(warehouse, "workato_raw.sync_issues") == 1


def test_shorter_retention_settings_remove_more(warehouse, tmp_path):
    _seed_old_rows(warehouse)
    config = tmp_path / "archy.yaml"
    config.write_text("retention:\n  change_events_days: 200\n  sync_issues_days: 5\n")
    with dg.instance_for_test() as instance:
        result = retention_job.execute_in_process(
            resources={
                "warehouse": warehouse,
                "settings": ArchySettingsResource(config_path=str(config)),
            },
            instance=instance,
        )
    removed = result.output_for_node("remove_expired_records")
    assert (removed["archy.change_events"], removed["workato_raw.sync_issues"]) == (2, 2)


@dg.op
def _noop() -> None:
    pass


@dg.job
def _tiny_job() -> None:
    _noop()


def test_finished_runs_older_than_the_bound_are_deleted_and_others_kept():
    with dg.instance_for_test() as instance:
        old = _tiny_job.execute_in_process(instance=instance).run_id
        in_progress = instance.create_run_for_job(_tiny_job, status=dg.DagsterRunStatus.STARTED)
        time.sleep(0.05)
        bound = datetime.now(timezone.utc)
        time.sleep(0.05)
        recent = _tiny_job.execute_in_process(instance=instance).run_id

        assert delete_old_runs(instance, bound, keep=None) == 1
        assert instance.get_run_by_id(old) is None
        assert instance.get_run_by_id(recent) is not None
        assert instance.get_run_by_id(in_progress.run_id) is not None, "never a running one"
        assert delete_old_runs(instance, bound, keep=None) == 0


@pytest.mark.parametrize(
    ("retention", "problem"),
    [
        pytest.param({"history_days": 0}, "retention.history_days: must be at least 1, not 0",
                     id="zero"),
        pytest.param({"run_records_days": "90d"},
                     "retention.run_records_days: must be an integer, not '90d'", id="text"),
    ],
)  # fmt: skip
def test_an_invalid_retention_setting_is_one_line_naming_the_key(retention, problem):
    from archy_pipeline.settings import ConfigError

    with pytest.raises(ConfigError) as error:
        parse_settings({"retention": retention})
    assert str(error.value).endswith(problem)
    assert "\n" not in str(error.value)


def test_retention_defaults_are_the_documented_ones():
    keep = parse_settings({}).retention
    assert keep.model_dump() == {
        "history_days": 730,
        "change_events_days": 365,
        "resolved_insights_days": 180,
        "sync_issues_days": 90,
        "run_records_days": 90,
    }
