"""The archy tables end to end: a small hand-built workspace -> extract -> models, on DuckDB and
PostgreSQL, with row-level expectations; atomic publishing; docs/tables.md against the tables."""

from __future__ import annotations

import shutil
from pathlib import Path

import dagster as dg
import pytest
from dagster_dlt import DagsterDltResource
from workato_simulator import Workspace
from workato_simulator.workspace import application_config

from archy_pipeline.assets.analysis import analysis_tables
from archy_pipeline.assets.mapping import system_mappings, systems
from archy_pipeline.assets.transform import (
    DEFAULT_MODELS_DIR,
    build_sql_model_assets,
    integration_descriptions,
)
from archy_pipeline.resources import WorkatoResource
from archy_pipeline.resources.settings import ArchySettingsResource
from archy_pipeline.resources.warehouse import WarehouseResource
from tests.support import (
    acme,
    block,
    build_archy,
    documented_columns,
    materialize_sync,
    rows,
    run_pipeline,
)

ROOT = Path(__file__).resolve().parent.parent


def check_acme_rows(warehouse: WarehouseResource, ids: dict[str, int]) -> None:
    i = ids
    roles = rows(
        warehouse,
        "select recipe_id, connection_id, role, step_numbers, read_steps, write_steps, "
        "unknown_steps, by_trigger from archy.integration_systems "
        "order by recipe_id, connection_id",
    )
    assert sorted(roles) == sorted(
        [
            (i["caller"], i["sf"], "source", "0", 1, 0, 0, True),
            (i["caller"], i["ns"], "target", "1", 0, 1, 0, False),
            (i["caller"], i["slack"], "target", "2", 0, 1, 0, False),
            (i["callee"], i["sf"], "target", "1", 0, 1, 0, False),
            # search_sobjects reads Salesforce: a source although it is no trigger
            (i["nightly"], i["sf"], "source", "2", 1, 0, 0, False),
            (i["nightly"], i["ns"], "target", "3", 0, 1, 0, False),
            (i["subscriber"], i["slack"], "target", "1", 0, 1, 0, False),
            (i["both"], i["sf"], "both", "0,1", 1, 1, 0, True),
        ]
    ), "one row per (recipe, connection), never a cross-product"

    calls = rows(
        warehouse,
        "select caller_recipe_id, callee_recipe_id, via, detail, resolved "
        "from archy.integration_calls",
    )
    assert sorted(calls, key=str) == sorted(
        [
            (i["caller"], i["callee"], "call_recipe", str(i["callee"]), True),
            (i["nightly"], None, "call_recipe", '=_dp(\'{"pill_type":"output"}\')', False),
            (i["nightly"], i["subscriber"], "pub_sub", "topic 777", True),
        ],
        key=str,
    )

    instances = {
        r[0]: r[1:]
        for r in rows(
            warehouse,
            "select connection_id, status, environment, recipe_count, authorization_error "
            "from archy.system_instances",
        )
    }
    assert instances[i["sf"]] == ("active", "production", 4, None)
    assert instances[i["ns"]] == ("active", "sandbox", 2, None)
    assert instances[i["slack"]] == ("active", "production", 2, None)
    assert instances[i["jira"]] == ("active", "staging", 0, None)
    assert instances[i["hubspot"]] == ("inactive", "production", 0, "invalid_grant")

    mappings = {
        r[0]: r[1:]
        for r in rows(
            warehouse,
            "select connection_id, system_name, match_status, method from archy.system_mappings",
        )
    }
    assert mappings[i["sf"]] == ("Salesforce", "matched", "provider")
    assert mappings[i["http"]][1:] == ("none", None), "unmatched connections are listed"
    assert len(mappings) == 6

    integrations = {
        r[0]: r[1:]
        for r in rows(
            warehouse,
            "select recipe_id, status, stop_cause, folder_path, step_count, max_depth, "
            "has_error_handling, description from archy.integrations",
        )
    }
    assert integrations[i["caller"]] == (
        "active", None, "Home/Sales/Quote to Cash", 4, 1, False,
        "When a new Opportunity is created in Salesforce (ACME Production Salesforce), creates "
        "a Sales Order in NetSuite, posts a message to Slack and calls recipe 'Upsert contact'.",
    )  # fmt: skip
    assert integrations[i["nightly"]][:6] == (
        "stopped",
        "trigger_errors_limit",
        "Home/Sales",
        8,
        3,
        True,
    )
    assert integrations[i["nightly"]][6] == "Copies accounts every night.", "Workato's own wins"

    flows = rows(
        warehouse,
        "select source_application, target_application, recipe_count, recipe_ids "
        "from archy.system_flows order by target_application",
    )
    assert flows == [
        (
            "salesforce",
            "netsuite",
            2,
            ",".join(sorted([str(i["caller"]), str(i["nightly"])])),
        ),
        ("salesforce", "slack", 1, str(i["caller"])),
    ]
    paths = {r[0] for r in rows(warehouse, "select path from archy.folders")}
    assert paths == {"Home/Sales", "Home/Sales/Quote to Cash"}


