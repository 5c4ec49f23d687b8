"""Witness cosignatures of the board's checkpoints (docs/witness.md).

The witness blueprint (:mod:`ballot_server.witness_api`) has verified each
cosignature against the election's witness policy and the board's own root
before it gets here; this module only keeps the lines and answers which
checkpoint enough witnesses cosigned.  Separate from the board's tables
because cosignatures come from outside, after the fact, and are not part of
the hash chain or the Merkle tree.
"""

from __future__ import annotations

from sqlalchemy import func, insert, select
from sqlalchemy.exc import IntegrityError

from ballot_server import models as m
from ballot_server.store.connections import Connections


class Cosignatures(Connections):
    """The :class:`~ballot_server.store.Store`'s witness cosignatures."""

    def add_cosignature(
        self,
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
        key = (
            w.election_id == election_id,
            w.size == size,
            w.witness == witness,
            w.key_id == key_id,
        )
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
            with self._write() as conn:
                if conn.execute(select(w.size).where(*key)).first() is not None:
                    return False
                conn.execute(insert(m.witness_cosignatures), row)
        except IntegrityError:  # a concurrent post of the same cosignature won
            return False
        return True

    def cosignature_lines(self, election_id: str, size: int, root: bytes) -> list[str]:
        """The stored cosignature lines of the checkpoint (``size``, ``root``), oldest
        witness name first."""
        w = m.witness_cosignatures.c
        with self._read() as conn:
            return list(
                conn.execute(
                    select(w.line)
                    .where(w.election_id == election_id, w.size == size, w.root == root)
                    .order_by(w.witness, w.key_id)
                ).scalars()
            )

    def largest_cosigned_size(
        self, election_id: str, threshold: int, *, max_size: int | None = None
    ) -> int | None:
        """The largest checkpoint size at least ``threshold`` witnesses cosigned, or None
        (only sizes up to ``max_size`` when given: a record cut at that size)."""
        w = m.witness_cosignatures.c
        bound = () if max_size is None else (w.size <= max_size,)
        with self._read() as conn:
            return conn.execute(
                select(w.size)
                .where(w.election_id == election_id, *bound)
                .group_by(w.size)
                .having(func.count() >= threshold)
                .order_by(w.size.desc())
                .limit(1)
            ).scalar()
