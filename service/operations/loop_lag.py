"""How long the event loop was kept from running: the longest stall, per snapshot.

A task sleeps for a short tick and measures how late it woke; anything that
holds the loop (a long computation on it, a blocking call) shows up as
lateness. The stats snapshot carries the longest stall since the previous
snapshot (``loop_lag_ms``), so an operator sees a request that blocks every
other one, and a test can assert that none does.
"""

from __future__ import annotations

import trio

TICK_S = 0.01


class LoopLag:
    """The event loop's lateness, sampled every ``tick_s``."""

    def __init__(self, tick_s: float = TICK_S) -> None:
        self._tick_s = tick_s
        self._worst_s = 0.0

    def take(self) -> float:
        """The longest stall (ms) since the previous call; resets it."""
        worst, self._worst_s = self._worst_s, 0.0
        return round(worst * 1000, 1)

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        """Measure until cancelled."""
        task_status.started()
        while True:
            before = trio.current_time()
            await trio.sleep(self._tick_s)
            late = trio.current_time() - before - self._tick_s
            self._worst_s = max(self._worst_s, late)
