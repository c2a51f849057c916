"""The Docker Engine API client: HTTP over the daemon's unix socket.

:class:`DockerClient` owns one ``httpx.AsyncClient`` and is the only place that
talks HTTP. The resource objects (``client.containers``, ``client.images``,
``client.system``) build paths and bodies and call the request helpers here.
:func:`map_exceptions` is the single translation point from httpx exceptions
to :mod:`docker_api.errors`.
"""

from __future__ import annotations

import enum
import os
from collections.abc import AsyncIterable, AsyncIterator, Iterator, Mapping
from contextlib import asynccontextmanager, contextmanager
from types import TracebackType
from typing import Any, Final, Self

import httpcore
import httpx

from .containers import Containers
from .errors import DaemonUnavailable, DockerError, ProtocolError, api_error
from .images import Images
from .system import System

DEFAULT_SOCKET_PATH: Final = "/var/run/docker.sock"
DEFAULT_API_VERSION: Final = "v1.41"
DEFAULT_TIMEOUT: Final = 30.0

# Every attach and wait holds a connection for as long as it lasts, so a pool of
# warm containers would exhaust httpx's default limit of 100 and then stall on
# PoolTimeout. Connections over a local socket are cheap: do not cap them.
_LIMITS: Final = httpx.Limits(max_connections=None, max_keepalive_connections=32)

Params = Mapping[str, str | int]


class _Default(enum.Enum):
    TOKEN = enum.auto()


USE_DEFAULT: Final = _Default.TOKEN
"""Sentinel for ``read_timeout``: use the client's default timeout."""

ReadTimeoutSetting = float | None | _Default


@contextmanager
def map_exceptions() -> Iterator[None]:
    """Translate httpx exceptions raised inside the block into :class:`DockerError`.

    Timeouts, connection failures and a daemon hanging up mid-answer become
    :class:`DaemonUnavailable`; any other httpx failure becomes a plain
    :class:`DockerError`. Other exceptions (including ``trio.Cancelled``) pass
    through untouched.
    """
    try:
        yield
    except httpx.TimeoutException as exc:
        raise DaemonUnavailable(
            f"timed out talking to the Docker daemon ({type(exc).__name__})"
        ) from exc
    except (httpx.NetworkError, httpx.RemoteProtocolError) as exc:
        raise DaemonUnavailable(f"cannot talk to the Docker daemon: {exc}") from exc
    except (httpx.HTTPError, httpx.StreamError, httpx.InvalidURL) as exc:
        raise DockerError(f"HTTP failure talking to the Docker daemon: {exc}") from exc


def error_message(response: httpx.Response) -> str:
    """Extract the Engine's error text from an already-read error response."""
    try:
        body = response.json()
    except ValueError:
        body = None
    if isinstance(body, dict) and isinstance(body.get("message"), str):
        return str(body["message"])
    return response.text.strip() or response.reason_phrase


def _raise_for_status(response: httpx.Response) -> None:
    if not response.is_success:
        raise api_error(response.status_code, error_message(response))


def socket_path_from_env(environ: Mapping[str, str]) -> str:
    """Return the socket path named by ``DOCKER_HOST`` (default when unset or empty).

    Raises:
        DockerError: ``DOCKER_HOST`` is set to something other than ``unix://PATH``.
    """
    host = environ.get("DOCKER_HOST", "").strip()
    if not host:
        return DEFAULT_SOCKET_PATH
    scheme, sep, path = host.partition("://")
    if not sep or scheme != "unix" or not path:
        raise DockerError(
            f"unsupported DOCKER_HOST {host!r}: only unix:///path/to/docker.sock is supported"
        )
    return path


