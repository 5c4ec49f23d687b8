"""The trustees' t-of-n key generation: GJKR's two-phase DKG (Pedersen VSS, then Feldman).

Each of n trustees deals two random polynomials f_i, f'_i of degree t−1 and gives
every other trustee j the pair (f_i(j), f'_i(j)), encrypted to j.  The election
key is K = Σ_{i∈QUAL} f_i(0)·G and trustee j's key share is
x_j = Σ_{i∈QUAL} f_i(j), so any t trustees can decrypt together and no t−1 of
them learn anything about the secret.  Nobody ever holds the whole secret key.

The protocol is Gennaro, Jarecki, Krawczyk and Rabin's ("Secure distributed key
generation for discrete-log based cryptosystems", J. Cryptology 2007), in two
phases separated by an entry of the official that fixes QUAL on the board
(``docs/protocol-trustees.md`` §5):

=====  =========================  ============================  ==========================
phase  who does                   posts (board kind)            anyone checks
=====  =========================  ============================  ==========================
1      ``step1_announce``         :class:`Announcement`         ``check_announcement``
1      ``step2_shares``           :class:`EncryptedShares`      ``check_shares``
1      ``step3_receive``          :class:`Complaint` (if bad)   ``check_complaint``
1      ``step4_answer``           :class:`ComplaintAnswer`      ``check_complaint_answer``
cut    the official               ``ceremony_qualified``        ``qualified_set``
2      ``step5_reveal``           :class:`Commitments`          ``check_commitments``
cut    the official (if needed)   ``ceremony_reconstruct``      ``unrevealed``
2      ``step6_reconstruct``      :class:`Reconstruction`       ``check_reconstruction``
end    ``finalize``               (nothing; keeps x_j)          ``verify_ceremony``
=====  =========================  ============================  ==========================

Why these choices:

* No bias.  In phase 1 every dealer publishes only *Pedersen* commitments
  E_ik = a_ik·G + b_ik·H, which are perfectly hiding: nothing about the joint
  key is public while QUAL is decided.  QUAL is fixed on the board
  (``ceremony_qualified``) before any Feldman value a_ik·G is revealed.  After
  that, a QUAL dealer cannot drop out: if it does not reveal, or cannot (the
  board refuses a reveal inconsistent with its E_ik), the other trustees
  publish the shares it dealt them and anyone interpolates its polynomial.  So
  c colluders can no longer choose among 2^c keys by disqualifying themselves
  after seeing the others' contributions (the bias of Pedersen's DKG that
  evote v1 had; see ``tests/test_dkg_bias.py``).
* Reveals are publicly checkable: a dealer reveals A_ik = a_ik·G and
  B_ik = b_ik·H with a Schnorr proof of knowledge for each (base G and base H)
  and anyone checks A_ik + B_ik = E_ik.  Knowing both logarithms, the dealer
  could open E_ik two ways only if it knew log_G(H); so phase 2 needs no
  complaints.
* H is derived by a documented hash to the group (libsodium
  ``crypto_core_ed25519_from_uniform``, Elligator 2 with the cofactor cleared),
  so nobody knows log_G(H).
* Shares travel in NaCl boxes (X25519 + XSalsa20-Poly1305) inside signed board
  messages; the plaintext repeats election, dealer and recipient because a box
  between i and j opens with either party's key.
* Complaints are public and the accused dealer answers in public with the
  share pair, which anyone checks against the Pedersen commitments.
* Randomness is a parameter (``rng``), so a seeded generator reproduces a whole
  ceremony byte for byte; the verifying functions hold no secrets.

Every error a trustee message can cause is a :class:`KeyCeremonyError` whose
message names the trustee and the step, with both also in ``detail``.
"""

from __future__ import annotations

import hmac
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any, TypeVar

from nacl import bindings
from nacl.exceptions import CryptoError as NaclCryptoError
from nacl.public import Box, PrivateKey, PublicKey

from evote.encoding import Fields, b64encode, canonical_json
from evote.errors import (
    EncodingError,
    InvalidProof,
    InvalidScalar,
    InvalidSignature,
    KeyCeremonyError,
    SchemaError,
)
from evote.group import IDENTITY, ZERO, G, Point, Rng, Scalar
from evote.hashing import (
    CTX_DKG_BLINDING,
    CTX_DKG_COEFFICIENT,
    TAG_PEDERSEN_GENERATOR,
    TAG_SCHNORR_H,
    TAG_SHARE_BOX,
    TAG_TRUSTEE_MESSAGE,
    enc_int,
    enc_str,
    hash_to_scalar,
    tagged_hash,
    transcript,
)
from evote.proofs import SchnorrProof, prove_schnorr, verify_schnorr
from evote.signing import SIGNATURE_BYTES, SigningKey, VerifyKey

T = TypeVar("T")

#: Largest number of trustees an election may have.
MAX_TRUSTEES = 32
BOX_KEY_BYTES = 32
NONCE_BYTES = 24
#: Upper bound on an encoded share box (the real size depends on the election id).
MAX_BOX_BYTES = 20_000

#: Why a trustee complains about a dealer.
COMPLAINT_REASONS = ("missing", "undecryptable", "bad-share")

STEP_NAMES = {
    1: "announcement",
    2: "shares",
    3: "complaint",
    4: "complaint answer",
    5: "reveal",
    6: "reconstruction",
    7: "finalize",
}

# A fixed, public X25519 scalar used only to ask libsodium whether a box public
# key has small order (the shared point would be all zeros).  Not a secret.
_LOW_ORDER_PROBE = bytes([0x48]) + bytes(30) + bytes([0x40])


def _pedersen_generator() -> Point:
    """H = from_uniform(tagged_hash("pedersen-generator", "evote/dkg/H")).

    libsodium's ``crypto_core_ed25519_from_uniform`` maps 32 bytes to the curve
    by Elligator 2 and multiplies by the cofactor 8, so the point lies in the
    prime-order subgroup; :meth:`Point.from_bytes` checks that again and
    rejects the identity.  Nobody knows log_G(H): it is a hash output.
    """
    seed = tagged_hash(TAG_PEDERSEN_GENERATOR, b"evote/dkg/H")
    point = Point.from_bytes(bindings.crypto_core_ed25519_from_uniform(seed))
    if point == G:
        raise AssertionError("the Pedersen generator must not be G")
    return point


H: Point = _pedersen_generator()
"""The second generator of the Pedersen commitments (docs/protocol-trustees.md §5.3)."""


def _fail(trustee: int, step: int, message: str) -> KeyCeremonyError:
    return KeyCeremonyError(
        f"trustee {trustee}, step {step} ({STEP_NAMES[step]}): {message}",
        detail={"trustee": trustee, "step": STEP_NAMES[step]},
    )


def _check_parameters(n: int, t: int) -> None:
    if not (isinstance(n, int) and isinstance(t, int)) or not 1 <= t <= n <= MAX_TRUSTEES:
        raise KeyCeremonyError(
            f"need 1 <= threshold <= trustees <= {MAX_TRUSTEES}, got threshold {t} of {n}"
        )


def _decode(f: Fields, key: str, decode: Any) -> Any:
    """Run a value decoder on ``f[key]``, prefixing its error with the field path."""
    try:
        return decode(f.raw(key))
    except EncodingError as exc:
        raise type(exc)(f"{f.sub(key)}: {exc.message}") from None


def _signed_fields(election_id: str, body: dict) -> list[bytes]:
    """What a trustee signs: the election id and the canonical JSON of the body."""
    return [enc_str(election_id), canonical_json(body)]


def _sign(election_id: str, key: SigningKey, body: dict) -> bytes:
    return key.sign(TAG_TRUSTEE_MESSAGE, _signed_fields(election_id, body))


def _verify_signature(
    election_id: str, key: VerifyKey, body: dict, signature: bytes, trustee: int, step: int
) -> None:
    try:
        key.verify(TAG_TRUSTEE_MESSAGE, _signed_fields(election_id, body), signature)
    except InvalidSignature:
        raise _fail(trustee, step, "signature does not verify") from None


