"""The worker agent in a real, hardened container, driven over its stdin/stdout.

The container is created from the daemon's own specification
(:func:`service.sandbox.spec.container_config`) and spoken to in the typed
messages of :mod:`agent.protocol`; no daemon is involved.
"""

from __future__ import annotations

import itertools
import os
import selectors
import subprocess
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from agent.protocol import (
    PROTOCOL_VERSION,
    AgentMessage,
    Cleaned,
    Cleanup,
    Error,
    Finish,
    Finished,
    HostMessage,
    Job,
    MessageBuffer,
    Ping,
    Pong,
    ProtocolError,
    Ready,
    Result,
    Run,
    Step,
    StepLimits,
    StepResult,
    agent_message_from,
    encode,
)
from service.config import Settings
from service.languages import all_languages
from service.sandbox.image import context_tar
from service.sandbox.spec import container_config
from service.testing.probes import IS_ENGINE_PROCESS
from service.testing.waiting import wait_until

pytestmark = pytest.mark.integration

IMAGE = "code-engine-worker:test"


def settings(**overrides: Any) -> Settings:
    """The daemon's defaults, for this test's image and under its own instance label."""
    environ = {"DOCKER_HOST": os.environ["DOCKER_HOST"]} if "DOCKER_HOST" in os.environ else {}
    return Settings.from_env(
        environ, image=IMAGE, instance_id=f"agent-test-{os.getpid()}", **overrides
    )


# The daemon's CPU share (0.5) would stretch every timing below on a loaded
# machine; all the host's CPUs make it no limit at all, as these tests had
# before. test_spinning_processes_do_not_starve_the_agent keeps the share.
UNTHROTTLED = settings(cpus=float(os.cpu_count() or 1))
FSIZE_HARD = next(
    limit["Hard"]
    for limit in container_config(UNTHROTTLED)["HostConfig"]["Ulimits"]
    if limit["Name"] == "fsize"
)

PATH = "/usr/local/bin:/usr/bin:/bin"
RUN_ENV = {"PATH": PATH, "HOME": "/work/run", "LANG": "C.UTF-8"}
# The engine's Go compile environment (cgo off, the standard library the image
# compiled under it taken as it is), with a fresh cache per job inside the build dir.
GO_ENV = {
    **next(lang for lang in all_languages() if lang.name == "go").compile_environment(),
    "GOCACHE": "/work/build/.cache/go-build",
    "GOPATH": "/work/build/.cache/gopath",
}
CPP_COMPILE = ["g++", "-O2", "-std=c++17", "-pipe", "-o", "/work/build/main", "main.cpp"]


def text(data: bytes) -> str:
    return data.decode(errors="replace")


def step(
    argv: list[str],
    *,
    env: dict[str, str] | None = None,
    timeout_ms: int = 5000,
    output_limit: int = 65536,
    stdin: str | None = None,
    file_size_limit: int = 16 << 20,
) -> Step:
    return Step(
        argv=argv,
        env=RUN_ENV if env is None else env,
        limits=StepLimits(
            wall_ms=timeout_ms, output_bytes=output_limit, file_size_bytes=file_size_limit
        ),
        stdin=b"" if stdin is None else stdin.encode(),
    )


def py(code: str, **kwargs: Any) -> Step:
    return step(["python3", "-I", "-B", "-c", code], **kwargs)


def sh(script: str, **kwargs: Any) -> Step:
    return step(["sh", "-c", script], **kwargs)


_names = itertools.count()


def _create(name: str, config: dict[str, Any]) -> None:
    """``POST /containers/create`` with the spec's body, as the daemon does."""
    transport = httpx.HTTPTransport(uds=UNTHROTTLED.docker_socket)
    with httpx.Client(transport=transport, base_url="http://docker") as client:
        response = client.post("/containers/create", params={"name": name}, json=config)
    assert response.status_code == 201, response.text


