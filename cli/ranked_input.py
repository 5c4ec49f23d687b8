"""A voter's answer to a ranked or graded question, typed at the terminal or in ``--choices``.

* **Ranked**: the option numbers in order of preference, e.g. ``3 1 2`` (or
  ``3,1,2``): option 3 first, option 1 second, option 2 third, the others
  unranked.  Empty ranks nobody (a blank ranking).  A repeated or unknown
  number is refused here, so the CLI never sends an ill-formed ranking (the
  counting rule would count it only up to the repeat, docs/protocol-mixnet.md).
  The row sent holds each option's rank (1 = first, 0 = unranked).
* **Grades**: one grade number per option, in option order, e.g. ``4 2 5``
  with the grades numbered from 1 (the worst) as listed.  Every option must be
  graded.  The row holds grade numbers from 0 (the worst).

The review shows the answer in words: ``1st: Chen Wei, 2nd: Anna Petrova``,
``Night buses: Good``.
"""

from __future__ import annotations

from collections.abc import Sequence

from cli.ranked_view import ordinal
from evote.errors import InvalidBallot
from evote.manifest import Question


def _numbers(question: Question, text: str, limit: int, what: str) -> list[int]:
    items = [p for p in text.replace(",", " ").split() if p]
    out = []
    for item in items:
        if not item.isdigit() or not 1 <= int(item) <= limit:
            raise InvalidBallot(
                f"--choices: question {question.id!r}: {what} are 1 to {limit}, not {item!r}"
            )
        out.append(int(item))
    return out


def parse_mixed(question: Question, text: str) -> tuple[int, ...]:
    """A ranked or graded question's row from the voter's text (see module doc)."""
    k = len(question.options)
    if question.kind == "ranked":
        order = _numbers(question, text, k, "option numbers")
        if len(set(order)) != len(order):
            repeated = next(o for o in order if order.count(o) > 1)
            raise InvalidBallot(
                f"--choices: question {question.id!r}: option {repeated} is ranked twice"
            )
        row = [0] * k
        for rank, option in enumerate(order, start=1):
            row[option - 1] = rank
        return tuple(row)
    grades = _numbers(question, text, len(question.grades), "grade numbers")
    if len(grades) != k:
        raise InvalidBallot(
            f"--choices: question {question.id!r}: give one grade to each of the {k} options, "
            f"in order (you gave {len(grades)})"
        )
    return tuple(g - 1 for g in grades)


def mixed_rule(question: Question, lang: str | None = None) -> str:
    """The question's rule, as shown beside its title."""
    if question.kind == "ranked":
        return "rank as many options as you like, in order of preference"
    names = ", ".join(f"{g + 1} = {question.grade_label(g, lang)}"
                      for g in range(len(question.grades)))
    return f"grade every option: {names}"


def mixed_hint(question: Question) -> str:
    if question.kind == "ranked":
        example = " ".join(str(o) for o in range(min(3, len(question.options)), 0, -1))
        return f"enter the options in order of preference, e.g. {example}"
    example = " ".join(str(min(len(question.grades), 1 + o)) for o in range(len(question.options)))
    return f"enter one grade number per option, in order, e.g. {example}"


def describe_mixed(question: Question, row: Sequence[int], lang: str | None = None) -> list[str]:
    """The answer in words, for the review before casting."""
    if question.kind == "ranked":
        ranked = sorted((r, o) for o, r in enumerate(row) if r)
        return [f"{ordinal(r)}: {question.option_label(o, lang)}" for r, o in ranked]
    return [f"{question.option_label(o, lang)}: {question.grade_label(g, lang)}"
            for o, g in enumerate(row)]
