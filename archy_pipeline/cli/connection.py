"""``test-connection``, ``connect`` and ``disconnect``: which workspace a token opens, and
storing it encrypted (:mod:`archy_pipeline.cli.credentials`)."""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING

from archy_pipeline.settings import (
    ArchySettings,
    EnvironmentVariables,
    WorkspaceSettings,
    check_environment,
)
from archy_pipeline.workato.errors import WorkatoError

if TYPE_CHECKING:
    from archy_pipeline.resources.workato import WorkatoResource
from archy_pipeline.cli.common import load_validated


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
    from archy_pipeline.cli.credentials import connect

    return connect(args, *load_validated())


def cmd_disconnect(args: argparse.Namespace) -> int:
    from archy_pipeline.cli.credentials import disconnect

    return disconnect(args, *load_validated())