class AgentProcess:
    """A worker container made from the daemon's spec, attached with ``docker start -ai``."""

    def __init__(self, config: Settings = UNTHROTTLED) -> None:
        self.name = f"code-engine-agent-test-{os.getpid()}-{next(_names)}"
        body = container_config(config)
        # Only two changes to the spec: closing our end of the attach closes the
        # agent's stdin (as `docker run -i` does; the daemon never closes it), and
        # a container whose agent exited removes itself.
        body["StdinOnce"] = True
        body["HostConfig"]["AutoRemove"] = True
        _create(self.name, body)
        self.proc = subprocess.Popen(
            ["docker", "start", "--attach", "--interactive", self.name],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
        )
        self.messages = MessageBuffer()
        self.counter = 0
        self.ready = self.receive(timeout=30)

    def alive(self) -> bool:
        return self.proc.poll() is None

    def send_line(self, line: bytes) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(line)
        self.proc.stdin.flush()

    def send(self, message: HostMessage) -> None:
        self.send_line(encode(message))

    def receive(self, timeout: float = 30) -> AgentMessage:
        assert self.proc.stdout is not None
        fd = self.proc.stdout.fileno()
        deadline = time.monotonic() + timeout
        with selectors.DefaultSelector() as sel:
            sel.register(fd, selectors.EVENT_READ)
            while (parsed := self.messages.next()) is None:
                left = deadline - time.monotonic()
                if left <= 0 or not sel.select(left):
                    raise TimeoutError("no reply from the agent")
                chunk = os.read(fd, 1 << 20)
                if not chunk:
                    raise EOFError("the agent's stdout closed")
                self.messages.feed(chunk)
        return agent_message_from(parsed)

    def request(self, message: HostMessage, timeout: float = 30) -> AgentMessage:
        self.send(message)
        return self.receive(timeout)

    def job(
        self,
        files: dict[str, str | bytes],
        runs: list[Step],
        *,
        compile: Step | None = None,
        finish: bool = True,
        timeout: float = 30,
    ) -> Result:
        self.counter += 1
        encoded = {
            name: data if isinstance(data, bytes) else data.encode() for name, data in files.items()
        }
        message = Job(f"job-{self.counter}", encoded, compile, runs, finish=finish)
        reply = self.request(message, timeout)
        assert isinstance(reply, Result) and reply.id == message.id, reply
        return reply

    def run(self, runs: list[Step], *, finish: bool = True) -> AgentMessage:
        self.counter += 1
        return self.request(Run(f"run-{self.counter}", runs, finish=finish))

    def close(self) -> None:
        if self.proc.stdin:
            self.proc.stdin.close()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        # Gone already when the agent exited (AutoRemove); not when it hung.
        subprocess.run(["docker", "rm", "-f", self.name], capture_output=True)


@pytest.fixture(scope="session")
def worker_image() -> str:
    """The worker image from this checkout, built from the context the daemon sends."""
    build = subprocess.run(
        ["docker", "build", "-q", "-t", IMAGE, "-"],
        input=context_tar(),
        capture_output=True,
    )
    if build.returncode != 0:
        pytest.fail(f"docker build failed:\n{build.stderr.decode(errors='replace')}")
    return IMAGE


@pytest.fixture(scope="module")
def shared_agent(worker_image: str) -> Iterator[list[AgentProcess]]:
    holder = [AgentProcess()]
    yield holder
    holder[0].close()


@pytest.fixture
def agent(shared_agent: list[AgentProcess]) -> AgentProcess:
    """The module's agent, replaced if an earlier test took it down or left a reply unread."""
    try:
        assert shared_agent[0].request(Ping(), timeout=5) == Pong()
    except (AssertionError, OSError, EOFError, TimeoutError, ProtocolError):
        shared_agent[0].proc.kill()
        shared_agent[0].close()
        shared_agent[0] = AgentProcess()
    return shared_agent[0]


def run_one(
    agent: AgentProcess, run: Step, files: dict[str, str | bytes] | None = None
) -> StepResult:
    reply = agent.job(files or {}, [run])
    assert reply.error is None, reply
    assert reply.cleanup is Cleanup.CLEAN, reply
    return reply.runs[0]


def test_ready_and_ping(agent):
    assert agent.ready == Ready(PROTOCOL_VERSION)
    assert agent.request(Ping()) == Pong()


def test_bad_json_and_unknown_type(agent):
    # Lines no typed message encodes to, so written by hand.
    agent.send_line(b'{"type": "nope", "id": "x"}\n')
    assert agent.receive() == Error("unknown type: 'nope'", "x")
    agent.send_line(b"{not json\n")
    reply = agent.receive()
    assert isinstance(reply, Error) and reply.message.startswith("bad json: "), reply
    assert agent.request(Ping()) == Pong()


