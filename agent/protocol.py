"""The agent protocol: every message between the host and the in-container agent.

One module, imported by both ends: the host (``service/sandbox/agent_link.py``),
the agent itself (this package, run as PID 1 of each worker container) and the
test double (``service/testing/fake_agent.py``). Standard library only, so the
worker image needs nothing beyond Python.

On the wire each message is one line of JSON with a ``type`` tag; bytes travel
as base64. Host to agent::

    ping                                           are you there?
    job     id, files, compile, runs, finish, early_result
    run     id, runs, finish, early_result          against the build a job kept
    finish  id                                     wipe everything, the build too

Agent to host::

    ready     version                              once, at start-up
    pong
    result    id, compile, runs, cleanup, error    the answer to job and run
    cleaned   id, clean                            after a result whose cleanup is OWED
    finished  id, clean                            the answer to finish
    error     message, id                          a line it could not read at all

A ``job`` writes ``files`` into the build directory, runs ``compile`` there
(when given) and then each of ``runs`` in a fresh run directory. With
``finish=false`` the build is kept for later ``run`` messages. With
``early_result`` (and ``finish``) the agent answers as soon as the last step is
over, with ``cleanup`` OWED, and reports the wipe in a ``cleaned`` message
before it reads its next request.

:func:`decode_host_message` and :func:`decode_agent_message` are the one place
each end turns a line into a message; anything malformed raises
:class:`ProtocolError` with a reason, and nothing half-parsed gets further.
"""

from __future__ import annotations

import base64
import binascii
import enum
import json
import signal as signals
from dataclasses import dataclass, field
from typing import Any, ClassVar

# Bumped whenever a message changes shape; the host refuses an agent that
# announces another version (an image built from another checkout).
PROTOCOL_VERSION = 2

DEFAULT_TIMEOUT_MS = 10_000
DEFAULT_OUTPUT_LIMIT = 64 * 1024
DEFAULT_FILE_SIZE_LIMIT = 64 * 1024 * 1024


class ProtocolError(Exception):
    """A line that is not a valid message of this protocol."""


# --- helpers for reading untrusted JSON --------------------------------------


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _unb64(value: object, what: str) -> bytes:
    if not isinstance(value, str):
        raise ProtocolError(f"{what} must be a base64 string")
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raise ProtocolError(f"{what} is not valid base64") from None


def _int(obj: dict[str, Any], key: str, default: int | None = None, minimum: int = 0) -> int:
    value = obj.get(key, default)
    if not isinstance(value, int) or isinstance(value, bool) or value < minimum:
        raise ProtocolError(f"{key} must be an integer >= {minimum}")
    return value


def _opt_int(obj: dict[str, Any], key: str) -> int | None:
    value = obj.get(key)
    if value is None:
        return None
    if not isinstance(value, int) or isinstance(value, bool):
        raise ProtocolError(f"{key} must be an integer or null")
    return value


def _float(obj: dict[str, Any], key: str) -> float:
    value = obj.get(key, 0.0)
    if not isinstance(value, (int, float)) or isinstance(value, bool):
        raise ProtocolError(f"{key} must be a number")
    return float(value)


def _bool(obj: dict[str, Any], key: str, default: bool = False) -> bool:
    value = obj.get(key, default)
    if not isinstance(value, bool):
        raise ProtocolError(f"{key} must be a boolean")
    return value


def _str(obj: dict[str, Any], key: str) -> str:
    value = obj.get(key)
    if not isinstance(value, str):
        raise ProtocolError(f"{key} must be a string")
    return value


def _opt_str(obj: dict[str, Any], key: str) -> str | None:
    value = obj.get(key)
    if value is not None and not isinstance(value, str):
        raise ProtocolError(f"{key} must be a string or null")
    return value


