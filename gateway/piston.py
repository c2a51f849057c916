"""The Piston v2 API in front of the engine.

::

    POST /api/v2/execute    {language, version, files, stdin, args, *_timeout, *_memory_limit}
    GET  /api/v2/runtimes   [{language, version, aliases}]

The first file is the main one (its name is the engine's, whatever the request
calls it); the others are extra files by their names. ``run_timeout``,
``run_cpu_time`` and ``run_memory_limit`` (bytes; -1 none) are the run's
limits; ``compile_timeout`` is the compile step's wall limit (at most the
operator's). ``compile_cpu_time`` and ``compile_memory_limit`` are checked and
not applied: a compile's memory is the run's limit raised to the compiler's
measured floor, and its CPU time is bounded by its wall limit. The reply has
Piston's ``run`` stage, and a ``compile`` stage for a compiled language (without
``run`` when the compile failed).
A runtime's version is the daemons' when they report one, else ``latest``;
a request's version must then be that one, a prefix of it, ``*`` or ``latest``.
"""

from __future__ import annotations

import base64
import binascii
import math
from typing import Any, Literal

import msgspec

from wire import Kind, Status
from wire.decoding import decode
from wire.languages import LanguageInfo
from wire.replies import Reply
from wire.requests import WireFile, WireRequest

from .engine import Engine
from .errors import EngineUnavailable, Refused
from .http.messages import Request, Response, json_response
from .http.router import Api, Router

UNKNOWN_VERSION = "latest"


