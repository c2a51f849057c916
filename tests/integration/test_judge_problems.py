"""The judge end to end: request fields, multi-file programs, CPU time, comparisons,
scoring, checkers and interactors, through the real daemon and a real nats-server."""

from __future__ import annotations

import asyncio
import base64
import json
import threading
import time

import nats
import pytest
from test_problems import _kill_container_running

from engine_client import build_request
from service.testing.client import run_code, send

PROBLEMS = "problems.execute.request"
COMPILER = "compiler.execute.request"


def b64(data: str | bytes) -> str:
    return base64.b64encode(data.encode() if isinstance(data, str) else data).decode()


def case(stdin: str, expected: str | None = None, **fields: object) -> dict:
    test: dict[str, object] = {"stdin": b64(stdin), **fields}
    if expected is not None:
        test["expected_output"] = b64(expected)
    return test


def problem(daemon, language: str, code: str, tests: list[dict], **fields) -> dict:
    return send(
        daemon.nats_url,
        build_request(language, code, tests=tests, **fields),
        subject=PROBLEMS,
        timeout=300,
    )


@pytest.mark.parametrize("subject", [COMPILER, PROBLEMS])
def test_unknown_fields_are_refused_by_name(daemon, subject):
    reply = run_code(daemon.nats_url, "python", "print(1)", subject=subject, chekcer={})
    assert reply["status"] == "invalid_request"
    assert reply["error"] == "invalid request: unknown field 'chekcer'"


def test_problem_fields_on_the_compiler_subject_are_refused(daemon):
    reply = run_code(daemon.nats_url, "python", "print(1)", tests=[case("", "1")])
    assert reply["status"] == "invalid_request"
    assert "unknown field 'tests'" in reply["error"]


def test_info_advertises_the_protocol_version(daemon):
    async def info() -> dict:
        nc = await nats.connect(daemon.nats_url)
        try:
            msg = await nc.request(f"$SRV.INFO.code-engine.{daemon.instance_id}", b"", timeout=10)
        finally:
            await nc.close()
        return json.loads(msg.data)

    assert asyncio.run(info())["metadata"]["protocol"] == "2"


def source(name: str, content: str) -> dict:
    return {"name": name, "content": b64(content)}


MULTI_FILE = {
    "python": (
        "from pkg.calc import add\nimport util\n"
        "print(util.twice(add(*map(int, input().split()))))\n",
        [
            source("util.py", "def twice(x):\n    return 2 * x\n"),
            source("pkg/__init__.py", ""),
            source("pkg/calc.py", "def add(a, b):\n    return a + b\n"),
        ],
    ),
    "javascript": (
        "const util = require('./util');\nconst { add } = require('./lib/calc');\n"
        "const [a, b] = require('fs').readFileSync(0, 'utf8').trim().split(' ').map(Number);\n"
        "console.log(util.twice(add(a, b)));\n",
        [
            source("util.js", "exports.twice = (x) => 2 * x;\n"),
            source("lib/calc.js", "exports.add = (a, b) => a + b;\n"),
        ],
    ),
    "go": (
        'package main\nimport "fmt"\nfunc main() { var a, b int; fmt.Scan(&a, &b); '
        "fmt.Println(twice(add(a, b))) }\n",
        [
            source("util.go", "package main\nfunc twice(x int) int { return 2 * x }\n"),
            source("calc.go", "package main\nfunc add(a, b int) int { return a + b }\n"),
            # Not part of the build: it would not even compile.
            source("util_test.go", "package main\nthis is not go\n"),
            source("README.txt", "not a source"),
        ],
    ),
    "cpp": (
        '#include <iostream>\n#include "util.h"\n#include "lib/calc.h"\n'
        "int main() { long a, b; std::cin >> a >> b; std::cout << twice(add(a, b)) << '\\n'; }\n",
        [
            source("util.h", "long twice(long x);\n"),
            source("util.cpp", '#include "util.h"\nlong twice(long x) { return 2 * x; }\n'),
            source("lib/calc.h", "long add(long a, long b);\n"),
            source(
                "lib/calc.cc", '#include "lib/calc.h"\nlong add(long a, long b) { return a + b; }\n'
            ),
        ],
    ),
}


