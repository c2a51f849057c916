"""Problems mode end to end: compile once, per-test verdicts, isolation, recovery."""

from __future__ import annotations

import asyncio
import base64
import json
import subprocess
import threading

import pytest
from hostile.test_limits import OOM_DODGER

from engine_client import EngineClient, build_request
from service.testing.client import send
from service.testing.harness import containers_running
from wire.subjects import stats_subject

SUBJECT = "problems.execute.request"


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def case(stdin: str, expected: str | None = None, test_id: str | None = None) -> dict:
    test = {"stdin": b64(stdin)}
    if expected is not None:
        test["expected_output"] = b64(expected)
    if test_id is not None:
        test["id"] = test_id
    return test


def problem(daemon, language: str, code: str, tests: list[dict], **fields) -> dict:
    return send(
        daemon.nats_url,
        build_request(language, code, tests=tests, **fields),
        subject=SUBJECT,
        timeout=300,
    )


SUM = {
    "python": "a, b = map(int, input().split())\nprint(a + b)",
    "javascript": "const [a, b] = require('fs').readFileSync(0, 'utf8').trim().split(' ')"
    ".map(Number);\nconsole.log(a + b);",
    "go": 'package main\nimport "fmt"\nfunc main() { var a, b int; fmt.Scan(&a, &b); '
    "fmt.Println(a + b) }\n",
    "cpp": "#include <iostream>\nint main() { long a, b; std::cin >> a >> b; "
    "std::cout << a + b << std::endl; }\n",
}


@pytest.mark.smoke
@pytest.mark.parametrize("language", sorted(SUM))
def test_accepted_and_wrong_answer_in_every_language(daemon, language):
    tests = [case("1 2", "3\n", "t1"), case("5 5", "10"), case("2 2", "5\n")]
    reply = problem(daemon, language, SUM[language], tests)
    assert reply["total"] == 3
    assert reply["passed"] == 2
    assert reply["status"] == "wrong_answer"
    assert reply["success"] is False
    assert [t["status"] for t in reply["tests"]] == ["accepted", "accepted", "wrong_answer"]
    assert [t["id"] for t in reply["tests"]] == ["t1", "2", "3"]
    assert reply["tests"][2]["output"] == "4\n"
    compiled = language in ("go", "cpp")
    assert (reply["compile_time_ms"] is not None) == compiled


def test_all_accepted(daemon):
    tests = [case(f"{i} {i}", f"{2 * i}\n") for i in range(5)]
    reply = problem(daemon, "python", SUM["python"], tests)
    assert reply["status"] == "accepted"
    assert reply["success"] is True
    assert reply["passed"] == reply["total"] == 5


VERDICTS = {
    "runtime_error": {
        "python": "raise SystemExit(3)",
        "javascript": "process.exit(3)",
        "go": 'package main\nimport "os"\nfunc main() { os.Exit(3) }\n',
        "cpp": "int main() { return 3; }\n",
    },
    "timeout": {
        "python": "while True: pass",
        "javascript": "while (true) {}",
        "go": "package main\nfunc main() { for {} }\n",
        "cpp": "int main() { volatile int x = 0; for (;;) x++; }\n",
    },
    "memory_limit": {
        "python": "x = bytearray(1 << 30)\nprint(len(x))",
        "javascript": "const a = []; while (true) a.push(Buffer.alloc(1 << 24, 1));",
        "go": 'package main\nimport "fmt"\nfunc main() { var k [][]byte\n'
        "for { b := make([]byte, 1<<24); for i := range b { b[i] = 1 }; k = append(k, b) }\n"
        "fmt.Println(len(k)) }\n",
        "cpp": "#include <vector>\n#include <cstring>\nint main() { std::vector<char*> v; "
        "for (;;) { char* p = new char[1 << 24]; memset(p, 1, 1 << 24); v.push_back(p); } }\n",
    },
    "output_limit": {
        "python": "while True: print('x' * 999)",
        "javascript": "const s = 'x'.repeat(999) + '\\n'; while (true) process.stdout.write(s);",
        "go": 'package main\nimport ("os"; "strings")\nfunc main() { s := strings.Repeat("x", 999) '
        '+ "\\n"; for { os.Stdout.WriteString(s) } }\n',
        "cpp": '#include <cstdio>\nint main() { for (;;) puts("xxxxxxxxxxxxxxxx"); }\n',
    },
}