# --------------------------------------------------------------------------
# Polynomials and their commitments (scalar arithmetic by libsodium)
# --------------------------------------------------------------------------


def _eval_polynomial(coefficients: Sequence[Scalar], x: int) -> Scalar:
    """f(x) by Horner's rule; x is a public trustee index."""
    xs = Scalar.from_int(x)
    acc = ZERO
    for a in reversed(coefficients):
        acc = acc * xs + a
    return acc


def _eval_commitments(points: Sequence[Point], x: int) -> Point:
    """Σ_k C_k·x^k, i.e. f(x)·G (or the Pedersen value) computed from commitments alone."""
    xs = Scalar.from_int(x)
    acc = IDENTITY
    for c in reversed(points):
        acc = acc * xs + c
    return acc


def interpolate(points: Sequence[tuple[int, Scalar]]) -> list[Scalar]:
    """The coefficients of the polynomial of degree < len(points) through ``points``.

    Lagrange's basis expanded into coefficients; x values are distinct public
    trustee indices.  Used to rebuild a QUAL dealer's polynomial in public.
    """
    xs = [x for x, _ in points]
    if len(set(xs)) != len(xs):
        raise ValueError("interpolation points must have distinct x")
    out = [ZERO] * len(points)
    for i, (xi, yi) in enumerate(points):
        basis = [Scalar.from_int(1)]
        denom = Scalar.from_int(1)
        for m, xm in enumerate(xs):
            if m == i:
                continue
            sxm = Scalar.from_int(xm)
            shifted = [ZERO, *basis]
            scaled = [c * sxm for c in basis] + [ZERO]
            basis = [a - b for a, b in zip(shifted, scaled, strict=True)]
            denom = denom * (Scalar.from_int(xi) - sxm)
        factor = yi * denom.inverse()
        out = [o + b * factor for o, b in zip(out, basis, strict=True)]
    return out


def _pedersen_ok(pedersen: Sequence[Point], recipient: int, share: Scalar, blinding: Scalar) -> bool:
    """Pedersen's check: s·G + s'·H == Σ_k E_k·j^k."""
    return Point.base_mul(share) + H * blinding == _eval_commitments(pedersen, recipient)


def _coefficient_context(election_id: str, trustee: int, k: int) -> list[bytes]:
    return [CTX_DKG_COEFFICIENT, enc_str(election_id), enc_int(trustee), enc_int(k)]


def _blinding_context(election_id: str, trustee: int, k: int) -> list[bytes]:
    return [CTX_DKG_BLINDING, enc_str(election_id), enc_int(trustee), enc_int(k)]


def _schnorr_h_challenge(ctx: Sequence[bytes], public: Point, commitment: Point) -> Scalar:
    return hash_to_scalar(TAG_SCHNORR_H, *ctx, H.raw, public.raw, commitment.raw)


def prove_schnorr_h(ctx: Sequence[bytes], secret: Scalar, rng: Rng) -> SchnorrProof:
    """Knowledge of b with B = b·H: U = w·H, c = H("schnorr-h", ctx, H, B, U), s = w + c·b."""
    w = Scalar.random(rng)
    c = _schnorr_h_challenge(ctx, H * secret, H * w)
    return SchnorrProof(c, w + c * secret)


def verify_schnorr_h(ctx: Sequence[bytes], public: Point, proof: SchnorrProof) -> None:
    """Raise :class:`InvalidProof` unless ``proof`` shows knowledge of log_H(public)."""
    u = H * proof.response - public * proof.challenge
    if _schnorr_h_challenge(ctx, public, u) != proof.challenge:
        raise InvalidProof("Schnorr proof (base H) does not verify")


# --------------------------------------------------------------------------
# Public messages
# --------------------------------------------------------------------------


def _signature_field(f: Fields) -> bytes:
    return f.bytes("signature", length=SIGNATURE_BYTES)


def _index(f: Fields, key: str) -> int:
    return f.int(key, lo=1, hi=MAX_TRUSTEES)


def _point_item(value: Any, path: str) -> Point:
    try:
        return Point.from_json(value)
    except EncodingError as exc:
        raise type(exc)(f"{path}: {exc.message}") from None


def _proof_item(value: Any, path: str) -> SchnorrProof:
    try:
        return SchnorrProof.from_json(value, path)
    except InvalidScalar as exc:
        raise InvalidScalar(f"{path}: {exc.message}") from None


class _SignedMessage:
    """A public trustee message: a JSON ``body()`` plus the trustee's signature over it."""

    __slots__ = ()

    def body(self) -> dict:
        raise NotImplementedError

    def signed(self, election_id: str, key: SigningKey) -> Any:
        """This message with its signature made by ``key`` (the one place messages are signed)."""
        return replace(self, signature=_sign(election_id, key, self.body()))

    def to_json(self) -> dict:
        return {**self.body(), "signature": b64encode(self.signature)}  # type: ignore[attr-defined]


@dataclass(frozen=True, slots=True)
class Announcement(_SignedMessage):
    """Phase 1, step 1: a trustee's keys and its Pedersen commitments E_k = a_k·G + b_k·H."""

    trustee: int
    trustees: int
    threshold: int
    signing_key: VerifyKey
    box_key: bytes
    pedersen: tuple[Point, ...]
    signature: bytes

    FIELDS = ("trustee", "trustees", "threshold", "signing_key", "box_key", "pedersen")

    @classmethod
    def create(
        cls,
        election_id: str,
        key: SigningKey,
        *,
        trustee: int,
        trustees: int,
        threshold: int,
        box_key: bytes,
        pedersen: Sequence[Point],
    ) -> Announcement:
        return cls(
            trustee, trustees, threshold, key.verify_key, box_key, tuple(pedersen), b""
        ).signed(election_id, key)

    def body(self) -> dict:
        """The signed part: everything but the signature."""
        return {
            "trustee": self.trustee,
            "trustees": self.trustees,
            "threshold": self.threshold,
            "signing_key": self.signing_key.to_json(),
            "box_key": b64encode(self.box_key),
            "pedersen": [e.to_json() for e in self.pedersen],
        }

    @classmethod
    def from_json(cls, obj: Any, path: str = "announcement") -> Announcement:
        f = Fields(obj, path, required=(*cls.FIELDS, "signature"))
        return cls(
            trustee=_index(f, "trustee"),
            trustees=_index(f, "trustees"),
            threshold=_index(f, "threshold"),
            signing_key=_decode(f, "signing_key", VerifyKey.from_json),
            box_key=f.bytes("box_key", length=BOX_KEY_BYTES),
            pedersen=tuple(f.list("pedersen", _point_item, min_len=1, max_len=MAX_TRUSTEES)),
            signature=_signature_field(f),
        )


@dataclass(frozen=True, slots=True)
class EncryptedShares(_SignedMessage):
    """Phase 1, step 2: dealer i's (f_i(j), f'_i(j)) for every other trustee j, in NaCl boxes."""

    dealer: int
    boxes: tuple[tuple[int, bytes], ...]
    signature: bytes

    @classmethod
    def create(
        cls, election_id: str, key: SigningKey, *, dealer: int, boxes: Sequence[tuple[int, bytes]]
    ) -> EncryptedShares:
        return cls(dealer, tuple(sorted(boxes)), b"").signed(election_id, key)

    def body(self) -> dict:
        return {
            "dealer": self.dealer,
            "boxes": [{"recipient": j, "box": b64encode(box)} for j, box in self.boxes],
        }

    def box_for(self, recipient: int) -> bytes | None:
        for j, box in self.boxes:
            if j == recipient:
                return box
        return None

    @classmethod
    def from_json(cls, obj: Any, path: str = "shares") -> EncryptedShares:
        f = Fields(obj, path, required=("dealer", "boxes", "signature"))

        def entry(value: Any, p: str) -> tuple[int, bytes]:
            g = Fields(value, p, required=("recipient", "box"))
            box = g.bytes("box")
            if len(box) > MAX_BOX_BYTES:
                raise SchemaError(f"{g.sub('box')}: longer than {MAX_BOX_BYTES} bytes")
            return _index(g, "recipient"), box

        boxes = f.list("boxes", entry, max_len=MAX_TRUSTEES - 1)
        recipients = [j for j, _ in boxes]
        if recipients != sorted(set(recipients)):
            raise SchemaError(f"{path}.boxes: recipients must be strictly increasing")
        return cls(_index(f, "dealer"), tuple(boxes), _signature_field(f))


