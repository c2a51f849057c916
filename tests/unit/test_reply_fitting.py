"""Fitting a problems reply under the payload limit: linear, fair, never dropped."""

from __future__ import annotations

import json

import msgspec
import pytest
import trio
import trio.lowlevel

from service.jobs import fitting
from service.jobs.fitting import fit, fit_in_thread
from wire import Status
from wire.replies import ProblemReply, encode
from wire.replies import TestReport as Report


def reply_with(outputs: list[str], errors: list[str] | None = None) -> ProblemReply:
    errors = errors or [""] * len(outputs)
    tests = [
        Report(id=str(i), status=Status.ACCEPTED, passed=True, output=out, error=err)
        for i, (out, err) in enumerate(zip(outputs, errors, strict=True))
    ]
    return ProblemReply(
        id="r", language="python", success=True, status=Status.ACCEPTED, tests=tests
    )


def test_a_reply_that_fits_is_left_alone():
    reply = reply_with(["a" * 100, "b" * 10])
    before = encode(reply)
    assert fit(reply, len(before)) == before
    assert not any(t.truncated for t in reply.tests)


def test_the_longest_texts_are_cut_to_one_level_and_short_ones_kept():
    reply = reply_with(["x" * 100_000, "y" * 60_000, "short"], ["e" * 80_000, "", "err"])
    encoded = fit(reply, 50_000)
    assert len(encoded) <= 50_000
    decoded = json.loads(encoded)
    assert [t["id"] for t in decoded["tests"]] == ["0", "1", "2"]
    assert decoded["tests"][2]["output"] == "short"
    assert decoded["tests"][2]["error"] == "err"
    assert decoded["tests"][2]["truncated"] is False
    cut = [
        decoded["tests"][0]["output"],
        decoded["tests"][0]["error"],
        decoded["tests"][1]["output"],
    ]
    # Water filling: the cut texts end up within a few bytes of each other.
    assert max(map(len, cut)) - min(map(len, cut)) <= 2
    assert decoded["tests"][0]["output"] == "x" * len(cut[0])
    assert decoded["tests"][0]["truncated"] and decoded["tests"][1]["truncated"]


def test_escaped_and_multibyte_text_is_measured_as_encoded():
    # A NUL encodes to six bytes and "é" to two: cutting by characters would overshoot.
    nasty = ("\x00é" * 40_000, "\x1b[31m" * 20_000, "ok")
    reply = reply_with(list(nasty))
    encoded = fit(reply, 30_000)
    assert len(encoded) <= 30_000
    decoded = json.loads(encoded)
    assert decoded["tests"][2]["output"] == "ok"
    assert nasty[0].startswith(decoded["tests"][0]["output"])


def test_the_reply_is_encoded_a_bounded_number_of_times(monkeypatch):
    calls = 0
    real = fitting.encode

    def counting(reply):
        nonlocal calls
        calls += 1
        return real(reply)

    monkeypatch.setattr(fitting, "encode", counting)
    reply = reply_with([f"{i}" * (10_000 + i * 997) for i in range(100)], ["e" * 5_000] * 100)
    encoded = fit(reply, 100_000)
    assert len(encoded) <= 100_000
    # Texts emptied for each size estimate, then the one encoding of the result.
    assert calls <= 3


def test_a_reply_with_nothing_left_to_cut_is_returned_whole():
    reply = reply_with(["", ""])
    reply.error = "x" * 1_000
    encoded = fit(reply, 100)
    assert msgspec.json.decode(encoded)["error"] == "x" * 1_000


@pytest.mark.parametrize(
    ("sizes", "excess", "level"),
    [([100, 50, 10], 60, 45), ([100, 50, 10], 50, 50), ([10, 10], 30, 0), ([7], 1, 6)],
)
def test_water_level(sizes, excess, level):
    assert fitting._water_level(sizes, excess) == level
    assert sum(max(0, s - level) for s in sizes) >= min(excess, sum(sizes))


async def test_fitting_in_a_thread_leaves_the_loop_free():
    reply = reply_with(["z" * 200_000] * 20)
    ticks = 0

    async def ticker():
        nonlocal ticks
        while True:
            ticks += 1
            await trio.lowlevel.checkpoint()

    async with trio.open_nursery() as nursery:
        nursery.start_soon(ticker)
        await fit_in_thread(reply, 50_000)
        nursery.cancel_scope.cancel()
    assert len(encode(reply)) <= 50_000
    assert ticks > 0
