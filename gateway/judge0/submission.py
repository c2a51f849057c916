"""A Judge0 submission: the request as Judge0 clients send it, and its way to the wire.

Decoded once (:func:`parse`): every Judge0 field is known; one that means
nothing here, set to anything but its harmless default, is a 422 naming it,
as is a field Judge0 does not have. What remains becomes a
:class:`wire.requests.WireRequest` (:func:`to_wire`).
"""

from __future__ import annotations

import base64
import binascii
import io
import math
import shlex
import zipfile
from typing import Any
from urllib.parse import urlsplit

import msgspec

from wire.languages import LanguageInfo
from wire.requests import WireFile, WireRequest

from ..errors import Unprocessable
from . import languages as judge0_languages

ZIP_MAX_FILES = 32  # the engine's own limit on extra files
ZIP_MAX_BYTES = 1 << 20  # decompressed, all entries together


class Limits(msgspec.Struct, frozen=True):
    """The engine's maxima, which Judge0's per-request limits may not exceed."""

    wall_s: float
    cpu_s: float
    memory_kb: int
    processes: int = 128  # the container's pids limit, reported only
    file_size_kb: int = 16384  # the largest file a job may write, reported only


class Submission(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """Judge0 CE 1.13's submission fields."""

    source_code: str | None = None
    language_id: int | None = None
    stdin: str | None = None
    expected_output: str | None = None
    cpu_time_limit: float | None = None
    wall_time_limit: float | None = None
    memory_limit: int | None = None
    command_line_arguments: str | None = None
    additional_files: str | None = None
    callback_url: str | None = None
    # Judge0 fields that mean nothing here: refused unless left at their harmless value.
    compiler_options: str | None = None
    cpu_extra_time: float | None = None
    stack_limit: int | None = None
    max_processes_and_or_threads: int | None = None
    enable_per_process_and_thread_time_limit: bool | None = None
    enable_per_process_and_thread_memory_limit: bool | None = None
    max_file_size: int | None = None
    redirect_stderr_to_stdout: bool | None = None
    enable_network: bool | None = None
    number_of_runs: int | None = None


# Each field that means nothing here, the values that change nothing, and why.
MEANINGLESS: dict[str, tuple[tuple[Any, ...], str]] = {
    "compiler_options": ((None, ""), "the engine compiles with fixed flags per language"),
    "cpu_extra_time": ((None, 0, 0.0), "the CPU time limit is enforced exactly"),
    "stack_limit": ((None,), "the stack is limited by the memory limit only"),
    "max_processes_and_or_threads": ((None,), "the process limit is the operator's"),
    "enable_per_process_and_thread_time_limit": ((None, False), "time is the whole run's"),
    "enable_per_process_and_thread_memory_limit": ((None, False), "memory is the whole run's"),
    "max_file_size": ((None,), "the file size limit is the operator's"),
    "redirect_stderr_to_stdout": ((None, False), "stdout and stderr are kept apart"),
    "enable_network": ((None, False), "programs never have a network"),
    "number_of_runs": ((None, 1), "each submission runs once"),
}

_decoder = msgspec.json.Decoder(Submission)


def parse(data: Any) -> Submission:
    """A submission from a decoded JSON object.

    Raises:
        Unprocessable: a field Judge0 does not have, a value of the wrong type, or a
            field that means nothing here, named.
    """
    if not isinstance(data, dict):
        raise Unprocessable("a submission must be a JSON object")
    unknown = [key for key in data if key not in Submission.__struct_fields__]
    if unknown:
        raise Unprocessable(f"unknown field {unknown[0]!r}", field=unknown[0])
    try:
        submission = msgspec.convert(data, Submission)
    except msgspec.ValidationError as exc:
        field = str(exc).rpartition("$.")[2].rstrip("`").split("[")[0] or None
        raise Unprocessable(str(exc), field=field) from None
    for name, (harmless, why) in MEANINGLESS.items():
        if getattr(submission, name) not in harmless:
            raise Unprocessable(f"is not supported here: {why}", field=name)
    return submission


def text_in(value: str | None, field: str, base64_encoded: bool) -> bytes:
    """A text field's bytes: base64-decoded when the request says so."""
    if value is None:
        return b""
    if not base64_encoded:
        return value.encode()
    try:
        return base64.b64decode(value, validate=False)
    except (binascii.Error, ValueError):
        raise Unprocessable("is not valid base64", field=field) from None


def to_wire(
    submission: Submission,
    *,
    base64_encoded: bool,
    languages: list[LanguageInfo],
    limits: Limits,
    request_id: str,
) -> WireRequest:
    """The engine request for ``submission``.

    Raises:
        Unprocessable: no source, an id not served, a limit above the engine's, bad
            base64, arguments that do not parse, or additional files that are not a zip.
    """
    if submission.source_code is None:
        raise Unprocessable("can't be blank", field="source_code")
    if submission.language_id is None:
        raise Unprocessable("can't be blank", field="language_id")
    found = judge0_languages.lookup(submission.language_id, languages)
    if found is None:
        raise Unprocessable(
            f"language with id {submission.language_id} doesn't exist or is not served",
            field="language_id",
        )
    _, info = found
    code = text_in(submission.source_code, "source_code", base64_encoded)
    stdin = text_in(submission.stdin, "stdin", base64_encoded)
    args = None
    if submission.command_line_arguments:
        try:
            args = shlex.split(submission.command_line_arguments)
        except ValueError as exc:
            raise Unprocessable(f"does not parse: {exc}", field="command_line_arguments") from None
    return WireRequest(
        language=info.name,
        code=base64.b64encode(code).decode(),
        stdin=base64.b64encode(stdin).decode() if stdin else None,
        args=args,
        id=request_id,
        timeout_ms=_seconds_ms(submission.wall_time_limit, limits.wall_s, "wall_time_limit"),
        cpu_time_limit_ms=_seconds_ms(submission.cpu_time_limit, limits.cpu_s, "cpu_time_limit"),
        memory_mb=_memory_mb(submission.memory_limit, limits.memory_kb),
        files=_unzip(submission.additional_files) if submission.additional_files else None,
    )


def _seconds_ms(value: float | None, maximum: float, field: str) -> int | None:
    if value is None:
        return None
    if value <= 0:
        raise Unprocessable("must be greater than 0", field=field)
    if value > maximum:
        raise Unprocessable(f"must be less than or equal to {maximum:g}", field=field)
    return max(1, round(value * 1000))


def _memory_mb(value: int | None, maximum_kb: int) -> int | None:
    if value is None:
        return None
    if value <= 0:
        raise Unprocessable("must be greater than 0", field="memory_limit")
    if value > maximum_kb:
        raise Unprocessable(f"must be less than or equal to {maximum_kb}", field="memory_limit")
    return math.ceil(value / 1024)


def _unzip(encoded: str) -> list[WireFile]:
    """Judge0's ``additional_files`` (a base64 zip) as the engine's extra files."""
    field = "additional_files"
    try:
        archive = zipfile.ZipFile(io.BytesIO(base64.b64decode(encoded)))
        entries = [entry for entry in archive.infolist() if not entry.is_dir()]
    except (binascii.Error, ValueError, zipfile.BadZipFile):
        raise Unprocessable("must be a base64-encoded zip archive", field=field) from None
    if len(entries) > ZIP_MAX_FILES:
        raise Unprocessable(f"holds more than {ZIP_MAX_FILES} files", field=field)
    files, total = [], 0
    for entry in entries:
        try:
            with archive.open(entry) as member:
                content = member.read(ZIP_MAX_BYTES + 1)  # the header may understate it
        except (zipfile.BadZipFile, NotImplementedError, OSError):
            raise Unprocessable(f"cannot read {entry.filename!r}", field=field) from None
        total += len(content)
        if total > ZIP_MAX_BYTES:
            raise Unprocessable(f"holds more than {ZIP_MAX_BYTES} bytes", field=field)
        files.append(WireFile(name=entry.filename, content=base64.b64encode(content).decode()))
    return files


def check_callback(url: str | None, allowed_hosts: frozenset[str]) -> None:
    """Refuse a callback_url unless the operator allows its host (http or https only).

    Raises:
        Unprocessable: callbacks are off, or the host is not allowed.
    """
    if url is None:
        return
    if not allowed_hosts:
        raise Unprocessable("callbacks are off on this server", field="callback_url")
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise Unprocessable("must be an http or https URL", field="callback_url")
    if parts.hostname.lower() not in allowed_hosts:
        raise Unprocessable("its host is not one the operator allows", field="callback_url")
