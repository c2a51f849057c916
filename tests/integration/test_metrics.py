"""/metrics, /healthz and /readyz of a live daemon, with real Docker and NATS."""

from __future__ import annotations

import http.client
import json
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from engine_client import build_request
from service.testing.client import run_code, send
from service.testing.harness import Daemon, job_running, nats_request, wait_for_stats
from service.testing.nats_servers import NatsServer, free_port

Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


def get(port: int, path: str) -> tuple[int, str, bytes]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        connection.request("GET", path)
        response = connection.getresponse()
        return response.status, response.getheader("Content-Type") or "", response.read()
    finally:
        connection.close()


def scrape(port: int) -> Samples:
    status, content_type, body = get(port, "/metrics")
    assert status == 200
    assert content_type.startswith("text/plain")
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(body.decode())
        for sample in family.samples
    }


def requests(samples: Samples, kind: str, status: str) -> float:
    return samples.get(("code_engine_requests_total", (("kind", kind), ("status", status))), 0)


@pytest.fixture(scope="module")
def observed(tmp_session: Path) -> Iterator[tuple[Daemon, int]]:
    # A NATS of its own: the suite's other daemons share the queue group and
    # would take some of the requests counted here.
    port = free_port()
    with NatsServer(tmp_session) as nats_server:
        daemon = Daemon(
            nats_server.url,
            tmp_session / "metrics-daemon.log",
            {"CODE_ENGINE_METRICS_ADDR": f"127.0.0.1:{port}"},
        )
        yield daemon, port
        assert daemon.stop() == 0, daemon.log_tail()


def test_metrics_move_with_requests(observed):
    daemon, port = observed
    before = scrape(port)
    assert before[("code_engine_info", (("instance", daemon.instance_id), ("version", "0.1.0")))]
    assert before[("code_engine_docker_reachable", ())] == 1
    assert before[("code_engine_nats_connected", ())] == 1
    assert before[("code_engine_pool_warm_target", ())] == 2

    assert run_code(daemon.nats_url, "python", "print(1)")["status"] == "ok"
    assert run_code(daemon.nats_url, "python", "raise SystemExit(3)")["status"] == "runtime_error"
    assert run_code(daemon.nats_url, "cobol", "x")["status"] == "invalid_request"
    problem = build_request("python", "print(int(input()) * 2)")
    problem["tests"] = [{"stdin": "Mg==", "expected_output": "NA=="}]
    reply = send(daemon.nats_url, problem, subject="problems.execute.request")
    assert reply["status"] == "accepted"

    after = scrape(port)
    for kind, status in [
        ("compiler", "ok"),
        ("compiler", "runtime_error"),
        ("compiler", "invalid_request"),
        ("problems", "accepted"),
    ]:
        assert requests(after, kind, status) == requests(before, kind, status) + 1, (kind, status)
    count = ("code_engine_request_duration_seconds_count", (("kind", "compiler"),))
    assert after[count] == before.get(count, 0) + 3
    assert after[("code_engine_request_duration_seconds_sum", (("kind", "problems"),))] > 0
    assert after[("process_resident_memory_bytes", ())] > 0


def test_busy_workers_while_a_job_runs(observed):
    daemon, port = observed
    request = build_request(
        "python", "import time; time.sleep(2); print('done')", id="metrics-sleeper"
    )
    replies: list[dict] = []
    sender = threading.Thread(target=lambda: replies.append(send(daemon.nats_url, request)))
    sender.start()
    wait_for_stats(daemon, job_running(request["id"]), what="the sleeper running")
    during = scrape(port)
    sender.join()
    assert during[("code_engine_workers_busy", ())] >= 1
    assert during[("code_engine_pool_containers", (("state", "busy"),))] >= 1
    assert replies[0]["status"] == "ok"


def test_readyz_flips_to_503_while_draining(observed):
    daemon, port = observed
    assert get(port, "/healthz")[0] == 200
    status, _, body = get(port, "/readyz")
    assert (status, json.loads(body)) == (200, {"ready": True, "state": "running", "reasons": []})
    admin = f"code-engine.admin.{daemon.instance_id}"
    try:
        assert nats_request(daemon.nats_url, admin, {"action": "drain"})["state"] == "draining"
        status, _, body = get(port, "/readyz")
        assert status == 503
        assert json.loads(body)["reasons"] == ["the engine is draining"]
        assert get(port, "/healthz")[0] == 200  # alive all the same
        assert scrape(port)[("code_engine_state", (("state", "draining"),))] == 1
    finally:
        nats_request(daemon.nats_url, admin, {"action": "resume"})
    assert get(port, "/readyz")[0] == 200
