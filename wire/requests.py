"""What clients send: requests as they are on the wire.

``code``, ``stdin`` and test data are base64 text here; the engine decodes and
checks them in one place (``service/requests``). A problems request is a compiler
request plus the problem's fields, so each subject has its own struct and a field
that is not in it is refused by name (a request with a misspelt or too new field
must not be graded as if the field were absent).

Each field's ``Meta(description=...)`` is what the generated protocol reference
(docs/reference/protocol.md and schema.json) says of it.
"""

from __future__ import annotations

from typing import Annotated

import msgspec
from msgspec import Meta

# The version of the request and reply protocol (what the documentation describes),
# advertised in $SRV.INFO metadata. 2: unknown fields refused.
PROTOCOL_VERSION = 2


class WireTest(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """One test case of a problems request."""

    stdin: Annotated[
        str | None,
        Meta(description="base64; the test's input, at most the problems stdin limit decoded"),
    ] = None
    expected_output: Annotated[
        str | None,
        Meta(
            description="base64; what the solution must print (compared by `compare`; "
            "empty when absent)"
        ),
    ] = None
    id: Annotated[
        str | int | None,
        Meta(
            description="echoed in the test's report; a string is cut to 128 characters, "
            "a longer integer is refused; default: its position, from 1"
        ),
    ] = None
    points: Annotated[
        float | None, Meta(description="what the test scores when accepted, 0 to 1e9; default 1")
    ] = None
    group: Annotated[
        str | None,
        Meta(
            description="a subtask: its points are scored only when every test of the group "
            "is accepted; 1 to 128 characters"
        ),
    ] = None


class WireFile(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """An extra source file: a relative path and its base64 content."""

    name: Annotated[
        str,
        Meta(
            description="a relative path of at most 4 segments of [A-Za-z0-9._-], "
            "none starting with '.' or '-'"
        ),
    ]
    content: Annotated[str, Meta(description="base64; any bytes")] = ""


class WireTool(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """A problem's own program: a checker or an interactor."""

    language: Annotated[str, Meta(description="a language name or alias")]
    code: Annotated[str, Meta(description="base64; its main file")]
    files: Annotated[
        list[WireFile] | None, Meta(description="extra source files beside its main file")
    ] = None
    convention: Annotated[
        str,
        Meta(
            description="how it is called and reports: testlib (exit 0 accepted, 1/2/4/8 "
            "wrong answer, 7 points) or kattis (`input answer feedback_dir/ [args] < output`, "
            "exit 42 accepted, 43 wrong answer)"
        ),
    ] = "testlib"
    args: Annotated[
        list[str] | None,
        Meta(description="kattis only: arguments after feedback_dir (output_validator_args)"),
    ] = None
    passes: Annotated[
        int | None,
        Meta(
            description="a kattis checker only: multi-pass, the most runs of the solution per "
            "test (2 to 10), each on the nextpass.in the validator left"
        ),
    ] = None


class WireGroup(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """How a group of tests (a subtask, a Kattis test data group) is scored."""

    id: Annotated[str, Meta(description="the group's name, as tests and other groups name it")]
    parent: Annotated[
        str | None, Meta(description="the group this one is nested in; none: top level")
    ] = None
    aggregation: Annotated[
        str,
        Meta(
            description="sum (of its tests' and groups' scores), min (the least of them) or "
            "pass-fail (its full points only when every test in it is accepted)"
        ),
    ] = "sum"
    on_reject: Annotated[
        str,
        Meta(description="break (a rejected test skips the rest of the group) or continue"),
    ] = "break"


class WireRequest(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """A request on compiler.execute.request."""

    language: Annotated[
        str, Meta(description="a language name or alias, case-insensitive (see Languages)")
    ]
    code: Annotated[
        str,
        Meta(
            description="base64; the main file's source, no NUL bytes, within the code "
            "limit together with `files`"
        ),
    ]
    stdin: Annotated[
        str | None,
        Meta(description="base64; the program's input, within the stdin limit; empty: EOF"),
    ] = None
    args: Annotated[
        list[str] | None,
        Meta(
            description="program arguments, at most CODE_ENGINE_MAX_ARGS, each at most 4096 "
            "characters and without NUL"
        ),
    ] = None
    id: Annotated[
        str | int | None,
        Meta(
            description="echoed in the reply, at most 128 characters (an integer's digits "
            "and sign); generated when absent"
        ),
    ] = None
    timeout_ms: Annotated[
        int | None,
        Meta(
            description="wall-clock limit of each run, clamped to CODE_ENGINE_TIMEOUT_MS "
            "(the default too)"
        ),
    ] = None
    memory_mb: Annotated[
        int | None,
        Meta(
            description="memory limit, clamped to CODE_ENGINE_MEMORY_MB (the default too); "
            "below the language's minimum (memory.min_mb in its file) the request is refused"
        ),
    ] = None
    cpu_time_limit_ms: Annotated[
        int | None,
        Meta(
            description="user plus system CPU time of all the run's processes, clamped to "
            "CODE_ENGINE_MAX_CPU_TIME_MS; default: the wall limit"
        ),
    ] = None
    compile_timeout_ms: Annotated[
        int | None,
        Meta(
            description="wall-clock limit of the compile step, clamped to "
            "CODE_ENGINE_COMPILE_TIMEOUT_MS (the default too); an interpreted language "
            "has no compile step"
        ),
    ] = None
    files: Annotated[
        list[WireFile] | None,
        Meta(description="extra source files beside the main file, at most 32"),
    ] = None


class WireProblemRequest(WireRequest, frozen=True, forbid_unknown_fields=True):
    """A request on problems.execute.request: a compiler request plus the problem."""

    tests: Annotated[
        list[WireTest] | None,
        Meta(
            description="1 to CODE_ENGINE_PROBLEMS_MAX_TESTS test cases; without them the "
            "request runs once, as a compiler request with the problems limits"
        ),
    ] = None
    compare: Annotated[
        str,
        Meta(
            description="how outputs are compared: trim, exact, tokens, float, or icpc (the "
            "ICPC package format's default output validator)"
        ),
    ] = "trim"
    float_tolerance: Annotated[
        float | None,
        Meta(
            description="the tolerance of compare float, 0 < tol <= 1, default 1e-6; with "
            "compare icpc, both its absolute and relative tolerance"
        ),
    ] = None
    stop_on_first_failure: Annotated[
        bool, Meta(description="report the tests after the first failure as skipped")
    ] = False
    checker: Annotated[
        WireTool | None,
        Meta(description="a program that grades each test instead of compare (compare trim only)"),
    ] = None
    interactor: Annotated[
        WireTool | None,
        Meta(description="a program the solution talks to, test by test; not with checker"),
    ] = None
    grader: Annotated[
        list[WireFile] | None,
        Meta(
            description="the problem's own source files (a grader with main, a header), "
            "compiled with the submission (Go, C++), then removed from the build"
        ),
    ] = None
    groups: Annotated[
        list[WireGroup] | None,
        Meta(
            description="how groups are scored and nested; a group only tests name is "
            "pass-fail with on_reject break, at the top level"
        ),
    ] = None
    input_file: Annotated[
        str | None,
        Meta(
            description="a file task: each test's stdin is written to this file in the "
            "program's working directory (a plain name of [A-Za-z0-9._-], not one of the "
            "program's files) and its stdin is empty; not with interactor"
        ),
    ] = None
    output_file: Annotated[
        str | None,
        Meta(
            description="a file task: what the program leaves in this file in its working "
            "directory is its output, graded in place of its stdout (which is discarded); "
            "missing: empty; past the output limit: output_limit; not with interactor"
        ),
    ] = None
    case_sensitive: Annotated[
        bool | None,
        Meta(description="compare icpc only: tokens compared case-sensitively (default false)"),
    ] = None
    space_change_sensitive: Annotated[
        bool | None,
        Meta(description="compare icpc only: whitespace must match exactly (default false)"),
    ] = None
    float_absolute_tolerance: Annotated[
        float | None,
        Meta(description="compare icpc only: numbers within this absolute error are equal"),
    ] = None
    float_relative_tolerance: Annotated[
        float | None,
        Meta(description="compare icpc only: numbers within this relative error are equal"),
    ] = None


PROBLEM_ONLY_FIELDS = frozenset(WireProblemRequest.__struct_fields__) - frozenset(
    WireRequest.__struct_fields__
)
