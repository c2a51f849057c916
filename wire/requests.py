"""What clients send: protocol v1 requests as they are on the wire.

``code``, ``stdin`` and test data are base64 text here; the engine decodes and
checks them in one place (``service/requests``). A problems request is a compiler
request plus test cases, so one decode of one struct reads either.
"""

from __future__ import annotations

import msgspec


class WireTest(msgspec.Struct, frozen=True):
    stdin: str | None = None
    expected_output: str | None = None
    id: str | int | None = None


class WireRequest(msgspec.Struct, frozen=True):
    """A request on either subject (problems fields are absent on compiler requests)."""

    language: str
    code: str
    stdin: str | None = None
    args: list[str] | None = None
    id: str | int | None = None
    timeout_ms: int | None = None
    memory_mb: int | None = None
    # problems.execute.request only
    tests: list[WireTest] | None = None
    compare: str = "trim"
    stop_on_first_failure: bool = False
