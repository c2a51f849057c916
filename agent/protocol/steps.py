"""Steps and their results: what a message asks the agent to run, and what it measured."""

from __future__ import annotations

import signal as signals
from dataclasses import dataclass, field
from typing import Any

from .fields import (
    ProtocolError,
    as_object,
    b64,
    bool_field,
    float_field,
    opt_int_field,
    unb64,
)
from .limits import StepLimits

_STEP_FIELDS = frozenset(
    {"argv", "env", "limits", "stdin", "stderr_soft", "input_file", "output_file"}
)
MAX_FILE_NAME_BYTES = 255


@dataclass(slots=True)
class Step:
    """One program to run: a compile step, or a run (which also has ``stdin``)."""

    argv: list[str]
    env: dict[str, str] = field(default_factory=dict)
    limits: StepLimits = field(default_factory=StepLimits)
    stdin: bytes = b""
    # Stderr past limits.output_bytes is cut and counted, never a reason to stop the
    # step (problems mode: judges grade stdout; a chatty program is not wrong).
    stderr_soft: bool = False
    # A file task's run (agent.file_io): ``stdin`` goes to this file in the run's
    # working directory instead of its stdin, which is then empty.
    input_file: str | None = None
    # ... and this file, read back after the run, is its stdout; its own stdout
    # is drained and dropped.
    output_file: str | None = None

    def to_wire(self) -> dict[str, Any]:
        wire: dict[str, Any] = {
            "argv": self.argv,
            "env": self.env,
            "limits": self.limits.to_wire(),
        }
        if self.stderr_soft:
            wire["stderr_soft"] = True
        if self.stdin:
            wire["stdin"] = b64(self.stdin)
        if self.input_file is not None:
            wire["input_file"] = self.input_file
        if self.output_file is not None:
            wire["output_file"] = self.output_file
        return wire

    @classmethod
    def from_wire(cls, value: object, *, with_stdin: bool = True) -> Step:
        """A step from its wire form; ``with_stdin=False`` for a compile or a tool, which
        read no stdin of the request's and have no file task's files."""
        obj = as_object(value, "a step")
        unknown = set(obj) - _STEP_FIELDS
        if unknown:
            raise ProtocolError(f"unknown step field {sorted(unknown)[0]!r}")
        argv = obj.get("argv")
        if (
            not isinstance(argv, list)
            or not argv
            or not all(isinstance(a, str) and "\0" not in a for a in argv)
        ):
            raise ProtocolError("argv must be a non-empty list of strings without NUL")
        env = as_object(obj.get("env") or {}, "env")
        for key, item in env.items():
            if not key or "=" in key or "\0" in key:
                raise ProtocolError(f"bad environment variable name: {key!r}")
            if not isinstance(item, str) or "\0" in item:
                raise ProtocolError(f"environment value of {key} must be a string without NUL")
        raw_stdin = obj.get("stdin") if with_stdin else None
        files = {name: obj.get(name) for name in ("input_file", "output_file")}
        if not with_stdin and any(value is not None for value in files.values()):
            raise ProtocolError("only a run has an input_file or output_file")
        for name, value in files.items():
            _check_file_name(name, value)
        if files["input_file"] is not None and files["input_file"] == files["output_file"]:
            raise ProtocolError("input_file and output_file must differ")
        return cls(
            argv=list(argv),
            env=dict(env),
            limits=StepLimits.from_wire(obj.get("limits") or {}),
            stdin=unb64(raw_stdin, "stdin") if raw_stdin else b"",
            stderr_soft=bool_field(obj, "stderr_soft"),
            input_file=files["input_file"],
            output_file=files["output_file"],
        )


def _check_file_name(field: str, value: object) -> None:
    """A file task's file: one plain, visible name in the run's working directory (or None).

    The agent creates and reads it relative to that directory's descriptor
    (agent.file_io): a '/' or '..' could name anything else.
    """
    if value is None:
        return
    refused = ProtocolError(f"{field} must be a plain file name (no '/', not hidden)")
    if not isinstance(value, str):
        raise refused
    try:
        size = len(value.encode())
    except UnicodeEncodeError:
        raise refused from None
    if not 0 < size <= MAX_FILE_NAME_BYTES or "/" in value or "\0" in value or value[0] == ".":
        raise refused


@dataclass(frozen=True, slots=True)
class StepResult:
    """What the agent measured about one step: facts, never a verdict."""

    exit_code: int | None
    signal: int | None
    stdout: bytes = b""
    stderr: bytes = b""
    stdout_truncated: bool = False
    stderr_truncated: bool = False
    timed_out: bool = False  # the wall-clock limit
    cpu_exceeded: bool = False  # the CPU time limit (cpu_ms is then at or past it)
    output_exceeded: bool = False
    oom_killed: bool = False
    # The container's memory usage reached its limit during the step (the
    # kernel reclaimed or OOM-killed to stay under it).
    memory_limit_reached: bool = False
    wall_ms: float = 0.0
    cpu_ms: float = 0.0
    memory_kb: int | None = None
    # A Kattis-convention validator's feedback files (judgemessage.txt, ...), cut
    # to FEEDBACK_LIMIT bytes each; empty for every other step.
    feedback: dict[str, bytes] = field(default_factory=dict)

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
            or self.cpu_exceeded
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
            "stdout": b64(self.stdout),
            "stderr": b64(self.stderr),
            "stdout_truncated": self.stdout_truncated,
            "stderr_truncated": self.stderr_truncated,
            "timed_out": self.timed_out,
            "cpu_exceeded": self.cpu_exceeded,
            "output_exceeded": self.output_exceeded,
            "oom_killed": self.oom_killed,
            "memory_limit_reached": self.memory_limit_reached,
            "wall_ms": self.wall_ms,
            "cpu_ms": self.cpu_ms,
            "memory_kb": self.memory_kb,
            "feedback": {name: b64(data) for name, data in self.feedback.items()},
        }

    @classmethod
    def from_wire(cls, value: object) -> StepResult:
        obj = as_object(value, "a step result")
        return cls(
            exit_code=opt_int_field(obj, "exit_code"),
            signal=opt_int_field(obj, "signal"),
            stdout=unb64(obj.get("stdout", ""), "stdout"),
            stderr=unb64(obj.get("stderr", ""), "stderr"),
            stdout_truncated=bool_field(obj, "stdout_truncated"),
            stderr_truncated=bool_field(obj, "stderr_truncated"),
            timed_out=bool_field(obj, "timed_out"),
            cpu_exceeded=bool_field(obj, "cpu_exceeded"),
            output_exceeded=bool_field(obj, "output_exceeded"),
            oom_killed=bool_field(obj, "oom_killed"),
            memory_limit_reached=bool_field(obj, "memory_limit_reached"),
            wall_ms=float_field(obj, "wall_ms"),
            cpu_ms=float_field(obj, "cpu_ms"),
            memory_kb=opt_int_field(obj, "memory_kb"),
            feedback=_feedback(obj.get("feedback")),
        )


# The feedback files the host reads back, and how much of each.
FEEDBACK_FILES = (
    "judgemessage.txt",
    "teammessage.txt",
    "score.txt",
    "score_multiplier.txt",
    "nextpass.in",  # left after the last pass: a pass more than allowed was asked for
)
FEEDBACK_LIMIT = 4096


def _feedback(value: object) -> dict[str, bytes]:
    if value is None:
        return {}
    files = as_object(value, "feedback")
    if not set(files) <= set(FEEDBACK_FILES):
        raise ProtocolError("feedback holds an unknown file")
    return {name: unb64(data, f"feedback {name}")[:FEEDBACK_LIMIT] for name, data in files.items()}
