"""Decoding bytes from outside so that only msgspec's ``DecodeError`` can come out.

msgspec refuses bytes that are not the expected message with ``DecodeError`` (or
its subclass ``ValidationError``), with one exception: a value nested deeper
than the interpreter's recursion limit (``[[[[...`` or ``{"a":{"a":...``, about a
thousand levels) raises ``RecursionError``, wherever the decoder meets it: where
the type takes any value, and also in an unknown field it skips. Such bytes are
not the message either, so :func:`decode` says so as a ``DecodeError`` of its
own, :class:`NestedTooDeeply`, and every decoder of outside bytes goes through it.
"""

from __future__ import annotations

from typing import TypeVar

import msgspec

T = TypeVar("T")


class NestedTooDeeply(msgspec.DecodeError):
    """JSON nested deeper than the decoder goes (the interpreter's recursion limit)."""


def decode(decoder: msgspec.json.Decoder[T], payload: bytes) -> T:
    """``decoder.decode(payload)``, raising nothing but ``msgspec.DecodeError``.

    Raises:
        NestedTooDeeply: the payload is nested too deeply to decode.
        msgspec.DecodeError: not JSON; msgspec.ValidationError: not of the type.
    """
    try:
        return decoder.decode(payload)
    except RecursionError:
        raise NestedTooDeeply("JSON is nested too deeply") from None
