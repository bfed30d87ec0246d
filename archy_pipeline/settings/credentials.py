"""Workato API tokens stored encrypted at rest, and the key that opens them.

``archy-pipeline connect`` stores a workspace's token here once a connection test with it has
passed; :func:`archy_pipeline.settings.workato.workato_target` reads it back when neither the
Workato resource nor the environment gives that workspace a token.

**The store** is one JSON file in the data folder, beside the DuckDB file
(``data/credentials.json``, mode 0600). Per workspace name it holds the Fernet ciphertext of
the token (sealed together with the workspace name and the API base URL the token was tested
against, so an entry copied to another workspace or aimed at another host is refused), the id
of the key that encrypted it and where that key came from. Nothing in it is the token, nor
opens without the key.

**The key** is a Fernet key (AES-128-CBC and HMAC-SHA256, from ``cryptography``), taken from
the first of:

1. ``ARCHY_SECRET_KEY``: the key itself;
2. ``ARCHY_SECRET_KEY_FILE``: a file holding it;
3. the OS keyring (``keyring``), when a usable backend exists (a headless server has none);
4. ``$XDG_CONFIG_HOME/archy-pipeline/secret.key`` (default ``~/.config/archy-pipeline``).

``connect`` generates a key in the keyring or the key file when that source holds none (a key
file is created with mode 0600); reading never generates one. A key file never sits in the data
folder, beside the ciphertext it opens. The key id is a hash of the key: it tells a wrong key
from a damaged entry without revealing either.
"""

from __future__ import annotations

import hashlib
import json
import os
import shlex
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from pydantic import SecretStr

from archy_pipeline.settings.errors import ConfigError
from archy_pipeline.settings.variables import (
    DEFAULT_DUCKDB_PATH,
    SECRET_KEY_ENV_VAR,
    SECRET_KEY_FILE_ENV_VAR,
    EnvironmentVariables,
)

CREDENTIALS_FILE_NAME = "credentials.json"
#: The ``format`` member of the credentials file: what wrote it, and which layout.
FORMAT = "archy-pipeline credentials 1"
KEYRING_SERVICE = "archy-pipeline"
KEYRING_USERNAME = "secret-key"
KEY_FILE_NAME = "secret.key"


def credentials_path(variables: EnvironmentVariables) -> Path:
    """The credentials file: ``credentials.json`` in the folder of the DuckDB file
    (``ARCHY_DUCKDB_PATH``, default ``data/``; the same folder with PostgreSQL)."""
    return Path(variables.duckdb_path or DEFAULT_DUCKDB_PATH).parent / CREDENTIALS_FILE_NAME


def default_key_file(variables: EnvironmentVariables) -> Path:
    """``$XDG_CONFIG_HOME/archy-pipeline/secret.key``, default ``~/.config/archy-pipeline``."""
    config = variables.xdg_config_home
    if not config or not Path(config).is_absolute():  # the XDG rule: a relative one is ignored
        config = str(Path(variables.home) / ".config") if variables.home else "~/.config"
    return Path(config).expanduser() / "archy-pipeline" / KEY_FILE_NAME


def connect_hint(workspace: str, rotate: bool = False) -> str:
    """The command that stores ``workspace``'s token, ready to paste into a shell."""
    flag = " --rotate" if rotate else ""
    return f"archy-pipeline connect --workspace {shlex.quote(workspace)}{flag}"


# ---------------------------------------------------------------------- the key


def key_id(key: bytes) -> str:
    """A short fingerprint of ``key``: which key encrypted an entry, without revealing it."""
    return hashlib.sha256(b"archy-pipeline key id\0" + key).hexdigest()[:16]


@dataclass(frozen=True)
class SecretKey:
    """Where the key comes from (for messages) and the key, None when that source holds none."""

    source: str
    key: bytes | None = field(default=None, repr=False)
    #: True when this call generated the key (``connect`` says so, once).
    created: bool = False

    @property
    def id(self) -> str | None:
        return key_id(self.key) if self.key is not None else None


def find_key(variables: EnvironmentVariables, data_folder: Path, create: bool = False) -> SecretKey:
    """The key by the order in the module docstring; with ``create``, a key is generated in
    the keyring or the key file when that source holds none.

    Raises:
        ConfigError: a malformed key, an unreadable key file or keyring, or a key file in the
            data folder; one line that never shows the key.
    """
    secret = variables.secret_key
    if secret is not None:
        source = f"environment: {SECRET_KEY_ENV_VAR}"
        return SecretKey(source, _fernet_key(secret.get_secret_value(), source))
    if variables.secret_key_file:
        path = Path(variables.secret_key_file).expanduser()
        source = f"key file {path} ({SECRET_KEY_FILE_ENV_VAR})"
        return _file_key(path, source, data_folder, create)
    backend = usable_keyring()
    if backend is not None:
        return _keyring_key(backend, create)
    path = default_key_file(variables)
    return _file_key(path, f"key file {path}", data_folder, create)


