"""The messages, host to agent and agent to host, and the one place lines become messages."""

from __future__ import annotations

import enum
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, ClassVar, Self

from .fields import (
    ProtocolError,
    as_object,
    b64,
    bool_field,
    int_field,
    opt_str_field,
    str_field,
    unb64,
)
from .steps import Step, StepResult

# Bumped whenever a message changes shape; the host refuses an agent that
# announces another version (an image built from another checkout).
PROTOCOL_VERSION = 7

# A compiled program (2 MB for Go) travels raw, right after its message's line,
# which gives its length in bytes in its ``program`` field (see encode): as
# base64 inside the JSON it cost both ends an encoding, a parse and a decoding of
# 2.8 MB for every run of a cached Go program. No program is larger than this.
PROGRAM_LIMIT = 64 << 20


# --- host -> agent -----------------------------------------------------------


@dataclass(slots=True)
class Ping:
    TYPE: ClassVar[str] = "ping"

    def to_wire(self) -> dict[str, Any]:
        return {"type": self.TYPE}

    @classmethod
    def from_wire(cls, obj: dict[str, Any]) -> Ping:
        return cls()


def _files(value: object) -> dict[str, bytes]:
    files = as_object(value, "files")
    return {str(name): unb64(data, f"file {name}") for name, data in files.items()}


def _compile(value: object) -> Step | None:
    return None if value is None else Step.from_wire(value, with_stdin=False)


@dataclass(slots=True)
class Tool:
    """A program of the problem's (a checker or an interactor), built beside the job's.

    It is written and compiled in its own directory as the tool user (a uid
    that is not the job's), which the job user cannot read.
    """

    files: dict[str, bytes]
    compile: Step | None = None

    def to_wire(self) -> dict[str, Any]:
        return {
            "files": {name: b64(data) for name, data in self.files.items()},
            "compile": self.compile.to_wire() if self.compile else None,
        }

    @classmethod
    def from_wire(cls, value: object) -> Tool:
        obj = as_object(value, "tool")
        return cls(files=_files(obj.get("files", {})), compile=_compile(obj.get("compile")))


@dataclass(slots=True)
class Check:
    """After a run that ended cleanly: the tool run as ``argv <input> <output> <answer>``.

    ``step.stdin`` is unused; the three files are written for the tool user
    once no job process is left. With ``interactive`` the tool is an
    interactor instead: it runs as ``argv <input> <output>`` at the same time
    as the run, connected to it by pipes (see :mod:`agent.interaction`), and
    the run's stdout in the result is what the tool wrote to ``<output>``.
    """

    step: Step
    answer: bytes = b""
    interactive: bool = False

    def to_wire(self) -> dict[str, Any]:
        return {
            "step": self.step.to_wire(),
            "answer": b64(self.answer),
            "interactive": self.interactive,
        }

    @classmethod
    def from_wire(cls, value: object) -> Check:
        obj = as_object(value, "check")
        return cls(
            step=Step.from_wire(obj.get("step"), with_stdin=False),
            answer=unb64(obj.get("answer", ""), "answer"),
            interactive=bool_field(obj, "interactive"),
        )


@dataclass(slots=True)
class Job:
    """Write files, compile (when ``compile`` is given), then run each of ``runs``.

    ``collect``: a build file (the compiled program) whose bytes come back after a
    successful compile, for the host's compile cache: in the result
    (``Result.program``), or with an early result in its ``cleaned`` message.
    ``program``: the other way round, a compiled program the host kept, written
    executable into the build under ``collect``'s name in place of a compile
    (``compile`` is then None).
    """

    TYPE: ClassVar[str] = "job"
    id: str
    files: dict[str, bytes]
    compile: Step | None = None
    runs: list[Step] = field(default_factory=list)
    finish: bool = True
    early_result: bool = False
    tool: Tool | None = None
    collect: str | None = None
    program: bytes | None = None

    def to_wire(self) -> dict[str, Any]:
        return {
            "type": self.TYPE,
            "id": self.id,
            "files": {name: b64(data) for name, data in self.files.items()},
            "compile": self.compile.to_wire() if self.compile else None,
            "runs": [run.to_wire() for run in self.runs],
            "finish": self.finish,
            "early_result": self.early_result,
            "tool": self.tool.to_wire() if self.tool else None,
            "collect": self.collect,
            "program": _size(self.program),
        }

    @classmethod
    def from_wire(cls, obj: dict[str, Any]) -> Job:
        raw_tool = obj.get("tool")
        job = cls(
            id=str_field(obj, "id"),
            files=_files(obj.get("files", {})),
            compile=_compile(obj.get("compile")),
            runs=_steps(obj),
            finish=bool_field(obj, "finish", True),
            early_result=bool_field(obj, "early_result"),
            tool=None if raw_tool is None else Tool.from_wire(raw_tool),
            collect=opt_str_field(obj, "collect"),
            program=_attached(obj),
        )
        if job.program is not None and (job.collect is None or job.compile is not None):
            raise ProtocolError("a program needs its name in collect, and no compile step")
        return job


