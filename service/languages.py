"""The languages a daemon serves: each one's file (``languages/*.toml``) made usable.

The agent knows nothing of languages: the host turns a request into argv, env and
limits here, from the data of :mod:`service.language_files`. Paths are the
agent's fixed layout (sources and artifacts in ``/work/build``, locked read-only
before any run; runs happen in a fresh ``/work/run``).

Which languages a process serves is chosen once (:func:`serve`, from
``CODE_ENGINE_LANGUAGES``); :func:`lookup` knows only those, and
:func:`supported` names them in the errors a client reads.
"""

from __future__ import annotations

import re
import signal
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from functools import cache
from pathlib import Path

from agent.layout import BUILD_DIR, RUN_DIR
from agent.protocol import StepResult

from . import language_files
from .language_files import LanguageFile, LanguageFileError, LastWords

_BASE_ENV = {
    "PATH": "/usr/local/bin:/usr/bin:/bin",
    "LANG": "C.UTF-8",
    "LC_ALL": "C.UTF-8",
    "HOME": RUN_DIR,
    "TMPDIR": "/tmp",
}
DYING_WORDS = 4096  # bytes at each end of stderr where a runtime's last words are looked for
ALL = "all"


def _stderr_ends(step: StepResult) -> bytes:
    # Go and V8 say it first and dump stacks after; Python and libstdc++ say it last.
    stderr = step.stderr
    if len(stderr) <= 2 * DYING_WORDS:
        return stderr
    return stderr[:DYING_WORDS] + b"\n" + stderr[-DYING_WORDS:]


def said(words: LastWords, step: StepResult) -> bool:
    """Whether ``step`` ended the way ``words`` describes (every condition given holds)."""
    if words.exit_codes or words.signals:
        signals = {int(getattr(signal, name)) for name in words.signals}
        ended = step.exit_code in words.exit_codes or (
            step.signal is not None and int(step.signal) in signals
        )
        if not ended:
            return False
    if words.stderr:
        ends = _stderr_ends(step)
        if not any(text.encode() in ends for text in words.stderr):
            return False
    if words.last_line:
        last = step.stderr[-DYING_WORDS:].rstrip().rsplit(b"\n", 1)[-1]
        if not re.fullmatch(words.last_line.encode(), last):
            return False
    return True


@dataclass(frozen=True, slots=True)
class Memory:
    """How a language's runtime learns the job's memory limit, and how it says it ran out.

    A runtime with a heap limit of its own (V8, Go's GC, the JVM) gets it sized
    to the job's limit, so that a program within the limit may use it and one
    beyond it dies the runtime's way before the kernel's OOM killer thrashes.
    Its report of running out (``out_of_memory``) is a fact like an OOM kill;
    words that look like memory but mean the process limit are not.
    """

    spec: language_files.MemorySpec = field(default_factory=language_files.MemorySpec)

    def heap_mb(self, memory_mb: int) -> int:
        return self.spec.heap.mb(memory_mb)

    def argv(self, memory_mb: int) -> tuple[str, ...]:
        words = {"heap_mb": self.heap_mb(memory_mb), "memory_mb": memory_mb}
        flags = tuple(_fill(value, words) for value in self.spec.argv)
        at = self.spec.at_memory
        if at is not None and memory_mb in at.memory_mb:
            flags += tuple(_fill(value, words) for value in at.argv)
        return flags

    def env(self, memory_mb: int) -> dict[str, str]:
        words = {"heap_mb": self.heap_mb(memory_mb), "memory_mb": memory_mb}
        return {name: _fill(value, words) for name, value in self.spec.env.items()}

    def out_of_memory(self, step: StepResult) -> bool:
        if any(said(words, step) for words in self.spec.process_limit):
            return False
        return any(said(words, step) for words in self.spec.out_of_memory)


def _fill(value: str, words: Mapping[str, object]) -> str:
    return language_files.PLACEHOLDER.sub(
        lambda match: str(words.get(match.group(1), match.group(0))), value
    )


