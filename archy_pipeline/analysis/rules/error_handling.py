"""The ``missing_error_handling`` rule: steps outside any try block, and catch blocks that
swallow errors (docs/analysis.md, "What counts as handling an error")."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping

from archy_pipeline.analysis.insights import Collector
from archy_pipeline.analysis.model import (
    BRANCH_KEYWORDS,
    CALL_REFERENCE_KINDS,
    NOTIFY_APPLICATIONS,
    Model,
    Step,
)
from archy_pipeline.workato.vocabulary import classify_step

#: Workato's own stores: a write there records the failure (data tables, lookup tables).
RECORD_APPLICATIONS = frozenset({"workato_db_table", "lookup_table"})
#: Steps that count as handling an error inside a catch block (besides ``stop`` with error,
#: returns to the caller, recipe calls, writes and retries: see :func:`_handles`).
HANDLER_APPLICATIONS = NOTIFY_APPLICATIONS | RECORD_APPLICATIONS
#: Actions that answer the caller (reference §3.6): in a catch, the answer carries the error.
RETURN_ACTIONS = frozenset(
    {
        ("workato_recipe_function", "return_result"),
        ("workato_api_platform", "return_response"),
        ("workato_service", "send_reply"),
    }
)
#: Variables and lists: a catch that only collects the error there handles it when a later
#: step reports (see :func:`error_handling`).
VARIABLE_APPLICATIONS = frozenset({"workato_variable"})


def _descendants(children: Mapping[int | None, list[Step]], root: int) -> list[Step]:
    found: list[Step] = []
    stack = [root]
    while stack:
        for child in children.get(stack.pop(), ()):
            found.append(child)
            stack.append(child.number)
    return found


def _reads(step: Step) -> bool:
    """The step only reads (the vocabulary's verdict, as the sync recorded it or by name)."""
    access = step.access
    if access is None:
        access = classify_step(
            step.keyword, step.application, step.action, has_connection=True
        ).access
    return access == "read"


def _reports(step: Step) -> bool:
    """The step makes a failure known: stops with an error, answers the caller, hands it to
    another recipe, logs or notifies, or writes it to a data table or lookup table."""
    if step.skipped:
        return False
    if step.keyword == "stop":
        return step.stop_error is not False
    if step.keyword != "action":
        return False
    if (step.application, step.action) in RETURN_ACTIONS:
        return True
    if step.reference_kind in CALL_REFERENCE_KINDS:
        return True
    return step.application in HANDLER_APPLICATIONS and not _reads(step)


def _handles(step: Step) -> bool:
    """A step inside a catch that handles the error by itself: :func:`_reports`, or any other
    write on a connection (recording the failure in a data store, compensating)."""
    if _reports(step):
        return True
    return (
        not step.skipped
        and step.keyword == "action"
        and step.connection is not None
        and step.application not in VARIABLE_APPLICATIONS
        and not _reads(step)
    )


def _collects(step: Step) -> bool:
    """Keeps the error for later: writes a variable or list."""
    return (
        not step.skipped
        and step.keyword == "action"
        and step.application in VARIABLE_APPLICATIONS
        and not _reads(step)
    )


def _conditional(step: Step, by_number: Mapping[int, Step], after: int) -> bool:
    """A stop with an error, or a step inside an if/elsif/else that comes after ``after``."""
    if step.keyword == "stop":
        return True
    parent = step.parent
    while parent is not None and parent in by_number and parent > after:
        if by_number[parent].keyword in BRANCH_KEYWORDS:
            return True
        parent = by_number[parent].parent
    return False


def error_handling(model: Model, out: Collector) -> None:
    """One ``missing_error_handling`` finding per recipe (rule ``unhandled_errors``)."""
    for node, recipe_steps in model.steps.items():
        recipe = model.recipes[node]
        unprotected = [
            s
            for s in recipe_steps
            if s.keyword == "action"
            and s.number != 0
            and s.connection is not None
            and not s.skipped
            and not s.protected
            and not s.in_catch
            and not (s.application in NOTIFY_APPLICATIONS and not _reads(s))
        ]
        children: dict[int | None, list[Step]] = defaultdict(list)
        by_number = {s.number: s for s in recipe_steps}
        for step in recipe_steps:
            if step.parent != step.number:
                children[step.parent].append(step)
        swallowing: list[int] = []
        for catch in recipe_steps:
            if catch.keyword != "catch" or catch.skipped:
                continue
            if catch.retries:
                continue  # Workato retries the try block: a retry is handling
            inside = [d for d in _descendants(children, catch.number) if not d.skipped]
            if any(_handles(d) for d in inside):
                continue
            if any(_collects(d) for d in inside):
                # collected in a variable or list: handled when a step after the try block
                # (outside any catch) reports under a condition (an if after the loop), or
                # stops with an error. Which variable the condition reads is not followed.
                try_block = by_number.get(catch.parent) if catch.parent is not None else None
                root = try_block.number if try_block is not None else catch.number
                last = max([root, *(d.number for d in _descendants(children, root))])
                if any(
                    _reports(s) and not s.in_catch and _conditional(s, by_number, last)
                    for s in recipe_steps
                    if s.number > last
                ):
                    continue
            swallowing.append(catch.number)
        if not unprotected and not swallowing:
            continue
        tries = sum(1 for s in recipe_steps if s.keyword == "try" and not s.skipped)
        severity = "low"
        if recipe.active:
            severity = "high" if unprotected and recipe.failed > 0 else "medium"
        apps = sorted({s.application or "?" for s in unprotected})
        numbers = [s.number for s in unprotected]
        parts = []
        if unprotected:
            parts.append(
                f"{len(numbers)} step(s) calling {', '.join(apps)} run outside any try block "
                f"(steps {', '.join(map(str, numbers))}): a failure there fails the job with "
                "nothing logged, retried or reported."
            )
        if swallowing:
            parts.append(
                f"Catch block(s) at step(s) {', '.join(map(str, swallowing))} neither retry, "
                "stop with an error, answer the caller, log, notify, record the error, nor "
                "hand it to another recipe: failures vanish and the job reports success."
            )
        recommendation = []
        if unprotected:
            recommendation.append(
                "Wrap the external calls in a try/catch block that retries, logs or notifies, "
                "and stops with an error or returns one."
            )
        if swallowing:
            recommendation.append(
                "In each catch, retry, log or notify, and end with 'Stop job' (with error) or "
                "return the error to the caller."
            )
        out.add(
            "missing_error_handling",
            "unhandled_errors",
            severity,
            recipe.workspace,
            [node],
            (f"No error handling: {recipe.name}" if not tries
             else f"Errors not handled: {recipe.name}"),
            " ".join(parts),
            " ".join(recommendation),
            {
                "step_numbers": numbers,
                "applications": apps,
                "connections": sorted({s.connection for s in unprotected if s.connection}),
                "catch_steps": swallowing,
                "try_blocks": tries,
                "status": recipe.status,
                "job_failed_count": recipe.failed,
            },
        )  # fmt: skip