@dataclass(frozen=True, slots=True)
class Complaint(_SignedMessage):
    """Phase 1, step 3: trustee ``accuser`` says dealer ``accused`` gave it no valid share."""

    accuser: int
    accused: int
    reason: str
    signature: bytes

    @classmethod
    def create(
        cls, election_id: str, key: SigningKey, *, accuser: int, accused: int, reason: str
    ) -> Complaint:
        return cls(accuser, accused, reason, b"").signed(election_id, key)

    def body(self) -> dict:
        return {"accuser": self.accuser, "accused": self.accused, "reason": self.reason}

    @classmethod
    def from_json(cls, obj: Any, path: str = "complaint") -> Complaint:
        f = Fields(obj, path, required=("accuser", "accused", "reason", "signature"))
        reason = f.str("reason", max_len=32)
        if reason not in COMPLAINT_REASONS:
            raise SchemaError(f"{f.sub('reason')}: must be one of {', '.join(COMPLAINT_REASONS)}")
        return cls(_index(f, "accuser"), _index(f, "accused"), reason, _signature_field(f))


@dataclass(frozen=True, slots=True)
class ComplaintAnswer(_SignedMessage):
    """Phase 1, step 4: dealer ``dealer`` reveals (f(accuser), f'(accuser)) in public."""

    dealer: int
    accuser: int
    share: Scalar
    blinding: Scalar
    signature: bytes

    @classmethod
    def create(
        cls,
        election_id: str,
        key: SigningKey,
        *,
        dealer: int,
        accuser: int,
        share: Scalar,
        blinding: Scalar,
    ) -> ComplaintAnswer:
        return cls(dealer, accuser, share, blinding, b"").signed(election_id, key)

    def body(self) -> dict:
        return {
            "dealer": self.dealer,
            "accuser": self.accuser,
            "share": self.share.to_json(),
            "blinding": self.blinding.to_json(),
        }

    @classmethod
    def from_json(cls, obj: Any, path: str = "answer") -> ComplaintAnswer:
        f = Fields(obj, path, required=("dealer", "accuser", "share", "blinding", "signature"))
        return cls(
            _index(f, "dealer"),
            _index(f, "accuser"),
            _decode(f, "share", Scalar.from_json),
            _decode(f, "blinding", Scalar.from_json),
            _signature_field(f),
        )


@dataclass(frozen=True, slots=True)
class Commitments(_SignedMessage):
    """Phase 2, step 5: the Feldman values A_k = a_k·G and B_k = b_k·H, each with a
    Schnorr proof of knowledge, such that A_k + B_k = E_k (the announced commitment)."""

    trustee: int
    coefficients: tuple[Point, ...]
    proofs: tuple[SchnorrProof, ...]
    blindings: tuple[Point, ...]
    blinding_proofs: tuple[SchnorrProof, ...]
    signature: bytes

    @classmethod
    def create(
        cls,
        election_id: str,
        key: SigningKey,
        *,
        trustee: int,
        coefficients: Sequence[Point],
        proofs: Sequence[SchnorrProof],
        blindings: Sequence[Point],
        blinding_proofs: Sequence[SchnorrProof],
    ) -> Commitments:
        return cls(
            trustee, tuple(coefficients), tuple(proofs), tuple(blindings),
            tuple(blinding_proofs), b"",
        ).signed(election_id, key)

    def body(self) -> dict:
        return {
            "trustee": self.trustee,
            "coefficients": [c.to_json() for c in self.coefficients],
            "proofs": [p.to_json() for p in self.proofs],
            "blindings": [b.to_json() for b in self.blindings],
            "blinding_proofs": [p.to_json() for p in self.blinding_proofs],
        }

    @classmethod
    def from_json(cls, obj: Any, path: str = "commitments") -> Commitments:
        keys = ("trustee", "coefficients", "proofs", "blindings", "blinding_proofs", "signature")
        f = Fields(obj, path, required=keys)
        lists = [
            f.list(k, item, min_len=1, max_len=MAX_TRUSTEES)
            for k, item in (
                ("coefficients", _point_item),
                ("proofs", _proof_item),
                ("blindings", _point_item),
                ("blinding_proofs", _proof_item),
            )
        ]
        if len({len(x) for x in lists}) != 1:
            raise SchemaError(
                f"{path}: coefficients, proofs, blindings and blinding_proofs must have one "
                "entry per coefficient"
            )
        return cls(_index(f, "trustee"), *(tuple(x) for x in lists), _signature_field(f))


@dataclass(frozen=True, slots=True)
class Reconstruction(_SignedMessage):
    """Phase 2, step 6: trustee ``trustee`` publishes the share pair dealer ``dealer`` dealt
    it, so that a QUAL dealer that did not reveal is rebuilt in public (it cannot drop out)."""

    trustee: int
    dealer: int
    share: Scalar
    blinding: Scalar
    signature: bytes

    @classmethod
    def create(
        cls,
        election_id: str,
        key: SigningKey,
        *,
        trustee: int,
        dealer: int,
        share: Scalar,
        blinding: Scalar,
    ) -> Reconstruction:
        return cls(trustee, dealer, share, blinding, b"").signed(election_id, key)

    def body(self) -> dict:
        return {
            "trustee": self.trustee,
            "dealer": self.dealer,
            "share": self.share.to_json(),
            "blinding": self.blinding.to_json(),
        }

    @classmethod
    def from_json(cls, obj: Any, path: str = "reconstruction") -> Reconstruction:
        f = Fields(obj, path, required=("trustee", "dealer", "share", "blinding", "signature"))
        return cls(
            _index(f, "trustee"),
            _index(f, "dealer"),
            _decode(f, "share", Scalar.from_json),
            _decode(f, "blinding", Scalar.from_json),
            _signature_field(f),
        )


def _index_item(value: Any, path: str) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or not 1 <= value <= MAX_TRUSTEES:
        raise SchemaError(f"{path}: expected a trustee index 1..{MAX_TRUSTEES}")
    return value


def _index_list(f: Fields, key: str, *, min_len: int) -> tuple[int, ...]:
    out = f.list(key, _index_item, min_len=min_len, max_len=MAX_TRUSTEES)
    if out != sorted(set(out)):
        raise SchemaError(f"{f.sub(key)}: must be strictly increasing")
    return tuple(out)


@dataclass(frozen=True, slots=True)
class Qualified:
    """The official's ``ceremony_qualified`` body: QUAL, fixed before any Feldman value."""

    qualified: tuple[int, ...]

    def to_json(self) -> dict:
        return {"qualified": list(self.qualified)}

    @classmethod
    def from_json(cls, obj: Any, path: str = "ceremony_qualified") -> Qualified:
        f = Fields(obj, path, required=("qualified",))
        return cls(_index_list(f, "qualified", min_len=1))


@dataclass(frozen=True, slots=True)
class Reconstruct:
    """The official's ``ceremony_reconstruct`` body: the QUAL dealers that did not reveal
    by the deadline; from now on they are rebuilt from the others' shares."""

    dealers: tuple[int, ...]

    def to_json(self) -> dict:
        return {"dealers": list(self.dealers)}

    @classmethod
    def from_json(cls, obj: Any, path: str = "ceremony_reconstruct") -> Reconstruct:
        f = Fields(obj, path, required=("dealers",))
        return cls(_index_list(f, "dealers", min_len=1))


