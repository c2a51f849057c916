"""``compare: icpc``: the ICPC package format's default output validator.

Both outputs are split into tokens on ASCII whitespace (space, tab, newline,
carriage return, vertical tab, form feed). Tokens match byte for byte, or, by
default, up to ASCII case. With a float tolerance, an answer token that reads
as a number matches an output token that is a number within the absolute or
the relative tolerance; ``nan``, ``inf`` and ``-inf`` read as numbers in any
case, NaN equal to NaN and each infinity to itself. With
``space_change_sensitive`` the whitespace between tokens (leading and trailing
too) must be the same bytes.

Runs in a worker thread for large outputs, as :mod:`service.jobs.comparing` does.
"""

from __future__ import annotations

import math
import re
from itertools import compress
from operator import ne

from ..requests.request import DefaultValidator

_SPACES = re.compile(rb"([ \t\n\r\x0b\x0c]+)")
# The format's grammar of a decimal number (no hex, no digit separators).
_DECIMAL = re.compile(rb"[+-]?(?:[0-9]*\.[0-9]+|[0-9]+\.?)(?:[eE][+-]?[0-9]+)?")
_SPECIAL = {
    b"nan": math.nan,
    b"+nan": math.nan,
    b"-nan": math.nan,
    b"inf": math.inf,
    b"+inf": math.inf,
    b"infinity": math.inf,
    b"+infinity": math.inf,
    b"-inf": -math.inf,
    b"-infinity": -math.inf,
}


def number(token: bytes) -> float | None:
    """The value of a number token (decimal, or nan/inf in any case), else None."""
    if len(token) <= 9 and (special := _SPECIAL.get(token.lower())) is not None:
        return special
    if _DECIMAL.fullmatch(token) is None:
        return None
    return float(token)


def special_tokens_match(got: bytes, want: bytes) -> bool | None:
    """Whether two tokens match as nan/inf words; None when neither is one."""
    a = _SPECIAL.get(got.lower()) if len(got) <= 9 else None
    e = _SPECIAL.get(want.lower()) if len(want) <= 9 else None
    if a is None and e is None:
        return None
    if a is None or e is None:
        return False
    return (math.isnan(a) and math.isnan(e)) or a == e


def icpc_matches(output: bytes, expected: bytes, options: DefaultValidator) -> bool:
    """Whether ``output`` is accepted as ``expected`` by the default validator."""
    if output == expected:
        return True
    if options.space_change_sensitive:
        got_parts, want_parts = _SPACES.split(output), _SPACES.split(expected)
        if len(got_parts) != len(want_parts) or got_parts[1::2] != want_parts[1::2]:
            return False
        got, want = got_parts[0::2], want_parts[0::2]
    else:
        got, want = output.split(), expected.split()
        if len(got) != len(want):
            return False
    if not options.case_sensitive and not options.floats:
        return list(map(bytes.lower, got)) == list(map(bytes.lower, want))
    unequal = list(map(ne, got, want))
    for a, e in zip(compress(got, unequal), compress(want, unequal), strict=True):
        if not _tokens_match(a, e, options):
            return False
    return True


def _tokens_match(got: bytes, want: bytes, options: DefaultValidator) -> bool:
    if options.floats and (answer := number(want)) is not None:
        value = number(got)
        return value is not None and _close(value, answer, options)
    return not options.case_sensitive and got.lower() == want.lower()


def _close(value: float, answer: float, options: DefaultValidator) -> bool:
    if math.isnan(answer) or math.isnan(value):
        return math.isnan(answer) and math.isnan(value)
    if value == answer:
        return True
    if math.isinf(value) or math.isinf(answer):  # an infinity matches only itself
        return False
    error = abs(value - answer)
    absolute, relative = options.absolute_tolerance, options.relative_tolerance
    return (absolute is not None and error <= absolute) or (
        relative is not None and error <= relative * abs(answer)
    )
