"""A small asyncio client for programs that send requests to code-engine over NATS.

    import asyncio
    from engine_client import EngineClient

    async def main():
        async with await EngineClient.connect("nats://127.0.0.1:4222") as engine:
            reply = await engine.execute("python", "print(input()[::-1])", stdin="olleh")
            print(reply["status"], reply["output"])

    asyncio.run(main())

Replies are the engine's JSON replies as dicts (see the README's protocol section).
"""

from .client import DEFAULT_TIMEOUT_S, EngineClient, EngineClientError, build_request

__all__ = ["DEFAULT_TIMEOUT_S", "EngineClient", "EngineClientError", "build_request"]