@pytest.mark.smoke
@pytest.mark.parametrize("language", sorted(MULTI_FILE))
def test_multi_file_programs_on_both_subjects(daemon, language):
    code, files = MULTI_FILE[language]
    reply = run_code(daemon.nats_url, language, code, stdin="2 3", files=files)
    assert reply["status"] == "ok", reply
    assert reply["output"] == "10\n"
    judged = problem(daemon, language, code, [case("2 3", "10"), case("1 1", "4")], files=files)
    assert judged["status"] == "accepted", judged


def test_a_go_mod_is_refused(daemon):
    code, files = MULTI_FILE["go"]
    reply = run_code(daemon.nats_url, "go", code, files=[*files, source("go.mod", "module x\n")])
    assert reply["status"] == "invalid_request"
    assert "files[4]: 'go.mod': go.mod is refused" in reply["error"]


def test_the_build_keeps_extra_files_read_only(daemon):
    code = (
        "import os\n"
        "try:\n    open('/work/build/data/x.txt', 'a')\nexcept OSError as e:\n    print(e.errno)\n"
        "print(open('/work/build/data/x.txt').read())\n"
    )
    reply = run_code(daemon.nats_url, "python", code, files=[source("data/x.txt", "hi")])
    assert reply["output"] == "13\nhi\n", reply


SPIN = "while True:\n    pass\n"
SLEEP = "import time\ntime.sleep(60)\n"
# Two children spinning while the main process only waits: all of them count.
SPIN_IN_CHILDREN = (
    "import os\nfor _ in range(2):\n    if os.fork() == 0:\n        while True:\n"
    "            pass\nos.wait()\n"
)


@pytest.mark.smoke
@pytest.mark.parametrize("code", [SPIN, SPIN_IN_CHILDREN], ids=["spin", "children"])
def test_a_cpu_bound_program_is_stopped_by_the_cpu_limit(daemon, code):
    reply = run_code(daemon.nats_url, "python", code, timeout_ms=5000, cpu_time_limit_ms=300)
    assert reply["status"] == "timeout", reply
    assert reply["error"].endswith("CPU time limit exceeded (300 ms)")
    assert reply["cpu_time_ms"] >= 300


def test_a_sleeping_program_is_stopped_by_the_wall_limit(daemon):
    reply = run_code(daemon.nats_url, "python", SLEEP, timeout_ms=700, cpu_time_limit_ms=300)
    assert reply["status"] == "timeout", reply
    assert reply["error"].endswith("wall-clock limit exceeded (700 ms)")
    assert reply["cpu_time_ms"] < 300


def test_every_test_reports_its_cpu_time(daemon):
    tests = [case("", "1"), case("spin")]
    code = "import sys\nif sys.stdin.read():\n    while True: pass\nprint(1)\n"
    reply = problem(daemon, "python", code, tests, timeout_ms=3000, cpu_time_limit_ms=200)
    assert [t["status"] for t in reply["tests"]] == ["accepted", "timeout"]
    assert 0 < reply["tests"][0]["cpu_time_ms"] < 200
    assert reply["tests"][1]["cpu_time_ms"] >= 200
    assert reply["tests"][1]["error"].endswith("CPU time limit exceeded (200 ms)")


def test_a_float_problem_accepts_1e9_off_and_refuses_1e3_off(daemon):
    code = "import sys\nprint(float(sys.stdin.read()) / 3)\n"
    tests = [
        case("1", "0.333333334"),  # the program prints 0.3333333333333333: 1e-9 off
        case("1", "0.334333333"),  # 1e-3 off
        case("3", "1"),
    ]
    reply = problem(daemon, "python", code, tests, compare="float")
    assert [t["status"] for t in reply["tests"]] == ["accepted", "wrong_answer", "accepted"]
    loose = problem(daemon, "python", code, tests[1:2], compare="float", float_tolerance=0.01)
    assert loose["status"] == "accepted"


def test_tokens_ignores_how_whitespace_is_laid_out(daemon):
    code = "print(' 1\\t2 ')\nprint()\nprint('3')\n"
    reply = problem(
        daemon, "python", code, [case("", "1 2 3"), case("", "1 2 3 4")], compare="tokens"
    )
    assert [t["status"] for t in reply["tests"]] == ["accepted", "wrong_answer"]


