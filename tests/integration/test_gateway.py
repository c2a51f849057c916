"""The gateway through real HTTP, in front of a real daemon and a real nats-server.

Three gateways share the session's daemon: ``gateway`` (no authentication),
``guarded`` (tokens) and ``limited`` (tokens, a rate of 1/s and one request in
flight per token). Submissions are fetched from another gateway than the one
that took them, and after a restart, since the bucket holds them, not memory.
"""

from __future__ import annotations

import base64
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from gateway.testing.process import GatewayProcess
from gateway.testing.samples import HELLO
from service.testing.harness import Daemon
from service.testing.nats_servers import NatsServer
from service.testing.waiting import wait_until

pytestmark = pytest.mark.integration
TOKEN = "test-token-1"


@pytest.fixture(scope="module")
def gateway(nats_server: NatsServer, daemon: Daemon, tmp_session: Path) -> Iterator[GatewayProcess]:
    with GatewayProcess(nats_server.url, tmp_session / "gateway-a.log") as process:
        yield process


@pytest.fixture(scope="module")
def guarded(nats_server: NatsServer, daemon: Daemon, tmp_session: Path) -> Iterator[GatewayProcess]:
    env = {"CODE_ENGINE_GATEWAY_TOKENS": f"{TOKEN},other-token"}
    with GatewayProcess(nats_server.url, tmp_session / "gateway-b.log", env) as process:
        yield process


@pytest.fixture(scope="module")
def limited(nats_server: NatsServer, daemon: Daemon, tmp_session: Path) -> Iterator[GatewayProcess]:
    env = {
        "CODE_ENGINE_GATEWAY_TOKENS": TOKEN,
        "CODE_ENGINE_GATEWAY_RATE": "1",
        "CODE_ENGINE_GATEWAY_BURST": "2",
        "CODE_ENGINE_GATEWAY_CONCURRENCY": "1",
    }
    with GatewayProcess(nats_server.url, tmp_session / "gateway-c.log", env) as process:
        yield process


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def submit(gw: GatewayProcess, query: str = "wait=true", **fields: Any) -> httpx.Response:
    return httpx.post(f"{gw.url}/submissions?{query}", json=fields, timeout=60)


def poll(gw: GatewayProcess, token: str, headers: dict[str, str] | None = None) -> dict[str, Any]:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        response = httpx.get(f"{gw.url}/submissions/{token}?fields=*", headers=headers)
        assert response.status_code == 200, response.text
        if response.json()["status"]["id"] > 2:
            return response.json()
        time.sleep(0.1)
    raise AssertionError(f"submission {token} still queued")


# -- native --------------------------------------------------------------------------


def test_native_run_problems_and_languages(gateway):
    run = httpx.post(
        f"{gateway.url}/v1/run", json={"language": "python", "code": b64("print(6 * 7)")}
    )
    assert run.status_code == 200
    assert (run.json()["status"], run.json()["output"]) == ("ok", "42\n")
    problems = httpx.post(
        f"{gateway.url}/v1/problems",
        json={
            "language": "python",
            "code": b64("print(sum(map(int, input().split())))"),
            "tests": [
                {"stdin": b64("1 2"), "expected_output": b64("3")},
                {"stdin": b64("2 2"), "expected_output": b64("5")},
            ],
        },
        timeout=60,
    )
    assert problems.status_code == 200
    assert [t["status"] for t in problems.json()["tests"]] == ["accepted", "wrong_answer"]
    names = [
        entry["name"] for entry in httpx.get(f"{gateway.url}/v1/languages").json()["languages"]
    ]
    assert {"python", "javascript", "go", "cpp"} <= set(names)


def test_native_refusals_are_json_with_the_right_status(gateway):
    unknown = httpx.post(f"{gateway.url}/v1/run", json={"language": "cobol", "code": b64("x")})
    assert unknown.status_code == 422
    assert unknown.json()["status"] == "invalid_request"
    assert "cobol" in unknown.json()["error"]
    too_big = httpx.post(f"{gateway.url}/v1/run", content=b"x" * (9 << 20))
    assert too_big.status_code == 413
    assert httpx.get(f"{gateway.url}/v1/nothing").status_code == 404


# -- Judge0 --------------------------------------------------------------------------


def test_judge0_wait_true_returns_the_result_and_keeps_it(gateway):
    done = submit(gateway, language_id=71, source_code="print(input()[::-1])", stdin="olleh")
    assert done.status_code == 201
    body = done.json()
    assert body["status"] == {"id": 3, "description": "Accepted"}
    assert body["stdout"] == "hello\n"
    again = httpx.get(f"{gateway.url}/submissions/{body['token']}").json()
    assert again["stdout"] == "hello\n"


