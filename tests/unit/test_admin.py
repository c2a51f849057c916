"""Admin requests against a fake AdminControls: each action, and each way to get one wrong."""

from __future__ import annotations

from dataclasses import dataclass, field

import msgspec
import pytest

from service.operations.admin import Admin, AdminControls
from wire.admin import (
    AdminAction,
    AdminReply,
    AdminRequest,
    EngineState,
    decode_reply,
    decode_request,
    encode_request,
)
from wire.errors import AdminRequestError

MAX_WORKERS = 3


@dataclass
class FakeControls:
    """Records what was done; a pool of the containers in `containers`."""

    state: EngineState = EngineState.RUNNING
    containers: tuple[str, ...] = ("abc123def456", "fedcba654321")
    done: list[tuple[str, object]] = field(default_factory=list)

    def pause(self) -> None:
        self.done.append(("pause", None))
        self.state = EngineState.PAUSED

    def resume(self) -> None:
        self.done.append(("resume", None))
        self.state = EngineState.RUNNING

    def drain(self) -> None:
        self.done.append(("drain", None))
        self.state = EngineState.DRAINING

    def recycle(self, container: str) -> bool:
        if not any(c.startswith(container) for c in self.containers):
            return False
        self.done.append(("recycle", container))
        return True

    def resize(self, workers: int) -> None:
        self.done.append(("resize", workers))


def admin(controls: AdminControls) -> Admin:
    return Admin(controls, max_workers=MAX_WORKERS)


def ask(controls: FakeControls, payload: bytes | dict[str, object]) -> AdminReply:
    raw = payload if isinstance(payload, bytes) else msgspec.json.encode(payload)
    return decode_reply(admin(controls)(raw))


@pytest.mark.parametrize(
    ("action", "state"),
    [
        (AdminAction.PAUSE, EngineState.PAUSED),
        (AdminAction.RESUME, EngineState.RUNNING),
        (AdminAction.DRAIN, EngineState.DRAINING),
    ],
)
def test_state_changes_are_carried_out_and_the_new_state_replied(
    action: AdminAction, state: EngineState
) -> None:
    controls = FakeControls()
    if action is AdminAction.RESUME:
        controls.state = EngineState.PAUSED
    reply = ask(controls, encode_request(AdminRequest(action=action)))
    assert reply == AdminReply(ok=True, state=state, error=None)
    assert controls.done == [(str(action), None)]


def test_the_reply_is_the_documented_json() -> None:
    reply = admin(FakeControls())(b'{"action": "pause"}')
    assert msgspec.json.decode(reply) == {"ok": True, "state": "paused", "error": None}


def test_recycle_a_container_by_its_short_id() -> None:
    controls = FakeControls()
    assert ask(controls, {"action": "recycle", "container": "abc123"}).ok
    assert controls.done == [("recycle", "abc123")]


def test_recycle_of_an_unknown_container_is_refused() -> None:
    controls = FakeControls()
    reply = ask(controls, {"action": "recycle", "container": "ffff"})
    assert reply == AdminReply(
        ok=False, state=EngineState.RUNNING, error="no container 'ffff' in this pool"
    )
    assert controls.done == []


@pytest.mark.parametrize("body", [{"action": "recycle"}, {"action": "recycle", "container": ""}])
def test_recycle_needs_a_container(body: dict[str, object]) -> None:
    controls = FakeControls()
    reply = ask(controls, body)
    assert not reply.ok and reply.error == "recycle needs 'container' (a short id)"
    assert controls.done == []


@pytest.mark.parametrize("workers", [1, 2, MAX_WORKERS])
def test_resize_within_the_bounds(workers: int) -> None:
    controls = FakeControls()
    assert ask(controls, {"action": "resize", "workers": workers}).ok
    assert controls.done == [("resize", workers)]


@pytest.mark.parametrize(
    "body",
    [{"action": "resize"}, *({"action": "resize", "workers": n} for n in (0, -1, MAX_WORKERS + 1))],
)
def test_resize_out_of_bounds_is_refused(body: dict[str, object]) -> None:
    controls = FakeControls()
    reply = ask(controls, body)
    assert not reply.ok and reply.error == f"resize needs 'workers' between 1 and {MAX_WORKERS}"
    assert controls.done == []


def test_an_unknown_action_is_named() -> None:
    controls = FakeControls()
    reply = ask(controls, {"action": "explode"})
    assert reply == AdminReply(
        ok=False, state=EngineState.RUNNING, error="unknown action 'explode'"
    )
    assert controls.done == []


@pytest.mark.parametrize(
    ("payload", "said"),
    [
        (b"{not json", "malformed"),
        (b"[]", "Expected `object`, got `array`"),
        (b"{}", "missing required field `action`"),
        (b'{"action": 3}', "$.action"),
        (b'{"action": "resize", "workers": "two"}', "$.workers"),
        (b'{"action": "recycle", "container": 7}', "$.container"),
    ],
)
def test_bad_requests_are_refused_with_the_reason(payload: bytes, said: str) -> None:
    controls = FakeControls()
    reply = ask(controls, payload)
    assert not reply.ok and reply.state is EngineState.RUNNING
    assert reply.error is not None and reply.error.startswith("bad admin request: ")
    assert said in reply.error
    assert controls.done == []


def test_requests_decode_as_they_encode() -> None:
    request = AdminRequest(action=AdminAction.RESIZE, workers=2)
    assert encode_request(request) == b'{"action":"resize","workers":2}'
    assert decode_request(encode_request(request)) == request
    with pytest.raises(AdminRequestError, match="unknown action 'x'"):
        decode_request(b'{"action": "x"}')
