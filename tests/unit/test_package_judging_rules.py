"""What problem packages rely on: the icpc default validator's options, checker
conventions and partial scores, group aggregation and nesting, stderr in problems mode."""

import base64
import json

import pytest

from agent.protocol import Check, Step, StepResult, decode_host_message
from agent.protocol import encode as encode_message
from service.config import Settings
from service.errors import InvalidRequest
from service.jobs.checking import Checked, checker_text, checker_verdict, team_message
from service.jobs.grading import grade
from service.jobs.scoring import score, skips
from service.requests import Compare, limits_for, parse_request
from service.requests import TestCase as Case
from service.requests.request import Aggregation, Convention, DefaultValidator, GroupRule
from service.sandbox.job_messages import run_message
from service.testing import step_result
from wire import Kind, Status
from wire.replies import TestReport as Report

SETTINGS = Settings.from_env({})
LIMITS = limits_for(Kind.PROBLEMS, SETTINGS)
A, W, S = Status.ACCEPTED, Status.WRONG_ANSWER, Status.SKIPPED
KATTIS = Convention.KATTIS


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def parse(**fields):
    body = {"language": "py", "code": b64("print(1)"), "tests": [{"stdin": ""}], **fields}
    return parse_request(json.dumps(body).encode(), Kind.PROBLEMS, LIMITS)


def refused(**fields) -> str:
    with pytest.raises(InvalidRequest) as info:
        parse(**fields)
    return str(info.value)


# --- compare icpc -------------------------------------------------------------


def test_icpc_options_are_read():
    problem = parse(compare="icpc", float_tolerance=1e-4, case_sensitive=True).problem
    assert problem.validator == DefaultValidator(True, False, 1e-4, 1e-4)
    problem = parse(compare="icpc", float_absolute_tolerance=0.5).problem
    assert problem.validator.absolute_tolerance == 0.5
    assert problem.validator.relative_tolerance is None
    assert parse(compare="icpc").problem.validator == DefaultValidator()


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"case_sensitive": True}, "case_sensitive applies only with compare 'icpc'"),
        ({"compare": "float", "space_change_sensitive": False}, "applies only with compare"),
        (
            {"compare": "icpc", "float_tolerance": 1e-6, "float_relative_tolerance": 1e-6},
            "float_tolerance sets both tolerances",
        ),
        ({"compare": "icpc", "float_absolute_tolerance": -1}, "must be a finite number"),
        ({"compare": "tokens", "float_tolerance": 0.1}, "only with compare 'float' or 'icpc'"),
    ],
)
def test_bad_icpc_options(fields, message):
    assert message in refused(**fields)


@pytest.mark.parametrize(
    ("output", "answer", "options", "accepted"),
    [
        (b"YES\n", b"yes", DefaultValidator(), True),
        (b"YES\n", b"yes", DefaultValidator(case_sensitive=True), False),
        (b"a  b\n", b"a b\n", DefaultValidator(), True),
        (b"a  b\n", b"a b\n", DefaultValidator(space_change_sensitive=True), False),
        (b"a b", b"a b\n", DefaultValidator(space_change_sensitive=True), False),
        (b"a b\n", b"a b\n", DefaultValidator(space_change_sensitive=True), True),
        (b"1.001", b"1", DefaultValidator(absolute_tolerance=0.01), True),
        (b"1.1", b"1", DefaultValidator(absolute_tolerance=0.01), False),
        (b"110", b"100", DefaultValidator(relative_tolerance=0.1), True),
        (b"1.5", b"1", DefaultValidator(absolute_tolerance=0.1, relative_tolerance=0.6), True),
        (b"NaN -Inf", b"nan -inf", DefaultValidator(absolute_tolerance=1e-9), True),
        (b"nan", b"inf", DefaultValidator(absolute_tolerance=1e-9), False),
        (b"inf", b"-inf", DefaultValidator(absolute_tolerance=1e-9), False),
        (b"inf", b"-inf", DefaultValidator(relative_tolerance=1e-9), False),
        (b"1e308", b"inf", DefaultValidator(relative_tolerance=0.5), False),
        (b"x", b"1", DefaultValidator(absolute_tolerance=1), False),
        (b"1_0", b"10", DefaultValidator(absolute_tolerance=1), False),
        (b"1", b"1.0", DefaultValidator(), False),  # no tolerance: strings
        (b"1 2", b"1", DefaultValidator(), False),
    ],
)
def test_the_default_validator(output, answer, options, accepted):
    request = parse(compare="icpc")
    report = grade(
        step_result(stdout=output), Case("t", b"", answer), Compare.ICPC, request, validator=options
    )
    assert report.passed is accepted


