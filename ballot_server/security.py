"""Response headers every page and API answer carries.

Headers: a Content-Security-Policy that allows only this origin's own scripts,
styles and images (no inline script, no third-party origin, no framing), plus
nosniff, no-referrer and HSTS.  They are added in ``after_request`` so that
error responses get them too.

The rate limits live in :mod:`ballot_server.ratelimit` (shared by every
worker and host through the board database).
"""

from __future__ import annotations

from collections.abc import Callable

from flask import Response

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
