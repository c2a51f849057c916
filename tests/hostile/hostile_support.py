"""Hostile programs against the real daemon, and what must be true after each.

A :class:`Hostile` is one program with the reply it must get. :meth:`Sandbox.exercise`
runs it through a daemon that keeps exactly one warm container, then checks the
aftermath: a probe job on the pool's container finds no process, file, IPC object
or listening socket of anyone else and succeeds; the container was kept (the
agent vouched for it) or replaced as expected; the pool is back to one running
container.
"""

from __future__ import annotations

import json
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from conftest import run_code

from service.testing.harness import Daemon
from service.testing.harness import next_snapshot as next_snapshot  # the suite's tests use it

# Every run and compile step sees exactly this environment (service/languages.py).
RUN_ENV = {
    "PATH": "/usr/local/bin:/usr/bin:/bin",
    "LANG": "C.UTF-8",
    "LC_ALL": "C.UTF-8",
    "HOME": "/work/run",
    "TMPDIR": "/tmp",
}

# What a job sees of the container: everything another job could have left.
PROBE = r"""
import json, os
me = str(os.getpid())
procs = []
for pid in os.listdir("/proc"):
    if pid.isdigit() and pid not in ("1", me):
        try:
            with open(f"/proc/{pid}/stat") as f:
                procs.append(f.read().split(")")[0] + ")")
        except OSError:
            pass
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
print(json.dumps({"procs": procs, "places": places, "ipc": ipc, "listening": listening,
                  "udp": bound_udp, "unix": rows("/proc/net/unix"), "env": dict(os.environ),
                  "uid": os.getuid()}))
"""

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
    replaced: bool = False
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


class Sandbox:
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

    def container(self, timeout: float = 30.0) -> str:
        """The id of the pool's one container, once it is alone and running."""
        deadline = time.monotonic() + timeout
        while True:
            found = self.containers()
            if len(found) == 1 and found[0][1] == "running":
                return found[0][0]
            if time.monotonic() > deadline:
                raise AssertionError(f"the pool is not back to one running container: {found}")
            time.sleep(0.1)

    def probe(self) -> dict:
        reply = self.run("python", PROBE)
        assert reply["status"] == "ok", reply
        return json.loads(reply["output"])

    def assert_clean(self) -> None:
        seen = self.probe()
        assert seen["procs"] == [], seen["procs"]
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
        before = self.container()
        reply = self.run(case.language, case.code, **case.request_fields())
        assert reply["status"] == case.status, _short(reply)
        assert reply["success"] is (case.status == "ok"), _short(reply)
        # A check asserts, or returns a bool (a lambda); False fails too.
        if case.check is not None:
            assert case.check(reply) is not False, _short(reply)
        if case.then is not None:
            follow = self.run(case.then.language, case.then.code)
            assert follow["status"] == "ok", _short(follow)
            assert follow["output"] == case.then.output, _short(follow)
        self.assert_clean()
        after = self.container()
        if case.replaced:
            assert after != before, "the container should have been replaced"
            self.replacements += 1
        else:
            assert after == before, "a container that did nothing wrong should be kept"
        return reply


def _short(reply: dict) -> dict:
    return {k: (v[:500] + "..." if isinstance(v, str) and len(v) > 500 else v)
            for k, v in reply.items()}  # fmt: skip
