"""archy_pipeline.analysis on hand-built tables: graphs, metrics, every insight kind, impact.

Each workspace is built from recipe trees (like the parser's input) by a small builder that
derives the rows of every table the way the SQL models do: steps with number, parent, depth,
protected/in_catch; integration_systems roles; step counts; connection recipe counts.
"""

from __future__ import annotations

import itertools
import json
import os
import random
import subprocess
import sys
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import networkx as nx
import pandas as pd
import pytest

from archy_pipeline.analysis import (
    INPUT_COLUMNS,
    KINDS,
    AnalysisInput,
    ImpactTargetError,
    Insight,
    Thresholds,
    add_step_details,
    build_graphs,
    error_handling_details,
    find_insights,
    format_impact,
    graph_tables,
    impact,
    insight_id,
    pagerank,
    parse_thresholds,
    priority_key,
    ranking_tables,
)
from archy_pipeline.analysis.metrics import betweenness
from archy_pipeline.settings import ConfigError, parse_settings
from archy_pipeline.workato.vocabulary import classify_step

NOW = datetime(2025, 6, 20, 12, 0, tzinfo=timezone.utc)
WS = "ACME"

# ---------------------------------------------------------------------- builder


@dataclass
class Node:
    keyword: str
    application: str | None = None
    action: str | None = None
    connection: int | None = None
    reference_kind: str | None = None
    skipped: bool = False
    children: list[Node] = field(default_factory=list)
    #: catch: ``max_retry_count``; stop: ``stop_with_error`` (None: not known)
    retries: int | None = None
    stop_error: bool | None = None


def trigger(app: str, action: str, conn: int | None = None, *children: Node) -> Node:
    return Node("trigger", app, action, conn, children=list(children))


def act(app: str, action: str, conn: int | None = None, **kw: Any) -> Node:
    return Node("action", app, action, conn, **kw)


def block(keyword: str, *children: Node) -> Node:
    return Node(keyword, children=list(children))


def try_(
    *children: Node, catch: tuple[Node, ...] = (Node("stop"),), retries: int | None = None
) -> Node:
    """A try block whose last child is its catch (as in Workato's code tree)."""
    return block("try", *children, Node("catch", children=list(catch), retries=retries))


def call_step(via: str = "call_recipe") -> Node:
    return act("workato_recipe_function", via, reference_kind=via)


def flatten(root: Node) -> list[dict[str, Any]]:
    """Steps as workato_raw.recipe_steps rows: pre-order numbers, flags as the parser sets them."""
    rows: list[dict[str, Any]] = []
    counter = itertools.count()

    def visit(node: Node, parent: int | None, depth: int, protected: bool, in_catch: bool):
        number = next(counter)
        rows.append(
            {
                "number": number, "parent_number": parent, "depth": depth,
                "keyword": node.keyword, "provider": node.application,
                "application": node.application, "action_name": node.action,
                "skipped": node.skipped, "protected": protected, "in_catch": in_catch,
                "connection_id": node.connection, "reference_kind": node.reference_kind,
                "retry_count": node.retries, "stop_with_error": node.stop_error,
            }
        )  # fmt: skip
        for kid in node.children:
            kid_protected, kid_in_catch = protected, in_catch
            if node.keyword == "try" and kid.keyword != "catch":
                kid_protected = True
            elif node.keyword == "catch":
                kid_in_catch = True
            visit(kid, number, depth + 1, kid_protected, kid_in_catch)

    visit(root, None, 0, False, False)
    return rows


class Builder:
    """Rows of the archy tables for one or more workspaces, derived like the SQL models."""

    def __init__(self, workspace: str = WS) -> None:
        self.workspace = workspace
        self.connections: dict[tuple[str, int], dict[str, Any]] = {}
        self.recipes: dict[tuple[str, int], dict[str, Any]] = {}
        self.codes: dict[tuple[str, int], Node] = {}
        self.calls: list[dict[str, Any]] = []

    def connection(
        self,
        cid: int,
        name: str,
        application: str,
        environment: str = "production",
        status: str = "active",
        system_id: str | None = "",
        match_status: str = "matched",
        deleted: bool = False,
    ) -> Builder:
        self.connections[(self.workspace, cid)] = {
            "workspace": self.workspace, "connection_id": cid, "name": name,
            "application": application, "status": status, "environment": environment,
            "system_id": application if system_id == "" else system_id,
            "match_status": match_status, "deleted": deleted,
        }  # fmt: skip
        return self

    def recipe(self, rid: int, name: str, code: Node, **fields: Any) -> Builder:
        row = {
            "status": "active", "stop_cause": None, "succeeded": 500, "failed": 0,
            "tasks": 5_000, "last_run_at": NOW - timedelta(days=1),
            "updated_at": NOW - timedelta(days=60), "deleted": False,
        }  # fmt: skip
        row.update(fields)
        self.recipes[(self.workspace, rid)] = {"recipe_id": rid, "name": name, **row}
        self.codes[(self.workspace, rid)] = code
        return self

    def update(self, rid: int, **fields: Any) -> Builder:
        self.recipes[(self.workspace, rid)].update(fields)
        return self

    def call(self, caller: int, callee: int | None, via: str = "call_recipe") -> Builder:
        self.calls.append(
            {
                "workspace": self.workspace, "caller_recipe_id": caller,
                "callee_recipe_id": callee, "via": via,
                "detail": "topic 1" if via == "pub_sub" else str(callee),
                "step_number": 1, "resolved": callee is not None,
            }
        )  # fmt: skip
        return self

    def uncall(self, caller: int, callee: int) -> Builder:
        self.calls = [
            c
            for c in self.calls
            if (c["workspace"], c["caller_recipe_id"], c["callee_recipe_id"])
            != (self.workspace, caller, callee)
        ]
        return self

    def build(self) -> AnalysisInput:
        steps, systems, integrations = [], [], []
        users: dict[tuple[str, int], int] = {}
        for (ws, rid), recipe in self.recipes.items():
            rows = flatten(self.codes[(ws, rid)])
            for row in rows:
                steps.append({"workspace": ws, "recipe_id": rid, **row})
            uses: dict[int, dict[str, Any]] = {}
            for row in rows:
                if row["connection_id"] is None or row["skipped"]:
                    continue
                use = uses.setdefault(
                    row["connection_id"], {"trigger": False, "access": set(), "steps": []}
                )
                use["trigger"] |= row["keyword"] == "trigger"
                # As the sync records it and archy.integration_systems derives the role.
                use["access"].add(
                    classify_step(
                        row["keyword"], row["application"], row["action_name"],
                        has_connection=True,
                    ).access
                )  # fmt: skip
                use["steps"].append(str(row["number"]))
            for cid, use in uses.items():
                read, write = "read" in use["access"], "write" in use["access"]
                role = "both" if read and write else (
                    "source" if read else "target" if write else "unknown")  # fmt: skip
                systems.append(
                    {
                        "workspace": ws, "recipe_id": rid, "connection_id": cid,
                        "application": self.connections[(ws, cid)]["application"],
                        "role": role, "step_numbers": ",".join(use["steps"]),
                        "by_trigger": use["trigger"],
                    }
                )  # fmt: skip
                if not recipe["deleted"]:
                    users[(ws, cid)] = users.get((ws, cid), 0) + 1
            integrations.append(
                {
                    "workspace": ws, "recipe_id": rid, "name": recipe["name"],
                    "description": "", "generated_description": "",
                    "status": recipe["status"], "stop_cause": recipe["stop_cause"],
                    "folder_path": recipe.get("folder", "Home"),
                    "trigger_application": rows[0]["application"],
                    "step_count": len(rows), "max_depth": max(r["depth"] for r in rows),
                    "has_error_handling": any(r["keyword"] == "try" for r in rows),
                    "job_succeeded_count": recipe["succeeded"],
                    "job_failed_count": recipe["failed"],
                    "lifetime_task_count": recipe["tasks"],
                    "last_run_at": recipe["last_run_at"], "updated_at": recipe["updated_at"],
                    "deleted_at": NOW - timedelta(days=3) if recipe["deleted"] else None,
                }
            )  # fmt: skip
        instances, mappings = [], []
        for (ws, cid), c in self.connections.items():
            instances.append(
                {
                    "workspace": ws, "connection_id": cid, "name": c["name"],
                    "application": c["application"], "status": c["status"],
                    "authorization_error": None, "environment": c["environment"],
                    "folder_path": "Home", "recipe_count": users.get((ws, cid), 0),
                    "created_at": NOW - timedelta(days=400),
                    "updated_at": NOW - timedelta(days=100),
                    "deleted_at": NOW - timedelta(days=2) if c["deleted"] else None,
                }
            )  # fmt: skip
            mappings.append(
                {
                    "workspace": ws, "connection_id": cid, "connection_name": c["name"],
                    "application": c["application"], "system_id": c["system_id"],
                    "system_name": (c["system_id"] or "").title() or None,
                    "match_status": c["match_status"] if c["system_id"] else "none",
                    "confidence": 0.9, "method": "provider", "reason": "",
                    "environment": c["environment"],
                }
            )  # fmt: skip

        def frame(rows: list[dict[str, Any]], name: str) -> pd.DataFrame:
            columns = list(dict.fromkeys([*INPUT_COLUMNS[name], *(rows[0] if rows else {})]))
            return pd.DataFrame(rows, columns=columns)

        return AnalysisInput(
            integrations=frame(integrations, "integrations"),
            integration_systems=frame(systems, "integration_systems"),
            integration_calls=frame(self.calls, "integration_calls"),
            system_instances=frame(instances, "system_instances"),
            system_mappings=frame(mappings, "system_mappings"),
            steps=frame(steps, "steps"),
        )