def test_malformed_requests_get_a_result_when_their_id_is_readable(agent):
    agent.send_line(b'{"type": "job", "id": "j", "runs": "x"}\n')
    assert agent.receive() == Result("j", error="bad request: runs must be a list")
    agent.send_line(b'{"type": "run", "id": "r", "runs": [{"argv": []}]}\n')
    assert agent.receive() == Result(
        "r", error="bad request: argv must be a non-empty list of strings without NUL"
    )
    agent.send_line(b'{"type": "finish", "id": 5}\n')
    assert agent.receive() == Error("id must be a string")
    assert agent.request(Ping()) == Pong()


def test_python_hello(agent):
    result = run_one(
        agent, step(["python3", "-I", "-B", "/work/build/main.py"]), {"main.py": 'print("hello")'}
    )
    assert text(result.stdout) == "hello\n"
    assert result.exit_code == 0 and result.signal is None
    assert not result.timed_out and not result.oom_killed and not result.output_exceeded
    assert 0 < result.wall_ms < 2000
    assert result.memory_kb is not None and result.memory_kb > 0


def test_stdin_echo(agent):
    data = "line one\n" + "x" * 200_000 + "\n"
    result = run_one(
        agent,
        py("import sys; sys.stdout.write(sys.stdin.read())", stdin=data, output_limit=1 << 20),
    )
    assert text(result.stdout) == data


def test_empty_stdin_is_eof(agent):
    result = run_one(agent, py("import sys; print(repr(sys.stdin.read()))"))
    assert text(result.stdout) == "''\n"


def test_nonzero_exit_and_stderr(agent):
    result = run_one(agent, py("import sys; print('oops', file=sys.stderr); sys.exit(3)"))
    assert result.exit_code == 3 and result.signal is None
    assert text(result.stderr) == "oops\n"


def test_killed_by_signal(agent):
    result = run_one(agent, py("import os, signal; os.kill(os.getpid(), signal.SIGSEGV)"))
    assert result.exit_code is None and result.signal == 11
    assert not result.timed_out


def test_missing_program(agent):
    result = run_one(agent, step(["/work/build/nothing-here"]))
    assert result.exit_code == 127
    assert "nothing-here" in text(result.stderr)


def test_timeouts(agent):
    busy, sleepy = agent.job(
        {}, [py("while True: pass", timeout_ms=700), sh("sleep 60", timeout_ms=500)]
    ).runs
    for result, limit in ((busy, 700), (sleepy, 500)):
        assert result.timed_out and result.signal == 9, result
        assert limit <= result.wall_ms < limit + 1000
    assert busy.cpu_ms > 300


def test_output_flood_is_cut(agent):
    result = run_one(agent, py("while True: print('x' * 999)", output_limit=10_000))
    assert result.output_exceeded and result.stdout_truncated
    assert not result.stderr_truncated
    assert len(result.stdout) == 10_000
    assert result.signal == 9 and not result.timed_out


def test_memory_bomb_is_oom_killed(agent):
    result = run_one(agent, py("b = b'x' * (1 << 30)\nprint(len(b))"))
    assert result.oom_killed and result.signal == 9, result
    assert result.exit_code is None
    assert agent.request(Ping()) == Pong()


CPP_HELLO = '#include <iostream>\nint main() { std::cout << "hello c++" << std::endl; }\n'
GO_HELLO = 'package main\nimport "fmt"\nfunc main() { fmt.Println("hello go") }\n'


def test_cpp_compile_and_run(agent):
    reply = agent.job(
        {"main.cpp": CPP_HELLO},
        [step(["/work/build/main"])],
        compile=step(CPP_COMPILE, env={"PATH": PATH, "HOME": "/work/build"}, timeout_ms=20_000),
    )
    assert reply.compile.exit_code == 0, text(reply.compile.stderr)
    assert text(reply.runs[0].stdout) == "hello c++\n"
    assert reply.cleanup is Cleanup.CLEAN


def test_cpp_compile_error_runs_nothing(agent):
    reply = agent.job(
        {"main.cpp": "int main() { return nope; }"},
        [step(["/work/build/main"])],
        compile=step(CPP_COMPILE, env={"PATH": PATH, "HOME": "/work/build"}, timeout_ms=20_000),
    )
    assert reply.compile.exit_code == 1
    assert "nope" in text(reply.compile.stderr)
    assert reply.runs == [] and reply.cleanup is Cleanup.CLEAN and reply.error is None


