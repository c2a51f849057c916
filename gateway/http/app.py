"""The ASGI application: every request's way through the gateway.

::

    lifespan            answered at once (the gateway's parts run in its own nursery)
    /mcp...             token checked, then the MCP SDK's streamable HTTP app
    everything else     route → CORS → token → limits → body (at most the engine's
                        largest message) → handler → JSON, access log line, metrics

Errors become JSON here, in the shape of the API the request was for; an error
the gateway did not expect is a 500 that says only that, with the details in the
log, never in the body.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

from ..errors import EngineUnavailable, Refused, StoreError, TooLarge, TooMany, Unprocessable
from ..metrics import GatewayMetrics
from .guard import Guard
from .messages import Request, Response, json_response
from .router import Api, MethodNotAllowed, Router

log = logging.getLogger("gateway.access")
errors_log = logging.getLogger("gateway")

Scope = dict[str, Any]
Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]
AsgiApp = Callable[[Scope, Receive, Send], Awaitable[None]]

CORS_METHODS = "GET, POST, DELETE, OPTIONS"
CORS_HEADERS = "Authorization, Content-Type, X-Auth-Token, Mcp-Session-Id, Mcp-Protocol-Version"
MCP_PATH = "/mcp"


class GatewayApp:
    def __init__(
        self,
        router: Router,
        guard: Guard,
        metrics: GatewayMetrics,
        *,
        max_body: Callable[[], int],
        origins: tuple[str, ...] = (),
        mcp: AsgiApp | None = None,
    ) -> None:
        self.router = router
        self.guard = guard
        self.metrics = metrics
        self._max_body = max_body
        self._origins = origins
        self._mcp = mcp

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await _lifespan(receive, send)
            return
        if scope["type"] != "http":
            return
        started = time.monotonic()
        request = Request.from_scope(scope)
        client = (scope.get("client") or ("-", 0))[0]
        path = scope["path"]
        api, template = Api.JUDGE0, path
        self.metrics.in_flight.inc()
        try:
            if self._mcp is not None and (path == MCP_PATH or path.startswith(MCP_PATH + "/")):
                api, template = Api.MCP, MCP_PATH
                status = await self._serve_mcp(scope, receive, send, request, client)
            else:
                response, api, template = await self._answer(request, receive, client)
                self._add_cors(request, response)
                status = response.status
                await _send(send, response, head_only=scope["method"] == "HEAD")
        finally:
            self.metrics.in_flight.dec()
        elapsed = time.monotonic() - started
        self.metrics.requests.labels(api.value, template, str(status)).inc()
        self.metrics.seconds.labels(api.value).observe(elapsed)
        log.info(
            "%s %s %d",
            request.method,
            path,
            status,
            extra={
                "method": request.method,
                "path": path,
                "route": template,
                "api": api.value,
                "status": status,
                "ms": round(elapsed * 1000, 2),
                "client": client,
                "bytes_in": len(request.body),
            },
        )

    async def _answer(
        self, request: Request, receive: Receive, client: str
    ) -> tuple[Response, Api, str]:
        api = self.router.api_of(request.path)
        template = "(no route)"
        if request.method == "OPTIONS" and self._origins:
            return Response(204, headers=self._preflight(request)), api, "OPTIONS"
        try:
            route, params = self.router.match(request.method, request.path)
            api, template = route.api, route.template
            request.params = params
            if route.api is Api.OPS:
                request.body = await _read_body(receive, self._max_body())
                return await route.handler(request), api, template
            key = self.guard.authenticate(request, client)
            request.token = key
            with self.guard.admit(key):
                request.body = await _read_body(receive, self._max_body(), request.headers)
                return await route.handler(request), api, template
        except Refused as exc:
            self.metrics.refused.labels(type(exc).__name__).inc()
            return _refusal(api, exc), api, template
        except EngineUnavailable as exc:
            self.metrics.engine_unavailable.inc()
            return _error(api, 503, str(exc), {"Retry-After": "1"}), api, template
        except StoreError as exc:
            return _error(api, 503, str(exc), {"Retry-After": "1"}), api, template
        except Exception:
            errors_log.exception("unexpected error answering %s %s", request.method, template)
            return _error(api, 500, "internal error"), api, template

    async def _serve_mcp(
        self, scope: Scope, receive: Receive, send: Send, request: Request, client: str
    ) -> int:
        assert self._mcp is not None
        try:
            key = self.guard.authenticate(request, client)
            with self.guard.admit(key):
                status = 0

                async def tracking_send(message: dict[str, Any]) -> None:
                    nonlocal status
                    if message["type"] == "http.response.start":
                        status = message["status"]
                    await send(message)

                await self._mcp(scope, receive, tracking_send)
                return status
        except Refused as exc:
            response = _refusal(Api.MCP, exc)
            await _send(send, response)
            return response.status

    def _allowed_origin(self, request: Request) -> str | None:
        origin = request.headers.get("origin")
        if not origin or not self._origins:
            return None
        if "*" in self._origins:
            return "*"
        return origin if origin in self._origins else None

    def _add_cors(self, request: Request, response: Response) -> None:
        origin = self._allowed_origin(request)
        if origin is not None:
            response.headers["Access-Control-Allow-Origin"] = origin
            response.headers["Vary"] = "Origin"

    def _preflight(self, request: Request) -> dict[str, str]:
        origin = self._allowed_origin(request)
        if origin is None:
            return {}
        return {
            "Access-Control-Allow-Origin": origin,
            "Access-Control-Allow-Methods": CORS_METHODS,
            "Access-Control-Allow-Headers": CORS_HEADERS,
            "Access-Control-Max-Age": "600",
            "Vary": "Origin",
        }


def _refusal(api: Api, exc: Refused) -> Response:
    headers = {}
    if isinstance(exc, TooMany):
        headers["Retry-After"] = str(max(1, round(exc.retry_after_s)))
    if exc.status == 401:
        headers["WWW-Authenticate"] = "Bearer"
    if isinstance(exc, MethodNotAllowed):
        headers["Allow"] = ", ".join(exc.allowed)
    if api is Api.JUDGE0 and isinstance(exc, Unprocessable) and exc.field:
        return json_response({exc.field: [exc.message]}, exc.status, headers)
    return _error(api, exc.status, exc.message, headers)


def _error(api: Api, status: int, message: str, headers: dict[str, str] | None = None) -> Response:
    key = "message" if api is Api.PISTON else "error"
    return json_response({key: message}, status, headers)


async def _read_body(receive: Receive, limit: int, headers: dict[str, str] | None = None) -> bytes:
    """The request body, refused (413) past ``limit`` bytes before it is all read."""
    declared = (headers or {}).get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise TooLarge(f"the body is larger than the engine takes ({limit} bytes)")
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise Refused("the client went away before sending its body")
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            raise TooLarge(f"the body is larger than the engine takes ({limit} bytes)")
        chunks.append(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks)


async def _send(send: Send, response: Response, *, head_only: bool = False) -> None:
    headers = [
        (b"content-type", response.content_type.encode()),
        (b"content-length", str(len(response.body)).encode()),
    ]
    headers += [(k.lower().encode(), v.encode("latin-1")) for k, v in response.headers.items()]
    await send({"type": "http.response.start", "status": response.status, "headers": headers})
    await send({"type": "http.response.body", "body": b"" if head_only else response.body})


async def _lifespan(receive: Receive, send: Send) -> None:
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await send({"type": "lifespan.shutdown.complete"})
            return