# --------------------------------------------------------------------------
# Results
# --------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class JointKey:
    """The outcome anyone can recompute: K, the threshold, QUAL and each X_j.

    ``verification_keys[j]`` = x_j·G is what trustee j's partial decryptions are
    proved against; only qualified trustees have one.
    """

    joint_key: Point
    threshold: int
    verification_keys: Mapping[int, Point]
    qualified: tuple[int, ...]

    def __post_init__(self) -> None:
        if tuple(sorted(self.verification_keys)) != self.qualified:
            raise KeyCeremonyError(
                "verification keys must be given for exactly the qualified trustees"
            )
        if not 1 <= self.threshold <= len(self.qualified):
            raise KeyCeremonyError(
                f"threshold {self.threshold} needs at least that many qualified trustees"
            )

    def to_json(self) -> dict:
        return {
            "joint_key": self.joint_key.to_json(),
            "threshold": self.threshold,
            "verification_keys": {
                str(j): self.verification_keys[j].to_json() for j in self.qualified
            },
            "qualified": list(self.qualified),
        }

    @classmethod
    def from_json(cls, obj: Any, path: str = "joint_key") -> JointKey:
        f = Fields(obj, path, required=("joint_key", "threshold", "verification_keys", "qualified"))
        qualified = _index_list(f, "qualified", min_len=1)
        threshold = f.int("threshold", lo=1, hi=len(qualified))
        vks = f.raw("verification_keys")
        if not isinstance(vks, dict):
            raise SchemaError(f"{f.sub('verification_keys')}: expected an object")
        expected = {str(j) for j in qualified}
        if set(vks) != expected:
            raise SchemaError(
                f"{f.sub('verification_keys')}: keys must be exactly the qualified trustees"
            )
        keys = {}
        for j in qualified:
            try:
                keys[j] = Point.from_json(vks[str(j)])
            except EncodingError as exc:
                raise type(exc)(f"{f.sub('verification_keys')}.{j}: {exc.message}") from None
        return cls(_decode(f, "joint_key", Point.from_json), threshold, keys, qualified)


@dataclass(frozen=True, slots=True, repr=False)
class TrusteeState:
    """One trustee's secrets, kept in the trustee's own file and never posted.

    Holds the signing key, the box secret key, both polynomials until
    :func:`finalize` (which wipes them) and the key share x_j after, plus the
    trustee's own announcement's Pedersen commitments (public), so that loading
    can check the polynomials still match what was announced.
    """

    election_id: str
    trustee: int
    trustees: int
    threshold: int
    signing_key: SigningKey
    box_secret: bytes
    polynomial: tuple[Scalar, ...]
    blinding: tuple[Scalar, ...]
    pedersen: tuple[Point, ...]
    share: Scalar | None = None

    def __post_init__(self) -> None:
        _check_parameters(self.trustees, self.threshold)
        if not 1 <= self.trustee <= self.trustees:
            raise KeyCeremonyError(f"trustee index {self.trustee} is not in 1..{self.trustees}")
        if len(self.pedersen) != self.threshold:
            raise KeyCeremonyError("trustee state commitments do not match the threshold")
        if self.polynomial or self.blinding:
            if len(self.polynomial) != self.threshold or len(self.blinding) != self.threshold:
                raise KeyCeremonyError("trustee state polynomials do not match the threshold")
            for a, b, e in zip(self.polynomial, self.blinding, self.pedersen, strict=True):
                if Point.base_mul(a) + H * b != e:
                    raise KeyCeremonyError(
                        "trustee state polynomials do not match its commitments"
                    )
        if len(self.box_secret) != BOX_KEY_BYTES:
            raise KeyCeremonyError("trustee state box key must be 32 bytes")

    @property
    def box_public_key(self) -> bytes:
        return bytes(PrivateKey(self.box_secret).public_key)

    @property
    def finalized(self) -> bool:
        return not self.polynomial

    def announcement(self) -> Announcement:
        """The step-1 message (deterministic: Ed25519 signatures are)."""
        return Announcement.create(
            self.election_id,
            self.signing_key,
            trustee=self.trustee,
            trustees=self.trustees,
            threshold=self.threshold,
            box_key=self.box_public_key,
            pedersen=self.pedersen,
        )

    def to_json(self) -> dict:
        out = {
            "election_id": self.election_id,
            "trustee": self.trustee,
            "trustees": self.trustees,
            "threshold": self.threshold,
            "signing_key": self.signing_key.to_json(),
            "box_secret": b64encode(self.box_secret),
            "polynomial": [a.to_json() for a in self.polynomial],
            "blinding": [b.to_json() for b in self.blinding],
            "pedersen": [e.to_json() for e in self.pedersen],
        }
        if self.share is not None:
            out["share"] = self.share.to_json()
        return out

    @classmethod
    def from_json(cls, obj: Any, path: str = "trustee_state") -> TrusteeState:
        f = Fields(
            obj,
            path,
            required=(
                "election_id",
                "trustee",
                "trustees",
                "threshold",
                "signing_key",
                "box_secret",
                "polynomial",
                "blinding",
                "pedersen",
            ),
            optional=("share",),
        )

        def scalar(value: Any, p: str) -> Scalar:
            try:
                return Scalar.from_json(value)
            except InvalidScalar as exc:
                raise InvalidScalar(f"{p}: {exc.message}") from None

        return cls(
            election_id=f.str("election_id", max_len=1000),
            trustee=_index(f, "trustee"),
            trustees=_index(f, "trustees"),
            threshold=_index(f, "threshold"),
            signing_key=_decode(f, "signing_key", SigningKey.from_json),
            box_secret=f.bytes("box_secret", length=BOX_KEY_BYTES),
            polynomial=tuple(f.list("polynomial", scalar, max_len=MAX_TRUSTEES)),
            blinding=tuple(f.list("blinding", scalar, max_len=MAX_TRUSTEES)),
            pedersen=tuple(f.list("pedersen", _point_item, min_len=1, max_len=MAX_TRUSTEES)),
            share=_decode(f, "share", Scalar.from_json) if f.has("share") else None,
        )

    def __repr__(self) -> str:
        return f"TrusteeState(election={self.election_id!r}, trustee={self.trustee}, <secret>)"


@dataclass(frozen=True, slots=True, repr=False)
class ReceivedShares:
    """Step 3 outcome when every dealer's share checked out: dealer -> (f(me), f'(me)).

    Includes the trustee's own pair.  Secret; never posted.
    """

    trustee: int
    shares: Mapping[int, tuple[Scalar, Scalar]]

    def __repr__(self) -> str:
        return f"ReceivedShares(trustee={self.trustee}, dealers={sorted(self.shares)})"


# --------------------------------------------------------------------------
# Phase 1, step 1: announce
# --------------------------------------------------------------------------


def step1_announce(
    election_id: str,
    index: int,
    n: int,
    t: int,
    rng: Rng,
    *,
    signing_key: SigningKey | None = None,
) -> tuple[TrusteeState, Announcement]:
    """Draw both polynomials and the box key; publish keys and Pedersen commitments.

    ``signing_key`` lets a trustee use a key registered with the official
    beforehand (so that auditors can tell real trustees from substitutes);
    otherwise a fresh one is drawn from ``rng``.
    """
    _check_parameters(n, t)
    if not 1 <= index <= n:
        raise KeyCeremonyError(f"trustee index {index} is not in 1..{n}")
    key = signing_key if signing_key is not None else SigningKey.generate(rng)
    box_secret = rng(BOX_KEY_BYTES)
    if len(box_secret) != BOX_KEY_BYTES:
        raise ValueError("rng returned the wrong number of bytes")
    polynomial = tuple(Scalar.random(rng) for _ in range(t))
    blinding = tuple(Scalar.random(rng) for _ in range(t))
    pedersen = tuple(
        Point.base_mul(a) + H * b for a, b in zip(polynomial, blinding, strict=True)
    )
    state = TrusteeState(election_id, index, n, t, key, box_secret, polynomial, blinding, pedersen)
    return state, state.announcement()


