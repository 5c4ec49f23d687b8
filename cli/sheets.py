"""Printable credential sheets: what the credential authority mails to each voter.

Each voter gets the same content twice: a plain-text sheet (for a mail merge
or a letter printer) and an SVG page with the code in large type and as a QR
code (segno computes the QR matrix; the SVG is drawn here as one path, so the
page is a single self-contained file that prints identically everywhere).

The QR code holds exactly the printed credential code, nothing else, so
scanning it and typing the code give the booth the same input.
"""

from __future__ import annotations

from xml.sax.saxutils import escape

import segno

SHEET_WIDTH = 420  # points-ish user units; A6-like proportions
SHEET_HEIGHT = 595
QR_BORDER = 4


def _split_code(code: str, groups_per_line: int = 5) -> list[str]:
    groups = code.split("-")
    return [
        "-".join(groups[i : i + groups_per_line]) for i in range(0, len(groups), groups_per_line)
    ]


def sheet_text(*, election_id: str, title: str, code: str, voter_id: str | None) -> str:
    """The plain-text sheet."""
    who = f"Voter:     {voter_id}\n" if voter_id else ""
    lines = "\n".join(f"    {part}" for part in _split_code(code))
    return (
        "EVOTE VOTING CREDENTIAL\n"
        "=======================\n\n"
        f"Election:  {title}\n"
        f"Id:        {election_id}\n"
        f"{who}\n"
        "Your credential code:\n\n"
        f"{lines}\n\n"
        "Keep this code secret: it is what makes your ballot count. Nobody from\n"
        "the election will ever ask you for it. You also need the login code\n"
        "you received separately; the two together let you vote.\n\n"
        "You may vote again later: only your last ballot counts.\n"
    )


def qr_code(code: str) -> segno.QRCode:
    """The QR code of a credential code (error correction M: survives a crease or a smudge)."""
    # A fixed mask skips segno's evaluation of all eight (85% of the time); every mask
    # gives a valid QR code, the choice only tunes contrast patterns.
    return segno.make(code, error="m", mask=0, boost_error=False, micro=False)


def _qr_path(code: str, scale: int) -> tuple[str, int]:
    """An SVG path drawing the QR code of ``code``; returns (path data, side length).

    One horizontal run of dark modules is one rectangle, so a 4-M code is a
    few hundred path segments rather than a thousand squares.
    """
    qr = qr_code(code)
    parts = []
    for y, row in enumerate(qr.matrix, start=QR_BORDER):
        dark = bytes(v & 1 for v in row)
        x = dark.find(1)
        while x != -1:
            end = dark.find(0, x)
            end = len(dark) if end == -1 else end
            width = (end - x) * scale
            parts.append(f"M{(x + QR_BORDER) * scale} {y * scale}h{width}v{scale}h-{width}z")
            x = dark.find(1, end)
    return "".join(parts), (len(qr.matrix) + 2 * QR_BORDER) * scale


def sheet_svg(*, election_id: str, title: str, code: str, voter_id: str | None) -> str:
    """The printable page: title, election id, optional voter id, code, QR code."""
    path, side = _qr_path(code, 6)
    qr_x = (SHEET_WIDTH - side) // 2
    qr_y = 150
    text = [
        (40, 18, "bold", "Voting credential"),
        (68, 13, "normal", title if len(title) <= 55 else title[:54] + "…"),
        (88, 11, "normal", f"Election id: {election_id}"),
    ]
    if voter_id:
        text.append((108, 11, "normal", f"Voter: {voter_id}"))
    code_y = qr_y + side + 30
    for i, part in enumerate(_split_code(code, 4)):
        text.append((code_y + 20 * i, 15, "bold", part))
    notes_y = code_y + 20 * len(_split_code(code, 4)) + 20
    for i, line in enumerate(
        [
            "Keep this code secret: it makes your ballot count.",
            "You also need your separate login code to vote.",
            "You may vote again; only your last ballot counts.",
        ]
    ):
        text.append((notes_y + 16 * i, 10, "normal", line))
    height = max(SHEET_HEIGHT, notes_y + 60)
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{SHEET_WIDTH}" height="{height}" '
        f'viewBox="0 0 {SHEET_WIDTH} {height}">',
        f'<rect width="{SHEET_WIDTH}" height="{height}" fill="#fff"/>',
    ]
    for y, size, weight, content in text:
        family = "monospace" if size == 15 else "sans-serif"
        out.append(
            f'<text x="{SHEET_WIDTH // 2}" y="{y}" text-anchor="middle" font-family="{family}" '
            f'font-size="{size}" font-weight="{weight}">{escape(content)}</text>'
        )
    out.append(f'<path transform="translate({qr_x} {qr_y})" fill="#000" d="{path}"/>')
    out.append("</svg>")
    return "\n".join(out) + "\n"
