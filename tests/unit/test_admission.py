"""Admission through the in-memory intake: refusals, durable hand-backs, dead letters.

Every request with a reply subject gets exactly one reply, whatever its bytes.
"""

from __future__ import annotations

import base64
import json

import pytest
import trio

from service.config import Settings
from service.errors import InvalidRequest
from service.intake.base import Ticket
from service.intake.memory import MemoryIntake
from service.operations.discovery import EndpointStats
from service.operations.metrics import Metrics
from service.requests import limits_for, parse_request, salvage_id, salvage_language
from service.requests.validate import MAX_ID_CHARS
from service.scheduling import admission as admission_module
from service.scheduling.admission import DEFER_S, Admission
from service.scheduling.dispatch import Dispatcher
from service.scheduling.replies import Replies
from wire import Kind
from wire.subjects import INSTANCE_HEADER, REPLY_HEADER

SETTINGS = Settings.from_env({}, instance_id="unit", queue_capacity=1)
GOOD = json.dumps({"language": "py", "code": base64.b64encode(b"print(1)").decode()}).encode()
LIMITS = limits_for(Kind.COMPILER, SETTINGS)


class Door:
    """An admission whose dispatcher never starts its workers: what is queued stays queued."""

    def __init__(self, *, backend_ok: bool = True) -> None:
        self.intake = MemoryIntake(instance_id="unit")
        self.metrics = Metrics()
        self.dispatcher = Dispatcher(
            self._never, concurrency=1, capacity=SETTINGS.queue_capacity, metrics=self.metrics
        )
        endpoints = {kind: EndpointStats(kind.value, f"{kind}.subject", "q") for kind in Kind}
        self.endpoints = endpoints
        replies = Replies(self.intake, self.metrics, endpoints)
        self.admission = Admission(
            SETTINGS, self.dispatcher, replies, self.intake, lambda: backend_ok
        )

    @staticmethod
    async def _never(request, respond) -> None:
        await trio.sleep_forever()

    async def start(self, nursery: trio.Nursery) -> None:
        await nursery.start(self.intake.run, self.admission.handle, lambda: True)

    def replies(self, subject: str = "inbox") -> list[dict]:
        return [json.loads(item.payload) for item in self.intake.sent_to(subject)]


def ticket(deliveries: int = 1, *, poison: bool = False) -> Ticket:
    return Ticket(handle=None, request_id="d-1", deliveries=deliveries, poison=poison)


async def test_every_reply_is_counted_once_and_carries_the_instance(nursery):
    door = Door()
    await door.start(nursery)
    door.intake.submit(b"not json", kind=Kind.PROBLEMS)
    [reply] = door.replies()
    assert reply["status"] == "invalid_request" and "total" in reply  # a problems-shaped reply
    assert door.intake.sent[0].headers == {INSTANCE_HEADER: "unit"}
    assert door.metrics.by_status["invalid_request"] == 1
    assert door.endpoints[Kind.PROBLEMS].requests == 1
    assert door.endpoints[Kind.PROBLEMS].errors == 1


async def test_full_queue_refuses_core_requests_and_hands_durable_ones_back(nursery):
    door = Door()
    await door.start(nursery)
    door.intake.submit(GOOD)  # queued (no worker takes it)
    door.intake.submit(GOOD)
    assert door.replies()[-1]["status"] == "busy"
    durable = ticket()
    door.intake.submit(GOOD, reply="inbox.d", ticket=durable)
    assert door.intake.sent_to("inbox.d") == []  # never refused: it stays in the stream
    assert door.intake.deferred == [(durable, DEFER_S)]


async def test_backend_down_is_busy(nursery):
    door = Door(backend_ok=False)
    await door.start(nursery)
    door.intake.submit(GOOD)
    [reply] = door.replies()
    assert reply["status"] == "busy" and "Docker" in reply["error"]
    assert door.dispatcher.queued == 0


async def test_a_poison_request_is_dead_lettered_and_answered(nursery):
    door = Door()
    await door.start(nursery)
    poison = ticket(3, poison=True)
    door.intake.submit(GOOD, reply="inbox.p", ticket=poison)
    [dead] = door.intake.sent_to(f"{SETTINGS.dead_letter_subject}.compiler")
    assert dead.payload == GOOD and dead.headers[REPLY_HEADER] == "inbox.p"
    [answer] = door.intake.sent_to("inbox.p")
    assert json.loads(answer.payload)["status"] == "internal_error"
    assert answer.ticket is poison  # settled with its reply, never run
    assert door.dispatcher.queued == 0


