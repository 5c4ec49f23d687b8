"""Voter credentials: anonymous Ed25519 keys, their public list and their printable codes.

Who holds what:

* the **credential authority** (separate from the ballot server) generates one
  key per voter with :func:`issue_credentials`, hands each voter the private
  part (a credential file, a printable code or a QR code of that code) and
  publishes only the :class:`CredentialList` of public keys with their weights;
* the **ballot server** never sees a private credential; it accepts a ballot
  only if it is signed by a key on the list;
* **anyone** can check that every counted ballot comes from a listed key and
  that no key is counted twice.

The public list is always written sorted by key bytes, never in issuance order,
so its order says nothing about who received which key.

Printable code, format 2 (the browser booth reimplements this byte for byte)::

    data  = seed (32 bytes) || tagged_hash(TAG_CREDENTIAL_CODE, seed)[0:1]
    body  = Crockford base32 of data: its 264 bits, most significant bit
            first, followed by 1 zero bit, cut into 53 groups of 5 bits, each
            written with 0123456789ABCDEFGHJKMNPQRSTVWXYZ
    check = one more symbol c = 2·s, where s = Horner's value of the 53 body
            symbols over GF(32) = GF(2)[x]/(x^5 + x^2 + 1): s = 0, then
            s = 2·s ⊕ v for each symbol v ("2" is x; ⊕ is XOR)
    code  = body || check: 54 characters
    shown = code in groups of 4 joined by "-" (13 groups of 4, one of 2)

Why a check symbol over GF(32), not a hash: a code is valid iff
Σ_i 2^(53−i)·v_i = 0 in GF(32) (i = 0..53).  A substitution at i changes the
sum by 2^(53−i)·(v_i ⊕ v_i'), non-zero because GF(32) is a field; swapping
neighbours i, i+1 changes it by 2^(52−i)·(2 ⊕ 1)·(v_i ⊕ v_{i+1}) = 2^(52−i)·3·δ,
non-zero unless the two symbols are equal.  So *every* single-character
substitution and *every* adjacent transposition is caught with certainty (this
is the Damm scheme over the totally anti-symmetric quasigroup x∘y = 2x ⊕ y of
order 32; tests check both properties exhaustively).  A hash checksum only
catches them with probability 1 − 2^-16.  The 8 hash bits stay for everything
else (two random typos pass both checks with probability 2^-13).

Format 1 (55 characters: seed || tagged_hash(...)[0:2], 3 zero bits) was
issued before; :func:`parse_credential_code` still reads it, told apart by
length alone, so codes already printed keep working.  New codes are always
format 2 (see docs/protocol-ballots.md §2.2, "Migration").

Reading a code ignores "-" and " ", accepts lower case, reads O as 0 and I or L
as 1, and rejects anything else.
"""

from __future__ import annotations

import hmac
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

from evote.commands import check_election_id
from evote.encoding import Fields, b64encode
from evote.errors import CredentialError, EncodingError, SchemaError
from evote.group import Rng
from evote.hashing import TAG_CREDENTIAL_CODE, TAG_CREDENTIAL_LIST, tagged_hash
from evote.limits import MAX_CREDENTIALS as MAX_CREDENTIALS
from evote.limits import MAX_WEIGHT as MAX_WEIGHT
from evote.signing import PUBLIC_KEY_BYTES, SEED_BYTES, SigningKey, VerifyKey

T = TypeVar("T")


CROCKFORD_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
_DECODE: dict[str, int] = {}
for _i, _c in enumerate(CROCKFORD_ALPHABET):
    _DECODE[_c] = _DECODE[_c.lower()] = _i
for _c, _v in (("O", 0), ("I", 1), ("L", 1)):
    _DECODE[_c] = _DECODE[_c.lower()] = _v
_SEPARATORS = frozenset("- ")