# Subtasks: small inputs (worth 30), large inputs (worth 70); the solution under
# test answers correctly only below its threshold.
def subtask_tests() -> list[dict]:
    small = [case(f"{n}", f"{2 * n}", group="small", points=10) for n in (1, 2, 3)]
    large = [case(f"{n}", f"{2 * n}", group="large", points=35) for n in (1000, 2000)]
    return [*small, case("0", "0", points=0), *large]


@pytest.mark.parametrize(
    ("threshold", "score", "statuses", "groups"),
    [
        (
            10**9,
            100.0,
            ["accepted"] * 6,
            [("small", 30.0, "accepted"), ("large", 70.0, "accepted")],
        ),
        (
            1000,
            30.0,
            ["accepted"] * 4 + ["wrong_answer", "skipped"],
            [("small", 30.0, "accepted"), ("large", 0.0, "wrong_answer")],
        ),
        (
            2,
            0.0,
            ["accepted", "wrong_answer", "skipped", "accepted", "wrong_answer", "skipped"],
            [("small", 0.0, "wrong_answer"), ("large", 0.0, "wrong_answer")],
        ),
    ],
    ids=["full", "partial", "zero"],
)
def test_subtasks_score_all_or_nothing(daemon, threshold, score, statuses, groups):
    code = f"n = int(input())\nprint(2 * n if n < {threshold} else -1)\n"
    reply = problem(daemon, "python", code, subtask_tests())
    assert [t["status"] for t in reply["tests"]] == statuses
    assert (reply["score"], reply["max_score"]) == (score, 100.0)
    assert [(g["id"], g["score"], g["status"]) for g in reply["groups"]] == groups
    assert [g["max_score"] for g in reply["groups"]] == [30.0, 70.0]
    assert reply["success"] is (score == 100.0)
    assert reply["status"] == next((s for s in statuses if s != "accepted"), "accepted")


def test_a_reply_without_groups_still_scores(daemon):
    reply = problem(daemon, "python", "print(input())", [case("1", "1"), case("2", "3")])
    assert (reply["score"], reply["max_score"]) == (1.0, 2.0)
    assert "groups" not in reply


# Many right answers: print two non-negative integers that add up to n.
SPLIT_CHECKER = r"""
import sys
inp, out, ans = (open(path).read() for path in sys.argv[1:4])
n = int(inp)
try:
    a, b = map(int, out.split())
except ValueError:
    print("expected two integers", file=sys.stderr)
    sys.exit(2)
if a < 0 or b < 0 or a + b != n:
    print(f"{a} + {b} != {n}", file=sys.stderr)
    sys.exit(1)
print(f"ok {a} + {b}", file=sys.stderr)
"""


def checker(code: str, language: str = "python", files: list[dict] | None = None) -> dict:
    tool: dict[str, object] = {"language": language, "code": b64(code)}
    if files:
        tool["files"] = files
    return tool


@pytest.mark.smoke
@pytest.mark.parametrize(
    ("solution", "statuses"),
    [
        ("n = int(input())\nprint(0, n)", ["accepted", "accepted"]),
        ("n = int(input())\nprint(n // 2, n - n // 2)", ["accepted", "accepted"]),
        ("n = int(input())\nprint(1, n)", ["wrong_answer", "wrong_answer"]),
        ("print('many')", ["wrong_answer", "wrong_answer"]),
    ],
)
def test_a_checker_accepts_any_valid_answer(daemon, solution, statuses):
    tests = [case("7"), case("10")]
    reply = problem(daemon, "python", solution, tests, checker=checker(SPLIT_CHECKER))
    assert [t["status"] for t in reply["tests"]] == statuses, reply
    for report in reply["tests"]:
        assert report["checker_output"].startswith(("ok ", "expected two", "1 + "))
        assert report["checker_output"].endswith("\n")


@pytest.mark.parametrize(
    ("code", "language", "reason"),
    [
        ("import os\nos.abort()", "python", "the checker was killed by SIGABRT"),
        ("import sys\nsys.exit(3)", "python", "the checker exited with code 3"),
        ("int main() { *(volatile int *)0 = 1; }", "cpp", "the checker was killed by SIGSEGV"),
    ],
)
def test_a_checker_that_crashes_is_checker_error(daemon, code, language, reason):
    reply = problem(
        daemon, "python", "print(1)", [case("1"), case("2")], checker=checker(code, language)
    )
    assert reply["status"] == "checker_error"
    assert [t["status"] for t in reply["tests"]] == ["checker_error"] * 2
    assert reply["tests"][0]["error"].endswith(reason)
    assert reply["tests"][0]["output"] == "1\n"