def test_go_build_and_run(agent):
    compile_step = step(
        ["go", "build", "-o", "/work/build/main", "main.go"], env=GO_ENV, timeout_ms=30_000
    )
    reply = agent.job({"main.go": GO_HELLO}, [step(["/work/build/main"])], compile=compile_step)
    assert reply.compile.exit_code == 0, text(reply.compile.stderr)
    assert text(reply.runs[0].stdout) == "hello go\n"
    assert reply.cleanup is Cleanup.CLEAN


def test_node_hello(agent):
    result = run_one(
        agent, step(["node", "/work/build/main.js"]), {"main.js": 'console.log("hello node")'}
    )
    assert text(result.stdout) == "hello node\n"


# Every process but the agent, this one and the engine's fork server.
LIST_OTHER_PROCESSES = IS_ENGINE_PROCESS + (
    "import os\n"
    "mine = {'1', str(os.getpid())}\n"
    "print(sorted(p for p in os.listdir('/proc') if p.isdigit() and p not in mine"
    " and not engine(p)))\n"
)


def test_background_processes_do_not_survive(agent):
    script = "setsid sleep 1000 & (sleep 1000 &) ; sh -c 'sleep 1000 &' ; echo started"
    reply = agent.job({}, [sh(script), py(LIST_OTHER_PROCESSES)])
    first, second = reply.runs
    assert text(first.stdout) == "started\n"
    assert first.wall_ms < 2000 and not first.timed_out
    assert text(second.stdout) == "[]\n"
    assert reply.cleanup is Cleanup.CLEAN


def test_files_do_not_survive_a_run(agent):
    write = sh("echo a > /tmp/left; echo b > /work/run/left; echo c > /dev/shm/left; ls /tmp")
    look = sh("ls -A /tmp /work/run /dev/shm")
    reply = agent.job({}, [write, look])
    assert text(reply.runs[0].stdout) == "left\n"
    assert text(reply.runs[1].stdout) == "/dev/shm:\n\n/tmp:\n\n/work/run:\n"


def test_a_kept_builds_program_comes_with_the_first_runs_cleanup_not_its_result(agent):
    compile = step(CPP_COMPILE, env={"PATH": PATH, "HOME": "/work/build"}, timeout_ms=20_000)
    prepared = agent.request(
        Job("keep-1", {"main.cpp": CPP_HELLO.encode()}, compile, [], finish=False, collect="main")
    )
    assert isinstance(prepared, Result) and prepared.compile.exit_code == 0, prepared
    assert prepared.program is None and prepared.cleanup is Cleanup.CLEAN
    ran = agent.request(Run("keep-2", [step(["/work/build/main"])], finish=True, early_result=True))
    assert isinstance(ran, Result) and text(ran.runs[0].stdout) == "hello c++\n"
    assert ran.program is None and ran.cleanup is Cleanup.OWED
    cleaned = agent.receive()
    assert isinstance(cleaned, Cleaned) and cleaned.clean, cleaned
    assert cleaned.program is not None and cleaned.program.startswith(b"\x7fELF")


def test_build_is_kept_across_run_messages_then_finished(agent):
    code = {"main.py": "import sys; print(sys.stdin.read().upper())"}
    run = step(["python3", "-I", "-B", "/work/build/main.py"], stdin="abc")
    first = agent.job(code, [run], finish=False)
    assert text(first.runs[0].stdout) == "ABC\n" and first.cleanup is Cleanup.CLEAN
    second = agent.run([run, sh("ls -la /work/build; touch /work/build/x")], finish=False)
    assert second.error is None and second.cleanup is Cleanup.CLEAN
    listing = text(second.runs[1].stdout)
    assert "root root" in listing and "-rw-r--r--" in listing
    assert "Permission denied" in text(second.runs[1].stderr)
    assert agent.request(Finish("done")) == Finished("done", True)
    refused = agent.run([run])
    assert isinstance(refused, Result) and refused.error == "no prepared build"


def test_bad_file_names_are_rejected(agent):
    for name in ("../evil", "a/../b", "/etc/x", "a//b", ".hidden", "", "x" * 256):
        reply = agent.job({name: "data"}, [sh("echo ran")])
        assert reply.error.startswith("bad request"), (name, reply)
        assert reply.runs == []


def test_files_in_directories_are_written_and_locked(agent):
    reply = agent.job(
        {"pkg/sub/m.txt": "deep", "pkg/n.txt": "near"},
        [sh("cd /work/build/pkg; cat sub/m.txt n.txt; stat -c '%U %a' .")],
    )
    assert reply.error is None, reply
    assert text(reply.runs[0].stdout) == "deepnearroot 755\n"


