"""archy_pipeline.workato.vocabulary: read/write classification of steps, table-driven, and the
hand-checked access of every step of the 18 genuine corpus recipes."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from workato_simulator.export_loader import corpus_dir

from archy_pipeline.settings import ConfigError, parse_settings
from archy_pipeline.workato.recipe_parser import parse_code, parse_recipe
from archy_pipeline.workato.vocabulary import (
    AccessOverrideError,
    AccessShare,
    classify_sql,
    classify_step,
    custom_connector_slug,
    display_name,
    is_platform_provider,
    parse_access_overrides,
)
from tests.support import report_figure

# ---------------------------------------------------------------------- rules


def adhoc(verb: Any, path: str = "rest/api/2/issue") -> dict[str, Any]:
    return {"verb": verb, "path": path, "request_type": "json"}


def rest(method: Any, url: str = "https://api.example.com/v1/orders") -> dict[str, Any]:
    return {"request": {"method": method, "url": url, "content_type": "application/json"}}


# (keyword, provider, action name, input) -> (access, http_method, reason)
CASES = [
    # control blocks and platform connectors touch no outside system
    pytest.param("if", None, None, None, (None, None, "no_application"), id="control-block"),
    pytest.param(
        "trigger", "clock", "scheduled_event", None, (None, None, "platform"), id="clock-trigger"
    ),
    pytest.param("action", "logger", "log_message", None, (None, None, "platform"), id="logger"),
    pytest.param(
        "action",
        "workato_db_table",
        "get_records",
        None,
        (None, None, "platform"),
        id="data-table",
    ),
    pytest.param("action", "email", "send_mail", None, (None, None, "platform"), id="email"),
    # the trigger reads
    pytest.param(
        "trigger",
        "salesforce",
        "sobject_deleted",
        None,
        ("read", None, "trigger"),
        id="trigger-reads",
    ),
    pytest.param(
        "trigger",
        "kafka",
        "new_message_batch_v2",
        None,
        ("read", None, "trigger"),
        id="kafka-trigger",
    ),
    # prefixes (addendum §7.2-§7.3)
    pytest.param(
        "action",
        "salesforce",
        "search_sobjects_soql",
        None,
        ("read", None, "prefix"),
        id="search",
    ),
    pytest.param(
        "action", "salesforce", "get_custom_object", None, ("read", None, "prefix"), id="get"
    ),
    pytest.param("action", "jira", "find_user", None, ("read", None, "prefix"), id="find"),
    pytest.param(
        "action", "service_now", "lookup_record", None, ("read", None, "prefix"), id="lookup"
    ),
    pytest.param(
        "action", "snowflake", "export_csv_v2", None, ("read", None, "prefix"), id="export"
    ),
    pytest.param(
        "action",
        "netsuite",
        "execute_saved_search",
        None,
        ("read", None, "exception"),
        id="execute-saved-search",
    ),
    pytest.param(
        "action",
        "netsuite",
        "execute_suiteql",
        None,
        ("read", None, "exception"),
        id="execute-suiteql",
    ),
    pytest.param(
        "action",
        "workday",
        "Search_business_object",
        None,
        ("read", None, "prefix"),
        id="case-insensitive",
    ),
    pytest.param(
        "action",
        "sftp",
        "streamable_download",
        None,
        ("read", None, "verb_in_name"),
        id="verb-later-in-name",
    ),
    pytest.param("action", "netsuite", "add_object", None, ("write", None, "prefix"), id="add"),
    pytest.param(
        "action",
        "google_sheets",
        "add_row_v4_bulk",
        None,
        ("write", None, "prefix"),
        id="add-bulk",
    ),
    pytest.param(
        "action",
        "salesforce",
        "composite_create_sobject",
        None,
        ("write", None, "prefix"),
        id="composite",
    ),
    pytest.param(
        "action",
        "slack",
        "post_message_to_channel",
        None,
        ("write", None, "prefix"),
        id="post",
    ),
    pytest.param("action", "kafka", "publish_to_topic", None, ("write", None, "prefix"), id="pub"),
    pytest.param(
        "action",
        "salesforce_secondary",
        "delete_sobject",
        None,
        ("write", None, "prefix"),
        id="secondary-provider",
    ),
    pytest.param(
        "action",
        "acme_connector_12_34",
        "frobnicate_widget",
        None,
        ("unknown", None, "no_rule"),
        id="no-rule",
    ),
    # per-connector exceptions (addendum §7.2-§7.3)
    pytest.param(
        "action",
        "snowflake",
        "sync_objects_to_snowflake_v2",
        None,
        ("write", None, "exception"),
        id="snowflake-replicate-rows",
    ),
    pytest.param("action", "sftp", "dir", None, ("read", None, "exception"), id="sftp-dir"),
    pytest.param("action", "sftp", "remove", None, ("write", None, "exception"), id="sftp-remove"),
    pytest.param(
        "action",
        "slack_bot",
        "block_kit_modals",
        None,
        ("write", None, "exception"),
        id="workbot-modal-writes-to-slack",
    ),
    pytest.param(
        "action",
        "netsuite",
        "initialize_operation",
        None,
        ("unknown", None, "exception"),
        id="netsuite-initialize-ambiguous",
    ),
    # HTTP by method (addendum §7.1)
    pytest.param(
        "action",
        "jira",
        "__adhoc_http_action",
        adhoc("get"),
        ("read", "GET", "http_verb"),
        id="adhoc-get",
    ),
    pytest.param(
        "action",
        "jira",
        "__adhoc_http_action",
        adhoc("put"),
        ("write", "PUT", "http_verb"),
        id="adhoc-put",
    ),
    pytest.param(
        "action",
        "jira",
        "__adhoc_http_action",
        adhoc("patch"),
        ("write", "PATCH", "http_verb"),
        id="adhoc-patch",
    ),
    pytest.param(
        "action",
        "google_calendar",
        "__adhoc_http_action",
        adhoc("post", "calendar/v3/freeBusy"),
        ("read", "POST", "http_query_post"),
        id="adhoc-post-to-a-query-endpoint",
    ),
    pytest.param(
        "action",
        "jira",
        "__adhoc_http_action",
        adhoc("post", "rest/api/2/search"),
        ("read", "POST", "http_query_post"),
        id="adhoc-post-search",
    ),
    pytest.param(
        "action",
        "jira",
        "__adhoc_http_action",
        adhoc("post", "rest/api/2/issue"),
        ("write", "POST", "http_verb"),
        id="adhoc-post",
    ),
    pytest.param(
        "action",
        "jira",
        "__adhoc_http_action",
        adhoc("=_dp('x')"),
        ("unknown", None, "http_no_method"),
        id="adhoc-dynamic-verb",
    ),
    pytest.param(
        "action",
        "jira",
        "__adhoc_http_action",
        {"path": "x"},
        ("unknown", None, "http_no_method"),
        id="adhoc-no-verb",
    ),
    pytest.param(
        "action",
        "rest",
        "make_request_v2",
        rest("GET"),
        ("read", "GET", "http_verb"),
        id="rest-get",
    ),
    pytest.param(
        "action",
        "rest",
        "make_request_v2",
        rest("HEAD"),
        ("read", "HEAD", "http_verb"),
        id="rest-head",
    ),
    pytest.param(
        "action",
        "rest",
        "make_request_v2",
        rest("DELETE"),
        ("write", "DELETE", "http_verb"),
        id="rest-delete",
    ),
    pytest.param(
        "action",
        "rest",
        "make_request_v2",
        rest("POST", "https://spm.varicent.com/api/v1/rpc/querytool"),
        ("read", "POST", "http_query_post"),
        id="rest-post-querytool",
    ),
    pytest.param(
        "action",
        "rest",
        "make_request_v2",
        rest("POST", "https://h.example/#{_dp('x')}"),
        ("write", "POST", "http_verb"),
        id="rest-post-dynamic-path",
    ),
    pytest.param(
        "action",
        "rest",
        "make_request_v2",
        rest(None),
        ("unknown", None, "http_no_method"),
        id="rest-no-method",
    ),
    pytest.param(
        "trigger",
        "rest",
        "new_poll_event",
        rest("GET"),
        ("read", "GET", "trigger"),
        id="rest-trigger-keeps-method",
    ),
    # SQL by the statement
    pytest.param(
        "action",
        "snowflake",
        "run_custom_sql",
        {"sql": "SELECT a FROM t WHERE x = 1"},
        ("read", None, "sql"),
        id="sql-select",
    ),
    pytest.param(
        "action",
        "mssql",
        "run_custom_sql",
        {"sql": "WITH c AS (SELECT 1) SELECT * FROM c"},
        ("read", None, "sql"),
        id="sql-with-select",
    ),
    pytest.param(
        "action",
        "mssql",
        "run_custom_sql",
        {"sql": "-- refresh\nUPDATE t SET last_update = now()"},
        ("write", None, "sql"),
        id="sql-update-after-comment",
    ),
    pytest.param(
        "action",
        "oracle",
        "run_custom_sql",
        {"sql": "WITH c AS (SELECT 1) INSERT INTO t SELECT * FROM c"},
        ("write", None, "sql"),
        id="sql-with-insert",
    ),
    pytest.param(
        "action",
        "snowflake",
        "run_custom_sql_async_v2",
        {"sql": "select 1; merge into t using s on t.id = s.id when matched then delete"},
        ("write", None, "sql"),
        id="sql-several-statements",
    ),
    pytest.param(
        "action",
        "mssql",
        "run_custom_sql",
        {"sql": "EXEC dbo.usp_nightly"},
        ("unknown", None, "sql_unknown"),
        id="sql-procedure-call",
    ),
    pytest.param(
        "action",
        "mssql",
        "run_custom_sql",
        {"sql": "#{_dp('query')}"},
        ("unknown", None, "sql_unknown"),
        id="sql-datapill",
    ),
    pytest.param(
        "action",
        "mssql",
        "run_custom_sql",
        {},
        ("unknown", None, "sql_unknown"),
        id="sql-missing",
    ),
    pytest.param(
        "action",
        "mssql",
        "execute_procedure",
        {"procedure": "dbo.usp_insert_orders"},
        ("write", None, "procedure"),
        id="procedure-named-insert",
    ),
    pytest.param(
        "action",
        "oracle",
        "execute_procedure",
        {"procedure": "XX.GET_ACCOUNTS"},
        ("unknown", None, "procedure"),
        id="procedure-named-get-stays-unknown",
    ),
]


@pytest.mark.parametrize(("keyword", "provider", "name", "inp", "want"), CASES)
def test_classify_step(keyword, provider, name, inp, want) -> None:
    got = classify_step(keyword, provider, name, inp)
    assert (got.access, got.http_method, got.reason) == want


def test_a_post_to_graphql_is_a_write() -> None:
    got = classify_step(
        "action", "rest", "make_request_v2", rest("POST", "https://h.example/graphql")
    )
    assert (got.access, got.reason) == ("write", "http_verb"), "a GraphQL POST may be a mutation"


def test_a_name_with_read_and_write_words_is_unknown() -> None:
    got = classify_step("action", "acme", "run_search_and_update", None)
    assert (got.access, got.reason) == ("unknown", "no_rule")


def test_a_platform_connector_used_through_a_connection_is_classified() -> None:
    # RecipeOps (workato_app) needs a connection: its steps act on a Workato workspace.
    assert classify_step("action", "workato_app", "rerun_jobs", None).access is None
    got = classify_step("action", "workato_app", "rerun_jobs", None, has_connection=True)
    assert (got.access, got.reason) == ("write", "prefix")


@pytest.mark.parametrize(
    ("sql", "want"),
    [
        pytest.param("select * into new_t from t", "write", id="select-into-creates"),
        pytest.param("SHOW TABLES", "read", id="show"),
        pytest.param("insert into t values ('select')", "write", id="string-literal-ignored"),
        pytest.param("/* select */ delete from t", "write", id="block-comment"),
        pytest.param("truncate table t", "write", id="truncate"),
        pytest.param("call p()", "unknown", id="call"),
        pytest.param("   ", "unknown", id="blank"),
        pytest.param(None, "unknown", id="none"),
    ],
)
def test_classify_sql(sql, want) -> None:
    assert classify_sql(sql) == want


# ---------------------------------------------------------------------- overrides


def test_overrides_win_over_every_rule_and_cover_secondary_connections() -> None:
    overrides = parse_access_overrides(
        {"MSSQL/Execute_Procedure": "read", "acme_connector_1_2/*": "write"}
    )
    assert overrides == {"mssql/execute_procedure": "read", "acme_connector_1_2/*": "write"}
    got = classify_step(
        "action", "mssql_secondary", "execute_procedure", {"procedure": "usp_insert_x"},
        overrides=overrides,
    )  # fmt: skip
    assert (got.access, got.reason) == ("read", "override")
    got = classify_step("action", "acme_connector_1_2", "frobnicate", None, overrides=overrides)
    assert (got.access, got.reason) == ("write", "override")
    got = classify_step("action", "mssql", "execute_procedure", {}, overrides=overrides)
    assert got.reason == "override"
    assert classify_step("action", "mssql", "run_custom_sql", {}, overrides=overrides).reason == (
        "sql_unknown"
    ), "an override names one action"


def test_overrides_reach_the_parser() -> None:
    code = {
        "number": 0, "keyword": "trigger", "provider": "clock", "name": "scheduled_event",
        "block": [{"number": 1, "keyword": "action", "provider": "mssql",
                   "name": "execute_procedure", "input": {"procedure": "dbo.nightly"}}],
    }  # fmt: skip
    assert parse_code(code).steps[1].access == "unknown"
    step = parse_code(code, access_overrides={"mssql/execute_procedure": "write"}).steps[1]
    assert (step.access, step.access_reason) == ("write", "override")


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        pytest.param({"mssql": "read"}, "key 'mssql' must be '<provider>/<action_name>'",
                     id="no-slash"),
        pytest.param({"/x": "read"}, "key '/x'", id="no-provider"),
        pytest.param({"mssql/x": "writes"}, "access.overrides.mssql/x: 'writes'", id="value"),
        pytest.param({"mssql/x": "unknown"}, "is not 'read' or 'write'", id="unknown-value"),
        pytest.param(["mssql/x"], "must be a mapping", id="not-a-mapping"),
    ],
)  # fmt: skip
def test_invalid_overrides_name_the_key(overrides, message) -> None:
    with pytest.raises(AccessOverrideError, match=r"access\.overrides") as info:
        parse_access_overrides(overrides)
    assert message in str(info.value)
    with pytest.raises(ConfigError) as info:
        parse_settings({"access": {"overrides": overrides}}, "archy.yaml")
    assert str(info.value).startswith("archy.yaml: access.overrides")
    assert message in str(info.value)


def test_archy_yaml_access_section() -> None:
    config = parse_settings({"access": {"overrides": {"mssql/run_custom_sql": "read"}}})
    assert config.access_overrides == {"mssql/run_custom_sql": "read"}
    assert parse_settings({}).access_overrides == {}
    with pytest.raises(ConfigError, match="access: unknown key"):
        parse_settings({"access": {"override": {}}})


# ---------------------------------------------------------------------- providers, share


def test_provider_helpers() -> None:
    assert is_platform_provider("workato_pub_sub") and is_platform_provider("clock")
    assert not is_platform_provider("rest") and not is_platform_provider(None)
    assert custom_connector_slug("coupa_v2_connector_812_1699_secondary") == "coupa_v2"
    assert display_name("mssql_secondary") == "SQL Server"
    assert display_name("acme_crm_connector_1_2") == "Acme Crm"


def test_access_share_summary() -> None:
    share = AccessShare.from_counts({"read": 600, "write": 350, "unknown": 284})
    assert share.summary() == (
        "step access: 1,234 steps on external apps: 49% read, 28% write, 23% unknown "
        "(see archy.unclassified_actions)"
    )
    assert AccessShare.from_counts({"read": 1}).summary() == (
        "step access: 1 steps on external apps: 100% read, 0% write, 0% unknown"
    )
    assert AccessShare().summary() == "step access: no steps on external apps"


def test_module_imports_neither_dagster_nor_dlt() -> None:
    out = subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys, archy_pipeline.workato.vocabulary; "
            "print('dagster' in sys.modules, 'dlt' in sys.modules)",
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    assert out.stdout.split() == ["False", "False"]


# ---------------------------------------------------------------------- corpus acceptance

# Hand-checked access of every step, one character per step in step-number order:
# r read, w write, ? unknown, - none (a control block, or a platform connector without a
# connection). Decided from each file's provider, name and input, not by running the code.
CORPUS_ACCESS: dict[str, str] = {
    # 2: Google Calendar custom action POST calendar/v3/freeBusy: a free/busy query, a read.
    "get_busy": "--r---",
    # 1: on-prem files download_file; 4: Gmail send_mail.
    "opa_linux": "-r--w",
    # webhook trigger, variables, FileStorage, recipe calls: nothing outside Workato.
    "case_group_members_initial_migration_00_start_webhook": "-------",
    # 2: Salesforce custom action, verb get.
    "case_group_members_source_delete_replay_webhook": "--r----------",
    # 0: Salesforce sobject_deleted trigger.
    "case_group_members_source_deletion_watcher_app_trigger": "r-",
    # 7: Salesforce search_sobjects_soql_bulk_csv_v2 (a SOQL SELECT).
    "case_group_members_source_re_sync_by_parent_account_number_webhook": "-------r------------",
    # 6: GitHub custom connector create_release; lookup table and JSON parser are platform.
    "cicd_func_create_release_in_github": "------w-----",
    # 1: Workbot get_user_by_email.
    "cicd_func_fetch_user_id_from_user_email": "-r-",
    "cicd_func_get_execution_results": "------",
    # 3: Snowflake run_custom_sql with a SELECT behind an API endpoint.
    "core_crm_rec_get_ebs_accounts": "---r---",
    # 2: HTTP POST to a Varicent rpc/querytool whose body is a SELECT: a read; 6: Drive
    # search; 7: Drive delete_file; 9: Drive custom action POST upload/drive/v3/files: write.
    "icm_bookingsmaster_get_data": "--r---rw-w-",
    # 3: RecipeOps rerun_jobs through a RecipeOps connection: changes jobs in Workato.
    "job_auto_reprocess_scheduled": "---w",
    # 0: Kafka trigger; 7: Salesforce create_custom_platform_event; 11: Workato email.
    "mdmpartyupdate_rec_accountupdate_mvp": "r------w----",
    # 0: RecipeOps trigger and 1: search_connections, through a RecipeOps connection.
    "monitor_connection": "rr--",
    # 2: Snowflake export_csv_v2 (SELECT); 4, 6, 11, 13: Gmail send_mail; 9: SFTP upload.
    "prod_peopleanalytics_open_requisition_export": "--r-w-w--w-w-w",
    # Google Sheets get_spreadsheet_rows_v4 then Oracle insert_rows_batch, twice.
    "rec_rhsc_compliance_load_permission_mappings_step_00": "-rwrw",
    # 0: JDBC trigger (a SELECT); 4: ServiceNow create_object; 7, 9, 11: Workato email.
    "s2p_func_oracle_cost_centers_jdbc": "r---w-------",
    # API endpoint, recipe calls, responses, logger: nothing outside Workato.
    "upsert_contact_by_email": "--------------",
}
#: Hand-checked HTTP methods: (recipe, step) -> method.
CORPUS_HTTP: dict[tuple[str, int], str] = {
    ("get_busy", 2): "POST",
    ("case_group_members_source_delete_replay_webhook", 2): "GET",
    ("icm_bookingsmaster_get_data", 2): "POST",
    ("icm_bookingsmaster_get_data", 9): "POST",
}
_CODES = {"r": "read", "w": "write", "?": "unknown", "-": None}


def _corpus() -> dict[str, Path]:
    root = corpus_dir()
    if not root.is_dir():
        pytest.skip(f"the genuine-export corpus is absent ({root}); it lives in ../shared")
    return {p.name.removesuffix(".recipe.json"): p for p in root.rglob("*.recipe.json")}


def test_every_corpus_recipe_has_hand_checked_access() -> None:
    found = set(_corpus())
    assert found == set(CORPUS_ACCESS), (
        f"add {sorted(found - set(CORPUS_ACCESS))}; drop {sorted(set(CORPUS_ACCESS) - found)}"
    )


@pytest.mark.parametrize("stem", sorted(CORPUS_ACCESS))
def test_corpus_step_access(stem: str) -> None:
    path = _corpus()[stem]
    steps = parse_recipe(json.loads(path.read_text(encoding="utf-8"))).steps
    want = CORPUS_ACCESS[stem]
    assert [s.number for s in steps] == list(range(len(want))), "one character per step"
    got = {s.number: (s.access, s.access_reason) for s in steps}
    wrong = {
        n: (f"want {_CODES[code]}", f"got {got[n][0]} ({got[n][1]})")
        for n, code in enumerate(want)
        if got[n][0] != _CODES[code]
    }
    assert not wrong, f"{stem}: {wrong}"
    methods = {(stem, s.number): s.http_method for s in steps if s.http_method}
    assert methods == {k: v for k, v in CORPUS_HTTP.items() if k[0] == stem}


def test_corpus_access_figures() -> None:
    paths = _corpus()
    total = external = unknown = 0
    for stem in CORPUS_ACCESS:
        for step in parse_recipe(json.loads(paths[stem].read_text(encoding="utf-8"))).steps:
            total += 1
            external += step.access is not None
            unknown += step.access == "unknown"
    want = "".join(CORPUS_ACCESS.values())
    assert (total, external, unknown) == (len(want), len(want) - want.count("-"), want.count("?"))
    report_figure(
        f"corpus step access: {total} steps, {external} on external apps, {unknown} unknown"
    )
