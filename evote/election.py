"""The election lifecycle as one pure transition table over board entry kinds.

All lifecycle rules live in this file (h11's "Rule 1"): :data:`ALLOWED` says
which entry kinds may be appended in which phase and which phase follows, and
:data:`REQUIRES` / :data:`ONCE` add the few rules a table of phases cannot
express.  The server consults :meth:`ElectionState.apply` before appending an
entry, and the verifier replays the whole board through it, so both refuse the
same histories (a ballot after close, a tally before close, opening an
election whose key or credential list was never published).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from evote.errors import LifecycleError
from evote.kinds import ELECTION_ABANDONED, REGISTRY, Phase
from evote.kinds import KINDS as _KINDS
from evote.rulebook import violation

__all__ = ["ALLOWED", "KINDS", "ONCE", "REQUIRES", "ElectionState", "LifecycleError", "Phase"]


KINDS: tuple[str, ...] = _KINDS
"""Every entry kind a board may hold, in lifecycle order (:data:`evote.kinds.REGISTRY`)."""


def _table() -> dict[Phase | None, dict[str, Phase]]:
    table: dict[Phase | None, dict[str, Phase]] = {None: {}, **{p: {} for p in Phase}}
    for s in REGISTRY:
        table[s.phase][s.kind] = s.then
    return table


ALLOWED: dict[Phase | None, dict[str, Phase]] = _table()
"""``ALLOWED[phase][kind]`` is the phase after appending ``kind``; a kind missing
from ``ALLOWED[phase]`` may not be appended in that phase (R-PHASE-03).  ``None``
is the empty board, so ``election_created`` can only be entry 0 (R-PHASE-01).
Derived from the registry's ``phase``/``then``."""

REQUIRES: dict[str, frozenset[str]] = {
    "election_opened": frozenset({"key_published", "credentials_published"}),
    "partial_decryption": frozenset({"tally_posted"}),
    "result_published": frozenset({"tally_posted"}),
}
"""Kinds that must already be on the board before ``kind`` may be appended
(R-PHASE-04 for election_opened, R-PHASE-06 for the tally material)."""

ONCE: frozenset[str] = frozenset({"key_published", "tally_posted"})
"""Kinds that may appear at most once: a second election key or a second tally
would leave the record ambiguous about which one counts (R-PHASE-05)."""


def _phase_name(phase: Phase | None) -> str:
    return "none (empty board)" if phase is None else phase.value


@dataclass(frozen=True, slots=True)
class ElectionState:
    """The lifecycle position after some prefix of the board.

    ``phase`` is ``None`` before entry 0; ``seen`` holds every kind appended so
    far (only the flags :data:`REQUIRES` and :data:`ONCE` consult matter).
    """

    phase: Phase | None = None
    seen: frozenset[str] = field(default_factory=frozenset)

    def apply(self, kind: str) -> ElectionState:
        """The state after appending an entry of ``kind``.

        Raises :class:`~evote.errors.PhaseViolation` (a ``LifecycleError``)
        naming the rule, the kind and the phase when the table does not allow it.
        """
        where = _phase_name(self.phase)
        if kind not in KINDS:
            raise violation("R-PHASE-02", f"unknown entry kind {kind!r} in phase {where}")
        nxt = ALLOWED[self.phase].get(kind)
        if self.phase is Phase.ABANDONED or (kind == ELECTION_ABANDONED and nxt is None
                                             and self.phase is not None):
            raise violation("R-PHASE-07", f"{kind} is not allowed in phase {where}"
                            + (": the election was abandoned" if self.phase is Phase.ABANDONED
                               else ": only an election in setup may be abandoned"))
        if nxt is None:
            rule = "R-PHASE-01" if "election_created" in (kind, *ALLOWED[self.phase]) else (
                "R-PHASE-03")
            raise violation(rule, f"{kind} is not allowed in phase {where}")
        missing = sorted(REQUIRES.get(kind, frozenset()) - self.seen)
        if missing:
            rule = "R-PHASE-04" if kind == "election_opened" else "R-PHASE-06"
            raise violation(
                rule, f"{kind} is not allowed in phase {where} before {' and '.join(missing)}"
            )
        if kind in ONCE and kind in self.seen:
            raise violation("R-PHASE-05", f"{kind} is not allowed twice (phase {where})")
        return ElectionState(nxt, self.seen | {kind})

    @classmethod
    def replay(cls, kinds: Iterable[str]) -> ElectionState:
        """The state after a whole sequence of kinds, from the empty board."""
        state = cls()
        for kind in kinds:
            state = state.apply(kind)
        return state

    def allowed_kinds(self) -> frozenset[str]:
        """The kinds that :meth:`apply` would accept now (for the server's UI and errors)."""
        out = set()
        for kind in ALLOWED[self.phase]:
            if REQUIRES.get(kind, frozenset()) <= self.seen and not (
                kind in ONCE and kind in self.seen
            ):
                out.add(kind)
        return frozenset(out)


def _self_check() -> None:
    """Every kind is reachable in exactly one phase: the table and KINDS agree."""
    listed = [kind for moves in ALLOWED.values() for kind in moves]
    if sorted(listed) != sorted(KINDS):
        raise AssertionError("ALLOWED and KINDS disagree")


_self_check()
