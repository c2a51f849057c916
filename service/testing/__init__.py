"""Test doubles and harnesses for the engine.

The helpers the test suites and the benchmarks share, one home each:

    fake_agent    speaks the agent protocol on docker_api.testing.FakeAttachPeer, for
                  deterministic unit tests without Docker
    nats_servers  real nats-servers (one, or a cluster) as child processes
    harness       a real daemon as a child process; what it publishes (wait_for_stats)
                  and the containers it made
    client        requests to a running engine from synchronous code
    waiting       wait_until: the one bounded poll, for facts nothing announces
    probes        Python that jobs run to look at their own container

The in-memory intake is :mod:`service.intake.memory`. A suite's own helpers stay
beside it (tests/hostile/hostile_support.py, tests/tui/tui_harness.py).
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
