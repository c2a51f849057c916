"""What problem packages rely on, through the real daemon: Kattis and testlib
conventions for checkers and interactors, partial scores, nested groups,
compare icpc, and stderr that is cut, not judged."""

from __future__ import annotations

import base64

from engine_client import build_request
from service.testing.client import send

PROBLEMS = "problems.execute.request"


def b64(data: str) -> str:
    return base64.b64encode(data.encode()).decode()


def case(stdin: str, answer: str | None = None, **fields: object) -> dict:
    test: dict[str, object] = {"stdin": b64(stdin), **fields}
    if answer is not None:
        test["expected_output"] = b64(answer)
    return test


def tool(code: str, **fields: object) -> dict:
    return {"language": "python", "code": b64(code), **fields}


def problem(daemon, code: str, tests: list[dict], **fields) -> dict:
    request = build_request("python", code, tests=tests, **fields)
    return send(daemon.nats_url, request, subject=PROBLEMS, timeout=300)


# A Kattis validator: the output on stdin, the answer's number, and a score of
# half the points when the output is one off.
KATTIS_CHECKER = """
import sys
_input, answer, feedback = sys.argv[1], sys.argv[2], sys.argv[3]
want = int(open(answer).read())
got = int(sys.stdin.read().split()[0])
open(feedback + "judgemessage.txt", "w").write(f"got {got}, want {want}\\n")
if got == want:
    sys.exit(42)
if abs(got - want) == 1:
    open(feedback + "teammessage.txt", "w").write("close\\n")
    open(feedback + "score_multiplier.txt", "w").write("0.5")
    sys.exit(42)
assert sys.argv[4:] == ["strict"], sys.argv
sys.exit(43)
"""


def test_a_kattis_checker_judges_messages_and_scores(daemon):
    reply = problem(
        daemon,
        "n = int(input()); print(n * 2 + (n == 3))",
        [case("1", "2", points=10), case("3", "6", points=10), case("5", "8", points=10)],
        checker=tool(KATTIS_CHECKER, convention="kattis", args=["strict"]),
    )
    assert [t["status"] for t in reply["tests"]] == ["accepted", "accepted", "wrong_answer"]
    assert [t["score"] for t in reply["tests"]] == [10.0, 5.0, 0.0]
    assert reply["tests"][1]["team_message"] == "close\n"
    assert reply["tests"][2]["checker_output"].startswith("got 10, want 8\n")
    assert (reply["score"], reply["max_score"]) == (15.0, 30.0)


def test_a_kattis_checker_exiting_0_is_a_checker_error(daemon):
    reply = problem(daemon, "print(1)", [case("", "1")], checker=tool("pass", convention="kattis"))
    assert reply["status"] == "checker_error"
    assert "not 42 or 43" in reply["tests"][0]["error"]


TESTLIB_POINTS = """
import sys
got = open(sys.argv[2]).read().split()
if got == ["full"]:
    sys.exit(0)
if got == ["half"]:
    print("points 2.5 half of it", file=sys.stderr)
    sys.exit(7)
sys.exit(1)
"""


def test_a_testlib_checker_gives_points(daemon):
    reply = problem(
        daemon,
        "print(input())",
        [case("full", points=5), case("half", points=5), case("none", points=5)],
        checker=tool(TESTLIB_POINTS),
    )
    assert [t["status"] for t in reply["tests"]] == ["accepted", "accepted", "wrong_answer"]
    assert [t["score"] for t in reply["tests"]] == [5.0, 2.5, 0.0]
    assert reply["score"] == 7.5


