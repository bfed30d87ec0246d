"""Health rules about connections and how recipes run (``unused_connection``,
``duplicate_connection``, ``inactive_recipe``, ``failing_recipe``)."""

from __future__ import annotations

from collections import Counter, defaultdict

import pandas as pd

from archy_pipeline.analysis.graph import Graphs
from archy_pipeline.analysis.insights import Collector
from archy_pipeline.analysis.model import Connection, Model
from archy_pipeline.analysis.thresholds import Thresholds


def _days(now: pd.Timestamp, then: pd.Timestamp | None) -> int | None:
    return None if then is None else int((now - then).total_seconds() // 86400)


def _iso(stamp: pd.Timestamp | None) -> str | None:
    return None if stamp is None else stamp.isoformat()


# -- connections


def connection_hygiene(model: Model, out: Collector) -> None:
    users = Counter(c for r in model.recipes.values() for c in r.uses)
    groups: dict[tuple[str, str, str], list[Connection]] = defaultdict(list)
    for conn in model.connections.values():
        if not conn.current:
            continue
        if not users[conn.node] and not conn.recipe_count:
            active = conn.status == "active"
            out.add(
                "unused_connection",
                "unused",
                "medium" if active else "low",
                conn.workspace,
                [conn.node],
                f"Unused connection: {conn.name}",
                f"No current recipe uses this {conn.application or 'unknown'} connection "
                f"({conn.environment}, {conn.status or 'unknown status'}).",
                "Delete it, or document why it is kept"
                + (": its credentials stay live while nothing needs them." if active else "."),
                {
                    "application": conn.application,
                    "environment": conn.environment,
                    "status": conn.status,
                    "folder_path": conn.folder_path,
                    "recipe_count": conn.recipe_count or 0,
                },
            )
        if conn.application:
            groups[(conn.workspace, conn.application, conn.environment)].append(conn)
    for (ws, application, environment), conns in sorted(groups.items()):
        if len(conns) < 2:
            continue
        nodes = [c.node for c in conns]
        out.add(
            "duplicate_connection",
            "same_application_environment",
            "low" if environment == "unknown" else "medium",
            ws,
            nodes,
            f"{len(conns)} {application} connections in {environment}",
            f"{', '.join(repr(c.name) for c in conns)} all connect to {application} in "
            f"{environment}"
            + (" (their names do not say which environment)" if environment == "unknown" else "")
            + ". Unless they reach different accounts, each extra one is another credential to "
            "rotate and another place for recipes to drift apart.",
            "Move recipes to one connection per account and environment, then delete the rest.",
            {
                "application": application,
                "environment": environment,
                "connections": [
                    {
                        "id": c.node,
                        "name": c.name,
                        "status": c.status,
                        "recipe_count": users[c.node],
                    }
                    for c in conns
                ],
            },
        )


# -- inactive_recipe


def inactive_recipes(
    model: Model, graphs: Graphs, th: Thresholds, now: pd.Timestamp, out: Collector
) -> None:
    called = {callee for _, callee in graphs.calls.edges()}
    for recipe in model.recipes.values():
        days = _days(now, recipe.updated_at)
        base = {
            "status": recipe.status,
            "stop_cause": recipe.stop_cause,
            "updated_at": _iso(recipe.updated_at),
            "last_run_at": _iso(recipe.last_run_at),
        }
        if not recipe.active:
            by_workato = recipe.stop_cause is not None
            if by_workato or (days is not None and days >= th.stopped_days):
                since = f" for {days} days" if days is not None else ""
                why = f"Workato stopped it ({recipe.stop_cause})" if by_workato else "stopped"
                out.add(
                    "inactive_recipe",
                    "stopped",
                    "high" if by_workato else "low",
                    recipe.workspace,
                    [recipe.node],
                    f"Stopped recipe: {recipe.name}",
                    f"{why}{since}."
                    + (" Its trigger events pile up until it restarts." if by_workato else ""),
                    "Fix the cause and restart it."
                    if by_workato
                    else "Delete or archive it if nobody needs it any more.",
                    {**base, "days_stopped": days},
                )
        else:
            last = _days(now, recipe.last_run_at)
            stale = (last is not None and last > th.inactive_days) or (
                last is None and days is not None and days > th.inactive_days
            )
            if stale:
                when = f"its last job was {last} days ago" if last is not None else "never ran"
                out.add(
                    "inactive_recipe",
                    "no_recent_jobs",
                    "low",
                    recipe.workspace,
                    [recipe.node],
                    f"Running but idle: {recipe.name}",
                    f"The recipe is running, but {when} (threshold {th.inactive_days} days).",
                    "Check that its trigger still fires; stop it if the flow is no longer used.",
                    {**base, "days_since_last_job": last, "days_since_update": days},
                )
        if recipe.callable and recipe.node not in called:
            dynamic = model.unresolved_calls[recipe.workspace]
            out.add(
                "inactive_recipe",
                "uncalled_callable",
                "low" if dynamic else "medium",
                recipe.workspace,
                [recipe.node],
                f"Callable recipe nobody calls: {recipe.name}",
                f"Its trigger is {recipe.trigger_application}, but no recipe calls it"
                + (
                    f" (the workspace has {dynamic} dynamic calls whose callee is unknown)."
                    if dynamic
                    else "."
                ),
                "Delete it if it is not called from outside the workspace (API or another "
                "workspace).",
                {**base, "trigger_application": recipe.trigger_application,
                 "unresolved_calls_in_workspace": dynamic},
            )  # fmt: skip


# -- failing_recipe


def failing_recipes(model: Model, th: Thresholds, out: Collector) -> None:
    for recipe in model.recipes.values():
        total = recipe.succeeded + recipe.failed
        if total < max(th.failure_min_jobs, 1):
            continue
        ratio = recipe.failed / total
        if ratio < th.failure_ratio:
            continue
        out.add(
            "failing_recipe",
            "failure_ratio",
            "high" if ratio >= th.failure_high_ratio else "medium",
            recipe.workspace,
            [recipe.node],
            f"Failing recipe: {recipe.name} ({ratio:.0%} of jobs fail)",
            f"{recipe.failed} of {total} jobs failed ({ratio:.1%}; threshold "
            f"{th.failure_ratio:.0%} from {th.failure_min_jobs} jobs).",
            "Open the failed jobs in Workato, fix the most common error, and add error "
            "handling for the rest.",
            {
                "job_failed_count": recipe.failed,
                "job_succeeded_count": recipe.succeeded,
                "failure_ratio": round(ratio, 4),
                "status": recipe.status,
            },
        )
