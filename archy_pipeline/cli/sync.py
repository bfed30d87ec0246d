"""``sync``: the sync job once per workspace, in process, then one rebuild of the archy tables."""

from __future__ import annotations

import argparse
import gc
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from archy_pipeline.settings import (
    check_environment,
)

if TYPE_CHECKING:
    pass
from archy_pipeline.cli.common import load_validated


@contextmanager
def _frozen_heap() -> Iterator[None]:
    """The objects alive now (the modules, the definitions, the instance) outlive the runs:
    frozen (:func:`gc.freeze`) while they run, the runs' full garbage collections do not walk
    them each time (at 5,000 recipes: 2.5 s of CPU in those collections instead of 3.3 s).
    Thawed afterwards, for a process that goes on (the tests)."""
    gc.freeze()
    try:
        yield
    finally:
        gc.unfreeze()


def _root_cause(events: Any) -> str:
    """Why a run failed, in one line: the reason, not its wrapping (run_failures.py)."""
    from archy_pipeline.run_failures import failure_reason

    found = failure_reason(events)
    return found[1] if found else "the run failed"


def _current_defs(defs: Any) -> Any:
    """``defs``, or new ones if archy.yaml, the models or the code changed since they were
    built (a process that syncs more than once): their code versions must be today's."""
    from archy_pipeline.assets.transform import DEFAULT_MODELS_DIR
    from archy_pipeline.definitions import build_defs
    from archy_pipeline.rebuild import build_code_version
    from archy_pipeline.settings import load_settings, read_environment

    variables = read_environment()
    now = build_code_version(
        variables.models_dir or DEFAULT_MODELS_DIR, load_settings(variables=variables)
    )
    keys = defs.resolve_job_def("transform_job").asset_layer.selected_asset_keys
    graph = defs.resolve_asset_graph()
    return defs if all(graph.get(k).code_version == now for k in keys) else build_defs()


def _rebuild_reason(
    instance: Any, defs: Any, persistent: bool, full: bool, forced: bool
) -> str | None:
    """Why the archy tables are rebuilt after the syncs, or None (and say so) when nothing they
    are built from changed since their last build (archy_pipeline.rebuild)."""
    from archy_pipeline.rebuild import rebuild_decision

    if forced:
        return "--rebuild asked for it"
    if full:
        return "a full refresh rebuilds everything"
    if not persistent:
        return "no DAGSTER_HOME, so no record of the last build"
    keys = defs.resolve_job_def("transform_job").asset_layer.selected_asset_keys
    decision = rebuild_decision(instance, defs, keys)
    if decision.needed:
        return decision.describe()
    print(
        f"== archy tables not rebuilt: {decision.describe()} (the syncs changed no row, "
        "and neither the code nor archy.yaml changed); `sync --rebuild` forces a rebuild",
        flush=True,
    )
    return None


