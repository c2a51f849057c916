"""What clients get back: one reply per request, on its reply subject."""

from __future__ import annotations

import msgspec

from .status import Status


class Reply(msgspec.Struct, kw_only=True):
    """The reply to a compiler request (and to a problems request without tests)."""

    id: str
    language: str
    success: bool
    status: Status
    output: str = ""
    error: str = ""
    exit_code: int | None = None
    signal: str | None = None
    execution_time_ms: float | None = None
    compile_time_ms: float | None = None
    memory_kb: int | None = None
    truncated: bool = False
    cpu_time_ms: float | None = None


class TestReport(msgspec.Struct, kw_only=True):
    """One test case of a problems reply."""

    id: str
    status: Status
    passed: bool
    output: str = ""
    error: str = ""
    exit_code: int | None = None
    signal: str | None = None
    execution_time_ms: float | None = None
    memory_kb: int | None = None
    truncated: bool = False
    cpu_time_ms: float | None = None
    checker_output: str = ""


class GroupReport(msgspec.Struct, kw_only=True):
    """One group (subtask) of a problems reply: all its tests accepted, or no score."""

    id: str
    score: float
    max_score: float
    status: Status


class ProblemReply(msgspec.Struct, kw_only=True):
    """The reply to a problems request with tests.

    ``groups`` is left out of the JSON when no test has a group.
    """

    id: str
    language: str
    success: bool
    status: Status
    compile_output: str = ""
    compile_time_ms: float | None = None
    passed: int = 0
    total: int = 0
    tests: list[TestReport] = []
    error: str = ""
    score: float = 0.0
    max_score: float = 0.0
    groups: list[GroupReport] | msgspec.UnsetType = msgspec.UNSET


AnyReply = Reply | ProblemReply

_encoder = msgspec.json.Encoder()


def encode(reply: AnyReply) -> bytes:
    return _encoder.encode(reply)


def refusal(request_id: str, language: str, status: Status, reason: str) -> Reply:
    """A compiler reply for a request that never ran (invalid, busy, internal error)."""
    return Reply(id=request_id, language=language, success=False, status=status, error=reason)