class PistonFile(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    content: str
    name: str | None = None
    encoding: Literal["utf8", "base64", "hex"] = "utf8"


class PistonRequest(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    language: str
    files: list[PistonFile]
    version: str = "*"
    stdin: str = ""
    args: list[str] = []
    compile_timeout: int | None = None
    run_timeout: int | None = None
    compile_cpu_time: int | None = None
    run_cpu_time: int | None = None
    compile_memory_limit: int | None = None
    run_memory_limit: int | None = None


_request = msgspec.json.Decoder(PistonRequest)
_reply = msgspec.json.Decoder(Reply)
_encoder = msgspec.json.Encoder()


def runtime_version(info: LanguageInfo) -> str:
    return info.version or UNKNOWN_VERSION


def find_runtime(language: str, version: str, languages: list[LanguageInfo]) -> LanguageInfo:
    """The served language a Piston request names.

    Raises:
        Refused: none is served under that name and version (400, as Piston says it).
    """
    wanted = language.strip().lower()
    for info in languages:
        if wanted in (info.name, *info.aliases):
            have = runtime_version(info)
            if (
                version in ("*", "", UNKNOWN_VERSION)
                or have == UNKNOWN_VERSION
                or have == version
                or have.startswith(version + ".")
            ):
                return info
    raise Refused(f"{language}-{version} runtime is unknown", status=400)


def _content(file: PistonFile, index: int) -> bytes:
    try:
        if file.encoding == "base64":
            return base64.b64decode(file.content, validate=True)
        if file.encoding == "hex":
            return bytes.fromhex(file.content)
    except (binascii.Error, ValueError):
        raise Refused(f"files[{index}].content is not valid {file.encoding}") from None
    return file.content.encode()


def to_wire(request: PistonRequest, info: LanguageInfo) -> WireRequest:
    """The engine request for a Piston request. Raises: Refused (400): no files, bad limits."""
    if not request.files:
        raise Refused("files: at least one file is required")
    _positive(request.compile_cpu_time, "compile_cpu_time")  # checked, not applied
    _memory_mb(request.compile_memory_limit, "compile_memory_limit")
    main, *extra = request.files
    files = []
    for index, file in enumerate(extra, start=1):
        if not file.name:
            raise Refused(f"files[{index}].name is required for every file but the first")
        files.append(WireFile(name=file.name, content=_b64(_content(file, index))))
    return WireRequest(
        language=info.name,
        code=_b64(_content(main, 0)),
        stdin=_b64(request.stdin.encode()) if request.stdin else None,
        args=list(request.args) or None,
        timeout_ms=_positive(request.run_timeout, "run_timeout"),
        cpu_time_limit_ms=_positive(request.run_cpu_time, "run_cpu_time"),
        memory_mb=_memory_mb(request.run_memory_limit, "run_memory_limit"),
        compile_timeout_ms=_positive(request.compile_timeout, "compile_timeout"),
        files=files or None,
    )


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def _positive(value: int | None, name: str) -> int | None:
    if value is None or value == -1:
        return None
    if value <= 0:
        raise Refused(f"{name} must be a positive number of milliseconds (or -1)")
    return value


def _memory_mb(value: int | None, name: str) -> int | None:
    if value is None or value == -1:
        return None
    if value <= 0:
        raise Refused(f"{name} must be a positive number of bytes (or -1)")
    return math.ceil(value / (1 << 20))


def _stage(
    stdout: str, stderr: str, code: int | None, signal: str | None, **extra: Any
) -> dict[str, Any]:
    return {
        "stdout": stdout,
        "stderr": stderr,
        "output": stdout + stderr,
        "code": code,
        "signal": signal,
        **extra,
    }


_RUN_STATUS = {
    Status.TIMEOUT: "TO",
    Status.OUTPUT_LIMIT: "OL",
    Status.MEMORY_LIMIT: "SG",
    Status.INTERNAL_ERROR: "XX",
}


def to_piston(reply: Reply, info: LanguageInfo) -> dict[str, Any]:
    """Piston's reply shape for an engine reply."""
    result: dict[str, Any] = {"language": info.name, "version": runtime_version(info)}
    if reply.status is Status.COMPILE_ERROR:
        result["compile"] = _stage("", reply.error, 1, None, message="compilation failed")
        return result
    if info.compiled:
        result["compile"] = _stage("", "", 0, None)
    status = _RUN_STATUS.get(reply.status)
    if status is None and reply.status is Status.RUNTIME_ERROR:
        status = "SG" if reply.signal else "RE"
    result["run"] = _stage(
        reply.output,
        reply.error,
        reply.exit_code,
        reply.signal,
        message=_message(reply) if status else None,
        status=status,
        cpu_time=reply.cpu_time_ms,
        wall_time=reply.execution_time_ms,
        memory=reply.memory_kb * 1024 if reply.memory_kb is not None else None,
    )
    return result


def _message(reply: Reply) -> str:
    if reply.status is Status.RUNTIME_ERROR:
        return f"killed by {reply.signal}" if reply.signal else f"exited with {reply.exit_code}"
    return reply.status.value.replace("_", " ")


class PistonApi:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def mount(self, router: Router) -> None:
        router.add("POST", "/api/v2/execute", self.execute, Api.PISTON)
        router.add("GET", "/api/v2/runtimes", self.runtimes, Api.PISTON)

    async def runtimes(self, request: Request) -> Response:
        return json_response(
            [
                {
                    "language": info.name,
                    "version": runtime_version(info),
                    "aliases": [a for a in info.aliases if a != info.name],
                }
                for info in await self.engine.languages()
            ]
        )

    async def execute(self, request: Request) -> Response:
        try:
            piston = decode(_request, request.body)
        except msgspec.DecodeError as exc:
            raise Refused(f"invalid request: {exc}") from None
        info = find_runtime(piston.language, piston.version, await self.engine.languages())
        wire = to_wire(piston, info)
        data = await self.engine.request(Kind.COMPILER, _encoder.encode(wire))
        try:
            reply = decode(_reply, data)
        except msgspec.DecodeError:
            raise EngineUnavailable("the engine's reply could not be read") from None
        if reply.status is Status.INVALID_REQUEST:
            raise Refused(reply.error)
        if reply.status is Status.BUSY:
            raise Refused("the engine is full: retry later", status=503)
        return json_response(to_piston(reply, info))
