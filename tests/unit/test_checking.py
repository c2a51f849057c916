"""Checkers: the request field, the agent messages, testlib's exit codes, the judge's flow."""

import base64
import json

import pytest
import trio
import trio.lowlevel

from agent.protocol import Check, Cleanup, Job, Result, Run, Step, Tool, decode_host_message
from agent.protocol import encode as encode_message
from service.config import Settings
from service.errors import InvalidRequest
from service.jobs.checking import CHECKER_OUTPUT_SHOWN, checker_text, checker_verdict
from service.requests import limits_for, parse_request
from service.sandbox.session import run_deadline_s
from service.testing import step_result
from wire import Kind, Status

SETTINGS = Settings.from_env({}, instance_id="unit", workers=1, concurrency=2)
LIMITS = limits_for(Kind.PROBLEMS, SETTINGS)


def b64(text: str | bytes) -> str:
    return base64.b64encode(text.encode() if isinstance(text, str) else text).decode()


def parse(checker: object, **fields: object):
    body = {
        "language": "cpp",
        "code": b64("int main() {}"),
        "tests": [{"stdin": b64("1"), "expected_output": b64("one")}, {"stdin": b64("2")}],
        "checker": checker,
        **fields,
    }
    return parse_request(json.dumps(body).encode(), Kind.PROBLEMS, LIMITS)


def test_a_checker_is_read_with_its_files():
    files = [{"name": "testlib.h", "content": b64("// lib")}]
    request = parse({"language": "cpp", "code": b64("int main() {}"), "files": files})
    checker = request.problem.checker
    assert checker.language.name == "cpp" and checker.code == b"int main() {}"
    assert [(f.name, f.content) for f in checker.files] == [("testlib.h", b"// lib")]


@pytest.mark.parametrize(
    ("checker", "fields", "reason"),
    [
        ({"language": "cobol", "code": b64("x")}, {}, "unknown checker.language 'cobol'"),
        ({"language": "py", "code": b64("  ")}, {}, "checker.code is empty"),
        ({"language": "py", "code": "@@"}, {}, "checker.code is not valid base64"),
        (
            {"language": "py", "code": b64("1"), "path": "/x"},
            {},
            "unknown field 'path' (at 'checker')",
        ),
        (
            {"language": "go", "code": b64("1"), "files": [{"name": "go.mod"}]},
            {},
            "checker.files[0]: 'go.mod': go.mod is refused",
        ),
        ({"language": "py", "code": b64("1")}, {"compare": "exact"}, "exclude each other"),
        ({"language": "py", "code": b64("1")}, {"compare": "float"}, "exclude each other"),
    ],
)
def test_bad_checkers_say_why(checker, fields, reason):
    with pytest.raises(InvalidRequest) as info:
        parse(checker, **fields)
    assert reason in str(info.value)


def test_the_checker_counts_toward_the_code_limit_with_the_submission():
    big = "#" * (LIMITS.max_code_bytes - 100)
    with pytest.raises(InvalidRequest, match="larger than the limit"):
        parse({"language": "py", "code": b64(big)}, code=b64("#" * 200))


def test_tool_and_check_messages_round_trip():
    job = Job("j", {"main.cpp": b"x"}, tool=Tool({"main.py": b"y"}, Step(["cc"])))
    assert decode_host_message(encode_message(job)) == job
    run = Run("r", [Step(["a"], stdin=b"in")], checks=[Check(Step(["chk"]), answer=b"42")])
    assert decode_host_message(encode_message(run)) == run
    result = Result("r", checks=[None, step_result(exit_code=1)], tool_compile=step_result())
    assert Result.from_wire(json.loads(encode_message(result))) == result


@pytest.mark.parametrize(
    ("fields", "status"),
    [
        ({"exit_code": 0}, Status.ACCEPTED),
        ({"exit_code": 1}, Status.WRONG_ANSWER),
        ({"exit_code": 2}, Status.WRONG_ANSWER),
        ({"exit_code": 4}, Status.WRONG_ANSWER),
        ({"exit_code": 8}, Status.WRONG_ANSWER),
        ({"exit_code": 3}, Status.CHECKER_ERROR),
        ({"exit_code": 5}, Status.CHECKER_ERROR),
        ({"exit_code": 7}, Status.CHECKER_ERROR),  # quitp without its points
        ({"exit_code": None, "signal": 11}, Status.CHECKER_ERROR),
        ({"exit_code": None, "signal": 9, "timed_out": True}, Status.CHECKER_ERROR),
        ({"exit_code": 0, "cpu_exceeded": True}, Status.CHECKER_ERROR),
        ({"exit_code": None, "signal": 9, "oom_killed": True}, Status.CHECKER_ERROR),
        ({"exit_code": 0, "output_exceeded": True}, Status.CHECKER_ERROR),
    ],
)
def test_testlib_exit_codes(fields, status):
    assert checker_verdict(step_result(**fields)).status is status
    assert checker_verdict(None).status is Status.CHECKER_ERROR


def test_checker_output_is_stderr_then_stdout_cut():
    step = step_result(stderr=b"wrong answer ", stdout=b"x" * 10_000)
    shown = checker_text(step)
    assert shown.startswith("wrong answer x") and len(shown) == CHECKER_OUTPUT_SHOWN


