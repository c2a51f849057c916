"""Liveness and readiness, as an orchestrator asks for them.

``/healthz`` answers while the process runs its event loop. ``/readyz`` answers
200 only when the instance takes work: the engine has started (its pool was
warmed), a container is warm, Docker answers, NATS is connected and the engine
is ``running`` (not paused or draining, as during shutdown). Otherwise it says
503 with every reason, so a load balancer or ``docker compose`` waits, and an
operator reads why.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

import msgspec

from service.operations.snapshot import BusHealth, PoolView
from wire.admin import EngineState


class Verdict(msgspec.Struct, kw_only=True):
    """The JSON body of ``/readyz``."""

    ready: bool
    state: str
    reasons: list[str] = []


class ReadyView(Protocol):
    """The parts of a started engine that readiness looks at."""

    @property
    def pool(self) -> PoolView: ...

    @property
    def intake(self) -> BusHealth: ...

    @property
    def state(self) -> EngineState: ...


@dataclass
class EngineParts:
    """A :class:`ReadyView` over the engine's pool, intake and state."""

    pool: PoolView
    intake: BusHealth
    current_state: Callable[[], EngineState]

    @property
    def state(self) -> EngineState:
        return self.current_state()


def readiness(engine: ReadyView | None) -> Verdict:
    """Whether the instance takes work now, and why not; None: not started yet."""
    if engine is None:
        return Verdict(ready=False, state="starting", reasons=["the engine is starting"])
    reasons = []
    state = engine.state
    if state is not EngineState.RUNNING:
        reasons.append(f"the engine is {state.value}")
    if not engine.pool.docker_ok:
        reasons.append(f"Docker does not answer: {engine.pool.last_error or 'unreachable'}")
    warm = [c for c in engine.pool.containers if str(c.state) in ("idle", "busy")]
    if not warm:
        reasons.append("no warm container in the pool")
    if not engine.intake.connected:
        reasons.append("not connected to NATS")
    return Verdict(ready=not reasons, state=state.value, reasons=reasons)