def test_a_checker_that_does_not_compile_is_checker_error(daemon):
    reply = problem(
        daemon, "python", "print(1)", [case("1")], checker=checker("int main() {", "cpp")
    )
    assert reply["status"] == "checker_error"
    assert reply["error"].startswith("the checker did not compile:\n")
    assert reply["tests"] == []


def test_the_solution_fails_before_its_checker_is_asked(daemon):
    reply = problem(
        daemon,
        "python",
        "import sys\nif input() == '2':\n    sys.exit(5)\nprint(0, 1)",
        [case("1"), case("2")],
        checker=checker(SPLIT_CHECKER),
    )
    assert [t["status"] for t in reply["tests"]] == ["accepted", "runtime_error"]
    assert reply["tests"][1]["checker_output"] == ""


CPP_CHECKER = r"""
#include <cstdio>
#include <cstdlib>
int main(int argc, char **argv) {
    if (argc != 4) return 3;
    FILE *in = fopen(argv[1], "r"), *out = fopen(argv[2], "r"), *ans = fopen(argv[3], "r");
    long n, a, b, expected;
    if (!in || !out || !ans || fscanf(in, "%ld", &n) != 1 || fscanf(ans, "%ld", &expected) != 1)
        return 3;
    if (fscanf(out, "%ld %ld", &a, &b) != 2) { fprintf(stderr, "no answer\n"); return 2; }
    if (a < 0 || b < 0 || a + b != n || expected != n) { fprintf(stderr, "wrong\n"); return 1; }
    fprintf(stderr, "ok\n");
    return 0;
}
"""


def test_a_compiled_checker_reads_the_answer_file(daemon):
    reply = problem(
        daemon,
        "cpp",
        "#include <iostream>\nint main() { long n; std::cin >> n; std::cout << n << ' ' << 0; }",
        [case("5", "5"), case("6", "7")],
        checker=checker(CPP_CHECKER, "cpp"),
    )
    assert [t["status"] for t in reply["tests"]] == ["accepted", "wrong_answer"], reply
    assert [t["checker_output"] for t in reply["tests"]] == ["ok\n", "wrong\n"]


def test_a_checker_excludes_another_compare(daemon):
    reply = problem(
        daemon, "python", "print(1)", [case("1")], checker=checker(SPLIT_CHECKER), compare="tokens"
    )
    assert reply["status"] == "invalid_request"
    assert "checker and compare 'tokens' exclude each other" in reply["error"]


SNOOPING_SOLUTION = r"""
import os, signal, sys, time
# Spelt in two halves, so that this source does not hold them whole.
secrets = tuple(a + b"SECRET" for a in (b"ANSWER-", b"NEXT-INPUT-", b"CHECKER-"))
seen = []
for path in ("/work/tool", "/work/tool/main", "/work/tool/main.cpp", "/work/check",
             "/work/check/answer", "/work/check/input", "/work/check/output"):
    try:
        os.listdir(path) if os.path.isdir(path) else open(path, "rb").read(1)
        seen.append(path)
    except OSError:
        pass
for top in ("/work", "/tmp", "/dev/shm", "/proc/1"):
    for root, dirs, files in os.walk(top):
        if root.startswith("/proc/1/") and root.count("/") > 3:
            continue
        for name in files:
            try:
                with open(os.path.join(root, name), "rb") as f:
                    data = f.read(1 << 20)
            except OSError:
                continue
            seen += [f"{root}/{name}" for secret in secrets if secret in data]
print("clean" if not seen else " ".join(seen), flush=True)
# Something left behind to wait for the checker, kill it and write into its files.
parent = os.getpid()
if os.fork() == 0:
    os.setsid()
    while os.getppid() == parent:  # strike once the solution itself is over
        time.sleep(0.001)
    end = time.monotonic() + 3
    while time.monotonic() < end:
        try:
            os.kill(-1, signal.SIGKILL)
        except OSError:
            pass
        for name in ("input", "output", "answer"):
            try:
                open(f"/work/check/{name}", "w").write("tampered")
            except OSError:
                pass
    os._exit(0)
"""