def check_announcement(
    election_id: str,
    n: int,
    t: int,
    announcement: Announcement,
    *,
    signing_key: VerifyKey | None = None,
) -> None:
    """Raise :class:`KeyCeremonyError` unless ``announcement`` is a valid step-1 message.

    Checks the parameters agree with the election, t Pedersen commitments none
    the identity, the box key is a usable X25519 key (not of small order), and
    the signature.  ``signing_key``, when registered beforehand, must match.
    """
    _check_parameters(n, t)
    a = announcement
    if not 1 <= a.trustee <= n:
        raise _fail(a.trustee, 1, f"trustee index is not in 1..{n}")
    if (a.trustees, a.threshold) != (n, t):
        raise _fail(
            a.trustee, 1, f"announces {a.threshold} of {a.trustees}, the election has {t} of {n}"
        )
    if signing_key is not None and signing_key != a.signing_key:
        raise _fail(a.trustee, 1, "signing key is not the one registered for this trustee")
    if len(a.box_key) != BOX_KEY_BYTES:
        raise _fail(a.trustee, 1, "box key must be 32 bytes")
    if len(a.pedersen) != t:
        raise _fail(a.trustee, 1, f"expected {t} Pedersen commitments")
    for k, e in enumerate(a.pedersen):
        if e.is_identity():
            raise _fail(a.trustee, 1, f"Pedersen commitment {k} is the identity")
    try:
        bindings.crypto_scalarmult(_LOW_ORDER_PROBE, a.box_key)
    except NaclCryptoError:
        raise _fail(a.trustee, 1, "box key has small order") from None
    _verify_signature(election_id, a.signing_key, a.body(), a.signature, a.trustee, 1)


def _announcements_by_index(
    election_id: str,
    n: int,
    t: int,
    announcements: Iterable[Announcement],
    signing_keys: Mapping[int, VerifyKey] | None = None,
) -> dict[int, Announcement]:
    """Check every announcement and require exactly one per trustee 1..n."""
    out: dict[int, Announcement] = {}
    for a in announcements:
        expected = signing_keys.get(a.trustee) if signing_keys is not None else None
        if signing_keys is not None and expected is None:
            raise _fail(a.trustee, 1, "no signing key is registered for this trustee")
        check_announcement(election_id, n, t, a, signing_key=expected)
        if a.trustee in out:
            raise _fail(a.trustee, 1, "more than one announcement")
        out[a.trustee] = a
    for i in range(1, n + 1):
        if i not in out:
            raise _fail(i, 1, "no announcement")
    keys = [a.box_key for a in out.values()] + [a.signing_key.raw for a in out.values()]
    if len(set(keys)) != len(keys):
        raise KeyCeremonyError("two announcements share a key", detail={"step": STEP_NAMES[1]})
    return out


def _own_announcement_matches(
    state: TrusteeState, announcements: Mapping[int, Announcement]
) -> None:
    if announcements[state.trustee] != state.announcement():
        raise _fail(state.trustee, 1, "the announcement on the board is not this trustee's")


# --------------------------------------------------------------------------
# Phase 1, step 2: deal the encrypted shares
# --------------------------------------------------------------------------


def _share_plaintext(
    election_id: str, dealer: int, recipient: int, share_raw: bytes, blinding_raw: bytes
) -> bytes:
    return transcript(
        TAG_SHARE_BOX,
        [enc_str(election_id), enc_int(dealer), enc_int(recipient), share_raw, blinding_raw],
    )


def seal_share(
    election_id: str,
    dealer: int,
    recipient: int,
    box_secret: bytes,
    recipient_box_key: bytes,
    share: Scalar,
    blinding: Scalar,
    nonce: bytes,
) -> bytes:
    """One share box: Box(sk_dealer, pk_recipient) over the bound plaintext (nonce || ct)."""
    if len(nonce) != NONCE_BYTES:
        raise ValueError("rng returned the wrong number of bytes")
    box = Box(PrivateKey(box_secret), PublicKey(recipient_box_key))
    plaintext = _share_plaintext(election_id, dealer, recipient, share.raw, blinding.raw)
    return bytes(box.encrypt(plaintext, nonce))


def open_share(
    election_id: str,
    dealer: int,
    recipient: int,
    box_secret: bytes,
    dealer_box_key: bytes,
    sealed: bytes,
) -> tuple[Scalar, Scalar]:
    """Open a share box addressed to ``recipient``: (f(j), f'(j)), or :class:`KeyCeremonyError`.

    Fails on a wrong key, a tampered box, or a box made for another election,
    dealer or recipient (the plaintext names all three).
    """
    try:
        plaintext = Box(PrivateKey(box_secret), PublicKey(dealer_box_key)).decrypt(sealed)
    except NaclCryptoError:
        raise _fail(dealer, 2, f"share box for trustee {recipient} does not open") from None
    # the last two transcript fields: lp(share) || lp(blinding), 8-byte length prefixes
    share_raw, blinding_raw = plaintext[-72:-40], plaintext[-32:]
    expected = _share_plaintext(election_id, dealer, recipient, share_raw, blinding_raw)
    if not hmac.compare_digest(plaintext, expected):
        raise _fail(
            dealer,
            2,
            f"share box for trustee {recipient} is not bound to this election, dealer and recipient",
        )
    try:
        return Scalar.from_bytes(share_raw), Scalar.from_bytes(blinding_raw)
    except InvalidScalar:
        raise _fail(dealer, 2, f"share for trustee {recipient} is not a canonical scalar") from None


def _pair(state: TrusteeState, x: int) -> tuple[Scalar, Scalar]:
    return _eval_polynomial(state.polynomial, x), _eval_polynomial(state.blinding, x)


def step2_shares(
    state: TrusteeState, announcements: Iterable[Announcement], rng: Rng
) -> EncryptedShares:
    """Deal (f_i(j), f'_i(j)) to every other trustee j, each in a box only j can open;
    post once all n announcements are on the board (it needs their box keys)."""
    if state.finalized:
        raise _fail(state.trustee, 2, "this trustee state has already been finalized")
    anns = _announcements_by_index(
        state.election_id, state.trustees, state.threshold, announcements
    )
    _own_announcement_matches(state, anns)
    boxes = []
    for j in range(1, state.trustees + 1):
        if j == state.trustee:
            continue
        share, blinding = _pair(state, j)
        sealed = seal_share(
            state.election_id, state.trustee, j, state.box_secret, anns[j].box_key,
            share, blinding, rng(NONCE_BYTES),
        )
        boxes.append((j, sealed))
    return EncryptedShares.create(
        state.election_id, state.signing_key, dealer=state.trustee, boxes=boxes
    )


def check_shares(election_id: str, announcement: Announcement, shares: EncryptedShares) -> None:
    """Raise :class:`KeyCeremonyError` unless ``shares`` is a well-formed step-2 message.

    Checks the signature and that there is exactly one box for every other
    trustee.  Whether each box holds a correct share only its recipient can
    tell (step 3).
    """
    i = announcement.trustee
    if shares.dealer != i:
        raise _fail(shares.dealer, 2, f"checked against trustee {i}'s announcement")
    expected = [j for j in range(1, announcement.trustees + 1) if j != i]
    if [j for j, _ in shares.boxes] != expected:
        raise _fail(i, 2, "must hold exactly one box for every other trustee, in order")
    _verify_signature(election_id, announcement.signing_key, shares.body(), shares.signature, i, 2)


# --------------------------------------------------------------------------
# Phase 1, step 3: receive, check, complain
# --------------------------------------------------------------------------


def _receive_one(
    state: TrusteeState, announcement: Announcement, shares: EncryptedShares | None
) -> tuple[tuple[Scalar, Scalar] | None, str | None]:
    """((share, blinding), None) if the dealer's pair to me is good, else (None, reason)."""
    if shares is None:
        return None, "missing"
    try:
        check_shares(state.election_id, announcement, shares)
    except KeyCeremonyError:
        return None, "missing"
    sealed = shares.box_for(state.trustee)
    if sealed is None:
        return None, "missing"
    try:
        pair = open_share(
            state.election_id, shares.dealer, state.trustee, state.box_secret,
            announcement.box_key, sealed,
        )
    except KeyCeremonyError:
        return None, "undecryptable"
    if not _pedersen_ok(announcement.pedersen, state.trustee, *pair):
        return None, "bad-share"
    return pair, None


