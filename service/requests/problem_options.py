"""The problem's options beside its tests: the default validator's, the tool's convention,
and the groups' scoring, each read from the wire and checked here.

Every bad value is an :class:`~service.errors.InvalidRequest` naming the field.
"""

from __future__ import annotations

import enum
import math
import re
from collections.abc import Callable
from typing import TypeVar

from wire.requests import WireGroup, WireProblemRequest, WireTest, WireTool

from ..errors import InvalidRequest
from .request import (
    Aggregation,
    Compare,
    Convention,
    DefaultValidator,
    GroupRule,
    Program,
    SourceFile,
)
from .sources import check_files

E = TypeVar("E", bound=enum.StrEnum)
MAX_TOOL_ARGS = 64
MAX_PASSES = 10
MAX_ARG_CHARS = 4096
MAX_NAME_CHARS = 128
ON_REJECT = {"break": True, "continue": False}
MAX_FILE_NAME_CHARS = 255
_FILE_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9._-]*")


def choice(kind: type[E], value: str, field: str) -> E:
    """``value`` as one of ``kind``'s values, or a refusal naming them all."""
    try:
        return kind(value)
    except ValueError:
        names = ", ".join(repr(member.value) for member in kind)
        raise InvalidRequest(f"{field} must be one of {names}, got {value[:40]!r}") from None


def default_validator(wire: WireProblemRequest, compare: Compare) -> DefaultValidator:
    """The options of ``compare: icpc``; refused with any other ``compare``."""
    fields = {
        "case_sensitive": wire.case_sensitive,
        "space_change_sensitive": wire.space_change_sensitive,
        "float_absolute_tolerance": wire.float_absolute_tolerance,
        "float_relative_tolerance": wire.float_relative_tolerance,
    }
    if compare is not Compare.ICPC:
        given = [name for name, value in fields.items() if value is not None]
        if given:
            raise InvalidRequest(f"{given[0]} applies only with compare 'icpc'")
        return DefaultValidator()
    both = wire.float_tolerance
    absolute, relative = wire.float_absolute_tolerance, wire.float_relative_tolerance
    if both is not None and (absolute is not None or relative is not None):
        raise InvalidRequest(
            "float_tolerance sets both tolerances: not with float_absolute_tolerance "
            "or float_relative_tolerance"
        )
    if both is not None:
        absolute = relative = both
    for name, value in (
        ("float_tolerance" if both is not None else "float_absolute_tolerance", absolute),
        ("float_tolerance" if both is not None else "float_relative_tolerance", relative),
    ):
        if value is not None and not (math.isfinite(value) and value >= 0):
            raise InvalidRequest(f"{name} must be a finite number of at least 0, got {value}")
    return DefaultValidator(
        case_sensitive=bool(wire.case_sensitive),
        space_change_sensitive=bool(wire.space_change_sensitive),
        absolute_tolerance=absolute,
        relative_tolerance=relative,
    )


def grader_files(
    wire: WireProblemRequest,
    main: Program,
    limit: int,
    decode: Callable[[str, str | None, int], bytes],
) -> tuple[SourceFile, ...]:
    """The grader's files: compiled with the submission, so for a compiled language only.

    Top-level names, none the submission uses: they are removed from the build
    once it is built, and the submission's program keeps only what compiling
    put in it.
    """
    if main.language.compile_command(()) is None:
        raise InvalidRequest(
            f"grader applies only to a compiled language, not {main.language.name}"
        )
    used = len(main.code) + sum(len(file.content) for file in main.files)
    files = check_files(
        main.language, wire.grader, limit - used, decode, limit=limit, what="grader"
    )
    taken = {file.name for file in main.files}
    for index, file in enumerate(files):
        if "/" in file.name:
            raise InvalidRequest(f"grader[{index}]: {file.name!r}: a grader file is top-level")
        if file.name in taken:
            raise InvalidRequest(f"grader[{index}]: {file.name!r} is also a file of the submission")
    return files