def test_symlinks_in_the_build_are_not_followed(agent):
    plant = sh(
        "ln -s /etc/passwd passwd-link; ln -s /dev/shm shm-link; mkdir d; "
        "ln -s /tmp d/tmp-link; ln -s /etc d/etc-link; echo x > plain"
    )
    check = sh(
        "stat -c '%u %g %a %n' /etc/passwd /dev/shm /tmp /etc; "
        "stat -c '%u %a %F %n' /work/build/plain /work/build/d /work/build/passwd-link"
    )
    reply = agent.job({}, [check], compile=plant)
    assert reply.compile.exit_code == 0 and reply.cleanup is Cleanup.CLEAN
    lines = text(reply.runs[0].stdout).splitlines()
    assert lines[:4] == [
        "0 0 644 /etc/passwd",
        "0 0 1777 /dev/shm",
        "0 0 1777 /tmp",
        "0 0 755 /etc",
    ]
    assert lines[4:] == [
        "0 644 regular file /work/build/plain",
        "0 755 directory /work/build/d",
        "0 777 symbolic link /work/build/passwd-link",
    ]


def test_job_cannot_kill_the_agent(agent):
    # kill(-1) reaches every process of the job user except the caller itself.
    script = "sleep 100 & kill -9 1; kill -TERM 1; kill -9 -1; wait; echo survived"
    reply = agent.job({}, [sh(script), py("import os; os.kill(1, 9)")])
    first, second = reply.runs
    assert text(first.stdout) == "survived\n"
    assert text(first.stderr).count("Operation not permitted") == 2
    assert second.exit_code == 1 and b"PermissionError" in second.stderr
    assert reply.cleanup is Cleanup.CLEAN
    assert agent.request(Ping()) == Pong()


IPC_MAKE = """import ctypes, os
libc = ctypes.CDLL(None)
rt = ctypes.CDLL("librt.so.1")
ids = [libc.shmget(0, 4096, 0o1600), libc.msgget(0, 0o1600), libc.semget(0, 1, 0o1600)]
ids.append(rt.mq_open(b"/queue", os.O_CREAT | os.O_RDWR, 0o600, None))
print(min(ids) >= 0, os.listdir("/dev/mqueue"))
"""


def test_ipc_objects_are_removed(agent):
    look = sh(
        "cat /proc/sysvipc/shm /proc/sysvipc/msg /proc/sysvipc/sem | grep -vc key; "
        "ls -A /dev/mqueue"
    )
    reply = agent.job({}, [py(IPC_MAKE), look])
    assert text(reply.runs[0].stdout) == "True ['queue']\n"
    assert text(reply.runs[1].stdout) == "0\n"
    assert reply.cleanup is Cleanup.CLEAN


def test_large_message(agent):
    blob = os.urandom(8 << 20)
    result = run_one(agent, sh("wc -c < /work/build/blob.bin"), {"blob.bin": blob})
    assert text(result.stdout).strip() == str(len(blob))


def test_fork_bomb_is_contained(agent):
    reply = agent.job(
        {}, [sh("f(){ f|f& }; f; sleep 1", timeout_ms=1500), py(LIST_OTHER_PROCESSES)]
    )
    assert text(reply.runs[1].stdout) == "[]\n"
    assert reply.cleanup is Cleanup.CLEAN


CPU_HOG = """import resource
print(resource.getrlimit(resource.RLIMIT_CPU), flush=True)
resource.setrlimit(resource.RLIMIT_CPU, (1, 5))
while True:
    pass
"""


def test_a_cpu_rlimit_of_the_programs_own_is_no_engine_limit(agent):
    # The agent sets RLIMIT_CPU to (ceil(timeout) + 1, + 1); a program that lowers
    # its soft limit dies of SIGXCPU at a limit of its own: a signal, not a timeout
    # (only CPU time that reached the engine's limit is).
    result = run_one(agent, py(CPU_HOG, timeout_ms=2500))
    assert text(result.stdout) == "(4, 5)\n"
    assert result.signal == 24 and not result.cpu_exceeded and not result.timed_out, result
    assert 900 < result.cpu_ms and result.wall_ms < 2500


def test_deep_trees_are_wiped(agent):
    deep = "import os\nos.chdir('/tmp')\nfor _ in range(3000):\n    os.mkdir('d'); os.chdir('d')"
    reply = agent.job({}, [py(deep), sh("ls -A /tmp")])
    assert reply.runs[0].exit_code == 0
    assert text(reply.runs[1].stdout) == ""
    assert reply.cleanup is Cleanup.CLEAN


