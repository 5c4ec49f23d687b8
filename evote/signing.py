"""Ed25519 signatures with a domain tag, through libsodium (PyNaCl).

Every signature in evote (ballots, official commands, trustee messages, tree
heads, receipts) signs ``transcript(tag, fields)`` from :mod:`evote.hashing`, never
raw document bytes, so a signature made for one purpose can never be replayed as
another.  Verification raises :class:`InvalidSignature` and returns nothing, so
there is no boolean to forget.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from nacl.exceptions import BadSignatureError
from nacl.exceptions import CryptoError as NaclCryptoError
from nacl.signing import SigningKey as _NaclSigningKey
from nacl.signing import VerifyKey as _NaclVerifyKey

from evote.encoding import b64decode, b64encode
from evote.errors import EncodingError, InvalidSignature
from evote.group import SMALL_ORDER_POINTS, Rng
from evote.hashing import transcript

PUBLIC_KEY_BYTES = 32
SIGNATURE_BYTES = 64
SEED_BYTES = 32


@dataclass(frozen=True, slots=True)
class VerifyKey:
    """An Ed25519 public key (a voter credential, an official, a board key)."""

    raw: bytes

    @classmethod
    def from_bytes(cls, data: bytes) -> VerifyKey:
        """Validate a public key from outside: 32 bytes, canonical, not small order."""
        if not isinstance(data, bytes) or len(data) != PUBLIC_KEY_BYTES:
            raise EncodingError("public key must be exactly 32 bytes")
        if data in SMALL_ORDER_POINTS:
            raise EncodingError("public key has small order")
        if int.from_bytes(data, "little") & ((1 << 255) - 1) >= 2**255 - 19:
            raise EncodingError("public key encoding is not canonical")
        try:
            _NaclVerifyKey(data)
        except (ValueError, TypeError, NaclCryptoError):
            raise EncodingError("not an Ed25519 public key") from None
        return cls(data)

    @classmethod
    def from_json(cls, value: Any) -> VerifyKey:
        return cls.from_bytes(b64decode(value, length=PUBLIC_KEY_BYTES, what="public key"))

    def to_json(self) -> str:
        return b64encode(self.raw)

    def verify(self, tag: bytes, fields: list[bytes], signature: bytes) -> None:
        """Raise :class:`InvalidSignature` unless ``signature`` signs ``transcript(tag, fields)``."""
        if not isinstance(signature, bytes) or len(signature) != SIGNATURE_BYTES:
            raise InvalidSignature("signature must be exactly 64 bytes")
        try:
            _NaclVerifyKey(self.raw).verify(transcript(tag, fields), signature)
        except BadSignatureError:
            raise InvalidSignature(f"{tag.decode()} signature does not verify") from None

    def __repr__(self) -> str:
        return f"VerifyKey({self.raw.hex()[:12]}…)"


@dataclass(frozen=True, slots=True, repr=False)
class SigningKey:
    """An Ed25519 private key, held as its 32-byte seed.

    The libsodium key pair derived from the seed (a base-point multiplication
    and a SHA-512) is made once, when the key is, and kept: the ballot server
    signs a receipt for every ballot with the same board key.
    """

    seed: bytes
    _pair: _NaclSigningKey = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if not isinstance(self.seed, bytes) or len(self.seed) != SEED_BYTES:
            raise EncodingError("private key seed must be exactly 32 bytes")
        object.__setattr__(self, "_pair", _NaclSigningKey(self.seed))

    @classmethod
    def generate(cls, rng: Rng) -> SigningKey:
        seed = rng(SEED_BYTES)
        if len(seed) != SEED_BYTES:
            raise ValueError("rng returned the wrong number of bytes")
        return cls(seed)

    @classmethod
    def from_bytes(cls, data: bytes) -> SigningKey:
        if not isinstance(data, bytes) or len(data) != SEED_BYTES:
            raise EncodingError("private key seed must be exactly 32 bytes")
        return cls(data)

    @classmethod
    def from_json(cls, value: Any) -> SigningKey:
        return cls.from_bytes(b64decode(value, length=SEED_BYTES, what="private key"))

    def to_json(self) -> str:
        return b64encode(self.seed)

    @property
    def verify_key(self) -> VerifyKey:
        return VerifyKey(bytes(self._pair.verify_key))

    def sign(self, tag: bytes, fields: list[bytes]) -> bytes:
        """Deterministic Ed25519 signature over ``transcript(tag, fields)``."""
        return self._pair.sign(transcript(tag, fields)).signature

    def __repr__(self) -> str:
        return "SigningKey(<secret>)"
