"""The engine's state and the controls an operator has over it.

``running`` takes work; ``paused`` is unsubscribed from the execute subjects
(queue-group peers take the work); ``draining`` takes nothing new and finishes
what it has. :class:`Control` is what admin requests act on, and what decides
whether durable requests may be pulled.
"""

from __future__ import annotations

import logging

import trio

from wire.admin import EngineState

from ..intake import Intake
from ..sandbox.pool import Pool
from .dispatch import Dispatcher

log = logging.getLogger(__name__)


class Control:
    def __init__(self, intake: Intake, dispatcher: Dispatcher, pool: Pool) -> None:
        self._intake = intake
        self._dispatcher = dispatcher
        self._pool = pool
        self.state = EngineState.RUNNING

    # -- admin ---------------------------------------------------------------------

    def pause(self) -> None:
        self._intake.pause()
        self.state = EngineState.PAUSED

    def resume(self) -> None:
        self._intake.resume()
        self.state = EngineState.RUNNING

    def drain(self) -> None:
        """Take no new work; in-flight and queued jobs finish. ``resume`` undoes it."""
        self._intake.pause()
        self.state = EngineState.DRAINING

    def recycle(self, container: str) -> bool:
        return self._pool.recycle(container)

    def resize(self, workers: int) -> None:
        self._pool.resize(workers)

    # -- for the intake -------------------------------------------------------------

    def has_room(self) -> bool:
        """Durable requests are pulled only while the engine takes work and has room."""
        return (
            self.state is EngineState.RUNNING
            and self._pool.docker_ok
            and self._dispatcher.queued < self._dispatcher.capacity
        )

    # -- shutdown -------------------------------------------------------------------

    async def finish_work(self, grace_s: float) -> None:
        """Take nothing new; let queued and running jobs finish for up to ``grace_s``.

        On timeout or cancellation (a second signal) the queued jobs are answered
        ``internal_error``; running ones are left to :meth:`stop_workers`.
        """
        self.drain()
        finished = False
        try:
            with trio.move_on_after(grace_s):
                await self._dispatcher.drain()
                finished = True
        finally:
            if not finished:
                dropped = self._dispatcher.abandon_queued("the engine is shutting down")
                log.warning(
                    "shutdown grace over: %d queued and %d running jobs answered internal_error",
                    dropped,
                    self._dispatcher.in_flight,
                )

    async def stop_workers(self) -> None:
        """Cut running jobs short (each answered ``internal_error``) and wait for the workers.

        Not to be cut short itself: the answers must be queued before the intake
        flushes and closes.
        """
        self._dispatcher.cancel()
        await self._dispatcher.stopped.wait()
