"""The JSON API under ``/api/v1`` (docs/api.md; machine-readable: ``/api/v1/openapi.json``).

Views are thin: they read the request (body, query, ``Authorization``), call
one :class:`~ballot_server.service.ElectionService` method, and turn its answer
into JSON.  They hold no SQL and no election rules.  Errors are exceptions,
turned into ``{"code", "message"}`` bodies by :mod:`ballot_server.errors`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import Blueprint, Response, jsonify, request, stream_with_context
from werkzeug.exceptions import BadRequest

from ballot_server.bodies import LargeBody
from ballot_server.context import (
    get_service,
    int_arg,
    json_body,
    rate_limited,
    require_json,
    server_state,
)
from ballot_server.mix_bodies import mix_large_body
from ballot_server.openapi import openapi_document
from ballot_server.service import REGISTER_VOTERS, Posted
from evote.encoding import MAX_SAFE_INTEGER
from evote.errors import NotFound
from evote.limits import MAX_TRACKING_CODE as MAX_TRACKING_CODE
from evote.record import MEDIA_TYPE
from evote.signing import VerifyKey

bp = Blueprint("api", __name__, url_prefix="/api/v1")


#: Command kinds whose body may exceed EVOTE_MAX_BODY (with an Evote-Body-Signature).
LARGE_KINDS = frozenset({"credentials_published"})


def _party_of(election_id: str) -> Callable[[VerifyKey], bool]:
    """``allowed`` for a large body to an election: its official or credential authority."""

    def allowed(signer: VerifyKey) -> bool:
        created = get_service().facts(election_id).created
        return signer.raw in (created.official.raw, created.credential_authority.raw)

    return allowed


def plausible_tracking_code(code: str) -> bool:
    """1–200 printable ASCII characters: anything else cannot be a tracking code (and a
    NUL byte must never reach PostgreSQL, which refuses it in text)."""
    return 1 <= len(code) <= MAX_TRACKING_CODE and code.isascii() and code.isprintable()


def created(body: Any, location: str | None = None) -> Response:
    response = jsonify(body)
    response.status_code = 201
    if location:
        response.headers["Location"] = location
    return response


@bp.url_value_preprocessor
def check_index(_endpoint: str | None, values: dict[str, Any] | None) -> None:
    """An entry index past 2^53 - 1 could never exist: a 404, like any unknown entry.
    (An election id is checked by its URL converter, :mod:`ballot_server.context`.)"""
    if values and "index" in values and values["index"] > MAX_SAFE_INTEGER:
        raise NotFound(f"no entry {values['index']}")


# --- server -----------------------------------------------------------------------


@bp.get("/openapi.json")
def openapi() -> Response:
    """The OpenAPI 3 description of this API."""
    return jsonify(openapi_document())


@bp.get("/board-key")
def board_key() -> Response:
    """The Ed25519 key this server signs tree heads and receipts with."""
    return jsonify({"board_key": server_state().board_key.verify_key.to_json()})


# --- elections --------------------------------------------------------------------


@bp.get("/elections")
def list_elections() -> Response:
    service = get_service()
    items = []
    for election_id in service.elections():
        facts = service.facts(election_id)
        items.append(
            {
                "id": election_id,
                "title": facts.created.manifest.to_json()["title"],
                "phase": facts.phase.value,
                "size": facts.size,
            }
        )
    return jsonify({"elections": items})


@bp.post("/elections")
@rate_limited("command")
def create_election() -> Response:
    officials = {k.raw for k in server_state().settings.officials}
    large = LargeBody("", "election_created", lambda signer: signer.raw in officials)
    appended = get_service().create_election(json_body(large))
    return created(appended.to_json(), f"/api/v1/elections/{appended.entry.election}")


@bp.get("/elections/<election:election_id>")
def election(election_id: str) -> Response:
    return jsonify(get_service().summary(election_id))


@bp.get("/elections/<election:election_id>/manifest")
def manifest(election_id: str) -> Response:
    return jsonify(get_service().facts(election_id).created.manifest.to_json())


@bp.get("/elections/<election:election_id>/trustees")
def trustees(election_id: str) -> Response:
    return jsonify(get_service().trustees(election_id))


@bp.get("/elections/<election:election_id>/key")
def joint_key(election_id: str) -> Response:
    facts = get_service().facts(election_id)
    if facts.joint_key is None:
        raise NotFound("the joint key is not published yet")
    return jsonify({"joint_key": facts.joint_key.to_json()})


@bp.get("/elections/<election:election_id>/credentials")
def credentials(election_id: str) -> Response:
    return jsonify({"credentials": get_service().credentials(election_id).to_json()})


@bp.get("/elections/<election:election_id>/fingerprint")
def fingerprint(election_id: str) -> Response:
    return jsonify(get_service().fingerprint(election_id))


@bp.post("/elections/<election:election_id>/commands/<kind>")
@rate_limited("command")
def command(election_id: str, kind: str) -> Response:
    # Only a credential list and the mixnet's commands may be large (others are a few KiB).
    large = LargeBody(election_id, kind, _party_of(election_id)) if kind in LARGE_KINDS else None
    large = large or mix_large_body(get_service(), election_id, kind)
    appended = get_service().command(election_id, kind, json_body(large))
    return created(appended.to_json())


@bp.post("/elections/<election:election_id>/voters")
@rate_limited("command")
def register_voters(election_id: str) -> Response:
    large = LargeBody(election_id, REGISTER_VOTERS, _party_of(election_id))
    logins = get_service().register_voters(election_id, json_body(large))
    return created({"logins": dict(logins)})


# --- ballots ----------------------------------------------------------------------


@bp.post("/elections/<election:election_id>/ballots")
@rate_limited("cast")
def cast(election_id: str) -> Response:
    """201 and the receipt; 200 and the same receipt for a ballot already on the board
    (the same bytes sent again after a lost answer, docs/api.md §5.1)."""
    authorization = request.headers.get("Authorization")
    require_json()
    login = get_service().authenticate(election_id, authorization)  # before the body is read
    return posted_answer(get_service().cast(election_id, login, json_body()))


@bp.post("/elections/<election:election_id>/audits")
@rate_limited("cast")
def audit(election_id: str) -> Response:
    """As :func:`cast`, for audited ballots."""
    authorization = request.headers.get("Authorization")
    require_json()
    login = get_service().authenticate(election_id, authorization)  # before the body is read
    return posted_answer(get_service().audit(election_id, login, json_body()))


def posted_answer(posted: Posted) -> Response:
    """201 when this request appended the ballot, 200 when it was already there."""
    return created(posted.receipt.to_json()) if posted.appended else jsonify(
        posted.receipt.to_json()
    )


@bp.get("/elections/<election:election_id>/ballots/<tracking_code>")
def ballot(election_id: str, tracking_code: str) -> Response:
    """The board entry of the ballot (cast or audited) with this tracking code."""
    if not plausible_tracking_code(tracking_code):
        raise NotFound("no ballot with such a tracking code")
    return jsonify(get_service().ballot(election_id, tracking_code).to_json())


@bp.get("/elections/<election:election_id>/ballots/<tracking_code>/receipt")
def ballot_receipt(election_id: str, tracking_code: str) -> Response:
    """The ballot's entry and its original receipt, by tracking code (docs/api.md §5.2):
    how a device that lost the answer to its cast recovers the receipt."""
    if not plausible_tracking_code(tracking_code):
        raise NotFound("no ballot with such a tracking code")
    entry, receipt = get_service().ballot_receipt(election_id, tracking_code)
    return jsonify({"entry": entry.to_json(), "receipt": receipt.to_json()})


# --- the board --------------------------------------------------------------------


@bp.get("/elections/<election:election_id>/entries")
def entries(election_id: str) -> Response:
    start = int_arg("start") or 0
    limit = int_arg("limit", lo=1, hi=1000) or 100
    return jsonify(get_service().board(election_id, start, limit))


@bp.get("/elections/<election:election_id>/entries/<int:index>")
def entry(election_id: str, index: int) -> Response:
    return jsonify(get_service().entry(election_id, index).to_json())


@bp.get("/elections/<election:election_id>/tree-head")
def tree_head(election_id: str) -> Response:
    return jsonify(get_service().tree_head(election_id).to_json())


@bp.get("/elections/<election:election_id>/inclusion")
def inclusion(election_id: str) -> Response:
    tracking_code = request.args.get("tracking_code")
    index = int_arg("index")
    if (index is None) == (tracking_code is None):
        raise BadRequest("give exactly one of the query parameters index and tracking_code")
    if tracking_code is not None and not plausible_tracking_code(tracking_code):
        raise BadRequest(
            f"tracking_code must be 1 to {MAX_TRACKING_CODE} printable ASCII characters"
        )
    body = get_service().inclusion(
        election_id, index=index, tracking_code=tracking_code, size=int_arg("size", lo=1)
    )
    return jsonify(body)


@bp.get("/elections/<election:election_id>/consistency")
def consistency(election_id: str) -> Response:
    body = get_service().consistency(
        election_id, int_arg("first", required=True, lo=1), int_arg("second", lo=1)
    )
    return jsonify(body)


@bp.get("/elections/<election:election_id>/record")
def record(election_id: str) -> Response:
    """The election record as one zip archive, streamed while it is read from the board."""
    chunks = get_service().record(election_id)
    response = Response(stream_with_context(chunks), mimetype=MEDIA_TYPE)
    response.headers["Content-Disposition"] = f'attachment; filename="{election_id}.zip"'
    return response
