"""A language as data: one TOML file per language (``languages/<name>.toml``), one schema.

Every file is read through :class:`LanguageFile` (msgspec, unknown fields
refused) and then checked for what a type cannot say (its name is its file's,
placeholders are known ones, the main file has one of its extensions). A file
that fails is refused with :class:`LanguageFileError` naming the file and the
field, at daemon start and at image build alike: nothing half-read is served.

Placeholders in argv, environments and build steps are ``{name}`` words filled
in by :mod:`service.languages` (``{build}``: the build directory; ``{heap_mb}``,
``{memory_mb}``: sizes under the job's memory limit). Build steps are shell,
with ``image.build_env`` and ``HEAPS_MB`` (the heaps of ``memory.at_memory``)
in their environment.
The fields' meaning, each with its reason, is in docs/how-to/add-a-language.md.
"""

from __future__ import annotations

import os
import re
import signal
import tomllib
from collections.abc import Callable
from pathlib import Path

import msgspec

import agent

from .errors import EngineError

# The agent's launchers, warm.source's directory (agent/warm.py).
LAUNCHERS = Path(agent.__file__).resolve().parent / "launchers"

# A checkout has languages/ beside the packages; the daemon's image points
# CODE_ENGINE_LANGUAGES_DIR at its copy.
LANGUAGES_DIR = Path(
    os.environ.get("CODE_ENGINE_LANGUAGES_DIR") or Path(__file__).resolve().parents[1] / "languages"
)
NAME = re.compile(r"[a-z][a-z0-9_]*")
ALIAS = re.compile(r"[a-z0-9+#._-]+")
PLACEHOLDER = re.compile(r"\{([a-z_]*)\}")
RUN_WORDS = frozenset({"build", "heap_mb", "memory_mb"})
COMPILE_WORDS = frozenset({"build"})
STATUSES = frozenset(
    {"ok", "compile_error", "runtime_error", "timeout", "memory_limit", "output_limit"}
)


class LanguageFileError(EngineError):
    """A language file is missing, does not parse or breaks the schema: ``path`` and why."""

    def __init__(self, path: Path | str, reason: str) -> None:
        super().__init__(f"{path}: {reason}")
        self.path = str(path)
        self.reason = reason


class _Strict(msgspec.Struct, forbid_unknown_fields=True, kw_only=True, frozen=True):
    pass


class Heap(_Strict, kw_only=True, frozen=True):
    """A runtime's heap under a job limit of m MB: max(m*floor_percent, m*percent - reserve_mb)."""

    percent: int = 100
    reserve_mb: int = 0
    floor_percent: int = 0

    def mb(self, memory_mb: int) -> int:
        return max(
            memory_mb * self.floor_percent // 100,
            memory_mb * self.percent // 100 - self.reserve_mb,
        )


class AtMemory(_Strict, kw_only=True, frozen=True):
    """Flags added at these memory limits only (Node's start-up snapshot per heap)."""

    memory_mb: tuple[int, ...]
    argv: tuple[str, ...]


class LastWords(_Strict, kw_only=True, frozen=True):
    """How a runtime says something at its death: all given conditions hold.

    ``stderr``: any of these in the ends of stderr; ``last_line``: a regular
    expression the last line of stderr matches whole; ``exit_codes`` or
    ``signals`` (names): how it ended, any of them (either list may match).
    """

    stderr: tuple[str, ...] = ()
    last_line: str = ""
    exit_codes: tuple[int, ...] = ()
    signals: tuple[str, ...] = ()


class MemorySpec(_Strict, kw_only=True, frozen=True):
    """How the runtime learns the job's memory limit, how it says it ran out, what it needs."""

    heap: Heap = Heap()
    argv: tuple[str, ...] = ()  # after the run's first word
    env: dict[str, str] = {}
    at_memory: AtMemory | None = None
    out_of_memory: tuple[LastWords, ...] = ()
    # Words that look like memory and are not: the process limit (a JVM that
    # cannot start a thread says "OutOfMemoryError: unable to create native thread").
    process_limit: tuple[LastWords, ...] = ()
    min_mb: int = 32
    min_mb_gvisor: int = 64


class CompileSpec(_Strict, kw_only=True, frozen=True):
    argv: tuple[str, ...]
    env: dict[str, str] = {}
    program: str = "main"  # what the compile leaves to run, by its name in the build dir
    memory_floor_mb: int
    runs_job_code: bool = False
    # The program file is all a run needs, so the compile cache may keep it;
    # false when a compile leaves more (TypeScript: one .js per source).
    keep: bool = True