def test_float_compare_reads_nan_and_inf_in_any_case():
    request = parse(compare="float")
    for output, answer, accepted in [(b"NaN", b"nan", True), (b"INF", b"inf", True)]:
        report = grade(step_result(stdout=output), Case("t", b"", answer), Compare.FLOAT, request)
        assert report.passed is accepted


# --- conventions and scores -------------------------------------------------------


def kattis(exit_code: int, **feedback: bytes) -> StepResult:
    files = {name.replace("_txt", ".txt"): data for name, data in feedback.items()}
    return step_result(exit_code=exit_code, feedback=files, stderr=b"debug\n")


@pytest.mark.parametrize(
    ("step", "points", "status", "score"),
    [
        (kattis(42), 10, A, None),
        (kattis(43), 10, W, None),
        (kattis(0), 10, Status.CHECKER_ERROR, None),
        (kattis(1), 10, Status.CHECKER_ERROR, None),
        (kattis(42, score_txt=b"2.5\n"), 10, A, 2.5),
        (kattis(42, score_multiplier_txt=b"0.25"), 10, A, 2.5),
        (kattis(42, score_txt=b"11"), 10, Status.CHECKER_ERROR, None),
        (kattis(42, score_txt=b"x"), 10, Status.CHECKER_ERROR, None),
        (kattis(42, score_multiplier_txt=b"1.5"), 10, Status.CHECKER_ERROR, None),
        (kattis(42, score_txt=b"1", score_multiplier_txt=b"1"), 10, Status.CHECKER_ERROR, None),
        (kattis(43, score_txt=b"1"), 10, Status.CHECKER_ERROR, None),
    ],
)
def test_kattis_verdicts_and_scores(step, points, status, score):
    verdict = checker_verdict(step, KATTIS, points)
    assert (verdict.status, verdict.score) == (status, score)


@pytest.mark.parametrize(
    ("stderr", "status", "score"),
    [
        (b"points 3.5 half right\n", A, 3.5),
        (b"points 0\n", A, 0.0),
        (b"points 11\n", Status.CHECKER_ERROR, None),
        (b"partially\n", Status.CHECKER_ERROR, None),
    ],
)
def test_testlib_points(stderr, status, score):
    verdict = checker_verdict(step_result(exit_code=7, stderr=stderr), points=10)
    assert (verdict.status, verdict.score) == (status, score)


def test_a_kattis_report_has_the_messages_and_the_score():
    step = kattis(42, judgemessage_txt=b"judges\n", teammessage_txt=b"team\n", score_txt=b"4")
    assert checker_text(step) == "judges\ndebug\n"
    assert team_message(step) == "team\n"
    request = parse(checker={"language": "py", "code": b64("x"), "convention": "kattis"})
    report = grade(
        step_result(stdout=b"out"),
        Case("t", b"", b"", points=5),
        Compare.TRIM,
        request,
        checker=Checked(step, convention=KATTIS),
    )
    assert (report.status, report.score, report.team_message) == (A, 4.0, "team\n")


def test_a_kattis_interactor_that_rejected_first_decides():
    request = parse(interactor={"language": "py", "code": b64("x"), "convention": "kattis"})
    spun = step_result(exit_code=None, signal=9, timed_out=True, wall_ms=2000)
    rejected = step_result(exit_code=43, wall_ms=15)
    for convention, status in ((KATTIS, W), (Convention.TESTLIB, Status.TIMEOUT)):
        checked = Checked(rejected, interactive=True, convention=convention)
        report = grade(spun, Case("t", b"", b""), Compare.TRIM, request, checker=checked)
        assert report.status is status
    # The solution ended first (it crashed): its own verdict.
    crashed = step_result(exit_code=1, wall_ms=10)
    checked = Checked(rejected, interactive=True, convention=KATTIS)
    report = grade(crashed, Case("t", b"", b""), Compare.TRIM, request, checker=checked)
    assert report.status is Status.RUNTIME_ERROR


def test_conventions_are_read_and_reach_the_agent():
    tool = {"language": "py", "code": b64("x"), "convention": "kattis", "args": ["float_tolerance"]}
    request = parse(checker=tool)
    assert request.problem.convention is KATTIS
    check = run_message(request, SETTINGS, b"", finish=False, answer=b"42").checks[0]
    assert (check.convention, check.args, check.answer) == ("kattis", ["float_tolerance"], b"42")
    assert decode_host_message(
        encode_message(run_message(request, SETTINGS, b"", finish=False, answer=b"42"))
    ).checks == [check]
    interactive = parse(interactor=tool)
    check = run_message(interactive, SETTINGS, b"", finish=False, answer=b"7").checks[0]
    assert (check.interactive, check.convention, check.answer) == (True, "kattis", b"7")