#: Format 2 (issued now): 8 hash bits and one GF(32) check symbol.
HASH_CHECK_BYTES = 1
BODY_CHARS = -(-(SEED_BYTES + HASH_CHECK_BYTES) * 8 // 5)  # 53
CODE_CHARS = BODY_CHARS + 1  # 54
#: Format 1 (legacy, still read): a 16-bit hash checksum, no check symbol.
CHECKSUM_BYTES = 2
LEGACY_CODE_CHARS = -(-(SEED_BYTES + CHECKSUM_BYTES) * 8 // 5)  # 55
CHECKSUM_MESSAGE = "credential code checksum does not match: check for a typo"

CREDENTIAL_FILE_TYPE = "evote-credential"
CREDENTIAL_FILE_VERSION = 1


# --------------------------------------------------------------------------
# Crockford base32 (also used for ballot tracking codes)
# --------------------------------------------------------------------------


def crockford_encode(data: bytes) -> str:
    """Crockford base32, most significant bit first, zero-padded to a multiple of 5 bits."""
    bits = len(data) * 8
    chars = -(-bits // 5)
    value = int.from_bytes(data, "big") << (chars * 5 - bits)
    return "".join(CROCKFORD_ALPHABET[(value >> (5 * (chars - 1 - i))) & 31] for i in range(chars))


def group_code(code: str, size: int = 4) -> str:
    """``ABCDEFGH`` -> ``ABCD-EFGH``: easier to read aloud and to compare."""
    return "-".join(code[i : i + size] for i in range(0, len(code), size))


def _checksum(seed: bytes, size: int = CHECKSUM_BYTES) -> bytes:
    return tagged_hash(TAG_CREDENTIAL_CODE, seed)[:size]


def gf32_double(x: int) -> int:
    """2·x in GF(32) = GF(2)[x]/(x^5 + x^2 + 1), without a secret-dependent branch."""
    return ((x << 1) & 31) ^ (5 * ((x >> 4) & 1))


def _horner(values: Iterable[int]) -> int:
    s = 0
    for v in values:
        s = gf32_double(s) ^ v
    return s


def check_symbol(values: Sequence[int]) -> int:
    """The symbol that makes ``values + [it]`` a valid code: 2·(Horner value of values).

    The quasigroup x∘y = 2x ⊕ y is totally anti-symmetric ((c∘x)∘y = (c∘y)∘x
    only if x = y) and Latin, hence every substitution and adjacent
    transposition anywhere in the code, check symbol included, is caught.
    """
    return gf32_double(_horner(values))


def check_symbol_holds(values: Sequence[int]) -> bool:
    """True iff the code's symbols (body and check symbol) fold to 0."""
    return _horner(values) == 0


def format_credential_code(key: SigningKey) -> str:
    """The voter's private credential as a typable code (format 2, 54 characters)."""
    if not isinstance(key, SigningKey):
        raise TypeError("key must be a SigningKey")
    body = crockford_encode(key.seed + _checksum(key.seed, HASH_CHECK_BYTES))
    check = check_symbol([CROCKFORD_ALPHABET.index(c) for c in body])
    return group_code(body + CROCKFORD_ALPHABET[check])


def format_legacy_credential_code(key: SigningKey) -> str:
    """A format-1 code (55 characters, hash checksum only), as issued before format 2.

    Kept only so tests and migration tools can produce the codes already in
    voters' hands; :func:`format_credential_code` is what issuing uses.
    """
    return group_code(crockford_encode(key.seed + _checksum(key.seed)))


def _bits_to_seed(values: Sequence[int], check_bytes: int) -> tuple[bytes, bytes, bool]:
    """(seed, hash check, padding bits are zero) from the body's 5-bit values."""
    value = 0
    for v in values:
        value = (value << 5) | v
    pad = len(values) * 5 - (SEED_BYTES + check_bytes) * 8
    data = (value >> pad).to_bytes(SEED_BYTES + check_bytes, "big")
    return data[:SEED_BYTES], data[SEED_BYTES:], not value & ((1 << pad) - 1)


def parse_credential_code(text: str) -> SigningKey:
    """Read a code typed by a voter; :class:`CredentialError` says what is wrong.

    ``detail["reason"]`` is ``"character"``, ``"length"`` or ``"checksum"`` so
    that a booth can point at the problem in the voter's language.
    """
    if not isinstance(text, str):
        raise TypeError("credential code must be a string")
    values: list[int] = []
    for pos, ch in enumerate(text, start=1):
        if ch in _SEPARATORS:
            continue
        v = _DECODE.get(ch)
        if v is None:
            raise CredentialError(
                f"credential code contains {ch!r} at position {pos}, which is not a code character",
                detail={"reason": "character", "position": pos},
            )
        values.append(v)
    if len(values) == CODE_CHARS:
        # Format 2: the check symbol first (certain for one typo or one swap),
        # then the hash bits and the zero padding bit.
        symbol_ok = check_symbol_holds(values)
        seed, check, pad_ok = _bits_to_seed(values[:BODY_CHARS], HASH_CHECK_BYTES)
        ok = hmac.compare_digest(check, _checksum(seed, HASH_CHECK_BYTES))
        if not (symbol_ok and pad_ok and ok):
            raise CredentialError(CHECKSUM_MESSAGE, detail={"reason": "checksum"})
        return SigningKey(seed)
    if len(values) == LEGACY_CODE_CHARS:
        # Format 1, still in voters' hands: 16-bit checksum, 3 zero padding bits
        # (non-zero padding can only come from a typo in the last character).
        seed, check, pad_ok = _bits_to_seed(values, CHECKSUM_BYTES)
        ok = hmac.compare_digest(check, _checksum(seed))
        if not (pad_ok and ok):
            raise CredentialError(CHECKSUM_MESSAGE, detail={"reason": "checksum"})
        return SigningKey(seed)
    raise CredentialError(
        f"credential code has {len(values)} characters, expected {CODE_CHARS} "
        "(not counting hyphens)",
        detail={"reason": "length"},
    )


# --------------------------------------------------------------------------
# Issuing
# --------------------------------------------------------------------------


def issue_credentials(n: int, rng: Rng) -> list[SigningKey]:
    """``n`` fresh voter keys (the credential authority's bulk step)."""
    if not isinstance(n, int) or isinstance(n, bool):
        raise TypeError("n must be an integer")
    if not 1 <= n <= MAX_CREDENTIALS:
        raise ValueError(f"n must be between 1 and {MAX_CREDENTIALS}")
    keys = [SigningKey.generate(rng) for _ in range(n)]
    if len({k.seed for k in keys}) != n:
        raise ValueError("rng produced the same key twice; it is not random")
    return keys


def _below(n: int, rng: Rng) -> int:
    """Uniform integer in [0, n) by rejection sampling (no modulo bias)."""
    bits = (n - 1).bit_length()
    if bits == 0:
        return 0
    mask = (1 << bits) - 1
    while True:
        v = int.from_bytes(rng((bits + 7) // 8), "big") & mask
        if v < n:
            return v


def shuffled(items: Sequence[T], rng: Rng) -> list[T]:
    """A uniformly random permutation of ``items`` (Fisher–Yates).

    For the credential authority: hand out or print credentials in an order
    unrelated to the order they were generated or listed in.
    """
    out = list(items)
    for i in range(len(out) - 1, 0, -1):
        j = _below(i + 1, rng)
        out[i], out[j] = out[j], out[i]
    return out


# --------------------------------------------------------------------------
# The public list
# --------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class PublicCredential:
    """A listed voter key and its public weight (1 unless the election says otherwise)."""

    key: VerifyKey
    weight: int = 1

    def __post_init__(self) -> None:
        if not isinstance(self.key, VerifyKey):
            raise TypeError("key must be a VerifyKey")
        if not isinstance(self.weight, int) or isinstance(self.weight, bool):
            raise TypeError("weight must be an integer")
        if not 1 <= self.weight <= MAX_WEIGHT:
            raise CredentialError(f"weight must be between 1 and {MAX_WEIGHT}")

    @classmethod
    def from_json(cls, obj: Any, path: str = "credential") -> PublicCredential:
        f = Fields(obj, path, required=("key", "weight"))
        raw = f.bytes("key", length=PUBLIC_KEY_BYTES)
        try:
            key = VerifyKey.from_bytes(raw)
        except EncodingError as exc:
            raise EncodingError(f"{f.sub('key')}: {exc.message}") from None
        return cls(key, f.int("weight", lo=1, hi=MAX_WEIGHT))

    def to_json(self) -> dict[str, Any]:
        return {"key": self.key.to_json(), "weight": self.weight}


@dataclass(frozen=True)
class CredentialList:
    """The published list of voter keys, held in canonical order (sorted by key bytes).

    The constructor sorts; :meth:`from_json` insists the document is already
    sorted, so the published document has exactly one spelling.
    """

    entries: tuple[PublicCredential, ...]
    _weights: dict[bytes, int] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        entries = tuple(self.entries)
        for e in entries:
            if not isinstance(e, PublicCredential):
                raise TypeError("entries must be PublicCredential values")
        if not entries:
            raise CredentialError("the credential list is empty")
        entries = tuple(sorted(entries, key=lambda e: e.key.raw))
        weights: dict[bytes, int] = {}
        for e in entries:
            if e.key.raw in weights:
                raise CredentialError(f"duplicate credential key {e.key.to_json()}")
            weights[e.key.raw] = e.weight
        object.__setattr__(self, "entries", entries)
        object.__setattr__(self, "_weights", weights)

    @classmethod
    def from_json(cls, obj: Any, path: str = "credentials") -> CredentialList:
        """Parse ``[{"key": b64, "weight": n}, ...]``, sorted by key, no duplicates."""
        if not isinstance(obj, list):
            raise SchemaError(f"{path}: expected a list")
        if not obj:
            raise CredentialError(f"{path}: the credential list is empty")
        if len(obj) > MAX_CREDENTIALS:
            raise SchemaError(f"{path}: more than {MAX_CREDENTIALS} credentials")
        entries = []
        prev = b""
        for i, item in enumerate(obj):
            where = f"{path}[{i}]"
            entry = PublicCredential.from_json(item, where)
            raw = entry.key.raw
            if raw == prev:
                raise CredentialError(f"{where}.key: duplicate credential key")
            if raw < prev:
                raise SchemaError(f"{where}.key: credentials must be sorted by key bytes")
            prev = raw
            entries.append(entry)
        return cls(tuple(entries))

    def to_json(self) -> list[dict[str, Any]]:
        return [e.to_json() for e in self.entries]

    def canonical(self) -> bytes:
        """RFC 8785 bytes of :meth:`to_json`, written directly (lists run to millions).

        Each entry is ``{"key":"<43 base64url chars>","weight":<decimal>}``; keys
        sort as ``key`` < ``weight`` and neither value needs escaping, so this is
        exactly what ``canonical_json(to_json())`` gives (a test checks it).
        """
        parts = [f'{{"key":"{b64encode(e.key.raw)}","weight":{e.weight}}}' for e in self.entries]
        return ("[" + ",".join(parts) + "]").encode("ascii")

    def digest(self) -> bytes:
        """``tagged_hash(TAG_CREDENTIAL_LIST, canonical())``; bound into the fingerprint."""
        return tagged_hash(TAG_CREDENTIAL_LIST, self.canonical())

    def weight_of(self, key: VerifyKey) -> int:
        """The weight of a listed key; :class:`CredentialError` if it is not listed."""
        weight = self._weights.get(key.raw)
        if weight is None:
            raise CredentialError("credential is not on the published list")
        return weight

    def __contains__(self, key: object) -> bool:
        return isinstance(key, VerifyKey) and key.raw in self._weights

    def __len__(self) -> int:
        return len(self.entries)

    @property
    def total_weight(self) -> int:
        """Sum of all weights: the largest total any one option can reach."""
        return sum(self._weights.values())

    def shuffled(self, rng: Rng) -> list[PublicCredential]:
        """The entries in a uniformly random order (never the issuance order)."""
        return shuffled(self.entries, rng)

    @classmethod
    def of(cls, keys: Iterable[VerifyKey], weight: int = 1) -> CredentialList:
        """Every key with the same weight (the common case)."""
        return cls(tuple(PublicCredential(k, weight) for k in keys))


# --------------------------------------------------------------------------
# The voter's credential file
# --------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class CredentialFile:
    """``{"type": "evote-credential", "v": 1, "election": id, "code": code}``.

    What the authority hands a voter (as a file, or its code printed/as QR).
    The code, not raw base64, is stored so that the file and the printout are
    the same thing and a truncated file fails the checksum.
    """

    election_id: str
    key: SigningKey

    def __post_init__(self) -> None:
        check_election_id(self.election_id)
        if not isinstance(self.key, SigningKey):
            raise TypeError("key must be a SigningKey")

    @classmethod
    def from_json(cls, obj: Any, path: str = "credential") -> CredentialFile:
        f = Fields(obj, path, required=("type", "v", "election", "code"))
        if f.raw("type") != CREDENTIAL_FILE_TYPE:
            raise SchemaError(f"{f.sub('type')}: must be {CREDENTIAL_FILE_TYPE!r}")
        if f.int("v") != CREDENTIAL_FILE_VERSION:
            raise SchemaError(f"{f.sub('v')}: must be {CREDENTIAL_FILE_VERSION}")
        election_id = check_election_id(f.raw("election"), f.sub("election"))
        code = f.str("code", max_len=200)
        return cls(election_id, parse_credential_code(code))

    def to_json(self) -> dict[str, Any]:
        return {
            "type": CREDENTIAL_FILE_TYPE,
            "v": CREDENTIAL_FILE_VERSION,
            "election": self.election_id,
            "code": format_credential_code(self.key),
        }
