"""The board database: engine, schema set-up, the server's role, and Flask glue.

Plain functions first, usable without Flask (the CLI, tests, benchmarks):

* :func:`make_engine` turns a URL into an engine configured for the board:
  SQLite gets WAL, ``synchronous=FULL`` (a commit is on disk before the
  ballot is acknowledged), foreign keys, a busy timeout and recursive
  triggers; PostgreSQL (``postgresql+psycopg://``) gets a lock timeout.
* :func:`init_db` creates the tables and the append-only triggers; running
  it again changes nothing.
* :func:`setup_server_role` (PostgreSQL) creates the login role the server
  runs as, allowed only to read and append.

Then the Flask side, after flaskr: :func:`init_app` keeps one engine per app
(its connection pool is shared by the app's threads), :func:`get_store` hands
out one :class:`~ballot_server.store.Store` per app context, cached on ``g``,
and :func:`close_store` returns its connection to the pool at teardown.
``flask init-db`` only wraps :func:`init_db`.
"""

from __future__ import annotations

import re
from typing import Any

import click
from flask import Flask, current_app, g
from sqlalchemy import Engine, create_engine, event, make_url, text
from sqlalchemy.engine import Connection
from sqlalchemy.pool import NullPool

from ballot_server import models
from ballot_server.store import READ_OPTION, WRITE_OPTION, ElectionStates, Store

DEFAULT_LOCK_TIMEOUT = 10.0
"""Seconds an append waits for the election's lock before answering 503."""

# PostgreSQL advisory lock taken by init_db, so that several workers starting
# at once do not race to create the same tables.
_INIT_LOCK_KEY = 0x65766F7465  # "evote"

_ROLE_NAME = re.compile(r"[a-z_][a-z0-9_]{0,62}")


def sqlite_url(path: str) -> str:
    """The SQLAlchemy URL of an SQLite file (the default: a file in the instance folder)."""
    return "sqlite:///" + path


def make_engine(url: str, *, lock_timeout: float = DEFAULT_LOCK_TIMEOUT, **kwargs: Any) -> Engine:
    """An engine for the board database at ``url`` (SQLite or PostgreSQL).

    ``lock_timeout`` bounds how long a statement waits for a lock: SQLite's
    busy timeout, PostgreSQL's ``lock_timeout``.  Extra keyword arguments go
    to :func:`sqlalchemy.create_engine` (e.g. ``poolclass``).
    """
    parsed = make_url(url)
    backend = parsed.get_backend_name()
    if backend == "sqlite":
        engine = create_engine(parsed, connect_args={"timeout": lock_timeout}, **kwargs)
        _configure_sqlite(engine, lock_timeout)
        return engine
    if backend == "postgresql":
        if parsed.drivername == "postgresql":  # the driver we ship, not psycopg2
            parsed = parsed.set(drivername="postgresql+psycopg")
        ms = max(1, int(lock_timeout * 1000))
        return create_engine(
            parsed,
            connect_args={"options": f"-c lock_timeout={ms}"},
            # No ping before each checkout (a round trip per request): a connection
            # that died with the server fails its first statement instead, which
            # the store answers with 503 unavailable (nothing written; clients
            # retry), and SQLAlchemy then drops every pooled connection of that
            # server (tests/attacks/test_14_postgres_restart_during_casts.py).
            pool_pre_ping=False,
            **kwargs,
        )
    raise ValueError(f"unsupported database {backend!r}: use sqlite:/// or postgresql+psycopg://")


SQLITE_MMAP_BYTES = 1 << 30
"""Most of an SQLite board file mapped into memory (address space, not RAM: pages are
shared with the OS cache and loaded on demand)."""


