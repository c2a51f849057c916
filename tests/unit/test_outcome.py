"""Agent facts to statuses: every verdict from a fact, the same on both subjects."""

import random
import signal

import pytest

from agent.protocol import StepResult
from service.jobs import outcome
from service.jobs.outcome import verdict
from service.languages import lookup
from service.testing import step_result
from wire import Status

PYTHON, NODE, GO, CPP = (lookup(name) for name in ("python", "javascript", "go", "cpp"))
JAVA, MONO, PHP = (lookup(name) for name in ("java", "csharp", "php"))
JAVA_HEAP = (
    b'Exception in thread "main" java.lang.OutOfMemoryError: Java heap space\n\tat Main.main'
)
JAVA_THREADS = (
    b"[0.3s][warning][os,thread] Failed to start thread - pthread_create failed (EAGAIN)\n"
    b'Exception in thread "main" java.lang.OutOfMemoryError: unable to create native thread: '
    b"possibly out of memory or process/resource limits reached\n"
)


def step(**fields) -> StepResult:
    return step_result(**fields)


@pytest.mark.parametrize(
    ("fields", "status"),
    [
        ({}, Status.OK),
        ({"exit_code": 2}, Status.RUNTIME_ERROR),
        ({"exit_code": None, "signal": 11}, Status.RUNTIME_ERROR),
        ({"timed_out": True, "exit_code": None, "signal": 9}, Status.TIMEOUT),
        ({"oom_killed": True, "exit_code": None, "signal": 9}, Status.MEMORY_LIMIT),
        ({"output_exceeded": True, "exit_code": None, "signal": 9}, Status.OUTPUT_LIMIT),
    ],
)
def test_verdicts(fields, status):
    for language in (PYTHON, NODE, GO, CPP):
        assert verdict(step(**fields), language) is status


def test_a_timeout_while_held_at_the_memory_limit_is_memory_limit():
    stalled = step(timed_out=True, exit_code=None, signal=9, memory_limit_reached=True)
    assert verdict(stalled, GO) is Status.MEMORY_LIMIT
    # A high peak alone is no fact: the kernel never held it at the limit.
    busy = step(timed_out=True, exit_code=None, signal=9, memory_kb=399 * 1024)
    assert verdict(busy, GO) is Status.TIMEOUT
    # Reaching the limit and finishing in time is no failure at all.
    assert verdict(step(memory_limit_reached=True), GO) is Status.OK


PYTHON_MEMORY_ERROR = (
    b'Traceback (most recent call last):\n  File "/work/build/main.py", line 1, in <module>\n'
    b"    hoard = bytearray(1 << 40)\n            ^^^^^^^^^^^^^^^^\nMemoryError\n"
)
NODE_HEAP = (
    b"<--- Last few GCs --->\n\nFATAL ERROR: Reached heap limit Allocation failed - "
    b"JavaScript heap out of memory\n 1: 0xb7a940 node::Abort() [node]\n"
)
GO_OOM = b"fatal error: runtime: out of memory\n\ngoroutine 1 [running]:\n"
CPP_BAD_ALLOC = (
    b"terminate called after throwing an instance of 'std::bad_alloc'\n  what():  std::bad_alloc\n"
)


