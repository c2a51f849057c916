"""Hostile programs that run into a limit: memory, time, output, stdin, file size."""

from __future__ import annotations

import pytest

from .hostile_support import (
    LOWERED_LIMIT_RETIRES_THE_POOL_CONTAINER,
    OOM_SIGNALS,
    Hostile,
    HostileBench,
    ids,
)

pytestmark = pytest.mark.hostile

OUTPUT_LIMIT = 65536
# The agent kills at the limit; when spinning job processes use up the container's
# CPU quota it may wake up to one CFS period late. Past the daemon's grace (2 s)
# the host would kill the container itself.
LATE_MS = 2000


def _within(limit_ms: int):
    def check(reply: dict) -> None:
        assert limit_ms <= reply["execution_time_ms"] < limit_ms + LATE_MS, reply

    return check


def _output(expected: str):
    def check(reply: dict) -> None:
        assert reply["output"] == expected, reply["output"][-2000:]

    return check


def _cut(stream: str):
    def check(reply: dict) -> None:
        assert reply["truncated"] is True
        assert len(reply[stream].encode()) >= OUTPUT_LIMIT
        if stream == "output":
            assert len(reply["output"].encode()) == OUTPUT_LIMIT
        assert reply["error"].endswith(f"output limit exceeded ({OUTPUT_LIMIT} bytes per stream)")

    return check


def _killed_for_memory(limit_mb: int):
    def check(reply: dict) -> None:
        assert reply["signal"] in OOM_SIGNALS
        assert f"memory limit exceeded ({limit_mb} MB)" in reply["error"]

    return check


CPP_MEMORY_BOMB = r"""
#include <cstring>
#include <vector>
int main() {
    std::vector<char*> hoard;
    for (;;) {
        char* block = new char[1 << 20];
        std::memset(block, 1, 1 << 20);
        hoard.push_back(block);
    }
}
"""

GO_MEMORY_BOMB = """package main

func main() {
	var hoard [][]byte
	for {
		block := make([]byte, 1<<20)
		for i := range block {
			block[i] = 1
		}
		hoard = append(hoard, block)
	}
}
"""

JS_MEMORY_BOMB = "const hoard = [];\nfor (;;) hoard.push(Buffer.alloc(1 << 20, 1));\n"

# Many small processes, each with its OOM score lowered as far as it may go, and
# the rest of the memory in tmpfs files no process owns: the kernel may pick the
# agent as its victim; then the container dies with it and is replaced.
OOM_DODGER = r"""
import os, time
fd = os.open("/proc/self/oom_score_adj", os.O_WRONLY)
os.write(fd, b"0")
os.close(fd)
block = b"x" * (1 << 20)
try:
    for i in range(100):
        with open(f"/work/run/fill{i}", "wb") as f:
            for _ in range(8):
                f.write(block)
except OSError:
    pass
for _ in range(40):
    if os.fork() == 0:
        hoard = bytearray(6 << 20)
        for i in range(0, len(hoard), 4096):
            hoard[i] = 1
        time.sleep(1000)
time.sleep(1000)
"""

THREADED_SPIN_CPP = r"""
#include <thread>
#include <vector>
int main() {
    std::vector<std::thread> spinners;
    for (int i = 0; i < 8; i++) spinners.emplace_back([] { for (volatile long n = 0;; n++) {} });
    for (auto& t : spinners) t.join();
}
"""

SPIN_GO = """package main

import "runtime"

func main() {
	for i := 0; i < 2*runtime.NumCPU(); i++ {
		go func() {
			for n := 0; ; n++ {
			}
		}()
	}
	select {}
}
"""

CPU_RLIMIT = r"""
import resource
hard = resource.getrlimit(resource.RLIMIT_CPU)[1]
resource.setrlimit(resource.RLIMIT_CPU, (1, hard))  # SIGXCPU after 1 s of CPU
while True:
    pass
"""

SLEEP_GO = """package main

import "time"

func main() { time.Sleep(time.Hour) }
"""

STDIN_COUNT_CPP = r"""
#include <iostream>
#include <string>
int main() {
    std::string word;
    long words = 0;
    while (std::cin >> word) words++;
    std::cout << "words " << words << std::endl;
}
"""

STDIN_JS = """
let data = '';
process.stdin.on('data', (chunk) => { data += chunk; });
process.stdin.on('end', () => console.log(JSON.stringify(data)));
"""

OWN_PIPE = "import os\nr, w = os.pipe()\nprint('waiting', flush=True)\nos.read(r, 1)"

FLOOD_CPP_STDERR = r"""
#include <cstdio>
int main() { for (;;) std::fputs("error error error error error error error error\n", stderr); }
"""

FLOOD_JS = "for (;;) console.log('y'.repeat(1000));\n"

ONE_HUGE_LINE_GO = """package main

import (
	"bytes"
	"os"
)

func main() { os.Stdout.Write(bytes.Repeat([]byte("x"), 100<<20)) }
"""

CLOSE_AND_HIDE = r"""
import os, time
os.close(1)
os.close(2)
time.sleep(1000)
"""