def test_every_model_on_duckdb_with_row_level_expectations(acme_warehouse, tmp_path):
    warehouse = acme_warehouse.copy_to(tmp_path)
    result = acme_warehouse.build
    assert result.success
    check_acme_rows(warehouse, acme_warehouse.ids)
    checks = result.get_asset_check_evaluations()
    assert checks and all(c.passed for c in checks), [c.check_name for c in checks if not c.passed]
    assert {"connections_exist_check", "callees_exist_check"} <= {c.check_name for c in checks}
    keys = {
        e.materialization.asset_key.to_user_string()
        for e in result.get_asset_materialization_events()
    }
    assert "archy/system_flows" in keys
    meta = next(
        e.materialization.metadata
        for e in result.get_asset_materialization_events()
        if e.materialization.asset_key.path == ["archy", "integrations"]
    )
    assert meta["dagster/row_count"].value == 5
    assert "recipe_id" in meta["preview"].value
    assert [c.name for c in meta["dagster/column_schema"].value.columns][:2] == [
        "workspace",
        "recipe_id",
    ]


def lookup_then_notify() -> tuple[Workspace, dict[str, int]]:
    """A scheduled recipe that looks a customer up in SQL Server and posts to Slack, and one
    whose custom SQL is a datapill (unknown access) before the same Slack post."""
    ws = Workspace(name="Lookup")
    sql = ws.add_connection("mssql", "SQL Server PROD")
    slack = ws.add_connection("slack", "slack_ops_prd")
    config = [
        application_config("clock", None),
        application_config("mssql", sql.id),
        application_config("slack", slack.id),
    ]
    lookup = ws.add_recipe(
        "Notify sales of big customers",
        block(
            0,
            "trigger",
            "clock",
            "scheduled_event",
            block(1, "action", "mssql", "search_rows", input={"table": "customers"}),
            block(2, "action", "slack", "post_message", input={"channel": "#sales"}),
        ),
        config,
        running=True,
    )
    dynamic = ws.add_recipe(
        "Run the query of the day",
        block(0, "trigger", "clock", "scheduled_event",
              block(1, "action", "mssql", "run_custom_sql",
                    input={"sql": "#{_dp('{}')}"}),
              block(2, "action", "slack", "post_message", input={"channel": "#data"})),
        config, running=True,
    )  # fmt: skip
    return ws, {"sql": sql.id, "slack": slack.id, "lookup": lookup.id, "dynamic": dynamic.id}


def test_a_lookup_then_notify_recipe_flows_from_sql_server_to_slack(simulator, tmp_path):
    ws, i = lookup_then_notify()
    sim = simulator(ws, rate_limits=None)
    warehouse = WarehouseResource(duckdb_path=str(tmp_path / "warehouse.duckdb"))
    resources = {
        "dlt": DagsterDltResource(),
        "workato": WorkatoResource(
            api_token=sim.token, base_url=sim.base_url, requests_per_minute=0
        ),
        "warehouse": warehouse,
    }
    synced = materialize_sync(resources)
    steps_meta = next(
        e.materialization.metadata
        for e in synced.get_asset_materialization_events()
        if e.materialization.asset_key.path[-1] == "recipe_steps"
    )
    assert steps_meta["step_access"].value == (
        "step access: 4 steps on external apps: 25% read, 50% write, 25% unknown "
        "(see archy.unclassified_actions)"
    )
    assert (steps_meta["steps_read"].value, steps_meta["steps_write"].value) == (1, 2)
    assert (steps_meta["steps_unknown"].value, steps_meta["unknown_share"].value) == (1, 0.25)
    raw = rows(
        warehouse,
        "select recipe_id, number, access, access_reason from workato_raw.recipe_steps "
        "order by recipe_id, number",
    )
    assert raw == [
        (i["lookup"], 0, None, "platform"),
        (i["lookup"], 1, "read", "prefix"),
        (i["lookup"], 2, "write", "prefix"),
        (i["dynamic"], 0, None, "platform"),
        (i["dynamic"], 1, "unknown", "sql_unknown"),
        (i["dynamic"], 2, "write", "prefix"),
    ]

    result = dg.materialize(
        [
            integration_descriptions,
            systems,
            system_mappings,
            build_sql_model_assets(DEFAULT_MODELS_DIR),
            analysis_tables,
        ],
        resources={"warehouse": warehouse, "settings": ArchySettingsResource()},
    )
    assert result.success
    roles = rows(
        warehouse,
        "select recipe_id, connection_id, role, read_steps, write_steps, unknown_steps "
        "from archy.integration_systems",
    )
    assert sorted(roles) == sorted(
        [
            (i["lookup"], i["sql"], "source", 1, 0, 0),
            (i["lookup"], i["slack"], "target", 0, 1, 0),
            (i["dynamic"], i["sql"], "unknown", 0, 0, 1),
            (i["dynamic"], i["slack"], "target", 0, 1, 0),
        ]
    )
    flows = rows(
        warehouse,
        "select source_connection_id, source_application, target_connection_id, "
        "target_application, recipe_ids from archy.system_flows",
    )
    assert flows == [(i["sql"], "mssql", i["slack"], "slack", str(i["lookup"]))], (
        "exactly SQL Server -> Slack, from the lookup recipe only: never Slack -> SQL Server, "
        "and no arrow from a step of unknown access"
    )
    unclassified = rows(
        warehouse,
        "select application, action_name, reasons, step_count, recipe_count, recipe_ids "
        "from archy.unclassified_actions",
    )
    assert unclassified == [("mssql", "run_custom_sql", "sql_unknown", 1, 1, str(i["dynamic"]))]


