"""The bulletin board's storage: serialised appends and lock-free reads.

:class:`Store` is the only code that touches the board tables
(:mod:`ballot_server.models`); the API layer calls it and holds no SQL.  It is
assembled here from one part per job, each in its own module:

- :mod:`.append` -- the locked transaction (:meth:`Store.locked`) and its
  :class:`BoardHandle`: appends, batching, ballot indexing, the head signed in
  the block;
- :mod:`.frontier` -- the Merkle frontier and the per-process cache of each
  board's head and state (:class:`ElectionStates`);
- :mod:`.reads` -- lock-free reads of entries, ballots, roots and proofs;
- :mod:`.heads` -- signing tree heads (one path for both moments) and reading them;
- :mod:`.voters` -- the voter list, logins and the login-to-credential binding;
- :mod:`.cosignatures` -- witness cosignatures of checkpoints;
- :mod:`.connections` -- the read connection and write transactions they share;
- :mod:`.sql` -- raw SQL and what differs between SQLite and PostgreSQL.

Reading needs no lock: rows are never changed once committed, so any read
sees a prefix of the board.  Writing goes through ``with
store.locked(election_id) as board:`` (see :mod:`.append`).

Every name other code imports from ``ballot_server.store`` is re-exported
here, so callers need not know the layout.  The module-level functions at the
end are the older spelling of methods (``command_entries(store, ...)`` is
``store.command_entries(...)``), kept for the callers outside the package
until they call the methods.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

from ballot_server.store.append import Appends, BoardHandle
from ballot_server.store.cosignatures import Cosignatures
from ballot_server.store.frontier import ElectionStates
from ballot_server.store.heads import SignedHeads
from ballot_server.store.reads import MAX_PAGE, BoardReads
from ballot_server.store.sql import READ_OPTION, WRITE_OPTION
from ballot_server.store.voters import (
    CREDENTIAL_BYTES,
    LOGIN_HASH_BYTES,
    Voter,
    VoterRegistry,
    binding_needed,
    login_code_hash,
)
from evote.board import Entry, SignedTreeHead
from evote.signing import SigningKey

__all__ = [
    "CREDENTIAL_BYTES",
    "LOGIN_HASH_BYTES",
    "MAX_PAGE",
    "READ_OPTION",
    "WRITE_OPTION",
    "BoardHandle",
    "ElectionStates",
    "Store",
    "Voter",
    "add_cosignature",
    "binding_needed",
    "command_entries",
    "cosignature_lines",
    "entries_at",
    "entry_locked",
    "first_head_covering",
    "first_head_covering_locked",
    "iter_signed_head_bytes",
    "kind_counts",
    "largest_cosigned_size",
    "login_code_hash",
    "sign_head_locked",
]


class Store(Appends, BoardReads, SignedHeads, VoterRegistry, Cosignatures):
    """The board database of one app context (one connection, opened lazily).

    Not shared between threads: the Flask side makes one per app context
    (:func:`ballot_server.db.get_store`); scripts use ``with Store(engine)``.
    ``states`` is the process-wide lifecycle cache; pass the app's so that
    appends from different requests share it.
    """


# --- the older module-level spelling of methods (callers outside the package) -------


def command_entries(store: Store, election_id: str, start: int, stop: int) -> list[Entry]:
    """:meth:`Store.command_entries`."""
    return store.command_entries(election_id, start, stop)


def kind_counts(store: Store, election_id: str, start: int, stop: int) -> dict[str, int]:
    """:meth:`Store.kind_counts`."""
    return store.kind_counts(election_id, start, stop)


def entries_at(
    store: Store, election_id: str, indices: Sequence[int], *, batch: int = 500
) -> Iterator[Entry]:
    """:meth:`Store.entries_at`."""
    return store.entries_at(election_id, indices, batch=batch)


def iter_signed_head_bytes(
    store: Store, election_id: str, *, max_size: int, batch: int = 1000
) -> Iterator[bytes]:
    """:meth:`Store.iter_signed_head_bytes`."""
    return store.iter_signed_head_bytes(election_id, max_size=max_size, batch=batch)


def first_head_covering(store: Store, election_id: str, index: int) -> SignedTreeHead | None:
    """:meth:`Store.first_head_covering`."""
    return store.first_head_covering(election_id, index)


def sign_head_locked(board: BoardHandle, key: SigningKey, now_ms: int) -> SignedTreeHead:
    """:meth:`BoardHandle.sign_head`."""
    return board.sign_head(key, now_ms)


def first_head_covering_locked(board: BoardHandle, index: int) -> SignedTreeHead | None:
    """:meth:`BoardHandle.first_head_covering`."""
    return board.first_head_covering(index)


def entry_locked(board: BoardHandle, index: int) -> Entry:
    """:meth:`BoardHandle.entry`."""
    return board.entry(index)


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
    """:meth:`Store.add_cosignature`."""
    return store.add_cosignature(
        election_id,
        size=size,
        root=root,
        witness=witness,
        key_id=key_id,
        cosigned_at=cosigned_at,
        line=line,
    )


def cosignature_lines(store: Store, election_id: str, size: int, root: bytes) -> list[str]:
    """:meth:`Store.cosignature_lines`."""
    return store.cosignature_lines(election_id, size, root)


def largest_cosigned_size(
    store: Store, election_id: str, threshold: int, *, max_size: int | None = None
) -> int | None:
    """:meth:`Store.largest_cosigned_size`."""
    return store.largest_cosigned_size(election_id, threshold, max_size=max_size)
