"""The load process of ``bench/server.py``: cast pre-made ballots over HTTP and time each one.

It runs as its own OS process (``bench/server.py`` starts it with the
``spawn`` start method), so the server's workers, this client and the parent
that set everything up never share an interpreter or a GIL.  Everything
expensive happens before the clock starts: the ballots arrive already
encrypted, proved, signed and serialised, each with its voter's login code.

Each thread keeps one HTTP/1.1 connection alive and writes prepared request
bytes to it (:class:`_Connection`), rather than going through httpx or
:mod:`http.client`: on a two-core machine the load generator competes with
the server's workers for the same cores, and the thinner client leaves more
of them to the server.  (gunicorn's sync workers close the connection after
every response; the client then reconnects, and the latency recorded
includes that connect.)

Imports only the standard library, so starting the process costs little.
"""

from __future__ import annotations

import itertools
import socket
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from multiprocessing.connection import Connection

#: Seconds before one cast is given up as an error (a healthy cast takes milliseconds).
REQUEST_TIMEOUT = 120.0
#: How much of an unexpected answer is kept in the error list.
ERROR_BODY = 300


@dataclass(frozen=True)
class LoadPlan:
    """Where to cast and what: ``jobs[i]`` is ``(login code, ballot JSON bytes)``."""

    host: str
    port: int
    path: str
    jobs: Sequence[tuple[str, bytes]]
    threads: int


@dataclass
class LoadResult:
    """What the load process saw.  ``latencies`` are seconds, one per acknowledged cast;
    ``receipts`` pair the job number with the server's answer (the receipt JSON)."""

    seconds: float = 0.0
    cpu_seconds: float = 0.0
    latencies: list[float] = field(default_factory=list)
    receipts: list[tuple[int, bytes]] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


def run_load(plan: LoadPlan) -> LoadResult:
    """Cast every job once, from ``plan.threads`` threads; time the whole run and each cast.

    The clock starts when every thread is waiting at a barrier, and stops
    when the last answer has been read.  A cast counts as acknowledged only
    on ``201 Created``; anything else (another status, a refused or dropped
    connection, a timeout) is an error.
    """
    result = LoadResult()
    jobs = plan.jobs
    counter = itertools.count()  # next(count) is atomic under the GIL
    start = threading.Barrier(plan.threads + 1)

    def worker() -> None:
        conn = _Connection(plan.host, plan.port)
        start.wait()
        try:
            while (i := next(counter)) < len(jobs):
                _cast(conn, _request(plan, *jobs[i]), i, result)
        finally:
            conn.close()

    threads = [threading.Thread(target=worker, daemon=True) for _ in range(plan.threads)]
    for t in threads:
        t.start()
    start.wait()
    cpu0, t0 = time.process_time(), time.perf_counter()
    for t in threads:
        t.join()
    result.seconds = time.perf_counter() - t0
    result.cpu_seconds = time.process_time() - cpu0
    return result


def _request(plan: LoadPlan, login: str, body: bytes) -> bytes:
    """The whole HTTP/1.1 request of one cast, as bytes."""
    head = (
        f"POST {plan.path} HTTP/1.1\r\n"
        f"Host: {plan.host}:{plan.port}\r\n"
        "Content-Type: application/json\r\n"
        "Accept: application/json\r\n"
        f"Authorization: Bearer {login}\r\n"
        f"Content-Length: {len(body)}\r\n"
        "\r\n"
    )
    return head.encode("ascii") + body


class _Connection:
    """One kept-alive HTTP/1.1 connection: send a prepared request, read one response.

    The standard library's :mod:`http.client` costs this process about half a
    millisecond per request (header objects, an email-parser pass over the
    response headers); this reads just the status line, ``Content-Length``
    and ``Connection``, which is all a cast's answer needs.  It reconnects
    when the server said ``Connection: close`` (gunicorn's sync workers say it
    on every response) or closed the socket; it never resends a request.
    """

    def __init__(self, host: str, port: int) -> None:
        self.address = (host, port)
        self.sock: socket.socket | None = None
        self.buffer = b""

    def close(self) -> None:
        if self.sock is not None:
            self.sock.close()
            self.sock = None
        self.buffer = b""

    def exchange(self, request: bytes) -> tuple[int, bytes]:
        """``(status, body)`` of the answer to ``request``."""
        if self.sock is None:
            self.sock = socket.create_connection(self.address, timeout=REQUEST_TIMEOUT)
            self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.sock.sendall(request)
        while (end := self.buffer.find(b"\r\n\r\n")) < 0:
            self._fill()
        head, self.buffer = self.buffer[:end].decode("latin-1"), self.buffer[end + 4 :]
        lines = head.split("\r\n")
        status = int(lines[0].split(" ", 2)[1])
        length, close = 0, False
        for line in lines[1:]:
            name, _, value = line.partition(":")
            name = name.strip().lower()
            if name == "content-length":
                length = int(value)
            elif name == "connection":
                close = value.strip().lower() == "close"
        while len(self.buffer) < length:
            self._fill()
        body, self.buffer = self.buffer[:length], self.buffer[length:]
        if close:
            self.close()
        return status, body

    def _fill(self) -> None:
        assert self.sock is not None
        data = self.sock.recv(65536)
        if not data:
            raise ConnectionError("the server closed the connection mid-answer")
        self.buffer += data


def _cast(conn: _Connection, request: bytes, i: int, result: LoadResult) -> None:
    t0 = time.perf_counter()
    try:
        status, data = conn.exchange(request)
    except (OSError, ValueError, IndexError) as exc:
        conn.close()  # the next request opens a fresh connection
        result.errors.append(f"ballot {i}: {type(exc).__name__}: {exc}")
        return
    elapsed = time.perf_counter() - t0
    if status != 201:
        text = data[:ERROR_BODY].decode("utf-8", "replace")
        result.errors.append(f"ballot {i}: HTTP {status}: {text}")
        return
    result.latencies.append(elapsed)  # list.append is atomic under the GIL
    result.receipts.append((i, data))


def load_process(plan: LoadPlan, answer: Connection) -> None:
    """Entry point of the load process: run the plan, send the :class:`LoadResult` back."""
    try:
        answer.send(run_load(plan))
    finally:
        answer.close()
