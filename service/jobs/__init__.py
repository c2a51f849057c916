"""Job flows: what runs a validated request on the sandbox and builds its reply.

``compiler`` (one run) and ``judge`` (compile once, one run per test) are thin
flows over :class:`service.sandbox.session.Session`; ``outcome`` turns what the
agent measured into statuses, ``grading`` compares outputs and sums up tests,
``replies`` words the refusals.
"""

from __future__ import annotations

from collections.abc import Callable

from wire.replies import AnyReply

from ..requests import ExecuteRequest
from ..sandbox.lender import Sandbox
from .compiler import Executor
from .fitting import fit_in_thread
from .judge import Judge


class Jobs:
    """Runs any request: problems requests with tests through the judge, the rest as runs.

    ``payload_limit`` gives the largest reply the intake can send now: a problems
    reply is fitted under it in a worker thread before it goes out (it can hold
    megabytes of output per test, too much to cut on the event loop).
    """

    def __init__(self, sandbox: Sandbox, payload_limit: Callable[[], int]) -> None:
        self.executor = Executor(sandbox)
        self.judge = Judge(sandbox)
        self._payload_limit = payload_limit

    async def __call__(self, request: ExecuteRequest, respond: Callable[[AnyReply], None]) -> None:
        if request.problem is not None:
            reply = await self.judge.judge(request, request.problem)
            await fit_in_thread(reply, self._payload_limit())
            respond(reply)
        else:
            await self.executor.run(request, respond)


__all__ = ["Executor", "Jobs", "Judge"]
