"""``code-engine gateway``: the process, its nursery, and Hypercorn on Trio.

::

    serve(settings)
    └── trio_asyncio loop (nats-py lives in it: gateway/engine.py)
        └── nursery
            ├── Engine.run            the NATS connection; ready once connected
            ├── Submissions.run       the Judge0 submissions bucket, created if missing
            ├── MCP session manager   the streamable HTTP endpoint's sessions
            └── hypercorn.trio.serve  the ASGI app, until SIGINT/SIGTERM

Shutdown: Hypercorn stops taking connections and lets requests in flight finish
(its graceful timeout), then the nursery closes the NATS connection.
"""

from __future__ import annotations

import logging
import signal

import trio
import trio_asyncio
from hypercorn.config import Config
from hypercorn.trio import serve as hypercorn_serve

from .app import build
from .engine import Engine
from .settings import GatewaySettings, engine_settings

log = logging.getLogger("gateway")

GRACEFUL_TIMEOUT_S = 30.0


async def serve(
    settings: GatewaySettings,
    *,
    nats_url: str | None = None,
    task_status: trio.TaskStatus[int] = trio.TASK_STATUS_IGNORED,
) -> None:
    """Run the gateway until SIGINT or SIGTERM (or cancellation); reports the port bound."""
    engine_config = engine_settings(nats_url)
    async with trio_asyncio.open_loop(), trio.open_nursery() as nursery:
        engine = await nursery.start(
            Engine.from_settings(engine_config, settings, name="code-engine gateway").run
        )
        app, parts = await build(settings, engine_config, engine, nursery)
        host, port = settings.listen
        config = Config()
        config.bind = [f"[{host}]:{port}" if ":" in host else f"{host}:{port}"]
        config.graceful_timeout = GRACEFUL_TIMEOUT_S
        config.accesslog = None
        config.errorlog = logging.getLogger("hypercorn.error")
        config.keep_alive_timeout = 75
        stop = trio.Event()
        nursery.start_soon(_watch_signals, stop)

        async def http(*, task_status: trio.TaskStatus[list[str]]) -> None:
            await hypercorn_serve(
                app,  # type: ignore[arg-type]  # a plain ASGI callable
                config,
                shutdown_trigger=stop.wait,
                task_status=task_status,
            )
            # Connections are closed; runs started without waiting get their grace.
            with trio.move_on_after(GRACEFUL_TIMEOUT_S):
                await parts.wait_idle()
            nursery.cancel_scope.cancel()

        binds = await nursery.start(http)
        bound = int(str(binds[0]).rsplit(":", 1)[1]) if binds else port
        log.info("gateway listening on http://%s:%d", host, bound)
        task_status.started(bound)


async def _watch_signals(stop: trio.Event) -> None:
    with trio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as signals:
        async for _ in signals:
            log.info("stopping: finishing the requests in flight")
            stop.set()
            return
