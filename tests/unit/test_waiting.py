"""wait_until: the one bounded poll for facts that announce nothing."""

from __future__ import annotations

import time

import pytest

from service.testing.waiting import WaitTimeout, wait_until


def test_returns_the_first_true_value_of_the_condition() -> None:
    answers = iter([None, [], ["abc"]])
    assert wait_until(lambda: next(answers), timeout=5, interval=0, what="a list") == ["abc"]


def test_a_timeout_names_what_was_awaited_and_shows_the_state() -> None:
    started = time.monotonic()
    with pytest.raises(WaitTimeout, match=r"after 0.05 s waiting for the pool full; now: \[1\]"):
        wait_until(
            lambda: False, timeout=0.05, interval=0.01, what="the pool full", show=lambda: [1]
        )
    assert 0.05 <= time.monotonic() - started < 1
    assert issubclass(WaitTimeout, AssertionError)  # a failed test, not an error in it


def test_the_condition_is_asked_once_more_at_the_deadline() -> None:
    asked: list[float] = []

    def slow_to_hold() -> bool:
        asked.append(time.monotonic())
        return len(asked) == 2

    # Polled every 10 s: the first ask fails, the second comes at the 0.05 s deadline.
    assert wait_until(slow_to_hold, timeout=0.05, interval=10, what="the second ask") is True
    assert len(asked) == 2
