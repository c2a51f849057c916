"""Running a problems request: compile once, then each test in a clean state.

The agent keeps the compiled build between messages (``finish: false``) and
wipes the run directory, scratch space, IPC objects and every job process after
each test. Each test is its own round trip with its own host-side deadline, so a
test that hangs costs only its own limit; a container that had to be replaced
mid-request is swapped for a fresh one, the source is compiled again there, and
the remaining tests continue.
"""

from __future__ import annotations

import base64
import logging
from typing import Any

from docker_api import DockerError

from .config import Settings
from .container import WorkerContainer
from .errors import AgentError, AgentTimeout, PoolUnavailable
from .execute import Executor, Lease, compile_step
from .outcome import StepResult, compiled_ok
from .problems import (
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
from .protocol import ExecuteRequest

log = logging.getLogger(__name__)

FINISH_TIMEOUT_S = 10.0


class Judge:
    def __init__(self, executor: Executor, settings: Settings) -> None:
        self._executor = executor
        self._settings = settings

    def _run(self, request: ExecuteRequest, test: TestCase) -> dict[str, Any]:
        language = request.language
        return {
            "argv": [*language.run_argv, *request.args],
            "env": language.run_environment(),
            "stdin": base64.b64encode(test.stdin).decode(),
            "timeout_ms": request.timeout_ms,
            "output_limit": request.output_limit,
            "file_size_limit": self._settings.file_size_limit,
        }

    def _limit(self, request: ExecuteRequest, *, compiling: bool) -> float:
        compile_ms = self._settings.compile_timeout_ms if compiling else 0
        return (compile_ms + request.timeout_ms + self._settings.grace_ms) / 1000

    async def judge(self, request: ExecuteRequest, problem: Problem) -> ProblemReply:
        """Grade every test; never raises for a submission's misdeeds."""
        reports: list[TestReport] = []
        compile_result: StepResult | None = None
        pending = list(problem.tests)
        while pending:
            try:
                async with self._executor.lease(request) as lease:
                    compile_result, stop = await self._session(
                        lease, request, problem, pending, reports
                    )
            except PoolUnavailable as exc:
                reports += [failed(t, Verdict.INTERNAL_ERROR, str(exc)) for t in pending]
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
        """Run pending tests on one container until done, a stop, or the container is lost.

        Returns the compile result and whether to stop. Tests are popped from
        ``pending`` as they get a report.
        """
        container = lease.container
        language = request.language
        compile_result: StepResult | None = None
        first = True
        while pending:
            test = pending[0]
            message: dict[str, Any]
            if first:
                message = {
                    "type": "job",
                    "id": request.id,
                    "files": {language.source_file: base64.b64encode(request.code).decode()},
                    "compile": compile_step(language, self._settings),
                    "runs": [self._run(request, test)],
                    "finish": False,
                }
            else:
                message = {
                    "type": "run",
                    "id": request.id,
                    "runs": [self._run(request, test)],
                    "finish": False,
                }
            limit = self._limit(request, compiling=first and language.compiled)
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
            if first and raw.get("compile"):
                compile_result = StepResult.from_agent(raw["compile"])
                if not compiled_ok(compile_result):
                    lease.reusable = bool(raw.get("clean"))
                    return compile_result, True
            first = False
            runs = raw.get("runs") or []
            if not runs:
                await self._executor.kill(container)
                pending.pop(0)
                reports.append(
                    failed(
                        test, Verdict.INTERNAL_ERROR, "the sandbox returned no result for this test"
                    )
                )
                return compile_result, self._stopping(problem, reports)
            step = StepResult.from_agent(runs[0])
            pending.pop(0)
            reports.append(grade(step, test, problem.compare, request))
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
