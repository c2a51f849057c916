"""Problems mode: test cases, output comparison and verdicts.

A problems request is a v1 request plus ``tests``; the source is compiled once and
run once per test in a clean state. This module holds the wire types, the
comparison, and how per-test verdicts add up to the request's status. The
running itself is :mod:`service.judge`.
"""

from __future__ import annotations

import base64
import binascii
import enum
from dataclasses import dataclass

import msgspec

from service.errors import InvalidRequest
from service.jobs.outcome import StepResult, compile_diagnostics, error_text, text, verdict
from service.requests.validate import ExecuteRequest, Status


class Verdict(enum.StrEnum):
    ACCEPTED = "accepted"
    WRONG_ANSWER = "wrong_answer"
    COMPILE_ERROR = "compile_error"
    RUNTIME_ERROR = "runtime_error"
    TIMEOUT = "timeout"
    MEMORY_LIMIT = "memory_limit"
    OUTPUT_LIMIT = "output_limit"
    INVALID_REQUEST = "invalid_request"
    BUSY = "busy"
    INTERNAL_ERROR = "internal_error"
    SKIPPED = "skipped"


class Compare(enum.StrEnum):
    EXACT = "exact"
    TRIM = "trim"


class WireTest(msgspec.Struct, frozen=True):
    stdin: str | None = None
    expected_output: str | None = None
    id: str | int | None = None


class WireProblem(msgspec.Struct, frozen=True):
    tests: list[WireTest] | None = None
    compare: str = "trim"
    stop_on_first_failure: bool = False


@dataclass(frozen=True, slots=True)
class TestCase:
    id: str
    stdin: bytes
    expected: bytes | None


@dataclass(frozen=True, slots=True)
class Problem:
    tests: tuple[TestCase, ...]
    compare: Compare
    stop_on_first_failure: bool


class TestReport(msgspec.Struct, kw_only=True):
    id: str
    status: Verdict
    passed: bool
    output: str = ""
    error: str = ""
    exit_code: int | None = None
    signal: str | None = None
    execution_time_ms: float | None = None
    memory_kb: int | None = None
    truncated: bool = False


class ProblemReply(msgspec.Struct, kw_only=True):
    id: str
    language: str
    success: bool
    status: Verdict
    compile_output: str = ""
    compile_time_ms: float | None = None
    passed: int = 0
    total: int = 0
    tests: list[TestReport] = []
    error: str = ""


_decoder = msgspec.json.Decoder(WireProblem)


def parse_problem(payload: bytes, *, max_tests: int, max_stdin_bytes: int) -> Problem | None:
    """The problem part of a request, or None when it has no ``tests``.

    Raises:
        InvalidRequest: the tests, compare mode or flags are malformed or too large.
    """
    try:
        wire = _decoder.decode(payload)
    except msgspec.ValidationError as exc:
        raise InvalidRequest(f"invalid request: {str(exc).replace('`', chr(39))}") from None
    if wire.tests is None:
        return None
    if not 1 <= len(wire.tests) <= max_tests:
        raise InvalidRequest(f"tests must hold 1 to {max_tests} cases, got {len(wire.tests)}")
    try:
        compare = Compare(wire.compare)
    except ValueError:
        raise InvalidRequest(f"compare must be 'exact' or 'trim', got {wire.compare!r}") from None
    cases = []
    for index, test in enumerate(wire.tests):
        stdin = _b64(f"tests[{index}].stdin", test.stdin, max_stdin_bytes)
        expected = (
            _b64(f"tests[{index}].expected_output", test.expected_output, max_stdin_bytes)
            if test.expected_output is not None
            else None
        )
        test_id = str(test.id) if test.id is not None else str(index + 1)
        cases.append(TestCase(test_id[:128], stdin, expected))
    return Problem(tuple(cases), compare, wire.stop_on_first_failure)


def _b64(name: str, value: str | None, max_bytes: int) -> bytes:
    if not value:
        return b""
    try:
        data = base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raise InvalidRequest(f"{name} is not valid base64") from None
    if len(data) > max_bytes:
        raise InvalidRequest(f"{name} is {len(data)} bytes, larger than the limit of {max_bytes}")
    return data


def normalize(output: bytes, compare: Compare) -> bytes:
    if compare is Compare.EXACT:
        return output
    lines = [line.rstrip() for line in output.replace(b"\r\n", b"\n").split(b"\n")]
    while lines and not lines[-1]:
        lines.pop()
    return b"\n".join(lines)


def grade(
    step: StepResult, test: TestCase, compare: Compare, request: ExecuteRequest
) -> TestReport:
    """The report of one test from its run."""
    status = verdict(step, request.memory_mb)
    if status is Status.OK:
        if test.expected is None or normalize(step.stdout, compare) == normalize(
            test.expected, compare
        ):
            result = Verdict.ACCEPTED
        else:
            result = Verdict.WRONG_ANSWER
    else:
        result = Verdict(status.value)
    error = error_text(step, status, request)
    return TestReport(
        id=test.id,
        status=result,
        passed=result is Verdict.ACCEPTED,
        output=text(step.stdout),
        error=error,
        exit_code=step.exit_code,
        signal=step.signal_name,
        execution_time_ms=round(step.wall_ms, 3),
        memory_kb=step.memory_kb,
        truncated=step.truncated,
    )


def failed(test: TestCase, status: Verdict, reason: str) -> TestReport:
    return TestReport(id=test.id, status=status, passed=False, error=reason)


def skipped(test: TestCase) -> TestReport:
    return TestReport(id=test.id, status=Verdict.SKIPPED, passed=False)


def summarize(
    request: ExecuteRequest, reports: list[TestReport], compile_step: StepResult | None, total: int
) -> ProblemReply:
    """The request's reply: the first non-accepted verdict in test order decides its status."""
    passed = sum(1 for r in reports if r.passed)
    status = next(
        (
            r.status
            for r in reports
            if r.status is not Verdict.ACCEPTED and r.status is not Verdict.SKIPPED
        ),
        Verdict.ACCEPTED,
    )
    return ProblemReply(
        id=request.id,
        language=request.language.name,
        success=passed == total,
        status=status,
        compile_output=compile_diagnostics(compile_step) if compile_step else "",
        compile_time_ms=round(compile_step.wall_ms, 3) if compile_step else None,
        passed=passed,
        total=total,
        tests=reports,
    )


def fit_payload(reply: ProblemReply, max_bytes: int) -> bytes:
    """Encode a reply, cutting the largest test outputs until it fits ``max_bytes``.

    Cut tests get ``truncated`` set; the reply is never dropped.
    """
    encoded = msgspec.json.encode(reply)
    while len(encoded) > max_bytes:
        over = len(encoded) - max_bytes
        victim = max(reply.tests, key=lambda t: len(t.output) + len(t.error), default=None)
        if victim is None or not (victim.output or victim.error):
            break
        field_name = "output" if len(victim.output) >= len(victim.error) else "error"
        value: str = getattr(victim, field_name)
        keep = max(0, len(value) - over - 64)
        setattr(victim, field_name, value[: min(keep, len(value) // 2)])
        victim.truncated = True
        encoded = msgspec.json.encode(reply)
    return encoded


def refusal_for_problem(request: ExecuteRequest, status: Status, reason: str) -> ProblemReply:
    total = len(request.problem.tests) if request.problem else 0
    return ProblemReply(
        id=request.id,
        language=request.language.name,
        success=False,
        status=Verdict(status.value),
        total=total,
        error=reason,
    )
