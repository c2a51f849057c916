"""A TLS-only nats-server with a password: the daemon, the client, `run` and the TUI connect."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys

import pytest

from engine_client import EngineClient, EngineClientError, NatsConnection, build_request
from service.testing.harness import ROOT, Daemon
from service.testing.nats_servers import NatsServer, make_tls_files
from tui.messages import StatsReceived
from tui.source import NatsStatsSource

PASSWORD = "s3cret-pa55"


@pytest.fixture
def secure_nats(tmp_path):
    tls = make_tls_files(tmp_path)
    auth = f'authorization {{\n  user: engine\n  password: "{PASSWORD}"\n}}\n'
    server = NatsServer(tmp_path, extra_config=tls.server_config() + auth, scheme="tls")
    yield server, tls
    server.stop()


def secure_env(server: NatsServer, tls, password: str = PASSWORD) -> dict[str, str]:
    return {
        "NATSURL": server.url,
        "CODE_ENGINE_NATS_USER": "engine",
        "CODE_ENGINE_NATS_PASSWORD": password,
        "CODE_ENGINE_NATS_TLS_CA": str(tls.ca),
    }


def test_daemon_client_run_and_tui_connect_over_tls_with_a_password(secure_nats, tmp_path):
    server, tls = secure_nats
    env = secure_env(server, tls)
    connection = NatsConnection(
        servers=(server.url,), user="engine", password=PASSWORD, tls_ca=str(tls.ca)
    )
    with Daemon(server.url, tmp_path / "d.log", env) as daemon:

        async def client_and_tui() -> tuple[dict, StatsReceived]:
            async with await EngineClient.connect(connection=connection) as client:
                reply = await client.send(build_request("python", "print(6*7)"), timeout=60)
            seen: asyncio.Queue = asyncio.Queue()
            source = NatsStatsSource(connection)
            watcher = asyncio.create_task(source.run(seen.put_nowait))
            try:
                while not isinstance(
                    message := await asyncio.wait_for(seen.get(), 30), StatsReceived
                ):
                    pass
            finally:
                watcher.cancel()
            return reply, message

        reply, stats = asyncio.run(client_and_tui())
        assert (reply["status"], reply["output"]) == ("ok", "42\n")
        assert stats.snapshot.instance == daemon.instance_id
        program = tmp_path / "hello.py"
        program.write_text("print('over tls')\n")
        run = subprocess.run(
            [sys.executable, "-m", "service", "run", str(program)],
            env={**os.environ, **env},
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert (run.returncode, run.stdout) == (0, "over tls\n"), run.stderr
    log = daemon.log_text()
    assert PASSWORD not in log
    assert "tls://127.0.0.1" in log and "(user engine, TLS)" in log


def test_a_wrong_password_is_a_clear_start_up_error(secure_nats, tmp_path):
    server, tls = secure_nats
    env = {
        **os.environ,
        **secure_env(server, tls, password="wrong-pa55"),
        "CODE_ENGINE_WORKERS": "1",
    }
    env["CODE_ENGINE_INSTANCE_ID"] = "test-wrong-password"
    daemon = subprocess.run(
        [sys.executable, "-m", "service", "serve"],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert daemon.returncode == 1
    last = daemon.stderr.strip().splitlines()[-1]
    assert last == (
        f"code-engine: NATS at {server.url} (user engine, TLS) refused the connection: "
        "the credentials were refused (authorization violation)"
    )
    assert "wrong-pa55" not in daemon.stderr + daemon.stdout

    async def client() -> None:
        connection = NatsConnection(
            servers=(server.url,), user="engine", password="wrong-pa55", tls_ca=str(tls.ca)
        )
        await EngineClient.connect(connection=connection)

    with pytest.raises(EngineClientError, match="refused the connection") as error:
        asyncio.run(client())
    assert "wrong-pa55" not in str(error.value)


def test_plain_nats_to_a_tls_only_server_is_refused_clearly(secure_nats):
    server, _tls = secure_nats

    async def client() -> None:
        await EngineClient.connect(server.url.replace("tls://", "nats://"))

    with pytest.raises(EngineClientError, match=r"refused the connection|TLS"):
        asyncio.run(client())
