"""Messages from the host to the agent: ping, job, run, finish."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar

from .fields import (
    ProtocolError,
    as_object,
    attached_program,
    b64,
    bool_field,
    int_field,
    opt_str_field,
    program_size,
    str_field,
    unb64,
)
from .steps import Step

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


# How a checker or interactor is called and reports (see Check).
TESTLIB = "testlib"
KATTIS = "kattis"
CONVENTIONS = (TESTLIB, KATTIS)


@dataclass(slots=True)
class Check:
    """After a run that ended cleanly: the tool run as ``argv <input> <output> <answer>``.

    ``step.stdin`` is unused; the three files are written for the tool user
    once no job process is left. With ``interactive`` the tool is an
    interactor instead: it runs as ``argv <input> <output>`` at the same time
    as the run, connected to it by pipes (see :mod:`agent.interaction`), and
    the run's stdout in the result is what the tool wrote to ``<output>``.

    With ``convention`` kattis, the tool is called the Kattis way instead:
    ``argv <input> <answer> <feedback_dir>/ [args]`` with the run's output on
    its stdin (an interactor: talking to the run over its stdin and stdout),
    and the files it leaves in the feedback directory come back in its
    result's ``feedback``; with ``passes`` > 1, the run is repeated on the
    validator's ``nextpass.in`` (agent.checks).
    """

    step: Step
    answer: bytes = b""
    interactive: bool = False
    convention: str = TESTLIB
    args: list[str] = field(default_factory=list)
    passes: int = 1  # Kattis multi-pass: runs of the job in all, at most

    def to_wire(self) -> dict[str, Any]:
        return {
            "step": self.step.to_wire(),
            "answer": b64(self.answer),
            "interactive": self.interactive,
            "convention": self.convention,
            "args": self.args,
            "passes": self.passes,
        }

    @classmethod
    def from_wire(cls, value: object) -> Check:
        obj = as_object(value, "check")
        convention = obj.get("convention", TESTLIB)
        if convention not in CONVENTIONS:
            raise ProtocolError(f"unknown convention {str(convention)[:20]!r}")
        args = obj.get("args", [])
        if not isinstance(args, list) or not all(
            isinstance(a, str) and "\0" not in a for a in args
        ):
            raise ProtocolError("args must be a list of strings without NUL")
        return cls(
            step=Step.from_wire(obj.get("step"), with_stdin=False),
            answer=unb64(obj.get("answer", ""), "answer"),
            interactive=bool_field(obj, "interactive"),
            convention=convention,
            args=list(args),
            passes=int_field(obj, "passes", 1, 1),
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
    # Build files removed once the build is done (a problem's grader): the
    # program keeps what compiling put in it, the job cannot read them.
    hidden: list[str] = field(default_factory=list)

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
            "program": program_size(self.program),
            "hidden": self.hidden,
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
            program=attached_program(obj),
            hidden=_names(obj.get("hidden", [])),
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
            for run, check in zip(runs, checks, strict=True):
                if check.interactive and (run.input_file or run.output_file):
                    # An interactive run talks to its interactor over stdin and stdout.
                    raise ProtocolError("an interactive run has no input_file or output_file")
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


@dataclass(slots=True)
class Shed:
    """Stop the warm processes and fork servers now (answered ``pong``).

    They are the engine's, not a job's, but they live in the container's one
    memory limit: before a request's lower limit can be set, they must go. The
    next verified cleanup starts again the ones its last run wanted.
    """

    TYPE: ClassVar[str] = "shed"

    def to_wire(self) -> dict[str, Any]:
        return {"type": self.TYPE}

    @classmethod
    def from_wire(cls, obj: dict[str, Any]) -> Shed:
        return cls()


def _names(value: object) -> list[str]:
    if not isinstance(value, list) or not all(
        isinstance(name, str) and name and "/" not in name and "\0" not in name for name in value
    ):
        raise ProtocolError("hidden must be a list of top-level file names")
    return list(value)


def _steps(obj: dict[str, Any]) -> list[Step]:
    runs = obj.get("runs", [])
    if not isinstance(runs, list):
        raise ProtocolError("runs must be a list")
    return [Step.from_wire(run) for run in runs]


HostMessage = Ping | Job | Run | Finish | Shed


HOST_TYPES: dict[str, Any] = {cls.TYPE: cls for cls in (Ping, Job, Run, Finish, Shed)}
