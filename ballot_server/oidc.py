"""Login through the city's OpenID provider: a second :class:`~ballot_server.auth.Authenticator`.

Authorization code flow with PKCE (RFC 7636, S256), through Authlib for the
client side and joserfc (Authlib's JOSE library) for the ID token signature:

1. ``GET /api/v1/elections/<id>/oidc/start`` makes a fresh ``state``,
   ``nonce`` and PKCE verifier, keeps them in a cookie encrypted and
   authenticated (XSalsa20-Poly1305, PyNaCl's SecretBox) under a key derived
   from the board key (so any worker or host can open it, and the browser, a
   proxy log or a cookie leak never shows the verifier), and sends
   the browser to the provider's authorization endpoint (found by discovery,
   ``<issuer>/.well-known/openid-configuration``).
2. ``GET /api/v1/oidc/callback`` checks the returned ``state`` against the
   cookie, refuses a ``state`` already used (replay), redeems the code at the
   token endpoint with the verifier, and checks the ID token: signature
   against the provider's JWKS, ``iss``, ``aud``, ``exp``, ``nonce``.
3. The subject becomes a voter id by a keyed hash (:func:`subject_voter_id`);
   it must be on the election's voter list, which the official registered
   with ``id_kind: "oidc_subject"``.  The browser gets back to the booth with
   a short-lived *session token* in the URL fragment (never sent to a server
   log), which it presents as ``Authorization: Bearer oidc.…`` like a login
   code; the first cast binds the credential to that voter id as for login
   codes.

Nothing of the login is stored next to a ballot: the token, the subject and the
provider's answer are never written; the only row is the voter list's keyed
hash, and the binding table links it to a credential exactly as a login code's
voter id is.  Used ``state`` values are remembered, as a keyed hash, in the
``oidc_states`` table every worker shares (:mod:`ballot_server.store.oidc_states`),
so a replay is ``oidc_replayed`` whichever worker it reaches.

Both routes spend the client address's ``cast`` rate-limit bucket (the voter's
scope, docs/api.md §4.3).  A refused callback sends a browser back to the booth
with ``#oidc-error=<code>`` (the booth shows it in the voter's language); a
client that asks for ``application/json`` gets the JSON error.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any
from urllib.parse import urlencode

import requests
from authlib.common.errors import AuthlibBaseError
from authlib.integrations.requests_client import OAuth2Session
from authlib.oauth2.rfc7636 import create_s256_code_challenge
from flask import Blueprint, Flask, Response, jsonify, redirect, request
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet
from nacl.exceptions import CryptoError
from nacl.secret import SecretBox

from ballot_server.auth import LoginCodeAuthenticator, VoterLogin, bearer_token
from ballot_server.commands import OIDC_SUBJECT as OIDC_SUBJECT
from ballot_server.config import OidcSettings, load_oidc_settings
from ballot_server.context import rate_limited, server_state
from ballot_server.db import get_store
from ballot_server.store import Store, login_code_hash
from evote.encoding import b64decode, b64encode
from evote.errors import AuthenticationError, EncodingError, EvoteError

#: ``register_voters`` body ``id_kind`` naming provider subjects (docs/api.md).
TOKEN_PREFIX = "oidc."  # noqa: S105 (a prefix, not a secret)
VOTER_ID_PREFIX = "oidc:"
COOKIE = "evote_oidc"
#: How long the browser has between start and callback, and a session token lives.
PENDING_SECONDS = 600
SESSION_SECONDS = 1800
CLOCK_LEEWAY_SECONDS = 30
ALGORITHMS = ["RS256", "PS256", "ES256", "EdDSA"]
HTTP_TIMEOUT = 10

_SUBJECT_TAG = b"evote/oidc-subject/v1"
_COOKIE_TAG = b"evote/oidc-pending/v1"
_SESSION_TAG = b"evote/oidc-session/v1"
_STATE_TAG = b"evote/oidc-used-state/v1"
_KEY_TAG = b"evote/oidc-key/v1"


class OidcError(EvoteError):
    """A refused provider login: 400 or 401/403 with a specific ``code`` (docs/api.md)."""

    def __init__(self, code: str, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.code = code
        self.http_status = status


def _key(board_seed: bytes, tag: bytes) -> bytes:
    return hmac.new(board_seed, _KEY_TAG + b"\x00" + tag, hashlib.sha256).digest()


def subject_voter_id(key: bytes, issuer: str, subject: str) -> str:
    """The voter id of ``subject`` at ``issuer``: ``oidc:`` + HMAC-SHA256 (base64url).

    Keyed, so the voter list (and a leak of the database) shows no subject; the
    issuer is hashed in, so two providers' equal subjects are different voters."""
    msg = _SUBJECT_TAG + b"\x00" + issuer.encode() + b"\x00" + subject.encode()
    return VOTER_ID_PREFIX + b64encode(hmac.new(key, msg, hashlib.sha256).digest())


