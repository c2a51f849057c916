"""docker-compose.yml as an operator runs it: images built here, no registry.

Builds the images (``scripts/build-images.sh``: skipped when up to date), brings
the project up under a name, ports and instance id of its own, sends requests
from the host, stops it with a job in flight, and brings it down. The daemon in
its container must make worker containers exactly like a daemon on the host.
"""

from __future__ import annotations

import asyncio
import http.client
import json
import os
import subprocess
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass

import nats
import pytest

from engine_client import build_request
from service.config import Settings
from service.testing.harness import ROOT, Daemon, instance_containers, job_running, wait_for_stats
from service.testing.nats_servers import free_port
from wire.subjects import INSTANCE_HEADER

pytestmark = [pytest.mark.integration, pytest.mark.compose]

READY_TIMEOUT_S = 120.0


def compose_command() -> list[str]:
    """The Compose the set-up installs (`docker compose`, else `docker-compose`)."""
    out = subprocess.run(
        ["bash", str(ROOT / "scripts" / "ensure-compose.sh")],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return out.split()


@dataclass
class Project:
    """A compose project on its own ports; quacks like a harness Daemon for wait_for_stats."""

    command: list[str]
    env: dict[str, str]
    instance_id: str
    nats_url: str
    metrics_port: int

    def compose(self, *args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [*self.command, *args],
            cwd=ROOT,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=timeout,
        )

    @property
    def settings(self) -> Settings:
        """How the host reaches the project's NATS (what the harness connects with)."""
        return Settings.from_env({"NATSURL": self.nats_url}, instance_id=self.instance_id)

    def alive(self) -> bool:
        return True

    def log_tail(self) -> str:
        return self.compose("logs", "--no-color", "--tail", "40").stdout

    def get(self, path: str) -> tuple[int, dict]:
        connection = http.client.HTTPConnection("127.0.0.1", self.metrics_port, timeout=5)
        try:
            connection.request("GET", path)
            response = connection.getresponse()
            return response.status, json.loads(response.read() or b"{}")
        finally:
            connection.close()

    def wait_ready(self) -> None:
        deadline = time.monotonic() + READY_TIMEOUT_S
        last: object = None
        while time.monotonic() < deadline:
            try:
                status, body = self.get("/readyz")
                if status == 200:
                    return
                last = body
            except (OSError, http.client.HTTPException, json.JSONDecodeError) as exc:
                last = exc
            time.sleep(0.2)
        raise AssertionError(f"not ready in {READY_TIMEOUT_S} s ({last}):\n{self.log_tail()}")


def request(url: str, subject: str, body: dict, timeout: float = 60) -> tuple[dict, dict]:
    """One request from the host: the reply and its headers."""

    async def ask() -> tuple[dict, dict]:
        nc = await nats.connect(url, connect_timeout=5, max_reconnect_attempts=0)
        try:
            msg = await nc.request(subject, json.dumps(body).encode(), timeout=timeout)
            return json.loads(msg.data), dict(msg.headers or {})
        finally:
            await nc.close()

    return asyncio.run(ask())


def inspect(container: str) -> dict:
    out = subprocess.run(
        ["docker", "inspect", container], capture_output=True, text=True, check=True
    ).stdout
    return json.loads(out)[0]


def hardening(container: str) -> tuple[dict, dict]:
    """What makes a worker container what it is: HostConfig, and Config less its labels.

    Each container's job uid is its own (CODE_ENGINE_JOB_UID): only its presence counts.
    """
    found = inspect(container)
    config = {k: v for k, v in found["Config"].items() if k not in ("Labels", "Hostname")}
    config["Env"] = [
        "CODE_ENGINE_JOB_UID=*" if e.startswith("CODE_ENGINE_JOB_UID=") else e
        for e in config["Env"]
    ]
    return found["HostConfig"], config


@pytest.fixture(scope="module")
def project() -> Iterator[Project]:
    built = subprocess.run(
        ["bash", str(ROOT / "scripts" / "build-images.sh")],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert built.returncode == 0, built.stderr
    tag = uuid.uuid4().hex[:8]
    nats_port, metrics_port = free_port(), free_port()
    env = {
        **os.environ,
        "COMPOSE_PROJECT_NAME": f"cetest{tag}",
        "CODE_ENGINE_INSTANCE_ID": f"compose-{tag}",
        "CODE_ENGINE_NATS_PORT": str(nats_port),
        "CODE_ENGINE_METRICS_PORT": str(metrics_port),
    }
    found = Project(
        compose_command(),
        env,
        env["CODE_ENGINE_INSTANCE_ID"],
        f"nats://127.0.0.1:{nats_port}",
        metrics_port,
    )
    try:
        up = found.compose("up", "-d")
        assert up.returncode == 0, up.stderr
        found.wait_ready()
        yield found
    finally:
        down = found.compose("down", "-v", "--remove-orphans")
        assert down.returncode == 0, down.stderr
        assert instance_containers(found.instance_id) == [], "worker containers left behind"


def test_requests_from_the_host_are_answered(project):
    reply, headers = request(
        project.nats_url, "compiler.execute.request", build_request("python", "print(6 * 7)")
    )
    assert (reply["status"], reply["output"]) == ("ok", "42\n")
    assert headers[INSTANCE_HEADER] == project.instance_id

    problem = build_request(
        "cpp", "#include <iostream>\nint main(){int a;std::cin>>a;std::cout<<a*2<<std::endl;}"
    )
    problem["tests"] = [
        {"id": "two", "stdin": "Mg==", "expected_output": "NA=="},
        {"id": "three", "stdin": "Mw==", "expected_output": "Nw=="},
    ]
    reply, headers = request(project.nats_url, "problems.execute.request", problem)
    assert reply["status"] == "wrong_answer", reply
    assert [t["status"] for t in reply["tests"]] == ["accepted", "wrong_answer"]
    assert headers[INSTANCE_HEADER] == project.instance_id


def test_worker_containers_are_hardened_as_on_the_host(project, daemon: Daemon):
    # `daemon` is the suite's daemon on the host, with the same worker image.
    in_compose = instance_containers(project.instance_id)
    on_host = instance_containers(daemon.instance_id)
    assert in_compose and on_host
    host_config, config = hardening(on_host[0])
    assert host_config["NetworkMode"] == "none"
    assert host_config["ReadonlyRootfs"] is True
    assert hardening(in_compose[0]) == (host_config, config)


def test_compose_stop_answers_the_job_in_flight_and_removes_containers(project):
    status, body = project.get("/readyz")
    assert status == 200, body
    job = build_request(
        "python", "import time; time.sleep(3); print('finished')", request_id="in-flight"
    )
    replies: list[dict] = []
    sender = threading.Thread(
        target=lambda: replies.append(request(project.nats_url, "compiler.execute.request", job)[0])
    )
    sender.start()
    wait_for_stats(project, job_running("in-flight"), what="the job running")  # type: ignore[arg-type]
    engine = project.compose("ps", "-q", "engine").stdout.strip()
    stop = project.compose("stop", timeout=120)
    sender.join(30)
    assert stop.returncode == 0, stop.stderr
    assert replies and (replies[0]["status"], replies[0]["output"]) == ("ok", "finished\n")
    state = inspect(engine)["State"]
    assert (state["Running"], state["ExitCode"]) == (False, 0)
    assert instance_containers(project.instance_id) == []