@dataclass(frozen=True, slots=True)
class Language:
    name: str
    aliases: tuple[str, ...]
    source_file: str
    run_argv: tuple[str, ...]
    compile_argv: tuple[str, ...] | None = None
    compile_env: dict[str, str] = field(default_factory=dict)
    run_env: dict[str, str] = field(default_factory=dict)
    memory: Memory = field(default_factory=Memory)
    # Extra files (a request's ``files``) with these endings are compiled too.
    source_suffixes: tuple[str, ...] = ()
    not_source_suffixes: tuple[str, ...] = ()
    build_dir: str = BUILD_DIR
    # What a compile leaves to run, by its name in the build dir (compiled languages).
    program_file: str = "main"
    # The agent's launcher that starts this language's runs ahead (agent/launchers).
    warm_launcher: str | None = None
    # Its warm processes are forked from one started interpreter (agent/forkserver.py).
    warm_forks: bool = False
    # The least memory its compile step gets, whatever the request's memory_mb
    # (CODE_ENGINE_COMPILE_MEMORY_MB, when set, instead): compile_memory_mb.
    compile_memory_floor_mb: int = 0
    # Its compile may run code of the job's own: the compile cache keeps nothing of it.
    compile_runs_job_code: bool = False
    # Its compile leaves more than the program file: the compile cache keeps nothing of it.
    compile_leaves_more: bool = False
    # The least memory_mb a request in this language may ask for, on runc and
    # under gVisor: what its hello world needs beside the agent, measured.
    min_memory_mb: int = 32
    min_memory_mb_gvisor: int = 64
    # The run's RLIMIT_STACK in MB (0: the container's default).
    stack_mb: int = 0
    # An interpreted language's syntax check, run after a run that ended as
    # ``check_after`` says (the interpreter's syntax-error exit): see checked_after.
    check_argv: tuple[str, ...] | None = None
    check_env: dict[str, str] = field(default_factory=dict)
    check_after: LastWords | None = None
    check_modules: tuple[str, ...] = ()  # endings of extra files the check parses too
    # Everything its file says, for what the rest does not need (docs, image, self-tests).
    data: LanguageFile | None = None

    @property
    def compiled(self) -> bool:
        return self.compile_argv is not None

    def compile_command(self, extra_files: tuple[str, ...] = ()) -> tuple[str, ...] | None:
        """The compile argv for the main file and ``extra_files`` (names in the build dir)."""
        if self.compile_argv is None:
            return None
        sources = [
            f"{self.build_dir}/{name}"
            for name in extra_files
            if name.endswith(self.source_suffixes) and not name.endswith(self.not_source_suffixes)
        ]
        return (*self.compile_argv, *sources) if self.source_suffixes else self.compile_argv

    def checked_after(self, run: StepResult) -> bool:
        """Whether ``run`` ended as this language's interpreter does on a syntax error.

        Only a hint of when to check (a program may say anything on stderr):
        the check, of the source alone, decides. A run stopped by a limit is
        never checked.
        """
        if self.check_after is None or self.check_argv is None:
            return False
        stopped = run.timed_out or run.cpu_exceeded or run.output_exceeded or run.oom_killed
        return not stopped and said(self.check_after, run)

    def check_command(self, memory_mb: int, extra_files: tuple[str, ...] = ()) -> list[str] | None:
        """The syntax check's argv under a memory limit of ``memory_mb`` (heap flags as a run's).

        ``extra_files`` (names in the build dir) that are modules of the language
        follow the main file, in their order.
        """
        if self.check_argv is None:
            return None
        program, *rest = self.check_argv
        modules = [
            f"{self.build_dir}/{name}"
            for name in extra_files
            if self.check_modules and name.endswith(self.check_modules)
        ]
        return [program, *self.memory.argv(memory_mb), *rest, *modules]

    def check_environment(self, memory_mb: int) -> dict[str, str]:
        return {**_BASE_ENV, **self.check_env, **self.memory.env(memory_mb)}

    def moved_to(self, build_dir: str, home: str) -> Language:
        """This language building in ``build_dir`` and running with ``home`` (a problem's tool)."""

        def move(values: tuple[str, ...]) -> tuple[str, ...]:
            return tuple(value.replace(BUILD_DIR, build_dir) for value in values)

        return replace(
            self,
            build_dir=build_dir,
            run_argv=move(self.run_argv),
            compile_argv=None if self.compile_argv is None else move(self.compile_argv),
            compile_env={k: v.replace(BUILD_DIR, build_dir) for k, v in self.compile_env.items()},
            run_env={
                **{k: v.replace(BUILD_DIR, build_dir) for k, v in self.run_env.items()},
                "HOME": home,
            },
        )

    def compile_memory_mb(self, memory_mb: int, floor_override_mb: int = 0) -> int:
        """The compile step's memory for a request of ``memory_mb``.

        The request's own limit, raised to the language's floor (or to
        ``floor_override_mb``, the operator's, when not 0), never lowered: a
        compile's memory is the request's, and no more than the compiler needs.
        """
        return max(memory_mb, floor_override_mb or self.compile_memory_floor_mb)

    def compile_environment(self) -> dict[str, str]:
        return {**_BASE_ENV, "HOME": self.build_dir, **self.compile_env}

    def run_command(self, memory_mb: int) -> list[str]:
        """The run step's argv under a memory limit of ``memory_mb``."""
        program, *rest = self.run_argv
        argv = [program, *self.memory.argv(memory_mb), *rest]
        if self.stack_mb:
            # A native program's deep recursion needs more than the default 8 MB.
            return ["prlimit", f"--stack={self.stack_mb << 20}", "--", *argv]
        return argv

    def run_environment(self, memory_mb: int) -> dict[str, str]:
        return {**_BASE_ENV, **self.run_env, **self.memory.env(memory_mb)}


