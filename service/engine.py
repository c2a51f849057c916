"""The engine's parts, built and wired in one place, and started in dependency order.

A request's path through them::

    intake (NATS) ──▶ Admission.handle ──▶ Dispatcher queue ──▶ worker task
         ▲              validate · refuse · dead-letter            │
         │                                                         ▼
         └──────── Replies.send ◀── Jobs: Executor / Judge on a Lender session
                   metrics · log line · encode · publish

Nothing here decides anything: each part owns its step (the modules named in
docs/explanation/architecture.md's file table). The process around the engine (signals, embedded
NATS, the Docker client) is :mod:`service.daemon`.
"""

from __future__ import annotations

import trio

from docker_api import DockerClient
from wire import Kind
from wire.languages import LANGUAGES_SUBJECT
from wire.subjects import admin_subject, stats_subject

from . import __version__
from .config import Settings
from .intake import Intake, NatsIntake
from .intake.nats_server import EmbeddedNats
from .jobs import Jobs
from .operations.admin import Admin
from .operations.discovery import Discovery, EndpointStats
from .operations.language_list import answer_languages
from .operations.loop_lag import LoopLag
from .operations.metrics import Metrics
from .operations.probes import EngineParts
from .operations.prometheus import EngineCollector
from .operations.snapshot import Snapshotter
from .operations.stats import StatsPublisher, UsageSampler
from .sandbox.lender import Lender
from .sandbox.pool import Pool
from .scheduling.admission import Admission
from .scheduling.control import Control
from .scheduling.dispatch import Dispatcher
from .scheduling.replies import PAYLOAD_MARGIN, Replies


class Engine:
    """Every part of one engine instance; ``run`` starts them in order."""

    def __init__(
        self,
        settings: Settings,
        docker: DockerClient,
        *,
        intake: Intake | None = None,
        nats_server: EmbeddedNats | None = None,
    ) -> None:
        self.settings = settings
        self.metrics = Metrics()
        self.pool = Pool(docker, settings)
        self.lender = Lender(docker, self.pool, settings)
        self.jobs = Jobs(self.lender, lambda: self.intake.max_payload - PAYLOAD_MARGIN)
        self.dispatcher = Dispatcher(
            self.jobs,
            concurrency=settings.concurrency,
            capacity=settings.queue_capacity,
            metrics=self.metrics,
        )
        self.intake: Intake = (
            intake if intake is not None else NatsIntake(settings, server=nats_server)
        )
        self.control = Control(self.intake, self.dispatcher, self.pool)
        subjects = {
            Kind.COMPILER: settings.compiler_subject,
            Kind.PROBLEMS: settings.problems_subject,
        }
        self.discovery = Discovery(
            settings.instance_id,
            __version__,
            {
                kind: EndpointStats(kind.value, subject, settings.queue_group)
                for kind, subject in subjects.items()
            },
        )
        self.replies = Replies(self.intake, self.metrics, self.discovery.endpoints)
        self.admission = Admission(
            settings, self.dispatcher, self.replies, self.intake, lambda: self.pool.docker_ok
        )
        for subject in self.discovery.subjects():
            self.intake.serve(subject, self.discovery.handler_for(subject))
        self.intake.serve(
            admin_subject(settings.instance_id),
            Admin(self.control, max_workers=settings.concurrency),
        )
        self.intake.serve(LANGUAGES_SUBJECT, answer_languages)
        self.loop_lag = LoopLag()
        snapshot = Snapshotter(
            instance_id=settings.instance_id,
            concurrency=settings.concurrency,
            pool=self.pool,
            queue=self.dispatcher,
            bus=self.intake,
            metrics=self.metrics,
            state=lambda: self.control.state,
            loop_lag=self.loop_lag.take,
            compile_cache=self.lender.compile_cache.figures,
        )
        # What the metrics and probes listener reads (service.operations.http).
        self.collector = EngineCollector(
            instance_id=settings.instance_id,
            version=__version__,
            concurrency=settings.concurrency,
            metrics=self.metrics,
            pool=self.pool,
            queue=self.dispatcher,
            bus=self.intake,
            state=lambda: self.control.state,
            compile_cache=self.lender.compile_cache.figures,
        )
        self.parts = EngineParts(self.pool, self.intake, lambda: self.control.state)
        self._stats = StatsPublisher(
            snapshot,
            lambda: [container.id for container in self.pool.containers],
            UsageSampler(docker),
            lambda payload: self.intake.publish(stats_subject(settings.instance_id), payload),
            interval=settings.health_interval_ms / 1000,
        )

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        """Start pool, workers, intake and stats in order; run until cancelled."""
        async with trio.open_nursery() as nursery:
            await nursery.start(self.loop_lag.run)
            await nursery.start(self.pool.run)
            await nursery.start(self.dispatcher.run)
            await nursery.start(self.intake.run, self.admission.handle, self.control.has_room)
            await nursery.start(self._stats.run)
            task_status.started()
