"""Waiting on what nothing announces: a bounded poll of the real source of truth.

Tests wait on what the engine publishes as it arrives (stats snapshots with
:func:`service.testing.harness.wait_for_stats`, ``$SRV`` answers, replies
themselves). Some facts come with no message: what Docker runs, what an HTTP
endpoint answers, what a list filled by another thread holds. :func:`wait_until`
is the one way to wait for those: it asks the source itself again and again
until a deadline, and a timeout says what was awaited and what was last seen.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")

INTERVAL_S = 0.05


class WaitTimeout(AssertionError):
    """The condition did not hold in time; the message says what was awaited."""


def wait_until(
    condition: Callable[[], T],
    *,
    timeout: float,
    what: str,
    interval: float = INTERVAL_S,
    show: Callable[[], object] | None = None,
) -> T:
    """Return ``condition()``'s first true value, asking it every ``interval`` seconds.

    Args:
        what: the awaited fact in words, for the error ("the container gone").
        show: called on a timeout to show the state that was not right.
    Raises:
        WaitTimeout: ``condition()`` was not true within ``timeout`` seconds (it is
            asked once more at the deadline, so a slow condition still gets its turn).
    """
    deadline = time.monotonic() + timeout
    while True:
        if value := condition():
            return value
        if time.monotonic() >= deadline:
            seen = f"; now: {show()!r}" if show is not None else ""
            raise WaitTimeout(f"timed out after {timeout} s waiting for {what}{seen}")
        time.sleep(max(0.0, min(interval, deadline - time.monotonic())))
