"""The gateway's HTTP layer with a fake engine: routing, errors, auth, limits, body size, CORS."""

from __future__ import annotations

import base64

import httpx
import msgspec
import pytest
import trio

from gateway.http.app import GatewayApp
from gateway.http.guard import Guard
from gateway.http.router import Router
from gateway.metrics import GatewayMetrics
from gateway.native import NativeApi
from gateway.openapi import document
from gateway.ops import OpsApi
from gateway.testing.fakes import FakeEngine, ok_reply
from wire import Kind


def make_app(engine: FakeEngine, guard: Guard | None = None, origins=()) -> GatewayApp:
    router = Router()
    metrics = GatewayMetrics()
    OpsApi(engine, metrics).mount(router)  # type: ignore[arg-type]
    NativeApi(engine).mount(router)  # type: ignore[arg-type]
    return GatewayApp(
        router,
        guard or Guard(frozenset()),
        metrics,
        max_body=lambda: engine.max_payload,
        origins=origins,
    )


def client(app: GatewayApp) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://gw")


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


async def test_native_run_passes_the_request_and_the_reply_through():
    engine = FakeEngine()
    async with client(make_app(engine)) as http:
        response = await http.post("/v1/run", json={"language": "py", "code": b64("print(42)")})
    assert response.status_code == 200
    assert response.json()["output"] == "42\n"
    assert engine.sent[0][0] is Kind.COMPILER
    assert engine.sent[0][1]["code"] == b64("print(42)")


async def test_native_refuses_an_unknown_field_by_name_before_nats():
    engine = FakeEngine()
    async with client(make_app(engine)) as http:
        response = await http.post("/v1/run", json={"language": "py", "code": "", "cod": 1})
    assert response.status_code == 422
    assert response.json()["status"] == "invalid_request"
    assert "cod" in response.json()["error"]
    assert engine.sent == []


@pytest.mark.parametrize(
    ("status", "code"), [("ok", 200), ("timeout", 200), ("invalid_request", 422), ("busy", 503)]
)
async def test_native_http_status_follows_the_reply(status, code):
    engine = FakeEngine(lambda kind, request: ok_reply(request, status=status))
    async with client(make_app(engine)) as http:
        response = await http.post("/v1/problems", json={"language": "py", "code": ""})
    assert response.status_code == code
    assert engine.sent[0][0] is Kind.PROBLEMS


async def test_engine_down_is_a_503_that_names_no_subject():
    engine = FakeEngine()
    engine.down = True
    async with client(make_app(engine)) as http:
        response = await http.post("/v1/run", json={"language": "py", "code": ""})
        ready = await http.get("/readyz")
    assert response.status_code == 503
    assert "execute" not in response.text and "nats://" not in response.text
    assert ready.status_code == 503


async def test_unknown_route_and_method():
    async with client(make_app(FakeEngine())) as http:
        assert (await http.get("/nowhere")).status_code == 404
        wrong = await http.get("/v1/run")
        assert wrong.status_code == 405
        assert "POST" in wrong.json()["error"]


async def test_tokens_bearer_and_x_auth_token():
    app = make_app(FakeEngine(), Guard(frozenset({"s3cret"})))
    async with client(app) as http:
        assert (await http.get("/v1/languages")).status_code == 401
        wrong = await http.get("/v1/languages", headers={"Authorization": "Bearer nope"})
        assert wrong.status_code == 401
        assert "s3cret" not in wrong.text
        bearer = await http.get("/v1/languages", headers={"Authorization": "Bearer s3cret"})
        assert bearer.status_code == 200
        judge0 = await http.get("/v1/languages", headers={"X-Auth-Token": "s3cret"})
        assert judge0.status_code == 200
        assert (await http.get("/healthz")).status_code == 200  # probes need no token


async def test_rate_limit_per_token(autojump_clock):
    app = make_app(FakeEngine(), Guard(frozenset({"a", "b"}), rate=1.0, burst=2))
    async with client(app) as http:
        codes = [
            (await http.get("/v1/languages", headers={"X-Auth-Token": "a"})).status_code
            for _ in range(3)
        ]
        assert codes == [200, 200, 429]
        other = await http.get("/v1/languages", headers={"X-Auth-Token": "b"})
        assert other.status_code == 200  # per token
        await trio.sleep(1.0)
        again = await http.get("/v1/languages", headers={"X-Auth-Token": "a"})
        assert again.status_code == 200


async def test_concurrency_cap_per_token():
    release = trio.Event()

    class SlowEngine(FakeEngine):
        async def request(self, kind, payload, *, timeout_s=None):
            await release.wait()
            return await super().request(kind, payload)

    app = make_app(SlowEngine(), Guard(frozenset({"a"}), concurrency=1))
    codes: list[int] = []
    async with client(app) as http, trio.open_nursery() as nursery:

        async def run() -> None:
            response = await http.post(
                "/v1/run", json={"language": "py", "code": ""}, headers={"X-Auth-Token": "a"}
            )
            codes.append(response.status_code)

        nursery.start_soon(run)
        await trio.sleep(0.1)
        second = await http.post(
            "/v1/run", json={"language": "py", "code": ""}, headers={"X-Auth-Token": "a"}
        )
        assert second.status_code == 429
        assert second.headers["Retry-After"] == "1"
        release.set()
    assert codes == [200]


async def test_body_larger_than_the_engine_takes_is_413():
    engine = FakeEngine()
    async with client(make_app(engine)) as http:
        response = await http.post("/v1/run", content=b"x" * 5000)
    assert response.status_code == 413
    assert engine.sent == []


async def test_cors_preflight_and_origin():
    app = make_app(FakeEngine(), origins=("https://ide.example",))
    async with client(app) as http:
        preflight = await http.options(
            "/v1/run",
            headers={"Origin": "https://ide.example", "Access-Control-Request-Method": "POST"},
        )
        assert preflight.status_code == 204
        assert preflight.headers["Access-Control-Allow-Origin"] == "https://ide.example"
        other = await http.get("/v1/languages", headers={"Origin": "https://evil.example"})
        assert "Access-Control-Allow-Origin" not in other.headers


async def test_metrics_count_by_route_template():
    async with client(make_app(FakeEngine())) as http:
        await http.get("/v1/languages")
        await http.get("/no/such/thing")
        text = (await http.get("/metrics")).text
    assert 'route="/v1/languages"' in text
    assert "/no/such/thing" not in text


def test_openapi_document_refers_only_to_defined_schemas():
    doc = document()
    assert doc["openapi"].startswith("3.1")
    text = msgspec.json.encode(doc).decode()
    refs = {part.split('"')[0] for part in text.split("#/components/schemas/")[1:]}
    assert refs <= set(doc["components"]["schemas"])
    assert {"WireRequest", "WireProblemRequest", "Reply", "ProblemReply"} <= refs
