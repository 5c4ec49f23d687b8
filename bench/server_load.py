"""The load process of ``bench/server.py``: cast pre-made ballots over HTTP and time each one.

It runs as its own OS process (``bench/server.py`` starts it with the
``spawn`` start method), so the server's workers, this client and the parent
that set everything up never share an interpreter or a GIL.  Everything
expensive happens before the clock starts: the ballots arrive already
encrypted, proved, signed and serialised, each with its voter's login code.

The client is the standard library's :mod:`http.client`, one connection per
thread, rather than httpx: on a two-core machine the load generator competes
with the two server workers for the same cores, and the thinner client leaves
more of them to the server.  (gunicorn's sync workers close the connection
after every response; ``HTTPConnection`` simply reconnects, and the latency
recorded includes that connect.)

Imports only the standard library, so starting the process costs little.
"""

from __future__ import annotations

import http.client
import itertools
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

    The clock starts when every thread has its connection object and is
    waiting at a barrier, and stops when the last answer has been read.
    A cast counts as acknowledged only on ``201 Created``; anything else
    (another status, a refused or dropped connection, a timeout) is an error.
    """
    result = LoadResult()
    jobs = plan.jobs
    counter = itertools.count()  # next(count) is atomic under the GIL
    start = threading.Barrier(plan.threads + 1)

    def worker() -> None:
        conn = http.client.HTTPConnection(plan.host, plan.port, timeout=REQUEST_TIMEOUT)
        start.wait()
        try:
            while (i := next(counter)) < len(jobs):
                _cast(conn, plan.path, i, *jobs[i], result)
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


def _cast(
    conn: http.client.HTTPConnection,
    path: str,
    i: int,
    login: str,
    body: bytes,
    result: LoadResult,
) -> None:
    headers = {
        "Content-Type": "application/json",
        "Accept": "application/json",
        "Authorization": f"Bearer {login}",
    }
    t0 = time.perf_counter()
    try:
        conn.request("POST", path, body=body, headers=headers)
        response = conn.getresponse()
        data = response.read()
    except (OSError, http.client.HTTPException) as exc:
        conn.close()  # the next request opens a fresh connection
        result.errors.append(f"ballot {i}: {type(exc).__name__}: {exc}")
        return
    elapsed = time.perf_counter() - t0
    if response.status != 201:
        text = data[:ERROR_BODY].decode("utf-8", "replace")
        result.errors.append(f"ballot {i}: HTTP {response.status}: {text}")
        return
    result.latencies.append(elapsed)  # list.append is atomic under the GIL
    result.receipts.append((i, data))


def load_process(plan: LoadPlan, answer: Connection) -> None:
    """Entry point of the load process: run the plan, send the :class:`LoadResult` back."""
    try:
        answer.send(run_load(plan))
    finally:
        answer.close()