@pytest.mark.parametrize(
    ("language", "fields"),
    [
        (PYTHON, {"exit_code": 1, "stderr": PYTHON_MEMORY_ERROR}),
        (PYTHON, {"exit_code": 1, "stderr": b"...\nMemoryError: cannot allocate\n"}),
        (NODE, {"exit_code": None, "signal": signal.SIGABRT, "stderr": NODE_HEAP}),
        (NODE, {"exit_code": 134, "stderr": NODE_HEAP}),
        (GO, {"exit_code": 2, "stderr": GO_OOM}),
        (
            GO,
            {
                "exit_code": 2,
                "stderr": b"runtime: out of memory: cannot allocate 70368744177664"
                b"-byte block (3964928 in use)\nfatal error: out of memory\n",
            },
        ),
        (GO, {"exit_code": 2, "stderr": GO_OOM + b"goroutine dump\n" * 2000}),
        (CPP, {"exit_code": None, "signal": signal.SIGABRT, "stderr": CPP_BAD_ALLOC}),
        (JAVA, {"exit_code": 1, "stderr": JAVA_HEAP}),
        # Mono may exit 0 after running out: its words decide.
        (MONO, {"exit_code": 0, "stderr": b"Unhandled Exception:\nSystem.OutOfMemoryException"}),
        (PHP, {"exit_code": 255, "stderr": b"PHP Fatal error:  Allowed memory size of 2 bytes"}),
    ],
)
def test_a_runtime_that_ran_out_of_memory_is_memory_limit(language, fields):
    assert verdict(step(**fields), language) is Status.MEMORY_LIMIT


@pytest.mark.parametrize(
    ("language", "fields", "status"),
    [
        # Words alone are not a death: the program printed them and went on.
        (PYTHON, {"exit_code": 0, "stderr": PYTHON_MEMORY_ERROR}, Status.OK),
        (NODE, {"exit_code": 0, "stderr": NODE_HEAP}, Status.OK),
        (CPP, {"exit_code": 0, "stderr": CPP_BAD_ALLOC}, Status.OK),
        (GO, {"exit_code": 1, "stderr": GO_OOM}, Status.RUNTIME_ERROR),
        # Another error, whatever it mentioned first.
        (
            PYTHON,
            {"exit_code": 1, "stderr": PYTHON_MEMORY_ERROR + b"ValueError\n"},
            Status.RUNTIME_ERROR,
        ),
        # Each runtime's own words only.
        (PYTHON, {"exit_code": 2, "stderr": GO_OOM}, Status.RUNTIME_ERROR),
        # The JVM at the process limit says OutOfMemoryError: that is no memory.
        (JAVA, {"exit_code": 1, "stderr": JAVA_THREADS}, Status.RUNTIME_ERROR),
    ],
)
def test_no_memory_limit_without_the_runtimes_own_report(language, fields, status):
    assert verdict(step(**fields), language) is status


def test_each_runtime_heap_is_sized_to_the_jobs_limit():
    snapshot = "/opt/code-engine/node-snapshots/heap-{}.blob".format
    main = ["--require", "/opt/code-engine/agent/launchers/node_esm.js", "/work/build/main.js"]
    assert NODE.run_command(400) == [
        "node", "--max-old-space-size=272", "--snapshot-blob", snapshot(272), *main
    ]  # fmt: skip
    assert NODE.run_command(128) == [
        "node", "--max-old-space-size=64", "--snapshot-blob", snapshot(64), *main
    ]  # fmt: skip
    # A limit the image made no snapshot for starts Node as it is.
    assert NODE.run_command(300) == ["node", "--max-old-space-size=172", *main]
    assert GO.run_environment(400)["GOMEMLIMIT"] == "360MiB"
    assert PYTHON.run_command(400) == ["python3", "-E", "-s", "-B", "/work/build/main.py"]
    assert "GOMEMLIMIT" not in CPP.run_environment(400)


@pytest.mark.parametrize("piece_bytes", [1, 2, 3, 5])
def test_output_text_read_in_pieces_is_the_whole_decoded_at_once(monkeypatch, piece_bytes):
    # A character (or an invalid sequence) split between two pieces is still one.
    monkeypatch.setattr(outcome, "PIECE_BYTES", piece_bytes)
    parts = [b"a", b"\xc3\xa9", b"\xe2\x82\xac", b"\xf0\x9f\x98\x80", b"\xff", b"\xc3", b"\xe2\x82"]
    parts += [b"\xed\xa0\x80", b"\xf4\x90\x80\x80", b"\xc0\xaf", b"\n"]
    rng = random.Random(piece_bytes)
    for _ in range(5_000):
        data = b"".join(rng.choices(parts, k=rng.randint(0, 30)))
        assert outcome.text(data) == data.decode("utf-8", "replace"), data
