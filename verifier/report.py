"""The verification report: one row per check, and its three renderings.

A :class:`Report` is plain data (frozen dataclasses) built by
:mod:`verifier.checks`; this module only presents it:

* :func:`render_table` -- a rich table for the terminal, one row per check;
* :meth:`Report.to_json` -- the machine-readable report (``--json``);
* :func:`render_html` -- the same report as one self-contained HTML page
  (``--html FILE``) with an inline SVG bar chart of the result; it loads
  nothing from anywhere, so it can be archived and opened offline.

Every string that comes from the record (titles, option labels, error
messages quoting entries) is escaped before it reaches HTML or rich markup:
a hostile manifest must not be able to inject script or fake table rows.
"""

from __future__ import annotations

import html
import json
from dataclasses import dataclass, field
from typing import Any

from rich.console import Console
from rich.markup import escape as rich_escape
from rich.table import Table

from verifier.rounds import rounds_html

REPORT_FORMAT = "evote-verification-report"
REPORT_VERSION = 1

PASS = "pass"  # noqa: S105 -- a check status, not a password
FAIL = "fail"
SKIPPED = "skipped"
STATUSES = (PASS, FAIL, SKIPPED)


@dataclass(frozen=True, slots=True)
class Failure:
    """The first thing a check found wrong: where (entry index) and why."""

    message: str
    code: str
    index: int | None = None
    evidence: dict[str, Any] | None = None
    #: The broken rule's stable id (docs/rules.md), when a rule of the rulebook broke.
    rule: str | None = None

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"code": self.code, "message": self.message, "index": self.index}
        if self.rule is not None:
            out["rule"] = self.rule
        if self.evidence:
            out["evidence"] = self.evidence
        return out

    def where(self) -> str:
        return "" if self.index is None else f"entry {self.index}: "


@dataclass(frozen=True, slots=True)
class CheckResult:
    """The verdict of one numbered check."""

    number: int
    name: str
    title: str
    status: str
    counts: dict[str, int]
    failures: int = 0
    first_failure: Failure | None = None
    note: str = ""

    def __post_init__(self) -> None:
        if self.status not in STATUSES:
            raise ValueError(f"unknown check status {self.status!r}")
        if (self.status == FAIL) != (self.first_failure is not None):
            raise ValueError("a failed check needs its first failure, and only a failed one")

    @property
    def passed(self) -> bool:
        return self.status == PASS

    def to_json(self) -> dict[str, Any]:
        return {
            "number": self.number,
            "name": self.name,
            "title": self.title,
            "status": self.status,
            "counts": dict(self.counts),
            "failures": self.failures,
            "first_failure": None if self.first_failure is None else self.first_failure.to_json(),
            "note": self.note,
        }


@dataclass(frozen=True, slots=True)
class OptionTotal:
    label: str
    total: int


@dataclass(frozen=True, slots=True)
class QuestionTotals:
    """One question's published totals, for the chart (only when the result verified)."""

    title: str
    options: tuple[OptionTotal, ...]


@dataclass(frozen=True)
class Report:
    """Everything one run of the verifier found."""

    command: str  # "record", "receipt" or "audit"
    source: str
    election: str | None
    checks: tuple[CheckResult, ...]
    result: tuple[QuestionTotals, ...] = ()
    stats: dict[str, Any] = field(default_factory=dict)
    #: The board ends with a valid ``election_abandoned`` (R-PHASE-07): the record of an
    #: election given up in setup, so no tally is expected.
    abandoned: bool = False
    #: Each ranked or graded question's count sheet (checks 20-22), only when the record
    #: verified: ``{"question", "title", "method", "options", "sheet"}``, the sheet as
    #: posted in ``ranked_result`` (docs/protocol-mixnet.md), rounds and all.
    ranked: tuple[dict[str, Any], ...] = ()

    def __post_init__(self) -> None:
        if not self.checks:
            # An empty report would "pass" having checked nothing.
            raise ValueError("a report needs at least one check")

    @property
    def ok(self) -> bool:
        """True only if no check failed.

        A check is only ever *skipped* when the caller asked for it
        (``--in-progress`` on an election not yet tallied); otherwise a check
        that could not run is a failure.
        """
        return all(c.status != FAIL for c in self.checks)

    @property
    def verdict(self) -> str:
        return PASS if self.ok else FAIL

    def check(self, name: str) -> CheckResult:
        for c in self.checks:
            if c.name == name:
                return c
        raise KeyError(name)

    def failed(self) -> list[str]:
        return [c.name for c in self.checks if c.status == FAIL]

    def to_json(self) -> dict[str, Any]:
        return {
            "format": REPORT_FORMAT,
            "version": REPORT_VERSION,
            "command": self.command,
            "source": self.source,
            "election": self.election,
            "verdict": self.verdict,
            "abandoned": self.abandoned,
            "checks": [c.to_json() for c in self.checks],
            "result": [
                {
                    "title": q.title,
                    "options": [{"label": o.label, "total": o.total} for o in q.options],
                }
                for q in self.result
            ],
            "ranked": [dict(r) for r in self.ranked],
            "stats": dict(self.stats),
        }


