"""The ``archy-pipeline`` command line.

Commands:
    test-connection   check the Workato settings: workspace name, id and recipe count.
    connect           store a workspace's token encrypted (after a connection test); disconnect.
    sync              run the sync job for each workspace (incremental, or --full).
    sql               query the analysts' DuckDB snapshot.
    analysts-role     PostgreSQL: a role that reads the archy schema and nothing else.
    impact            what breaks if a system, connection or recipe goes down.
    report            the architecture report: a static site and exports (--open).
    webhooks serve    receive Workato change events into the inbox the webhook sensor reads.
    simulator serve   run the bundled Workato simulator on loopback.
    demo              simulator + test-connection + sync into data/warehouse.duckdb.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import threading
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from archy_pipeline.settings import (
    ArchySettings,
    ConfigError,
    EnvironmentVariables,
    WorkspaceSettings,
    check_environment,
    load_settings,
    read_environment,
)
from archy_pipeline.settings.variables import BASE_URL_ENV_VAR, TOKEN_ENV_VAR
from archy_pipeline.workato.errors import WorkatoError

if TYPE_CHECKING:
    from archy_pipeline.resources.workato import WorkatoResource

#: The exit code of a command refused before it started: invalid archy.yaml or environment.
SETTINGS_ERROR = 2


def load_validated() -> tuple[ArchySettings, EnvironmentVariables]:
    """archy.yaml and the environment, read once; a ConfigError ends the command (exit 2)."""
    variables = read_environment()
    return load_settings(variables=variables), variables


def cmd_test_connection(args: argparse.Namespace) -> int:
    """Identify the workspace the token opens and print it; 0 on success, 1 with the reason.

    ``/users/me`` first; a client it refuses (TEST/PROD-scoped, addendum §4) is identified
    from the activity log or archy.yaml instead, and the output says which. The flags win over
    archy.yaml and the environment, as the Workato resource's fields do in a run.
    """
    from archy_pipeline.resources.workato import WorkatoResource

    settings, variables = load_validated()
    workspace = settings.workspace(args.workspace) if args.workspace else settings.workspaces[0]
    resource = WorkatoResource(
        base_url=args.base_url,
        data_center=args.data_center,
        user_email=args.user_email,
        user_id=args.user_id,
        timeout_seconds=args.timeout,
        max_attempts=3,
        deadline_seconds=120,
    )
    return check_connection(settings, variables, workspace, resource)


def check_connection(
    settings: ArchySettings,
    variables: EnvironmentVariables,
    workspace: WorkspaceSettings,
    resource: WorkatoResource,
) -> int:
    """test-connection's check of ``workspace`` through ``resource`` (``connect`` runs it too):
    print who the token opens; 0, or 1 with the reason."""
    check_environment(settings, variables, [workspace.name], resource.overrides())
    try:
        with resource.get_client(workspace, variables) as client:
            # The name identifies the workspace when /users/me is refused.
            identity = client.identify(workspace.name)
    except WorkatoError as error:
        print(f"Connection failed: {error}", file=sys.stderr)
        return 1
    me = identity.details
    print(f"Connected to Workato at {client.host}")
    print(f"  workspace: {me.get('name')} (id {me.get('id')})")
    if identity.source == "users_me":
        print(f"  recipes:   {me.get('recipes_count')} ({me.get('active_recipes_count')} running)")
    else:
        environment = f", environment {me['environment']}" if me.get("environment") else ""
        print(f"  identity:  from {identity.source}{environment} ({identity.reason})")
    return 0


def cmd_connect(args: argparse.Namespace) -> int:
    from archy_pipeline.credentials_cli import connect

    return connect(args, *load_validated())


def cmd_disconnect(args: argparse.Namespace) -> int:
    from archy_pipeline.credentials_cli import disconnect

    return disconnect(args, *load_validated())


def _root_cause(error: Any) -> str:
    """The innermost message of a Dagster step failure: the reason, not the wrapping."""
    messages = []
    while error is not None:
        lines = [line for line in error.message.strip().splitlines() if line.strip()]
        first = lines[0] if lines else ""
        _, found, rest = first.partition(f"{error.cls_name}: ")
        messages.append((error.cls_name or "", rest if found else first))
        error = error.cause or error.context
    for cls_name, message in reversed(messages):
        if cls_name.startswith(("Workato", "Config", "WarehouseLocked")):
            return message
    return messages[-1][1] if messages else "unknown error"


def run_sync(
    names: list[str] | None = None,
    full: bool = False,
    max_vanished_share: float | None = None,
    accept_deletions: bool = False,
) -> int:
    """Run the sync job once per workspace partition, in process; 0 if every one succeeded.

    archy.yaml and what it asks of the environment (each workspace's host and token, the SMTP
    settings) are checked first: a ConfigError is raised before any request is sent.
    """
    settings, variables = load_validated()
    names = names or settings.names
    check_environment(settings, variables, names)

    from dagster import DagsterInstance

    from archy_pipeline.definitions import defs
    from archy_pipeline.partitions import add_workspaces
    from archy_pipeline.runs import owner_tags, wait_for_warehouse

    home = os.environ.get("DAGSTER_HOME")
    instance = DagsterInstance.get() if home else DagsterInstance.ephemeral()
    add_workspaces(instance, names)

    def wait_for_warehouse_pool() -> None:
        # A sync killed earlier left its run holding the pool: free it, or this waits for ever.
        wait_for_warehouse(instance, say=lambda line: print(f"   {line}", flush=True))

    job = defs.resolve_job_def("sync_job")
    run_config: dict[str, Any] = {
        "loggers": {"console": {"config": {"log_level": "INFO"}}},
        "ops": {
            "workato_raw": {"config": {"full_refresh": full, "accept_deletions": accept_deletions}}
        },
    }
    if max_vanished_share is not None:
        run_config["ops"]["workato_raw"]["config"]["max_vanished_share"] = max_vanished_share
    failed = []
    for name in names:
        kind = "full refresh" if full else "incremental"
        print(f"== Syncing workspace {name!r} ({kind})", flush=True)
        wait_for_warehouse_pool()
        result = job.execute_in_process(
            run_config=run_config,
            instance=instance,
            partition_key=name,
            tags=owner_tags(),
            raise_on_error=False,
        )
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
        failure = next((e for e in result.all_events if e.event_type_value == "STEP_FAILURE"), None)
        reason = _root_cause(failure.event_specific_data.error) if failure else "the run failed"
        print(f"sync of {name!r} failed: {reason}", file=sys.stderr, flush=True)
        failed.append(name)
    if len(failed) < len(names):
        print("== Rebuilding the archy tables (transform_job)", flush=True)
        wait_for_warehouse_pool()
        result = defs.resolve_job_def("transform_job").execute_in_process(
            run_config={"loggers": {"console": {"config": {"log_level": "WARNING"}}}},
            instance=instance,
            tags=owner_tags(),
            raise_on_error=False,
        )
        if not result.success:
            failure = next(
                (e for e in result.all_events if e.event_type_value == "STEP_FAILURE"), None
            )
            reason = _root_cause(failure.event_specific_data.error) if failure else "failed"
            print(f"transform failed: {reason}", file=sys.stderr, flush=True)
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
                print(f"== analysts' snapshot: {m.metadata['path'].value} "
                      f"({m.metadata['tables'].value} tables, {m.metadata['size_mb'].value} MB)",
                      flush=True)  # fmt: skip
    return 1 if failed else 0


def cmd_sync(args: argparse.Namespace) -> int:
    return run_sync(
        [args.workspace] if args.workspace else None,
        args.full,
        args.max_vanished_share,
        args.accept_deletions,
    )


def cmd_sql(args: argparse.Namespace) -> int:
    """Print the result of one query against the analysts' DuckDB snapshot.

    The snapshot, not the pipeline's working file: a query never keeps a sync out.
    """
    import duckdb

    from archy_pipeline.resources.warehouse import WarehouseResource

    path = WarehouseResource().analysts_file
    if not path.exists():
        print(f"no analysts' snapshot at {path}: it is published after each rebuild of the "
              "archy tables; run `make demo` or `archy-pipeline sync` first",
              file=sys.stderr)  # fmt: skip
        return 1
    # The query sees the warehouse and nothing else: no files read or written (COPY, read_csv,
    # EXPORT), no other database attached, no extension loaded, and the setting locked.
    sandbox = {"enable_external_access": False, "lock_configuration": True}
    with duckdb.connect(str(path), read_only=True, config=sandbox) as con:
        try:
            relation = con.sql(args.query)
        except duckdb.PermissionException as error:
            print(f"query refused: `sql` reads the warehouse only ({error})", file=sys.stderr)
            return 1
        except duckdb.Error as error:
            print(f"query failed: {error}", file=sys.stderr)
            return 1
        if relation is not None:
            relation.show(max_rows=args.max_rows, max_width=200)
    return 0


def cmd_analysts_role(args: argparse.Namespace) -> int:
    """PostgreSQL: a role that reads the archy schema and nothing else."""
    from archy_pipeline.resources.warehouse import WarehouseResource
    from archy_pipeline.warehouse import PostgresWarehouse

    backend = WarehouseResource().backend
    if not isinstance(backend, PostgresWarehouse):
        print("analysts-role is for a PostgreSQL warehouse (ARCHY_POSTGRES_DSN); with DuckDB, "
              f"analysts open the snapshot {WarehouseResource().analysts_file} read-only",
              file=sys.stderr)  # fmt: skip
        return 1
    try:
        backend.grant_analysts(args.role)
    except ValueError as error:
        print(str(error), file=sys.stderr)
        return 1
    print(f"role {args.role} reads archy.* (tables and views, also those rebuilt later) and "
          f"nothing else in {backend.describe()}. Give it to a user with:\n"
          f"  GRANT {args.role} TO <user>;")  # fmt: skip
    return 0


def cmd_impact(args: argparse.Namespace) -> int:
    """Print what breaks if a system, connection or recipe goes down."""
    from archy_pipeline.analysis import ImpactTargetError, build_graphs, format_impact, impact
    from archy_pipeline.assets.analysis import load_analysis_input
    from archy_pipeline.resources.warehouse import WarehouseResource

    warehouse = WarehouseResource()
    inp = load_analysis_input(warehouse)
    if inp.integrations.empty:
        print("no integrations in the warehouse: run `archy-pipeline sync` first", file=sys.stderr)
        return 1
    try:
        report = impact(build_graphs(inp), inp, args.target)
    except ImpactTargetError as error:
        print(f"impact: {error}", file=sys.stderr)
        return 1
    print(format_impact(report))
    return 0


def cmd_report(args: argparse.Namespace) -> int:
    """Build the architecture report (site and exports) from the warehouse; print its path."""
    import webbrowser

    from dagster import DagsterInstance

    from archy_pipeline.assets.report import last_syncs, write_report
    from archy_pipeline.report import ReportDirError
    from archy_pipeline.resources.report import ReportResource
    from archy_pipeline.resources.settings import ArchySettingsResource
    from archy_pipeline.resources.warehouse import WarehouseResource
    from archy_pipeline.resources.workato import WorkatoResource

    warehouse = WarehouseResource()
    where = {"workspace": args.workspace} if args.workspace else None
    if warehouse.count_rows("archy", "integrations", where) == 0:
        whose = f" of workspace {args.workspace!r}" if args.workspace else ""
        print(f"no integrations{whose} in the warehouse ({warehouse.describe()}): run "
              "`archy-pipeline sync` first", file=sys.stderr)  # fmt: skip
        return 1
    syncs = last_syncs(DagsterInstance.get()) if os.environ.get("DAGSTER_HOME") else None
    try:
        summary = write_report(
            warehouse,
            WorkatoResource(),
            ReportResource(),
            ArchySettingsResource(),
            syncs=syncs,
            workspaces=[args.workspace] if args.workspace else None,
        )
    except ReportDirError as error:  # (an invalid archy.yaml: one line and exit 2, in main)
        print(f"report failed: {error}", file=sys.stderr)
        return 1
    size = summary.size_bytes / 1e6
    print(f"{summary.pages} pages, a map of {summary.map_nodes} systems and "
          f"{summary.map_edges} flows, {size:.1f} MB with the exports")  # fmt: skip
    if summary.layout_problem:
        print(f"no static map: {summary.layout_problem}", file=sys.stderr)
    print(f"Report: {summary.index}")
    if args.open:
        webbrowser.open(summary.index.as_uri())
    return 0


def cmd_webhooks_serve(args: argparse.Namespace) -> int:
    """Receive Workato change events on loopback into the inbox the webhook sensor reads."""
    from archy_pipeline.webhooks import DEFAULT_INBOX_PATH, serve

    settings, variables = load_validated()
    secret = variables.secret(args.secret_env)

    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())

    def ready(receiver: Any) -> None:
        print(f"Webhook receiver: POST events to {receiver.url}/events", flush=True)
        print(f"  inbox: {receiver.inbox.path}", flush=True)
        print(f"  authenticate with the secret in ${args.secret_env} (HMAC or Bearer)")
        print("Press Ctrl+C to stop.", flush=True)

    try:
        serve(
            host=args.host,
            port=args.port,
            inbox_path=args.inbox or variables.webhook_inbox or DEFAULT_INBOX_PATH,
            secret_env=args.secret_env,
            secret=secret.get_secret_value() if secret else None,
            workspaces=settings.names,
            stop=stop,
            on_ready=ready,
        )
    except ValueError as error:
        print(f"cannot start the webhook receiver: {error}", file=sys.stderr)
        return 1
    return 0


class SimulatorMissing(RuntimeError):
    """The demo and `simulator serve` need the workato-simulator package, which is not installed."""


def _require_simulator() -> None:
    try:
        import workato_simulator  # noqa: F401
    except ImportError as error:
        raise SimulatorMissing(
            "the Workato simulator is not installed: it ships in the repository, not in the "
            "archy-pipeline wheel (from a checkout: make demo, or pip install -e ./simulator)"
        ) from error


def _build_simulator_workspace(args: argparse.Namespace):
    from workato_simulator.generator import generate_workspace

    if getattr(args, "exports", None):
        from workato_simulator.export_loader import load_exports

        report = load_exports(args.exports)
        for bad in report.bad_files:
            print(f"skipped {bad.path}: {bad.error}", file=sys.stderr)
        return report.workspace
    return generate_workspace(args.seed, recipes=args.recipes)


def cmd_simulator_serve(args: argparse.Namespace) -> int:
    """Serve a generated (or exported) workspace until interrupted."""
    try:
        _require_simulator()
    except SimulatorMissing as error:
        print(f"cannot serve the simulator: {error}", file=sys.stderr)
        return 1
    from workato_simulator import DEFAULT_RATE_LIMITS, WorkatoSimulator

    workspace = _build_simulator_workspace(args)
    sim = WorkatoSimulator(
        workspace,
        port=args.port,
        time_scale=args.time_scale,
        rate_limits=None if args.no_rate_limits else DEFAULT_RATE_LIMITS,
    )
    print(
        f"Workato simulator: {len(workspace.recipes)} recipes, "
        f"{len(workspace.connections)} connections, {len(workspace.folders) - 1} folders"
    )
    print(f"  base URL: {sim.base_url}")
    print(f"  token:    {sim.token}")
    print("Point archy-pipeline at it with:")
    print(f"  export {BASE_URL_ENV_VAR}={sim.base_url}")
    print(f"  export {TOKEN_ENV_VAR}={sim.token}")
    print("Press Ctrl+C to stop.", flush=True)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    sim.start()
    try:
        while not stop.wait(0.5):
            pass
    except KeyboardInterrupt:
        pass
    finally:
        sim.stop()
    return 0


def _print_open_insights(con: Any) -> None:
    """The demo's open insights by kind and severity, and where to read them in order."""
    exists = con.execute(
        "select count(*) from information_schema.tables "
        "where table_schema = 'archy' and table_name = 'insights'"
    ).fetchone()[0]
    if not exists:
        return
    rows = con.execute(
        "select kind, count(*), count(*) filter (where severity = 'high'), "
        "count(*) filter (where severity = 'medium'), count(*) filter (where severity = 'low'), "
        "count(*) filter (where evidence like '%\"rolled_up\": true%') "
        "from archy.insights where status = 'open' group by kind order by count(*) desc, kind"
    ).fetchall()
    total = sum(row[1] for row in rows)
    print(f"   Open insights: {total} (fix first: select * from archy.v_recommendations)")
    for kind, count, high, medium, low, rolled in rows:
        rolled_text = f", {rolled} folder roll-ups" if rolled else ""
        print(f"     {kind:<26} {count:>5}  (high {high}, medium {medium}, low {low}{rolled_text})")


