"""What operators and tools ask of the gateway itself: probes, metrics, the OpenAPI document.

``/healthz`` says the process answers; ``/readyz`` that it is connected to NATS
and a daemon answered the language list within the last few seconds (so a load
balancer sends nothing to a gateway that could only answer 503).
"""

from __future__ import annotations

import msgspec

from .engine import Engine
from .errors import EngineUnavailable
from .http.messages import Request, Response, json_response
from .http.router import Api, Router
from .metrics import CONTENT_TYPE, GatewayMetrics
from .openapi import document


class Readiness(msgspec.Struct):
    ready: bool
    nats: bool
    engine: bool
    reason: str = ""


class OpsApi:
    def __init__(self, engine: Engine, metrics: GatewayMetrics, *, auth: bool = False) -> None:
        self.engine = engine
        self.metrics = metrics
        self._openapi = msgspec.json.encode(document(auth=auth))

    def mount(self, router: Router) -> None:
        router.add("GET", "/healthz", self.healthz, Api.OPS)
        router.add("GET", "/readyz", self.readyz, Api.OPS)
        router.add("GET", "/metrics", self.prometheus, Api.OPS)
        router.add("GET", "/openapi.json", self.openapi, Api.OPS)

    async def healthz(self, request: Request) -> Response:
        return json_response({"alive": True})

    async def readyz(self, request: Request) -> Response:
        if not self.engine.connected:
            return json_response(Readiness(False, False, False, "not connected to NATS"), 503)
        try:
            await self.engine.languages()
        except EngineUnavailable as exc:
            return json_response(Readiness(False, True, False, str(exc)), 503)
        return json_response(Readiness(True, True, True))

    async def prometheus(self, request: Request) -> Response:
        return Response(200, self.metrics.exposition(), CONTENT_TYPE)

    async def openapi(self, request: Request) -> Response:
        return Response(200, self._openapi)
