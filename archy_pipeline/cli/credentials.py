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

#: Seconds connect and disconnect wait for a sync holding the DuckDB file before leaving their
#: audit row pending (it goes in with the next row written: :mod:`archy_pipeline.audit`).
AUDIT_LOCK_WAIT_SECONDS = 5.0


def audit(
    action: str, workspace: str, variables: EnvironmentVariables, **detail: str | None
) -> None:
    """Append one row to archy.audit_log (the warehouse and table are created when missing).

    The command's change is made by now and stands: when the warehouse cannot be written (a
    sync holds the DuckDB file, PostgreSQL is down), one line says so and the row waits in
    ``audit_pending.jsonl`` in the data folder for the next write.
    """
    from archy_pipeline.audit import AuditEvent, mask, os_actor, pending_file, record
    from archy_pipeline.resources.warehouse import WarehouseResource

    event = AuditEvent(action, os_actor(), workspace, workspace, detail)
    resource = WarehouseResource()
    pending = pending_file(None, credentials_path(variables).parent)
    try:
        writer = WarehouseResource(lock_wait_seconds=min(resource.lock_wait,
                                                         AUDIT_LOCK_WAIT_SECONDS))  # fmt: skip
        pending = writer.audit_pending_file
        record(writer.backend, [event], pending)
    except Exception as error:
        first = (str(error).strip().splitlines() or [""])[0]
        reason = mask(f"{type(error).__name__}: {first}", [resource.dsn])
        print(f"  the audit log was not written now ({reason}); the {action} row waits in "
              f"{pending} and goes in with the next row", file=sys.stderr)  # fmt: skip


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
    base_url = resource.target(workspace, variables).base_url
    store.store(name, base_url, token, key)
    done = "Replaced" if stored is not None else "Stored"
    print(f"{done} the token of {name!r} in {store.path}, encrypted with key {key.id} from "
          f"{key.source}")  # fmt: skip
    if key.created:
        print("  the key was generated now: keep a copy of it, the stored tokens cannot be "
              "read without it")  # fmt: skip
    if variables.secret(workspace.token_env) is not None:
        print(f"  note: {workspace.token_env} is set and wins over the stored token; unset it "
              "to use the stored one")  # fmt: skip
    action = "rotate" if stored is not None else "connect"
    audit(action, name, variables, base_url=base_url, key_id=key.id)
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
    audit("disconnect", name, variables)
    return 0
