"""``code-engine mcp``: the MCP server over stdio, for an agent that starts it as a tool.

Same tools as the gateway's ``/mcp``; the process connects to NATS itself (the
daemon's settings), so no gateway needs to run. stdout carries the protocol
only: logs go to stderr.
"""

from __future__ import annotations

import trio
import trio_asyncio

from .engine import Engine
from .mcp_tools import build_mcp
from .settings import GatewaySettings, engine_settings


async def serve_stdio(settings: GatewaySettings, nats_url: str | None = None) -> None:
    """Serve MCP on stdin/stdout until the client closes stdin."""
    config = engine_settings(nats_url)
    async with trio_asyncio.open_loop(), trio.open_nursery() as nursery:
        engine = await nursery.start(
            Engine.from_settings(config, settings, name="code-engine mcp").run
        )
        await build_mcp(engine).run_stdio_async()
        nursery.cancel_scope.cancel()