# -- malformed requests: every one gets exactly one invalid_request reply ----------

CODE = base64.b64encode(b"print(1)").decode()
DEEP = 100_000  # far past the recursion limit
EDGE = 1_000  # about at it


def arrays(depth: int) -> str:
    return "[" * depth + "]" * depth


def objects(depth: int) -> str:
    return '{"a":' * depth + "1" + "}" * depth


def fields(extra: str) -> bytes:
    """A good request's fields followed by ``extra`` (raw JSON text, a comma first)."""
    return f'{{"language":"python","code":"{CODE}"{extra}}}'.encode()


def with_(**values: object) -> bytes:
    return json.dumps({"language": "python", "code": CODE, **values}).encode()


# Where a deeply nested value goes ("@"): at the top, and in every field.
NESTED_AT = {
    "at the top": "@",
    "as code": '{"language":"python","code":@}',
    "as language": '{"language":@,"code":"' + CODE + '"}',
    **{
        f"in {name}": '{"language":"python","code":"' + CODE + '",' + field + "}"
        for name, field in [
            ("stdin", '"stdin":@'),
            ("args", '"args":@'),
            ("args[1]", '"args":["a",@]'),
            ("id", '"id":@'),
            ("timeout_ms", '"timeout_ms":@'),
            ("files", '"files":@'),
            ("files[0].content", '"files":[{"name":"a.py","content":@}]'),
            ("tests", '"tests":@'),
            ("tests[0]", '"tests":[@]'),
            ("tests[0].stdin", '"tests":[{"stdin":@}]'),
            ("tests[0].x", '"tests":[{"stdin":"","x":@}]'),
            ("checker", '"checker":@'),
            ("checker.code", '"checker":{"language":"cpp","code":@}'),
            ("checker.files[0]", '"checker":{"language":"cpp","code":"eA==","files":[@]}'),
            ("interactor", '"interactor":@'),
            ("compare", '"compare":@'),
            ("an unknown field", '"x":@'),
        ]
    },
}