def _encrypt(key: bytes, payload: dict[str, Any]) -> str:
    """``payload`` encrypted and authenticated under ``key`` (a random 24-byte nonce each time)."""
    plain = json.dumps(payload, sort_keys=True, separators=(",", ":")).encode()
    return b64encode(bytes(SecretBox(key).encrypt(plain)))


def _decrypt(key: bytes, sealed: str) -> dict[str, Any] | None:
    """The payload of an :func:`_encrypt` value, or None if it was not made with ``key``
    or was changed at all (Poly1305 refuses any flipped bit)."""
    try:
        box = b64decode(sealed, what="cookie")
        payload = json.loads(SecretBox(key).decrypt(box).decode())
    except (EncodingError, CryptoError, ValueError, TypeError):
        return None
    return payload if isinstance(payload, dict) else None


def _seal(key: bytes, tag: bytes, payload: dict[str, Any]) -> str:
    body = b64encode(json.dumps(payload, sort_keys=True, separators=(",", ":")).encode())
    mac = hmac.new(key, tag + b"\x00" + body.encode(), hashlib.sha256).digest()
    return f"{body}.{b64encode(mac)}"


def _open(key: bytes, tag: bytes, sealed: str) -> dict[str, Any] | None:
    """The payload of a :func:`_seal` value, or None if it was not made with ``key``."""
    body, sep, mac = sealed.partition(".")
    try:
        given = b64decode(mac, length=32, what="mac")
        expected = hmac.new(key, tag + b"\x00" + body.encode(), hashlib.sha256).digest()
        if not sep or not hmac.compare_digest(given, expected):
            return None
        payload = json.loads(b64decode(body, what="sealed").decode())
    except (EncodingError, ValueError):
        return None
    return payload if isinstance(payload, dict) else None


@dataclass
class Provider:
    """The provider's endpoints and keys, read by discovery once (keys again on an unknown kid)."""

    settings: OidcSettings
    _meta: dict[str, Any] | None = None
    _jwks: KeySet | None = None

    def meta(self) -> dict[str, Any]:
        if self._meta is None:
            url = self.settings.issuer.rstrip("/") + "/.well-known/openid-configuration"
            meta = _get_json(url)
            if meta.get("issuer") != self.settings.issuer:
                raise OidcError(
                    "oidc_provider_error", "the provider's discovery names another issuer", 502
                )
            self._meta = meta
        return self._meta

    def keys(self, refresh: bool = False) -> KeySet:
        if self._jwks is None or refresh:
            self._jwks = KeySet.import_key_set(_get_json(str(self.meta()["jwks_uri"])))
        return self._jwks


def _get_json(url: str) -> dict[str, Any]:
    try:
        answer = requests.get(url, timeout=HTTP_TIMEOUT)
        answer.raise_for_status()
        value = answer.json()
    except (requests.RequestException, ValueError):
        raise OidcError(
            "oidc_provider_error", "the identity provider did not answer", 502
        ) from None
    if not isinstance(value, dict):
        raise OidcError(
            "oidc_provider_error", "the identity provider's answer is not an object", 502
        )
    return value


class OidcAuthenticator:
    """Session tokens from a provider login (``Bearer oidc.…``); anything else goes to login codes."""

    def __init__(self, settings: OidcSettings, board_seed: bytes, clock: Callable[[], int]) -> None:
        self.settings = settings
        self.provider = Provider(settings)
        self.subject_key = _key(board_seed, _SUBJECT_TAG)
        self.cookie_key = _key(board_seed, _COOKIE_TAG)
        self.session_key = _key(board_seed, _SESSION_TAG)
        self.clock = clock
        self.codes = LoginCodeAuthenticator()
        self.state_key = _key(board_seed, _STATE_TAG)

    def now(self) -> float:
        return self.clock() / 1000.0

    def voter_id(self, subject: str) -> str:
        return subject_voter_id(self.subject_key, self.settings.issuer, subject)

    def authenticate(self, store: Store, election_id: str, authorization: str | None) -> VoterLogin:
        token = bearer_token(authorization)
        if not token.startswith(TOKEN_PREFIX):
            return self.codes.authenticate(store, election_id, authorization)
        payload = _open(self.session_key, _SESSION_TAG, token[len(TOKEN_PREFIX) :])
        if payload is None or payload.get("e") != election_id:
            raise AuthenticationError("not a session token of this election's provider login")
        if not isinstance(payload.get("x"), int) or payload["x"] < self.now():
            raise AuthenticationError("the provider login has expired; sign in again")
        voter = store.voter(election_id, str(payload.get("v")))
        if voter is None:
            raise AuthenticationError("unknown voter id or wrong login code")
        return VoterLogin(election_id, voter.voter_id, voter)

    def session_token(self, election_id: str, voter_id: str) -> str:
        exp = int(self.now()) + SESSION_SECONDS
        return TOKEN_PREFIX + _seal(
            self.session_key, _SESSION_TAG, {"e": election_id, "v": voter_id, "x": exp}
        )

    def use_state(self, store: Store, state: str, until: int) -> None:
        """Refuse a ``state`` seen before by any worker (a replayed callback), remembering
        its keyed hash in the shared database until it expires (``until``, seconds)."""
        digest = hmac.new(self.state_key, state.encode(), hashlib.sha256).digest()
        if not store.use_oidc_state(digest, until * 1000, int(self.now() * 1000)):
            raise OidcError("oidc_replayed", "this provider login was already used", 409)


