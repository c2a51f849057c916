"""/metrics, /healthz and /readyz against an engine of fakes (Docker, agent, NATS)."""

from __future__ import annotations

import json
from http import HTTPStatus

import pytest
import trio
import trio.testing
from prometheus_client.parser import text_string_to_metric_families

from docker_api.testing import FakeDockerEngine
from service.config import Settings
from service.engine import Engine
from service.errors import ConfigError, EngineError
from service.intake.memory import MemoryIntake
from service.operations.http import MAX_CONNECTIONS, READ_TIMEOUT_S, OpsListener
from service.operations.metrics import Histogram
from service.testing import FakeAgent, answer

SETTINGS = Settings.from_env({}, instance_id="unit", workers=2, concurrency=3)
GOOD = json.dumps({"language": "py", "code": "eA==", "id": "a"}).encode()


def samples(listener: OpsListener) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    status, content_type, body = listener.answer(b"GET /metrics HTTP/1.1\r\n\r\n")
    assert status is HTTPStatus.OK
    assert content_type.startswith("text/plain; version=0.0.4")
    found = {}
    for family in text_string_to_metric_families(body.decode()):
        for sample in family.samples:
            found[sample.name, tuple(sorted(sample.labels.items()))] = sample.value
    return found


def ready(listener: OpsListener) -> tuple[HTTPStatus, dict]:
    status, content_type, body = listener.answer(b"GET /readyz HTTP/1.1\r\n\r\n")
    assert content_type == "application/json"
    return status, json.loads(body)


async def start_engine(nursery, agent: FakeAgent, settings: Settings = SETTINGS):
    fake = FakeDockerEngine(images=[settings.image])
    fake.on_attach = lambda peer: nursery.start_soon(agent.serve, peer)
    docker = fake.client()
    await docker.__aenter__()
    intake = MemoryIntake()
    engine = Engine(settings, docker, intake=intake)
    await nursery.start(engine.run)
    listener = OpsListener()
    listener.attach(engine.collector, engine.parts)
    return fake, intake, engine, listener


async def test_readyz_says_starting_before_the_engine_is_attached():
    status, body = ready(OpsListener())
    assert status is HTTPStatus.SERVICE_UNAVAILABLE
    assert body == {"ready": False, "state": "starting", "reasons": ["the engine is starting"]}
    assert OpsListener().answer(b"GET /healthz HTTP/1.1\r\n\r\n")[0] is HTTPStatus.OK


async def test_metrics_count_each_reply_once_by_kind_and_status(nursery, autojump_clock):
    _, intake, engine, listener = await start_engine(nursery, FakeAgent(answer(after=0.02)))
    before = samples(listener)
    assert before["code_engine_pool_containers", (("state", "idle"),)] == 2
    assert before["code_engine_docker_reachable", ()] == 1
    assert before["code_engine_nats_connected", ()] == 1
    assert before["code_engine_state", (("state", "running"),)] == 1
    assert before["code_engine_pool_warm_target", ()] == 2
    assert before["code_engine_workers", ()] == 3

    intake.submit(GOOD, reply="inbox.1")
    intake.submit(GOOD, reply="inbox.2")
    intake.submit(b"{bad", reply="inbox.3")
    for inbox in ("inbox.1", "inbox.2", "inbox.3"):
        await intake.wait_sent(inbox)
    after = samples(listener)
    ok = ("code_engine_requests_total", (("kind", "compiler"), ("status", "ok")))
    invalid = ("code_engine_requests_total", (("kind", "compiler"), ("status", "invalid_request")))
    assert after[ok] == 2
    assert after[invalid] == 1
    assert after["code_engine_request_duration_seconds_count", (("kind", "compiler"),)] == 3
    le_50ms = (
        "code_engine_request_duration_seconds_bucket",
        (("kind", "compiler"), ("le", "0.05")),
    )
    assert after[le_50ms] == 3
    # Virtual time: two runs of 20 ms, the invalid one answered at once.
    assert after["code_engine_request_duration_seconds_sum", (("kind", "compiler"),)] == (
        pytest.approx(0.04)
    )
    # The same replies the stats snapshot counts: one source.
    assert engine.metrics.by_status["ok"] == 2


async def test_compile_cache_lookups_are_counted_by_result(nursery, autojump_clock):
    _, intake, engine, listener = await start_engine(nursery, FakeAgent(answer()))
    hello = json.dumps({"language": "cpp", "code": "aW50IG1haW4oKXt9"}).encode()
    for n in range(3):
        intake.submit(hello, reply=f"inbox.{n}")
        await intake.wait_sent(f"inbox.{n}")
    found = samples(listener)
    assert found["code_engine_compile_cache_lookups_total", (("result", "hit"),)] == 2
    assert found["code_engine_compile_cache_lookups_total", (("result", "miss"),)] == 1
    assert found["code_engine_compile_cache_entries", ()] == 1
    assert found["code_engine_compile_cache_bytes", ()] > 0


async def test_busy_workers_and_queue_depth_move(nursery, autojump_clock):
    _, intake, engine, listener = await start_engine(nursery, FakeAgent(answer(after=10)))
    for n in range(5):
        intake.submit(GOOD, reply=f"inbox.{n}")
    await trio.testing.wait_all_tasks_blocked()  # three runs under way, two queued
    now = samples(listener)
    assert now["code_engine_workers_busy", ()] == 3
    assert now["code_engine_queue_depth", ()] == 2
    assert now["code_engine_pool_containers", (("state", "busy"),)] == 3


