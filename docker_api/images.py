"""``/images`` and ``/build`` endpoints, reached as ``client.images``."""

from __future__ import annotations

import json
from collections.abc import AsyncGenerator, AsyncIterable
from typing import TYPE_CHECKING, Any

from .encoding import expect_object, flag, quote_image
from .errors import NotFound
from .progress import iter_progress

if TYPE_CHECKING:
    from .client import DockerClient

_TAR_HEADERS = {"Content-Type": "application/x-tar"}


class Images:
    """Image operations.

    The two streaming calls, :meth:`build` and :meth:`import_image`, are async
    generators that hold an HTTP connection until exhausted. If you stop early,
    close them promptly (``async with contextlib.aclosing(gen) as progress:``)
    rather than leaving that to the garbage collector.
    """

    def __init__(self, client: DockerClient) -> None:
        self._client = client

    async def inspect(self, name: str) -> dict[str, Any]:
        """Return ``GET /images/{name}/json``.

        Raises:
            NotFound: No such image locally.
        """
        body = await self._client.request_json("GET", f"/images/{quote_image(name)}/json")
        return expect_object(body, "image inspect")

    async def exists(self, name: str) -> bool:
        """Return whether ``name`` (reference or id) exists locally."""
        try:
            await self.inspect(name)
        except NotFound:
            return False
        return True

    async def build(
        self,
        context_tar: bytes,
        *,
        tag: str,
        dockerfile: str = "Dockerfile",
        labels: dict[str, str] | None = None,
        buildargs: dict[str, str] | None = None,
        nocache: bool = False,
        timeout: float | None = None,  # noqa: ASYNC109 - transport read timeout, not a deadline
    ) -> AsyncGenerator[dict[str, Any], None]:
        """Build an image from a tar'ed context, yielding each progress message.

        Args:
            context_tar: Uncompressed or gzip'ed tar of the build context.
            tag: ``name:tag`` given to the result.
            dockerfile: Path of the Dockerfile inside the context.
            labels: Labels set on the image.
            buildargs: Values of the Dockerfile's ``ARG`` instructions.
            nocache: Do not use the build cache.
            timeout: Longest silence tolerated between two chunks of progress,
                in seconds; ``None`` waits forever. Expiry raises
                :class:`DaemonUnavailable`. Bound the whole build with a Trio
                cancel scope around the loop instead.

        Raises:
            BuildFailed: A progress message reported an error (e.g. a failing
                ``RUN``); raised when that message arrives.
            APIError: The daemon refused the request (bad parameters, ...).
            DaemonUnavailable: The daemon could not be reached or hung up.
        """
        params: dict[str, str] = {
            "t": tag,
            "dockerfile": dockerfile,
            "nocache": flag(nocache),
            "rm": "true",
            "forcerm": "true",
        }
        if labels:
            params["labels"] = json.dumps(labels)
        if buildargs:
            params["buildargs"] = json.dumps(buildargs)
        async with self._client.stream(
            "POST",
            "/build",
            params=params,
            content=context_tar,
            headers=_TAR_HEADERS,
            read_timeout=timeout,
        ) as response:
            async for message in iter_progress(response.aiter_lines()):
                yield message

    async def import_image(
        self,
        source: bytes | AsyncIterable[bytes],
        *,
        repo: str,
        tag: str = "latest",
    ) -> AsyncGenerator[dict[str, Any], None]:
        """Create an image from a root filesystem tarball (``docker import``).

        ``source`` may be an async iterable of chunks; it is then streamed with
        chunked transfer encoding instead of being held in memory. Yields each
        progress message; the last one's ``status`` is the new image id.

        Raises:
            BuildFailed: A progress message reported an error (e.g. not a tar).
            APIError: The daemon refused the request.
            DaemonUnavailable: The daemon could not be reached or hung up.
        """
        async with self._client.stream(
            "POST",
            "/images/create",
            params={"fromSrc": "-", "repo": repo, "tag": tag},
            content=source,
            headers=_TAR_HEADERS,
            read_timeout=None,
        ) as response:
            async for message in iter_progress(response.aiter_lines()):
                yield message

    async def remove(self, name: str, *, force: bool = False) -> None:
        """Remove an image (untag it; delete layers no other image uses).

        Raises:
            NotFound: No such image.
            Conflict: A container uses it and ``force`` is false.
        """
        await self._client.request(
            "DELETE", f"/images/{quote_image(name)}", params={"force": flag(force)}
        )
