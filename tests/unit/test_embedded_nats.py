"""The embedded nats-server supervisor gives up, with one clear error, on a dying server."""

from __future__ import annotations

import sys

import pytest

from service.errors import EngineError
from service.intake.nats_server import EmbeddedNats
from service.testing.nats_servers import free_port

FAKE_SERVER = """
import pathlib, re, socket, sys, time
runs = pathlib.Path(sys.argv[0] + ".runs")
n = int(runs.read_text()) if runs.exists() else 0
runs.write_text(str(n + 1))
if n > 0:
    sys.exit(3)  # every restart fails
port = int(re.search(r"listen: .*:(\\d+)", open(sys.argv[2]).read())[1])
sock = socket.socket()
sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
sock.bind(("127.0.0.1", port))
sock.listen()
conn, _ = sock.accept()
conn.sendall(b"INFO {}\\r\\n")  # the supervisor's readiness probe
conn.close()
time.sleep(0.3)
sys.exit(1)  # then die
"""


async def test_a_server_that_keeps_dying_is_given_up_on(tmp_path):
    script = tmp_path / "fake-nats-server"
    script.write_text(f"#!{sys.executable}\n{FAKE_SERVER}")
    script.chmod(0o755)
    embedded = EmbeddedNats(
        1 << 20, port=free_port(), binary=str(script), restart_limit=3, first_backoff_s=0.01
    )
    with pytest.raises(
        EngineError, match=r"keeps dying \(nats-server exited with 3\); gave up after 3"
    ):
        await embedded.run()
    assert embedded.restarts == 0
    assert (tmp_path / "fake-nats-server.runs").read_text() == "4"  # one start, three restarts


async def test_a_server_that_does_not_start_is_a_start_up_error(tmp_path):
    embedded = EmbeddedNats(1 << 20, port=free_port(), binary="/bin/false")
    with pytest.raises(EngineError, match="nats-server exited with 1"):
        await embedded.run()
