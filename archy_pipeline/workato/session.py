"""The one request the Workato client makes: a GET, paced, retried, and turned into an error
that says what to do.

:class:`WorkatoSession` holds what every request shares: the httpx client with the token and the
GET-only transport, the pacing per endpoint family and the retry settings. It gives the client
its guarantees:

* **Read-only by construction.** The only request the client can make is a GET: its transport
  refuses every other method before a byte leaves the process.
* **The token stays secret.** It lives in a pydantic ``SecretStr`` and is added to each
  request by an auth hook; no message, log record, repr or exception of this module contains it.
* **Steady syncs never trip a 429.** Requests are paced per endpoint family at Workato's
  published quotas (60 requests per minute by default; raise them for enterprise quotas).
  Each family has its own budget (reference §1.4), so threads calling different families
  (a sync's folder walk and its recipe listing) never wait for each other, and threads
  calling the same family share its one budget: the session is safe to share between threads.
* **Transient failures are retried** (429 honouring ``Retry-After``; 5xx, timeouts, resets and
  truncated bodies with exponential backoff and jitter), with bounded attempts and a total
  deadline, then end in an error that says what to do. The policy is
  :func:`archy_pipeline.retry.retrying` (tenacity).

The endpoints read through it (the workspace's identity, recipes, connections, folders,
projects, jobs, the activity log) are :class:`archy_pipeline.workato.client.WorkatoClient`.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import Counter
from collections.abc import Callable
from typing import Any, TypeVar
from urllib.parse import urlsplit

import httpx
from pydantic import SecretStr

from archy_pipeline.retry import Transient, backoff, retrying, wait_retry_after
from archy_pipeline.workato import json_tree
from archy_pipeline.workato.errors import (
    WorkatoAccessDeniedError,
    WorkatoAuthenticationError,
    WorkatoBadRequestError,
    WorkatoConfigError,
    WorkatoError,
    WorkatoNotFoundError,
    WorkatoRateLimitError,
    WorkatoResponseError,
    WorkatoServerError,
    WorkatoUnreachableError,
)
from archy_pipeline.workato.transport import (
    DEFAULT_REQUESTS_PER_MINUTE,
    MAX_TIMEOUT_SECONDS,
    TOKEN_ENV_VAR,
    BearerAuth,
    RateLimiter,
    ReadOnlyTransport,
    endpoint_family,
    message_of,
    parse_retry_after,
    resolve_base_url,
)

log = logging.getLogger(__name__)

_Session = TypeVar("_Session", bound="WorkatoSession")


class WorkatoSession:
    """An authenticated, paced, retried, GET-only session with the Workato Developer API.

    Args:
        api_token: the API client token (sent as ``Authorization: Bearer``).
        data_center: us, eu, jp, sg, au, il, kr, cn or trial.
        base_url: full API base URL; wins over ``data_center`` (tests point it at the
            simulator, Virtual Private Workato customers at their own host).
        user_email, user_id: when set, :meth:`WorkatoClient.verify_identity` checks the token
            belongs to that workspace.
        timeout_seconds: per-request timeout, at most 40 s (Workato's own limit).
        max_attempts: attempts per request, retries included.
        deadline_seconds: total time one request may take, waits and retries included.
        requests_per_minute: quota per endpoint family (an int for all, or a dict by family:
            users, recipes, connections, folders, jobs); ``0`` turns pacing off.
        rate_window_seconds: the length of Workato's "minute" (tests shrink it together with
            the simulator's time scale).
        backoff_seconds: first backoff; doubles each retry, capped at ``max_backoff_seconds``.
    """

    def __init__(
        self,
        api_token: str | SecretStr,
        *,
        data_center: str | None = "us",
        base_url: str | None = None,
        user_email: str | None = None,
        user_id: int | None = None,
        timeout_seconds: float = 30.0,
        max_attempts: int = 6,
        deadline_seconds: float = 600.0,
        requests_per_minute: int | dict[str, int] | None = None,
        rate_window_seconds: float = 60.0,
        backoff_seconds: float = 1.0,
        max_backoff_seconds: float = 60.0,
        transport: httpx.BaseTransport | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        token = api_token if isinstance(api_token, SecretStr) else SecretStr(api_token or "")
        if not token.get_secret_value():
            raise WorkatoConfigError(
                f"no Workato API token: set {TOKEN_ENV_VAR} to an API client token "
                "(Workspace admin > API clients)"
            )
        if not 0 < timeout_seconds <= MAX_TIMEOUT_SECONDS:
            raise WorkatoConfigError(
                f"timeout_seconds must be between 0 and {MAX_TIMEOUT_SECONDS:g} "
                f"(Workato cuts requests off after 40 s), got {timeout_seconds}"
            )
        if max_attempts < 1:
            raise WorkatoConfigError("max_attempts must be at least 1")
        self.base_url = resolve_base_url(data_center, base_url)
        self.user_email = user_email
        self.user_id = user_id
        self.max_attempts = max_attempts
        self.deadline_seconds = deadline_seconds
        self.backoff_seconds = backoff_seconds
        self.max_backoff_seconds = max_backoff_seconds
        if isinstance(requests_per_minute, dict):
            quotas = {**DEFAULT_REQUESTS_PER_MINUTE, **requests_per_minute}
        elif requests_per_minute is None:
            quotas = dict(DEFAULT_REQUESTS_PER_MINUTE)
        else:
            quotas = {family: requests_per_minute for family in DEFAULT_REQUESTS_PER_MINUTE}
        self.rate_limiter = RateLimiter(quotas, rate_window_seconds, sleep)
        self._sleep = sleep
        #: Requests sent, by endpoint family (retries included).
        self.request_counts: Counter[str] = Counter()
        self._count_lock = threading.Lock()
        self._http = httpx.Client(
            base_url=self.base_url,
            auth=BearerAuth(token),
            timeout=httpx.Timeout(timeout_seconds),
            transport=ReadOnlyTransport(transport or httpx.HTTPTransport()),
            headers={"Accept": "application/json", "User-Agent": "archy-pipeline"},
            follow_redirects=False,
        )

    def __repr__(self) -> str:
        return f"{type(self).__name__}(base_url={self.base_url!r}, api_token='***')"

    def close(self) -> None:
        self._http.close()

    def __enter__(self: _Session) -> _Session:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def host(self) -> str:
        return urlsplit(self.base_url).netloc

    # ------------------------------------------------------------------ the one request method
    def get(self, path: str, params: dict[str, Any] | None = None) -> Any:
        """GET ``path`` (relative to the API base) and return the decoded JSON body.

        Retries what is worth retrying and raises a :class:`WorkatoError` subclass otherwise.
        The retry settings are read at each call (a sensor may shorten them on a client).
        """
        where = f"GET /api{path}"

        def on_retry(failure: Transient, attempt: int, wait: float) -> None:
            error = failure.error
            assert isinstance(error, WorkatoError)
            log.warning(
                "Workato %s failed (%s); retry %d/%d in %.2f s",
                where,
                type(error).__name__ if error.status is None else error.status,
                attempt,
                self.max_attempts - 1,
                wait,
            )

        policy = retrying(
            attempts=self.max_attempts,
            deadline=self.deadline_seconds,
            wait=wait_retry_after(backoff(self.backoff_seconds, self.max_backoff_seconds)),
            on_retry=on_retry,
            give_up=_gave_up,
            sleep=self._sleep,
        )
        return policy(self._get_once, path, params, where)

    def _get_once(self, path: str, params: dict[str, Any] | None, where: str) -> Any:
        """One attempt: the decoded body, :class:`Transient` for what a retry may cure, or the
        error of a request that no retry can fix."""
        family = endpoint_family(path)
        self.rate_limiter.acquire(family)
        with self._count_lock:  # threads share a session (a sync walks folders in one)
            self.request_counts[family] += 1
        try:
            response = self._http.get(path, params=_clean(params))
        except httpx.TimeoutException as exc:
            raise Transient(
                WorkatoUnreachableError(
                    f"Workato at {self.host} did not answer {where} in time "
                    f"({type(exc).__name__}). Check the network, firewall, proxy or VPN "
                    "between this machine and Workato, and the data center setting.",
                    path=path,
                )
            ) from None
        except httpx.TransportError as exc:
            raise Transient(
                WorkatoUnreachableError(
                    f"Cannot reach Workato at {self.host} for {where} ({type(exc).__name__}: "
                    f"{_safe_text(exc)}). Check the network, firewall, proxy or VPN, and the "
                    "data center / WORKATO_BASE_URL setting.",
                    path=path,
                )
            ) from None
        status = response.status_code
        if status == 200:
            try:
                # Not response.json(): the standard decoder recurses, and one value nested
                # ~1,000 levels deep anywhere in a page (a recipe's config) would fail the
                # whole sync with a RecursionError. The sync stores such a value as text.
                return json_tree.loads(response.content)
            except ValueError:
                if _looks_like_a_page(response):  # no retry makes a web page the API
                    raise WorkatoResponseError(
                        f"{self.host} answered {where} with a web page "
                        f"({response.headers.get('Content-Type') or 'no content type'}), "
                        "not Workato's JSON API: check the data center / base URL setting "
                        "(a sign-in page, a proxy's or a captive portal's page answers here).",
                        status=status,
                        path=path,
                    ) from None
                raise Transient(
                    WorkatoResponseError(
                        f"Workato answered {where} with a body that is not complete JSON "
                        f"({len(response.content)} bytes); the answer may have been cut "
                        "off by a proxy.",
                        status=status,
                        path=path,
                    )
                ) from None
        if status == 429:
            raise Transient(
                WorkatoRateLimitError(
                    f"Workato kept answering 429 Too Many Requests to {where}. Another "
                    "tool may share this workspace's API quota; lower requests_per_minute "
                    "or run the sync later.",
                    status=status,
                    path=path,
                ),
                retry_after=parse_retry_after(response.headers.get("Retry-After")),
            )
        if status >= 500:
            body_id = _error_id(response)
            raise Transient(
                WorkatoServerError(
                    f"Workato answered {status} {response.reason_phrase} to {where}"
                    + (f" (error id {body_id})" if body_id else "")
                    + ". Workato may be having an incident: check status.workato.com "
                    "and try again later.",
                    status=status,
                    path=path,
                )
            )
        raise self._client_error(response, path, where)

    def _client_error(self, response: httpx.Response, path: str, where: str) -> WorkatoError:
        status = response.status_code
        said = message_of(response)
        quoted = f' Workato said: "{said}".' if said else ""
        if status == 401:
            return WorkatoAuthenticationError(
                f"Workato authentication failed (401 Unauthorized) for {where}: the API token "
                "is wrong, expired or revoked. Generate a new API client token in Workspace "
                f"admin > API clients and update {TOKEN_ENV_VAR} (or the variable token_env "
                "names), or store it with `archy-pipeline connect --rotate`.",
                status=status,
                path=path,
            )
        if status == 403:
            # Workato does not document the text of its 403s (a plan without API access is
            # one of them), so the message names every cause and quotes what Workato said.
            return WorkatoAccessDeniedError(
                f"Access denied (403 Forbidden) to {where}: the API client's role or project "
                f"scope does not include this resource.{quoted} In Workspace admin > API "
                "clients, give the client's role this privilege or add the project to its "
                "scope. If every request is refused, the workspace's plan may not include the "
                "Developer API: ask your Workato account team.",
                status=status,
                path=path,
            )
        if status == 404:
            return WorkatoNotFoundError(
                f"Not found (404) for {where}: it does not exist or is hidden from this API "
                f"client.{quoted}",
                status=status,
                path=path,
            )
        if status == 400:
            return WorkatoBadRequestError(
                f"Workato refused the request {where} (400 Bad Request).{quoted}",
                status=status,
                path=path,
            )
        return WorkatoError(
            f"Workato answered {status} {response.reason_phrase} to {where}.{quoted}",
            status=status,
            path=path,
        )


def _clean(params: dict[str, Any] | None) -> dict[str, Any]:
    """Drop unset parameters and spell booleans as the API does."""
    out: dict[str, Any] = {}
    for key, value in (params or {}).items():
        if value is None:
            continue
        out[key] = ("true" if value else "false") if isinstance(value, bool) else value
    return out


def _error_id(response: httpx.Response) -> str | None:
    try:
        body = json_tree.loads(response.content)
    except ValueError:
        return None
    return str(body.get("id")) if isinstance(body, dict) and body.get("id") else None


def _gave_up(failure: Transient, attempts: int, elapsed: float) -> WorkatoError:
    """The last failure, saying how long the client tried."""
    error = failure.error
    assert isinstance(error, WorkatoError)
    reason = f"gave up after {attempts} attempt{'s' if attempts > 1 else ''} in {elapsed:.1f} s"
    return type(error)(f"{error} ({reason})", status=error.status, path=error.path)


def _safe_text(exc: Exception) -> str:
    text = str(exc) or type(exc).__name__
    return text[:200]


def _looks_like_a_page(response: httpx.Response) -> bool:
    """An HTML (or XML) document rather than JSON that was cut off on the way."""
    kind = response.headers.get("Content-Type", "").split(";")[0].strip().lower()
    if kind in {"text/html", "application/xhtml+xml", "text/xml", "application/xml"}:
        return True
    return response.content.lstrip()[:1] == b"<"