def registered_voter_ids(authenticator: Any, subjects: list[str]) -> list[tuple[str, bytes]]:
    """``(voter id, login hash)`` rows for provider ``subjects`` (the register path's
    ``id_kind: "oidc_subject"``): the login hash is of a random secret nobody keeps, so
    no login code can ever open such a row."""
    if not isinstance(authenticator, OidcAuthenticator):
        raise OidcError("oidc_not_configured", "this server has no identity provider configured")
    return [(authenticator.voter_id(s), login_code_hash(secrets.token_bytes(32))) for s in subjects]


bp = Blueprint("oidc", __name__, url_prefix="/api/v1")


def _auth() -> OidcAuthenticator:
    auth = server_state().authenticator
    if not isinstance(auth, OidcAuthenticator):
        raise OidcError(
            "oidc_not_configured", "this server has no identity provider configured", 404
        )
    return auth


def _redirect_uri() -> str:
    return request.url_root.rstrip("/") + "/api/v1/oidc/callback"


@bp.get("/oidc")
def about() -> Response:
    """``{"name", "issuer"}`` for the booth's "Sign in with …" button; 404 if not configured."""
    auth = _auth()
    return jsonify({"name": auth.settings.name, "issuer": auth.settings.issuer})


@bp.get("/elections/<election:election_id>/oidc/start")
@rate_limited("cast")
def start(election_id: str) -> Response:
    auth = _auth()
    get_store().entry_count(election_id)  # 404 for an unknown election
    meta = auth.provider.meta()
    # 256-bit state and nonce; a 64-character PKCE verifier (RFC 7636 allows 43-128)
    state, nonce, verifier = (
        secrets.token_urlsafe(32),
        secrets.token_urlsafe(32),
        secrets.token_urlsafe(48),
    )
    exp = int(auth.now()) + PENDING_SECONDS
    pending = _encrypt(
        auth.cookie_key,
        {"e": election_id, "s": state, "n": nonce, "c": verifier, "x": exp},
    )
    query = {
        "response_type": "code",
        "client_id": auth.settings.client_id,
        "redirect_uri": _redirect_uri(),
        "scope": "openid",
        "state": state,
        "nonce": nonce,
        "code_challenge": create_s256_code_challenge(verifier),
        "code_challenge_method": "S256",
    }
    response = redirect(str(meta["authorization_endpoint"]) + "?" + urlencode(query), 303)
    response.set_cookie(
        COOKIE,
        pending,
        max_age=PENDING_SECONDS,
        httponly=True,
        samesite="Lax",
        secure=request.is_secure,
        path="/api/v1/oidc/",
    )
    return response


def _wants_json() -> bool:
    """True unless the request prefers HTML (a browser navigating): API clients and
    tools that send no Accept, or ``Accept: application/json``, get the JSON error."""
    accept = request.accept_mimetypes
    return not accept.accept_html or accept["application/json"] >= accept["text/html"]


@bp.get("/oidc/callback")
@rate_limited("cast")
def callback() -> Response:
    auth = _auth()
    raw = request.cookies.get(COOKIE)
    if not raw:
        raise OidcError(
            "oidc_no_pending_login", "no provider login was started here (or it expired)"
        )
    pending = _decrypt(auth.cookie_key, raw)
    if pending is None or not isinstance(pending.get("e"), str):
        raise OidcError(
            "oidc_bad_pending_login", "the pending-login cookie was not made here or was changed"
        )
    if not isinstance(pending.get("x"), int) or pending["x"] < auth.now():
        raise OidcError(
            "oidc_no_pending_login", "no provider login was started here (or it expired)"
        )
    try:
        return _finish(auth, pending)
    except OidcError as exc:
        if _wants_json():
            raise
        # A browser: back to the booth, which says what went wrong in the voter's language.
        response = redirect(f"/booth/{pending['e']}/#oidc-error={exc.code}", 303)
        response.headers["Cache-Control"] = "no-store"
        response.headers["Referrer-Policy"] = "no-referrer"
        return response


