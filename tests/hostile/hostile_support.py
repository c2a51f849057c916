"""Hostile programs against the real daemon, and what must be true after each.

A :class:`Hostile` is one program with the reply it must get. :meth:`HostileBench.exercise`
runs it through a daemon that keeps exactly one warm container, then checks the
aftermath: a probe job on the pool's container finds no process, file, IPC object
or listening socket of anyone else and succeeds; the container was kept (the
agent vouched for it) or replaced as expected; the pool is back to one running
container.
"""

from __future__ import annotations

import dataclasses
import json
import os
import re
import subprocess
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from service.testing.client import run_code
from service.testing.harness import Daemon
from service.testing.probes import IS_ENGINE_PROCESS
from service.testing.waiting import wait_until

# Every run and compile step sees exactly this environment (service/languages.py).
RUN_ENV = {
    "PATH": "/usr/local/bin:/usr/bin:/bin",
    "LANG": "C.UTF-8",
    "LC_ALL": "C.UTF-8",
    "HOME": "/work/run",
    "TMPDIR": "/tmp",
}

# What a job sees of the container: everything another job could have left.
PROBE = (
    IS_ENGINE_PROCESS
    + r"""
import json, os
me = str(os.getpid())
procs, engine_procs = [], []
for pid in os.listdir("/proc"):
    if pid.isdigit() and pid not in ("1", me):
        try:
            with open(f"/proc/{pid}/stat") as f:
                name = f.read().split(")")[0] + ")"
        except OSError:
            continue
        (engine_procs if engine(pid) else procs).append(name)
places = {}
for top in ("/work", "/work/run", "/tmp", "/dev/shm", "/dev/mqueue", "/work/build"):
    found = []
    for root, dirs, files in os.walk(top):
        found += [os.path.join(root, name) for name in dirs + files]
    places[top] = sorted(found)
def rows(path):
    try:
        with open(path) as f:
            return f.read().splitlines()[1:]
    except OSError:
        return []
ipc = {kind: rows(f"/proc/sysvipc/{kind}") for kind in ("shm", "msg", "sem")}
tcp = rows("/proc/net/tcp") + rows("/proc/net/tcp6")
listening = [row for row in tcp if row.split()[3] == "0A"]
bound_udp = rows("/proc/net/udp") + rows("/proc/net/udp6")
# Bound ones (a path, or @ for an abstract name): an unbound socket lives only as
# long as a process holds it, and the agent and its fork server hold a pair.
bound_unix = [row for row in rows("/proc/net/unix") if len(row.split()) > 7]
print(json.dumps({"procs": procs, "engine": engine_procs, "places": places, "ipc": ipc,
                  "listening": listening, "udp": bound_udp, "unix": bound_unix,
                  "env": dict(os.environ), "uid": os.getuid()}))
"""
)

CLEAN_PLACES = {
    "/work": ["/work/build", "/work/build/main.py", "/work/run"],
    "/work/run": [],
    "/tmp": [],
    "/dev/shm": [],
    "/dev/mqueue": [],
    "/work/build": ["/work/build/main.py"],
}


@dataclass(frozen=True)
class FollowUp:
    """A second job that must not notice what the hostile one tried."""

    language: str
    code: str
    output: str


