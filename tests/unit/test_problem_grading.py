"""Problems mode: comparison, verdicts, payload fitting."""

import base64
import dataclasses
import json

import pytest

from service.config import Settings
from service.errors import InvalidRequest
from service.jobs.fitting import fit
from service.jobs.grading import grade, normalize, summarize
from service.requests import Compare, limits_for, parse_request
from service.requests import TestCase as Case
from service.testing import step_result
from wire import Kind
from wire import Status as Verdict
from wire.replies import ProblemReply
from wire.replies import TestReport as Report

SETTINGS = Settings.from_env({})


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def payload(**fields) -> bytes:
    return json.dumps({"language": "py", "code": b64("print(1)"), **fields}).encode()


LIMITS = dataclasses.replace(limits_for(Kind.PROBLEMS, SETTINGS), max_tests=3, max_stdin_bytes=10)


def parse(**fields):
    return parse_request(payload(**fields), Kind.PROBLEMS, LIMITS).problem


def test_no_tests_means_no_problem():
    assert parse() is None


def test_tests_are_decoded_with_default_ids():
    problem = parse(tests=[{"stdin": b64("1"), "expected_output": b64("2")}, {"id": "x"}])
    assert [t.id for t in problem.tests] == ["1", "x"]
    assert problem.tests[0].stdin == b"1" and problem.tests[0].expected == b"2"
    assert problem.tests[1].expected is None
    assert problem.compare is Compare.TRIM
    assert problem.stop_on_first_failure is False


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"tests": []}, "1 to 3"),
        ({"tests": [{}] * 4}, "1 to 3"),
        ({"tests": [{"stdin": "@@"}]}, "tests[0].stdin is not valid base64"),
        ({"tests": [{"stdin": b64("x" * 11)}]}, "tests[0].stdin is 11 bytes"),
        (
            {"tests": [{}], "compare": "fuzzy"},
            "compare must be one of 'exact', 'trim', 'tokens', 'float', 'icpc', got 'fuzzy'",
        ),
        ({"tests": "no"}, "Expected 'array"),
    ],
)
def test_bad_problems(fields, message):
    with pytest.raises(
        InvalidRequest, match=message.replace("[", r"\[").replace("]", r"\]").replace("(", r"\(")
    ):
        parse(**fields)


def test_trim_ignores_trailing_whitespace_and_blank_lines():
    assert normalize(b"a  \nb\t\n\n\n", Compare.TRIM) == normalize(b"a\nb", Compare.TRIM)
    assert normalize(b"a\r\nb\r\n", Compare.TRIM) == b"a\nb"
    assert normalize(b" a", Compare.TRIM) != normalize(b"a", Compare.TRIM)
    assert normalize(b"a \n", Compare.EXACT) == b"a \n"


def request():
    return parse_request(payload(), Kind.PROBLEMS, limits_for(Kind.PROBLEMS, SETTINGS))


@pytest.mark.parametrize(
    ("step", "expected", "verdict"),
    [
        ({"stdout": b"2\n"}, b"2", Verdict.ACCEPTED),
        ({"stdout": b"3\n"}, b"2", Verdict.WRONG_ANSWER),
        ({"stdout": b"anything"}, None, Verdict.ACCEPTED),
        ({"exit_code": 1}, b"", Verdict.RUNTIME_ERROR),
        ({"timed_out": True, "exit_code": None, "signal": 9}, b"", Verdict.TIMEOUT),
        ({"oom_killed": True, "exit_code": None, "signal": 9}, b"", Verdict.MEMORY_LIMIT),
        ({"output_exceeded": True}, b"", Verdict.OUTPUT_LIMIT),
    ],
)
def test_grade(step, expected, verdict):
    report = grade(
        step_result(**step),
        Case("t", b"", expected),
        Compare.TRIM,
        request(),
    )
    assert report.status is verdict
    assert report.passed is (verdict is Verdict.ACCEPTED)


def test_first_failure_in_test_order_decides_the_status():
    reports = [
        Report(id="1", status=Verdict.ACCEPTED, passed=True),
        Report(id="2", status=Verdict.TIMEOUT, passed=False),
        Report(id="3", status=Verdict.WRONG_ANSWER, passed=False),
    ]
    reply = summarize(request(), reports, None, 3)
    assert reply.status is Verdict.TIMEOUT
    assert (reply.passed, reply.total, reply.success) == (1, 3, False)


def test_oversized_reply_is_cut_not_dropped():
    tests = [
        Report(id=str(i), status=Verdict.ACCEPTED, passed=True, output="x" * 50_000)
        for i in range(10)
    ]
    reply = ProblemReply(
        id="r",
        language="python",
        success=True,
        status=Verdict.ACCEPTED,
        passed=10,
        total=10,
        tests=tests,
    )
    encoded = fit(reply, 100_000)
    assert len(encoded) <= 100_000
    decoded = json.loads(encoded)
    assert len(decoded["tests"]) == 10
    assert any(t["truncated"] for t in decoded["tests"])
    assert all(t["id"] for t in decoded["tests"])
