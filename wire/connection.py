"""Where NATS is and how to log in to it: servers, credentials, TLS.

One :class:`NatsConnection` serves the daemon, the dashboard, ``code-engine run``
and :class:`engine_client.EngineClient` alike::

    connection = NatsConnection(
        servers=parse_servers("tls://nats-1:4222,tls://nats-2:4222"),
        creds_file="/etc/code-engine/engine.creds",
        tls_ca="/etc/code-engine/ca.pem",
    )
    nc = await connect(connection, name="my-program")

Secrets (a password, a token, the password or token inside a URL) never appear
in :meth:`NatsConnection.describe`, in its ``repr``, or in the errors raised
here. A credential the server refuses, or a TLS handshake that fails, is raised
at once as :class:`NatsConnectError` instead of being retried for ever: it will
not get better by waiting.
"""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import nats.errors
from nats.aio.client import Client

from wire.subjects import DEFAULT_NATS_URL

SCHEMES = ("nats", "tls", "ws", "wss")

ErrorCallback = Callable[[Exception], Awaitable[None]]


class NatsSettingsError(ValueError):
    """The connection settings do not fit together, or a file they name cannot be read."""


class NatsConnectError(Exception):
    """NATS could not be reached, or refused the credentials or the TLS handshake."""


def parse_servers(text: str) -> tuple[str, ...]:
    """A comma-separated server list (the NATS convention) as URLs.

    A bare ``host:port`` gets ``nats://``.

    Raises:
        NatsSettingsError: empty, or a URL of a scheme NATS does not speak.
    """
    servers = []
    for item in text.split(","):
        url = item.strip()
        if not url:
            continue
        if "://" not in url:
            url = f"nats://{url}"
        parts = urlsplit(url)
        if parts.scheme not in SCHEMES or not parts.hostname:
            raise NatsSettingsError(
                f"{redact_url(url)!r} is not a NATS server URL ({', '.join(SCHEMES)})"
            )
        servers.append(url)
    if not servers:
        raise NatsSettingsError("no NATS server given")
    return tuple(servers)


def redact_url(url: str) -> str:
    """``url`` with any password or token replaced by ``***`` (a user name stays)."""
    scheme, sep, rest = url.partition("://")
    if not sep:
        scheme, rest = "", url
    userinfo, at, host = rest.rpartition("@")
    if not at:
        return url
    user, colon, _secret = userinfo.partition(":")
    shown = f"{user}:***" if colon else "***"
    return f"{scheme}{sep}{shown}@{host}"


@dataclass(frozen=True, slots=True)
class NatsConnection:
    """Servers, one way of logging in, and TLS.

    Attributes:
        servers: URLs (``nats://``, ``tls://``); the client follows the cluster's
            topology from there and reconnects to any node.
        creds_file: a credentials file (user JWT and nkey seed), for accounts/JWT auth.
        nkey_seed_file: a file holding an nkey seed.
        user, password: user/password auth.
        token: token auth.
        tls_ca: CA certificate(s) to verify the server by.
        tls_cert, tls_key: a client certificate and its key (mutual TLS).
    """

    servers: tuple[str, ...] = (DEFAULT_NATS_URL,)
    creds_file: str | None = None
    nkey_seed_file: str | None = None
    user: str | None = None
    password: str | None = field(default=None, repr=False)
    token: str | None = field(default=None, repr=False)
    tls_ca: str | None = None
    tls_cert: str | None = None
    tls_key: str | None = None

    def __repr__(self) -> str:
        return f"NatsConnection({self.describe()})"

    def check(self) -> None:
        """Raise :class:`NatsSettingsError` for settings that cannot work."""
        if not self.servers:
            raise NatsSettingsError("no NATS server given")
        logins = [
            name
            for name, given in (
                ("a credentials file", self.creds_file),
                ("an nkey seed file", self.nkey_seed_file),
                ("a user", self.user),
                ("a token", self.token),
            )
            if given
        ]
        if len(logins) > 1:
            raise NatsSettingsError(
                f"give one way of logging in to NATS, not {' and '.join(logins)}"
            )
        if self.password and not self.user:
            raise NatsSettingsError("a NATS password needs a user")
        if bool(self.tls_cert) != bool(self.tls_key):
            raise NatsSettingsError(
                "a TLS client certificate needs its key, and the key its certificate"
            )
        for what, path in (
            ("credentials file", self.creds_file),
            ("nkey seed file", self.nkey_seed_file),
            ("TLS CA file", self.tls_ca),
            ("TLS certificate", self.tls_cert),
            ("TLS key", self.tls_key),
        ):
            if path is not None:
                try:
                    with open(path, "rb"):
                        pass
                except OSError as exc:
                    raise NatsSettingsError(
                        f"cannot read the NATS {what} {path}: {exc.strerror}"
                    ) from None

    @property
    def uses_tls(self) -> bool:
        return bool(self.tls_ca or self.tls_cert) or any(
            url.startswith(("tls://", "wss://")) for url in self.servers
        )

    def describe(self) -> str:
        """The servers and the kind of login, for logs and errors: never a secret."""
        text = ", ".join(redact_url(url) for url in self.servers)
        details = []
        if self.creds_file:
            details.append(f"credentials {Path(self.creds_file).name}")
        elif self.nkey_seed_file:
            details.append("nkey")
        elif self.user:
            details.append(f"user {self.user}")
        elif self.token:
            details.append("token")
        if self.uses_tls:
            details.append("TLS")
        return f"{text} ({', '.join(details)})" if details else text

    def tls_context(self) -> ssl.SSLContext | None:
        """The TLS context for these settings, None when TLS is not asked for."""
        if not self.uses_tls:
            return None
        try:
            context = ssl.create_default_context(ssl.Purpose.SERVER_AUTH, cafile=self.tls_ca)
            if self.tls_cert and self.tls_key:
                context.load_cert_chain(self.tls_cert, self.tls_key)
        except (OSError, ssl.SSLError) as exc:
            raise NatsSettingsError(f"cannot load the NATS TLS files: {exc}") from None
        return context

    def options(self) -> dict[str, Any]:
        """Keyword arguments for ``nats.connect`` / ``Client.connect``."""
        options: dict[str, Any] = {"servers": list(self.servers)}
        if self.creds_file:
            options["user_credentials"] = self.creds_file
        if self.nkey_seed_file:
            options["nkeys_seed"] = self.nkey_seed_file
        if self.user:
            options["user"] = self.user
            options["password"] = self.password or ""
        if self.token:
            options["token"] = self.token
        tls = self.tls_context()
        if tls is not None:
            options["tls"] = tls
        return options


