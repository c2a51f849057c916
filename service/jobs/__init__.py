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
from ..sandbox.session import Sandbox
from .compiler import Executor
from .judge import Judge


class Jobs:
    """Runs any request: problems requests with tests through the judge, the rest as runs."""

    def __init__(self, sandbox: Sandbox) -> None:
        self.executor = Executor(sandbox)
        self.judge = Judge(sandbox)

    async def __call__(self, request: ExecuteRequest, respond: Callable[[AnyReply], None]) -> None:
        if request.problem is not None:
            respond(await self.judge.judge(request, request.problem))
        else:
            await self.executor.run(request, respond)


__all__ = ["Executor", "Jobs", "Judge"]
