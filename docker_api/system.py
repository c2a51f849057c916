"""Daemon-wide endpoints, reached as ``client.system``."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .encoding import expect_object

if TYPE_CHECKING:
    from .client import DockerClient


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
