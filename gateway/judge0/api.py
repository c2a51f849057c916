"""The Judge0 CE 1.13 API, as its documentation describes it, in front of the engine.

::

    POST /submissions             ?base64_encoded ?wait ?fields   201 {token} or the result
    GET  /submissions/{token}     ?base64_encoded ?fields
    POST /submissions/batch       {"submissions": [...]}          201 [{token} | {field: [error]}]
    GET  /submissions/batch       ?tokens=a,b ?base64_encoded ?fields
    GET  /languages, /languages/all, /languages/{id}, /statuses, /about, /version, /config_info

A submission without ``wait`` is kept In Queue in the bucket, run in the
background and kept again with its result; one with ``wait=true`` is run, then
kept. Either way any gateway answers its token until the bucket's TTL.

A background run is leased to its gateway, which renews the lease while the
run goes on (Processing). Should that gateway die, the next fetch of the token
after the lease lapses finds it orphaned: the fetching gateway claims it (one
gateway wins, by the record's revision) and runs it again from the engine
request kept with it. A run may so happen twice, never be lost.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Awaitable, Callable
from functools import partial
from typing import Any

import httpx
import msgspec
import trio

from wire import Kind, Status
from wire.decoding import decode
from wire.languages import LanguageInfo
from wire.replies import Reply
from wire.requests import WireRequest

from ..background import Background
from ..engine import Engine
from ..errors import EngineUnavailable, NotFound, Refused, StoreError, Unprocessable
from ..http.messages import Request, Response, json_response
from ..http.router import Api, Router
from . import languages as judge0_languages
from . import record as records
from . import statuses
from .store import Submissions
from .submission import Limits, Submission, check_callback, parse, text_in, to_wire

log = logging.getLogger(__name__)

JUDGE0_VERSION = "1.13.1"  # what /about says: Judge0's clients pick their language ids by it
BUSY_RETRIES = 5  # a background run the engine calls busy is tried again, backing off
CALLBACK_TRIES = 3
CALLBACK_TIMEOUT_S = 5.0

_reply = msgspec.json.Decoder(Reply)
_wire_request = msgspec.json.Decoder(WireRequest)
_encoder = msgspec.json.Encoder()


class Judge0Api:
    def __init__(
        self,
        engine: Engine,
        store: Submissions,
        background: Background,
        *,
        limits: Limits,
        callback_hosts: frozenset[str],
        max_batch: int,
        queue_capacity: int,
        lease_s: float = 10.0,
    ) -> None:
        self.engine = engine
        self.store = store
        self.background = background
        self.limits = limits
        self.callback_hosts = callback_hosts
        self.max_batch = max_batch
        self.queue_capacity = queue_capacity
        self.lease_s = lease_s

    def mount(self, router: Router) -> None:
        routes: list[tuple[str, str, Callable[[Request], Awaitable[Response]]]] = [
            ("POST", "/submissions/batch", self.create_batch),
            ("GET", "/submissions/batch", self.get_batch),
            ("POST", "/submissions", self.create),
            ("GET", "/submissions/{token}", self.get),
            ("GET", "/languages", self.languages),
            ("GET", "/languages/all", self.all_languages),
            ("GET", "/languages/{id}", self.language),
            ("GET", "/statuses", self.statuses),
            ("GET", "/about", self.about),
            ("GET", "/version", self.version),
            ("GET", "/config_info", self.config_info),
        ]
        for method, template, handler in routes:
            router.add(method, template, handler, Api.JUDGE0)

    # -- submissions ------------------------------------------------------------

    async def create(self, request: Request) -> Response:
        base64_encoded = request.flag("base64_encoded")
        fields = records.wanted_fields(request.query.get("fields"))
        languages = await self.engine.languages()
        record, wire = self._accept(request.json(), base64_encoded, languages)
        if not request.flag("wait"):
            await self.store.put(record)
            self.background.start(partial(self._run_later, record, wire))
            return json_response({"token": record.token}, 201)
        reply = await self._execute(wire)
        if reply.status is Status.BUSY:
            raise Refused("the engine is full: retry later", status=503)
        if reply.status is Status.INVALID_REQUEST:
            raise Unprocessable(reply.error)
        done = records.finish(record, reply)
        try:
            await self.store.put(done)
        except StoreError:
            pass  # the client has its result; only a later fetch by token will miss it
        self._callback(done)
        return json_response(records.render(done, fields, base64_encoded), 201)

    async def get(self, request: Request) -> Response:
        fields = records.wanted_fields(request.query.get("fields"))
        found = await self._fetch(request.params["token"])
        if found is None:
            raise NotFound(f"submission with token {request.params['token']} not found")
        return json_response(records.render(found, fields, request.flag("base64_encoded")))

    async def create_batch(self, request: Request) -> Response:
        base64_encoded = request.flag("base64_encoded")
        body = request.json()
        items = body.get("submissions") if isinstance(body, dict) else None
        if not isinstance(items, list) or not items:
            raise Unprocessable("must be a non-empty list", field="submissions")
        if len(items) > self.max_batch:
            raise Unprocessable(f"at most {self.max_batch} per batch", field="submissions")
        languages = await self.engine.languages()
        answers: list[dict[str, Any]] = []
        accepted = []
        for item in items:
            try:
                record, wire = self._accept(item, base64_encoded, languages)
            except Unprocessable as exc:
                answers.append({exc.field or "error": [exc.message]})
                continue
            answers.append({"token": record.token})
            accepted.append((record, wire))
        for record, _ in accepted:
            await self.store.put(record)
        for record, wire in accepted:
            self.background.start(partial(self._run_later, record, wire))
        return json_response(answers, 201)

    async def get_batch(self, request: Request) -> Response:
        fields = records.wanted_fields(request.query.get("fields"))
        tokens = [t.strip() for t in request.query.get("tokens", "").split(",") if t.strip()]
        if not tokens:
            raise Refused("tokens: give one or more, comma-separated", status=400)
        if len(tokens) > self.max_batch:
            raise Refused(f"tokens: at most {self.max_batch} per batch", status=400)
        base64_encoded = request.flag("base64_encoded")
        found = [await self._fetch(token) for token in tokens]
        shown = [records.render(r, fields, base64_encoded) if r else None for r in found]
        return json_response({"submissions": shown})

    def _accept(
        self, data: Any, base64_encoded: bool, languages: list[LanguageInfo]
    ) -> tuple[records.Record, WireRequest]:
        submission: Submission = parse(data)
        check_callback(submission.callback_url, self.callback_hosts)
        token = str(uuid.uuid4())
        wire = to_wire(
            submission,
            base64_encoded=base64_encoded,
            languages=languages,
            limits=self.limits,
            request_id=token,
        )
        found = judge0_languages.lookup(submission.language_id or 0, languages)
        assert found is not None  # to_wire refused it otherwise
        row, info = found
        raw = {
            name: text_in(getattr(submission, name), name, base64_encoded)
            for name in ("source_code", "stdin", "expected_output")
            if getattr(submission, name) is not None
        }
        name = judge0_languages.display_name(row, info.version)
        record = records.new_record(token, submission, raw, name, _encoder.encode(wire))
        return records.leased(record, self.lease_s), wire

    async def _execute(self, wire: WireRequest) -> Reply:
        data = await self.engine.request(Kind.COMPILER, _encoder.encode(wire))
        try:
            return decode(_reply, data)
        except msgspec.DecodeError:
            raise EngineUnavailable("the engine's reply could not be read") from None

    async def _fetch(self, token: str) -> records.Record | None:
        """The record under ``token``; an orphaned run is taken over first (see above)."""
        found = await self.store.entry(token)
        if found is None:
            return None
        record, revision = found
        if not records.orphaned(record):
            return record
        wire = None
        if record.request is not None:
            try:
                wire = decode(_wire_request, record.request.encode())
            except msgspec.DecodeError:
                pass
        if wire is None:  # shed to fit the bucket, or unreadable: it cannot run again
            lost = records.failed(
                record, statuses.INTERNAL_ERROR, "the gateway running it stopped before it ended"
            )
            return lost if await self.store.claim(lost, revision) else await self.store.get(token)
        claimed = records.leased(record, self.lease_s, statuses.IN_QUEUE)
        if not await self.store.claim(claimed, revision):
            return await self.store.get(token)  # another gateway took it over first
        log.info("submission %s: its gateway stopped while it ran; running it again", token)
        self.background.start(partial(self._run_later, claimed, wire))
        return claimed

    async def _run_later(self, record: records.Record, wire: WireRequest) -> None:
        async with trio.open_nursery() as nursery:
            nursery.start_soon(self._keep_leased, record)
            done = await self._outcome(record, wire)
            nursery.cancel_scope.cancel()
        try:
            await self.store.put(done)
        except StoreError:
            return  # logged by the store; nothing else can be done with it
        self._callback(done)

    async def _keep_leased(self, record: records.Record) -> None:
        """Renew the lease of ``record``'s run (Processing) until cancelled."""
        while True:
            try:
                await self.store.put(records.leased(record, self.lease_s, statuses.PROCESSING))
            except StoreError:
                pass  # logged by the store; the next renewal tries again
            await trio.sleep(self.lease_s / 3)

    async def _outcome(self, record: records.Record, wire: WireRequest) -> records.Record:
        delay = 0.25
        try:
            for _ in range(BUSY_RETRIES):
                reply = await self._execute(wire)
                if reply.status is not Status.BUSY:
                    break
                await trio.sleep(delay)
                delay *= 2
            return records.finish(record, reply)
        except EngineUnavailable as exc:
            return records.failed(record, statuses.INTERNAL_ERROR, str(exc))

    def _callback(self, record: records.Record) -> None:
        if record.callback_url:
            self.background.start(partial(_call_back, record))

    # -- reference data ---------------------------------------------------------

    async def languages(self, request: Request) -> Response:
        rows = judge0_languages.served(await self.engine.languages())
        return json_response(
            [
                {"id": row.id, "name": judge0_languages.display_name(row, info.version)}
                for row, info in rows
                if not row.archived
            ]
        )

    async def all_languages(self, request: Request) -> Response:
        rows = judge0_languages.served(await self.engine.languages())
        return json_response(
            [
                {
                    "id": row.id,
                    "name": judge0_languages.display_name(row, info.version),
                    "is_archived": row.archived,
                }
                for row, info in rows
            ]
        )

    async def language(self, request: Request) -> Response:
        raw = request.params["id"]
        found = (
            judge0_languages.lookup(int(raw), await self.engine.languages())
            if raw.isdigit()
            else None
        )
        if found is None:
            raise NotFound(f"language with id {raw} doesn't exist or is not served")
        row, info = found
        return json_response(
            {
                "id": row.id,
                "name": judge0_languages.display_name(row, info.version),
                "is_archived": row.archived,
                "source_file": info.main_file,
                "compile_cmd": None,
                "run_cmd": None,
            }
        )

    async def statuses(self, request: Request) -> Response:
        return json_response(
            [{"id": s.id, "description": s.description} for s in statuses.STATUSES]
        )

    async def about(self, request: Request) -> Response:
        return json_response(
            {
                "version": JUDGE0_VERSION,
                "homepage": None,
                "source_code": None,
                "maintainer": "code-engine (a Judge0 CE 1.13 compatible API over NATS)",
            }
        )

    async def version(self, request: Request) -> Response:
        return Response(200, JUDGE0_VERSION.encode(), "text/plain")

    async def config_info(self, request: Request) -> Response:
        limits = self.limits
        return json_response(
            {
                "enable_wait_result": True,
                "enable_compiler_options": False,
                "allowed_languages_for_compile_options": [],
                "enable_command_line_arguments": True,
                "enable_submission_delete": False,
                "enable_callbacks": bool(self.callback_hosts),
                "callbacks_max_tries": CALLBACK_TRIES,
                "callbacks_timeout": CALLBACK_TIMEOUT_S,
                "enable_additional_files": True,
                "max_queue_size": self.queue_capacity,
                "cpu_time_limit": limits.cpu_s,
                "max_cpu_time_limit": limits.cpu_s,
                "cpu_extra_time": 0,
                "max_cpu_extra_time": 0,
                "wall_time_limit": limits.wall_s,
                "max_wall_time_limit": limits.wall_s,
                "memory_limit": limits.memory_kb,
                "max_memory_limit": limits.memory_kb,
                "stack_limit": limits.memory_kb,  # the stack is bounded by memory only
                "max_stack_limit": limits.memory_kb,
                "max_processes_and_or_threads": limits.processes,
                "max_max_processes_and_or_threads": limits.processes,
                "enable_per_process_and_thread_time_limit": False,
                "allow_enable_per_process_and_thread_time_limit": False,
                "enable_per_process_and_thread_memory_limit": False,
                "allow_enable_per_process_and_thread_memory_limit": False,
                "max_file_size": limits.file_size_kb,
                "max_max_file_size": limits.file_size_kb,
                "number_of_runs": 1,
                "max_number_of_runs": 1,
                "redirect_stderr_to_stdout": False,
                "max_extract_size": 1 << 10,
                "enable_batched_submissions": True,
                "max_submission_batch_size": self.max_batch,
                "submission_cache_duration": 0,
                "use_docs_as_homepage": False,
                "maintenance_mode": False,
                "allow_enable_network": False,
                "enable_network": False,
            }
        )


async def _call_back(record: records.Record) -> None:
    """PUT the result to the submission's callback URL (an allowed host), as Judge0 does."""
    assert record.callback_url is not None
    body = records.render(record, records.DEFAULT_FIELDS, True)
    async with httpx.AsyncClient(timeout=CALLBACK_TIMEOUT_S, follow_redirects=False) as client:
        for _ in range(CALLBACK_TRIES):
            try:
                await client.put(record.callback_url, json=body)
                return
            except httpx.HTTPError as exc:
                log.info("callback for %s failed: %r", record.token, exc)
