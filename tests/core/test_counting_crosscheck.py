"""evote's IRV against an independent implementation on thousands of random profiles.

Variant matched: pyrankvote's ``instant_runoff_voting`` (preferential block
voting for one seat: exclude the lowest until one candidate is left, with a
bulk exclusion of candidates who cannot catch up).  It breaks ties its own
way (second choices, then at random), evote by a backwards rule and a seeded
priority, so profiles with a tie at any exclusion are set aside (their count
is reported); on every other profile the two must elect the same candidate.

Not cross-checked here: STV (pyrankvote's STV uses an unrounded
votes/(seats+1) threshold and a different surplus rule, so no matching
variant), Schulze, Borda and Majority Judgment (the implementations on PyPI
that match, e.g. pref_voting, need numba/ortools/scipy, too heavy for this
suite); those rules are checked against their published examples and by
properties in tests/core/test_counting.py.
"""

from __future__ import annotations

import random

import pyrankvote
from pyrankvote import Ballot, Candidate

from evote.counting import irv

SEED = b"\x01" * 32


def random_profile(rnd: random.Random) -> tuple[int, list[list[int]]]:
    k = rnd.randint(2, 6)
    rows = []
    for _ in range(rnd.randint(1, 40)):
        order = rnd.sample(range(k), rnd.randint(1, k))
        row = [0] * k
        for r, c in enumerate(order, start=1):
            row[c] = r
        rows.append(row)
    return k, rows


def tie_at_some_exclusion(result) -> bool:
    for rnd in result.rounds[:-1]:
        live = [v for v in rnd.votes if v is not None]
        if live.count(min(live)) > 1:
            return True
    return False


def test_irv_matches_pyrankvote_on_random_profiles() -> None:
    rnd = random.Random(20261208)  # noqa: S311 - test data, not secrets
    compared = skipped = 0
    for _ in range(3000):
        k, rows = random_profile(rnd)
        ours = irv(rows, k, SEED)
        if tie_at_some_exclusion(ours):
            skipped += 1
            continue
        candidates = [Candidate(f"c{i}") for i in range(k)]
        ballots = [
            Ballot(ranked_candidates=[candidates[c] for c in sorted(range(k), key=row.__getitem__) if row[c]])
            for row in rows
        ]
        theirs = pyrankvote.instant_runoff_voting(candidates, ballots).get_winners()
        assert [c.name for c in theirs] == [f"c{ours.winners[0]}"], rows
        compared += 1
    print(f"compared {compared} profiles, {skipped} set aside for ties")
    assert compared >= 1500
