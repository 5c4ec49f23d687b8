"""The web voting booth: the page at ``/booth/<election-id>`` and the two small
endpoints its script uses.

The booth's code is one bundle, ``static/booth.js``, built reproducibly from
``ballot_server/booth/`` (``make install`` runs ``npm ci`` and the build).
Its digests are computed once, when the app starts:

* SHA-384, as the page's Subresource Integrity hash, so the browser runs the
  bundle only if it is exactly the file the server started with (the CSS too);
* SHA-256, shown in the booth's footer and meant to be published on the board
  when the election opens (``booth_sha256``), so that anyone can rebuild the
  bundle from the sources and compare.

The page carries no inline script or style (the server's CSP is
``script-src 'self'``; ``style-src 'self'``).  Endpoints:

* ``GET /booth/<id>/election.json``: what the booth encrypts for — manifest,
  joint key, the qualified trustees' commitments, the credential list's digest,
  the fingerprint the official signed on the board, the board key — and the
  ``booth_sha256`` the official published in ``election_opened`` (or null).
  The booth recomputes the fingerprint from the parts and refuses to run if it
  differs; it also hashes its own bundle and refuses to run if that digest is
  not the one on the board (see ``docs/guide.md``, "The booth's digest").
* ``POST /booth/<id>/login`` with ``Authorization: Bearer <login code>``:
  checks the login code before the voter goes on (401 if wrong); no body.
* ``GET /booth/assets.json``: the bundle's digests (for the official's
  ``election_opened`` and for auditors).

The private credential is never sent to any of these: the booth signs ballots
in the browser and posts only ballots (to ``/api/v1``).
"""

from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from flask import Blueprint, Flask, Response, current_app, jsonify, render_template, request
from flask.blueprints import BlueprintSetupState

from ballot_server.api import get_service, rate_limited, server_state
from evote.commands import check_election_id
from evote.dkg import trustee_commitments
from evote.encoding import b64encode
from evote.errors import NotFound, SchemaError, ServiceUnavailable

bp = Blueprint("booth", __name__)

STATIC = Path(__file__).resolve().parent / "static"
BUNDLE = STATIC / "booth.js"
STYLES = STATIC / "booth.css"
EXTENSION = "evote_booth"


@dataclass(frozen=True)
class BoothAssets:
    """The digests of the booth's files, fixed when the app starts."""

    js_integrity: str  # "sha384-<base64>" (Subresource Integrity)
    css_integrity: str
    js_sha256: str  # hex, as published on the board


def _sri(data: bytes) -> str:
    return "sha384-" + base64.b64encode(hashlib.sha384(data).digest()).decode("ascii")


def bundle_sha256(path: Path = BUNDLE) -> str:
    """Hex SHA-256 of the built bundle: the ``booth_sha256`` of ``election_opened``.

    Raises FileNotFoundError when the bundle has not been built (``make install``).
    """
    return hashlib.sha256(path.read_bytes()).hexdigest()


def load_assets(static: Path = STATIC) -> BoothAssets | None:
    """Digest the bundle and the stylesheet; None when the bundle is not built."""
    try:
        js = (static / "booth.js").read_bytes()
        css = (static / "booth.css").read_bytes()
    except FileNotFoundError:
        return None
    return BoothAssets(_sri(js), _sri(css), hashlib.sha256(js).hexdigest())


@bp.record_once
def _digest_at_startup(state: BlueprintSetupState) -> None:
    app: Flask = state.app
    app.extensions[EXTENSION] = load_assets()
    if app.extensions[EXTENSION] is None:
        app.logger.warning("the booth bundle %s is not built; run `make install`", BUNDLE)


def assets() -> BoothAssets:
    """This app's booth digests; 503 when the bundle was missing at startup."""
    found = current_app.extensions.get(EXTENSION)
    if found is None:
        raise ServiceUnavailable("the voting booth is not built on this server (make install)")
    return found


def _election_id(election_id: str) -> str:
    try:
        return check_election_id(election_id)
    except SchemaError:
        raise NotFound(f"no election {election_id!r}") from None


@bp.get("/booth/assets.json")
def booth_assets() -> Response:
    a = assets()
    return jsonify({"booth_sha256": a.js_sha256, "js_integrity": a.js_integrity,
                    "css_integrity": a.css_integrity})


@bp.get("/booth/<election_id>")
def page(election_id: str) -> str:
    """The booth page; the script loads the election itself (and says if there is none)."""
    a = assets()
    return render_template(
        "booth.html",
        election_id=_election_id(election_id),
        js_integrity=a.js_integrity,
        css_integrity=a.css_integrity,
        booth_sha256=a.js_sha256,
    )


@bp.get("/booth/<election_id>/election.json")
def election(election_id: str) -> Response:
    """What a ballot of this election is encrypted for and bound to (see the module docstring)."""
    service = get_service()
    facts = service.facts(_election_id(election_id))
    if facts.joint_key is None or facts.credentials is None:
        raise NotFound("the election is not set up yet: no joint key or credential list")
    qualified = facts.ceremony_outcome().feldman  # revealed or rebuilt (GJKR)
    body: dict[str, Any] = {
        "election_id": facts.election_id,
        "phase": facts.phase.value,
        "manifest": facts.created.manifest.to_json(),
        "joint_key": facts.joint_key.joint_key.to_json(),
        "trustee_commitments": [[c.to_json() for c in row] for row in trustee_commitments(qualified)],
        "credentials_digest": b64encode(facts.credentials.digest()),
        "fingerprint": None if facts.fingerprint is None else b64encode(facts.fingerprint),
        "booth_sha256": None if facts.booth_sha256 is None else b64encode(facts.booth_sha256),
        "board_key": server_state().board_key.verify_key.to_json(),
    }
    return jsonify(body)


@bp.post("/booth/<election_id>/login")
@rate_limited
def login(election_id: str) -> Response:
    """204 if the Bearer login code is a registered voter's of this election, else 401."""
    service = get_service()
    service.facts(_election_id(election_id))
    service.authenticate(election_id, request.headers.get("Authorization"))
    return Response(status=204)