def cmd_demo(args: argparse.Namespace) -> int:
    """Start the simulator, check the connection, run the sync job, say where results are."""
    import duckdb

    try:
        _require_simulator()
    except SimulatorMissing as error:
        print(f"cannot run the demo: {error}", file=sys.stderr)
        return 1
    from workato_simulator import WorkatoSimulator

    started = time.monotonic()
    workspace = _build_simulator_workspace(args)
    from archy_pipeline.resources.warehouse import WarehouseResource

    duckdb_path = WarehouseResource().path
    with WorkatoSimulator(workspace, time_scale=0.05) as sim:
        print(f"1. Started the bundled Workato simulator at {sim.base_url}")
        print(
            f"   generated workspace (seed {args.seed}): {len(workspace.recipes)} recipes, "
            f"{len(workspace.connections)} connections, {len(workspace.folders) - 1} folders"
        )
        os.environ[BASE_URL_ENV_VAR] = sim.base_url
        os.environ[TOKEN_ENV_VAR] = sim.token
        os.environ.setdefault("ARCHY_DUCKDB_PATH", str(duckdb_path))
        # The demo has its own archy.yaml, so a user's file never points it elsewhere.
        config_file = duckdb_path.parent / "demo-archy.yaml"
        config_file.parent.mkdir(parents=True, exist_ok=True)
        config_file.write_text(
            "# Written by `archy-pipeline demo`: the bundled simulator as the only workspace.\n"
            f"workspaces:\n  - name: Main Workspace\n    base_url: {sim.base_url}\n"
            f"    token_env: {TOKEN_ENV_VAR}\n"
        )
        os.environ["ARCHY_CONFIG"] = str(config_file)
        print("2. archy-pipeline test-connection")
        args.base_url, args.data_center = sim.base_url, None
        if cmd_test_connection(args) != 0:
            return 1
        print("3. archy-pipeline sync (the sync job, through Dagster, in process)")
        print(f"   config: {config_file}")
        if run_sync() != 0:
            return 1
        home = os.environ.get("DAGSTER_HOME")
        requests = len(sim.requests)
    # Analysts open the snapshot the rebuild published, never the pipeline's working file.
    snapshot = WarehouseResource(duckdb_path=str(duckdb_path)).analysts_file.resolve()
    con = duckdb.connect(str(snapshot), read_only=True)
    try:
        print(f"4. Done in {time.monotonic() - started:.1f} s ({requests} API requests)")
        print(f"   Results (the analysts' snapshot, republished after each rebuild): {snapshot}")
        tables = con.execute(
            "select table_schema, table_name from information_schema.tables "
            "where table_schema in ('archy', 'workato_raw') and table_name not like '\\_dlt%' "
            "escape '\\' order by table_schema, table_name"
        ).fetchall()
        for schema, table in tables:
            (count,) = con.execute(f'select count(*) from "{schema}"."{table}"').fetchone()
            print(f"     {schema + '.' + table:<36} {count:>7} rows")
        _print_open_insights(con)
    finally:
        con.close()
    print('   Query them:   .venv/bin/archy-pipeline sql "select name, status, description '
          'from archy.integrations limit 10"')  # fmt: skip
    print(f"   or from Python: duckdb.connect('{snapshot}', read_only=True)")
    print(f"   or the DuckDB CLI: duckdb -readonly {snapshot}")
    print(
        f"   (not the pipeline's working file {duckdb_path.resolve()}: a connection to it "
        "holds up the next sync)"
    )
    if home:
        print(f"   Dagster runs are stored in {home}; open the UI with:  make ui")
        print("   then browse to http://127.0.0.1:3000")
    _print_report_path(duckdb_path)
    return 0