def r(rid: int, workspace: str = WS) -> str:
    return f"recipe:{workspace}:{rid}"


def c(cid: int, workspace: str = WS) -> str:
    return f"connection:{workspace}:{cid}"


def s(key: str, workspace: str = WS) -> str:
    return f"system:{workspace}:{key}"


def clean(workspace: str = WS) -> Builder:
    """Three healthy recipes: Salesforce -> NetSuite -> Slack, and a Jira function NetSuite's
    recipe calls. Every external step sits in a try whose catch stops, logs or notifies."""
    b = Builder(workspace)
    b.connection(1, "ACME Salesforce PROD", "salesforce")
    b.connection(2, "ACME NetSuite PROD", "netsuite")
    b.connection(3, "ACME Slack PROD", "slack")
    b.connection(4, "ACME Jira PROD", "jira")
    b.recipe(101, "Opportunity to Sales Order", trigger(
        "salesforce", "new_object_realtime", 1,
        try_(act("netsuite", "add_object", 2),
             catch=(act("logger", "log_message"), Node("stop"))),
    ))  # fmt: skip
    b.recipe(102, "Sales Order to Slack", trigger(
        "netsuite", "new_object_realtime", 2,
        try_(act("slack", "post_message", 3), call_step()),
    ))  # fmt: skip
    b.recipe(103, "Create Jira issue", trigger(
        "workato_recipe_function", "execute", None,
        try_(act("jira", "create_issue", 4),
             catch=(act("email", "send_mail"), Node("stop"))),
        act("workato_recipe_function", "return_result"),
    ))  # fmt: skip
    b.call(102, 103)
    return b


def run(b: Builder, thresholds: Thresholds | None = None) -> list[Insight]:
    inp = b.build()
    return find_insights(inp, build_graphs(inp), thresholds, NOW)


def of(insights: list[Insight], kind: str, rule: str) -> list[Insight]:
    return [i for i in insights if i.kind == kind and i.evidence["rule"] == rule]


def subject_ids(insight: Insight) -> list[str]:
    return [subject["id"] for subject in insight.subjects]


# ---------------------------------------------------------------------- clean workspace


def test_a_clean_workspace_has_no_insight():
    assert run(clean()) == []


def test_deleted_recipes_and_connections_are_ignored():
    b = clean()
    b.connection(9, "Old HubSpot", "hubspot", deleted=True)  # unused, but deleted
    b.recipe(109, "Deleted failing recipe", trigger("clock", "scheduled_event", None,
             act("hubspot", "create_contact", 9)), failed=900, deleted=True)  # fmt: skip
    inp = b.build()
    graphs = build_graphs(inp)
    assert r(109) not in graphs.calls
    assert c(9) not in graphs.instances
    assert find_insights(inp, graphs, None, NOW) == []


# ---------------------------------------------------------------------- every kind fires


def add_loop_back(b: Builder) -> None:
    b.recipe(104, "Sales Order back to Salesforce", trigger(
        "netsuite", "updated_object_realtime", 2,
        try_(act("salesforce", "update_sobject", 1)),
    ))  # fmt: skip


def add_hub(b: Builder) -> None:
    """Twelve webhook recipes that only write to one ServiceNow connection."""
    b.connection(7, "ServiceNow PROD", "service_now", system_id="servicenow")
    for i in range(12):
        b.recipe(300 + i, f"Webhook {i} to ServiceNow", trigger(
            "workato_webhooks", "new_event", None,
            try_(*[act("service_now", "create_object", 7)] * (i % 3 + 1)),
        ))  # fmt: skip


def add_complex(b: Builder) -> None:
    """Score 59: 21 steps + 2*5 depth + 2*3 branches + 3*2 loops + 2*2 calls + 3*4 systems."""
    b.recipe(105, "Giant order sync", trigger(
        "salesforce", "new_object_realtime", 1,
        try_(
            block("foreach",
                  block("if", act("netsuite", "upsert_object", 2), call_step(),
                        block("foreach", act("slack", "post_message", 3))),
                  block("elsif", act("jira", "create_issue", 4), call_step()),
                  block("else", act("logger", "log_message"))),
            act("netsuite", "search_object_v2", 2),
            act("netsuite", "update_object", 2),
            act("workato_variable", "declare_variable"),
            act("workato_variable", "update_variables"),
            act("logger", "log_message"),
            catch=(act("logger", "log_message"), Node("stop")),
        ),
    ))  # fmt: skip


def duplicate_of_101(b: Builder) -> None:
    b.recipe(106, "Opportunity to Sales Order (copy)", trigger(
        "salesforce", "new_object_realtime", 1,
        try_(act("netsuite", "upsert_object", 2)),
    ))  # fmt: skip


def near_duplicates(b: Builder) -> None:
    body = [
        act("json_parser", "parse_json_v2"), act("lookup_table", "get_entry"),
        act("workato_variable", "declare_variable"), act("slack", "post_message", 3),
        act("logger", "log_message"), act("workato_variable", "update_variables"),
    ]  # fmt: skip
    b.recipe(107, "Webhook A", trigger("workato_webhooks", "new_event", None,
             try_(*body, act("jira", "add_comment", 4))))  # fmt: skip
    b.recipe(108, "Webhook B", trigger("workato_webhooks", "new_event", None,
             try_(*body, act("jira", "create_issue", 4))))  # fmt: skip


def single_record_loop(b: Builder) -> None:
    b.recipe(101, "Opportunity to Sales Order", trigger(
        "salesforce", "new_object_realtime", 1,
        try_(block("foreach", block("if", act("netsuite", "add_object", 2)))),
    ))  # fmt: skip


@dataclass(frozen=True)
class Case:
    change: Any
    kind: str
    rule: str
    subjects: list[str]
    severity: str
    evidence: dict[str, Any] = field(default_factory=dict)
    thresholds: Thresholds | None = None


