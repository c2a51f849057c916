"""Output against expected output: the ``compare`` modes of a problems request.

``exact`` compares bytes; ``trim`` ignores trailing whitespace on each line and
trailing blank lines; ``tokens`` splits both on ASCII whitespace and compares
token by token as bytes; ``float`` does too, but two tokens that both read as
decimal numbers are equal within a relative tolerance (|a - e| <= tol * max(1, |e|)),
and ``nan``, ``inf``, ``-inf`` match themselves in any case (NaN equal to NaN);
``icpc`` is the ICPC format's default validator (:mod:`.default_validator`).

Outputs run to megabytes, so each mode does its work in a few passes of C code
(bytes methods, ``map``) rather than a Python step per line or token where it
can: identical outputs are one comparison, ``trim`` splits into lines only when
a line has trailing whitespace, and ``float`` looks at numbers only where the
tokens differ. The judge calls :func:`matches` in a worker thread for large
outputs (:mod:`service.jobs.offload`); so that the event loop gets the
interpreter lock back often, no pass takes more than a piece of an output at
a time.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterator
from itertools import compress
from operator import ne

from ..requests import DEFAULT_FLOAT_TOLERANCE, Compare
from ..requests.request import DefaultValidator
from .default_validator import icpc_matches, special_tokens_match
from .offload import PIECE_BYTES, PIECE_TOKENS

# What bytes.rstrip() strips, each before a newline: a line with trailing whitespace.
_SPACE_AT_LINE_END = tuple(bytes([space]) + b"\n" for space in b" \t\r\x0b\x0c")
_WHITESPACE = re.compile(rb"[ \t\n\r\x0b\x0c]")
# The characters of decimal numbers: no hex, no inf or nan, no digit separators.
# float() reads every token made of only these that is a decimal number, and no other.
_DECIMAL_CHARACTERS = b"0123456789+-.eE"


def normalize(output: bytes, compare: Compare) -> bytes:
    """The form ``exact`` and ``trim`` compare."""
    if compare is Compare.EXACT:
        return output
    # All whitespace at the end: trailing blank lines and the last line's spaces.
    text = output.rstrip()
    if not any(end in text for end in _SPACE_AT_LINE_END):
        return text
    return b"\n".join(_rstrip_lines(piece) for piece in _line_pieces(text))


def _rstrip_lines(lines: bytes) -> bytes:
    return b"\n".join(map(bytes.rstrip, lines.split(b"\n")))


def _line_pieces(data: bytes) -> Iterator[bytes]:
    """``data`` in pieces of whole lines, about PIECE_BYTES each, without the newline between."""
    start = 0
    while (end := data.find(b"\n", start + PIECE_BYTES)) >= 0:
        yield data[start:end]
        start = end + 1
    yield data[start:]


def _token_pieces(data: bytes) -> Iterator[list[bytes]]:
    """``data.split()`` a piece of about PIECE_BYTES (ending at whitespace) at a time."""
    start = 0
    while start < len(data):
        found = _WHITESPACE.search(data, start + PIECE_BYTES)
        end = found.start() if found else len(data)
        yield data[start:end].split()
        start = end


def _paired(output: bytes, expected: bytes) -> Iterator[tuple[list[bytes], list[bytes]] | None]:
    """The tokens of both, in pairs of lists of equal length (up to PIECE_TOKENS), never all
    of them at once; last, None when one has more tokens than the other.
    """
    got_pieces, want_pieces = _token_pieces(output), _token_pieces(expected)
    got: list[bytes] = []
    want: list[bytes] = []
    while True:
        while len(got) < PIECE_TOKENS and (piece := next(got_pieces, None)) is not None:
            got += piece
        while len(want) < len(got) and (piece := next(want_pieces, None)) is not None:
            want += piece
        count = min(len(got), len(want), PIECE_TOKENS)
        if count == 0:
            if got or want or any(want_pieces):
                yield None
            return
        yield got[:count], want[:count]
        del got[:count], want[:count]


def matches(
    output: bytes,
    expected: bytes,
    compare: Compare,
    tolerance: float = DEFAULT_FLOAT_TOLERANCE,
    validator: DefaultValidator | None = None,
) -> bool:
    """Whether ``output`` is accepted as ``expected`` under ``compare``.

    ``validator``: the options of ``compare: icpc``.
    """
    if output == expected:
        return True
    if compare is Compare.ICPC:
        return icpc_matches(output, expected, validator or DefaultValidator())
    if compare in (Compare.EXACT, Compare.TRIM):
        return normalize(output, compare) == normalize(expected, compare)
    for pair in _paired(output, expected):
        if pair is None:
            return False
        got, want = pair
        if compare is Compare.TOKENS:
            if got != want:
                return False
        elif not _numbers_match(got, want, tolerance):
            return False
    return True


def _numbers_match(got: list[bytes], want: list[bytes], tolerance: float) -> bool:
    """Whether each token of ``got`` equals its token of ``want`` or is a number close to it."""
    unequal = list(map(ne, got, want))
    got_tokens, want_tokens = list(compress(got, unequal)), list(compress(want, unequal))
    if not got_tokens:
        return True
    # nan, inf and -inf in any case: NaN equal to NaN, an infinity to itself.
    words = [special_tokens_match(a, e) for a, e in zip(got_tokens, want_tokens, strict=True)]
    if False in words:
        return False
    if True in words:
        numeric = [word is None for word in words]
        got_tokens = list(compress(got_tokens, numeric))
        want_tokens = list(compress(want_tokens, numeric))
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
