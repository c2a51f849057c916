"""Who may call, and how much: API tokens, per-token rate limits and concurrency caps.

A token is sent as ``Authorization: Bearer <token>`` or as Judge0's
``X-Auth-Token: <token>``. With no tokens configured every caller is let in,
and the limits apply per client address instead. Limits are per gateway
process (a token behind a load balancer of N gateways gets up to N times them).
"""

from __future__ import annotations

import hmac
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import trio

from ..errors import TooMany, Unauthorized
from .messages import Request


@dataclass(slots=True)
class _Bucket:
    tokens: float
    stamp: float
    in_flight: int = 0


class Guard:
    """Authenticates requests and meters them, per token (or per address when auth is off)."""

    def __init__(
        self, tokens: frozenset[str], *, rate: float = 0.0, burst: int = 1, concurrency: int = 0
    ) -> None:
        self._tokens = tokens
        self._rate = rate
        self._burst = max(1, burst)
        self._concurrency = concurrency
        self._buckets: dict[str, _Bucket] = {}

    @property
    def auth_required(self) -> bool:
        return bool(self._tokens)

    def authenticate(self, request: Request, client: str) -> str:
        """The key the request is metered under: its token, or its address when auth is off.

        Raises:
            Unauthorized: auth is on and the request has no token, or not one of ours.
        """
        if not self._tokens:
            return f"address:{client}"
        sent = _token_of(request)
        if not sent:
            raise Unauthorized("an API token is required (Authorization: Bearer, or X-Auth-Token)")
        # Compare against every token, each in constant time, so timing says nothing.
        matched = False
        for token in self._tokens:
            matched |= hmac.compare_digest(sent.encode(), token.encode())
        if not matched:
            raise Unauthorized("the API token is not valid")
        return f"token:{sent}"

    @contextmanager
    def admit(self, key: str) -> Iterator[None]:
        """Hold one of ``key``'s slots while the request runs.

        Raises:
            TooMany: the key's rate is used up, or it has its most requests in flight.
        """
        now = trio.current_time()
        bucket = self._buckets.get(key)
        if bucket is None:
            bucket = self._buckets[key] = _Bucket(float(self._burst), now)
        if self._rate > 0:
            bucket.tokens = min(self._burst, bucket.tokens + (now - bucket.stamp) * self._rate)
            bucket.stamp = now
            if bucket.tokens < 1:
                wait = (1 - bucket.tokens) / self._rate
                raise TooMany("rate limit reached: slow down", retry_after_s=wait)
        if self._concurrency and bucket.in_flight >= self._concurrency:
            raise TooMany(
                f"at most {self._concurrency} requests in flight per token", retry_after_s=1.0
            )
        if self._rate > 0:
            bucket.tokens -= 1
        bucket.in_flight += 1
        try:
            yield
        finally:
            bucket.in_flight -= 1


def _token_of(request: Request) -> str:
    header = request.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return value.strip()
    return request.headers.get("x-auth-token", "").strip()
