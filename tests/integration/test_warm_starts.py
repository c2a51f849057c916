"""Warm starts in the real sandbox: the program sees what a cold start shows it, and no job
can reach the process that will run a later one."""

from __future__ import annotations

import json
import os

import pytest

from service.testing.client import run_code

# A request at other limits starts cold: the same program both ways.
COLD = {"timeout_ms": 9000}

# Each program's first line says whether it started warm (its command line names
# a launcher or the fork server, the one place a program can tell); the rest must
# be the same.
PYTHON_IDENTITY = """
import atexit, os, sys
print("/launchers/" in open("/proc/self/cmdline").read())
atexit.register(print, "atexit, after the traceback")
print(sys.argv, __name__, __file__, sys.path[0], sys.orig_argv[1:])
print(sorted(globals()), sorted(sys.modules), sys.flags, sorted(os.environ))
print(os.getppid(), os.getpgrp() == os.getsid(0) == os.getpid(), os.listdir("/proc/self/fd"))
import signal
print([signal.getsignal(s) for s in (signal.SIGINT, signal.SIGPIPE, signal.SIGTERM)])
print(os.getuid() == os.geteuid() != 0, os.getcwd(), repr(sys.stdin.read()))
def f():
    raise ValueError("boom")
f()
"""

JS_IDENTITY = """
console.log(require("fs").readFileSync("/proc/self/cmdline", "latin1").includes("node_launcher"));
console.log(process.argv.slice(1), require.main === module, __filename, process.cwd());
const esm = process.execArgv.filter((a) => a.includes("node_esm")).length;
console.log(Object.keys(require.cache), module.children.length, esm);
let input = "";
process.stdin.on("data", (d) => (input += d));
process.stdin.on("end", () => { console.log(JSON.stringify(input)); process.exitCode = 3; });
"""

JAVA_IDENTITY = """
import java.nio.file.*;
public class Main {
    static void fail() { throw new IllegalStateException("boom", new RuntimeException("inner")); }
    public static void main(String[] args) throws Exception {
        System.out.println(Files.readString(Path.of("/proc/self/cmdline")).contains("java_launcher"));
        System.out.println(String.join("|", args) + " " + System.getProperty("java.class.path")
            + " " + System.getProperty("sun.java.command") + " " + Paths.get("").toAbsolutePath());
        String in = new String(System.in.readAllBytes());
        System.out.println(in + " " + Runtime.getRuntime().maxMemory());
        Runtime.getRuntime().addShutdownHook(new Thread(() -> System.out.println("hook")));
        fail();
    }
}
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
        "[ '/work/build/main.js', 'x' ] true /work/build/main.js /work/run\n"
        "[ '/work/build/main.js' ] 0 1\n\"in\"\n"
    )
    assert warm["exit_code"] == 3
    _same(warm, cold)


@pytest.mark.smoke
def test_a_warm_jvm_shows_what_a_cold_one_does(daemon):
    warm, cold = _warm_and_cold(daemon, "java", JAVA_IDENTITY, args=["a b", "c"], stdin="in")
    assert warm["output"].startswith(
        "a b|c /work/build/main.jar /work/build/main.jar a b c /work/run\nin "
    ), warm
    assert warm["output"].endswith("hook\n") and warm["exit_code"] == 1, warm
    assert warm["error"].startswith('Exception in thread "main" java.lang.IllegalStateException')
    _same(warm, cold)


WHICH_START = "print('/launchers/' in open('/proc/self/cmdline').read())"


def test_default_limits_start_warm_and_others_cold(daemon):
    # The one place a program can tell: its command line names a launcher. A
    # container whose last run was a compiled program's keeps no warm process;
    # one that ran Python keeps a Python: within a few requests one is warm.
    # (Which container a request lands on is the pool's choice.)
    starts = [run_code(daemon.nats_url, "python", WHICH_START)["output"] for _ in range(8)]
    assert "True\n" in starts, starts
    assert run_code(daemon.nats_url, "python", WHICH_START, **COLD)["output"] == "False\n"


# The uids of every process this job can see in the container but itself and the agent.
LOOK_AROUND = {
    "python": (
        "import os\n"
        "others = [p for p in os.listdir('/proc')\n"
        "          if p.isdigit() and int(p) not in (1, os.getpid())]\n"
        "print([open(f'/proc/{p}/status').read().split('Uid:')[1].split()[:3] for p in others])"
    ),
    "javascript": (
        "const fs = require('fs');\n"
        "console.log(JSON.stringify(fs.readdirSync('/proc').filter("
        "(p) => /^[0-9]+$/.test(p) && +p !== 1 && +p !== process.pid).map("
        "(p) => fs.readFileSync(`/proc/${p}/status`, 'latin1').split('Uid:')[1]"
        ".trim().split(/\\s+/).slice(0, 3))))"
    ),
    "go": """package main
