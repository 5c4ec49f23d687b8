"""The JSON API under ``/api/v1`` (docs/api.md; machine-readable: ``/api/v1/openapi.json``).

Views are thin: they read the request (body, query, ``Authorization``), call
one :class:`~ballot_server.service.ElectionService` method, and turn its answer
into JSON.  They hold no SQL and no election rules.  Errors are exceptions,
turned into ``{"code", "message"}`` bodies by :mod:`ballot_server.errors`.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import TYPE_CHECKING, Any

from flask import Blueprint, Response, current_app, g, jsonify, request, stream_with_context
from werkzeug.exceptions import BadRequest, UnsupportedMediaType

from ballot_server.bodies import LargeBody, read_body
from ballot_server.commands import mix_large_body
from ballot_server.db import get_store
from ballot_server.openapi import openapi_document
from ballot_server.service import REGISTER_VOTERS, ElectionService, Posted
from evote.commands import check_election_id
from evote.encoding import MAX_SAFE_INTEGER, parse_json
from evote.errors import NotFound, SchemaError
from evote.record import MEDIA_TYPE
from evote.signing import VerifyKey

if TYPE_CHECKING:
    from ballot_server import ServerState

bp = Blueprint("api", __name__, url_prefix="/api/v1")

MAX_TRACKING_CODE = 200

#: Command kinds whose body may exceed EVOTE_MAX_BODY (with an Evote-Body-Signature).
LARGE_KINDS = frozenset({"credentials_published"})


def server_state() -> ServerState:
    """What :func:`ballot_server.create_app` set up for this app (settings, keys, caches)."""
    return current_app.extensions["evote"]


def get_service() -> ElectionService:
    """The election service of this request, over the request's store."""
    if "evote_service" not in g:
        state = server_state()
        g.evote_service = ElectionService(
            get_store(),
            board_key=state.board_key,
            officials=state.settings.officials,
            cache=state.cache,
            authenticator=state.authenticator,
            clock=state.clock,
            rng=state.rng,
            booth_sha256=served_booth_sha256(),
            casts=state.casts,
        )
    return g.evote_service


def served_booth_sha256() -> bytes | None:
    """SHA-256 of the booth bundle this app serves (None: no bundle was built)."""
    # Imported here: the booth blueprint itself imports this module.
    from ballot_server.booth import EXTENSION

    assets = current_app.extensions.get(EXTENSION)
    return None if assets is None else bytes.fromhex(assets.js_sha256)


# --- request helpers --------------------------------------------------------------


def json_body(large_body: LargeBody | None = None) -> Any:
    """The request body as strict JSON, read by :func:`ballot_server.bodies.read_body`.

    415 unless ``Content-Type: application/json`` (checked before reading);
    413 above the route's cap -- ``EVOTE_MAX_BODY``, or for a ``large_body``
    route with a valid ``Evote-Body-Signature`` ``EVOTE_MAX_COMMAND_BODY``;
    408 if the body does not arrive within ``EVOTE_BODY_TIMEOUT``; 400 for an
    empty or malformed body (duplicate keys, NaN, invalid UTF-8, integers of
    more than 4300 digits, deep nesting included).
    """
    settings = server_state().settings
    require_json()
    request.max_content_length = max(settings.max_body, settings.max_command_body)
    data = read_body(
        small=settings.max_body,
        large=settings.max_command_body,
        timeout=settings.body_timeout,
        large_body=large_body,
    )
    if not data:
        raise BadRequest("the request body is empty; expected a JSON document")
    return parse_json(data)


def require_json() -> None:
    """415 unless the request says its body is JSON (a header: checked before anything)."""
    if request.mimetype != "application/json":
        raise UnsupportedMediaType("the request body must be JSON (Content-Type: application/json)")


def _party_of(election_id: str) -> Callable[[VerifyKey], bool]:
    """``allowed`` for a large body to an election: its official or credential authority."""

    def allowed(signer: VerifyKey) -> bool:
        created = get_service().facts(election_id).created
        return signer.raw in (created.official.raw, created.credential_authority.raw)

    return allowed


def int_arg(name: str, *, required: bool = False, lo: int = 0, hi: int = MAX_SAFE_INTEGER) -> int | None:
    """A non-negative decimal query parameter (400 for anything else)."""
    raw = request.args.get(name)
    if raw is None:
        if required:
            raise BadRequest(f"query parameter {name!r} is required")
        return None
    if not (raw.isascii() and raw.isdigit()) or len(raw) > 16:
        raise BadRequest(f"query parameter {name!r} must be a non-negative integer")
    value = int(raw)
    if not lo <= value <= hi:
        raise BadRequest(f"query parameter {name!r} must be between {lo} and {hi}")
    return value


def plausible_tracking_code(code: str) -> bool:
    """1–200 printable ASCII characters: anything else cannot be a tracking code (and a
    NUL byte must never reach PostgreSQL, which refuses it in text)."""
    return 1 <= len(code) <= MAX_TRACKING_CODE and code.isascii() and code.isprintable()


def rate_limited(scope: str | Callable[..., Any]) -> Any:
    """Spend one token of the client address's ``scope`` bucket (429 when empty).

    The buckets live in the board database (:mod:`ballot_server.ratelimit`), so
    the limit holds across every worker and host; it is checked before the
    body is read.  ``@rate_limited`` without a scope is ``@rate_limited("cast")``
    (the voter's routes: casting, auditing, the booth's login check)."""
    if callable(scope):
        return rate_limited("cast")(scope)

    def decorate(view: Callable[..., Any]) -> Callable[..., Any]:
        @wraps(view)
        def wrapped(*args: Any, **kwargs: Any) -> Any:
            server_state().limiters[scope].take(request.remote_addr or "unknown")
            return view(*args, **kwargs)

        return wrapped

    return decorate