# A Kattis interactor for guess-the-number: the secret in the input; rejects a
# wrong or missing guess at once (exit 43), accepts a right one (42).
KATTIS_GUESS = """
import sys
secret = int(open(sys.argv[1]).read())
for _ in range(3):
    line = sys.stdin.readline()
    if not line:
        open(sys.argv[3] + "judgemessage.txt", "w").write("no guess\\n")
        sys.exit(43)
    guess = int(line)
    if guess == secret:
        print("=", flush=True)
        sys.exit(42)
    print("<" if guess < secret else ">", flush=True)
open(sys.argv[3] + "judgemessage.txt", "w").write("too many guesses\\n")
sys.exit(43)
"""
GUESSER = """
lo, hi = 1, 8
while True:
    mid = (lo + hi) // 2
    print(mid, flush=True)
    answer = input()
    if answer == "=":
        break
    lo, hi = (mid + 1, hi) if answer == "<" else (lo, mid - 1)
"""


def test_a_kattis_interactor_accepts_rejects_and_judges_early_exit(daemon):
    interactor = tool(KATTIS_GUESS, convention="kattis")
    right = problem(daemon, GUESSER, [case("4", ""), case("6", "")], interactor=interactor)
    assert right["status"] == "accepted", right
    # Exits at once, without a guess: the validator's "no guess", not a checker error.
    early = problem(daemon, "print(1)", [case("4", "")], interactor=interactor)
    assert early["status"] == "wrong_answer", early
    assert early["tests"][0]["checker_output"].startswith("too many guesses") or early["tests"][0][
        "checker_output"
    ].startswith("no guess")


def test_a_kattis_interactor_that_rejected_first_decides_whatever_the_solution_does(daemon):
    # Guesses 1 four times, then spins: the validator rejects after three.
    spinner = "for _ in range(4):\n    print(1, flush=True)\nwhile True:\n    pass\n"
    reply = problem(
        daemon,
        spinner,
        [case("8", "")],
        interactor=tool(KATTIS_GUESS, convention="kattis"),
        timeout_ms=2000,
    )
    assert reply["status"] == "wrong_answer", reply
    assert reply["tests"][0]["checker_output"].startswith("too many guesses")
    # The same under testlib keeps its documented order: the solution's timeout first.
    testlib_guess = (
        KATTIS_GUESS.replace("sys.exit(43)", "sys.exit(1)")
        .replace("sys.exit(42)", "sys.exit(0)")
        .replace('sys.argv[3] + "judgemessage.txt"', "sys.argv[2]")
    )
    reply = problem(
        daemon, spinner, [case("8", "")], interactor=tool(testlib_guess), timeout_ms=2000
    )
    assert reply["status"] == "timeout", reply


def test_a_testlib_interactor_survives_a_solution_that_exits_early(daemon):
    testlib_guess = (
        KATTIS_GUESS.replace("sys.exit(43)", "sys.exit(1)")
        .replace("sys.exit(42)", "sys.exit(0)")
        .replace('sys.argv[3] + "judgemessage.txt"', "sys.argv[2]")
    )
    # Prints twenty guesses without reading an answer, then exits.
    reply = problem(
        daemon,
        "for _ in range(20):\n    print(1)\n",
        [case("8", "")],
        interactor=tool(testlib_guess),
    )
    assert reply["status"] == "wrong_answer", reply


def test_nested_groups_min_and_continue(daemon):
    # Doubles, but gets 7 wrong.
    code = "n = int(input()); print(n * 2 + (n == 7))"
    tests = [
        case("1", "2", group="g1", points=20),
        case("7", "14", group="g1", points=20),
        case("2", "4", group="g2", points=10),
        case("7", "14", group="g2", points=10),
        case("3", "6", group="g2", points=10),
        case("4", "8", group="g3", points=30),
    ]
    groups = [
        {"id": "secret", "on_reject": "continue"},
        {"id": "g1", "parent": "secret", "aggregation": "min"},
        {"id": "g2", "parent": "secret", "on_reject": "continue"},
        {"id": "g3", "parent": "secret", "aggregation": "pass-fail"},
    ]
    reply = problem(daemon, code, tests, groups=groups)
    assert [t["status"] for t in reply["tests"]] == [
        "accepted",
        "wrong_answer",
        "accepted",
        "wrong_answer",
        "accepted",
        "accepted",
    ]
    by_id = {g["id"]: (g["score"], g["max_score"], g["parent"]) for g in reply["groups"]}
    assert by_id == {
        "secret": (50.0, 80.0, None),
        "g1": (0.0, 20.0, "secret"),
        "g2": (20.0, 30.0, "secret"),
        "g3": (30.0, 30.0, "secret"),
    }
    assert reply["score"] == 50.0
    # Breaking, the outer group skips the rest of itself, nested groups included.
    groups[0] = {"id": "secret"}
    reply = problem(daemon, code, tests, groups=groups)
    assert [t["status"] for t in reply["tests"]][2:] == ["skipped"] * 4


