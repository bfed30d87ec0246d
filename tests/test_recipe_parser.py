"""The recipe parser: export recipes, simulator (live) recipes, deep and broken trees.

Export recipes come from two folders checked by the same tests: the hand-written packages in
``tests/fixtures/exports`` (always) and the genuine corpus in ``../shared/corpus/
workato-exports`` (``corpus`` marker: skipped when ../shared is absent). Expected values for
both were worked out by hand from the files (read with jq), not by running the parser.
"""

from __future__ import annotations

import json
import math
import subprocess
import sys
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from workato_simulator.export_loader import corpus_dir
from workato_simulator.generator import generate_workspace

from archy_pipeline.workato.json_tree import _loads_iterative
from archy_pipeline.workato.recipe_parser import (
    CALL_KINDS,
    EXCERPT_CHARS,
    REFERENCE_KINDS,
    ParsedRecipe,
    RecipeConnection,
    RecipeParseError,
    Step,
    is_custom_connector,
    is_dynamic,
    normalise_provider,
    parse_code,
    parse_recipe,
    summarize,
)
from tests.support import EXPORT_FIXTURES_DIR

CUSTOM_PROVIDER = "cicd_for_git_hub_v3_connector_865610_1730209886"
DELETE_BY_LEGACY_ID = (
    "Legacy=>SCT migration/Case group members/Deletions/"
    "case_group_members_target_delete_by_source_legacy_id_function.recipe.json"
)
DELETE_BY_LEGACY_ID_NAME = "Case group members | Target | Delete by source (legacy) ID [FUNCTION]"
FIXTURE_CUSTOM_PROVIDER = "deployhub_connector_482913_1716200000"
CANCEL_BY_SOURCE_ID = "Orders/Cancellations/order_cancel_by_source_id_function.recipe.json"
CANCEL_BY_SOURCE_ID_NAME = "Orders | Cancel by source ID [FUNCTION]"


# ---------------------------------------------------------------------- corpus expectations

# file stem -> steps, keyword counts, applications (providers, `_secondary` stripped),
# call steps as (number, kind, reference, reference_name), other references as
# (number, kind, reference, resolved).
EXPECTED: dict[str, dict[str, Any]] = {
    "get_busy": {
        "steps": 6,
        "keywords": {"trigger": 1, "try": 1, "action": 2, "catch": 1, "stop": 1},
        "applications": {"workato_recipe_function", "google_calendar"},
        "calls": [],
        # google_calendar custom action, relative path: host comes from the connection
        "other_refs": [(2, "http", None, False)],
    },
    "opa_linux": {
        "steps": 5,
        "keywords": {"trigger": 1, "action": 4},
        "applications": {"clock", "onprem_files", "csv_parser", "logger", "gmail"},
        "calls": [],
        "other_refs": [],
    },
    "case_group_members_initial_migration_00_start_webhook": {
        "steps": 7,
        "keywords": {"trigger": 1, "action": 4, "if": 1, "stop": 1},
        "applications": {
            "workato_webhooks",
            "workato_variable",
            "workato_files",
            "workato_recipe_function",
        },
        "calls": [
            (
                3,
                "call_recipe_async",
                "Legacy=>SCT migration/Case group members/Initial/"
                "case_group_members_initial_migration_01_fetch_function.recipe.json",
                "Case group members | Initial migration | 01 Fetch [FUNCTION]",
            )
        ],
        "other_refs": [(0, "webhook", "case-group-members-initial-migration", True)],
    },
    "case_group_members_source_delete_replay_webhook": {
        "steps": 13,
        "keywords": {
            "trigger": 1,
            "try": 2,
            "action": 4,
            "catch": 2,
            "stop": 2,
            "foreach": 1,
            "if": 1,
        },
        "applications": {
            "workato_webhooks",
            "salesforce",
            "workato_variable",
            "workato_recipe_function",
        },
        "calls": [(8, "call_recipe", DELETE_BY_LEGACY_ID, DELETE_BY_LEGACY_ID_NAME)],
        "other_refs": [
            (0, "webhook", "case-group-members-delete-replay", True),
            (2, "http", None, False),  # salesforce custom action, relative path
        ],
    },
    "case_group_members_source_deletion_watcher_app_trigger": {
        "steps": 2,
        "keywords": {"trigger": 1, "action": 1},
        "applications": {"salesforce", "workato_recipe_function"},
        "calls": [(1, "call_recipe", DELETE_BY_LEGACY_ID, DELETE_BY_LEGACY_ID_NAME)],
        "other_refs": [],
    },
    "case_group_members_source_re_sync_by_parent_account_number_webhook": {
        "steps": 20,
        "keywords": {
            "trigger": 1,
            "action": 8,
            "if": 2,
            "stop": 3,
            "try": 1,
            "catch": 1,
            "elsif": 1,
            "repeat": 1,
            "foreach": 1,
            "while_condition": 1,
        },
        "applications": {
            "workato_webhooks",
            "workato_recipe_function",
            "workato_variable",
            "workato_files",
            "salesforce",
        },
        "calls": [
            (
                1,
                "call_recipe",
                "Lookups, helpers, etc/"
                "target_account_lookup_by_account_number_function.recipe.json",
                # the reference's name; the pick-list label says "REC FX | Target account lookup"
                "Target | Account lookup by account number [FUNCTION]",
            ),
            (
                17,
                "call_recipe",
                "Legacy=>SCT migration/Case groups & labels/"
                "case_groups_labels_target_upsert_function.recipe.json",
                "Case groups & labels | Target | Upsert [FUNCTION]",
            ),
        ],
        "other_refs": [(0, "webhook", "case-groups-and-labels-reprocess", True)],
    },
    "cicd_func_create_release_in_github": {
        "steps": 12,
        "keywords": {"trigger": 1, "action": 7, "try": 1, "if": 1, "else": 1, "catch": 1},
        "applications": {"workato_recipe_function", "lookup_table", "json_parser", CUSTOM_PROVIDER},
        "calls": [
            (
                1,
                "call_recipe",
                "CICD Automation/Functions/Core Pipeline/Deploy/"
                "cicd_func_gather_information_for_deployment.recipe.json",
                "CICD | FUNC | Gather information for deployment",
            )
        ],
        "other_refs": [
            (2, "lookup_table", "cicd_lt_project_configuration.lookup_table.json", True)
        ],
    },
    "cicd_func_fetch_user_id_from_user_email": {
        "steps": 3,
        "keywords": {"trigger": 1, "action": 2},
        "applications": {"workato_recipe_function", "slack_bot"},
        "calls": [],
        "other_refs": [],
    },
    "cicd_func_get_execution_results": {
        "steps": 6,
        "keywords": {"trigger": 1, "if": 2, "action": 3},
        "applications": {"workato_recipe_function"},
        "calls": [
            (
                2,
                "call_recipe",
                "48456885",
                "AQS | FUNC | Get Execution Results from Quality Assessment Results Table",
            ),
            (
                4,
                "call_recipe",
                "48456886",
                "AQS | FUNC | Get Execution Results from Task Optimisation Results Table",
            ),
        ],
        "other_refs": [],
    },
    "core_crm_rec_get_ebs_accounts": {
        "steps": 7,
        "keywords": {"trigger": 1, "action": 4, "try": 1, "catch": 1},
        "applications": {"workato_api_platform", "logger", "snowflake"},
        "calls": [],
        "other_refs": [(0, "api_platform", None, None)],
    },
    "icm_bookingsmaster_get_data": {
        "steps": 11,
        "keywords": {"trigger": 1, "action": 10},
        "applications": {
            "workato_recipe_function",
            "workato_files",
            "rest",
            "workato_variable",
            "csv_parser",
            "google_drive",
        },
        "calls": [],
        "other_refs": [
            (2, "http", "spm.varicent.com", True),
            (9, "http", "www.googleapis.com", True),  # google_drive custom action, absolute
        ],
    },
    "job_auto_reprocess_scheduled": {
        "steps": 4,
        "keywords": {"trigger": 1, "action": 2, "foreach": 1},
        "applications": {"clock", "workato_db_table", "workato_app"},
        "calls": [],
        "other_refs": [
            (
                1,
                "data_table",
                "Lookups, helpers, etc/Reprocess/job_reprocess_queue.workato_db_table.json",
                True,
            ),
            (3, "recipe_ops", None, False),  # rerun_jobs recipe_id is a foreach datapill
        ],
    },
    "mdmpartyupdate_rec_accountupdate_mvp": {
        "steps": 12,
        "keywords": {"trigger": 1, "action": 7, "foreach": 1, "try": 1, "catch": 1, "if": 1},
        "applications": {"kafka", "workato_variable", "json_parser", "salesforce", "email"},
        "calls": [],
        "other_refs": [(0, "kafka_topic", None, False)],  # topic = project_property pill
    },
    "monitor_connection": {
        "steps": 4,
        "keywords": {"trigger": 1, "action": 3},
        "applications": {"workato_app", "lookup_table", "email"},
        "calls": [],
        "other_refs": [(2, "lookup_table", "recipeops_connection.lookup_table.json", True)],
    },
    "prod_peopleanalytics_open_requisition_export": {
        "steps": 14,
        "keywords": {"trigger": 1, "try": 2, "action": 6, "if": 1, "catch": 2, "stop": 2},
        "applications": {"clock", "snowflake", "gmail", "sftp"},
        "calls": [],
        "other_refs": [],
    },
    "rec_rhsc_compliance_load_permission_mappings_step_00": {
        "steps": 5,
        "keywords": {"trigger": 1, "action": 4},
        "applications": {"clock", "google_sheets", "oracle"},
        "calls": [],
        "other_refs": [],
    },
    "s2p_func_oracle_cost_centers_jdbc": {
        "steps": 12,
        "keywords": {
            "trigger": 1,
            "action": 6,
            "foreach": 1,
            "try": 1,
            "catch": 1,
            "if": 1,
            "else": 1,
        },
        "applications": {"jdbc", "workato_variable", "service_now", "email"},
        "calls": [],
        "other_refs": [],
    },
    "upsert_contact_by_email": {
        "steps": 14,
        "keywords": {"trigger": 1, "try": 1, "action": 7, "if": 2, "else": 2, "catch": 1},
        "applications": {"workato_api_platform", "workato_recipe_function", "logger"},
        "calls": [
            (
                2,
                "call_recipe",
                "atomic-salesforce-recipes/search_contact_by_email.recipe.json",
                "Search contact by email",
            ),
            (
                6,
                "call_recipe",
                "atomic-salesforce-recipes/upsert_contact.recipe.json",
                "Upsert contact",
            ),
        ],
        "other_refs": [(0, "api_platform", None, None)],
    },
}


