"""The receiver: authenticates each POST, validates it and appends it to the inbox.

Authentication uses one shared secret, which the CLI reads from an environment variable
(``ARCHY_WEBHOOK_SECRET`` unless told otherwise), in either header:

- ``X-Archy-Signature: sha256=<hex HMAC-SHA256 of the raw body, keyed with the secret>``
- ``Authorization: Bearer <secret>``

Answers (JSON bodies): 202 a new event was stored; 200 ``{"duplicate": true}`` its
``event_id`` was already stored; 400 bad JSON or a bad field (``field`` names it); 401 no valid
credentials (nothing stored); 404 unknown path; 405 wrong method; 411 no Content-Length; 413
body over 256 KB; 422 a workspace not in archy.yaml (the answer lists the known ones).
``GET /health`` answers ``{"status": "ok", "last_seq": N}``.

The receiver listens on loopback only; put a TLS-terminating proxy in front of it to take
webhooks from outside. The secret never appears in a log line or an answer.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import json
import logging
import socket
import threading
from collections.abc import Callable, Mapping, Sequence
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from archy_pipeline.webhooks.events import PayloadError, UnknownWorkspaceError, validate_event
from archy_pipeline.webhooks.inbox import DEFAULT_INBOX_PATH, Inbox
from archy_pipeline.workato import json_tree

# The package's logger, as before the package was split: log settings name
# archy_pipeline.webhooks.
logger = logging.getLogger(__package__)

SECRET_ENV_VAR = "ARCHY_WEBHOOK_SECRET"
DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8787

#: Larger bodies are refused with 413 before they are read.
MAX_BODY_BYTES = 256 * 1024
#: Deepest nesting an event body may have (an event is a flat object with small values): a
#: deeper one is refused before it is stored or read again by the sensor.
MAX_BODY_DEPTH = 32
#: A shorter secret is refused when the receiver starts (it would be guessable).
MIN_SECRET_LENGTH = 16
SIGNATURE_HEADER = "X-Archy-Signature"


# ---------------------------------------------------------------------- authentication


def sign(body: bytes, secret: str) -> str:
    """The ``X-Archy-Signature`` value for ``body``: ``sha256=<hex HMAC-SHA256>``."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def authenticated(headers: Mapping[str, str], body: bytes, secret: str) -> bool:
    """A valid signature of the raw body, or the secret as a bearer token."""
    signature = (headers.get(SIGNATURE_HEADER) or "").strip()
    if signature and hmac.compare_digest(signature.lower().encode(), sign(body, secret).encode()):
        return True
    scheme, _, token = (headers.get("Authorization") or "").strip().partition(" ")
    return (
        scheme.lower() == "bearer"
        and bool(token)
        and hmac.compare_digest(token.strip().encode(), secret.encode())
    )


def check_secret(secret: str | None, secret_env: str) -> str:
    """The shared secret, refused when unset or short (the message names its variable)."""
    secret = secret or ""
    if len(secret) < MIN_SECRET_LENGTH:
        # Name the variable, never the value.
        raise ValueError(
            f"environment variable {secret_env} must hold the webhook secret, at least "
            f"{MIN_SECRET_LENGTH} characters ({'too short' if secret else 'not set'})"
        )
    return secret


# ---------------------------------------------------------------------- HTTP


def _check_loopback(host: str) -> None:
    """Refuse any host that is not a loopback address (the receiver has no TLS)."""
    if host == "localhost":
        return
    try:
        loopback = ipaddress.ip_address(host).is_loopback
    except ValueError:
        loopback = False
    if not loopback:
        raise ValueError(
            f"the webhook receiver listens on loopback only (127.0.0.1, ::1, localhost), "
            f"not {host!r}; put a TLS proxy in front of it to take webhooks from outside"
        )


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    #: The listen backlog (socketserver's default is 5: a burst of parallel events from the
    #: relay was reset at the door). Linux caps it at net.core.somaxconn.
    request_queue_size = 1024
    #: Set by the receiver: blanks the secret out of a text.
    redact: Callable[[str], str]

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A client that hung up mid-answer is not the receiver's problem; others are logged
        # without the request (whose headers may hold the secret).
        import sys

        error = sys.exc_info()[1]
        if not isinstance(error, (BrokenPipeError, ConnectionResetError, TimeoutError)):
            logger.error(
                "webhook receiver: %s while serving %s: %s",
                type(error).__name__,
                client_address[0],
                self.redact(str(error)),
            )