@pytest.mark.parametrize(
    ("tool", "message"),
    [
        ({"convention": "polygon"}, "checker.convention must be one of 'testlib', 'kattis'"),
        ({"args": ["x"]}, "checker.args apply only with convention 'kattis'"),
        ({"convention": "kattis", "args": ["a\x00"]}, "checker.args[0] must be at most"),
    ],
)
def test_bad_conventions(tool, message):
    assert message in refused(checker={"language": "py", "code": b64("x"), **tool})


def test_the_agent_refuses_an_unknown_convention():
    wire = Check(Step(["x"]), convention="kattis").to_wire()
    wire["convention"] = "other"
    with pytest.raises(Exception, match="unknown convention"):
        Check.from_wire(wire)


# --- stderr in problems mode ------------------------------------------------------


def test_problem_runs_cut_stderr_and_say_so():
    request = parse()
    assert run_message(request, SETTINGS, b"", finish=False).runs[0].stderr_soft
    step = step_result(stdout=b"1\n", stderr=b"x" * 10, stderr_truncated=True)
    report = grade(step, Case("t", b"", b"1"), Compare.TRIM, request)
    assert report.status is A and report.truncated
    assert f"stderr was cut at {request.limits.output_limit} bytes" in report.error


# --- groups -----------------------------------------------------------------------


def test_groups_are_read_nested_and_checked():
    tests = [{"group": "a1"}, {"group": "b"}, {"group": "loose"}]
    groups = [
        {"id": "a"},
        {"id": "a1", "parent": "a", "aggregation": "min", "on_reject": "continue"},
        {"id": "b", "aggregation": "pass-fail"},
    ]
    rules = parse(tests=tests, groups=groups).problem.groups
    assert rules == (
        GroupRule("a", None, Aggregation.SUM, True),
        GroupRule("a1", "a", Aggregation.MIN, False),
        GroupRule("b", None, Aggregation.PASS_FAIL, True),
        GroupRule("loose"),
    )


@pytest.mark.parametrize(
    ("groups", "message"),
    [
        ([{"id": "g"}, {"id": "g"}], "groups[1]: group 'g' is declared twice"),
        ([{"id": "g", "parent": "p"}, {"id": "p"}], "must be a group declared before it"),
        ([{"id": "g", "aggregation": "max"}], "groups[0].aggregation must be one of"),
        ([{"id": "g", "on_reject": "stop"}], "on_reject must be 'break' or 'continue'"),
        ([{"id": "g"}, {"id": "empty"}], "group 'empty' holds no test"),
        ([{"id": ""}], "groups[0].id must be 1 to 128 characters"),
    ],
)
def test_bad_groups(groups, message):
    assert message in refused(tests=[{"group": "g"}], groups=groups)


def reports(tests, *verdicts):
    return [
        Report(id=t.id, status=v, passed=v is A, score=(s if v is A else 0.0))
        for t, (v, s) in zip(tests, verdicts, strict=False)
    ]


def test_nested_groups_sum_min_and_pass_fail():
    rules = (
        GroupRule("secret", None, Aggregation.SUM),
        GroupRule("g1", "secret", Aggregation.MIN),
        GroupRule("g2", "secret", Aggregation.SUM),
        GroupRule("g3", "secret", Aggregation.PASS_FAIL),
    )
    tests = [
        Case("1", b"", None, 30, "g1"),
        Case("2", b"", None, 30, "g1"),
        Case("3", b"", None, 20, "g2"),
        Case("4", b"", None, 20, "g2"),
        Case("5", b"", None, 10, "g3"),
        Case("6", b"", None, 10, "g3"),
    ]
    got = score(tests, reports(tests, (A, 30), (A, 12), (A, 20), (W, 0), (A, 10), (W, 0)), S, rules)
    by_id = {g.id: (g.score, g.max_score, g.status, g.parent) for g in got.groups}
    assert by_id == {
        "secret": (32.0, 90.0, W, None),
        "g1": (12.0, 30.0, A, "secret"),
        "g2": (20.0, 40.0, W, "secret"),
        "g3": (0.0, 20.0, W, "secret"),
    }
    assert [g.id for g in got.groups] == ["secret", "g1", "g2", "g3"]
    assert (got.score, got.max_score) == (32.0, 90.0)