FILE_TOO_BIG_CPP = r"""
#include <fstream>
#include <string>
int main() {
    std::ofstream out("/tmp/big.bin", std::ios::binary);
    std::string block(1 << 20, 'x');
    for (int i = 0; i < 64; i++) out << block << std::flush;
}
"""

FILE_TOO_BIG_PY = r"""
with open("big.bin", "wb") as f:
    for _ in range(64):
        f.write(b"x" * (1 << 20))
"""

FILE_AT_LIMIT = r"""
import os
with open("exact.bin", "wb") as f:
    f.write(b"x" * (16 << 20))
print(os.path.getsize("exact.bin"))
try:
    with open("exact.bin", "ab") as f:
        f.write(b"x")
except OSError as exc:
    print(exc.strerror)
"""

TMPFS_FILL = r"""
block = b"x" * (1 << 20)
for n in range(8):
    with open(f"/tmp/fill{n}", "wb") as f:
        for _ in range(8):
            f.write(block)
print("filled")
"""

FALLOCATE = r"""
import os
fd = os.open("/work/run/sparse", os.O_CREAT | os.O_WRONLY)
for size in (1 << 30, 1 << 40):
    try:
        os.posix_fallocate(fd, 0, size)
    except OSError as exc:
        print(size, exc.strerror)
"""

