"""Output against expected output: the ``compare`` modes of a problems request.

``exact`` compares bytes; ``trim`` ignores trailing whitespace on each line and
trailing blank lines; ``tokens`` splits both on ASCII whitespace and compares
token by token as bytes; ``float`` does too, but two tokens that both read as
decimal numbers are equal within a relative tolerance (|a - e| <= tol * max(1, |e|)).

Outputs run to megabytes, so each mode does its work in a few passes of C code
(bytes methods, ``map``) rather than a Python step per line or token where it
can: identical outputs are one comparison, ``trim`` splits into lines only when
a line has trailing whitespace, and ``float`` looks at numbers only where the
tokens differ. Still linear in the output: the judge calls :func:`matches` off
the event loop for large outputs (:mod:`service.jobs.grading`).
"""

from __future__ import annotations

import math
from itertools import compress
from operator import ne

from ..requests import DEFAULT_FLOAT_TOLERANCE, Compare

# What bytes.rstrip() strips, each before a newline: a line with trailing whitespace.
_SPACE_AT_LINE_END = tuple(bytes([space]) + b"\n" for space in b" \t\r\x0b\x0c")
# The characters of decimal numbers: no hex, no inf or nan, no digit separators.
# float() reads every token made of only these that is a decimal number, and no other.
_DECIMAL_CHARACTERS = b"0123456789+-.eE"


def normalize(output: bytes, compare: Compare) -> bytes:
    """The form ``exact`` and ``trim`` compare."""
    if compare is Compare.EXACT:
        return output
    # All whitespace at the end: trailing blank lines and the last line's spaces.
    text = output.rstrip()
    if any(end in text for end in _SPACE_AT_LINE_END):
        return b"\n".join(map(bytes.rstrip, text.split(b"\n")))
    return text


def matches(
    output: bytes, expected: bytes, compare: Compare, tolerance: float = DEFAULT_FLOAT_TOLERANCE
) -> bool:
    """Whether ``output`` is accepted as ``expected`` under ``compare``."""
    if output == expected:
        return True
    if compare in (Compare.EXACT, Compare.TRIM):
        return normalize(output, compare) == normalize(expected, compare)
    got, want = output.split(), expected.split()
    if len(got) != len(want):
        return False
    if compare is Compare.TOKENS:
        return got == want
    return _numbers_match(got, want, tolerance)


def _numbers_match(got: list[bytes], want: list[bytes], tolerance: float) -> bool:
    """Whether each token of ``got`` equals its token of ``want`` or is a number close to it."""
    unequal = list(map(ne, got, want))
    got_tokens, want_tokens = list(compress(got, unequal)), list(compress(want, unequal))
    if not got_tokens:
        return True
    # Unequal tokens match only as numbers: every one of them must be decimal.
    for tokens in (got_tokens, want_tokens):
        if b" ".join(tokens).translate(None, _DECIMAL_CHARACTERS + b" "):
            return False
    try:
        got_values = list(map(float, got_tokens))
        want_values = list(map(float, want_tokens))
    except ValueError:  # decimal characters, not a decimal number ("1e", "+-1", "1.2.3")
        return False
    if not all(map(math.isfinite, got_values)) or not all(map(math.isfinite, want_values)):
        return False
    return all(
        abs(a - e) <= tolerance * max(1.0, abs(e))
        for a, e in zip(got_values, want_values, strict=True)
    )
