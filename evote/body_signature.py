"""A signature over a request body's raw bytes, checked before the body is parsed.

A large request (a credential list, a voter registration, a big manifest) is
only worth parsing if an authorised party sent it: parsing a hostile 64 MiB
JSON document can cost the server gigabytes.  The signed command inside the
body cannot be checked before parsing (it signs the canonical JSON of its
body), so a large request also carries an ``Evote-Body-Signature`` header:
the signer's public key and an Ed25519 signature over

    transcript(TAG_BODY_SIGNATURE, [election id, route, SHA-256(raw body)])

(``election id`` is empty for ``POST /elections``; ``route`` is the command
kind, ``register_voters`` or ``election_created``).  The server checks that the
signer is a party of the election (or an allowed official, for a new election)
before it reads the body, and the signature once the bytes are in, before any
JSON is parsed (docs/api.md, "Request size caps").  The header is transport
authorisation only: the board still records the signed command, which is
checked as before.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from evote.encoding import b64decode, b64encode
from evote.errors import EncodingError
from evote.hashing import TAG_BODY_SIGNATURE, enc_str
from evote.signing import SIGNATURE_BYTES, SigningKey, VerifyKey

HEADER = "Evote-Body-Signature"


def _fields(election_id: str, route: str, digest: bytes) -> list[bytes]:
    return [enc_str(election_id), enc_str(route), digest]


@dataclass(frozen=True, slots=True)
class BodySignature:
    """The parsed header value ``<signer b64url>.<signature b64url>``."""

    signer: VerifyKey
    signature: bytes

    @classmethod
    def parse(cls, value: str) -> BodySignature:
        signer, sep, signature = value.strip().partition(".")
        if not sep:
            raise EncodingError(f"{HEADER}: expected <signer>.<signature>")
        return cls(
            VerifyKey.from_json(signer),
            b64decode(signature, length=SIGNATURE_BYTES, what=f"{HEADER} signature"),
        )

    def header(self) -> str:
        return f"{self.signer.to_json()}.{b64encode(self.signature)}"

    def verify(self, election_id: str, route: str, digest: bytes) -> None:
        """Raise :class:`~evote.errors.InvalidSignature` unless it signs the body whose
        SHA-256 is ``digest`` (hashed while it was read, so it need not be in memory)."""
        self.signer.verify(TAG_BODY_SIGNATURE, _fields(election_id, route, digest), self.signature)


def sign_body(key: SigningKey, election_id: str, route: str, body: bytes) -> BodySignature:
    """The header value for sending ``body`` to ``route`` of ``election_id``."""
    fields = _fields(election_id, route, hashlib.sha256(body).digest())
    return BodySignature(key.verify_key, key.sign(TAG_BODY_SIGNATURE, fields))
