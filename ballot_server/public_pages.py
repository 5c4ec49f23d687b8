"""The public page of one election, for residents and observers: ``/elections/<id>/``.

What a resident wants to know without reading the API: what was asked, when
voting opened and closed and when the result came (each with the time the
board recorded and the first signed tree head that includes that entry),
turnout, the result (a table and an SVG bar chart; for ranked questions the
count sheet's winners and rounds), where the record is and the exact
``evote-verify`` command that re-checks it with this server's board key
pinned, the witnesses' status, and a box to check a tracking code.

The page is server-rendered HTML and works without JavaScript.  The one thing
that needs the browser is the tracking-code check *as proof*: ``site.js``
(``ballot_server/booth/src/site_check.js``, the booth's own ``checkOnBoard``,
Merkle and signature code) verifies the signed tree head against the board key
printed on this page and the inclusion proof against its root.  Without
script, the same form asks the server, and the page says that this answer is
the server's word, not a proof.

Every read goes through :class:`~ballot_server.service.ElectionService`; the
list of elections at ``/`` is :mod:`ballot_server.site`'s.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, request, url_for

from ballot_server.api import plausible_tracking_code
from ballot_server.context import get_service, server_state
from ballot_server.facts import ElectionFacts
from ballot_server.public_chart import bar_chart
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
from evote.errors import NotFound
from evote.kinds import (
    BALLOT_AUDITED,
    BALLOT_CAST,
    ELECTION_ABANDONED,
    ELECTION_CLOSED,
    ELECTION_CREATED,
    ELECTION_OPENED,
    RANKED_RESULT,
    RESULT_PUBLISHED,
    TALLY_POSTED,
)
from evote.limits import MAX_TRACKING_CODE

bp = Blueprint("public", __name__)
bp.record_once(digest_at_startup)
register_html_errors(bp)

#: The timeline's milestones, in the order they can happen.
MILESTONES = (
    ELECTION_CREATED,
    ELECTION_OPENED,
    ELECTION_CLOSED,
    TALLY_POSTED,
    RESULT_PUBLISHED,
    RANKED_RESULT,
    ELECTION_ABANDONED,
)


def timeline(election_id: str) -> list[dict[str, Any]]:
    """Each milestone on the board: kind, index, the entry's time and the first signed
    head that includes it (its size and signed time)."""
    service = get_service()
    rows = []
    for entry in service.entries_of_kinds(election_id, MILESTONES, 0, 50):
        head = service.first_head_covering(election_id, entry.index)
        rows.append(
            {
                "kind": entry.kind,
                "index": entry.index,
                "time": utc(entry.time),
                "head": None if head is None else {"size": head.head.size,
                                                    "time": utc(head.head.time)},
            }
        )
    return rows


def turnout(facts: ElectionFacts) -> dict[str, Any]:
    credentials = None if facts.credentials is None else len(facts.credentials)
    counted = None if facts.tally is None else facts.tally.counted
    share = None
    if counted is not None and credentials:
        share = f"{100 * counted / credentials:.1f} %"
    return {
        "cast": facts.counts.get(BALLOT_CAST, 0),
        "audited": facts.counts.get(BALLOT_AUDITED, 0),
        "credentials": credentials,
        "counted": counted,
        "share": share,
    }


def results(facts: ElectionFacts, lang: str) -> list[dict[str, Any]]:
    """Per question: its rows (option, count) and chart, or its ranked count sheet.

    The homomorphic result covers the questions that are not mixed, in manifest
    order; a ranked or graded question's outcome is its ``ranked_result``."""
    manifest = facts.created.manifest
    counts = [] if facts.result is None else list(facts.result.counts)
    homomorphic = [q for q in range(len(manifest.questions))
                   if not manifest.questions[q].is_mixed]
    by_question = dict(zip(homomorphic, counts, strict=False))
    if len(counts) == len(manifest.questions):
        by_question = dict(enumerate(counts))
    out = []
    for qi, q in enumerate(manifest.questions):
        labels = [q.option_label(o, lang) for o in range(len(q.options))]
        item: dict[str, Any] = {"index": qi, "title": q.label(lang), "kind": q.kind}
        if qi in by_question and not q.is_mixed:
            values = list(by_question[qi])
            item["rows"] = list(zip(labels, values, strict=True))
            item["chart"] = bar_chart(labels, values)
        elif qi in facts.ranked:
            item["sheet"] = ranked_sheet(facts.ranked[qi].count, labels)
        else:
            continue
        out.append(item)
    return out