# file stem -> the same, for the hand-written packages in tests/fixtures/exports.
FIXTURE_EXPECTED: dict[str, dict[str, Any]] = {
    "order_cancel_watcher_app_trigger": {
        "steps": 2,
        "keywords": {"trigger": 1, "action": 1},
        "applications": {"salesforce", "workato_recipe_function"},
        "calls": [(1, "call_recipe", CANCEL_BY_SOURCE_ID, CANCEL_BY_SOURCE_ID_NAME)],
        "other_refs": [],
    },
    "order_cancel_replay_webhook": {
        "steps": 9,
        "keywords": {
            "trigger": 1,
            "try": 1,
            "action": 3,
            "catch": 1,
            "stop": 1,
            "foreach": 1,
            "if": 1,
        },
        "applications": {
            "workato_webhooks",
            "salesforce",
            "workato_variable",
            "workato_recipe_function",
        },
        "calls": [(8, "call_recipe", CANCEL_BY_SOURCE_ID, CANCEL_BY_SOURCE_ID_NAME)],
        "other_refs": [
            (0, "webhook", "order-cancel-replay", True),
            (2, "http", None, False),  # salesforce custom action, relative path
        ],
    },
    "accounts_resync_webhook": {
        "steps": 12,
        "keywords": {
            "trigger": 1,
            "action": 5,
            "if": 1,
            "repeat": 1,
            "foreach": 1,
            "while_condition": 1,
            "elsif": 1,
            "stop": 1,
        },
        "applications": {
            "workato_webhooks",
            "workato_recipe_function",
            "workato_variable",
            "salesforce",
        },
        "calls": [
            (
                1,
                "call_recipe",
                "Lookups/account_lookup_function.recipe.json",
                # the reference's name; the pick-list label says "FX | Account lookup"
                "Account lookup [FUNCTION]",
            ),
            (
                7,
                "call_recipe",
                "Accounts/account_upsert_function.recipe.json",
                "Accounts | Upsert [FUNCTION]",
            ),
        ],
        "other_refs": [(0, "webhook", "accounts-resync", True)],
    },
    "release_create_function": {
        "steps": 11,
        "keywords": {"trigger": 1, "action": 6, "try": 1, "if": 1, "else": 1, "catch": 1},
        "applications": {
            "workato_recipe_function",
            "lookup_table",
            "json_parser",
            FIXTURE_CUSTOM_PROVIDER,
        },
        "calls": [
            (
                1,
                "call_recipe",
                "Release/Functions/release_gather_details_function.recipe.json",
                "REL | FUNC | Gather release details",
            )
        ],
        "other_refs": [(2, "lookup_table", "release_settings.lookup_table.json", True)],
    },
    "results_collect_function": {
        "steps": 6,
        "keywords": {"trigger": 1, "if": 2, "action": 3},
        "applications": {"workato_recipe_function"},
        "calls": [
            (2, "call_recipe", "51230001", "QA | FUNC | Collect unit test results"),
            (4, "call_recipe", "51230002", "QA | FUNC | Collect lint results"),
        ],
        "other_refs": [],
    },
    "bookings_fetch": {
        "steps": 5,
        "keywords": {"trigger": 1, "action": 4},
        "applications": {
            "workato_recipe_function",
            "workato_variable",
            "rest",
            "csv_parser",
            "google_drive",
        },
        "calls": [],
        "other_refs": [
            (2, "http", "api.bookings.example.net", True),
            (4, "http", "www.googleapis.com", True),  # google_drive custom action, absolute
        ],
    },
    "requeue_failed_jobs_scheduled": {
        "steps": 4,
        "keywords": {"trigger": 1, "action": 2, "foreach": 1},
        "applications": {"clock", "workato_db_table", "workato_app"},
        "calls": [],
        "other_refs": [
            (1, "data_table", "Helpers/Requeue/failed_jobs_queue.workato_db_table.json", True),
            (3, "recipe_ops", None, False),  # rerun_jobs recipe_id is a foreach datapill
        ],
    },
    "account_update_from_kafka": {
        "steps": 7,
        "keywords": {"trigger": 1, "action": 3, "foreach": 1, "try": 1, "catch": 1},
        "applications": {"kafka", "json_parser", "salesforce", "email"},
        "calls": [],
        "other_refs": [(0, "kafka_topic", None, False)],  # topic = project_property pill
    },
    "connection_health_monitor": {
        "steps": 3,
        "keywords": {"trigger": 1, "action": 2},
        "applications": {"workato_app", "lookup_table", "email"},
        "calls": [],
        "other_refs": [(1, "lookup_table", "health_contacts.lookup_table.json", True)],
    },
    "cost_centers_to_servicenow": {
        "steps": 9,
        "keywords": {"trigger": 1, "action": 4, "foreach": 1, "try": 1, "catch": 1, "stop": 1},
        "applications": {"clock", "oracle", "service_now", "email"},
        "calls": [],
        "other_refs": [],
    },
    "requisitions_export_scheduled": {
        "steps": 12,
        "keywords": {"trigger": 1, "action": 5, "try": 2, "if": 1, "catch": 2, "stop": 1},
        "applications": {"clock", "snowflake", "sftp", "gmail"},
        "calls": [],
        "other_refs": [],
    },
    "guest_upsert_api": {
        "steps": 10,
        "keywords": {"trigger": 1, "try": 1, "action": 5, "if": 1, "else": 1, "catch": 1},
        "applications": {"workato_api_platform", "workato_recipe_function", "logger"},
        "calls": [
            (
                2,
                "call_recipe",
                "guest-functions/find_guest_by_email.recipe.json",
                "Find guest by email",
            ),
            (4, "call_recipe", "guest-functions/upsert_guest.recipe.json", "Upsert guest"),
        ],
        "other_refs": [(0, "api_platform", None, None)],
    },
    "daily_file_report": {
        "steps": 5,
        "keywords": {"trigger": 1, "action": 4},
        "applications": {"clock", "onprem_files", "csv_parser", "logger", "gmail"},
        "calls": [],
        "other_refs": [],
    },
    "calendar_list": {
        "steps": 6,
        "keywords": {"trigger": 1, "try": 1, "action": 2, "catch": 1, "stop": 1},
        "applications": {"workato_recipe_function", "google_calendar"},
        "calls": [],
        # google_calendar custom action, relative path: host comes from the connection
        "other_refs": [(2, "http", None, False)],
    },
}

