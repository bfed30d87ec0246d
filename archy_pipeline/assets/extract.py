"""Raw Workato tables (``workato_raw.*``) loaded by dlt, as Dagster assets."""

# No "from __future__ import annotations" here: Dagster reads the context annotation at runtime.

import re
import tempfile
import threading
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import dagster as dg
import dlt
from dagster_dlt import DagsterDltResource, DagsterDltTranslator, dlt_assets
from dagster_dlt.translator import DltResourceTranslatorData

from archy_pipeline.assets.audit import FAILURE_RECORDED_TAG, SyncAudit
from archy_pipeline.constants import (
    DAILY_FRESHNESS,
    EXTRACT_GROUP,
    OWNERS,
    WAREHOUSE_POOL,
    WORKSPACES,
    raw_key,
)
from archy_pipeline.extract import (
    DATASET_NAME,
    PreviousState,
    SyncIssue,
    SyncOptions,
    workato_source,
)
from archy_pipeline.rebuild import table_fingerprint
from archy_pipeline.resources.settings import ArchySettingsResource
from archy_pipeline.resources.warehouse import WarehouseResource
from archy_pipeline.resources.workato import WorkatoResource
from archy_pipeline.workato.vocabulary import AccessShare

#: Seconds between two progress lines of one stage of a sync (pages listed, folders walked).
PROGRESS_SECONDS = 2.0

#: Tables whose previous rows the incremental sync compares against.
TRACKED_TABLES = ("workspace", "folders", "projects", "connections", "recipes")

PIPELINE_NAME = "workato"


def pipeline_name(workspace: str) -> str:
    slug = re.sub(r"[^a-z0-9]+", "_", workspace.lower()).strip("_") or "workspace"
    return f"{PIPELINE_NAME}_{slug}"


class WorkatoDltTranslator(DagsterDltTranslator):
    """Keys ``[workato_raw, <table>]``, group ``extract``, descriptions from the docstrings."""

    def get_asset_spec(self, data: DltResourceTranslatorData) -> dg.AssetSpec:
        spec = super().get_asset_spec(data)
        return spec.replace_attributes(
            key=raw_key(data.resource.name),
            deps=[],
            group_name=EXTRACT_GROUP,
            description=(data.resource.__doc__ or "").strip() or None,
            owners=OWNERS,
            freshness_policy=DAILY_FRESHNESS,
        ).merge_attributes(kinds={"workato"})


# Dagster reads the asset specs from this source and pipeline when the definitions load; runs
# build the real ones from the resources. Neither needs a token or touches the warehouse.
_SPEC_PIPELINE = dlt.pipeline(
    pipeline_name=PIPELINE_NAME,
    destination="duckdb",
    dataset_name=DATASET_NAME,
    pipelines_dir=str(Path(tempfile.gettempdir()) / "archy_pipeline_dlt_specs"),
)


class SyncConfig(dg.Config):
    """Run settings: the daily run is incremental, the weekly run a full refresh."""

    full_refresh: bool = False
    max_vanished_share: float | None = None
    #: Ids per table (recipes, connections, folders) that Workato reported deleted (the
    #: activity audit log sensor passes them): deleted when missing, whatever else holds them.
    confirmed_deletions: dict[str, list[int]] = {}
    #: Apply deletions held by earlier syncs (a project or folder that vanished at once).
    accept_deletions: bool = False
    #: Days after which a held deletion applies by itself (default: archy.yaml's setting).
    held_deletions_grace_days: float | None = None


def _days(days: float | None) -> timedelta | None:
    return None if days is None else timedelta(days=days)


def step_access_share(warehouse: WarehouseResource, workspace: str) -> AccessShare | None:
    """Read/write/unknown step counts of the workspace's current recipes (skipped steps left
    out, as in archy.integration_systems); None while recipe_steps has no access column.

    Steps parsed before access existed have access null: on a connection they count as a read
    for the trigger and as unknown for an action, as archy.integration_systems counts them,
    until the recipe is parsed again.
    """
    columns = {name for name, _ in warehouse.columns(DATASET_NAME, "recipe_steps")}
    if "access" not in columns:
        return None
    placeholder = warehouse.placeholder
    access = "coalesce(s.access, case when s.keyword = 'trigger' then 'read' else 'unknown' end)"
    _, rows = warehouse.query(
        f"select {access}, count(*) "
        f"from {DATASET_NAME}.recipe_steps as s "
        f"inner join {DATASET_NAME}.recipes as r "
        "on r.workspace = s.workspace and r.id = s.recipe_id "
        f"where s.workspace = {placeholder} and r.deleted_at is null and not s.skipped "
        "and (s.access is not null or s.connection_id is not null) "
        f"group by {access}",
        [workspace],
    )
    return AccessShare.from_counts(dict(rows))


