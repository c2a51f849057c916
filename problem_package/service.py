"""packages.verify.request: packages verified for platforms that send them over NATS.

``code-engine serve-packages`` subscribes in a queue group (several may run),
takes a :class:`wire.packages.WirePackageRequest` (the package as a base64 zip,
within the server's payload limit, or the name of a zip in a JetStream object
store bucket, fetched by :mod:`problem_package.object_store`), verifies it as
``code-engine verify`` does (its problems requests go to the engine's daemons
through the same NATS), and replies with the :class:`wire.packages.PackageReport`.
A request that is not one, a package that cannot be fetched, or one that is
malformed, is answered with the report's ``error``.
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

from .errors import PackageError, StoredPackageError
from .judging import Engine
from .object_store import ObjectStorePackages
from .package import read_package
from .source import opened
from .verifying import verify

log = logging.getLogger(__name__)
_decoder = msgspec.json.Decoder(WirePackageRequest)
_TEMPORARY = re.compile(r"/\S*?code-engine-package-[^/]+/")
_encoder = msgspec.json.Encoder()


async def serve(
    connection: NatsConnection, parallel: int, wall_max_ms: int, max_package_bytes: int
) -> None:
    """Answer packages.verify.request until cancelled; ``parallel`` requests in flight.

    ``max_package_bytes``: the largest package fetched from an object store.
    """
    client = await EngineClient.connect(connection=connection, attempts=-1)
    async with client:
        engine = Engine(client, parallel)
        store = ObjectStorePackages(client.nc, max_package_bytes)
        tasks: set[asyncio.Task[None]] = set()

        async def handle(msg: Msg) -> None:
            task = asyncio.create_task(answer(engine, msg, wall_max_ms, store))
            tasks.add(task)
            task.add_done_callback(tasks.discard)

        await client.nc.subscribe(PACKAGES_SUBJECT, queue=PACKAGES_QUEUE, cb=handle)
        log.info("answering %s", PACKAGES_SUBJECT)
        await asyncio.Event().wait()


async def answer(
    engine: Engine, msg: Msg, wall_max_ms: int, store: ObjectStorePackages | None = None
) -> None:
    report = await verify_payload(engine, msg.data, wall_max_ms, store)
    if msg.reply:
        await msg.respond(_encoder.encode(report))


async def verify_payload(
    engine: Engine, payload: bytes, wall_max_ms: int, store: ObjectStorePackages | None = None
) -> PackageReport:
    """The report for one request's bytes; never raises for what the bytes hold.

    ``store``: where packages named by bucket and object are fetched from (None: nowhere).
    """
    try:
        request = decode(_decoder, payload)
    except msgspec.DecodeError as exc:
        return PackageReport(error=f"invalid request: {exc}")
    if (request.package is None) == (request.stored is None):
        return PackageReport(
            id=request.id or "",
            error="invalid request: give the package either as package (a base64 zip) "
            "or as object (its bucket and name), one of them",
        )
    with tempfile.TemporaryDirectory(prefix="code-engine-package-") as tmp:
        path = Path(tmp) / "package.zip"
        try:
            await _fetch(request, path, store)
            with opened(path) as root:
                report = await verify(engine, read_package(root), wall_max_ms)
        except PackageError as exc:
            # Named as inside the package, not by the temporary directory it was read in.
            return PackageReport(id=request.id or "", error=_TEMPORARY.sub("", str(exc)))
    report.id = request.id or ""
    return report


async def _fetch(
    request: WirePackageRequest, path: Path, store: ObjectStorePackages | None
) -> None:
    """Write the request's package to ``path``: its bytes decoded, or fetched from a store.

    Raises:
        PackageError: not base64; StoredPackageError: the stored package cannot be fetched.
    """
    if request.package is not None:
        _write_decoded(request.package, path)
        return
    assert request.stored is not None
    if store is None:
        raise StoredPackageError("this server fetches no package from an object store")
    await store.fetch(request.stored.bucket, request.stored.name, path)


def _write_decoded(package: str, path: Path) -> None:
    try:
        archive = base64.b64decode(package, validate=True)
    except (binascii.Error, ValueError):
        raise PackageError("package is not valid base64") from None
    path.write_bytes(archive)
