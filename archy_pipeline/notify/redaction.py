"""Keeping secrets (the SMTP password, the webhook URL's path) out of errors and log records."""

from __future__ import annotations

import base64
import logging
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any
from urllib.parse import urlsplit


def _public_part(url: str) -> str:
    """``scheme://host[:port]`` of a URL, or "" when it has none."""
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
        port = parts.port
    except ValueError:
        return ""
    if not parts.scheme or not host:
        return ""
    host = f"[{host}]" if ":" in host else host
    return f"{parts.scheme}://{host}" + (f":{port}" if port else "")


def _url_secrets(url: str) -> list[str]:
    """Every piece of the URL but its scheme and host, longest first."""
    if not url:
        return []
    secrets = [url]
    try:
        parts = urlsplit(url)
        secrets += [parts.path, parts.query, parts.fragment, parts.password or ""]
        public = _public_part(url)
        if public and url.startswith(public):
            secrets.append(url[len(public) :])
    except ValueError:
        pass
    return sorted({s for s in secrets if s and s not in ("/", "?")}, key=len, reverse=True)


def _login_secrets(username: str, password: str) -> list[str]:
    """The password and the forms AUTH PLAIN / AUTH LOGIN send it in."""
    if not password:
        return []
    forms = [
        password,
        base64.b64encode(password.encode()).decode(),
        base64.b64encode(f"\0{username}\0{password}".encode()).decode(),
    ]
    return sorted(set(forms), key=len, reverse=True)


def _redact(text: str, secrets: Sequence[str], mask: str = "***") -> str:
    for secret in secrets:
        if secret:
            text = text.replace(secret, mask)
    return text


class _RedactFilter(logging.Filter):
    """Masks secrets in the records of a library's logger (httpx logs every request's URL)."""

    def __init__(self, replacements: Sequence[tuple[str, str]]) -> None:
        super().__init__()
        self.replacements = [(secret, mask) for secret, mask in replacements if secret]

    def _clean(self, value: Any) -> Any:
        if isinstance(value, (int, float)) or value is None:
            return value
        text = str(value)
        if not any(secret in text for secret, _ in self.replacements):
            return value
        for secret, mask in self.replacements:
            text = text.replace(secret, mask)
        return text

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg = self._clean(record.msg)
        if isinstance(record.args, tuple):
            record.args = tuple(self._clean(a) for a in record.args)
        elif isinstance(record.args, Mapping):
            record.args = {k: self._clean(v) for k, v in record.args.items()}
        return True


@contextmanager
def _redacted_logs(names: Sequence[str], replacements: Sequence[tuple[str, str]]) -> Iterator[None]:
    """Mask ``(secret, mask)`` pairs in these loggers' records while the block runs."""
    log_filter = _RedactFilter(replacements)
    loggers = [logging.getLogger(name) for name in names]
    for each in loggers:
        each.addFilter(log_filter)
    try:
        yield
    finally:
        for each in loggers:
            each.removeFilter(log_filter)
