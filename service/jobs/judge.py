"""The problems flow: compile once, then each test in a clean state.

The agent keeps the compiled build between messages and wipes the run
directory, scratch space, IPC objects and every job process after each test.
Each test is its own exchange with its own host-side deadline (the session's),
so a test that hangs costs only its own limit; the agent answers before it
wipes, and the wipe has a deadline of its own, so a test that leaves work for
the cleanup keeps its verdict. A container that had to be replaced
mid-request (the cleanup overran, the OOM killer took it, it was lost) is
swapped for a fresh one, the source is compiled again there, and the remaining
tests continue.

Grading a test reads its output in full (decoded to text, compared with the
expected answer); for a large output that happens in a worker thread
(:mod:`service.jobs.offload`), as does building the reply from a large
compiler output.
"""

from __future__ import annotations

import logging
from functools import partial

import trio

from agent.protocol import Result, StepResult
from docker_api import DockerError
from wire import Status
from wire.replies import ProblemReply, TestReport

from ..config import Settings
from ..errors import AgentError, AgentTimeout, PoolUnavailable
from ..requests import ExecuteRequest, Problem, TestCase
from ..sandbox.lender import Lender
from ..sandbox.session import Loss, Session
from .checking import Checked
from .grading import failed, grade, grading_size, skipped, summarize
from .offload import offload, threads
from .outcome import (
    compile_diagnostics,
    compile_out_of_memory,
    did_not_parse,
    memory_exceeded,
    time_limit_reason,
)
from .scoring import skips

log = logging.getLogger(__name__)

MAX_COMPILE_ATTEMPTS = 3


def _size(*steps: StepResult | None) -> int:
    """Bytes of output of ``steps`` (compile steps): what their diagnostics decode."""
    return sum(len(step.stdout) + len(step.stderr) for step in steps if step is not None)


class _LostWhileCompiling(Exception):
    """Internal: the container went away during the compile step."""


class _ToolFailed(Exception):
    """Internal: the problem's checker did not compile."""

    def __init__(self, step: StepResult, compile: StepResult | None) -> None:
        super().__init__("the checker did not compile")
        self.step = step
        self.compile = compile


def _compile_timeout(settings: Settings) -> StepResult:
    message = f"the compiler did not finish within {settings.compile_timeout_ms} ms"
    return StepResult(
        exit_code=None,
        signal=None,
        stderr=message.encode(),
        timed_out=True,
        wall_ms=float(settings.compile_timeout_ms),
    )


