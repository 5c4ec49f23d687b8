"""Results as a picture: one horizontal bar chart per question.

SVG is written here by hand (no plotting dependency; a few dozen elements, all
text escaped), so ``evote election result --chart result.svg`` works on every
install.  PNG needs matplotlib, which is optional: without it the command says
so and suggests SVG instead of failing with an import traceback.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from xml.sax.saxutils import escape

from cli.console import CliError
from cli.keyfiles import replace_file

WIDTH = 720
LABEL_WIDTH = 240
BAR_HEIGHT = 22
GAP = 8
MARGIN = 20
TITLE_HEIGHT = 40
QUESTION_HEIGHT = 34
BAR_COLOUR = "#2f6db5"
TEXT_COLOUR = "#1a1a1a"


@dataclass(frozen=True)
class QuestionTotals:
    """What a chart shows for one question: its title and each option's total."""

    title: str
    options: tuple[tuple[str, int], ...]


def _shorten(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def svg_chart(title: str, questions: Sequence[QuestionTotals]) -> str:
    """A standalone SVG document (UTF-8 text) with one bar group per question."""
    rows = sum(len(q.options) for q in questions)
    height = (
        MARGIN * 2 + TITLE_HEIGHT + QUESTION_HEIGHT * len(questions) + (BAR_HEIGHT + GAP) * rows
    )
    bar_space = WIDTH - LABEL_WIDTH - MARGIN * 2 - 60
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{height}" '
        f'viewBox="0 0 {WIDTH} {height}" role="img" '
        f'aria-label="{escape(title, {chr(34): "&quot;"})}">',
        f'<rect width="{WIDTH}" height="{height}" fill="#ffffff"/>',
        f'<text x="{MARGIN}" y="{MARGIN + 22}" font-family="sans-serif" font-size="20" '
        f'font-weight="bold" fill="{TEXT_COLOUR}">{escape(_shorten(title, 70))}</text>',
    ]
    y = MARGIN + TITLE_HEIGHT
    for q in questions:
        top = max((v for _, v in q.options), default=0)
        out.append(
            f'<text x="{MARGIN}" y="{y + 22}" font-family="sans-serif" font-size="15" '
            f'font-weight="bold" fill="{TEXT_COLOUR}">{escape(_shorten(q.title, 90))}</text>'
        )
        y += QUESTION_HEIGHT
        for label, value in q.options:
            length = 0 if top == 0 else round(bar_space * value / top)
            text_y = y + BAR_HEIGHT - 6
            out.append(
                f'<text x="{MARGIN + LABEL_WIDTH - 8}" y="{text_y}" text-anchor="end" '
                f'font-family="sans-serif" font-size="13" fill="{TEXT_COLOUR}">'
                f"{escape(_shorten(label, 34))}</text>"
            )
            out.append(
                f'<rect x="{MARGIN + LABEL_WIDTH}" y="{y}" width="{length}" '
                f'height="{BAR_HEIGHT}" fill="{BAR_COLOUR}"><title>{escape(label)}: '
                f"{value}</title></rect>"
            )
            out.append(
                f'<text x="{MARGIN + LABEL_WIDTH + length + 6}" y="{text_y}" '
                f'font-family="sans-serif" font-size="13" fill="{TEXT_COLOUR}">{value}</text>'
            )
            y += BAR_HEIGHT + GAP
    out.append("</svg>")
    return "\n".join(out) + "\n"


def _png_chart(title: str, questions: Sequence[QuestionTotals], path: Path) -> None:
    import matplotlib  # optional dependency, checked by the caller

    matplotlib.use("Agg")
    from matplotlib import pyplot

    fig, axes = pyplot.subplots(
        len(questions),
        1,
        figsize=(8, 1.2 + sum(0.45 * len(q.options) + 0.6 for q in questions)),
        squeeze=False,
    )
    fig.suptitle(title)
    for ax, q in zip(axes[:, 0], questions, strict=True):
        labels = [label for label, _ in q.options][::-1]
        values = [value for _, value in q.options][::-1]
        ax.barh(labels, values, color=BAR_COLOUR)
        ax.set_title(q.title, loc="left", fontsize=10)
        for i, v in enumerate(values):
            ax.text(v, i, f" {v}", va="center")
    fig.tight_layout()
    fig.savefig(path, format="png", dpi=120)
    pyplot.close(fig)


def write_chart(path: str | Path, title: str, questions: Sequence[QuestionTotals]) -> Path:
    """Write ``path`` as SVG or PNG according to its suffix."""
    target = Path(path)
    suffix = target.suffix.lower()
    if suffix == ".svg":
        return replace_file(target, svg_chart(title, questions).encode("utf-8"), secret=False)
    if suffix == ".png":
        if importlib.util.find_spec("matplotlib") is None:
            raise CliError(
                "PNG charts need matplotlib (pip install matplotlib); "
                "or write an SVG chart: --chart result.svg",
                code="missing_dependency",
            )
        try:
            _png_chart(title, questions, target)
        except OSError as exc:
            raise CliError(f"cannot write {target}: {exc.strerror or exc}", code="io_error") from None
        return target
    raise CliError(f"chart file {target} must end in .svg or .png", code="unsupported")
