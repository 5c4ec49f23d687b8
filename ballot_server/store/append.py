"""Appending to the board: the locked transaction, its handle, and batched writes.

``with store.locked(election_id) as board:`` (:meth:`Appends.locked`) opens
one transaction that holds the election's append lock -- ``BEGIN IMMEDIATE``
on SQLite (the database's single write lock), ``pg_advisory_xact_lock`` on
PostgreSQL (so several workers or hosts on one database queue up per
election).  Inside it ``board.head()`` and ``board.state`` are the current
last entry and lifecycle phase, and ``board.append(...)`` builds the next
entry with :func:`evote.board.next_entry` and writes it together with the
Merkle subtrees it completes.  The transaction commits when the block ends
and rolls back, writing nothing, if anything inside raises.  Because the head
is read only after the lock is taken, two appends can never build on the same
previous entry; the ``(election_id, idx)`` primary key would refuse a fork
even if the lock were bypassed.  A ballot is acknowledged only after the
block has exited, i.e. after the commit (fsynced: see
:func:`ballot_server.db.make_engine`).

An append never replays the board nor reads ``merkle_nodes``: the new root
and the new entry's audit path follow from the cached frontier
(:mod:`.frontier`).  A cast appends in a *batched* block (see
:class:`BoardHandle`): its rows go to the database in one statement on
PostgreSQL, and no savepoints are taken.  This is the only module that writes
board rows; the voter bindings the handle also makes are in :mod:`.voters`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from sqlalchemy import insert
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError, OperationalError

from ballot_server import models as m
from ballot_server.store import frontier as fr
from ballot_server.store import sql
from ballot_server.store.connections import Connections
from ballot_server.store.heads import first_head_covering_in, new_head
from ballot_server.store.reads import entry_at
from ballot_server.store.voters import CREDENTIAL_BYTES, LoginBindings
from evote import merkle
from evote.board import Entry, SignedTreeHead, next_entry
from evote.election import ElectionState
from evote.errors import (
    BoardError,
    DuplicateCiphertext,
    MerkleError,
    SchemaError,
    ServiceUnavailable,
)
from evote.signing import SigningKey


def _duplicate(index: int) -> DuplicateCiphertext:
    return DuplicateCiphertext(
        "a ciphertext of this ballot is already on the board", detail={"index": index}
    )


class BoardHandle(LoginBindings):
    """One election's board inside a locked transaction (see :meth:`Appends.locked`).

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
        cached: fr.Cached | None,
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
        self._nodes = {} if cached is None else fr.frontier_nodes(cached.size, cached.frontier)

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

    # -- reads inside the block --

    def head(self) -> Entry | None:
        """The last entry, or None for an election with no board yet."""
        cached = self._cached
        if cached is None:
            return None
        if cached.head is None:
            head = self.entry(cached.size - 1)
            if head.leaf_hash() != cached.leaf:
                raise BoardError(f"entry {head.index} changed under the append lock")
            cached = self._cached = dataclasses.replace(cached, head=head)
        return cached.head

    def entry(self, index: int) -> Entry:
        """Entry ``index`` as the locked block sees it (committed, or appended in the block)."""
        return entry_at(self.conn, self.election_id, index)

    def first_head_covering(self, index: int) -> SignedTreeHead | None:
        """:meth:`Store.first_head_covering` inside the locked block (its queued rows sent
        first): the head a resent ballot's first receipt was issued with."""
        return first_head_covering_in(self.conn, self.election_id, index)

    def root(self) -> bytes:
        """The RFC 9162 root of the board as it stands in this block (entries appended in it
        included), from the Merkle frontier: no read."""
        size = self.size
        if size == 0:
            return merkle.EMPTY_ROOT
        return merkle.tree_root(size, fr.getter(self._nodes))

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
            nodes = {**nodes, **sql.fetch_nodes(self.conn, self.election_id, missing)}
        return merkle.inclusion_proof(index, size, fr.getter(nodes))

    def ciphertext_entries(self, hashes: Iterable[bytes]) -> dict[bytes, int]:
        """The entry index of each of ``hashes`` already on this board (cast or audited),
        in one read per thousand hashes."""
        wanted = sorted(set(hashes))
        found: dict[bytes, int] = {}
        for start in range(0, len(wanted), sql.LOOKUP_CHUNK):  # a few statements for huge ballots
            chunk = wanted[start : start + sql.LOOKUP_CHUNK]
            params: dict[str, Any] = {"e": self.election_id}
            params.update((f"h{k}", h) for k, h in enumerate(chunk))
            rows = sql.run(
                self.conn,
                "SELECT ciphertext_hash, idx FROM ballot_ciphertexts "  # noqa: S608
                "WHERE election_id = :e "
                f"AND ciphertext_hash IN ({sql.placeholders('h', len(chunk))})",
                params,
            )
            found.update((bytes(row.ciphertext_hash), row.idx) for row in rows)
        return found

    # -- writes --

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
        done = fr.completed(entry.index, leaf, self._nodes)
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
        self._cached = fr.Cached(
            size, leaf, entry.time, state, fr.frontier(size, self._nodes), entry
        )
        return entry

    def sign_head(self, key: SigningKey, now_ms: int) -> SignedTreeHead:
        """Sign and store the head of the board as it stands inside the locked block.

        Committed together with the entries just appended, so an acknowledged
        entry and the head that includes it land in one transaction (one fsync).
        Raises :class:`~evote.errors.NotFound` for an empty board.
        """
        sth, row = new_head(self.election_id, self.size, self.root(), key, now_ms)
        self._insert("tree_heads", [row])
        return sth

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
        ballot = {
            "election_id": self.election_id,
            "tracking_code": tracking_code,
            "idx": index,
            "credential": credential,
        }
        keys = [
            {"election_id": self.election_id, "ciphertext_hash": h, "idx": index} for h in hashes
        ]
        try:
            with self._atomic():
                self._insert("ballots", [ballot])
                self._insert("ballot_ciphertexts", keys)
        except IntegrityError:
            raise _duplicate(index) from None

    # -- internals --

    def _write_entry(self, entry: Entry, leaf: bytes, done: dict[tuple[int, int], bytes]) -> None:
        """The entry row, its election row (entry 0) and its completed subtrees."""
        with self._atomic():
            if entry.index == 0:
                self.conn.execute(
                    insert(m.elections), {"id": self.election_id, "created_ms": entry.time}
                )
            row = {
                "election_id": self.election_id,
                "idx": entry.index,
                "kind": entry.kind,
                "time_ms": entry.time,
                "leaf_hash": leaf,
                "entry": entry.canonical(),
            }
            self._insert("board_entries", [row])
            self._insert(
                "merkle_nodes",
                [
                    {"election_id": self.election_id, "level": lvl, "idx": i, "hash": h}
                    for (lvl, i), h in done.items()
                ],
            )

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
            sql.insert_rows(self._conn, table, rows)

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
                self._conn.exec_driver_sql(*sql.pg_batch(pending))
            else:
                for table, rows in pending:
                    sql.insert_rows(self._conn, table, rows)
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


