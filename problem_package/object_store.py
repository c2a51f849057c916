"""Packages by reference: a zip kept in a JetStream object store bucket, fetched to a file.

A platform that keeps its packages in NATS names one (``bucket`` and ``name``)
instead of sending its bytes, so a package may be larger than a message. The
object is fetched with nats-py's object store API over the connection
``serve-packages`` already holds, written to a file as its chunks arrive, and
refused with a :class:`StoredPackageError` saying why: no such bucket or
object, a link (the object must be named itself, so its size is the one
checked), larger than the limit (its recorded size is checked before a byte
is fetched, and the bytes are counted again as they come: a size recorded
wrong fetches no more than the limit into the file), unreadable (a digest
that does not match), or not a zip.
"""

from __future__ import annotations

import asyncio
import zipfile
from pathlib import Path
from typing import IO

import nats.errors
import nats.js.errors as js_errors
from nats.aio.client import Client

from .errors import StoredPackageError

FETCH_TIMEOUT_S = 120.0


class LimitedWriter:
    """A file that keeps at most ``limit`` bytes and counts every byte written to it."""

    def __init__(self, file: IO[bytes], limit: int) -> None:
        self._file = file
        self._limit = limit
        self.total = 0

    def write(self, data: bytes) -> int:
        room = self._limit - self.total
        if room > 0:
            self._file.write(data[:room])
        self.total += len(data)
        return len(data)


class ObjectStorePackages:
    """Fetches packages from the object store buckets that ``nc`` can read."""

    def __init__(self, nc: Client, limit_bytes: int) -> None:
        self._nc = nc
        self.limit_bytes = limit_bytes

    async def fetch(self, bucket: str, name: str, into: Path) -> None:
        """Write object ``name`` of ``bucket`` to ``into``, once checked to be a zip.

        Raises:
            StoredPackageError: saying why the object cannot be the package.
        """
        what = f"object {name[:200]!r} in bucket {bucket[:200]!r}"
        try:
            async with asyncio.timeout(FETCH_TIMEOUT_S):
                total = await self._fetch(bucket, name, into, what)
        except js_errors.InvalidBucketNameError:
            raise StoredPackageError(f"{bucket[:200]!r} is not a valid bucket name") from None
        except js_errors.BucketNotFoundError:
            raise StoredPackageError(f"no object store bucket {bucket[:200]!r}") from None
        except (js_errors.ObjectNotFoundError, js_errors.ObjectDeletedError):
            raise StoredPackageError(f"no {what}") from None
        except (js_errors.BadObjectMetaError, js_errors.DigestMismatchError) as exc:
            raise StoredPackageError(f"{what} cannot be read: {type(exc).__name__}") from None
        except (TimeoutError, nats.errors.TimeoutError, nats.errors.NoRespondersError):
            raise StoredPackageError(
                f"{what} could not be fetched: the object store (JetStream) did not answer"
            ) from None
        if total > self.limit_bytes:
            raise StoredPackageError(self._too_large(what, total))
        if not zipfile.is_zipfile(into):
            raise StoredPackageError(f"{what} is not a zip archive")

    async def _fetch(self, bucket: str, name: str, into: Path, what: str) -> int:
        store = await self._nc.jetstream().object_store(bucket)
        info = await store.get_info(name)
        if info.is_link():
            raise StoredPackageError(f"{what} is a link: name the object it links to")
        if (info.size or 0) > self.limit_bytes:
            raise StoredPackageError(self._too_large(what, info.size or 0))
        with into.open("wb") as file:
            bounded = LimitedWriter(file, self.limit_bytes)
            await store.get(name, writeinto=bounded)  # type: ignore[arg-type]
        return bounded.total

    def _too_large(self, what: str, size: int) -> str:
        return f"{what} is {size} bytes, larger than the limit of {self.limit_bytes}"