CASES = [
    pytest.param(
        Case(lambda b: b.call(103, 102), "circular_dependency", "call_cycle",
             [r(102), r(103)], "high", {"size": 2, "cycle": [r(102), r(103)]}),
        id="recipes-calling-each-other",
    ),
    pytest.param(
        Case(lambda b: b.call(103, 103, via="call_recipe_async"), "circular_dependency",
             "call_cycle", [r(103)], "medium", {"size": 1, "cycle": [r(103)]}),
        id="recipe-calling-itself-async",
    ),
    pytest.param(
        Case(add_loop_back, "circular_dependency", "system_loop",
             [s("netsuite"), s("salesforce")], "high",
             {"recipes_one_way": [r(101)], "recipes_other_way": [r(104)],
              "both_directions_active": True}),
        id="salesforce-netsuite-sync-loop",
    ),
    pytest.param(
        Case(lambda b: b.connection(5, "HubSpot PROD", "hubspot"), "unused_connection",
             "unused", [c(5)], "medium", {"application": "hubspot", "recipe_count": 0}),
        id="unused-active-connection",
    ),
    pytest.param(
        Case(lambda b: b.connection(5, "HubSpot", "hubspot", status="inactive"),
             "unused_connection", "unused", [c(5)], "low", {"status": "inactive"}),
        id="unused-inactive-connection",
    ),
    pytest.param(
        Case(lambda b: b.connection(6, "Salesforce PRD (2)", "salesforce"),
             "duplicate_connection", "same_application_environment", [c(1), c(6)], "medium",
             {"application": "salesforce", "environment": "production"}),
        id="two-production-salesforce-connections",
    ),
    pytest.param(
        Case(lambda b: b.connection(5, "Jira", "jira", environment="unknown")
             .connection(6, "Jira (ops)", "jira", environment="unknown"),
             "duplicate_connection", "same_application_environment", [c(5), c(6)], "low",
             {"environment": "unknown"}),
        id="duplicates-of-unknown-environment-are-low",
    ),
    pytest.param(
        Case(lambda b: b.update(101, status="stopped", stop_cause="trigger_errors_limit",
                                updated_at=NOW - timedelta(days=10)),
             "inactive_recipe", "stopped", [r(101)], "high",
             {"stop_cause": "trigger_errors_limit", "days_stopped": 10}),
        id="stopped-by-workato",
    ),
    pytest.param(
        Case(lambda b: b.update(101, status="stopped", updated_at=NOW - timedelta(days=120)),
             "inactive_recipe", "stopped", [r(101)], "low", {"days_stopped": 120}),
        id="stopped-by-a-user-long-ago",
    ),
    pytest.param(
        Case(lambda b: b.update(101, last_run_at=NOW - timedelta(days=45)),
             "inactive_recipe", "no_recent_jobs", [r(101)], "low",
             {"days_since_last_job": 45}),
        id="running-without-jobs",
    ),
    pytest.param(
        Case(lambda b: b.update(101, last_run_at=None), "inactive_recipe", "no_recent_jobs",
             [r(101)], "low", {"days_since_last_job": None, "days_since_update": 60}),
        id="running-and-never-ran",
    ),
    pytest.param(
        Case(lambda b: b.uncall(102, 103), "inactive_recipe", "uncalled_callable", [r(103)],
             "medium", {"unresolved_calls_in_workspace": 0}),
        id="function-nobody-calls",
    ),
    pytest.param(
        Case(lambda b: b.uncall(102, 103).call(101, None), "inactive_recipe",
             "uncalled_callable", [r(103)], "low", {"unresolved_calls_in_workspace": 1}),
        id="function-nobody-calls-but-dynamic-calls-exist",
    ),
    pytest.param(
        Case(lambda b: b.recipe(110, "Bare", trigger(
                 "salesforce", "new_object_realtime", 1, act("logger", "log_message"),
                 act("netsuite", "add_object", 2), act("slack", "post_message", 3,
                                                       skipped=True))),
             "missing_error_handling", "unhandled_errors", [r(110)], "medium",
             {"step_numbers": [2], "applications": ["netsuite"], "catch_steps": [],
              "try_blocks": 0}),
        id="external-step-outside-try",
    ),
    pytest.param(
        Case(lambda b: b.recipe(110, "Bare and failing", trigger(
                 "salesforce", "new_object_realtime", 1, act("netsuite", "add_object", 2)),
                 failed=3),
             "missing_error_handling", "unhandled_errors", [r(110)], "high",
             {"job_failed_count": 3}),
        id="external-step-outside-try-with-failures",
    ),
    pytest.param(
        Case(lambda b: b.recipe(110, "Swallower", trigger(
                 "salesforce", "new_object_realtime", 1,
                 try_(act("netsuite", "add_object", 2),
                      catch=(act("workato_variable", "declare_variable"),
                             block("if", act("logger", "log_message", skipped=True)))),
                 try_(act("slack", "post_message", 3), catch=(Node("stop"),)))),
             "missing_error_handling", "unhandled_errors", [r(110)], "medium",
             {"catch_steps": [3], "step_numbers": [], "try_blocks": 2}),
        id="catch-that-swallows",
    ),
    pytest.param(
        Case(lambda b: b.recipe(110, "Unprotected and swallowing", trigger(
                 "salesforce", "new_object_realtime", 1,
                 act("jira", "create_issue", 4),
                 try_(act("netsuite", "add_object", 2),
                      catch=(Node("stop", stop_error=False),)))),
             "missing_error_handling", "unhandled_errors", [r(110)], "medium",
             {"catch_steps": [4], "step_numbers": [1], "applications": ["jira"]}),
        id="one-finding-per-recipe-for-unprotected-steps-and-a-successful-stop",
    ),
    pytest.param(
        Case(lambda b: b.recipe(110, "Collects and forgets", trigger(
                 "salesforce", "new_object_realtime", 1,
                 act("workato_variable", "declare_list"),
                 block("foreach", try_(act("netsuite", "add_object", 2),
                                       catch=(act("workato_variable", "insert_to_list"),))),
                 act("netsuite", "search_object_v2", 2, skipped=True))),
             "missing_error_handling", "unhandled_errors", [r(110)], "medium",
             {"catch_steps": [5], "step_numbers": []}),
        id="catch-that-collects-errors-nobody-reports",
    ),
    pytest.param(
        Case(lambda b: b.recipe(110, "Catch that only looks", trigger(
                 "salesforce", "new_object_realtime", 1,
                 try_(act("netsuite", "add_object", 2),
                      catch=(act("netsuite", "search_object_v2", 2),)))),
             "missing_error_handling", "unhandled_errors", [r(110)], "medium",
             {"catch_steps": [3]}),
        id="catch-that-only-reads",
    ),
    pytest.param(
        Case(lambda b: b.update(101, succeeded=40, failed=60), "failing_recipe",
             "failure_ratio", [r(101)], "high", {"failure_ratio": 0.6}),
        id="most-jobs-fail",
    ),
    pytest.param(
        Case(lambda b: b.update(101, succeeded=75, failed=25), "failing_recipe",
             "failure_ratio", [r(101)], "medium", {"job_failed_count": 25}),
        id="a-quarter-of-jobs-fail",
    ),
    pytest.param(
        Case(lambda b: None, "high_coupling", "system", [s("netsuite")], "high",
             {"rank": 1, "recipe_count": 2, "neighbour_systems": [s("salesforce"), s("slack")]},
             Thresholds(coupling_min_recipes=2, coupling_top_n=1)),
        id="most-coupled-system",
    ),
    pytest.param(
        Case(add_hub, "high_coupling", "system", [s("servicenow")], "high",
             {"rank": 1, "recipe_count": 12}),
        id="hub-system-with-default-thresholds",
    ),
    pytest.param(
        Case(add_hub, "bottleneck", "single_point_of_failure", [c(7)], "medium",
             {"graph": "instances", "articulation_point": True, "dependents": 12}),
        id="connection-twelve-recipes-hang-on",
    ),
    pytest.param(
        Case(lambda b: [b.recipe(200 + i, f"Caller {i}", trigger(
                 "workato_webhooks", "new_event", None, try_(call_step()))).call(200 + i, 103)
             for i in range(10)], "bottleneck", "single_point_of_failure", [r(103)], "medium",
             {"graph": "calls", "caller_recipes": 11, "dependents": 11}),
        id="function-eleven-recipes-call",
    ),
    pytest.param(
        Case(add_complex, "high_complexity", "complexity_score", [r(105)], "high",
             {"score": 59.0, "steps": 21, "max_depth": 5, "branches": 3, "loops": 2,
              "calls": 2, "systems": 4, "percentile": 100.0},
             Thresholds(complexity_min_score=25)),
        id="complex-recipe",
    ),
    pytest.param(
        Case(duplicate_of_101, "consolidation_candidate", "same_trigger_and_targets",
             [r(101), r(106)], "low",
             {"trigger_application": "salesforce", "target_applications": ["netsuite"]}),
        id="same-trigger-and-targets",
    ),
    pytest.param(
        Case(near_duplicates, "consolidation_candidate", "near_duplicate", [r(107), r(108)],
             "low", {"trigger_application": "workato_webhooks"}),
        id="near-duplicate-steps",
    ),
    pytest.param(
        Case(lambda b: b.recipe(101, "Opportunity to Sales Order", trigger(
                 "salesforce", "new_object", 1, try_(act("netsuite", "add_object", 2)))),
             "performance_opportunity", "polling_trigger", [r(101)], "low",
             {"application": "salesforce", "trigger": "new_object"}),
        id="polling-trigger-with-realtime-alternative",
    ),
    pytest.param(
        Case(single_record_loop, "performance_opportunity", "single_record_loop", [r(101)],
             "medium", {"steps": [{"step": 4, "loop_step": 2, "application": "netsuite",
                                   "action": "add_object",
                                   "batch_action": "add_objects_batch"}]}),
        id="single-record-create-in-a-loop",
    ),
    pytest.param(
        Case(lambda b: b.update(102, tasks=2_500_000), "performance_opportunity",
             "high_task_count", [r(102)], "medium", {"lifetime_task_count": 2_500_000}),
        id="very-high-task-count",
    ),
]  # fmt: skip