def load_previous_state(warehouse: WarehouseResource, workspace: str) -> PreviousState:
    """What the warehouse holds from earlier syncs of ``workspace`` (empty the first time)."""
    where = {"workspace": workspace}
    tables = {t: warehouse.fetch_rows(DATASET_NAME, t, where) for t in TRACKED_TABLES}
    errors = warehouse.fetch_rows(DATASET_NAME, "recipe_errors", where)
    return PreviousState.from_rows(tables, (row["recipe_id"] for row in errors))


@dlt_assets(
    dlt_source=workato_source(),
    dlt_pipeline=_SPEC_PIPELINE,
    name="workato_raw",
    dagster_dlt_translator=WorkatoDltTranslator(),
    partitions_def=WORKSPACES,
    # DuckDB takes one writer at a time: runs that write the warehouse share one pool.
    pool=WAREHOUSE_POOL,
)
def workato_raw_tables(
    context: dg.AssetExecutionContext,
    dlt: DagsterDltResource,
    workato: WorkatoResource,
    warehouse: WarehouseResource,
    settings: ArchySettingsResource,
    config: SyncConfig,
) -> Iterator[Any]:
    """Extract folders, projects, connections and recipes from Workato into the warehouse.

    One partition per workspace in archy.yaml, so each syncs (and fails) on its own. Each
    sync is recorded in archy.audit_log: started, then finished (with row and request counts)
    or failed, with any change to archy.yaml and any deletion held or accepted.
    """
    trail = SyncAudit(warehouse, context.run.run_id, context.partition_key)
    figures: dict[str, Any] = {}
    try:
        archy = settings.load()
        trail.started(archy, config.full_refresh, config.accept_deletions)
        results = _extract(context, dlt, workato, warehouse, settings, config, archy, figures)
    except BaseException as error:
        secrets = [workato.api_token, warehouse.dsn, _token(workato, settings, context)]
        recorded = trail.failed(error, figures, secrets)
        if recorded is None:
            context.log.warning("the sync_failed row could not be written to archy.audit_log")
        else:  # so that nothing records this failure again (assets/audit.py)
            _tag_run(context, {FAILURE_RECORDED_TAG: recorded})
        raise
    trail.finished(figures, config.accept_deletions)
    yield from results


def _tag_run(context: dg.AssetExecutionContext, tags: dict[str, str]) -> None:
    try:
        context.instance.add_run_tags(context.run.run_id, tags)
    except Exception as error:  # the sync's own error is what the run reports
        context.log.warning(f"run tags {sorted(tags)} not added: {type(error).__name__}")


def _token(
    workato: WorkatoResource, settings: ArchySettingsResource, context: dg.AssetExecutionContext
) -> str | None:
    """The token the sync used, whichever setting gave it, to mask in its failure row."""
    try:
        workspace = settings.load().workspace(context.partition_key)
        return workato.target(workspace, settings.environment()).token.get_secret_value()
    except Exception:  # no token to find: nothing to mask
        return None


