"""Lock-free reads of the board: entries, ballots, roots and proofs.

Rows are never changed once committed, so any read sees a prefix of the
board and needs no lock.  Proofs and historical roots come from the stored
perfect subtrees in ``O(log n)`` lookups, fetched in one query each
(:func:`evote.merkle.inclusion_nodes` names them).  Reads over a range of
indices are primary-key range scans, so a caller that remembers how far it
has read never rescans the ballots.  Separate from :mod:`.append` because
nothing here takes the append lock or writes.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

from sqlalchemy import Select, func, select
from sqlalchemy.engine import Connection

from ballot_server import models as m
from ballot_server.store import sql
from ballot_server.store.connections import Connections
from ballot_server.store.frontier import board_size, getter, stored_root
from evote import merkle
from evote.board import Entry
from evote.errors import MerkleError, NotFound, SchemaError
from evote.kinds import BALLOT_AUDITED, BALLOT_CAST
from evote.limits import MAX_PAGE as MAX_PAGE
from evote.rules import CountedSet

_BALLOT_KINDS = (BALLOT_CAST, BALLOT_AUDITED)


def entry_bytes(conn: Connection, election_id: str, index: int) -> bytes | None:
    """The stored canonical bytes of entry ``index`` (None: no such entry)."""
    e = m.board_entries.c
    data = conn.execute(
        select(e.entry).where(e.election_id == election_id, e.idx == index)
    ).scalar()
    return None if data is None else bytes(data)


def entry_at(conn: Connection, election_id: str, index: int) -> Entry:
    """Entry ``index``, parsed; :class:`~evote.errors.NotFound` if there is none."""
    data = entry_bytes(conn, election_id, index)
    if data is None:
        raise NotFound(f"no entry {index} on the board of {election_id!r}")
    return Entry.from_bytes(data)


def _casts(election_id: str, *columns: Any) -> Select[Any]:
    """``columns`` of the election's ``ballot_cast`` ballots (the ballot rows joined to
    their entries' kinds): the one query behind the counted set and a credential's
    last cast."""
    e, b = m.board_entries.c, m.ballots.c
    return (
        select(*columns)
        .join_from(m.ballots, m.board_entries, (e.election_id == b.election_id) & (e.idx == b.idx))
        .where(b.election_id == election_id, e.kind == BALLOT_CAST)
    )


def check_within(conn: Connection, election_id: str, size: int) -> None:
    """MerkleError unless ``size`` is a tree size of the committed board."""
    if not isinstance(size, int) or isinstance(size, bool) or size < 0:
        raise MerkleError(f"tree size {size!r} is not a non-negative integer")
    count = board_size(conn, election_id)
    if size > count:
        raise MerkleError(f"tree size {size} is beyond the board's {count} entries")


def _check_page(start: int, limit: int) -> None:
    if not isinstance(start, int) or isinstance(start, bool) or start < 0:
        raise SchemaError("start: expected a non-negative integer")
    if not isinstance(limit, int) or isinstance(limit, bool) or not 1 <= limit <= MAX_PAGE:
        raise SchemaError(f"limit: expected an integer from 1 to {MAX_PAGE}")


class BoardReads(Connections):
    """The :class:`~ballot_server.store.Store`'s reads of entries, ballots and proofs."""

    # -- entries --

    def elections(self) -> list[str]:
        """Ids of every election with a board, sorted."""
        with self._read() as conn:
            return list(conn.execute(select(m.elections.c.id).order_by(m.elections.c.id)).scalars())

    def entry_count(self, election_id: str) -> int:
        """Number of committed entries (0 for an unknown election)."""
        with self._read() as conn:
            return board_size(conn, election_id)

    def entry(self, election_id: str, index: int) -> Entry:
        """Entry ``index``; :class:`~evote.errors.NotFound` if there is none."""
        with self._read() as conn:
            return entry_at(conn, election_id, index)

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

    def entries_at(
        self, election_id: str, indices: Sequence[int], *, batch: int = 500
    ) -> Iterator[Entry]:
        """The entries at ``indices`` (ascending), streamed in batches of short reads."""
        e = m.board_entries.c
        wanted = sorted(indices)
        for pos in range(0, len(wanted), batch):
            chunk = wanted[pos : pos + batch]
            with self._read() as conn:
                rows = conn.execute(
                    select(e.entry)
                    .where(e.election_id == election_id, e.idx.in_(chunk))
                    .order_by(e.idx)
                ).scalars()
                page = [bytes(data) for data in rows]
            if len(page) != len(chunk):
                raise NotFound(f"{len(chunk) - len(page)} requested entries are not on the board")
            yield from (Entry.from_bytes(data) for data in page)

    def command_entries(self, election_id: str, start: int, stop: int) -> list[Entry]:
        """The entries in ``[start, stop)`` that are not ballots, in index order: the
        election's setup, lifecycle and tally messages."""
        e = m.board_entries.c
        with self._read() as conn:
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

    def kind_counts(self, election_id: str, start: int, stop: int) -> dict[str, int]:
        """How many entries of each kind lie in ``[start, stop)``."""
        e = m.board_entries.c
        with self._read() as conn:
            rows = conn.execute(
                select(e.kind, func.count())
                .where(e.election_id == election_id, e.idx >= start, e.idx < stop)
                .group_by(e.kind)
            )
            return {kind: int(n) for kind, n in rows}

    # -- ballots --

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
        b = m.ballots.c
        with self._read() as conn:
            return conn.execute(
                _casts(election_id, func.max(b.idx)).where(b.credential == credential)
            ).scalar()

    def counted_ballot_indices(self, election_id: str) -> list[int]:
        """The counted set (docs/rules.md §3.1, :class:`evote.rules.CountedSet`): each
        credential's last ``ballot_cast`` entry, ascending.  Every stored cast passed
        R-BAL-01/02 before it was appended, so its last one is its last valid one."""
        b = m.ballots.c
        counted: CountedSet[int] = CountedSet()
        with self._read() as conn:
            rows = conn.execute(
                _casts(election_id, b.idx, b.credential)
                .where(b.credential.is_not(None))
                .order_by(b.idx)
            )
            for idx, credential in rows:
                counted.cast(bytes(credential), int(idx))
        return sorted(counted.values())

    # -- roots and proofs --

    def root(self, election_id: str, size: int) -> bytes:
        """RFC 9162 root of the first ``size`` entries (``size`` <= the board's size)."""
        with self._read() as conn:
            check_within(conn, election_id, size)
            return stored_root(conn, election_id, size)

    def inclusion_proof(self, election_id: str, index: int, size: int) -> list[bytes]:
        """RFC 9162 audit path of entry ``index`` in the tree of ``size`` entries.

        Requires ``0 <= index < size <= entry_count``; raises
        :class:`~evote.errors.MerkleError` otherwise.
        """
        wanted = [node for element in merkle.inclusion_nodes(index, size) for node in element]
        with self._read() as conn:
            check_within(conn, election_id, size)
            nodes = sql.fetch_nodes(conn, election_id, wanted)
        return merkle.inclusion_proof(index, size, getter(nodes))

    def consistency_proof(self, election_id: str, old_size: int, new_size: int) -> list[bytes]:
        """RFC 9162 proof that tree ``old_size`` is a prefix of tree ``new_size``.

        Requires ``0 <= old_size <= new_size <= entry_count``; raises
        :class:`~evote.errors.MerkleError` otherwise.
        """
        wanted = [
            node for element in merkle.consistency_nodes(old_size, new_size) for node in element
        ]
        with self._read() as conn:
            check_within(conn, election_id, new_size)
            nodes = sql.fetch_nodes(conn, election_id, wanted)
        return merkle.consistency_proof(old_size, new_size, getter(nodes))

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
