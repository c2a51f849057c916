"""packages.verify.request's two ways to give a package, told apart before anything is
fetched or judged; a stored package's bytes counted as they arrive."""

from __future__ import annotations

import asyncio
import base64
import io
import json

import pytest

from problem_package.object_store import LimitedWriter
from problem_package.service import verify_payload


def report(request: dict):
    # No engine: each of these requests is answered before anything is judged.
    return asyncio.run(verify_payload(None, json.dumps(request).encode(), 10_000))  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "request_body",
    [
        {"id": "n"},
        {"id": "n", "package": "UEs=", "object": {"bucket": "b", "name": "p.zip"}},
    ],
)
def test_a_package_is_sent_or_named_one_way(request_body):
    answered = report(request_body)
    assert answered.id == "n"
    assert answered.error.startswith("invalid request: give the package either as package")


def test_a_named_package_needs_a_store():
    answered = report({"object": {"bucket": "b", "name": "p.zip"}})
    assert answered.error == "this server fetches no package from an object store"


def test_an_object_needs_its_bucket_and_name():
    answered = report({"object": {"bucket": "b"}})
    assert answered.error.startswith("invalid request:")
    assert "name" in answered.error


def test_a_sent_package_that_is_not_base64_is_refused():
    assert report({"package": "%%%"}).error == "package is not valid base64"
    assert "not a zip archive" in report({"package": base64.b64encode(b"x").decode()}).error


def test_a_stored_package_is_cut_at_the_limit_and_counted_whole():
    into = io.BytesIO()
    bounded = LimitedWriter(into, 5)
    for chunk in (b"abc", b"defg", b"hij"):
        assert bounded.write(chunk) == len(chunk)
    assert (into.getvalue(), bounded.total) == (b"abcde", 10)
