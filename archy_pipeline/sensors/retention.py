"""The retention job: remove what archy.yaml ``retention:`` no longer keeps, and say what.

Warehouse rows (closed history rows, change events, resolved insights, sync issues; see
:mod:`archy_pipeline.retention`) and finished Dagster runs older than ``run_records_days``,
deleted through the instance. A run not finished (queued, starting, in progress, cancelling)
is never deleted, however old.
"""

# No "from __future__ import annotations" here: Dagster reads annotations at runtime.

from datetime import datetime, timezone

import dagster as dg

from archy_pipeline.constants import WAREHOUSE_POOL
from archy_pipeline.resources.settings import ArchySettingsResource
from archy_pipeline.resources.warehouse import WarehouseResource
from archy_pipeline.retention import apply_retention, bound

#: The only runs retention deletes: those that ended.
FINISHED = [dg.DagsterRunStatus.SUCCESS, dg.DagsterRunStatus.FAILURE,
            dg.DagsterRunStatus.CANCELED]  # fmt: skip
#: Runs deleted per query of the run storage.
BATCH = 100
#: What the removed run records are reported as, beside the tables.
RUN_RECORDS = "dagster runs"


def delete_old_runs(instance: dg.DagsterInstance, before: datetime, keep: str | None) -> int:
    """Delete finished runs last updated before ``before`` (never ``keep``, the running one);
    returns how many."""
    deleted = 0
    while True:
        records = instance.get_run_records(
            filters=dg.RunsFilter(statuses=FINISHED, updated_before=before), limit=BATCH
        )
        runs = [r.dagster_run.run_id for r in records if r.dagster_run.run_id != keep]
        if not runs:
            return deleted
        for run_id in runs:
            instance.delete_run(run_id)
        deleted += len(runs)


@dg.op(pool=WAREHOUSE_POOL)
def remove_expired_records(
    context: dg.OpExecutionContext,
    warehouse: WarehouseResource,
    settings: ArchySettingsResource,
) -> dg.Output[dict]:
    """Remove the rows and runs older than archy.yaml ``retention:`` keeps; report how many."""
    keep = settings.load().retention
    now = datetime.now(timezone.utc)
    removed = apply_retention(warehouse.backend, keep, now)
    removed[RUN_RECORDS] = delete_old_runs(
        context.instance, bound(keep, "run_records_days", now), context.run_id
    )
    context.log.info(
        "retention removed "
        + ", ".join(f"{count} from {name}" for name, count in removed.items())
        + f" (kept: {keep.model_dump()})"
    )
    return dg.Output(
        removed,
        metadata={
            **{f"removed {name}": count for name, count in removed.items()},
            "removed_total": sum(removed.values()),
        },
    )


@dg.job(
    name="retention_job",
    description="Remove closed history rows, change events, resolved insights, sync issues "
    "and finished Dagster runs older than archy.yaml retention: keeps.",
)
def retention_job() -> None:
    remove_expired_records()