@dataclass(slots=True)
class Run:
    """Run each of ``runs`` against the build a ``job`` with ``finish=false`` kept."""

    TYPE: ClassVar[str] = "run"
    id: str
    runs: list[Step]
    finish: bool = True
    early_result: bool = False
    # None, or one per run: the tool checks that run's output (see Check).
    checks: list[Check] | None = None

    def to_wire(self) -> dict[str, Any]:
        return {
            "type": self.TYPE,
            "id": self.id,
            "runs": [run.to_wire() for run in self.runs],
            "finish": self.finish,
            "early_result": self.early_result,
            "checks": None if self.checks is None else [c.to_wire() for c in self.checks],
        }

    @classmethod
    def from_wire(cls, obj: dict[str, Any]) -> Run:
        runs = _steps(obj)
        raw_checks = obj.get("checks")
        checks = None
        if raw_checks is not None:
            if not isinstance(raw_checks, list) or len(raw_checks) != len(runs):
                raise ProtocolError("checks must be a list with one check per run")
            checks = [Check.from_wire(check) for check in raw_checks]
        return cls(
            id=str_field(obj, "id"),
            runs=runs,
            finish=bool_field(obj, "finish", True),
            early_result=bool_field(obj, "early_result"),
            checks=checks,
        )


@dataclass(slots=True)
class Finish:
    """Wipe everything, the kept build included."""

    TYPE: ClassVar[str] = "finish"
    id: str

    def to_wire(self) -> dict[str, Any]:
        return {"type": self.TYPE, "id": self.id}

    @classmethod
    def from_wire(cls, obj: dict[str, Any]) -> Finish:
        return cls(id=str_field(obj, "id"))


def _steps(obj: dict[str, Any]) -> list[Step]:
    runs = obj.get("runs", [])
    if not isinstance(runs, list):
        raise ProtocolError("runs must be a list")
    return [Step.from_wire(run) for run in runs]


HostMessage = Ping | Job | Run | Finish


# --- agent -> host -----------------------------------------------------------


class Cleanup(enum.StrEnum):
    """The state of the container a result leaves behind."""

    CLEAN = "clean"  # verified: no job process, file or IPC object is left
    DIRTY = "dirty"  # not verified: the host must replace the container
    OWED = "owed"  # an early result: the wipe follows, reported by a Cleaned message


@dataclass(slots=True)
class Ready:
    TYPE: ClassVar[str] = "ready"
    version: int

    def to_wire(self) -> dict[str, Any]:
        return {"type": self.TYPE, "version": self.version}

    @classmethod
    def from_wire(cls, obj: dict[str, Any]) -> Ready:
        return cls(version=int_field(obj, "version"))


@dataclass(slots=True)
class Pong:
    TYPE: ClassVar[str] = "pong"

    def to_wire(self) -> dict[str, Any]:
        return {"type": self.TYPE}

    @classmethod
    def from_wire(cls, obj: dict[str, Any]) -> Pong:
        return cls()


@dataclass(slots=True)
class Result:
    """The answer to a ``job`` or ``run``.

    ``runs`` is shorter than asked only when ``cleanup`` is DIRTY or ``error`` is
    set. ``error`` starts with "bad request:" (nothing ran), "no prepared build"
    (a run without a kept build) or "internal:" (the agent itself failed).
    """

    TYPE: ClassVar[str] = "result"
    id: str
    compile: StepResult | None = None
    runs: list[StepResult] = field(default_factory=list)
    cleanup: Cleanup = Cleanup.CLEAN
    error: str | None = None
    tool_compile: StepResult | None = None
    # With a run's checks: one per run that got that far, None where the run
    # did not end cleanly (no check is made of a failed run).
    checks: list[StepResult | None] = field(default_factory=list)
    # The compiled program a job's ``collect`` asked for, after a successful
    # compile in which nothing but the compiler ran (None: not asked, too big, or
    # coming with the ``cleaned`` message of an early result).
    program: bytes | None = None

    @property
    def compiled(self) -> bool:
        """A build exists: there was nothing to compile, or the compile succeeded."""
        return self.compile is None or not self.compile.failed

    @property
    def tool_compiled(self) -> bool:
        return self.tool_compile is None or not self.tool_compile.failed

    def to_wire(self) -> dict[str, Any]:
        return {
            "type": self.TYPE,
            "id": self.id,
            "compile": self.compile.to_wire() if self.compile else None,
            "runs": [run.to_wire() for run in self.runs],
            "cleanup": self.cleanup.value,
            "error": self.error,
            "tool_compile": self.tool_compile.to_wire() if self.tool_compile else None,
            "checks": [check.to_wire() if check else None for check in self.checks],
            "program": _size(self.program),
        }

    @classmethod
    def from_wire(cls, obj: dict[str, Any]) -> Result:
        raw_compile = obj.get("compile")
        runs = obj.get("runs", [])
        if not isinstance(runs, list):
            raise ProtocolError("runs must be a list")
        try:
            cleanup = Cleanup(str(obj.get("cleanup")))
        except ValueError:
            raise ProtocolError(f"unknown cleanup {obj.get('cleanup')!r}") from None
        checks = obj.get("checks", [])
        if not isinstance(checks, list):
            raise ProtocolError("checks must be a list")
        raw_tool = obj.get("tool_compile")
        return cls(
            id=str_field(obj, "id"),
            compile=None if raw_compile is None else StepResult.from_wire(raw_compile),
            runs=[StepResult.from_wire(run) for run in runs],
            cleanup=cleanup,
            error=opt_str_field(obj, "error"),
            tool_compile=None if raw_tool is None else StepResult.from_wire(raw_tool),
            checks=[None if c is None else StepResult.from_wire(c) for c in checks],
            program=_attached(obj),
        )


