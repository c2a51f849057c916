"""Solutions of an interactive problem that attack the interaction, through the real daemon.

Whatever a solution does with its pipes and its limits, its test ends with the
solution's verdict, soon: never a checker error, never an internal error. And
the smallest memory limit a request may ask for runs every language's hello
world, while a smaller one is refused (not accepted, then failed).
"""

from __future__ import annotations

import os

import pytest
from test_judge_problems import BINARY_SEARCH, GUESS_INTERACTOR, case, checker, problem

from service.languages import lookup
from service.testing.client import run_code

pytestmark = pytest.mark.hostile

RUNSC = os.environ.get("CODE_ENGINE_RUNTIME", "") == "runsc"
SECRETS = ("100", "777777777")

# Its stdin and stdout go in flight on a socketpair cycle, and it exits: the
# kernel's unix-socket collector frees the pipe ends the interactor waits on
# (runc); under gVisor the agent relays the job's output and ends it itself.
PARKS_ITS_PIPES = r"""
import os, socket
a, b = socket.socketpair()
socket.send_fds(a, [b"x"], [a.fileno(), b.fileno(), 0, 1])
socket.send_fds(b, [b"x"], [a.fileno(), b.fileno()])
os._exit(0)
"""

# Prints guesses without reading a single answer, and exits.
GUESSES_BLIND = r"""
#include <cstdio>
int main() { for (int g = 1; g <= 20; g++) std::printf("%d\n", g); }
"""

# Fills the container's process limit with sleepers, then asks once and exits.
FILLS_THE_PROCESS_LIMIT = r"""
import os, sys, time
children = 0
while True:
    try:
        pid = os.fork()
    except OSError:
        break
    if pid == 0:
        time.sleep(3600)
        os._exit(0)
    children += 1
print(1, flush=True)
sys.stdin.readline()
print(f"{children} sleepers", file=sys.stderr)
"""

# The interactor's helper process burns CPU time: the interactor's, not the solution's.
BUSY_HELPER_INTERACTOR = r"""
import subprocess, sys
subprocess.run([sys.executable, "-c",
                "import time\nend = time.process_time() + 0.6\n"
                "while time.process_time() < end: pass"], check=True)
""" + GUESS_INTERACTOR.replace("import sys\n", "", 1)


def _statuses(reply: dict) -> list[str]:
    return [test["status"] for test in reply["tests"]]


def test_a_solution_that_parks_its_pipes_in_flight_is_judged_wrong(daemon):
    reply = problem(
        daemon,
        "python",
        PARKS_ITS_PIPES,
        [case(secret) for secret in SECRETS],
        interactor=checker(GUESS_INTERACTOR),
        timeout_ms=5000,
    )
    assert _statuses(reply) == ["wrong_answer"] * 2, reply
    assert all(t["checker_output"].startswith("the solution stopped") for t in reply["tests"])


def test_a_solution_that_exits_early_is_judged_not_the_broken_pipe(daemon):
    reply = problem(
        daemon,
        "cpp",
        GUESSES_BLIND,
        [case(secret) for secret in SECRETS],
        interactor=checker(GUESS_INTERACTOR),
    )
    assert _statuses(reply) == ["wrong_answer"] * 2, reply


def test_a_solution_that_fills_the_process_limit_does_not_break_the_cleanup(daemon):
    reply = problem(
        daemon,
        "python",
        FILLS_THE_PROCESS_LIMIT,
        [case(secret) for secret in SECRETS],
        interactor=checker(GUESS_INTERACTOR),
        # The server's wall maximum: under gVisor (ptrace) forking 64 Pythons
        # took more than 5 s on a loaded host, and the test became the
        # solution's timeout before it ever asked.
        timeout_ms=10_000,
    )
    assert _statuses(reply) == ["wrong_answer"] * 2, reply
    for test in reply["tests"]:
        assert test["checker_output"].startswith("the solution stopped"), test


def test_cpu_time_of_an_interactors_helper_is_not_the_solutions(daemon):
    reply = problem(
        daemon,
        "python",
        BINARY_SEARCH,
        [case(secret) for secret in SECRETS],
        interactor=checker(BUSY_HELPER_INTERACTOR),
        cpu_time_limit_ms=400,
    )
    assert _statuses(reply) == ["accepted"] * 2, reply
    assert all(t["cpu_time_ms"] < 400 for t in reply["tests"]), reply


HELLO = {
    "python": "print('hi')",
    "javascript": "console.log('hi')",
    "go": 'package main\nimport "fmt"\nfunc main() { fmt.Println("hi") }\n',
    "cpp": '#include <cstdio>\nint main() { std::puts("hi"); }\n',
}


@pytest.mark.parametrize("language", sorted(HELLO))
def test_the_smallest_memory_limit_runs_every_language_and_less_is_refused(daemon, language):
    found = lookup(language)
    assert found is not None
    least = found.min_memory_mb_gvisor if RUNSC else found.min_memory_mb
    below = run_code(daemon.nats_url, language, HELLO[language], memory_mb=least - 1)
    assert below["status"] == "invalid_request", below
    assert f"memory_mb must be at least {least} for {language}" in below["error"], below
    for _ in range(3):
        reply = run_code(daemon.nats_url, language, HELLO[language], memory_mb=least)
        assert (reply["status"], reply["output"]) == ("ok", "hi\n"), reply