def _shares_by_dealer(shares: Iterable[EncryptedShares]) -> dict[int, EncryptedShares]:
    out: dict[int, EncryptedShares] = {}
    for s in shares:
        if s.dealer in out:
            raise _fail(s.dealer, 2, "more than one shares message")
        out[s.dealer] = s
    return out


def step3_receive(
    state: TrusteeState,
    announcements: Iterable[Announcement],
    shares: Iterable[EncryptedShares],
) -> ReceivedShares | list[Complaint]:
    """Open and check (Pedersen) every share pair dealt to this trustee.

    Returns the shares if all are good, otherwise one signed complaint per
    dealer whose pair is missing, does not open, or fails the check.
    """
    if state.finalized:
        raise _fail(state.trustee, 3, "this trustee state has already been finalized")
    eid = state.election_id
    anns = _announcements_by_index(eid, state.trustees, state.threshold, announcements)
    _own_announcement_matches(state, anns)
    dealt = _shares_by_dealer(shares)
    received = {state.trustee: _pair(state, state.trustee)}
    complaints = []
    for i in sorted(anns):
        if i == state.trustee:
            continue
        pair, reason = _receive_one(state, anns[i], dealt.get(i))
        if pair is not None:
            received[i] = pair
        else:
            complaints.append(
                Complaint.create(
                    eid, state.signing_key, accuser=state.trustee, accused=i, reason=str(reason)
                )
            )
    if complaints:
        return complaints
    return ReceivedShares(state.trustee, received)


def check_complaint(
    election_id: str, announcements: Iterable[Announcement], complaint: Complaint
) -> None:
    """Raise :class:`KeyCeremonyError` unless ``complaint`` is signed by its accuser
    and names another trustee of this ceremony."""
    anns = {a.trustee: a for a in announcements}
    c = complaint
    if c.accuser not in anns or c.accused not in anns:
        raise _fail(
            c.accuser, 3, f"complaint names an unknown trustee ({c.accuser} against {c.accused})"
        )
    if c.accuser == c.accused:
        raise _fail(c.accuser, 3, "a trustee cannot complain about itself")
    if c.reason not in COMPLAINT_REASONS:
        raise _fail(c.accuser, 3, f"unknown complaint reason {c.reason!r}")
    _verify_signature(election_id, anns[c.accuser].signing_key, c.body(), c.signature, c.accuser, 3)


# --------------------------------------------------------------------------
# Phase 1, step 4: answer complaints in public
# --------------------------------------------------------------------------


def step4_answer(
    state: TrusteeState, announcements: Iterable[Announcement], complaints: Iterable[Complaint]
) -> list[ComplaintAnswer]:
    """Reveal (f_me(j), f'_me(j)) for every valid complaint by j against this trustee.

    This discloses only j's pair from this dealer, which j was owed anyway;
    not answering gets the dealer disqualified (before QUAL is fixed, while
    nothing about the joint key is public).
    """
    if state.finalized:
        raise _fail(state.trustee, 4, "this trustee state has already been finalized")
    anns = _announcements_by_index(
        state.election_id, state.trustees, state.threshold, announcements
    )
    accusers = set()
    for c in complaints:
        check_complaint(state.election_id, anns.values(), c)
        if c.accused == state.trustee:
            accusers.add(c.accuser)
    out = []
    for j in sorted(accusers):
        share, blinding = _pair(state, j)
        out.append(
            ComplaintAnswer.create(
                state.election_id, state.signing_key, dealer=state.trustee, accuser=j,
                share=share, blinding=blinding,
            )
        )
    return out


def check_complaint_answer(
    election_id: str, announcement: Announcement, answer: ComplaintAnswer
) -> None:
    """Raise :class:`KeyCeremonyError` unless ``answer`` is signed by the dealer and
    its revealed pair passes Pedersen's check against the dealer's commitments."""
    i = announcement.trustee
    if answer.dealer != i:
        raise _fail(answer.dealer, 4, f"checked against trustee {i}'s messages")
    if not 1 <= answer.accuser <= announcement.trustees or answer.accuser == i:
        raise _fail(i, 4, f"answers a complaint from an invalid trustee {answer.accuser}")
    _verify_signature(election_id, announcement.signing_key, answer.body(), answer.signature, i, 4)
    if not _pedersen_ok(announcement.pedersen, answer.accuser, answer.share, answer.blinding):
        raise _fail(
            i, 4, f"revealed share for trustee {answer.accuser} does not match the commitments"
        )


# --------------------------------------------------------------------------
# The cut: QUAL
# --------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Phase1:
    """The public phase-1 record, every message checked."""

    announcements: dict[int, Announcement]
    complaints: frozenset[tuple[int, int]]  # (accuser, accused)
    revealed: dict[tuple[int, int], tuple[Scalar, Scalar]]  # (dealer, accuser) -> valid pair


def _check_phase1(
    election_id: str,
    n: int,
    t: int,
    announcements: Iterable[Announcement],
    complaints: Iterable[Complaint],
    answers: Iterable[ComplaintAnswer],
    signing_keys: Mapping[int, VerifyKey] | None = None,
) -> _Phase1:
    anns = _announcements_by_index(election_id, n, t, announcements, signing_keys)
    pairs = set()
    for c in complaints:
        check_complaint(election_id, anns.values(), c)
        pairs.add((c.accuser, c.accused))
    revealed: dict[tuple[int, int], tuple[Scalar, Scalar]] = {}
    for a in answers:
        # An answer that does not check clears nothing: the complaint stays open.
        if a.dealer not in anns:
            continue
        try:
            check_complaint_answer(election_id, anns[a.dealer], a)
        except KeyCeremonyError:
            continue
        revealed[(a.dealer, a.accuser)] = (a.share, a.blinding)
    return _Phase1(anns, frozenset(pairs), revealed)


def _qualify(record: _Phase1, dealt: Iterable[int] | None = None) -> tuple[int, ...]:
    """QUAL: dealers that announced, dealt (when ``dealt`` is given: a shares message is
    on the board) and answered every complaint against them correctly."""
    have = None if dealt is None else set(dealt)
    return tuple(
        i
        for i in sorted(record.announcements)
        if (have is None or i in have)
        and all(
            (i, accuser) in record.revealed
            for accuser, accused in record.complaints
            if accused == i
        )
    )


def qualified_set(
    election_id: str,
    n: int,
    t: int,
    announcements: Iterable[Announcement],
    complaints: Iterable[Complaint],
    answers: Iterable[ComplaintAnswer],
    *,
    signing_keys: Mapping[int, VerifyKey] | None = None,
    dealt: Iterable[int] | None = None,
) -> tuple[int, ...]:
    """QUAL, a deterministic function of the phase-1 messages (none of which depends on
    the joint key: Pedersen commitments are perfectly hiding).

    Dealer i is qualified iff it announced, dealt its shares (``dealt``: the
    dealers with a shares message on the board, R-DKG-13; a dealer that skipped
    dealing and answered every complaint in public would otherwise be in QUAL
    without a shares message) and, for every complaint against it, posted an
    answer whose pair passes Pedersen's check.  Message order does
    not matter; an invalid answer counts as none.  Raises
    :class:`KeyCeremonyError` if fewer than t qualify, or if a message that
    should never have been accepted is present.
    """
    record = _check_phase1(election_id, n, t, announcements, complaints, answers, signing_keys)
    qualified = _qualify(record, dealt)
    if len(qualified) < t:
        raise KeyCeremonyError(
            f"only {len(qualified)} trustees qualified ({list(qualified)}), threshold is {t}",
            detail={"step": "qualification", "qualified": list(qualified)},
        )
    return qualified


# --------------------------------------------------------------------------
# Phase 2, step 5: reveal the Feldman values
# --------------------------------------------------------------------------


