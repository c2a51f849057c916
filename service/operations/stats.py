"""Live stats: a snapshot of the instance, published once a second.

Subject ``code-engine.stats.<instance>``; the payload is :class:`wire.stats.Snapshot`
(documented there and in the README), read by the dashboard (``tui/``). Container
CPU and memory come from Docker's one-shot stats API; CPU % is computed against
this publisher's previous sample of the same container (a one-shot sample carries
no previous reading of its own), so a container's first sample has memory but no CPU.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import trio

from docker_api import DockerClient, DockerError
from wire.stats import Snapshot, encode_snapshot

log = logging.getLogger(__name__)


@dataclass
class Usage:
    cpu_percent: float | None = None
    memory_bytes: int | None = None
    memory_limit_bytes: int | None = None


class UsageSampler:
    """CPU and memory of pool containers from one-shot Docker stats."""

    def __init__(self, docker: DockerClient) -> None:
        self._docker = docker
        self._previous: dict[str, tuple[int, int]] = {}
        self.usage: dict[str, Usage] = {}

    async def sample(self, container_ids: Iterable[str]) -> None:
        """Sample each container at once; forget those no longer listed.

        A container Docker does not answer for (within 2 s) has no usage until it does.
        """
        alive = set(container_ids)
        async with trio.open_nursery() as nursery:
            for container_id in alive:
                nursery.start_soon(self._sample_one, container_id)
        for gone in set(self.usage) - alive:
            self.usage.pop(gone, None)
            self._previous.pop(gone, None)

    async def _sample_one(self, container_id: str) -> None:
        try:
            with trio.move_on_after(2):
                raw = await self._docker.containers.stats(container_id)
                self.usage[container_id] = self._usage(container_id, raw)
        except DockerError:
            self.usage.pop(container_id, None)

    def _usage(self, container_id: str, raw: dict[str, Any]) -> Usage:
        cpu = raw.get("cpu_stats") or {}
        total = int((cpu.get("cpu_usage") or {}).get("total_usage") or 0)
        system = int(cpu.get("system_cpu_usage") or 0)
        cpus = int(cpu.get("online_cpus") or 1)
        percent = None
        previous = self._previous.get(container_id)
        if previous and system > previous[1]:
            percent = round((total - previous[0]) / (system - previous[1]) * cpus * 100, 1)
        self._previous[container_id] = (total, system)
        memory = raw.get("memory_stats") or {}
        usage = memory.get("usage")
        cache = (memory.get("stats") or {}).get("cache") or 0
        return Usage(
            cpu_percent=percent,
            memory_bytes=max(0, int(usage) - int(cache)) if usage is not None else None,
            memory_limit_bytes=memory.get("limit"),
        )


class StatsPublisher:
    """Publishes a snapshot every ``interval`` seconds until cancelled.

    Args:
        snapshot: builds the snapshot from the usage sampled and the wall-clock time.
        container_ids: the pool's containers now (sampled before each snapshot).
        sampler: where the usage comes from.
        publish: sends one encoded snapshot; must not block.
    """

    def __init__(
        self,
        snapshot: Callable[[Mapping[str, Usage], float], Snapshot],
        container_ids: Callable[[], Iterable[str]],
        sampler: UsageSampler,
        publish: Callable[[bytes], None],
        interval: float = 1.0,
    ) -> None:
        self._snapshot = snapshot
        self._container_ids = container_ids
        self._sampler = sampler
        self._publish = publish
        self._interval = interval

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        task_status.started()
        while True:
            with trio.move_on_after(self._interval):
                await self._sampler.sample(self._container_ids())
            try:
                self._publish(encode_snapshot(self._snapshot(self._sampler.usage, time.time())))
            except Exception:
                log.exception("could not publish stats")
            await trio.sleep(self._interval)