class DockerClient:
    """Async client for the Docker Engine API, usable under Trio.

    Use as an async context manager, or call :meth:`aclose` when done::

        async with DockerClient.from_env() as docker:
            await docker.system.ping()

    Args:
        socket_path: Path of the daemon's unix socket.
        transport: Replaces the unix-socket transport (tests pass
            ``FakeDockerEngine().transport``); ``socket_path`` is then unused.
        api_version: Engine API version prefix of every path.
        timeout: Default connect/read/write/pool timeout in seconds. Calls that
            legitimately block (build, import, wait, reading an attach stream)
            have no read timeout.
    """

    def __init__(
        self,
        socket_path: str = DEFAULT_SOCKET_PATH,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
        api_version: str = DEFAULT_API_VERSION,
        timeout: float = DEFAULT_TIMEOUT,
    ) -> None:
        if transport is None:
            transport = httpx.AsyncHTTPTransport(uds=socket_path, limits=_LIMITS)
        self.socket_path = socket_path
        self.api_version = api_version
        self._timeout = timeout
        self._http = httpx.AsyncClient(
            transport=transport,
            base_url=f"http://docker/{api_version}",
            timeout=timeout,
        )
        self.containers = Containers(self)
        self.images = Images(self)
        self.system = System(self)

    @classmethod
    def from_env(
        cls,
        environ: Mapping[str, str] | None = None,
        *,
        api_version: str = DEFAULT_API_VERSION,
        timeout: float = DEFAULT_TIMEOUT,
    ) -> DockerClient:
        """Build a client for the socket named by ``DOCKER_HOST``.

        Args:
            environ: Environment to read; ``os.environ`` by default.

        Raises:
            DockerError: ``DOCKER_HOST`` is not a ``unix://`` address. Nothing is
                contacted here; an absent daemon shows up on the first call.
        """
        path = socket_path_from_env(os.environ if environ is None else environ)
        return cls(path, api_version=api_version, timeout=timeout)

    async def aclose(self) -> None:
        """Close every pooled connection. Idempotent."""
        await self._http.aclose()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    # Request helpers for the resource modules.

    def _timeouts(self, read_timeout: ReadTimeoutSetting) -> httpx.Timeout:
        if read_timeout is USE_DEFAULT:
            return httpx.Timeout(self._timeout)
        return httpx.Timeout(self._timeout, read=read_timeout)

    def _build_request(
        self,
        method: str,
        path: str,
        *,
        params: Params | None,
        json: Any,
        content: bytes | AsyncIterable[bytes] | None,
        headers: Mapping[str, str] | None,
        read_timeout: ReadTimeoutSetting,
    ) -> httpx.Request:
        with map_exceptions():
            return self._http.build_request(
                method,
                path,
                params=params,
                json=json,
                content=content,
                headers=headers,
                timeout=self._timeouts(read_timeout),
            )

    async def request(
        self,
        method: str,
        path: str,
        *,
        params: Params | None = None,
        json: Any = None,
        content: bytes | None = None,
        headers: Mapping[str, str] | None = None,
        read_timeout: ReadTimeoutSetting = USE_DEFAULT,
    ) -> httpx.Response:
        """Send one request and return the fully read 2xx response.

        Raises:
            APIError: Non-2xx answer (:class:`NotFound` for 404,
                :class:`Conflict` for 409), with the Engine's message.
            DaemonUnavailable: The daemon could not be reached or timed out.
        """
        request = self._build_request(
            method,
            path,
            params=params,
            json=json,
            content=content,
            headers=headers,
            read_timeout=read_timeout,
        )
        with map_exceptions():
            response = await self._http.send(request)
        _raise_for_status(response)
        return response

    async def request_json(
        self,
        method: str,
        path: str,
        *,
        params: Params | None = None,
        json: Any = None,
        read_timeout: ReadTimeoutSetting = USE_DEFAULT,
    ) -> Any:
        """Like :meth:`request`, returning the decoded JSON body.

        Raises:
            ProtocolError: The 2xx body is not JSON.
        """
        response = await self.request(
            method, path, params=params, json=json, read_timeout=read_timeout
        )
        try:
            return response.json()
        except ValueError as exc:
            raise ProtocolError(f"{method} {path}: response is not JSON") from exc

    @asynccontextmanager
    async def stream(
        self,
        method: str,
        path: str,
        *,
        params: Params | None = None,
        content: bytes | AsyncIterable[bytes] | None = None,
        headers: Mapping[str, str] | None = None,
        read_timeout: ReadTimeoutSetting = USE_DEFAULT,
    ) -> AsyncIterator[httpx.Response]:
        """Send a request and yield the 2xx response with its body still unread.

        The request body may be an async iterable (sent chunked). httpx errors
        raised while the caller reads the body inside the block are translated
        too. The response is closed when the block exits, also on cancellation.

        Raises:
            APIError: Non-2xx answer, raised on entry.
            DaemonUnavailable: The daemon could not be reached, timed out or
                hung up while the body was being read.
        """
        request = self._build_request(
            method,
            path,
            params=params,
            json=None,
            content=content,
            headers=headers,
            read_timeout=read_timeout,
        )
        with map_exceptions():
            response = await self._http.send(request, stream=True)
            try:
                if not response.is_success:
                    await response.aread()
                    _raise_for_status(response)
                yield response
            finally:
                await response.aclose()

    async def upgrade(
        self, method: str, path: str, *, params: Params | None = None
    ) -> tuple[httpx.Response, httpcore.AsyncNetworkStream]:
        """Send a ``Connection: Upgrade`` request and return the raw connection.

        Expects ``101 Switching Protocols``; ``200`` is accepted for old daemons
        that answer attach without the upgrade dance. The caller owns both the
        response and the stream and must close both.

        Raises:
            APIError: Any other status, with the Engine's message.
            DaemonUnavailable: The daemon could not be reached or timed out.
            DockerError: The transport does not expose the upgraded connection.
        """
        request = self._build_request(
            method,
            path,
            params=params,
            json=None,
            content=None,
            headers={"Connection": "Upgrade", "Upgrade": "tcp"},
            read_timeout=USE_DEFAULT,
        )
        with map_exceptions():
            response = await self._http.send(request, stream=True)
            if response.status_code not in (101, 200):
                try:
                    await response.aread()
                finally:
                    await response.aclose()
                raise api_error(response.status_code, error_message(response))
        stream = response.extensions.get("network_stream")
        if not isinstance(stream, httpcore.AsyncNetworkStream):
            with map_exceptions():
                await response.aclose()
            raise DockerError(f"{method} {path}: transport did not hand over the connection")
        return response, stream