import ("fmt"; "os"; "strconv"; "strings")
func main() {
    entries, _ := os.ReadDir("/proc")
    others := [][]string{}
    for _, e := range entries {
        if n, err := strconv.Atoi(e.Name()); err == nil && n != 1 && n != os.Getpid() {
            status, _ := os.ReadFile("/proc/" + e.Name() + "/status")
            uids := strings.SplitN(string(status), "Uid:", 2)[1]
            others = append(others, strings.Fields(uids)[:3])
        }
    }
    fmt.Println(others)
}
""",
}


@pytest.mark.smoke
@pytest.mark.parametrize("language", sorted(LOOK_AROUND))
def test_no_job_sees_a_warm_process_but_the_engines_own(daemon, language):
    # Every warm process alive when a job starts is gone before its code runs
    # (the one it runs in aside), and the next ones start after it ended. What a
    # job may see beside itself is the engine's: a Python fork server, root's.
    for _ in range(3):  # three containers of the pool, most likely
        reply = run_code(daemon.nats_url, language, LOOK_AROUND[language])
        assert reply["status"] == "ok", reply
        seen = reply["output"].strip()
        assert seen in ("[]", "[[0 0 0]]", '[["0","0","0"]]', "[['0', '0', '0']]"), seen


# From a job: every way at the fork server, each of which must be refused.
REACH_FOR_THE_SERVER = """
import ctypes, json, os, signal
libc = ctypes.CDLL(None, use_errno=True)
def attempt(action):
    try:
        result = action()
    except OSError as exc:
        return exc.errno
    return "refused" if result == -1 else "done"
# A process forked by the server has its command line: the job's own is not it.
server = [int(p) for p in os.listdir("/proc") if p.isdigit() and int(p) != os.getpid()
          and "python_forkserver" in open(f"/proc/{p}/cmdline").read()]
print(len(server))
for pid in server:
    print(json.dumps({
        "signal": attempt(lambda: os.kill(pid, signal.SIGKILL)),
        "stop": attempt(lambda: os.kill(pid, signal.SIGSTOP)),
        "trace": attempt(lambda: libc.ptrace(16, pid, 0, 0)),  # PTRACE_ATTACH
        "seize": attempt(lambda: libc.ptrace(0x4206, pid, 0, 0)),  # PTRACE_SEIZE
        "read memory": attempt(lambda: open(f"/proc/{pid}/mem", "rb").read(1)),
        "write memory": attempt(lambda: open(f"/proc/{pid}/mem", "wb")),
        "environment": attempt(lambda: open(f"/proc/{pid}/environ", "rb").read(1)),
        "descriptors": attempt(lambda: os.listdir(f"/proc/{pid}/fd")),
        "its socket": attempt(lambda: os.open(f"/proc/{pid}/fd/3", os.O_RDWR)),
        "priority": attempt(lambda: os.setpriority(os.PRIO_PROCESS, pid, 19)),
    }))
"""


@pytest.mark.smoke
@pytest.mark.skipif(
    os.environ.get("CODE_ENGINE_RUNTIME") == "runsc",
    reason="no fork server under gVisor (docs/explanation/warm-starts.md)",
)
def test_a_job_cannot_signal_trace_read_or_write_the_fork_server(daemon):
    for _ in range(4):  # until a container that keeps Python warm serves it
        reply = run_code(daemon.nats_url, "python", REACH_FOR_THE_SERVER)
        assert reply["status"] == "ok", str(reply)
        count, _, attempts = reply["output"].partition("\n")
        if count == "1":
            break
    else:
        raise AssertionError(f"no fork server seen in 4 requests: {reply}")
    outcomes = json.loads(attempts)
    assert outcomes.pop("signal") == outcomes.pop("stop") == 1  # EPERM
    assert outcomes.pop("trace") == outcomes.pop("seize") == "refused"
    assert all(isinstance(errno, int) for errno in outcomes.values()), outcomes
    # And it still serves: the next warm Python starts.
    after = [run_code(daemon.nats_url, "python", WHICH_START)["output"] for _ in range(4)]
    assert "True\n" in after, after
