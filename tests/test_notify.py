"""Notifications: settings, digests, and delivery to real SMTP and HTTP servers on loopback."""

from __future__ import annotations

import base64
import http.server
import json
import logging
import shutil
import smtplib
import socket
import ssl
import subprocess
import threading
from collections.abc import Callable, Iterator
from datetime import datetime, timezone
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
import yaml
from aiosmtpd.smtp import AuthResult
from pydantic import SecretStr

from archy_pipeline import notify
from archy_pipeline.notify import (
    EVENT_TYPES,
    DeliveryResult,
    Digest,
    EmailSettings,
    NotifySettings,
    WebhookSettings,
    build_digest,
    failure_notice,
    parse_notify_settings,
    send,
)
from archy_pipeline.settings import ConfigError, load_settings, parse_settings, read_environment

USER = "archy-bot"
PASSWORD = "pw-Zq8xK3-distinctive-7741"  # distinctive, so any leak is found
PASSWORD_FORMS = (
    PASSWORD,
    base64.b64encode(PASSWORD.encode()).decode(),
    base64.b64encode(f"\0{USER}\0{PASSWORD}".encode()).decode(),
)
HOOK_PATH = "/services/T0ARCHY/B0ARCHY/s3cr3tWebhookKey42"
NOW = datetime(2025, 3, 4, 2, 5, tzinfo=timezone.utc)


@pytest.fixture(autouse=True)
def _notify_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in (
        "ARCHY_SMTP_HOST",
        "ARCHY_SMTP_PORT",
        "ARCHY_SMTP_USER",
        "ARCHY_SMTP_PASSWORD",
        "ARCHY_WEBHOOK_URL",
    ):
        monkeypatch.delenv(name, raising=False)
    # The retries are what is tested here, not the length of the pauses between them.
    monkeypatch.setattr(notify.channels, "WEBHOOK_RETRY_DELAYS", (0.01, 0.01))


# ---------------------------------------------------------------------- servers


def _authenticator(echo_password: bool = False) -> Callable[..., AuthResult]:
    def authenticate(server, session, envelope, mechanism, auth_data) -> AuthResult:
        if auth_data.login == USER.encode() and auth_data.password == PASSWORD.encode():
            return AuthResult(success=True)
        if echo_password:  # a careless server that quotes the credentials back
            given = auth_data.password.decode(errors="replace")
            return AuthResult(success=False, handled=False, message=f"535 5.7.8 bad: {given}")
        return AuthResult(success=False, handled=False, message="535 5.7.8 bad credentials")

    return authenticate


@pytest.fixture(scope="module")
def tls_files(tmp_path_factory: pytest.TempPathFactory) -> SimpleNamespace:
    """A self-signed certificate for 127.0.0.1 (clients trust it through SSL_CERT_FILE)."""
    if shutil.which("openssl") is None:
        pytest.skip("openssl is needed to make a test certificate")
    folder = tmp_path_factory.mktemp("tls")
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
         "-nodes", "-keyout", str(key), "-out", str(cert), "-days", "2",
         "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1"],
        check=True,
        capture_output=True,
    )  # fmt: skip
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    return SimpleNamespace(cert=cert, key=key, server_context=context)


