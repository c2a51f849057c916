"""Chaos soak: the engine at saturation while something breaks every ``--fault-every`` seconds.

    flock /tmp/code-engine-docker.lock .venv/bin/python -m benchmarks.chaos \\
        --scenario single|cluster [--minutes 10] [--fault-every 30] [--clients 8] \\
        [--faults container,nats,dockerd] [--json PATH]

``single``: one daemon with its embedded nats-server; faults in turn: a pool
container killed (``docker kill``), the embedded nats-server SIGKILLed, dockerd
restarted. ``cluster``: a 3-node nats-server cluster (JetStream, replicas 3) and
two daemons in one queue group given the whole server list; faults in turn: a
pool container killed, the node a daemon is connected to SIGKILLed (started
again 3 s later), dockerd restarted. Half the requests are durable
(``submit_durable``) in ``cluster``, all core in ``single``.

A spy subscribed to ``_INBOX.>`` counts every reply any daemon publishes, by
request id, so a request answered twice shows even though its client took only
the first. Per minute it prints sent, answered, lost (no reply: the client timed
out or could not send), answered twice, p50/p99 and the daemons' memory; then
the totals by kind, and for each fault its recovery time: from the fault's start
until a fresh probe request (1 s timeout, sent every 0.1 s) was answered ``ok``.
"answered" counts replies in the minute they arrived. Restarting dockerd disturbs
every container on the machine: hold the Docker lock, and leave ``dockerd`` out
of ``--faults`` when others need it. Everything it started is stopped at the end.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import random
import signal
import subprocess
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from nats.aio.client import Client
from nats.aio.msg import Msg

from benchmarks.figures import percentile, table
from benchmarks.procstat import rss_kb
from engine_client import EngineClient, EngineClientError, NatsConnection, build_request
from service.testing.harness import ROOT, Daemon, child_pids, instance_containers, remove_containers
from service.testing.nats_servers import NatsCluster, NatsServer, free_port
from wire.connection import connect

CORE_TIMEOUT_S = 10.0
DURABLE_TIMEOUT_S = 120.0
PROBE_TIMEOUT_S = 1.0
LOCK = "/tmp/code-engine-docker.lock"


async def _quiet(exc: Exception) -> None:
    """Connection errors during a fault are expected; the tables count what they cost."""


@dataclass
class Minute:
    sent: Counter[str] = field(default_factory=Counter)
    answered: Counter[str] = field(default_factory=Counter)
    lost: Counter[str] = field(default_factory=Counter)
    statuses: Counter[str] = field(default_factory=Counter)
    latencies_ms: list[float] = field(default_factory=list)
    rss_mb: list[float] = field(default_factory=list)


@dataclass
class Fault:
    kind: str
    at: float  # seconds since the start
    recovered_s: float | None = None
    detail: str = ""


class Chaos:
    def __init__(self, args: argparse.Namespace, daemons: list[Daemon], client_url: str) -> None:
        self.args = args
        self.daemons = daemons
        self.client_url = client_url
        self.duration_s = args.minutes * 60
        self.minutes: list[Minute] = []
        self.faults: list[Fault] = []
        self.replies: Counter[str] = Counter()  # by request id, as the spy saw them
        self.kinds: dict[str, str] = {}
        self.sent_minute: dict[str, int] = {}
        self._start = 0.0
        self._n = 0
        self._random = random.Random(7)

    def now(self) -> float:
        return time.monotonic() - self._start

    def _minute(self) -> Minute:
        index = int(self.now() // 60)
        while len(self.minutes) <= index:
            self.minutes.append(Minute())
        return self.minutes[index]

    async def _client(self, engine: EngineClient) -> None:
        while self.now() < self.duration_s:
            self._n += 1
            request_id = f"chaos-{self._n}"
            durable = self.args.scenario == "cluster" and self._n % 2 == 0
            kind = "durable" if durable else "core"
            self.kinds[request_id] = kind
            self.sent_minute[request_id] = int(self.now() // 60)
            request = build_request("python", f"print({self._n})", request_id=request_id)
            minute = self._minute()
            minute.sent[kind] += 1
            sent = self.now()
            try:
                if durable:
                    reply = await engine.submit_durable(request, timeout=DURABLE_TIMEOUT_S)
                else:
                    reply = await engine.send(request, timeout=CORE_TIMEOUT_S)
            except EngineClientError:
                self._minute().lost[kind] += 1
                await asyncio.sleep(0.05)  # no NATS at all: do not spin
                continue
            done = self.now()
            minute = self._minute()
            minute.answered[kind] += 1
            minute.statuses[reply["status"]] += 1
            minute.latencies_ms.append((done - sent) * 1000)

    async def _spy(self, nc: Client) -> None:
        async def seen(msg: Msg) -> None:
            with contextlib.suppress(ValueError):
                body = json.loads(msg.data)
                if isinstance(body, dict) and "status" in body and "id" in body:
                    self.replies[str(body["id"])] += 1

        await nc.subscribe("_INBOX.>", cb=seen)

    async def _memory(self) -> None:
        while self.now() < self.duration_s:
            total = sum(rss_kb(d.pid) or 0 for d in self.daemons if d.alive())
            self._minute().rss_mb.append(total / 1024)
            await asyncio.sleep(5)

    async def _probe(self, engine: EngineClient, fault: Fault) -> None:
        """Fresh small requests with a short timeout until one is answered ok."""
        n = 0
        while self.now() < self.duration_s + 60:
            await asyncio.sleep(0.1)
            n += 1
            request = build_request("python", "print(1)", request_id=f"probe-{fault.at:.0f}-{n}")
            try:
                reply = await engine.send(request, timeout=PROBE_TIMEOUT_S)
            except EngineClientError:
                continue
            if reply["status"] == "ok":
                fault.recovered_s = self.now() - fault.at
                return

    async def _faults(self, engine: EngineClient, inject: dict[str, Callable[[], str]]) -> None:
        order = [name for name in self.args.faults.split(",") if name]
        index = 0
        while True:
            await asyncio.sleep(self.args.fault_every)
            if self.now() > self.duration_s - 5:
                return
            name = order[index % len(order)]
            index += 1
            fault = Fault(name, self.now())
            self.faults.append(fault)
            probe = asyncio.create_task(self._probe(engine, fault))
            fault.detail = await asyncio.to_thread(inject[name])
            await probe

    async def run(self, inject: dict[str, Callable[[], str]]) -> None:
        # The clients must outlive the loss of their server: reconnect for ever.
        servers = NatsConnection(servers=(self.client_url,))
        nc = await connect(servers, max_reconnect_attempts=-1, error_cb=_quiet)
        spy = await connect(servers, max_reconnect_attempts=-1, error_cb=_quiet)
        await self._spy(spy)
        async with EngineClient(nc) as engine:
            self._start = time.monotonic()
            await asyncio.gather(
                self._memory(),
                self._faults(engine, inject),
                *(self._client(engine) for _ in range(self.args.clients)),
            )
        await asyncio.sleep(1)  # the last replies reach the spy
        await spy.close()

    def report(self) -> str:
        rows = []
        for index, m in enumerate(self.minutes):
            lat = m.latencies_ms or [0.0]
            twice = sum(
                1 for rid, n in self.replies.items() if n > 1 and self.sent_minute.get(rid) == index
            )
            rows.append(
                [
                    index + 1,
                    sum(m.sent.values()),
                    sum(m.answered.values()),
                    sum(m.lost.values()),
                    twice,
                    f"{percentile(lat, 50):.0f}",
                    f"{percentile(lat, 99):.0f}",
                    f"{max(m.rss_mb):.1f}" if m.rss_mb else "-",
                ]
            )
        text = table(
            f"chaos soak ({self.args.scenario}): {self.duration_s / 60:g} min, "
            f"{self.args.clients} in flight, a fault every {self.args.fault_every:g} s",
            ["minute", "sent", "answered", "lost", "twice", "p50 ms", "p99 ms", "daemons RSS MB"],
            rows,
        )
        kind_rows = []
        for kind in ("core", "durable"):
            sent = sum(m.sent[kind] for m in self.minutes)
            if not sent:
                continue
            twice = sum(
                1 for rid, n in self.replies.items() if n > 1 and self.kinds.get(rid) == kind
            )
            kind_rows.append(
                [
                    kind,
                    sent,
                    sum(m.answered[kind] for m in self.minutes),
                    sum(m.lost[kind] for m in self.minutes),
                    twice,
                ]
            )
        text += "\n" + table("by kind", ["kind", "sent", "answered", "lost", "twice"], kind_rows)
        fault_rows = [
            [
                f"{f.at:.0f}",
                f.kind,
                f.detail,
                "-" if f.recovered_s is None else f"{f.recovered_s:.2f}",
            ]
            for f in self.faults
        ]
        text += "\n" + table(
            "faults (recovery: from the fault until a fresh request was answered ok)",
            ["at s", "fault", "what", "recovery s"],
            fault_rows,
        )
        statuses = Counter[str]()
        for m in self.minutes:
            statuses.update(m.statuses)
        return text + f"\nstatuses: {dict(statuses.most_common())}\n"

    def as_json(self) -> dict[str, object]:
        return {
            "minutes": [
                {
                    "sent": dict(m.sent),
                    "answered": dict(m.answered),
                    "lost": dict(m.lost),
                    "statuses": dict(m.statuses),
                    "p50_ms": percentile(m.latencies_ms, 50) if m.latencies_ms else None,
                    "p99_ms": percentile(m.latencies_ms, 99) if m.latencies_ms else None,
                    "rss_mb": m.rss_mb,
                }
                for m in self.minutes
            ],
            "answered_twice": sorted(rid for rid, n in self.replies.items() if n > 1),
            "faults": [vars(f) for f in self.faults],
        }


# -- faults -------------------------------------------------------------------------


def kill_a_container(daemons: list[Daemon], pick: random.Random) -> Callable[[], str]:
    def inject() -> str:
        daemon = pick.choice(daemons)
        ids = instance_containers(daemon.instance_id)
        if not ids:
            return "no container"
        victim = pick.choice(ids)
        subprocess.run(["docker", "kill", victim], capture_output=True)
        return f"{victim[:12]} of {daemon.instance_id}"

    return inject


def kill_embedded_nats(daemon: Daemon) -> Callable[[], str]:
    def inject() -> str:
        pids = child_pids(daemon.pid, "nats-server")
        for pid in pids:
            os.kill(pid, signal.SIGKILL)
        return f"nats-server {pids}"

    return inject


def kill_a_node(
    cluster: NatsCluster, daemons: list[Daemon], safe: NatsServer, pick: random.Random
) -> Callable[[], str]:
    """SIGKILL the node a daemon is connected to (never ``safe``, where the load runs)."""

    def node_of(daemon: Daemon) -> NatsServer:
        return cluster.node_with_client(f"code-engine {daemon.instance_id}")

    def inject() -> str:
        movable = [d for d in daemons if node_of(d) is not safe]
        if not movable:
            return "every daemon is on the load's node: nothing killed"
        daemon = pick.choice(movable)
        node = node_of(daemon)
        leader = cluster.stream_leader("CODE_ENGINE")
        node.kill()
        time.sleep(3)
        node.start(30)
        name = f"n{cluster.nodes.index(node) + 1}"
        return f"{name}, {daemon.instance_id}'s (stream leader: {leader})"

    return inject


def _docker_answers() -> bool:
    return subprocess.run(["docker", "info"], capture_output=True).returncode == 0


def restart_dockerd() -> str:
    """SIGTERM dockerd, wait until it has exited, start it again; dockerd runs afterwards."""
    pids = subprocess.run(["pgrep", "-x", "dockerd"], capture_output=True, text=True).stdout.split()
    for pid in pids:
        os.kill(int(pid), signal.SIGTERM)
    deadline = time.monotonic() + 60
    # Gone, not just silent: until it exits, its pid file stops a new one from starting.
    while time.monotonic() < deadline and any(Path(f"/proc/{pid}").exists() for pid in pids):
        time.sleep(0.1)
    for _attempt in range(3):
        # close_fds (the default) keeps the Docker lock's descriptor out of the new dockerd.
        subprocess.run(["bash", str(ROOT / "scripts" / "ensure-docker.sh")], close_fds=True)
        if _docker_answers():
            break
        time.sleep(1)
    else:
        raise RuntimeError("dockerd did not come back; see /var/log/dockerd.log")
    for pid in subprocess.run(
        ["pgrep", "-x", "dockerd"], capture_output=True, text=True
    ).stdout.split():
        for fd in Path(f"/proc/{pid}/fd").iterdir():
            with contextlib.suppress(OSError):
                if os.readlink(fd) == LOCK:
                    raise RuntimeError(
                        f"the new dockerd {pid} holds {LOCK}: it would never be freed"
                    )
    return f"dockerd {pids} restarted"


def _leave_docker_running() -> None:
    if not _docker_answers():
        subprocess.run(["bash", str(ROOT / "scripts" / "ensure-docker.sh")], close_fds=True)


# -- set-up -------------------------------------------------------------------------


@contextlib.contextmanager
def single(directory: Path) -> Iterator[tuple[list[Daemon], str, dict[str, Callable[[], str]]]]:
    url = f"nats://127.0.0.1:{free_port()}"
    daemon = Daemon(url, directory / "daemon.log", embedded=True)
    pick = random.Random(11)
    try:
        yield (
            [daemon],
            url,
            {
                "container": kill_a_container([daemon], pick),
                "nats": kill_embedded_nats(daemon),
                "dockerd": restart_dockerd,
            },
        )
    finally:
        _leave_docker_running()
        daemon.stop()
        remove_containers(daemon.instance_id)


@contextlib.contextmanager
def cluster(directory: Path) -> Iterator[tuple[list[Daemon], str, dict[str, Callable[[], str]]]]:
    env = {"CODE_ENGINE_DURABLE": "1", "CODE_ENGINE_DURABLE_REPLICAS": "3"}
    with NatsCluster(directory) as nodes:
        daemons = [Daemon(nodes.url, directory / f"daemon-{n}.log", env) for n in (1, 2)]
        pick = random.Random(11)
        killed = {nodes.node_with_client(f"code-engine {d.instance_id}") for d in daemons}
        # The load and the spy stay on a node that is never killed.
        safe = next(node for node in nodes.nodes if node not in killed)
        try:
            yield (
                daemons,
                safe.url,
                {
                    "container": kill_a_container(daemons, pick),
                    "node": kill_a_node(nodes, daemons, safe, pick),
                    "dockerd": restart_dockerd,
                },
            )
        finally:
            _leave_docker_running()
            for daemon in daemons:
                daemon.stop()
                remove_containers(daemon.instance_id)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.chaos",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--scenario", choices=["single", "cluster"], default="single")
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--fault-every", type=float, default=30.0)
    parser.add_argument("--clients", type=int, default=8, help="requests kept in flight")
    parser.add_argument("--faults", help="comma-separated, in turn (default: all of the scenario)")
    parser.add_argument("--json", type=Path, help="also write the results here")
    args = parser.parse_args(argv)
    if args.faults is None:
        args.faults = (
            "container,nats,dockerd" if args.scenario == "single" else "container,node,dockerd"
        )
    setup = single if args.scenario == "single" else cluster
    with tempfile.TemporaryDirectory(prefix="code-engine-chaos-") as tmp:
        with setup(Path(tmp)) as (daemons, url, inject):
            chaos = Chaos(args, daemons, url)
            try:
                asyncio.run(chaos.run(inject))
            except KeyboardInterrupt:
                print("interrupted; partial results:")
            print(chaos.report())
            if args.json:
                args.json.write_text(json.dumps(chaos.as_json(), indent=2))
    twice = [rid for rid, n in chaos.replies.items() if n > 1]
    durable_lost = sum(m.lost["durable"] for m in chaos.minutes)
    return 0 if not twice and not durable_lost else 1


if __name__ == "__main__":
    raise SystemExit(main())