MALFORMED: dict[str, bytes] = {
    **{
        f"{shape.__name__} {depth} deep {where}": template.replace("@", shape(depth)).encode()
        for shape in (arrays, objects)
        for depth in (EDGE, DEEP)
        for where, template in NESTED_AT.items()
    },
    # Integers far past any limit, also past the interpreter's int-to-str limit (4300).
    **{
        f"id of {digits} digits": fields(f',"id":{"9" * digits}')
        for digits in (129, 4300, 4301, 50_000)
    },
    "negative id of 128 digits": fields(f',"id":-{"9" * 128}'),
    "id of 129 characters": with_(id="x" * 129),
    "test id of 4300 digits": fields(f',"tests":[{{"id":{"9" * 4300}}}]'),
    "timeout_ms of 4300 digits": fields(f',"timeout_ms":-{"9" * 4300}'),
    "memory_mb of 30 digits": fields(f',"memory_mb":-{"9" * 30}'),
    "points past a float": fields(f',"tests":[{{"points":{"9" * 400}}}]'),
    "float_tolerance 1e400": fields(',"tests":[{}],"compare":"float","float_tolerance":1e400'),
    # Bytes that are not UTF-8, or text JSON cannot carry.
    "not UTF-8": b"\xff\xfe\x00{",
    "not UTF-8 in a string": fields(',"stdin":"\xff"').replace(b"\xc3\xbf", b"\xff"),
    "overlong UTF-8": fields(',"id":"\xc0\xaf"').replace(b"\xc3\x80\xc2\xaf", b"\xc0\xaf"),
    "lone surrogate": fields(r',"id":"\ud800"'),
    "NUL outside a string": fields(",\x00"),
    # Truncated, empty, not an object.
    "truncated": with_(id="t")[:-1],
    "half": with_(id="t")[:20],
    "an open brace": b"{",
    "an open string": b'{"language":"python","code":"',
    "empty": b"",
    "whitespace": b" \n\t ",
    "array": b"[]",
    "number": b"1",
    "string": b'"x"',
    "null": b"null",
    "true": b"true",
    "two objects": with_() + with_(),
    # NaN and Infinity are not JSON.
    "NaN": fields(',"timeout_ms":NaN'),
    "Infinity": fields(',"tests":[{}],"compare":"float","float_tolerance":Infinity'),
    "-Infinity": fields(',"tests":[{"points":-Infinity}]'),
    "NaN at the top": b"NaN",
    # A key twice: JSON readers disagree on which value counts.
    "code twice": fields(f',"code":"{CODE}"'),
    "language twice": fields(',"language":"python"'),
    "a key twice, once escaped": fields(r',"\u0063ode":"' + CODE + '"'),
    "a test's key twice": fields(',"tests":[{"stdin":"","stdin":"eA=="}]'),
    "a file's key twice": fields(',"files":[{"name":"a.py","name":"b.py","content":""}]'),
    "a checker's key twice": fields(
        f',"tests":[{{}}],"checker":{{"language":"python","code":"{CODE}","code":"{CODE}"}}'
    ),
    # Wrong types.
    "language a number": with_(language=1),
    "code a number": with_(code=1),
    "stdin an array": with_(stdin=[]),
    "args a string": with_(args="x"),
    "args of numbers": with_(args=[1]),
    "id a float": with_(id=1.5),
    "id a bool": with_(id=True),
    "timeout_ms a string": with_(timeout_ms="5"),
    "memory_mb a float": with_(memory_mb=1.5),
    "tests an object": with_(tests={}),
    "tests of numbers": with_(tests=[1]),
    "compare a number": with_(tests=[{}], compare=1),
    "stop_on_first_failure a string": with_(tests=[{}], stop_on_first_failure="yes"),
    "checker a string": with_(tests=[{}], checker="x"),
    "files an object": with_(files={}),
    "a file's name a number": with_(files=[{"name": 1}]),
    # Bad base64.
    "code not base64": with_(code="***"),
    "code badly padded": with_(code="eA="),
    "stdin not base64": with_(stdin="@@"),
    "expected_output not base64": with_(tests=[{"expected_output": "%%"}]),
    "file content not base64": with_(files=[{"name": "a.py", "content": "!!"}]),
    "checker code not base64": with_(tests=[{}], checker={"language": "cpp", "code": "**"}),
    # Over a limit.
    "code too large": with_(code=base64.b64encode(b"#" * (600 << 10)).decode()),
    "stdin too large": with_(stdin=base64.b64encode(b"x" * (5 << 20)).decode()),
    "too many args": with_(args=["a"] * 65),
    "an arg too long": with_(args=["a" * 5000]),
    "too many tests": with_(tests=[{}] * 101),
    "too many files": with_(files=[{"name": f"f{i}.py"} for i in range(33)]),
    "a group name too long": with_(tests=[{"group": "g" * 129}]),
    # Unknown fields.
    "unknown field": with_(x=1),
    "unknown field of a test": with_(tests=[{"x": 1}]),
    "unknown field of a file": with_(files=[{"name": "a.py", "mode": 7}]),
    "unknown field of a checker": with_(
        tests=[{}], checker={"language": "cpp", "code": CODE, "x": 1}
    ),
    "unknown field named with a backtick": fields(',"a`' + "b" * 5000 + '":1'),
    # Refused for what the fields say.
    "unknown language": with_(language="cobol"),
    "code empty": with_(code=""),
    "code with NUL": with_(code=base64.b64encode(b"print(1)\x00").decode()),
    "arg with NUL": with_(args=["a\x00"]),
    "timeout_ms zero": with_(timeout_ms=0),
}