#: The two folders of export recipes: (folder, expectations per file stem).
SOURCES: dict[str, tuple[Path, dict[str, dict[str, Any]]]] = {
    "fixtures": (EXPORT_FIXTURES_DIR, FIXTURE_EXPECTED),
    "corpus": (corpus_dir(), EXPECTED),
}


def sources(*cases: tuple[str, Any]) -> list[Any]:
    """``pytest.param`` per ``(source, value)``; corpus cases carry the ``corpus`` marker."""
    return [
        pytest.param(
            source,
            *value,
            id=source,
            marks=[pytest.mark.corpus] if source == "corpus" else [],
        )
        for source, value in cases
    ]


def export_recipes(source: str) -> dict[str, Path]:
    root = SOURCES[source][0]
    return {p.name.removesuffix(".recipe.json"): p for p in root.rglob("*.recipe.json")}


def load(source: str, stem: str) -> dict[str, Any]:
    return json.loads(export_recipes(source)[stem].read_text(encoding="utf-8"))


def parsed(source: str, stem: str) -> ParsedRecipe:
    return parse_recipe(load(source, stem))


def by_number(result: ParsedRecipe) -> dict[int, Step]:
    return {s.number: s for s in result.steps}


@pytest.mark.parametrize(
    "source",
    [pytest.param("fixtures"), pytest.param("corpus", marks=pytest.mark.corpus)],
)
def test_every_export_recipe_has_expectations(source: str) -> None:
    root, expected = SOURCES[source]
    found = set(export_recipes(source))
    assert found, f"no *.recipe.json under {root}"
    assert found == set(expected), (
        f"add expectations for {sorted(found - set(expected))}; "
        f"drop {sorted(set(expected) - found)}"
    )


