"""The agent's steps for a request: argv, environment and limits of each program.

The agent knows nothing of languages or settings; the host turns a request into
steps here (the language table in :mod:`service.languages`, the limits from the
request's :class:`~service.requests.RunLimits`, or the settings for the steps
the server runs on its own terms: compiles, checkers, interactors).
"""

from __future__ import annotations

import dataclasses
import json

from agent.layout import CHECK_DIR, TOOL_DIR
from agent.protocol import Check, Job, Run, Step, StepLimits, Tool
from wire import Kind

from ..config import Settings
from ..languages import Language, served
from ..requests import ExecuteRequest, Program, RunLimits, limits_for

# A compiler writes object files and binaries larger than any program's output.
MIN_COMPILE_FILE_SIZE = 64 << 20
# What a checker may print: kept whole up to this much (more is checker_error);
# the reply shows the first CHECKER_OUTPUT_SHOWN bytes (service.jobs.grading).
CHECKER_OUTPUT_LIMIT = 64 << 10


def heap_memory_mb(settings: Settings, memory_mb: int) -> int:
    """The memory a job's runtime may size its heap to, under a ``memory_mb`` limit.

    All of it, but under gVisor, whose Sentry shares the limit (service/sandbox/tier.py).
    """
    return settings.tier.heap_memory_mb(memory_mb)


def checker_timeout_ms(settings: Settings) -> int:
    """A checker's wall-clock and CPU time limit per test: the server's wall maximum."""
    return settings.timeout_ms


def tool_limits(run: RunLimits, wall_ms: int) -> StepLimits:
    """A checker's or interactor's limits: ``wall_ms`` as wall and CPU limit, its own output cap."""
    return dataclasses.replace(
        run.step(), wall_ms=wall_ms, cpu_ms=wall_ms, output_bytes=CHECKER_OUTPUT_LIMIT
    )


def interaction(
    program: Program, request: ExecuteRequest, settings: Settings, answer: bytes = b""
) -> Check:
    """An interactor beside a run: the run's wall limit, as wall and CPU limit of its own.

    ``answer``: the test's answer file, which a Kattis interactor is given.
    """
    step = _run(
        tool_language(program),
        settings,
        request.limits.memory_mb,
        tool_limits(request.limits, request.limits.timeout_ms),
    )
    problem = request.problem
    convention = problem.convention.value if problem else "testlib"
    args = list(problem.tool_args) if problem else []
    # Only a Kattis interactor is given the answer: testlib's takes <input> <output>.
    kept = answer if convention == "kattis" else b""
    return Check(step=step, interactive=True, convention=convention, args=args, answer=kept)


def run_step(request: ExecuteRequest, settings: Settings, stdin: bytes) -> Step:
    """The run step of ``request`` fed with ``stdin``."""
    step = _run(
        request.language,
        settings,
        request.limits.memory_mb,
        request.limits.step(),
        args=request.args,
        stdin=stdin,
    )
    # Judges grade stdout: a test's stderr past the limit is cut, not a verdict.
    step.stderr_soft = request.problem is not None
    if request.problem is not None:
        # A file task: the input and output are files in the run's directory.
        step.input_file = request.problem.input_file
        step.output_file = request.problem.output_file
    return step


def _run(
    language: Language,
    settings: Settings,
    memory_mb: int,
    limits: StepLimits,
    *,
    args: tuple[str, ...] = (),
    stdin: bytes = b"",
) -> Step:
    heap_mb = heap_memory_mb(settings, memory_mb)
    return Step(
        argv=[*language.run_command(heap_mb), *args],
        env=language.run_environment(heap_mb),
        stdin=stdin,
        limits=limits,
    )


def compile_step(
    language: Language,
    settings: Settings,
    extra_files: tuple[str, ...] = (),
    wall_ms: int | None = None,
) -> Step | None:
    """The compile step of ``language`` (with ``extra_files``), or None for an interpreted one.

    ``wall_ms``: the request's compile time limit; None: the server's (a checker's build).
    """
    argv = language.compile_command(extra_files)
    if argv is None:
        return None
    return Step(
        argv=list(argv),
        env=language.compile_environment(),
        limits=StepLimits(
            wall_ms=wall_ms or settings.compile_timeout_ms,
            output_bytes=settings.compile_output_limit,
            file_size_bytes=max(settings.file_size_limit, MIN_COMPILE_FILE_SIZE),
        ),
    )


def check_step(request: ExecuteRequest, settings: Settings) -> Step | None:
    """The syntax check of ``request``'s program, as the job with the job's limits, or None.

    As any run step: a check may run code of the job's own (``perl -c`` runs
    BEGIN blocks), so it gets nothing a run would not.
    """
    language = request.language
    heap_mb = heap_memory_mb(settings, request.limits.memory_mb)
    argv = language.check_command(heap_mb, _extra_names(request))
    if argv is None:
        return None
    return Step(argv=argv, env=language.check_environment(heap_mb), limits=request.limits.step())