def test_steps_parsed_before_access_existed_draw_no_flow(simulator, tmp_path):
    """A warehouse synced by an older version holds steps with access null: the trigger still
    reads, actions are unknown, so no flow is drawn until the recipes are parsed again."""
    ws, i = lookup_then_notify()
    sim = simulator(ws, rate_limits=None)
    warehouse = WarehouseResource(duckdb_path=str(tmp_path / "warehouse.duckdb"))
    resources = {
        "dlt": DagsterDltResource(),
        "workato": WorkatoResource(
            api_token=sim.token, base_url=sim.base_url, requests_per_minute=0
        ),
        "warehouse": warehouse,
    }
    assert materialize_sync(resources).success
    with warehouse.connect() as con:
        con.execute(
            "update workato_raw.recipe_steps set access = null, access_reason = null, "
            "connection_id = 424242 where number = 0 and recipe_id = ?",
            [i["lookup"]],
        )
        con.execute("update workato_raw.recipe_steps set access = null, access_reason = null")
    result = dg.materialize(
        [
            integration_descriptions,
            systems,
            system_mappings,
            build_sql_model_assets(DEFAULT_MODELS_DIR),
        ],
        resources={"warehouse": warehouse, "settings": ArchySettingsResource()},
    )
    assert result.success
    roles = rows(
        warehouse,
        "select recipe_id, connection_id, role from archy.integration_systems "
        "where recipe_id = " + str(i["lookup"]),
    )
    assert sorted(roles) == sorted(
        [
            (i["lookup"], 424242, "source"),
            (i["lookup"], i["sql"], "unknown"),
            (i["lookup"], i["slack"], "unknown"),
        ]
    )
    assert rows(warehouse, "select count(*) from archy.system_flows") == [(0,)]


@pytest.mark.postgres
def test_the_same_models_run_on_postgres(simulator, tmp_path, postgres_database):
    ws, ids = acme()
    sim = simulator(ws, rate_limits=None)
    warehouse = WarehouseResource(
        postgres_dsn=postgres_database, pipelines_dir=str(tmp_path / "dlt")
    )
    result = run_pipeline(sim, warehouse)
    assert result.success
    check_acme_rows(warehouse, ids)


def test_a_failing_model_leaves_its_previous_table_readable(simulator, tmp_path):
    ws, ids = acme()
    sim = simulator(ws, rate_limits=None)
    warehouse = WarehouseResource(duckdb_path=str(tmp_path / "warehouse.duckdb"))
    assert run_pipeline(sim, warehouse).success
    before = rows(warehouse, "select * from archy.integrations order by recipe_id")

    broken = tmp_path / "models"
    shutil.copytree(DEFAULT_MODELS_DIR, broken)
    path = broken / "archy" / "integrations.sql"
    path.write_text(path.read_text().replace("r.lifetime_task_count", "r.no_such_column"))
    ws.update_recipe(ids["caller"], name="Renamed after the first run")

    result = run_pipeline(sim, warehouse, broken)

    assert not result.success
    assert rows(warehouse, "select * from archy.integrations order by recipe_id") == before
    tables = {r[0] for r in rows(
        warehouse, "select table_name from information_schema.tables where table_schema='archy'"
    )}  # fmt: skip
    assert not any(t.endswith("__staging") for t in tables), "no half-built table is left"