@pytest.mark.parametrize(
    ("source", "stem", "want"),
    [
        pytest.param(
            source,
            stem,
            want,
            id=f"{source}-{stem}",
            marks=[pytest.mark.corpus] if source == "corpus" else [],
        )
        for source, (_, expected) in SOURCES.items()
        for stem, want in expected.items()
    ],
)
def test_export_recipe(source: str, stem: str, want: dict[str, Any]) -> None:
    data = load(source, stem)
    result = parse_recipe(data)
    summary = summarize(result)

    assert summary["steps"] == want["steps"]
    assert summary["keywords"] == Counter(want["keywords"])
    assert summary["applications"] == want["applications"]
    assert summary["calls"] == len(want["calls"])
    calls = [(s.number, s.reference_kind, s.reference, s.reference_name) for s in result.calls]
    assert calls == want["calls"]
    assert all(s.resolved is True for s in result.calls)
    assert summary["call_references"] == [c[2] for c in want["calls"]]
    others = [
        (s.number, s.reference_kind, s.reference, s.resolved)
        for s in result.references
        if s.reference_kind not in CALL_KINDS
    ]
    assert others == want["other_refs"]

    # genuine exports follow the grammar: no warnings at all
    assert result.warnings == ()
    # numbering: 0..N-1 in pre-order, trigger at depth 0, parents come first
    assert [s.number for s in result.steps] == list(range(want["steps"]))
    assert result.trigger is not None and result.trigger.keyword == "trigger"
    assert result.trigger.depth == 0 and result.trigger.parent_number is None
    numbers = by_number(result)
    for step in result.steps[1:]:
        parent = numbers[step.parent_number]
        assert parent.number < step.number and step.depth == parent.depth + 1
    # one connection row per config entry; export refs -> zip_name
    assert len(result.connections) == len(data["config"])
    for row, entry in zip(result.connections, data["config"]):
        assert row.provider == entry["provider"]
        account = entry["account_id"]
        assert row.connection_id == (account["zip_name"] if account else None)
        assert row.connection_name == (account["name"] if account else None)
    # every app step takes the connection of its provider's config entry
    config = {c.provider: c.connection_id for c in result.connections}
    for step in result.steps:
        if step.provider is None:
            assert step.connection_id is None and step.application is None
        else:
            assert step.connection_id == config[step.provider]
        if step.reference_kind is None:
            assert (step.reference, step.reference_name, step.resolved) == (None, None, None)
            assert step.reference_raw is None
        else:
            assert step.reference_kind in REFERENCE_KINDS
            assert (step.reference is not None) == (step.resolved is True)


# ---------------------------------------------------------------------- specific rules


@pytest.mark.parametrize(
    ("source", "stem", "reference", "name"),
    sources(
        (
            "fixtures",
            (
                "results_collect_function",
                "51230001",
                "QA | FUNC | Collect unit test results",
            ),
        ),
        (
            "corpus",
            (
                "cicd_func_get_execution_results",
                "48456885",
                "AQS | FUNC | Get Execution Results from Quality Assessment Results Table",
            ),
        ),
    ),
)
def test_numeric_string_flow_id(source: str, stem: str, reference: str, name: str) -> None:
    steps = by_number(parsed(source, stem))
    call = steps[2]
    assert call.keyword == "action" and call.action_name == "call_recipe"
    assert call.reference_kind == "call_recipe"
    assert call.reference == reference
    assert call.resolved is True
    # the name survives only in dynamicPickListSelection.flow_id
    assert call.reference_name == name
    assert call.skipped is True and call.parent_number == 1 and call.depth == 2
    assert call.connection_id is None  # workato_recipe_function: account_id null
    assert steps[5].skipped is True and steps[1].skipped is False


@pytest.mark.parametrize(
    ("source", "stem", "trigger_step", "connection", "callee"),
    sources(
        (
            "fixtures",
            (
                "order_cancel_watcher_app_trigger",
                ("salesforce", "sobject_deleted", "b71e20aa"),
                ("Connections/sf_orders_source.connection.json", "SF_Orders_Source"),
                (CANCEL_BY_SOURCE_ID, CANCEL_BY_SOURCE_ID_NAME),
            ),
        ),
        (
            "corpus",
            (
                "case_group_members_source_deletion_watcher_app_trigger",
                ("salesforce", "sobject_deleted", "a0c4032c"),
                ("Connections/sf_legacy_source.connection.json", "SF_Legacy_Source"),
                (DELETE_BY_LEGACY_ID, DELETE_BY_LEGACY_ID_NAME),
            ),
        ),
    ),
)
def test_reference_object_flow_id(
    source: str,
    stem: str,
    trigger_step: tuple[str, str, str],
    connection: tuple[str, str],
    callee: tuple[str, str],
) -> None:
    result = parsed(source, stem)
    trigger, call = result.steps
    assert (trigger.provider, trigger.action_name, trigger.alias) == trigger_step
    assert trigger.connection_id == connection[0]
    assert trigger.reference_kind is None and trigger.resolved is None
    assert call.reference_kind == "call_recipe"
    assert (call.reference, call.reference_name) == callee
    assert call.resolved is True and call.reference_raw is None
    assert result.connections == (
        RecipeConnection("salesforce", "salesforce", *connection),
        RecipeConnection("workato_recipe_function", "workato_recipe_function", None),
    )


@pytest.mark.parametrize(
    ("source", "stem", "rest_step", "adhoc_step"),
    sources(
        (
            "fixtures",
            (
                "bookings_fetch",
                (2, "api.bookings.example.net", "Connections/bookings_api_prod.connection.json"),
                (4, "www.googleapis.com", "Drive/team_drive.connection.json"),
            ),
        ),
        (
            "corpus",
            (
                "icm_bookingsmaster_get_data",
                (2, "spm.varicent.com", "Connections/icm_bookingsmaster_prod.connection.json"),
                (9, "www.googleapis.com", "Saurabh_POC/suhas_google_drive.connection.json"),
            ),
        ),
    ),
)
def test_http_host(
    source: str, stem: str, rest_step: tuple[int, str, str], adhoc_step: tuple[int, str, str]
) -> None:
    steps = by_number(parsed(source, stem))
    rest = steps[rest_step[0]]
    assert (rest.provider, rest.action_name) == ("rest", "make_request_v2")
    assert rest.reference_kind == "http" and rest.reference == rest_step[1]
    assert rest.resolved is True
    assert rest.connection_id == rest_step[2]
    adhoc = steps[adhoc_step[0]]
    assert (adhoc.provider, adhoc.action_name) == ("google_drive", "__adhoc_http_action")
    assert adhoc.reference == adhoc_step[1] and adhoc.resolved is True
    assert adhoc.connection_id == adhoc_step[2]


