"""Instant-runoff voting (single winner).

Rule (``docs/protocol-mixnet.md`` §7.2):

1. Every ballot counts for its highest-ranked *continuing* candidate; a
   ballot with none left is *exhausted* (blank ballots are exhausted from the
   start).
2. If a candidate has more than half of the votes of the non-exhausted
   ballots, or only one candidate continues, that candidate wins.
3. Otherwise the candidate with the fewest votes is excluded (ties: backwards,
   then the seeded priority, :mod:`evote.counting.ties`), and the count
   repeats from 1.  One candidate is excluded per round.

The sheet has one :class:`~evote.counting.sheet.Round` per count: the first
count, then one per exclusion, each with every candidate's votes after it.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from fractions import Fraction

from evote.counting.ballots import ranked_ballots, tie_priority
from evote.counting.sheet import CountResult, Round
from evote.counting.ties import break_tie


def irv(rows: Sequence[Sequence[int]], width: int, tie_seed: bytes) -> CountResult:
    """Count rank rows (``row[o]`` = rank of option o, 0 = unranked) by IRV."""
    ballots = Counter(ranked_ballots(rows, width))
    priority = tie_priority(tie_seed, width)
    continuing = set(range(width))
    history: list[tuple[Fraction | None, ...]] = []
    rounds: list[Round] = []
    action, subject = "first", None
    while True:
        votes = [0] * width
        exhausted = 0
        for prefs, n in ballots.items():
            top = next((c for c in prefs if c in continuing), None)
            if top is None:
                exhausted += n
            else:
                votes[top] += n
        row = tuple(Fraction(votes[c]) if c in continuing else None for c in range(width))
        total = sum(votes[c] for c in continuing)
        best = max(votes[c] for c in continuing)
        leaders = [c for c in continuing if votes[c] == best]
        winner = None
        if len(continuing) == 1:
            winner = next(iter(continuing))
        elif 2 * best > total:
            winner = leaders[0]
        rounds.append(
            Round(action, subject, None, row, Fraction(exhausted), () if winner is None else (winner,))
        )
        if winner is not None:
            return CountResult(
                "irv",
                (winner,),
                rounds=tuple(rounds),
                ballots=sum(ballots.values()),
                blank=ballots.get((), 0),
            )
        low = min(votes[c] for c in continuing)
        lowest = [c for c in continuing if votes[c] == low]
        out = lowest[0] if len(lowest) == 1 else break_tie(lowest, history, priority, lowest=True)
        history.append(row)
        continuing.discard(out)
        action, subject = "exclusion", out
