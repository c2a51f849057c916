"""A submission as it is kept (in the bucket) and as Judge0 shows it.

Kept: what was asked (the texts as base64 of their exact bytes) and, once run,
what came back and the Judge0 status it maps to. Shown: the fields the client
asks for (``fields``, Judge0's defaults when absent, ``*`` for all), its texts
base64-encoded when it says ``base64_encoded=true``.
"""

from __future__ import annotations

import base64
import datetime
import time
from typing import Any

import msgspec

from wire.replies import Reply

from ..errors import Refused
from . import statuses
from .statuses import Judge0Status
from .submission import Submission

DEFAULT_FIELDS = (
    "token",
    "time",
    "memory",
    "stdout",
    "stderr",
    "compile_output",
    "message",
    "status",
)
# The texts Judge0 base64-encodes when asked.
TEXT_FIELDS = frozenset(
    {"source_code", "stdin", "expected_output", "stdout", "stderr", "compile_output", "message"}
)


class Record(msgspec.Struct, kw_only=True):
    token: str
    status_id: int
    created_at: str
    language_id: int | None = None
    language_name: str = ""
    # What was asked; the texts as base64 of their bytes ("" when absent).
    source_code: str | None = None
    stdin: str | None = None
    expected_output: str | None = None
    cpu_time_limit: float | None = None
    wall_time_limit: float | None = None
    memory_limit: int | None = None
    command_line_arguments: str | None = None
    callback_url: str | None = None
    # What came back.
    finished_at: str | None = None
    stdout: str | None = None
    stderr: str | None = None
    compile_output: str | None = None
    message: str | None = None
    exit_code: int | None = None
    exit_signal: int | None = None
    time: float | None = None  # CPU seconds
    wall_time: float | None = None
    memory: int | None = None  # KiB
    # While unfinished: the engine request (JSON), to run again should the gateway
    # running it die, and until when (Unix time) that gateway has promised to renew
    # its lease. Neither is shown; both go once the run ends.
    request: str | None = None
    lease_until: float | None = None


def now() -> str:
    return (
        datetime.datetime.now(datetime.UTC)
        .isoformat(timespec="milliseconds")
        .replace("+00:00", "Z")
    )


def new_record(
    token: str, submission: Submission, raw: dict[str, bytes], language_name: str, request: bytes
) -> Record:
    """A record of a submission just accepted (In Queue); ``raw``: its texts' bytes.

    ``request``: the engine request it became, kept until the run ends.
    """

    def kept(name: str) -> str | None:
        return base64.b64encode(raw[name]).decode() if name in raw else None

    return Record(
        token=token,
        status_id=statuses.IN_QUEUE.id,
        created_at=now(),
        language_id=submission.language_id,
        language_name=language_name,
        source_code=kept("source_code"),
        stdin=kept("stdin"),
        expected_output=kept("expected_output"),
        cpu_time_limit=submission.cpu_time_limit,
        wall_time_limit=submission.wall_time_limit,
        memory_limit=submission.memory_limit,
        command_line_arguments=submission.command_line_arguments,
        callback_url=submission.callback_url,
        request=request.decode(),
    )


def leased(record: Record, seconds: float, status: Judge0Status | None = None) -> Record:
    """``record`` promised to this gateway for ``seconds`` more (and in ``status``)."""
    return msgspec.structs.replace(
        record,
        lease_until=time.time() + seconds,
        status_id=(status or statuses.BY_ID[record.status_id]).id,
    )


def orphaned(record: Record) -> bool:
    """Unfinished, and no gateway renews its lease: the one that ran it is gone."""
    return record.finished_at is None and (record.lease_until or 0.0) < time.time()


