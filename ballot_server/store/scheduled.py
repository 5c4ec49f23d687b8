"""The commands officials signed in advance for a scheduled election (docs/guide.md).

Kept apart from the board's tables: a scheduled command is not on the board
until the scheduler appends it (through the ordinary locked command path), and
whether it is still to do is read from the board, never from here, so the
rows are inserted once and never changed (the table is append-only).
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import insert, select
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


class ScheduledCommands(Connections):
    """The :class:`~ballot_server.store.Store`'s scheduled commands."""

    def add_scheduled(self, election_id: str, kind: str, due_ms: int, command: str) -> None:
        """Keep one pre-signed command; 409 already_exists if that kind is scheduled."""
        s = m.scheduled_commands.c
        row = {"election_id": election_id, "kind": kind, "due_ms": due_ms, "command": command}
        try:
            with self._write() as conn:
                found = conn.execute(
                    select(s.kind).where(s.election_id == election_id, s.kind == kind)).first()
                if found is not None:
                    raise AlreadyExists(f"a {kind} is already scheduled for {election_id!r}",
                                        detail={"kind": kind})
                conn.execute(insert(m.scheduled_commands), row)
        except IntegrityError:  # a concurrent post of the same kind won
            raise AlreadyExists(f"a {kind} is already scheduled for {election_id!r}",
                                detail={"kind": kind}) from None

    def scheduled(self, election_id: str | None = None, *,
                  due_by: int | None = None) -> list[ScheduledCommand]:
        """The scheduled commands (of one election, or all; only those due by ``due_by``),
        earliest first."""
        s = m.scheduled_commands.c
        query = select(s.election_id, s.kind, s.due_ms, s.command)
        if election_id is not None:
            query = query.where(s.election_id == election_id)
        if due_by is not None:
            query = query.where(s.due_ms <= due_by)
        with self._read() as conn:
            rows = conn.execute(query.order_by(s.due_ms, s.election_id, s.kind)).all()
        return [ScheduledCommand(r.election_id, r.kind, r.due_ms, r.command) for r in rows]
