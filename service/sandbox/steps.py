"""The agent's steps for a request: argv, environment and limits of each program.

The agent knows nothing of languages or settings; the host turns a request into
steps here (the language table in :mod:`service.languages`, the limits from the
request and the settings).
"""

from __future__ import annotations

from agent.protocol import Job, Run, Step

from ..config import Settings
from ..languages import Language
from ..requests import ExecuteRequest
from .spec import heap_memory_mb

# A compiler writes object files and binaries larger than any program's output.
MIN_COMPILE_FILE_SIZE = 64 << 20


def run_step(request: ExecuteRequest, settings: Settings, stdin: bytes) -> Step:
    """The run step of ``request`` fed with ``stdin``."""
    language = request.language
    heap_mb = heap_memory_mb(settings, request.memory_mb)
    return Step(
        argv=[*language.run_command(heap_mb), *request.args],
        env=language.run_environment(heap_mb),
        stdin=stdin,
        timeout_ms=request.timeout_ms,
        output_limit=request.output_limit,
        file_size_limit=settings.file_size_limit,
    )


def compile_step(language: Language, settings: Settings) -> Step | None:
    """The compile step of ``language``, or None for an interpreted one."""
    if language.compile_argv is None:
        return None
    return Step(
        argv=list(language.compile_argv),
        env=language.compile_environment(),
        timeout_ms=settings.compile_timeout_ms,
        output_limit=settings.compile_output_limit,
        file_size_limit=max(settings.file_size_limit, MIN_COMPILE_FILE_SIZE),
    )


def one_shot_job(request: ExecuteRequest, settings: Settings) -> Job:
    """Source, compile step (when needed) and one run, answered before the cleanup."""
    return Job(
        id=request.id,
        files={request.language.source_file: request.code},
        compile=compile_step(request.language, settings),
        runs=[run_step(request, settings, request.stdin)],
        finish=True,
        early_result=True,
    )


def prepare_job(request: ExecuteRequest, settings: Settings) -> Job:
    """Source and compile step, the build kept for :func:`run_message`."""
    return Job(
        id=request.id,
        files={request.language.source_file: request.code},
        compile=compile_step(request.language, settings),
        runs=[],
        finish=False,
    )


def run_message(request: ExecuteRequest, settings: Settings, stdin: bytes, *, finish: bool) -> Run:
    """One run against the kept build, answered before the wipe after it.

    With ``finish`` the wipe takes the build too; without, the build stays for
    the next run. Either way the run and the wipe get deadlines of their own.
    """
    return Run(
        id=request.id,
        runs=[run_step(request, settings, stdin)],
        finish=finish,
        early_result=True,
    )
