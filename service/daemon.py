"""The daemon process: one nursery tree, started in dependency order.

::

    serve()
    └── root nursery
        ├── log shipper               (only when BetterStack is configured)
        ├── metrics and probes        (only when CODE_ENGINE_METRICS_ADDR is set)
        ├── embedded nats-server      (only when NATSURL is unset and :4222 is free;
        │                              restarted when it dies)
        └── Engine.run
            ├── Pool.run              warm containers + health monitor (every 1 s)
            │   └── spawn / remove    container lifecycles
            ├── Dispatcher.run        `concurrency` worker tasks, each job in a cancel scope
            ├── NatsIntake.run        nats-py under trio-asyncio: requests in (to Admission),
            │                         replies out,
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
from service import languages
from service.config import Settings
from service.engine import Engine
from service.errors import EngineError
from service.intake.nats_server import EmbeddedNats, listening
from service.operations.http import OpsListener
from service.operations.logs import ship_logs
from service.sandbox.instance import claim_instance

log = logging.getLogger(__name__)


class Shutdown:
    """Turns SIGINT/SIGTERM into a graceful stop, and a second signal into a quick one.

    The signal receiver stays open until the daemon has cleaned up, so a signal
    that arrives during cleanup can never kill the process before its containers
    are removed.
    """

    def __init__(self) -> None:
        self.requested = trio.Event()
        self.cut_short = trio.CancelScope()
        self.engine: Engine | None = None

    async def watch(self, signals: AsyncIterator[int], root: trio.CancelScope) -> None:
        async for signum in signals:
            name = signal.Signals(signum).name
            if not self.requested.is_set():
                log.info("received %s", name)
                self.requested.set()
                if self.engine is None:
                    root.cancel()  # still starting: nothing to drain
            elif not self.cut_short.cancel_called:
                log.warning("received %s again: stopping now", name)
                if self.engine is not None:
                    self.engine.dispatcher.cancel()
                self.cut_short.cancel()
            else:
                log.info("received %s: already stopping", name)


async def serve(settings: Settings) -> None:
    """Run the daemon until SIGINT/SIGTERM, holding its instance id (see ``claim_instance``).

    Raises:
        EngineError: a component could not start (Docker, image, NATS), the
            instance id is held by another daemon on this host, or a language
            file is refused (LanguageFileError, naming the file and the field).
    """
    languages.serve(languages.select(settings.languages))
    with claim_instance(settings) as claimed:
        await _serve(claimed)


async def _serve(settings: Settings) -> None:
    shutdown = Shutdown()
    with trio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as signals:
        async with trio.open_nursery() as root:
            root.start_soon(shutdown.watch, signals, root.cancel_scope)
            if settings.betterstack_url and settings.betterstack_token:
                await root.start(ship_logs, settings.betterstack_url, settings.betterstack_token)
            listener = OpsListener()
            if (address := settings.metrics_listen) is not None:
                # First, so /healthz answers while the rest starts (and /readyz says so).
                await root.start(listener.run, *address)
            embedded: EmbeddedNats | None = None
            if settings.nats_url is None and not listening(port=settings.embedded_nats_port):
                embedded = EmbeddedNats(settings.nats_max_payload, port=settings.embedded_nats_port)
                url = await root.start(embedded.run)
                log.info("using embedded NATS at %s", url)
            async with DockerClient(socket_path=settings.docker_socket) as docker:
                try:
                    await docker.system.ping()
                except DockerError as exc:
                    raise EngineError(f"Docker daemon does not answer: {exc}") from exc
                engine = Engine(settings, docker, nats_server=embedded)
                async with trio.open_nursery() as nursery:
                    await nursery.start(engine.run)
                    shutdown.engine = engine
                    listener.attach(engine.collector, engine.parts)
                    log.info("code-engine %s ready", settings.instance_id)
                    await shutdown.requested.wait()
                    log.info("shutting down: draining for up to %.0f s", settings.shutdown_grace_s)
                    with shutdown.cut_short:
                        await engine.control.finish_work(settings.shutdown_grace_s)
                    # Outside the cut-short scope: cut-off jobs are answered before
                    # the intake flushes and closes.
                    await engine.control.stop_workers()
                    nursery.cancel_scope.cancel()
            root.cancel_scope.cancel()
    log.info("stopped")
