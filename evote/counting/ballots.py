"""What a decrypted row means, and the tie-break order nobody can steer.

A ranked question's row gives each option its rank: ``row[o]`` is 1 for the
first choice, 2 for the second, ..., and 0 for an option left unranked.  The
encryption proves only that each value is in 0..k; whether the ranks form a
proper ranking cannot be proved cheaply inside the ciphertexts, so the rule
is fixed here, as real ranked-choice rules do it:

* the preferences are read in rank order 1, 2, 3, ...;
* reading stops at the first rank that is *missing* (a gap: no option has
  it) or *repeated* (two or more options have it); that rank and every rank
  after it are ignored;
* so ``[2, 1, 0]`` is "option 1, then option 0"; ``[1, 3, 0]`` is "option 0"
  only (rank 2 is missing); ``[1, 2, 2]`` is "option 0" only (rank 2 is
  repeated); ``[0, 0, 0]`` and ``[1, 1, 2]`` express no preference (blank).

A graded question's row gives each option a grade 0..G−1, higher is better;
0 is also what an option the voter left ungraded encrypts, so an ungraded
option counts as the lowest grade (as Majority Judgment prescribes).

Ties between candidates, where a rule needs one broken, fall to the
*tie-break priority* seeded by the hash of the board's last entry before the
count: ``priority(c) = tagged_hash(TAG_TIE_BREAK, seed, enc_int(c))``, and of
two tied candidates the one with the larger priority (compared as bytes) is
favoured.  Nobody knows the seed before the last ballot is on the board, and
afterwards nobody can change it.
"""

from __future__ import annotations

from collections.abc import Sequence

from evote.errors import CountError
from evote.hashing import TAG_TIE_BREAK, enc_int, tagged_hash
from evote.limits import MAX_CANDIDATES as MAX_CANDIDATES


def check_rows(rows: Sequence[Sequence[int]], width: int, max_value: int) -> None:
    """Every row has ``width`` integers in [0, max_value], or :class:`CountError`."""
    if not 1 <= width <= MAX_CANDIDATES:
        raise CountError(f"a question needs 1..{MAX_CANDIDATES} options, got {width}")
    for i, row in enumerate(rows):
        if len(row) != width:
            raise CountError(f"row {i} has {len(row)} values, expected {width}", detail={"row": i})
        for o, v in enumerate(row):
            if not isinstance(v, int) or isinstance(v, bool) or not 0 <= v <= max_value:
                raise CountError(
                    f"row {i} option {o}: {v!r} is not in [0, {max_value}]",
                    detail={"row": i, "option": o},
                )


def preferences(row: Sequence[int]) -> tuple[int, ...]:
    """The options of a rank row in order of preference (rules in the module docstring)."""
    by_rank: dict[int, list[int]] = {}
    for option, rank in enumerate(row):
        if rank:
            by_rank.setdefault(rank, []).append(option)
    out = []
    for rank in range(1, len(row) + 1):
        options = by_rank.get(rank)
        if options is None or len(options) != 1:
            break
        out.append(options[0])
    return tuple(out)


def ranked_ballots(rows: Sequence[Sequence[int]], width: int) -> list[tuple[int, ...]]:
    """Check the rows and read each one's preferences."""
    check_rows(rows, width, width)
    return [preferences(row) for row in rows]


def tie_priority(seed: bytes, candidates: int) -> tuple[bytes, ...]:
    """priority[c] for every candidate; the larger is favoured in a tie."""
    if not isinstance(seed, bytes):
        raise TypeError("the tie-break seed must be bytes")
    return tuple(tagged_hash(TAG_TIE_BREAK, seed, enc_int(c)) for c in range(candidates))
