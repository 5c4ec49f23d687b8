"""Counting rules for ranked and graded questions, over the public decrypted rows.

Pure functions, the same code for the official's count and the verifier's
recount: :func:`count` dispatches on the manifest's method.  What a row
means (ranks, gaps, repeats, grades) is in :mod:`evote.counting.ballots`,
how ties are broken in :mod:`evote.counting.ties`; each rule's module states
its rule in full, and ``docs/protocol-mixnet.md`` §7 repeats them.
"""

from __future__ import annotations

from collections.abc import Sequence

from evote.counting.borda import borda
from evote.counting.irv import irv
from evote.counting.majority_judgment import majority_judgment
from evote.counting.schulze import schulze
from evote.counting.sheet import CountResult, Round
from evote.counting.stv import stv
from evote.errors import CountError

METHODS = ("irv", "stv", "schulze", "borda", "majority_judgment")

__all__ = [
    "METHODS",
    "CountResult",
    "Round",
    "borda",
    "count",
    "irv",
    "majority_judgment",
    "schulze",
    "stv",
]


def count(
    method: str,
    rows: Sequence[Sequence[int]],
    width: int,
    tie_seed: bytes,
    *,
    seats: int | None = None,
    grades: int | None = None,
) -> CountResult:
    """Count ``rows`` by ``method`` (``seats`` for STV, ``grades`` for Majority Judgment)."""
    if method == "irv":
        return irv(rows, width, tie_seed)
    if method == "stv":
        if seats is None:
            raise CountError("stv needs the number of seats")
        return stv(rows, width, seats, tie_seed)
    if method == "schulze":
        return schulze(rows, width, tie_seed)
    if method == "borda":
        return borda(rows, width, tie_seed)
    if method == "majority_judgment":
        if grades is None:
            raise CountError("majority_judgment needs the number of grades")
        return majority_judgment(rows, width, grades, tie_seed)
    raise CountError(f"unknown counting method {method!r}; expected one of {', '.join(METHODS)}")