@pytest.fixture
def closed_port() -> Iterator[int]:
    """A loopback port bound by nobody listening: connecting to it is refused."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    yield sock.getsockname()[1]
    sock.close()


@pytest.fixture
def receiver() -> Iterator[Callable[..., SimpleNamespace]]:
    """Start HTTP receivers on 127.0.0.1:0 answering the given statuses in turn (the last one
    repeats), a 429 with ``retry_after`` as its Retry-After header; every request is recorded.
    All are shut down after the test."""
    servers: list[http.server.ThreadingHTTPServer] = []

    def start(*statuses: int, retry_after: str | None = None) -> SimpleNamespace:
        state = SimpleNamespace(requests=[], statuses=list(statuses) or [200])
        lock = threading.Lock()

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                with lock:
                    state.requests.append(
                        SimpleNamespace(path=self.path, headers=dict(self.headers), body=body)
                    )
                    status = state.statuses.pop(0) if len(state.statuses) > 1 else state.statuses[0]
                reply = b"ok" if status < 400 else b"no_service"
                self.send_response(status)
                if status == 429 and retry_after is not None:
                    self.send_header("Retry-After", retry_after)
                self.send_header("Content-Length", str(len(reply)))
                self.end_headers()
                self.wfile.write(reply)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        # shutdown() waits up to one poll interval (0.5 s by default) per server.
        threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        ).start()
        servers.append(server)
        state.base = f"http://127.0.0.1:{server.server_address[1]}"
        state.url = state.base + HOOK_PATH
        return state

    yield start
    for server in servers:
        server.shutdown()
        server.server_close()


def _notify(section: Any, env: dict[str, str]) -> NotifySettings:
    """What a run gets from an archy.yaml with this ``notifications:`` section in the
    environment ``env``: the section validated by the settings model, then the secrets."""
    archy = parse_settings({"notifications": section})
    return parse_notify_settings(archy.notifications, read_environment(env), source=archy.source)


def _email(port: int, login: bool = True, **kwargs: Any) -> NotifySettings:
    """Email settings for a loopback server; with ``login`` the user and password are set."""
    data: dict[str, Any] = {
        "host": "127.0.0.1",
        "port": port,
        "tls": "none",
        "sender": "Archy <archy@acme.example>",
        "recipients": ["architects@acme.example", "ops@acme.example"],
        **kwargs,
    }
    env = {"ARCHY_SMTP_USER": USER, "ARCHY_SMTP_PASSWORD": PASSWORD} if login else {}
    return _notify({"email": data}, env)


def _webhook(url: str) -> NotifySettings:
    return _notify({"webhook": {}}, {"ARCHY_WEBHOOK_URL": url})


def _our_log_text(caplog: pytest.LogCaptureFixture) -> str:
    """Every captured record but the test SMTP server's own (aiosmtpd logs what it receives,
    as a remote server would in its own logs)."""
    return "\n".join(r.getMessage() for r in caplog.records if not r.name.startswith("mail.log"))


def _assert_no_password(*texts: str) -> None:
    for text in texts:
        for form in PASSWORD_FORMS:
            assert form not in text


# ---------------------------------------------------------------------- events


def _event(type_: str, name: str | None, subject_id: str = "1", **kwargs: Any) -> dict:
    subject_type = {
        "new_recipe": "recipe",
        "recipe_status_changed": "recipe",
        "recipe_deleted": "recipe",
        "new_connection": "connection",
        "connection_deleted": "connection",
        "connection_auth_changed": "connection",
        "new_dependency": "dependency",
        "dependency_removed": "dependency",
        "new_insight": "insight",
        "sync_error": "sync",
    }[type_]
    return {
        "event_id": f"{type_}-{subject_id}",
        "workspace": "Main Workspace",
        "at": NOW,
        "type": type_,
        "subject_type": subject_type,
        "subject_id": subject_id,
        "subject_name": name,
        "before": kwargs.get("before"),
        "after": kwargs.get("after"),
    }


def _sample_events() -> list[dict]:
    return [
        _event("new_recipe", "Sync Salesforce accounts to NetSuite", "101"),
        _event("new_recipe", "Post Zendesk tickets to Slack", "102"),
        _event("new_recipe", "Nightly HR export", "103"),
        _event(
            "recipe_status_changed",
            "Invoice approvals",
            "7",
            before={"status": "active", "stop_cause": None},
            after={"status": "stopped", "stop_cause": "trigger_error"},
        ),
    ]


SYNC_ERRORS = ["connections: HTTP 503 from Workato after 5 tries", "recipe 55: code is not JSON"]


@pytest.fixture
def digest() -> Digest:
    result = build_digest(
        "Main Workspace", _sample_events(), SYNC_ERRORS, "http://127.0.0.1:3000/runs/abc"
    )
    assert result is not None
    return result


# ---------------------------------------------------------------------- settings


def test_nothing_configured_means_notifications_off():
    for data in (None, {}):
        settings = _notify(data, {})
        assert settings == NotifySettings()
        assert not settings.enabled
    assert send(failure_notice("W", "job", "run", "boom", None), NotifySettings()) == []


def test_email_defaults_and_secrets_from_the_named_variables():
    env = {"ARCHY_SMTP_USER": USER, "ARCHY_SMTP_PASSWORD": PASSWORD}
    settings = _notify(
        {
            "email": {
                "host": "smtp.acme.example",
                "sender": "a@acme.example",
                "recipients": ["b@x.y"],
            }
        },
        env,
    )
    email_settings = settings.email
    assert email_settings is not None
    assert (email_settings.host, email_settings.port, email_settings.tls) == (
        "smtp.acme.example",
        587,
        "starttls",
    )
    assert email_settings.username_env == "ARCHY_SMTP_USER"
    assert email_settings.password_env == "ARCHY_SMTP_PASSWORD"
    assert email_settings.username.get_secret_value() == USER
    assert email_settings.password.get_secret_value() == PASSWORD
    assert settings.webhook is None
    assert settings.on == EVENT_TYPES
    # The password never shows in a repr or str of the settings.
    _assert_no_password(repr(settings), str(settings))
    assert repr(email_settings.password) == "SecretStr('**********')"


def test_env_var_names_port_by_tls_and_host_override():
    env = {
        "MY_USER": "u",
        "MY_PASS": "p",
        "HOOK": "https://hooks.example/x/y",
        "ARCHY_SMTP_HOST": "mx.env",
    }
    settings = _notify(
        {
            "email": {
                "host": "smtp.acme.example",
                "tls": "ssl",
                "username_env": "MY_USER",
                "password_env": "MY_PASS",
                "sender": "a@acme.example",
                "recipients": ["b@x.y"],
            },
            "webhook": {"url_env": "HOOK"},
            "on": ["sync_error", "new_recipe"],
        },
        env,
    )
    assert settings.email is not None and settings.webhook is not None
    assert settings.email.host == "mx.env"  # ARCHY_SMTP_HOST wins
    assert settings.email.port == 465
    assert settings.email.username.get_secret_value() == "u"
    assert settings.email.password.get_secret_value() == "p"
    assert settings.email.login_required
    assert settings.webhook.url.get_secret_value() == "https://hooks.example/x/y"
    assert settings.webhook.target == "https://hooks.example"
    assert "/x/y" not in repr(settings)
    assert settings.on == ("new_recipe", "sync_error")  # in digest order
    none = _notify(
        {"email": {"host": "h", "tls": "none", "sender": "a@b.c", "recipients": ["d@e.f"]}}, {}
    )
    assert none.email is not None and none.email.port == 25


@pytest.mark.parametrize(
    ("section", "message"),
    [
        pytest.param(
            {"email": {"host": "h", "tls": "tls", "sender": "a@b.c", "recipients": ["d@e.f"]}},
            "notifications.email.tls: must be one of none, starttls, ssl, not 'tls'",
            id="bad-tls",
        ),
        pytest.param(
            {"email": {"host": "h", "sender": "a@b.c", "recipients": "d@e.f"}},
            "notifications.email.recipients: must be a non-empty list",
            id="recipients-not-a-list",
        ),
        pytest.param(
            {"email": {"host": "h", "sender": "a@b.c", "recipients": []}},
            "notifications.email.recipients: must be a non-empty list",
            id="no-recipients",
        ),
        pytest.param(
            {"email": {"host": "h", "sender": "nobody", "recipients": ["d@e.f"]}},
            "notifications.email.sender: must be an email address",
            id="bad-sender",
        ),
        pytest.param(
            {"email": {"sender": "a@b.c", "recipients": ["d@e.f"]}},
            "notifications.email.host: is required (the SMTP server's host name), "
            "or set ARCHY_SMTP_HOST",
            id="no-host",
        ),
        pytest.param(
            {"email": {"host": "h", "port": "587x", "sender": "a@b.c", "recipients": ["d@e.f"]}},
            "notifications.email.port: must be a port number from 1 to 65535, not '587x'",
            id="bad-port",
        ),
        pytest.param(
            {"email": {"host": "h", "port": None, "sender": "a@b.c", "recipients": ["d@e.f"]}},
            "notifications.email.port: must be a port number from 1 to 65535, not None",
            id="empty-port",
        ),
        pytest.param(
            {"email": {"host": "h", "sender": "a@b.c", "recipients": ["d@e.f"], "password": "x"}},
            "notifications.email: unknown key password; allowed: host, port, tls, "
            "username_env, password_env, sender, recipients",
            id="unknown-email-key",
        ),
        pytest.param(
            {"slack": {}},
            "notifications: unknown key slack; allowed: email, webhook, on",
            id="unknown-key",
        ),
        pytest.param(
            {"webhook": {"url": "https://hooks.example/x"}},
            "notifications.webhook: unknown key url; allowed: url_env",
            id="unknown-webhook-key",
        ),
        pytest.param(
            {"on": ["new_recipe", "recipe_renamed"]},
            "notifications.on: 'recipe_renamed' not an event type; allowed: new_recipe,",
            id="unknown-event-type",
        ),
        pytest.param({"on": "new_recipe"}, "notifications.on: must be a list", id="on-not-list"),
        pytest.param(
            {True: ["new_recipe"], "on": ["sync_error"]},
            "notifications: 'on' is given twice",
            id="on-twice",
        ),
        pytest.param({"email": ["x"]}, "notifications.email: must be a mapping", id="not-mapping"),
    ],
)
def test_invalid_settings_name_the_key_path_and_what_is_allowed(section, message):
    with pytest.raises(ConfigError) as caught:
        _notify(section, {})
    assert str(caught.value).startswith(f"archy.yaml: {message}")


@pytest.mark.parametrize(
    ("env", "message"),
    [
        pytest.param(
            {"ARCHY_SMTP_PORT": "25x"},
            "environment: ARCHY_SMTP_PORT: must be a port number from 1 to 65535, not '25x'",
            id="port",
        ),
        pytest.param(
            {"ARCHY_SMTP_PORT": "70000"},
            "environment: ARCHY_SMTP_PORT: must be a port number from 1 to 65535, not '70000'",
            id="port-range",
        ),
        pytest.param(
            {"ARCHY_SMTP_HOST": "smtp acme"},
            "environment: ARCHY_SMTP_HOST: must be the SMTP server's host name",
            id="host",
        ),
    ],
)
def test_invalid_smtp_variables_are_refused_naming_the_variable(env, message):
    """What a sensor tick meets when the environment, not archy.yaml, is wrong."""
    section = {"email": {"host": "h", "sender": "a@b.c", "recipients": ["d@e.f"]}}
    with pytest.raises(ConfigError) as caught:
        _notify(section, env)
    assert str(caught.value) == message


def test_a_secret_pasted_instead_of_a_variable_name_is_not_echoed():
    pasted = "https://hooks.slack.com/services/T1/B2/pastedSecret99"
    with pytest.raises(ConfigError) as caught:
        _notify({"webhook": {"url_env": pasted}}, {})
    assert "NAME of an environment variable" in str(caught.value)
    assert "pastedSecret99" not in str(caught.value)
    with pytest.raises(ConfigError) as caught:
        _notify(
            {"email": {"host": "h", "sender": "a@b.c", "recipients": ["d@e.f"],
                       "password_env": PASSWORD}},
            {},
        )  # fmt: skip
    _assert_no_password(str(caught.value))


def test_the_section_and_its_secrets_are_read_as_a_run_reads_them(tmp_path: Path, monkeypatch):
    config = tmp_path / "archy.yaml"
    config.write_text(
        "workspaces:\n  - name: Main Workspace\n"
        "notifications:\n  webhook:\n    url_env: HOOK\n  on: [sync_error]\n"
    )
    env = read_environment({"HOOK": "https://hooks.example/abc"})
    archy = load_settings(config, env)
    settings = parse_notify_settings(archy.notifications, env, source=archy.source)
    assert settings.webhook is not None and settings.on == ("sync_error",)
    assert settings.webhook.url.get_secret_value() == "https://hooks.example/abc"
    (tmp_path / "elsewhere").mkdir()
    monkeypatch.chdir(tmp_path / "elsewhere")  # no archy.yaml: notifications are off
    archy = load_settings(variables=read_environment({}))
    assert parse_notify_settings(archy.notifications, env) == NotifySettings()
    config.write_text("notifications:\n  email:\n    tls: maybe\n")
    with pytest.raises(ConfigError, match=r"archy\.yaml: notifications\.email\.tls: must be one"):
        load_settings(config, env)


# ---------------------------------------------------------------------- digests


def test_digest_subject_text_and_counts(digest: Digest):
    assert digest.subject == "[archy] Main Workspace: 3 new recipes, 1 stopped, 2 sync errors"
    assert digest.counts == {"new_recipe": 3, "recipe_status_changed": 1, "sync_error": 2}
    text = digest.text
    assert "New recipes (3)" in text
    assert "  - Sync Salesforce accounts to NetSuite (id 101)" in text
    assert "Recipe status changes (1)" in text
    assert "Invoice approvals (id 7): active → stopped (trigger_error)" in text
    assert "Sync errors (2)" in text
    assert "  - connections: HTTP 503 from Workato after 5 tries" in text
    assert "Sync run: http://127.0.0.1:3000/runs/abc" in text
    # Grouped in the order of the event types.
    assert text.index("New recipes") < text.index("Recipe status") < text.index("Sync errors")
    assert digest.html is not None and "<h3>New recipes (3)</h3>" in digest.html


def test_groups_are_truncated_with_a_count_of_the_rest():
    events = [_event("new_connection", f"Salesforce {i:02}", str(i)) for i in range(14)]
    events.append(_event("new_recipe", "Only recipe", "900"))
    digest = build_digest("W", events, [], None, max_items=5)
    assert digest is not None
    assert digest.subject == "[archy] W: 1 new recipe, 14 new connections"
    assert "New connections (14)" in digest.text
    assert "Salesforce 04" in digest.text and "Salesforce 05" not in digest.text
    assert "  ... and 9 more" in digest.text
    assert "_... and 9 more_" in json.dumps(digest.slack_payload)
    assert "... and 9 more" in (digest.html or "")
    assert "Sync run" not in digest.text  # no run URL given
    default = build_digest("W", events, [], None)
    assert default is not None and f"... and {14 - notify.MAX_ITEMS_PER_GROUP} more" in default.text


def test_every_event_type_has_its_group_and_rows_from_the_table_work():
    events = [
        # As read from archy.change_events: before/after are JSON text.
        _event("recipe_status_changed", "Restarted", "8",
               before=json.dumps({"status": "stopped"}), after=json.dumps({"status": "active"})),
        _event("recipe_deleted", "Old recipe", "9", before={"status": "active"}),
        _event("connection_deleted", "Old Jira", "10"),
        _event("connection_auth_changed", "Workday PROD", "11",
               before={"status": "active"}, after={"status": "inactive",
                                                   "authorization_error": "token expired"}),
        _event("new_dependency", "'Invoice approvals' uses 'NetSuite PROD' (target)", "w:1:2"),
        _event("dependency_removed", "'A' calls 'B' (function)", "w:3:4"),
        _event("new_insight", "Recipe without error handling", "i1",
               after={"severity": "warning", "detail": "3 recipes have no on-error step"}),
        _event("sync_error", "recipe 77", "s1",
               after={"kind": "recipes", "message": "code is not JSON", "severity": "error"}),
    ]  # fmt: skip
    digest = build_digest("W", events, ["recipe 77 (recipes): code is not JSON"], None)
    assert digest is not None
    assert digest.subject == (
        "[archy] W: 1 started, 1 recipe deleted, 1 connection deleted, "
        "1 connection auth change, 1 new dependency, 1 dependency removed, 1 new insight, "
        "1 sync error"  # the same error as an event and in sync_errors is listed once
    )
    text = digest.text
    assert "Restarted (id 8): stopped → active" in text
    assert "Workday PROD (id 11): active → inactive (token expired)" in text
    assert "'Invoice approvals' uses 'NetSuite PROD' (target)" in text
    assert "[warning] Recipe without error handling: 3 recipes have no on-error step" in text
    assert "recipe 77 (recipes): code is not JSON" in text


def test_include_filters_event_types_and_empty_digest_is_none():
    assert build_digest("W", [], [], "http://x/run") is None
    events = [_event("new_dependency", "'A' uses 'B'", "d")]
    assert build_digest("W", events, [], None, include=["new_recipe", "sync_error"]) is None
    only_errors = build_digest("W", events, ["boom"], None, include=["sync_error"])
    assert only_errors is not None and only_errors.subject == "[archy] W: 1 sync error"
    assert build_digest("W", events, ["boom"], None, include=["new_dependency"]).counts == {
        "new_dependency": 1
    }


def test_digest_escapes_names_for_html_and_slack():
    events = [_event("new_recipe", "Copy <b>bold</b> & more\nsecond line", "5")]
    digest = build_digest("Main\r\nBcc: x@y.z", events, [], None)
    assert digest is not None
    assert "\n" not in digest.subject and "\r" not in digest.subject
    assert "Copy &lt;b&gt;bold&lt;/b&gt; &amp; more second line" in (digest.html or "")
    section = digest.slack_payload["blocks"][2]["text"]["text"]
    assert "Copy &lt;b&gt;bold&lt;/b&gt; &amp; more second line" in section


def test_slack_payload_structure(digest: Digest):
    payload = digest.slack_payload
    assert payload["text"] == digest.subject
    blocks = payload["blocks"]
    assert blocks[0] == {
        "type": "header",
        "text": {"type": "plain_text", "text": "archy · Main Workspace"},
    }
    sections = [b for b in blocks if b["type"] == "section"]
    assert all(s["text"]["type"] == "mrkdwn" for s in sections)
    assert all(len(s["text"]["text"]) <= 3000 for s in sections)
    assert sections[0]["text"]["text"] == "3 new recipes, 1 stopped, 2 sync errors"
    assert sections[1]["text"]["text"].startswith("*New recipes (3)*\n• Sync Salesforce")
    assert blocks[-1] == {
        "type": "context",
        "elements": [
            {"type": "mrkdwn", "text": "<http://127.0.0.1:3000/runs/abc|Open the sync run>"}
        ],
    }
    json.dumps(payload)  # JSON-able as is


def test_failure_notice_content():
    reason = "WorkatoError: 401 Unauthorized for GET /api/recipes\n  (check WORKATO_API_TOKEN)"
    notice = failure_notice("Main Workspace", "workato_sync", "a1b2c3", reason, "http://d/runs/a1")
    assert notice.subject == "[archy] Main Workspace: sync failed (workato_sync)"
    assert "Job: workato_sync" in notice.text and "Run: a1b2c3" in notice.text
    assert reason in notice.text
    assert "Sync run: http://d/runs/a1" in notice.text
    assert "<pre>WorkatoError: 401" in (notice.html or "")
    assert notice.slack_payload["text"] == notice.subject
    assert "```WorkatoError: 401" in json.dumps(notice.slack_payload)
    long = failure_notice("W", "j", "r", "x" * 100_000, None)
    assert len(long.text) < 5000 and "Sync run" not in long.text


def test_failure_notice_escapes_what_it_quotes_in_html():
    notice = failure_notice(
        "W <img src=x>", "job<script>", 'run"1', "boom <b>&</b>", "http://d/runs/1?a=1&b=2"
    )
    page = notice.html or ""
    assert "<script>" not in page and "<img" not in page and "<b>&" not in page
    assert "W &lt;img src=x&gt;" in page and "<b>job&lt;script&gt;</b>" in page
    assert "<pre>boom &lt;b&gt;&amp;&lt;/b&gt;</pre>" in page
    assert 'href="http://d/runs/1?a=1&amp;b=2"' in page


# ---------------------------------------------------------------------- email


def test_digest_is_delivered_by_smtp_as_text_and_html(smtp_server, digest):
    server = smtp_server()
    settings = _email(server.port, login=False)
    results = send(digest, settings)
    assert results == [DeliveryResult("email", True, None, f"127.0.0.1:{server.port}", 1)]
    [received] = server.messages
    assert received.mail_from == "archy@acme.example"
    assert received.rcpt_tos == ["architects@acme.example", "ops@acme.example"]
    message = received.message
    assert message["Subject"] == digest.subject
    assert message["From"] == "Archy <archy@acme.example>"
    assert message["To"] == "architects@acme.example, ops@acme.example"
    assert message.get_content_type() == "multipart/alternative"
    parts = {part.get_content_type(): part.get_content() for part in message.iter_parts()}
    assert set(parts) == {"text/plain", "text/html"}
    for body in parts.values():
        assert "New recipes (3)" in body
        assert "Sync Salesforce accounts to NetSuite" in body
        assert "Invoice approvals" in body
        assert "connections: HTTP 503 from Workato after 5 tries" in body
    # No AUTH offered by this server and tls=none: no login was tried, nothing encrypted.
    assert not received.authenticated and not received.tls


def test_smtp_login_over_starttls(smtp_server, tls_files, monkeypatch, caplog, digest):
    caplog.set_level(logging.DEBUG)
    monkeypatch.setenv("SSL_CERT_FILE", str(tls_files.cert))
    server = smtp_server(
        tls_context=tls_files.server_context,
        require_starttls=True,
        authenticator=_authenticator(),
        auth_required=True,
    )
    [result] = send(digest, _email(server.port, tls="starttls"))
    assert result.ok, result.error
    [received] = server.messages
    assert received.authenticated and received.tls
    assert received.message["Subject"] == digest.subject
    _assert_no_password(_our_log_text(caplog), repr(result))


@pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS:UserWarning")
def test_smtp_over_ssl(smtp_server, tls_files, monkeypatch, digest):
    monkeypatch.setenv("SSL_CERT_FILE", str(tls_files.cert))
    # aiosmtpd only counts STARTTLS as TLS for AUTH; this whole connection is TLS already.
    server = smtp_server(
        ssl_context=tls_files.server_context,
        authenticator=_authenticator(),
        auth_required=True,
        auth_require_tls=False,
    )
    [result] = send(digest, _email(server.port, tls="ssl"))
    assert result.ok, result.error
    [received] = server.messages
    assert received.tls and received.authenticated


def test_untrusted_certificate_fails_the_delivery(smtp_server, tls_files, caplog, digest):
    server = smtp_server(tls_context=tls_files.server_context, require_starttls=True)
    [result] = send(digest, _email(server.port, login=False, tls="starttls"))  # not trusted
    assert not result.ok and "CERTIFICATE_VERIFY_FAILED" in (result.error or "")
    assert server.messages == []


@pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS:UserWarning")
def test_wrong_password_echoed_by_the_server_is_redacted(smtp_server, caplog, digest):
    caplog.set_level(logging.DEBUG)
    server = smtp_server(
        authenticator=_authenticator(echo_password=True),
        auth_required=True,
        auth_require_tls=False,
    )
    settings = _notify(
        {"email": {"host": "127.0.0.1", "port": server.port, "tls": "none",
                   "sender": "archy@acme.example", "recipients": ["a@acme.example"]}},
        {"ARCHY_SMTP_USER": "intruder", "ARCHY_SMTP_PASSWORD": PASSWORD},
    )  # fmt: skip
    [result] = send(digest, settings)
    assert not result.ok
    assert "535" in (result.error or "") and "bad: ***" in (result.error or "")
    warnings = [
        r for r in caplog.records if r.levelno == logging.WARNING and r.name == notify.__name__
    ]
    assert len(warnings) == 1 and "by email to 127.0.0.1" in warnings[0].getMessage()
    _assert_no_password(_our_log_text(caplog), repr(result))
    assert server.messages == []


def test_smtp_unreachable_fails_quietly_without_the_password(closed_port, caplog, digest):
    caplog.set_level(logging.DEBUG)
    [result] = send(digest, _email(closed_port, tls="starttls"))
    assert result.channel == "email" and not result.ok
    assert "ConnectionRefusedError" in (result.error or "")
    assert result.target == f"127.0.0.1:{closed_port}"
    [warning] = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert warning.getMessage() == (
        f"archy notification by email to 127.0.0.1:{closed_port} failed: {result.error}"
    )
    _assert_no_password(caplog.text, repr(result))


def test_missing_password_or_user_is_reported_per_delivery(closed_port, digest):
    settings = _notify(
        {"email": {"host": "127.0.0.1", "port": closed_port, "sender": "a@b.c",
                   "recipients": ["d@e.f"], "username_env": "SMTP_LOGIN"}},
        {"ARCHY_SMTP_PASSWORD": PASSWORD},
    )  # fmt: skip
    [result] = send(digest, settings)
    assert not result.ok and "SMTP_LOGIN (the SMTP user) is not set" in (result.error or "")
    settings = _notify(
        {"email": {"host": "127.0.0.1", "port": closed_port, "sender": "a@b.c",
                   "recipients": ["d@e.f"]}},
        {"ARCHY_SMTP_USER": USER},
    )  # fmt: skip
    [result] = send(digest, settings)
    assert not result.ok and "ARCHY_SMTP_PASSWORD (the SMTP password) is not set" in result.error


def test_starttls_against_a_server_without_it_fails(smtp_server, digest):
    server = smtp_server()
    [result] = send(digest, _email(server.port, login=False, tls="starttls"))
    assert not result.ok and "STARTTLS" in (result.error or "")
    assert server.messages == []


def test_unexpected_errors_are_caught_and_redacted(monkeypatch, caplog, digest):
    class Exploding:
        def __init__(self, *args, **kwargs):
            raise RuntimeError(f"library bug while holding {PASSWORD}")

    monkeypatch.setattr(smtplib, "SMTP", Exploding)
    [result] = send(digest, _email(25))
    assert not result.ok and result.error == "RuntimeError: library bug while holding ***"
    _assert_no_password(caplog.text)


# ---------------------------------------------------------------------- webhook


def test_webhook_receives_slack_json(receiver, digest):
    hook = receiver(200)
    [result] = send(digest, _webhook(hook.url))
    assert result == DeliveryResult("webhook", True, None, hook.base, 1)
    [request] = hook.requests
    assert request.path == HOOK_PATH
    assert request.headers["Content-Type"] == "application/json"
    payload = json.loads(request.body)
    assert payload == digest.slack_payload
    assert payload["text"] == "[archy] Main Workspace: 3 new recipes, 1 stopped, 2 sync errors"
    texts = "\n".join(b["text"]["text"] for b in payload["blocks"] if b["type"] == "section")
    assert "*Sync errors (2)*" in texts and "Nightly HR export" in texts


def test_webhook_retries_server_errors(receiver, digest):
    hook = receiver(500, 500, 200)
    [result] = send(digest, _webhook(hook.url))
    assert result.ok and result.attempts == 3
    assert len(hook.requests) == 3
    assert len({r.body for r in hook.requests}) == 1  # the same payload each time


def test_webhook_that_always_fails_is_reported_without_its_secret(receiver, caplog, digest):
    caplog.set_level(logging.DEBUG)
    hook = receiver(500)
    results = send(digest, _webhook(hook.url))  # returns normally
    [result] = results
    assert not result.ok and result.attempts == 3
    assert result.error == "HTTP 500: no_service (after 3 attempts)"
    assert len(hook.requests) == 3  # 1 try + 2 retries
    [warning] = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert warning.name == notify.__name__
    assert warning.getMessage() == (
        f"archy notification by webhook to {hook.base} failed: {result.error}"
    )
    # httpx logs every request's URL at INFO: it was captured, with the path masked.
    httpx_lines = [r.getMessage() for r in caplog.records if r.name == "httpx"]
    assert len(httpx_lines) == 3 and all(f"POST {hook.base} " in line for line in httpx_lines)
    secret = HOOK_PATH.rsplit("/", 1)[1]
    for text in (caplog.text, _our_log_text(caplog), repr(results)):
        assert secret not in text and HOOK_PATH not in text


@pytest.mark.parametrize(
    ("retry_after", "waited"),
    [
        pytest.param("0.3", "0.3s", id="as-asked"),
        pytest.param("3600", "0.4s", id="capped"),  # MAX_RETRY_AFTER, patched to 0.4 s below
        pytest.param("soon", "0.0s", id="unreadable-means-the-planned-pause"),
    ],
)
def test_webhook_429_waits_as_retry_after_asks(
    receiver, caplog, monkeypatch, digest, retry_after, waited
):
    caplog.set_level(logging.INFO, logger=notify.__name__)
    monkeypatch.setattr(notify.channels, "MAX_RETRY_AFTER", 0.4)
    hook = receiver(429, 200, retry_after=retry_after)
    [result] = send(digest, _webhook(hook.url))
    assert result.ok and result.attempts == 2 and len(hook.requests) == 2
    [line] = [r.getMessage() for r in caplog.records if "retrying" in r.getMessage()]
    assert line == (
        f"archy notification by webhook to {hook.base}: HTTP 429: no_service; retrying in {waited}"
    )


def test_webhook_client_errors_are_not_retried(receiver, digest):
    hook = receiver(404)
    [result] = send(digest, _webhook(hook.url))
    assert not result.ok and result.attempts == 1 and len(hook.requests) == 1
    assert result.error == "HTTP 404: no_service (after 1 attempt)"


def test_webhook_connection_refused_is_retried_then_reported(closed_port, caplog, digest):
    caplog.set_level(logging.DEBUG)
    url = f"http://127.0.0.1:{closed_port}{HOOK_PATH}"
    [result] = send(digest, _webhook(url))
    assert not result.ok and result.attempts == 3
    assert (result.error or "").startswith("ConnectError")
    assert HOOK_PATH not in caplog.text and HOOK_PATH not in repr(result)


@pytest.mark.parametrize(
    ("env", "error"),
    [
        pytest.param({}, "environment variable ARCHY_WEBHOOK_URL (the webhook URL) is not set",
                     id="unset"),
        pytest.param({"ARCHY_WEBHOOK_URL": "hooks.slack.com/services/x/y/zzSecret"},
                     "environment variable ARCHY_WEBHOOK_URL does not hold an http(s) URL",
                     id="not-a-url"),
    ],
)  # fmt: skip
def test_webhook_url_problems_are_reported(env, error, caplog, digest):
    [result] = send(digest, _notify({"webhook": {}}, env))
    assert not result.ok and result.error == error
    assert "zzSecret" not in caplog.text and "zzSecret" not in repr(result)


def test_channels_are_independent(receiver, closed_port, digest):
    hook = receiver(200)
    email_part = _email(closed_port)
    settings = NotifySettings(email=email_part.email, webhook=_webhook(hook.url).webhook)
    results = send(digest, settings)
    assert [(r.channel, r.ok) for r in results] == [("email", False), ("webhook", True)]
    assert len(hook.requests) == 1


def test_failure_notice_is_sent_like_a_digest(smtp_server, receiver):
    server, hook = smtp_server(), receiver(200)
    notice = failure_notice("Main Workspace", "workato_sync", "run-9", "boom", None)
    settings = NotifySettings(
        email=_email(server.port, login=False).email, webhook=_webhook(hook.url).webhook, on=()
    )
    assert [r.ok for r in send(notice, settings)] == [True, True]
    assert server.messages[0].message["Subject"] == notice.subject
    assert json.loads(hook.requests[0].body)["text"] == notice.subject


def test_send_without_a_digest_sends_nothing(receiver):
    hook = receiver(200)
    assert send(None, _webhook(hook.url)) == []
    assert hook.requests == []


def test_settings_objects_are_safe_to_print():
    settings = NotifySettings(
        email=EmailSettings("h", 25, "none", "a@b.c", ("d@e.f",), password=SecretStr(PASSWORD)),
        webhook=WebhookSettings("H", SecretStr("https://hooks.example" + HOOK_PATH)),
    )
    text = f"{settings} {settings!r} {settings.email.password}"
    _assert_no_password(text)
    assert HOOK_PATH not in text


def test_yaml_booleans_on_and_off_are_read_as_meant():
    """PyYAML reads the key ``on:`` as true and ``tls: off`` as false."""
    section = yaml.safe_load(
        "email:\n  host: h\n  tls: off\n  sender: a@b.c\n  recipients: [d@e.f]\non: [new_recipe]\n"
    )
    assert True in section  # what PyYAML makes of `on:`
    settings = _notify(section, {})
    assert settings.on == ("new_recipe",)
    assert settings.email is not None and (settings.email.tls, settings.email.port) == ("none", 25)
