"""`connect` stores a workspace's token encrypted at rest; syncs use it; it never leaks.

Real parts throughout: the simulator over loopback HTTP, the CLI's main() in process with a
DAGSTER_HOME, DuckDB and the key file in tmp folders, and the keyring package's own
backends (its ``fail`` backend is what this headless machine has anyway).
"""

from __future__ import annotations

import base64
import fcntl
import gzip
import io
import os
import pty
import select
import shutil
import stat
import subprocess
import sys
import termios
import time
import zlib
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace

import duckdb
import keyring
import pytest
from cryptography.fernet import Fernet
from keyring.backend import KeyringBackend
from keyring.backends import fail
from keyring.compat import properties
from workato_simulator.generator import generate_workspace

from archy_pipeline.cli import main
from tests.support import workspace_with_recipes

ROOT = Path(__file__).resolve().parents[1]

#: A token no other test uses, so finding it anywhere means this test put it there.
TOKEN = "wrkaus-CONNECT-PROBE-4c7e19a05b3d8f62a1e7"
#: Another valid token of the same workspace, for rotation and precedence.
OTHER_TOKEN = "wrkaus-ROTATED-9d2b6f04e8a1c357b9f0"


class MemoryKeyring(KeyringBackend):
    """An OS keyring in memory, for ``keyring.set_keyring``: a real backend class, which
    ``keyring`` never picks by itself (it is not viable), so no other test meets it."""

    @properties.classproperty
    def priority(cls) -> float:
        raise RuntimeError("only ever set explicitly, by this file's tests")

    def __init__(self) -> None:
        super().__init__()
        self.passwords: dict[tuple[str, str], str] = {}

    def get_password(self, service: str, username: str) -> str | None:
        return self.passwords.get((service, username))

    def set_password(self, service: str, username: str, password: str) -> None:
        self.passwords[(service, username)] = password

    def delete_password(self, service: str, username: str) -> None:
        self.passwords.pop((service, username), None)


@pytest.fixture
def os_keyring() -> Iterator[None]:
    """Restore whichever keyring backend was chosen before the test set another."""
    previous = keyring.get_keyring()
    yield
    keyring.set_keyring(previous)


