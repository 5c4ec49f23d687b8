"""Used provider-login ``state`` values, shared by every worker (ballot_server/oidc.py).

A callback whose ``state`` was accepted once must be refused as a replay by
*any* worker or host, not only the one that saw it first, so the memory lives
in the database they all share.  The table holds a keyed hash of the state (the
key is derived from the board key and never stored), and its expiry; rows are
inserted once, never updated, and deleted lazily once their pending-login
window has passed (by the next insert), so the table stays as small as the
logins of the last few minutes and keeps no history of who logged in when.
"""

from __future__ import annotations

from sqlalchemy import delete, insert
from sqlalchemy.exc import IntegrityError

from ballot_server import models as m
from ballot_server.store.connections import Connections


class OidcStates(Connections):
    """The :class:`~ballot_server.store.Store`'s used login states."""

    def use_oidc_state(self, state_hash: bytes, expires_ms: int, now_ms: int) -> bool:
        """Remember ``state_hash`` until ``expires_ms``; False if it is already remembered
        (a replay).  Expired rows go first, in the same transaction."""
        s = m.oidc_states.c
        try:
            with self._write() as conn:
                conn.execute(delete(m.oidc_states).where(s.expires_ms < now_ms))
                conn.execute(insert(m.oidc_states), {"state_hash": state_hash,
                                                      "expires_ms": expires_ms})
        except IntegrityError:  # the primary key (or SQLite's trigger): seen before
            return False
        return True