class CheckSpec(_Strict, kw_only=True, frozen=True):
    """An interpreted language's syntax check: argv that parses the main file, runs none of it.

    The request's extra files whose names end in ``modules`` follow the main
    file in argv, each checked too (a module that does not parse is the
    program's compile error as much as its main file).

    Run only after a run that ended the way ``after`` describes (how the
    interpreter exits on a syntax error), so a program that parses pays
    nothing; a check that fails makes the verdict ``compile_error`` with what
    it said. It runs as any run step: the job user, the job's limits.
    """

    argv: tuple[str, ...]
    env: dict[str, str] = {}
    after: LastWords
    modules: tuple[str, ...] = ()  # endings of extra files checked after the main file


class RunSpec(_Strict, kw_only=True, frozen=True):
    argv: tuple[str, ...]
    env: dict[str, str] = {}
    stack_mb: int = 0  # 0: the container's default (8 MB); else the run's RLIMIT_STACK
    threads: int = 1  # the runtime's own threads at start (they count against the pids limit)


class FilesSpec(_Strict, kw_only=True, frozen=True):
    """How a request's extra ``files`` are used."""

    sources: tuple[str, ...] = ()  # endings of extra files given to the compiler
    not_sources: tuple[str, ...] = ()
    beside_main: tuple[str, ...] = ()  # endings that may not be in a subdirectory
    refused: tuple[str, ...] = ()  # file names refused anywhere
    why: str = ""  # said with a refusal
    note: str = ""  # how the language uses extra files, for the docs


class WarmSpec(_Strict, kw_only=True, frozen=True):
    launcher: str  # in agent/launchers/ (made at the image's build when ``source`` is named)
    forks: bool = False  # forked from one interpreter (agent/forkserver.py)
    # A launcher a runtime cannot run as a source file (a JVM's jar) is built with
    # the image: ``build`` (shell, as root, no job data) makes $LAUNCHER from
    # $LAUNCHER_SOURCE, the file ``source`` of agent/launchers/.
    source: str = ""
    build: tuple[str, ...] = ()


class ImageSpec(_Strict, kw_only=True, frozen=True):
    """What the worker image needs: Debian packages and build steps (root, no job data)."""

    packages: tuple[str, ...] = ()  # from the base's suite
    backports: tuple[str, ...] = ()  # from its -backports suite
    build: tuple[str, ...] = ()  # shell commands, after every package is installed
    build_env: dict[str, str] = {}  # exported to build steps
    # npm packages (name@version), fetched on the host; in $NPM_DIR for the build steps.
    npm: tuple[str, ...] = ()


class SelfTest(_Strict, kw_only=True, frozen=True):
    """A program run by the self-tests, and what must come back."""

    name: str
    code: str
    stdin: str = ""
    args: tuple[str, ...] = ()
    status: str = "ok"
    stdout: str | None = None  # exactly
    says: str = ""  # in stderr (or the compiler's output)
    exit_code: int | None = None
    memory_mb: int | None = None
    timeout_ms: int | None = None
    gvisor: bool = True  # run under gVisor too


class LanguageFile(_Strict, kw_only=True, frozen=True):
    name: str
    display_name: str
    aliases: tuple[str, ...]
    extensions: tuple[str, ...]
    main_file: str
    version: tuple[str, ...]  # argv whose first line of output is the version
    run: RunSpec
    compile: CompileSpec | None = None
    check: CheckSpec | None = None
    memory: MemorySpec = MemorySpec()
    files: FilesSpec = FilesSpec()
    warm: WarmSpec | None = None
    image: ImageSpec = ImageSpec()
    tests: tuple[SelfTest, ...] = ()
    # A checker in this language, for the self-tests: exit 0 when the output's
    # first line (its second argument's file) is the answer's (its third's), else 1.
    checker: str = ""
    # A variant of another language (C++20 of cpp, PyPy of python): the CLI
    # guesses the other from a shared extension when it is served.
    variant_of: str = ""
    # Not in the default selection (CODE_ENGINE_LANGUAGES=all): named to be served.
    opt_in: bool = False
    note: str = ""  # what the docs' language table says of it


def read(path: Path) -> LanguageFile:
    """The language in ``path``, checked.

    Raises:
        LanguageFileError: naming the file and the field.
    """
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise LanguageFileError(path, f"cannot be read: {exc.strerror}") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise LanguageFileError(path, f"is not TOML: {exc}") from None
    try:
        language = msgspec.convert(data, LanguageFile)
    except msgspec.ValidationError as exc:
        raise LanguageFileError(path, _field_message(str(exc))) from None
    _check(path, language)
    return language


def read_all(directory: Path = LANGUAGES_DIR) -> tuple[LanguageFile, ...]:
    """Every ``*.toml`` of ``directory``, by name, with aliases unique across them."""
    paths = sorted(directory.glob("*.toml"))
    if not paths:
        raise LanguageFileError(directory, "holds no language file (*.toml)")
    languages = tuple(read(path) for path in paths)
    owner: dict[str, str] = {}
    for path, language in zip(paths, languages, strict=True):
        for alias in (language.name, *language.aliases):
            if owner.setdefault(alias, language.name) != language.name:
                raise LanguageFileError(path, f"aliases: {alias!r} is already {owner[alias]!r}'s")
    return languages