@pytest.mark.parametrize("case", CASES)
def test_each_insight_kind_fires_with_its_subjects_and_evidence(case: Case):
    b = clean()
    case.change(b)
    found = of(run(b, case.thresholds), case.kind, case.rule)
    assert len(found) == 1, [(i.title, subject_ids(i)) for i in found]
    insight = found[0]
    assert sorted(subject_ids(insight)) == sorted(case.subjects)
    assert insight.severity == case.severity
    assert insight.category == KINDS[case.kind]
    assert insight.workspace == WS
    for key, value in case.evidence.items():
        assert insight.evidence[key] == value, key
    assert insight.insight_id == insight_id(case.kind, case.rule, case.subjects)
    assert insight.title and insight.detail and insight.recommendation


def _guarded(rid: int, name: str, trigger_node: Node) -> Any:
    return lambda b: b.recipe(rid, name, trigger_node)


#: Catch blocks that handle the error (and steps that need none): no missing_error_handling.
HANDLED_ERRORS = {
    "catch-returns-an-error-result-to-the-caller": _guarded(110, "Function", trigger(
        "workato_recipe_function", "execute", None,
        try_(act("netsuite", "add_object", 2),
             act("workato_recipe_function", "return_result"),
             catch=(act("workato_recipe_function", "return_result"),)))),
    "catch-returns-an-error-response-to-the-api-client": _guarded(110, "API", trigger(
        "workato_api_platform", "receive_request", None,
        try_(act("netsuite", "search_object_v2", 2),
             catch=(block("if", act("workato_api_platform", "return_response"),
                          block("else", act("workato_api_platform", "return_response"))),)),
        act("workato_api_platform", "return_response"))),
    "catch-that-retries": _guarded(110, "Retrier", trigger(
        "salesforce", "new_object_realtime", 1,
        try_(act("netsuite", "add_object", 2), catch=(), retries=3))),
    "catch-collects-errors-reported-after-the-loop": _guarded(110, "Batch", trigger(
        "salesforce", "new_object_realtime", 1,
        act("workato_variable", "declare_list"),
        block("foreach", try_(act("netsuite", "add_object", 2),
                              catch=(act("workato_variable", "insert_to_list"),))),
        block("if", act("email", "send_mail")))),
    "catch-collects-errors-and-the-job-stops-with-an-error-later": _guarded(110, "Stopper",
        trigger("salesforce", "new_object_realtime", 1,
                block("foreach", try_(act("netsuite", "add_object", 2),
                                      catch=(act("workato_variable", "update_variables"),))),
                block("if", Node("stop", stop_error=True)))),
    "catch-writes-an-error-data-table": _guarded(110, "Recorder", trigger(
        "salesforce", "new_object_realtime", 1,
        try_(act("netsuite", "add_object", 2),
             catch=(act("workato_db_table", "add_record"),)))),
    "catch-writes-an-error-row-to-a-database": _guarded(110, "DB recorder", trigger(
        "salesforce", "new_object_realtime", 1,
        try_(act("netsuite", "add_object", 2),
             catch=(act("jira", "create_issue", 4),)))),
    "catch-hands-the-error-to-an-error-handler-recipe": _guarded(110, "Delegator", trigger(
        "salesforce", "new_object_realtime", 1,
        try_(act("netsuite", "add_object", 2), catch=(call_step("call_recipe_async"),)))),
    "catch-stops-with-an-error-unknown-flag-counts": _guarded(110, "Stop", trigger(
        "salesforce", "new_object_realtime", 1,
        try_(act("netsuite", "add_object", 2), catch=(Node("stop"),)))),
    "only-a-notification-outside-the-try": _guarded(110, "Notifier", trigger(
        "salesforce", "new_object_realtime", 1,
        try_(act("netsuite", "add_object", 2), catch=(Node("stop", stop_error=True),)),
        act("slack", "post_message", 3))),
}  # fmt: skip


def test_every_kind_has_a_case():
    assert {p.values[0].kind for p in CASES} == set(KINDS)


@pytest.mark.parametrize(
    ("change", "kind"),
    [
        pytest.param(
            lambda b: b.update(101, status="stopped", updated_at=NOW - timedelta(days=5)),
            "inactive_recipe",
            id="recently-stopped-by-a-user",
        ),
        pytest.param(
            lambda b: b.update(101, succeeded=5, failed=10), "failing_recipe", id="too-few-jobs"
        ),
        pytest.param(
            lambda b: b.update(101, last_run_at=None, updated_at=NOW - timedelta(days=3)),
            "inactive_recipe",
            id="new-recipe-that-has-not-run-yet",
        ),
        pytest.param(
            lambda b: [
                b.recipe(
                    200 + i,
                    f"Publisher {i}",
                    trigger(
                        "clock",
                        "scheduled_event",
                        None,
                        try_(act("workato_pub_sub", "publish_to_topic")),
                    ),
                ).call(200 + i, 103, via="pub_sub")
                for i in range(10)
            ],
            "bottleneck",
            id="publishers-do-not-depend-on-their-subscriber",
        ),
        pytest.param(add_complex, "high_complexity", id="complex-below-the-minimum-score"),
        pytest.param(
            lambda b: b.recipe(
                110,
                "Notifies Slack on error",
                trigger(
                    "salesforce",
                    "new_object_realtime",
                    1,
                    try_(
                        act("netsuite", "add_object", 2), catch=(act("slack", "post_message", 3),)
                    ),
                ),
            ),
            "missing_error_handling",
            id="external-step-in-a-catch-that-notifies",
        ),
        *[
            pytest.param(add, "missing_error_handling", id=name)
            for name, add in HANDLED_ERRORS.items()
        ],
    ],
)
def test_below_the_thresholds_nothing_fires(change, kind):
    b = clean()
    change(b)
    assert [i.title for i in run(b) if i.kind == kind] == []


def test_two_rules_of_a_kind_on_one_recipe_get_two_ids():
    b = clean().uncall(102, 103).update(103, status="stopped", stop_cause="txn_quota_limit")
    found = [i for i in run(b) if i.kind == "inactive_recipe"]
    assert {i.evidence["rule"] for i in found} == {"stopped", "uncalled_callable"}
    assert len({i.insight_id for i in found}) == 2


# ---------------------------------------------------------------------- ids


def everything_wrong() -> Builder:
    """Every case's change at once; in reverse, so recipe 101's updates follow its rewrites."""
    b = clean()
    for param in reversed(CASES):
        param.values[0].change(b)
    return b


def test_insight_ids_are_stable_across_runs_and_unique():
    first = run(everything_wrong())
    second = run(everything_wrong())
    assert [i.insight_id for i in first] == [i.insight_id for i in second]
    assert first == second
    assert len({i.insight_id for i in first}) == len(first)
    assert {i.kind for i in first} == set(KINDS) - {"high_complexity"}


def test_insight_ids_depend_on_kind_and_subjects_not_order():
    assert insight_id("unused_connection", "unused", ["a", "b"]) == insight_id(
        "unused_connection", "unused", ["b", "a"]
    )
    ids = {
        insight_id("unused_connection", "unused", ["a"]),
        insight_id("unused_connection", "unused", ["b"]),
        insight_id("inactive_recipe", "stopped", ["a"]),
    }
    assert len(ids) == 3
    assert all(len(i) == 12 and int(i, 16) >= 0 for i in ids)


def test_insights_are_json_serialisable_and_sorted_by_severity():
    import json

    insights = run(everything_wrong())
    json.dumps([i.evidence for i in insights])
    order = {"high": 0, "medium": 1, "low": 2}
    assert [order[i.severity] for i in insights] == sorted(order[i.severity] for i in insights)


