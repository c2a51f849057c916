"""The verification flow (asyncio, as the CLI runs it) against a fake engine: inputs
validated, the time limit from the accepted submissions, the margin for those that
must time out, the report."""

import asyncio
import base64
from pathlib import Path
from typing import Any

from problem_package import read_package
from problem_package.verifying import verify

PACKAGES = Path(__file__).resolve().parents[1] / "packages"


class FakeEngine:
    """Answers as the engine would: inputs valid, the accepted code fast, the rest by name."""

    def __init__(self) -> None:
        self.requests: list[dict[str, Any]] = []

    async def send(self, request: dict[str, Any]) -> dict[str, Any]:
        self.requests.append(request)
        if "tests" not in request:  # an input validator's run
            numbers = _text(request.get("stdin", "")).split()
            valid = len(numbers) <= 2 and all(abs(int(n)) <= 10**7 for n in numbers)
            return {"status": "runtime_error", "exit_code": 42 if valid else 43}
        code = _text(request["code"])
        status = "accepted"
        if "while" in code:
            status = "timeout"
        elif "SystemExit" in code:
            status = "runtime_error"
        elif "a - b" in code or "Y es" in code:
            status = "wrong_answer"
        tests = [
            {"id": t["id"], "status": status, "passed": status == "accepted", "cpu_time_ms": 210.0}
            for t in request["tests"]
        ]
        return {"id": "x", "language": "python", "success": False, "status": status, "tests": tests}


def _text(data: str) -> str:
    return base64.b64decode(data).decode()


def test_verify_computes_the_limit_and_checks_each_folder():
    package = read_package(PACKAGES / "case_insensitive")  # legacy: multiplier 5, margin 2
    engine = FakeEngine()
    report = asyncio.run(verify(engine, package, 10_000))  # type: ignore[arg-type]
    # 210 ms * 5 = 1.05 s, rounded up to whole seconds.
    assert report.time_limit_s == 2.0
    assert report.inputs.checked == 3
    assert report.ok, report
    accepted = [r for r in engine.requests if "tests" in r][:2]
    assert {r["cpu_time_limit_ms"] for r in accepted} == {5000}  # the probe: half the wall max


def test_time_limit_exceeded_submissions_run_with_the_margin():
    package = read_package(PACKAGES / "passfail")  # 2025-09: time_limit 1, to_tle 1.5
    engine = FakeEngine()
    report = asyncio.run(verify(engine, package, 10_000))  # type: ignore[arg-type]
    limits = {
        _text(r["code"]).splitlines()[-1]: r["cpu_time_limit_ms"]
        for r in engine.requests
        if "tests" in r
    }
    assert limits["    pass"] == 1500
    assert limits["print(a + b)"] == 1000
    assert report.ok, report