def test_compare_icpc_and_a_chatty_stderr(daemon):
    code = "import sys\nsys.stderr.write('x' * 2_000_000)\nprint('Yes', 'NaN', 1.0000001, '-INF')\n"
    reply = problem(
        daemon,
        code,
        [case("", "yes nan 1 -inf\n")],
        compare="icpc",
        float_tolerance=1e-6,
    )
    test = reply["tests"][0]
    assert reply["status"] == "accepted", reply
    assert test["truncated"] is True
    assert "stderr was cut at" in test["error"]
    flood = problem(daemon, "print('y' * 2_000_000)", [case("", "y")], compare="icpc")
    assert flood["status"] == "output_limit"


# Three passes, each on the number after the last: state kept in the feedback directory.
MULTI_PASS = """
import os, sys
n = int(open(sys.argv[1]).read())
state = sys.argv[3] + "done"
done = int(open(state).read()) if os.path.exists(state) else 0
if sys.stdin.read().split() != [str(n + done + 1)]:
    open(sys.argv[3] + "judgemessage.txt", "a").write(f"pass {done + 1} wrong\\n")
    sys.exit(43)
open(state, "w").write(str(done + 1))
if done + 1 < 3 or n == 0:
    open(sys.argv[3] + "nextpass.in", "w").write(f"{n + done + 1}\\n")
sys.exit(42)
"""


def test_multi_pass_runs_the_solution_again_on_each_next_input(daemon):
    checker = tool(MULTI_PASS, convention="kattis", passes=3)
    right = problem(daemon, "print(int(input()) + 1)", [case("5", "")], checker=checker)
    assert right["status"] == "accepted", right
    # Right on odd inputs only: the second pass (on 6) finds it out.
    wrong = problem(
        daemon, "n = int(input())\nprint(n + 1 if n % 2 else n)", [case("5", "")], checker=checker
    )
    assert wrong["status"] == "wrong_answer", wrong
    assert wrong["tests"][0]["checker_output"].startswith("pass 2 wrong")
    # A validator that asks for a fourth pass of three: the problem's fault.
    greedy = problem(daemon, "print(int(input()) + 1)", [case("0", "")], checker=checker)
    assert greedy["status"] == "checker_error", greedy


GRADER = """#include <cstdio>
#include "solve.h"
int main() { long long x; std::scanf("%lld", &x); std::printf("%lld\\n", solve(x)); }
"""
# The submission implements solve(); it also looks for the grader's source beside it.
SOLVE = """#include <cstdio>
long long solve(long long x) {
    bool seen = std::fopen("grader.cpp", "r") || std::fopen("/work/build/grader.cpp", "r");
    return seen ? -1 : 2 * x;
}
"""


def test_a_grader_is_compiled_with_the_submission_and_not_readable_by_it(daemon):
    grader = [
        {"name": "grader.cpp", "content": b64(GRADER)},
        {"name": "solve.h", "content": b64("long long solve(long long x);\n")},
    ]
    request = build_request("cpp", SOLVE, tests=[case("21", "42")], grader=grader)
    reply = send(daemon.nats_url, request, subject=PROBLEMS, timeout=300)
    assert reply["status"] == "accepted", reply