@pytest.mark.parametrize(
    ("source", "stem", "path", "connection"),
    sources(
        (
            "fixtures",
            (
                "calendar_list",
                "calendar/v3/users/me/calendarList",
                "sa_google_calendar.connection.json",
            ),
        ),
        (
            "corpus",
            (
                "get_busy",
                "calendar/v3/freeBusy",
                "con_google_calendar_service_account.connection.json",
            ),
        ),
    ),
)
def test_relative_custom_action_path_is_unresolved(
    source: str, stem: str, path: str, connection: str
) -> None:
    step = by_number(parsed(source, stem))[2]
    assert (step.provider, step.action_name) == ("google_calendar", "__adhoc_http_action")
    assert (step.reference_kind, step.reference, step.resolved) == ("http", None, False)
    assert step.reference_raw == path
    assert step.connection_id == connection
    assert step.protected is True and step.in_catch is False


@pytest.mark.parametrize(
    ("source", "stem", "provider", "connection", "lookup_name"),
    sources(
        (
            "fixtures",
            (
                "release_create_function",
                FIXTURE_CUSTOM_PROVIDER,
                (
                    "Release/Connections/deployhub_release.connection.json",
                    "REL | CON | DeployHub",
                ),
                "REL | LT | Settings",  # the reference's name wins over a stale label
            ),
        ),
        (
            "corpus",
            (
                "cicd_func_create_release_in_github",
                CUSTOM_PROVIDER,
                (
                    "CICD Automation/Connections/cicd_con_cicd_for_github_v3.connection.json",
                    "CICD | CON | CICD for GitHub V3",
                ),
                "CICD | LT | Project Configuration",
            ),
        ),
    ),
)
def test_custom_connector_provider(
    source: str, stem: str, provider: str, connection: tuple[str, str], lookup_name: str
) -> None:
    result = parsed(source, stem)
    step = by_number(result)[6]
    assert step.provider == provider == step.application
    assert is_custom_connector(step.provider)
    assert step.action_name == "create_release"
    assert step.connection_id == connection[0]
    assert step.protected is True and step.in_catch is False  # try > if > step
    assert (step.parent_number, step.depth) == (5, 3)
    row = next(c for c in result.connections if c.provider == provider)
    assert row.connection_name == connection[1]
    lookup = by_number(result)[2]
    assert lookup.reference_kind == "lookup_table"
    assert lookup.reference_name == lookup_name


@pytest.mark.parametrize(
    ("source", "stem", "flags", "other_stem", "other_protected", "other_in_catch"),
    sources(
        (
            "fixtures",
            (
                "requisitions_export_scheduled",
                {
                    0: ("trigger", False, False),
                    1: ("action", False, False),
                    2: ("try", False, False),
                    3: ("if", True, False),
                    4: ("action", True, False),  # inside an if inside the try
                    5: ("action", True, False),
                    6: ("catch", False, False),
                    7: ("try", False, True),  # a try inside a catch
                    8: ("action", True, True),  # protected by it, and in the outer catch
                    9: ("catch", False, True),
                    10: ("stop", False, True),
                    11: ("action", False, False),
                },
                "cost_centers_to_servicenow",
                [4],
                [6, 7],
            ),
        ),
        (
            "corpus",
            (
                "prod_peopleanalytics_open_requisition_export",
                {
                    0: ("trigger", False, False),
                    1: ("try", False, False),
                    2: ("action", True, False),
                    3: ("if", True, False),
                    4: ("action", True, False),  # inside an if inside the try
                    5: ("catch", False, False),
                    6: ("action", False, True),
                    7: ("stop", False, True),
                    8: ("try", False, False),
                    9: ("action", True, False),
                    10: ("catch", False, False),
                    11: ("action", False, True),
                    12: ("stop", False, True),
                    13: ("action", False, False),
                },
                "s2p_func_oracle_cost_centers_jdbc",
                [4],
                [6, 7],
            ),
        ),
    ),
)
def test_protected_and_in_catch_flags(
    source: str,
    stem: str,
    flags: dict[int, tuple[str, bool, bool]],
    other_stem: str,
    other_protected: list[int],
    other_in_catch: list[int],
) -> None:
    steps = by_number(parsed(source, stem))
    assert {n: (s.keyword, s.protected, s.in_catch) for n, s in steps.items()} == flags
    other = by_number(parsed(source, other_stem))
    assert [n for n, s in other.items() if s.protected] == other_protected
    assert [n for n, s in other.items() if s.in_catch] == other_in_catch


@pytest.mark.parametrize(
    ("source", "stem", "repeat_at", "children", "shape", "call_at"),
    sources(
        (
            "fixtures",
            (
                "accounts_resync_webhook",
                (4, "c41d9e07"),
                [(5, "action"), (6, "foreach"), (8, "action"), (9, "while_condition")],
                # (depth of while_condition, depth of repeat, elsif: keyword, parent)
                ((9, 3), (4, 2), (10, "elsif", 2)),
                (7, 4),
            ),
        ),
        (
            "corpus",
            (
                "case_group_members_source_re_sync_by_parent_account_number_webhook",
                (14, "0f3f3ba8"),
                [(15, "action"), (16, "foreach"), (18, "action"), (19, "while_condition")],
                ((19, 4), (14, 3), (12, "elsif", 10)),
                (17, 5),
            ),
        ),
    ),
)
def test_while_condition_is_last_child_of_repeat(
    source: str,
    stem: str,
    repeat_at: tuple[int, str],
    children: list[tuple[int, str]],
    shape: tuple[tuple[int, int], tuple[int, int], tuple[int, str, int]],
    call_at: tuple[int, int],
) -> None:
    result = parsed(source, stem)
    steps = by_number(result)
    repeat = steps[repeat_at[0]]
    assert repeat.keyword == "repeat" and repeat.alias == repeat_at[1]
    kids = [s for s in result.steps if s.parent_number == repeat_at[0]]
    assert [(s.number, s.keyword) for s in kids] == children
    (condition, condition_depth), (repeat_number, repeat_depth), (elsif, keyword, parent) = shape
    assert (
        steps[condition].depth,
        steps[repeat_number].depth,
        steps[elsif].keyword,
        steps[elsif].parent_number,
    ) == (condition_depth, repeat_depth, keyword, parent)
    assert steps[call_at[0]].reference_kind == "call_recipe"
    assert steps[call_at[0]].depth == call_at[1]
    assert steps[0].reference_kind == "webhook"


# ---------------------------------------------------------------------- live (simulator) form


@pytest.fixture(scope="module")
def live_workspace():
    return generate_workspace(1, recipes=60)


