"""The web voting booth: the page at ``/booth/<election-id>`` and the two small
endpoints its script uses.

The bundle and its digests (Subresource Integrity on the page, the SHA-256
in the footer and on the board) are :mod:`ballot_server.booth_assets`; this
module is only the routes.  (It is not called ``booth``: that name is the
folder of the bundle's JavaScript sources, ``ballot_server/booth/``.)

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

from typing import Any

from flask import Blueprint, Response, current_app, jsonify, render_template, request

from ballot_server.context import get_service, rate_limited, require_assets, server_state
from evote.dkg import trustee_commitments
from evote.encoding import b64encode
from evote.errors import NotFound

bp = Blueprint("booth", __name__)


@bp.get("/booth/assets.json")
def booth_assets() -> Response:
    a = require_assets()
    return jsonify({"booth_sha256": a.js_sha256, "js_integrity": a.js_integrity,
                    "css_integrity": a.css_integrity})


@bp.get("/booth/<election:election_id>")
def page(election_id: str) -> str:
    """The booth page; the script loads the election itself (and says if there is none)."""
    a = require_assets()
    return render_template(
        "booth.html",
        election_id=election_id,
        js_integrity=a.js_integrity,
        css_integrity=a.css_integrity,
        booth_sha256=a.js_sha256,
        # the OIDC blueprint is registered only when a provider is configured
        oidc="oidc" in current_app.blueprints,
    )


@bp.get("/booth/<election:election_id>/election.json")
def election(election_id: str) -> Response:
    """What a ballot of this election is encrypted for and bound to (see the module docstring)."""
    service = get_service()
    facts = service.facts(election_id)
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


@bp.post("/booth/<election:election_id>/login")
@rate_limited
def login(election_id: str) -> Response:
    """204 if the Bearer login code is a registered voter's of this election, else 401."""
    service = get_service()
    service.facts(election_id)
    service.authenticate(election_id, request.headers.get("Authorization"))
    return Response(status=204)
