"""Response headers every page and API answer carries, and the casting rate limit.

Headers: a Content-Security-Policy that allows only this origin's own scripts,
styles and images (no inline script, no third-party origin, no framing), plus
nosniff, no-referrer and HSTS.  They are added in ``after_request`` so that
error responses get them too.

Rate limit: a token bucket per client IP, **in the memory of each worker
process**.  It is not shared through the database on purpose: the board
database must hold nothing that could link a network address to a ballot, and
an IP table next to the ballots would be exactly that link.  The price is that
with N worker processes a client may get up to N times the configured rate;
deployments that need one global limit put it in the reverse proxy.  Buckets
that have refilled are forgotten, and the table is capped, so the limiter's
memory stays bounded under a flood of distinct addresses.
"""

from __future__ import annotations

import math
import threading
import time
from collections import OrderedDict
from collections.abc import Callable

from flask import Response

from evote.errors import RateLimited

CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "connect-src 'self'",
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ]
)


def security_headers(hsts_max_age: int) -> Callable[[Response], Response]:
    """An ``after_request`` hook setting the headers on every response."""

    def add_headers(response: Response) -> Response:
        h = response.headers
        h["Content-Security-Policy"] = CONTENT_SECURITY_POLICY
        h["X-Content-Type-Options"] = "nosniff"
        h["Referrer-Policy"] = "no-referrer"
        h["X-Frame-Options"] = "DENY"
        h["Cross-Origin-Opener-Policy"] = "same-origin"
        h["Permissions-Policy"] = "camera=(), microphone=(), geolocation=(), interest-cohort=()"
        if hsts_max_age:
            h["Strict-Transport-Security"] = f"max-age={hsts_max_age}; includeSubDomains"
        h.setdefault("Cache-Control", "no-store")
        return response

    return add_headers


class TokenBucketLimiter:
    """``take(key)`` spends one token of ``key``'s bucket or raises :class:`RateLimited`.

    Each bucket holds at most ``burst`` tokens and refills at ``rate`` tokens per
    second.  ``clock`` is monotonic seconds (a parameter so tests need not sleep).
    """

    def __init__(
        self,
        rate: float,
        burst: int,
        *,
        clock: Callable[[], float] = time.monotonic,
        max_keys: int = 100_000,
    ) -> None:
        if rate <= 0 or burst < 1:
            raise ValueError("rate must be positive and burst at least 1")
        self.rate = rate
        self.burst = burst
        self.clock = clock
        self.max_keys = max_keys
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()
        self._lock = threading.Lock()

    def take(self, key: str) -> None:
        with self._lock:
            now = self.clock()
            tokens, last = self._buckets.pop(key, (float(self.burst), now))
            tokens = min(float(self.burst), tokens + (now - last) * self.rate)
            if tokens < 1.0:
                self._buckets[key] = (tokens, now)
                retry_after = max(1, math.ceil((1.0 - tokens) / self.rate))
                raise RateLimited(
                    f"too many requests; retry in {retry_after} s", retry_after=retry_after
                )
            self._buckets[key] = (tokens - 1.0, now)
            self._forget_old(now)

    def _forget_old(self, now: float) -> None:
        """Drop buckets that would be full again (oldest first), and any beyond the cap."""
        full_after = self.burst / self.rate
        while self._buckets:
            key, (_, last) = next(iter(self._buckets.items()))
            if now - last < full_after and len(self._buckets) <= self.max_keys:
                break
            del self._buckets[key]

    def __len__(self) -> int:
        return len(self._buckets)
