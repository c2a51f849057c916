"""Live stats: a snapshot of the instance, published once a second.

Subject ``code-engine.stats.<instance>``; the payload is :class:`wire.stats.Snapshot`
(documented there and in docs/reference/protocol.md, generated from it), read by
the dashboard (``tui/``). Container CPU and memory come from Docker's one-shot
stats API; CPU % is computed against the sampler's previous sample of the same
container (a one-shot sample carries no previous reading of its own), so a
container's first sample has memory but no CPU.

Sampling runs in its own task, apart from publishing: Docker 20.10 answers a
one-shot stats request at its collector's next one-second run, so a sample cut
at the publishing deadline was often lost, and a container could go unsampled
for good (no CPU, no memory) while the snapshot went on listing it. Each
snapshot carries the latest sample of every container listed.
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


SAMPLE_TIMEOUT_S = 3.0  # one container's one-shot stats: Docker's tick (1 s) and slack


class UsageSampler:
    """CPU and memory of pool containers from one-shot Docker stats."""

    def __init__(self, docker: DockerClient) -> None:
        self._docker = docker
        self._previous: dict[str, tuple[int, int]] = {}
        self.usage: dict[str, Usage] = {}

    async def sample(self, container_ids: Iterable[str]) -> None:
        """Sample each container at once; forget those no longer listed.

        A container Docker does not answer for (within :data:`SAMPLE_TIMEOUT_S`)
        keeps its previous usage; one Docker does not know has none.
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
            with trio.move_on_after(SAMPLE_TIMEOUT_S):
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
        container_ids: the pool's containers now (sampled in the background).
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
        """Sample in the background; publish one snapshot per interval, the first after one."""
        async with trio.open_nursery() as nursery:
            nursery.start_soon(self._sample_forever)
            task_status.started()
            tick = trio.current_time()
            while True:
                tick += self._interval
                await trio.sleep_until(max(tick, trio.current_time()))
                try:
                    snapshot = self._snapshot(self._sampler.usage, time.time())
                    self._publish(encode_snapshot(snapshot))
                except Exception:
                    log.exception("could not publish stats")

    async def _sample_forever(self) -> None:
        # A round lasts until Docker's next collection; at most one round per interval.
        while True:
            started = trio.current_time()
            await self._sampler.sample(self._container_ids())
            await trio.sleep_until(started + self._interval)
