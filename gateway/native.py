"""The native HTTP API: the NATS protocol, one to one.

::

    POST /v1/run        a compiler.execute.request body → its reply
    POST /v1/problems   a problems.execute.request body → its reply
    GET  /v1/languages  the code-engine.languages answer

A body is decoded once here, as the wire type the subject takes (so a bad field
is a 422 naming it before anything is sent), and the daemon's reply is passed
through as it came. The HTTP status follows the reply's: ``invalid_request``
422, ``busy`` 503, ``internal_error`` 500, everything else (a program that
failed included) 200. The OpenAPI document (gateway/openapi.py) says the same.
"""

from __future__ import annotations

import msgspec

from wire import Kind, Status
from wire.decoding import decode
from wire.replies import encode, refusal
from wire.requests import WireProblemRequest, WireRequest

from .engine import Engine
from .http.messages import JSON, Request, Response, json_response
from .http.router import Api, Router

HTTP_STATUS = {Status.INVALID_REQUEST: 422, Status.BUSY: 503, Status.INTERNAL_ERROR: 500}


class _Status(msgspec.Struct):
    status: Status


_status = msgspec.json.Decoder(_Status)
_decoders: dict[Kind, msgspec.json.Decoder[WireRequest]] = {
    Kind.COMPILER: msgspec.json.Decoder(WireRequest),
    Kind.PROBLEMS: msgspec.json.Decoder(WireProblemRequest),
}
_encoder = msgspec.json.Encoder()


class NativeApi:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def mount(self, router: Router) -> None:
        router.add("POST", "/v1/run", self.run, Api.NATIVE)
        router.add("POST", "/v1/problems", self.problems, Api.NATIVE)
        router.add("GET", "/v1/languages", self.languages, Api.NATIVE)

    async def run(self, request: Request) -> Response:
        return await self._execute(Kind.COMPILER, request)

    async def problems(self, request: Request) -> Response:
        return await self._execute(Kind.PROBLEMS, request)

    async def languages(self, request: Request) -> Response:
        return json_response(await self.engine.catalog())

    async def _execute(self, kind: Kind, request: Request) -> Response:
        try:
            wire: WireRequest = decode(_decoders[kind], request.body)
        except msgspec.DecodeError as exc:
            reply = refusal("", "", Status.INVALID_REQUEST, f"invalid request: {exc}")
            return Response(422, encode(reply), JSON)
        data = await self.engine.request(kind, _encoder.encode(wire))
        return Response(_http_status(data), data, JSON)


def _http_status(reply: bytes) -> int:
    try:
        status = decode(_status, reply).status
    except msgspec.DecodeError:
        return 502  # not a reply: the daemon broke the protocol
    return HTTP_STATUS.get(status, 200)
