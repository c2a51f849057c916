"""Runs the gateway starts and does not wait for (Judge0's ``wait=false``), counted so
that shutdown can let them finish."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import trio


class Background:
    def __init__(self, nursery: trio.Nursery) -> None:
        self._nursery = nursery
        self._pending = 0
        self._idle = trio.Event()
        self._idle.set()

    @property
    def pending(self) -> int:
        return self._pending

    def start(self, fn: Callable[[], Awaitable[object]]) -> None:
        """Run ``fn()`` in the gateway's nursery; it must handle its own errors."""
        if self._pending == 0:
            self._idle = trio.Event()
        self._pending += 1

        async def run() -> None:
            try:
                await fn()
            finally:
                self._pending -= 1
                if self._pending == 0:
                    self._idle.set()

        self._nursery.start_soon(run)

    async def wait_idle(self) -> None:
        await self._idle.wait()
