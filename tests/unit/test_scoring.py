"""Scores: points, groups scored all or nothing, the rest of a failed group skipped."""

import base64
import json

import msgspec
import pytest
import trio
import trio.lowlevel

from agent.protocol import Run
from service.config import Settings
from service.errors import InvalidRequest
from service.jobs.grading import summarize
from service.jobs.scoring import score as score_reports
from service.jobs.scoring import skips
from service.requests import TestCase as Case
from service.requests import limits_for, parse_request
from wire import Kind, Status
from wire.replies import ProblemReply
from wire.replies import TestReport as Report

SETTINGS = Settings.from_env({})
A, W, S = Status.ACCEPTED, Status.WRONG_ANSWER, Status.SKIPPED


def report(status: Status, points: float = 0.0) -> Report:
    return Report(id="t", status=status, passed=status is A, score=points)


def score(tests, reports, *args, **fields):
    """score() of reports graded as grade() does: an accepted test scores its points."""
    graded = [
        msgspec.structs.replace(r, score=t.points if r.passed else 0.0)
        for t, r in zip(tests, reports, strict=False)
    ]
    return score_reports(tests, graded, *args, **fields)


def cases(*spec: tuple[float, str | None]) -> list[Case]:
    return [Case(str(i), b"", None, points, group) for i, (points, group) in enumerate(spec)]


def test_tests_without_groups_score_their_points_when_accepted():
    scores = score(cases((1, None), (2.5, None), (3, None)), [report(A), report(A), report(W)])
    assert (scores.score, scores.max_score, scores.groups) == (3.5, 6.5, None)


def test_a_group_scores_only_when_every_test_in_it_is_accepted():
    tests = cases((1, "easy"), (1, "easy"), (5, "hard"), (5, "hard"), (0.5, None))
    full = score(tests, [report(A)] * 5)
    assert (full.score, full.max_score) == (12.5, 12.5)
    partial = score(tests, [report(A), report(A), report(A), report(W), report(A)])
    assert (partial.score, partial.max_score) == (2.5, 12.5)
    assert [(g.id, g.score, g.max_score, g.status) for g in partial.groups] == [
        ("easy", 2.0, 2.0, A),
        ("hard", 0.0, 10.0, W),
    ]
    zero = score(tests, [report(W), report(S), report(Status.TIMEOUT), report(S), report(W)])
    assert zero.score == 0.0
    assert [g.status for g in zero.groups] == [W, Status.TIMEOUT]


def test_groups_are_listed_in_first_appearance_order_and_may_interleave():
    tests = cases((1, "b"), (1, "a"), (1, "b"))
    scores = score(tests, [report(A), report(W), report(A)])
    assert [(g.id, g.score) for g in scores.groups] == [("b", 2.0), ("a", 0.0)]
    assert not skips(tests[2], tests, [report(A), report(W)])
    assert skips(cases((1, "a"))[0], tests, [report(A), report(W)])


def test_decimal_points_add_up_without_float_noise():
    assert score(cases((0.1, None), (0.2, None)), [report(A), report(A)]).score == 0.3


def test_a_compile_error_scores_zero_with_every_group_named():
    tests = cases((1, "g"), (1, None))
    scores = score(tests, [], Status.COMPILE_ERROR)
    assert (scores.score, scores.max_score) == (0.0, 2.0)
    assert scores.groups[0].status is Status.COMPILE_ERROR


def parse(*tests: dict):
    body = {"language": "cpp", "code": base64.b64encode(b"1").decode(), "tests": list(tests)}
    limits = limits_for(Kind.PROBLEMS, SETTINGS)
    return parse_request(json.dumps(body).encode(), Kind.PROBLEMS, limits)


def test_points_and_groups_are_read_with_defaults():
    problem = parse({"points": 2, "group": "g"}, {"points": 0.25}, {}).problem
    assert [(t.points, t.group) for t in problem.tests] == [(2.0, "g"), (0.25, None), (1.0, None)]


@pytest.mark.parametrize(
    ("test", "reason"),
    [
        ({"points": -1}, "tests[0].points must be a number from 0 to"),
        ({"points": "1"}, "Expected 'float | null', got 'str'"),
        ({"group": ""}, "tests[0].group must be 1 to 128 characters"),
        ({"group": 3}, "(at 'tests[0].group')"),
    ],
)
def test_bad_points_and_groups(test, reason):
    with pytest.raises(InvalidRequest) as info:
        parse(test)
    assert reason in str(info.value)


def test_the_reply_always_has_a_score_and_lists_groups_only_when_there_are_some():
    plain = parse({}, {})
    reply = summarize(plain, [report(A, 1.0), report(W)], None, 2)
    encoded = json.loads(msgspec.json.encode(reply))
    assert (encoded["score"], encoded["max_score"]) == (1.0, 2.0)
    assert "groups" not in encoded
    assert reply.status is W and reply.success is False
    grouped = parse({"group": "g"}, {"group": "g"})
    reply = summarize(grouped, [report(A), report(A)], None, 2)
    encoded = json.loads(msgspec.json.encode(reply))
    assert encoded["groups"] == [
        {
            "id": "g",
            "score": 2.0,
            "max_score": 2.0,
            "status": "accepted",
            "parent": None,
            "aggregation": "pass-fail",
        }
    ]
    assert msgspec.json.decode(msgspec.json.encode(reply), type=ProblemReply).groups


async def test_the_rest_of_a_failed_group_is_skipped_and_other_groups_run(nursery, autojump_clock):
    from test_judge import Scripted, start

    agent, _fake, _pool, judge = await start(nursery, Scripted())

    def b64(text: str) -> str:
        return base64.b64encode(text.encode()).decode()

    spec = [("1", "x", "a"), ("2", "2", "b"), ("3", "3", "a"), ("4", "4", "b")]
    request = parse(*({"stdin": b64(i), "expected_output": b64(o), "group": g} for i, o, g in spec))
    reply = await judge.judge(request, request.problem)
    assert [t.status for t in reply.tests] == [W, A, S, A]
    ran = [m.runs[0].stdin for m in agent.received if isinstance(m, Run)]
    assert ran == [b"1", b"2", b"4"]
    assert (reply.score, reply.max_score, reply.status) == (2.0, 4.0, W)
    await trio.lowlevel.checkpoint()
