"""The connections of one :class:`~ballot_server.store.Store`: its read connection and its writes.

Every part of the store (:mod:`.reads`, :mod:`.heads`, :mod:`.voters`,
:mod:`.cosignatures`, :mod:`.append`) builds on :class:`Connections`, which
owns the engine, the process-wide :class:`~ballot_server.store.frontier.ElectionStates`
cache, and the one lazily opened read connection.  It is separate because
how a connection is opened, put in autocommit, lent to a locked block and
taken back is the same for all of them and is the subtle part: a read must
never hold a snapshot, and a write must take SQLite's lock up front.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Self

from sqlalchemy import Engine
from sqlalchemy.engine import Connection
from sqlalchemy.exc import OperationalError

from ballot_server.store import sql
from ballot_server.store.frontier import ElectionStates


class Connections:
    """The engine, the lifecycle cache and the read connection of one store.

    Not shared between threads: the Flask side makes one store per app
    context (:func:`ballot_server.db.get_store`); scripts use ``with Store(engine)``.
    ``states`` is the process-wide lifecycle cache; pass the app's so that
    appends from different requests share it.
    """

    def __init__(self, engine: Engine, *, states: ElectionStates | None = None) -> None:
        self.engine = engine
        self.states = states if states is not None else ElectionStates()
        self._conn: Connection | None = None
        self._postgres = engine.dialect.name == "postgresql"
        self._gate_path = sql.gate_path(engine)

    def close(self) -> None:
        """Return the read connection to the pool."""
        if self._conn is not None:
            conn, self._conn = self._conn, None
            conn.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextmanager
    def _read(self) -> Iterator[Connection]:
        """A short read on this store's connection.

        The read connection runs in autocommit on both engines (on SQLite via
        :data:`~ballot_server.store.sql.READ_OPTION`): at PostgreSQL's READ
        COMMITTED every statement takes its own snapshot inside a transaction
        too, and the board's rows never change once committed, so BEGIN and
        COMMIT would only add two round trips to each read.
        """
        try:
            if self._conn is None:
                self._conn = self.engine.connect()
                if self._postgres:
                    self._conn.execution_options(isolation_level="AUTOCOMMIT")
                else:
                    self._conn.execution_options(**{sql.READ_OPTION: True})
            with self._conn.begin():
                yield self._conn
        except OperationalError as exc:
            self.close()
            raise sql.unavailable(exc) from exc

    @contextmanager
    def _write(self) -> Iterator[Connection]:
        """A write transaction on its own connection (SQLite: BEGIN IMMEDIATE)."""
        try:
            with self.engine.connect() as conn:
                conn.execution_options(**{sql.WRITE_OPTION: True})
                with conn.begin():
                    yield conn
        except OperationalError as exc:
            raise sql.unavailable(exc) from exc

    def _write_connection(self) -> Connection:
        """A connection for a locked block: the store's idle read connection if it has
        one (a request that authenticated a voter has), else a new one from the pool.
        Reads inside the block take a connection of their own, as before."""
        conn = self._conn
        if conn is not None and not conn.invalidated and not conn.in_transaction():
            self._conn = None
            if self._postgres:
                conn.execution_options(isolation_level=conn.default_isolation_level)
            else:
                conn.execution_options(**{sql.READ_OPTION: False})
            return conn
        try:
            return self.engine.connect()
        except OperationalError as exc:
            raise sql.unavailable(exc) from exc

    def _return_write_connection(self, conn: Connection, healthy: bool) -> None:
        """Keep a connection that ended its block cleanly as the read connection."""
        if healthy and self._conn is None and not conn.invalidated and not conn.in_transaction():
            conn.execution_options(**{sql.WRITE_OPTION: False})
            if self._postgres:
                conn.execution_options(isolation_level="AUTOCOMMIT")
            else:
                conn.execution_options(**{sql.READ_OPTION: True})
            self._conn = conn
        else:
            conn.close()
