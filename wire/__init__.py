"""The wire: every message that crosses a NATS boundary, as one typed definition.

Pure msgspec, no Trio and no asyncio (but ``connection``'s ``connect``), so the
daemon (``service/``), the dashboard (``tui/``), the client library
(``engine_client/``) and the tests all import the same types, and the same
connection settings::

    subjects   subject and header names, the default NATS URL, request kinds
    status     Status: every outcome a reply can carry
    requests   what clients send on compiler.execute.request / problems.execute.request
    replies    what they get back
    packages   a problem package to verify on packages.verify.request, and its report
    stats      the snapshot each instance publishes every second
    admin      admin requests and replies, the engine's state
    languages  what code-engine.languages answers: the languages an instance serves
    decoding   decode(): what a decoder of outside bytes may raise is msgspec's DecodeError
    connection where NATS is and how to log in (servers, credentials, TLS), and
               connect() with them (nats-py, asyncio)

Decoding happens once, at the edge that receives the bytes; inside, only these
types travel.
"""

from .admin import EngineState
from .errors import WireError
from .status import Status
from .subjects import DEFAULT_NATS_URL, Kind

__all__ = ["DEFAULT_NATS_URL", "EngineState", "Kind", "Status", "WireError"]