def test_stdin_close_ends_the_agent(worker_image):
    agent = AgentProcess()
    agent.proc.stdin.close()
    assert agent.proc.wait(10) == 0


def test_sigterm_ends_the_agent_promptly(worker_image):
    agent = AgentProcess()
    agent.send(Job("slow", {}, runs=[sh("sleep 30", timeout_ms=60_000)]))
    top = ["docker", "top", agent.name, "-eo", "pid,args"]
    wait_until(
        lambda: "sleep 30" in subprocess.run(top, capture_output=True, text=True).stdout,
        timeout=10,
        what="the job started",
    )
    started = time.monotonic()
    subprocess.run(
        ["docker", "kill", "--signal", "TERM", agent.name], check=True, stdout=subprocess.DEVNULL
    )
    assert agent.proc.wait(10) == 0
    assert time.monotonic() - started < 3


def test_file_size_limit_is_capped_by_the_container_ulimit(agent):
    asked = run_one(agent, sh("ulimit -f", file_size_limit=4 << 20))
    assert text(asked.stdout) == f"{(4 << 20) // 512}\n"
    # More than the container's hard limit: clamped to it, not an agent failure.
    capped = run_one(agent, sh("ulimit -f; ulimit -Hf", file_size_limit=8 << 30))
    assert text(capped.stdout) == f"{FSIZE_HARD // 512}\n" * 2


IO_URING = """import ctypes, errno
libc = ctypes.CDLL(None, use_errno=True)
params = ctypes.create_string_buffer(120)
for nr in (425, 0x40000000 | 425, 426, 427):
    result = libc.syscall(nr, 4, params, 0, 0, 0)
    print(result, errno.errorcode.get(ctypes.get_errno()))
print(libc.syscall(39) > 0)  # getpid still works
"""


def test_jobs_cannot_use_io_uring(agent):
    result = run_one(agent, py(IO_URING))
    assert text(result.stdout) == "-1 ENOSYS\n" * 4 + "True\n", text(result.stderr)


SCHEDULING = """import os
print(os.sched_getscheduler(0) == os.SCHED_IDLE)
try:
    os.sched_setscheduler(0, os.SCHED_OTHER, os.sched_param(0))
except PermissionError:
    print("stays idle")
"""


def test_jobs_run_at_idle_priority_and_stay_there(agent):
    result = run_one(agent, py(SCHEDULING))
    assert text(result.stdout) == "True\nstays idle\n", text(result.stderr)


SPINNERS = """import os
for _ in range(100):
    if os.fork() == 0:
        break
while True:
    pass
"""


def test_spinning_processes_do_not_starve_the_agent(worker_image):
    # The container's CPU quota, as the daemon sets it (0.5 CPU over 200 ms).
    daemons = settings()
    assert (daemons.cpus, daemons.cpu_period_ms) == (0.5, 200)
    throttled = AgentProcess(daemons)
    try:
        reply = throttled.job({}, [py(SPINNERS, timeout_ms=1000)])
        result = reply.runs[0]
        assert result.timed_out and reply.cleanup is Cleanup.CLEAN, reply
        assert result.wall_ms < 1000 + 700, result.wall_ms
    finally:
        throttled.close()


def test_early_result_then_cleaned(agent):
    leave = sh("echo left > /tmp/left; sleep 1000 & echo done")
    result = agent.request(Job("early", {}, runs=[leave], early_result=True))
    assert isinstance(result, Result) and result.cleanup is Cleanup.OWED, result
    assert text(result.runs[0].stdout) == "done\n"
    assert agent.receive() == Cleaned("early", True)
    after = agent.job({}, [sh("ls -A /tmp"), py(LIST_OTHER_PROCESSES)])
    assert [text(run.stdout) for run in after.runs] == ["", "[]\n"]


def test_early_result_after_a_failed_compile(agent):
    message = Job(
        "early-compile",
        {"main.cpp": b"int main() { return nope; }"},
        compile=step(CPP_COMPILE, env={"PATH": PATH, "HOME": "/work/build"}, timeout_ms=20_000),
        runs=[step(["/work/build/main"])],
        early_result=True,
    )
    result = agent.request(message)
    assert isinstance(result, Result), result
    assert result.cleanup is Cleanup.OWED and result.runs == [] and result.compile.exit_code
    assert agent.receive() == Cleaned("early-compile", True)
