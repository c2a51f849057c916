"""Warm starts in the real sandbox: the program sees what a cold start shows it, and no job
can reach the process that will run a later one."""

from __future__ import annotations

import pytest
from conftest import run_code

# A request at other limits starts cold: the same program both ways.
COLD = {"timeout_ms": 9000}

# Each program's first line says whether it started warm (its command line names
# the launcher, the one place a program can tell); the rest must be the same.
PYTHON_IDENTITY = """
import atexit, os, sys
print("launcher" in open("/proc/self/cmdline").read())
atexit.register(print, "atexit, after the traceback")
print(sys.argv, __name__, __file__, sys.path[0], sys.orig_argv[1:])
print(os.getuid() == os.geteuid() != 0, os.getcwd(), repr(sys.stdin.read()))
def f():
    raise ValueError("boom")
f()
"""

JS_IDENTITY = """
console.log(require("fs").readFileSync("/proc/self/cmdline", "latin1").includes("launcher"));
console.log(process.argv.slice(1), require.main === module, __filename, process.cwd());
let input = "";
process.stdin.on("data", (d) => (input += d));
process.stdin.on("end", () => { console.log(JSON.stringify(input)); process.exitCode = 3; });
"""


def _warm_and_cold(daemon, language: str, code: str, **fields) -> tuple[dict, dict]:
    """The same request started warm, then cold; each reply without its first line."""
    # Which container a request lands on is the pool's; one whose last run was a
    # compiled program's keeps no warm process: within a few requests one is warm.
    for _ in range(8):
        warm = run_code(daemon.nats_url, language, code, **fields)
        if warm["output"].partition("\n")[0].lower() == "true":
            break
    else:
        raise AssertionError(f"no warm start in 8 requests: {warm}")
    cold = run_code(daemon.nats_url, language, code, **fields, **COLD)
    flag = cold["output"].partition("\n")[0]
    assert flag.lower() == "false", cold
    for reply in (warm, cold):
        reply["output"] = reply["output"].partition("\n")[2]
    return warm, cold


def _same(warm: dict, cold: dict) -> None:
    for field in ("status", "output", "exit_code", "signal", "error"):
        assert warm[field] == cold[field], (field, warm, cold)


@pytest.mark.smoke
@pytest.mark.parametrize("stdin", ["", "typed\n"])
def test_a_warm_python_shows_what_a_cold_one_does(daemon, stdin):
    warm, cold = _warm_and_cold(daemon, "python", PYTHON_IDENTITY, args=["a b", "c"], stdin=stdin)
    assert warm["status"] == "runtime_error" and warm["exit_code"] == 1, warm
    _same(warm, cold)
    assert warm["error"].startswith('Traceback (most recent call last):\n  File "/work/build')


@pytest.mark.smoke
def test_a_warm_node_shows_what_a_cold_one_does(daemon):
    warm, cold = _warm_and_cold(daemon, "js", JS_IDENTITY, args=["x"], stdin="in")
    assert warm["output"] == (
        "[ '/work/build/main.js', 'x' ] true /work/build/main.js /work/run\n\"in\"\n"
    )
    assert warm["exit_code"] == 3
    _same(warm, cold)


WHICH_START = "print('python_launcher.py' in open('/proc/self/cmdline').read())"


def test_default_limits_start_warm_and_others_cold(daemon):
    # The one place a program can tell: its command line names the launcher. A
    # container whose last run was a compiled program's keeps no warm process;
    # one that ran Python keeps a Python: within a few requests one is warm.
    # (Which container a request lands on is the pool's choice.)
    starts = [run_code(daemon.nats_url, "python", WHICH_START)["output"] for _ in range(8)]
    assert "True\n" in starts, starts
    assert run_code(daemon.nats_url, "python", WHICH_START, **COLD)["output"] == "False\n"


# Everything this job can see of the container's processes but itself and the agent.
LOOK_AROUND = {
    "python": (
        "import os\n"
        "print([p for p in os.listdir('/proc') if p.isdigit() and int(p) not in (1, os.getpid())])"
    ),
    "javascript": (
        "const fs = require('fs');\n"
        "console.log(JSON.stringify(fs.readdirSync('/proc').filter("
        "(p) => /^[0-9]+$/.test(p) && +p !== 1 && +p !== process.pid)))"
    ),
    "go": """package main
import ("fmt"; "os"; "strconv")
func main() {
    entries, _ := os.ReadDir("/proc")
    others := []string{}
    for _, e := range entries {
        if n, err := strconv.Atoi(e.Name()); err == nil && n != 1 && n != os.Getpid() {
            others = append(others, e.Name())
        }
    }
    fmt.Println(others)
}
""",
}


@pytest.mark.smoke
@pytest.mark.parametrize("language", sorted(LOOK_AROUND))
def test_no_job_sees_a_warm_process(daemon, language):
    # Every warm process alive when a job starts is gone before its code runs
    # (the one it runs in aside), and the next ones start after it ended: no
    # job can read, signal, trace or write into the process of a later job.
    for _ in range(3):  # three containers of the pool, most likely
        reply = run_code(daemon.nats_url, language, LOOK_AROUND[language])
        assert reply["status"] == "ok", reply
        assert reply["output"].strip() in ("[]",), reply["output"]
