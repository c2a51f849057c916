"""Hostile programs aimed at the process table: bombs, survivors, and killing others."""

from __future__ import annotations

import pytest

from .hostile_support import Hostile, HostileBench, ids

pytestmark = pytest.mark.hostile


def _fast(limit_ms: float):
    def check(reply: dict) -> None:
        assert reply["execution_time_ms"] < limit_ms, reply["execution_time_ms"]

    return check


def _error_has(*needles: str):
    def check(reply: dict) -> None:
        for needle in needles:
            assert needle in reply["error"], reply["error"][-2000:]

    return check


SURVIVORS = r"""
import os, signal, subprocess, time
subprocess.Popen(["nohup", "sleep", "1000"], stderr=subprocess.DEVNULL)
subprocess.Popen(["setsid", "sleep", "1000"])
subprocess.Popen(["sh", "-c", "trap '' TERM HUP INT; while :; do sleep 1; done"])
if os.fork() == 0:  # double fork into a new session; the grandchild keeps stdout open
    if os.fork() == 0:
        os.setsid()
        time.sleep(1000)
    os._exit(0)
if os.fork() == 0:  # ignores every signal it may ignore
    for sig in (signal.SIGTERM, signal.SIGHUP, signal.SIGINT, signal.SIGQUIT, signal.SIGUSR1):
        signal.signal(sig, signal.SIG_IGN)
    time.sleep(1000)
stopped = os.fork()
if stopped == 0:
    time.sleep(1000)
os.kill(stopped, signal.SIGSTOP)
for _ in range(20):  # zombies: exited, never waited for
    if os.fork() == 0:
        os._exit(0)
orphan_maker = os.fork()
if orphan_maker == 0:  # a zombie whose parent is also gone
    if os.fork() == 0:
        os._exit(0)
    time.sleep(1000)
time.sleep(0.3)
print("leaving", flush=True)
"""

CPP_DAEMON = r"""
#include <cstdio>
#include <unistd.h>
int main() {
    if (fork() == 0) {
        if (daemon(0, 0) == 0) for (;;) pause();
        return 1;
    }
    std::puts("parent done");
}
"""

GO_BACKGROUND = """package main

import (
	"fmt"
	"os/exec"
)

func main() {
	err := exec.Command("sh", "-c", "setsid sleep 1000 & nohup sleep 1000 >/dev/null 2>&1 &").Run()
	fmt.Println("spawned", err)
}
"""

JS_DETACHED = """
const { spawn } = require('child_process');
spawn('sleep', ['1000'], { detached: true, stdio: 'ignore' }).unref();
spawn('sh', ['-c', 'trap "" TERM; sleep 1000'], { detached: true, stdio: 'inherit' }).unref();
console.log('detached');
"""

KILL_EVERYONE = r"""
import os, signal, subprocess
kids = [subprocess.Popen(["sleep", "100"]) for _ in range(3)]
os.kill(-1, signal.SIGKILL)  # every process this uid may signal, except the caller
print(sorted(kid.wait() for kid in kids))
for name, pid in (("agent", 1), ("parent", os.getppid())):
    try:
        os.kill(pid, signal.SIGKILL)
    except PermissionError as exc:
        print(name, pid, exc.strerror)
"""

SH_FORK_BOMB = r"""
import os, time
os.system("f(){ f|f& }; f")  # the classic bomb, left running when main exits
time.sleep(1)
print("main alive", flush=True)
"""

PY_FORK_LIMIT = r"""
import os, time
kids = 0
while True:
    try:
        pid = os.fork()
    except OSError as exc:
        print("fork:", exc.strerror)
        break
    if pid == 0:
        time.sleep(1000)
        os._exit(0)
    kids += 1
print(10 < kids < 128)
"""

# Forks as many as it may, kills them all and starts over until its time is up.
# Under gVisor each round leaves host tasks in the Sentry (SENTRY_LEAK_PER_SECOND
# in service/sandbox/spec.py): the sandbox must outlive the run all the same.
PY_FORK_CHURN = r"""
import os, signal, time
while True:
    kids = []
    try:
        while True:
            pid = os.fork()
            if pid == 0:
                time.sleep(1000)
                os._exit(0)
            kids.append(pid)
    except OSError:
        pass
    for kid in kids:
        os.kill(kid, signal.SIGKILL)
    for kid in kids:
        os.waitpid(kid, 0)
"""

