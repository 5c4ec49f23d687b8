"""The election fingerprint: one 32-byte name for everything a ballot depends on.

Every ballot proof and signature hashes the fingerprint, so a ballot is bound
to one manifest (the questions and their rules), one joint key (who can
decrypt), one set of trustee commitments (how that key was shared) and one
credential list (who may vote, with which weight).  Change any of them and
every existing ballot stops verifying.

Exact preimage (``tagged_hash`` length-prefixes every field, see
:mod:`evote.hashing`)::

    tagged_hash(TAG_FINGERPRINT,
        manifest_digest,                       # 32 bytes
        joint_key,                             # 32 bytes
        enc_int(n_trustees),                   # 8 bytes
        enc_int(k_1) || C_1,0 || ... || C_1,k_1-1,   # one field per trustee
        ...
        enc_int(k_n) || C_n,0 || ... || C_n,k_n-1,
        credentials_digest)                    # 32 bytes

where C_i,j is the 32-byte encoding of trustee i's j-th polynomial commitment.
The encoding is injective: every field carries its length, the trustee count
fixes how many trustee fields follow, and inside a trustee field the count
k_i and the fixed 32-byte point size fix where each point starts.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from evote.credentials import CredentialList
from evote.group import Point
from evote.hashing import TAG_FINGERPRINT, enc_int, tagged_hash
from evote.manifest import Manifest

DIGEST_BYTES = 32


def _check_digest(name: str, value: bytes) -> None:
    if not isinstance(value, bytes) or len(value) != DIGEST_BYTES:
        raise TypeError(f"{name} must be {DIGEST_BYTES} bytes")


def election_fingerprint(
    manifest_digest: bytes,
    joint_key: Point,
    trustee_commitments: Sequence[Sequence[Point]],
    credentials_digest: bytes,
) -> bytes:
    """The 32-byte election fingerprint (preimage in the module docstring)."""
    _check_digest("manifest_digest", manifest_digest)
    _check_digest("credentials_digest", credentials_digest)
    if not isinstance(joint_key, Point):
        raise TypeError("joint_key must be a Point")
    if not trustee_commitments:
        raise ValueError("at least one trustee's commitments are needed")
    trustee_fields = []
    for i, commitments in enumerate(trustee_commitments):
        if not commitments or not all(isinstance(c, Point) for c in commitments):
            raise TypeError(f"trustee_commitments[{i}] must be a non-empty sequence of Points")
        trustee_fields.append(enc_int(len(commitments)) + b"".join(c.raw for c in commitments))
    return tagged_hash(
        TAG_FINGERPRINT,
        manifest_digest,
        joint_key.raw,
        enc_int(len(trustee_commitments)),
        *trustee_fields,
        credentials_digest,
    )


@dataclass(frozen=True)
class ElectionContext:
    """What a ballot is checked against: built once per election by the server,
    the verifier and the CLI, and passed to every function in :mod:`evote.ballot`.

    ``fingerprint`` must be :func:`election_fingerprint` of the other fields and
    the trustee commitments; :meth:`build` computes it.
    """

    manifest: Manifest
    joint_key: Point
    fingerprint: bytes
    credentials: CredentialList

    def __post_init__(self) -> None:
        if not isinstance(self.manifest, Manifest):
            raise TypeError("manifest must be a Manifest")
        if not isinstance(self.joint_key, Point):
            raise TypeError("joint_key must be a Point")
        _check_digest("fingerprint", self.fingerprint)
        if not isinstance(self.credentials, CredentialList):
            raise TypeError("credentials must be a CredentialList")

    @classmethod
    def build(
        cls,
        manifest: Manifest,
        joint_key: Point,
        trustee_commitments: Sequence[Sequence[Point]],
        credentials: CredentialList,
    ) -> ElectionContext:
        """Compute the fingerprint from its parts and hold it with them."""
        fingerprint = election_fingerprint(
            manifest.digest(), joint_key, trustee_commitments, credentials.digest()
        )
        return cls(manifest, joint_key, fingerprint, credentials)

    @property
    def election_id(self) -> str:
        return self.manifest.election_id
