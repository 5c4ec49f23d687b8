"""The bulletin board's storage: serialised appends and lock-free reads.

:class:`Store` is the only code that touches the board tables
(:mod:`ballot_server.models`); the API layer calls it and holds no SQL.

Writing.  ``with store.locked(election_id) as board:`` opens one transaction
that holds the election's append lock -- ``BEGIN IMMEDIATE`` on SQLite (the
database's single write lock), ``pg_advisory_xact_lock`` on PostgreSQL (so
several workers or hosts on one database queue up per election).  Inside it
``board.head()`` and ``board.state`` are the current last entry and
lifecycle phase, and ``board.append(...)`` builds the next entry with
:func:`evote.board.next_entry` and writes it together with the Merkle
subtrees it completes.  The transaction commits when the block ends and rolls
back, writing nothing, if anything inside raises.  Because the head is read
only after the lock is taken, two appends can never build on the same
previous entry; the ``(election_id, idx)`` primary key would refuse a fork
even if the lock were bypassed.  A ballot is acknowledged only after the
block has exited, i.e. after the commit (fsynced: see
:func:`ballot_server.db.make_engine`).

Reading needs no lock: rows are never changed once committed, so any read
sees a prefix of the board.  Proofs and historical roots come from the stored
perfect subtrees in ``O(log n)`` lookups, fetched in one query each
(:func:`evote.merkle.inclusion_nodes` names them).

The lifecycle state and the Merkle frontier are cached per process
(:class:`ElectionStates`), keyed by the head's index and hash, and brought up
to date under the lock from the rows appended since -- by this or any other
process -- in one short read, so an append never replays the board nor reads
``merkle_nodes``: the new root and the new entry's audit path follow from the
frontier.  A cast appends in a *batched* block (see :class:`BoardHandle`): its
rows go to the database in one statement on PostgreSQL, and no savepoints are
taken.  On SQLite, appending processes queue on a lock file before ``BEGIN
IMMEDIATE`` (:meth:`Store._gate`), which hands the database over as soon as it
is free instead of after SQLite's busy-handler sleeps.
"""

from __future__ import annotations

import dataclasses
import fcntl
import functools
import hmac
import os
import re
import threading
import time
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Engine, TextClause, func, insert, select, text
from sqlalchemy.engine import Connection
from sqlalchemy.exc import DBAPIError, IntegrityError, OperationalError

from ballot_server import models as m
from evote import merkle
from evote.board import ChainHead, Entry, SignedTreeHead, TreeHead, next_entry
from evote.election import ElectionState
from evote.encoding import canonical_json, parse_json
from evote.errors import (
    AlreadyExists,
    AuthenticationError,
    BindingError,
    BoardError,
    DuplicateCiphertext,
    MerkleError,
    NotFound,
    SchemaError,
    ServiceUnavailable,
)
from evote.hashing import TAG_LOGIN_CODE, tagged_hash
from evote.kinds import BALLOT_AUDITED, BALLOT_CAST
from evote.limits import MAX_PAGE as MAX_PAGE
from evote.rules import CountedSet
from evote.signing import SigningKey

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


LOGIN_HASH_BYTES = 32
CREDENTIAL_BYTES = 32

# PostgreSQL advisory lock namespace (first key) of the per-election append lock;
# the second key is hashtext(election id).  A hash collision only makes two
# elections queue behind each other.
_PG_LOCK_NAMESPACE = 0x65766F74  # "evot"


def login_code_hash(login_code: bytes) -> bytes:
    """What the server stores instead of a voter's login code.

    Login codes are 32 random bytes, so a plain domain-separated SHA-256 is
    enough: there is nothing to brute-force that a slow KDF would protect.
    """
    if not isinstance(login_code, bytes) or not login_code:
        raise TypeError("login_code must be non-empty bytes")
    return tagged_hash(TAG_LOGIN_CODE, login_code)


@dataclass(frozen=True, slots=True)
class Voter:
    """One login of one election, and the credential it is bound to (if any)."""

    election_id: str
    voter_id: str
    login_hash: bytes
    credential: bytes | None


# --- the per-process lifecycle cache ---------------------------------------------


@dataclass(frozen=True, slots=True)
class _Cached:
    """An election's board as of ``size`` entries, enough to append the next one.

    ``frontier`` holds the hashes of the perfect subtrees
    :func:`evote.merkle.subtree_nodes` ``(0, size)`` names (the tree's left
    frontier), from which the next entry's completed subtrees, the new root
    and the new entry's audit path follow without reading ``merkle_nodes``.
    ``head`` is the last entry when this process has it parsed, else None.
    """

    size: int
    leaf: bytes
    time: int
    state: ElectionState
    frontier: tuple[bytes, ...]
    head: Entry | None = None

    def chain_head(self, election_id: str) -> ChainHead:
        return ChainHead(election_id, self.size - 1, self.time, self.leaf)

    def extended(self, rows: Sequence[Any]) -> _Cached:
        """After the rows ``(idx, kind, leaf_hash, time_ms)`` that follow, in order."""
        size, state, leaf, last_time = self.size, self.state, self.leaf, self.time
        nodes = _frontier_nodes(size, self.frontier)
        for row in rows:
            if row.idx != size:
                raise BoardError(f"entry {size} is missing from the board")
            leaf, last_time = bytes(row.leaf_hash), row.time_ms
            state = state.apply(row.kind)
            nodes.update(_completed(size, leaf, nodes))
            size += 1
        return _Cached(size, leaf, last_time, state, _frontier(size, nodes))


def _frontier_nodes(size: int, frontier: Sequence[bytes]) -> dict[tuple[int, int], bytes]:
    return dict(zip(merkle.subtree_nodes(0, size), frontier, strict=True))


def _frontier(size: int, nodes: dict[tuple[int, int], bytes]) -> tuple[bytes, ...]:
    return tuple(nodes[node] for node in merkle.subtree_nodes(0, size))


def _completed(
    index: int, leaf: bytes, nodes: dict[tuple[int, int], bytes]
) -> dict[tuple[int, int], bytes]:
    """The subtrees leaf ``index`` completes, from the frontier nodes before it."""
    done = merkle.completed_subtrees(index, leaf, _getter(nodes))
    return {(level, i): h for level, i, h in done}