def usable_keyring() -> Any:
    """The OS keyring ``keyring`` chose, or None when it has no usable backend: its ``fail``
    or ``null`` backend, or a chainer with nothing to chain (what a headless server has)."""
    import keyring
    from keyring.backends import chainer, fail, null

    backend = keyring.get_keyring()
    if isinstance(backend, (fail.Keyring, null.Keyring)):
        return None
    if isinstance(backend, chainer.ChainerBackend) and not backend.backends:
        return None
    return backend


def _fernet_key(text: str, source: str) -> bytes:
    from cryptography.fernet import Fernet

    key = text.strip().encode("ascii", "replace")
    try:
        Fernet(key)
    except ValueError:  # binascii.Error is a ValueError
        raise ConfigError(
            f"{source}: not a Fernet key (32 random bytes as URL-safe base64, 44 characters); "
            "make one with: python -c 'from cryptography.fernet import Fernet; "
            "print(Fernet.generate_key().decode())'"
        ) from None
    return key


def _file_key(path: Path, source: str, data_folder: Path, create: bool) -> SecretKey:
    if path.resolve().is_relative_to(data_folder.resolve()):
        raise ConfigError(
            f"{source}: the key file must not be in the data folder {data_folder}, beside the "
            "tokens it opens: keep it elsewhere (default ~/.config/archy-pipeline/secret.key)"
        )
    try:
        return SecretKey(source, _fernet_key(path.read_text(encoding="ascii"), source))
    except FileNotFoundError:
        if not create:
            return SecretKey(source)
    except (OSError, UnicodeDecodeError) as error:
        reason = getattr(error, "strerror", None) or "not a text file"
        raise ConfigError(f"{source}: cannot be read ({reason})") from None
    from cryptography.fernet import Fernet

    key = Fernet.generate_key()
    try:
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:  # another connect made it meanwhile: use theirs
        return _file_key(path, source, data_folder, create=False)
    except OSError as error:
        raise ConfigError(f"{source}: cannot be created ({error.strerror})") from None
    with os.fdopen(descriptor, "wb") as file:
        file.write(key + b"\n")
    return SecretKey(source, key, created=True)


def _keyring_key(backend: Any, create: bool) -> SecretKey:
    from keyring.errors import KeyringError

    source = f"the OS keyring ({type(backend).__module__}.{type(backend).__name__})"
    try:
        stored = backend.get_password(KEYRING_SERVICE, KEYRING_USERNAME)
        if stored:
            return SecretKey(source, _fernet_key(stored, source))
        if not create:
            return SecretKey(source)
        from cryptography.fernet import Fernet

        key = Fernet.generate_key()
        backend.set_password(KEYRING_SERVICE, KEYRING_USERNAME, key.decode("ascii"))
    except KeyringError as error:
        raise ConfigError(
            f"{source}: cannot be used ({type(error).__name__}); set {SECRET_KEY_FILE_ENV_VAR} "
            "to keep the key in a file instead"
        ) from None
    return SecretKey(source, key, created=True)


# ---------------------------------------------------------------------- the store


@dataclass(frozen=True)
class StoredToken:
    """One workspace's entry as the file shows it, without the key: no secret in here."""

    workspace: str
    base_url: str
    key_id: str
    key_from: str
    connected_at: str


