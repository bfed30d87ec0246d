"""Long-running and bundled commands: ``webhooks serve``, ``simulator serve`` and ``demo``."""

from __future__ import annotations

import argparse
import os
import signal
import sys
import threading
import time
from typing import TYPE_CHECKING, Any

from archy_pipeline.settings.variables import BASE_URL_ENV_VAR, TOKEN_ENV_VAR

if TYPE_CHECKING:
    pass
from archy_pipeline.cli.common import load_validated
from archy_pipeline.cli.connection import cmd_test_connection
from archy_pipeline.cli.sync import run_sync


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