def test_on_reject_break_skips_the_rest_of_the_group_and_its_parents_rule_too():
    rules = (
        GroupRule("outer", None, Aggregation.SUM, True),
        GroupRule("cont", "outer", Aggregation.SUM, False),
        GroupRule("free", None, Aggregation.SUM, False),
    )
    tests = [Case(str(i), b"", None, 1, g) for i, g in enumerate(["cont", "cont", "free", "free"])]
    # "cont" continues, but "outer" (its parent) breaks.
    assert skips(tests[1], tests, reports(tests, (W, 0)), rules)
    # "free" continues: its second test runs after its first failed.
    assert not skips(tests[3], tests, reports(tests, (A, 1), (A, 1), (W, 0)), rules)


# --- multi-pass -------------------------------------------------------------------


def test_passes_are_read_and_reach_the_agent():
    tool = {"language": "py", "code": b64("x"), "convention": "kattis", "passes": 3}
    request = parse(checker=tool)
    assert request.problem.passes == 3
    check = run_message(request, SETTINGS, b"", finish=False, answer=b"").checks[0]
    assert check.passes == 3
    assert Check.from_wire(check.to_wire()).passes == 3


@pytest.mark.parametrize(
    ("tool", "message"),
    [
        ({"passes": 2}, "passes applies only to a checker with convention 'kattis'"),
        ({"convention": "kattis", "passes": 1}, "checker.passes must be 2 to 10"),
        ({"convention": "kattis", "passes": 11}, "checker.passes must be 2 to 10"),
    ],
)
def test_bad_passes(tool, message):
    assert message in refused(checker={"language": "py", "code": b64("x"), **tool})


def test_a_pass_beyond_the_last_is_a_checker_error():
    files = {"nextpass.in": b"5\n"}
    step = step_result(exit_code=42, feedback=files)
    assert checker_verdict(step, KATTIS, 1, passes=3).status is Status.CHECKER_ERROR
    assert checker_verdict(step, KATTIS, 1, passes=1).status is A  # not multi-pass: ignored
    rejected = step_result(exit_code=43, feedback=files)
    verdict = checker_verdict(rejected, KATTIS, 1, passes=3)
    assert "without accepting" in verdict.reason


# --- graders ----------------------------------------------------------------------


def grader_request(language: str = "cpp", **fields):
    body = {
        "language": language,
        "code": b64("int solve(int x) { return 2 * x; }"),
        "tests": [{"stdin": b64("1"), "expected_output": b64("2")}],
        **fields,
    }
    return parse_request(json.dumps(body).encode(), Kind.PROBLEMS, LIMITS)


def test_a_grader_is_built_with_the_submission_and_hidden_after():
    from service.sandbox.job_messages import prepare_job

    grader = [
        {"name": "grader.cpp", "content": b64("int main() {}")},
        {"name": "solve.h", "content": b64("int solve(int);")},
    ]
    request = grader_request(grader=grader)
    assert request.problem.hidden == ("grader.cpp", "solve.h")
    job = prepare_job(request, SETTINGS)
    assert {"main.cpp", "grader.cpp", "solve.h"} <= set(job.files)
    assert "grader.cpp" in " ".join(job.compile.argv)
    assert job.hidden == ["grader.cpp", "solve.h"]
    wire = job.to_wire()
    assert wire["hidden"] == ["grader.cpp", "solve.h"]


@pytest.mark.parametrize(
    ("language", "grader", "extra", "message"),
    [
        ("python", [{"name": "grader.py"}], {}, "grader applies only to a compiled language"),
        ("cpp", [{"name": "lib/grader.cpp"}], {}, "a grader file is top-level"),
        ("cpp", [{"name": "main.cpp"}], {}, "clashes with the main file main.cpp"),
        (
            "cpp",
            [{"name": "util.h"}],
            {"files": [{"name": "util.h", "content": ""}]},
            "is also a file of the submission",
        ),
    ],
)
def test_bad_graders(language, grader, extra, message):
    with pytest.raises(InvalidRequest) as info:
        grader_request(language, grader=grader, **extra)
    assert message in str(info.value)


def test_the_agent_refuses_a_hidden_path():
    from agent.protocol import Job

    wire = Job("j", {}, hidden=["ok"]).to_wire()
    wire["hidden"] = ["../etc"]
    with pytest.raises(Exception, match="hidden must be a list of top-level file names"):
        Job.from_wire(wire)