def _print_report_path(duckdb_path: Any) -> None:
    """The demo's last line: where the architecture report the transform job wrote is."""
    from archy_pipeline.resources.report import ReportResource
    from archy_pipeline.resources.warehouse import WarehouseResource

    index = ReportResource().directory(WarehouseResource(duckdb_path=str(duckdb_path)))
    index = index.resolve() / "index.html"
    if index.exists():
        print(f"5. The architecture report (open it in a browser): {index}")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="archy-pipeline",
        description="Turn a Workato workspace into living architecture documentation.",
    )
    commands = parser.add_subparsers(dest="command", required=True)

    test = commands.add_parser(
        "test-connection",
        help="check the Workato token: print the workspace name, id and recipe count",
    )
    test.add_argument("--base-url", help=f"API base URL (default: ${BASE_URL_ENV_VAR})")
    test.add_argument("--data-center", help="us, eu, jp, sg, au, il, kr, cn or trial")
    test.add_argument("--user-email", help="fail unless the token belongs to this email")
    test.add_argument("--user-id", type=int, help="fail unless the token belongs to this id")
    test.add_argument("--timeout", type=float, default=30.0, help="seconds, at most 40")
    test.add_argument(
        "--workspace",
        help="a workspace named in archy.yaml (default: its first, or the environment)",
    )
    test.set_defaults(func=cmd_test_connection)

    connect = commands.add_parser(
        "connect", help="test a workspace's token, then store it encrypted at rest"
    )
    connect.add_argument("--workspace", help="its name in archy.yaml (default: the first)")
    connect.add_argument("--token-stdin", action="store_true", help="read one line from stdin")
    connect.add_argument("--rotate", action="store_true", help="replace a stored token")
    connect.add_argument("--timeout", type=float, default=30.0, help="seconds, at most 40")
    connect.set_defaults(func=cmd_connect)
    disconnect = commands.add_parser("disconnect", help="remove a workspace's stored token")
    disconnect.add_argument("--workspace", help="its name (default: archy.yaml's first)")
    disconnect.set_defaults(func=cmd_disconnect)

    sync = commands.add_parser(
        "sync", help="sync every workspace in archy.yaml (or one) through the sync job"
    )
    sync.add_argument("--full", action="store_true", help="full refresh (the weekly run)")
    sync.add_argument("--workspace", help="only this workspace (its name in archy.yaml)")
    sync.add_argument(
        "--max-vanished-share",
        type=float,
        help="allow more items to vanish at once than archy.yaml does (one run)",
    )
    sync.add_argument(
        "--accept-deletions",
        action="store_true",
        help="apply deletions held because a project or folder vanished with its items",
    )
    sync.set_defaults(func=cmd_sync)

    sql = commands.add_parser(
        "sql",
        help="query the analysts' DuckDB snapshot (ARCHY_ANALYSTS_DUCKDB_PATH), read-only and "
        "without file access",
    )
    sql.add_argument("query", help='e.g. "select name, running from workato_raw.recipes"')
    sql.add_argument("--max-rows", type=int, default=40)
    sql.set_defaults(func=cmd_sql)

    analysts = commands.add_parser(
        "analysts-role",
        help="PostgreSQL: create a role that can read the archy schema and nothing else",
    )
    analysts.add_argument("--role", default="archy_analyst", help="default: archy_analyst")
    analysts.set_defaults(func=cmd_analysts_role)

    simulator = commands.add_parser("simulator", help="the bundled Workato simulator")
    sim_commands = simulator.add_subparsers(dest="simulator_command", required=True)
    serve = sim_commands.add_parser("serve", help="serve a generated workspace on loopback")
    serve.add_argument("--recipes", type=int, default=300, help="recipes to generate (max 5000)")
    serve.add_argument("--seed", type=int, default=42, help="generator seed")
    serve.add_argument("--port", type=int, default=8765, help="TCP port on 127.0.0.1 (0: any)")
    serve.add_argument("--exports", help="serve a folder of exported packages instead")
    serve.add_argument(
        "--time-scale", type=float, default=1.0, help="shrinks rate-limit windows (tests)"
    )
    serve.add_argument("--no-rate-limits", action="store_true", help="turn quotas off")
    serve.set_defaults(func=cmd_simulator_serve)

    impact_cmd = commands.add_parser(
        "impact", help="what breaks if a system, connection or recipe goes down"
    )
    impact_cmd.add_argument("target", help="a name or id of a system, connection or recipe")
    impact_cmd.set_defaults(func=cmd_impact)

    report = commands.add_parser(
        "report", help="build the architecture report (static site and exports); print its path"
    )
    report.add_argument("--open", action="store_true", help="open it in the browser")
    report.add_argument("--workspace", help="only this workspace (its name in archy.yaml)")
    report.set_defaults(func=cmd_report)

    webhooks = commands.add_parser("webhooks", help="real-time change events from Workato")
    hook_commands = webhooks.add_subparsers(dest="webhooks_command", required=True)
    hook_serve = hook_commands.add_parser("serve", help="receive events on loopback")
    hook_serve.add_argument("--host", default="127.0.0.1")
    hook_serve.add_argument("--port", type=int, default=8787)
    hook_serve.add_argument("--inbox", help="SQLite inbox (default: $ARCHY_WEBHOOK_INBOX)")
    hook_serve.add_argument(
        "--secret-env", default="ARCHY_WEBHOOK_SECRET", help="variable holding the secret"
    )
    hook_serve.set_defaults(func=cmd_webhooks_serve)

    demo = commands.add_parser("demo", help="run the whole pipeline against the simulator")
    demo.add_argument("--recipes", type=int, default=300)
    demo.add_argument("--seed", type=int, default=42)
    demo.set_defaults(
        func=cmd_demo, exports=None, user_email=None, user_id=None, timeout=30.0, workspace=None
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command; invalid settings end it with one line on stderr and exit code 2."""
    args = build_parser().parse_args(argv)
    from archy_pipeline.runs import PoolBusyError

    try:
        return args.func(args)
    except ConfigError as error:
        print(" ".join(str(error).splitlines()), file=sys.stderr)
        return SETTINGS_ERROR
    except PoolBusyError as error:
        print(str(error), file=sys.stderr)
        return 1
    except KeyboardInterrupt:  # Ctrl+C, or SIGTERM (Dagster maps it to SIGINT)
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
