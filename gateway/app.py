"""Every part of the gateway built and wired in one place."""

from __future__ import annotations

from typing import TYPE_CHECKING

import trio

from service.config import Settings as EngineSettings

from .background import Background
from .engine import Engine
from .http.app import MCP_PATH, GatewayApp
from .http.guard import Guard
from .http.router import Router
from .judge0.api import Judge0Api
from .judge0.store import Submissions
from .judge0.submission import Limits
from .mcp_tools import build_mcp
from .metrics import GatewayMetrics
from .native import NativeApi
from .ops import OpsApi
from .piston import PistonApi
from .settings import GatewaySettings

if TYPE_CHECKING:
    from mcp.server.mcpserver import MCPServer


async def build(
    settings: GatewaySettings,
    engine_settings: EngineSettings,
    engine: Engine,
    nursery: trio.Nursery,
) -> tuple[GatewayApp, Background]:
    metrics = GatewayMetrics()
    router = Router()
    guard = Guard(
        settings.token_set(),
        rate=settings.rate,
        burst=settings.burst,
        concurrency=settings.concurrency,
    )
    OpsApi(engine, metrics, auth=guard.auth_required).mount(router)
    NativeApi(engine).mount(router)
    PistonApi(engine).mount(router)
    background = Background(nursery)
    store = await nursery.start(
        Submissions(
            engine, settings.bucket, ttl_s=settings.submission_ttl_s, replicas=settings.replicas
        ).run
    )
    Judge0Api(
        engine,
        store,
        background,
        limits=Limits(
            wall_s=engine_settings.timeout_ms / 1000,
            cpu_s=engine_settings.cpu_time_ceiling_ms / 1000,
            memory_kb=engine_settings.memory_mb * 1024,
            processes=engine_settings.pids_limit,
            file_size_kb=engine_settings.file_size_limit // 1024,
        ),
        callback_hosts=settings.allowed_callback_hosts(),
        max_batch=settings.max_batch,
        lease_s=settings.lease_s,
        queue_capacity=engine_settings.queue_capacity,
    ).mount(router)
    mcp = build_mcp(engine)
    host, _ = settings.listen
    mcp_app = mcp.streamable_http_app(
        streamable_http_path=MCP_PATH, stateless_http=True, json_response=True, host=host
    )
    nursery.start_soon(_run_mcp_sessions, mcp)
    app = GatewayApp(
        router,
        guard,
        metrics,
        max_body=lambda: engine.max_payload,
        origins=settings.origins(),
        mcp=mcp_app,  # type: ignore[arg-type]  # Starlette is an ASGI callable
    )
    return app, background


async def _run_mcp_sessions(mcp: MCPServer) -> None:
    # The streamable HTTP app's session manager: its task group, for as long as we run.
    async with mcp.session_manager.run():
        await trio.sleep_forever()
