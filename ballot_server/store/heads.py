"""Signed tree heads: signing the board's head, and reading the heads issued.

A head is signed in one place (:func:`new_head`), for the two moments it is
needed: inside the locked block, committed with the entries it covers
(:meth:`ballot_server.store.BoardHandle.sign_head`, the cast path), and on its
own for the board as committed (:meth:`SignedHeads.sign_head`, a monitor's
request).  Every issued head is kept, so that whatever a voter or monitor was
once shown can later be proven consistent; the reads here serve the receipts
(:meth:`SignedHeads.first_head_covering`), the API and the record export.
Separate from the entry reads because heads are the board's signed statements
about itself, with their own table and their own ordering (size, then time).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError

from ballot_server import models as m
from ballot_server.store.connections import Connections
from ballot_server.store.frontier import board_size, stored_root
from evote.board import SignedTreeHead, TreeHead
from evote.encoding import canonical_json, parse_json
from evote.errors import NotFound
from evote.signing import SigningKey


def new_head(
    election_id: str, size: int, root: bytes, key: SigningKey, now_ms: int
) -> tuple[SignedTreeHead, dict[str, Any]]:
    """The head of the board of ``size`` entries with ``root``, signed, and its
    ``tree_heads`` row; :class:`~evote.errors.NotFound` for an empty board."""
    if size == 0:
        raise NotFound(f"no board for election {election_id!r}")
    sth = TreeHead(election_id, size, root, now_ms).sign(key)
    row = {
        "election_id": election_id,
        "size": size,
        "time_ms": now_ms,
        "root": root,
        "signed": canonical_json(sth.to_json()),
    }
    return sth, row


def parse_head(data: bytes) -> SignedTreeHead:
    """A stored head's canonical JSON, parsed and checked."""
    return SignedTreeHead.from_json(parse_json(bytes(data)))


def first_head_covering_in(conn: Connection, election_id: str, index: int) -> SignedTreeHead | None:
    """:meth:`SignedHeads.first_head_covering` on ``conn`` (a read, or the locked block)."""
    t = m.tree_heads.c
    signed = conn.execute(
        select(t.signed)
        .where(t.election_id == election_id, t.size > index)
        .order_by(t.size, t.time_ms)
        .limit(1)
    ).scalar()
    return None if signed is None else parse_head(signed)


class SignedHeads(Connections):
    """The :class:`~ballot_server.store.Store`'s signed heads."""

    def sign_head(self, election_id: str, board_key: SigningKey, now_ms: int) -> SignedTreeHead:
        """Sign and store a tree head for the board as it is now.

        Every issued head is kept (:meth:`signed_heads`), so that whatever a
        voter or monitor was once shown can later be proven consistent.
        Raises :class:`~evote.errors.NotFound` for an empty board.
        """
        with self._read() as conn:
            size = board_size(conn, election_id)
            root = stored_root(conn, election_id, size)
        sth, row = new_head(election_id, size, root, board_key, now_ms)
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
            return parse_head(signed)
        return sth

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
        return None if signed is None else parse_head(signed)

    def signed_heads(self, election_id: str) -> list[SignedTreeHead]:
        """Every tree head issued for the election, ascending by size then time."""
        t = m.tree_heads.c
        with self._read() as conn:
            rows = conn.execute(
                select(t.signed).where(t.election_id == election_id).order_by(t.size, t.time_ms)
            ).scalars()
            return [parse_head(s) for s in rows]

    def iter_signed_head_bytes(
        self, election_id: str, *, max_size: int, batch: int = 1000
    ) -> Iterator[bytes]:
        """The stored canonical JSON of every head up to ``max_size``, ascending by
        (size, time), in batches of short reads: a record export never holds all
        heads (one per appended entry) in memory."""
        t = m.tree_heads.c
        after: tuple[int, int] = (-1, -1)
        while True:
            with self._read() as conn:
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

    def first_head_covering(self, election_id: str, index: int) -> SignedTreeHead | None:
        """The first signed head that includes entry ``index``: the smallest size above it,
        then the earliest time.  Every append stores its head in the transaction that
        writes the entry, and no head of a larger size can exist before that commit, so
        this is the head the entry's receipt was issued with (None: no head covers it).

        A ballot sent again is answered from the entry already on the board, with the
        receipt its first send got (idempotent casting, docs/api.md §5.1-5.2)."""
        with self._read() as conn:
            return first_head_covering_in(conn, election_id, index)
