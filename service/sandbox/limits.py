"""A container's memory limit and CPU share, fitted to each step of a request.

Written to the container's cgroup where the daemon sees it (microseconds, no
Docker call: :mod:`.cgroups`), else through Docker's update. A limit below what
the container holds cannot be set (without swap the kernel cannot reclaim a
process's memory): the agent's warm processes and fork servers, the engine's
and not the job's, are stopped first (``shed``), and the limit is set then.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

import trio

from agent import protocol
from docker_api import DockerClient, DockerError

from ..config import Settings
from ..errors import ContainerLost
from .container import WorkerContainer

log = logging.getLogger(__name__)

SHED_TIMEOUT_S = 5.0  # stopping the warm processes: a few milliseconds


class ContainerLimits:
    """Sets one container's limits; ``kill`` writes the container off when the agent is mute."""

    def __init__(
        self,
        docker: DockerClient,
        container: WorkerContainer,
        settings: Settings,
        kill: Callable[[], Awaitable[None]],
    ) -> None:
        self._docker = docker
        self.container = container
        self._settings = settings
        self._kill = kill

    async def fit(self, memory_mb: int, cpus: float) -> None:
        """Set the container's memory and CPU share (nothing when unchanged).

        Written to the container's cgroup where the daemon sees it (no Docker
        call, :mod:`.cgroups`), else in one Docker call. A limit below what the
        container holds cannot be set (the kernel cannot reclaim a process's
        memory without swap): the agent's warm processes and fork servers, the
        engine's and not the job's, are stopped first (``shed``), and the
        limit is set then.
        """
        container = self.container
        if memory_mb == container.memory_mb and cpus == container.cpus:
            return
        if memory_mb < container.memory_mb and container.cgroup is not None:
            if await self.write_cgroup(memory_mb, cpus, quiet=True):
                container.memory_mb, container.cpus = memory_mb, cpus
                return
            await self._shed()
        if container.cgroup is not None and await self.write_cgroup(memory_mb, cpus):
            container.memory_mb, container.cpus = memory_mb, cpus
            return
        update: dict[str, int] = {}
        if memory_mb != container.memory_mb:
            update["Memory"] = update["MemorySwap"] = memory_mb << 20
        if cpus != container.cpus:
            period_us = self._settings.cpu_period_ms * 1000
            update["CpuPeriod"], update["CpuQuota"] = period_us, int(period_us * cpus)
        try:
            try:
                await self._docker.containers.update(container.id, update)
            except DockerError:
                if memory_mb >= container.memory_mb:
                    raise
                await self._shed()
                await self._docker.containers.update(container.id, update)
        except DockerError as exc:
            # A container whose limits are unknown is not handed out again.
            log.warning("could not set the limits of %s: %s", container.short_id, exc)
            container.dead = True
            raise
        container.memory_mb, container.cpus = memory_mb, cpus

    async def _shed(self) -> None:
        """Have the agent stop its warm processes and fork servers (their memory is not the job's).

        Raises:
            ContainerLost: no answer in time; nothing of the job ran.
        """
        with trio.move_on_after(SHED_TIMEOUT_S) as scope:
            await self.container.link.request(protocol.Shed(), protocol.Pong)
        if scope.cancelled_caught:
            await self._kill()
            raise ContainerLost(self.container.id, "no answer to shed in time")

    async def write_cgroup(self, memory_mb: int, cpus: float, *, quiet: bool = False) -> bool:
        """Write the limits to the container's cgroup; False: not written.

        A failed write leaves the container to Docker from then on (Docker's
        update sets every limit again, whatever a write changed before it
        failed), but with ``quiet``: a first try at a lower limit, which the
        caller makes room for and tries again.
        """
        container, cgroup = self.container, self.container.cgroup
        assert cgroup is not None
        try:
            if cpus != container.cpus:
                cgroup.set_cpus(cpus, self._settings.cpu_period_ms * 1000)
            if memory_mb != container.memory_mb:
                # Lowering a limit below what the container holds makes the kernel
                # reclaim first: off the event loop.
                old = container.memory_mb << 20
                await trio.to_thread.run_sync(cgroup.set_memory, memory_mb << 20, old)
        except OSError as exc:
            if quiet:
                return False
            log.warning(
                "container %s: cgroup limits not written (%s); asking Docker",
                container.short_id,
                exc,
            )
            container.cgroup = None
            container.cpus = -1.0  # unknown: Docker's update sets it again
            return False
        return True
