"""The raw SQL of the store and what differs between SQLite and PostgreSQL.

Everything here is about talking to the database, not about the board: the
execution options :func:`ballot_server.db.make_engine` hooks, the driver
statements of the cast path (built once, rewritten once per dialect), the
multi-row and single-statement batch inserts, the Merkle node lookup, the
PostgreSQL advisory lock, SQLite's append queue (a lock file), and the mapping
of a busy or lost database to :class:`~evote.errors.ServiceUnavailable`.  It is
separate so that the modules holding the board's logic read as plain Python and
a new dialect touches one file.
"""

from __future__ import annotations

import fcntl
import functools
import os
import re
import time
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Engine, TextClause, text
from sqlalchemy.engine import Connection
from sqlalchemy.exc import DBAPIError

from ballot_server import models as m
from evote.errors import ServiceUnavailable

WRITE_OPTION = "evote_write"
"""Execution option: on SQLite, open the transaction with ``BEGIN IMMEDIATE``.

A deferred SQLite transaction that reads first and writes later can fail at
its first write without waiting (its snapshot is stale), so every transaction
that will write takes the database write lock up front, waiting up to the busy
timeout for it (:func:`ballot_server.db.make_engine` installs the hook)."""

READ_OPTION = "evote_read"
"""Execution option: on SQLite, a "transaction" of the read connection sends no BEGIN.

Each statement is then a read of its own, seeing every commit made before it,
as on PostgreSQL's autocommit read connection: the board's rows never change
once committed, so a read of a committed prefix needs no snapshot across
statements, and the BEGIN and COMMIT would only add two statements to each
request (a voter's login, a proof)."""

# PostgreSQL advisory lock namespace (first key) of the per-election append lock;
# the second key is hashtext(election id).  A hash collision only makes two
# elections queue behind each other.
PG_LOCK_NAMESPACE = 0x65766F74  # "evot"


def unavailable(exc: DBAPIError) -> ServiceUnavailable:
    """A lock timeout, busy database or lost connection: nothing was written."""
    return ServiceUnavailable(
        "the board database is busy or unreachable; nothing was written, retry later",
        detail={"reason": type(exc.orig).__name__ if exc.orig is not None else "database"},
    )


# --- SQLite's append queue ----------------------------------------------------------

GATE_POLL, GATE_POLL_MAX = 0.0001, 0.0005
GATE_PATIENCE = 2.0
"""Seconds an SQLite appender polls the queue's lock file before going to the database's
own lock (whose busy timeout then decides, as without the queue)."""


def gate_path(engine: Engine) -> str | None:
    """The append queue's lock file of an SQLite database file (None: no file, or not SQLite)."""
    if engine.dialect.name != "sqlite":
        return None
    database = engine.url.database
    if not database or database == ":memory:" or database.startswith("file:"):
        return None
    return database + "-evote-append-lock"


@contextmanager
def gate(path: str | None) -> Iterator[None]:
    """SQLite only: queue the processes appending to one database file on a ``flock``.

    SQLite's own busy handler retries a taken write lock after sleeping 1,
    2, 5, 10 ... ms, so a worker whose ``BEGIN IMMEDIATE`` arrives while
    another worker's short append is under way often sleeps well past its
    end, leaving a core idle.  Waiting on this lock file instead (polled
    every 0.1-0.5 ms) hands the database over as soon as it is free.  It
    only orders the appenders: ``BEGIN IMMEDIATE`` still takes SQLite's
    lock, and after :data:`GATE_PATIENCE` seconds (or if the file cannot be
    opened) the block goes on to it directly, under the busy timeout.
    The file is separate from the database's own files, whose POSIX locks
    an extra descriptor could break.  ``path`` None: no queue.
    """
    if path is None:
        yield
        return
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    except OSError:
        yield
        return
    try:
        deadline = time.monotonic() + GATE_PATIENCE
        pause = GATE_POLL
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    break
                time.sleep(pause)
                pause = min(pause * 2, GATE_POLL_MAX)
        yield
    finally:
        os.close(fd)  # releases the flock


# --- statements of the append path, built once ------------------------------------
# (Building a statement costs more than running it on SQLite; these run on every cast.)
#
# The cast path's statements as driver SQL (``Connection.exec_driver_sql``): SQLAlchemy still
# wraps errors and invalidates broken connections, but skips compiling and processing a
# Core statement on every call, which costs more than SQLite's own work for these short
# statements.  Written with ``:name`` parameters (sqlite3's named style) and rewritten once
# to ``%(name)s`` for psycopg.  Table and column names are this package's own; every value
# is a parameter.

APPENDED_TABLES = frozenset(
    {"board_entries", "merkle_nodes", "ballots", "ballot_ciphertexts", "tree_heads"}
)
"""The tables an append writes rows into (:meth:`BoardHandle._insert`)."""

