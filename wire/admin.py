"""Admin requests and replies on ``code-engine.admin.<instance>``, and the engine's state.

Request: ``{"action": "pause" | "resume" | "drain" | "recycle" | "resize",
"container": "<short id>" (recycle), "workers": N (resize)}``. Reply:
``{"ok": bool, "state": "running" | "paused" | "draining", "error": str | null}``.

Only the shape is checked here; whether a request can be carried out (a container
named, workers within the instance's bounds) is the engine's to say, in the reply.
"""

from __future__ import annotations

import enum
from typing import Annotated

import msgspec
from msgspec import Meta

from .decoding import decode
from .errors import AdminReplyError, AdminRequestError


class EngineState(enum.StrEnum):
    """What an instance does with requests."""

    RUNNING = "running"  # taking requests
    PAUSED = "paused"  # not subscribed to the execute subjects
    DRAINING = "draining"  # finishing what it has, taking nothing new


class AdminAction(enum.StrEnum):
    """What an admin request asks for."""

    PAUSE = "pause"  # unsubscribe from the execute subjects: queue-group peers take the work
    RESUME = "resume"  # subscribe again
    DRAIN = "drain"  # take no new work, finish what is queued and running
    RECYCLE = "recycle"  # replace `container` now when idle, else after its job
    RESIZE = "resize"  # keep `workers` warm containers ready


class AdminRequest(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True):
    """A request on code-engine.admin.<instance>."""

    action: AdminAction
    container: Annotated[
        str | None,
        Meta(description="recycle: a container's short id (or a prefix of its id)"),
    ] = None
    workers: Annotated[
        int | None,
        Meta(description="resize: warm containers to keep ready, 1 to CODE_ENGINE_CONCURRENCY"),
    ] = None


class AdminReply(msgspec.Struct, frozen=True, kw_only=True):
    """The answer to an admin request."""

    ok: Annotated[bool, Meta(description="whether the request was carried out")]
    state: Annotated[
        EngineState,
        Meta(description="the engine's state after the request, carried out or not"),
    ]
    error: Annotated[str | None, Meta(description="why it was not carried out")] = None


class _Action(msgspec.Struct):
    """Just the action of a request: read only to name an unknown one."""

    action: str


_ACTIONS = frozenset(AdminAction)
_encoder = msgspec.json.Encoder()
_request_decoder = msgspec.json.Decoder(AdminRequest)
_action_decoder = msgspec.json.Decoder(_Action)
_reply_decoder = msgspec.json.Decoder(AdminReply)


def encode_request(request: AdminRequest) -> bytes:
    return _encoder.encode(request)


def decode_request(payload: bytes) -> AdminRequest:
    """Read an admin request.

    Raises:
        AdminRequestError: not JSON, nested too deeply, not an object, an unknown
            action (said as ``unknown action 'x'``) or a field of the wrong type.
    """
    try:
        return decode(_request_decoder, payload)
    except msgspec.ValidationError as exc:
        try:
            action = decode(_action_decoder, payload).action
        except msgspec.MsgspecError:
            action = None
        if action is not None and action not in _ACTIONS:
            raise AdminRequestError(f"unknown action {action!r}") from None
        raise AdminRequestError(f"bad admin request: {exc}") from None
    except msgspec.DecodeError as exc:
        raise AdminRequestError(f"bad admin request: {exc}") from None


def encode_reply(reply: AdminReply) -> bytes:
    return _encoder.encode(reply)


def decode_reply(payload: bytes) -> AdminReply:
    """Read an admin reply.

    Raises:
        AdminReplyError: not JSON, nested too deeply, or not an object of the reply's shape.
    """
    try:
        return decode(_reply_decoder, payload)
    except (msgspec.DecodeError, msgspec.ValidationError) as exc:
        raise AdminReplyError(f"not an admin reply: {exc}") from None