def step5_reveal(state: TrusteeState, rng: Rng) -> Commitments:
    """A_k = a_k·G and B_k = b_k·H with Schnorr proofs; post only once QUAL is on the board."""
    if state.finalized:
        raise _fail(state.trustee, 5, "this trustee state has already been finalized")
    eid, i = state.election_id, state.trustee
    return Commitments.create(
        eid,
        state.signing_key,
        trustee=i,
        coefficients=[Point.base_mul(a) for a in state.polynomial],
        proofs=[
            prove_schnorr(_coefficient_context(eid, i, k), a, rng)
            for k, a in enumerate(state.polynomial)
        ],
        blindings=[H * b for b in state.blinding],
        blinding_proofs=[
            prove_schnorr_h(_blinding_context(eid, i, k), b, rng)
            for k, b in enumerate(state.blinding)
        ],
    )


def check_commitments(
    election_id: str, announcement: Announcement, commitments: Commitments
) -> None:
    """Raise :class:`KeyCeremonyError` unless ``commitments`` opens the announced
    Pedersen commitments: A_k + B_k = E_k, with a proof of knowledge of log_G(A_k)
    and of log_H(B_k) for every k, signed by the trustee."""
    i = announcement.trustee
    c = commitments
    if c.trustee != i:
        raise _fail(c.trustee, 5, f"checked against trustee {i}'s announcement")
    t = announcement.threshold
    if not len(c.coefficients) == len(c.proofs) == len(c.blindings) == len(c.blinding_proofs) == t:
        raise _fail(i, 5, f"expected {t} coefficients and blindings with proofs")
    for k, point in enumerate(c.coefficients):
        if point.is_identity():
            raise _fail(i, 5, f"coefficient {k} is the identity")
    _verify_signature(election_id, announcement.signing_key, c.body(), c.signature, i, 5)
    for k, (a, b, e) in enumerate(zip(c.coefficients, c.blindings, announcement.pedersen,
                                      strict=True)):
        if a + b != e:
            raise _fail(i, 5, f"coefficient {k} does not open the announced commitment")
    for k, (point, proof) in enumerate(zip(c.coefficients, c.proofs, strict=True)):
        try:
            verify_schnorr(_coefficient_context(election_id, i, k), point, proof)
        except InvalidProof:
            raise _fail(i, 5, f"Schnorr proof for coefficient {k} does not verify") from None
    for k, (point, proof) in enumerate(zip(c.blindings, c.blinding_proofs, strict=True)):
        try:
            verify_schnorr_h(_blinding_context(election_id, i, k), point, proof)
        except InvalidProof:
            raise _fail(i, 5, f"Schnorr proof for blinding {k} does not verify") from None


# --------------------------------------------------------------------------
# Phase 2, step 6: rebuild a dealer that did not reveal
# --------------------------------------------------------------------------


def unrevealed(qualified: Iterable[int], commitments: Iterable[Commitments]) -> tuple[int, ...]:
    """The QUAL dealers without a reveal: what ``ceremony_reconstruct`` must name."""
    revealed = {c.trustee for c in commitments}
    return tuple(i for i in sorted(qualified) if i not in revealed)


def _own_pair_from(
    state: TrusteeState,
    announcement: Announcement,
    dealt: Mapping[int, EncryptedShares],
    answers: Iterable[ComplaintAnswer],
) -> tuple[Scalar, Scalar] | None:
    """This trustee's valid pair from dealer ``announcement.trustee``: the public
    answer to its complaint if there is one, else its box (if it passes Pedersen)."""
    i = announcement.trustee
    if i == state.trustee:
        return _pair(state, i)
    for a in answers:
        if a.dealer == i and a.accuser == state.trustee:
            try:
                check_complaint_answer(state.election_id, announcement, a)
            except KeyCeremonyError:
                continue
            return a.share, a.blinding
    pair, _ = _receive_one(state, announcement, dealt.get(i))
    return pair


def step6_reconstruct(
    state: TrusteeState,
    announcements: Iterable[Announcement],
    shares: Iterable[EncryptedShares],
    answers: Iterable[ComplaintAnswer],
    dealers: Iterable[int],
) -> list[Reconstruction]:
    """Publish this trustee's pair from each of ``dealers`` (the official's
    ``ceremony_reconstruct`` list): with t of them anyone rebuilds the dealer."""
    if state.finalized:
        raise _fail(state.trustee, 6, "this trustee state has already been finalized")
    anns = _announcements_by_index(
        state.election_id, state.trustees, state.threshold, announcements
    )
    dealt = _shares_by_dealer(shares)
    answers = list(answers)
    out = []
    for i in sorted(set(dealers)):
        if i == state.trustee:
            continue
        pair = _own_pair_from(state, anns[i], dealt, answers)
        if pair is None:
            continue  # nothing valid to give: the others' shares must do
        out.append(
            Reconstruction.create(
                state.election_id, state.signing_key, trustee=state.trustee, dealer=i,
                share=pair[0], blinding=pair[1],
            )
        )
    return out


def check_reconstruction(
    election_id: str, revealer: Announcement, dealer: Announcement, r: Reconstruction
) -> None:
    """Raise :class:`KeyCeremonyError` unless ``r`` is signed by ``revealer`` and its pair
    passes Pedersen's check against ``dealer``'s commitments at the revealer's index."""
    if r.trustee != revealer.trustee or r.dealer != dealer.trustee:
        raise _fail(r.trustee, 6, "checked against another trustee's messages")
    if r.trustee == r.dealer:
        raise _fail(r.trustee, 6, "a trustee cannot reconstruct itself")
    _verify_signature(election_id, revealer.signing_key, r.body(), r.signature, r.trustee, 6)
    if not _pedersen_ok(dealer.pedersen, r.trustee, r.share, r.blinding):
        raise _fail(
            r.trustee, 6, f"share from dealer {r.dealer} does not match its commitments"
        )


# --------------------------------------------------------------------------
# The joint key
# --------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class CeremonyOutcome:
    """What the public ceremony gives: the joint key, and each QUAL dealer's Feldman
    values (revealed, or rebuilt in public) for the election fingerprint."""

    joint: JointKey
    feldman: Mapping[int, tuple[Point, ...]]
    rebuilt: tuple[int, ...]  # dealers whose polynomial was rebuilt in public
    public_shares: Mapping[tuple[int, int], Scalar]  # (dealer, j) -> f_dealer(j), rebuilt


def _rebuild(
    election_id: str,
    t: int,
    anns: Mapping[int, Announcement],
    dealer: int,
    reconstructions: Iterable[Reconstruction],
) -> list[Scalar]:
    """Dealer's polynomial from the t lowest-indexed valid published shares."""
    points: dict[int, Scalar] = {}
    for r in reconstructions:
        if r.dealer != dealer or r.trustee in points or r.trustee not in anns:
            continue
        try:
            check_reconstruction(election_id, anns[r.trustee], anns[dealer], r)
        except KeyCeremonyError:
            continue
        points[r.trustee] = r.share
    if len(points) < t:
        raise _fail(
            dealer, 6,
            f"did not reveal and only {len(points)} of the {t} shares needed to rebuild it "
            "are on the board",
        )
    chosen = sorted(points.items())[:t]
    return interpolate(chosen)