def test_live_recipes_parse(live_workspace) -> None:
    ws = live_workspace
    dynamic = resolved_calls = 0
    for recipe in ws.recipes.values():
        item = recipe.to_api(ws.tz, exclude_code=False, include_tags=False)
        assert isinstance(item["code"], str)
        result = parse_recipe(item)
        assert result.warnings == (), (recipe.id, result.warnings)
        assert [s.number for s in result.steps] == list(range(len(result.steps)))
        assert result.trigger.keyword == "trigger"
        config = {e["provider"]: e["account_id"] for e in item["config"]}
        assert [(c.provider, c.connection_id) for c in result.connections] == [
            (e["provider"], e["account_id"]) for e in item["config"]
        ]
        for step in result.steps:
            if step.provider is not None:
                assert step.connection_id == config[step.provider]
                assert step.connection_id is None or isinstance(step.connection_id, int)
        for call in result.calls:
            if call.resolved:
                assert call.reference.isdigit() and int(call.reference) in ws.recipes
                assert call.reference_name == ws.recipes[int(call.reference)].name
                resolved_calls += 1
            else:
                assert call.reference is None and call.reference_raw.startswith("=_dp(")
                assert call.reference_name is None
                dynamic += 1
    assert dynamic >= 1 and resolved_calls >= 10


def test_live_dynamic_flow_id_is_unresolved(live_workspace) -> None:
    ws = live_workspace
    found = []
    for recipe in ws.recipes.values():
        for block in _iter(recipe.code):
            flow = (block.get("input") or {}).get("flow_id")
            if isinstance(flow, str) and flow.startswith("="):
                found.append((recipe.id, block["number"]))
    assert found
    for recipe_id, number in found:
        item = ws.recipes[recipe_id].to_api(ws.tz, exclude_code=False, include_tags=False)
        step = by_number(parse_recipe(item))[number]
        assert step.reference_kind in ("call_recipe", "call_recipe_async")
        assert (step.reference, step.resolved) == (None, False)
        assert len(step.reference_raw) <= EXCERPT_CHARS


def test_live_http_hosts_pubsub_and_tables() -> None:
    ws = generate_workspace(3, recipes=60)  # seed with the HTTP connector in use
    kinds: Counter[str] = Counter()
    hosts: set[str] = set()
    for recipe in ws.recipes.values():
        result = parse_recipe(recipe.to_api(ws.tz, exclude_code=False, include_tags=False))
        for step in result.references:
            kinds[step.reference_kind] += 1
            if step.reference_kind == "http":
                assert step.resolved is True
                hosts.add(step.reference)
            elif step.reference_kind in (
                "pub_sub_publish",
                "pub_sub_subscribe",
                "lookup_table",
                "data_table",
            ):
                assert step.resolved is True and step.reference.isdigit()
                assert step.reference_name
    assert kinds["http"] >= 10
    assert hosts <= {
        "api.fedex.com",
        "api.avalara.com",
        "api.exchangerate.host",
        "api.acme-corp.com",
        "api.partnerhub.io",
        "api.docebo.com",
        "api.shipbob.com",
    }
    assert kinds["pub_sub_publish"] and kinds["pub_sub_subscribe"] and kinds["lookup_table"]


def _iter(code: dict[str, Any]):
    stack = [code]
    while stack:
        block = stack.pop()
        yield block
        stack.extend(reversed(block.get("block") or []))


# ---------------------------------------------------------------------- deep trees


def _deep_tree(depth: int, keyword: str) -> dict[str, Any]:
    """``depth`` nested blocks below a trigger, built without recursion."""
    root: dict[str, Any] = {"number": 0, "keyword": "trigger", "provider": "clock", "block": []}
    node = root
    for i in range(1, depth + 1):
        child = {"number": i, "keyword": keyword, "block": []}
        node["block"].append(child)
        node = child
    node["block"].append(
        {"number": depth + 1, "keyword": "action", "provider": "logger", "name": "log_message"}
    )
    return root


def _deep_text(depth: int, keyword: str) -> str:
    head = '{"keyword":"trigger","provider":"clock","block":['
    inner = '{"keyword":' + json.dumps(keyword) + ',"block":['
    leaf = '{"keyword":"action","provider":"logger","name":"log_message"}'
    return head + inner * depth + leaf + "]}" * depth + "]}"


@pytest.mark.parametrize("depth", [1_000, 10_000])
@pytest.mark.parametrize("keyword", ["if", "mystery_container"])
def test_deep_tree_object(depth: int, keyword: str) -> None:
    result = parse_code(_deep_tree(depth, keyword), [{"provider": "clock", "account_id": None}])
    assert len(result.steps) == depth + 2
    leaf = result.steps[-1]
    assert (leaf.number, leaf.depth, leaf.parent_number) == (depth + 1, depth + 1, depth)
    assert leaf.keyword == "action" and leaf.application == "logger"
    # logger has no config entry: one warning, not one per step
    assert result.warnings == (f"provider 'logger' (step #{depth + 1}) has no config entry",)


@pytest.mark.parametrize("depth", [1_000, 10_000])
def test_deep_tree_json_string(depth: int) -> None:
    """Observed (CPython 3.11, recursion limit 1,000): json.loads raises RecursionError
    already at 500 nested blocks, so both depths go through the iterative decoder and parse;
    no RecursionError escapes."""
    text = _deep_text(depth, "if")
    with pytest.raises(RecursionError):
        json.loads(text)
    result = parse_code(text)
    assert len(result.steps) == depth + 2
    assert [s.number for s in result.steps[:3]] == [0, 1, 2]  # no `number`: pre-order index
    assert result.steps[-1].depth == depth + 1
    assert result.warnings == ()


def test_deep_invalid_json_string_is_a_parse_error() -> None:
    text = _deep_text(10_000, "if")[:-3] + "}x"
    with pytest.raises(RecipeParseError) as info:
        parse_code(text)
    assert "not valid JSON" in info.value.message
    assert len(info.value.excerpt) <= EXCERPT_CHARS


def test_deep_malformed_block_is_a_parse_error_with_short_message() -> None:
    tree = _deep_tree(10_000, "if")
    node = tree
    while node.get("block"):
        node = node["block"][0]
    node["block"] = "oops"
    with pytest.raises(RecipeParseError) as info:
        parse_code(tree)
    assert "`block` is a string" in info.value.message
    assert len(info.value.message) <= 300 and info.value.excerpt == "oops"


