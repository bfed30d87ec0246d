"""What the Workato client raises: one exception class per kind of failure, each with a message
that says what to do. No message ever contains the token."""

from __future__ import annotations


class WorkatoError(Exception):
    """Base of every error this client raises; ``str()`` is a message a user can act on."""

    def __init__(self, message: str, *, status: int | None = None, path: str | None = None):
        super().__init__(message)
        self.status = status
        self.path = path


class WorkatoConfigError(WorkatoError):
    """The client settings are wrong (unknown data center, timeout over 40 s, no token)."""


class WorkatoAuthenticationError(WorkatoError):
    """401: the token is missing, wrong, expired or revoked."""


class WorkatoAccessDeniedError(WorkatoError):
    """403: the API client's role or project scope does not cover the resource."""


class WorkatoNotFoundError(WorkatoError):
    """404: the resource does not exist (or is hidden from this API client)."""


class WorkatoBadRequestError(WorkatoError):
    """400: the request's parameters were refused."""


class WorkatoRateLimitError(WorkatoError):
    """429 answers kept coming until the attempts or the deadline ran out."""


class WorkatoServerError(WorkatoError):
    """5xx answers kept coming until the attempts or the deadline ran out."""


class WorkatoUnreachableError(WorkatoError):
    """Network errors or timeouts: the host could not be reached."""


class WorkatoResponseError(WorkatoError):
    """The answer was not the JSON the API documents (truncated, wrong envelope)."""


class WorkatoWorkspaceMismatchError(WorkatoError):
    """The token belongs to another workspace than the configured user id or email."""


class WorkatoReadOnlyError(WorkatoError):
    """Something tried to send a request other than GET through the client."""
