"""What decoding a wire message can raise: bytes that are not the message they should be.

::

    WireError                 (a ValueError)
    ├── SnapshotError         a stats payload that is not a snapshot
    ├── AdminRequestError     an admin request that cannot be carried out as sent
    └── AdminReplyError       an admin reply that is not one

Each decoder turns msgspec's ``DecodeError`` and ``ValidationError`` (JSON nested
too deeply among them, see :mod:`wire.decoding`) into one of these, with
msgspec's message (it names the offending field, e.g. ``$.queue.depth``), so a
caller catches one type and shows one line.
"""

from __future__ import annotations


class WireError(ValueError):
    """A payload that does not decode as the message it should be."""


class SnapshotError(WireError):
    pass


class AdminRequestError(WireError):
    pass


class AdminReplyError(WireError):
    pass
