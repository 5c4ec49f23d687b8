"""The ranked and graded questions' count sheets in the HTML report: a table and a chart.

Kept apart from :mod:`verifier.report` (the checks' table and the tallied
questions' bars) because a count sheet has its own shape: IRV and STV count
in rounds (each candidate's votes after each transfer, the exhausted ballots,
who is elected or excluded), the other methods in one step (Borda's points,
Schulze's pairwise matrix, Majority Judgment's grade profiles).  Both views
are drawn from the sheet exactly as posted in ``ranked_result`` and recounted
by check 22, so nothing here computes a result.

The one-step methods get a chart too: Borda's points, Schulze's number of
candidates each one beats, Majority Judgment's grade profile per candidate
(stacked, worst grade first); their other figures follow as text.

Accessibility: every chart is inline SVG with ``role="img"``, a ``<title>``
and a ``<desc>`` that points at the table right after it, which holds the
same numbers (the table is the chart's text equivalent, in a ``<figure>``
whose ``<figcaption>`` names the question).  No script, no external resource.
"""

from __future__ import annotations

import html
import json
from fractions import Fraction
from typing import Any

_ROW = 18
_GAP = 10
_LABEL = 160
_WIDTH = 640
_SHADES = ("#90cdf4", "#63b3ed", "#4299e1", "#3182ce", "#2b6cb0", "#2c5282", "#2a4365")


def _num(x: Any) -> Fraction:
    return Fraction(str(x)) if x is not None else Fraction(0)


def _show(x: Any) -> str:
    """A sheet number ("p/q" or "p") as text, a fraction also as a decimal."""
    if x is None:
        return "—"
    f = Fraction(str(x))
    return str(f.numerator) if f.denominator == 1 else f"{float(f):.3f} ({x})"


def _round_label(i: int, r: dict[str, Any], options: list[str]) -> str:
    subject = r.get("subject")
    name = options[subject] if isinstance(subject, int) and 0 <= subject < len(options) else ""
    action = r.get("action", "")
    if action == "first":
        return f"round {i + 1}: first preferences"
    if action == "surplus":
        return f"round {i + 1}: surplus of {name}"
    if action == "exclusion":
        return f"round {i + 1}: {name} excluded"
    return f"round {i + 1}: {action}"


def _rounds_chart(item: dict[str, Any], table_id: str) -> str:
    """Each candidate's votes in every round, as bars from light (first) to dark (last)."""
    e = html.escape
    options, rounds = item["options"], item["sheet"]["rounds"]
    top = max((_num(v) for r in rounds for v in r["votes"]), default=Fraction(0)) or Fraction(1)
    room = _WIDTH - _LABEL - 90
    group = len(rounds) * _ROW + _GAP
    height = len(options) * group + _GAP
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" role="img" width="{_WIDTH}" height="{height}" '
        f'viewBox="0 0 {_WIDTH} {height}" aria-describedby="{table_id}">',
        f"<title>{e(item['title'])}: votes per candidate in each of {len(rounds)} rounds</title>",
        "<desc>The same figures are in the table that follows the chart.</desc>",
    ]
    for c, name in enumerate(options):
        y0 = _GAP + c * group
        parts.append(f'<text x="{_LABEL - 6}" y="{y0 + _ROW * 0.75:.1f}" text-anchor="end" '
                     f'font-size="13">{e(name[:24])}</text>')
        for i, r in enumerate(rounds):
            v = r["votes"][c] if c < len(r["votes"]) else None
            y = y0 + i * _ROW
            if v is None:
                parts.append(f'<text x="{_LABEL}" y="{y + _ROW * 0.75:.1f}" font-size="11" '
                             f'fill="#718096">excluded</text>')
                continue
            w = round(room * float(_num(v) / top))
            shade = _SHADES[min(i, len(_SHADES) - 1)]
            parts.append(f'<rect x="{_LABEL}" y="{y + 2}" width="{w}" height="{_ROW - 4}" '
                         f'fill="{shade}"><title>{e(name)}, round {i + 1}: {e(_show(v))}'
                         "</title></rect>")
            parts.append(f'<text x="{_LABEL + w + 4}" y="{y + _ROW * 0.75:.1f}" '
                         f'font-size="11">{e(_show(v))}</text>')
    parts.append("</svg>")
    return "".join(parts)


def _rounds_table(item: dict[str, Any], table_id: str) -> str:
    e = html.escape
    options, rounds = item["options"], item["sheet"]["rounds"]
    head = "".join(f'<th scope="col">{e(_round_label(i, r, options))}</th>'
                   for i, r in enumerate(rounds))
    body = []
    for c, name in enumerate(options):
        cells = "".join(f"<td>{e(_show(r['votes'][c]))}</td>" for r in rounds)
        body.append(f'<tr><th scope="row">{e(name)}</th>{cells}</tr>')
    body.append('<tr><th scope="row">exhausted</th>'
                + "".join(f"<td>{e(_show(r.get('exhausted')))}</td>" for r in rounds) + "</tr>")
    body.append('<tr><th scope="row">elected so far</th>' + "".join(
        "<td>" + e(", ".join(options[w] for w in r.get("elected", ()))) + "</td>"
        for r in rounds) + "</tr>")
    return (f'<table id="{table_id}"><tr><th scope="col">candidate</th>{head}</tr>'
            f"{''.join(body)}</table>")


