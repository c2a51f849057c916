"""Messages from the agent to the host: ready, pong, result, cleaned, finished, error."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Any, ClassVar, Self

from .fields import (
    ProtocolError,
    attached_program,
    bool_field,
    int_field,
    opt_str_field,
    program_size,
    str_field,
)
from .steps import StepResult

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
            "program": program_size(self.program),
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
            program=attached_program(obj),
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
        wire["program"] = program_size(self.program)
        return wire

    @classmethod
    def from_wire(cls, obj: dict[str, Any]) -> Cleaned:
        return cls(
            id=str_field(obj, "id"),
            clean=bool_field(obj, "clean"),
            program=attached_program(obj),
        )


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

AGENT_TYPES: dict[str, Any] = {
    cls.TYPE: cls for cls in (Ready, Pong, Result, Cleaned, Finished, Error)
}