class WebhookReceiver:
    """The receiver on a background thread; ``port=0`` picks a free port (tests).

    Use as a context manager, or ``start()``/``stop()``. ``url`` is the base, e.g.
    ``http://127.0.0.1:8787``; events go to ``url + "/events"``.
    """

    def __init__(
        self,
        host: str = DEFAULT_HOST,
        port: int = DEFAULT_PORT,
        inbox_path: str | Path = DEFAULT_INBOX_PATH,
        secret_env: str = SECRET_ENV_VAR,
        *,
        secret: str | None,
        workspaces: Sequence[str],
    ) -> None:
        _check_loopback(host)
        self.secret_env = secret_env
        self._secret = check_secret(secret, secret_env)
        self.workspaces = list(workspaces)
        self.inbox = Inbox(inbox_path)
        server_class = _Server
        if ":" in host:
            server_class = type("_Server6", (_Server,), {"address_family": socket.AF_INET6})
        self._server = server_class((host, port), _make_handler(self))
        self._server.redact = self.redact
        self._thread: threading.Thread | None = None

    @property
    def host(self) -> str:
        return str(self._server.server_address[0])

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    def start(self) -> WebhookReceiver:
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name="archy-webhook-receiver",
            daemon=True,
        )
        self._thread.start()
        logger.info(
            "webhook receiver listening on %s/events (inbox %s, workspaces: %s)",
            self.url,
            self.inbox.path,
            ", ".join(self.workspaces),
        )
        return self

    def stop(self) -> None:
        if self._thread:
            self._server.shutdown()
            self._thread.join(timeout=5)
            self._thread = None
        self._server.server_close()

    def __enter__(self) -> WebhookReceiver:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def redact(self, text: str) -> str:
        """``text`` with the secret blanked out (for log lines built from request data)."""
        return text.replace(self._secret, "[redacted]")

    # One request, after routing: authenticate, validate, store.
    def _receive(self, headers: Mapping[str, str], body: bytes) -> tuple[int, dict[str, Any]]:
        if not authenticated(headers, body, self._secret):
            return 401, {
                "error": (
                    f"missing or invalid credentials: send {SIGNATURE_HEADER}: sha256=<hex "
                    "HMAC-SHA256 of the body> or Authorization: Bearer <secret>"
                )
            }
        try:
            payload = json_tree.loads(body)
        except (UnicodeDecodeError, json.JSONDecodeError) as error:
            return 400, {"error": f"the body is not valid JSON: {error}", "field": None}
        if json_tree.depth(payload) > MAX_BODY_DEPTH:
            return 400, {
                "error": f"the body is nested deeper than {MAX_BODY_DEPTH} levels",
                "field": None,
            }
        try:
            validate_event(payload, self.workspaces)
        except UnknownWorkspaceError as error:
            return error.status, {
                "error": str(error),
                "field": error.field,
                "known_workspaces": error.known,
            }
        except PayloadError as error:
            return error.status, {"error": str(error), "field": error.field}
        event_id = payload["event_id"].strip()
        if not self.inbox.add(payload):
            return 200, {"duplicate": True, "event_id": event_id}
        stored = self.inbox.get(event_id)
        logger.info(
            "webhook event %s stored as #%s (%s, %s)",
            event_id,
            stored.seq if stored else "?",
            payload["type"],
            payload["workspace"],
        )
        return 202, {"accepted": True, "event_id": event_id, "seq": stored.seq if stored else None}


_ROUTES = {"/events": "POST", "/health": "GET"}
#: At most this much of an oversized body is read (and dropped) after the 413 answer.
_DISCARD_LIMIT = 4 * MAX_BODY_BYTES


