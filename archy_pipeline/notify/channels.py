"""Delivery: :func:`send` hands a :class:`~archy_pipeline.notify.messages.Digest` to every
configured channel (SMTP, a Slack-compatible webhook), each on its own, and never raises."""

from __future__ import annotations

import logging
import smtplib
import ssl
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import formatdate, make_msgid, parseaddr
from urllib.parse import urlsplit

import httpx

from archy_pipeline.notify.messages import Digest, _one_line
from archy_pipeline.notify.redaction import (
    _login_secrets,
    _redact,
    _redacted_logs,
    _url_secrets,
)
from archy_pipeline.notify.settings import EmailSettings, NotifySettings, WebhookSettings
from archy_pipeline.retry import Transient, delays, retrying, wait_retry_after

# The package's logger, as before the package was split: log settings name archy_pipeline.notify.
logger = logging.getLogger(__package__)

SMTP_TIMEOUT = 30.0
WEBHOOK_TIMEOUT = 10.0
#: Pauses before the webhook's retries (one retry per entry) on 5xx, 429 or connection errors.
WEBHOOK_RETRY_DELAYS: tuple[float, ...] = (1.0, 3.0)
#: Longest wait a 429's Retry-After may ask for.
MAX_RETRY_AFTER = 10.0


# ---------------------------------------------------------------------- delivery


@dataclass(frozen=True)
class DeliveryResult:
    channel: str  # "email" | "webhook"
    ok: bool
    error: str | None = None
    #: Where it went: "host:port" for email, scheme://host for the webhook (never a secret).
    target: str = ""
    attempts: int = 1


class _Failure(Exception):
    def __init__(self, reason: str, attempts: int = 1) -> None:
        super().__init__(reason)
        self.attempts = attempts


def send(digest: Digest | None, settings: NotifySettings | None) -> list[DeliveryResult]:
    """Deliver ``digest`` by every configured channel, each on its own; never raises.

    A delivery that fails is logged as a warning naming the channel and the reason, and
    returned with ``ok=False``.
    """
    if digest is None or settings is None:
        return []
    results = []
    if settings.email is not None:
        results.append(_deliver("email", settings.email, digest))
    if settings.webhook is not None:
        results.append(_deliver("webhook", settings.webhook, digest))
    return results


def _deliver(
    channel: str, settings: EmailSettings | WebhookSettings, digest: Digest
) -> DeliveryResult:
    target = channel
    secrets: list[str] | None = None  # None: not known, so no error text may be shown
    try:
        target = settings.target
        if isinstance(settings, EmailSettings):
            secrets = _login_secrets(
                settings.username.get_secret_value(), settings.password.get_secret_value()
            )
            attempts = _send_email(digest, settings)
        else:
            secrets = _url_secrets(settings.url.get_secret_value())
            attempts = _send_webhook(digest, settings)
    except Exception as error:
        attempts = getattr(error, "attempts", 1)
        if secrets is None:
            reason = f"{type(error).__name__} (details withheld: they may hold a secret)"
        else:
            reason = str(error) if isinstance(error, _Failure) else _describe(error)
            reason = _redact(reason, secrets)
        try:
            logger.warning("archy notification by %s to %s failed: %s", channel, target, reason)
        except Exception:  # pragma: no cover - a broken log handler must not fail the sync
            pass
        return DeliveryResult(channel, False, reason, target, attempts)
    try:
        logger.info("archy notification sent by %s to %s: %s", channel, target, digest.subject)
    except Exception:  # pragma: no cover
        pass
    return DeliveryResult(channel, True, None, target, attempts)


def _describe(error: BaseException) -> str:
    text = str(error).strip()
    return f"{type(error).__name__}: {text}" if text else type(error).__name__


