"""A real gateway as a child process, for integration tests and the benchmark.

::

    with GatewayProcess(nats.url, directory / "gw.log") as gateway:   # ready: /readyz ok
        httpx.get(f"{gateway.url}/languages")
        gateway.restart()                                          # same port, new process

The environment is the caller's, then ``env``; NATSURL and the address are
set here (a free loopback port unless ``port`` is given).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Mapping
from pathlib import Path

import httpx

from service.testing.harness import ROOT
from service.testing.nats_servers import NotReady, StoppedOnExit, free_port, stop_process


class GatewayProcess(StoppedOnExit):
    def __init__(
        self,
        nats_url: str,
        log_path: Path,
        env: Mapping[str, str] | None = None,
        *,
        port: int | None = None,
        ready_timeout: float = 30.0,
    ) -> None:
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = log_path
        self.environ = {
            **os.environ,
            **(env or {}),
            "NATSURL": nats_url,
            "CODE_ENGINE_GATEWAY_ADDR": f"127.0.0.1:{self.port}",
        }
        self.ready_timeout = ready_timeout
        self.process: subprocess.Popen[bytes] | None = None
        self.start()

    def start(self) -> None:
        """Start the process and return once ``/readyz`` says ready.

        Raises:
            NotReady: it exited, or was not ready in time (it is stopped first).
        """
        log = open(self.log_path, "ab")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "service", "gateway"],
            env=self.environ,
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=ROOT,
            start_new_session=True,
        )
        log.close()
        deadline = time.monotonic() + self.ready_timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                break
            try:
                if httpx.get(f"{self.url}/readyz", timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        self.stop()
        raise NotReady(f"gateway on {self.url} not ready:\n{self.log_tail()}")

    def stop(self, timeout: float = 40.0) -> int:
        if self.process is None:
            return 0
        code = stop_process(self.process, signal.SIGTERM, timeout)
        self.process = None
        return code

    def kill(self) -> None:
        """SIGKILL: the gateway dies with whatever it was doing."""
        if self.process is not None:
            self.process.kill()
            self.process.wait()
            self.process = None

    def restart(self) -> None:
        self.stop()
        self.start()

    def log_tail(self, chars: int = 3000) -> str:
        return self.log_path.read_text(errors="replace")[-chars:]
