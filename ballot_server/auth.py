"""Voter authentication: who is casting, separately from which credential they cast with.

The server binds each voter credential to the first *login* that casts with it
(the Belenios split), so that neither the credential authority, who knows the
credentials, nor the server, who knows the logins, can vote for an abstaining
voter alone.  A login is whatever an :class:`Authenticator` says it is:

* :class:`LoginCodeAuthenticator` (now): the server issues every registered
  voter a random 32-byte login code, stores only its hash, and the voter
  presents it as ``Authorization: Bearer <login code>``;
* :class:`ballot_server.oidc.OidcAuthenticator` (with ``EVOTE_OIDC_ISSUER``):
  the city's OpenID provider vouches for a subject, whose keyed hash is the
  voter id the official registered; it takes login codes too.

Either way the result is a :class:`VoterLogin` naming a registered voter id;
the casting rules (:mod:`ballot_server.service`) never see how it was proven.

A login code as handed to the voter is ``<voter id, base64url>.<32 random
bytes, base64url>``: carrying the voter id lets the server find the row to
compare against (in constant time) without an index over secrets, and keeps
the code one opaque string to paste.  Nothing about the login is written on the
board or next to a ballot; the binding table is the only link, and it is never
exported.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Protocol

from ballot_server.store import Store, Voter, login_code_hash
from evote.encoding import b64decode, b64encode
from evote.errors import AuthenticationError, EncodingError, SchemaError
from evote.group import Rng
from evote.limits import MAX_VOTER_ID as MAX_VOTER_ID

LOGIN_SECRET_BYTES = 32
SCHEME = "Bearer"


@dataclass(frozen=True, slots=True)
class VoterLogin:
    """A request proven to come from registered voter ``voter_id`` of ``election_id``.

    ``voter`` is the login's row as the authenticator read it, if it did: its
    credential binding lets the cast skip re-reading it under the append lock
    (:meth:`ballot_server.store.BoardHandle.bind_credential`).
    """

    election_id: str
    voter_id: str
    voter: Voter | None = None


class Authenticator(Protocol):
    """Turns a request's ``Authorization`` header into a :class:`VoterLogin`.

    Must raise :class:`~evote.errors.AuthenticationError` (401) for a missing,
    malformed or wrong credential, and must not write anything.
    """

    def authenticate(
        self, store: Store, election_id: str, authorization: str | None
    ) -> VoterLogin: ...


def check_voter_id(voter_id: object, path: str = "voter id") -> str:
    """1–200 printable characters (no control characters): ids go into logs and CSV files."""
    if not isinstance(voter_id, str) or not 1 <= len(voter_id) <= MAX_VOTER_ID:
        raise SchemaError(f"{path}: expected 1 to {MAX_VOTER_ID} characters")
    if not voter_id.isprintable():
        raise SchemaError(f"{path}: control characters are not allowed")
    return voter_id


def format_login_code(voter_id: str, secret: bytes) -> str:
    return f"{b64encode(voter_id.encode('utf-8'))}.{b64encode(secret)}"


def parse_login_code(code: str) -> tuple[str, bytes]:
    """``(voter id, secret)``; :class:`AuthenticationError` for anything malformed."""
    head, sep, tail = code.partition(".")
    if not sep:
        raise AuthenticationError("malformed login code")
    try:
        voter_id = b64decode(head, what="login code").decode("utf-8")
        secret = b64decode(tail, length=LOGIN_SECRET_BYTES, what="login code")
        check_voter_id(voter_id)
    except (EncodingError, SchemaError, UnicodeDecodeError):
        raise AuthenticationError("malformed login code") from None
    return voter_id, secret


def issue_login_codes(
    voter_ids: Iterable[str], rng: Rng
) -> list[tuple[str, str, bytes]]:
    """``(voter id, login code, hash to store)`` for each voter: the code is shown once."""
    out = []
    for voter_id in voter_ids:
        secret = rng(LOGIN_SECRET_BYTES)
        if len(secret) != LOGIN_SECRET_BYTES:
            raise ValueError("rng returned the wrong number of bytes")
        out.append((voter_id, format_login_code(voter_id, secret), login_code_hash(secret)))
    return out


def bearer_token(authorization: str | None) -> str:
    """The token of an ``Authorization: Bearer <token>`` header."""
    if not authorization:
        raise AuthenticationError("a voter login is required (Authorization: Bearer <login code>)")
    scheme, _, token = authorization.strip().partition(" ")
    if scheme.lower() != SCHEME.lower() or not token.strip():
        raise AuthenticationError("expected Authorization: Bearer <login code>")
    return token.strip()


class LoginCodeAuthenticator:
    """Login codes issued by this server at voter registration (stored hashed)."""

    def authenticate(
        self, store: Store, election_id: str, authorization: str | None
    ) -> VoterLogin:
        voter_id, secret = parse_login_code(bearer_token(authorization))
        voter = store.authenticate(election_id, voter_id, secret)
        return VoterLogin(election_id, voter.voter_id, voter)
