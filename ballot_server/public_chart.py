"""Server-rendered bar charts of a result, as data for an inline SVG.

Why on the server: the page must show the result without JavaScript, and the
CSP allows no inline script.  Inline SVG is plain markup, so the template
draws it from the rows computed here.  The chart is ``role="img"`` with a
title and a description (the figures in words); the result table next to it
is the full text equivalent, so nothing is only in the picture.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

# Each option is two lines -- its name, then its bar and figure -- so that the
# chart stays legible at 360 px (the viewBox is about that wide, so 1 unit ~ 1 px).
WIDTH = 320
ROW = 46
BAR_MAX = WIDTH - 56  # room for the figure after the bar


@dataclass(frozen=True)
class Bar:
    label: str
    value: int
    y: int
    width: int
    share: str  # "42.9 %" of the question's total, or "" when the total is 0


@dataclass(frozen=True)
class Chart:
    bars: tuple[Bar, ...]
    height: int
    width: int = WIDTH
    label_x: int = 0
    bar_x: int = 0

    def text_x(self, bar: Bar) -> int:
        return self.bar_x + bar.width + 6


def bar_chart(labels: Sequence[str], values: Sequence[int]) -> Chart:
    """One bar per option, scaled to the largest value (a zero row is drawn as nothing)."""
    if len(labels) != len(values):
        raise ValueError("one label per value")
    top = max(values, default=0)
    total = sum(values)
    bars = []
    for i, (label, value) in enumerate(zip(labels, values, strict=True)):
        width = 0 if top == 0 else round(BAR_MAX * value / top)
        share = "" if total == 0 else f"{100 * value / total:.1f} %"
        short = label if len(label) <= 40 else label[:39] + "…"
        bars.append(Bar(short, value, 4 + i * ROW, width, share))
    return Chart(tuple(bars), height=8 + len(bars) * ROW)