def _make_handler(receiver: WebhookReceiver) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        server_version = "ArchyWebhooks/1.0"
        timeout = 10  # a client that stalls mid-body does not hold a thread for ever

        def log_request(self, code: Any = "-", size: Any = "-") -> None:
            # The path without its query string: a careless sender may put a token there.
            path = urlsplit(getattr(self, "path", "")).path  # unset when the line was garbage
            logger.debug("%s %s %s -> %s", self.client_address[0], self.command, path, code)

        def send_error(self, code: int, message: str | None = None, explain: str | None = None):
            # The stdlib echoes a malformed request line, which may hold the secret.
            super().send_error(code, receiver.redact(message) if message else message, explain)

        def log_message(self, format: str, *args: Any) -> None:
            logger.debug("webhook receiver: %s", receiver.redact(format % args))

        def _answer(self, status: int, body: dict[str, Any], **headers: str) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data) if self.command != "HEAD" else 0))
            for name, value in headers.items():
                self.send_header(name.replace("_", "-"), value)
            if self.close_connection:
                self.send_header("Connection", "close")
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(data)

        def _route(self) -> None:
            path = urlsplit(self.path).path
            allowed = _ROUTES.get(path)
            if allowed is None:
                self._drop_body()
                self._answer(404, {"error": f"no such path {path!r}: POST /events, GET /health"})
            elif self.command != allowed:
                self._drop_body()
                self._answer(405, {"error": f"{path} accepts {allowed} only"}, Allow=allowed)
            elif path == "/health":
                self._answer(200, {"status": "ok", "last_seq": receiver.inbox.last_seq()})
            else:
                self._post_event()

        def _drop_body(self) -> None:
            # An unread body would be parsed as the next request on a keep-alive connection.
            if self.headers.get("Content-Length") not in (None, "0") or self.headers.get(
                "Transfer-Encoding"
            ):
                self.close_connection = True

        def _discard(self, length: int) -> None:
            # Read (and drop) what the client is still sending before the connection closes:
            # closing on unread data resets it, and the client may never see the 413.
            self.wfile.flush()
            self.connection.settimeout(1.0)
            try:
                while length > 0:
                    chunk = self.rfile.read(min(length, 65536))
                    if not chunk:
                        break
                    length -= len(chunk)
            except OSError:
                pass

        def _post_event(self) -> None:
            raw_length = self.headers.get("Content-Length")
            if raw_length is None or self.headers.get("Transfer-Encoding"):
                self.close_connection = True
                self._answer(411, {"error": "send the body with a Content-Length header"})
                return
            try:
                length = int(raw_length)
                if length < 0:
                    raise ValueError(raw_length)
            except ValueError:
                self.close_connection = True
                self._answer(400, {"error": "Content-Length is not a number", "field": None})
                return
            if length > MAX_BODY_BYTES:
                self.close_connection = True
                self._answer(
                    413,
                    {"error": f"the body is {length} bytes; the limit is {MAX_BODY_BYTES}"},
                )
                self._discard(min(length, _DISCARD_LIMIT))
                return
            body = self.rfile.read(length)
            status, answer = receiver._receive(self.headers, body)
            if status >= 400:
                logger.warning(
                    "webhook refused (%s) from %s: %s",
                    status,
                    self.client_address[0],
                    receiver.redact(str(answer.get("error"))),
                )
            self._answer(status, answer)

        do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_OPTIONS = _route

    return Handler


def serve(
    host: str = DEFAULT_HOST,
    port: int = DEFAULT_PORT,
    inbox_path: str | Path = DEFAULT_INBOX_PATH,
    secret_env: str = SECRET_ENV_VAR,
    *,
    secret: str | None,
    workspaces: Sequence[str],
    stop: threading.Event | None = None,
    on_ready: Callable[[WebhookReceiver], None] | None = None,
) -> None:
    """Run the receiver until ``stop`` is set or Ctrl+C.

    Args:
        host: a loopback address; anything else raises ``ValueError``.
        port: the port (0 picks a free one; ``on_ready`` sees which).
        inbox_path: the SQLite inbox (the CLI passes ``ARCHY_WEBHOOK_INBOX`` when set).
        secret_env: the NAME of the environment variable holding the shared secret, for
            messages.
        secret: the shared secret (the CLI reads it from ``secret_env``); an unset or short
            secret raises ``ValueError`` naming the variable.
        workspaces: the accepted workspace names (the CLI passes archy.yaml's, read once:
            restart the receiver after editing archy.yaml).
        stop: set it (e.g. from a SIGTERM handler) to stop serving.
        on_ready: called with the started receiver, e.g. to print its ``url``.
    """
    stop = stop or threading.Event()
    with WebhookReceiver(
        host, port, inbox_path, secret_env, secret=secret, workspaces=workspaces
    ) as receiver:
        if on_ready is not None:
            on_ready(receiver)
        try:
            while not stop.wait(0.5):
                pass
        except KeyboardInterrupt:
            pass
