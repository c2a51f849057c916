"""Fitting a problems reply under the server's payload limit, in time linear in its size.

A problems reply can hold every test's output and error text: up to the
problems output limit twice per test, far more than a NATS message may carry.
Rather than drop the reply, the longest texts are cut, all to one common
length (water filling: the shorter texts keep everything, the longest give up
the most), and each cut test says ``truncated``.

The cost is one encoding of each text (and of each cut text's prefix) plus a
few of the reply without its texts, so a reply of hundreds of megabytes is
fitted in a fraction of a second, in steps of at most one text each;
:func:`fit_in_thread` runs it in a worker thread when the reply is large, so the
event loop never waits for it, and hands the encoding on with the reply
(:class:`Fitted`) so that it is not made again on the loop.
"""

from __future__ import annotations

from dataclasses import dataclass

import msgspec
import trio

from wire.replies import AnyReply, ProblemReply, TestReport, encode

from .offload import offload, threads

TEXT_FIELDS = ("output", "error")
# A few bytes of slack per cut text (``"truncated":true`` is no longer than
# ``false``, but prefixes are estimated, not exact).
SLACK_PER_CUT = 8
ROUNDS = 4


def encoded_size(text: str) -> int:
    """Bytes of ``text`` as a JSON string, quotes and escapes included."""
    return len(msgspec.json.encode(text))


def fit(reply: ProblemReply, max_bytes: int) -> bytes:
    """Cut the longest test texts until the encoded reply fits ``max_bytes``; the encoding.

    The reply is changed in place. The whole reply is encoded only once it
    fits (its size is the sum of its parts' until then), so no single step
    holds the interpreter for long. A reply whose test texts are all cut to
    nothing and that still does not fit is returned as it is (the outbox
    refuses it, and the client gets the error of a too large reply).
    """
    for _ in range(ROUNDS):
        texts = [(t, name) for t in reply.tests for name in TEXT_FIELDS if getattr(t, name)]
        sizes = [encoded_size(getattr(test, name)) for test, name in texts]
        over = _skeleton_size(reply, texts) + sum(size - 2 for size in sizes) - max_bytes
        if over <= 0 or not texts:
            break
        cap = _water_level(sizes, over + SLACK_PER_CUT * len(texts))
        for (test, name), size in zip(texts, sizes, strict=True):
            if size > cap:
                _cut(test, name, cap)
    return encode(reply)


def _skeleton_size(reply: ProblemReply, texts: list[tuple[TestReport, str]]) -> int:
    """The encoded size of ``reply`` with every one of ``texts`` empty."""
    saved = [getattr(test, name) for test, name in texts]
    for test, name in texts:
        setattr(test, name, "")
    try:
        return len(encode(reply))
    finally:
        for (test, name), value in zip(texts, saved, strict=True):
            setattr(test, name, value)


@dataclass(frozen=True, slots=True)
class Fitted:
    """A problems reply fitted under the payload limit, and its encoding."""

    reply: ProblemReply
    payload: bytes

    @property
    def id(self) -> str:
        return self.reply.id


# What a responder sends: a reply it encodes itself, or one already encoded.
Outgoing = AnyReply | Fitted


async def fit_in_thread(
    reply: ProblemReply, max_bytes: int, limiter: trio.CapacityLimiter | None = None
) -> Fitted:
    """:func:`fit` in a worker thread when the reply is large (nothing else touches it meanwhile).

    ``limiter``: the engine's threads for output work (by default, a new one).
    """
    size = len(reply.compile_output) + len(reply.error) + sum(_text_size(t) for t in reply.tests)
    payload = await offload(size, lambda: fit(reply, max_bytes), limiter or threads())
    return Fitted(reply, payload)


def _text_size(test: TestReport) -> int:
    return len(test.output) + len(test.error) + len(test.checker_output)


def _water_level(sizes: list[int], excess: int) -> int:
    """The largest cap such that cutting every size above it to it removes ``excess`` bytes.

    Linear after a sort: walk the sizes from the largest down, lowering the
    level until the area above it covers the excess.
    """
    ordered = sorted(sizes, reverse=True)
    removed_above = 0  # bytes above the current level, over the sizes passed
    for count, size in enumerate(ordered, start=1):
        following = ordered[count] if count < len(ordered) else 0
        # Lowering the level from `size` to `following` cuts `count` texts.
        step = (size - following) * count
        if removed_above + step >= excess:
            return max(0, size - (excess - removed_above + count - 1) // count)
        removed_above += step
    return 0


def _cut(test: TestReport, name: str, cap: int) -> None:
    """Cut ``test.<name>`` to its longest prefix of at most ``cap`` encoded bytes."""
    text: str = getattr(test, name)
    setattr(test, name, _prefix_within(text, cap))
    test.truncated = True


def _prefix_within(text: str, cap: int) -> str:
    budget = cap - 2  # the quotes
    if budget <= 0:
        return ""
    size = encoded_size(text) - 2
    length = len(text)
    while length > 0 and size > budget:
        # Scale by how many encoded bytes a character took so far; converges in
        # a step or two (escapes and multi-byte characters make it non-linear).
        length = min(length - 1, length * budget // size)
        size = encoded_size(text[:length]) - 2
    return text[:length]