def _configure_sqlite(engine: Engine, lock_timeout: float) -> None:
    """Connection pragmas, and explicit BEGINs (pysqlite's own are disabled)."""
    busy_ms = max(1, int(lock_timeout * 1000))

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Let SQLAlchemy's "begin" event below emit BEGIN, so that writers can
        # ask for BEGIN IMMEDIATE; pysqlite would otherwise begin lazily.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        try:
            cursor.execute(f"PRAGMA busy_timeout = {busy_ms}")
            cursor.execute("PRAGMA journal_mode = WAL")
            # FULL: in WAL mode, each commit fsyncs the log before returning.
            cursor.execute("PRAGMA synchronous = FULL")
            cursor.execute("PRAGMA foreign_keys = ON")
            # Read the database file through a memory map: every worker process's
            # page cache is dropped whenever another process commits, and re-reading
            # the pages then costs a page lookup instead of a read() system call each.
            cursor.execute(f"PRAGMA mmap_size = {SQLITE_MMAP_BYTES}")
            # INSERT OR REPLACE deletes the old row; with recursive triggers
            # on, that delete fires the append-only triggers too.
            cursor.execute("PRAGMA recursive_triggers = ON")
        finally:
            cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        options = conn.get_execution_options()
        if options.get(WRITE_OPTION, False):
            conn.exec_driver_sql("BEGIN IMMEDIATE")
        elif not options.get(READ_OPTION, False):
            conn.exec_driver_sql("BEGIN")
        # READ_OPTION: no BEGIN, so each statement is its own read (as PostgreSQL's
        # autocommit read connection); the COMMIT that ends the block is then a no-op.


def init_db(engine: Engine) -> None:
    """Create the board's tables and triggers if they do not exist yet.

    Idempotent and safe to run from several processes at once (SQLite takes
    the write lock first; PostgreSQL an advisory lock).  On PostgreSQL run it
    as the database owner, not as the server role (which cannot create
    anything); on an already set-up database it only reads the catalogue.
    """
    with engine.connect() as conn:
        conn.execution_options(**{WRITE_OPTION: True})
        with conn.begin():
            if engine.dialect.name == "postgresql":
                conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _INIT_LOCK_KEY})
                models.metadata.create_all(conn)
                _create_pg_triggers(conn)
                _tune_pg_analyze(conn)
            else:
                models.metadata.create_all(conn)
                for _name, ddl in models.sqlite_triggers():
                    conn.exec_driver_sql(ddl)


PG_ANALYZE_OPTIONS = ("autovacuum_analyze_scale_factor=0.01", "autovacuum_analyze_threshold=200")
"""Re-analyse a board table after 1 % of its rows (plus 200) changed, not PostgreSQL's
default 10 %.  The tables grow from nothing during an election; until PostgreSQL has
statistics, an index led by ``election_id`` looks as good as the one that matches a
whole key, and a lookup by tracking code or credential may walk the whole election
(seen: 0.3 ms at 800 ballots).  The cast path's own lookups do not depend on it
(their keys lead with the looked-up column, :mod:`ballot_server.models`)."""


def _tune_pg_analyze(conn: Connection) -> None:
    """Set :data:`PG_ANALYZE_OPTIONS` on every board table that lacks them (so that an
    already set-up database is only read)."""
    tables = [*models.APPEND_ONLY, "voters"]
    current = {
        row.relname: set(row.reloptions or ())
        for row in conn.execute(
            text("SELECT relname, reloptions FROM pg_class WHERE oid = ANY(CAST(:t AS regclass[]))"),
            {"t": tables},
        )
    }
    for table in tables:
        if not set(PG_ANALYZE_OPTIONS) <= current.get(table, set()):
            # Table names are this module's own constants; the options are literals.
            conn.exec_driver_sql(f"ALTER TABLE {table} SET ({', '.join(PG_ANALYZE_OPTIONS)})")


def _create_pg_triggers(conn: Connection) -> None:
    present = {
        (row.table, row.name)
        for row in conn.execute(
            text(
                "SELECT c.relname AS table, t.tgname AS name FROM pg_trigger t "
                "JOIN pg_class c ON c.oid = t.tgrelid "
                "WHERE c.oid = ANY(CAST(:tables AS regclass[]))"
            ),
            {"tables": [*models.APPEND_ONLY, *models.INSERT_ONCE, "voters"]},
        )
    }
    missing = [(t, n, ddl) for t, n, ddl in models.postgres_triggers() if (t, n) not in present]
    if not missing:
        return
    for ddl in models.PG_FUNCTIONS:
        conn.execute(text(ddl))  # text(): escapes the '%' of RAISE for the driver
    for _table, _name, ddl in missing:
        conn.exec_driver_sql(ddl)


def server_role_url(admin_url: str, role_name: str, password: str) -> str:
    """``admin_url`` with the server role's name and password in place of the admin's."""
    url = make_url(admin_url).set(username=role_name, password=password)
    return url.render_as_string(hide_password=False)


