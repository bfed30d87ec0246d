"""The ``archy-pipeline`` command line.

Commands:
    test-connection   check the Workato settings: workspace name, id and recipe count.
    simulator serve   run the bundled Workato simulator on loopback.
    demo              simulator + test-connection + the sync job into data/archy.duckdb.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import threading
import time
from collections.abc import Sequence
from pathlib import Path

from archy_pipeline.resources.workato_client import (
    TOKEN_ENV_VAR,
    WorkatoClient,
    WorkatoError,
)

BASE_URL_ENV_VAR = "WORKATO_BASE_URL"
DATA_CENTER_ENV_VAR = "WORKATO_DATA_CENTER"


def _client_from_args(args: argparse.Namespace) -> WorkatoClient:
    return WorkatoClient(
        os.environ.get(TOKEN_ENV_VAR, ""),
        data_center=args.data_center or os.environ.get(DATA_CENTER_ENV_VAR) or "us",
        base_url=args.base_url or os.environ.get(BASE_URL_ENV_VAR) or None,
        user_email=args.user_email,
        user_id=args.user_id,
        timeout_seconds=args.timeout,
        max_attempts=3,
        deadline_seconds=120,
    )


def cmd_test_connection(args: argparse.Namespace) -> int:
    """Call /users/me and print what the token opens; 0 on success, 1 with the reason."""
    try:
        with _client_from_args(args) as client:
            me = client.verify_identity()
    except WorkatoError as error:
        print(f"Connection failed: {error}", file=sys.stderr)
        return 1
    print(f"Connected to Workato at {client.host}")
    print(f"  workspace: {me.get('name')} (id {me['id']})")
    print(f"  recipes:   {me.get('recipes_count')} ({me.get('active_recipes_count')} running)")
    return 0


def _build_simulator_workspace(args: argparse.Namespace):
    from archy_pipeline.simulator.generator import generate_workspace

    if getattr(args, "exports", None):
        from archy_pipeline.simulator.export_loader import load_exports

        report = load_exports(args.exports)
        for bad in report.bad_files:
            print(f"skipped {bad.path}: {bad.error}", file=sys.stderr)
        return report.workspace
    return generate_workspace(args.seed, recipes=args.recipes)


def cmd_simulator_serve(args: argparse.Namespace) -> int:
    """Serve a generated (or exported) workspace until interrupted."""
    from archy_pipeline.simulator import DEFAULT_RATE_LIMITS, WorkatoSimulator

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


def cmd_demo(args: argparse.Namespace) -> int:
    """Start the simulator, check the connection, run the sync job, say where results are."""
    import duckdb
    from dagster import DagsterInstance

    from archy_pipeline.simulator import WorkatoSimulator

    started = time.monotonic()
    workspace = _build_simulator_workspace(args)
    duckdb_path = Path(os.environ.get("ARCHY_DUCKDB_PATH", "data/archy.duckdb"))
    with WorkatoSimulator(workspace, time_scale=0.05) as sim:
        print(f"1. Started the bundled Workato simulator at {sim.base_url}")
        print(
            f"   generated workspace (seed {args.seed}): {len(workspace.recipes)} recipes, "
            f"{len(workspace.connections)} connections, {len(workspace.folders) - 1} folders"
        )
        os.environ[BASE_URL_ENV_VAR] = sim.base_url
        os.environ[TOKEN_ENV_VAR] = sim.token
        os.environ.setdefault("ARCHY_DUCKDB_PATH", str(duckdb_path))
        print("2. archy-pipeline test-connection")
        args.base_url, args.data_center = sim.base_url, None
        if cmd_test_connection(args) != 0:
            return 1
        print("3. Running the sync job (Dagster, in process)")
        from archy_pipeline.definitions import defs

        home = os.environ.get("DAGSTER_HOME")
        instance = DagsterInstance.get() if home else DagsterInstance.ephemeral()
        result = defs.resolve_job_def("sync_job").execute_in_process(
            instance=instance,
            raise_on_error=False,
            run_config={"loggers": {"console": {"config": {"log_level": "INFO"}}}},
        )
        if not result.success:
            print("The sync job failed; see the log above.", file=sys.stderr)
            return 1
        requests = len(sim.requests)
    con = duckdb.connect(str(duckdb_path), read_only=True)
    try:
        print(f"4. Done in {time.monotonic() - started:.1f} s ({requests} API requests)")
        print(f"   Results: {duckdb_path.resolve()}")
        for table in ("workspace", "folders", "projects", "connections", "recipes"):
            (count,) = con.execute(f"select count(*) from workato_raw.{table}").fetchone()
            print(f"     workato_raw.{table:<12} {count:>6} rows")
    finally:
        con.close()
    print(f"   Query them:   duckdb {duckdb_path}  (or Python: duckdb.connect('{duckdb_path}'))")
    if home:
        print(f"   Dagster runs are stored in {home}; open the UI with:  make ui")
        print("   then browse to http://127.0.0.1:3000")
    return 0


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
    test.set_defaults(func=cmd_test_connection)

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

    demo = commands.add_parser("demo", help="run the whole pipeline against the simulator")
    demo.add_argument("--recipes", type=int, default=300)
    demo.add_argument("--seed", type=int, default=42)
    demo.set_defaults(func=cmd_demo, exports=None, user_email=None, user_id=None, timeout=30.0)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
