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
import gc
import sys
from collections.abc import Sequence

from archy_pipeline.cli.common import SETTINGS_ERROR, load_validated
from archy_pipeline.cli.connection import cmd_connect, cmd_disconnect, cmd_test_connection
from archy_pipeline.cli.query import cmd_analysts_role, cmd_impact, cmd_report, cmd_sql
from archy_pipeline.cli.serve import cmd_demo, cmd_simulator_serve, cmd_webhooks_serve
from archy_pipeline.cli.sync import cmd_sync, run_sync
from archy_pipeline.settings import ConfigError
from archy_pipeline.settings.variables import BASE_URL_ENV_VAR

__all__ = ["SETTINGS_ERROR", "build_parser", "console_main", "load_validated", "main", "run_sync"]


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
    sync.add_argument(
        "--rebuild",
        action="store_true",
        help="rebuild the archy tables even if nothing changed since their last build",
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
    try:
        return args.func(args)
    except ConfigError as error:
        print(" ".join(str(error).splitlines()), file=sys.stderr)
        return SETTINGS_ERROR
    except KeyboardInterrupt:  # Ctrl+C, or SIGTERM (Dagster maps it to SIGINT)
        print("interrupted", file=sys.stderr)
        return 130
    except _pool_busy_error() as error:  # evaluated only when an error gets this far
        print(str(error), file=sys.stderr)
        return 1


def _pool_busy_error() -> type[Exception]:
    """The error of a sync that waited too long for the warehouse pool, imported only when an
    error reaches :func:`main`: its module loads Dagster and dlt (1.7 s of CPU), which the
    commands that run no job (sql, test-connection, connect, ...) never need."""
    from archy_pipeline.runs import PoolBusyError

    return PoolBusyError


def console_main(argv: Sequence[str] | None = None) -> int:
    """The ``archy-pipeline`` console script: :func:`main`, for a process that ends with it.

    The objects still alive are left to the interpreter's exit, which frees them; frozen
    first (:func:`gc.freeze`), they are not also walked by its garbage collections, which took
    1.6 s of CPU after a 5,000-recipe ``sync --full`` (the definitions, the modules, the runs'
    results). The command's files are closed by then: this changes only the exit's work.
    """
    code = main(argv)
    gc.freeze()
    return code


if __name__ == "__main__":
    sys.exit(console_main())