_REFUSALS = (
    nats.errors.AuthorizationError,
    nats.errors.InvalidUserCredentialsError,
    nats.errors.SecureConnRequiredError,
    nats.errors.SecureConnWantedError,
    nats.errors.SecureConnFailedError,
    ssl.SSLError,
)


def is_refusal(exc: BaseException) -> bool:
    """The server refused us (credentials, TLS): retrying the same way cannot help."""
    if isinstance(exc, _REFUSALS):
        return True
    text = str(exc).lower()
    return "authorization" in text or "authentication" in text


def describe_refusal(exc: BaseException) -> str:
    if isinstance(exc, ssl.SSLError):
        return f"the TLS handshake failed ({exc.reason or exc})"
    if isinstance(exc, nats.errors.SecureConnRequiredError | nats.errors.SecureConnWantedError):
        return "TLS is required by one side and not the other"
    return "the credentials were refused (authorization violation)"


async def connect(
    connection: NatsConnection, *, error_cb: ErrorCallback | None = None, **options: Any
) -> Client:
    """Connect with ``connection``'s servers, login and TLS, plus nats-py ``options``.

    Returns the connected client. Connection failures are handled as ``options``
    say (with ``max_reconnect_attempts=-1`` the first connection is waited for
    for ever), but a refusal is not retried.

    Raises:
        NatsSettingsError: the settings cannot work (checked first).
        NatsConnectError: the server refused the credentials or the TLS handshake,
            or (with bounded attempts) could not be reached.
    """
    connection.check()
    client = Client()
    refused: list[BaseException] = []

    async def on_error(exc: Exception) -> None:
        if not client.is_connected and is_refusal(exc):
            # nats-py's connect loop would retry for ever (or hang): stop it.
            refused.append(exc)
            attempt.cancel()
            return
        if error_cb is not None:
            await error_cb(exc)

    attempt = asyncio.ensure_future(
        client.connect(**connection.options(), error_cb=on_error, **options)
    )
    try:
        await attempt
    except asyncio.CancelledError:
        await _close_quietly(client)
        if not refused:
            raise
        raise _refused(connection, refused[0]) from None
    except Exception as exc:  # nats-py raises several unrelated types here
        await _close_quietly(client)
        if refused or is_refusal(exc):
            raise _refused(connection, refused[0] if refused else exc) from None
        raise NatsConnectError(
            f"cannot connect to NATS at {connection.describe()}: {exc!r}"
        ) from None
    return client


def _refused(connection: NatsConnection, error: BaseException) -> NatsConnectError:
    return NatsConnectError(
        f"NATS at {connection.describe()} refused the connection: {describe_refusal(error)}"
    )


async def _close_quietly(client: Client) -> None:
    try:
        await client.close()
    except Exception:  # a half-made connection: nothing more to do
        pass
