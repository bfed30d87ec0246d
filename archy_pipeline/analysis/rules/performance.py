"""The ``performance_opportunity`` rules: polling triggers with a real-time option,
single-record actions in loops with a batch counterpart, very high task counts."""

from __future__ import annotations

from typing import NamedTuple

from archy_pipeline.analysis.insights import Collector
from archy_pipeline.analysis.model import LOOP_KEYWORDS, Model, Step
from archy_pipeline.analysis.thresholds import Thresholds


class TriggerAlternatives(NamedTuple):
    """A connector's polling triggers and the real-time triggers to use instead."""

    polling: frozenset[str]
    realtime: tuple[str, ...]


def _alt(polling: str, realtime: str) -> TriggerAlternatives:
    return TriggerAlternatives(frozenset(polling.split()), tuple(realtime.split()))


#: Curated: application -> polling trigger names and the real-time alternatives to look for.
POLLING_TRIGGERS: dict[str, TriggerAlternatives] = {
    "salesforce": _alt(
        "new_object updated_object new_updated_object sobject_deleted",
        "new_object_realtime new_updated_object_realtime",
    ),
    "netsuite": _alt(
        "new_object updated_object new_updated_object",
        "new_object_realtime updated_object_realtime",
    ),
    "service_now": _alt("new_object updated_object", "new_object_realtime updated_object_realtime"),
    "jira": _alt("new_issue updated_issue", "new_issue_realtime updated_issue_realtime"),
    "jira_service_desk": _alt(
        "new_request updated_request", "new_request_realtime updated_request_realtime"
    ),
    "zendesk": _alt("new_ticket updated_ticket", "new_updated_ticket_realtime"),
    "hubspot": _alt("new_contact updated_contact new_deal", "new_contact_webhook new_deal_webhook"),
    "google_sheets": _alt("new_spreadsheet_row_v4", "new_spreadsheet_row_v4_realtime"),
    "github": _alt(
        "new_issue new_pull_request new_commit", "new_issue_webhook new_pull_request_webhook"
    ),
}

_DATABASES = ("mssql", "postgresql", "mysql", "snowflake", "redshift", "oracle", "jdbc")

#: Curated: (application, single-record action) -> the batch or bulk action to use in a loop.
BATCH_ACTIONS: dict[tuple[str, str], str] = {
    ("salesforce", "create_object"): "create_objects_batch / create_objects_bulk",
    ("salesforce", "update_sobject"): "update_objects_batch / update_objects_bulk",
    ("salesforce", "upsert_sobject"): "upsert_objects_batch / upsert_objects_bulk",
    ("netsuite", "add_object"): "add_objects_batch",
    ("netsuite", "update_object"): "update_objects_batch",
    ("netsuite", "upsert_object"): "upsert_objects_batch",
    ("google_big_query", "insert_row"): "insert_rows",
    ("google_sheets", "add_spreadsheet_row_v4"): "add_spreadsheet_rows_v4",
    **{(db, "insert_row"): "insert_rows_batch" for db in _DATABASES},
    **{(db, "upsert_row"): "upsert_rows" for db in _DATABASES},
}


def _loop_ancestor(steps: list[Step]) -> dict[int, int]:
    """Step number -> the number of its nearest enclosing foreach/repeat step."""
    by_number = {s.number: s for s in steps}
    memo: dict[int, int | None] = {}
    for step in steps:
        path: list[int] = []
        number = step.number
        while number not in memo:
            parent = by_number[number].parent
            if parent is None or parent not in by_number or parent in path or parent == number:
                memo[number] = None
            elif by_number[parent].keyword in LOOP_KEYWORDS:
                memo[number] = parent
            else:
                path.append(number)
                number = parent
        for walked in path:  # no loop between them and ``number``: they share its answer
            memo[walked] = memo[number]
    return {number: loop for number, loop in memo.items() if loop is not None}


def performance(model: Model, th: Thresholds, out: Collector) -> None:
    for node, recipe in model.recipes.items():
        recipe_steps = model.steps.get(node, [])
        trigger = next((s for s in recipe_steps if s.keyword == "trigger" and s.number == 0), None)
        if trigger and not trigger.skipped:
            alternatives = POLLING_TRIGGERS.get(trigger.application or "")
            if alternatives and trigger.action in alternatives.polling:
                out.add(
                    "performance_opportunity",
                    "polling_trigger",
                    "low",
                    recipe.workspace,
                    [node],
                    f"Polling trigger: {recipe.name}",
                    f"The trigger {trigger.application} {trigger.action} polls on a schedule "
                    "(every 5 minutes by default), which delays events and spends API calls "
                    "when nothing changed. The connector also has real-time triggers.",
                    f"Consider a real-time trigger ({', '.join(alternatives.realtime)}) if the "
                    "object and your setup support it.",
                    {
                        "application": trigger.application,
                        "trigger": trigger.action,
                        "realtime_alternatives": list(alternatives.realtime),
                    },
                )
        loops = _loop_ancestor(recipe_steps)
        single = [
            (s, loops[s.number])
            for s in recipe_steps
            if s.keyword == "action"
            and not s.skipped
            and s.number in loops
            and (s.application, s.action) in BATCH_ACTIONS
        ]
        if single:
            out.add(
                "performance_opportunity",
                "single_record_loop",
                "medium",
                recipe.workspace,
                [node],
                f"One record at a time in a loop: {recipe.name}",
                "Inside a loop, "
                + "; ".join(
                    f"step {s.number} calls {s.application} {s.action} (loop at step {loop})"
                    for s, loop in single
                )
                + ": one API call and one task per record.",
                "Collect the records into a list and use the batch action instead: "
                + "; ".join(
                    f"{s.application} {BATCH_ACTIONS[(s.application, s.action)]}"  # type: ignore[index]
                    for s, _ in single
                )
                + ".",
                {
                    "steps": [
                        {
                            "step": s.number,
                            "loop_step": loop,
                            "application": s.application,
                            "action": s.action,
                            "batch_action": BATCH_ACTIONS[(s.application, s.action)],  # type: ignore[index]
                        }
                        for s, loop in single
                    ]
                },
            )
        if recipe.tasks is not None and recipe.tasks >= th.task_count_high:
            out.add(
                "performance_opportunity",
                "high_task_count",
                "medium",
                recipe.workspace,
                [node],
                f"Very high task count: {recipe.name}",
                f"{recipe.tasks:,} tasks since 2021-03-19 (threshold {th.task_count_high:,}). "
                "Tasks are what Workato bills.",
                "Filter events at the trigger, batch per record operations, and skip steps "
                "that change nothing.",
                {"lifetime_task_count": recipe.tasks},
            )
