"""Submissions kept for fetching by token: a JetStream key-value bucket with a TTL.

Not the gateway's memory (any gateway answers any token, and a restarted one
too) and not another database: the bucket lives where the daemons' streams
do, with as many replicas as the operator asks. A record past the TTL is gone
(404, as Judge0 says of a token it does not know).
"""

from __future__ import annotations

import logging

import msgspec
import nats.errors
import nats.js.errors
import trio
from nats.js.api import KeyValueConfig
from nats.js.kv import KeyValue
from trio_asyncio import aio_as_trio

from ..engine import Engine
from ..errors import StoreError
from .record import Record

log = logging.getLogger(__name__)

# What a record may lose, in this order, to fit a message: the inputs, which the
# client has anyway, before anything of the result; then the engine request,
# without which a run its gateway did not finish cannot run again (it fails).
SHEDDABLE = ("stdin", "expected_output", "source_code", "request")
_decoder = msgspec.json.Decoder(Record)
_encoder = msgspec.json.Encoder()


class Submissions:
    def __init__(self, engine: Engine, bucket: str, *, ttl_s: float, replicas: int) -> None:
        self._engine = engine
        self._bucket = bucket
        self._ttl_s = ttl_s
        self._replicas = replicas
        self._kv: KeyValue | None = None

    async def run(
        self, *, task_status: trio.TaskStatus[Submissions] = trio.TASK_STATUS_IGNORED
    ) -> None:
        """Open the bucket (creating it if missing), report ready, hold until cancelled.

        Raises:
            StoreError: JetStream is not enabled, or refused the bucket.
        """
        self._kv = await self._open()
        task_status.started(self)
        await trio.sleep_forever()

    async def _open(self) -> KeyValue:
        js = self._engine.client.jetstream()
        try:
            return await aio_as_trio(js.key_value)(self._bucket)
        except nats.js.errors.BucketNotFoundError:
            pass
        except (nats.errors.Error, nats.js.errors.Error) as exc:
            raise StoreError(
                f"JetStream is not available for the submissions bucket: {exc!r}"
            ) from None
        config = KeyValueConfig(
            bucket=self._bucket,
            history=1,
            ttl=self._ttl_s,
            replicas=self._replicas,
            description="code-engine gateway: Judge0 submissions by token",
        )
        try:
            return await aio_as_trio(js.create_key_value)(config)
        except (nats.errors.Error, nats.js.errors.Error) as exc:
            raise StoreError(f"the submissions bucket could not be created: {exc!r}") from None

    async def put(self, record: Record) -> None:
        """Keep ``record`` under its token (replacing what was there).

        Raises:
            StoreError: the bucket did not take it.
        """
        try:
            await aio_as_trio(self._kv_or_fail().put)(record.token, self._encode(record))
        except (nats.errors.Error, nats.js.errors.Error, OSError) as exc:
            log.warning("could not keep submission %s: %r", record.token, exc)
            raise StoreError("the submission could not be kept") from None

    async def claim(self, record: Record, revision: int) -> bool:
        """Keep ``record`` only if its token is still at ``revision``: False if not.

        How one gateway, of several that saw the same orphaned run, takes it over.

        Raises:
            StoreError: the bucket did not answer.
        """
        update = self._kv_or_fail().update
        try:
            await aio_as_trio(update)(record.token, self._encode(record), last=revision)
        except nats.js.errors.KeyWrongLastSequenceError:
            return False
        except (nats.errors.Error, nats.js.errors.Error, OSError) as exc:
            log.warning("could not claim submission %s: %r", record.token, exc)
            raise StoreError("the submission could not be kept") from None
        return True

    def _encode(self, record: Record) -> bytes:
        data = _encoder.encode(record)
        limit = self._engine.max_payload - 512
        for name in SHEDDABLE:
            if len(data) <= limit:
                break
            record = msgspec.structs.replace(record, **{name: None})
            data = _encoder.encode(record)
        return data

    async def get(self, token: str) -> Record | None:
        """The record kept under ``token``; None when there is none (or it expired).

        Raises:
            StoreError: the bucket could not be read.
        """
        found = await self.entry(token)
        return found[0] if found is not None else None

    async def entry(self, token: str) -> tuple[Record, int] | None:
        """The record kept under ``token`` and its revision; None as :meth:`get`.

        Raises:
            StoreError: the bucket could not be read.
        """
        if not _valid_key(token):
            return None
        try:
            entry = await aio_as_trio(self._kv_or_fail().get)(token)
        except nats.js.errors.KeyNotFoundError:
            return None
        except (nats.errors.Error, nats.js.errors.Error, OSError) as exc:
            log.warning("could not read submission %s: %r", token, exc)
            raise StoreError("the submission could not be read") from None
        if entry.value is None or entry.revision is None:
            return None
        try:
            return _decoder.decode(entry.value), entry.revision
        except msgspec.DecodeError:
            log.warning("submission %s is not a record", token)
            return None

    def _kv_or_fail(self) -> KeyValue:
        if self._kv is None:
            raise StoreError("the submissions bucket is not open")
        return self._kv


def _valid_key(token: str) -> bool:
    # NATS KV keys: letters, digits and -_=. ; Judge0 tokens are UUIDs.
    return 0 < len(token) <= 64 and all(c.isalnum() or c in "-_" for c in token)
