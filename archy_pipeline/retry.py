"""Retries, configured in one place for the Workato client and the notifiers (tenacity).

An attempt that may succeed when tried again raises :class:`Transient`, wrapping the error to
report if no attempt succeeds; any other exception ends the call at once, as raised. Between
attempts the policy waits as ``wait`` says, or as the server asked (``Retry-After``, carried
by :attr:`Transient.retry_after`). It stops after ``attempts`` tries, or, with a ``deadline``,
before a wait that would end past it; ``give_up`` then turns the last failure into the
exception raised.

No Dagster import.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from tenacity import (
    RetryCallState,
    Retrying,
    retry_if_exception_type,
    stop_after_attempt,
    stop_before_delay,
    wait_chain,
    wait_exponential,
    wait_fixed,
    wait_none,
    wait_random_exponential,
)
from tenacity.nap import sleep as _sleep
from tenacity.stop import stop_base
from tenacity.wait import wait_base

__all__ = ["Transient", "backoff", "delays", "retrying", "wait_retry_after"]


class Transient(Exception):
    """An attempt failed in a way worth retrying; ``error`` is what to report if none succeeds.

    ``retry_after`` is the wait in seconds the server asked for (a 429's ``Retry-After``).
    """

    def __init__(self, error: Exception, retry_after: float | None = None) -> None:
        super().__init__(str(error))
        self.error = error
        self.retry_after = retry_after


def backoff(first: float, most: float) -> wait_base:
    """Exponential backoff with jitter: retry ``n`` waits a random time between half and all
    of ``min(most, first * 2 ** (n - 1))``, so clients that failed together spread out."""
    half = wait_exponential(multiplier=first / 2, max=most / 2)
    return half + wait_random_exponential(multiplier=first / 2, max=most / 2)


def delays(seconds: Sequence[float]) -> wait_base:
    """Retry ``n`` waits ``seconds[n - 1]`` (the last entry for any later retry)."""
    return wait_chain(*(wait_fixed(s) for s in seconds)) if seconds else wait_none()


class wait_retry_after(wait_base):  # lower case like tenacity's own wait strategies
    """The wait the server asked for (:attr:`Transient.retry_after`), else ``planned``'s.

    With ``at_least_planned`` the server's ask can only lengthen the planned wait.
    """

    def __init__(self, planned: wait_base, *, at_least_planned: bool = False) -> None:
        self.planned = planned
        self.at_least_planned = at_least_planned

    def __call__(self, retry_state: RetryCallState) -> float:
        outcome = retry_state.outcome
        asked = getattr(outcome.exception() if outcome else None, "retry_after", None)
        if asked is None:
            return self.planned(retry_state)
        if self.at_least_planned:
            return max(self.planned(retry_state), asked)
        return asked


def retrying(
    *,
    attempts: int,
    wait: wait_base,
    give_up: Callable[[Transient, int, float], BaseException],
    deadline: float | None = None,
    on_retry: Callable[[Transient, int, float], None] | None = None,
    sleep: Callable[[float], None] = _sleep,
) -> Retrying:
    """The retry policy: call it with the attempt function and its arguments.

    Args:
        attempts: tries in all, the first included.
        wait: the pause before each retry (see :func:`backoff`, :func:`delays`,
            :class:`wait_retry_after`).
        give_up: ``(last failure, attempts made, seconds since the first began)`` -> the
            exception to raise when the policy stops.
        deadline: seconds; no retry starts whose wait would end past it.
        on_retry: ``(failure, attempt number, wait)`` before each pause, e.g. to log it.
        sleep: how to pause (tests pass a recorder).
    """
    stop: stop_base = stop_after_attempt(attempts)
    if deadline is not None:
        stop = stop | stop_before_delay(deadline)

    def before_sleep(state: RetryCallState) -> None:
        if on_retry is not None:
            on_retry(_failure(state), state.attempt_number, state.upcoming_sleep)

    def stopped(state: RetryCallState) -> None:
        failure = _failure(state)
        raise give_up(failure, state.attempt_number, state.seconds_since_start or 0.0) from None

    return Retrying(
        stop=stop,
        wait=wait,
        retry=retry_if_exception_type(Transient),
        sleep=sleep,
        before_sleep=before_sleep,
        retry_error_callback=stopped,
    )


def _failure(state: RetryCallState) -> Transient:
    error = state.outcome.exception() if state.outcome else None
    assert isinstance(error, Transient)  # only Transient failures are retried
    return error
