"""The gunicorn worker ``evote serve`` runs: gthread, a receive deadline, JSON errors.

Two things gunicorn's own ``gthread`` worker does not do:

* **A deadline on every receive.** gthread waits for a new connection's
  first bytes without a thread, but once a request has started, a thread
  reads its headers and body from a blocking socket: a client that sends
  ``Content-Length: 1000`` and then ``{`` holds that thread until gunicorn's
  ``--timeout`` (120 s).  This worker sets ``SO_RCVTIMEO`` on each client
  socket, so every ``recv`` returns within :data:`RECV_TIMEOUT` seconds;
  the app turns a stalled body into 408 (:mod:`ballot_server.bodies`, which
  also bounds the *whole* body by ``EVOTE_BODY_TIMEOUT``), and the request
  line and headers must all be in within :data:`HEADER_DEADLINE` (a client
  that drips a byte every few seconds gets a JSON 408 too).  With many
  threads per worker, a handful of slow clients cannot take them all.
* **Accepting only with a free thread.** gthread accepts every connection
  and queues it for its thread pool; when slow clients hold all threads of
  one worker, whatever that worker accepts next waits behind them although
  the other workers are idle.  This worker stops accepting while all its
  threads are busy, so the connection goes to a worker that can serve it.
* **The JSON error body.** Errors gunicorn answers without the app (414 for
  a request line over ``limit_request_line``, 431 for headers over the
  limits, 400 for a malformed request) are written as the API's
  ``{"code", "message"}`` body (docs/api.md) instead of gunicorn's HTML page.

Behind the reverse proxy of ``deploy/nginx.conf`` neither should ever be
needed (nginx buffers whole requests and answers those errors itself, also
in JSON); they make ``evote serve`` safe on its own.
"""

from __future__ import annotations

import json
import socket
import struct
import time
from typing import Any

from gunicorn.http import errors as http_errors
from gunicorn.workers.gthread import ThreadWorker

from ballot_server.bodies import ReceiveTimeout

#: Seconds one ``recv`` on a client socket may wait before it fails.
RECV_TIMEOUT = 5.0
#: Seconds a request's line and headers may take in all, once a thread reads them.
HEADER_DEADLINE = 10.0

# status, code, reason for the errors gunicorn detects while reading a request.
_CLIENT_ERRORS: tuple[tuple[type[BaseException], int, str, str], ...] = (
    (http_errors.LimitRequestLine, 414, "uri_too_long", "URI Too Long"),
    (http_errors.LimitRequestHeaders, 431, "headers_too_large", "Request Header Fields Too Large"),
    (http_errors.UnsupportedTransferCoding, 501, "not_implemented", "Not Implemented"),
    (http_errors.ExpectationFailed, 417, "expectation_failed", "Expectation Failed"),
    (http_errors.ForbiddenProxyRequest, 403, "forbidden", "Forbidden"),
    (http_errors.ConfigurationProblem, 500, "internal", "Internal Server Error"),
    (http_errors.ParseException, 400, "bad_request", "Bad Request"),
)


def classify(exc: BaseException) -> tuple[int, str, str, str]:
    """``(status, code, reason, message)`` for an error gunicorn raised while reading."""
    if isinstance(exc, ReceiveTimeout):
        return 408, "request_timeout", "Request Timeout", "the request did not arrive in time"
    for cls, status, code, reason in _CLIENT_ERRORS:
        if isinstance(exc, cls):
            return status, code, reason, f"{reason.lower()}: {str(exc)[:200]}"
    return 500, "internal", "Internal Server Error", "internal server error"