def test_several_workspaces_never_mix():
    one, two = clean("EU"), clean("US")
    one.call(103, 102)
    two.call(103, 102)
    merged = Builder()
    for part in (one, two):
        merged.connections.update(part.connections)
        merged.recipes.update(part.recipes)
        merged.codes.update(part.codes)
        merged.calls += part.calls
    inp = merged.build()
    graphs = build_graphs(inp)
    assert graphs.calls.number_of_nodes() == 6
    assert set(graphs.calls.edges()) == {(r(102, ws), r(103, ws)) for ws in ("EU", "US")} | {
        (r(103, ws), r(102, ws)) for ws in ("EU", "US")
    }
    cycles = of(find_insights(inp, graphs, None, NOW), "circular_dependency", "call_cycle")
    assert sorted(map(subject_ids, cycles)) == [[r(102, "EU"), r(103, "EU")],
                                                [r(102, "US"), r(103, "US")]]  # fmt: skip
    assert cycles[0].insight_id != cycles[1].insight_id


# ---------------------------------------------------------------------- cycles


def test_a_dense_strongly_connected_component_is_one_insight_with_a_cycle():
    b = Builder()
    ids = range(1, 41)
    for i in ids:
        b.recipe(i, f"Function {i}", trigger("workato_recipe_function", "execute", None,
                 try_(*[call_step()] * 3)))  # fmt: skip
    for i, j in itertools.permutations(ids, 2):
        b.call(i, j)
    inp = b.build()
    assert len(inp.integration_calls) == 1560
    graphs = build_graphs(inp)
    found = of(find_insights(inp, graphs, None, NOW), "circular_dependency", "call_cycle")
    assert len(found) == 1
    evidence = found[0].evidence
    assert evidence["size"] == 40 and len(found[0].subjects) == 40
    assert evidence["edges"] == 1560
    cycle = evidence["cycle"]
    assert cycle[0] == min(r(i) for i in ids), "the cycle starts at the smallest member"
    assert len(set(cycle)) == len(cycle) >= 2
    for a, b_ in zip(cycle, [*cycle[1:], cycle[0]]):
        assert graphs.calls.has_edge(a, b_)


def test_cycle_order_follows_the_calls():
    b = Builder()
    for i in (1, 2, 3, 4):
        b.recipe(i, f"R{i}", trigger("workato_recipe_function", "execute", None,
                 try_(call_step())))  # fmt: skip
    b.call(1, 3).call(3, 2).call(2, 4).call(4, 1)  # one cycle: 1 -> 3 -> 2 -> 4 -> 1
    found = of(run(b), "circular_dependency", "call_cycle")
    assert found[0].evidence["cycle"] == [r(1), r(3), r(2), r(4)]
    assert found[0].evidence["cycle_names"] == ["R1", "R3", "R2", "R4"]


def test_near_duplicate_pruning_finds_what_comparing_every_pair_finds():
    import difflib
    import random

    from archy_pipeline.analysis.rules.consolidation import _similar_pairs

    rng = random.Random(11)
    tokens = ["a", "b", "c", "d", "e", "if", "foreach"]
    base = [tuple(rng.choices(tokens, k=rng.randint(5, 30))) for _ in range(12)]
    sequences = []
    for n in range(150):  # mutated copies of a few bases, so many pairs are close
        seq = list(base[n % 12])
        for _ in range(rng.randint(0, 3)):
            seq.insert(rng.randrange(len(seq) + 1), rng.choice(tokens))
        sequences.append((f"r{n:03d}", tuple(seq)))
    for threshold in (0.8, 0.9, 0.95):
        expected = {
            (a, b)
            for (a, sa), (b, sb) in itertools.combinations(sequences, 2)
            if difflib.SequenceMatcher(None, sb, sa, autojunk=False).ratio() >= threshold
        }
        found = {(a, b) for a, b, _ in _similar_pairs(sequences, threshold)}
        assert found == expected and expected


# ---------------------------------------------------------------------- graphs and tables


def test_the_three_graphs():
    b = clean()
    add_loop_back(b)
    graphs = build_graphs(b.build())
    assert set(graphs.calls.edges()) == {(r(102), r(103))}
    assert graphs.calls.edges[r(102), r(103)]["kind"] == "calls"
    assert graphs.calls.edges[r(102), r(103)]["recipe_ids"] == [102]
    inst = graphs.instances
    assert inst.edges[c(1), r(101)]["kind"] == "reads"
    assert inst.edges[r(101), c(2)]["kind"] == "writes"
    assert inst.has_edge(c(2), r(104)) and inst.has_edge(r(104), c(1))
    flows = graphs.systems
    assert set(flows.edges()) == {
        (s("salesforce"), s("netsuite")),
        (s("netsuite"), s("slack")),
        (s("netsuite"), s("salesforce")),
    }
    assert flows.edges[s("salesforce"), s("netsuite")]["recipe_ids"] == [101]
    assert flows.edges[s("salesforce"), s("netsuite")]["recipe_count"] == 1


def test_role_both_gives_both_edges_and_unmapped_connections_are_their_application():
    b = Builder()
    b.connection(1, "SF", "salesforce")
    app = "acme_erp_connector_42_1"  # a custom connector no catalogue system knows
    b.connection(2, "Some API", app, system_id=None)
    b.connection(3, "Other API", app, system_id=None)
    b.connection(4, "Misc HTTP", "rest", system_id=None)
    b.recipe(1, "Owner sync", trigger("salesforce", "updated_object", 1,
             act("salesforce", "update_sobject", 1), act(app, "create_order", 2),
             act(app, "create_order", 3), act("rest", "make_request_v2", 4)))  # fmt: skip
    graphs = build_graphs(b.build())
    assert graphs.instances.has_edge(c(1), r(1)) and graphs.instances.has_edge(r(1), c(1))
    assert (
        graphs.instances.nodes[c(2)]["system"] == s(app) == graphs.instances.nodes[c(3)]["system"]
    )
    # An HTTP call whose method the step does not say is neither read nor write: no arrow.
    assert set(graphs.systems.edges()) == {(s("salesforce"), s(app))}


def test_graph_tables_columns_pagerank_and_components():
    b = clean()
    b.connection(5, "HubSpot PROD", "hubspot")  # an isolated connection
    inp = b.build()
    graphs = build_graphs(inp)
    nodes, edges = graph_tables(graphs)
    assert list(nodes.columns) == [
        "graph", "id", "workspace", "type", "label", "degree", "in_degree", "out_degree",
        "betweenness", "pagerank", "component",
    ]  # fmt: skip
    assert list(edges.columns) == [
        "graph", "source", "target", "workspace", "kind", "recipe_ids", "recipe_count",
    ]  # fmt: skip
    assert set(nodes["graph"]) == {"calls", "instances", "systems"}
    for _, group in nodes.groupby("graph"):
        assert group["pagerank"].sum() == pytest.approx(1.0)
    row = nodes.set_index(["graph", "id"])
    assert row.loc[("instances", c(2))][["degree", "in_degree", "out_degree"]].tolist() == [
        2, 1, 1,
    ]  # fmt: skip
    assert row.loc[("instances", r(101)), "type"] == "recipe"
    assert row.loc[("systems", s("netsuite")), "label"] == "Netsuite"
    inst = nodes[nodes["graph"] == "instances"].set_index("id")["component"]
    # components are numbered by their smallest id: connection:ACME:1 comes first
    assert inst[c(1)] == inst[c(2)] == inst[r(101)] == inst[r(102)] == inst[c(3)] == 0
    assert inst[c(4)] == inst[r(103)] == 1 and inst[c(5)] == 2
    assert inst.max() == 2
    calls = edges[edges["graph"] == "calls"]
    assert calls[["source", "target", "kind", "recipe_ids"]].values.tolist() == [
        [r(102), r(103), "calls", "102"]
    ]
    flows = edges[edges["graph"] == "systems"]
    assert set(flows["kind"]) == {"flows_to"}


def test_betweenness_is_exact_on_small_graphs_and_seeded_when_sampled():
    b = clean()
    add_hub(b)
    inp = b.build()
    graphs = build_graphs(inp)
    nodes, _ = graph_tables(graphs)
    exact = nx.betweenness_centrality(graphs.instances)
    got = nodes[nodes["graph"] == "instances"].set_index("id")["betweenness"]
    assert max(abs(got[n] - exact[n]) for n in exact) < 1e-12
    assert got[c(2)] > 0

    def sampled() -> pd.Series:
        g = build_graphs(inp, betweenness_exact_max_nodes=3, betweenness_samples=5)
        table, _ = graph_tables(g)
        return table.set_index(["graph", "id"])["betweenness"]

    assert sampled().equals(sampled())