# --------------------------------------------------------------------------
# Terminal
# --------------------------------------------------------------------------

_STYLE = {PASS: "bold green", FAIL: "bold red", SKIPPED: "yellow"}
_MARK = {PASS: "PASS", FAIL: "FAIL", SKIPPED: "SKIP"}


def _counts_text(counts: dict[str, int]) -> str:
    return ", ".join(f"{v:,} {k}" for k, v in counts.items())


def _detail_text(c: CheckResult) -> str:
    if c.first_failure is not None:
        more = f" (+{c.failures - 1} more)" if c.failures > 1 else ""
        rule = f"[{c.first_failure.rule}] " if c.first_failure.rule else ""
        return f"{rule}{c.first_failure.where()}{c.first_failure.message}{more}"
    return c.note


def report_title(report: Report) -> str:
    """The report's heading: command and source, the election once (a server source's
    description already names it), and whether the election was abandoned."""
    title = f"evote-verify {report.command}: {report.source}"
    if report.election and f"(election {report.election})" not in report.source:
        title += f" (election {report.election})"
    if report.abandoned:
        title += " - ABANDONED in setup, no tally expected"
    return title


def verdict_line(report: Report) -> str:
    """The one-line verdict (``--quiet`` prints it; the table ends with it)."""
    if not report.ok:
        return (f"NOT VERIFIED: {len(report.failed())} of {len(report.checks)} checks did "
                f"not pass: {', '.join(report.failed())}")
    if report.abandoned:
        return ("VERIFIED as the record of an ABANDONED election (given up in setup by the "
                "official, R-PHASE-07): no ballots, no tally")
    return f"VERIFIED: all {len(report.checks)} checks passed"


def render_table(report: Report, console: Console) -> None:
    """Print the report as a table (one row per check), the result, and the verdict."""
    title = report_title(report)
    table = Table(title=rich_escape(title), show_lines=False)
    table.add_column("#", justify="right")
    table.add_column("check")
    table.add_column("status")
    table.add_column("counts")
    table.add_column("first failure / note", overflow="fold")
    for c in report.checks:
        table.add_row(
            str(c.number),
            rich_escape(c.title),
            f"[{_STYLE[c.status]}]{_MARK[c.status]}[/]",
            rich_escape(_counts_text(c.counts)),
            rich_escape(_detail_text(c)),
        )
    console.print(table)
    for q in report.result:
        res = Table(title=rich_escape(q.title))
        res.add_column("option")
        res.add_column("total", justify="right")
        for o in q.options:
            res.add_row(rich_escape(o.label), f"{o.total:,}")
        console.print(res)
    for c in report.checks:
        ev = c.first_failure.evidence if c.first_failure else None
        if ev:
            console.print(f"[bold]evidence for check {c.number} ({rich_escape(c.name)}):[/]")
            console.print_json(data=ev)
    if report.ok and report.abandoned:
        console.print(f"[bold yellow]{rich_escape(verdict_line(report))}[/]")
    elif report.ok:
        console.print(f"[bold green]VERIFIED[/]: all {len(report.checks)} checks passed.")
    else:
        console.print(
            f"[bold red]NOT VERIFIED[/]: {len(report.failed())} of {len(report.checks)} "
            f"checks did not pass: {rich_escape(', '.join(report.failed()))}."
        )


# --------------------------------------------------------------------------
# HTML (self-contained: inline CSS and SVG, no scripts, no external resources)
# --------------------------------------------------------------------------

_CSS = """
body{font-family:system-ui,sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem;color:#111}
table{border-collapse:collapse;width:100%;margin:1rem 0}
th,td{border:1px solid #ccc;padding:.3rem .5rem;text-align:left;vertical-align:top}
th{background:#f2f2f2}
.pass{color:#075e07;font-weight:bold}.fail{color:#a30000;font-weight:bold}
.skipped{color:#7a5b00;font-weight:bold}
.verdict{font-size:1.4rem;padding:.5rem 1rem;border-radius:.3rem}
.verdict.pass{background:#e3f6e3}.verdict.fail{background:#fbe3e3}
pre{white-space:pre-wrap;word-break:break-all;background:#f7f7f7;padding:.5rem}
"""

