"""Decoders of outside bytes: JSON nested too deeply is refused as bad bytes, never raised."""

from __future__ import annotations

import msgspec
import pytest

from engine_client.client import EngineClientError, _decode_reply
from service.operations.admin import Admin
from wire.admin import AdminReply, EngineState, decode_reply, decode_request
from wire.decoding import NestedTooDeeply, decode
from wire.errors import AdminReplyError, AdminRequestError, SnapshotError
from wire.stats import decode_snapshot

DEPTH = 100_000  # far past any recursion limit


class Controls:
    """An engine's admin controls that do nothing, but for one that fails."""

    state = EngineState.RUNNING

    def pause(self) -> None: ...

    def resume(self) -> None: ...

    def drain(self) -> None:
        raise RuntimeError("boom")

    def recycle(self, container: str) -> bool:
        return False

    def resize(self, workers: int) -> None: ...


def arrays(depth: int = DEPTH) -> bytes:
    return b"[" * depth + b"]" * depth


def objects(depth: int = DEPTH) -> bytes:
    return b'{"a":' * depth + b"1" + b"}" * depth


def inside(prefix: bytes, nested: bytes) -> bytes:
    """``nested`` as the value of an unknown field ``x`` after ``prefix`` (an object's fields)."""
    return b"{" + prefix + (b"," if prefix else b"") + b'"x":' + nested + b"}"


@pytest.mark.parametrize("nested", [arrays(), objects()], ids=["arrays", "objects"])
def test_decode_says_nested_too_deeply_as_a_decode_error(nested):
    with pytest.raises(NestedTooDeeply, match="nested too deeply"):
        decode(msgspec.json.Decoder(), nested)
    with pytest.raises(msgspec.DecodeError):  # also in a field the struct skips
        decode(msgspec.json.Decoder(AdminReply), inside(b'"ok":true,"state":"running"', nested))


def test_decode_leaves_shallow_nesting_alone():
    value = decode(msgspec.json.Decoder(), arrays(100))
    for _ in range(99):
        [value] = value
    assert value == []


@pytest.mark.parametrize("nested", [arrays(), objects()], ids=["arrays", "objects"])
def test_admin_requests_and_replies_nested_too_deeply_are_refused(nested):
    with pytest.raises(AdminRequestError):
        decode_request(nested)  # not an object, or an unknown field nested too deeply
    with pytest.raises(AdminRequestError, match="nested too deeply"):
        decode_request(inside(b'"action":"pause"', nested))
    with pytest.raises(AdminReplyError, match="nested too deeply"):
        decode_reply(inside(b'"ok":true,"state":"running"', nested))


def test_the_admin_handler_answers_a_deeply_nested_request():
    reply = decode_reply(Admin(Controls(), max_workers=3)(inside(b'"action":"pause"', arrays())))
    assert not reply.ok and reply.error == "bad admin request: JSON is nested too deeply"


def test_the_admin_handler_answers_when_the_controls_fail():
    reply = decode_reply(Admin(Controls(), max_workers=3)(b'{"action": "drain"}'))
    assert reply == AdminReply(
        ok=False, state=EngineState.RUNNING, error="drain failed inside the engine (see its log)"
    )


@pytest.mark.parametrize("nested", [arrays(), objects()], ids=["arrays", "objects"])
def test_a_stats_payload_nested_too_deeply_is_no_snapshot(nested):
    for payload in (nested, inside(b'"instance":"i"', nested)):
        with pytest.raises(SnapshotError):
            decode_snapshot(payload)


@pytest.mark.parametrize(
    ("data", "said"),
    [
        (arrays(), "nested too deeply"),
        (inside(b'"status":"ok"', objects()), "nested too deeply"),
        (b"", "not JSON"),
        (b"{", "not JSON"),
        (b'{"status": "\xff"}', "not JSON"),
        (b"[1, 2]", "not a JSON object but list"),
        (b"null", "not a JSON object but NoneType"),
    ],
    ids=["arrays", "objects", "empty", "truncated", "not UTF-8", "array", "null"],
)
def test_the_client_refuses_a_reply_that_is_not_one(data, said):
    with pytest.raises(EngineClientError, match=said):
        _decode_reply(data)


def test_the_client_reads_a_reply():
    assert _decode_reply(b'{"status": "ok", "id": 7}') == {"status": "ok", "id": 7}
