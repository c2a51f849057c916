"""Lending pool containers to job flows: one request at a time per container.

``async with lender.session(request) as session`` takes a container from the
pool (one sized for the request when its memory limit differs and Docker cannot
change it live), fits it to the request's first step, and gives it back on exit:
reused when the session left it fit for another job, else replaced. Under gVisor
a sandbox whose Sentry kept too many host tasks is replaced as well.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator

import trio

from docker_api import DockerClient, DockerError, NotFound

from ..config import Settings
from ..errors import AgentError, ContainerLost, PoolUnavailable
from ..requests import ExecuteRequest
from .compile_cache import CompileCache
from .container import CurrentJob, WorkerContainer
from .pool import Pool
from .sentry import host_tasks
from .session import INSPECT_TIMEOUT_S, Session

log = logging.getLogger(__name__)

ACQUIRE_TIMEOUT_S = 60.0


class Lender:
    """Lends pool containers to job flows, one request at a time per container."""

    def __init__(self, docker: DockerClient, pool: Pool, settings: Settings) -> None:
        self._docker = docker
        self._pool = pool
        self.settings = settings
        self.compile_cache = CompileCache(settings.compile_cache_mb << 20)

    async def _acquire_sized(self, memory_mb: int) -> WorkerContainer:
        try:
            return await self._pool.acquire_sized(memory_mb)
        except AgentError as exc:
            raise PoolUnavailable(f"could not start a container for the request: {exc}") from exc

    @contextlib.asynccontextmanager
    async def session(self, request: ExecuteRequest) -> AsyncIterator[Session]:
        """Borrow a container for ``request``; it goes back (or is replaced) on exit.

        Raises:
            PoolUnavailable: no container became available within the acquire timeout.
            DockerError: the container's memory limit could not be fitted to the request.
        """
        container: WorkerContainer | None = None
        with trio.move_on_after(ACQUIRE_TIMEOUT_S):
            if self.settings.live_updates or request.limits.memory_mb == self.settings.memory_mb:
                container = await self._pool.acquire()
            else:
                container = await self._acquire_sized(request.limits.memory_mb)
        if container is None:
            raise PoolUnavailable(self._pool.last_error or "no worker container became available")
        container.current = CurrentJob(request.id, request.language.name, trio.current_time())
        session = Session(self._docker, container, request, self.settings, self.compile_cache)
        try:
            try:
                await session.fit_first_step()
            except NotFound:
                raise session.mark_lost("Docker no longer knows it") from None
            yield session
        except ContainerLost:
            self._pool.lost_before_job += 1
            raise
        finally:
            reason = "unusable"
            if session.reusable and self.settings.tier.user_space_kernel:
                if not await self._sentry_has_room(container):
                    session.reusable, reason = False, "sentry_tasks"
            self._pool.release(container, reusable=session.reusable, reason=reason)

    async def _sentry_has_room(self, container: WorkerContainer) -> bool:
        """Under gVisor: whether the sandbox's host tasks leave room for another job.

        gVisor's Sentry (this runsc, ptrace platform) keeps host tasks of guest
        processes long gone: each job that forks many leaves some behind. A
        sandbox past the ceiling (:meth:`~.tier.Tier.sentry_task_ceiling`) is replaced
        before a later job could take it to its host pids limit, where the
        Sentry would fail to start a thread and the whole sandbox would die.
        """
        with trio.CancelScope(shield=True), trio.move_on_after(INSPECT_TIMEOUT_S):
            try:
                current = await host_tasks(self._docker, container.id)
            except DockerError:
                return False
            if current is not None and current <= self.settings.tier.sentry_task_ceiling(
                self.settings
            ):
                return True
            log.info(
                "container %s: %s host tasks left by gVisor; replaced", container.short_id, current
            )
            return False
        return False
