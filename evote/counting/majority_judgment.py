"""Majority Judgment (Balinski and Laraki), for graded questions.

Rule (``docs/protocol-mixnet.md`` §7.6):

1. Every ballot grades every candidate 0..G−1, higher is better (an option
   left ungraded encrypts 0, the lowest grade).
2. A candidate's *majority grade* is the lower median of its n grades: in
   ascending order, the grade at position floor((n−1)/2) (0-based).
3. Candidates are ranked by majority grade, best first.  Between two
   candidates with the same majority grade, one median grade is removed from
   each candidate's grades and the new majority grades compared, repeatedly,
   until they differ (Balinski–Laraki's tie-break); the higher wins.  If all
   n grades are removed without a difference (identical grade profiles),
   the seeded priority decides.

``details`` carries each candidate's count of every grade (``"grades"``)
and its majority grade.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import cmp_to_key

from evote.counting.ballots import check_rows, tie_priority
from evote.counting.sheet import CountResult
from evote.errors import CountError
from evote.limits import MAX_COUNTED_GRADES as MAX_GRADES


def lower_median(counts: Sequence[int], n: int) -> int:
    """The grade at ascending position (n−1)//2 of a profile with ``n`` grades."""
    target = (n - 1) // 2
    seen = 0
    for grade, c in enumerate(counts):
        seen += c
        if seen > target:
            return grade
    raise ValueError("empty grade profile")


def compare_profiles(a: Sequence[int], b: Sequence[int]) -> int:
    """> 0 if profile ``a`` beats ``b`` by the majority-grade rule, < 0 if it loses, 0 if identical."""
    if list(a) == list(b):
        return 0
    ca, cb = list(a), list(b)
    n = sum(ca)
    while n > 0:
        ma, mb = lower_median(ca, n), lower_median(cb, n)
        if ma != mb:
            return ma - mb
        ca[ma] -= 1
        cb[mb] -= 1
        n -= 1
    return 0


def majority_judgment(
    rows: Sequence[Sequence[int]], width: int, grades: int, tie_seed: bytes
) -> CountResult:
    """Count grade rows (``row[o]`` = grade of option o, 0..grades−1) by Majority Judgment."""
    if not isinstance(grades, int) or isinstance(grades, bool) or not 2 <= grades <= MAX_GRADES:
        raise CountError(f"a graded question needs 2..{MAX_GRADES} grades, got {grades!r}")
    check_rows(rows, width, grades - 1)
    priority = tie_priority(tie_seed, width)
    profiles = [[0] * grades for _ in range(width)]
    for row in rows:
        for c, g in enumerate(row):
            profiles[c][g] += 1
    n = len(rows)

    def cmp(x: int, y: int) -> int:
        r = compare_profiles(profiles[x], profiles[y]) if n else 0
        if r:
            return -r  # better first
        return -1 if priority[x] > priority[y] else 1

    ranking = sorted(range(width), key=cmp_to_key(cmp))
    return CountResult(
        "majority_judgment",
        (ranking[0],),
        ranking=tuple(ranking),
        details={
            "grades": profiles,
            "majority_grade": [lower_median(p, n) if n else None for p in profiles],
        },
        ballots=n,
    )
