"""The client's transport: data centers, the bearer auth hook, the GET-only transport, pacing per
endpoint family, Retry-After parsing and time formats of the Workato API."""

from __future__ import annotations

import email.utils
import re
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from datetime import datetime, timezone
from urllib.parse import urlsplit

import httpx
from pydantic import SecretStr

from archy_pipeline.workato import json_tree
from archy_pipeline.workato.errors import WorkatoConfigError, WorkatoReadOnlyError

#: API base URL per data center (reference §1.1).
DATA_CENTERS: dict[str, str] = {
    "us": "https://www.workato.com/api",
    "eu": "https://app.eu.workato.com/api",
    "jp": "https://app.jp.workato.com/api",
    "sg": "https://app.sg.workato.com/api",
    "au": "https://app.au.workato.com/api",
    "il": "https://app.il.workato.com/api",
    "kr": "https://app.kr.workato.com/api",
    "cn": "https://app.workatoapp.cn/api",
    "trial": "https://app.trial.workato.com/api",
}

#: Workato cuts every API request off after 40 seconds (reference §1.2).
MAX_TIMEOUT_SECONDS = 40.0

#: Endpoint families and their default quota, requests per minute (reference §1.4).
DEFAULT_REQUESTS_PER_MINUTE: dict[str, int] = {
    "users": 60,
    "recipes": 60,
    "connections": 60,
    "folders": 60,
    "jobs": 60,
    # Environment management: tags, activity logs, secrets cache (reference §1.4).
    "environment_management": 60,
}

TOKEN_ENV_VAR = "WORKATO_API_TOKEN"
MAX_PER_PAGE = 100


# ---------------------------------------------------------------------- transport


class BearerAuth(httpx.Auth):
    def __init__(self, token: SecretStr) -> None:
        self._token = token

    def auth_flow(self, request: httpx.Request) -> Iterator[httpx.Request]:
        request.headers["Authorization"] = f"Bearer {self._token.get_secret_value()}"
        yield request

    def __repr__(self) -> str:
        return "BearerAuth(token='***')"


class ReadOnlyTransport(httpx.BaseTransport):
    """Refuses every method but GET, so the client cannot write to a workspace."""

    def __init__(self, inner: httpx.BaseTransport) -> None:
        self._inner = inner

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        if request.method != "GET":
            raise WorkatoReadOnlyError(
                f"refused to send {request.method} {request.url.path}: archy-pipeline only "
                "reads from Workato",
                path=request.url.path,
            )
        return self._inner.handle_request(request)

    def close(self) -> None:
        self._inner.close()


# ---------------------------------------------------------------------- pacing


class RateLimiter:
    """Client-side sliding-window pacing per endpoint family.

    ``window_seconds`` is Workato's minute; the limiter keeps a small margin so that network
    jitter between the client's clock and the server's never pushes a request over quota.
    Thread-safe: each family's window is one budget shared by every thread, and a thread
    waiting for one family never holds up another family's requests.
    """

    MARGIN = 1.05

    def __init__(
        self,
        per_window: dict[str, int],
        window_seconds: float = 60.0,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.per_window = dict(per_window)
        self.window = window_seconds * self.MARGIN
        self._sent: dict[str, deque[float]] = {}
        self._lock = threading.Lock()
        self._sleep = sleep
        self.waited = 0.0

    def acquire(self, family: str) -> None:
        limit = self.per_window.get(family)
        if not limit:
            return
        while True:
            with self._lock:
                now = time.monotonic()
                sent = self._sent.setdefault(family, deque())
                while sent and sent[0] <= now - self.window:
                    sent.popleft()
                if len(sent) < limit:
                    sent.append(now)
                    return
                wait = sent[0] + self.window - now
                self.waited += wait
            self._sleep(wait)


def endpoint_family(path: str) -> str:
    if path.startswith("/users"):
        return "users"
    if path.startswith("/connections"):
        return "connections"
    if path.startswith(("/folders", "/projects")):
        return "folders"
    if path.startswith("/activity_logs"):
        return "environment_management"
    if re.match(r"^/recipes/\d+/jobs", path):
        return "jobs"
    return "recipes"


def parse_retry_after(value: str | None, now: float | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header: delta-seconds or an HTTP date."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    current = now if now is not None else time.time()
    return max(0.0, when.timestamp() - current)


def resolve_base_url(data_center: str | None = "us", base_url: str | None = None) -> str:
    """The API base URL: an explicit ``base_url`` wins over the data center's."""
    if base_url:
        url = base_url.strip().rstrip("/")
        parts = urlsplit(url)
        if parts.scheme not in {"http", "https"} or not parts.netloc:
            raise WorkatoConfigError(
                f"base_url {base_url!r} is not an http(s) URL such as https://www.workato.com/api"
            )
        if parts.path in {"", "/"}:
            url += "/api"
        return url
    key = (data_center or "us").strip().lower()
    if key not in DATA_CENTERS:
        raise WorkatoConfigError(
            f"unknown Workato data center {data_center!r}; expected one of "
            f"{', '.join(DATA_CENTERS)} (or set base_url / WORKATO_BASE_URL)"
        )
    return DATA_CENTERS[key]


def format_log_time(value: datetime) -> str:
    """``YYYY-MM-DDTHH:mm:ss.SSSZ`` in UTC: the activity log's ``from``/``to`` form (§1.2)."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=timezone.utc)
    return value.astimezone(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def format_api_time(value: datetime | str) -> str:
    """``YYYY-MM-DDTHH:MM:SSZ`` in UTC, the form the API documents for time filters."""
    if isinstance(value, str):
        return value
    if value.tzinfo is None:
        value = value.replace(tzinfo=timezone.utc)
    return value.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def message_of(response: httpx.Response) -> str:
    try:
        body = json_tree.loads(response.content)
    except ValueError:
        return response.reason_phrase or ""
    if isinstance(body, dict):
        return str(body.get("message") or body.get("error") or "")
    return ""