def setup_server_role(admin_url: str, role_name: str, password: str) -> str:
    """Create (or reset) the PostgreSQL login role the ballot server runs as.

    The role may only ``SELECT`` and ``INSERT`` on the append-only tables and,
    on ``voters``, additionally ``UPDATE`` the credential binding column: even
    a compromised server process cannot rewrite the board through it (the
    triggers refuse the same for everybody but a superuser who drops them).
    Run as an admin of the database named in ``admin_url``, after
    :func:`init_db`.  Returns the URL the server should connect with.
    """
    if not _ROLE_NAME.fullmatch(role_name):
        raise ValueError(
            "role name must be 1-63 characters of [a-z0-9_], not starting with a digit"
        )
    from psycopg import sql  # PostgreSQL only; imported here so SQLite needs no driver

    engine = create_engine(make_url(admin_url), poolclass=NullPool)
    try:
        with engine.begin() as conn:
            exists = conn.execute(
                text("SELECT 1 FROM pg_roles WHERE rolname = :r"), {"r": role_name}
            ).first()
            verb = "ALTER" if exists else "CREATE"
            database = conn.execute(text("SELECT current_database()")).scalar_one()
            role = sql.Identifier(role_name)
            tables = sql.SQL(", ").join(sql.Identifier(t) for t in models.APPEND_ONLY)
            statements = [
                sql.SQL(
                    verb + " ROLE {} LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE PASSWORD {}"
                ).format(role, sql.Literal(password)),
                sql.SQL("GRANT CONNECT ON DATABASE {} TO {}").format(
                    sql.Identifier(database), role
                ),
                sql.SQL("GRANT USAGE ON SCHEMA public TO {}").format(role),
                sql.SQL("REVOKE ALL ON {}, voters FROM {}").format(tables, role),
                sql.SQL("GRANT SELECT, INSERT ON {} TO {}").format(tables, role),
                sql.SQL("GRANT SELECT, INSERT ON voters TO {}").format(role),
                sql.SQL("GRANT UPDATE ({}) ON voters TO {}").format(
                    sql.Identifier(models.BINDING_COLUMN), role
                ),
                # The shared rate limit's buckets (ballot_server/ratelimit.py): no board data.
                sql.SQL("GRANT SELECT, INSERT, UPDATE, DELETE ON rate_buckets TO {}").format(role),
                # Used provider-login states: inserted once, deleted when expired, never updated.
                sql.SQL("REVOKE ALL ON oidc_states FROM {}").format(role),
                sql.SQL("GRANT SELECT, INSERT, DELETE ON oidc_states TO {}").format(role),
            ]
            cursor = conn.connection.cursor()
            try:
                for statement in statements:
                    cursor.execute(statement)
            finally:
                cursor.close()
    finally:
        engine.dispose()
    return server_role_url(admin_url, role_name, password)


# --- Flask ----------------------------------------------------------------------

_EXTENSION = "evote_db"


class _AppDatabase:
    """What one app shares between its requests: the engine (pool) and state cache."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.states = ElectionStates()


def init_app(app: Flask, database_url: str | None = None, *, create: bool | None = None) -> None:
    """Give ``app`` its board database; called once by the app factory.

    ``database_url`` defaults to ``app.config["EVOTE_DATABASE_URL"]``.  With
    ``create`` (default: only for SQLite, the zero set-up engine) the tables
    are created now; PostgreSQL is set up by an admin beforehand
    (``flask init-db`` with an admin URL, then :func:`setup_server_role`).
    """
    url = database_url or app.config["EVOTE_DATABASE_URL"]
    engine = make_engine(url)
    if create is None:
        create = engine.dialect.name == "sqlite"
    if create:
        init_db(engine)
        # Workers forked after start-up must not inherit pooled connections.
        engine.dispose()
    app.extensions[_EXTENSION] = _AppDatabase(engine)
    app.teardown_appcontext(close_store)
    app.cli.add_command(init_db_command)


def get_engine() -> Engine:
    """The current app's engine."""
    return current_app.extensions[_EXTENSION].engine


def get_store() -> Store:
    """The board store for this app context (one per request), opened on first use."""
    if "evote_store" not in g:
        database: _AppDatabase = current_app.extensions[_EXTENSION]
        g.evote_store = Store(database.engine, states=database.states)
    return g.evote_store


def close_store(e: BaseException | None = None) -> None:
    """Teardown: give the request's connection back to the pool."""
    store = g.pop("evote_store", None)
    if store is not None:
        store.close()


@click.command("init-db")
def init_db_command() -> None:
    """Create the board tables and triggers (idempotent)."""
    init_db(get_engine())
    click.echo("Initialized the database.")