def test_sampled_betweenness_matches_networkx_brandes_on_the_same_sources():
    """The igraph sums are networkx's subset betweenness from the same sampled sources."""
    graph = nx.gnp_random_graph(400, 0.01, directed=True, seed=5)
    graph.add_edge(3, 3)  # a self-loop links nothing
    graph.add_nodes_from(range(400, 420))  # isolated
    got = betweenness(graph, exact_max=100, samples=40, seed=7)
    linked = sorted(v for v in graph if any(w != v for w in nx.all_neighbors(graph, v)))
    sources = random.Random(7).sample(linked, 40)
    sums = nx.betweenness_centrality_subset(
        graph.subgraph(linked).copy(), sources, linked, normalized=False
    )
    n = graph.number_of_nodes()
    expected = {v: sums.get(v, 0.0) * len(linked) / 40 / ((n - 1) * (n - 2)) for v in graph}
    assert max(expected.values()) > 0.001
    assert max(abs(got[v] - expected[v]) for v in graph) < 1e-12
    assert got[410] == 0.0


def test_pagerank_matches_networkx():
    from networkx.algorithms.link_analysis.pagerank_alg import _pagerank_python

    graph = nx.gnp_random_graph(60, 0.05, directed=True, seed=3)
    graph.add_edge(7, 7)
    graph.add_nodes_from([100, 101])  # dangling and isolated
    ours, theirs = pagerank(graph), _pagerank_python(graph, tol=1e-12, max_iter=1000)
    assert max(abs(ours[n] - theirs[n]) for n in graph) < 1e-8


def test_ranking_tables():
    b = clean()
    add_complex(b)
    inp = b.build()
    complexity, systems = ranking_tables(inp, build_graphs(inp))
    top = complexity.iloc[0]
    assert (top["recipe_id"], top["score"], top["percentile"]) == (105, 59.0, 100.0)
    assert list(complexity.columns[:6]) == [
        "workspace", "recipe_id", "recipe", "name", "score", "percentile",
    ]  # fmt: skip
    assert len(complexity) == 4
    netsuite = systems.set_index("system").loc[s("netsuite")]
    # Salesforce writes it; it feeds Slack (102) and, read by 105's search, Slack and Jira.
    assert (netsuite["rank"], netsuite["recipe_count"], netsuite["neighbour_systems"]) == (1, 3, 3)
    jira = systems.set_index("system").loc[s("jira")]
    assert jira["recipe_count"] == 2
    assert jira["dependent_recipes"] == 3, "102 calls 103, which uses Jira"


def test_dependents_in_rankings_agree_with_impact_on_a_tangled_workspace():
    import random

    rng = random.Random(5)
    b = Builder()
    apps = ["salesforce", "netsuite", "slack", "jira", "sap"]
    for cid in range(1, 9):
        b.connection(cid, f"Conn {cid}", apps[cid % 5], environment=f"env{cid}")
    for rid in range(1, 41):
        conns = rng.sample(range(1, 9), 2)
        b.recipe(
            rid,
            f"R{rid}",
            trigger(
                apps[conns[0] % 5],
                "new_object_realtime",
                conns[0],
                try_(act(apps[conns[1] % 5], "create_object", conns[1]), call_step()),
            ),
        )
    for _ in range(60):  # cycles, async calls and Pub/Sub (which does not propagate) mixed
        via = rng.choice(["call_recipe", "call_recipe_async", "pub_sub"])
        b.call(rng.randint(1, 40), rng.randint(1, 40), via=via)
    inp = b.build()
    graphs = build_graphs(inp)
    _, systems = ranking_tables(inp, graphs)
    assert len(systems) == 5
    for row in systems.itertuples():
        assert row.dependent_recipes == len(impact(graphs, inp, row.system).affected_recipes)
    for found in of(
        find_insights(inp, graphs, Thresholds(bottleneck_min_dependents=1), NOW),
        "bottleneck",
        "single_point_of_failure",
    ):
        node = found.subjects[0]["id"]
        expected = len(impact(graphs, inp, node).affected_recipes)
        if found.subjects[0]["type"] == "recipe":
            expected -= 1  # its callers, not itself
        assert found.evidence["dependents"] == expected, node


# ---------------------------------------------------------------------- impact


def chain() -> Builder:
    """Salesforce -> recipe A; B calls A and writes to SAP; C subscribes to B's topic."""
    b = Builder()
    b.connection(1, "Salesforce PROD", "salesforce")
    b.connection(2, "SAP PROD", "sap")
    b.connection(3, "Slack PROD", "slack")
    b.recipe(1, "A: read accounts", trigger("workato_recipe_function", "execute", None,
             try_(act("salesforce", "search_sobjects", 1))))  # fmt: skip
    b.recipe(2, "B: accounts to SAP", trigger("clock", "scheduled_event", None,
             try_(call_step(), act("sap", "send_idoc", 2),
                  act("workato_pub_sub", "publish_to_topic"))))  # fmt: skip
    b.recipe(3, "C: tell Slack", trigger("workato_pub_sub", "subscribe_to_topic", None,
             try_(act("slack", "post_message", 3))))  # fmt: skip
    b.call(2, 1).call(2, 3, via="pub_sub")
    return b


@pytest.mark.parametrize(
    "target",
    [
        pytest.param("salesforce", id="system-by-application"),
        pytest.param("system:ACME:salesforce", id="system-by-node-id"),
        pytest.param("SALESFORCE prod", id="connection-by-name"),
        pytest.param("1", id="connection-or-recipe-id-is-ambiguous"),
    ],
)
def test_impact_follows_callers_to_downstream_systems(target):
    inp = chain().build()
    graphs = build_graphs(inp)
    if target == "1":
        with pytest.raises(ImpactTargetError) as error:
            impact(graphs, inp, target)
        assert {c["id"] for c in error.value.candidates} == {r(1), c(1)}
        assert "recipe:ACME:1" in str(error.value)
        return
    report = impact(graphs, inp, target)
    assert [x["id"] for x in report.direct_recipes] == [r(1)]
    assert [(x["id"], x["calls"]) for x in report.caller_recipes] == [(r(2), "A: read accounts")]
    assert [x["id"] for x in report.affected_recipes] == [r(1), r(2)]
    assert [x["id"] for x in report.downstream_systems] == [s("sap")], "C is Pub/Sub: unaffected"
    text = format_impact(report)
    assert "B: accounts to SAP" in text and "calls 'A: read accounts'" in text and "Sap" in text


def test_impact_of_a_recipe_and_of_a_name_substring():
    inp = chain().build()
    graphs = build_graphs(inp)
    report = impact(graphs, inp, "recipe:ACME:2")
    assert report.target["type"] == "recipe"
    assert [x["id"] for x in report.affected_recipes] == [r(2)]
    assert [x["id"] for x in report.downstream_systems] == [s("sap")]
    assert impact(graphs, inp, "tell slack").target["id"] == r(3)


@pytest.mark.parametrize(
    ("target", "message"),
    [
        pytest.param("PROD", "ambiguous", id="substring-of-several-names"),
        pytest.param("Workday", "matches no system", id="nothing"),
    ],
)
def test_impact_target_errors(target, message):
    inp = chain().build()
    with pytest.raises(ImpactTargetError, match=message) as error:
        impact(build_graphs(inp), inp, target)
    if message == "ambiguous":
        assert {c["name"] for c in error.value.candidates} == {
            "Salesforce PROD", "SAP PROD", "Slack PROD",
        }  # fmt: skip


# ---------------------------------------------------------------------- roll-ups


def bare(b: Builder, rid: int, folder: str, **fields: Any) -> Builder:
    """A running recipe whose NetSuite step runs outside any try."""
    return b.recipe(rid, f"Bare {rid}", trigger(
        "salesforce", "new_object_realtime", 1, act("netsuite", "add_object", 2)),
        folder=folder, **fields)  # fmt: skip


def error_findings(insights: list[Insight]) -> list[Insight]:
    return [i for i in insights if i.kind == "missing_error_handling"]


