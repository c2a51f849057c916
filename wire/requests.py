"""What clients send: requests as they are on the wire.

``code``, ``stdin`` and test data are base64 text here; the engine decodes and
checks them in one place (``service/requests``). A problems request is a compiler
request plus the problem's fields, so each subject has its own struct and a field
that is not in it is refused by name (a request with a misspelt or too new field
must not be graded as if the field were absent).
"""

from __future__ import annotations

import msgspec

# The version of the request and reply protocol (what the README documents),
# advertised in $SRV.INFO metadata. 2: unknown fields refused.
PROTOCOL_VERSION = 2


class WireTest(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    stdin: str | None = None
    expected_output: str | None = None
    id: str | int | None = None
    points: float | None = None
    group: str | None = None


class WireFile(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """An extra source file: a relative path and its base64 content."""

    name: str
    content: str = ""


class WireTool(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """A problem's own program: a checker or an interactor."""

    language: str
    code: str
    files: list[WireFile] | None = None


class WireRequest(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """A request on compiler.execute.request."""

    language: str
    code: str
    stdin: str | None = None
    args: list[str] | None = None
    id: str | int | None = None
    timeout_ms: int | None = None
    memory_mb: int | None = None
    cpu_time_limit_ms: int | None = None
    files: list[WireFile] | None = None


class WireProblemRequest(WireRequest, frozen=True, forbid_unknown_fields=True):
    """A request on problems.execute.request: a compiler request plus the problem."""

    tests: list[WireTest] | None = None
    compare: str = "trim"
    float_tolerance: float | None = None
    stop_on_first_failure: bool = False
    checker: WireTool | None = None
    interactor: WireTool | None = None


PROBLEM_ONLY_FIELDS = frozenset(WireProblemRequest.__struct_fields__) - frozenset(
    WireRequest.__struct_fields__
)
