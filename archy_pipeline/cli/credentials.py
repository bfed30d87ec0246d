"""``archy-pipeline connect`` and ``disconnect``: a workspace's token, stored encrypted at rest.

``connect`` reads the token (a prompt without echo, or one line of stdin), refuses a malformed
one, runs test-connection's check with it against the workspace's host, and only when that
passes stores it (:mod:`archy_pipeline.settings.credentials`). the command line reads archy.yaml and
the environment and hands them in.
"""

from __future__ import annotations

import argparse
import getpass
import sys

from pydantic import SecretStr

from archy_pipeline.settings import ArchySettings, EnvironmentVariables
from archy_pipeline.settings.credentials import (
    CredentialStore,
    connect_hint,
    credentials_path,
    find_key,
)
from archy_pipeline.settings.workato import checked_token


def read_token(workspace: str, from_stdin: bool) -> SecretStr:
    """The token typed at a prompt that does not echo it, or the first line of stdin;
    stripped and checked like every token (raises ConfigError, never showing it)."""
    if from_stdin:
        text, token_from = sys.stdin.readline(), "connect: the token read from stdin"
    else:
        text = getpass.getpass(f"Workato API token of workspace {workspace!r}: ")
        token_from = "connect: the token typed at the prompt"
    return checked_token(SecretStr(text), token_from)


def connect(
    args: argparse.Namespace, settings: ArchySettings, variables: EnvironmentVariables
) -> int:
    """Test the token, then store it; 0, or 1 with one line (nothing stored)."""
    from archy_pipeline.cli.connection import check_connection
    from archy_pipeline.resources.workato import WorkatoResource

    workspace = settings.workspace(args.workspace) if args.workspace else settings.workspaces[0]
    name = workspace.name
    store = CredentialStore(credentials_path(variables))
    stored = store.entry(name)
    if stored is not None and not args.rotate:
        print(f"workspace {name!r} already has a stored token (connected "
              f"{stored.connected_at}); replace it with `{connect_hint(name, rotate=True)}`",
              file=sys.stderr)  # fmt: skip
        return 1
    find_key(variables, store.path.parent)  # a malformed key stops it before the prompt
    token = read_token(name, args.token_stdin)
    resource = WorkatoResource(
        api_token=token.get_secret_value(),
        timeout_seconds=args.timeout,
        max_attempts=3,
        deadline_seconds=120,
    )
    if check_connection(settings, variables, workspace, resource) != 0:
        print(f"nothing stored: the token did not pass the connection test of {name!r}",
              file=sys.stderr)  # fmt: skip
        return 1
    key = find_key(variables, store.path.parent, create=True)
    store.store(name, resource.target(workspace, variables).base_url, token, key)
    done = "Replaced" if stored is not None else "Stored"
    print(f"{done} the token of {name!r} in {store.path}, encrypted with key {key.id} from "
          f"{key.source}")  # fmt: skip
    if key.created:
        print("  the key was generated now: keep a copy of it, the stored tokens cannot be "
              "read without it")  # fmt: skip
    if variables.secret(workspace.token_env) is not None:
        print(f"  note: {workspace.token_env} is set and wins over the stored token; unset it "
              "to use the stored one")  # fmt: skip
    return 0


def disconnect(
    args: argparse.Namespace, settings: ArchySettings, variables: EnvironmentVariables
) -> int:
    """Remove a stored token (the workspace may be gone from archy.yaml); 1 when none was."""
    name = args.workspace or settings.workspaces[0].name
    store = CredentialStore(credentials_path(variables))
    if not store.remove(name):
        stored = ", ".join(repr(n) for n in store.workspaces()) or "none"
        print(f"no token stored for workspace {name!r} in {store.path} (stored: {stored})",
              file=sys.stderr)  # fmt: skip
        return 1
    print(f"Removed the stored token of {name!r} from {store.path}")
    return 0