def ranked_sheet(count: Any, labels: list[str]) -> dict[str, Any]:
    """The parts of a count sheet (evote.counting.sheet.CountResult) a reader needs:
    method, winners by name, and each round's totals (None once excluded)."""

    def name(i: Any) -> str:
        return labels[i] if isinstance(i, int) and 0 <= i < len(labels) else str(i)

    rounds = []
    for r in count.get("rounds") or []:
        if not isinstance(r, dict):
            continue
        votes = r.get("votes") or []
        rounds.append(
            {
                "action": str(r.get("action", "")),
                "subject": None if r.get("subject") is None else name(r.get("subject")),
                "votes": [("—" if v is None else str(v)) for v in votes],
                "exhausted": str(r.get("exhausted", "")),
            }
        )
    return {
        "method": str(count.get("method", "")),
        "winners": [name(w) for w in count.get("winners") or []],
        "ballots": count.get("ballots"),
        "blank": count.get("blank"),
        "labels": labels,
        "rounds": rounds,
    }


def witness_status(election_id: str, facts: ElectionFacts) -> dict[str, Any] | None:
    """The manifest's policy and the largest checkpoint it accepts, against the board."""
    policy = facts.created.manifest.witnesses
    if policy is None:
        return None
    note = get_service().cosigned_checkpoint(election_id, policy)
    cosigned = None if note is None else Checkpoint.parse(note.text).size
    return {
        "threshold": policy.threshold,
        "names": [k.name for k in policy.keys],
        "cosigned": cosigned,
        "size": facts.size,
        "current": cosigned == facts.size,
    }


def lookup(election_id: str) -> dict[str, Any] | None:
    """The no-script answer to the tracking-code form: what the server says (not a proof)."""
    code = request.args.get("tracking_code")
    if code is None:
        return None
    code = code.strip().upper()  # as the booth reads a typed code
    if not plausible_tracking_code(code):
        return {"code": code[:MAX_TRACKING_CODE], "state": "invalid"}
    try:
        entry = get_service().ballot(election_id, code)
    except NotFound:
        return {"code": code, "state": "absent"}
    return {"code": code, "state": "present", "index": entry.index, "kind": entry.kind}


@bp.get("/elections/<election_id>/")
def election_page(election_id: str) -> Response:
    election_id = election_id_or_404(election_id)
    service = get_service()
    facts = service.facts(election_id)
    lang = chosen_language()
    manifest = facts.created.manifest
    board_key = b64encode(server_state().board_key.verify_key.raw)
    answer = lookup(election_id)
    status = 400 if answer is not None and answer["state"] == "invalid" else 200
    return render_page(
        "election.html",
        status=status,
        election_id=election_id,
        title=manifest.label(lang),
        description=manifest.description_in(lang),
        phase=facts.phase.value,
        questions=[
            {"title": q.label(lang), "kind": q.kind, "min": q.min, "max": q.max,
             "options": [q.option_label(o, lang) for o in range(len(q.options))]}
            for q in manifest.questions
        ],
        timeline=timeline(election_id),
        turnout=turnout(facts),
        results=results(facts, lang),
        witnesses=witness_status(election_id, facts),
        board_key=board_key,
        record_url=url_for("api.record", election_id=election_id),
        server_url=request.host_url.rstrip("/"),
        lookup=answer,
        max_code=MAX_TRACKING_CODE,
    )

