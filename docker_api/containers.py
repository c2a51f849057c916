"""``/containers`` endpoints, reached as ``client.containers``."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from .attach import AttachStream
from .encoding import expect_list, expect_object, flag, quote_container
from .errors import APIError, ProtocolError

if TYPE_CHECKING:
    from .client import DockerClient


class Containers:
    """Container operations. Every method raises :class:`~docker_api.errors.NotFound`
    for an unknown container, :class:`~docker_api.errors.APIError` for other
    refusals and :class:`~docker_api.errors.DaemonUnavailable` when the daemon
    cannot be reached."""

    def __init__(self, client: DockerClient) -> None:
        self._client = client

    @staticmethod
    def _path(container_id: str, action: str = "") -> str:
        path = f"/containers/{quote_container(container_id)}"
        return f"{path}/{action}" if action else path

    async def create(self, config: dict[str, Any], *, name: str | None = None) -> str:
        """Create a container from a raw Engine API body and return its id.

        Args:
            config: The ``POST /containers/create`` body (``Image``, ``Cmd``,
                ``HostConfig``, ``Labels``, ...), sent as is.
            name: Optional container name.

        Raises:
            NotFound: The image does not exist locally (nothing is pulled).
            Conflict: ``name`` is already in use.
        """
        params = {"name": name} if name is not None else None
        body = await self._client.request_json(
            "POST", "/containers/create", params=params, json=config
        )
        container_id = expect_object(body, "create").get("Id")
        if not isinstance(container_id, str):
            raise ProtocolError(f"create: no container id in {body!r}")
        return container_id

    async def start(self, container_id: str) -> None:
        """Start the container; starting a running container is not an error (304)."""
        try:
            await self._client.request("POST", self._path(container_id, "start"))
        except APIError as exc:
            if exc.status != 304:  # 304 Not Modified: already running
                raise

    async def kill(self, container_id: str, signal: str = "SIGKILL") -> None:
        """Send ``signal`` to the container's main process.

        Raises:
            Conflict: The container is not running.
        """
        await self._client.request(
            "POST", self._path(container_id, "kill"), params={"signal": signal}
        )

    async def remove(self, container_id: str, *, force: bool = True, volumes: bool = True) -> None:
        """Remove the container, killing it first when ``force`` is set.

        Raises:
            Conflict: It is running and ``force`` is false, or a removal is
                already in progress.
        """
        await self._client.request(
            "DELETE",
            self._path(container_id),
            params={"force": flag(force), "v": flag(volumes)},
        )

    async def inspect(self, container_id: str) -> dict[str, Any]:
        """Return ``GET /containers/{id}/json``."""
        body = await self._client.request_json("GET", self._path(container_id, "json"))
        return expect_object(body, "inspect")

    async def list(
        self, *, all: bool = True, filters: dict[str, list[str]] | None = None
    ) -> list[dict[str, Any]]:
        """Return container summaries, e.g. ``filters={"label": ["pool=python"]}``."""
        params: dict[str, str] = {"all": flag(all)}
        if filters:
            params["filters"] = json.dumps(filters)
        body = await self._client.request_json("GET", "/containers/json", params=params)
        return expect_list(body, "list")

    async def update(self, container_id: str, resources: dict[str, Any]) -> dict[str, Any]:
        """Change resource limits of a container (``Memory``, ``CpuQuota``, ``PidsLimit``...).

        Returns the Engine's answer, ``{"Warnings": [...]}``.
        """
        body = await self._client.request_json(
            "POST", self._path(container_id, "update"), json=resources
        )
        return expect_object(body, "update")

    async def stats(self, container_id: str) -> dict[str, Any]:
        """Return one stats sample without waiting for a second one (``one-shot``).

        ``precpu_stats`` is therefore empty; compute CPU usage from two samples.
        """
        body = await self._client.request_json(
            "GET",
            self._path(container_id, "stats"),
            params={"stream": "false", "one-shot": "true"},
        )
        return expect_object(body, "stats")

    async def wait(self, container_id: str, condition: str = "not-running") -> dict[str, Any]:
        """Block until the container meets ``condition`` and return ``{"StatusCode": ...}``.

        There is no read timeout; bound the call with a Trio cancel scope.
        ``condition`` is ``"not-running"``, ``"next-exit"`` or ``"removed"``.
        """
        body = await self._client.request_json(
            "POST",
            self._path(container_id, "wait"),
            params={"condition": condition},
            read_timeout=None,
        )
        return expect_object(body, "wait")

    async def attach(self, container_id: str) -> AttachStream:
        """Attach to stdin, stdout and stderr; call before :meth:`start` to miss no output.

        The container must have been created with ``Tty: false``,
        ``OpenStdin: true`` and ``AttachStdin: true``. The caller owns the
        returned stream and must close it (``async with stream:``).

        Raises:
            NotFound: Unknown container.
        """
        response, stream = await self._client.upgrade(
            "POST",
            self._path(container_id, "attach"),
            params={"stream": "1", "stdin": "1", "stdout": "1", "stderr": "1"},
        )
        return AttachStream(response, stream)