@pytest.fixture
def project(simulator, tmp_path, monkeypatch, os_keyring) -> SimpleNamespace:
    """A workspace 'ACME' in archy.yaml on a simulator that accepts TOKEN and OTHER_TOKEN; no
    token variable set; the data folder, the config folder and DAGSTER_HOME under tmp_path;
    no usable OS keyring (as on this headless machine, whatever the developer's has)."""
    sim = simulator(workspace_with_recipes(4), token=TOKEN, rate_limits=None)
    sim.add_token(OTHER_TOKEN, name="other")
    config = tmp_path / "archy.yaml"
    config.write_text(f"workspaces:\n  - name: ACME\n    base_url: {sim.base_url}\n")
    home = tmp_path / "dagster_home"
    home.mkdir()
    shutil.copy(ROOT / "dagster.yaml", home / "dagster.yaml")
    monkeypatch.setenv("DAGSTER_HOME", str(home))
    monkeypatch.setenv("ARCHY_CONFIG", str(config))
    monkeypatch.setenv("ARCHY_DUCKDB_PATH", str(tmp_path / "data" / "warehouse.duckdb"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    keyring.set_keyring(fail.Keyring())
    return SimpleNamespace(
        sim=sim,
        config=config,
        credentials=tmp_path / "data" / "credentials.json",
        key_file=tmp_path / "config" / "archy-pipeline" / "secret.key",
    )


def connect(monkeypatch, token: str, *flags: str) -> int:
    """`archy-pipeline connect --token-stdin` with ``token`` (and a newline) on stdin."""
    monkeypatch.setattr(sys, "stdin", io.StringIO(f"{token}\n"))
    return main(["connect", "--workspace", "ACME", "--token-stdin", *flags])


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


# ---------------------------------------------------------------------- connect, then sync


def test_connect_from_stdin_then_a_sync_without_the_variable_uses_the_stored_token(
    project, monkeypatch, capsys
):
    assert connect(monkeypatch, TOKEN) == 0
    out = capsys.readouterr().out
    assert out.startswith(f"Connected to Workato at {project.sim.base_url[7:-4]}\n")
    assert "  recipes:   4 (2 running)\n" in out, "test-connection's check ran"
    assert f"Stored the token of 'ACME' in {project.credentials}, encrypted with key " in out
    assert f"from key file {project.key_file}\n" in out
    assert "the key was generated now" in out

    # Both files are the owner's alone; the key is outside the data folder; the credentials
    # file holds neither the token nor its base64.
    assert mode(project.credentials) == 0o600
    assert mode(project.key_file) == 0o600
    assert mode(project.key_file.parent) == 0o700
    assert not project.key_file.is_relative_to(project.credentials.parent)
    stored = project.credentials.read_bytes()
    assert TOKEN.encode() not in stored
    assert base64.b64encode(TOKEN.encode())[:40] not in stored
    assert project.key_file.read_bytes().strip() not in stored

    before = len(project.sim.requests)
    assert main(["sync"]) == 0
    assert "recipes 4 (+4)" in capsys.readouterr().out
    assert {r.token_name for r in project.sim.requests[before:]} == {"full-access"}
    assert main(["test-connection", "--workspace", "ACME"]) == 0
    assert "recipes:   4 (2 running)" in capsys.readouterr().out


def _read_until(fd: int, wanted: bytes, deadline: float) -> bytes:
    seen = b""
    while wanted not in seen and time.monotonic() < deadline:
        if select.select([fd], [], [], 0.2)[0]:
            try:
                chunk = os.read(fd, 4096)
            except OSError:  # the other end closed
                break
            if not chunk:
                break
            seen += chunk
    return seen


def test_the_prompt_reads_the_token_from_the_terminal_without_echoing_it(project):
    """`connect` in a real terminal (a pty that is the process's controlling terminal)."""
    master, slave = pty.openpty()

    def controlling_terminal() -> None:
        os.setsid()
        fcntl.ioctl(slave, termios.TIOCSCTTY, 0)

    env = {**os.environ, "PYTHON_KEYRING_BACKEND": "keyring.backends.fail.Keyring"}
    process = subprocess.Popen(
        [sys.executable, "-m", "archy_pipeline.cli", "connect", "--workspace", "ACME"],
        stdin=slave, stdout=slave, stderr=slave, env=env, preexec_fn=controlling_terminal,
    )  # fmt: skip
    os.close(slave)
    try:
        deadline = time.monotonic() + 60
        prompt = _read_until(master, b"Workato API token of workspace 'ACME': ", deadline)
        assert prompt.endswith(b"Workato API token of workspace 'ACME': "), prompt
        os.write(master, f"{TOKEN}\n".encode())
        shown = _read_until(master, b"encrypted with key", deadline)
        shown += _read_until(master, b"\n", deadline)
        assert process.wait(timeout=60) == 0, shown
    finally:
        process.kill()
        os.close(master)
    assert b"recipes:   4 (2 running)" in shown
    assert TOKEN.encode() not in prompt + shown, "the terminal did not echo the token"
    assert project.credentials.exists()


def test_a_failing_connection_test_stores_nothing(project, monkeypatch, capsys):
    assert connect(monkeypatch, "wrkaus-NOT-A-KNOWN-TOKEN-0000") == 1
    captured = capsys.readouterr()
    assert captured.err.splitlines()[-1] == (
        "nothing stored: the token did not pass the connection test of 'ACME'"
    )
    assert "Workato authentication failed (401" in captured.err
    assert "NOT-A-KNOWN-TOKEN" not in captured.out + captured.err
    assert not project.credentials.exists()
    assert not project.key_file.exists(), "no key is generated for a token that failed"

    # A token a header cannot carry is refused before any request, unechoed (exit 2).
    requests = len(project.sim.requests)
    assert connect(monkeypatch, f"{TOKEN[:8]} {TOKEN[8:]}") == 2
    assert capsys.readouterr().err == (
        "connect: the token read from stdin: the token holds a space at position 9 of "
        f"{len(TOKEN) + 1}; a Workato API token is printable ASCII without spaces: copy it "
        "again from Workspace admin > API clients\n"
    )
    assert len(project.sim.requests) == requests
    assert not project.credentials.exists()


def test_an_existing_token_is_replaced_only_with_rotate(project, monkeypatch, capsys):
    assert connect(monkeypatch, TOKEN) == 0
    capsys.readouterr()
    assert connect(monkeypatch, OTHER_TOKEN) == 1
    assert capsys.readouterr().err.startswith(
        "workspace 'ACME' already has a stored token (connected 20"
    )
    first = project.credentials.read_bytes()
    assert connect(monkeypatch, OTHER_TOKEN) == 1  # still refused, nothing read or changed
    assert project.credentials.read_bytes() == first

    assert connect(monkeypatch, OTHER_TOKEN, "--rotate") == 0
    out = capsys.readouterr().out
    assert "Replaced the token of 'ACME'" in out
    assert "the key was generated now" not in out, "the same key"
    assert project.credentials.read_bytes() != first
    project.sim.workspace.revoke_token(TOKEN)
    before = len(project.sim.requests)
    assert main(["sync"]) == 0
    assert {r.token_name for r in project.sim.requests[before:]} == {"other"}


def test_disconnect_then_sync_fails_with_the_hint(project, monkeypatch, capsys):
    assert connect(monkeypatch, TOKEN) == 0
    assert main(["disconnect", "--workspace", "ACME"]) == 0
    assert capsys.readouterr().out.endswith(
        f"Removed the stored token of 'ACME' from {project.credentials}\n"
    )
    requests = len(project.sim.requests)
    assert main(["sync"]) == 2
    assert capsys.readouterr().err == (
        f"{project.config}: workspaces[0]: environment variable WORKATO_API_TOKEN is not set; "
        "set it to the workspace's API client token (Workspace admin > API clients) or name "
        "another variable in token_env, or store the token encrypted with "
        "`archy-pipeline connect --workspace ACME`\n"
    )
    assert len(project.sim.requests) == requests
    assert main(["disconnect", "--workspace", "ACME"]) == 1
    assert capsys.readouterr().err == (
        f"no token stored for workspace 'ACME' in {project.credentials} (stored: none)\n"
    )


def test_a_token_variable_wins_over_the_stored_token(project, monkeypatch, capsys):
    assert connect(monkeypatch, TOKEN) == 0
    monkeypatch.setenv("WORKATO_API_TOKEN", OTHER_TOKEN)
    assert connect(monkeypatch, TOKEN, "--rotate") == 0
    assert "note: WORKATO_API_TOKEN is set and wins over the stored token" in (
        capsys.readouterr().out
    )
    before = len(project.sim.requests)
    assert main(["sync"]) == 0
    assert {r.token_name for r in project.sim.requests[before:]} == {"other"}


def test_a_stored_token_is_sent_only_to_the_host_it_was_tested_with(
    project, simulator, monkeypatch, capsys
):
    assert connect(monkeypatch, TOKEN) == 0
    capsys.readouterr()
    elsewhere = simulator(workspace_with_recipes(1), rate_limits=None)
    project.config.write_text(f"workspaces:\n  - name: ACME\n    base_url: {elsewhere.base_url}\n")
    assert main(["sync"]) == 2
    assert capsys.readouterr().err == (
        f"{project.credentials}: the token stored for workspace 'ACME' was tested against "
        f"{project.sim.base_url}, but the workspace now points at {elsewhere.base_url}; it is "
        "only sent to the host it was tested with: run "
        "`archy-pipeline connect --workspace ACME --rotate` to use it there\n"
    )
    assert elsewhere.requests == []


# ---------------------------------------------------------------------- the key


def _wrong_key_env(project, monkeypatch) -> str:
    monkeypatch.setenv("ARCHY_SECRET_KEY", Fernet.generate_key().decode())
    return "not with the key from environment: ARCHY_SECRET_KEY (key "


def _key_file_replaced(project, monkeypatch) -> str:
    project.key_file.write_bytes(Fernet.generate_key())
    return f"not with the key from key file {project.key_file} (key "


def _key_file_gone(project, monkeypatch) -> str:
    project.key_file.unlink()
    return f"and key file {project.key_file} holds no key: restore that key"


def _malformed_key(project, monkeypatch) -> str:
    monkeypatch.setenv("ARCHY_SECRET_KEY", "my-password")
    return "environment: ARCHY_SECRET_KEY: not a Fernet key (32 random bytes as URL-safe"


def _entry_altered(project, monkeypatch) -> str:
    text = project.credentials.read_text()
    start = text.index('"ciphertext": "') + len('"ciphertext": "') + 30
    flipped = "A" if text[start] != "A" else "B"
    project.credentials.write_text(text[:start] + flipped + text[start + 1 :])
    return "does not open with the key from key file"


def _not_json(project, monkeypatch) -> str:
    project.credentials.write_text("{ not json")
    return "not a credentials file written by `archy-pipeline connect`"


@pytest.mark.parametrize(
    "breaking",
    [_wrong_key_env, _key_file_replaced, _key_file_gone, _malformed_key, _entry_altered,
     _not_json],
)  # fmt: skip
def test_a_wrong_key_or_a_damaged_entry_is_one_line_and_exit_2(
    project, monkeypatch, capsys, breaking
):
    assert connect(monkeypatch, TOKEN) == 0
    capsys.readouterr()
    expected = breaking(project, monkeypatch)
    requests = len(project.sim.requests)
    for command in (["sync"], ["test-connection"]):
        assert main(command) == 2
        captured = capsys.readouterr()
        (line,) = captured.err.splitlines()
        assert expected in line
        if breaking is not _malformed_key:
            assert line.startswith(f"{project.credentials}: ")
        if breaking not in (_malformed_key, _not_json):
            assert "workspace 'ACME'" in line
            assert "archy-pipeline connect --workspace ACME --rotate" in line
        assert "Traceback" not in captured.out + captured.err
        assert TOKEN not in captured.out + captured.err
    assert len(project.sim.requests) == requests, "refused before any request"


def test_the_key_goes_to_the_os_keyring_when_one_is_usable(project, monkeypatch, capsys):
    memory = MemoryKeyring()
    keyring.set_keyring(memory)
    assert connect(monkeypatch, TOKEN) == 0
    out = capsys.readouterr().out
    assert "from the OS keyring (tests.test_credentials.MemoryKeyring)" in out
    assert not project.key_file.exists()
    assert list(memory.passwords) == [("archy-pipeline", "secret-key")]
    assert main(["sync"]) == 0

    # The keyring is gone (a service without the desktop session): one line, exit 2.
    keyring.set_keyring(fail.Keyring())
    capsys.readouterr()
    assert main(["sync"]) == 2
    (line,) = capsys.readouterr().err.splitlines()
    assert "was encrypted with key" not in line
    assert "needs key " in line
    assert "(the OS keyring (tests.test_credentials.MemoryKeyring))" in line
    assert f"and key file {project.key_file} holds no key" in line

    # ARCHY_SECRET_KEY_FILE wins over a keyring: a key file is an explicit choice.
    keyring.set_keyring(memory)
    monkeypatch.setenv("ARCHY_SECRET_KEY_FILE", str(project.key_file.parent / "chosen.key"))
    assert connect(monkeypatch, TOKEN, "--rotate") == 0
    assert "(ARCHY_SECRET_KEY_FILE)" in capsys.readouterr().out
    assert mode(project.key_file.parent / "chosen.key") == 0o600


def test_a_key_file_in_the_data_folder_is_refused(project, monkeypatch, capsys):
    inside = project.credentials.parent / "secret.key"
    monkeypatch.setenv("ARCHY_SECRET_KEY_FILE", str(inside))
    assert connect(monkeypatch, TOKEN) == 2
    assert capsys.readouterr().err.startswith(
        f"key file {inside} (ARCHY_SECRET_KEY_FILE): the key file must not be in the data "
        f"folder {project.credentials.parent}, beside the tokens it opens"
    )
    assert project.sim.requests == [], "refused before the prompt and any request"
    assert not inside.exists()


# ---------------------------------------------------------------------- the token leaks nowhere


def _needles(token: str) -> dict[str, bytes]:
    """The token as bytes, hex and base64 (both alphabets, at each of the three alignments it
    may have inside a longer encoded value: only the characters the token alone decides)."""
    raw = token.encode()
    needles = {"the token": raw, "the token in hex": raw.hex().encode()}
    alphabets = {"base64": base64.b64encode, "url-safe base64": base64.urlsafe_b64encode}
    for name, encode in alphabets.items():
        for offset in range(3):
            encoded = encode(b"\0" * offset + raw + b"\0\0")
            first, end = -(-8 * offset // 6), 8 * (offset + len(raw)) // 6
            needles[f"the token in {name} (offset {offset})"] = encoded[first:end]
    return needles


def _decoded(value: str) -> Iterator[bytes]:
    """``value``, and what it holds if it is compressed base64 (how dlt stores its state)."""
    yield value.encode("utf-8", "replace")
    try:
        yield zlib.decompress(base64.b64decode(value, validate=True))
    except (ValueError, zlib.error):
        pass


def _duckdb_values(relation_sql: list[str], con: duckdb.DuckDBPyConnection) -> Iterator[bytes]:
    for sql in relation_sql:
        for row in con.execute(sql).fetchall():
            for value in row:
                if value is not None:
                    yield from _decoded(value if isinstance(value, str) else repr(value))


def _contents(path: Path) -> Iterator[tuple[str, bytes]]:
    """What a file holds, also where a byte search cannot see it: DuckDB compresses strings
    (FSST, dictionaries), Parquet too, and dlt gzips its load packages."""
    data = path.read_bytes()
    yield "bytes", data
    if data[:2] == b"\x1f\x8b":
        yield "gunzipped", gzip.decompress(data)
    if data[8:12] == b"DUCK":
        with duckdb.connect(str(path), read_only=True) as con:
            tables = con.execute(
                "select database_name, schema_name, table_name from duckdb_tables()"
            ).fetchall()
            sql = [f'select * from "{d}"."{s}"."{t}"' for d, s, t in tables]
            yield "DuckDB rows", b"\n".join(_duckdb_values(sql, con))
    if data[:4] == b"PAR1":
        with duckdb.connect() as con:
            sql = [f"select * from read_parquet('{path}')"]
            yield "Parquet rows", b"\n".join(_duckdb_values(sql, con))


def _files_holding(roots: list[Path], token: str) -> list[str]:
    needles = _needles(token)
    found = []
    for root in roots:
        for path in sorted(p for p in root.rglob("*") if p.is_file() and not p.is_symlink()):
            for where, data in _contents(path):
                found += [
                    f"{path} ({where}): {n}" for n, needle in needles.items() if needle in data
                ]
    return found


def test_the_search_finds_the_token_in_each_form_it_could_take(tmp_path):
    token = "wrkaus-SEARCH-SELF-CHECK-0a1b2c3d4e"
    (tmp_path / "clean.txt").write_text("nothing here")
    assert _files_holding([tmp_path], token) == []
    (tmp_path / "plain.log").write_text(f"Bearer {token}\n")
    for offset in range(3):
        encoded = base64.urlsafe_b64encode(b"x" * offset + token.encode()).decode()
        (tmp_path / f"b64-{offset}.json").write_text(f'{{"v": "{encoded}"}}')
    (tmp_path / "load.jsonl.gz").write_bytes(gzip.compress(f'{{"t": "{token}"}}'.encode()))
    with duckdb.connect(str(tmp_path / "w.duckdb")) as con:
        con.execute("create table t as select ? as v, ? as state", [
            "a" * 1000 + token,
            base64.b64encode(zlib.compress(f'{{"token": "{token}"}}'.encode())).decode(),
        ])  # fmt: skip
        con.execute(f"copy t to '{tmp_path / 'export.parquet'}' (format parquet)")
    found = _files_holding([tmp_path], token)
    for name, where in [("plain.log", "bytes"), ("b64-0.json", "base64"),
                        ("b64-1.json", "base64"), ("b64-2.json", "base64"),
                        ("load.jsonl.gz", "gunzipped"), ("w.duckdb", "DuckDB rows"),
                        ("export.parquet", "Parquet rows")]:  # fmt: skip
        assert any(f"/{name} (" in f and where in f for f in found), (name, found)
    assert not any("clean.txt" in f for f in found)


@pytest.mark.slow
def test_no_file_a_connect_and_a_full_sync_write_holds_the_token(
    simulator, tmp_path, monkeypatch, capfd, os_keyring
):
    """connect, then a full sync with the transform and the report it runs: the token is in
    no file under the warehouse folder, DAGSTER_HOME (storage, compute logs, run records),
    the report, dlt's pipelines folder, the config folder and HOME, nor in the output."""
    sim = simulator(generate_workspace(5, recipes=40), token=TOKEN, rate_limits=None)
    config = tmp_path / "archy.yaml"
    config.write_text(f"workspaces:\n  - name: ACME\n    base_url: {sim.base_url}\n")
    home = tmp_path / "dagster_home"
    home.mkdir()
    shutil.copy(ROOT / "dagster.yaml", home / "dagster.yaml")
    monkeypatch.setenv("DAGSTER_HOME", str(home))
    monkeypatch.setenv("HOME", str(tmp_path / "home"))  # whatever a library keeps there
    monkeypatch.setenv("ARCHY_CONFIG", str(config))
    monkeypatch.setenv("ARCHY_DUCKDB_PATH", str(tmp_path / "data" / "warehouse.duckdb"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    keyring.set_keyring(fail.Keyring())

    assert connect(monkeypatch, TOKEN) == 0
    assert main(["sync", "--full"]) == 0
    out = capfd.readouterr()
    assert "recipes 40 (+40)" in out.out
    report = tmp_path / "data" / "report"
    assert (report / "index.html").exists(), "the report was written"
    assert (tmp_path / "data" / ".dlt_pipelines").is_dir(), "dlt's pipelines folder"
    assert any(home.joinpath("storage").rglob("*")), "Dagster's run storage"
    with duckdb.connect(str(tmp_path / "data" / "warehouse.duckdb"), read_only=True) as con:
        assert con.execute("select count(*) from archy.integrations").fetchone() == (40,)
    assert {r.token_name for r in sim.requests} == {"full-access"}, "the stored token was used"

    assert _files_holding([tmp_path], TOKEN) == []
    captured = out.out + out.err
    assert not [name for name, needle in _needles(TOKEN).items() if needle.decode() in captured]