def test_judge0_no_wait_fetched_here_from_another_gateway_and_after_a_restart(gateway, guarded):
    created = submit(
        gateway,
        "base64_encoded=true",
        language_id=71,
        source_code=b64("print('é')"),
        expected_output=b64("é"),
    )
    assert created.status_code == 201
    token = created.json()["token"]
    assert set(created.json()) == {"token"}
    here = poll(gateway, token)
    assert here["status"]["id"] == 3
    assert here["stdout"] == "é\n"
    elsewhere = poll(guarded, token, {"X-Auth-Token": TOKEN})
    assert elsewhere["stdout"] == "é\n"
    gateway.restart()
    after = httpx.get(f"{gateway.url}/submissions/{token}?base64_encoded=true").json()
    assert base64.b64decode(after["stdout"]).decode() == "é\n"


def test_judge0_no_wait_run_survives_its_gateway_killed(nats_server, daemon, tmp_session):
    """The gateway running a submission dies (SIGKILL): another one runs it again."""
    env = {"CODE_ENGINE_GATEWAY_LEASE_S": "1"}
    with (
        GatewayProcess(nats_server.url, tmp_session / "gateway-dying.log", env) as dying,
        GatewayProcess(nats_server.url, tmp_session / "gateway-heir.log", env) as heir,
    ):
        code = "import time\ntime.sleep(2)\nprint('ran to the end')"
        created = submit(dying, "wait=false", language_id=71, source_code=code, wall_time_limit=10)
        token = created.json()["token"]
        url = f"{heir.url}/submissions/{token}"
        wait_until(
            lambda: httpx.get(url).json()["status"]["id"] == 2,
            timeout=30,
            what="the first gateway running it (Processing)",
        )
        dying.kill()  # two seconds before the program ends: only another gateway can finish it
        done = poll(heir, token)
        assert done["status"]["id"] == 3, done
        assert done["stdout"] == "ran to the end\n"


def test_judge0_batch(gateway):
    created = httpx.post(
        f"{gateway.url}/submissions/batch",
        json={
            "submissions": [
                {"language_id": 71, "source_code": "print(1)"},
                {"language_id": 63, "source_code": "console.log(2)"},
                {"language_id": 4242, "source_code": "x"},
            ]
        },
    )
    assert created.status_code == 201
    answers = created.json()
    assert "language_id" in answers[2]
    tokens = [answers[0]["token"], answers[1]["token"]]
    for token in tokens:
        poll(gateway, token)
    fetched = httpx.get(f"{gateway.url}/submissions/batch?tokens={','.join(tokens)}").json()
    assert [s["stdout"] for s in fetched["submissions"]] == ["1\n", "2\n"]


KILL = "import os, signal\nos.kill(os.getpid(), signal.{})\n"


@pytest.mark.parametrize(
    ("fields", "status_id"),
    [
        ({"source_code": "print('hi')", "expected_output": "hi\n\n"}, 3),
        ({"source_code": "print('hi')", "expected_output": "ho"}, 4),
        ({"source_code": "while True: pass", "wall_time_limit": 1, "cpu_time_limit": 1}, 5),
        ({"language_id": 54, "source_code": "int main( {"}, 6),
        ({"source_code": KILL.format("SIGSEGV")}, 7),
        ({"source_code": "import sys\nwhile True: sys.stdout.write('x' * 65536)"}, 8),
        ({"source_code": KILL.format("SIGFPE")}, 9),
        ({"source_code": "import os\nos.abort()"}, 10),
        ({"source_code": "import sys\nsys.exit(3)"}, 11),
        ({"source_code": KILL.format("SIGKILL")}, 12),
        ({"source_code": "x = bytearray(300 << 20)", "memory_limit": 65536}, 12),
    ],
)
def test_judge0_status_mapping(gateway, fields, status_id):
    done = submit(gateway, "wait=true&fields=*", **{"language_id": 71, **fields})
    assert done.status_code == 201, done.text
    assert done.json()["status"]["id"] == status_id, done.json()


def test_judge0_refusals_name_the_field(gateway):
    for field, value in (("stack_limit", 1000), ("enable_network", True), ("bogus", 1)):
        refused = submit(gateway, language_id=71, source_code="print(1)", **{field: value})
        assert refused.status_code == 422
        assert field in refused.json()
    callback = submit(gateway, language_id=71, source_code="1", callback_url="http://127.0.0.1/")
    assert callback.status_code == 422
    assert "callback_url" in callback.json()
    assert httpx.get(f"{gateway.url}/submissions/no-such-token").status_code == 404
    assert httpx.get(f"{gateway.url}/languages/62").status_code == 200  # Java
    assert httpx.get(f"{gateway.url}/languages/78").status_code == 404  # Kotlin: opt-in


