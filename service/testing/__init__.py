"""Test doubles and harnesses for the engine.

``fake_agent`` speaks the agent protocol on :class:`docker_api.testing.FakeAttachPeer`
for deterministic unit tests without Docker; ``nats_servers`` and ``harness`` run
real nats-servers and a real daemon as child processes for integration tests and
benchmarks. The
in-memory intake is :mod:`service.intake.memory`.
"""

from .fake_agent import (
    Behaviour,
    FakeAgent,
    answer,
    never_answer,
    running,
    start_fake_pool,
    step_result,
)

__all__ = [
    "Behaviour",
    "FakeAgent",
    "answer",
    "never_answer",
    "running",
    "start_fake_pool",
    "step_result",
]
