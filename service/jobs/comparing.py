"""Output against expected output: the ``compare`` modes of a problems request.

``exact`` compares bytes; ``trim`` ignores trailing whitespace on each line and
trailing blank lines; ``tokens`` splits both on ASCII whitespace and compares
token by token as bytes; ``float`` does too, but two tokens that both read as
decimal numbers are equal within a relative tolerance (|a - e| <= tol * max(1, |e|)).
"""

from __future__ import annotations

import math
import re

from ..requests import DEFAULT_FLOAT_TOLERANCE, Compare

# Decimal numbers only: no hex, no inf or nan, no digit separators.
_DECIMAL = re.compile(rb"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")


def normalize(output: bytes, compare: Compare) -> bytes:
    """The form ``exact`` and ``trim`` compare."""
    if compare is Compare.EXACT:
        return output
    lines = [line.rstrip() for line in output.replace(b"\r\n", b"\n").split(b"\n")]
    while lines and not lines[-1]:
        lines.pop()
    return b"\n".join(lines)


def matches(
    output: bytes, expected: bytes, compare: Compare, tolerance: float = DEFAULT_FLOAT_TOLERANCE
) -> bool:
    """Whether ``output`` is accepted as ``expected`` under ``compare``."""
    if compare in (Compare.EXACT, Compare.TRIM):
        return normalize(output, compare) == normalize(expected, compare)
    got, want = output.split(), expected.split()
    if len(got) != len(want):
        return False
    if compare is Compare.TOKENS:
        return got == want
    return all(_tokens_equal(a, e, tolerance) for a, e in zip(got, want, strict=True))


def _tokens_equal(got: bytes, want: bytes, tolerance: float) -> bool:
    if got == want:
        return True
    a, e = _decimal(got), _decimal(want)
    if a is None or e is None:
        return False
    return abs(a - e) <= tolerance * max(1.0, abs(e))


def _decimal(token: bytes) -> float | None:
    if not _DECIMAL.fullmatch(token):
        return None
    value = float(token)
    return value if math.isfinite(value) else None