LOOKUP_CHUNK = 1000
"""Most values in one ``IN (...)`` list (both engines cap a statement's parameters)."""

_NAMED = re.compile(r":([a-z][a-z0-9_]*)")

SQL_ROWS_SINCE = (
    "SELECT idx, kind, leaf_hash, time_ms FROM board_entries "
    "WHERE election_id = :e AND idx >= :start ORDER BY idx LIMIT :limit"
)
SQL_VOTER = "SELECT login_hash, credential FROM voters WHERE election_id = :e AND voter_id = :v"
SQL_PG_LOCK = "SELECT pg_advisory_xact_lock(:ns, hashtext(:id))"


@functools.cache
def _driver_sql(dialect: str, statement: str) -> str:
    if dialect == "postgresql":
        return _NAMED.sub(r"%(\1)s", statement)
    if dialect == "sqlite":
        return statement
    raise ValueError(f"no driver SQL for {dialect!r}")


def run(conn: Connection, statement: str, params: Any = None) -> Any:
    """``statement`` (``:name`` parameters) through the connection's driver."""
    return conn.exec_driver_sql(_driver_sql(conn.dialect.name, statement), params)


def placeholders(prefix: str, count: int) -> str:
    return ", ".join(f":{prefix}{k}" for k in range(count))


def insert_rows(conn: Connection, table: str, rows: list[dict[str, Any]]) -> None:
    """Insert ``rows`` (dicts with the same keys) into ``table``: one statement, many rows."""
    run(conn, _sql_insert(table, tuple(rows[0])), rows if len(rows) > 1 else rows[0])


@functools.cache
def _sql_insert(table: str, columns: tuple[str, ...]) -> str:
    if table not in APPENDED_TABLES or not set(columns) <= set(m.metadata.tables[table].c.keys()):
        raise ValueError(f"not a board table or column: {table!r} {columns!r}")
    names = ", ".join(columns)
    values = ", ".join(f":{c}" for c in columns)
    return f"INSERT INTO {table} ({names}) VALUES ({values})"  # noqa: S608


def pg_batch(pending: Sequence[tuple[str, list[dict[str, Any]]]]) -> tuple[str, dict[str, Any]]:
    """One PostgreSQL statement inserting every queued row: each table's INSERT but the
    last in a ``WITH`` clause.  Foreign keys between them are checked at the end of the
    statement, when all rows are in.  Table and column names are this package's own; the
    values are parameters.  The text depends only on the row counts, so the driver
    prepares it once per shape."""
    params: dict[str, Any] = {}
    inserts = []
    for k, (table, rows) in enumerate(pending):
        columns = list(rows[0])
        values = []
        for r, row in enumerate(rows):
            names = [f"t{k}r{r}c{c}" for c in range(len(columns))]
            params.update(zip(names, (row[col] for col in columns), strict=True))
            values.append("(" + ", ".join(f"%({n})s" for n in names) + ")")
        if table not in APPENDED_TABLES:
            raise ValueError(f"not a board table: {table!r}")
        inserts.append(
            f"INSERT INTO {table} ({', '.join(columns)}) VALUES {', '.join(values)}"  # noqa: S608
        )
    if len(inserts) == 1:
        return inserts[0], params
    ctes = ", ".join(f"w{k} AS ({sql})" for k, sql in enumerate(inserts[:-1]))
    return f"WITH {ctes} {inserts[-1]}", params


# --- the Merkle node lookup -------------------------------------------------------


def fetch_nodes(
    conn: Connection, election_id: str, wanted: Iterable[tuple[int, int]]
) -> dict[tuple[int, int], bytes]:
    """The stored perfect subtrees ``wanted``, in one query."""
    nodes = sorted(set(wanted))
    found: dict[tuple[int, int], bytes] = {}
    if nodes:
        params: dict[str, Any] = {"e": election_id}
        for k, (level, idx) in enumerate(nodes):
            params[f"l{k}"], params[f"i{k}"] = level, idx
        for level, idx, h in conn.execute(_nodes_query(len(nodes)), params):
            found[(level, idx)] = bytes(h)
    return found


@functools.lru_cache(maxsize=256)
def _nodes_query(count: int) -> TextClause:
    """``count`` primary-key lookups in ``merkle_nodes``, as one statement.

    An OR of full-key equalities: SQLite plans it as a union of index
    searches (a row-value ``IN`` list would scan the whole election), and
    PostgreSQL as a bitmap OR.  Plain text, built once per count, because
    building the equivalent expression tree costs more than the query.
    """
    terms = " OR ".join(
        f"(election_id = :e AND level = :l{k} AND idx = :i{k})" for k in range(count)
    )
    return text(f"SELECT level, idx, hash FROM merkle_nodes WHERE {terms}")  # noqa: S608
