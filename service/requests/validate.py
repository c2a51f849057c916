"""Protocol v1: the JSON requests the engine accepts and the replies it sends.

This is the one place that validates what comes off the wire. :func:`parse_request`
turns raw bytes into an :class:`ExecuteRequest` (decoded, checked, clamped) or
raises :class:`InvalidRequest` with a reason a client can act on. Replies are
:class:`Reply` structs, encoded by :func:`encode_reply`.
"""

from __future__ import annotations

import base64
import binascii
import enum
import uuid
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import msgspec

from service.errors import InvalidRequest
from service.languages import Language, lookup, supported

if TYPE_CHECKING:
    from service.jobs.grading import Problem


class Status(enum.StrEnum):
    OK = "ok"
    COMPILE_ERROR = "compile_error"
    RUNTIME_ERROR = "runtime_error"
    TIMEOUT = "timeout"
    MEMORY_LIMIT = "memory_limit"
    OUTPUT_LIMIT = "output_limit"
    INVALID_REQUEST = "invalid_request"
    BUSY = "busy"
    INTERNAL_ERROR = "internal_error"


class Kind(enum.StrEnum):
    """Which subject a request came in on; it decides the size limits."""

    COMPILER = "compiler"
    PROBLEMS = "problems"


class _WireRequest(msgspec.Struct, frozen=True):
    language: str
    code: str
    stdin: str | None = None
    args: list[str] | None = None
    id: str | int | None = None
    timeout_ms: int | None = None
    memory_mb: int | None = None


@dataclass(frozen=True, slots=True)
class Limits:
    """What one kind of request may ask for; built from the settings."""

    max_code_bytes: int
    max_stdin_bytes: int
    max_args: int
    max_timeout_ms: int
    max_memory_mb: int
    output_limit: int


@dataclass(frozen=True, slots=True)
class ExecuteRequest:
    """A validated request: bytes decoded, language resolved, limits clamped."""

    id: str
    kind: Kind
    language: Language
    code: bytes
    stdin: bytes
    args: tuple[str, ...]
    timeout_ms: int
    memory_mb: int
    output_limit: int
    problem: Problem | None = None  # problems requests with tests (service.problems)


class Reply(msgspec.Struct, kw_only=True):
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


_decoder = msgspec.json.Decoder(_WireRequest)
_encoder = msgspec.json.Encoder()


def parse_request(payload: bytes, kind: Kind, limits: Limits) -> ExecuteRequest:
    """Validate a request.

    Raises:
        InvalidRequest: with the reason, for anything that breaks protocol v1.
    """
    try:
        wire = _decoder.decode(payload)
    except msgspec.ValidationError as exc:
        raise InvalidRequest(f"invalid request: {_describe(exc)}") from None
    except msgspec.DecodeError as exc:
        raise InvalidRequest(f"request is not valid JSON: {exc}") from None

    language = lookup(wire.language)
    if language is None:
        raise InvalidRequest(f"unknown language {wire.language[:40]!r}; supported: {supported()}")
    code = _b64("code", wire.code, limits.max_code_bytes)
    if not code.strip():
        raise InvalidRequest("code is empty")
    if b"\x00" in code:
        raise InvalidRequest("code contains NUL bytes")
    stdin = _b64("stdin", wire.stdin, limits.max_stdin_bytes) if wire.stdin else b""
    args = tuple(wire.args or ())
    if len(args) > limits.max_args:
        raise InvalidRequest(f"too many args: {len(args)} > {limits.max_args}")
    for i, arg in enumerate(args):
        if "\x00" in arg:
            raise InvalidRequest(f"args[{i}] contains a NUL byte")
        if len(arg) > 4096:
            raise InvalidRequest(f"args[{i}] is longer than 4096 characters")
    return ExecuteRequest(
        id=request_id(wire.id),
        kind=kind,
        language=language,
        code=code,
        stdin=stdin,
        args=args,
        timeout_ms=_clamp("timeout_ms", wire.timeout_ms, limits.max_timeout_ms),
        memory_mb=_clamp("memory_mb", wire.memory_mb, limits.max_memory_mb, minimum=16),
        output_limit=limits.output_limit,
    )


def request_id(raw: object) -> str:
    if isinstance(raw, str) and raw:
        if len(raw) > 128:
            raise InvalidRequest("id is longer than 128 characters")
        return raw
    if isinstance(raw, int) and not isinstance(raw, bool):
        return str(raw)
    return uuid.uuid4().hex


def _field(payload: bytes, name: str) -> object:
    """One top-level field of a payload that may be anything, for error replies."""
    try:
        raw = msgspec.json.decode(payload)
    except msgspec.DecodeError:
        return None
    return raw.get(name) if isinstance(raw, dict) else None


def salvage_id(payload: bytes) -> str:
    """The request's id for an error reply, when the payload is at least an object with one."""
    value = _field(payload, "id")
    if isinstance(value, str) and 0 < len(value) <= 128:
        return value
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    return uuid.uuid4().hex


def salvage_language(payload: bytes) -> str:
    value = _field(payload, "language")
    if isinstance(value, str):
        language = lookup(value)
        return language.name if language else value[:40]
    return ""


def _b64(name: str, value: str, max_bytes: int) -> bytes:
    # Refuse before decoding anything absurdly large: base64 is 4 chars per 3 bytes.
    if len(value) > (max_bytes + 2) // 3 * 4 + 4:
        raise InvalidRequest(f"{name} is larger than the limit of {max_bytes} bytes")
    try:
        data = base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raise InvalidRequest(f"{name} is not valid base64") from None
    if len(data) > max_bytes:
        raise InvalidRequest(f"{name} is {len(data)} bytes, larger than the limit of {max_bytes}")
    return data


def _clamp(name: str, value: int | None, maximum: int, *, minimum: int = 1) -> int:
    if value is None:
        return maximum
    if value < minimum:
        raise InvalidRequest(f"{name} must be at least {minimum}, got {value}")
    return min(value, maximum)


def _describe(exc: msgspec.ValidationError) -> str:
    text = str(exc)
    if text.startswith("Expected `object`"):
        return "the request must be a JSON object"
    return text.replace("`", "'").replace(" - at '$.", " (at '").replace("$.", "") + (
        ")" if " - at " in str(exc) else ""
    )


def encode_reply(reply: Reply) -> bytes:
    return _encoder.encode(reply)


def refusal(request_id: str, language: str, status: Status, reason: str) -> Reply:
    """A reply for a request that never ran (invalid, busy, internal error)."""
    return Reply(id=request_id, language=language, success=False, status=status, error=reason)


def refuse(request: ExecuteRequest, status: Status, reason: str) -> Any:
    """A refusal in the shape the request's client expects (problems replies for tests)."""
    if request.problem is not None:
        from service.jobs.grading import refusal_for_problem

        return refusal_for_problem(request, status, reason)
    return refusal(request.id, request.language.name, status, reason)
