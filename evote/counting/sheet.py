"""The count sheet: what every counting rule returns, round by round.

Exact rational numbers (:class:`fractions.Fraction`) throughout, written in
JSON as strings ``"p/q"`` in lowest terms (``"p"`` when whole), so the sheet
a verifier recomputes is byte for byte the one the official published.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any


def fraction_json(x: Fraction | int) -> str:
    x = Fraction(x)
    return str(x.numerator) if x.denominator == 1 else f"{x.numerator}/{x.denominator}"


@dataclass(frozen=True)
class Round:
    """One stage of an IRV or STV count.

    ``votes[c]`` is candidate c's total at the end of the stage (None once
    excluded); ``action`` says what the stage did: ``"first"`` (the first
    count), ``"surplus"`` (``subject``'s surplus transferred at
    ``transfer_value``) or ``"exclusion"`` (``subject`` excluded, its ballots
    transferred at their current values).
    """

    action: str
    subject: int | None
    transfer_value: Fraction | None
    votes: tuple[Fraction | None, ...]
    exhausted: Fraction
    elected: tuple[int, ...]

    def to_json(self) -> dict:
        return {
            "action": self.action,
            "subject": self.subject,
            "transfer_value": None if self.transfer_value is None else fraction_json(self.transfer_value),
            "votes": [None if v is None else fraction_json(v) for v in self.votes],
            "exhausted": fraction_json(self.exhausted),
            "elected": list(self.elected),
        }


@dataclass(frozen=True)
class CountResult:
    """A rule's outcome: the winners (in order of election), a full ranking
    where the rule defines one, the rounds (IRV, STV) and rule-specific
    figures (``details``: pairwise matrices, scores, grade profiles)."""

    method: str
    winners: tuple[int, ...]
    ranking: tuple[int, ...] = ()
    rounds: tuple[Round, ...] = ()
    details: dict[str, Any] = field(default_factory=dict)
    ballots: int = 0
    blank: int = 0

    def to_json(self) -> dict:
        return {
            "method": self.method,
            "winners": list(self.winners),
            "ranking": list(self.ranking),
            "rounds": [r.to_json() for r in self.rounds],
            "details": self.details,
            "ballots": self.ballots,
            "blank": self.blank,
        }
