"""The Borda count (positional).

Rule (``docs/protocol-mixnet.md`` §7.5): with k candidates, a ballot gives
k−1 points to its first preference, k−2 to its second, ..., k−m to its m-th;
unranked candidates (and those after the first gap or repeat) get 0.
Candidates are ranked by points, most first; equal points are ordered by the
seeded priority.  The winner is the first.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

from evote.counting.ballots import ranked_ballots, tie_priority
from evote.counting.sheet import CountResult


def borda(rows: Sequence[Sequence[int]], width: int, tie_seed: bytes) -> CountResult:
    """Count rank rows by Borda (rules in the module docstring)."""
    ballots = Counter(ranked_ballots(rows, width))
    priority = tie_priority(tie_seed, width)
    points = [0] * width
    for prefs, n in ballots.items():
        for position, c in enumerate(prefs):
            points[c] += (width - 1 - position) * n
    ranking = sorted(range(width), key=lambda c: (points[c], priority[c]), reverse=True)
    return CountResult(
        "borda",
        (ranking[0],),
        ranking=tuple(ranking),
        details={"points": points},
        ballots=sum(ballots.values()),
        blank=ballots.get((), 0),
    )