GUARDED_CHECKER = r"""
#include <cstdio>
#include <cstring>
#include <unistd.h>
static const char *kSecret = "CHECKER-SECRET";
int main(int argc, char **argv) {
    usleep(200000);  // time for anything the solution left to strike
    char out[256] = {0}, ans[256] = {0};
    FILE *o = fopen(argv[2], "r"), *a = fopen(argv[3], "r");
    if (!o || !a) return 3;
    fread(out, 1, sizeof out - 1, o);
    fread(ans, 1, sizeof ans - 1, a);
    fprintf(stderr, "uid %d %s\n", (int)getuid(), kSecret + 14);
    if (strncmp(ans, "ANSWER-SECRET", 13) != 0) return 3;
    return strcmp(out, "clean\n") == 0 ? 0 : 1;
}
"""


@pytest.mark.smoke
def test_the_solution_can_read_no_answer_checker_or_next_input(daemon):
    tests = [
        case("1", "ANSWER-SECRET-1"),
        case("NEXT-INPUT-SECRET-2", "ANSWER-SECRET-2"),
        case("3", "ANSWER-SECRET-3"),
    ]
    reply = problem(
        daemon, "python", SNOOPING_SOLUTION, tests, checker=checker(GUARDED_CHECKER, "cpp")
    )
    assert [t["output"] for t in reply["tests"]] == ["clean\n"] * 3, reply
    # The checker ran to its end each time, as a user other than the solution's.
    assert [t["status"] for t in reply["tests"]] == ["accepted"] * 3, reply
    # The tool user is the container's job uid + 100000 (a job uid is 10001-11024).
    (line,) = {t["checker_output"] for t in reply["tests"]}
    assert line.startswith("uid ") and int(line.split()[1]) in TOOL_UIDS, line


def test_a_checker_cannot_tamper_with_the_next_test(daemon):
    # The checker plants files everywhere it can write; the next run finds none.
    planting = (
        "import os, sys\n"
        "for d in ('/tmp', '/dev/shm', '/work/check', '/work/run'):\n"
        "    try:\n        open(d + '/planted', 'w').write('x')\n"
        "    except OSError:\n        pass\n"
        "sys.exit(0)\n"
    )
    solution = (
        "import os\n"
        "dirs = ('/tmp', '/dev/shm', '/work', '/work/run')\n"
        "print(sorted(p for d in dirs for p in os.listdir(d)))\n"
    )
    reply = problem(daemon, "python", solution, [case("1"), case("2")], checker=checker(planting))
    assert [t["output"] for t in reply["tests"]] == ["['build', 'run', 'tool']\n"] * 2, reply


GUESS_INTERACTOR = r"""
import sys
secret = int(open(sys.argv[1]).read())
out = open(sys.argv[2], "w")
for guesses in range(1, 32):
    line = sys.stdin.readline()
    if not line:
        print("the solution stopped asking", file=sys.stderr)
        sys.exit(1)
    try:
        guess = int(line)
    except ValueError:
        print(f"not a number: {line[:20]!r}", file=sys.stderr)
        sys.exit(2)
    if guess == secret:
        print("=", flush=True)
        out.write(f"found {secret} in {guesses}\n")
        print(f"ok {guesses} guesses", file=sys.stderr)
        sys.exit(0)
    print("<" if secret < guess else ">", flush=True)
print("too many guesses", file=sys.stderr)
sys.exit(1)
"""

GUESSERS = {
    "correct": r"""
#include <iostream>
#include <string>
int main() {
    long lo = 1, hi = 1000000000;
    while (true) {
        long mid = (lo + hi) / 2;
        std::cout << mid << std::endl;
        std::string r;
        if (!(std::cin >> r) || r == "=") return 0;
        if (r == "<") hi = mid - 1; else lo = mid + 1;
    }
}
""",
    "wrong": r"""
#include <iostream>
#include <string>
int main() {
    std::string r;
    for (long g = 1; std::cin.good(); ++g) {
        std::cout << g << std::endl;
        if (!(std::cin >> r) || r == "=") return 0;
    }
}
""",
    "silent": r"""
#include <iostream>
int main() { long n; std::cin >> n; }
""",
    "flood": r"""
#include <cstdio>
int main() { for (;;) std::fputs("guess guess guess guess\n", stdout); }
""",
}


SECRETS = ("100", "777777777", "1000000000")


