"""Every part of the gateway built and wired in one place."""

from __future__ import annotations

import trio

from service.config import Settings as EngineSettings

from .background import Background
from .engine import Engine
from .http.app import GatewayApp
from .http.guard import Guard
from .http.router import Router
from .metrics import GatewayMetrics
from .native import NativeApi
from .ops import OpsApi
from .settings import GatewaySettings


async def build(
    settings: GatewaySettings,
    engine_settings: EngineSettings,
    engine: Engine,
    nursery: trio.Nursery,
) -> tuple[GatewayApp, Background]:
    metrics = GatewayMetrics()
    router = Router()
    OpsApi(engine, metrics).mount(router)
    NativeApi(engine).mount(router)
    guard = Guard(
        settings.token_set(),
        rate=settings.rate,
        burst=settings.burst,
        concurrency=settings.concurrency,
    )
    app = GatewayApp(
        router, guard, metrics, max_body=lambda: engine.max_payload, origins=settings.origins()
    )
    return app, Background(nursery)
