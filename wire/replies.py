"""What clients get back: one reply per request, on its reply subject.

Each field's ``Meta(description=...)`` is what the generated protocol reference
(docs/reference/protocol.md and schema.json) says of it.
"""

from __future__ import annotations

from typing import Annotated

import msgspec
from msgspec import Meta

from .status import Status

RequestId = Annotated[str, Meta(description="the request's id, or the one generated for it")]
LanguageName = Annotated[
    str,
    Meta(
        description="the language's own name (see Languages), whatever alias "
        "the request used; on a refusal, what the request said, or empty"
    ),
]
Output = Annotated[
    str, Meta(description="stdout as text (invalid UTF-8 replaced), at most the output limit")
]
Error = Annotated[
    str,
    Meta(description="stderr, then why a limit stopped the program or why the request was refused"),
]
ExitCode = Annotated[int | None, Meta(description="the exit code, null when killed by a signal")]
Signal = Annotated[
    str | None, Meta(description='the signal that ended the program, e.g. "SIGKILL"')
]
ExecutionTime = Annotated[
    float | None,
    Meta(description="wall time of the run, measured inside the container, in ms"),
]
CompileTime = Annotated[
    float | None,
    Meta(
        description="wall time of the compile step (Go, C++) in ms, 0 when the program "
        "came from the compile cache, null for interpreted languages"
    ),
]
MemoryKb = Annotated[
    int | None, Meta(description="peak resident memory of the program (ru_maxrss), in KiB")
]
Truncated = Annotated[bool, Meta(description="output or error was cut at the output limit")]
CpuTime = Annotated[
    float | None,
    Meta(
        description="CPU time of the run's processes (what cpu_time_limit_ms limits), in "
        "ms; null when nothing ran"
    ),
]


class Reply(msgspec.Struct, kw_only=True):
    """The reply to a compiler request (and to a problems request without tests)."""

    id: RequestId
    language: LanguageName
    success: Annotated[bool, Meta(description="true exactly when status is ok")]
    status: Status
    output: Output = ""
    error: Error = ""
    exit_code: ExitCode = None
    signal: Signal = None
    execution_time_ms: ExecutionTime = None
    compile_time_ms: CompileTime = None
    memory_kb: MemoryKb = None
    truncated: Truncated = False
    cpu_time_ms: CpuTime = None


class TestReport(msgspec.Struct, kw_only=True):
    """One test case of a problems reply."""

    id: Annotated[str, Meta(description="the test's id, or its position from 1")]
    status: Status
    passed: Annotated[bool, Meta(description="true exactly when status is accepted")]
    output: Annotated[
        str, Meta(description="the solution's stdout; with an interactor, its output file")
    ] = ""
    error: Error = ""
    exit_code: ExitCode = None
    signal: Signal = None
    execution_time_ms: ExecutionTime = None
    memory_kb: MemoryKb = None
    truncated: Annotated[
        bool, Meta(description="output or error was cut (at the output limit, or to fit the reply)")
    ] = False
    cpu_time_ms: CpuTime = None
    checker_output: Annotated[
        str,
        Meta(
            description="the checker's stderr then stdout, or the interactor's stderr, first "
            "4 KiB; a kattis validator's judgemessage.txt then its stderr"
        ),
    ] = ""
    score: Annotated[
        float,
        Meta(
            description="points scored: its points when accepted, or what the checker "
            "gave (testlib points, kattis score.txt or score_multiplier.txt); 0 otherwise"
        ),
    ] = 0.0
    team_message: Annotated[
        str,
        Meta(description="a kattis validator's teammessage.txt, for the solution's author"),
    ] = ""


class GroupReport(msgspec.Struct, kw_only=True):
    """One group (subtask) of a problems reply, scored by its aggregation."""

    id: Annotated[str, Meta(description="the group's name, as its tests gave it")]
    score: Annotated[
        float,
        Meta(
            description="sum or min of its members' scores; pass-fail: max_score when every "
            "test is accepted, else 0"
        ),
    ]
    max_score: Annotated[
        float, Meta(description="the sum (min: the least) of its members' maximum scores")
    ]
    status: Annotated[
        Status, Meta(description="accepted, or the first non-accepted verdict of its tests")
    ]
    parent: Annotated[str | None, Meta(description="the group it is nested in")] = None
    aggregation: Annotated[str, Meta(description="sum, min or pass-fail")] = "pass-fail"


class ProblemReply(msgspec.Struct, kw_only=True):
    """The reply to a problems request with tests.

    ``groups`` is left out of the JSON when no test has a group.
    """

    id: RequestId
    language: LanguageName
    success: Annotated[bool, Meta(description="true exactly when every test is accepted")]
    status: Annotated[
        Status,
        Meta(
            description="accepted, or the first non-accepted verdict in test order, or a "
            "status of the request as a whole"
        ),
    ]
    compile_output: Annotated[
        str, Meta(description="the compiler's diagnostics (all of them on compile_error)")
    ] = ""
    compile_time_ms: CompileTime = None
    passed: Annotated[int, Meta(description="tests accepted")] = 0
    total: Annotated[int, Meta(description="tests in the request")] = 0
    tests: Annotated[
        list[TestReport], Meta(description="one report per test, in order; empty on compile_error")
    ] = []
    error: Annotated[
        str, Meta(description="why the request failed as a whole (refused, checker not built)")
    ] = ""
    score: Annotated[float, Meta(description="points scored")] = 0.0
    max_score: Annotated[float, Meta(description="the sum of all tests' points")] = 0.0
    groups: Annotated[
        list[GroupReport] | msgspec.UnsetType,
        Meta(description="the groups in order of first appearance; only when a test has one"),
    ] = msgspec.UNSET


AnyReply = Reply | ProblemReply

_encoder = msgspec.json.Encoder()


def encode(reply: AnyReply) -> bytes:
    return _encoder.encode(reply)


def refusal(request_id: str, language: str, status: Status, reason: str) -> Reply:
    """A compiler reply for a request that never ran (invalid, busy, internal error)."""
    return Reply(id=request_id, language=language, success=False, status=status, error=reason)
