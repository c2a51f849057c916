"""The operator's HTTP listener: ``/metrics``, ``/healthz`` and ``/readyz``, on Trio.

A few lines of HTTP/1.1 rather than a web framework or the Prometheus client's
own server (which runs in a thread and would read the engine's state from
there): each connection is a task of the daemon's nursery, reads one ``GET``,
answers it from the engine's state in the same thread as everything else, and
closes. Off unless ``CODE_ENGINE_METRICS_ADDR`` is set.

::

    listener = OpsListener()
    await nursery.start(listener.run, "0.0.0.0", 9464)
    listener.attach(engine_collector, engine_parts)   # once the engine has started
"""

from __future__ import annotations

import logging
from http import HTTPStatus

import msgspec
import trio
from prometheus_client.registry import Collector

from service.errors import EngineError
from service.operations.probes import ReadyView, readiness
from service.operations.prometheus import CONTENT_TYPE, exposition, registry

log = logging.getLogger(__name__)

MAX_REQUEST_BYTES = 8192
READ_TIMEOUT_S = 5.0
MAX_CONNECTIONS = 32  # beyond: closed at once (scrapers and probes need a few)
JSON = "application/json"


class OpsListener:
    """Serves the endpoints; before :meth:`attach`, /readyz says the engine is starting."""

    def __init__(self) -> None:
        self._registry = registry(None)
        self._engine: ReadyView | None = None
        self._connections = trio.CapacityLimiter(MAX_CONNECTIONS)
        self.port: int | None = None

    def attach(self, collector: Collector, engine: ReadyView) -> None:
        """Serve this engine's metrics and readiness from now on."""
        self._registry = registry(collector)
        self._engine = engine

    async def run(
        self, host: str, port: int, *, task_status: trio.TaskStatus[int] = trio.TASK_STATUS_IGNORED
    ) -> None:
        """Listen on ``host:port`` until cancelled; reports the port bound.

        Raises:
            EngineError: the address cannot be bound (in use, no such interface).
        """
        try:
            listeners = await trio.open_tcp_listeners(port, host=host)
        except OSError as exc:
            raise EngineError(f"cannot listen on {host}:{port} for metrics: {exc}") from exc
        self.port = listeners[0].socket.getsockname()[1]
        log.info("metrics and probes on http://%s:%d/metrics", host, self.port)
        async with trio.open_nursery() as nursery:
            task_status.started(self.port)
            await trio.serve_listeners(self._serve, listeners, handler_nursery=nursery)

    async def _serve(self, stream: trio.abc.Stream) -> None:
        async with stream:
            try:
                self._connections.acquire_nowait()
            except trio.WouldBlock:
                return  # too many at once: a slow client must not pile up tasks
            try:
                with trio.fail_after(READ_TIMEOUT_S):
                    head = await _read_head(stream)
                status, content_type, body = self.answer(head)
                await stream.send_all(_response(status, content_type, body))
            except (trio.TooSlowError, trio.BrokenResourceError, trio.ClosedResourceError):
                return
            except Exception:
                log.exception("metrics listener: could not answer")
            finally:
                self._connections.release()

    def answer(self, head: bytes | None) -> tuple[HTTPStatus, str, bytes]:
        """The status, content type and body for a request's head (None: unreadable)."""
        if head is None:
            return HTTPStatus.BAD_REQUEST, JSON, b'{"error": "bad request"}'
        method, _, rest = head.partition(b" ")
        target = rest.split(b" ", 1)[0].split(b"?", 1)[0]
        if method != b"GET":
            return HTTPStatus.METHOD_NOT_ALLOWED, JSON, b'{"error": "only GET"}'
        if target == b"/metrics":
            return HTTPStatus.OK, CONTENT_TYPE, exposition(self._registry)
        if target == b"/healthz":
            return HTTPStatus.OK, JSON, b'{"alive": true}'
        if target == b"/readyz":
            verdict = readiness(self._engine)
            status = HTTPStatus.OK if verdict.ready else HTTPStatus.SERVICE_UNAVAILABLE
            return status, JSON, msgspec.json.encode(verdict)
        return HTTPStatus.NOT_FOUND, JSON, b'{"error": "not found: /metrics, /healthz, /readyz"}'


async def _read_head(stream: trio.abc.ReceiveStream) -> bytes | None:
    """The request line and headers; None when the peer sends too much or closes early."""
    data = b""
    while b"\r\n\r\n" not in data and b"\n\n" not in data:
        chunk = await stream.receive_some(4096)
        if not chunk:
            return None
        data += chunk
        if len(data) > MAX_REQUEST_BYTES:
            return None
    return data


def _response(status: HTTPStatus, content_type: str, body: bytes) -> bytes:
    head = (
        f"HTTP/1.1 {status.value} {status.phrase}\r\n"
        f"Content-Type: {content_type}\r\n"
        f"Content-Length: {len(body)}\r\n"
        "Connection: close\r\n\r\n"
    )
    return head.encode() + body
