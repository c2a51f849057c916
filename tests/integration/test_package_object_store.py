"""Packages by reference: ``code-engine serve-packages`` fetches a package named by bucket and
object from a JetStream object store on the real nats-server, and reports on it as on one
sent as a zip; a missing bucket or object, an object over the size limit and a non-zip
are refused with a clear error."""

from __future__ import annotations

import asyncio
import base64
import json
import shutil
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import nats
import pytest

from service.testing.nats_servers import stop_process
from service.testing.waiting import wait_until
from wire.packages import PACKAGES_SUBJECT

PACKAGES = Path(__file__).resolve().parents[1] / "packages"
BUCKET = "test-packages"
LIMIT_MB = 1


def put_objects(url: str, objects: dict[str, bytes]) -> None:
    async def put() -> None:
        nc = await nats.connect(url)
        try:
            js = nc.jetstream()
            store = await js.create_object_store(BUCKET)
            for name, data in objects.items():
                await store.put(name, data)
        finally:
            await nc.close()

    asyncio.run(put())


def ask(url: str, request: dict) -> dict:
    async def go() -> dict:
        nc = await nats.connect(url)
        try:
            msg = await nc.request(PACKAGES_SUBJECT, json.dumps(request).encode(), timeout=300)
        finally:
            await nc.close()
        return json.loads(msg.data)

    return asyncio.run(go())


@pytest.fixture(scope="module")
def zipped(tmp_path_factory) -> bytes:
    tmp = tmp_path_factory.mktemp("zipped")
    archive = shutil.make_archive(str(tmp / "pkg"), "zip", PACKAGES, "custom_kattis")
    return Path(archive).read_bytes()


@pytest.fixture(scope="module")
def serve_packages(daemon, nats_server, zipped, tmp_path_factory) -> Iterator[str]:
    """serve-packages beside the daemon, subscribed, with its bucket filled."""
    put_objects(
        daemon.nats_url,
        {
            "custom_kattis.zip": zipped,
            "notes.txt": b"not a zip at all",
            "huge.zip": b"\0" * ((LIMIT_MB << 20) + 1),
        },
    )
    command = [sys.executable, "-m", "service.cli", "serve-packages", "--nats", daemon.nats_url]
    command += ["--max-package-mb", str(LIMIT_MB)]
    log = tmp_path_factory.mktemp("serve-packages") / "log"
    with log.open("wb") as output:
        server = subprocess.Popen(command, stdout=output, stderr=subprocess.STDOUT)

    def subscribed() -> bool:
        subs = nats_server.monitor("/subsz?subs=1").get("subscriptions_list") or []
        return any(sub.get("subject") == PACKAGES_SUBJECT for sub in subs)

    try:
        wait_until(
            lambda: server.poll() is not None or subscribed(),
            timeout=60,
            what="serve-packages subscribed",
        )
        assert server.poll() is None, log.read_text()
        yield daemon.nats_url
    finally:
        stop_process(server, signal.SIGTERM, 10)


def test_a_stored_package_is_reported_as_a_sent_one(serve_packages, zipped):
    stored = ask(serve_packages, {"object": {"bucket": BUCKET, "name": "custom_kattis.zip"}})
    sent = ask(serve_packages, {"package": base64.b64encode(zipped).decode(), "id": "z"})
    assert stored["error"] == "", stored
    assert stored["package"] == "Split a number"
    assert all(not s["problems"] for s in stored["submissions"]), stored
    by_submission = {s["submission"]: s["status"] for s in stored["submissions"]}
    assert by_submission == {s["submission"]: s["status"] for s in sent["submissions"]}
    assert len(by_submission) == 3


@pytest.mark.parametrize(
    ("stored", "error"),
    [
        ({"bucket": "no-such-bucket", "name": "x.zip"}, "no object store bucket 'no-such-bucket'"),
        (
            {"bucket": BUCKET, "name": "missing.zip"},
            f"no object 'missing.zip' in bucket '{BUCKET}'",
        ),
        (
            {"bucket": BUCKET, "name": "huge.zip"},
            f"object 'huge.zip' in bucket '{BUCKET}' is {(LIMIT_MB << 20) + 1} bytes, "
            f"larger than the limit of {LIMIT_MB << 20}",
        ),
        (
            {"bucket": BUCKET, "name": "notes.txt"},
            f"object 'notes.txt' in bucket '{BUCKET}' is not a zip archive",
        ),
        ({"bucket": "bad bucket!", "name": "x"}, "'bad bucket!' is not a valid bucket name"),
    ],
)
def test_a_stored_package_that_cannot_be_fetched_is_refused(serve_packages, stored, error):
    report = ask(serve_packages, {"object": stored, "id": "r1"})
    assert (report["id"], report["error"], report["submissions"]) == ("r1", error, [])


@pytest.mark.parametrize(
    "request_body",
    [{}, {"package": "", "object": {"bucket": BUCKET, "name": "custom_kattis.zip"}}],
)
def test_a_package_is_sent_or_named_not_both(serve_packages, request_body):
    report = ask(serve_packages, request_body)
    assert report["error"].startswith("invalid request: give the package either as package")
