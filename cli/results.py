"""Showing a result: a table per question on the terminal, and the chart's data.

Counts are weighted totals (a voter of weight 2 adds 2); for score questions
they are total points.  Percentages are of the counted weight for choice
questions (so with "pick up to two" they can add up to more than 100%).
"""

from __future__ import annotations

from rich.table import Table

from cli.chart import QuestionTotals
from cli.console import stdout
from evote.manifest import Manifest, Question
from evote.tally import Result


def question_totals(
    manifest: Manifest, result: Result, lang: str | None = None
) -> list[QuestionTotals]:
    return [
        QuestionTotals(
            title=q.label(lang),
            options=tuple(
                (q.option_label(o, lang), result.counts[i][o]) for o in range(len(q.options))
            ),
        )
        for i, q in _tallied(manifest)
    ]


def _tallied(manifest: Manifest) -> list[tuple[int, Question]]:
    """(row of the result, question) of the choice and score questions: the result
    holds no row for a ranked or grades question (R-MIX-11; cli/ranked_view.py)."""
    return [(i, manifest.questions[q]) for i, q in enumerate(manifest.tallied_questions)]


def print_result(
    manifest: Manifest, result: Result, *, counted: int, total_weight: int, lang: str | None = None
) -> None:
    """Print one table per question, then the number of counted ballots."""
    console = stdout()
    console.print(f"[bold]{manifest.label(lang)}[/bold]  ({manifest.election_id})")
    for i, q in _tallied(manifest):
        table = Table(title=q.label(lang), title_justify="left", show_edge=False)
        table.add_column("option")
        unit = "points" if q.kind == "score" else "votes"
        table.add_column(unit, justify="right")
        if q.kind == "choice":
            table.add_column("share", justify="right")
        for o in range(len(q.options)):
            count = result.counts[i][o]
            row = [q.option_label(o, lang), str(count)]
            if q.kind == "choice":
                row.append(f"{100 * count / total_weight:.1f}%" if total_weight else "-")
            table.add_row(*row)
        console.print(table)
    weight_note = "" if total_weight == counted else f" (total weight {total_weight})"
    console.print(f"{counted} ballots counted{weight_note}")