def _send_email(digest: Digest, email: EmailSettings) -> int:
    username, password = email.username.get_secret_value(), email.password.get_secret_value()
    if email.login_required and not username:
        raise _Failure(f"environment variable {email.username_env} (the SMTP user) is not set")
    if username and not password:
        raise _Failure(f"environment variable {email.password_env} (the SMTP password) is not set")
    sender = parseaddr(email.sender)[1]
    message = EmailMessage()
    message["Subject"] = digest.subject
    message["From"] = email.sender
    message["To"] = ", ".join(email.recipients)
    message["Date"] = formatdate(usegmt=True)
    message["Message-ID"] = make_msgid("archy", domain=sender.rpartition("@")[2] or None)
    message["Auto-Submitted"] = "auto-generated"
    message.set_content(digest.text)
    if digest.html:
        message.add_alternative(digest.html, subtype="html")
    context = ssl.create_default_context()
    if email.tls == "ssl":
        client: smtplib.SMTP = smtplib.SMTP_SSL(
            email.host, email.port, timeout=SMTP_TIMEOUT, context=context
        )
    else:
        client = smtplib.SMTP(email.host, email.port, timeout=SMTP_TIMEOUT)
    with client:
        if email.tls == "starttls":
            client.starttls(context=context)
        if username:
            client.login(username, password)
        refused = client.send_message(
            message, from_addr=sender, to_addrs=[parseaddr(r)[1] for r in email.recipients]
        )
    if refused:
        logger.warning(
            "archy notification by email to %s: %d recipient(s) refused: %s",
            email.target,
            len(refused),
            ", ".join(sorted(refused)),
        )
    return 1


def _send_webhook(digest: Digest, hook: WebhookSettings) -> int:
    url = hook.url.get_secret_value()
    if not url:
        raise _Failure(f"environment variable {hook.url_env} (the webhook URL) is not set")
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise _Failure(f"environment variable {hook.url_env} does not hold an http(s) URL")
    secrets = _url_secrets(url)
    attempts = 0

    def post(client: httpx.Client) -> int:
        nonlocal attempts
        attempts += 1
        try:
            response = client.post(
                url,
                json=digest.slack_payload,
                headers={"User-Agent": "archy-pipeline"},
            )
        except (httpx.TimeoutException, httpx.NetworkError, httpx.RemoteProtocolError) as e:
            raise Transient(_Failure(_redact(_describe(e), secrets))) from None
        except httpx.HTTPError as e:
            raise _Failure(_redact(_describe(e), secrets), attempts) from None
        if response.is_success:
            return attempts
        body = _one_line(response.text)[:200]
        reason = _redact(f"HTTP {response.status_code}" + (f": {body}" if body else ""), secrets)
        if response.status_code == 429:
            raise Transient(_Failure(reason), retry_after=_retry_after(response))
        if response.status_code >= 500:
            raise Transient(_Failure(reason))
        raise _Failure(_after(reason, attempts), attempts)

    def on_retry(failure: Transient, attempt: int, wait: float) -> None:
        logger.info(
            "archy notification by webhook to %s: %s; retrying in %.1fs", hook.target, failure, wait
        )

    policy = retrying(
        attempts=len(WEBHOOK_RETRY_DELAYS) + 1,
        wait=wait_retry_after(delays(WEBHOOK_RETRY_DELAYS), at_least_planned=True),
        on_retry=on_retry,
        give_up=lambda failure, tries, _: _Failure(_after(str(failure), tries), tries),
    )
    with (
        _redacted_logs(("httpx", "httpcore"), [(url, hook.target)] + [(s, "***") for s in secrets]),
        httpx.Client(timeout=WEBHOOK_TIMEOUT, follow_redirects=False) as client,
    ):
        return policy(post, client)


def _after(reason: str, attempts: int) -> str:
    return f"{reason} (after {attempts} attempt{'s' if attempts > 1 else ''})"


def _retry_after(response: httpx.Response) -> float:
    try:
        return min(float(response.headers.get("Retry-After", "0")), MAX_RETRY_AFTER)
    except ValueError:
        return 0.0