def _field_message(message: str) -> str:
    # msgspec: "Expected `int`, got `str` - at `$.compile.memory_floor_mb`"
    what, _, where = message.partition(" - at `$")
    if not where:
        return message
    return f"{where.rstrip('`').lstrip('.') or '(top level)'}: {what}"


def _check(path: Path, lang: LanguageFile) -> None:
    def fail(field: str, reason: str) -> None:
        raise LanguageFileError(path, f"{field}: {reason}")

    if not NAME.fullmatch(lang.name) or path.stem != lang.name:
        fail("name", f"{lang.name!r} must be [a-z][a-z0-9_]* and the file's name ({path.stem})")
    if lang.name not in lang.aliases:
        fail("aliases", f"must hold the name {lang.name!r}")
    for alias in lang.aliases:
        if not ALIAS.fullmatch(alias):
            fail("aliases", f"{alias!r}: lower case, of [a-z0-9+#._-]")
    if not lang.extensions or any(not e or "." in e for e in lang.extensions):
        fail("extensions", "one or more endings without their dot (py, cpp)")
    if "/" in lang.main_file or lang.main_file.rsplit(".", 1)[-1] not in lang.extensions:
        fail("main_file", f"{lang.main_file!r} must be a file name with one of the extensions")
    if not lang.version:
        fail("version", "an argv that prints the version")
    if not lang.run.argv:
        fail("run.argv", "the run's argv may not be empty")
    _words(fail, "run.argv", lang.run.argv, RUN_WORDS)
    _words(fail, "run.env", tuple(lang.run.env.values()), RUN_WORDS)
    _words(fail, "memory.argv", lang.memory.argv, RUN_WORDS)
    _words(fail, "memory.env", tuple(lang.memory.env.values()), RUN_WORDS)
    if lang.memory.at_memory:
        _words(fail, "memory.at_memory.argv", lang.memory.at_memory.argv, RUN_WORDS)
    if lang.check:
        if lang.compile:
            fail("check", "a compiled language's compile is its check")
        if not lang.check.argv:
            fail("check.argv", "the check's argv may not be empty")
        if not (lang.check.after.exit_codes or lang.check.after.signals):
            fail("check.after", "name the exit codes of a run that did not parse")
        _words(fail, "check.argv", lang.check.argv, RUN_WORDS)
        _words(fail, "check.env", tuple(lang.check.env.values()), RUN_WORDS)
    if lang.compile:
        if not lang.compile.argv:
            fail("compile.argv", "the compile's argv may not be empty")
        _words(fail, "compile.argv", lang.compile.argv, COMPILE_WORDS)
        _words(fail, "compile.env", tuple(lang.compile.env.values()), COMPILE_WORDS)
        if lang.compile.memory_floor_mb <= 0:
            fail("compile.memory_floor_mb", "a compiled language needs its measured floor")
    said = {
        "memory.out_of_memory": lang.memory.out_of_memory,
        "memory.process_limit": lang.memory.process_limit,
        "check.after": (lang.check.after,) if lang.check else (),
    }
    for field, rules in said.items():
        for words in rules:
            for name in words.signals:
                if not hasattr(signal, name) or not name.startswith("SIG"):
                    fail(field, f"{name!r} is no signal name")
            try:
                re.compile(words.last_line)
            except re.error as exc:
                fail(field, f"last_line: {exc}")
    if lang.memory.min_mb < 16 or lang.memory.min_mb_gvisor < lang.memory.min_mb:
        fail("memory.min_mb_gvisor", "at least min_mb, which is at least 16")
    if lang.warm:
        for field, name in (
            ("warm.launcher", lang.warm.launcher),
            ("warm.source", lang.warm.source),
        ):
            if name and not name.replace("_", "").replace(".", "").isalnum():
                fail(field, f"{name!r}: a file name in agent/launchers/")
    if lang.warm and bool(lang.warm.source) != bool(lang.warm.build):
        fail("warm.build", "a launcher built with the image needs both its source and build")
    if lang.warm and lang.warm.source and not (LAUNCHERS / lang.warm.source).is_file():
        fail("warm.source", f"{lang.warm.source!r} is not a file of agent/launchers/")
    for spec in lang.image.npm:
        if spec.rfind("@") <= 0:
            fail("image.npm", f"{spec!r}: name@version, pinned")
    for index, test in enumerate(lang.tests):
        if test.status not in STATUSES:
            fail(f"tests[{index}].status", f"{test.status!r} is not one of {sorted(STATUSES)}")


def _words(
    fail: Callable[[str, str], None], field: str, values: tuple[str, ...], allowed: frozenset[str]
) -> None:
    for value in values:
        for word in PLACEHOLDER.findall(value):
            if word not in allowed:
                fail(field, f"{{{word}}} in {value!r}: known here are {sorted(allowed)}")
