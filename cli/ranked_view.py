"""Showing a ranked or graded count: the sheet round by round, and the chart's figures.

The sheet is the one the official posted in ``ranked_result`` (the board
projection recounted it, R-MIX-09, before the CLI shows it).  Votes are exact
fractions (``"7/2"`` after an STV transfer), shown as decimals with two places.

* IRV and STV: one column per round (first preferences, then each exclusion or
  surplus transfer), one row per candidate, and the exhausted ballots; who was
  elected or excluded at each round.
* Schulze: the pairwise preference counts and the ranking.
* Borda: the points of each option.
* Majority Judgment: each option's grade profile and majority grade.

The chart of a ranked question shows the final round of IRV/STV (the votes that
decided), Borda's points, or each option's majority grade (0 = the worst).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from fractions import Fraction
from typing import Any

from rich.table import Table

from cli.board_view import BoardView
from cli.chart import QuestionTotals
from cli.console import stdout
from evote.manifest import Manifest, Question


def _number(value: str | int | None) -> str:
    if value is None:
        return "-"
    x = Fraction(value) if isinstance(value, str) else Fraction(value)
    return str(x.numerator) if x.denominator == 1 else f"{float(x):.2f}"


def _names(q: Question, indices: Sequence[int], lang: str | None) -> str:
    return ", ".join(q.option_label(i, lang) for i in indices) or "-"


def ordinal(n: int) -> str:
    """1 -> "1st", 2 -> "2nd", 11 -> "11th"."""
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


def rounds_table(q: Question, sheet: Mapping[str, Any], lang: str | None = None) -> Table:
    """IRV/STV: candidates down, rounds across (what each round did in the header)."""
    rounds = sheet.get("rounds") or []
    table = Table(title=f"{q.label(lang)} ({sheet['method']})", title_justify="left",
                  show_edge=False)
    table.add_column("candidate")
    for n, r in enumerate(rounds, 1):
        what = r["action"] if r.get("subject") is None else (
            f"{r['action']} {q.option_label(r['subject'], lang)}")
        table.add_column(f"round {n}\n{what}", justify="right")
    for o in range(len(q.options)):
        table.add_row(q.option_label(o, lang), *(_number(r["votes"][o]) for r in rounds))
    table.add_row("exhausted", *(_number(r["exhausted"]) for r in rounds))
    table.add_row("elected", *(_names(q, r.get("elected") or [], lang) for r in rounds))
    return table


def detail_table(q: Question, sheet: Mapping[str, Any], lang: str | None = None) -> Table:
    """Schulze, Borda and Majority Judgment: one row per option with its figures."""
    details = sheet.get("details") or {}
    method = sheet["method"]
    table = Table(title=f"{q.label(lang)} ({method})", title_justify="left", show_edge=False)
    table.add_column("option")
    if method == "borda":
        table.add_column("points", justify="right")
        for o in range(len(q.options)):
            table.add_row(q.option_label(o, lang), _number(details["points"][o]))
    elif method == "majority_judgment":
        for g in range(len(q.grades)):
            table.add_column(q.grade_label(g, lang), justify="right")
        table.add_column("majority grade")
        for o in range(len(q.options)):
            profile = details["grades"][o]
            grade = details["majority_grade"][o]
            table.add_row(q.option_label(o, lang), *(str(n) for n in profile),
                          q.grade_label(grade, lang) if grade is not None else "-")
    else:  # schulze: d[i][j], voters preferring i to j
        for o in range(len(q.options)):
            table.add_column(f"over {q.option_label(o, lang)}", justify="right")
        for o in range(len(q.options)):
            row = details["pairwise"][o]
            table.add_row(q.option_label(o, lang),
                          *("-" if o == j else _number(row[j]) for j in range(len(q.options))))
    return table


def print_sheets(manifest: Manifest, sheets: Mapping[int, Mapping[str, Any]],
                 lang: str | None = None) -> None:
    """Print every ranked or graded question's count sheet, then its winners."""
    console = stdout()
    for q_index in manifest.mixed_questions:
        q = manifest.questions[q_index]
        sheet = sheets.get(q_index)
        if sheet is None:
            console.print(f"{q.label(lang)}: no ballot was counted")
            continue
        table = rounds_table(q, sheet, lang) if sheet.get("rounds") else detail_table(
            q, sheet, lang)
        console.print(table)
        winners = _names(q, sheet.get("winners") or [], lang)
        order = sheet.get("ranking") or []
        ranking = ", ".join(f"{ordinal(n)}: {q.option_label(o, lang)}"
                            for n, o in enumerate(order, 1))
        console.print(f"elected: {winners}" + (f"  (ranking {ranking})" if ranking else ""))
        console.print(f"{sheet.get('ballots', 0)} ballots, {sheet.get('blank', 0)} blank")


def sheet_totals(manifest: Manifest, sheets: Mapping[int, Mapping[str, Any]],
                 lang: str | None = None) -> list[QuestionTotals]:
    """The chart's bars for each counted ranked or graded question (see module doc)."""
    out = []
    for q_index in manifest.mixed_questions:
        q, sheet = manifest.questions[q_index], sheets.get(q_index)
        if sheet is None:
            continue
        details = sheet.get("details") or {}
        if sheet.get("rounds"):
            last = sheet["rounds"][-1]["votes"]
            values = [0 if v is None else round(Fraction(v)) for v in last]
            title = f"{q.label(lang)}: final round"
        elif sheet["method"] == "borda":
            values, title = [int(p) for p in details["points"]], f"{q.label(lang)}: points"
        elif sheet["method"] == "majority_judgment":
            values = [g or 0 for g in details["majority_grade"]]
            title = f"{q.label(lang)}: majority grade (0 = {q.grade_label(0, lang)})"
        else:
            strongest = details.get("strongest") or []
            values = [sum(1 for j in range(len(q.options)) if j != o and
                          Fraction(strongest[o][j]) > Fraction(strongest[j][o]))
                      for o in range(len(q.options))] if strongest else [0] * len(q.options)
            title = f"{q.label(lang)}: beaten opponents (Schulze)"
        out.append(QuestionTotals(title, tuple(
            (q.option_label(o, lang), values[o]) for o in range(len(q.options)))))
    return out


def ranked_sheets(view: BoardView) -> dict[int, Mapping[str, Any]]:
    """The posted count sheets by question (the projection recounted each, R-MIX-09)."""
    return {q: r.count for q, r in view.board.ranked.items()}
