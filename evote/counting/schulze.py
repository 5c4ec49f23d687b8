"""The Schulze method (Condorcet, winning votes).

Rule (``docs/protocol-mixnet.md`` §7.4):

1. d[x][y] is the number of ballots that rank x above y.  A ranked candidate
   is above every unranked one; unranked candidates (and those after the
   first gap or repeat, see :mod:`evote.counting.ballots`) are tied with
   each other, so such a ballot says nothing between them.
2. The link x→y has strength d[x][y] if d[x][y] > d[y][x], else 0; p[x][y],
   the strength of the strongest path from x to y, is the largest over all
   paths of the weakest link on it (Floyd–Warshall).
3. x beats y when p[x][y] > p[y][x]; this relation is transitive (Schulze
   2011).  Candidates are ranked by how many others they beat, most first;
   candidates that beat equally many (which the method leaves tied) are
   ordered by the seeded priority.  The winner is the first in this ranking,
   so a Condorcet winner always wins.

``details`` carries d (``"pairwise"``) and p (``"strongest"``).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

from evote.counting.ballots import ranked_ballots, tie_priority
from evote.counting.sheet import CountResult


def pairwise(ballots: Counter, width: int) -> list[list[int]]:
    """d[x][y]: each ballot puts x above every candidate it has not placed before x."""
    d = [[0] * width for _ in range(width)]
    for prefs, n in ballots.items():
        ranked = set()
        for x in prefs:
            row = d[x]
            for y in range(width):
                if y != x and y not in ranked:
                    row[y] += n
            ranked.add(x)
    return d


def schulze(rows: Sequence[Sequence[int]], width: int, tie_seed: bytes) -> CountResult:
    """Count rank rows by the Schulze method (rules in the module docstring)."""
    ballots = Counter(ranked_ballots(rows, width))
    priority = tie_priority(tie_seed, width)
    d = pairwise(ballots, width)
    p = [[d[i][j] if d[i][j] > d[j][i] else 0 for j in range(width)] for i in range(width)]
    for i in range(width):
        for j in range(width):
            if j == i:
                continue
            pji = p[j][i]
            if not pji:
                continue
            for k in range(width):
                if k != i and k != j:
                    via = min(pji, p[i][k])
                    if via > p[j][k]:
                        p[j][k] = via
    beats = [sum(1 for y in range(width) if y != x and p[x][y] > p[y][x]) for x in range(width)]
    ranking = sorted(range(width), key=lambda c: (beats[c], priority[c]), reverse=True)
    return CountResult(
        "schulze",
        (ranking[0],),
        ranking=tuple(ranking),
        details={"pairwise": d, "strongest": p, "beats": beats},
        ballots=sum(ballots.values()),
        blank=ballots.get((), 0),
    )
