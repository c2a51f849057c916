"""The daemon process: one nursery tree, started in dependency order.

::

    serve()
    └── root nursery
        ├── log shipper               (only when BetterStack is configured)
        ├── embedded nats-server      (only when NATSURL is unset and :4222 is free)
        └── Engine.run
            ├── Pool.run              warm containers + health monitor (every 1 s)
            │   └── spawn / remove    container lifecycles
            ├── Dispatcher.run        `concurrency` worker tasks, each job in a cancel scope
            ├── NatsIntake.run        nats-py under trio-asyncio: requests in, replies out,
            │                         admin and $SRV services, pause/resume
            └── StatsPublisher.run    a snapshot on code-engine.stats.<instance> every 1 s

Each component is started with ``await nursery.start(...)`` and reports ready
only when it truly is, so the order is explicit: no request is taken before the
pool is warm. SIGINT/SIGTERM stops intake, lets in-flight jobs finish up to the
shutdown grace, answers the rest, and removes the pool's containers; a second
signal cuts the grace short.
"""

from __future__ import annotations

import logging
import signal
from collections.abc import AsyncIterator

import trio

from docker_api import DockerClient, DockerError

from .config import Settings
from .engine import Engine
from .errors import EngineError
from .logs import ship_logs
from .nats_server import listening, run_embedded

log = logging.getLogger(__name__)


async def serve(settings: Settings) -> None:
    """Run the daemon until SIGINT/SIGTERM.

    Raises:
        EngineError: a component could not start (Docker, image, NATS).
    """
    async with trio.open_nursery() as root:
        if settings.betterstack_url and settings.betterstack_token:
            await root.start(ship_logs, settings.betterstack_url, settings.betterstack_token)
        if settings.nats_url is None and not listening():
            url = await root.start(run_embedded, settings.nats_max_payload)
            log.info("using embedded NATS at %s", url)
        async with DockerClient(socket_path=settings.docker_socket) as docker:
            try:
                await docker.system.ping()
            except DockerError as exc:
                raise EngineError(f"Docker daemon does not answer: {exc}") from exc
            engine = Engine(settings, docker)
            async with trio.open_nursery() as nursery:
                await nursery.start(engine.run)
                log.info("code-engine %s ready", settings.instance_id)
                await _wait_for_signal()
                log.info("shutting down: draining for up to %.0f s", settings.shutdown_grace_s)
                with trio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as again:
                    async with trio.open_nursery() as closing:
                        closing.start_soon(_on_second_signal, again, engine, closing.cancel_scope)
                        await engine.shutdown(settings.shutdown_grace_s)
                        closing.cancel_scope.cancel()
                nursery.cancel_scope.cancel()
        root.cancel_scope.cancel()
    log.info("stopped")


async def _wait_for_signal() -> None:
    with trio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as signals:
        async for signum in signals:
            log.info("received %s", signal.Signals(signum).name)
            return


async def _on_second_signal(
    signals: AsyncIterator[int], engine: Engine, scope: trio.CancelScope
) -> None:
    async for _ in signals:
        log.warning("second signal: stopping now")
        engine.dispatcher.cancel()
        scope.cancel()
        return