def created(body: Any, location: str | None = None) -> Response:
    response = jsonify(body)
    response.status_code = 201
    if location:
        response.headers["Location"] = location
    return response


@bp.url_value_preprocessor
def check_ids(_endpoint: str | None, values: dict[str, Any] | None) -> None:
    """An election id that could never exist is a 404, like any unknown path."""
    if values and "election_id" in values:
        try:
            check_election_id(values["election_id"])
        except SchemaError:
            raise NotFound(f"no election {values['election_id']!r}") from None
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


@bp.get("/elections/<election_id>")
def election(election_id: str) -> Response:
    return jsonify(get_service().summary(election_id))


@bp.get("/elections/<election_id>/manifest")
def manifest(election_id: str) -> Response:
    return jsonify(get_service().facts(election_id).created.manifest.to_json())


@bp.get("/elections/<election_id>/trustees")
def trustees(election_id: str) -> Response:
    return jsonify(get_service().trustees(election_id))


@bp.get("/elections/<election_id>/key")
def joint_key(election_id: str) -> Response:
    facts = get_service().facts(election_id)
    if facts.joint_key is None:
        raise NotFound("the joint key is not published yet")
    return jsonify({"joint_key": facts.joint_key.to_json()})


@bp.get("/elections/<election_id>/credentials")
def credentials(election_id: str) -> Response:
    return jsonify({"credentials": get_service().credentials(election_id).to_json()})


@bp.get("/elections/<election_id>/fingerprint")
def fingerprint(election_id: str) -> Response:
    return jsonify(get_service().fingerprint(election_id))


@bp.post("/elections/<election_id>/commands/<kind>")
@rate_limited("command")
def command(election_id: str, kind: str) -> Response:
    # Only a credential list and the mixnet's commands may be large (others are a few KiB).
    large = LargeBody(election_id, kind, _party_of(election_id)) if kind in LARGE_KINDS else None
    large = large or mix_large_body(get_service(), election_id, kind)
    appended = get_service().command(election_id, kind, json_body(large))
    return created(appended.to_json())


@bp.post("/elections/<election_id>/voters")
@rate_limited("command")
def register_voters(election_id: str) -> Response:
    large = LargeBody(election_id, REGISTER_VOTERS, _party_of(election_id))
    logins = get_service().register_voters(election_id, json_body(large))
    return created({"logins": dict(logins)})


# --- ballots ----------------------------------------------------------------------


@bp.post("/elections/<election_id>/ballots")
@rate_limited("cast")
def cast(election_id: str) -> Response:
    """201 and the receipt; 200 and the same receipt for a ballot already on the board
    (the same bytes sent again after a lost answer, docs/api.md §5.1)."""
    authorization = request.headers.get("Authorization")
    require_json()
    login = get_service().authenticate(election_id, authorization)  # before the body is read
    return posted_answer(get_service().cast(election_id, login, json_body()))


@bp.post("/elections/<election_id>/audits")
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


@bp.get("/elections/<election_id>/ballots/<tracking_code>")
def ballot(election_id: str, tracking_code: str) -> Response:
    """The board entry of the ballot (cast or audited) with this tracking code."""
    if not plausible_tracking_code(tracking_code):
        raise NotFound("no ballot with such a tracking code")
    return jsonify(get_service().ballot(election_id, tracking_code).to_json())


@bp.get("/elections/<election_id>/ballots/<tracking_code>/receipt")
def ballot_receipt(election_id: str, tracking_code: str) -> Response:
    """The ballot's entry and its original receipt, by tracking code (docs/api.md §5.2):
    how a device that lost the answer to its cast recovers the receipt."""
    if not plausible_tracking_code(tracking_code):
        raise NotFound("no ballot with such a tracking code")
    entry, receipt = get_service().ballot_receipt(election_id, tracking_code)
    return jsonify({"entry": entry.to_json(), "receipt": receipt.to_json()})


# --- the board --------------------------------------------------------------------


@bp.get("/elections/<election_id>/entries")
def entries(election_id: str) -> Response:
    start = int_arg("start") or 0
    limit = int_arg("limit", lo=1, hi=1000) or 100
    return jsonify(get_service().board(election_id, start, limit))


@bp.get("/elections/<election_id>/entries/<int:index>")
def entry(election_id: str, index: int) -> Response:
    return jsonify(get_service().entry(election_id, index).to_json())


@bp.get("/elections/<election_id>/tree-head")
def tree_head(election_id: str) -> Response:
    return jsonify(get_service().tree_head(election_id).to_json())


@bp.get("/elections/<election_id>/inclusion")
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


@bp.get("/elections/<election_id>/consistency")
def consistency(election_id: str) -> Response:
    body = get_service().consistency(
        election_id, int_arg("first", required=True, lo=1), int_arg("second", lo=1)
    )
    return jsonify(body)


@bp.get("/elections/<election_id>/record")
def record(election_id: str) -> Response:
    """The election record as one zip archive, streamed while it is read from the board."""
    chunks = get_service().record(election_id)
    response = Response(stream_with_context(chunks), mimetype=MEDIA_TYPE)
    response.headers["Content-Disposition"] = f'attachment; filename="{election_id}.zip"'
    return response
