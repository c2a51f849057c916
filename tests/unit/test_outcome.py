"""Agent facts to statuses."""

import pytest

from agent.protocol import StepResult
from service.jobs.outcome import verdict
from service.testing import step_result
from wire import Status


def step(**fields) -> StepResult:
    return step_result(**fields)


@pytest.mark.parametrize(
    ("fields", "status"),
    [
        ({}, Status.OK),
        ({"exit_code": 2}, Status.RUNTIME_ERROR),
        ({"exit_code": None, "signal": 11}, Status.RUNTIME_ERROR),
        ({"timed_out": True, "exit_code": None, "signal": 9}, Status.TIMEOUT),
        ({"oom_killed": True, "exit_code": None, "signal": 9}, Status.MEMORY_LIMIT),
        ({"output_exceeded": True, "exit_code": None, "signal": 9}, Status.OUTPUT_LIMIT),
    ],
)
def test_verdicts(fields, status):
    assert verdict(step(**fields), 400) is status


def test_a_timeout_at_the_memory_ceiling_is_memory_limit():
    stalled = step(timed_out=True, exit_code=None, signal=9, memory_kb=395 * 1024)
    assert verdict(stalled, 400) is Status.MEMORY_LIMIT
    busy = step(timed_out=True, exit_code=None, signal=9, memory_kb=50 * 1024)
    assert verdict(busy, 400) is Status.TIMEOUT
    assert verdict(stalled) is Status.TIMEOUT  # no limit known: no guess