def from_file(data: LanguageFile) -> Language:
    """The language ``data`` describes, its ``{build}`` placeholders filled in."""

    def build(values: tuple[str, ...]) -> tuple[str, ...]:
        return tuple(value.replace("{build}", BUILD_DIR) for value in values)

    def build_env(env: dict[str, str]) -> dict[str, str]:
        return {name: value.replace("{build}", BUILD_DIR) for name, value in env.items()}

    compiled = data.compile
    check = data.check
    return Language(
        name=data.name,
        aliases=data.aliases,
        source_file=data.main_file,
        run_argv=build(data.run.argv),
        compile_argv=build(compiled.argv) if compiled else None,
        compile_env=build_env(compiled.env) if compiled else {},
        run_env=build_env(data.run.env),
        memory=Memory(data.memory),
        source_suffixes=data.files.sources,
        not_source_suffixes=data.files.not_sources,
        program_file=compiled.program if compiled else "main",
        warm_launcher=data.warm.launcher if data.warm else None,
        warm_forks=bool(data.warm and data.warm.forks),
        compile_memory_floor_mb=compiled.memory_floor_mb if compiled else 0,
        compile_runs_job_code=bool(compiled and compiled.runs_job_code),
        compile_leaves_more=bool(compiled and not compiled.keep),
        min_memory_mb=data.memory.min_mb,
        min_memory_mb_gvisor=data.memory.min_mb_gvisor,
        stack_mb=data.run.stack_mb,
        check_argv=build(check.argv) if check else None,
        check_env=build_env(check.env) if check else {},
        check_after=check.after if check else None,
        check_modules=check.modules if check else (),
        data=data,
    )


@cache
def _read(directory: Path) -> tuple[Language, ...]:
    return tuple(from_file(data) for data in language_files.read_all(directory))


def all_languages(directory: Path | None = None) -> tuple[Language, ...]:
    """Every language with a file in ``directory`` (default: ``languages/``), by name.

    Raises:
        LanguageFileError: a file is refused (naming the file and the field).
    """
    return _read(directory or language_files.LANGUAGES_DIR)


def select(choice: str, directory: Path | None = None) -> tuple[Language, ...]:
    """The languages ``choice`` names (``CODE_ENGINE_LANGUAGES``: ``all`` or names, commas).

    ``all`` is every language but the opt-in ones; ``all,kotlin`` adds one.

    Raises:
        LanguageFileError: a file is refused, or a name has no file.
    """
    every = all_languages(directory)
    by_name = {lang.name: lang for lang in every}
    names = [word.strip().lower() for word in choice.split(",") if word.strip()] or [ALL]
    chosen: dict[str, Language] = {}
    for name in names:
        if name == ALL:
            chosen.update(
                (lang.name, lang) for lang in every if not (lang.data and lang.data.opt_in)
            )
        elif name in by_name:
            chosen[name] = by_name[name]
        else:
            known = ", ".join(by_name)
            raise LanguageFileError(
                directory or language_files.LANGUAGES_DIR,
                f"CODE_ENGINE_LANGUAGES names {name!r}, which has no file (there are: {known})",
            )
    return tuple(lang for lang in every if lang.name in chosen)


def _opt_in(lang: Language) -> bool:
    return bool(lang.data and lang.data.opt_in)


_served: tuple[Language, ...] | None = None


def serve(languages: tuple[Language, ...]) -> None:
    """Make ``languages`` the ones this process serves (the daemon, at start)."""
    global _served
    _served = languages


def served() -> tuple[Language, ...]:
    """The languages this process serves: those given to :func:`serve`, else all."""
    return _served if _served is not None else select(ALL)


def lookup(name: str) -> Language | None:
    """The served language for a name or alias (case-insensitive), or None."""
    wanted = name.strip().lower()
    for lang in served():
        if wanted in lang.aliases:
            return lang
    return None


def supported() -> str:
    """The served languages by name, for errors (their aliases: ``code-engine.languages``)."""
    return ", ".join(lang.name for lang in served())


def guess_from_filename(filename: str) -> Language | None:
    """The served language of a source file by its extension (for the CLI's ``run``)."""
    ext = filename.rsplit(".", 1)[-1].lower() if "." in filename else ""
    found = [lang for lang in served() if lang.data and ext in lang.data.extensions]
    names = {lang.name for lang in found}
    for lang in found:
        if not (lang.data and lang.data.variant_of in names):
            return lang
    return found[0] if found else None


__all__ = [
    "ALL",
    "Language",
    "LanguageFileError",
    "Memory",
    "all_languages",
    "guess_from_filename",
    "lookup",
    "select",
    "serve",
    "served",
    "supported",
]