@dataclass(frozen=True)
class Hostile:
    """One hostile program and the reply it must get.

    ``replaced``: the daemon must throw the container away rather than hand it to
    the next job. The daemon keeps a container after any verdict, a limit hit
    included, once the agent verified its cleanup: so by default the probe that
    follows runs on the very container the program attacked.
    ``check``: more assertions on the reply (returning False fails as well);
    ``then``: a follow-up job that must succeed with the given output.
    """

    name: str
    language: str
    code: str
    status: str
    # None: either (the kernel's or gVisor's to decide); SENTRY_TASKS: kept, or
    # replaced for the host tasks gVisor's Sentry kept and for nothing else.
    replaced: bool | str | None = False
    # A second status that is also right (only where gVisor decides, below);
    # ``check`` applies to replies with ``status``.
    or_status: str | None = None
    check: Callable[[dict], Any] | None = None
    timeout_ms: int | None = None
    memory_mb: int | None = None
    stdin: str = ""
    then: FollowUp | None = None
    fields: dict[str, Any] = field(default_factory=dict)

    def request_fields(self) -> dict[str, Any]:
        fields: dict[str, Any] = dict(self.fields)
        if self.timeout_ms is not None:
            fields["timeout_ms"] = self.timeout_ms
        if self.memory_mb is not None:
            fields["memory_mb"] = self.memory_mb
        if self.stdin:
            fields["stdin"] = self.stdin
        return fields


def ids(cases: list[Hostile]) -> list[str]:
    return [case.name for case in cases]


