"""Single transferable vote for several seats: Droop quota, weighted inclusive
Gregory transfers, in exact rational arithmetic.

Rule (``docs/protocol-mixnet.md`` §7.3), after the Scottish STV rules (2007)
with two documented differences: values are exact fractions (no truncation
to five decimals), and an excluded candidate's ballots move in one
transfer, whatever their values:

1. Valid ballots V are those with at least one preference.  The quota is the
   Droop quota ``floor(V / (seats + 1)) + 1``.
2. Every ballot starts at value 1 with its first preference.
3. At each stage, first, every continuing candidate whose total reaches the
   quota is elected (largest total first; ties backwards, then the seeded
   priority).  Elected candidates receive no further ballots.
4. The count stops when every seat is filled, or when the continuing
   candidates are no more than the seats left; they are then all elected,
   in order of their totals.
5. Otherwise, if an elected candidate has an untransferred surplus (total −
   quota > 0), the largest is transferred (ties backwards, then priority):
   *every* ballot the candidate holds (weighted inclusive Gregory) moves on
   to its next continuing preference, its value multiplied by the transfer
   value ``surplus / total``; a ballot with no continuing preference left
   adds that value to the exhausted total.  The candidate keeps exactly the
   quota.
6. Otherwise the continuing candidate with the lowest total is excluded
   (ties backwards, then priority) and all its ballots move on at their
   current values.  Then back to 3.

Totals, transfer values and the exhausted total are exact; at every stage the
candidates' totals plus the exhausted total equal V.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from fractions import Fraction

from evote.counting.ballots import ranked_ballots, tie_priority
from evote.counting.sheet import CountResult, Round
from evote.counting.ties import break_tie, order_by
from evote.errors import CountError

# A parcel: ballots with the same preferences and the same value each.
Parcel = tuple[tuple[int, ...], Fraction, int]


def droop_quota(valid: int, seats: int) -> int:
    return valid // (seats + 1) + 1


def stv(rows: Sequence[Sequence[int]], width: int, seats: int, tie_seed: bytes) -> CountResult:
    """Count rank rows by STV for ``seats`` seats (rules in the module docstring)."""
    if not isinstance(seats, int) or isinstance(seats, bool) or not 1 <= seats <= width:
        raise CountError(f"seats must be between 1 and the {width} candidates, got {seats!r}")
    ballots = Counter(ranked_ballots(rows, width))
    blank = ballots.pop((), 0)
    valid = sum(ballots.values())
    quota = droop_quota(valid, seats)
    priority = tie_priority(tie_seed, width)

    hopeful = set(range(width))
    elected: list[int] = []
    excluded: set[int] = set()
    piles: dict[int, list[Parcel]] = {c: [] for c in range(width)}
    totals: list[Fraction] = [Fraction(0)] * width
    exhausted = Fraction(0)
    pending: list[int] = []  # elected, surplus not yet transferred
    history: list[tuple[Fraction | None, ...]] = []
    rounds: list[Round] = []

    def place(prefs: tuple[int, ...], value: Fraction, n: int) -> None:
        nonlocal exhausted
        nxt = next((c for c in prefs if c in hopeful), None)
        if nxt is None:
            exhausted += value * n
        else:
            piles[nxt].append((prefs, value, n))
            totals[nxt] += value * n

    for prefs, n in ballots.items():
        place(prefs, Fraction(1), n)

    action, subject, tv = "first", None, None
    while True:
        reached = [c for c in hopeful if totals[c] >= quota]
        now = []
        for c in order_by(reached, totals, history, priority):
            if len(elected) < seats:
                elected.append(c)
                now.append(c)
                hopeful.discard(c)
                pending.append(c)
        if len(elected) < seats and len(elected) + len(hopeful) <= seats:
            for c in order_by(hopeful, totals, history, priority):
                elected.append(c)
                now.append(c)
            hopeful.clear()
        row = tuple(None if c in excluded else totals[c] for c in range(width))
        rounds.append(Round(action, subject, tv, row, exhausted, tuple(now)))
        if len(elected) == seats:
            break
        surplus = [c for c in pending if totals[c] > quota]
        if surplus:
            biggest = max(totals[c] for c in surplus)
            top = [c for c in surplus if totals[c] == biggest]
            c = top[0] if len(top) == 1 else break_tie(top, history, priority, lowest=False)
            tv = (totals[c] - quota) / totals[c]
            parcels, piles[c] = piles[c], []
            totals[c] = Fraction(quota)
            history.append(row)
            for prefs, value, n in parcels:
                place(prefs, value * tv, n)
            pending = [p for p in pending if p != c]
            action, subject = "surplus", c
            continue
        low = min(totals[c] for c in hopeful)
        lowest = [c for c in hopeful if totals[c] == low]
        c = lowest[0] if len(lowest) == 1 else break_tie(lowest, history, priority, lowest=True)
        history.append(row)
        hopeful.discard(c)
        excluded.add(c)
        parcels, piles[c] = piles[c], []
        totals[c] = Fraction(0)
        for prefs, value, n in parcels:
            place(prefs, value, n)
        action, subject, tv = "exclusion", c, None
    return CountResult(
        "stv",
        tuple(elected),
        rounds=tuple(rounds),
        details={"seats": seats, "quota": quota, "valid": valid},
        ballots=valid + blank,
        blank=blank,
    )