@pytest.mark.parametrize(
    "source",
    [pytest.param("fixtures"), pytest.param("corpus", marks=pytest.mark.corpus)],
)
def test_iterative_decoder_matches_json(source: str) -> None:
    for path in export_recipes(source).values():
        text = path.read_text(encoding="utf-8")
        assert _loads_iterative(text) == json.loads(text)
    for text in [
        "{}",
        "[]",
        ' { "a" : [ 1 , -2.5e3 , 0 , true , false , null , "x\\u00e9\\n" , { } , [ ] ] } ',
        '{"a": 1, "a": 2}',
        "[1E+2, -0, 0.25, 12345678901234567890]",
        '"just a string"',
        "[[[[[]]]]]",
    ]:
        assert _loads_iterative(text) == json.loads(text), text
    assert math.isnan(_loads_iterative("[NaN]")[0])
    assert _loads_iterative("[Infinity, -Infinity]") == [math.inf, -math.inf]
    for bad in ["", "{", "[1,]", '{"a" 1}', '{"a":1,}', "[1 2]", "{} x", '["\x01"]', "tru"]:
        with pytest.raises(json.JSONDecodeError) as mine:
            _loads_iterative(bad)
        with pytest.raises(json.JSONDecodeError) as theirs:
            json.loads(bad)
        assert (mine.value.msg, mine.value.pos) == (theirs.value.msg, theirs.value.pos), bad


# ---------------------------------------------------------------------- malformed input


@pytest.mark.parametrize(
    ("code", "message"),
    [
        pytest.param('{"keyword": "trigger", "block": [', "not valid JSON", id="invalid-json"),
        pytest.param("x" * 100_000, "not valid JSON", id="huge-invalid-json"),
        pytest.param("[1, 2, 3]", "JSON array, not an object", id="json-array"),
        pytest.param('"trigger"', "JSON string, not an object", id="json-string"),
        pytest.param(
            '{"keyword": "trigger", "block": {"keyword": "action"}}',
            "`block` is an object, not an array",
            id="block-not-a-list",
        ),
        pytest.param(
            '{"keyword": "trigger", "block": ["action"]}',
            "block[0] is a string, not an object",
            id="block-is-a-string",
        ),
        pytest.param(
            {"keyword": "trigger", "block": [{"keyword": "if", "block": [None]}]},
            "block[0] is null, not an object",
            id="nested-null-block",
        ),
        pytest.param(42, "not a JSON string or object", id="code-is-a-number"),
        pytest.param(b"\xff\xfe{}", "not UTF-8", id="bytes-not-utf8"),
    ],
)
def test_malformed_code(code: Any, message: str) -> None:
    with pytest.raises(RecipeParseError) as info:
        parse_code(code)
    err = info.value
    assert isinstance(err, ValueError)
    assert message in err.message and str(err) == err.message
    assert len(err.excerpt) <= EXCERPT_CHARS and len(err.message) <= 300


def test_parse_error_excerpt_points_at_the_error() -> None:
    text = '{"keyword": "trigger", "block": [' + '{"keyword": "action"},' * 50 + "oops]}"
    with pytest.raises(RecipeParseError) as info:
        parse_code(text)
    assert "oops" in info.value.excerpt and len(info.value.excerpt) <= EXCERPT_CHARS
    assert "line 1" in info.value.message


def test_parse_recipe_without_code() -> None:
    with pytest.raises(RecipeParseError, match="no code"):
        parse_recipe({"id": 1, "name": "Listed with exclude_code", "config": []})
    with pytest.raises(RecipeParseError, match="not an object"):
        parse_recipe(["not", "a", "recipe"])  # type: ignore[arg-type]


# ---------------------------------------------------------------------- synthetic rules


def _block(keyword: str, *children: dict[str, Any], **fields: Any) -> dict[str, Any]:
    block: dict[str, Any] = {"keyword": keyword, **fields}
    if children:
        block["block"] = list(children)
    return block


def _action(provider: str, name: str, **inp: Any) -> dict[str, Any]:
    return {"keyword": "action", "provider": provider, "name": name, "input": inp}


def test_nested_try_catch_flags() -> None:
    code = _block(
        "trigger",
        _block(
            "try",
            _block(
                "try",
                _action("logger", "a"),  # 3: protected
                _block("catch", _action("logger", "b")),  # 5: protected + in_catch
            ),
            _block("catch", _action("logger", "c")),  # 7: in_catch only
        ),
        _block("mystery", _action("logger", "d")),  # 9: unknown keyword is a container
        provider="clock",
        name="scheduled_event",
    )
    steps = by_number(parse_code(code))
    got = {n: (s.keyword, s.protected, s.in_catch) for n, s in steps.items()}
    assert got == {
        0: ("trigger", False, False),
        1: ("try", False, False),
        2: ("try", True, False),
        3: ("action", True, False),
        4: ("catch", True, False),
        5: ("action", True, True),
        6: ("catch", False, False),
        7: ("action", False, True),
        8: ("mystery", False, False),
        9: ("action", False, False),
    }
    assert steps[9].parent_number == 8 and steps[9].depth == 2


def test_position_independent_walk_with_warnings() -> None:
    """Misplaced catch/else/while_condition are still walked (and flagged)."""
    code = _block(
        "trigger",
        _block("try", _block("catch", _action("logger", "x")), _action("logger", "y")),
        _block("if", _block("else", _action("logger", "z")), _action("logger", "w")),
        _block("repeat", _block("while_condition"), _action("logger", "v")),
        _block("catch", _action("logger", "u")),
        provider="clock",
        name="scheduled_event",
    )
    result = parse_code(code)
    steps = by_number(result)
    assert len(steps) == 14
    assert steps[3].action_name == "x" and steps[3].in_catch and not steps[3].protected
    assert steps[4].action_name == "y" and steps[4].protected and not steps[4].in_catch
    assert steps[13].action_name == "u" and steps[13].in_catch
    assert any("expected one 'catch' as the last child" in w for w in result.warnings)
    assert any("'else' is not the single last child" in w for w in result.warnings)
    assert any("'while_condition' as the last child" in w for w in result.warnings)
    assert any("expected under 'try'" in w for w in result.warnings)


