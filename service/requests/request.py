"""What a validated request is: the only shape of a request inside the engine."""

from __future__ import annotations

import enum
from dataclasses import dataclass

from wire import Kind

from ..languages import Language
from .limits import RunLimits

DEFAULT_FLOAT_TOLERANCE = 1e-6


class Compare(enum.StrEnum):
    EXACT = "exact"
    TRIM = "trim"
    TOKENS = "tokens"
    FLOAT = "float"
    ICPC = "icpc"  # the ICPC package format's default output validator


@dataclass(frozen=True, slots=True)
class DefaultValidator:
    """The options of ``compare: icpc``, as the ICPC format's default validator takes them."""

    case_sensitive: bool = False
    space_change_sensitive: bool = False
    absolute_tolerance: float | None = None  # None: numbers are compared as strings
    relative_tolerance: float | None = None

    @property
    def floats(self) -> bool:
        return self.absolute_tolerance is not None or self.relative_tolerance is not None


class Convention(enum.StrEnum):
    """How a checker or interactor is called and how it reports."""

    TESTLIB = "testlib"
    KATTIS = "kattis"


class Aggregation(enum.StrEnum):
    SUM = "sum"
    MIN = "min"
    PASS_FAIL = "pass-fail"


@dataclass(frozen=True, slots=True)
class GroupRule:
    """How one group is scored; groups only tests name get the defaults of today's subtasks."""

    id: str
    parent: str | None = None
    aggregation: Aggregation = Aggregation.PASS_FAIL
    on_reject_break: bool = True


@dataclass(frozen=True, slots=True)
class SourceFile:
    """One of a request's extra files: a checked relative path and its bytes."""

    name: str
    content: bytes


@dataclass(frozen=True, slots=True)
class TestCase:
    id: str
    stdin: bytes
    expected: bytes | None
    points: float = 1.0
    group: str | None = None


@dataclass(frozen=True, slots=True)
class Program:
    """A problem's own program (a checker, an interactor): language, main file, extra files."""

    language: Language
    code: bytes
    files: tuple[SourceFile, ...] = ()

    def source_files(self) -> dict[str, bytes]:
        return _source_files(self.language, self.code, self.files)


@dataclass(frozen=True, slots=True)
class Problem:
    tests: tuple[TestCase, ...]
    compare: Compare
    stop_on_first_failure: bool
    float_tolerance: float = DEFAULT_FLOAT_TOLERANCE  # compare FLOAT only
    checker: Program | None = None
    interactor: Program | None = None
    validator: DefaultValidator = DefaultValidator()  # compare ICPC only
    convention: Convention = Convention.TESTLIB  # of the checker or interactor
    tool_args: tuple[str, ...] = ()  # kattis: the validator's arguments
    passes: int = 1  # kattis multi-pass: the most runs per test
    hidden: tuple[str, ...] = ()  # the grader's files: in the build, removed once built
    groups: tuple[GroupRule, ...] = ()  # every group, declared or named by a test
    # A file task: the run reads its input from, and writes its output to, these
    # files in its working directory; None: stdin, stdout.
    input_file: str | None = None
    output_file: str | None = None

    def group(self, name: str) -> GroupRule:
        return next((rule for rule in self.groups if rule.id == name), GroupRule(name))

    @property
    def tool(self) -> Program | None:
        """The problem's own program, whichever it is (never both)."""
        return self.checker or self.interactor


@dataclass(frozen=True, slots=True)
class ExecuteRequest:
    """A validated request: bytes decoded, language resolved, limits clamped."""

    id: str
    kind: Kind
    language: Language
    code: bytes
    stdin: bytes
    args: tuple[str, ...]
    limits: RunLimits
    problem: Problem | None = None  # problems requests with tests
    files: tuple[SourceFile, ...] = ()  # beside the main file (``language.source_file``)

    def source_files(self) -> dict[str, bytes]:
        """Every file of the submission by its name in the build directory."""
        return _source_files(self.language, self.code, self.files)


def _source_files(
    language: Language, code: bytes, files: tuple[SourceFile, ...]
) -> dict[str, bytes]:
    return {language.source_file: code, **{file.name: file.content for file in files}}
