"""A rate limit shared by every worker and host: token buckets in the board database.

The in-memory limiter of :mod:`ballot_server.security` lets N worker processes
(or N hosts) allow N times the configured rate.  This one keeps each bucket in
the ``rate_buckets`` table of the database all of them already share, and
spends a token with **one** conditional ``UPDATE`` (both engines run it
atomically: SQLite under its write lock, PostgreSQL under the row lock), so two
workers can never both spend the last token.

Privacy (docs/threat-model.md §5): the board database must not hold a link from
a network address to a ballot.  So the table holds, per bucket,

* ``client``: an HMAC-SHA256 of the address under a key derived from the board
  key (shared by every host serving the board, never stored in the database),
  not the address;
* ``tokens`` and ``updated_ms``: the bucket's state at its last request, and
  no history -- every request overwrites it, and a bucket that has refilled is
  deleted (:meth:`SharedRateLimiter.purge`, run every :data:`PURGE_EVERY`
  requests), so a row lives at most ``burst / rate`` after its client's last
  request (20 s with the defaults).

Someone who reads the database *and* holds the board key could still match an
address to a request time within that window, as someone who watches the
server's memory or network could; the record never contains either.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import math
import threading
import time
from collections.abc import Callable
from typing import Any

from sqlalchemy import Engine, event, text
from sqlalchemy.exc import DBAPIError

from ballot_server.store import WRITE_OPTION
from evote.errors import RateLimited, ServiceUnavailable

#: Requests (per process) between two purges of refilled buckets.
PURGE_EVERY = 200

_KEY_TAG = b"evote/rate-limit-client-key/v1"

# Refill, capped at the burst, in SQL both engines accept (no LEAST/MIN(a, b)).
_REFILLED = (
    "CASE WHEN tokens + (:now - updated_ms) * :per_ms >= :burst THEN :burst "
    "WHEN :now <= updated_ms THEN tokens "
    "ELSE tokens + (:now - updated_ms) * :per_ms END"
)
_SPEND = text(
    f"UPDATE rate_buckets SET tokens = ({_REFILLED}) - 1, "  # noqa: S608 (constants only)
    "updated_ms = CASE WHEN :now > updated_ms THEN :now ELSE updated_ms END "
    f"WHERE scope = :scope AND client = :client AND ({_REFILLED}) >= 1"
)
_INSERT = text(
    "INSERT INTO rate_buckets (scope, client, tokens, updated_ms) "
    "VALUES (:scope, :client, :burst - 1, :now) ON CONFLICT (scope, client) DO NOTHING"
)
_READ = text("SELECT tokens, updated_ms FROM rate_buckets WHERE scope = :scope AND client = :client")
_PURGE = text("DELETE FROM rate_buckets WHERE scope = :scope AND updated_ms < :before")


def limiter_engine(url: str) -> Engine:
    """An engine for the buckets, apart from the board's: a bucket need not survive a
    crash, so its commits skip the fsync the board's commits wait for (SQLite:
    ``synchronous = NORMAL`` on these connections only, which in WAL mode does
    not sync on commit; PostgreSQL: ``synchronous_commit = off`` per
    transaction, see :meth:`SharedRateLimiter.take`).  Without that each cast
    would wait for a second disk flush."""
    from ballot_server.db import make_engine

    engine = make_engine(url)
    if engine.dialect.name == "sqlite":

        @event.listens_for(engine, "connect")
        def _no_sync(dbapi_connection: Any, _record: Any) -> None:
            cursor = dbapi_connection.cursor()
            try:
                cursor.execute("PRAGMA synchronous = NORMAL")
            finally:
                cursor.close()

    return engine


def client_key(board_seed: bytes) -> bytes:
    """The HMAC key for client addresses: the same on every host that holds the board key."""
    return hashlib.sha256(_KEY_TAG + board_seed).digest()


class SharedRateLimiter:
    """``take(address)`` spends a token of the address's bucket in ``scope`` or raises
    :class:`RateLimited` (429 with ``Retry-After``).

    ``rate`` is tokens per second, ``burst`` the bucket size; ``clock`` returns
    milliseconds (every host's clock: a bucket never refills backwards when
    two hosts' clocks differ, it only waits for the later one).
    """

    def __init__(
        self,
        engine: Engine,
        scope: str,
        rate: float,
        burst: int,
        secret: bytes,
        *,
        clock: Callable[[], int] = lambda: time.time_ns() // 1_000_000,
    ) -> None:
        if rate <= 0 or burst < 1:
            raise ValueError("rate must be positive and burst at least 1")
        self.engine = engine
        self.scope = scope
        self.rate = rate
        self.burst = burst
        self.secret = secret
        self.clock = clock
        self._count = 0
        self._lock = threading.Lock()

    def _client(self, address: str) -> bytes:
        return hmac.new(self.secret, address.encode("utf-8", "replace"), hashlib.sha256).digest()

    def take(self, address: str) -> None:
        params = {
            "scope": self.scope,
            "client": self._client(address),
            "now": int(self.clock()),
            "per_ms": self.rate / 1000.0,
            "burst": float(self.burst),
        }
        try:
            spent, row = self._spend(params)
        except DBAPIError as exc:
            # A lost connection (PostgreSQL restarting) or a busy database: the
            # request is refused as the board itself would refuse it (503,
            # retry), never a 500.  The pool drops the dead connections.
            raise ServiceUnavailable(
                "the board database is busy or unreachable; nothing was written, retry later",
                detail={"reason": type(exc.orig).__name__ if exc.orig is not None else "database"},
            ) from None
        self._maybe_purge(params["now"])
        if spent:
            return
        tokens = float(row.tokens) if row is not None else 0.0
        retry_after = max(1, math.ceil((1.0 - tokens) / self.rate))
        raise RateLimited(f"too many requests; retry in {retry_after} s", retry_after=retry_after)

    def _spend(self, params: dict[str, Any]) -> tuple[bool, Any]:
        """One transaction: spend a token if there is one; else the bucket's row."""
        with self.engine.connect() as conn:
            conn.execution_options(**{WRITE_OPTION: True})  # SQLite: BEGIN IMMEDIATE
            with conn.begin():
                if conn.dialect.name == "postgresql":
                    conn.exec_driver_sql("SET LOCAL synchronous_commit = off")
                spent = conn.execute(_SPEND, params).rowcount == 1
                if not spent and conn.execute(_INSERT, params).rowcount == 1:
                    spent = True
                elif not spent:
                    # The bucket exists (perhaps just made by a racing request,
                    # committed before our INSERT): spend from it if it can.
                    spent = conn.execute(_SPEND, params).rowcount == 1
                row = None if spent else conn.execute(_READ, params).first()
        return spent, row

    def _maybe_purge(self, now: int) -> None:
        with self._lock:
            self._count += 1
            if self._count % PURGE_EVERY:
                return
        with contextlib.suppress(DBAPIError):  # housekeeping: the next purge will do
            self.purge(now)

    def purge(self, now: int | None = None) -> int:
        """Delete the buckets that are full again (nothing is lost: a missing bucket is
        a full one).  Returns how many went."""
        now = int(self.clock()) if now is None else now
        before = now - math.ceil(self.burst / self.rate * 1000)
        with self.engine.connect() as conn:
            conn.execution_options(**{WRITE_OPTION: True})
            with conn.begin():
                return conn.execute(_PURGE, {"scope": self.scope, "before": before}).rowcount
