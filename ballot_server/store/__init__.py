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
- :mod:`.oidc_states` -- used provider-login states (replays across workers);
- :mod:`.connections` -- the read connection and write transactions they share;
- :mod:`.sql` -- raw SQL and what differs between SQLite and PostgreSQL.

Reading needs no lock: rows are never changed once committed, so any read
sees a prefix of the board.  Writing goes through ``with
store.locked(election_id) as board:`` (see :mod:`.append`).

Every name other code imports from ``ballot_server.store`` is re-exported
here, so callers need not know the layout.  The three module-level functions
at the end (``sign_head_locked``, ``add_cosignature``, ``iter_signed_head_bytes``)
are the older spelling of methods, kept FOR THE TESTS ONLY (``tests/`` imports
them); no code in ``ballot_server/`` calls them -- it calls the methods.
"""

from __future__ import annotations

from ballot_server.store.append import Appends, BoardHandle
from ballot_server.store.cosignatures import Cosignatures
from ballot_server.store.frontier import ElectionStates
from ballot_server.store.heads import SignedHeads
from ballot_server.store.oidc_states import OidcStates
from ballot_server.store.reads import MAX_PAGE, BoardReads
from ballot_server.store.scheduled import ScheduledCommand, ScheduledCommands
from ballot_server.store.sql import READ_OPTION, WRITE_OPTION
from ballot_server.store.voters import (
    CREDENTIAL_BYTES,
    LOGIN_HASH_BYTES,
    Voter,
    VoterRegistry,
    binding_needed,
    login_code_hash,
)

__all__ = [
    "CREDENTIAL_BYTES",
    "LOGIN_HASH_BYTES",
    "MAX_PAGE",
    "READ_OPTION",
    "WRITE_OPTION",
    "BoardHandle",
    "ElectionStates",
    "ScheduledCommand",
    "Store",
    "Voter",
    "add_cosignature",
    "binding_needed",
    "iter_signed_head_bytes",
    "login_code_hash",
    "sign_head_locked",
]


class Store(
    Appends, BoardReads, SignedHeads, VoterRegistry, Cosignatures, ScheduledCommands, OidcStates
):
    """The board database of one app context (one connection, opened lazily).

    Not shared between threads: the Flask side makes one per app context
    (:func:`ballot_server.db.get_store`); scripts use ``with Store(engine)``.
    ``states`` is the process-wide lifecycle cache; pass the app's so that
    appends from different requests share it.
    """


# --- the older module-level spelling of methods: for the tests only -----------------
# Each is the method itself, taken from its class: ``add_cosignature(store, e, ...)`` is
# ``store.add_cosignature(e, ...)``, ``sign_head_locked(board, key, t)`` is
# ``board.sign_head(key, t)``.  The server calls the methods; drop a name here once no
# test imports it.

add_cosignature = Store.add_cosignature
iter_signed_head_bytes = Store.iter_signed_head_bytes
sign_head_locked = BoardHandle.sign_head
