"""Polygon's interactive problems: after the interactor, the checker judges what it wrote.

Polygon runs an interactive problem's checker on the interactor's output file
(``checker <input> <interactor's output> <answer>``) once the interactor has
accepted. A problems request has an interactor or a checker, not both, so the
check is a second request: its program is a replay that prints, for each
test's input, what the interactor wrote on that test (the first request's
``output``), and the package's checker (or the standard checker's comparison)
judges it as for any problem. Only tests the interactor accepted are
replayed; the others keep their verdict, and each replayed test keeps the
solution's measures (time, memory) and takes the check's verdict, score and
checker output.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
from typing import TYPE_CHECKING, Any

from msgspec.structs import replace

from wire import Status
from wire.replies import TestReport

if TYPE_CHECKING:
    from .judging import Engine
    from .package import Package
    from .testdata import Test

REPLAY = """import base64, hashlib, sys
OUTPUTS = {table!r}
data = sys.stdin.buffer.read()
sys.stdout.buffer.write(base64.b64decode(OUTPUTS[hashlib.sha256(data).hexdigest()]))
"""
# The replay's code stays well under the problems subject's code limit.
MAX_REPLAY_BYTES = 256 * 1024


async def check_interactions(
    engine: Engine,
    package: Package,
    tests: list[Test],
    reports: list[TestReport],
    fields: dict[str, Any],
) -> list[TestReport]:
    """``reports`` with each test the interactor accepted judged again by the checker."""
    checked = list(reports)
    batches: list[list[int]] = []
    for index, report in enumerate(reports):
        if report.status != Status.ACCEPTED:
            continue
        if report.truncated:
            checked[index] = replace(
                report,
                status=Status.CHECKER_ERROR,
                passed=False,
                score=0.0,
                error="the interactor's output was cut: the checker cannot judge it",
            )
            continue
        _place(batches, index, tests, reports)
    replies = await asyncio.gather(
        *(engine.send(_request(package, batch, tests, reports, fields)) for batch in batches)
    )
    for batch, reply in zip(batches, replies, strict=True):
        verdicts = reply.get("tests") or []
        for position, index in enumerate(batch):
            checked[index] = _merged(reports[index], reply, verdicts, position)
    return checked


def _key(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _place(
    batches: list[list[int]], index: int, tests: list[Test], reports: list[TestReport]
) -> None:
    """Into the first batch where its input is new and the replay stays small."""
    size = len(reports[index].output.encode()) * 4 // 3 + 100
    for batch in batches:
        keys = {_key(tests[i].input) for i in batch}
        used = sum(len(reports[i].output.encode()) * 4 // 3 + 100 for i in batch)
        if _key(tests[index].input) not in keys and used + size <= MAX_REPLAY_BYTES:
            batch.append(index)
            return
    batches.append([index])


def _request(
    package: Package,
    batch: list[int],
    tests: list[Test],
    reports: list[TestReport],
    fields: dict[str, Any],
) -> dict[str, Any]:
    table = {
        _key(tests[i].input): base64.b64encode(reports[i].output.encode()).decode() for i in batch
    }
    code = REPLAY.format(table=table)
    return {
        "language": "python",
        "code": base64.b64encode(code.encode()).decode(),
        **fields,
        "tests": [
            {
                "id": tests[i].name,
                "stdin": base64.b64encode(tests[i].input).decode(),
                "expected_output": base64.b64encode(tests[i].answer).decode(),
                "points": reports[i].score,
            }
            for i in batch
        ],
    }


def _merged(
    report: TestReport, reply: dict[str, Any], verdicts: list[dict[str, Any]], position: int
) -> TestReport:
    """The solution's report with the check's verdict (or the check's failure)."""
    if position >= len(verdicts):
        reason = reply.get("error") or f"the check ended with {reply.get('status')}"
        return replace(
            report, status=Status.CHECKER_ERROR, passed=False, score=0.0, error=str(reason)
        )
    verdict = verdicts[position]
    status = Status(verdict.get("status", Status.INTERNAL_ERROR))
    if status not in (Status.ACCEPTED, Status.WRONG_ANSWER, Status.CHECKER_ERROR):
        # The replay itself failed: the engine's trouble, not the solution's.
        status = Status.CHECKER_ERROR
    return replace(
        report,
        status=status,
        passed=status == Status.ACCEPTED,
        score=float(verdict.get("score") or 0.0),
        checker_output=(report.checker_output + str(verdict.get("checker_output", "")))[:4096],
        error=report.error or str(verdict.get("error", "")),
    )