@dataclass(slots=True)
class _Verified:
    """A report on a wipe: ``clean`` says whether the agent verified it."""

    TYPE: ClassVar[str]
    id: str
    clean: bool

    def to_wire(self) -> dict[str, Any]:
        return {"type": self.TYPE, "id": self.id, "clean": self.clean}

    @classmethod
    def from_wire(cls, obj: dict[str, Any]) -> Self:
        return cls(id=str_field(obj, "id"), clean=bool_field(obj, "clean"))


@dataclass(slots=True)
class Cleaned(_Verified):
    """The wipe owed after an early result is done.

    ``program``: the compiled program the job's ``collect`` asked for, read back
    before the wipe (after the result, so that it is not on the reply's way).
    """

    TYPE: ClassVar[str] = "cleaned"
    program: bytes | None = None

    def to_wire(self) -> dict[str, Any]:
        wire = _Verified.to_wire(self)
        wire["program"] = _size(self.program)
        return wire

    @classmethod
    def from_wire(cls, obj: dict[str, Any]) -> Cleaned:
        return cls(id=str_field(obj, "id"), clean=bool_field(obj, "clean"), program=_attached(obj))


@dataclass(slots=True)
class Finished(_Verified):
    """The answer to ``finish``: everything, the build included, is wiped."""

    TYPE: ClassVar[str] = "finished"


@dataclass(slots=True)
class Error:
    """A line the agent could not take as a message at all (nothing ran)."""

    TYPE: ClassVar[str] = "error"
    message: str
    id: str | None = None

    def to_wire(self) -> dict[str, Any]:
        wire: dict[str, Any] = {"type": self.TYPE, "message": self.message}
        if self.id is not None:
            wire["id"] = self.id
        return wire

    @classmethod
    def from_wire(cls, obj: dict[str, Any]) -> Error:
        return cls(message=str_field(obj, "message"), id=opt_str_field(obj, "id"))


AgentMessage = Ready | Pong | Result | Cleaned | Finished | Error
Message = HostMessage | AgentMessage

_HOST_TYPES: dict[str, Any] = {cls.TYPE: cls for cls in (Ping, Job, Run, Finish)}
_AGENT_TYPES: dict[str, Any] = {
    cls.TYPE: cls for cls in (Ready, Pong, Result, Cleaned, Finished, Error)
}


# --- the one place lines become messages, and messages lines ----------------


def encode(message: Message) -> bytes:
    """One message as one line (with its newline), then its program's bytes, if any."""
    line = json.dumps(message.to_wire(), separators=(",", ":")).encode() + b"\n"
    program: bytes | None = getattr(message, "program", None)
    return line if program is None else line + program


def _size(program: bytes | None) -> int | None:
    return None if program is None else len(program)


def _attached(obj: dict[str, Any]) -> bytes | None:
    program = obj.get("program")
    if program is not None and not isinstance(program, bytes):
        raise ProtocolError("program: the bytes after the line were not read")
    return program


def parse_line(line: bytes | str) -> dict[str, Any]:
    """A message's line as its JSON object, for :func:`attachment_size` and ``*_message_from``.

    Raises:
        ProtocolError: not a JSON object.
    """
    try:
        obj = json.loads(line)
    except (ValueError, RecursionError) as exc:
        raise ProtocolError(f"bad json: {exc}") from None
    return as_object(obj, "a message")