def test_per_recipe_findings_of_a_folder_roll_up_from_the_threshold():
    b = clean()
    for rid in range(201, 207):
        bare(b, rid, "Sales/Ops", failed=3 if rid == 203 else 0)
    for rid in (301, 302):
        bare(b, rid, "Finance")
    found = error_findings(run(b))
    rolled = [i for i in found if i.evidence.get("rolled_up")]
    assert len(rolled) == 1 and len(found) == 3, [i.title for i in found]
    (up,) = rolled
    folder = "folder:ACME:Sales/Ops"
    assert up.insight_id == insight_id("missing_error_handling", "unhandled_errors/folder",
                                       [folder])  # fmt: skip
    assert up.title == "6 recipes without error handling in Sales/Ops"
    assert up.subjects[0] == {"id": folder, "type": "folder", "name": "Sales/Ops"}
    members = {m["id"]: m for m in up.evidence["members"]}
    assert set(members) == {r(i) for i in range(201, 207)}
    assert up.evidence["member_count"] == 6
    assert all(m["step_numbers"] == [1] for m in members.values())
    assert members[r(203)]["severity"] == "high" and up.severity == "high", "the worst member"
    assert members[r(203)]["insight_id"] == insight_id(
        "missing_error_handling", "unhandled_errors", [r(203)]
    )
    assert (up.affected_recipes, up.failed_jobs, up.production) == (6, 3, True)
    assert sorted(subject_ids(i)[0] for i in found if i is not up) == [r(301), r(302)]

    assert len(error_findings(run(b, Thresholds(rollup_min_recipes=0)))) == 8, "0: never"
    assert len(error_findings(run(b, Thresholds(rollup_min_recipes=7)))) == 8


def test_a_rolled_up_finding_keeps_its_id_while_members_change_then_resolves_into_members():
    b = clean()
    for rid in range(201, 207):
        bare(b, rid, "Sales/Ops")
    first = {i.insight_id for i in error_findings(run(b))}
    # fix one recipe: five left, the same finding (same id) with one member fewer
    b.recipe(201, "Bare 201", trigger("salesforce", "new_object_realtime", 1,
             try_(act("netsuite", "add_object", 2))), folder="Sales/Ops")  # fmt: skip
    second = error_findings(run(b))
    assert {i.insight_id for i in second} == first
    assert second[0].evidence["member_count"] == 5
    # one more: four left, below the threshold: four findings, one per recipe
    b.update(202, status="stopped", stop_cause="txn_quota_limit")
    b.recipe(202, "Bare 202", trigger("salesforce", "new_object_realtime", 1,
             try_(act("netsuite", "add_object", 2))), folder="Sales/Ops")  # fmt: skip
    third = error_findings(run(b))
    assert {i.insight_id for i in third} == {
        insight_id("missing_error_handling", "unhandled_errors", [r(i)]) for i in range(203, 207)
    }


def test_kinds_about_several_subjects_never_roll_up():
    b = clean()
    for rid in range(201, 207):  # six duplicate unused Jira connections: one finding anyway
        b.connection(rid, f"Jira {rid}", "jira", environment="production")
    found = run(b, Thresholds(rollup_min_recipes=2))
    assert not [i for i in found if i.evidence.get("rolled_up")]


# ---------------------------------------------------------------------- what to fix first


def test_insights_come_in_fix_first_order():
    b = clean()
    b.connection(5, "ACME HubSpot DEV", "hubspot", environment="development")
    b.connection(6, "ACME Zendesk PROD", "zendesk", environment="production")
    # three medium findings about one recipe each: production first, then failed jobs
    b.recipe(401, "Dev recipe", trigger("hubspot", "new_contact_webhook", 5,
             act("hubspot", "update_contact", 5)))  # fmt: skip
    b.recipe(402, "Prod recipe", trigger("zendesk", "new_updated_ticket_realtime", 6,
             act("zendesk", "update_ticket", 6)))  # fmt: skip
    b.recipe(403, "Prod recipe with failures", trigger("zendesk", "new_updated_ticket_realtime",
             6, act("zendesk", "update_ticket", 6)), failed=2, succeeded=1000)  # fmt: skip
    b.update(403, status="stopped", updated_at=NOW - timedelta(days=1))
    insights = run(b)
    assert insights == sorted(insights, key=priority_key)
    errors = {i.subjects[0]["id"]: i for i in error_findings(insights)}
    assert errors[r(401)].production is False and errors[r(402)].production is True
    assert errors[r(403)].failed_jobs == 2 and errors[r(403)].severity == "low", "stopped"
    order = [subject_ids(i)[0] for i in error_findings(insights)]
    assert order == [r(402), r(401), r(403)], "medium before low; production first"


def test_priority_key_orders_severity_then_production_then_recipes_then_failed_jobs():
    def make(name: str, severity: str, production: bool, recipes: int, failed: int) -> Insight:
        return Insight(name, "bottleneck", "architecture", severity, name, "", "", [], {},
                       WS, recipes, failed, production)  # fmt: skip

    expected = [
        make("a", "high", False, 1, 0),
        make("b", "medium", True, 1, 0),
        make("c", "medium", False, 9, 0),
        make("d", "medium", False, 2, 50),
        make("e", "medium", False, 2, 5),
        make("f", "low", True, 99, 999),
    ]
    shuffled = [expected[i] for i in (5, 3, 0, 4, 2, 1)]
    assert [i.title for i in sorted(shuffled, key=priority_key)] == list("abcdef")


# ---------------------------------------------------------------------- retries and stops


def test_error_handling_details_read_catch_retries_and_stop_flags_from_code():
    code = {
        "number": 0, "keyword": "trigger", "provider": "clock", "block": [
            {"number": 1, "keyword": "try", "block": [
                {"number": 2, "keyword": "action", "provider": "salesforce"},
                {"number": 3, "keyword": "catch", "provider": None,
                 "input": {"max_retry_count": "3", "retry_interval": "10"},
                 "block": [{"number": 4, "keyword": "stop",
                            "input": {"stop_with_error": "false"}}]},
            ]},
            {"number": 5, "keyword": "stop", "input": {"stop_with_error": "true"}},
            {"number": 6, "keyword": "stop"},
        ],
    }  # fmt: skip
    assert error_handling_details(code) == {
        3: {"retry_count": 3, "stop_with_error": None},
        4: {"retry_count": None, "stop_with_error": False},
        5: {"retry_count": None, "stop_with_error": True},
        6: {"retry_count": None, "stop_with_error": None},
    }
    import json

    unnumbered = json.loads(json.dumps(code).replace('"number": ', '"n": '))
    assert error_handling_details(json.dumps(unnumbered)) == error_handling_details(code)
    assert error_handling_details("{not json") == {}
    assert error_handling_details(None) == {}

    steps = pd.DataFrame({"workspace": [WS] * 3, "recipe_id": [7, 7, 8], "number": [3, 4, 3]})
    recipes = pd.DataFrame({"workspace": [WS, WS], "recipe_id": [7, 8],
                            "code": [json.dumps(code), None]})  # fmt: skip
    out = add_step_details(steps, recipes)
    assert out["retry_count"].tolist() == [3, pd.NA, pd.NA]
    assert out["stop_with_error"].tolist() == [pd.NA, False, pd.NA]


def test_a_catch_whose_only_stop_ends_the_job_successfully_swallows_the_error():
    b = clean().recipe(
        110,
        "Quiet stop",
        trigger(
            "salesforce",
            "new_object_realtime",
            1,
            try_(act("netsuite", "add_object", 2), catch=(Node("stop", stop_error=False),)),
        ),
    )
    (found,) = error_findings(run(b))
    assert found.evidence["catch_steps"] == [3] and found.title == "Errors not handled: Quiet stop"
    b.recipe(110, "Quiet stop", trigger(
        "salesforce", "new_object_realtime", 1,
        try_(act("netsuite", "add_object", 2), catch=(Node("stop", stop_error=False),),
             retries=1)))  # fmt: skip
    assert error_findings(run(b)) == [], "but Workato retries the block first"


# ---------------------------------------------------------------------- thresholds


def thresholds_of(analysis: object) -> Thresholds:
    """The thresholds an archy.yaml with this ``analysis:`` section gives a run."""
    return parse_thresholds(parse_settings({"analysis": analysis}).analysis)