def check_job(request: ExecuteRequest, step: Step) -> Job:
    """The source again and its check alone, answered before the cleanup (after a one-shot run)."""
    return Job(
        id=request.id,
        files=request.source_files(),
        compile=None,
        runs=[step],
        finish=True,
        early_result=True,
    )


def check_run(request: ExecuteRequest, step: Step) -> Run:
    """The check of the kept build (a problems request's), answered before the wipe after it."""
    return Run(id=request.id, runs=[step], finish=False, early_result=True)


def tool_language(program: Program) -> Language:
    return program.language.moved_to(TOOL_DIR, CHECK_DIR)


def tool(program: Program, settings: Settings) -> Tool:
    """A problem's checker, built as the tool user in its own directory."""
    names = tuple(file.name for file in program.files)
    return Tool(
        files=program.source_files(),
        compile=compile_step(tool_language(program), settings, names),
    )


def check(program: Program, request: ExecuteRequest, settings: Settings, answer: bytes) -> Check:
    """The checker's run after a test; the agent appends <input> <output> <answer>
    (or, Kattis's way, <input> <answer> <feedback_dir>/ [args] with the output on stdin).

    It runs in the container the test ran in, under the same memory limit.
    """
    limits = tool_limits(request.limits, checker_timeout_ms(settings))
    step = _run(tool_language(program), settings, request.limits.memory_mb, limits)
    problem = request.problem
    return Check(
        step=step,
        answer=answer,
        convention=problem.convention.value if problem else "testlib",
        args=list(problem.tool_args) if problem else [],
        passes=problem.passes if problem else 1,
    )


def one_shot_job(request: ExecuteRequest, settings: Settings) -> Job:
    """Source, compile step (when needed) and one run, answered before the cleanup."""
    return Job(
        id=request.id,
        files=request.source_files(),
        compile=compile_step(
            request.language,
            settings,
            _extra_names(request),
            request.limits.compile_timeout_ms,
        ),
        runs=[run_step(request, settings, request.stdin)],
        finish=True,
        early_result=True,
    )


def prepare_job(request: ExecuteRequest, settings: Settings) -> Job:
    """Source and compile step (and the checker's), the builds kept for :func:`run_message`."""
    checker = request.problem.tool if request.problem else None
    hidden = list(request.problem.hidden) if request.problem else []
    return Job(
        id=request.id,
        files=request.source_files(),
        compile=compile_step(
            request.language,
            settings,
            _extra_names(request),
            request.limits.compile_timeout_ms,
        ),
        runs=[],
        finish=False,
        tool=tool(checker, settings) if checker else None,
        hidden=hidden,
    )


def run_message(
    request: ExecuteRequest,
    settings: Settings,
    stdin: bytes,
    *,
    finish: bool,
    answer: bytes | None = None,
) -> Run:
    """One run against the kept build, answered before the wipe after it.

    With ``finish`` the wipe takes the build too; without, the build stays for
    the next run. Either way the run and the wipe get deadlines of their own.
    With ``answer`` (a problem with a checker), the checker checks the run; with
    an interactor the run talks to it (``answer`` unused).
    """
    problem = request.problem
    checks = None
    if problem and problem.interactor and answer is not None:
        checks = [interaction(problem.interactor, request, settings, answer)]
    elif problem and problem.checker and answer is not None:
        checks = [check(problem.checker, request, settings, answer)]
    return Run(
        id=request.id,
        runs=[run_step(request, settings, stdin)],
        finish=finish,
        early_result=True,
        checks=checks,
    )


def _extra_names(request: ExecuteRequest) -> tuple[str, ...]:
    return tuple(file.name for file in request.files)


def default_run_step(language: Language, settings: Settings, memory_mb: int) -> Step:
    """A run of ``language`` at a compiler request's default limits, ``memory_mb`` of memory."""
    limits = limits_for(Kind.COMPILER, settings).defaults()
    return _run(language, settings, memory_mb, limits.step())


def warm_templates(settings: Settings, memory_mb: int | None = None) -> str:
    """The agent's ``CODE_ENGINE_WARM``: each warm-started language's default run, and launcher.

    Only the languages that can run at all in ``memory_mb`` (their minimum on this tier).
    """
    memory = memory_mb or settings.memory_mb
    templates: list[dict] = []
    for language in served():
        if not language.warm_launcher or memory < settings.tier.min_memory_mb(language):
            # No warm start where the language's hello world would not fit: a
            # container made to measure for a small request would lose its memory
            # (under gVisor the whole sandbox) to a JVM it could never use.
            continue
        template = {
            "launcher": language.warm_launcher,
            "step": default_run_step(language, settings, memory).to_wire(),
            # Not under gVisor, whose procfs shows any uid a root process's
            # environment, descriptors and maps (tests/hostile: /proc/1).
            "fork_server": language.warm_forks
            and settings.fork_server
            and settings.tier.fork_server,
        }
        # One per distinct start: Java's and Kotlin's runs are the same JVM's.
        if template not in templates:
            templates.append(template)
    return json.dumps(templates, separators=(",", ":"))