def attachment_size(obj: dict[str, Any]) -> int | None:
    """How many raw bytes (a program's) follow the line ``obj`` came from; None: no program.

    A reader of a stream reads that many bytes next, puts them in ``obj`` with
    :func:`attach`, and then makes the message.

    Raises:
        ProtocolError: the size is not one; the stream can no longer be read.
    """
    size = obj.get("program")
    if size is None or isinstance(size, bytes):
        return None
    if isinstance(size, bool) or not isinstance(size, int) or not 0 <= size <= PROGRAM_LIMIT:
        raise ProtocolError(f"program must be a size of at most {PROGRAM_LIMIT} bytes")
    return size


def attach(obj: dict[str, Any], program: bytes) -> None:
    """Put the bytes that followed ``obj``'s line in place of their size.

    Raises:
        ProtocolError: not as many bytes as the line said (the stream ended).
    """
    size = attachment_size(obj)
    if size is None or len(program) != size:
        raise ProtocolError(f"program: {size} bytes announced, {len(program)} read")
    obj["program"] = program


class MessageBuffer:
    """Messages out of a byte stream, as :func:`encode` wrote them, however it is cut.

    :meth:`feed` what arrives; :meth:`next` gives each whole message's object,
    its program attached, for ``*_message_from``. A line waiting for its
    program's bytes stays here until they are in. ``parse`` turns a line into
    its object (:func:`parse_line`, or a faster parser that checks as much).
    """

    def __init__(self, parse: Callable[[bytes], dict[str, Any]] = parse_line) -> None:
        self._parse = parse
        self._buffer = bytearray()
        self._scanned = 0  # bytes of the buffer known to hold no newline
        self._pending: tuple[dict[str, Any], int | None] | None = None  # a line read

    def __len__(self) -> int:
        return len(self._buffer)

    def feed(self, data: bytes) -> None:
        self._buffer += data

    def next(self) -> dict[str, Any] | None:
        """The next whole message's object, or None until more of it arrives.

        Raises:
            ProtocolError: a line that is no message, or a size that is none.
        """
        while self._pending is None:
            # Only what arrived since the last look: scanning a long line all
            # again at each piece would be quadratic.
            end = self._buffer.find(b"\n", self._scanned)
            if end < 0:
                self._scanned = len(self._buffer)
                return None
            line = bytes(self._buffer[:end])
            del self._buffer[: end + 1]
            self._scanned = 0
            if line.strip():
                obj = self._parse(line)
                self._pending = obj, attachment_size(obj)
        obj, size = self._pending
        if size is not None:
            # A program's raw bytes follow its line (2 MB for Go, in many pieces).
            if len(self._buffer) < size:
                return None
            with memoryview(self._buffer) as view:
                attach(obj, bytes(view[:size]))
            del self._buffer[:size]
        self._pending = None
        return obj


def _whole(data: bytes | str) -> dict[str, Any]:
    """One message as :func:`encode` wrote it, its program included, as its object."""
    raw = data.encode() if isinstance(data, str) else data
    line, _, rest = raw.partition(b"\n")
    obj = parse_line(line)
    if attachment_size(obj) is not None:
        attach(obj, rest)
    elif rest.strip():
        raise ProtocolError("more than one line")
    return obj


def _message_from(obj: object, types: dict[str, Any]) -> Any:
    data = as_object(obj, "a message")
    ident = data.get("id")
    ident = ident if isinstance(ident, str) else None
    kind = data.get("type")
    cls = types.get(kind) if isinstance(kind, str) else None
    if cls is None:
        raise ProtocolError(f"unknown type: {kind!r}", id=ident)
    try:
        return cls.from_wire(data)
    except ProtocolError as exc:
        exc.kind, exc.id = cls.TYPE, ident
        raise


def host_message_from(obj: object) -> HostMessage:
    """A host message from parsed JSON (the agent's side).

    Raises:
        ProtocolError: not one of the host's messages, or malformed.
    """
    message: HostMessage = _message_from(obj, _HOST_TYPES)
    return message


def agent_message_from(obj: object) -> AgentMessage:
    """An agent message from parsed JSON (the host's side).

    Raises:
        ProtocolError: not one of the agent's messages, or malformed.
    """
    message: AgentMessage = _message_from(obj, _AGENT_TYPES)
    return message


def decode_host_message(data: bytes | str) -> HostMessage:
    """One message from the host as :func:`encode` wrote it (the agent's side).

    Raises:
        ProtocolError: not JSON, not one of the host's messages, or malformed.
    """
    return host_message_from(_whole(data))


def decode_agent_message(data: bytes | str) -> AgentMessage:
    """One message from the agent as :func:`encode` wrote it (the host's side).

    Raises:
        ProtocolError: not JSON, not one of the agent's messages, or malformed.
    """
    return agent_message_from(_whole(data))