def run_sync(
    names: list[str] | None = None,
    full: bool = False,
    max_vanished_share: float | None = None,
    accept_deletions: bool = False,
    rebuild: bool = False,
) -> int:
    """Run the sync job once per workspace partition, in process; 0 if every one succeeded.

    Then rebuild the archy tables if anything they are built from changed (a raw table's data,
    the code, the SQL models or archy.yaml; or the last rebuild failed or never ran), or with
    ``full`` or ``rebuild``; otherwise say that nothing changed since the last build.

    archy.yaml and what it asks of the environment (each workspace's host and token, the SMTP
    settings) are checked first: a ConfigError is raised before any request is sent.
    """
    settings, variables = load_validated()
    names = names or settings.names
    check_environment(settings, variables, names)

    from dagster import DagsterInstance

    from archy_pipeline.cli.console import with_cli_console
    from archy_pipeline.cli.failures import audit_failed_run, audit_unstarted_sync
    from archy_pipeline.cli.interrupts import InterruptWatch
    from archy_pipeline.definitions import defs
    from archy_pipeline.partitions import add_workspaces
    from archy_pipeline.runs import (
        PoolBusyError,
        fail_own_runs,
        owner_tags,
        reclaim_dead_runs,
        wait_for_warehouse,
    )

    home = os.environ.get("DAGSTER_HOME")
    instance = DagsterInstance.get() if home else DagsterInstance.ephemeral()
    add_workspaces(instance, names)

    def wait_for_warehouse_pool() -> None:
        def say(line: str) -> None:
            print(f"   {line}", flush=True)

        # A sync killed earlier left its run holding the pool: mark it failed and free its
        # slot (or this waits for ever), and give it the sync_failed row it never wrote.
        for run_id in reclaim_dead_runs(instance, say):
            run = instance.get_run_by_id(run_id)
            if run is not None and run.job_name == "sync_job":
                audit_failed_run(instance, run_id, run.tags.get("dagster/partition", ""))
        wait_for_warehouse(instance, say=say)

    # Ctrl+C or SIGTERM ends the command even where Dagster does not act on it (a step
    # waiting for the pool: archy_pipeline.cli.interrupts); once one arrived, no run starts.
    with (
        InterruptWatch(on_stuck=lambda reason: fail_own_runs(instance, reason)) as watch,
        _frozen_heap(),
    ):

        def stop_if_interrupted() -> None:
            if watch.interrupted:  # Dagster ended the run as failed; the user asked to stop
                raise KeyboardInterrupt

        job = with_cli_console(defs.resolve_job_def("sync_job"))  # failures in one line
        run_config: dict[str, Any] = {
            "loggers": {"console": {"config": {"log_level": "INFO"}}},
            "ops": {
                "workato_raw": {
                    "config": {"full_refresh": full, "accept_deletions": accept_deletions}
                }
            },
        }
        if max_vanished_share is not None:
            run_config["ops"]["workato_raw"]["config"]["max_vanished_share"] = max_vanished_share
        failed = []
        for name in names:
            kind = "full refresh" if full else "incremental"
            print(f"== Syncing workspace {name!r} ({kind})", flush=True)
            try:
                wait_for_warehouse_pool()
            except PoolBusyError as error:
                audit_unstarted_sync(name, error)
                raise
            result = job.execute_in_process(
                run_config=run_config,
                instance=instance,
                partition_key=name,
                tags=owner_tags(),
                raise_on_error=False,
            )
            stop_if_interrupted()
            if result.success:
                loaded = {
                    e.materialization.asset_key.path[-1]: e.materialization.metadata
                    for e in result.get_asset_materialization_events()
                }
                summary = ", ".join(
                    f"{table} {meta['dagster/row_count'].value} (+{meta['rows_loaded'].value})"
                    for table, meta in loaded.items()
                    if "rows_loaded" in meta
                )
                print(f"== {name!r} synced: {summary}", flush=True)
                access = loaded.get("recipe_steps", {}).get("step_access")
                if access is not None:
                    print(f"== {name!r} {access.value}", flush=True)
                issues = loaded.get("sync_issues", {}).get("issues_this_sync")
                for issue in issues.value if issues is not None else []:
                    print(f"   {issue['severity']}: {issue['message']}", flush=True)
                continue
            print(f"sync of {name!r} failed: {_root_cause(result.all_events)}",
                  file=sys.stderr, flush=True)  # fmt: skip
            audit_failed_run(instance, result.run_id, name)  # unless the sync recorded it
            failed.append(name)
        if len(failed) < len(names):
            defs = _current_defs(defs)
            why = _rebuild_reason(instance, defs, home is not None, full, rebuild)
            if why is None:
                return 1 if failed else 0
            print(f"== Rebuilding the archy tables (transform_job): {why}", flush=True)
            wait_for_warehouse_pool()
            transform = with_cli_console(defs.resolve_job_def("transform_job"))
            result = transform.execute_in_process(
                run_config={"loggers": {"console": {"config": {"log_level": "WARNING"}}}},
                instance=instance,
                tags=owner_tags(),
                raise_on_error=False,
            )
            stop_if_interrupted()
            if not result.success:
                print(f"transform failed: {_root_cause(result.all_events)}", file=sys.stderr,
                      flush=True)  # fmt: skip
                return 1
            events = [e.materialization for e in result.get_asset_materialization_events()]
            built = [
                f"{m.asset_key.path[-1]} {m.metadata['dagster/row_count'].value}"
                for m in events
                if "dagster/row_count" in m.metadata
            ]
            print(f"== archy tables: {', '.join(built)}", flush=True)
            for m in events:
                if "pages" in m.metadata:  # the architecture report (docs group)
                    print(f"== report: {m.metadata['path'].value} ({m.metadata['pages'].value} "
                          "pages)", flush=True)  # fmt: skip
                if m.metadata.get("published") and m.metadata["published"].value:
                    # the analysts' DuckDB snapshot (publish group)
                    meta = m.metadata
                    print(f"== analysts' snapshot: {meta['path'].value} "
                          f"({meta['tables'].value} tables, {meta['size_mb'].value} MB)",
                          flush=True)  # fmt: skip
        return 1 if failed else 0


def cmd_sync(args: argparse.Namespace) -> int:
    return run_sync(
        [args.workspace] if args.workspace else None,
        args.full,
        args.max_vanished_share,
        args.accept_deletions,
        args.rebuild,
    )
