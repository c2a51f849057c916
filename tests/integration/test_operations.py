"""Operating the engine: stats snapshots, NATS service discovery, admin requests."""

from __future__ import annotations

import pytest

from engine_client import EngineClientError
from service.testing.client import run_code
from service.testing.harness import Daemon, nats_request, next_snapshot, wait_for_stats


def request(daemon: Daemon, subject: str, body: dict | None = None) -> dict:
    return nats_request(daemon.nats_url, subject, body)


def admin(daemon: Daemon, **body) -> dict:
    return request(daemon, f"code-engine.admin.{daemon.instance_id}", body)


def container_ids(snapshot: dict) -> list[str]:
    return [c["id"] for c in snapshot["containers"]]


def test_stats_snapshot_is_published_every_second(daemon):
    run_code(daemon.nats_url, "python", "print('counted')")
    snapshot = next_snapshot(daemon)
    assert snapshot["instance"] == daemon.instance_id
    assert snapshot["state"] == "running"
    assert snapshot["docker"]["ok"] is True
    assert snapshot["nats"]["connected"] is True
    assert snapshot["queue"]["capacity"] == 64
    assert snapshot["counters"]["by_status"]["ok"] >= 1
    assert snapshot["counters"]["by_language"]["python"] >= 1
    assert snapshot["latency_ms"]["p50"] is not None
    containers = snapshot["containers"]
    assert len(containers) >= 2
    assert {c["state"] for c in containers} <= {"idle", "busy", "warming", "recycling"}
    assert all(c["memory_limit_bytes"] == 400 << 20 for c in containers)
    # CPU % needs two samples of the same container.
    later = wait_for_stats(
        daemon,
        lambda s: any(c["cpu_percent"] is not None for c in s["containers"]),
        timeout=10,
        what="a container's CPU %",
    )
    assert any(c["cpu_percent"] is not None for c in later["containers"]), later
    assert all(c["memory_bytes"] > 0 for c in later["containers"] if c["memory_bytes"] is not None)


def test_nats_service_api_discovers_the_instance(daemon):
    ping = request(daemon, "$SRV.PING.code-engine")
    assert ping["type"] == "io.nats.micro.v1.ping_response"
    assert ping["name"] == "code-engine"
    info = request(daemon, f"$SRV.INFO.code-engine.{daemon.instance_id}")
    assert {e["subject"] for e in info["endpoints"]} == {
        "compiler.execute.request",
        "problems.execute.request",
    }
    before = request(daemon, f"$SRV.STATS.code-engine.{daemon.instance_id}")
    run_code(daemon.nats_url, "python", "print(1)")
    run_code(daemon.nats_url, "cobol", "x")
    after = request(daemon, f"$SRV.STATS.code-engine.{daemon.instance_id}")
    compiler = {e["name"]: e for e in after["endpoints"]}["compiler"]
    compiler_before = {e["name"]: e for e in before["endpoints"]}["compiler"]
    assert compiler["num_requests"] == compiler_before["num_requests"] + 2
    assert compiler["num_errors"] == compiler_before["num_errors"] + 1
    assert "unknown language" in compiler["last_error"]
    assert compiler["processing_time"] > compiler_before["processing_time"]


def test_pause_and_resume(daemon):
    assert admin(daemon, action="pause") == {"ok": True, "state": "paused", "error": None}
    with pytest.raises(EngineClientError):
        run_code(daemon.nats_url, "python", "print(1)")
    assert admin(daemon, action="resume")["state"] == "running"
    assert run_code(daemon.nats_url, "python", "print(1)")["status"] == "ok"


def test_recycle_replaces_the_container(daemon):
    snapshot = next_snapshot(daemon)
    victim = next(c["id"] for c in snapshot["containers"] if c["state"] == "idle")
    assert admin(daemon, action="recycle", container=victim)["ok"] is True
    later = wait_for_stats(
        daemon,
        lambda s: victim not in container_ids(s) and len(container_ids(s)) >= 2,
        timeout=10,
        what=f"{victim} replaced",
    )
    assert victim not in container_ids(later)
    assert run_code(daemon.nats_url, "python", "print(1)")["status"] == "ok"


def test_bad_admin_requests(daemon):
    assert admin(daemon, action="explode")["error"] == "unknown action 'explode'"
    assert "no container" in admin(daemon, action="recycle", container="ffff")["error"]
    assert admin(daemon, action="resize", workers=99)["ok"] is False