class Judge:
    """Grades problems requests on the sandbox's containers.

    ``limiter``: the worker threads that grade large outputs.
    """

    def __init__(self, lender: Lender, limiter: trio.CapacityLimiter | None = None) -> None:
        self._lender = lender
        self._threads = limiter or threads()

    async def judge(self, request: ExecuteRequest, problem: Problem) -> ProblemReply:
        """Grade every test; never raises for a submission's misdeeds."""
        reports: list[TestReport] = []
        compile_result: StepResult | None = None
        pending = list(problem.tests)
        attempts = 0
        total = len(problem.tests)
        while pending:
            try:
                async with self._lender.session(request) as session:
                    compile_result, stop = await self._grade_on(session, problem, pending, reports)
            except PoolUnavailable as exc:
                reports += [failed(t, Status.INTERNAL_ERROR, str(exc)) for t in pending]
                break
            except _ToolFailed as exc:
                failure = partial(self._checker_error, request, exc.compile, exc.step)
                return await offload(_size(exc.compile, exc.step), failure, self._threads)
            except _LostWhileCompiling:
                attempts += 1
                if attempts < MAX_COMPILE_ATTEMPTS:
                    continue
                reason = "the sandbox was lost while compiling, again and again"
                reports += [failed(t, Status.INTERNAL_ERROR, reason) for t in pending]
                break
            except DockerError as exc:
                log.warning("problem %s: Docker failed: %s", request.id, exc)
                reports += [
                    failed(t, Status.INTERNAL_ERROR, "the sandbox could not be prepared")
                    for t in pending
                ]
                break
            if stop:
                if compile_result is not None and compile_result.failed:
                    failure = partial(self._compile_error, request, compile_result, total)
                    return await offload(_size(compile_result), failure, self._threads)
                reports += [skipped(t) for t in pending]
                break
        summary = partial(summarize, request, reports, compile_result, total)
        return await offload(_size(compile_result), summary, self._threads)

    async def _grade_on(
        self,
        session: Session,
        problem: Problem,
        pending: list[TestCase],
        reports: list[TestReport],
    ) -> tuple[StepResult | None, bool]:
        """Compile, then run pending tests on one container until done, a stop, or it is lost.

        Returns the compile result and whether to stop. Tests are popped from
        ``pending`` as they get a report.
        """
        request = session.request
        try:
            prepared = await session.compile()
        except AgentTimeout:
            return _compile_timeout(self._lender.settings), True
        except AgentError as exc:
            if await session.lost() is Loss.OUT_OF_MEMORY:
                return compile_out_of_memory(), True
            log.warning("problem %s: lost the container while compiling: %s", request.id, exc)
            raise _LostWhileCompiling from None
        compile_result = prepared.compile
        if not prepared.compiled:
            await session.settle(prepared)
            return compile_result, True
        if not prepared.tool_compiled:
            assert prepared.tool_compile is not None
            await session.settle(prepared)
            raise _ToolFailed(prepared.tool_compile, compile_result)
        checked = problem.tool is not None
        syntax_checked = False  # the program's syntax check ran (once, after a run that asked)
        while pending:
            test = pending[0]
            if skips(test, problem.tests, reports, problem.groups):
                # A group of it breaks on a rejected test: the rest need not run.
                reports.append(skipped(pending.pop(0)))
                continue
            try:
                answer = (test.expected or b"") if checked else None
                result = await session.run(test.stdin, finish=False, answer=answer)
            except AgentTimeout:
                pending.pop(0)
                reports.append(failed(test, Status.TIMEOUT, time_limit_reason(request)))
                return compile_result, self._stopping(problem, reports)
            except AgentError as exc:
                pending.pop(0)
                reports.append(await self._lost(session, test, exc))
                return compile_result, self._stopping(problem, reports)
            pending.pop(0)
            if not result.runs:
                await session.kill()
                reports.append(
                    failed(test, Status.INTERNAL_ERROR, "the sandbox returned no result")
                )
                return compile_result, self._stopping(problem, reports)
            step = result.runs[0]
            fit: bool | None = None  # not yet known: the cleanup the run owes is waited for below
            if not syntax_checked and request.language.checked_after(step):
                syntax_checked = True
                check, fit = await self._syntax(session, result)
                if check is not None:
                    return check, True
            graded = partial(
                grade,
                step,
                test,
                problem.compare,
                request,
                tolerance=problem.float_tolerance,
                checker=Checked(
                    result.checks[0] if result.checks else None,
                    interactive=problem.interactor is not None,
                    convention=problem.convention,
                    passes=problem.passes,
                )
                if checked
                else None,
                validator=problem.validator,
            )
            reports.append(await offload(grading_size(step, test), graded, self._threads))
            # The wipe after a test has a deadline of its own: a test that left
            # work for it keeps its verdict, and only the container is replaced.
            # So is one the OOM killer struck in (Session.settle).
            if fit is None:
                fit = await session.fit(result)
            if not fit:
                await session.kill()
                return compile_result, self._stopping(problem, reports)
            if self._stopping(problem, reports):
                break
        await session.finish()
        return compile_result, self._stopping(problem, reports)

    @staticmethod
    async def _syntax(session: Session, result: Result) -> tuple[StepResult | None, bool]:
        """After a test's run that ended as a syntax error does: the kept source checked.

        Returns the check when the source does not parse (the build wiped: a
        compile error, no test graded), else None; and whether the container
        is fit to go on (the run's cleanup, then the check's, verified).
        """
        if not await session.fit(result):
            return None, False
        try:
            checked = await session.check(kept=True)
        except AgentError as exc:
            log.warning("problem %s: the syntax check failed: %s", session.request.id, exc)
            return None, False
        if checked is None:
            return None, True
        fit = await session.fit(checked)
        if checked.runs and did_not_parse(checked.runs[0]):
            if fit:
                await session.finish()
            return checked.runs[0], fit
        return None, fit

    @staticmethod
    async def _lost(session: Session, test: TestCase, exc: AgentError) -> TestReport:
        """The report of a test whose container went away while it ran."""
        request = session.request
        if await session.lost() is Loss.OUT_OF_MEMORY:
            # The test took the whole container over its memory limit: its doing.
            log.warning("problem %s, test %s: the container was OOM-killed", request.id, test.id)
            return failed(test, Status.MEMORY_LIMIT, memory_exceeded(request))
        log.warning("problem %s, test %s: %s", request.id, test.id, exc)
        return failed(test, Status.INTERNAL_ERROR, "the sandbox was lost during this test")

    @staticmethod
    def _stopping(problem: Problem, reports: list[TestReport]) -> bool:
        return problem.stop_on_first_failure and any(not r.passed for r in reports)

    @staticmethod
    def _checker_error(
        request: ExecuteRequest, compile_step: StepResult | None, tool_step: StepResult
    ) -> ProblemReply:
        total = len(request.problem.tests) if request.problem else 0
        reply = summarize(request, [], compile_step, total)
        reply.status = Status.CHECKER_ERROR
        reply.success = False
        reply.error = f"the checker did not compile:\n{compile_diagnostics(tool_step)}"
        return reply

    @staticmethod
    def _compile_error(request: ExecuteRequest, step: StepResult, total: int) -> ProblemReply:
        reply = summarize(request, [], step, total)
        reply.status = Status.COMPILE_ERROR
        reply.success = False
        reply.tests = []
        return reply