_BAR_HEIGHT = 22
_BAR_GAP = 8
_LABEL_WIDTH = 220
_CHART_WIDTH = 640


def _svg_chart(q: QuestionTotals) -> str:
    """A horizontal bar chart of one question's totals, as inline SVG."""
    e = html.escape
    top = max((o.total for o in q.options), default=0) or 1
    bar_room = _CHART_WIDTH - _LABEL_WIDTH - 80
    height = len(q.options) * (_BAR_HEIGHT + _BAR_GAP) + _BAR_GAP
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" role="img" width="{_CHART_WIDTH}" '
        f'height="{height}" viewBox="0 0 {_CHART_WIDTH} {height}">',
        f"<title>{e(q.title)}</title>",
    ]
    for i, o in enumerate(q.options):
        y = _BAR_GAP + i * (_BAR_HEIGHT + _BAR_GAP)
        w = round(bar_room * o.total / top)
        mid = y + _BAR_HEIGHT * 0.7
        parts.append(
            f'<text x="{_LABEL_WIDTH - 6}" y="{mid:.1f}" text-anchor="end" '
            f'font-size="13">{e(o.label[:40])}</text>'
        )
        parts.append(
            f'<rect x="{_LABEL_WIDTH}" y="{y}" width="{w}" height="{_BAR_HEIGHT}" '
            f'fill="#2b6cb0"><title>{e(o.label)}: {o.total}</title></rect>'
        )
        parts.append(
            f'<text x="{_LABEL_WIDTH + w + 6}" y="{mid:.1f}" font-size="13">{o.total:,}</text>'
        )
    parts.append("</svg>")
    return "".join(parts)


def render_html(report: Report) -> str:
    """The whole report as one HTML document with no external resources."""
    e = html.escape
    rows = []
    for c in report.checks:
        rows.append(
            f"<tr><td>{c.number}</td><td>{e(c.title)}<br><code>{e(c.name)}</code></td>"
            f'<td class="{c.status}">{_MARK[c.status]}</td>'
            f"<td>{e(_counts_text(c.counts))}</td><td>{e(_detail_text(c))}</td></tr>"
        )
    evidence = []
    for c in report.checks:
        ev = c.first_failure.evidence if c.first_failure else None
        if ev:
            evidence.append(
                f"<h3>Evidence for check {c.number} ({e(c.name)})</h3>"
                f"<pre>{e(json.dumps(ev, indent=2, sort_keys=True))}</pre>"
            )
    charts = []
    for q in report.result:
        items = "".join(f"<tr><td>{e(o.label)}</td><td>{o.total:,}</td></tr>" for o in q.options)
        charts.append(
            f"<h3>{e(q.title)}</h3><figure>{_svg_chart(q)}</figure>"
            f"<table><tr><th>option</th><th>total</th></tr>{items}</table>"
        )
    verdict = (
        f"VERIFIED: all {len(report.checks)} checks passed"
        if report.ok
        else f"NOT VERIFIED: {len(report.failed())} of {len(report.checks)} checks did not pass"
    )
    title = f"evote verification report — {report.election or report.source}"
    if report.abandoned:
        title += " (abandoned election)"
        verdict = verdict_line(report)
    stats = "".join(
        f"<tr><th>{e(str(k))}</th><td>{e(str(v))}</td></tr>" for k, v in report.stats.items()
    )
    return (
        "<!DOCTYPE html>\n"
        f'<html lang="en"><head><meta charset="utf-8"><title>{e(title)}</title>'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<style>{_CSS}</style></head><body>"
        f"<h1>{e(title)}</h1>"
        f"<p>Source: <code>{e(report.source)}</code> — command <code>{e(report.command)}</code></p>"
        f'<p class="verdict {report.verdict}">{e(verdict)}</p>'
        "<h2>Checks</h2><table><tr><th>#</th><th>check</th><th>status</th>"
        f"<th>counts</th><th>first failure / note</th></tr>{''.join(rows)}</table>"
        + ("<h2>Result</h2>" + "".join(charts) if charts else "")
        + rounds_html(report.ranked)
        + "".join(evidence)
        + (f"<h2>Run</h2><table>{stats}</table>" if stats else "")
        + "</body></html>\n"
    )
