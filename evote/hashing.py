"""The one way evote hashes, and every domain-separation tag it uses.

Every hash input is the concatenation of length-prefixed items

    lp(x) = len(x) as 8-byte big-endian || x

starting with the protocol name and version, then a tag naming the purpose, then
the fields in the order the protocol document gives.  Because every item carries
its length, two different field lists can never produce the same input bytes
(the transcript encoding is injective), which is what keeps a Fiat–Shamir
challenge bound to exactly the statement it was computed for.

``hash_to_scalar`` (SHA-512, 64 bytes reduced mod L by libsodium) is used for all
Fiat–Shamir challenges; ``tagged_hash`` (SHA-256) for fingerprints, tracking codes
and commitments.  The tags below are quoted verbatim in ``docs/protocol.md``.
"""

from __future__ import annotations

from nacl import bindings

from evote.group import Scalar

PROTOCOL = b"evote/v1/edwards25519"

# Fiat–Shamir tags (hash_to_scalar).
TAG_SCHNORR = b"schnorr"
TAG_DLEQ = b"dleq"
TAG_RANGE = b"range"

# Hash tags (tagged_hash).
TAG_FINGERPRINT = b"fingerprint"
TAG_BALLOT_SIGNATURE = b"ballot-signature"
TAG_DKG_COMMIT = b"dkg-commit"
TAG_PEDERSEN_GENERATOR = b"pedersen-generator"
TAG_SCHNORR_H = b"schnorr-h"
TAG_SHARE_BOX = b"dkg-share"
TAG_ENTRY_SIGNATURE = b"entry-signature"
TAG_TREE_HEAD = b"tree-head"
TAG_RECEIPT = b"receipt"
TAG_CREDENTIAL_CODE = b"credential-code"
TAG_COMMAND = b"command"
TAG_TRUSTEE_MESSAGE = b"trustee-message"
TAG_MANIFEST = b"manifest"
TAG_CREDENTIAL_LIST = b"credential-list"
TAG_BALLOT = b"ballot"
TAG_LOGIN_CODE = b"login-code"
TAG_BODY_SIGNATURE = b"body-signature"


# Context labels: the first ctx field of a proof, naming the protocol step it belongs to.
CTX_DKG_COEFFICIENT = b"dkg-coefficient"
CTX_DKG_BLINDING = b"dkg-blinding"
CTX_DECRYPTION = b"decryption"
CTX_BALLOT_OPTION = b"ballot-option"
CTX_BALLOT_SUM = b"ballot-sum"


def lp(item: bytes) -> bytes:
    """Length-prefix one item: 8-byte big-endian length, then the bytes."""
    return len(item).to_bytes(8, "big") + item


_PROTOCOL_ITEM = lp(PROTOCOL)


def transcript(tag: bytes, fields: tuple[bytes, ...] | list[bytes]) -> bytes:
    """The exact bytes that get hashed: protocol, tag, then each field, all length-prefixed.

    :func:`lp` is written out in the loop: every proof check builds one of
    these, with ten to twenty fields.
    """
    parts = [_PROTOCOL_ITEM, len(tag).to_bytes(8, "big"), tag]
    append = parts.append
    for field in fields:
        if not isinstance(field, bytes):
            raise TypeError("transcript fields must be bytes")
        append(len(field).to_bytes(8, "big"))
        append(field)
    return b"".join(parts)


def enc_int(n: int) -> bytes:
    """An unsigned integer field (8-byte big-endian), e.g. an index or a count."""
    if n < 0 or n >= 2**64:
        raise ValueError("integer field out of range")
    return n.to_bytes(8, "big")


def enc_str(s: str) -> bytes:
    """A text field, UTF-8."""
    return s.encode("utf-8")


def sha256(data: bytes) -> bytes:
    """Plain SHA-256 (libsodium); only for formats whose RFC fixes the prefix (RFC 9162)."""
    return bindings.crypto_hash_sha256(data)


def sha512(data: bytes) -> bytes:
    """Plain SHA-512 (libsodium)."""
    return bindings.crypto_hash_sha512(data)


def tagged_hash(tag: bytes, *fields: bytes) -> bytes:
    """SHA-256 over the length-prefixed transcript: a 32-byte domain-separated digest."""
    return bindings.crypto_hash_sha256(transcript(tag, fields))


def hash_to_scalar(tag: bytes, *fields: bytes) -> Scalar:
    """Fiat–Shamir challenge: SHA-512 of the transcript reduced mod L.

    Reducing 512 uniform bits mod a 253-bit L leaves a bias below 2^-250.
    """
    digest = bindings.crypto_hash_sha512(transcript(tag, fields))
    return Scalar.from_bytes(bindings.crypto_core_ed25519_scalar_reduce(digest))


# --- Mixnet (evote/generators.py, evote/shuffle.py, evote/mixnet.py,
# evote/mixdecryption.py, evote/counting/).  Quoted in docs/protocol-mixnet.md.
TAG_GENERATOR = b"mixnet-generator"  # tagged_hash input of the hash to the group
TAG_SHUFFLE_LIST = b"mixnet-list"  # tagged_hash of a list of rows
TAG_SHUFFLE_U = b"mixnet-shuffle-u"  # hash_to_scalar: the N per-row challenges u_i
TAG_SHUFFLE_SEED = b"mixnet-shuffle-seed"  # tagged_hash: the seed of the u_i
TAG_SHUFFLE = b"mixnet-shuffle"  # hash_to_scalar: the shuffle proof's challenge c
TAG_MIX_SIGNATURE = b"mixnet-mix"  # Ed25519 signature of a mixer's posted mix
TAG_MIX_PROOF = b"mixnet-proof"  # tagged_hash of a shuffle proof's canonical JSON
TAG_TIE_BREAK = b"count-tie-break"  # tagged_hash: the seeded order of candidates
TAG_TIE_SEED = b"count-tie-seed"  # tagged_hash: the tie seed from election_closed's leaf hash
CTX_SHUFFLE = b"shuffle"
CTX_MIX_DECRYPTION = b"mix-decryption"