def _extract(
    context: dg.AssetExecutionContext,
    dlt: DagsterDltResource,
    workato: WorkatoResource,
    warehouse: WarehouseResource,
    settings: ArchySettingsResource,
    config: SyncConfig,
    archy: Any,
    figures: dict[str, Any],
) -> list[dg.MaterializeResult]:
    """The sync itself; ``figures`` gets its request counts, rows loaded and issues as they
    come (a sync that fails has those it gathered)."""

    said: dict[str, float] = {}
    said_lock = threading.Lock()

    def progress(stage: str, pages: int, items: int) -> None:
        # Each line is a Dagster event (a write to the event log, ~7 ms of CPU on SQLite): at
        # most one per stage every PROGRESS_SECONDS, the first one at once. The walk calls
        # this from its own thread.
        now = time.monotonic()
        with said_lock:
            if now - said.get(stage, -PROGRESS_SECONDS) < PROGRESS_SECONDS:
                return
            said[stage] = now
        page_note = f", {pages} page{'s' if pages != 1 else ''}" if pages else ""
        context.log.info(f"{stage}: {items} item{'s' if items != 1 else ''} so far{page_note}")

    workspace = archy.workspace(context.partition_key)
    selection = workspace.sync
    with workato.get_client(workspace, settings.environment()) as client:
        figures["requests"] = client.request_counts
        identity = client.identify(workspace.name)
        me = identity.details
        context.log.info(
            f"Syncing {workspace.name!r} (Workato workspace {me.get('name')!r}, id "
            f"{me.get('id')}; identity from {identity.source}) from {client.host} into "
            f"{warehouse.describe()}" + (" (full refresh)" if config.full_refresh else "")
        )
        # One dlt pipeline per workspace, so their local states never mix.
        pipeline = warehouse.dlt_pipeline(pipeline_name(workspace.name), DATASET_NAME)
        if pipeline.has_pending_data:
            # A sync killed during its load left its package half merged: some raw tables
            # hold its rows, others not (each table's copy is its own transaction). Finish it
            # before reading what is stored, so this sync's diff starts from one state (a
            # diff against recipes merged without their steps re-derived none of them).
            context.log.warning(
                "finishing the load a killed or failed sync left before this one starts"
            )
            pipeline.normalize()
            pipeline.load()
        previous = load_previous_state(warehouse, workspace.name)
        options = SyncOptions(
            full_refresh=config.full_refresh,
            max_vanished_share=(
                config.max_vanished_share
                if config.max_vanished_share is not None
                else selection.max_vanished_share
            ),
            selection=selection,
            environments=dict(archy.environments),
            access_overrides=dict(archy.access_overrides),
            confirmed_deletions={
                table: frozenset(int(i) for i in ids)
                for table, ids in config.confirmed_deletions.items()
            },
            accept_deletions=config.accept_deletions,
            held_deletions_grace=_days(
                config.held_deletions_grace_days
                if config.held_deletions_grace_days is not None
                else selection.held_deletions_grace_days
            ),
        )
        issues: list[SyncIssue] = figures.setdefault("issues", [])

        def on_issue(issue: SyncIssue) -> None:
            issues.append(issue)
            say = context.log.info if issue.severity == "info" else context.log.warning
            say(f"sync issue ({issue.kind}) {issue.subject}: {issue.message}")

        source = workato_source(
            client,
            workspace=workspace.name,
            previous=previous,
            options=options,
            progress=progress,
            identity=identity,
            on_issue=on_issue,
        )
        events = list(dlt.run(context=context, dlt_source=source, dlt_pipeline=pipeline))
        loaded = pipeline.last_trace.last_normalize_info.row_counts
        figures["rows_loaded"] = dict(loaded)
        where = {"workspace": workspace.name}
        share = step_access_share(warehouse, workspace.name)
        if share is not None:
            context.log.info(share.summary())
        # Materializations are recorded only once every table's metadata is in hand: a sync
        # that fails records none, so the rebuild after syncs (sensors/automation.py) never
        # starts from a failed sync. Each carries a data version, a fingerprint of the
        # workspace's rows in the table: a sync that changed nothing records the same version
        # again, and the archy tables built from them are not rebuilt (archy_pipeline.rebuild).
        results: list[dg.MaterializeResult] = []
        for event in events:
            table = event.asset_key.path[-1]
            extra: dict[str, Any] = {}
            if table == "sync_issues":
                # What this run found, for the UI and the CLI's summary.
                extra["issues_this_sync"] = dg.MetadataValue.json(
                    [
                        {"kind": i.kind, "subject": i.subject, "severity": i.severity,
                         "message": i.message}
                        for i in issues
                    ]
                )  # fmt: skip
            if table == "recipe_steps" and share is not None:
                # Kept per sync, so the vocabulary can be improved from real workspaces.
                extra = {
                    "step_access": share.summary(),
                    "steps_read": share.read,
                    "steps_write": share.write,
                    "steps_unknown": share.unknown,
                    "unknown_share": round(share.unknown_share, 4),
                }
            fingerprint = table_fingerprint(warehouse, DATASET_NAME, table, workspace.name)
            results.append(
                dg.MaterializeResult(
                    asset_key=event.asset_key,
                    data_version=dg.DataVersion(fingerprint),
                    metadata={
                        **(event.metadata or {}),
                        "dagster/row_count": warehouse.count_rows(DATASET_NAME, table, where),
                        "rows_loaded": loaded.get(table, 0),
                        "dagster/table_name": f"{DATASET_NAME}.{table}",
                        **extra,
                    },
                )
            )
        context.log.info(f"Requests sent to Workato by family: {dict(client.request_counts)}")
    return results