def _object(value: object, what: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise ProtocolError(f"{what} must be an object")
    return value


# --- steps -------------------------------------------------------------------


@dataclass(slots=True)
class Step:
    """One program to run: a compile step, or a run (which also has ``stdin``)."""

    argv: list[str]
    env: dict[str, str] = field(default_factory=dict)
    timeout_ms: int = DEFAULT_TIMEOUT_MS
    output_limit: int = DEFAULT_OUTPUT_LIMIT
    file_size_limit: int = DEFAULT_FILE_SIZE_LIMIT
    stdin: bytes = b""

    def to_wire(self) -> dict[str, Any]:
        wire: dict[str, Any] = {
            "argv": self.argv,
            "env": self.env,
            "timeout_ms": self.timeout_ms,
            "output_limit": self.output_limit,
            "file_size_limit": self.file_size_limit,
        }
        if self.stdin:
            wire["stdin"] = _b64(self.stdin)
        return wire

    @classmethod
    def from_wire(cls, value: object) -> Step:
        obj = _object(value, "a step")
        argv = obj.get("argv")
        if (
            not isinstance(argv, list)
            or not argv
            or not all(isinstance(a, str) and "\0" not in a for a in argv)
        ):
            raise ProtocolError("argv must be a non-empty list of strings without NUL")
        env = _object(obj.get("env") or {}, "env")
        for key, item in env.items():
            if not key or "=" in key or "\0" in key:
                raise ProtocolError(f"bad environment variable name: {key!r}")
            if not isinstance(item, str) or "\0" in item:
                raise ProtocolError(f"environment value of {key} must be a string without NUL")
        raw_stdin = obj.get("stdin")
        return cls(
            argv=list(argv),
            env=dict(env),
            timeout_ms=_int(obj, "timeout_ms", DEFAULT_TIMEOUT_MS, 1),
            output_limit=_int(obj, "output_limit", DEFAULT_OUTPUT_LIMIT, 0),
            file_size_limit=_int(obj, "file_size_limit", DEFAULT_FILE_SIZE_LIMIT, 1),
            stdin=_unb64(raw_stdin, "stdin") if raw_stdin else b"",
        )


@dataclass(frozen=True, slots=True)
class StepResult:
    """What the agent measured about one step: facts, never a verdict."""

    exit_code: int | None
    signal: int | None
    stdout: bytes = b""
    stderr: bytes = b""
    stdout_truncated: bool = False
    stderr_truncated: bool = False
    timed_out: bool = False
    output_exceeded: bool = False
    oom_killed: bool = False
    wall_ms: float = 0.0
    cpu_ms: float = 0.0
    memory_kb: int | None = None

    @property
    def truncated(self) -> bool:
        return self.stdout_truncated or self.stderr_truncated

    @property
    def failed(self) -> bool:
        """The step did not run to a clean exit (for a compile: there is no build)."""
        return (
            self.exit_code != 0
            or self.signal is not None
            or self.timed_out
            or self.output_exceeded
            or self.oom_killed
        )

    @property
    def signal_name(self) -> str | None:
        if self.signal is None:
            return None
        try:
            return signals.Signals(self.signal).name
        except ValueError:
            return f"SIG{self.signal}"

    def to_wire(self) -> dict[str, Any]:
        return {
            "exit_code": self.exit_code,
            "signal": self.signal,
            "stdout": _b64(self.stdout),
            "stderr": _b64(self.stderr),
            "stdout_truncated": self.stdout_truncated,
            "stderr_truncated": self.stderr_truncated,
            "timed_out": self.timed_out,
            "output_exceeded": self.output_exceeded,
            "oom_killed": self.oom_killed,
            "wall_ms": self.wall_ms,
            "cpu_ms": self.cpu_ms,
            "memory_kb": self.memory_kb,
        }

    @classmethod
    def from_wire(cls, value: object) -> StepResult:
        obj = _object(value, "a step result")
        return cls(
            exit_code=_opt_int(obj, "exit_code"),
            signal=_opt_int(obj, "signal"),
            stdout=_unb64(obj.get("stdout", ""), "stdout"),
            stderr=_unb64(obj.get("stderr", ""), "stderr"),
            stdout_truncated=_bool(obj, "stdout_truncated"),
            stderr_truncated=_bool(obj, "stderr_truncated"),
            timed_out=_bool(obj, "timed_out"),
            output_exceeded=_bool(obj, "output_exceeded"),
            oom_killed=_bool(obj, "oom_killed"),
            wall_ms=_float(obj, "wall_ms"),
            cpu_ms=_float(obj, "cpu_ms"),
            memory_kb=_opt_int(obj, "memory_kb"),
        )


# --- host -> agent -----------------------------------------------------------


@dataclass(slots=True)
class Ping:
    TYPE: ClassVar[str] = "ping"

    def to_wire(self) -> dict[str, Any]:
        return {"type": self.TYPE}

    @classmethod
    def from_wire(cls, obj: dict[str, Any]) -> Ping:
        return cls()


@dataclass(slots=True)
class Job:
    """Write files, compile (when ``compile`` is given), then run each of ``runs``."""

    TYPE: ClassVar[str] = "job"
    id: str
    files: dict[str, bytes]
    compile: Step | None = None
    runs: list[Step] = field(default_factory=list)
    finish: bool = True
    early_result: bool = False

    def to_wire(self) -> dict[str, Any]:
        return {
            "type": self.TYPE,
            "id": self.id,
            "files": {name: _b64(data) for name, data in self.files.items()},
            "compile": self.compile.to_wire() if self.compile else None,
            "runs": [run.to_wire() for run in self.runs],
            "finish": self.finish,
            "early_result": self.early_result,
        }

    @classmethod
    def from_wire(cls, obj: dict[str, Any]) -> Job:
        files = _object(obj.get("files", {}), "files")
        raw_compile = obj.get("compile")
        return cls(
            id=_str(obj, "id"),
            files={str(name): _unb64(data, f"file {name}") for name, data in files.items()},
            compile=None if raw_compile is None else Step.from_wire(raw_compile),
            runs=_steps(obj),
            finish=_bool(obj, "finish", True),
            early_result=_bool(obj, "early_result"),
        )


@dataclass(slots=True)
class Run:
    """Run each of ``runs`` against the build a ``job`` with ``finish=false`` kept."""

    TYPE: ClassVar[str] = "run"
    id: str
    runs: list[Step]
    finish: bool = True
    early_result: bool = False

    def to_wire(self) -> dict[str, Any]:
        return {
            "type": self.TYPE,
            "id": self.id,
            "runs": [run.to_wire() for run in self.runs],
            "finish": self.finish,
            "early_result": self.early_result,
        }

    @classmethod
    def from_wire(cls, obj: dict[str, Any]) -> Run:
        return cls(
            id=_str(obj, "id"),
            runs=_steps(obj),
            finish=_bool(obj, "finish", True),
            early_result=_bool(obj, "early_result"),
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
        return cls(id=_str(obj, "id"))


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
        return cls(version=_int(obj, "version"))


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

    @property
    def compiled(self) -> bool:
        """A build exists: there was nothing to compile, or the compile succeeded."""
        return self.compile is None or not self.compile.failed

    def to_wire(self) -> dict[str, Any]:
        return {
            "type": self.TYPE,
            "id": self.id,
            "compile": self.compile.to_wire() if self.compile else None,
            "runs": [run.to_wire() for run in self.runs],
            "cleanup": self.cleanup.value,
            "error": self.error,
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
        return cls(
            id=_str(obj, "id"),
            compile=None if raw_compile is None else StepResult.from_wire(raw_compile),
            runs=[StepResult.from_wire(run) for run in runs],
            cleanup=cleanup,
            error=_opt_str(obj, "error"),
        )


@dataclass(slots=True)
class Cleaned:
    """The wipe owed after an early result is done; ``clean``: verified."""

    TYPE: ClassVar[str] = "cleaned"
    id: str
    clean: bool

    def to_wire(self) -> dict[str, Any]:
        return {"type": self.TYPE, "id": self.id, "clean": self.clean}

    @classmethod
    def from_wire(cls, obj: dict[str, Any]) -> Cleaned:
        return cls(id=_str(obj, "id"), clean=_bool(obj, "clean"))


@dataclass(slots=True)
class Finished:
    """The answer to ``finish``; ``clean``: verified."""

    TYPE: ClassVar[str] = "finished"
    id: str
    clean: bool

    def to_wire(self) -> dict[str, Any]:
        return {"type": self.TYPE, "id": self.id, "clean": self.clean}

    @classmethod
    def from_wire(cls, obj: dict[str, Any]) -> Finished:
        return cls(id=_str(obj, "id"), clean=_bool(obj, "clean"))


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
        return cls(message=_str(obj, "message"), id=_opt_str(obj, "id"))


AgentMessage = Ready | Pong | Result | Cleaned | Finished | Error
Message = HostMessage | AgentMessage

_HOST_TYPES: dict[str, Any] = {cls.TYPE: cls for cls in (Ping, Job, Run, Finish)}
_AGENT_TYPES: dict[str, Any] = {
    cls.TYPE: cls for cls in (Ready, Pong, Result, Cleaned, Finished, Error)
}


# --- the one place lines become messages, and messages lines ----------------


def encode(message: Message) -> bytes:
    """One message as one line (with its newline)."""
    return json.dumps(message.to_wire(), separators=(",", ":")).encode() + b"\n"


def _parse(line: bytes | str) -> dict[str, Any]:
    try:
        obj = json.loads(line)
    except (ValueError, RecursionError) as exc:
        raise ProtocolError(f"bad json: {exc}") from None
    return _object(obj, "a message")


def host_message_from(obj: object) -> HostMessage:
    """A host message from parsed JSON (the agent's side).

    Raises:
        ProtocolError: not one of the host's messages, or malformed.
    """
    data = _object(obj, "a message")
    cls = _HOST_TYPES.get(data.get("type"))  # type: ignore[arg-type]
    if cls is None:
        raise ProtocolError(f"unknown type: {data.get('type')!r}")
    message: HostMessage = cls.from_wire(data)
    return message


def agent_message_from(obj: object) -> AgentMessage:
    """An agent message from parsed JSON (the host's side).

    Raises:
        ProtocolError: not one of the agent's messages, or malformed.
    """
    data = _object(obj, "a message")
    cls = _AGENT_TYPES.get(data.get("type"))  # type: ignore[arg-type]
    if cls is None:
        raise ProtocolError(f"unknown type: {data.get('type')!r}")
    message: AgentMessage = cls.from_wire(data)
    return message


def decode_host_message(line: bytes | str) -> HostMessage:
    return host_message_from(_parse(line))


def decode_agent_message(line: bytes | str) -> AgentMessage:
    return agent_message_from(_parse(line))