class ElectionStates:
    """Per-process cache of each election's head, lifecycle state and Merkle frontier.

    Shared by the stores of one app (thread-safe).  An entry is valid only
    while the board's last row has the cached index and leaf hash; otherwise
    the locked transaction catches up from the rows appended since (by any
    process), in one short read.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._by_election: dict[str, _Cached] = {}

    def get(self, election_id: str) -> _Cached | None:
        with self._lock:
            return self._by_election.get(election_id)

    def put(self, election_id: str, cached: _Cached) -> None:
        with self._lock:
            old = self._by_election.get(election_id)
            if old is None or old.size <= cached.size:
                self._by_election[election_id] = cached


# --- error mapping ----------------------------------------------------------------


def _unavailable(exc: DBAPIError) -> ServiceUnavailable:
    """A lock timeout, busy database or lost connection: nothing was written."""
    return ServiceUnavailable(
        "the board database is busy or unreachable; nothing was written, retry later",
        detail={"reason": type(exc.orig).__name__ if exc.orig is not None else "database"},
    )


# --- the locked append handle -----------------------------------------------------


class BoardHandle:
    """One election's board inside a locked transaction (see :meth:`Store.locked`).

    Each write method is atomic on its own (a savepoint): if it raises,
    nothing it started is kept, and the block may go on or re-raise.

    In a *batched* block (``store.locked(..., batched=True)``, the cast path)
    the write methods take no savepoints and queue their rows, which are sent
    when the block ends -- in one statement on PostgreSQL -- or before the
    handle next reads.  A duplicate that the database refuses then surfaces
    at the end of the block (the same exception class).  A write that fails
    spoils a batched block: it writes nothing at all, later writes are
    refused, and the transaction rolls back even if the caller caught the
    error.  (Input refused before anything is written, such as a ballot
    repeating its own ciphertext, leaves the block usable, as unbatched.)

    ``conn`` is the transaction's connection, for the API layer's own
    statements (queued rows are sent first).
    """

    def __init__(
        self,
        conn: Connection,
        election_id: str,
        cached: _Cached | None,
        *,
        batched: bool = False,
    ) -> None:
        self._conn = conn
        self.election_id = election_id
        self._cached = cached
        self._open = True
        self._batched = batched
        self._spoiled = False
        self._pending: list[tuple[str, list[dict[str, Any]]]] = []
        # Merkle nodes known without a read: the frontier the block started
        # from and every subtree appended since (each entry's audit path and
        # the current root are made of these).
        self._nodes = {} if cached is None else _frontier_nodes(cached.size, cached.frontier)

    @property
    def conn(self) -> Connection:
        """The transaction's connection, after sending any queued rows."""
        self._flush()
        return self._conn

    @property
    def state(self) -> ElectionState:
        """The lifecycle state after the last entry (the empty board's before entry 0)."""
        return self._cached.state if self._cached else ElectionState()

    @property
    def size(self) -> int:
        """Number of entries on the board, including those appended in this block."""
        return self._cached.size if self._cached else 0

    def head(self) -> Entry | None:
        """The last entry, or None for an election with no board yet."""
        cached = self._cached
        if cached is None:
            return None
        if cached.head is None:
            e = m.board_entries.c
            data = self.conn.execute(
                select(e.entry).where(e.election_id == self.election_id, e.idx == cached.size - 1)
            ).scalar_one()
            head = Entry.from_bytes(bytes(data))
            if head.leaf_hash() != cached.leaf:
                raise BoardError(f"entry {head.index} changed under the append lock")
            cached = self._cached = dataclasses.replace(cached, head=head)
        return cached.head

    def append(self, kind: str, payload: dict[str, Any], time_ms: int) -> Entry:
        """Append the next entry; return it (committed only when the block exits).

        Raises :class:`~evote.errors.LifecycleError` if ``kind`` is not
        allowed now, and the errors of :class:`~evote.board.Entry` for a bad
        payload, before writing anything.  ``time_ms`` is raised to the
        previous entry's time if it is earlier (clocks of several hosts may
        disagree slightly; entry times must not go backwards).
        """
        self._check_open()
        state = self.state.apply(kind)
        cached = self._cached
        prev = None if cached is None else cached.chain_head(self.election_id)
        if prev is not None and isinstance(time_ms, int):
            time_ms = max(time_ms, prev.time)
        entry = next_entry(
            prev, election=self.election_id, kind=kind, time=time_ms, payload=payload
        )
        leaf = entry.leaf_hash()
        done = _completed(entry.index, leaf, self._nodes)
        try:
            self._write_entry(entry, leaf, done)
        except IntegrityError as exc:
            # The primary key refused a second entry at this index: some
            # writer bypassed the lock.  Nothing of this append is kept.
            raise ServiceUnavailable(
                f"entry {entry.index} of {self.election_id!r} already exists; retry"
            ) from exc
        self._nodes.update(done)
        size = entry.index + 1
        self._cached = _Cached(size, leaf, entry.time, state, _frontier(size, self._nodes), entry)
        return entry

    def root(self) -> bytes:
        """The RFC 9162 root of the board as it stands in this block (entries appended in it
        included), from the Merkle frontier: no read."""
        size = self.size
        if size == 0:
            return merkle.EMPTY_ROOT
        return merkle.tree_root(size, _getter(self._nodes))

    def inclusion_proof(self, index: int, size: int) -> list[bytes]:
        """:meth:`Store.inclusion_proof` as this block sees the board (its own appends
        included).  The audit path of an entry appended in this block needs only
        nodes the block already holds; any other is read."""
        if not isinstance(size, int) or not 0 < size <= self.size:
            raise MerkleError(f"tree size {size!r} is not within this board of {self.size}")
        wanted = {node for element in merkle.inclusion_nodes(index, size) for node in element}
        missing = [node for node in wanted if node not in self._nodes]
        nodes = self._nodes
        if missing:
            nodes = {**nodes, **_fetch_nodes(self.conn, self.election_id, missing)}
        return merkle.inclusion_proof(index, size, _getter(nodes))

    def _write_entry(self, entry: Entry, leaf: bytes, done: dict[tuple[int, int], bytes]) -> None:
        """The entry row, its election row (entry 0) and its completed subtrees."""
        with self._atomic():
            if entry.index == 0:
                self.conn.execute(
                    insert(m.elections), {"id": self.election_id, "created_ms": entry.time}
                )
            self._insert(
                "board_entries",
                [
                    {
                        "election_id": self.election_id,
                        "idx": entry.index,
                        "kind": entry.kind,
                        "time_ms": entry.time,
                        "leaf_hash": leaf,
                        "entry": entry.canonical(),
                    }
                ],
            )
            self._insert(
                "merkle_nodes",
                [
                    {"election_id": self.election_id, "level": lvl, "idx": i, "hash": h}
                    for (lvl, i), h in done.items()
                ],
            )

    def index_ballot(
        self,
        index: int,
        tracking_code: str,
        credential: bytes | None,
        ciphertext_hashes: Sequence[bytes],
    ) -> None:
        """Record a cast or audited ballot: its tracking code and ciphertext keys.

        ``ciphertext_hashes`` are 32-byte identifiers, one per ciphertext (a
        hash of it, or its ElGamal alpha, which fresh randomness makes unique).
        ``index`` is the ballot's entry (appended in this block).  Raises
        :class:`~evote.errors.DuplicateCiphertext` if any ciphertext hash (or
        the tracking code) is already on this election's board -- the UNIQUE
        index makes the database refuse it as well.
        """
        self._check_open()
        if not isinstance(tracking_code, str) or not 1 <= len(tracking_code) <= 200:
            raise SchemaError("tracking code: expected 1 to 200 characters")
        if not isinstance(index, int) or not 0 <= index < self.size:
            raise BoardError(f"ballot index {index!r} is not an entry of this board")
        if credential is not None and (
            not isinstance(credential, bytes) or len(credential) != CREDENTIAL_BYTES
        ):
            raise SchemaError(f"credential: expected {CREDENTIAL_BYTES} bytes")
        hashes = list(ciphertext_hashes)
        for h in hashes:
            if not isinstance(h, bytes) or len(h) != merkle.HASH_SIZE:
                raise SchemaError(f"ciphertext hash: expected {merkle.HASH_SIZE} bytes")
        if len(set(hashes)) != len(hashes):
            raise DuplicateCiphertext("the ballot repeats one of its own ciphertexts")
        try:
            with self._atomic():
                self._insert(
                    "ballots",
                    [
                        {
                            "election_id": self.election_id,
                            "tracking_code": tracking_code,
                            "idx": index,
                            "credential": credential,
                        }
                    ],
                )
                if hashes:
                    self._insert(
                        "ballot_ciphertexts",
                        [
                            {"election_id": self.election_id, "ciphertext_hash": h, "idx": index}
                            for h in hashes
                        ],
                    )
        except IntegrityError:
            raise _duplicate(index) from None

    def bind_credential(
        self, voter_id: str, credential: bytes, *, known: Voter | None = None
    ) -> None:
        """Bind ``credential`` to the login ``voter_id`` on its first cast (one cast; the
        cast path checks a whole batch with :meth:`login_bindings` and
        :func:`binding_needed`, then binds with :meth:`bind_credentials`, as this does).

        A login keeps the first credential it cast with, and a credential
        belongs to the first login that used it (the Belenios split: neither
        the credential authority nor the server alone can vote for someone).
        Casting again with the same pair is fine (re-voting).  Raises
        :class:`~evote.errors.AuthenticationError` for an unknown login and
        :class:`~evote.errors.BindingError` when either binding disagrees.

        ``known`` is the login's row as read before the lock (when the voter
        logged in).  A binding, once made, never changes (the database
        refuses it), so a row already bound decides without a read; an
        unbound one is read again under the lock.
        """
        self._check_open()
        if not isinstance(credential, bytes) or len(credential) != CREDENTIAL_BYTES:
            raise SchemaError(f"credential: expected {CREDENTIAL_BYTES} bytes")
        if known is not None:
            if known.election_id != self.election_id or known.voter_id != voter_id:
                raise BoardError("the known voter row is for another login")
            if known.credential is not None:
                binding_needed(voter_id, credential, known.credential, None)
                return
        logins, owners = self.login_bindings([voter_id], [credential])
        if voter_id not in logins:
            raise AuthenticationError("unknown voter login for this election")
        if binding_needed(voter_id, credential, logins[voter_id], owners.get(credential)):
            self.bind_credentials([(voter_id, credential)])

    # -- reads for a batch of casts (ballot_server.casting) --

    def login_bindings(
        self, voter_ids: Iterable[str], credentials: Iterable[bytes]
    ) -> tuple[dict[str, bytes | None], dict[bytes, str]]:
        """Under the lock, in one read: the credential each login of ``voter_ids`` is bound
        to now (None: unbound; absent: no such login), and the login each of
        ``credentials`` is bound to (absent: none).

        Bindings are made only under the append lock (:meth:`bind_credentials`,
        :meth:`bind_credential`), so what this returns holds until the block ends.
        """
        voters, creds = sorted(set(voter_ids)), sorted(set(credentials))
        if not voters and not creds:
            return {}, {}
        params: dict[str, Any] = {"e": self.election_id}
        params.update((f"v{k}", v) for k, v in enumerate(voters))
        params.update((f"c{k}", c) for k, c in enumerate(creds))
        # Two lookups, each answered by one index (the primary key, the credential's),
        # rather than one OR that a planner may answer by walking the election.
        parts = []
        if voters:
            parts.append(
                "SELECT voter_id, credential FROM voters WHERE election_id = :e "  # noqa: S608
                f"AND voter_id IN ({_placeholders('v', len(voters))})"
            )
        if creds:
            parts.append(
                "SELECT voter_id, credential FROM voters WHERE election_id = :e "  # noqa: S608
                f"AND credential IN ({_placeholders('c', len(creds))})"
            )
        rows = _run(self.conn, " UNION ALL ".join(parts), params).all()
        wanted = set(voters)
        logins: dict[str, bytes | None] = {}
        owners: dict[bytes, str] = {}
        for row in rows:
            cred = None if row.credential is None else bytes(row.credential)
            if row.voter_id in wanted:
                logins[row.voter_id] = cred
            if cred is not None:
                owners[cred] = row.voter_id
        return logins, owners

    def ciphertext_entries(self, hashes: Iterable[bytes]) -> dict[bytes, int]:
        """The entry index of each of ``hashes`` already on this board (cast or audited),
        in one read per thousand hashes."""
        wanted = sorted(set(hashes))
        found: dict[bytes, int] = {}
        for start in range(0, len(wanted), _LOOKUP_CHUNK):  # a few statements for huge ballots
            chunk = wanted[start : start + _LOOKUP_CHUNK]
            params: dict[str, Any] = {"e": self.election_id}
            params.update((f"h{k}", h) for k, h in enumerate(chunk))
            rows = _run(
                self.conn,
                "SELECT ciphertext_hash, idx FROM ballot_ciphertexts "  # noqa: S608
                f"WHERE election_id = :e AND ciphertext_hash IN ({_placeholders('h', len(chunk))})",
                params,
            )
            found.update((bytes(row.ciphertext_hash), row.idx) for row in rows)
        return found

    def bind_credentials(self, bindings: Sequence[tuple[str, bytes]]) -> None:
        """Bind each unbound login to its credential, in one statement, after the caller
        checked every binding rule (:meth:`login_bindings`, under this lock).

        A binding the database refuses (a credential bound meanwhile, or a login no
        longer unbound) means a writer bypassed the lock: the block is spoiled and
        :class:`~evote.errors.ServiceUnavailable` raised.
        """
        self._check_open()
        if not bindings:
            return
        params: dict[str, Any] = {"e": self.election_id}
        cases, ids = [], []
        for k, (voter_id, credential) in enumerate(bindings):
            if not isinstance(credential, bytes) or len(credential) != CREDENTIAL_BYTES:
                raise SchemaError(f"credential: expected {CREDENTIAL_BYTES} bytes")
            params[f"v{k}"], params[f"c{k}"] = voter_id, credential
            cases.append(f"WHEN :v{k} THEN :c{k}")
            ids.append(f":v{k}")
        if len({v for v, _ in bindings}) != len(bindings):
            raise BoardError("a login appears twice in one binding statement")
        statement = (
            f"UPDATE voters SET credential = CASE voter_id {' '.join(cases)} END "  # noqa: S608
            f"WHERE election_id = :e AND voter_id IN ({', '.join(ids)}) "
            "AND credential IS NULL"
        )
        try:
            bound = _run(self.conn, statement, params).rowcount
        except IntegrityError as exc:
            self._spoiled = True
            raise ServiceUnavailable(
                "a credential was bound outside the append lock; nothing was written; retry"
            ) from exc
        if bound != len(bindings):
            self._spoiled = True
            raise ServiceUnavailable(
                "a login was bound outside the append lock; nothing was written; retry"
            )

    # -- internals --

    def _check_open(self) -> None:
        if not self._open:
            raise BoardError("the locked block has ended; open a new one to append")
        if self._spoiled:
            raise BoardError("a write failed in this block; it can only roll back")

    @contextmanager
    def _atomic(self) -> Iterator[None]:
        if not self._batched:
            with self.conn.begin_nested():
                yield
            return
        try:
            yield
        except BaseException:
            self._spoiled = True
            raise

    def _insert(self, table: str, rows: list[dict[str, Any]]) -> None:
        """Insert ``rows`` into ``table`` now, or queue them in a batched block."""
        if not rows:
            return
        if self._batched:
            self._pending.append((table, rows))
        else:
            _insert_rows(self._conn, table, rows)

    def _flush(self) -> None:
        """Send the queued rows: one statement on PostgreSQL (one round trip), one per
        table on SQLite.  A row the database refuses spoils the block and raises what
        the unbatched write would have: a ballot's rows
        :class:`~evote.errors.DuplicateCiphertext`, an entry's
        :class:`~evote.errors.ServiceUnavailable` (a writer bypassed the lock)."""
        pending, self._pending = self._pending, []
        if not pending:
            return
        table = ""
        try:
            if self._conn.dialect.name == "postgresql":
                self._conn.exec_driver_sql(*_pg_batch(pending))
            else:
                for table, rows in pending:
                    _insert_rows(self._conn, table, rows)
        except IntegrityError as exc:
            self._spoiled = True
            diag = getattr(exc.orig, "diag", None)
            table = getattr(diag, "table_name", None) or table
            if table in ("ballots", "ballot_ciphertexts"):
                index = next(rows[0]["idx"] for t, rows in pending if t == table)
                raise _duplicate(index) from None
            raise ServiceUnavailable(
                f"a row of {table or 'this append'} already exists in {self.election_id!r}; "
                "a writer bypassed the lock; retry"
            ) from exc
        except BaseException:
            self._spoiled = True
            raise


