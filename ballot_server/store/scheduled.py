"""The commands officials signed in advance for a scheduled election (docs/guide.md).

Kept apart from the board's tables: a scheduled command is not on the board
until the scheduler appends it (through the ordinary locked command path), and
whether it is still to do is read from the board, never from here.  The rows
are inserted once and never changed (the table is append-only): scheduling a
kind again adds a row with the next ``seq``, and the newest row of each kind is
the one that counts -- so an official can re-sign (after a booth rebuild, say)
without the server ever rewriting what it was given.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, insert, select
from sqlalchemy.exc import IntegrityError

from ballot_server import models as m
from ballot_server.store.connections import Connections
from evote.errors import AlreadyExists


@dataclass(frozen=True, slots=True)
class ScheduledCommand:
    election_id: str
    kind: str
    due_ms: int
    command: str  # the SignedCommand's canonical JSON
    seq: int = 1


class ScheduledCommands(Connections):
    """The :class:`~ballot_server.store.Store`'s scheduled commands."""

    def add_scheduled(self, election_id: str, kind: str, due_ms: int, command: str) -> int:
        """Keep one pre-signed command (it replaces an earlier one of its kind); its seq."""
        s = m.scheduled_commands.c
        try:
            with self._write() as conn:
                last = conn.execute(select(func.max(s.seq)).where(
                    s.election_id == election_id, s.kind == kind)).scalar()
                seq = (last or 0) + 1
                conn.execute(insert(m.scheduled_commands), {
                    "election_id": election_id, "kind": kind, "seq": seq, "due_ms": due_ms,
                    "command": command})
        except IntegrityError:  # a concurrent post of the same kind took this seq
            raise AlreadyExists(f"a {kind} of {election_id!r} was scheduled at the same "
                                "moment; look at the schedule and retry",
                                detail={"kind": kind}) from None
        return seq

    def scheduled(self, election_id: str | None = None, *,
                  due_by: int | None = None) -> list[ScheduledCommand]:
        """The newest scheduled command of each kind (of one election, or all; only
        those due by ``due_by``), earliest first."""
        s = m.scheduled_commands.c
        query = select(s.election_id, s.kind, s.seq, s.due_ms, s.command)
        if election_id is not None:
            query = query.where(s.election_id == election_id)
        with self._read() as conn:
            rows = conn.execute(query).all()
        newest: dict[tuple[str, str], ScheduledCommand] = {}
        for r in rows:
            key = (r.election_id, r.kind)
            if key not in newest or r.seq > newest[key].seq:
                newest[key] = ScheduledCommand(r.election_id, r.kind, r.due_ms, r.command, r.seq)
        out = [c for c in newest.values() if due_by is None or c.due_ms <= due_by]
        return sorted(out, key=lambda c: (c.due_ms, c.election_id, c.kind))