class HostileBench:
    """The hostile suite's daemon (one warm container) and the checks around a job."""

    def __init__(self, daemon: Daemon) -> None:
        self.daemon = daemon
        self.replacements = 0

    def run(self, language: str, code: str, **fields: Any) -> dict:
        return run_code(self.daemon.nats_url, language, code, **fields)

    def containers(self) -> list[tuple[str, str]]:
        out = subprocess.run(
            [
                "docker", "ps", "-a", "--no-trunc",
                "--filter", f"label=org.code-engine.instance={self.daemon.instance_id}",
                "--format", "{{.ID}} {{.State}}",
            ],
            capture_output=True, text=True, check=True,
        ).stdout  # fmt: skip
        return [tuple(line.split(maxsplit=1)) for line in out.splitlines()]  # type: ignore[misc]

    def container(self, timeout: float = 60.0) -> str:
        """The id of the pool's one container, once it is alone and running."""

        def alone_and_running() -> str | None:
            found = self.containers()
            return found[0][0] if len(found) == 1 and found[0][1] == "running" else None

        return wait_until(
            alone_and_running,
            timeout=timeout,
            interval=0.1,
            what="the pool back to one running container",
            show=self.containers,
        )

    def probe(self) -> dict:
        reply = self.run("python", PROBE)
        assert reply["status"] == "ok", reply
        return json.loads(reply["output"])

    def assert_clean(self) -> None:
        seen = self.probe()
        assert seen["procs"] == [], seen["procs"]
        # Beside the agent, the engine keeps at most its Python fork server.
        assert len(seen["engine"]) <= 1, seen["engine"]
        assert seen["places"] == CLEAN_PLACES, seen["places"]
        assert seen["ipc"] == {"shm": [], "msg": [], "sem": []}, seen["ipc"]
        assert seen["listening"] == [] and seen["udp"] == [], seen
        assert seen["unix"] == [], seen["unix"]
        assert seen["env"] == RUN_ENV, seen["env"]
        assert seen["uid"] == self.job_uid(), seen["uid"]

    def job_uid(self) -> int:
        """The job uid the host gave the pool's container (its CODE_ENGINE_JOB_UID)."""
        env = subprocess.run(
            ["docker", "inspect", "-f", "{{json .Config.Env}}", self.container()],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        values = [
            e.split("=", 1)[1] for e in json.loads(env) if e.startswith("CODE_ENGINE_JOB_UID=")
        ]
        assert len(values) == 1, env
        uid = int(values[0])
        assert 10001 <= uid <= 11024, uid
        return uid

    def exercise(self, case: Hostile) -> dict:
        """Run ``case``, check its reply, then everything that must hold afterwards."""
        case = on_this_tier(case)
        before = self.container()
        reply = self.run(case.language, case.code, **case.request_fields())
        assert reply["status"] in (case.status, case.or_status), _short(reply)
        assert reply["success"] is (reply["status"] == "ok"), _short(reply)
        # A check asserts, or returns a bool (a lambda); False fails too.
        if case.check is not None and reply["status"] == case.status:
            assert case.check(reply) is not False, _short(reply)
        if case.then is not None:
            follow = self.run(case.then.language, case.then.code)
            assert follow["status"] == "ok", _short(follow)
            assert follow["output"] == case.then.output, _short(follow)
        self.assert_clean()
        after = self.container()
        if case.replaced is None:
            pass  # the kernel's or gVisor's to decide (see the case, and GVISOR)
        elif case.replaced == SENTRY_TASKS:
            if after != before:
                self.replacements += 1
                said = re.escape(f"container {before[:12]}: ") + r"\d+ host tasks left by gVisor"
                assert re.search(said, self.daemon.log_text()), "replaced for another reason"
        elif case.replaced:
            assert after != before, ("the container should have been replaced", _short(reply))
            self.replacements += 1
        else:
            assert after == before, "a container that did nothing wrong should be kept"
        return reply

    def agent_holdings(self, container: str) -> tuple[list[str], int]:
        """The agent's open descriptors and its resident memory in kB.

        runc: from the host's /proc. runsc: the container's host process is the
        Sentry, whose descriptors are the whole sandbox's files; gVisor's own
        /proc/1 is the agent, and a job may read it there (LEFT_OPEN_BY_GVISOR).
        """
        if not RUNSC:
            pid = inspect(container)["State"]["Pid"]
            fds = sorted(Path(f"/proc/{pid}/fd").iterdir())
            status = Path(f"/proc/{pid}/status").read_text()
            targets = [str(fd.readlink()) for fd in fds]
        else:
            code = (
                "import os\nprint(len(os.listdir('/proc/1/fd')))\n"
                "print(open('/proc/1/status').read())"
            )
            reply = self.run("python", code)
            assert reply["status"] == "ok", reply
            count, _, status = reply["output"].partition("\n")
            targets = [f"fd {n}" for n in range(int(count))]
        rss = re.search(r"VmRSS:\s+(\d+) kB", status)
        assert rss is not None, status
        return targets, int(rss.group(1))


def inspect(container_id: str) -> dict:
    out = subprocess.run(
        ["docker", "inspect", "--size", container_id], capture_output=True, check=True
    ).stdout
    return json.loads(out)[0]


def _short(reply: dict) -> dict:
    return {k: (v[:500] + "..." if isinstance(v, str) and len(v) > 500 else v)
            for k, v in reply.items()}  # fmt: skip


# -- The tier under test ----------------------------------------------------------
#
# CODE_ENGINE_RUNTIME=runsc runs the suite against gVisor, whose kernel is its
# own. Where it legitimately answers otherwise, the case's expectation under
# runsc is here, once, with the reason; every runc expectation stays in the case.

RUNSC = os.environ.get("CODE_ENGINE_RUNTIME", "") == "runsc"


@dataclass(frozen=True)
class UnderGVisor:
    """What a case must get under gVisor instead, and why. Unset fields: as under runc."""

    why: str
    status: str | None = None
    or_status: str | None = None  # also right, and then the check does not apply
    output: str | None = None  # the exact output, in place of the case's check
    check: Callable[[dict], Any] | None = None  # in place of the case's check
    replaced: bool | str | type[Ellipsis] | None = ...  # type: ignore[valid-type]


# What a job that churns guest tasks may cost its sandbox under gVisor: the Sentry
# keeps host tasks of guest threads and processes long gone, and the daemon
# replaces a sandbox left past its ceiling (service/sandbox/lender.py) and says so.
SENTRY_TASKS = "sentry_tasks"


def _exactly(expected: str) -> Callable[[dict], None]:
    def check(reply: dict) -> None:
        assert reply["output"] == expected, reply["output"][-3000:] + reply["error"][-3000:]

    return check


# An out-of-memory. Linux: the kernel's OOM killer kills the job's process
# (SIGKILL) and the agent reports it. gVisor: guest memory is the Sentry's; the
# agent kills the job (SIGKILL) when the guest's memory is full (agent/memory.py),
# unless the host's OOM killer took the Sentry first, and the whole sandbox with
# it: then the host reads Docker's OOMKilled and says memory_limit, no signal.
OOM_SIGNALS = ("SIGKILL", None) if RUNSC else ("SIGKILL",)

# A request with a lower memory_mb. runc lowers the pool container's limit for
# the job (and an OOM kill retires it). runsc cannot change a running
# container's limits: the job gets a container made to measure, retired after
# it, and the pool's container is never touched.
LOWERED_LIMIT_RETIRES_THE_POOL_CONTAINER = not RUNSC

# Under gVisor Docker's seccomp profile does not apply (runsc runs it only with
# --oci-seccomp, which breaks clone3's fallback in this runsc); the job's own
# filter refuses the same calls. What gVisor's procfs leaves open to jobs:
# /proc/1 (the agent) is readable by any uid, its fd links are not openable.
LEFT_OPEN_BY_GVISOR = (
    "environ erased\nfd readable\nfdinfo readable\nmem Permission denied\nmaps readable\n"
    "auxv readable\nstack No such file or directory\nsyscall No such file or directory\n"
    "io Permission denied\nroot Permission denied\ncwd Permission denied\n"
    "exe Permission denied\nmap_files No such file or directory\n['1']\n"
)

GVISOR: dict[str, UnderGVisor] = {
    # Descriptors in flight.
    "python-parks-descriptors-in-flight": UnderGVisor(
        "gVisor's kernel has no unix-socket collector: the parked cycle stays, the agent"
        " finds its sockets and tmpfs space, cannot vouch for the sandbox, and it is replaced",
        replaced=True,
    ),
    "cpp-parks-descriptors-in-flight": UnderGVisor(
        "as python-parks-descriptors-in-flight", replaced=True
    ),
    # Memory: the agent or the host ends it (OOM_SIGNALS), and lowered limits run on a
    # container of their own (LOWERED_LIMIT_RETIRES_THE_POOL_CONTAINER).
    "python-memory-bomb-under-a-lowered-limit": UnderGVisor(
        "a container made to measure; the pool's is untouched", replaced=False
    ),
    "python-tmpfs-fill-under-a-lowered-limit": UnderGVisor(
        "a container made to measure; the pool's is untouched", replaced=False
    ),
    # Compiles.
    "cpp-template-explosion": UnderGVisor(
        "the compiler's memory is the Sentry's: the explosion may meet the sandbox's limit"
        " (the whole sandbox goes, as any OOM under gVisor) or the compile time limit first,"
        " after which the sandbox is clean and kept",
        replaced=None,
    ),
    "cpp-constexpr-loop": UnderGVisor(
        "the compile limit is 15 s here (Go's hello world takes 3 s under gVisor), and g++"
        " reaches its own constexpr operation limit first (12.8 s under gVisor, measured): a"
        " compile error either way, the loop stopped",
        check=lambda r: (
            "compilation exceeded its time limit" in r["error"]
            or "evaluation operation count exceeds limit" in r["error"]
        ),
    ),
    # Limits.
    "js-heap-bomb": UnderGVisor(
        "V8's heap is sized to the limit less the Sentry's share, and an idle Node.js"
        " already holds about 100 MB of the guest's memory: the guest may fill up (the"
        " agent's watch, agent/memory.py) before V8's heap does; both are memory_limit, and"
        " the watch's kill counts as an OOM kill and retires the sandbox (the Sentry keeps"
        " what the guest grew to). Or neither in time: V8's last full collections near its"
        " heap limit, each a walk over some 200 MB of heap, page faults that are round trips"
        " through the Sentry, took the whole 10 s once (6.4 s of CPU): a timeout",
        check=lambda r: "memory limit exceeded (400 MB)" in r["error"],
        or_status="timeout",
        replaced=None,
    ),
    "cpp-threaded-cpu-loop": UnderGVisor(
        "gVisor's kernel counts a thread's CPU time as the time the Sentry ran it, host"
        " throttling included: four spinning threads under the 0.5 CPU quota show more CPU"
        " time than wall time (3.35 s in 3 s, measured), and the CPU limit, which defaults"
        " to the wall limit, stops them first",
        check=lambda r: (
            r["cpu_time_ms"] >= 1000
            and r["execution_time_ms"] < 1000 + 2000
            and r["error"].endswith("CPU time limit exceeded (1000 ms)")
        ),
    ),
    # Processes.
    "python-background-survivors": UnderGVisor(
        "gVisor sends SIGHUP (and SIGCONT) to an orphaned process group with a stopped"
        " member whenever a member exits; every job's group is orphaned (its own session),"
        " and this one stops a child. Linux sends it only when an exit orphans the group",
        status="runtime_error",
        check=lambda r: r["signal"] == "SIGHUP",
    ),
    "sh-fork-bomb-left-running": UnderGVisor(
        "the Sentry keeps host tasks of the bomb's processes: past its ceiling the sandbox"
        " is replaced, below it kept (how far depends on how fast the bomb churned); under"
        " the ptrace platform every guest syscall is a round trip through the Sentry, so the"
        " bomb can starve its own main process past the time limit",
        or_status="timeout",
        replaced=None,
    ),
    "cpp-fork-bomb": UnderGVisor(
        "as sh-fork-bomb-left-running; and in one gVisor pass of five the sandbox itself died"
        " under the bomb (no OOM kill): that job is answered internal_error ('the sandbox"
        " failed while running the job') and the sandbox replaced",
        or_status="internal_error",
        replaced=None,
    ),
    "cpp-fork-until-refused": UnderGVisor("as sh-fork-bomb-left-running", replaced=None),
    **{
        f"{language}-thread-bomb": UnderGVisor(
            "each thread is a guest task whose host tasks the Sentry may keep: a sandbox that"
            " earlier jobs took near its ceiling is replaced after the bomb (once in a CI pass)",
            replaced=SENTRY_TASKS,
        )
        for language in ("python", "cpp", "go")
    },
    "python-fork-until-refused": UnderGVisor("as sh-fork-bomb-left-running", replaced=None),
    "python-fork-churn": UnderGVisor(
        "as sh-fork-bomb-left-running; and each guest process costs the Sentry host memory of"
        " its own (64 forked Pythons at a time, killed and forked again): once in four runs the"
        " Sentry grew past the container's limit before the time limit, and the host's OOM"
        " killer took the whole sandbox (memory_limit, replaced)",
        or_status="memory_limit",
        replaced=None,
    ),
    # Files.
    "python-fills-every-writable-place": UnderGVisor(
        "gVisor checks permissions before a read-only mount (EACCES, not EROFS), answers"
        " ENOENT for /proc/acpi and EACCES for /proc, and mounts no /dev/mqueue (POSIX"
        " message queues live in its IPC namespace only)",
        output=(
            "/work/run ENOSPC True\n/tmp ENOSPC True\n/dev/shm ENOSPC True\n/work EACCES False\n"
            "/work/build EACCES False\n/ EACCES False\n/var/tmp EROFS False\n/dev EACCES False\n"
            "/opt/code-engine EACCES False\n/proc EACCES False\n/sys/fs/cgroup EACCES False\n"
            "/proc/acpi ENOENT False\n/sys/firmware EACCES False\n/dev/pts EACCES False\n"
            "/dev/mqueue ENOENT False\n"
        ),
    ),
    "python-inode-exhaustion": UnderGVisor(
        "gVisor's tmpfs takes no nr_inodes cap: the bomb runs to its time limit (sizes are"
        " still capped); kept when the agent's wipe of it ends within the cleanup deadline",
        status="timeout",
        check=lambda r: r["output"] == "",
        replaced=None,
    ),
    "python-usercustomize-poisoning": UnderGVisor(
        "gVisor checks permissions before a read-only mount (EACCES, not EROFS)",
        output=(
            "/work/build/json.py Permission denied\n"
            "/usr/lib/python3/dist-packages/sitecustomize.py Permission denied\n"
            "/usr/lib/python3.11/sitecustomize.py Permission denied\n"
        ),
    ),
    # Visibility.
    "python-reads-the-cgroup-counters": UnderGVisor(
        "gVisor shows jobs no cgroup files at all (its sysfs has its own, empty cgroup"
        " directory): nothing to read, nothing carried over",
        output="False []\n",
    ),
    "python-reads-environment-and-privileges": UnderGVisor(
        "gVisor's /proc/self/status has no CapAmb and no NoNewPrivs line",
        check=lambda r: _environment_under_gvisor(r),
    ),
    "python-reads-the-agent-and-other-processes": UnderGVisor(
        "gVisor's procfs does not check ptrace access: a job may read the agent's environ"
        " (erased by the agent once read: zeros), fd and fdinfo listings, maps and auxv; it"
        " still cannot open the fds, the memory, root, cwd or exe",
        output=LEFT_OPEN_BY_GVISOR,
    ),
    "python-probes-the-network": UnderGVisor(
        "gVisor's network stack answers a destination without a route EHOSTUNREACH",
        output="['lo'] [] []\noutside: No route to host\nloopback: ping\n",
    ),
    "go-probes-the-network": UnderGVisor(
        "as python-probes-the-network",
        output="lo true\ndial udp 192.0.2.1:9: connect: no route to host\n",
    ),
    "python-looks-for-host-mounts-and-sockets": UnderGVisor(
        "gVisor's mount table shows /etc/hostname as a file of its root, not a bind mount,"
        " and there is no /dev/mqueue",
        output="[]\n['/dev/shm', '/tmp']\n[] False\n",
    ),
    "python-forges-agent-replies": UnderGVisor(
        "gVisor's /dev/tty without a terminal answers EIO, not ENXIO",
        output=(
            '{"type":"result","id":"x","compile":null,"runs":[],"clean":true,"error":null}\n'
            "/proc/1/fd/1 Permission denied\n/proc/1/fd/0 Permission denied\n"
            "/dev/console No such file or directory\n/dev/tty Input/output error\n"
        ),
    ),
    "cpp-enters-the-32-bit-abi": UnderGVisor(
        "gVisor's ptrace platform runs int 0x80 through the 64-bit table (20 is writev,"
        " 102 getuid, 41 socket, 425 io_uring_setup) with the 64-bit registers, and the job's"
        " filter sees those same numbers: vsock and io_uring are refused as on the native entry",
        check=lambda r: re.fullmatch(r"(0|-9) 1\d{4} -97 -38\n", r["output"]) is not None,
    ),
}


def _environment_under_gvisor(reply: dict) -> None:
    lines = reply["output"].splitlines()
    assert len(lines) == 4, reply
    assert lines[0] == json.dumps(RUN_ENV, sort_keys=True), lines[0]
    assert lines[1] == "0000000000000000 0000000000000000 absent", lines[1]
    assert lines[2] == "NoNewPrivs absent Seccomp 2", lines[2]
    uid, euid, gid, groups = lines[3].split(" ", 3)
    assert uid == euid == gid and 10001 <= int(uid) <= 11024 and groups == "[]", lines[3]


def on_this_tier(case: Hostile) -> Hostile:
    """``case`` with its expectation under the kernel this run is on."""
    differs = GVISOR.get(case.name) if RUNSC else None
    if differs is None:
        return case
    check = case.check
    if differs.output is not None:
        check = _exactly(differs.output)
    elif differs.check is not None:
        check = differs.check
    return dataclasses.replace(
        case,
        status=differs.status or case.status,
        or_status=differs.or_status or case.or_status,
        check=check,
        replaced=case.replaced if differs.replaced is ... else differs.replaced,
    )