def test_judge0_reference_endpoints(gateway):
    assert httpx.get(f"{gateway.url}/about").json()["version"] == "1.13.1"
    assert len(httpx.get(f"{gateway.url}/statuses").json()) == 14
    languages = {entry["id"] for entry in httpx.get(f"{gateway.url}/languages").json()}
    assert {54, 60, 63, 71} <= languages
    assert httpx.get(f"{gateway.url}/languages/71").json()["source_file"] == "main.py"
    config = httpx.get(f"{gateway.url}/config_info").json()
    assert config["enable_callbacks"] is False
    assert config["max_wall_time_limit"] > 0


# -- Piston --------------------------------------------------------------------------


def test_piston_every_served_runtime_says_hello(gateway):
    runtimes = httpx.get(f"{gateway.url}/api/v2/runtimes").json()
    assert {r["language"] for r in runtimes} >= {"python", "javascript", "go", "cpp"}
    for runtime in runtimes:
        assert runtime["language"] in HELLO, f"no hello world for {runtime['language']}"
        response = httpx.post(
            f"{gateway.url}/api/v2/execute",
            json={
                "language": runtime["language"],
                "version": runtime["version"],
                "files": [{"content": HELLO[runtime["language"]]}],
            },
            timeout=60,
        )
        assert response.status_code == 200, response.text
        assert response.json()["run"]["stdout"] == "hello\n", response.json()
        assert response.json()["run"]["code"] == 0


def test_piston_errors(gateway):
    unknown = httpx.post(
        f"{gateway.url}/api/v2/execute",
        json={"language": "cobol", "version": "*", "files": [{"content": "x"}]},
    )
    assert unknown.status_code == 400
    assert unknown.json()["message"] == "cobol-* runtime is unknown"
    compile_error = httpx.post(
        f"{gateway.url}/api/v2/execute",
        json={"language": "go", "version": "*", "files": [{"content": "package main\nfunc"}]},
        timeout=60,
    ).json()
    assert compile_error["compile"]["code"] != 0
    assert "run" not in compile_error


# -- operators -----------------------------------------------------------------------


def test_tokens(guarded):
    assert httpx.get(f"{guarded.url}/languages").status_code == 401
    wrong = httpx.get(f"{guarded.url}/languages", headers={"Authorization": "Bearer nope"})
    assert wrong.status_code == 401
    assert TOKEN not in wrong.text
    bearer = {"Authorization": f"Bearer {TOKEN}"}
    assert httpx.get(f"{guarded.url}/languages", headers=bearer).status_code == 200
    judge0 = {"X-Auth-Token": TOKEN}
    assert httpx.get(f"{guarded.url}/api/v2/runtimes", headers=judge0).status_code == 200
    assert httpx.get(f"{guarded.url}/healthz").status_code == 200
    assert httpx.get(f"{guarded.url}/readyz").status_code == 200
    assert "code_engine_gateway_requests" in httpx.get(f"{guarded.url}/metrics").text


def test_rate_limit_and_concurrency(limited):
    headers = {"X-Auth-Token": TOKEN}
    codes = [httpx.get(f"{limited.url}/statuses", headers=headers).status_code for _ in range(4)]
    assert codes[:2] == [200, 200]
    assert 429 in codes[2:]
    limited_response = next(
        r
        for r in (httpx.get(f"{limited.url}/statuses", headers=headers) for _ in range(3))
        if r.status_code == 429
    )
    assert int(limited_response.headers["Retry-After"]) >= 1
    time.sleep(2.5)
    slow: list[httpx.Response] = []
    worker = threading.Thread(
        target=lambda: slow.append(
            httpx.post(
                f"{limited.url}/submissions?wait=true",
                headers=headers,
                json={"language_id": 71, "source_code": "import time; time.sleep(1.5)"},
                timeout=30,
            )
        )
    )
    worker.start()
    time.sleep(0.5)  # the slow one is in flight
    second = httpx.get(f"{limited.url}/statuses", headers=headers)
    worker.join()
    assert second.status_code == 429
    assert "in flight" in second.json()["error"]
    assert slow[0].status_code == 201


def test_judge0_official_python_sdk_unchanged(gateway):
    judge0 = pytest.importorskip("judge0")
    client = judge0.Client(gateway.url)
    assert client.version == "1.13.1"
    single = judge0.run(
        client=client, source_code="print(input()[::-1])", stdin="olleh", language=71
    )
    assert (single.status.value, single.stdout) == (3, "hello\n")
    batch = judge0.run(
        client=client,
        submissions=[
            judge0.Submission(source_code="print(1)", language=71),
            judge0.Submission(source_code="console.log(2)", language=63),
        ],
    )
    assert [s.stdout for s in batch] == ["1\n", "2\n"]