def ceremony_outcome(
    election_id: str,
    n: int,
    t: int,
    announcements: Iterable[Announcement],
    complaints: Iterable[Complaint],
    answers: Iterable[ComplaintAnswer],
    commitments: Iterable[Commitments],
    reconstructions: Iterable[Reconstruction] = (),
    *,
    signing_keys: Mapping[int, VerifyKey] | None = None,
    dealt: Iterable[int] | None = None,
) -> CeremonyOutcome:
    """Recompute QUAL, every QUAL dealer's Feldman values and the joint key from the board.

    Needs no secrets and no share boxes.  A reveal must open the announced
    commitments (:func:`check_commitments`); a QUAL dealer without one is
    rebuilt from t published shares.  Raises :class:`KeyCeremonyError`.
    """
    anns_list = list(announcements)
    anns = _announcements_by_index(election_id, n, t, anns_list, signing_keys)
    qualified = qualified_set(election_id, n, t, anns_list, complaints, answers, dealt=dealt)
    reveals: dict[int, Commitments] = {}
    for c in commitments:
        if c.trustee not in qualified:
            raise _fail(c.trustee, 5, "revealed commitments but is not in QUAL")
        if c.trustee in reveals:
            raise _fail(c.trustee, 5, "more than one reveal")
        check_commitments(election_id, anns[c.trustee], c)
        reveals[c.trustee] = c
    recs = list(reconstructions)
    feldman: dict[int, tuple[Point, ...]] = {}
    rebuilt = []
    public_shares: dict[tuple[int, int], Scalar] = {}
    for i in qualified:
        if i in reveals:
            feldman[i] = reveals[i].coefficients
            continue
        poly = _rebuild(election_id, t, anns, i, recs)
        feldman[i] = tuple(Point.base_mul(a) for a in poly)
        rebuilt.append(i)
        for j in qualified:
            public_shares[(i, j)] = _eval_polynomial(poly, j)
    summed = []
    for k in range(t):
        acc = IDENTITY
        for i in qualified:
            acc = acc + feldman[i][k]
        summed.append(acc)
    if summed[0].is_identity():
        raise KeyCeremonyError("the joint key is the identity", detail={"step": STEP_NAMES[7]})
    keys = {}
    for j in qualified:
        x = _eval_commitments(summed, j)
        if x.is_identity():
            raise _fail(j, 7, "verification key is the identity")
        keys[j] = x
    return CeremonyOutcome(JointKey(summed[0], t, keys, qualified), feldman, tuple(rebuilt),
                           public_shares)


def verify_ceremony(
    election_id: str,
    n: int,
    t: int,
    announcements: Iterable[Announcement],
    complaints: Iterable[Complaint],
    answers: Iterable[ComplaintAnswer],
    commitments: Iterable[Commitments],
    reconstructions: Iterable[Reconstruction] = (),
    *,
    signing_keys: Mapping[int, VerifyKey] | None = None,
    dealt: Iterable[int] | None = None,
) -> JointKey:
    """The joint key and every verification key, recomputed from the public messages
    (:func:`ceremony_outcome`).  ``signing_keys`` (trustee -> key registered by the
    official) pins who the trustees are."""
    return ceremony_outcome(
        election_id, n, t, announcements, complaints, answers, commitments, reconstructions,
        signing_keys=signing_keys, dealt=dealt,
    ).joint


def trustee_commitments(feldman: Mapping[int, Sequence[Point]]) -> list[list[Point]]:
    """The QUAL dealers' Feldman values in trustee-index order, for the election fingerprint."""
    return [list(feldman[i]) for i in sorted(feldman)]


def finalize(
    state: TrusteeState,
    announcements: Iterable[Announcement],
    shares: Iterable[EncryptedShares],
    complaints: Iterable[Complaint],
    answers: Iterable[ComplaintAnswer],
    commitments: Iterable[Commitments],
    reconstructions: Iterable[Reconstruction] = (),
) -> tuple[JointKey, TrusteeState]:
    """Compute the joint key and this trustee's share x_j = Σ_{i∈QUAL} f_i(j).

    Uses the publicly revealed share wherever this trustee's complaint was
    answered.  Checks x_j·G == X_j, then returns a state that holds x_j and no
    longer holds the polynomials.
    """
    if state.finalized:
        raise _fail(state.trustee, 7, "this trustee state has already been finalized")
    eid, me = state.election_id, state.trustee
    anns, complaints, answers, shares = (
        list(x) for x in (announcements, complaints, answers, shares))
    outcome = ceremony_outcome(
        eid, state.trustees, state.threshold, anns, complaints, answers, commitments,
        reconstructions, dealt={s.dealer for s in shares},
    )
    joint = outcome.joint
    by_index = {a.trustee: a for a in anns}
    _own_announcement_matches(state, by_index)
    if me not in joint.qualified:
        raise _fail(me, 7, "this trustee was disqualified and holds no key share")
    dealt = _shares_by_dealer(shares)
    x = ZERO
    for i in joint.qualified:
        pair = _own_pair_from(state, by_index[i], dealt, answers)
        if pair is None:
            public = outcome.public_shares.get((i, me))
            if public is None:
                raise _fail(me, 7, f"share from dealer {i} is not valid and no answered "
                                   "complaint or public reconstruction replaces it")
            x = x + public
        else:
            x = x + pair[0]
    if Point.base_mul(x) != joint.verification_keys[me]:
        raise _fail(me, 7, "key share does not match the verification key")
    return joint, replace(state, polynomial=(), blinding=(), share=x)


# --------------------------------------------------------------------------
# The whole ceremony, for tests and demos
# --------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class CeremonyMessages:
    """Every public message of one ceremony, as it would stand on the board."""

    announcements: tuple[Announcement, ...]
    shares: tuple[EncryptedShares, ...]
    complaints: tuple[Complaint, ...]
    answers: tuple[ComplaintAnswer, ...]
    qualified: Qualified
    commitments: tuple[Commitments, ...]
    reconstruct: Reconstruct | None = None
    reconstructions: tuple[Reconstruction, ...] = ()

    def to_json(self) -> dict:
        return {
            "announcements": [m.to_json() for m in self.announcements],
            "shares": [m.to_json() for m in self.shares],
            "complaints": [m.to_json() for m in self.complaints],
            "answers": [m.to_json() for m in self.answers],
            "qualified": self.qualified.to_json(),
            "commitments": [m.to_json() for m in self.commitments],
            "reconstruct": None if self.reconstruct is None else self.reconstruct.to_json(),
            "reconstructions": [m.to_json() for m in self.reconstructions],
        }

    @classmethod
    def from_json(cls, obj: Any, path: str = "ceremony") -> CeremonyMessages:
        f = Fields(obj, path, required=("announcements", "shares", "complaints", "answers",
                                        "qualified", "commitments", "reconstruct",
                                        "reconstructions"))
        limit = MAX_TRUSTEES * MAX_TRUSTEES
        reconstruct = f.raw("reconstruct")
        return cls(
            tuple(f.list("announcements", Announcement.from_json, max_len=MAX_TRUSTEES)),
            tuple(f.list("shares", EncryptedShares.from_json, max_len=MAX_TRUSTEES)),
            tuple(f.list("complaints", Complaint.from_json, max_len=limit)),
            tuple(f.list("answers", ComplaintAnswer.from_json, max_len=limit)),
            Qualified.from_json(f.raw("qualified"), f.sub("qualified")),
            tuple(f.list("commitments", Commitments.from_json, max_len=MAX_TRUSTEES)),
            None if reconstruct is None else Reconstruct.from_json(reconstruct,
                                                                   f.sub("reconstruct")),
            tuple(f.list("reconstructions", Reconstruction.from_json, max_len=limit)),
        )


def run_ceremony(
    election_id: str, n: int, t: int, rng: Rng
) -> tuple[JointKey, list[TrusteeState], CeremonyMessages]:
    """Run an honest ceremony end to end, strictly through the step functions."""
    started = [step1_announce(election_id, i, n, t, rng) for i in range(1, n + 1)]
    states = [s for s, _ in started]
    announcements = [a for _, a in started]
    shares = [step2_shares(s, announcements, rng) for s in states]
    complaints: list[Complaint] = []
    for s in states:
        outcome = step3_receive(s, announcements, shares)
        if isinstance(outcome, list):
            complaints += outcome
    answers = [a for s in states for a in step4_answer(s, announcements, complaints)]
    qualified = qualified_set(election_id, n, t, announcements, complaints, answers,
                              dealt={s.dealer for s in shares})
    commitments = [step5_reveal(s, rng) for s in states if s.trustee in qualified]
    finished = [
        finalize(s, announcements, shares, complaints, answers, commitments)
        for s in states
        if s.trustee in qualified
    ]
    joint = finished[0][0]
    messages = CeremonyMessages(
        tuple(announcements), tuple(shares), tuple(complaints), tuple(answers),
        Qualified(qualified), tuple(commitments),
    )
    return joint, [s for _, s in finished], messages
