"""Signed commands: how officials and trustees speak to the board.

Every lifecycle entry except ballots is a :class:`SignedCommand`: a JSON body
signed by the Ed25519 key of the party allowed to issue it.  The signature
covers ``transcript(TAG_COMMAND, [election id, kind, canonical_json(body)])``,
so a command signed for one election or one kind can never be replayed as
another, and the board entry's payload (the command JSON itself) lets anyone
re-check who authorised each step without trusting the server.

The server decides *which* key may sign *which* kind (the election_created
entry names them); this module only binds body, kind, election and signer.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from evote.encoding import Fields, b64encode, canonical_json
from evote.errors import SchemaError
from evote.hashing import TAG_COMMAND, enc_str
from evote.limits import MAX_ELECTION_ID as MAX_ELECTION_ID
from evote.signing import SIGNATURE_BYTES, SigningKey, VerifyKey

_ID_CHARS = frozenset("abcdefghijklmnopqrstuvwxyz0123456789-_")


def check_election_id(election_id: Any, what: str = "election id") -> str:
    """Reject ids that are not 1–64 characters of ``[a-z0-9_-]`` starting with a letter or digit.

    Ids name URL path segments and archive files, so they are kept to a
    spelling that needs no escaping anywhere.
    """
    if not isinstance(election_id, str) or not 1 <= len(election_id) <= MAX_ELECTION_ID:
        raise SchemaError(f"{what}: expected 1 to {MAX_ELECTION_ID} characters")
    if not set(election_id) <= _ID_CHARS or election_id[0] in "-_":
        raise SchemaError(f"{what}: only a-z, 0-9, '-' and '_' (not first) are allowed")
    return election_id


def _message(election_id: str, kind: str, body: dict) -> list[bytes]:
    """The signed fields, in the order docs/protocol.md gives."""
    return [enc_str(election_id), enc_str(kind), canonical_json(body)]


@dataclass(frozen=True, slots=True)
class SignedCommand:
    """A command body with the key that signed it and the signature.

    Construct through :func:`sign_command` or :meth:`from_json`; call
    :meth:`verify` with the election and kind it is presented for.
    """

    body: dict
    signer: VerifyKey
    signature: bytes

    @classmethod
    def from_json(cls, obj: Any, path: str = "command") -> SignedCommand:
        """Parse ``{"body": {...}, "signer": b64, "signature": b64}`` strictly.

        The body must be an object that canonicalises (so that the signed bytes
        are well defined); it is not interpreted here.
        """
        f = Fields(obj, path, required={"body", "signer", "signature"})
        body = f.obj_of("body")
        if not isinstance(body, dict):
            raise SchemaError(f"{f.sub('body')}: expected an object")
        canonical_json(body)
        signer = VerifyKey.from_json(f.raw("signer"))
        signature = f.bytes("signature", length=SIGNATURE_BYTES)
        return cls(body=body, signer=signer, signature=signature)

    def to_json(self) -> dict:
        return {
            "body": self.body,
            "signer": self.signer.to_json(),
            "signature": b64encode(self.signature),
        }

    def verify(self, election_id: str, kind: str) -> None:
        """Raise :class:`InvalidSignature` unless the signer signed this body for
        this election and this kind.  Who is *allowed* to sign is the caller's rule."""
        self.signer.verify(TAG_COMMAND, _message(election_id, kind, self.body), self.signature)


def sign_command(key: SigningKey, election_id: str, kind: str, body: dict) -> SignedCommand:
    """Sign ``body`` as a ``kind`` command for ``election_id`` (deterministic Ed25519)."""
    if not isinstance(body, dict):
        raise TypeError("body must be a dict")
    signature = key.sign(TAG_COMMAND, _message(election_id, kind, body))
    return SignedCommand(body=body, signer=key.verify_key, signature=signature)
