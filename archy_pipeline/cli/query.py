"""Commands that read the warehouse: ``sql``, ``analysts-role``, ``impact`` and ``report``."""

from __future__ import annotations

import argparse
import os
import sys
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    pass


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
