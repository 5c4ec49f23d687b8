"""The board explorer: ``/elections/<id>/board/`` — the public board, a page at a time.

For observers who want to look at the board itself without a client: each
entry with its index, kind, time and RFC 9162 leaf hash, a link to the entry's
JSON and to its inclusion proof (the API's, which a monitor verifies), the
latest signed tree heads and, with witnesses, the cosigned checkpoint.

Query: ``start`` (first index, default 0), ``limit`` (1 to :data:`PAGE_MAX`,
default :data:`PAGE_DEFAULT`), ``kind`` (one entry kind from
:data:`evote.kinds.SPECS`).  A page is a range read from ``start``, so paging
through a million ballots never rescans.  Anything else in those parameters
-- a negative or non-numeric start, an unknown kind -- is a 400 page that
names the parameter; a limit above :data:`PAGE_MAX` is cut to it (a person
who asks for "everything" gets the largest page, not an error).
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, request, url_for
from werkzeug.exceptions import BadRequest

from ballot_server.context import get_service, server_state
from ballot_server.public_html import (
    digest_at_startup,
    election_id_or_404,
    register_html_errors,
    render_page,
    utc,
)
from ballot_server.site import chosen_language
from evote.checkpoint import Checkpoint
from evote.encoding import b64encode
from evote.kinds import SPECS

bp = Blueprint("board_explorer", __name__)
bp.record_once(digest_at_startup)
register_html_errors(bp)

PAGE_DEFAULT = 50
PAGE_MAX = 100
HEADS_SHOWN = 10
MAX_INDEX_DIGITS = 16  # safe integers: longer input is not an index


def _index_arg(name: str, default: int) -> int:
    raw = request.args.get(name)
    if raw is None or raw == "":
        return default
    if not (raw.isascii() and raw.isdigit()) or len(raw) > MAX_INDEX_DIGITS:
        raise BadRequest(f"{name} must be a whole number from 0 up")
    return int(raw)


def page_args() -> tuple[int, int, str | None]:
    """``(start, limit, kind)`` from the query, checked (see the module docstring)."""
    start = _index_arg("start", 0)
    limit = min(max(_index_arg("limit", PAGE_DEFAULT), 1), PAGE_MAX)
    kind = request.args.get("kind") or None
    if kind is not None and kind not in SPECS:
        raise BadRequest("kind must be one of the board's entry kinds")
    return start, limit, kind


def _link(election_id: str, **args: Any) -> str:
    return url_for("board_explorer.board_page", election_id=election_id,
                   lang=chosen_language(), **{k: v for k, v in args.items() if v is not None})


@bp.get("/elections/<election_id>/board/")
def board_page(election_id: str) -> Response:
    election_id = election_id_or_404(election_id)
    start, limit, kind = page_args()
    service = get_service()
    facts = service.facts(election_id)
    size = facts.size
    wanted = list(SPECS) if kind is None else [kind]
    entries = service.entries_of_kinds(election_id, wanted, start, limit) if start < size else []
    total = size if kind is None else facts.counts.get(kind, 0)
    rows = [
        {
            "index": e.index,
            "kind": e.kind,
            "time": utc(e.time),
            "hash": e.leaf_hash().hex(),
            "entry_url": url_for("api.entry", election_id=election_id, index=e.index),
            "proof_url": url_for("api.inclusion", election_id=election_id, index=e.index),
        }
        for e in entries
    ]
    following = rows[-1]["index"] + 1 if len(rows) == limit and rows[-1]["index"] + 1 < size else None
    heads = [
        {"size": h.head.size, "time": utc(h.head.time), "root": h.head.root.hex(),
         "signature": b64encode(h.signature)}
        for h in service.recent_signed_heads(election_id, HEADS_SHOWN)
    ]
    policy = facts.created.manifest.witnesses
    checkpoint = None
    if policy is not None:
        note = service.cosigned_checkpoint(election_id, policy)
        if note is not None:
            cp = Checkpoint.parse(note.text)
            checkpoint = {"size": cp.size, "root": cp.root.hex(), "note": note.to_text(),
                          "cosigners": [s.name for s in note.signatures]}
    return render_page(
        "board.html",
        election_id=election_id,
        title=facts.created.manifest.label(chosen_language()),
        size=size,
        total=total,
        start=start,
        limit=limit,
        kind=kind,
        kinds=sorted(k for k in SPECS if facts.counts.get(k)),
        counts=facts.counts,
        rows=rows,
        next_url=None if following is None else _link(election_id, start=following, limit=limit,
                                                      kind=kind),
        first_url=None if start == 0 else _link(election_id, limit=limit, kind=kind),
        heads=heads,
        policy=None if policy is None else {"threshold": policy.threshold,
                                            "n": len(policy.keys)},
        checkpoint=checkpoint,
        board_key=b64encode(server_state().board_key.verify_key.raw),
    )
