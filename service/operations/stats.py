"""Live stats: a snapshot of the instance, published once a second.

Subject ``code-engine.stats.<instance>``; the payload is documented in the README
and read by the dashboard (``tui/``). Container CPU and memory come from Docker's
one-shot stats API; CPU % is computed against this publisher's previous sample
of the same container (a one-shot sample carries no previous reading of its own).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import msgspec
import trio

from docker_api import DockerClient, DockerError
from service.sandbox.container import WorkerContainer

log = logging.getLogger(__name__)

STATS_PREFIX = "code-engine.stats"
RECENT_LIMIT = 50


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

    async def sample(self, containers: list[WorkerContainer]) -> None:
        async with trio.open_nursery() as nursery:
            for container in containers:
                nursery.start_soon(self._sample_one, container.id)
        alive = {c.id for c in containers}
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


def container_view(container: WorkerContainer, usage: Usage | None, now: float) -> dict[str, Any]:
    job = None
    if container.current is not None:
        job = {
            "id": container.current.id,
            "language": container.current.language,
            "elapsed_ms": round((now - container.current.started) * 1000, 1),
        }
    usage = usage or Usage()
    return {
        "id": container.short_id,
        "state": str(container.state),
        "jobs": container.jobs_served,
        "job": job,
        "cpu_percent": usage.cpu_percent,
        "memory_bytes": usage.memory_bytes,
        "memory_limit_bytes": usage.memory_limit_bytes or container.memory_mb << 20,
    }


class StatsPublisher:
    """Publishes a snapshot every ``interval`` seconds until cancelled."""

    def __init__(
        self,
        snapshot: Callable[[dict[str, Usage], float], dict[str, Any]],
        containers: Callable[[], list[WorkerContainer]],
        sampler: UsageSampler,
        publish: Callable[[bytes], None],
        interval: float = 1.0,
    ) -> None:
        self._snapshot = snapshot
        self._containers = containers
        self._sampler = sampler
        self._publish = publish
        self._interval = interval
        self._last_recent = 0.0

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        task_status.started()
        while True:
            with trio.move_on_after(self._interval):
                await self._sampler.sample(self._containers())
            try:
                self._publish(msgspec.json.encode(self._snapshot(self._sampler.usage, time.time())))
            except Exception:
                log.exception("could not publish stats")
            await trio.sleep(self._interval)
