"""Breaking ties between candidates, the same way in every rule that needs it.

1. *Backwards*: look at the earlier stages of the count, most recent first,
   and keep only the tied candidates with the fewest (for an exclusion) or
   most (for an order of election) votes at that stage, until one is left
   (the rule of the Scottish STV regulations and of most RCV statutes).
2. Then *the seeded priority* of :func:`evote.counting.ballots.tie_priority`:
   the smallest priority is excluded first, the largest elected first.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from fractions import Fraction


def break_tie(
    tied: Iterable[int],
    history: Sequence[Sequence[Fraction | int | None]],
    priority: Sequence[bytes],
    *,
    lowest: bool,
) -> int:
    """The one candidate of ``tied`` to exclude (``lowest``) or to favour.

    ``history`` holds the vote totals of the stages *before* the one at which
    the tie arose (oldest first).
    """
    cands = sorted(set(tied))
    if not cands:
        raise ValueError("no candidates to choose from")
    for votes in reversed(history):
        if len(cands) == 1:
            break
        values = {c: votes[c] for c in cands if votes[c] is not None}
        if len(values) != len(cands):
            continue
        target = min(values.values()) if lowest else max(values.values())
        cands = [c for c in cands if values[c] == target]
    if len(cands) == 1:
        return cands[0]
    return (min if lowest else max)(cands, key=lambda c: priority[c])


def order_by(
    candidates: Iterable[int],
    score: Sequence[Fraction | int],
    history: Sequence[Sequence[Fraction | int | None]],
    priority: Sequence[bytes],
) -> list[int]:
    """``candidates`` by ``score``, highest first, ties broken as :func:`break_tie` favours."""
    remaining = set(candidates)
    out = []
    while remaining:
        best = max(score[c] for c in remaining)
        top = [c for c in remaining if score[c] == best]
        pick = top[0] if len(top) == 1 else break_tie(top, history, priority, lowest=False)
        out.append(pick)
        remaining.discard(pick)
    return out
