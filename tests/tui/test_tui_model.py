"""The dashboard's plain data: reading snapshots, liveness, history, formatting."""

from __future__ import annotations

import copy
from typing import Any

import msgspec
import pytest
from tui_harness import BUSY, IDLE, MIB, WARMING, container, job, snapshot

from tui import formatting as fmt
from tui.model import (
    HISTORY_SAMPLES,
    Fleet,
    Liveness,
    ManualClock,
    SnapshotError,
    by_state,
    decode_snapshot,
)
from tui.source import AdminError, decode_reply
from wire.admin import AdminReply, EngineState
from wire.stats import encode_snapshot

WIRE_EXAMPLE: dict[str, Any] = {
    "instance": "host-1a2b3c",
    "version": "0.1.0",
    "uptime_s": 12.3,
    "state": "running",
    "docker": {"ok": True, "error": None},
    "nats": {"connected": True, "reconnects": 0, "server_restarts": 0},
    "queue": {"depth": 0, "capacity": 64},
    "workers": {"busy": 1, "total": 3},
    "pool": {
        "size": 2,
        "max": 3,
        "starting": 0,
        "replaced": 4,
        "lost_idle": 1,
        "lost_before_job": 1,
    },
    "compile_cache": {
        "hits": 3,
        "misses": 5,
        "entries": 4,
        "bytes": 2400000,
        "capacity_bytes": 268435456,
    },
    "containers": [
        {
            "id": "abc123def456",
            "state": "busy",
            "jobs": 12,
            "job": {"id": "j-1", "language": "python", "elapsed_ms": 120.0},
            "cpu_percent": 12.5,
            "memory_bytes": 12345678,
            "memory_limit_bytes": 419430400,
        }
    ],
    "counters": {
        "accepted": 10,
        "rejected": 0,
        "by_status": {"ok": 9, "timeout": 1},
        "by_language": {"python": 10},
    },
    "throughput": {"10s": 1.2, "60s": 0.8},
    "latency_ms": {"p50": 20.1, "p95": 40.0, "p99": None},
    "recent": [
        {"id": "j-1", "language": "python", "status": "ok", "total_ms": 21.5, "at": 1764196000.1}
    ],
    "loop_lag_ms": 1.2,
}


def encoded(data: object) -> bytes:
    return msgspec.json.encode(data)


def test_a_full_snapshot_is_read() -> None:
    s = decode_snapshot(encoded(WIRE_EXAMPLE))
    assert (s.instance, s.version, s.uptime_s, s.state) == ("host-1a2b3c", "0.1.0", 12.3, "running")
    assert s.docker.ok and s.docker.error is None and s.nats.connected
    assert (s.queue.depth, s.queue.capacity) == (0, 64)
    assert (s.workers.busy, s.workers.total) == (1, 3)
    assert (s.pool.size, s.pool.max, s.pool.starting, s.pool.replaced) == (2, 3, 0, 4)
    (c,) = s.containers
    assert (c.id, c.state, c.jobs, c.cpu_percent) == ("abc123def456", "busy", 12, 12.5)
    assert (c.memory_bytes, c.memory_limit_bytes) == (12345678, 419430400)
    assert c.job is not None and (c.job.id, c.job.language, c.job.elapsed_ms) == (
        "j-1",
        "python",
        120.0,
    )
    assert s.counters.by_status == {"ok": 9, "timeout": 1}
    assert s.counters.by_language == {"python": 10}
    assert (s.throughput.last_10s, s.throughput.last_60s) == (1.2, 0.8)
    assert (s.latency_ms.p50, s.latency_ms.p95, s.latency_ms.p99) == (20.1, 40.0, None)
    (r,) = s.recent
    assert (r.id, r.status, r.total_ms, r.at) == ("j-1", "ok", 21.5, 1764196000.1)


def test_a_snapshot_encodes_to_the_documented_json() -> None:
    s = decode_snapshot(encoded(WIRE_EXAMPLE))
    assert msgspec.json.decode(encode_snapshot(s)) == WIRE_EXAMPLE
    built = snapshot("host-1")
    assert decode_snapshot(encode_snapshot(built)) == built


def test_missing_fields_take_defaults() -> None:
    s = decode_snapshot(
        encoded(
            {
                "instance": "x",
                "queue": {"depth": 3},
                "containers": [{"id": "c1", "state": "idle"}],
                "latency_ms": {"p50": 20.0},
                "counters": {"by_status": {"timeout": 2}},
            }
        )
    )
    assert s.uptime_s == 0.0 and s.queue.capacity == 0 and s.state == "running"
    assert s.queue.depth == 3 and not s.docker.ok and s.throughput.last_10s == 0.0
    (c,) = s.containers
    assert c.job is None and c.cpu_percent is None and c.memory_bytes is None
    assert s.latency_ms.p50 == 20.0 and s.latency_ms.p99 is None
    assert s.counters.by_status == {"timeout": 2}


