"""Reading untrusted JSON into typed fields: every check, with a reason, in one place."""

from __future__ import annotations

import base64
import binascii
from typing import Any


class ProtocolError(Exception):
    """A line that is not a valid message of this protocol.

    ``kind`` and ``id`` are what could still be read of the message: its type
    when that is one of the receiving end's, its id when that is a string. The
    agent answers a malformed ``job`` or ``run`` whose id it read with a result
    ("bad request: ..."), anything else with an ``error``.
    """

    def __init__(self, reason: str, *, kind: str | None = None, id: str | None = None) -> None:
        super().__init__(reason)
        self.kind = kind
        self.id = id


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def unb64(value: object, what: str) -> bytes:
    if not isinstance(value, str):
        raise ProtocolError(f"{what} must be a base64 string")
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raise ProtocolError(f"{what} is not valid base64") from None


def int_field(obj: dict[str, Any], key: str, default: int | None = None, minimum: int = 0) -> int:
    value = obj.get(key, default)
    if not isinstance(value, int) or isinstance(value, bool) or value < minimum:
        raise ProtocolError(f"{key} must be an integer >= {minimum}")
    return value


def opt_int_field(obj: dict[str, Any], key: str) -> int | None:
    value = obj.get(key)
    if value is None:
        return None
    if not isinstance(value, int) or isinstance(value, bool):
        raise ProtocolError(f"{key} must be an integer or null")
    return value


def float_field(obj: dict[str, Any], key: str) -> float:
    value = obj.get(key, 0.0)
    if not isinstance(value, (int, float)) or isinstance(value, bool):
        raise ProtocolError(f"{key} must be a number")
    return float(value)


def bool_field(obj: dict[str, Any], key: str, default: bool = False) -> bool:
    value = obj.get(key, default)
    if not isinstance(value, bool):
        raise ProtocolError(f"{key} must be a boolean")
    return value


def str_field(obj: dict[str, Any], key: str) -> str:
    value = obj.get(key)
    if not isinstance(value, str):
        raise ProtocolError(f"{key} must be a string")
    return value


def opt_str_field(obj: dict[str, Any], key: str) -> str | None:
    value = obj.get(key)
    if value is not None and not isinstance(value, str):
        raise ProtocolError(f"{key} must be a string or null")
    return value


def as_object(value: object, what: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise ProtocolError(f"{what} must be an object")
    return value


def program_size(program: bytes | None) -> int | None:
    """What a message's ``program`` field says on its line: the size of the bytes after it."""
    return None if program is None else len(program)


def attached_program(obj: dict[str, Any]) -> bytes | None:
    """The program bytes a reader put in ``obj`` after its line (codec.attach).

    Raises:
        ProtocolError: the field holds a size: the bytes were never read.
    """
    program = obj.get("program")
    if program is not None and not isinstance(program, bytes):
        raise ProtocolError("program: the bytes after the line were not read")
    return program
