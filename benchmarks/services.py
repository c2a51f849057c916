"""The engine under test: its own nats-server and its own daemon, as child processes.

Both run in their own session, so a Ctrl-C in the terminal reaches only the
benchmark, which then stops them in order (daemon first: it removes its
containers) and removes whatever containers carry the daemon's instance label.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import IO

from benchmarks import BenchError
from benchmarks.dockerctl import INSTANCE_LABEL, remove_containers
from service.config import Settings
from service.intake.nats_server import config_text, find_binary

ROOT = Path(__file__).resolve().parent.parent
READY_TIMEOUT_S = 180.0
STOP_TIMEOUT_S = 60.0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _stop_process(process: subprocess.Popen[bytes], timeout: float) -> int | None:
    if process.poll() is None:
        try:
            process.send_signal(signal.SIGTERM)
            return process.wait(timeout)
        except subprocess.TimeoutExpired:
            process.kill()
    return process.wait()


class NatsServer:
    """``nats-server -c CONF`` on a free loopback port."""

    def __init__(self, workdir: Path) -> None:
        self.port = free_port()
        self.url = f"nats://127.0.0.1:{self.port}"
        conf = workdir / "nats.conf"
        conf.write_text(config_text(self.port, 8 << 20))
        self._log: IO[bytes] = open(workdir / "nats.log", "wb")
        self.process = subprocess.Popen(
            [find_binary(), "-c", str(conf)],
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            with socket.socket() as sock:
                if sock.connect_ex(("127.0.0.1", self.port)) == 0:
                    return
            if self.process.poll() is not None:
                break
            time.sleep(0.05)
        self.stop()
        raise BenchError(f"nats-server did not listen on {self.port}")

    @property
    def pid(self) -> int:
        return self.process.pid

    def stop(self) -> None:
        _stop_process(self.process, 10)
        self._log.close()


def _serve_command() -> list[str]:
    script = ROOT / ".venv" / "bin" / "code-engine"
    if script.exists():
        return [str(script), "serve"]
    return [sys.executable, "-m", "service", "serve"]


class Daemon:
    """``code-engine serve`` with a unique instance id, its log in ``workdir``."""

    def __init__(self, nats_url: str, workdir: Path, env: dict[str, str]) -> None:
        self.instance_id = f"bench-{uuid.uuid4().hex[:8]}"
        self.environ = {
            **os.environ,
            **env,
            "NATSURL": nats_url,
            "CODE_ENGINE_INSTANCE_ID": self.instance_id,
        }
        self.settings = Settings.from_env(self.environ)
        self.log_path = workdir / f"daemon-{self.instance_id}.log"
        self._log: IO[bytes] = open(self.log_path, "wb")
        self.process = subprocess.Popen(
            _serve_command(),
            env=self.environ,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            cwd=ROOT,
            start_new_session=True,
        )
        self.ready_s = self._wait_ready()

    @property
    def pid(self) -> int:
        return self.process.pid

    def log_tail(self, chars: int = 3000) -> str:
        return self.log_path.read_text(errors="replace")[-chars:]

    def _wait_ready(self) -> float:
        start = time.monotonic()
        line = f"code-engine {self.instance_id} ready"
        while time.monotonic() - start < READY_TIMEOUT_S:
            if line in self.log_path.read_text(errors="replace"):
                return time.monotonic() - start
            if self.process.poll() is not None:
                raise BenchError(f"the daemon exited early:\n{self.log_tail()}")
            time.sleep(0.05)
        self.stop()
        raise BenchError(f"the daemon was not ready after {READY_TIMEOUT_S} s:\n{self.log_tail()}")

    def stop(self) -> int | None:
        """SIGTERM (it drains and removes its containers), then make sure they are gone."""
        try:
            code = _stop_process(self.process, STOP_TIMEOUT_S)
        finally:
            self._log.close()
            remove_containers(f"{INSTANCE_LABEL}={self.instance_id}")
        return code
