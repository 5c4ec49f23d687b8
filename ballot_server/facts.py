"""What the board says about an election, and the per-process cache of it.

:class:`ElectionFacts` is the board projection (:class:`evote.rules.BoardState`)
over an election's command entries, kept with the count of every kind
(and its ``election_closed`` entry);
:class:`BoardCache` keeps one per election (and the ballot context of open
elections, and the mixnet inputs of closed ones) so that a request reads only
the entries appended since the last one.  Separate from :mod:`ballot_server.service` because these are values and
a cache -- no rule, no store write -- and the app factory builds the cache
once per process, before any service exists.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from evote.board import Entry
from evote.election import Phase
from evote.errors import NotFound
from evote.fingerprint import ElectionContext
from evote.kinds import ELECTION_CLOSED, ELECTION_CREATED
from evote.payloads import Command
from evote.ranked import MixInputs
from evote.rules import BoardState


@dataclass(frozen=True)
class ElectionFacts:
    """The board projection (:class:`evote.rules.BoardState`) over the election's
    command entries up to board size ``size``, with the count of every kind.

    Built incrementally: :meth:`extended` reads only entries appended since,
    so keeping one per process costs one short range read per request.  The
    entries come from this server's own database, where every one was checked
    by the projection before it was appended, so they are folded in
    (:meth:`BoardState.fold`) without checking them again.  Attribute reads
    (``facts.created``, ``facts.joint_key``, ``facts.context()`` ...) are the
    projection's.
    """

    board: BoardState
    size: int = 0
    counts: Mapping[str, int] = field(default_factory=dict)
    closed: Entry | None = None
    """The ``election_closed`` entry once on the board: its leaf hash seeds the
    count's ties (:func:`evote.ranked.tie_seed`), which the projection cannot
    know (it holds no entry hashes)."""

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)
        return getattr(self.board, name)

    @property
    def election_id(self) -> str:
        return self.board.election_id

    @classmethod
    def from_entries(
        cls, entries: Iterable[Entry], counts: Mapping[str, int], size: int
    ) -> ElectionFacts:
        it = iter(entries)
        first = next(it, None)
        if first is None or first.kind != ELECTION_CREATED:
            raise NotFound("no election_created entry on this board")
        facts = cls(BoardState().fold(Command.from_entry(first)))
        return facts.extended(it, counts, size)

    def extended(
        self, entries: Iterable[Entry], counts: Mapping[str, int], size: int
    ) -> ElectionFacts:
        """A copy that also covers ``entries`` (the command entries up to ``size``)."""
        board, closed = self.board, self.closed
        for entry in entries:
            board = board.fold(Command.from_entry(entry))
            if entry.kind == ELECTION_CLOSED:
                closed = entry
        merged = dict(self.counts)
        for kind, n in counts.items():
            merged[kind] = merged.get(kind, 0) + n
        return ElectionFacts(board, size, merged, closed)

    @property
    def phase(self) -> Phase:
        phase = self.board.phase
        assert phase is not None  # entry 0 is always applied
        return phase


class BoardCache:
    """Per-process cache of :class:`ElectionFacts` and of open elections' contexts.

    Safe to share between threads; everything cached is derived from entries,
    which never change, so a stale copy is only ever *behind*, never wrong.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._facts: dict[str, ElectionFacts] = {}
        self._contexts: dict[str, ElectionContext] = {}
        self._mixing: dict[str, MixInputs] = {}

    def facts(self, election_id: str) -> ElectionFacts | None:
        with self._lock:
            return self._facts.get(election_id)

    def put_facts(self, facts: ElectionFacts) -> None:
        with self._lock:
            old = self._facts.get(facts.election_id)
            if old is None or old.size <= facts.size:
                self._facts[facts.election_id] = facts

    def context(self, election_id: str) -> ElectionContext | None:
        with self._lock:
            return self._contexts.get(election_id)

    def put_context(self, election_id: str, ctx: ElectionContext) -> None:
        with self._lock:
            self._contexts[election_id] = ctx

    def mixing(self, election_id: str) -> MixInputs | None:
        """The mixnet's inputs of a closed election (:func:`evote.ranked.mix_inputs`):
        final once ``election_closed`` is on the board, so computed once per process."""
        with self._lock:
            return self._mixing.get(election_id)

    def put_mixing(self, election_id: str, mixing: MixInputs) -> None:
        with self._lock:
            self._mixing[election_id] = mixing