def test_reference_forms() -> None:
    dp = '#{_dp(\'{"pill_type":"output","provider":"foreach","line":"ab"}\')}'
    code = _block(
        "trigger",
        _action("workato_recipe_function", "call_recipe", flow_id=123),
        _action("workato_recipe_function", "call_recipe_async", flow_id="=" + dp[2:-1]),
        _action("workato_service", "call_service", recipe_id="77"),
        _action("workato_service", "call_service_async", flow_id={"zip_name": "f/x.recipe.json"}),
        _action("workato_recipe_function", "call_recipe", flow_id="not-an-id"),
        _action("workato_recipe_function", "call_recipe"),
        _action("workato_pub_sub", "publish_to_topic_batch", topic_id="39566"),
        _action("rest", "make_request_v2", request={"url": "https://" + dp + "/v1"}),
        _action("rest", "make_request_v2", request={"url": "HTTPS://Api.Example.COM:8443/x?y"}),
        _action("rest", "make_request_v2", request={"url": "/relative/path"}),
        _action("workato_app", "get_recipe", recipe_id="4242"),
        _action("lookup_table", "get_entry", lookup_table_id=dp),
        _action("salesforce_secondary", "update_sobject"),
        provider="workato_pub_sub",
        name="batch_subscribe_to_topic",
        input={"topic_id": {"zip_name": "t/orders.topic.json", "name": "Orders"}},
        dynamicPickListSelection={"topic_id": "stale label"},
    )
    config = [
        {"provider": "salesforce", "account_id": 11},
        {"provider": "salesforce_secondary", "account_id": "12"},
        {"name": "rest", "account_id": 13},
    ]
    result = parse_code(json.dumps(code), config)
    rows = [(s.number, s.reference_kind, s.reference, s.resolved) for s in result.steps if s.number]
    assert rows == [
        (1, "call_recipe", "123", True),
        (2, "call_recipe_async", None, False),
        (3, "call_service", "77", True),
        (4, "call_service_async", "f/x.recipe.json", True),
        (5, "call_recipe", None, False),
        (6, "call_recipe", None, False),
        (7, "pub_sub_publish", "39566", True),
        (8, "http", None, False),
        (9, "http", "api.example.com", True),
        (10, "http", None, False),
        (11, "recipe_ops", "4242", True),
        (12, "lookup_table", None, False),
        (13, None, None, None),
    ]
    trigger = result.steps[0]
    assert (trigger.reference_kind, trigger.reference, trigger.reference_name) == (
        "pub_sub_subscribe",
        "t/orders.topic.json",
        "Orders",  # the reference's own name wins over the pick-list label
    )
    steps = by_number(result)
    assert steps[2].reference_raw.startswith("=_dp(")
    assert steps[5].reference_raw == "not-an-id"
    assert steps[6].reference_raw is None  # missing flow_id
    assert steps[13].application == "salesforce" and steps[13].connection_id == 12
    assert steps[9].connection_id == 13  # config entry with only `name`
    assert [(c.provider, c.application, c.connection_id) for c in result.connections] == [
        ("salesforce", "salesforce", 11),
        ("salesforce_secondary", "salesforce", 12),
        ("rest", "rest", 13),
    ]
    warned = "\n".join(result.warnings)
    assert "'not-an-id'" in warned
    for provider in ("workato_pub_sub", "workato_recipe_function", "workato_app"):
        assert f"provider {provider!r}" in warned  # not in config: said, not guessed


def test_config_shapes_are_reported() -> None:
    code = {"keyword": "trigger", "provider": "x", "name": "t"}
    result = parse_code(
        code,
        [
            {"provider": "x", "account_id": True},
            "junk",
            {"account_id": 3},
            {"provider": "x", "account_id": 5},
            {"provider": "y", "account_id": "abc"},
        ],
    )
    assert [(c.provider, c.connection_id) for c in result.connections] == [
        ("x", None),
        ("x", 5),
        ("y", "abc"),
    ]
    assert result.steps[0].connection_id is None  # the first entry for "x" wins
    assert len(result.warnings) == 5
    assert parse_code(code, {"not": "a list"}).warnings == (
        "config is an object, not an array; ignored",
    )
    assert parse_code(code).connections == () and parse_code(code).warnings == ()


def test_warnings_are_capped() -> None:
    code = _block("trigger", *[_block("catch") for _ in range(500)])
    warnings = parse_code(code).warnings
    assert len(warnings) <= 51 and warnings[-1].endswith("more warnings")


def test_helpers() -> None:
    assert normalise_provider("mssql_secondary") == "mssql"
    assert normalise_provider("_secondary") == "_secondary"
    assert normalise_provider(None) is None
    assert is_custom_connector(CUSTOM_PROVIDER)
    assert is_custom_connector(CUSTOM_PROVIDER + "_secondary")
    assert not is_custom_connector("salesforce") and not is_custom_connector(None)
    assert is_dynamic("=foo") and is_dynamic("#{x}") and is_dynamic("_('data.slack_bot.a.b')")
    assert not is_dynamic("48456885") and not is_dynamic("https://example.com/x")


@pytest.mark.parametrize(
    ("source", "stem", "call_references"),
    sources(
        ("fixtures", ("results_collect_function", ["51230001", "51230002"])),
        ("corpus", ("cicd_func_get_execution_results", ["48456885", "48456886"])),
    ),
)
def test_summarize_shape(source: str, stem: str, call_references: list[str]) -> None:
    summary = summarize(parsed(source, stem))
    assert summary == {
        "steps": 6,
        "keywords": Counter({"trigger": 1, "if": 2, "action": 3}),
        "applications": {"workato_recipe_function"},
        "calls": 2,
        "call_references": call_references,
        "references": Counter({"call_recipe": 2}),
        "unresolved": 0,
        "warnings": 0,
        "access": Counter(),  # only recipe-function steps: platform, no access
    }


# ---------------------------------------------------------------------- purity


def test_module_imports_neither_dagster_nor_dlt() -> None:
    out = subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys, archy_pipeline.workato.recipe_parser; "
            "print('dagster' in sys.modules, 'dlt' in sys.modules)",
        ],
        capture_output=True,
        text=True,
        check=True,
        cwd=Path(__file__).resolve().parents[1],
    )
    assert out.stdout.strip() == "False False"


def test_a_step_number_given_twice_numbers_every_step_in_pre_order():
    """recipe_steps is keyed by step number: repeated numbers must not merge steps."""
    code = {
        "number": 0, "keyword": "trigger", "provider": "salesforce", "name": "new_object",
        "block": [
            {"number": 1, "keyword": "action", "provider": "slack", "name": "post_message"},
            {"number": 1, "keyword": "if", "block": [
                {"number": 2, "keyword": "action", "provider": "jira", "name": "create_issue"},
            ]},
        ],
    }  # fmt: skip
    parsed = parse_recipe({"id": 1, "code": code, "config": []})
    assert [(s.number, s.parent_number, s.keyword) for s in parsed.steps] == [
        (0, None, "trigger"), (1, 0, "action"), (2, 0, "if"), (3, 2, "action"),
    ]  # fmt: skip
    assert any("step number 1 is given twice" in w for w in parsed.warnings)
