"""The daemons, as the gateway reaches them: NATS request-reply, under trio-asyncio.

nats-py is asyncio; like the daemon's intake (service/intake/nats.py), it runs in
a trio-asyncio loop that the gateway's entry point opens around everything.
This module and the submissions bucket (gateway/judge0/store.py, on this
module's connection) are the only ones that call it; everything else awaits
:class:`Engine`'s Trio methods::

    async with trio_asyncio.open_loop():
        engine = await nursery.start(Engine(connection, subjects).run)
        reply = await engine.request(Kind.COMPILER, payload)      # raw reply bytes
        languages = await engine.languages()                      # cached a few seconds

Errors are translated here: nats-py's timeouts, missing responders and
disconnections all become :class:`EngineUnavailable`, whose message names no
subject and no server.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import msgspec
import nats.errors
import trio
from nats.aio.client import Client
from trio_asyncio import aio_as_trio

from wire import Kind
from wire.connection import NatsConnectError, NatsConnection, NatsSettingsError, connect
from wire.languages import LanguageInfo, LanguagesReply, decode_languages
from wire.subjects import LANGUAGES_SUBJECT

from .errors import EngineUnavailable, GatewayError

if TYPE_CHECKING:
    from service.config import Settings as EngineSettings

    from .settings import GatewaySettings

log = logging.getLogger(__name__)

LANGUAGES_TIMEOUT_S = 5.0
DEFAULT_MAX_PAYLOAD = 1 << 20  # NATS's default, until the server says its own


class Engine:
    """One NATS connection to the daemons, shared by every request of the gateway."""

    def __init__(
        self,
        connection: NatsConnection,
        subjects: Mapping[Kind, str],
        *,
        reply_timeout_s: float = 90.0,
        languages_ttl_s: float = 10.0,
        name: str = "code-engine gateway",
    ) -> None:
        self._connection = connection
        self._subjects = dict(subjects)
        self._reply_timeout_s = reply_timeout_s
        self._languages_ttl_s = languages_ttl_s
        self._name = name
        self._client: Client | None = None
        self._catalog: tuple[float, LanguagesReply] | None = None
        self._languages_lock = trio.Lock()

    @classmethod
    def from_settings(
        cls, engine: EngineSettings, gateway: GatewaySettings, *, name: str
    ) -> Engine:
        """The daemons as ``engine`` (NATS, subjects) says, with ``gateway``'s timeouts."""
        return cls(
            engine.nats_connection,
            {Kind.COMPILER: engine.compiler_subject, Kind.PROBLEMS: engine.problems_subject},
            reply_timeout_s=gateway.reply_timeout_s,
            languages_ttl_s=gateway.languages_ttl_s,
            name=name,
        )

    @property
    def client(self) -> Client:
        if self._client is None:
            raise EngineUnavailable("the gateway is not connected to the engine")
        return self._client

    @property
    def connected(self) -> bool:
        return self._client is not None and self._client.is_connected

    @property
    def max_payload(self) -> int:
        """The largest message NATS carries: the largest request the engine can take."""
        client = self._client
        return (client.max_payload if client is not None else 0) or DEFAULT_MAX_PAYLOAD

    async def run(self, *, task_status: trio.TaskStatus[Engine] = trio.TASK_STATUS_IGNORED) -> None:
        """Connect (waiting for NATS as long as it takes), report ready, hold until cancelled.

        Must run inside ``trio_asyncio.open_loop()``.

        Raises:
            GatewayError: the settings cannot work, or NATS refused the login or TLS.
        """

        async def on_error(exc: Exception) -> None:
            log.warning("NATS: %s", type(exc).__name__)

        try:
            self._client = await aio_as_trio(connect)(
                self._connection,
                error_cb=on_error,
                name=self._name,
                max_reconnect_attempts=-1,
                reconnect_time_wait=1,
                connect_timeout=5,
                allow_reconnect=True,
            )
        except (NatsConnectError, NatsSettingsError) as exc:
            raise GatewayError(str(exc)) from None
        log.info("connected to NATS at %s", self._connection.describe())
        try:
            task_status.started(self)
            await trio.sleep_forever()
        finally:
            with trio.CancelScope(shield=True), trio.move_on_after(3):
                try:
                    await aio_as_trio(self._client.close)()
                except Exception:  # the server went away first
                    pass
            self._client = None

    async def request(self, kind: Kind, payload: bytes, *, timeout_s: float | None = None) -> bytes:
        """Send one execute request; return the reply's bytes.

        Raises:
            EngineUnavailable: no daemon listens, none answered in time, or NATS is away.
        """
        return await self._request(
            self._subjects[kind], payload, timeout_s or self._reply_timeout_s
        )

    async def languages(self) -> list[LanguageInfo]:
        """The languages the daemons serve (see :meth:`catalog`).

        Raises:
            EngineUnavailable: no daemon answered, or the answer is not a language list.
        """
        return (await self.catalog()).languages

    async def catalog(self) -> LanguagesReply:
        """The first daemon's answer on ``code-engine.languages``, asked again once stale.

        Raises:
            EngineUnavailable: no daemon answered, or the answer is not a language list.
        """
        async with self._languages_lock:
            now = trio.current_time()
            if self._catalog is not None and now - self._catalog[0] < self._languages_ttl_s:
                return self._catalog[1]
            data = await self._request(LANGUAGES_SUBJECT, b"", LANGUAGES_TIMEOUT_S)
            try:
                found = decode_languages(data)
            except msgspec.DecodeError:
                raise EngineUnavailable("the engine's language list could not be read") from None
            self._catalog = (now, found)
            return found

    async def _request(self, subject: str, payload: bytes, timeout_s: float) -> bytes:
        client = self.client
        try:
            msg: Any = await aio_as_trio(client.request)(subject, payload, timeout=timeout_s)
        except nats.errors.NoRespondersError:
            raise EngineUnavailable("no engine is running") from None
        except nats.errors.TimeoutError:
            raise EngineUnavailable(f"the engine did not answer within {timeout_s:g} s") from None
        except (nats.errors.Error, OSError) as exc:
            log.warning("NATS request failed: %r", exc)
            raise EngineUnavailable("the engine cannot be reached") from None
        return bytes(msg.data)
