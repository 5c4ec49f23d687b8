"""Reading request bodies: a size cap that fits the route, a deadline, authorisation first.

Every JSON route reads its body through :func:`read_body`:

* **Cap.** ``Content-Length`` above the route's cap is 413 ``body_too_large``
  before a byte of the body is read; a chunked body is read up to the cap and
  refused at the first byte past it.  Memory per request is thus bounded by
  the cap (raw bytes), never by what a parser makes of them.
* **Deadline.** The body must arrive within ``EVOTE_BODY_TIMEOUT`` seconds
  plus one second per :data:`MIN_RATE` bytes received (and each ``recv``
  within the worker's socket timeout, :mod:`cli.gunicorn_worker`): a client
  that sends ``Content-Length: 1000`` and then one byte gets 408
  ``request_timeout`` and its thread back.
* **Authorisation before size.** The small cap (``EVOTE_MAX_BODY``, 1 MiB)
  holds every ballot, audit and command but a credential list.  Above it --
  up to ``EVOTE_MAX_COMMAND_BODY`` -- only three routes accept a body, and
  only with an ``Evote-Body-Signature`` header (:mod:`evote.body_signature`)
  from a party allowed to send it: checked *before* the body is read (the
  signer) and before it is parsed (the signature over the raw bytes).

The caps per route are listed in docs/api.md ("Request size caps").
"""

from __future__ import annotations

import hashlib
import io
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass

from flask import request
from werkzeug.exceptions import BadRequest, RequestEntityTooLarge, RequestTimeout

from evote.body_signature import HEADER, BodySignature
from evote.errors import AuthenticationError, UnauthorisedSigner
from evote.signing import VerifyKey

CHUNK = 64 * 1024
#: Bytes per second a body must keep arriving at, beyond its first EVOTE_BODY_TIMEOUT.
MIN_RATE = 256 * 1024


class ReceiveTimeout(Exception):  # noqa: N818 (it is the event, like TimeoutError)
    """A ``recv`` on the client socket waited longer than the server's receive deadline
    (raised by the socket wrapper of :mod:`cli.gunicorn_worker`)."""


@dataclass(frozen=True)
class LargeBody:
    """A route that accepts bodies above the small cap from some signers.

    ``election`` and ``route`` are what the header signs; ``allowed`` says
    whether a signer may send this route a large body (it may look up the
    election: cheap, and no body has been read yet)."""

    election: str
    route: str
    allowed: Callable[[VerifyKey], bool]
    cap: Callable[[], int] | None = None
    """The route's own large cap (default ``EVOTE_MAX_COMMAND_BODY``): asked only
    once the signer is allowed, so a stranger's header costs no look-up."""


def read_body(*, small: int, large: int, timeout: float, large_body: LargeBody | None) -> bytes:
    """The raw request body, within the route's cap and the deadline (see module doc).

    A body sent with a body signature may be large: it is hashed while it is
    read and kept in a temporary file beyond ``small`` bytes, so that a forged
    signature (the signer's key is public) costs the server at most ``small``
    bytes of memory; only a body whose signature verifies is read back."""
    deadline = time.monotonic() + timeout
    signature = _large_body_signature(large_body)
    cap = small
    if signature is not None and large_body is not None:
        cap = large if large_body.cap is None else max(small, large_body.cap())
    length = request.content_length
    if length is not None and length > cap:
        raise RequestEntityTooLarge(_too_large(cap, small, large_body))
    with tempfile.SpooledTemporaryFile(max_size=small) as sink:
        digest = hashlib.sha256()
        got = _read(_input(length), cap, length, deadline, sink, digest)
        if got > cap:
            raise RequestEntityTooLarge(_too_large(cap, small, large_body))
        if signature is not None and large_body is not None:
            signature.verify(large_body.election, large_body.route, digest.digest())
        sink.seek(0)
        return sink.read()


def _large_body_signature(large_body: LargeBody | None) -> BodySignature | None:
    """The request's body signature header, its signer checked; None without a header."""
    value = request.headers.get(HEADER)
    if value is None or large_body is None:
        return None
    signature = BodySignature.parse(value)
    if not large_body.allowed(signature.signer):
        raise UnauthorisedSigner(f"{HEADER}: this key may not send large bodies to this route")
    return signature


def _too_large(cap: int, small: int, large_body: LargeBody | None) -> str:
    message = f"the request body is larger than {cap} bytes"
    if large_body is not None and cap == small:
        message += (
            f"; larger bodies (credential lists, voter registrations, mixes) need an "
            f"{HEADER} header from the party that sends them (docs/api.md)"
        )
    return message


def _input(length: int | None):  # type: ignore[no-untyped-def]
    """The WSGI input itself, not Werkzeug's wrapper around it: the wrapper turns a
    receive timeout into "client disconnected" (400), and this module enforces the
    cap itself.  Without Content-Length, a body exists only if the server decoded
    a chunked one (``wsgi.input_terminated``)."""
    environ = request.environ
    if length is None and not environ.get("wsgi.input_terminated"):
        return io.BytesIO()
    return environ["wsgi.input"]


def _read(stream, cap: int, length: int | None, deadline: float, sink, digest) -> int:  # type: ignore[no-untyped-def]
    """Copy the body (to its end, or one byte past ``cap``) into ``sink`` and ``digest``,
    chunk by chunk, before ``deadline``; return how many bytes came."""
    want = cap + 1 if length is None else length
    got = 0
    start = time.monotonic()
    while got < want:
        # The deadline grows with what has arrived, at MIN_RATE: a 64 MiB
        # credential list over a slow link is fine, a trickle is not.
        if time.monotonic() > deadline + got / MIN_RATE:
            raise RequestTimeout(
                f"the request body did not arrive in time ({got} bytes in "
                f"{time.monotonic() - start:.0f} s)"
            )
        try:
            chunk = stream.read(min(CHUNK, want - got))
        except (ReceiveTimeout, TimeoutError, BlockingIOError):
            raise RequestTimeout("the request body did not arrive in time") from None
        except OSError:
            raise BadRequest("the connection failed while the body was read") from None
        if not chunk:
            break
        sink.write(chunk)
        digest.update(chunk)
        got += len(chunk)
    if length is not None and got < length:
        raise BadRequest("the request body is shorter than its Content-Length")
    return got


def login_first(authorization: str | None) -> None:
    """Cheap pre-check for voter routes: no ``Authorization: Bearer`` header, no body read.

    The full login check (the code's hash on the board database) stays in the
    service; this only spares the body of requests that cannot be a voter's."""
    if not authorization or not authorization.startswith("Bearer ") or len(authorization) > 512:
        raise AuthenticationError("log in first: Authorization: Bearer <login code>")