def _one_step(item: dict[str, Any]) -> tuple[list[str], list[list[int]]] | None:
    """The per-candidate figures of a count without rounds, as (series names, values per
    candidate): Borda's points, Schulze's number of candidates beaten, Majority
    Judgment's number of each grade (worst first).  None for anything else."""
    details, n = item["sheet"].get("details", {}), len(item["options"])

    def ints(v: Any) -> bool:
        return isinstance(v, list) and len(v) == n

    method = item["sheet"].get("method")
    if method == "borda" and ints(details.get("points")):
        return ["points"], [[int(x)] for x in details["points"]]
    if method == "schulze" and ints(details.get("beats")):
        return ["candidates beaten"], [[int(x)] for x in details["beats"]]
    if method == "majority_judgment" and ints(details.get("grades")):
        grades = item.get("grades") or [f"grade {g}" for g in range(len(details["grades"][0]))]
        return list(grades), [[int(x) for x in row] for row in details["grades"]]
    return None


def _bars_chart(item: dict[str, Any], table_id: str, names: list[str],
                values: list[list[int]]) -> str:
    """One bar per candidate, stacked by series (a grade profile), as inline SVG."""
    e = html.escape
    top = max((sum(v) for v in values), default=0) or 1
    room = _WIDTH - _LABEL - 90
    height = len(values) * (_ROW + _GAP) + _GAP
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" role="img" width="{_WIDTH}" height="{height}" '
        f'viewBox="0 0 {_WIDTH} {height}" aria-describedby="{table_id}">',
        f"<title>{e(item['title'])}: {e(', '.join(names))} per candidate</title>",
        "<desc>The same figures are in the table that follows the chart.</desc>",
    ]
    for c, row in enumerate(values):
        y = _GAP + c * (_ROW + _GAP)
        name = item["options"][c]
        parts.append(f'<text x="{_LABEL - 6}" y="{y + _ROW * 0.75:.1f}" text-anchor="end" '
                     f'font-size="13">{e(name[:24])}</text>')
        x = _LABEL
        for s, v in enumerate(row):
            w = round(room * v / top)
            shade = _SHADES[min(s * 2, len(_SHADES) - 1)]
            parts.append(f'<rect x="{x}" y="{y}" width="{w}" height="{_ROW}" fill="{shade}">'
                         f"<title>{e(name)}, {e(names[s])}: {v}</title></rect>")
            x += w
        parts.append(f'<text x="{x + 4}" y="{y + _ROW * 0.75:.1f}" font-size="11">'
                     f"{e(' / '.join(str(v) for v in row))}</text>")
    parts.append("</svg>")
    return "".join(parts)


def _bars_table(item: dict[str, Any], table_id: str, names: list[str],
                values: list[list[int]]) -> str:
    e = html.escape
    head = "".join(f'<th scope="col">{e(n)}</th>' for n in names)
    body = "".join(
        f'<tr><th scope="row">{e(item["options"][c])}</th>'
        + "".join(f"<td>{v}</td>" for v in row) + "</tr>"
        for c, row in enumerate(values))
    return (f'<table id="{table_id}"><tr><th scope="col">candidate</th>{head}</tr>'
            f"{body}</table>")


def _summary(item: dict[str, Any]) -> str:
    e = html.escape
    options, sheet = item["options"], item["sheet"]

    def names(ix: Any) -> str:
        return ", ".join(options[i] for i in ix if isinstance(i, int) and 0 <= i < len(options))

    ranking = sheet.get("ranking") or ()
    return (f"<p>Method <code>{e(str(sheet.get('method')))}</code>; "
            f"{sheet.get('ballots', 0)} ballots, {sheet.get('blank', 0)} blank. "
            f"Winner{'s' if len(sheet.get('winners', ())) != 1 else ''}: "
            f"<strong>{e(names(sheet.get('winners', ())))}</strong>"
            + (f"; ranking: {e(names(ranking))}" if ranking else "") + ".</p>")


def rounds_html(ranked: tuple[dict[str, Any], ...]) -> str:
    """The "Ranked and graded questions" section of the report ("" when there are none)."""
    if not ranked:
        return ""
    e = html.escape
    out = ["<h2>Ranked and graded questions</h2>"]
    for item in ranked:
        table_id = f"rounds-q{int(item['question'])}"
        out.append(f"<h3>{e(item['title'])}</h3>{_summary(item)}")
        sheet = item["sheet"]
        if sheet.get("rounds"):
            out.append(
                f"<figure>{_rounds_chart(item, table_id)}"
                f"<figcaption>{e(item['title'])}: the count round by round "
                "(table below)</figcaption></figure>"
                + _rounds_table(item, table_id))
        elif sheet.get("details"):
            series = _one_step(item)
            if series is not None:
                names, values = series
                out.append(f"<figure>{_bars_chart(item, table_id, names, values)}"
                           f"<figcaption>{e(item['title'])}: the count in one step "
                           "(table below)</figcaption></figure>"
                           + _bars_table(item, table_id, names, values))
            out.append("<details><summary>All figures of the count (as posted and "
                       "recounted)</summary>"
                       f"<pre>{e(json.dumps(sheet['details'], indent=1, sort_keys=True))}</pre>"
                       "</details>")
    return "".join(out)