def finish(record: Record, reply: Reply) -> Record:
    """``record`` with the engine's reply, mapped to Judge0's status."""
    expected = (
        base64.b64decode(record.expected_output).decode("utf-8", "replace")
        if record.expected_output is not None
        else None
    )
    status, message = statuses.verdict(
        reply.status,
        output=reply.output,
        expected_output=expected,
        exit_code=reply.exit_code,
        signal_name=reply.signal,
        error=reply.error,
    )
    compiled_badly = status is statuses.COMPILATION_ERROR
    return msgspec.structs.replace(
        record,
        status_id=status.id,
        finished_at=now(),
        request=None,
        lease_until=None,
        stdout=reply.output or None,
        stderr=None if compiled_badly or status is statuses.INTERNAL_ERROR else reply.error or None,
        compile_output=reply.error if compiled_badly else None,
        message=message,
        exit_code=reply.exit_code,
        exit_signal=statuses.signal_number(reply.signal),
        time=_seconds(
            reply.cpu_time_ms if reply.cpu_time_ms is not None else reply.execution_time_ms
        ),
        wall_time=_seconds(reply.execution_time_ms),
        memory=reply.memory_kb,
    )


def failed(record: Record, status: Judge0Status, message: str) -> Record:
    return msgspec.structs.replace(
        record,
        status_id=status.id,
        finished_at=now(),
        message=message,
        request=None,
        lease_until=None,
    )


def _seconds(ms: float | None) -> float | None:
    return None if ms is None else round(ms / 1000, 3)


ALL_FIELDS = (
    "source_code language_id stdin expected_output cpu_time_limit wall_time_limit memory_limit "
    "command_line_arguments callback_url compiler_options cpu_extra_time stack_limit "
    "max_processes_and_or_threads enable_per_process_and_thread_time_limit "
    "enable_per_process_and_thread_memory_limit max_file_size redirect_stderr_to_stdout "
    "enable_network number_of_runs additional_files stdout stderr compile_output message "
    "exit_code exit_signal status status_id language created_at finished_at token time "
    "wall_time memory"
).split()


def wanted_fields(query: str | None) -> tuple[str, ...]:
    """The fields a ``fields`` query parameter asks for.

    Raises:
        Refused: a field Judge0 does not have (400, naming them).
    """
    if query is None or not query.strip():
        return DEFAULT_FIELDS
    if query.strip() == "*":
        return tuple(ALL_FIELDS)
    asked = tuple(name.strip() for name in query.split(",") if name.strip())
    unknown = [name for name in asked if name not in ALL_FIELDS]
    if unknown:
        raise Refused(f"invalid fields: [{', '.join(unknown)}]", status=400)
    return asked


def render(record: Record, fields: tuple[str, ...], base64_encoded: bool) -> dict[str, Any]:
    """The submission as Judge0 shows it: ``fields`` only, texts encoded as asked."""
    status = statuses.BY_ID[record.status_id]
    values: dict[str, Any] = {
        "status": {"id": status.id, "description": status.description},
        "status_id": status.id,
        "language": {"id": record.language_id, "name": record.language_name},
        "time": _judge0_number(record.time),
        "wall_time": _judge0_number(record.wall_time),
        "additional_files": None,
    }
    shown: dict[str, Any] = {}
    for name in fields:
        if name in values:
            shown[name] = values[name]
            continue
        value = getattr(record, name, None)
        if name in TEXT_FIELDS and value is not None:
            value = _text_out(value, stored_b64=name in _STORED_B64, base64_encoded=base64_encoded)
        shown[name] = value
    return shown


_STORED_B64 = frozenset({"source_code", "stdin", "expected_output"})


def _text_out(value: str, *, stored_b64: bool, base64_encoded: bool) -> str:
    raw = base64.b64decode(value) if stored_b64 else value.encode()
    if base64_encoded:
        return base64.b64encode(raw).decode()
    return raw.decode("utf-8", "replace")


def _judge0_number(seconds: float | None) -> str | None:
    # Judge0 shows times as decimal strings ("0.002").
    return None if seconds is None else f"{seconds:.3f}"