# --- the store --------------------------------------------------------------------


class Store:
    """The board database of one app context (one connection, opened lazily).

    Not shared between threads: the Flask side makes one per app context
    (:func:`ballot_server.db.get_store`); scripts use ``with Store(engine)``.
    ``states`` is the process-wide lifecycle cache; pass the app's so that
    appends from different requests share it.
    """

    def __init__(self, engine: Engine, *, states: ElectionStates | None = None) -> None:
        self.engine = engine
        self.states = states if states is not None else ElectionStates()
        self._conn: Connection | None = None
        self._postgres = engine.dialect.name == "postgresql"
        self._gate_path = _gate_path(engine)

    def close(self) -> None:
        """Return the read connection to the pool."""
        if self._conn is not None:
            conn, self._conn = self._conn, None
            conn.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- writing --

    @contextmanager
    def locked(self, election_id: str, *, batched: bool = False) -> Iterator[BoardHandle]:
        """One transaction holding ``election_id``'s append lock; commits on exit.

        Raises :class:`~evote.errors.ServiceUnavailable` if the lock is not
        free within the engine's lock timeout, or the database fails.  Any
        exception raised in the block rolls the whole transaction back.
        ``batched``: see :class:`BoardHandle` (for a block that lets every
        error end it, as a cast does).
        """
        conn = self._write_connection()
        healthy = False
        try:
            with self._gate():
                conn.execution_options(**{WRITE_OPTION: True})
                try:
                    trans = conn.begin()  # SQLite: BEGIN IMMEDIATE, waits for the write lock
                    if self._postgres:
                        _run(conn, _SQL_PG_LOCK, {"ns": _PG_LOCK_NAMESPACE, "id": election_id})
                    cached = self._current(conn, election_id)
                except OperationalError as exc:
                    raise _unavailable(exc) from exc
                handle = BoardHandle(conn, election_id, cached, batched=batched)
                try:
                    yield handle
                    handle._flush()
                except BaseException as exc:
                    handle._open = False
                    trans.rollback()
                    if isinstance(exc, OperationalError):
                        raise _unavailable(exc) from exc
                    healthy = True
                    raise
                handle._open = False
                if handle._spoiled:
                    trans.rollback()
                    healthy = True
                    raise BoardError(
                        "a write failed in this block, which went on; nothing was written"
                    )
                try:
                    trans.commit()
                except OperationalError as exc:
                    raise _unavailable(exc) from exc
                except IntegrityError as exc:
                    raise ServiceUnavailable(
                        "a concurrent write was refused by the database; retry"
                    ) from exc
                healthy = True
                if handle._cached is not None:
                    self.states.put(election_id, handle._cached)
        finally:
            self._return_write_connection(conn, healthy)

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
                conn.execution_options(**{READ_OPTION: False})
            return conn
        try:
            return self.engine.connect()
        except OperationalError as exc:
            raise _unavailable(exc) from exc

    def _return_write_connection(self, conn: Connection, healthy: bool) -> None:
        """Keep a connection that ended its block cleanly as the read connection."""
        if healthy and self._conn is None and not conn.invalidated and not conn.in_transaction():
            conn.execution_options(**{WRITE_OPTION: False})
            if self._postgres:
                conn.execution_options(isolation_level="AUTOCOMMIT")
            else:
                conn.execution_options(**{READ_OPTION: True})
            self._conn = conn
        else:
            conn.close()

    @contextmanager
    def _gate(self) -> Iterator[None]:
        """SQLite only: queue the processes appending to one database file on a ``flock``.

        SQLite's own busy handler retries a taken write lock after sleeping 1,
        2, 5, 10 ... ms, so a worker whose ``BEGIN IMMEDIATE`` arrives while
        another worker's short append is under way often sleeps well past its
        end, leaving a core idle.  Waiting on this lock file instead (polled
        every 0.1-0.5 ms) hands the database over as soon as it is free.  It
        only orders the appenders: ``BEGIN IMMEDIATE`` still takes SQLite's
        lock, and after :data:`_GATE_PATIENCE` seconds (or if the file cannot be
        opened) the block goes on to it directly, under the busy timeout.
        The file is separate from the database's own files, whose POSIX locks
        an extra descriptor could break.
        """
        if self._gate_path is None:
            yield
            return
        try:
            fd = os.open(self._gate_path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        except OSError:
            yield
            return
        try:
            deadline = time.monotonic() + _GATE_PATIENCE
            pause = _GATE_POLL
            while True:
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except BlockingIOError:
                    if time.monotonic() >= deadline:
                        break
                    time.sleep(pause)
                    pause = min(pause * 2, _GATE_POLL_MAX)
            yield
        finally:
            os.close(fd)  # releases the flock

    def _current(self, conn: Connection, election_id: str) -> _Cached | None:
        """The head, state and Merkle frontier of the board as committed now (under the lock).

        With this process's cache of the board at ``n`` entries, one read of
        the rows from index ``n - 1`` on shows whether the cache is still a
        prefix (row ``n - 1`` has the cached leaf hash, which the hash chain
        ties to every earlier entry) and brings it up to date -- typically
        with the one or two entries another worker appended meanwhile.
        Otherwise (no cache, a different board, or far behind) the state is
        replayed from the kinds and the frontier read from ``merkle_nodes``.
        """
        e = m.board_entries.c
        cached = self.states.get(election_id)
        state, start = ElectionState(), 0
        if cached is not None:
            rows = _run(
                conn,
                _SQL_ROWS_SINCE,
                {"e": election_id, "start": cached.size - 1, "limit": _CATCH_UP},
            ).all()
            if rows and rows[0].idx == cached.size - 1 and bytes(rows[0].leaf_hash) == cached.leaf:
                if len(rows) == 1:
                    return cached
                if len(rows) < _CATCH_UP:
                    fresh = cached.extended(rows[1:])
                    self.states.put(election_id, fresh)
                    return fresh
                state, start = cached.state, cached.size
        last = conn.execute(
            select(e.idx, e.leaf_hash, e.time_ms)
            .where(e.election_id == election_id)
            .order_by(e.idx.desc())
            .limit(1)
        ).first()
        if last is None:
            return None
        kinds = conn.execute(
            select(e.kind)
            .where(e.election_id == election_id, e.idx >= start, e.idx <= last.idx)
            .order_by(e.idx)
        ).scalars()
        for kind in kinds:
            state = state.apply(kind)
        size = last.idx + 1
        nodes = _fetch_nodes(conn, election_id, merkle.subtree_nodes(0, size))
        fresh = _Cached(size, bytes(last.leaf_hash), last.time_ms, state, _frontier(size, nodes))
        self.states.put(election_id, fresh)
        return fresh

    def add_voters(self, election_id: str, voters: Iterable[tuple[str, bytes]]) -> int:
        """Register logins ``(voter id, login_code_hash(code))``; returns how many.

        All or nothing.  Raises :class:`~evote.errors.NotFound` for an unknown
        election and :class:`~evote.errors.AlreadyExists` if a voter id is
        already registered (or repeated).
        """
        rows = []
        for voter_id, login_hash in voters:
            if not isinstance(voter_id, str) or not 1 <= len(voter_id) <= 200:
                raise SchemaError("voter id: expected 1 to 200 characters")
            if not isinstance(login_hash, bytes) or len(login_hash) != LOGIN_HASH_BYTES:
                raise SchemaError(f"login hash: expected {LOGIN_HASH_BYTES} bytes")
            rows.append(
                {"election_id": election_id, "voter_id": voter_id, "login_hash": login_hash}
            )
        if not rows:
            return 0
        with self._write() as conn:
            if (
                conn.execute(
                    select(m.elections.c.id).where(m.elections.c.id == election_id)
                ).first()
                is None
            ):
                raise NotFound(f"no election {election_id!r}")
            try:
                conn.execute(insert(m.voters), rows)
            except IntegrityError:
                raise AlreadyExists("a voter id is already registered for this election") from None
        return len(rows)

    def sign_head(self, election_id: str, board_key: SigningKey, now_ms: int) -> SignedTreeHead:
        """Sign and store a tree head for the board as it is now.

        Every issued head is kept (:meth:`signed_heads`), so that whatever a
        voter or monitor was once shown can later be proven consistent.
        Raises :class:`~evote.errors.NotFound` for an empty board.
        """
        with self._read() as conn:
            size = _count(conn, election_id)
            if size == 0:
                raise NotFound(f"no board for election {election_id!r}")
            root = _root(conn, election_id, size)
        sth = TreeHead(election_id, size, root, now_ms).sign(board_key)
        row = {
            "election_id": election_id,
            "size": size,
            "time_ms": now_ms,
            "root": root,
            "signed": canonical_json(sth.to_json()),
        }
        try:
            with self._write() as conn:
                conn.execute(insert(m.tree_heads), row)
        except IntegrityError:
            # The same size at the same millisecond was signed already: the same statement.
            t = m.tree_heads.c
            with self._read() as conn:
                signed = conn.execute(
                    select(t.signed).where(
                        t.election_id == election_id, t.size == size, t.time_ms == now_ms
                    )
                ).scalar_one()
            return _signed_head(signed)
        return sth

    # -- reading --

    def elections(self) -> list[str]:
        """Ids of every election with a board, sorted."""
        with self._read() as conn:
            return list(conn.execute(select(m.elections.c.id).order_by(m.elections.c.id)).scalars())

    def entry_count(self, election_id: str) -> int:
        """Number of committed entries (0 for an unknown election)."""
        with self._read() as conn:
            return _count(conn, election_id)

    def entry(self, election_id: str, index: int) -> Entry:
        """Entry ``index``; :class:`~evote.errors.NotFound` if there is none."""
        e = m.board_entries.c
        with self._read() as conn:
            data = conn.execute(
                select(e.entry).where(e.election_id == election_id, e.idx == index)
            ).scalar()
        if data is None:
            raise NotFound(f"no entry {index} on the board of {election_id!r}")
        return Entry.from_bytes(bytes(data))

    def entries(self, election_id: str, start: int = 0, limit: int = 100) -> list[Entry]:
        """Up to ``limit`` (at most :data:`MAX_PAGE`) entries from index ``start``."""
        _check_page(start, limit)
        return [Entry.from_bytes(b) for b in self._canonical_page(election_id, start, limit)]

    def iter_entries(
        self, election_id: str, *, start: int = 0, stop: int | None = None, batch: int = 500
    ) -> Iterator[Entry]:
        """Stream entries ``[start, stop)`` (default: up to the size when called)."""
        for data in self.iter_canonical(election_id, start=start, stop=stop, batch=batch):
            yield Entry.from_bytes(data)

    def iter_canonical(
        self, election_id: str, *, start: int = 0, stop: int | None = None, batch: int = 500
    ) -> Iterator[bytes]:
        """Stream the stored RFC 8785 bytes of entries ``[start, stop)``, for record export.

        ``stop`` defaults to the size at the time of the call, so the export
        matches a tree head of that size even while ballots keep arriving.
        Each batch is its own short read, so no transaction stays open.
        """
        if stop is None:
            stop = self.entry_count(election_id)
        pos = start
        while pos < stop:
            page = self._canonical_page(election_id, pos, min(batch, stop - pos))
            if not page:
                return
            yield from page
            pos += len(page)

    def entry_by_tracking_code(self, election_id: str, tracking_code: str) -> Entry | None:
        """The ballot entry with this tracking code, or None."""
        e, b = m.board_entries.c, m.ballots.c
        with self._read() as conn:
            data = conn.execute(
                select(e.entry)
                .join_from(
                    m.ballots,
                    m.board_entries,
                    (e.election_id == b.election_id) & (e.idx == b.idx),
                )
                .where(b.election_id == election_id, b.tracking_code == tracking_code)
            ).scalar()
        return None if data is None else Entry.from_bytes(bytes(data))

    def last_ballot_index(self, election_id: str, credential: bytes) -> int | None:
        """Index of the last ``ballot_cast`` entry of ``credential`` (the one that counts)."""
        e, b = m.board_entries.c, m.ballots.c
        with self._read() as conn:
            return conn.execute(
                select(func.max(b.idx))
                .join_from(
                    m.ballots,
                    m.board_entries,
                    (e.election_id == b.election_id) & (e.idx == b.idx),
                )
                .where(
                    b.election_id == election_id,
                    b.credential == credential,
                    e.kind == BALLOT_CAST,
                )
            ).scalar()

    def counted_ballot_indices(self, election_id: str) -> list[int]:
        """The counted set (docs/rules.md §3.1, :class:`evote.rules.CountedSet`): each
        credential's last ``ballot_cast`` entry, ascending.  Every stored cast passed
        R-BAL-01/02 before it was appended, so its last one is its last valid one."""
        e, b = m.board_entries.c, m.ballots.c
        counted: CountedSet[int] = CountedSet()
        with self._read() as conn:
            rows = conn.execute(
                select(b.idx, b.credential)
                .join_from(
                    m.ballots,
                    m.board_entries,
                    (e.election_id == b.election_id) & (e.idx == b.idx),
                )
                .where(
                    b.election_id == election_id,
                    b.credential.is_not(None),
                    e.kind == BALLOT_CAST,
                )
                .order_by(b.idx)
            )
            for idx, credential in rows:
                counted.cast(bytes(credential), int(idx))
        return sorted(counted.values())

    def voter(self, election_id: str, voter_id: str) -> Voter | None:
        """The registered login ``voter_id``, or None."""
        with self._read() as conn:
            row = _run(conn, _SQL_VOTER, {"e": election_id, "v": voter_id}).first()
        if row is None:
            return None
        cred = None if row.credential is None else bytes(row.credential)
        return Voter(election_id, voter_id, bytes(row.login_hash), cred)

    def authenticate(self, election_id: str, voter_id: str, login_code: bytes) -> Voter:
        """The voter whose login code this is; :class:`~evote.errors.AuthenticationError` otherwise.

        The hashes are compared in constant time, and an unknown voter id costs
        the same comparison, so timing tells nothing about either.
        """
        voter = self.voter(election_id, voter_id)
        presented = login_code_hash(login_code)
        expected = voter.login_hash if voter is not None else bytes(LOGIN_HASH_BYTES)
        if not hmac.compare_digest(presented, expected) or voter is None:
            raise AuthenticationError("unknown voter id or wrong login code")
        return voter

    def root(self, election_id: str, size: int) -> bytes:
        """RFC 9162 root of the first ``size`` entries (``size`` <= the board's size)."""
        with self._read() as conn:
            _check_within(conn, election_id, size)
            return _root(conn, election_id, size)

    def inclusion_proof(self, election_id: str, index: int, size: int) -> list[bytes]:
        """RFC 9162 audit path of entry ``index`` in the tree of ``size`` entries.

        Requires ``0 <= index < size <= entry_count``; raises
        :class:`~evote.errors.MerkleError` otherwise.
        """
        wanted = [node for element in merkle.inclusion_nodes(index, size) for node in element]
        with self._read() as conn:
            _check_within(conn, election_id, size)
            nodes = _fetch_nodes(conn, election_id, wanted)
        return merkle.inclusion_proof(index, size, _getter(nodes))

    def consistency_proof(self, election_id: str, old_size: int, new_size: int) -> list[bytes]:
        """RFC 9162 proof that tree ``old_size`` is a prefix of tree ``new_size``.

        Requires ``0 <= old_size <= new_size <= entry_count``; raises
        :class:`~evote.errors.MerkleError` otherwise.
        """
        wanted = [
            node for element in merkle.consistency_nodes(old_size, new_size) for node in element
        ]
        with self._read() as conn:
            _check_within(conn, election_id, new_size)
            nodes = _fetch_nodes(conn, election_id, wanted)
        return merkle.consistency_proof(old_size, new_size, _getter(nodes))

    def latest_signed_head(self, election_id: str) -> SignedTreeHead | None:
        """The most recent tree head issued (largest size, then latest time)."""
        t = m.tree_heads.c
        with self._read() as conn:
            signed = conn.execute(
                select(t.signed)
                .where(t.election_id == election_id)
                .order_by(t.size.desc(), t.time_ms.desc())
                .limit(1)
            ).scalar()
        return None if signed is None else _signed_head(signed)

    def signed_heads(self, election_id: str) -> list[SignedTreeHead]:
        """Every tree head issued for the election, ascending by size then time."""
        t = m.tree_heads.c
        with self._read() as conn:
            rows = conn.execute(
                select(t.signed).where(t.election_id == election_id).order_by(t.size, t.time_ms)
            ).scalars()
            return [_signed_head(s) for s in rows]

    # -- connections --

    @contextmanager
    def _read(self) -> Iterator[Connection]:
        """A short read on this store's connection.

        The read connection runs in autocommit on both engines (on SQLite via
        :data:`READ_OPTION`): at PostgreSQL's READ COMMITTED every statement
        takes its own snapshot inside a transaction too, and the board's rows
        never change once committed, so BEGIN and COMMIT would only add two
        round trips to each read.
        """
        try:
            if self._conn is None:
                self._conn = self.engine.connect()
                if self._postgres:
                    self._conn.execution_options(isolation_level="AUTOCOMMIT")
                else:
                    self._conn.execution_options(**{READ_OPTION: True})
            with self._conn.begin():
                yield self._conn
        except OperationalError as exc:
            self.close()
            raise _unavailable(exc) from exc

    @contextmanager
    def _write(self) -> Iterator[Connection]:
        """A write transaction on its own connection (SQLite: BEGIN IMMEDIATE)."""
        try:
            with self.engine.connect() as conn:
                conn.execution_options(**{WRITE_OPTION: True})
                with conn.begin():
                    yield conn
        except OperationalError as exc:
            raise _unavailable(exc) from exc

    def _canonical_page(self, election_id: str, start: int, limit: int) -> list[bytes]:
        e = m.board_entries.c
        with self._read() as conn:
            return [
                bytes(data)
                for data in conn.execute(
                    select(e.entry)
                    .where(e.election_id == election_id, e.idx >= start)
                    .order_by(e.idx)
                    .limit(limit)
                ).scalars()
            ]


def _gate_path(engine: Engine) -> str | None:
    """The append queue's lock file of an SQLite database file (None: no file, or not SQLite)."""
    if engine.dialect.name != "sqlite":
        return None
    database = engine.url.database
    if not database or database == ":memory:" or database.startswith("file:"):
        return None
    return database + "-evote-append-lock"


# --- statements of the append path, built once ------------------------------------
# (Building a statement costs more than running it on SQLite; these run on every cast.)

_CATCH_UP = 1000
"""Most rows the locked read brings a cached board forward by; beyond, it replays."""

_GATE_POLL, _GATE_POLL_MAX = 0.0001, 0.0005
_GATE_PATIENCE = 2.0
"""Seconds an SQLite appender polls the queue's lock file before going to the database's
own lock (whose busy timeout then decides, as without the queue)."""

_APPENDED_TABLES = frozenset(
    {"board_entries", "merkle_nodes", "ballots", "ballot_ciphertexts", "tree_heads"}
)
"""The tables an append writes rows into (:meth:`BoardHandle._insert`)."""


# The cast path's statements as driver SQL (``Connection.exec_driver_sql``): SQLAlchemy still
# wraps errors and invalidates broken connections, but skips compiling and processing a
# Core statement on every call, which costs more than SQLite's own work for these short
# statements.  Written with ``:name`` parameters (sqlite3's named style) and rewritten once
# to ``%(name)s`` for psycopg.  Table and column names are this module's own; every value
# is a parameter.

_LOOKUP_CHUNK = 1000
"""Most values in one ``IN (...)`` list (both engines cap a statement's parameters)."""

_NAMED = re.compile(r":([a-z][a-z0-9_]*)")


@functools.cache
def _driver_sql(dialect: str, statement: str) -> str:
    if dialect == "postgresql":
        return _NAMED.sub(r"%(\1)s", statement)
    if dialect == "sqlite":
        return statement
    raise ValueError(f"no driver SQL for {dialect!r}")


def _run(conn: Connection, statement: str, params: Any = None) -> Any:
    """``statement`` (``:name`` parameters) through the connection's driver."""
    return conn.exec_driver_sql(_driver_sql(conn.dialect.name, statement), params)


def _placeholders(prefix: str, count: int) -> str:
    return ", ".join(f":{prefix}{k}" for k in range(count))


_SQL_ROWS_SINCE = (
    "SELECT idx, kind, leaf_hash, time_ms FROM board_entries "
    "WHERE election_id = :e AND idx >= :start ORDER BY idx LIMIT :limit"
)
_SQL_VOTER = "SELECT login_hash, credential FROM voters WHERE election_id = :e AND voter_id = :v"
_SQL_PG_LOCK = "SELECT pg_advisory_xact_lock(:ns, hashtext(:id))"


def _insert_rows(conn: Connection, table: str, rows: list[dict[str, Any]]) -> None:
    """Insert ``rows`` (dicts with the same keys) into ``table``: one statement, many rows."""
    _run(conn, _sql_insert(table, tuple(rows[0])), rows if len(rows) > 1 else rows[0])


@functools.cache
def _sql_insert(table: str, columns: tuple[str, ...]) -> str:
    if table not in _APPENDED_TABLES or not set(columns) <= set(m.metadata.tables[table].c.keys()):
        raise ValueError(f"not a board table or column: {table!r} {columns!r}")
    names = ", ".join(columns)
    values = ", ".join(f":{c}" for c in columns)
    return f"INSERT INTO {table} ({names}) VALUES ({values})"  # noqa: S608


def _pg_batch(pending: Sequence[tuple[str, list[dict[str, Any]]]]) -> tuple[str, dict[str, Any]]:
    """One PostgreSQL statement inserting every queued row: each table's INSERT but the
    last in a ``WITH`` clause.  Foreign keys between them are checked at the end of the
    statement, when all rows are in.  Table and column names are this module's own; the
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
        if table not in _APPENDED_TABLES:
            raise ValueError(f"not a board table: {table!r}")
        inserts.append(
            f"INSERT INTO {table} ({', '.join(columns)}) VALUES {', '.join(values)}"  # noqa: S608
        )
    if len(inserts) == 1:
        return inserts[0], params
    ctes = ", ".join(f"w{k} AS ({sql})" for k, sql in enumerate(inserts[:-1]))
    return f"WITH {ctes} {inserts[-1]}", params


def binding_needed(
    voter_id: str, credential: bytes, current: bytes | None, owner: str | None
) -> bool:
    """The credential-binding rule for one cast: True if the login must be bound now
    (its first cast), False for a re-vote with its own credential; BindingError when
    the login holds another credential (``current``) or the credential another login
    (``owner``).  Both are as read under the append lock, where bindings are made."""
    if current is not None:
        if current != credential:
            raise BindingError("this login has already cast with another credential")
        return False
    if owner is not None and owner != voter_id:
        raise BindingError("this credential is bound to another login")
    return True


def _duplicate(index: int) -> DuplicateCiphertext:
    return DuplicateCiphertext(
        "a ciphertext of this ballot is already on the board", detail={"index": index}
    )


# --- queries shared by the store and the handle -----------------------------------


def _count(conn: Connection, election_id: str) -> int:
    e = m.board_entries.c
    last = conn.execute(
        select(e.idx).where(e.election_id == election_id).order_by(e.idx.desc()).limit(1)
    ).scalar()
    return 0 if last is None else last + 1


def _check_within(conn: Connection, election_id: str, size: int) -> None:
    if not isinstance(size, int) or isinstance(size, bool) or size < 0:
        raise MerkleError(f"tree size {size!r} is not a non-negative integer")
    count = _count(conn, election_id)
    if size > count:
        raise MerkleError(f"tree size {size} is beyond the board's {count} entries")


def _root(conn: Connection, election_id: str, size: int) -> bytes:
    if size == 0:
        return merkle.EMPTY_ROOT
    nodes = _fetch_nodes(conn, election_id, merkle.subtree_nodes(0, size))
    return merkle.tree_root(size, _getter(nodes))


def _fetch_nodes(
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


def _getter(nodes: dict[tuple[int, int], bytes]) -> merkle.NodeGetter:
    def get(level: int, index: int) -> bytes:
        try:
            return nodes[(level, index)]
        except KeyError:
            raise MerkleError(f"subtree ({level}, {index}) is not stored") from None

    return get


def _signed_head(data: bytes) -> SignedTreeHead:
    return SignedTreeHead.from_json(parse_json(bytes(data)))


def _check_page(start: int, limit: int) -> None:
    if not isinstance(start, int) or isinstance(start, bool) or start < 0:
        raise SchemaError("start: expected a non-negative integer")
    if not isinstance(limit, int) or isinstance(limit, bool) or not 1 <= limit <= MAX_PAGE:
        raise SchemaError(f"limit: expected an integer from 1 to {MAX_PAGE}")


# --- queries added for the API layer (ballot_server/service.py) ---------------------
# Kept apart so the storage engineer can fold them into Store; each is one short
# read like the methods above, over a range of indices (a primary-key range scan),
# so a caller that remembers how far it has read never rescans the ballots.

_BALLOT_KINDS = (BALLOT_CAST, BALLOT_AUDITED)


def command_entries(store: Store, election_id: str, start: int, stop: int) -> list[Entry]:
    """The entries in ``[start, stop)`` that are not ballots, in index order: the
    election's setup, lifecycle and tally messages."""
    e = m.board_entries.c
    with store._read() as conn:
        rows = conn.execute(
            select(e.entry)
            .where(
                e.election_id == election_id,
                e.idx >= start,
                e.idx < stop,
                e.kind.not_in(_BALLOT_KINDS),
            )
            .order_by(e.idx)
        ).scalars()
        return [Entry.from_bytes(bytes(data)) for data in rows]


def kind_counts(store: Store, election_id: str, start: int, stop: int) -> dict[str, int]:
    """How many entries of each kind lie in ``[start, stop)``."""
    e = m.board_entries.c
    with store._read() as conn:
        rows = conn.execute(
            select(e.kind, func.count())
            .where(e.election_id == election_id, e.idx >= start, e.idx < stop)
            .group_by(e.kind)
        )
        return {kind: int(n) for kind, n in rows}


def entries_at(
    store: Store, election_id: str, indices: Sequence[int], *, batch: int = 500
) -> Iterator[Entry]:
    """The entries at ``indices`` (ascending), streamed in batches of short reads."""
    e = m.board_entries.c
    wanted = sorted(indices)
    for pos in range(0, len(wanted), batch):
        chunk = wanted[pos : pos + batch]
        with store._read() as conn:
            rows = conn.execute(
                select(e.entry)
                .where(e.election_id == election_id, e.idx.in_(chunk))
                .order_by(e.idx)
            ).scalars()
            page = [bytes(data) for data in rows]
        if len(page) != len(chunk):
            raise NotFound(f"{len(chunk) - len(page)} requested entries are not on the board")
        yield from (Entry.from_bytes(data) for data in page)


def sign_head_locked(board: BoardHandle, key: SigningKey, now_ms: int) -> SignedTreeHead:
    """Sign and store the head of the board as it stands inside the locked block.

    Committed together with the entries just appended, so an acknowledged
    entry and the head that includes it land in one transaction (one fsync).
    """
    size = board.size
    if size == 0:
        raise NotFound(f"no board for election {board.election_id!r}")
    root = board.root()
    sth = TreeHead(board.election_id, size, root, now_ms).sign(key)
    board._insert(
        "tree_heads",
        [
            {
                "election_id": board.election_id,
                "size": size,
                "time_ms": now_ms,
                "root": root,
                "signed": canonical_json(sth.to_json()),
            }
        ],
    )
    return sth


def iter_signed_head_bytes(
    store: Store, election_id: str, *, max_size: int, batch: int = 1000
) -> Iterator[bytes]:
    """The stored canonical JSON of every head up to ``max_size``, ascending by
    (size, time), in batches of short reads: a record export never holds all
    heads (one per appended entry) in memory."""
    t = m.tree_heads.c
    after: tuple[int, int] = (-1, -1)
    while True:
        with store._read() as conn:
            rows = conn.execute(
                select(t.size, t.time_ms, t.signed)
                .where(
                    t.election_id == election_id,
                    t.size <= max_size,
                    (t.size > after[0]) | ((t.size == after[0]) & (t.time_ms > after[1])),
                )
                .order_by(t.size, t.time_ms)
                .limit(batch)
            ).all()
        if not rows:
            return
        for row in rows:
            yield bytes(row.signed)
        after = (rows[-1].size, rows[-1].time_ms)


# --- witness cosignatures (ballot_server/witness_api.py, docs/witness.md) -----------
# Added by the witness work; kept apart like the section above.  The caller
# (the witness blueprint) has verified each cosignature against the election's
# witness policy and the board's own root before it gets here.


def add_cosignature(
    store: Store,
    election_id: str,
    *,
    size: int,
    root: bytes,
    witness: str,
    key_id: bytes,
    cosigned_at: int,
    line: str,
) -> bool:
    """Keep one witness's cosignature of the checkpoint of ``size``; True if new.

    A witness's first cosignature of a size is kept and later ones (a fresh
    timestamp over the same tree) are dropped: one line per witness is all a
    cosigned checkpoint needs, and rows are never updated.
    """
    w = m.witness_cosignatures.c
    key = (w.election_id == election_id, w.size == size, w.witness == witness, w.key_id == key_id)
    row = {
        "election_id": election_id,
        "size": size,
        "witness": witness,
        "key_id": key_id,
        "root": root,
        "cosigned_at": cosigned_at,
        "line": line,
    }
    try:
        with store._write() as conn:
            if conn.execute(select(w.size).where(*key)).first() is not None:
                return False
            conn.execute(insert(m.witness_cosignatures), row)
    except IntegrityError:  # a concurrent post of the same cosignature won
        return False
    return True


def cosignature_lines(store: Store, election_id: str, size: int, root: bytes) -> list[str]:
    """The stored cosignature lines of the checkpoint (``size``, ``root``), oldest witness name first."""
    w = m.witness_cosignatures.c
    with store._read() as conn:
        return list(
            conn.execute(
                select(w.line)
                .where(w.election_id == election_id, w.size == size, w.root == root)
                .order_by(w.witness, w.key_id)
            ).scalars()
        )


def largest_cosigned_size(
    store: Store, election_id: str, threshold: int, *, max_size: int | None = None
) -> int | None:
    """The largest checkpoint size at least ``threshold`` witnesses cosigned, or None
    (only sizes up to ``max_size`` when given: a record cut at that size)."""
    w = m.witness_cosignatures.c
    bound = () if max_size is None else (w.size <= max_size,)
    with store._read() as conn:
        return conn.execute(
            select(w.size)
            .where(w.election_id == election_id, *bound)
            .group_by(w.size)
            .having(func.count() >= threshold)
            .order_by(w.size.desc())
            .limit(1)
        ).scalar()


# --- resends and receipt lookup (idempotent casting, docs/api.md §5.1-5.2) ----------
# A ballot sent again is answered from the entry already on the board, with the receipt
# its first send got: these read that entry and the head of the transaction that wrote
# it, either inside the append lock (a resend) or as a plain read (a lookup).


def _first_head_covering(conn: Connection, election_id: str, index: int) -> SignedTreeHead | None:
    t = m.tree_heads.c
    signed = conn.execute(
        select(t.signed)
        .where(t.election_id == election_id, t.size > index)
        .order_by(t.size, t.time_ms)
        .limit(1)
    ).scalar()
    return None if signed is None else _signed_head(signed)


def first_head_covering(store: Store, election_id: str, index: int) -> SignedTreeHead | None:
    """The first signed head that includes entry ``index``: the smallest size above it,
    then the earliest time.  Every append stores its head in the transaction that
    writes the entry, and no head of a larger size can exist before that commit, so
    this is the head the entry's receipt was issued with (None: no head covers it)."""
    with store._read() as conn:
        return _first_head_covering(conn, election_id, index)


def first_head_covering_locked(board: BoardHandle, index: int) -> SignedTreeHead | None:
    """:func:`first_head_covering` inside the locked block (its queued rows sent first)."""
    return _first_head_covering(board.conn, board.election_id, index)


def entry_locked(board: BoardHandle, index: int) -> Entry:
    """Entry ``index`` as the locked block sees it (committed, or appended in the block)."""
    e = m.board_entries.c
    data = board.conn.execute(
        select(e.entry).where(e.election_id == board.election_id, e.idx == index)
    ).scalar()
    if data is None:
        raise NotFound(f"no entry {index} on the board of {board.election_id!r}")
    return Entry.from_bytes(bytes(data))