CASES = [
    # Memory. A container the OOM killer struck in is retired (replaced=True):
    # Docker's OOMKilled flag stays set for the rest of its life, and it is what
    # tells a later loss of the container to the OOM killer from any other.
    Hostile(
        "python-memory-bomb",
        "python",
        "hoard = bytearray(1 << 30)\nprint(len(hoard))",
        "memory_limit",
        replaced=True,
        check=_killed_for_memory(400),
    ),
    Hostile("cpp-memory-bomb", "cpp", CPP_MEMORY_BOMB, "memory_limit", replaced=True),
    Hostile("go-memory-bomb", "go", GO_MEMORY_BOMB, "memory_limit", replaced=True),
    Hostile("js-memory-bomb", "javascript", JS_MEMORY_BOMB, "memory_limit", replaced=True),
    # The runtimes' own ways of running out, each a memory_limit like the OOM
    # killer's: V8's heap limit (sized to the job's limit), allocations too large
    # for any limit (MemoryError, std::bad_alloc, Go's fatal error).
    Hostile(
        "js-heap-bomb",
        "javascript",
        "const hoard = [];\nfor (let i = 0; ; i++) hoard.push({ i, list: [i, i + 1, i + 2] });\n",
        "memory_limit",
        check=lambda reply: "heap out of memory" in reply["error"],
    ),
    Hostile(
        "python-allocation-beyond-any-limit",
        "python",
        "hoard = bytearray(1 << 46)\n",
        "memory_limit",
        check=lambda reply: "MemoryError" in reply["error"],
    ),
    Hostile(
        "cpp-allocation-beyond-any-limit",
        "cpp",
        "#include <cstddef>\n"
        "int main() { char* p = new char[std::size_t(1) << 46]; return p[0]; }\n",
        "memory_limit",
        check=lambda reply: "bad_alloc" in reply["error"],
    ),
    Hostile(
        "go-allocation-beyond-any-limit",
        "go",
        'package main\n\nimport "os"\n\nfunc main() {\n'
        "\tb := make([]byte, 1<<46)\n\tos.Exit(int(b[len(b)-1]))\n}\n",
        "memory_limit",
        check=lambda reply: "out of memory" in reply["error"],
    ),
    Hostile(
        "python-memory-bomb-under-a-lowered-limit",
        "python",
        "hoard = bytearray(100 << 20)\nprint(len(hoard))",
        "memory_limit",
        replaced=True,
        memory_mb=64,
        check=_killed_for_memory(64),
    ),
    Hostile(
        "python-tmpfs-fill-under-a-lowered-limit",
        "python",
        TMPFS_FILL,
        "memory_limit",
        replaced=True,
        memory_mb=48,
    ),
    # Time, wall clock and CPU.
    Hostile(
        "python-cpu-loop",
        "python",
        "while True: pass",
        "timeout",
        timeout_ms=1000,
        check=_within(1000),
    ),
    Hostile(
        "cpp-threaded-cpu-loop",
        "cpp",
        THREADED_SPIN_CPP,
        "timeout",
        timeout_ms=1000,
        check=_within(1000),
    ),
    Hostile(
        "go-goroutine-cpu-loop",
        "go",
        SPIN_GO,
        "timeout",
        timeout_ms=1000,
        check=_within(1000),
    ),
    Hostile(
        "js-cpu-loop",
        "javascript",
        "for (;;) {}",
        "timeout",
        timeout_ms=1000,
        check=_within(1000),
    ),
    # A CPU limit of the program's own making is no limit of the job's: it dies
    # of its signal (runtime_error), not of a timeout.
    Hostile(
        "python-lowers-its-own-cpu-rlimit",
        "python",
        CPU_RLIMIT,
        "runtime_error",
        timeout_ms=6000,
        check=lambda r: r["signal"] == "SIGXCPU" and r["execution_time_ms"] < 6000,
    ),
    Hostile(
        "python-sleep-forever",
        "python",
        "import time\ntime.sleep(10**6)",
        "timeout",
        timeout_ms=1000,
        check=_within(1000),
    ),
    Hostile("go-sleep-forever", "go", SLEEP_GO, "timeout", timeout_ms=1000),
    Hostile(
        "js-interval-forever",
        "javascript",
        "setInterval(() => {}, 1000);",
        "timeout",
        timeout_ms=1500,
    ),
    Hostile(
        "python-closes-output-and-hides",
        "python",
        CLOSE_AND_HIDE,
        "timeout",
        timeout_ms=1000,
    ),
    # Stdin: closed (EOF) when the request has none; never a hang.
    Hostile(
        "python-input-without-stdin",
        "python",
        "print(input())",
        "runtime_error",
        check=lambda r: "EOFError" in r["error"] and r["execution_time_ms"] < 1000,
    ),
    Hostile("cpp-reads-stdin-to-eof", "cpp", STDIN_COUNT_CPP, "ok", check=_output("words 0\n")),
    Hostile(
        "js-stdin-without-newline",
        "javascript",
        STDIN_JS,
        "ok",
        stdin="no newline at the end",
        check=_output('"no newline at the end"\n'),
    ),
    Hostile(
        "python-ignores-a-megabyte-of-stdin",
        "python",
        "print('ignored')",
        "ok",
        stdin="z" * (1 << 20),
        check=_output("ignored\n"),
    ),
    Hostile(
        "python-blocks-on-its-own-pipe",
        "python",
        OWN_PIPE,
        "timeout",
        timeout_ms=1000,
        check=_output("waiting\n"),
    ),
    # Output, capped where it is produced.
    Hostile(
        "python-stdout-flood",
        "python",
        "while True: print('y' * 1000)",
        "output_limit",
        check=_cut("output"),
    ),
    Hostile(
        "cpp-stderr-flood",
        "cpp",
        FLOOD_CPP_STDERR,
        "output_limit",
        check=_cut("error"),
    ),
    Hostile(
        "js-stdout-flood",
        "javascript",
        FLOOD_JS,
        "output_limit",
        check=_cut("output"),
    ),
    Hostile(
        "go-one-huge-line",
        "go",
        ONE_HUGE_LINE_GO,
        "output_limit",
        check=_cut("output"),
    ),
    Hostile(
        "python-output-exactly-at-the-limit",
        "python",
        f"import sys\nsys.stdout.write('x' * {OUTPUT_LIMIT})",
        "ok",
        check=lambda r: r["output"] == "x" * OUTPUT_LIMIT and r["truncated"] is False,
    ),
    Hostile(
        "python-output-one-byte-over",
        "python",
        f"import sys\nsys.stdout.write('x' * {OUTPUT_LIMIT + 1})",
        "output_limit",
        check=_cut("output"),
    ),
    Hostile(
        "python-non-utf8-output",
        "python",
        "import sys\nsys.stdout.buffer.write(bytes(range(256)))",
        "ok",
        check=lambda r: r["output"].startswith("\x00\x01") and "\ufffd" in r["output"],
    ),
    # Files.
    Hostile(
        "cpp-file-over-the-size-limit",
        "cpp",
        FILE_TOO_BIG_CPP,
        "runtime_error",
        check=lambda r: r["signal"] == "SIGXFSZ" and "file size limit exceeded" in r["error"],
    ),
    Hostile(
        "python-file-over-the-size-limit",
        "python",
        FILE_TOO_BIG_PY,
        "runtime_error",
        check=lambda r: "File too large" in r["error"],
    ),
    Hostile(
        "python-file-exactly-at-the-size-limit",
        "python",
        FILE_AT_LIMIT,
        "ok",
        check=_output(f"{16 << 20}\nFile too large\n"),
    ),
    Hostile(
        "python-fallocate-past-every-limit",
        "python",
        FALLOCATE,
        "ok",
        check=_output(f"{1 << 30} File too large\n{1 << 40} File too large\n"),
    ),
]


@pytest.mark.parametrize("case", CASES, ids=ids(CASES))
def test_limits(sandbox: HostileBench, baseline, case: Hostile) -> None:
    sandbox.exercise(case)


def test_oom_dodger_cannot_keep_the_container(sandbox: HostileBench, baseline) -> None:
    """memory_limit either way (see OOM_DODGER): when a job process is the OOM
    victim, and when the agent is (the container is gone, Docker reports it
    OOM-killed, and the host says so). The container is replaced either way (an
    OOM kill retires it); the next job finds nothing."""
    before = sandbox.container()
    reply = sandbox.run("python", OOM_DODGER, memory_mb=160, timeout_ms=5000)
    assert reply["status"] == "memory_limit", reply
    assert "160 MB" in reply["error"]
    sandbox.assert_clean()
    if LOWERED_LIMIT_RETIRES_THE_POOL_CONTAINER:
        assert sandbox.container() != before
        sandbox.replacements += 1
    else:
        assert sandbox.container() == before