@pytest.mark.parametrize("kind", list(Kind))
async def test_every_malformed_request_gets_one_invalid_request_reply(nursery, kind):
    door = Door()
    await door.start(nursery)
    for index, payload in enumerate(MALFORMED.values()):
        door.intake.submit(payload, kind=kind, reply=f"inbox.{index}")
    door.intake.submit(GOOD, kind=kind, reply="inbox.good")  # queued: never answered here
    for index, name in enumerate(MALFORMED):
        replies = [json.loads(sent.payload) for sent in door.intake.sent_to(f"inbox.{index}")]
        assert len(replies) == 1, name
        [reply] = replies
        assert reply["status"] == "invalid_request", (name, reply)
        assert reply["error"] and len(reply["error"]) < 300, (name, reply["error"])
        assert 0 < len(reply["id"]) <= MAX_ID_CHARS, name
        assert ("total" in reply) is (kind is Kind.PROBLEMS), name  # the subject's shape
    assert len(door.intake.sent) == len(MALFORMED)
    assert door.metrics.by_status["invalid_request"] == len(MALFORMED)
    assert door.dispatcher.queued == 1


def test_nothing_malformed_makes_the_salvage_for_error_replies_raise():
    for payload in MALFORMED.values():
        assert 0 < len(salvage_id(payload)) <= MAX_ID_CHARS
        assert len(salvage_language(payload)) <= 40


@pytest.mark.parametrize(
    ("id_json", "echoed"),
    [
        ('"job-1"', "job-1"),
        ("7", "7"),
        ("9" * 128, "9" * 128),
        ("-" + "9" * 127, "-" + "9" * 127),
        ("9" * 129, None),
        ("-" + "9" * 128, None),
        ("9" * 4300, None),
        ('"' + "x" * 129 + '"', None),
        ('""', None),
        ("true", None),
    ],
    ids=[
        *("string", "int", "128 digits", "-127 digits", "129 digits", "-128 digits"),
        *("4300 digits", "129 characters", "empty", "bool"),
    ],
)
def test_an_id_is_echoed_only_within_the_id_limit(id_json, echoed):
    payload = fields(f',"id":{id_json},"x":1')  # refused: the id is salvaged
    salvaged = salvage_id(payload)
    if echoed is None:
        assert len(salvaged) == 32 and salvaged != id_json  # a new one
    else:
        assert salvaged == echoed
    valid = fields(f',"id":{id_json}')
    if echoed is not None:
        assert parse_request(valid, Kind.COMPILER, LIMITS).id == echoed
    elif id_json not in ('""', "true"):
        with pytest.raises(InvalidRequest, match="id is longer than 128 characters"):
            parse_request(valid, Kind.COMPILER, LIMITS)


def test_salvage_names_the_language_of_a_refused_request():
    assert salvage_language(fields(',"x":1').replace(b"python", b"py")) == "python"
    assert salvage_language(with_(language="cobol", x=1)) == "cobol"
    assert salvage_language(with_(language=[[1]], x=1)) == ""


@pytest.mark.parametrize(
    ("raised", "status", "said"),
    [
        (RecursionError("deep"), "invalid_request", "could not be read: RecursionError"),
        (ValueError("Exceeds the limit (4300 digits)"), "invalid_request", "ValueError"),
        (UnicodeDecodeError("utf-8", b"\xff", 0, 1, "bad"), "invalid_request", "UnicodeDecode"),
        (RuntimeError("a bug"), "internal_error", "the engine failed to validate the request"),
        (KeyError("x"), "internal_error", "the engine failed to validate the request"),
    ],
)
async def test_an_unforeseen_error_while_validating_still_gets_one_reply(
    nursery, monkeypatch, caplog, raised, status, said
):
    def failing(*args: object) -> None:
        raise raised

    monkeypatch.setattr(admission_module, "parse_request", failing)
    door = Door()
    await door.start(nursery)
    door.intake.submit(GOOD, kind=Kind.PROBLEMS)
    [reply] = door.replies()
    assert reply["status"] == status and said in reply["error"]
    assert reply["language"] == "python" and "total" in reply
    assert "validating a request on problems.execute.request failed" in caplog.text


async def test_an_unforeseen_error_after_validating_still_gets_one_reply(nursery, caplog):
    door = Door()
    await door.start(nursery)

    def broken(request, respond) -> bool:
        raise RuntimeError("a bug")

    door.dispatcher.submit = broken  # type: ignore[method-assign]
    door.intake.submit(GOOD)
    [reply] = door.replies()
    assert reply["status"] == "internal_error"
    assert reply["error"] == "the engine failed to admit it"
    assert "admitting a request on compiler.execute.request failed" in caplog.text
