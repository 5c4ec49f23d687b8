"""One trustee key, one election: the check ``POST /elections`` makes before entry 0.

A trustee's key pair and its state file (``evote trustee init``) are bound to
one election's key ceremony.  An election created with a key that is already
a trustee of another election on this server could never finish its set-up:
the trustee cannot take part in a second ceremony with that state.  So the
server refuses it (409 ``trustee_key_reused``) and names the election that
holds the key.  (Whether the other election finished or was abandoned does
not matter: its trustee state stays bound to it.)

Reads entry 0 of every other election; a server runs elections by the
hundred, not the million, and this runs once per created election.
"""

from __future__ import annotations

from typing import Protocol

from evote.board import Entry
from evote.errors import EvoteError, TrusteeKeyReused
from evote.kinds import ELECTION_CREATED
from evote.payloads import Command, ElectionCreated


class _Elections(Protocol):
    def elections(self) -> list[str]: ...

    def entry(self, election_id: str, index: int) -> Entry: ...


def refuse_reused_trustee_keys(store: _Elections, created: ElectionCreated) -> None:
    """Raise :class:`TrusteeKeyReused` if a trustee key of ``created`` is another
    election's trustee key on ``store``."""
    mine = {key.raw: i for i, key in enumerate(created.trustees, start=1)}
    for other in store.elections():
        if other == created.election_id:
            continue  # the same id is refused as already existing, under the lock
        try:
            body = Command.parse(ELECTION_CREATED, store.entry(other, 0).payload).body
        except EvoteError:
            continue  # an election created before a format change: not ours to judge here
        for j, key in enumerate(body.trustees, start=1):
            if key.raw in mine:
                raise TrusteeKeyReused(
                    f"trustee {mine[key.raw]}'s key is already trustee {j}'s key of election "
                    f"{other!r}: trustee keys are per election; each trustee makes a new "
                    "key for this one (`evote trustee init NEW.state`)",
                    detail={"trustee": mine[key.raw], "election": other},
                )