@pytest.mark.smoke
@pytest.mark.parametrize(
    ("verdict", "language"), [(v, lang) for v in sorted(VERDICTS) for lang in sorted(SUM)]
)
def test_each_verdict_in_each_language(daemon, verdict, language):
    # A bomb fills the limit a page at a time: at 192 MB (every language's minimum
    # on both tiers) and the server's wall maximum, a loaded host's slow reclaim
    # cannot turn it into a timeout (it did at 400 MB in 5 s).
    limits = {"timeout_ms": 10_000, "memory_mb": 192} if verdict == "memory_limit" else {}
    reply = problem(
        daemon,
        language,
        VERDICTS[verdict][language],
        [case("", "anything"), case("", "anything")],
        **({"timeout_ms": 2000} | limits),
    )
    assert [t["status"] for t in reply["tests"]] == [verdict, verdict], reply
    assert reply["status"] == verdict


@pytest.mark.smoke
@pytest.mark.parametrize("language", ["go", "cpp"])
def test_compile_error_runs_no_test(daemon, language):
    reply = problem(daemon, language, "this is not code", [case("", "x")] * 3)
    assert reply["status"] == "compile_error"
    assert reply["tests"] == []
    assert reply["passed"] == 0
    assert reply["total"] == 3
    assert reply["compile_output"]


def test_compare_modes(daemon):
    code = "print('a  ')\nprint('b')\nprint()\nprint()"
    trim = problem(daemon, "python", code, [case("", "a\nb")])
    assert trim["status"] == "accepted"
    exact = problem(daemon, "python", code, [case("", "a\nb")], compare="exact")
    assert exact["status"] == "wrong_answer"
    exact_ok = problem(daemon, "python", code, [case("", "a  \nb\n\n\n")], compare="exact")
    assert exact_ok["status"] == "accepted"


def test_stop_on_first_failure_skips_the_rest(daemon):
    tests = [case("1 1", "2"), case("1 1", "3"), case("2 2", "4"), case("3 3", "6")]
    reply = problem(daemon, "python", SUM["python"], tests, stop_on_first_failure=True)
    assert [t["status"] for t in reply["tests"]] == [
        "accepted",
        "wrong_answer",
        "skipped",
        "skipped",
    ]
    assert reply["status"] == "wrong_answer"
    assert reply["passed"] == 1


def test_other_tests_still_run_after_a_failure(daemon):
    tests = [case("", "x"), case("1 2", "3"), case("4 5", "9")]
    code = (
        "import sys\ndata = sys.stdin.read()\nif not data: raise SystemExit(1)\n"
        "a, b = map(int, data.split())\nprint(a + b)"
    )
    reply = problem(daemon, "python", code, tests)
    assert [t["status"] for t in reply["tests"]] == ["runtime_error", "accepted", "accepted"]


def test_hundred_tests_compile_once(daemon):
    tests = [case(f"{i} 1", f"{i + 1}") for i in range(100)]
    reply = problem(daemon, "cpp", SUM["cpp"], tests)
    assert reply["status"] == "accepted", [t for t in reply["tests"] if not t["passed"]][:2]
    assert reply["passed"] == 100


@pytest.mark.smoke
def test_tests_are_isolated_from_each_other(daemon):
    code = (
        "import os\nprint(os.path.exists('/tmp/mark'), os.path.exists('mark'))\n"
        "open('/tmp/mark', 'w').write('1')\nopen('mark', 'w').write('1')\n"
        "import subprocess\nsubprocess.Popen(['sleep', '100'], start_new_session=True)\n"
    )
    reply = problem(daemon, "python", code, [case("", "False False")] * 4)
    assert [t["status"] for t in reply["tests"]] == ["accepted"] * 4, reply["tests"]


def test_request_too_big_for_limits(daemon):
    reply = problem(daemon, "python", "print(1)", [case("", "1")] * 101)
    assert reply["status"] == "invalid_request"
    assert "1 to 100" in reply["error"]
    bad = problem(daemon, "python", "print(1)", [{"stdin": "%%%"}])
    assert bad["status"] == "invalid_request"
    assert "tests[0].stdin" in bad["error"]


