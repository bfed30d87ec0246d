"""The retry policy shared by the Workato client and the notifiers, with a recording sleep."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from archy_pipeline.retry import Transient, backoff, delays, retrying, wait_retry_after


class GaveUp(Exception):
    pass


def _failing(outcomes: list[Any]) -> Callable[[], Any]:
    """An attempt function that raises or returns ``outcomes`` in turn."""
    calls = iter(outcomes)

    def attempt() -> Any:
        outcome = next(calls)
        if isinstance(outcome, BaseException):
            raise outcome
        return outcome

    return attempt


def _policy(waits: list[float], **kwargs: Any) -> Any:
    kwargs.setdefault("attempts", 3)
    kwargs.setdefault("wait", delays([1.0, 3.0]))
    return retrying(
        give_up=lambda failure, attempts, _: GaveUp(f"{failure} after {attempts}"),
        sleep=waits.append,
        **kwargs,
    )


def test_transient_failures_are_retried_until_an_attempt_succeeds():
    waits: list[float] = []
    retries: list[tuple[str, int, float]] = []
    policy = _policy(waits, on_retry=lambda f, n, w: retries.append((str(f), n, w)))
    attempt = _failing([Transient(ValueError("503")), Transient(ValueError("reset")), "body"])
    assert policy(attempt) == "body"
    assert waits == [1.0, 3.0]
    assert retries == [("503", 1, 1.0), ("reset", 2, 3.0)]


def test_give_up_turns_the_last_failure_into_the_error_raised():
    waits: list[float] = []
    attempt = _failing([Transient(ValueError(str(n))) for n in range(1, 4)])
    with pytest.raises(GaveUp, match=r"^3 after 3$"):
        _policy(waits)(attempt)
    assert waits == [1.0, 3.0]


def test_other_errors_end_the_call_at_once():
    waits: list[float] = []
    with pytest.raises(KeyError):
        _policy(waits)(_failing([Transient(ValueError("503")), KeyError("404")]))
    assert waits == [1.0]


@pytest.mark.parametrize(
    ("at_least_planned", "asked", "waited"),
    [
        pytest.param(False, 0.25, [0.25], id="the-server-ask-replaces-the-plan"),
        pytest.param(True, 0.25, [1.0], id="a-shorter-ask-keeps-the-plan"),
        pytest.param(True, 7.0, [7.0], id="a-longer-ask-wins"),
        pytest.param(True, None, [1.0], id="no-ask-keeps-the-plan"),
    ],
)
def test_retry_after(at_least_planned, asked, waited):
    waits: list[float] = []
    wait = wait_retry_after(delays([1.0]), at_least_planned=at_least_planned)
    policy = _policy(waits, wait=wait)
    assert policy(_failing([Transient(ValueError("429"), retry_after=asked), "ok"])) == "ok"
    assert waits == waited


def test_deadline_stops_before_a_wait_that_would_pass_it():
    waits: list[float] = []
    attempt = _failing([Transient(ValueError(str(n))) for n in range(1, 10)])
    policy = _policy(waits, attempts=9, wait=delays([1.0, 2.0, 8.0]), deadline=6.5)
    # The recorded sleeps take no time, so the 8 s wait alone would end past the deadline.
    with pytest.raises(GaveUp, match=r"^3 after 3$"):
        policy(attempt)
    assert waits == [1.0, 2.0]


def test_backoff_doubles_from_first_up_to_most_with_jitter():
    waits: list[float] = []
    attempt = _failing([Transient(ValueError(str(n))) for n in range(1, 8)] + ["ok"])
    assert _policy(waits, attempts=8, wait=backoff(1.0, 10.0))(attempt) == "ok"
    ceilings = [1.0, 2.0, 4.0, 8.0, 10.0, 10.0, 10.0]
    assert len(waits) == len(ceilings)
    for wait, ceiling in zip(waits, ceilings):
        assert ceiling / 2 <= wait <= ceiling