async def test_replacements_are_counted_by_reason(nursery, autojump_clock):
    settings = Settings.from_env({}, instance_id="unit", workers=2, concurrency=3, recycle_after=1)
    fake, intake, engine, listener = await start_engine(nursery, FakeAgent(answer()), settings)
    intake.submit(GOOD, reply="inbox.1")
    await intake.wait_sent("inbox.1")
    await trio.testing.wait_all_tasks_blocked()  # its container retired, a new one warm
    idle = next(c for c in engine.pool.containers if str(c.state) == "idle")
    assert engine.control.recycle(idle.short_id)
    await trio.testing.wait_all_tasks_blocked()
    victim = engine.pool.containers[0]
    await fake.exit_container(victim.id, exit_code=137)
    await engine.pool.check_health()
    await trio.testing.wait_all_tasks_blocked()
    now = samples(listener)
    reason = "code_engine_container_replacements_total"
    assert now[reason, (("reason", "recycle_after"),)] == 1
    assert now[reason, (("reason", "admin"),)] == 1
    assert now[reason, (("reason", "gone"),)] == 1, (dict(engine.pool.replaced_by), victim.state)
    assert engine.pool.replaced == 3  # the snapshot's total is the same count


async def test_readyz_turns_503_while_draining_and_200_again(nursery, autojump_clock):
    _, intake, engine, listener = await start_engine(nursery, FakeAgent(answer()))
    assert ready(listener) == (HTTPStatus.OK, {"ready": True, "state": "running", "reasons": []})
    engine.control.drain()
    status, body = ready(listener)
    assert status is HTTPStatus.SERVICE_UNAVAILABLE
    assert body["reasons"] == ["the engine is draining"]
    engine.control.resume()
    assert ready(listener)[0] is HTTPStatus.OK
    intake.connected = False
    assert ready(listener)[1]["reasons"] == ["not connected to NATS"]


async def test_readyz_names_docker_down_and_an_empty_pool(nursery, autojump_clock):
    fake, intake, engine, listener = await start_engine(nursery, FakeAgent(answer()))
    fake.down = True
    await engine.pool.check_health()
    status, body = ready(listener)
    assert status is HTTPStatus.SERVICE_UNAVAILABLE
    assert body["reasons"][0].startswith("Docker does not answer")
    assert "no warm container in the pool" in body["reasons"]
    assert samples(listener)["code_engine_docker_reachable", ()] == 0


async def test_unknown_paths_and_methods():
    listener = OpsListener()
    assert listener.answer(b"GET /nope HTTP/1.1\r\n\r\n")[0] is HTTPStatus.NOT_FOUND
    assert listener.answer(b"POST /metrics HTTP/1.1\r\n\r\n")[0] is HTTPStatus.METHOD_NOT_ALLOWED
    assert listener.answer(None)[0] is HTTPStatus.BAD_REQUEST
    assert listener.answer(b"GET /readyz?verbose=1 HTTP/1.1\r\n\r\n")[0] is (
        HTTPStatus.SERVICE_UNAVAILABLE
    )


async def test_listener_answers_over_tcp_and_closes(nursery):
    listener = OpsListener()
    port = await nursery.start(listener.run, "127.0.0.1", 0)
    stream = await trio.open_tcp_stream("127.0.0.1", port)
    await stream.send_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
    data = b""
    while chunk := await stream.receive_some():
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200 OK")
    assert b"Connection: close" in head
    assert json.loads(body) == {"alive": True}


async def test_an_address_in_use_is_a_clear_error(nursery):
    first = OpsListener()
    port = await nursery.start(first.run, "127.0.0.1", 0)
    with pytest.raises(EngineError, match=f"cannot listen on 127.0.0.1:{port} for metrics"):
        await OpsListener().run("127.0.0.1", port)


def test_metrics_address_setting():
    assert Settings.from_env({}).metrics_listen is None
    on = Settings.from_env({"CODE_ENGINE_METRICS_ADDR": "0.0.0.0:9464"})
    assert on.metrics_listen == ("0.0.0.0", 9464)
    assert Settings.from_env({"CODE_ENGINE_METRICS_ADDR": "[::1]:80"}).metrics_listen == ("::1", 80)
    assert Settings.from_env({"CODE_ENGINE_METRICS_ADDR": ":9464"}).metrics_listen == (
        "0.0.0.0",
        9464,
    )
    for bad in ("9464", "host:", "host:99999", "host:http"):
        with pytest.raises(ConfigError, match="CODE_ENGINE_METRICS_ADDR must be host:port"):
            Settings.from_env({"CODE_ENGINE_METRICS_ADDR": bad})


def test_histogram_buckets_are_cumulative():
    histogram = Histogram()
    for seconds in (0.001, 0.02, 0.02, 100.0):
        histogram.observe(seconds)
    pairs = dict(histogram.cumulative())
    assert pairs["0.005"] == 1
    assert pairs["0.025"] == 3
    assert pairs["60.0"] == 3
    assert pairs["+Inf"] == 4
    assert histogram.count == 4


async def test_a_silent_client_is_dropped_and_connections_are_capped(nursery, autojump_clock):
    listener = OpsListener()
    client, server = trio.testing.memory_stream_pair()
    nursery.start_soon(listener._serve, server)
    assert await client.receive_some() == b""  # closed after the read timeout, unanswered
    assert trio.current_time() == READ_TIMEOUT_S
    silent = []
    for _ in range(MAX_CONNECTIONS):
        client, server = trio.testing.memory_stream_pair()
        silent.append(client)
        nursery.start_soon(listener._serve, server)
    await trio.testing.wait_all_tasks_blocked()  # every one of them is being served
    one_more, server = trio.testing.memory_stream_pair()
    nursery.start_soon(listener._serve, server)
    assert await one_more.receive_some() == b""  # refused at once
    assert trio.current_time() == READ_TIMEOUT_S
