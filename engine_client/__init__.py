"""A small asyncio client for programs that send requests to code-engine over NATS.

    import asyncio
    from engine_client import EngineClient

    async def main():
        async with await EngineClient.connect("nats://127.0.0.1:4222") as engine:
            reply = await engine.execute("python", "print(input()[::-1])", stdin="olleh")
            print(reply["status"], reply["output"])

    asyncio.run(main())

Replies are the engine's JSON replies as dicts (see docs/reference/protocol.md).
For a secured NATS, pass a :class:`NatsConnection` (servers, credentials, TLS)::

    connection = NatsConnection(servers=parse_servers("tls://nats-1:4222,tls://nats-2:4222"),
                                creds_file="client.creds", tls_ca="ca.pem")
    engine = await EngineClient.connect(connection=connection)
"""

from wire.connection import NatsConnectError, NatsConnection, NatsSettingsError, parse_servers

from .client import DEFAULT_TIMEOUT_S, EngineClient, EngineClientError, build_request

__all__ = [
    "DEFAULT_TIMEOUT_S",
    "EngineClient",
    "EngineClientError",
    "NatsConnectError",
    "NatsConnection",
    "NatsSettingsError",
    "build_request",
    "parse_servers",
]