class Checking:
    """An agent that echoes stdin and has the checker accept only the answer 'good'."""

    def __init__(self, tool_fails: bool = False) -> None:
        self.tool_fails = tool_fails

    async def __call__(self, message: Job | Run) -> Result | None:
        if isinstance(message, Job):
            tool = step_result(exit_code=1 if self.tool_fails else 0, stderr=b"tool broke")
            return Result(id=message.id, compile=step_result(), tool_compile=tool)
        checks = message.checks or []
        verdicts = [step_result(exit_code=0 if c.answer == b"good" else 1) for c in checks]
        return Result(
            id=message.id,
            runs=[step_result(stdout=message.runs[0].stdin)],
            cleanup=Cleanup.CLEAN,
            checks=verdicts,
        )


async def test_the_judge_asks_the_checker_with_each_answer(nursery, autojump_clock):
    from test_judge import start

    agent, _fake, _pool, judge = await start(nursery, Checking())
    body = {
        "language": "cpp",
        "code": b64("int main() {}"),
        "tests": [{"stdin": b64("1"), "expected_output": b64("good")}, {"stdin": b64("2")}],
        "checker": {"language": "python", "code": b64("pass")},
    }
    request = parse_request(json.dumps(body).encode(), Kind.PROBLEMS, LIMITS)
    reply = await judge.judge(request, request.problem)
    assert [t.status for t in reply.tests] == [Status.ACCEPTED, Status.WRONG_ANSWER]
    job = next(m for m in agent.received if isinstance(m, Job))
    assert job.tool is not None and job.tool.compile is None  # Python: nothing to compile
    assert list(job.tool.files) == ["main.py"]
    runs = [m for m in agent.received if isinstance(m, Run)]
    assert [m.checks[0].answer for m in runs] == [b"good", b""]
    assert runs[0].checks[0].step.argv == ["python3", "-E", "-s", "-B", "/work/tool/main.py"]
    assert runs[0].checks[0].step.env["HOME"] == "/work/check"
    assert run_deadline_s(request, SETTINGS, checked=True) == pytest.approx(
        (request.limits.timeout_ms + SETTINGS.timeout_ms + SETTINGS.grace_ms) / 1000
    )
    await trio.lowlevel.checkpoint()


async def test_a_checker_that_does_not_build_fails_the_request_not_the_solution(
    nursery, autojump_clock
):
    from test_judge import start

    agent, _fake, _pool, judge = await start(nursery, Checking(tool_fails=True))
    request = parse({"language": "cpp", "code": b64("int main() {")})
    reply = await judge.judge(request, request.problem)
    assert reply.status is Status.CHECKER_ERROR and reply.tests == []
    assert reply.error == "the checker did not compile:\ntool broke"
    assert not any(isinstance(m, Run) for m in agent.received)


def test_an_interactive_check_round_trips():
    run = Run("r", [Step(["a"])], checks=[Check(Step(["i"]), interactive=True)])
    decoded = decode_host_message(encode_message(run))
    assert decoded == run and decoded.checks[0].interactive


def grade_interactive(solution: dict, interactor: dict):
    from service.jobs.checking import Checked
    from service.jobs.grading import grade
    from service.requests import TestCase as Case

    request = parse({"language": "py", "code": b64("1")})
    return grade(
        step_result(**solution),
        Case("t", b"", None),
        request.problem.compare,
        request,
        checker=Checked(step_result(**interactor), interactive=True),
    ).status


@pytest.mark.parametrize(
    ("solution", "interactor", "status"),
    [
        ({}, {}, Status.ACCEPTED),
        ({}, {"exit_code": 1}, Status.WRONG_ANSWER),
        ({}, {"exit_code": 3}, Status.CHECKER_ERROR),
        # The solution's own failures come first, whatever the interactor said.
        ({"timed_out": True, "exit_code": None, "signal": 9}, {"exit_code": 1}, Status.TIMEOUT),
        ({"exit_code": 1}, {"exit_code": 0}, Status.RUNTIME_ERROR),
        ({"oom_killed": True, "exit_code": None, "signal": 9}, {}, Status.MEMORY_LIMIT),
        # A broken pipe is the interactor's doing (it stopped reading): its verdict,
        # whichever of the two the agent saw end first.
        (
            {"exit_code": None, "signal": 13, "wall_ms": 5.0},
            {"exit_code": 1, "wall_ms": 4.0},
            Status.WRONG_ANSWER,
        ),
        ({"exit_code": None, "signal": 13, "wall_ms": 5.0}, {"wall_ms": 4.0}, Status.ACCEPTED),
        (
            {"exit_code": None, "signal": 13, "wall_ms": 3.0},
            {"exit_code": 1, "wall_ms": 4.0},
            Status.WRONG_ANSWER,
        ),
        # Any other signal stays the solution's own runtime error.
        ({"exit_code": None, "signal": 11, "wall_ms": 3.0}, {"wall_ms": 4.0}, Status.RUNTIME_ERROR),
    ],
)
def test_interactive_verdicts_in_their_order(solution, interactor, status):
    assert grade_interactive(solution, interactor) is status


def test_an_interactor_excludes_a_checker_and_compare():
    tool = {"language": "py", "code": b64("1")}
    with pytest.raises(InvalidRequest, match="checker and interactor exclude each other"):
        parse(tool, interactor=tool)
    with pytest.raises(InvalidRequest, match="interactor and compare 'exact' exclude each other"):
        parse(None, interactor=tool, compare="exact")
