"""compare modes: tokens and float, beside exact and trim."""

import base64
import json
import math
import random
import re

import pytest

from service.config import Settings
from service.errors import InvalidRequest
from service.jobs import comparing
from service.jobs.comparing import matches, normalize
from service.requests import Compare, limits_for, parse_request
from wire import Kind

LIMITS = limits_for(Kind.PROBLEMS, Settings.from_env({}))


@pytest.mark.parametrize(
    ("output", "expected", "result"),
    [
        (b"1 2 3\n", b"1 2 3", True),
        (b"  1\t2\n\n3  \r\n", b"1 2 3", True),
        (b"1 2", b"1 2 3", False),
        (b"1 2 3 4", b"1 2 3", False),
        (b"1.0 2", b"1 2", False),  # bytes, not numbers
        (b"YES", b"yes", False),
        (b"", b"\n \n", True),
        (b"a\xffb", b"a\xffb", True),
        (b"a\x00b", b"a b", False),  # NUL is not ASCII whitespace
    ],
)
def test_tokens(output, expected, result):
    assert matches(output, expected, Compare.TOKENS) is result


@pytest.mark.parametrize(
    ("output", "expected", "result"),
    [
        (b"0.333333333", b"0.333333333", True),
        (b"0.3333333339", b"0.333333333", True),  # off by 1e-9
        (b"0.334333333", b"0.333333333", False),  # off by 1e-3
        (b"1000000.5", b"1000000", True),  # relative: 1e-6 of 1e6 is 1
        (b"1000002", b"1000000", False),
        (b"1e-7", b"0", True),  # absolute below 1
        (b"-0", b"0.0000001", True),
        (b"+2.5E3", b"2500", True),
        (b".5", b"0.5", True),
        (b"5.", b"5", True),
        (b"nan", b"nan", True),  # equal as tokens, never as numbers
        (b"nan", b"0", False),
        (b"inf", b"1e999", False),
        (b"0x10", b"16", False),
        (b"1_000", b"1000", False),
        (b"answer 1.0000001", b"answer 1", True),
        (b"Answer 1", b"answer 1", False),
        (b"1 2", b"1", False),
    ],
)
def test_float(output, expected, result):
    assert matches(output, expected, Compare.FLOAT) is result


def test_float_tolerance_is_relative_to_the_expected_value():
    assert matches(b"1.05", b"1", Compare.FLOAT, 0.1)
    assert not matches(b"1.2", b"1", Compare.FLOAT, 0.1)
    assert matches(b"105", b"100", Compare.FLOAT, 0.1)


def parse(**fields: object):
    body = {"language": "python", "code": base64.b64encode(b"print(1)").decode(), **fields}
    return parse_request(json.dumps(body).encode(), Kind.PROBLEMS, LIMITS).problem


def test_float_tolerance_defaults_and_is_read():
    assert parse(tests=[{}], compare="float").float_tolerance == 1e-6
    assert parse(tests=[{}], compare="float", float_tolerance=0.01).float_tolerance == 0.01
    assert parse(tests=[{}], compare="tokens").compare is Compare.TOKENS


@pytest.mark.parametrize(
    ("fields", "reason"),
    [
        ({"compare": "float", "float_tolerance": 0}, "float_tolerance must be above 0"),
        ({"compare": "float", "float_tolerance": 1.5}, "and at most 1, got 1.5"),
        ({"compare": "float", "float_tolerance": -1e-3}, "float_tolerance must be above 0"),
        ({"compare": "trim", "float_tolerance": 0.1}, "applies only with compare 'float'"),
        ({"float_tolerance": 0.1}, "applies only with compare 'float'"),
    ],
)
def test_bad_tolerances(fields, reason):
    with pytest.raises(InvalidRequest, match=reason):
        parse(tests=[{}], **fields)


# -- the fast paths give the answers of the plain definitions ------------------------

DECIMAL = re.compile(rb"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")


def plain_trim(output: bytes) -> bytes:
    lines = [line.rstrip() for line in output.replace(b"\r\n", b"\n").split(b"\n")]
    while lines and not lines[-1]:
        lines.pop()
    return b"\n".join(lines)


def plain_number(token: bytes) -> float | None:
    value = float(token) if DECIMAL.fullmatch(token) else None
    return value if value is not None and math.isfinite(value) else None


WORDS = {b"nan": "nan", b"+nan": "nan", b"-nan": "nan", b"inf": "inf", b"+inf": "inf"}
WORDS |= {b"infinity": "inf", b"+infinity": "inf", b"-inf": "-inf", b"-infinity": "-inf"}


def plain_matches(output: bytes, expected: bytes, compare: Compare, tolerance: float) -> bool:
    if compare is Compare.ICPC:  # default options: tokens up to ASCII case
        return output.lower().split() == expected.lower().split()
    if compare is Compare.EXACT:
        return output == expected
    if compare is Compare.TRIM:
        return plain_trim(output) == plain_trim(expected)
    got, want = output.split(), expected.split()
    if len(got) != len(want) or compare is Compare.TOKENS:
        return got == want
    for a, e in zip(got, want, strict=True):
        if a == e:
            continue
        if a.lower() in WORDS or e.lower() in WORDS:
            if WORDS.get(a.lower()) != WORDS.get(e.lower()) or a.lower() not in WORDS:
                return False
            continue
        x, y = plain_number(a), plain_number(e)
        if a != e and (x is None or y is None or abs(x - y) > tolerance * max(1.0, abs(y))):
            return False
    return True


PIECES = [b" ", b"\t", b"\n", b"\r", b"\r\n", b"\x0b", b"\x0c", b"\x00", b"1", b"2", b"1.0"]
PIECES += [b"1e", b"e5", b".", b"+", b"-", b"nan", b"inf", b"1e999", b"1_0", b"a", b"\xff"]
PIECES += [b"0.0000001", b"1.5", b"-0", b".5", b"5.", b"+2.5E3", b"NaN", b"-INF", b"Inf", b"A"]


@pytest.mark.parametrize(("piece_bytes", "piece_tokens"), [(64 << 10, 16 << 10), (1, 1), (7, 3)])
def test_every_mode_agrees_with_its_plain_definition(monkeypatch, piece_bytes, piece_tokens):
    # Outputs are read a piece at a time: tiny pieces put a boundary everywhere.
    monkeypatch.setattr(comparing, "PIECE_BYTES", piece_bytes)
    monkeypatch.setattr(comparing, "PIECE_TOKENS", piece_tokens)
    rng = random.Random(20261206)
    for _ in range(10_000):
        output = b"".join(rng.choices(PIECES, k=rng.randint(0, 12)))
        if rng.random() < 0.3:  # the same tokens, other whitespace
            expected = output.replace(b" ", b"\n").replace(b"\t", b" \r\n")
        else:
            expected = b"".join(rng.choices(PIECES, k=rng.randint(0, 12)))
        for compare in Compare:
            for tolerance in (1e-6, 0.5):
                assert matches(output, expected, compare, tolerance) is plain_matches(
                    output, expected, compare, tolerance
                ), (output, expected, compare, tolerance)
        assert normalize(output, Compare.TRIM) == plain_trim(output), output