def _finish(auth: OidcAuthenticator, pending: dict[str, Any]) -> Response:
    state = request.args.get("state", "")
    if not hmac.compare_digest(state.encode(), str(pending["s"]).encode()):
        raise OidcError(
            "oidc_state_mismatch", "the provider's answer is not for the login started here"
        )
    if "error" in request.args:
        raise OidcError(
            "oidc_refused", f"the identity provider refused: {request.args['error'][:100]}", 401
        )
    auth.use_state(get_store(), state, pending["x"])
    election_id = str(pending["e"])
    claims = _redeem(auth, request.args.get("code", ""), str(pending["c"]))
    _check_claims(auth, claims, str(pending["n"]))
    subject = claims.get("sub")
    if not isinstance(subject, str) or not subject:
        raise OidcError("oidc_bad_token", "the ID token names no subject", 401)
    voter_id = auth.voter_id(subject)
    if get_store().voter(election_id, voter_id) is None:
        raise OidcError(
            "oidc_not_registered", "this account is not on the election's voter list", 403
        )
    token = auth.session_token(election_id, voter_id)
    response = redirect(f"/booth/{election_id}/#oidc={token}", 303)
    response.delete_cookie(COOKIE, path="/api/v1/oidc/")
    response.headers["Cache-Control"] = "no-store"
    response.headers["Referrer-Policy"] = "no-referrer"
    return response


def _redeem(auth: OidcAuthenticator, code: str, verifier: str) -> dict[str, Any]:
    """Redeem ``code`` (with the PKCE verifier) and return the verified ID token's claims."""
    meta = auth.provider.meta()
    session = OAuth2Session(
        auth.settings.client_id,
        auth.settings.client_secret,
        redirect_uri=_redirect_uri(),
        token_endpoint_auth_method="client_secret_basic",  # noqa: S106 (a method name)
    )
    try:
        token = session.fetch_token(
            str(meta["token_endpoint"]),
            grant_type="authorization_code",
            code=code,
            code_verifier=verifier,
            timeout=HTTP_TIMEOUT,
        )
    except (AuthlibBaseError, requests.RequestException, ValueError) as exc:
        raise OidcError(
            "oidc_code_rejected",
            f"the identity provider refused the code ({type(exc).__name__})",
            401,
        ) from None
    id_token = token.get("id_token")
    if not isinstance(id_token, str):
        raise OidcError("oidc_bad_token", "the provider sent no ID token", 401)
    for refresh in (False, True):  # a new key id: read the JWKS once more (key rotation)
        try:
            return dict(
                jwt.decode(id_token, auth.provider.keys(refresh), algorithms=ALGORITHMS).claims
            )
        except JoseError as exc:
            failure = exc
        except ValueError as exc:
            failure = exc  # type: ignore[assignment]
    raise OidcError(
        "oidc_bad_signature",
        f"the ID token's signature does not verify ({type(failure).__name__})",
        401,
    )


def _check_claims(auth: OidcAuthenticator, claims: dict[str, Any], nonce: str) -> None:
    now = auth.now()
    if claims.get("iss") != auth.settings.issuer:
        raise OidcError("oidc_wrong_issuer", "the ID token is from another issuer", 401)
    aud = claims.get("aud")
    auds = aud if isinstance(aud, list) else [aud]
    if auth.settings.client_id not in auds or (
        len(auds) > 1 and claims.get("azp") != auth.settings.client_id
    ):
        raise OidcError("oidc_wrong_audience", "the ID token is for another relying party", 401)
    exp = claims.get("exp")
    if not isinstance(exp, int) or exp + CLOCK_LEEWAY_SECONDS < now:
        raise OidcError("oidc_token_expired", "the ID token has expired", 401)
    given = claims.get("nonce")
    if not isinstance(given, str) or not hmac.compare_digest(given.encode(), nonce.encode()):
        raise OidcError(
            "oidc_nonce_mismatch", "the ID token's nonce is not the one this login sent", 401
        )


def init_app(app: Flask, config: dict[str, Any] | None = None) -> None:
    """If ``EVOTE_OIDC_ISSUER`` is set: provider logins beside login codes, and the routes.

    Called once by :func:`ballot_server.create_app` after the server state is built."""
    import os

    settings = load_oidc_settings(config or {}, os.environ)
    if settings is None:
        return
    state = app.extensions["evote"]
    auth = OidcAuthenticator(settings, state.board_key.seed, state.clock)
    app.extensions["evote"] = replace(state, authenticator=auth)
    app.register_blueprint(bp)