def json_error(status: int, reason: str, code: str, message: str) -> bytes:
    """A complete HTTP/1.1 response carrying the API's error body; the connection closes."""
    body = json.dumps({"code": code, "message": message}).encode()
    head = (
        f"HTTP/1.1 {status} {reason}\r\n"
        "Connection: close\r\n"
        "Content-Type: application/json\r\n"
        "Cache-Control: no-store\r\n"
        "X-Content-Type-Options: nosniff\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    )
    return head.encode("latin-1") + body


class _DeadlineSocket:
    """A client socket whose ``recv`` timeout (``SO_RCVTIMEO``, which makes a blocking
    ``recv`` fail with EAGAIN) is :class:`~ballot_server.bodies.ReceiveTimeout`.

    gthread logs any ``OSError`` while it reads a request as a socket error,
    with a traceback, and closes the connection; a ``ReceiveTimeout`` instead
    reaches :meth:`EvoteThreadWorker.handle_error` (a JSON 408) or, while the
    app reads the body, :mod:`ballot_server.bodies` (also a 408)."""

    def __init__(self, sock: socket.socket) -> None:
        self._sock = sock
        #: time.monotonic() by which the request's headers must be in (None: no limit).
        self.evote_deadline: float | None = None

    def _check_deadline(self) -> None:
        if self.evote_deadline is not None and time.monotonic() > self.evote_deadline:
            raise ReceiveTimeout("the request headers did not arrive in time")

    def recv(self, *args: Any) -> bytes:
        self._check_deadline()
        try:
            return self._sock.recv(*args)
        except BlockingIOError:
            raise ReceiveTimeout("no data from the client in time") from None

    def recv_into(self, *args: Any) -> int:
        self._check_deadline()
        try:
            return self._sock.recv_into(*args)
        except BlockingIOError:
            raise ReceiveTimeout("no data from the client in time") from None

    def __getattr__(self, name: str) -> Any:
        return getattr(self._sock, name)


class EvoteThreadWorker(ThreadWorker):
    """gthread with :data:`RECV_TIMEOUT` on client sockets, accepting only while a
    thread is free, and JSON error pages."""

    evote_busy = 0  # requests handed to the thread pool and not finished (main thread only)

    def enqueue_req(self, conn: Any) -> None:
        self.evote_busy += 1
        super().enqueue_req(conn)
        if self.evote_busy >= self.cfg.threads:
            # Every thread is taken: leave new connections in the listen queue,
            # where a worker with a free thread accepts them.  gthread itself
            # would accept them and queue them behind the busy threads, so a
            # few slow clients in one worker delayed every request it accepted.
            ThreadWorker.set_accept_enabled(self, False)

    def finish_request(self, conn: Any, fs: Any) -> None:
        self.evote_busy -= 1
        super().finish_request(conn, fs)

    def set_accept_enabled(self, enabled: bool) -> None:
        # gthread's loop turns accepting back on whenever it is below its
        # connection limit; it stays off while no thread is free.
        super().set_accept_enabled(enabled and self.evote_busy < self.cfg.threads)

    def handle(self, conn: Any) -> Any:
        if not getattr(conn, "evote_rcvtimeo", False):
            seconds = int(RECV_TIMEOUT)
            micros = int((RECV_TIMEOUT - seconds) * 1_000_000)
            try:
                conn.sock.setsockopt(
                    socket.SOL_SOCKET, socket.SO_RCVTIMEO, struct.pack("ll", seconds, micros)
                )
            except OSError:
                pass  # a socket that is already gone fails its first read anyway
            conn.evote_rcvtimeo = True
            if not conn.initialized:  # the parser is made with the socket it will read
                conn.sock = _DeadlineSocket(conn.sock)
        if isinstance(conn.sock, _DeadlineSocket):
            # A client that drips header bytes just under RECV_TIMEOUT must still
            # finish its headers in HEADER_DEADLINE (the body has the app's own).
            conn.sock.evote_deadline = time.monotonic() + HEADER_DEADLINE
        return super().handle(conn)

    def handle_request(self, req: Any, conn: Any) -> Any:
        if isinstance(conn.sock, _DeadlineSocket):
            conn.sock.evote_deadline = None  # headers are in: the app bounds the body
        return super().handle_request(req, conn)

    def handle_error(self, req: Any, client: Any, addr: Any, exc: BaseException) -> None:
        status, code, reason, message = classify(exc)
        if status == 500:
            self.log.exception("Error handling request")
        else:
            self.log.info("refused a malformed request: %s", message)
        try:
            client.sendall(json_error(status, reason, code, message))
        except OSError:
            self.log.debug("could not send the error answer")