def test_thresholds_defaults_and_overrides():
    assert thresholds_of(None) == Thresholds()
    assert thresholds_of({}) == Thresholds()
    parsed = thresholds_of({"failure_ratio": 0.3, "inactive_days": 10, "task_count_high": 5e6})
    assert parsed == replace(
        Thresholds(), failure_ratio=0.3, inactive_days=10, task_count_high=5_000_000
    )
    assert isinstance(parsed.task_count_high, int)
    assert thresholds_of({"rollup_min_recipes": 0}).rollup_min_recipes == 0
    assert Thresholds().rollup_min_recipes == 5


@pytest.mark.parametrize(
    ("data", "message"),
    [
        pytest.param({"failure_rate": 0.2}, "analysis: unknown key failure_rate; allowed: "
                     "inactive_days, stopped_days", id="unknown-key"),
        pytest.param({"inactive_days": "30"}, "analysis.inactive_days: must be an integer, "
                     "not '30'", id="text"),
        pytest.param({"inactive_days": True}, "analysis.inactive_days: must be an integer, "
                     "not True", id="boolean"),
        pytest.param({"inactive_days": 2.5}, "analysis.inactive_days: must be an integer, "
                     "not 2.5", id="fraction-for-an-integer"),
        pytest.param({"failure_ratio": 1.5}, "analysis.failure_ratio: must be a number from 0 "
                     "to 1, not 1.5", id="ratio-above-one"),
        pytest.param({"complexity_percentile": 120}, "analysis.complexity_percentile: must be "
                     "a number from 0 to 100, not 120", id="percentile"),
        pytest.param({"coupling_top_n": 0}, "analysis.coupling_top_n: must be at least 1, "
                     "not 0", id="zero-top-n"),
        pytest.param({"stopped_days": -1}, "analysis.stopped_days: must be at least 0, not -1",
                     id="negative"),
        pytest.param({"rollup_min_recipes": -1},
                     "analysis.rollup_min_recipes: must be at least 0, not -1",
                     id="negative-roll-up"),
        pytest.param(["inactive_days"], "analysis: must be a mapping (key: value), not a list",
                     id="not-a-mapping"),
    ],
)  # fmt: skip
def test_threshold_errors_name_the_key_path_and_what_is_allowed(data, message):
    with pytest.raises(ConfigError) as error:
        thresholds_of(data)
    assert str(error.value).startswith(f"archy.yaml: {message}")


def test_input_frames_must_have_the_columns():
    inp = clean().build()
    with pytest.raises(ValueError, match="integrations lacks columns: stop_cause"):
        AnalysisInput(
            **{**inp.__dict__, "integrations": inp.integrations.drop(columns="stop_cause")}
        )
    empty = AnalysisInput.empty()
    graphs = build_graphs(empty)
    assert find_insights(empty, graphs, None, NOW) == []
    nodes, edges = graph_tables(graphs)
    assert nodes.empty and edges.empty


def test_a_lookup_does_not_make_a_sync_loop():
    """Salesforce events write NetSuite (101). A Slack command looks a sales order up in
    NetSuite and updates Salesforce: data flows back, but no NetSuite change starts it, so no
    write can trigger the other recipe again: no loop. A NetSuite-triggered write back to
    Salesforce (104) is one."""
    b = clean()
    b.recipe(120, "Slack command: copy order status to Salesforce", trigger(
        "slack", "new_message", 3,
        try_(act("netsuite", "search_object_v2", 2), act("salesforce", "update_sobject", 1)),
    ))  # fmt: skip

    def loops() -> list[Any]:
        inp = b.build()
        return of(
            find_insights(inp, build_graphs(inp), None, NOW), "circular_dependency", "system_loop"
        )

    assert loops() == []
    add_loop_back(b)
    (loop,) = loops()
    assert loop.evidence["recipes_other_way"] == [r(104)] or loop.evidence["recipes_one_way"] == [
        r(104)
    ]


def test_posting_to_a_channel_does_not_close_a_sync_loop():
    """Salesforce events post to Slack; a Slack command creates Salesforce records. A message
    is not a record copied back: no loop."""
    b = clean()
    b.recipe(121, "Slack command: new lead", trigger(
        "slack_bot", "bot_command_v2", 3, try_(act("salesforce", "create_sobject", 1)),
    ))  # fmt: skip
    b.recipe(122, "Opportunity won to Slack", trigger(
        "salesforce", "updated_object", 1, try_(act("slack", "post_message", 3)),
    ))  # fmt: skip
    inp = b.build()
    assert of(find_insights(inp, build_graphs(inp), None, NOW), "circular_dependency",
              "system_loop") == []  # fmt: skip


def test_error_handling_details_read_a_recipe_nested_10000_levels_deep():
    depth = 10_000
    code = (
        '{"keyword":"trigger","block":['
        + '{"keyword":"if","block":[' * depth
        + '{"keyword":"catch","number":7,"input":{"max_retry_count":"2"},"block":[]}'
        + "]}" * depth
        + "]}"
    )
    assert error_handling_details(code)[7]["retry_count"] == 2


def test_betweenness_imports_igraph_without_matplotlib_and_leaves_matplotlib_importable():
    """igraph's drawing package would import matplotlib.pyplot (0.3 s CPU per analysis);
    the analysis imports igraph without it, and matplotlib still imports afterwards."""
    pytest.importorskip("matplotlib", reason="matplotlib is not installed: nothing to keep out")
    script = (
        "import sys, networkx as nx\n"
        "from archy_pipeline.analysis.metrics import betweenness\n"
        "got = betweenness(nx.path_graph(4, create_using=nx.DiGraph), 100, 10, 1)\n"
        "assert got[1] > 0 and got[0] == 0, got\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] == 'matplotlib'))\n"
        "import matplotlib.pyplot\n"
        "print('pyplot', matplotlib.pyplot.__name__)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == ["[]", "pyplot matplotlib.pyplot"]


def test_near_duplicate_pairs_are_the_same_whatever_the_hash_seed():
    """The pairs of a near-duplicate finding are listed (a, b) with a < b, in one order: the
    subgraph view met the nodes in a set's order, so a pair came out (b, a) under some hash
    seeds and the insight's evidence changed from one run to the next."""
    script = (
        "import json\n"
        "from archy_pipeline.analysis import build_graphs, find_insights\n"
        "from tests.test_analysis import act, clean, trigger, try_\n"
        "b = clean()\n"
        "body = [act('json_parser', 'parse_json_v2'), act('lookup_table', 'get_entry'),\n"
        "        act('workato_variable', 'declare_variable'), act('slack', 'post_message', 3),\n"
        "        act('logger', 'log_message'), act('workato_variable', 'update_variables')]\n"
        "other = [act('csv_parser', 'parse_csv'), act('lookup_table', 'add_entry'),\n"
        "         act('workato_variable', 'declare_list'), act('email', 'send_mail'),\n"
        "         act('logger', 'log_message'), act('workato_variable', 'update_list')]\n"
        "for i, action in enumerate(['add_comment', 'create_issue', 'update_issue', 'get_issue',\n"
        "                            'search_issues', 'delete_issue']):\n"
        "    b.recipe(107 + i, f'Webhook {i}', trigger('workato_webhooks', 'new_event', None,\n"
        "             try_(*body, act('jira', action, 4))))\n"
        "for i, action in enumerate(['add_comment', 'create_issue', 'update_issue']):\n"
        "    b.recipe(120 + i, f'Other {i}', trigger('workato_webhooks', 'new_event', None,\n"
        "             try_(*other, act('jira', action, 4))))\n"
        "inp = b.build()\n"
        "found = find_insights(inp, build_graphs(inp))\n"
        "print(json.dumps([i.evidence for i in found if i.evidence.get('rule') == "
        "'near_duplicate']))\n"
    )
    outputs = set()
    for seed in ("1", "2", "3", "4", "5", "6"):
        done = subprocess.run(
            [sys.executable, "-c", script],
            capture_output=True,
            text=True,
            timeout=120,
            cwd=Path(__file__).resolve().parents[1],
            env={**os.environ, "PYTHONHASHSEED": seed},
        )
        assert done.returncode == 0, done.stderr
        outputs.add(done.stdout)
    assert len(outputs) == 1
    # Two findings: six recipes, and three (fewer than half the graph's nodes: the view
    # iterates the component's set).
    found = json.loads(outputs.pop())
    assert sorted(len(e["pairs"]) for e in found) == [3, 15]
    for evidence in found:
        pairs = [(p["a"], p["b"]) for p in evidence["pairs"]]
        assert pairs == sorted(pairs) and all(a < b for a, b in pairs)