class Appends(Connections):
    """The :class:`~ballot_server.store.Store`'s locked transaction."""

    @contextmanager
    def locked(self, election_id: str, *, batched: bool = False) -> Iterator[BoardHandle]:
        """One transaction holding ``election_id``'s append lock; commits on exit.

        Raises :class:`~evote.errors.ServiceUnavailable` if the lock is not
        free within the engine's lock timeout, or the database fails.  Any
        exception raised in the block rolls the whole transaction back.
        ``batched``: see :class:`BoardHandle` (for a block that lets every
        error end it, as a cast does).  On SQLite, appending processes first
        queue on a lock file (:func:`ballot_server.store.sql.gate`).
        """
        conn = self._write_connection()
        healthy = False
        try:
            with sql.gate(self._gate_path):
                conn.execution_options(**{sql.WRITE_OPTION: True})
                try:
                    trans = conn.begin()  # SQLite: BEGIN IMMEDIATE, waits for the write lock
                    if self._postgres:
                        sql.run(
                            conn,
                            sql.SQL_PG_LOCK,
                            {"ns": sql.PG_LOCK_NAMESPACE, "id": election_id},
                        )
                    cached = fr.current(conn, self.states, election_id)
                except OperationalError as exc:
                    raise sql.unavailable(exc) from exc
                handle = BoardHandle(conn, election_id, cached, batched=batched)
                try:
                    yield handle
                    handle._flush()
                except BaseException as exc:
                    handle._open = False
                    trans.rollback()
                    if isinstance(exc, OperationalError):
                        raise sql.unavailable(exc) from exc
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
                    raise sql.unavailable(exc) from exc
                except IntegrityError as exc:
                    raise ServiceUnavailable(
                        "a concurrent write was refused by the database; retry"
                    ) from exc
                healthy = True
                if handle._cached is not None:
                    self.states.put(election_id, handle._cached)
        finally:
            self._return_write_connection(conn, healthy)