def file_task(
    wire: WireProblemRequest, main: Program, grader: tuple[SourceFile, ...]
) -> tuple[str | None, str | None]:
    """The names of a file task's input and output files (None: stdin, stdout).

    Plain file names in the run's working directory, apart from each other and
    from every name of the program's own (its main file, extra files, grader,
    build output), so that nobody reading a request or a package wonders which
    file is meant.
    """
    names = {"input_file": wire.input_file, "output_file": wire.output_file}
    given = {field: name for field, name in names.items() if name is not None}
    if given and wire.interactor is not None:
        raise InvalidRequest(
            f"{next(iter(given))} and interactor exclude each other: an interactive "
            "solution talks to its interactor over stdin and stdout"
        )
    language = main.language
    own = {language.source_file, *(file.name.split("/")[0] for file in main.files)}
    own |= {file.name for file in grader}
    if language.compiled:
        own.add(language.program_file)
    for field, name in given.items():
        if not (0 < len(name) <= MAX_FILE_NAME_CHARS and _FILE_NAME.fullmatch(name)):
            raise InvalidRequest(
                f"{field} must be a plain file name of [A-Za-z0-9._-] (no '/'), not "
                f"starting with '.' or '-', at most {MAX_FILE_NAME_CHARS} characters, "
                f"got {name[:40]!r}"
            )
        if name in own:
            raise InvalidRequest(f"{field} {name!r} clashes with a file of the program's own")
    if wire.input_file is not None and wire.input_file == wire.output_file:
        raise InvalidRequest("input_file and output_file must be different files")
    return wire.input_file, wire.output_file


def tool_passes(tool: WireTool, field: str, convention: Convention) -> int:
    """How many runs a multi-pass test may have (1: not multi-pass)."""
    if tool.passes is None:
        return 1
    if field != "checker" or convention is not Convention.KATTIS:
        raise InvalidRequest("passes applies only to a checker with convention 'kattis'")
    if not 2 <= tool.passes <= MAX_PASSES:
        raise InvalidRequest(f"checker.passes must be 2 to {MAX_PASSES}, got {tool.passes}")
    return tool.passes


def tool_convention(tool: WireTool, field: str) -> tuple[Convention, tuple[str, ...]]:
    """The checker's or interactor's convention and arguments."""
    convention = choice(Convention, tool.convention, f"{field}.convention")
    args = tuple(tool.args or ())
    if args and convention is not Convention.KATTIS:
        raise InvalidRequest(f"{field}.args apply only with convention 'kattis'")
    if len(args) > MAX_TOOL_ARGS:
        raise InvalidRequest(f"{field}.args: too many, {len(args)} > {MAX_TOOL_ARGS}")
    for index, arg in enumerate(args):
        if "\x00" in arg or len(arg) > MAX_ARG_CHARS:
            raise InvalidRequest(
                f"{field}.args[{index}] must be at most {MAX_ARG_CHARS} characters, without NUL"
            )
    return convention, args


def group_rules(groups: list[WireGroup] | None, tests: list[WireTest]) -> tuple[GroupRule, ...]:
    """Every group: those declared (in order), then those only tests name (pass-fail, break).

    A parent must be declared before the groups nested in it (so there is no
    cycle), and every declared group must hold a test, directly or nested.
    """
    rules: dict[str, GroupRule] = {}
    for index, group in enumerate(groups or ()):
        where = f"groups[{index}]"
        if not 0 < len(group.id) <= MAX_NAME_CHARS:
            raise InvalidRequest(f"{where}.id must be 1 to {MAX_NAME_CHARS} characters")
        if group.id in rules:
            raise InvalidRequest(f"{where}: group {group.id!r} is declared twice")
        if group.parent is not None and group.parent not in rules:
            raise InvalidRequest(
                f"{where}.parent {group.parent[:40]!r} must be a group declared before it"
            )
        aggregation = choice(Aggregation, group.aggregation, f"{where}.aggregation")
        if group.on_reject not in ON_REJECT:
            raise InvalidRequest(
                f"{where}.on_reject must be 'break' or 'continue', got {group.on_reject[:40]!r}"
            )
        rules[group.id] = GroupRule(group.id, group.parent, aggregation, ON_REJECT[group.on_reject])
    held: set[str] = set()
    for test in tests:
        name = test.group
        if name is not None and name not in rules:
            rules[name] = GroupRule(name)
        while name is not None and name not in held:
            held.add(name)
            name = rules[name].parent
    empty = [name for name in rules if name not in held]
    if empty:
        raise InvalidRequest(f"group {empty[0][:40]!r} holds no test")
    return tuple(rules.values())
