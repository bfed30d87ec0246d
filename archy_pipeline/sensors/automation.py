"""The archy tables rebuild themselves after syncs: declarative automation, one rebuild per batch.

Every asset of ``transform_job``'s selection (SQL models, descriptions, systems and mapping,
analysis, change feed, report) carries :data:`AFTER_SYNCS`: it is requested once something it
is built from *changed* (:data:`CHANGED`: a dependency's data version or its own code version)
since it was last requested or rebuilt, and no sync is queued or running. A sync that changed
nothing records the same data versions again and triggers nothing (issue 13). The
``rebuild_after_sync_sensor`` evaluates the conditions every 30 seconds and launches what
they request as one run (all these assets are unpartitioned, so Dagster groups them in a
single run), tagged ``archy/rebuild=after_sync``. So the daily schedule's N
workspace syncs, which Dagster queues together, cause one rebuild after the last of them,
not N; a sync that fails records no materialization and triggers nothing.

Why not ``AutomationCondition.eager()``: eager also waits while *any* dependency partition is
missing, and a workspace whose first sync never succeeded is a missing partition of every raw
table; eager would then never rebuild the other workspaces' tables. The conditions below keep
eager's other parts (``since_last_handled``, no dependency in progress, not in progress).

``archy.systems`` reads no raw table (the shipped catalogue and archy.yaml's own systems), so
:data:`SYSTEMS_AFTER_SYNCS` follows ``workato_raw.connections``, as ``archy.system_mappings``
does: the two are rebuilt together, from the same archy.yaml, as ``transform_job`` did.

``transform_job`` stays for manual rebuilds and the command line; the notification sensors
treat runs of it and runs tagged :data:`REBUILD_TAG` alike.
"""

from __future__ import annotations

import dagster as dg

from archy_pipeline.constants import raw_key
from archy_pipeline.sensors.jobs import TRANSFORM_SELECTION, transform_job

#: Tag of the rebuild runs the automation launches (value ``after_sync``).
REBUILD_TAG = "archy/rebuild"

_SYNC_TABLE = raw_key("connections")

_AC = dg.AutomationCondition

#: Something the table is built from changed: a dependency's data version (a raw table's is a
#: fingerprint of its rows, so a sync that changed nothing does not count; see
#: archy_pipeline/rebuild.py), or the table's code version (code, SQL models, archy.yaml, when
#: the code location loads them); or a dependency was updated while this table was never
#: built or its last build failed, so it is behind whatever its inputs hold.
CHANGED = (
    # will_be_requested: a table downstream of one rebuilt in the same run (as any_deps_updated)
    _AC.any_deps_match(_AC.data_version_changed() | _AC.will_be_requested()).with_label(
        "a dependency's data changed"
    )
    | _AC.code_version_changed()
    | (_AC.any_deps_updated() & (_AC.missing() | _AC.execution_failed())).with_label(
        "updated dependencies and no good build yet"
    )
)

#: Requested once something it is built from changed (CHANGED) since the last request or
#: rebuild, when no sync of any workspace is queued or running and no rebuild of this table is
#: under way.
AFTER_SYNCS = (
    CHANGED.since_last_handled() & ~_AC.any_deps_in_progress() & ~_AC.in_progress()
).with_label("after the syncs")

#: The same for ``archy.systems``, which has no dependency: it follows the raw connections.
SYSTEMS_AFTER_SYNCS = (
    (
        _AC.asset_matches(_SYNC_TABLE, _AC.data_version_changed())
        | _AC.code_version_changed()
        | (
            _AC.asset_matches(_SYNC_TABLE, _AC.newly_updated())
            & (_AC.missing() | _AC.execution_failed())
        )
    )
    .since_last_handled()
    .with_label("raw connections changed")
    & ~_AC.asset_matches(_SYNC_TABLE, _AC.in_progress()).with_label("a sync in progress")
    & ~_AC.in_progress()
).with_label("after the syncs")


def with_rebuild_condition(spec: dg.AssetSpec) -> dg.AssetSpec:
    """``spec`` with the condition that rebuilds it after syncs (for transform_job's assets)."""
    condition = AFTER_SYNCS if spec.deps else SYSTEMS_AFTER_SYNCS
    return spec.replace_attributes(automation_condition=condition)


def is_rebuild(run: dg.DagsterRun) -> bool:
    """Whether ``run`` rebuilt the archy tables: transform_job, or the automation's run."""
    return run.job_name == transform_job.name or REBUILD_TAG in run.tags


def job_label(run: dg.DagsterRun) -> str:
    """The job a notice names: the automation's rebuilds run Dagster's implicit asset job."""
    return "rebuild after sync" if REBUILD_TAG in run.tags else run.job_name


rebuild_after_sync_sensor = dg.AutomationConditionSensorDefinition(
    "rebuild_after_sync_sensor",
    target=TRANSFORM_SELECTION,
    default_status=dg.DefaultSensorStatus.RUNNING,
    minimum_interval_seconds=30,
    run_tags={REBUILD_TAG: "after_sync"},
    emit_backfills=False,
    description="Rebuilds the archy tables and the report once after the syncs that finished "
    "(one run however many workspaces synced; none while a sync is queued or running).",
)