def test_unknown_fields_are_ignored() -> None:
    data = copy.deepcopy(WIRE_EXAMPLE)
    data["gpu"] = {"busy": 1}
    data["containers"][0]["pids"] = 3
    assert decode_snapshot(encoded(data)) == decode_snapshot(encoded(WIRE_EXAMPLE))


@pytest.mark.parametrize(
    ("change", "where"),
    [
        ({"uptime_s": True}, "$.uptime_s"),
        ({"queue": "full"}, "$.queue"),
        ({"state": "asleep"}, "$.state"),
        ({"containers": [{"id": "c1", "state": "idle", "cpu_percent": "lots"}]}, "cpu_percent"),
        ({"containers": [{"id": "c1", "state": "idle", "job": "j"}]}, "$.containers[0].job"),
        ({"containers": [{"id": "c1", "state": "napping"}]}, "$.containers[0].state"),
        ({"containers": [{"id": "c1", "state": "idle"}, 7]}, "$.containers[1]"),
        ({"counters": {"by_status": {"ok": "9"}}}, "$.counters.by_status"),
        ({"recent": [{"id": "j-1"}]}, "$.recent[0]"),
    ],
)
def test_fields_of_the_wrong_type_are_one_clear_error(change: dict[str, Any], where: str) -> None:
    with pytest.raises(SnapshotError, match="not a stats snapshot") as caught:
        decode_snapshot(encoded({**WIRE_EXAMPLE, **change}))
    assert where in str(caught.value)


@pytest.mark.parametrize(
    "payload", [b"[]", b'"x"', b"null", b"{}", b'{"instance": ""}', b'{"instance": 3}', b"{not"]
)
def test_what_is_not_a_snapshot_is_refused(payload: bytes) -> None:
    with pytest.raises(SnapshotError):
        decode_snapshot(payload)


def test_containers_are_counted_by_state() -> None:
    counts = by_state([container("a", BUSY), container("b", BUSY), container("c", WARMING)])
    assert (counts[BUSY], counts[IDLE], counts[WARMING]) == (2, 0, 1)


def test_liveness_follows_the_clock() -> None:
    clock = ManualClock(10.0)
    fleet = Fleet(clock)
    fleet.apply(snapshot("a"))
    assert fleet.states()[0].liveness is Liveness.LIVE
    clock.advance(2.9)
    assert fleet.states()[0].liveness is Liveness.LIVE
    clock.advance(0.1)
    state = fleet.states()[0]
    assert state.liveness is Liveness.GONE and state.silent_s == pytest.approx(3.0)
    clock.advance(26.9)
    assert fleet.expire() == []
    clock.advance(0.1)
    assert fleet.expire() == ["a"]
    assert len(fleet) == 0 and fleet.states() == ()


def test_throughput_history_keeps_the_last_samples() -> None:
    fleet = Fleet(ManualClock())
    for i in range(HISTORY_SAMPLES + 5):
        fleet.apply(snapshot("a", throughput=float(i)))
    state = fleet.state("a")
    assert state is not None
    assert len(state.throughput) == HISTORY_SAMPLES
    assert state.throughput[0] == 5.0 and state.throughput[-1] == HISTORY_SAMPLES + 4


def test_instances_are_listed_by_id_and_keep_their_jobs() -> None:
    fleet = Fleet(ManualClock())
    fleet.apply(snapshot("b", recent=[job("j-1")]))
    fleet.apply(snapshot("a"))
    fleet.apply(snapshot("b", recent=[job("j-2")]))
    assert [s.id for s in fleet.states()] == ["a", "b"]
    view = fleet.get("b")
    assert view is not None and [j.id for j in view.jobs] == ["j-1", "j-2"]


def test_admin_replies() -> None:
    assert decode_reply(b'{"ok": true, "state": "paused", "error": null}') == AdminReply(
        ok=True, state=EngineState.PAUSED, error=None
    )
    for bad in (b'{"ok": "yes", "state": "running"}', b"[]", b"nope", b"[1]"):
        with pytest.raises(AdminError, match="not an admin reply"):
            decode_reply(bad)


def test_formatting() -> None:
    assert fmt.bar(0.5, 4).plain == "██  "
    assert fmt.bar(1 / 16, 2).plain == "▏ "
    assert fmt.bar(2.0, 3).plain == "███"
    assert fmt.bar(None, 3).plain == "   "
    assert [fmt.size(n) for n in (512, 9_437_184, 173 * MIB, None)] == [
        "512 B",
        "9.0 MiB",
        "173 MiB",
        "?",
    ]
    assert [fmt.duration(s) for s in (5, 754, 3723, 200_000)] == ["5s", "12m34s", "1h02m", "2d07h"]
    assert [fmt.millis(m) for m in (None, 21.46, 120.0, 12_500)] == [
        "-",
        "21.5 ms",
        "120 ms",
        "12.5 s",
    ]
