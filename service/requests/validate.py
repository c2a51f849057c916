"""Request validation: payload bytes in, :class:`ExecuteRequest` or a precise refusal out.

A payload is decoded once, into the struct of the subject it came on
(:class:`wire.requests.WireRequest` or :class:`~wire.requests.WireProblemRequest`);
a field that struct does not have is refused by name.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
import uuid

import msgspec

from wire import Kind
from wire.decoding import NestedTooDeeply, decode
from wire.requests import PROBLEM_ONLY_FIELDS, WireFile, WireProblemRequest, WireRequest, WireTest

from ..errors import InvalidRequest
from ..languages import lookup, supported
from .limits import Limits, run_limits
from .problem_options import (
    choice,
    default_validator,
    file_task,
    grader_files,
    group_rules,
    tool_convention,
    tool_passes,
)
from .request import (
    DEFAULT_FLOAT_TOLERANCE,
    Compare,
    Convention,
    ExecuteRequest,
    Problem,
    Program,
    SourceFile,
    TestCase,
)
from .sources import check_files

MAX_ARG_CHARS = 4096
MAX_ID_CHARS = 128
MAX_POINTS = 1e9
# An integer id is as long as its digits (and sign): within these bounds it has
# at most MAX_ID_CHARS of them. Checked before str(), which costs time quadratic
# in the digits and refuses more than sys.get_int_max_str_digits() of them.
_ID_BELOW = 10**MAX_ID_CHARS
_ID_ABOVE = -(10 ** (MAX_ID_CHARS - 1))

_decoders: dict[Kind, msgspec.json.Decoder[WireRequest]] = {
    Kind.COMPILER: msgspec.json.Decoder(WireRequest),
    Kind.PROBLEMS: msgspec.json.Decoder(WireProblemRequest),
}


def parse_request(payload: bytes, kind: Kind, limits: Limits) -> ExecuteRequest:
    """Validate a request that came in on the subject of ``kind``.

    Raises:
        InvalidRequest: with the reason, for anything that breaks the protocol;
            the only exception it raises for what a payload holds.
    """
    try:
        wire = decode(_decoders[kind], payload)
    except NestedTooDeeply:
        raise InvalidRequest("request is nested too deeply") from None
    except msgspec.ValidationError as exc:
        raise InvalidRequest(f"invalid request: {_describe(exc, kind)}") from None
    except msgspec.DecodeError as exc:
        raise InvalidRequest(f"request is not valid JSON: {exc}") from None

    main = _program("", wire.language, wire.code, wire.files, limits.max_code_bytes, limits)
    stdin = decode_b64("stdin", wire.stdin, limits.max_stdin_bytes)
    args = tuple(wire.args or ())
    if len(args) > limits.max_args:
        raise InvalidRequest(f"too many args: {len(args)} > {limits.max_args}")
    for i, arg in enumerate(args):
        if "\x00" in arg:
            raise InvalidRequest(f"args[{i}] contains a NUL byte")
        if len(arg) > MAX_ARG_CHARS:
            raise InvalidRequest(f"args[{i}] is longer than {MAX_ARG_CHARS} characters")
    grader: tuple[SourceFile, ...] = ()
    if isinstance(wire, WireProblemRequest) and wire.grader is not None:
        grader = grader_files(wire, main, limits.max_code_bytes, decode_b64)
    files = main.files + grader
    used = len(main.code) + sum(len(file.content) for file in files)
    request = ExecuteRequest(
        id=request_id(wire.id),
        kind=kind,
        language=main.language,
        code=main.code,
        stdin=stdin,
        args=args,
        limits=run_limits(wire, main.language, limits),
        problem=(
            _problem(wire, limits, used, main, grader)
            if isinstance(wire, WireProblemRequest)
            else None
        ),
        files=files,
    )
    _refuse_duplicate_keys(payload)  # last: the request's shape and size are known good
    return request


class _DuplicateKey(Exception):
    def __init__(self, key: str) -> None:
        super().__init__(key)
        self.key = key


def _unique_keys(pairs: list[tuple[str, object]]) -> None:
    seen: set[str] = set()
    for key, _ in pairs:
        if key in seen:
            raise _DuplicateKey(key)
        seen.add(key)


def _refuse_duplicate_keys(payload: bytes) -> None:
    """Refuse an object with a key twice: which value counts differs between JSON readers.

    msgspec keeps the last; a proxy or client library in front of the engine may
    have checked the first. The standard library's reader shows each object's
    pairs as they were sent (escapes decoded).
    """
    try:
        json.loads(payload, object_pairs_hook=_unique_keys)
    except _DuplicateKey as exc:
        raise InvalidRequest(f"invalid request: key {exc.key[:40]!r} appears twice") from None
    except (ValueError, RecursionError):
        raise InvalidRequest("request is not valid JSON") from None


def _program(
    prefix: str,
    language_name: str,
    code_b64: str,
    files: list[WireFile] | None,
    budget: int,
    limits: Limits,
) -> Program:
    """A language, a main file and extra files within ``budget`` bytes together.

    ``prefix`` names the fields in errors ("" for the submission, "checker.").
    """
    language = lookup(language_name)
    if language is None:
        raise InvalidRequest(
            f"unknown {prefix}language {language_name[:40]!r}; supported: {supported()}"
        )
    code = decode_b64(f"{prefix}code", code_b64, budget)
    if not code.strip():
        raise InvalidRequest(f"{prefix}code is empty")
    if b"\x00" in code:
        raise InvalidRequest(f"{prefix}code contains NUL bytes")
    extra = check_files(
        language,
        files,
        budget - len(code),
        decode_b64,
        limit=limits.max_code_bytes,
        what=f"{prefix}files",
    )
    return Program(language, code, extra)


def _problem(
    wire: WireProblemRequest,
    limits: Limits,
    used: int,
    main: Program,
    grader: tuple[SourceFile, ...] = (),
) -> Problem | None:
    """The problem part of a problems request, or None when it has no ``tests``.

    ``used``: bytes of the submission, which its checker shares the code limit with.
    """
    tool_field = "checker" if wire.checker is not None else "interactor"
    tool = wire.checker or wire.interactor
    if wire.tests is None:
        if tool is not None:
            raise InvalidRequest(f"{tool_field} needs tests")
        for field in ("groups", "grader", "input_file", "output_file"):
            if getattr(wire, field) is not None:
                raise InvalidRequest(f"{field} needs tests")
        return None
    if wire.checker is not None and wire.interactor is not None:
        raise InvalidRequest("checker and interactor exclude each other: the interactor decides")
    if not 1 <= len(wire.tests) <= limits.max_tests:
        raise InvalidRequest(
            f"tests must hold 1 to {limits.max_tests} cases, got {len(wire.tests)}"
        )
    compare = choice(Compare, wire.compare, "compare")
    tolerance = DEFAULT_FLOAT_TOLERANCE
    validator = default_validator(wire, compare)
    if wire.float_tolerance is not None and compare is not Compare.ICPC:
        if compare is not Compare.FLOAT:
            raise InvalidRequest("float_tolerance applies only with compare 'float' or 'icpc'")
        if not 0 < wire.float_tolerance <= 1:
            raise InvalidRequest(
                f"float_tolerance must be above 0 and at most 1, got {wire.float_tolerance}"
            )
        tolerance = wire.float_tolerance
    program = None
    convention: Convention = Convention.TESTLIB
    tool_args: tuple[str, ...] = ()
    passes = 1
    if tool is not None:
        convention, tool_args = tool_convention(tool, tool_field)
        passes = tool_passes(tool, tool_field, convention)
        if compare is not Compare.TRIM:
            raise InvalidRequest(
                f"{tool_field} and compare {compare.value!r} exclude each other: "
                f"the {tool_field} decides"
            )
        budget = limits.max_code_bytes - used
        program = _program(f"{tool_field}.", tool.language, tool.code, tool.files, budget, limits)
    input_file, output_file = file_task(wire, main, grader)
    cases = tuple(_test_case(index, test, limits) for index, test in enumerate(wire.tests))
    return Problem(
        cases,
        compare,
        wire.stop_on_first_failure,
        tolerance,
        checker=program if wire.checker is not None else None,
        interactor=program if wire.interactor is not None else None,
        validator=validator,
        convention=convention,
        tool_args=tool_args,
        passes=passes,
        hidden=tuple(file.name for file in grader),
        groups=group_rules(wire.groups, wire.tests),
        input_file=input_file,
        output_file=output_file,
    )


def _test_case(index: int, test: WireTest, limits: Limits) -> TestCase:
    stdin = decode_b64(f"tests[{index}].stdin", test.stdin, limits.max_stdin_bytes)
    expected = (
        decode_b64(f"tests[{index}].expected_output", test.expected_output, limits.max_stdin_bytes)
        if test.expected_output is not None
        else None
    )
    if test.id is None:
        test_id = str(index + 1)
    elif isinstance(test.id, str):
        test_id = test.id[:MAX_ID_CHARS]
    elif (number := id_text(test.id)) is not None:
        test_id = number
    else:
        raise InvalidRequest(f"tests[{index}].id is longer than {MAX_ID_CHARS} characters")
    points = 1.0 if test.points is None else test.points
    if not 0 <= points <= MAX_POINTS:
        raise InvalidRequest(
            f"tests[{index}].points must be a number from 0 to {MAX_POINTS}, got {points}"
        )
    if test.group is not None and not 0 < len(test.group) <= MAX_ID_CHARS:
        raise InvalidRequest(f"tests[{index}].group must be 1 to {MAX_ID_CHARS} characters")
    return TestCase(test_id, stdin, expected, points, test.group)


def decode_b64(name: str, value: str | None, max_bytes: int) -> bytes:
    """Decode one base64 field of at most ``max_bytes`` (absent or empty: no bytes).

    The size is checked before decoding, so an absurdly large field costs nothing.

    Raises:
        InvalidRequest: not base64, or larger than ``max_bytes`` once decoded.
    """
    if not value:
        return b""
    # base64 is 4 characters per 3 bytes.
    if len(value) > (max_bytes + 2) // 3 * 4 + 4:
        raise InvalidRequest(f"{name} is larger than the limit of {max_bytes} bytes")
    try:
        data = base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raise InvalidRequest(f"{name} is not valid base64") from None
    if len(data) > max_bytes:
        raise InvalidRequest(f"{name} is {len(data)} bytes, larger than the limit of {max_bytes}")
    return data


def request_id(raw: str | int | None) -> str:
    """The request's id: as sent (an integer as its digits), or a new one when absent or empty.

    Raises:
        InvalidRequest: longer than MAX_ID_CHARS characters, whether a string or an integer.
    """
    if raw is None or raw == "":
        return uuid.uuid4().hex
    text = id_text(raw)
    if text is None:
        raise InvalidRequest(f"id is longer than {MAX_ID_CHARS} characters")
    return text


def id_text(raw: object) -> str | None:
    """``raw`` as an id: a string or an integer of 1 to MAX_ID_CHARS characters, else None."""
    if isinstance(raw, str):
        return raw if 0 < len(raw) <= MAX_ID_CHARS else None
    if isinstance(raw, int) and not isinstance(raw, bool) and _ID_ABOVE < raw < _ID_BELOW:
        return str(raw)
    return None


class _Echoed(msgspec.Struct):
    """The fields an error reply echoes, kept undecoded: the rest of the payload is skipped."""

    id: msgspec.Raw = msgspec.Raw()
    language: msgspec.Raw = msgspec.Raw()


_echoed_decoder = msgspec.json.Decoder(_Echoed)
_id_decoder = msgspec.json.Decoder(str | int)
_language_decoder = msgspec.json.Decoder(str)


def _echoed(payload: bytes) -> _Echoed | None:
    """The fields to echo of a payload that may be anything; None when it is not an object."""
    try:
        return decode(_echoed_decoder, payload)
    except msgspec.DecodeError:
        return None


def salvage_id(payload: bytes) -> str:
    """The request's id for an error reply, when the payload has a valid one; never raises.

    An id is echoed only within the limits :func:`request_id` keeps (else a new one).
    """
    echoed = _echoed(payload)
    if echoed is not None and echoed.id:
        try:
            text = id_text(_id_decoder.decode(echoed.id))
        except msgspec.DecodeError:
            text = None
        if text is not None:
            return text
    return uuid.uuid4().hex


def salvage_language(payload: bytes) -> str:
    """The request's language for an error reply (its own name when known); never raises."""
    echoed = _echoed(payload)
    if echoed is None or not echoed.language:
        return ""
    try:
        value = _language_decoder.decode(echoed.language)
    except msgspec.DecodeError:
        return ""
    language = lookup(value)
    return language.name if language else value[:40]


# A field name may hold backticks itself: the name is what comes before the
# backtick that only msgspec's path (or nothing) follows.
_UNKNOWN = re.compile(
    r"^Object contains unknown field `(?P<name>.*?)`(?: - at `\$\.?(?P<at>[^`]*)`)?$", re.DOTALL
)


def _describe(exc: msgspec.ValidationError, kind: Kind) -> str:
    text = str(exc)
    if text.startswith("Expected `object`") and " - at " not in text:
        return "the request must be a JSON object"
    unknown = _UNKNOWN.match(text)
    if unknown:
        name, at = unknown["name"][:40], unknown["at"]
        if at:
            return f"unknown field {name!r} (at {at!r})"
        if kind is Kind.COMPILER and name in PROBLEM_ONLY_FIELDS:
            return f"unknown field {name!r} (accepted on problems requests only)"
        return f"unknown field {name!r}"
    return text.replace("`", "'").replace(" - at '$.", " (at '").replace("$.", "") + (
        ")" if " - at " in text else ""
    )
