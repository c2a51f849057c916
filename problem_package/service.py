"""packages.verify.request: packages verified for platforms that send them over NATS.

``code-engine serve-packages`` subscribes in a queue group (several may run),
takes a :class:`wire.packages.WirePackageRequest` (the package as a base64 zip,
within the server's payload limit), verifies it as ``code-engine verify`` does
(its problems requests go to the engine's daemons through the same NATS), and
replies with the :class:`wire.packages.PackageReport`. A request that is not
one, or a package that is malformed, is answered with the report's ``error``.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import logging
import re
import tempfile
from pathlib import Path

import msgspec
from nats.aio.msg import Msg

from engine_client import EngineClient
from wire.connection import NatsConnection
from wire.decoding import decode
from wire.packages import PACKAGES_QUEUE, PACKAGES_SUBJECT, PackageReport, WirePackageRequest

from .errors import PackageError
from .judging import Engine
from .package import read_package
from .source import opened
from .verifying import verify

log = logging.getLogger(__name__)
_decoder = msgspec.json.Decoder(WirePackageRequest)
_TEMPORARY = re.compile(r"/\S*?code-engine-package-[^/]+/")
_encoder = msgspec.json.Encoder()


async def serve(connection: NatsConnection, parallel: int, wall_max_ms: int) -> None:
    """Answer packages.verify.request until cancelled; ``parallel`` requests in flight."""
    client = await EngineClient.connect(connection=connection, attempts=-1)
    async with client:
        engine = Engine(client, parallel)
        tasks: set[asyncio.Task[None]] = set()

        async def handle(msg: Msg) -> None:
            task = asyncio.create_task(answer(engine, msg, wall_max_ms))
            tasks.add(task)
            task.add_done_callback(tasks.discard)

        await client.nc.subscribe(PACKAGES_SUBJECT, queue=PACKAGES_QUEUE, cb=handle)
        log.info("answering %s", PACKAGES_SUBJECT)
        await asyncio.Event().wait()


async def answer(engine: Engine, msg: Msg, wall_max_ms: int) -> None:
    report = await verify_payload(engine, msg.data, wall_max_ms)
    if msg.reply:
        await msg.respond(_encoder.encode(report))


async def verify_payload(engine: Engine, payload: bytes, wall_max_ms: int) -> PackageReport:
    """The report for one request's bytes; never raises for what the bytes hold."""
    try:
        request = decode(_decoder, payload)
    except msgspec.DecodeError as exc:
        return PackageReport(error=f"invalid request: {exc}")
    try:
        archive = base64.b64decode(request.package, validate=True)
    except (binascii.Error, ValueError):
        return PackageReport(id=request.id or "", error="package is not valid base64")
    with tempfile.TemporaryDirectory(prefix="code-engine-package-") as tmp:
        path = Path(tmp) / "package.zip"
        path.write_bytes(archive)
        try:
            with opened(path) as root:
                report = await verify(engine, read_package(root), wall_max_ms)
        except PackageError as exc:
            # Named as inside the package, not by the temporary directory it was read in.
            return PackageReport(id=request.id or "", error=_TEMPORARY.sub("", str(exc)))
    report.id = request.id or ""
    return report
