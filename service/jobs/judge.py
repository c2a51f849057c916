"""Running a problems request: compile once, then each test in a clean state.

The agent keeps the compiled build between messages (``finish: false``) and
wipes the run directory, scratch space, IPC objects and every job process after
each test. Each test is its own round trip with its own host-side deadline, so a
test that hangs costs only its own limit; a container that had to be replaced
mid-request is swapped for a fresh one, the source is compiled again there, and
the remaining tests continue.
"""

from __future__ import annotations

import logging

from docker_api import DockerError
from service.config import Settings
from service.errors import AgentError, AgentTimeout, PoolUnavailable
from service.jobs.compiler import Executor, Lease, agent_run, run_deadline_s, run_step
from service.jobs.grading import (
    Problem,
    ProblemReply,
    TestCase,
    TestReport,
    Verdict,
    failed,
    grade,
    skipped,
    summarize,
)
from service.jobs.outcome import StepResult, compiled_ok
from service.requests.validate import ExecuteRequest
from service.sandbox.container import WorkerContainer

log = logging.getLogger(__name__)

FINISH_TIMEOUT_S = 10.0
MAX_COMPILE_ATTEMPTS = 3


class _LostWhileCompiling(Exception):
    """Internal: the container went away during the compile step."""


def _compile_timeout(settings: Settings) -> StepResult:
    message = f"the compiler did not finish within {settings.compile_timeout_ms} ms"
    return StepResult(
        exit_code=None,
        signal=None,
        stdout=b"",
        stderr=message.encode(),
        stdout_truncated=False,
        stderr_truncated=False,
        timed_out=True,
        output_exceeded=False,
        oom_killed=False,
        wall_ms=float(settings.compile_timeout_ms),
        cpu_ms=0.0,
        memory_kb=None,
    )


class Judge:
    def __init__(self, executor: Executor, settings: Settings) -> None:
        self._executor = executor
        self._settings = settings

    async def judge(self, request: ExecuteRequest, problem: Problem) -> ProblemReply:
        """Grade every test; never raises for a submission's misdeeds."""
        reports: list[TestReport] = []
        compile_result: StepResult | None = None
        pending = list(problem.tests)
        attempts = 0
        while pending:
            try:
                async with self._executor.lease(request) as lease:
                    compile_result, stop = await self._session(
                        lease, request, problem, pending, reports
                    )
            except PoolUnavailable as exc:
                reports += [failed(t, Verdict.INTERNAL_ERROR, str(exc)) for t in pending]
                break
            except _LostWhileCompiling:
                attempts += 1
                if attempts < MAX_COMPILE_ATTEMPTS:
                    continue
                reason = "the sandbox was lost while compiling, again and again"
                reports += [failed(t, Verdict.INTERNAL_ERROR, reason) for t in pending]
                break
            except DockerError as exc:
                log.warning("problem %s: Docker failed: %s", request.id, exc)
                reports += [
                    failed(t, Verdict.INTERNAL_ERROR, "the sandbox could not be prepared")
                    for t in pending
                ]
                break
            if stop:
                if compile_result is not None and not compiled_ok(compile_result):
                    return self._compile_error(request, compile_result, len(problem.tests))
                reports += [skipped(t) for t in pending]
                break
        return summarize(request, reports, compile_result, len(problem.tests))

    async def _session(
        self,
        lease: Lease,
        request: ExecuteRequest,
        problem: Problem,
        pending: list[TestCase],
        reports: list[TestReport],
    ) -> tuple[StepResult | None, bool]:
        """Compile, then run pending tests on one container until done, a stop, or it is lost.

        Returns the compile result and whether to stop. Tests are popped from
        ``pending`` as they get a report.
        """
        container = lease.container
        try:
            prepared = await self._executor.prepare(container, request)
        except AgentTimeout:
            return _compile_timeout(self._settings), True
        except AgentError as exc:
            log.warning("problem %s: lost the container while compiling: %s", request.id, exc)
            await self._executor.kill(container)
            raise _LostWhileCompiling from None
        compile_result = (
            StepResult.from_agent(prepared["compile"]) if prepared.get("compile") else None
        )
        if compile_result is not None and not compiled_ok(compile_result):
            lease.reusable = bool(prepared.get("clean"))
            return compile_result, True
        limit = run_deadline_s(request, self._settings)
        while pending:
            test = pending[0]
            message = agent_run(
                request, run_step(request, self._settings, test.stdin), finish=False
            )
            try:
                raw = await self._executor.exchange(container, message, limit)
            except AgentTimeout:
                pending.pop(0)
                reports.append(
                    failed(test, Verdict.TIMEOUT, f"time limit exceeded ({request.timeout_ms} ms)")
                )
                return compile_result, self._stopping(problem, reports)
            except AgentError as exc:
                log.warning("problem %s, test %s: %s", request.id, test.id, exc)
                await self._executor.kill(container)
                pending.pop(0)
                reports.append(
                    failed(test, Verdict.INTERNAL_ERROR, "the sandbox was lost during this test")
                )
                return compile_result, self._stopping(problem, reports)
            runs = raw.get("runs") or []
            pending.pop(0)
            if not runs:
                await self._executor.kill(container)
                reports.append(
                    failed(test, Verdict.INTERNAL_ERROR, "the sandbox returned no result")
                )
                return compile_result, self._stopping(problem, reports)
            reports.append(grade(StepResult.from_agent(runs[0]), test, problem.compare, request))
            if not raw.get("clean"):
                await self._executor.kill(container)
                return compile_result, self._stopping(problem, reports)
            if self._stopping(problem, reports):
                break
        lease.reusable = await self._finish(container, request)
        return compile_result, self._stopping(problem, reports)

    async def _finish(self, container: WorkerContainer, request: ExecuteRequest) -> bool:
        try:
            raw = await self._executor.exchange(
                container, {"type": "finish", "id": request.id}, FINISH_TIMEOUT_S, expect="finished"
            )
        except AgentError:
            return False
        return bool(raw.get("clean"))

    @staticmethod
    def _stopping(problem: Problem, reports: list[TestReport]) -> bool:
        return problem.stop_on_first_failure and any(not r.passed for r in reports)

    @staticmethod
    def _compile_error(request: ExecuteRequest, step: StepResult, total: int) -> ProblemReply:
        reply = summarize(request, [], step, total)
        reply.status = Verdict.COMPILE_ERROR
        reply.success = False
        reply.tests = []
        return reply