@pytest.mark.smoke
@pytest.mark.parametrize(
    ("solution", "status", "reason"),
    [
        ("correct", "accepted", ""),
        ("wrong", "wrong_answer", ""),
        ("silent", "timeout", "wall-clock limit exceeded (2000 ms)"),
        ("flood", "wrong_answer", ""),
    ],
)
def test_an_interactive_guess_the_number_problem(daemon, solution, status, reason):
    tests = [case(secret) for secret in SECRETS]
    reply = problem(
        daemon,
        "cpp",
        GUESSERS[solution],
        tests,
        interactor=checker(GUESS_INTERACTOR),
        timeout_ms=2000,
    )
    assert [t["status"] for t in reply["tests"]] == [status] * 3, reply
    report = reply["tests"][0]
    assert report["error"].endswith(reason)
    if solution == "correct":
        for secret, test in zip(SECRETS, reply["tests"], strict=True):
            assert test["output"].startswith(f"found {secret} in ")
        assert all(t["checker_output"].startswith("ok ") for t in reply["tests"])
        assert all(t["cpu_time_ms"] is not None for t in reply["tests"])
    if solution == "flood":
        assert reply["tests"][0]["checker_output"].startswith("not a number")


# Guesses by bisection until the interactor says "=".
BINARY_SEARCH = r"""
lo, hi = 1, 10**9
while True:
    mid = (lo + hi) // 2
    print(mid, flush=True)
    answer = input()
    if answer == "=":
        break
    lo, hi = (lo, mid - 1) if answer == "<" else (mid + 1, hi)
"""

SNOOPING_GUESSER = (
    r"""
import os, signal, sys
seen = []
for path in ("/work/check/input", "/work/check/output", "/work/tool/main.py", "/work/check"):
    try:
        os.listdir(path) if path == "/work/check" else open(path).read(1)
        seen.append(path)
    except OSError:
        pass
for pid in (int(p) for p in os.listdir("/proc") if p.isdigit() and int(p) != os.getpid()):
    for sig in (signal.SIGSTOP, signal.SIGKILL):
        try:
            os.kill(pid, sig)
            seen.append(f"signalled {pid}")
        except OSError:
            pass
print(" ".join(seen) or "nothing", file=sys.stderr)"""
    + BINARY_SEARCH
)


@pytest.mark.smoke
def test_the_solution_cannot_read_or_signal_the_interactor(daemon):
    reply = problem(
        daemon,
        "python",
        SNOOPING_GUESSER,
        [case("4242"), case("99")],
        interactor=checker(GUESS_INTERACTOR),
    )
    assert [t["status"] for t in reply["tests"]] == ["accepted"] * 2, reply
    assert [t["error"] for t in reply["tests"]] == ["nothing\n"] * 2


TOOL_UIDS = range(110001, 111025)  # the job uids (10001-11024) + 100000

HARDENED = r"""
import os, sys
status = dict(line.split(":", 1) for line in open("/proc/self/status"))
print(os.getuid(), os.getgid(), os.getgroups(), *(status[k].strip() for k in
      ("Seccomp", "NoNewPrivs", "CapEff", "CapPrm")), file=sys.stderr)
"""


@pytest.mark.parametrize("tool", ["checker", "interactor"])
def test_a_tool_runs_with_the_hardening_of_any_job(daemon, tool):
    reply = problem(daemon, "python", "import sys", [case("1")], **{tool: checker(HARDENED)})
    uid, gid, rest = reply["tests"][0]["checker_output"].split(" ", 2)
    assert uid == gid and int(uid) in TOOL_UIDS, reply
    assert rest == "[] 2 1 0000000000000000 0000000000000000\n", reply


def test_a_checked_problem_continues_on_a_fresh_container(daemon):
    code = (
        "import subprocess, sys\nn = int(sys.stdin.read())\n"
        "if n == 2: subprocess.run(['sleep', '7.75'])\nprint(0, n)"
    )
    killer = threading.Thread(
        target=_kill_container_running, args=(daemon.instance_id, "7.75", time.monotonic() + 30)
    )
    killer.start()
    tests = [case(str(i)) for i in range(1, 5)]
    reply = problem(daemon, "python", code, tests, checker=checker(SPLIT_CHECKER))
    killer.join()
    statuses = [t["status"] for t in reply["tests"]]
    assert statuses == ["accepted", "internal_error", "accepted", "accepted"], reply
    assert reply["tests"][3]["checker_output"] == "ok 0 + 4\n"