def test_docs_tables_md_matches_the_real_tables(acme_warehouse, tmp_path):
    warehouse = acme_warehouse.copy_to(tmp_path)
    documented = documented_columns()
    real = {
        f"archy.{table}": [c for c, _ in warehouse.columns("archy", table)]
        for (table,) in rows(
            warehouse,
            "select table_name from information_schema.tables where table_schema = 'archy'",
        )
    }
    # The notification sensors write this one (checked in tests/test_notification_sensors.py).
    assert set(documented) - {"archy.notification_deliveries"} == set(real), (
        "every archy table is documented, and only those"
    )
    for table, columns in real.items():
        assert documented[table] == columns, f"{table}: docs list {documented[table]}"


def test_manual_links_rules_and_user_systems_from_archy_yaml(acme_warehouse, tmp_path, monkeypatch):
    ids = acme_warehouse.ids
    config = tmp_path / "archy.yaml"
    config.write_text(
        f"""
systems:
  - id: billing-api
    name: ACME Billing API
    vendor: ACME
    category: Internal API
    aliases: [Billing]
mapping:
  links:
    - {{connection_id: {ids["http"]}, system: billing-api}}
    - {{connection: "slack_ops_prd", reject: true}}
  rules:
    - {{name: "(?i)jira", system: jira-service-management}}
"""
    )
    monkeypatch.setenv("ARCHY_CONFIG", str(config))
    # the synced raw tables, built again with this archy.yaml
    warehouse = acme_warehouse.copy_to(tmp_path)
    assert build_archy(warehouse).success

    mapped = {
        r[0]: r[1:]
        for r in rows(
            warehouse,
            "select connection_id, system_id, match_status, method, reason "
            "from archy.system_mappings",
        )
    }
    assert mapped[ids["http"]][:3] == ("billing-api", "matched", "manual")
    assert "manual link" in mapped[ids["http"]][3]
    assert mapped[ids["slack"]][:3] == (None, "none", "manual")
    assert "rejected" in mapped[ids["slack"]][3]
    assert mapped[ids["jira"]][:3] == ("jira-service-management", "matched", "rule")
    assert mapped[ids["jira"]][3].startswith("rule 1")
    assert mapped[ids["sf"]][2] == "provider" and "provider 'salesforce'" in mapped[ids["sf"]][3]
    assert rows(
        warehouse, "select name, source from archy.systems where system_id = 'billing-api'"
    ) == [("ACME Billing API", "user")]


def test_a_generated_workspace_runs_every_model(generated_warehouse, tmp_path):
    from workato_simulator.generator import describe

    ws = generated_warehouse.workspace
    stats = describe(ws)
    warehouse = generated_warehouse.copy_to(tmp_path)
    result = generated_warehouse.build
    assert result.success
    assert all(c.passed for c in result.get_asset_check_evaluations())
    calls = rows(
        warehouse,
        "select count(*) filter (where via like 'call_recipe%' and resolved), "
        "count(*) filter (where via like 'call_recipe%' and not resolved) "
        "from archy.integration_calls",
    )[0]
    # The generator counts call steps by hand; skipped steps do not call anything.
    skipped = rows(
        warehouse,
        "select count(*) from workato_raw.recipe_steps "
        "where reference_kind like 'call_recipe%' and skipped",
    )[0][0]
    assert calls[0] + calls[1] + skipped == stats.calls + stats.dynamic_calls
    assert rows(warehouse, "select count(*) from archy.integrations")[0][0] == 200
    assert rows(warehouse, "select count(*) from archy.system_instances")[0][0] == len(
        ws.connections
    )


def test_integrity_checks_find_orphans(acme_warehouse, tmp_path):
    from archy_pipeline.assets.checks import callees_exist_check, connections_exist_check

    warehouse = acme_warehouse.copy_to(tmp_path)
    assert connections_exist_check(warehouse=warehouse).passed
    with warehouse.connect() as con:
        con.execute(
            "insert into archy.integration_systems values "
            "('Main Workspace', 1, 999999, 'jira', 'target', '3', 0, 1, 0, false)"
        )
        con.execute(
            "insert into archy.integration_calls values "
            "('Main Workspace', 1, 888888, 'call_recipe', 'ghost', 2, true)"
        )
    orphan = connections_exist_check(warehouse=warehouse)
    assert not orphan.passed
    assert orphan.metadata["orphan_rows"].value == 1
    assert orphan.metadata["examples"].value == [
        {"workspace": "Main Workspace", "recipe_id": 1, "connection_id": 999999}
    ]
    assert not callees_exist_check(warehouse=warehouse).passed