class CredentialStore:
    """The credentials file (:func:`credentials_path`): read, add, replace and remove entries.

    The file is rewritten whole, through a new 0600 file renamed over the old one, so a reader
    never sees half of it and its mode never depends on the umask.
    """

    def __init__(self, path: Path) -> None:
        self.path = path

    def entry(self, workspace: str) -> StoredToken | None:
        """What the file says in clear about ``workspace``'s token; None when it has none."""
        found = self._read().get(workspace)
        if found is None:
            return None
        return StoredToken(workspace, **{k: v for k, v in found.items() if k != "ciphertext"})

    def workspaces(self) -> list[str]:
        """The names of the workspaces that have a stored token."""
        return list(self._read())

    def token(
        self, workspace: str, base_url: str, variables: EnvironmentVariables
    ) -> SecretStr | None:
        """``workspace``'s stored token, decrypted; None when none is stored.

        Raises:
            ConfigError: in one line naming the workspace and where the key came from, when
                no key is found, the key is not the one that encrypted the token, the entry
                was altered, or the workspace now points at another host than the token was
                tested against.
        """
        entries = self._read()
        if workspace not in entries:
            return None
        entry = entries[workspace]
        key = find_key(variables, self.path.parent)
        whose = f"{self.path}: the token stored for workspace {workspace!r}"
        again = f"store it again with `{connect_hint(workspace, rotate=True)}`"
        if key.key is None:
            raise ConfigError(
                f"{whose} needs key {entry['key_id']} ({entry['key_from']}), and {key.source} "
                f"holds no key: restore that key, or {again}"
            )
        if key.id != entry["key_id"]:
            raise ConfigError(
                f"{whose} was encrypted with key {entry['key_id']} ({entry['key_from']}), not "
                f"with the key from {key.source} (key {key.id}): restore that key, or {again}"
            )
        from cryptography.fernet import Fernet, InvalidToken

        try:
            sealed = json.loads(Fernet(key.key).decrypt(entry["ciphertext"].encode("ascii")))
            token, sealed_for, sealed_url = sealed["token"], sealed["workspace"], sealed["base_url"]
        except (InvalidToken, ValueError, TypeError, KeyError, AttributeError):
            sealed_for = sealed_url = token = None
        if sealed_for != workspace or not isinstance(token, str):
            raise ConfigError(
                f"{whose} does not open with the key from {key.source} (key {key.id}): the "
                f"entry was altered or copied from another workspace; {again}"
            )
        if sealed_url != base_url:
            raise ConfigError(
                f"{whose} was tested against {sealed_url}, but the workspace now points at "
                f"{base_url}; it is only sent to the host it was tested with: run "
                f"`{connect_hint(workspace, rotate=True)}` to use it there"
            )
        return SecretStr(token)

    def store(self, workspace: str, base_url: str, token: SecretStr, key: SecretKey) -> None:
        """Encrypt ``token`` with ``key`` and save it as ``workspace``'s (replacing any)."""
        from cryptography.fernet import Fernet

        assert key.key is not None and key.id is not None
        sealed = json.dumps(
            {"workspace": workspace, "base_url": base_url, "token": token.get_secret_value()}
        )
        entries = self._read()
        entries[workspace] = {
            "base_url": base_url,
            "key_id": key.id,
            "key_from": key.source,
            "connected_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "ciphertext": Fernet(key.key).encrypt(sealed.encode("utf-8")).decode("ascii"),
        }
        self._write(entries)

    def remove(self, workspace: str) -> bool:
        """Forget ``workspace``'s token; False when none was stored."""
        entries = self._read()
        if entries.pop(workspace, None) is None:
            return False
        self._write(entries)
        return True

    def _read(self) -> dict[str, dict[str, str]]:
        try:
            text = self.path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return {}
        except (OSError, UnicodeDecodeError) as error:
            reason = getattr(error, "strerror", None) or "not a text file"
            raise ConfigError(f"{self.path}: cannot be read ({reason})") from None
        try:
            data = json.loads(text)
            entries = data["workspaces"] if data.get("format") == FORMAT else None
        except (ValueError, AttributeError, KeyError, TypeError):
            entries = None
        fields = {"base_url", "key_id", "key_from", "connected_at", "ciphertext"}
        if not isinstance(entries, dict) or not all(
            isinstance(e, dict) and set(e) == fields and all(isinstance(v, str) for v in e.values())
            for e in entries.values()
        ):
            raise ConfigError(
                f"{self.path}: not a credentials file written by `archy-pipeline connect`; "
                "move it away and connect the workspaces again"
            )
        return entries

    def _write(self, entries: dict[str, dict[str, str]]) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        text = json.dumps({"format": FORMAT, "workspaces": entries}, indent=2, sort_keys=True)
        temporary = self.path.with_name(f".{self.path.name}.{os.getpid()}.tmp")
        descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            os.fchmod(descriptor, 0o600)  # O_CREAT's mode is ignored for a leftover file
            with os.fdopen(descriptor, "w", encoding="utf-8") as file:
                file.write(text + "\n")
                file.flush()
                os.fsync(file.fileno())
            os.replace(temporary, self.path)
        except BaseException:
            temporary.unlink(missing_ok=True)
            raise
