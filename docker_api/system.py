"""Daemon-wide endpoints, reached as ``client.system``."""

from __future__ import annotations

import json
from collections.abc import AsyncGenerator, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .encoding import expect_object
from .errors import ProtocolError

if TYPE_CHECKING:
    from .client import DockerClient


@dataclass(frozen=True)
class DiskUsage:
    """What the daemon holds on disk by its own accounting, in bytes."""

    images: int  # every image layer, each counted once however many images share it
    containers: int  # the containers' writable layers
    volumes: int  # the volumes' contents, as far as Docker has measured them
    build_cache: int


def _sizes(items: Any, size: Any) -> int:
    return sum(max(0, int(size(item) or 0)) for item in items or ())


class System:
    """Health and information about the daemon itself."""

    def __init__(self, client: DockerClient) -> None:
        self._client = client

    async def ping(self) -> None:
        """Check that the daemon answers.

        Raises:
            DaemonUnavailable: Nothing answers on the socket, or not in time.
            APIError: Something answered with an error status.
        """
        await self._client.request("GET", "/_ping")

    async def version(self) -> dict[str, Any]:
        """Return ``GET /version`` (``Version``, ``ApiVersion``, ``Os``, ...)."""
        return expect_object(await self._client.request_json("GET", "/version"), "version")

    async def info(self) -> dict[str, Any]:
        """Return ``GET /info`` (``NCPU``, ``MemTotal``, ``Runtimes``, ...)."""
        return expect_object(await self._client.request_json("GET", "/info"), "info")

    async def disk_usage(self) -> DiskUsage:
        """Return what ``GET /system/df`` counts: images, containers, volumes, build cache.

        Sizes Docker has not measured (a volume's ``-1``) count as nothing.
        """
        df = expect_object(await self._client.request_json("GET", "/system/df"), "disk usage")
        return DiskUsage(
            images=max(0, int(df.get("LayersSize") or 0)),
            containers=_sizes(df.get("Containers"), lambda c: c.get("SizeRw")),
            volumes=_sizes(df.get("Volumes"), lambda v: (v.get("UsageData") or {}).get("Size")),
            build_cache=_sizes(df.get("BuildCache"), lambda b: b.get("Size")),
        )

    async def events(
        self, since: float, until: float, filters: Mapping[str, Sequence[str]]
    ) -> AsyncGenerator[dict[str, Any]]:
        """Yield ``GET /events`` between two Unix times, past ones first, then live ones.

        Docker keeps its recent events and streams new ones until ``until``; the
        stream ends then (or when the caller stops iterating). ``filters`` is the
        Engine's: ``{"container": [id], "event": ["oom"]}``, say. There is no
        read timeout while live events are awaited: bound it with a cancel scope.

        Raises:
            ProtocolError: A line of the stream is not a JSON object.
        """
        params = {
            "since": f"{since:.9f}",
            "until": f"{until:.9f}",
            "filters": json.dumps({key: list(values) for key, values in filters.items()}),
        }
        async with self._client.stream(
            "GET", "/events", params=params, read_timeout=None
        ) as response:
            async for line in response.aiter_lines():
                if not line.strip():
                    continue
                try:
                    event = json.loads(line)
                except ValueError as exc:
                    raise ProtocolError("GET /events: a line is not JSON") from exc
                yield expect_object(event, "event")