CPP_FORK_BOMB = r"""
#include <unistd.h>
int main() { for (;;) fork(); }
"""

C_FORK_LIMIT = r"""
#include <cstdio>
#include <unistd.h>
int main() {
    for (;;) {
        pid_t pid = fork();
        if (pid < 0) { std::perror("fork"); return 1; }
        if (pid == 0) { pause(); return 0; }
    }
}
"""

PY_THREAD_BOMB = r"""
import threading, time
while True:
    threading.Thread(target=time.sleep, args=(1000,), daemon=True).start()
"""

CPP_THREAD_BOMB = r"""
#include <chrono>
#include <thread>
#include <vector>
int main() {
    std::vector<std::thread> threads;
    for (;;) threads.emplace_back([] { std::this_thread::sleep_for(std::chrono::hours(1)); });
}
"""

GO_THREAD_BOMB = """package main

import (
	"runtime"
	"runtime/debug"
	"time"
)

func main() {
	debug.SetTraceback("none")
	for {
		go func() {
			runtime.LockOSThread() // each goroutine pins an OS thread of its own
			time.Sleep(time.Hour)
		}()
	}
}
"""

JS_KILL_ALL = """
require('child_process').execSync('kill -9 -1');
console.log('not reached');
"""

STOP_MYSELF = (
    "import os, signal\nprint('stopping', flush=True)\nos.kill(os.getpid(), signal.SIGSTOP)"
)

CASES = [
    Hostile(
        "python-background-survivors",
        "python",
        SURVIVORS,
        "ok",
        check=_fast(1500),
    ),
    Hostile("cpp-daemon", "cpp", CPP_DAEMON, "ok", check=lambda r: r["output"] == "parent done\n"),
    Hostile("go-background-shell", "go", GO_BACKGROUND, "ok"),
    Hostile("js-detached-children", "javascript", JS_DETACHED, "ok", check=_fast(2000)),
    Hostile(
        "python-kill-minus-one-and-parent",
        "python",
        KILL_EVERYONE,
        "ok",
        check=lambda r: (
            r["output"]
            == "[-9, -9, -9]\nagent 1 Operation not permitted\nparent 1 Operation not permitted\n"
        ),
    ),
    Hostile(
        "js-kill-minus-one-kills-itself",
        "javascript",
        JS_KILL_ALL,
        "runtime_error",
        check=lambda r: r["signal"] == "SIGKILL" and "not reached" not in r["output"],
    ),
    Hostile("python-stops-itself", "python", STOP_MYSELF, "timeout", timeout_ms=1000),
    Hostile(
        "sh-fork-bomb-left-running",
        "python",
        SH_FORK_BOMB,
        "ok",
        timeout_ms=5000,
        check=lambda r: r["output"] == "main alive\n",
    ),
    Hostile(
        "python-fork-until-refused",
        "python",
        PY_FORK_LIMIT,
        "ok",
        check=lambda r: r["output"] == "fork: Resource temporarily unavailable\nTrue\n",
    ),
    Hostile(
        "cpp-fork-until-refused",
        "cpp",
        C_FORK_LIMIT,
        "runtime_error",
        check=lambda r: (
            r["exit_code"] == 1 and "fork: Resource temporarily unavailable" in r["error"]
        ),
    ),
    Hostile("cpp-fork-bomb", "cpp", CPP_FORK_BOMB, "timeout", timeout_ms=1500),
    Hostile("python-fork-churn", "python", PY_FORK_CHURN, "timeout"),
    Hostile(
        "python-thread-bomb",
        "python",
        PY_THREAD_BOMB,
        "runtime_error",
        check=_error_has("can't start new thread"),
    ),
    Hostile(
        "cpp-thread-bomb",
        "cpp",
        CPP_THREAD_BOMB,
        "runtime_error",
        check=_error_has("Resource temporarily unavailable"),
    ),
    # The Go runtime's crash report lists every goroutine: far over the output cap.
    Hostile(
        "go-thread-bomb",
        "go",
        GO_THREAD_BOMB,
        "output_limit",
        check=lambda r: r["error"].startswith("runtime: failed to create new OS thread"),
    ),
]


@pytest.mark.parametrize("case", CASES, ids=ids(CASES))
def test_process_attacks(sandbox: HostileBench, baseline, case: Hostile) -> None:
    sandbox.exercise(case)
