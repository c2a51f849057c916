"""Job flows: what runs a validated request on the sandbox and builds its reply.

``compiler`` (one run) and ``judge`` (compile once, one run per test) are thin
flows over :class:`service.sandbox.session.Session`; ``outcome`` turns what the
agent measured into statuses, ``grading`` compares outputs and sums up tests,
``replies`` words the refusals. What reads a job's output in full runs off the
event loop once the output is large (``offload``).
"""

from __future__ import annotations

from collections.abc import Callable

from ..requests import ExecuteRequest
from ..sandbox.lender import Lender
from .compiler import Executor
from .fitting import Outgoing, fit_in_thread
from .judge import Judge
from .offload import threads


class Jobs:
    """Runs any request: problems requests with tests through the judge, the rest as runs.

    ``payload_limit`` gives the largest reply the intake can send now: a problems
    reply is fitted under it and encoded, in a worker thread when large, before
    it goes out (it can hold megabytes of output per test, too much to cut on
    the event loop). Grading, fitting and reply building share one limiter of
    worker threads.
    """

    def __init__(self, lender: Lender, payload_limit: Callable[[], int]) -> None:
        self._threads = threads()
        self.executor = Executor(lender, self._threads)
        self.judge = Judge(lender, self._threads)
        self._payload_limit = payload_limit

    async def __call__(self, request: ExecuteRequest, respond: Callable[[Outgoing], None]) -> None:
        if request.problem is not None:
            reply = await self.judge.judge(request, request.problem)
            respond(await fit_in_thread(reply, self._payload_limit(), self._threads))
        else:
            await self.executor.run(request, respond)


__all__ = ["Executor", "Jobs", "Judge"]