def test_without_tests_behaves_like_a_compiler_request(daemon):
    reply = send(daemon.nats_url, build_request("python", "print('plain')"), subject=SUBJECT)
    assert reply["status"] == "ok"
    assert reply["output"] == "plain\n"


def _kill_container_running(instance_id: str, needle: str, timeout: float) -> None:
    found = containers_running(instance_id, needle, timeout)
    subprocess.run(["docker", "kill", found[0]], capture_output=True)


def test_a_test_that_loses_its_container_then_tests_that_pass(daemon):
    code = (
        "import subprocess, sys\nn = int(sys.stdin.read())\n"
        "if n == 2: subprocess.run(['sleep', '7.25'])\nprint(n)"
    )
    killer = threading.Thread(target=_kill_container_running, args=(daemon.instance_id, "7.25", 30))
    killer.start()
    tests = [case(str(i), str(i)) for i in range(1, 5)]
    reply = problem(daemon, "python", code, tests)
    killer.join()
    statuses = [t["status"] for t in reply["tests"]]
    assert statuses[0] == "accepted"
    assert statuses[1] == "internal_error", reply["tests"][1]
    assert statuses[2:] == ["accepted", "accepted"]
    assert reply["passed"] == 3


def test_a_reply_over_the_payload_limit_is_cut_not_dropped(daemon):
    # 100 tests x 120 KB of output is more than the 8 MiB the server carries.
    code = "import sys\nsys.stdout.write('x' * 120_000)"
    reply = problem(daemon, "python", code, [case("")] * 100)  # no expected output: accepted
    assert reply["total"] == 100
    assert len(reply["tests"]) == 100
    assert reply["passed"] == 100
    assert any(t["truncated"] for t in reply["tests"])
    assert all(t["status"] == "accepted" for t in reply["tests"])


def test_grading_the_largest_outputs_never_stalls_the_engine(daemon):
    # Every test writes its stdout and stderr up to the problems output limit
    # (1 MiB each): within every limit, and far more than one NATS message
    # holds. The reply is cut to fit; meanwhile the event loop keeps running
    # (the stats snapshots report its longest stall), so no other request waits.
    count = 40
    code = "import sys\nsys.stdout.write('o' * (1 << 20))\nsys.stderr.write('e' * (1 << 20))\n"
    request = build_request("python", code, tests=[case("") for _ in range(count)])

    async def go() -> tuple[dict, list[float]]:
        lags: list[float] = []
        async with await EngineClient.connect(daemon.nats_url) as client:
            nc = client.nc
            got_one = asyncio.Event()

            async def on_stats(msg) -> None:
                lags.append(json.loads(msg.data)["loop_lag_ms"])
                got_one.set()

            sub = await nc.subscribe(stats_subject(daemon.instance_id), cb=on_stats)
            reply = await client.send(request, subject=SUBJECT, timeout=300)
            got_one.clear()
            await asyncio.wait_for(got_one.wait(), 10)  # the interval the reply ended in
            await sub.unsubscribe()
        return reply, lags

    reply, lags = asyncio.run(go())
    assert reply["status"] == "accepted", reply["status"]
    assert [t["id"] for t in reply["tests"]] == [str(i + 1) for i in range(count)]
    assert any(t["truncated"] for t in reply["tests"])
    assert len(lags) >= 2
    assert max(lags) < 100, lags


@pytest.mark.smoke
def test_a_test_over_the_memory_limit_is_memory_limit_whoever_the_oom_killer_takes(daemon):
    # OOM_DODGER may get the agent picked as the OOM victim, taking the container.
    tests = [case("1", "1\n"), case(""), case("2", "2\n")]
    code = (
        "import sys\nline = sys.stdin.readline()\n"
        + "if not line:\n"
        + "".join(f"    {row}\n" for row in OOM_DODGER.strip().splitlines())
        + "print(line.strip())\n"
    )
    reply = problem(daemon, "python", code, tests, memory_mb=160, timeout_ms=5000)
    assert [t["status"] for t in reply["tests"]] == ["accepted", "memory_limit", "accepted"], reply
    assert "160 MB" in reply["tests"][1]["error"]
    assert reply["status"] == "memory_limit"
