"""The trustees' t-of-n key generation: Pedersen's DKG with Feldman commitments.

Each of n trustees deals a random polynomial f_i of degree t−1 and gives every
other trustee j the share f_i(j), encrypted to j.  The election key is
K = Σ_{i∈QUAL} f_i(0)·G and trustee j's key share is x_j = Σ_{i∈QUAL} f_i(j), so
any t trustees can decrypt together and no t−1 of them learn anything about the
secret.  Nobody, not even a dealer, ever holds the whole secret key.

The steps follow ``docs/protocol.md`` (section "Trustees"), each with a
``check_*`` partner that anyone can run from the board alone:

====  ======================  =========================  ===========================
step  trustee i does           posts                      anyone checks
====  ======================  =========================  ===========================
1     ``step1_announce``      :class:`Announcement`      ``check_announcement``
2     ``step2_reveal``        :class:`Commitments`       ``check_commitments``
3     ``step3_shares``        :class:`EncryptedShares`   ``check_shares``
4     ``step4_receive``       :class:`Complaint` (if     ``check_complaint``
                              a share is bad)
5     ``step5_answer``        :class:`ComplaintAnswer`   ``check_complaint_answer``
6     ``finalize``            (nothing; keeps x_j)       ``verify_ceremony``
====  ======================  =========================  ===========================

Why these choices:

* Commit-then-reveal.  In step 1 a trustee publishes only a hash of its Feldman
  commitments; the commitments themselves are revealed in step 2, after all n
  hashes are on the board.  Without this, the last trustee to publish could
  choose its f_i(0)·G after seeing everyone else's and set the joint key to a
  key it alone knows (the "rogue key" attack).  A Schnorr proof of knowledge on
  every coefficient commitment makes the same point a second way: a trustee
  cannot publish a point it does not know the logarithm of.
* Shares travel in NaCl boxes (X25519 + XSalsa20-Poly1305) inside signed board
  messages.  The box plaintext repeats the election id, dealer and recipient,
  because a box between i and j opens with either party's key; without the
  binding a box could be replayed in another election or in the other
  direction.
* Complaints are public and the accused dealer answers in public with the
  plaintext share, which anyone checks against the dealer's commitments.  A
  dealer with a complaint it does not answer correctly is disqualified; the rule
  (:func:`qualified_set`) is a deterministic function of the board.
* The residual bias is documented, not hidden: a dishonest trustee can still
  get itself disqualified on purpose (deal a bad share, then not answer), which
  lets c colluding trustees pick among at most 2^c joint keys.  They cannot
  choose the key, and this is the bias of Pedersen's DKG that Gennaro, Jarecki,
  Krawczyk and Rabin analyse; see ``docs/protocol.md``.
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
from evote.group import IDENTITY, ZERO, Point, Rng, Scalar
from evote.hashing import (
    CTX_DKG_COEFFICIENT,
    TAG_DKG_COMMIT,
    TAG_SHARE_BOX,
    TAG_TRUSTEE_MESSAGE,
    enc_int,
    enc_str,
    tagged_hash,
    transcript,
)
from evote.proofs import SchnorrProof, prove_schnorr, verify_schnorr
from evote.signing import SIGNATURE_BYTES, SigningKey, VerifyKey

T = TypeVar("T")

#: Largest number of trustees an election may have.
MAX_TRUSTEES = 32
BOX_KEY_BYTES = 32
HASH_BYTES = 32
NONCE_BYTES = 24
#: Upper bound on an encoded share box (the real size depends on the election id).
MAX_BOX_BYTES = 20_000

#: Why a trustee complains about a dealer.
COMPLAINT_REASONS = ("missing", "undecryptable", "bad-share")

STEP_NAMES = {
    1: "announcement",
    2: "commitments",
    3: "shares",
    4: "complaint",
    5: "complaint answer",
    6: "finalize",
}

# A fixed, public X25519 scalar used only to ask libsodium whether a box public
# key has small order (the shared point would be all zeros).  Not a secret.
_LOW_ORDER_PROBE = bytes([0x48]) + bytes(30) + bytes([0x40])


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
    """Σ_k C_k·x^k, i.e. f(x)·G computed from the commitments alone."""
    xs = Scalar.from_int(x)
    acc = IDENTITY
    for c in reversed(points):
        acc = acc * xs + c
    return acc


def _coefficient_context(election_id: str, trustee: int, k: int) -> list[bytes]:
    return [CTX_DKG_COEFFICIENT, enc_str(election_id), enc_int(trustee), enc_int(k)]


def hash_commitments(
    election_id: str, trustee: int, coefficients: Sequence[Point], proofs: Sequence[SchnorrProof]
) -> bytes:
    """The step-1 commitment: tagged_hash("dkg-commit", election, i, t, C_0, c_0, s_0, ...)."""
    fields = [enc_str(election_id), enc_int(trustee), enc_int(len(coefficients))]
    for c, proof in zip(coefficients, proofs, strict=True):
        fields += [c.raw, proof.challenge.raw, proof.response.raw]
    return tagged_hash(TAG_DKG_COMMIT, *fields)


# --------------------------------------------------------------------------
# Public messages
# --------------------------------------------------------------------------


def _signature_field(f: Fields) -> bytes:
    return f.bytes("signature", length=SIGNATURE_BYTES)


def _index(f: Fields, key: str) -> int:
    return f.int(key, lo=1, hi=MAX_TRUSTEES)


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
    """Step 1: a trustee's keys and the hash of the commitments it will reveal."""

    trustee: int
    trustees: int
    threshold: int
    signing_key: VerifyKey
    box_key: bytes
    commitment_hash: bytes
    signature: bytes

    FIELDS = ("trustee", "trustees", "threshold", "signing_key", "box_key", "commitment_hash")

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
        commitment_hash: bytes,
    ) -> Announcement:
        return cls(trustee, trustees, threshold, key.verify_key, box_key, commitment_hash, b"").signed(election_id, key)

    def body(self) -> dict:
        """The signed part: everything but the signature."""
        return {
            "trustee": self.trustee,
            "trustees": self.trustees,
            "threshold": self.threshold,
            "signing_key": self.signing_key.to_json(),
            "box_key": b64encode(self.box_key),
            "commitment_hash": b64encode(self.commitment_hash),
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
            commitment_hash=f.bytes("commitment_hash", length=HASH_BYTES),
            signature=_signature_field(f),
        )


@dataclass(frozen=True, slots=True)
class Commitments(_SignedMessage):
    """Step 2: the Feldman commitments C_k = a_k·G, each with a Schnorr proof."""

    trustee: int
    coefficients: tuple[Point, ...]
    proofs: tuple[SchnorrProof, ...]
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
    ) -> Commitments:
        return cls(trustee, tuple(coefficients), tuple(proofs), b"").signed(election_id, key)

    def body(self) -> dict:
        return {
            "trustee": self.trustee,
            "coefficients": [c.to_json() for c in self.coefficients],
            "proofs": [p.to_json() for p in self.proofs],
        }


    @classmethod
    def from_json(cls, obj: Any, path: str = "commitments") -> Commitments:
        f = Fields(obj, path, required=("trustee", "coefficients", "proofs", "signature"))

        def point(value: Any, p: str) -> Point:
            try:
                return Point.from_json(value)
            except EncodingError as exc:
                raise type(exc)(f"{p}: {exc.message}") from None

        def proof(value: Any, p: str) -> SchnorrProof:
            try:
                return SchnorrProof.from_json(value, p)
            except InvalidScalar as exc:
                raise InvalidScalar(f"{p}: {exc.message}") from None

        coefficients = f.list("coefficients", point, min_len=1, max_len=MAX_TRUSTEES)
        proofs = f.list("proofs", proof, min_len=1, max_len=MAX_TRUSTEES)
        if len(proofs) != len(coefficients):
            raise SchemaError(f"{path}: {len(coefficients)} coefficients but {len(proofs)} proofs")
        return cls(_index(f, "trustee"), tuple(coefficients), tuple(proofs), _signature_field(f))


@dataclass(frozen=True, slots=True)
class EncryptedShares(_SignedMessage):
    """Step 3: dealer i's share f_i(j) for every other trustee j, each in a NaCl box."""

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
    """Step 4: trustee ``accuser`` says dealer ``accused`` gave it no valid share."""

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
    """Step 5: dealer ``dealer`` reveals the share f_dealer(accuser) in public."""

    dealer: int
    accuser: int
    share: Scalar
    signature: bytes

    @classmethod
    def create(
        cls, election_id: str, key: SigningKey, *, dealer: int, accuser: int, share: Scalar
    ) -> ComplaintAnswer:
        return cls(dealer, accuser, share, b"").signed(election_id, key)

    def body(self) -> dict:
        return {"dealer": self.dealer, "accuser": self.accuser, "share": self.share.to_json()}


    @classmethod
    def from_json(cls, obj: Any, path: str = "answer") -> ComplaintAnswer:
        f = Fields(obj, path, required=("dealer", "accuser", "share", "signature"))
        return cls(
            _index(f, "dealer"),
            _index(f, "accuser"),
            _decode(f, "share", Scalar.from_json),
            _signature_field(f),
        )


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
        qualified = f.list("qualified", _index_item, min_len=1, max_len=MAX_TRUSTEES)
        if qualified != sorted(set(qualified)):
            raise SchemaError(f"{f.sub('qualified')}: must be strictly increasing")
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
        return cls(_decode(f, "joint_key", Point.from_json), threshold, keys, tuple(qualified))


def _index_item(value: Any, path: str) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or not 1 <= value <= MAX_TRUSTEES:
        raise SchemaError(f"{path}: expected a trustee index 1..{MAX_TRUSTEES}")
    return value


@dataclass(frozen=True, slots=True, repr=False)
class TrusteeState:
    """One trustee's secrets, kept in the trustee's own file and never posted.

    Holds the signing key, the box secret key, the polynomial until
    :func:`finalize` (which wipes it) and the key share x_j after.  Also keeps
    the trustee's own :class:`Commitments` message (public) so step 2 can post
    exactly what step 1 hashed.
    """

    election_id: str
    trustee: int
    trustees: int
    threshold: int
    signing_key: SigningKey
    box_secret: bytes
    polynomial: tuple[Scalar, ...]
    commitments: Commitments
    share: Scalar | None = None

    def __post_init__(self) -> None:
        _check_parameters(self.trustees, self.threshold)
        if not 1 <= self.trustee <= self.trustees:
            raise KeyCeremonyError(f"trustee index {self.trustee} is not in 1..{self.trustees}")
        if self.commitments.trustee != self.trustee:
            raise KeyCeremonyError("trustee state holds another trustee's commitments")
        if len(self.commitments.coefficients) != self.threshold:
            raise KeyCeremonyError("trustee state commitments do not match the threshold")
        if self.polynomial:
            if len(self.polynomial) != self.threshold:
                raise KeyCeremonyError("trustee state polynomial does not match the threshold")
            for a, c in zip(self.polynomial, self.commitments.coefficients, strict=True):
                if Point.base_mul(a) != c:
                    raise KeyCeremonyError(
                        "trustee state polynomial does not match its commitments"
                    )
        if len(self.box_secret) != BOX_KEY_BYTES:
            raise KeyCeremonyError("trustee state box key must be 32 bytes")

    @property
    def box_public_key(self) -> bytes:
        return bytes(PrivateKey(self.box_secret).public_key)

    def announcement(self) -> Announcement:
        """The step-1 message (deterministic: Ed25519 signatures are)."""
        c = self.commitments
        return Announcement.create(
            self.election_id,
            self.signing_key,
            trustee=self.trustee,
            trustees=self.trustees,
            threshold=self.threshold,
            box_key=self.box_public_key,
            commitment_hash=hash_commitments(
                self.election_id, self.trustee, c.coefficients, c.proofs
            ),
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
            "commitments": self.commitments.to_json(),
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
                "commitments",
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
            commitments=Commitments.from_json(f.raw("commitments"), f.sub("commitments")),
            share=_decode(f, "share", Scalar.from_json) if f.has("share") else None,
        )

    def __repr__(self) -> str:
        return f"TrusteeState(election={self.election_id!r}, trustee={self.trustee}, <secret>)"


@dataclass(frozen=True, slots=True, repr=False)
class ReceivedShares:
    """Step 4 outcome when every dealer's share checked out: dealer -> f_dealer(me).

    Includes the trustee's own f_me(me).  Secret; never posted.
    """

    trustee: int
    shares: Mapping[int, Scalar]

    def __repr__(self) -> str:
        return f"ReceivedShares(trustee={self.trustee}, dealers={sorted(self.shares)})"


# --------------------------------------------------------------------------
# Step 1: announce
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
    """Draw the polynomial and keys; publish keys and a hash of the commitments.

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
    coefficients = tuple(Point.base_mul(a) for a in polynomial)
    proofs = tuple(
        prove_schnorr(_coefficient_context(election_id, index, k), a, rng)
        for k, a in enumerate(polynomial)
    )
    commitments = Commitments.create(
        election_id, key, trustee=index, coefficients=coefficients, proofs=proofs
    )
    state = TrusteeState(election_id, index, n, t, key, box_secret, polynomial, commitments)
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

    Checks the parameters agree with the election, the box key is a usable
    X25519 key (not of small order), and the signature.  ``signing_key``, when
    the official registered the trustee's key beforehand, must match.
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
    if len(a.box_key) != BOX_KEY_BYTES or len(a.commitment_hash) != HASH_BYTES:
        raise _fail(a.trustee, 1, "box key and commitment hash must be 32 bytes")
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
# Step 2: reveal the commitments
# --------------------------------------------------------------------------


def step2_reveal(state: TrusteeState) -> Commitments:
    """The commitments hashed in step 1; post only once all n announcements are on the board."""
    return state.commitments


def check_commitments(
    election_id: str, announcement: Announcement, commitments: Commitments
) -> None:
    """Raise :class:`KeyCeremonyError` unless ``commitments`` is what the announcement promised.

    Checks: same trustee, t coefficients, no identity, the step-1 hash, the
    signature, and a Schnorr proof of knowledge for every coefficient.
    """
    i = announcement.trustee
    c = commitments
    if c.trustee != i:
        raise _fail(c.trustee, 2, f"checked against trustee {i}'s announcement")
    if len(c.coefficients) != announcement.threshold or len(c.proofs) != len(c.coefficients):
        raise _fail(i, 2, f"expected {announcement.threshold} coefficients with proofs")
    for k, point in enumerate(c.coefficients):
        if point.is_identity():
            raise _fail(i, 2, f"coefficient {k} is the identity")
    digest = hash_commitments(election_id, i, c.coefficients, c.proofs)
    if not hmac.compare_digest(digest, announcement.commitment_hash):
        raise _fail(i, 2, "commitments do not match the hash announced in step 1")
    _verify_signature(election_id, announcement.signing_key, c.body(), c.signature, i, 2)
    for k, (point, proof) in enumerate(zip(c.coefficients, c.proofs, strict=True)):
        try:
            verify_schnorr(_coefficient_context(election_id, i, k), point, proof)
        except InvalidProof:
            raise _fail(i, 2, f"Schnorr proof for coefficient {k} does not verify") from None


def _commitments_by_index(
    election_id: str, announcements: Mapping[int, Announcement], commitments: Iterable[Commitments]
) -> dict[int, Commitments]:
    out: dict[int, Commitments] = {}
    for c in commitments:
        if c.trustee not in announcements:
            raise _fail(c.trustee, 2, "commitments from a trustee that did not announce")
        check_commitments(election_id, announcements[c.trustee], c)
        if c.trustee in out:
            raise _fail(c.trustee, 2, "more than one commitments message")
        out[c.trustee] = c
    return out


def trustee_commitments(commitments_by_trustee: Mapping[int, Commitments]) -> list[list[Point]]:
    """The commitment points in trustee-index order, for the election fingerprint.

    Callers pass the qualified dealers' messages (``JointKey.qualified``).
    """
    out = []
    for i in sorted(commitments_by_trustee):
        c = commitments_by_trustee[i]
        if c.trustee != i:
            raise KeyCeremonyError(f"commitments of trustee {c.trustee} filed under {i}")
        out.append(list(c.coefficients))
    return out


# --------------------------------------------------------------------------
# Step 3: deal the encrypted shares
# --------------------------------------------------------------------------


def _share_plaintext(election_id: str, dealer: int, recipient: int, share_raw: bytes) -> bytes:
    return transcript(
        TAG_SHARE_BOX, [enc_str(election_id), enc_int(dealer), enc_int(recipient), share_raw]
    )


def seal_share(
    election_id: str,
    dealer: int,
    recipient: int,
    box_secret: bytes,
    recipient_box_key: bytes,
    share: Scalar,
    nonce: bytes,
) -> bytes:
    """One share box: Box(sk_dealer, pk_recipient) over the bound plaintext (nonce || ct)."""
    if len(nonce) != NONCE_BYTES:
        raise ValueError("rng returned the wrong number of bytes")
    box = Box(PrivateKey(box_secret), PublicKey(recipient_box_key))
    return bytes(box.encrypt(_share_plaintext(election_id, dealer, recipient, share.raw), nonce))


def open_share(
    election_id: str,
    dealer: int,
    recipient: int,
    box_secret: bytes,
    dealer_box_key: bytes,
    sealed: bytes,
) -> Scalar:
    """Open a share box addressed to ``recipient``; raise :class:`KeyCeremonyError` if it fails.

    Fails on a wrong key, a tampered box, or a box made for another election,
    dealer or recipient (the plaintext names all three).
    """
    try:
        plaintext = Box(PrivateKey(box_secret), PublicKey(dealer_box_key)).decrypt(sealed)
    except NaclCryptoError:
        raise _fail(dealer, 3, f"share box for trustee {recipient} does not open") from None
    share_raw = plaintext[-32:]
    expected = _share_plaintext(election_id, dealer, recipient, share_raw)
    if not hmac.compare_digest(plaintext, expected):
        raise _fail(
            dealer,
            3,
            f"share box for trustee {recipient} is not bound to this election, dealer and recipient",
        )
    try:
        return Scalar.from_bytes(share_raw)
    except InvalidScalar:
        raise _fail(dealer, 3, f"share for trustee {recipient} is not a canonical scalar") from None


def step3_shares(
    state: TrusteeState, announcements: Iterable[Announcement], rng: Rng
) -> EncryptedShares:
    """Deal f_i(j) to every other trustee j, each in a box only j can open."""
    if not state.polynomial:
        raise _fail(state.trustee, 3, "this trustee state has already been finalized")
    anns = _announcements_by_index(
        state.election_id, state.trustees, state.threshold, announcements
    )
    _own_announcement_matches(state, anns)
    boxes = []
    for j in range(1, state.trustees + 1):
        if j == state.trustee:
            continue
        share = _eval_polynomial(state.polynomial, j)
        boxes.append(
            (
                j,
                seal_share(
                    state.election_id,
                    state.trustee,
                    j,
                    state.box_secret,
                    anns[j].box_key,
                    share,
                    rng(NONCE_BYTES),
                ),
            )
        )
    return EncryptedShares.create(
        state.election_id, state.signing_key, dealer=state.trustee, boxes=boxes
    )


def check_shares(election_id: str, announcement: Announcement, shares: EncryptedShares) -> None:
    """Raise :class:`KeyCeremonyError` unless ``shares`` is a well-formed step-3 message.

    Checks the signature and that there is exactly one box for every other
    trustee.  Whether each box holds a correct share only its recipient can
    tell (step 4).
    """
    i = announcement.trustee
    if shares.dealer != i:
        raise _fail(shares.dealer, 3, f"checked against trustee {i}'s announcement")
    expected = [j for j in range(1, announcement.trustees + 1) if j != i]
    if [j for j, _ in shares.boxes] != expected:
        raise _fail(i, 3, "must hold exactly one box for every other trustee, in order")
    _verify_signature(election_id, announcement.signing_key, shares.body(), shares.signature, i, 3)


# --------------------------------------------------------------------------
# Step 4: receive, check, complain
# --------------------------------------------------------------------------


def _verify_share(commitments: Commitments, recipient: int, share: Scalar) -> bool:
    """Feldman's check: f_i(j)·G == Σ_k C_ik·j^k."""
    return Point.base_mul(share) == _eval_commitments(commitments.coefficients, recipient)


def _receive_one(
    state: TrusteeState,
    announcement: Announcement,
    commitments: Commitments,
    shares: EncryptedShares | None,
) -> tuple[Scalar | None, str | None]:
    """(share, None) if dealer's share to me is good, else (None, complaint reason)."""
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
        share = open_share(
            state.election_id,
            shares.dealer,
            state.trustee,
            state.box_secret,
            announcement.box_key,
            sealed,
        )
    except KeyCeremonyError:
        return None, "undecryptable"
    if not _verify_share(commitments, state.trustee, share):
        return None, "bad-share"
    return share, None


def _shares_by_dealer(shares: Iterable[EncryptedShares]) -> dict[int, EncryptedShares]:
    out: dict[int, EncryptedShares] = {}
    for s in shares:
        if s.dealer in out:
            raise _fail(s.dealer, 3, "more than one shares message")
        out[s.dealer] = s
    return out


def step4_receive(
    state: TrusteeState,
    announcements: Iterable[Announcement],
    commitments: Iterable[Commitments],
    shares: Iterable[EncryptedShares],
) -> ReceivedShares | list[Complaint]:
    """Open and check every share dealt to this trustee.

    Returns the shares if all are good, otherwise one signed complaint per
    dealer whose share is missing, does not open, or fails Feldman's check.
    Dealers that revealed no commitments are skipped: they are disqualified
    whatever happens (:func:`qualified_set`).
    """
    if not state.polynomial:
        raise _fail(state.trustee, 4, "this trustee state has already been finalized")
    eid = state.election_id
    anns = _announcements_by_index(eid, state.trustees, state.threshold, announcements)
    _own_announcement_matches(state, anns)
    comms = _commitments_by_index(eid, anns, commitments)
    dealt = _shares_by_dealer(shares)
    received = {state.trustee: _eval_polynomial(state.polynomial, state.trustee)}
    complaints = []
    for i in sorted(comms):
        if i == state.trustee:
            continue
        share, reason = _receive_one(state, anns[i], comms[i], dealt.get(i))
        if share is not None:
            received[i] = share
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
            c.accuser, 4, f"complaint names an unknown trustee ({c.accuser} against {c.accused})"
        )
    if c.accuser == c.accused:
        raise _fail(c.accuser, 4, "a trustee cannot complain about itself")
    if c.reason not in COMPLAINT_REASONS:
        raise _fail(c.accuser, 4, f"unknown complaint reason {c.reason!r}")
    _verify_signature(election_id, anns[c.accuser].signing_key, c.body(), c.signature, c.accuser, 4)


# --------------------------------------------------------------------------
# Step 5: answer complaints in public
# --------------------------------------------------------------------------


def step5_answer(
    state: TrusteeState, announcements: Iterable[Announcement], complaints: Iterable[Complaint]
) -> list[ComplaintAnswer]:
    """Reveal f_me(j) for every valid complaint by j against this trustee.

    This discloses only j's share from this dealer, which j was owed anyway;
    not answering gets the dealer disqualified.
    """
    if not state.polynomial:
        raise _fail(state.trustee, 5, "this trustee state has already been finalized")
    anns = _announcements_by_index(
        state.election_id, state.trustees, state.threshold, announcements
    )
    accusers = set()
    for c in complaints:
        check_complaint(state.election_id, anns.values(), c)
        if c.accused == state.trustee:
            accusers.add(c.accuser)
    return [
        ComplaintAnswer.create(
            state.election_id,
            state.signing_key,
            dealer=state.trustee,
            accuser=j,
            share=_eval_polynomial(state.polynomial, j),
        )
        for j in sorted(accusers)
    ]


def check_complaint_answer(
    election_id: str, announcement: Announcement, commitments: Commitments, answer: ComplaintAnswer
) -> None:
    """Raise :class:`KeyCeremonyError` unless ``answer`` is signed by the dealer and
    its revealed share passes Feldman's check against the dealer's commitments."""
    i = announcement.trustee
    if answer.dealer != i or commitments.trustee != i:
        raise _fail(answer.dealer, 5, f"checked against trustee {i}'s messages")
    if not 1 <= answer.accuser <= announcement.trustees or answer.accuser == i:
        raise _fail(i, 5, f"answers a complaint from an invalid trustee {answer.accuser}")
    _verify_signature(election_id, announcement.signing_key, answer.body(), answer.signature, i, 5)
    if not _verify_share(commitments, answer.accuser, answer.share):
        raise _fail(
            i, 5, f"revealed share for trustee {answer.accuser} does not match the commitments"
        )


# --------------------------------------------------------------------------
# Step 6: qualification and the joint key
# --------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Record:
    """The public ceremony, every message checked."""

    announcements: dict[int, Announcement]
    commitments: dict[int, Commitments]
    complaints: frozenset[tuple[int, int]]  # (accuser, accused)
    revealed: dict[tuple[int, int], Scalar]  # (dealer, accuser) -> valid revealed share


def _check_record(
    election_id: str,
    n: int,
    t: int,
    announcements: Iterable[Announcement],
    commitments: Iterable[Commitments],
    complaints: Iterable[Complaint],
    answers: Iterable[ComplaintAnswer],
    signing_keys: Mapping[int, VerifyKey] | None = None,
) -> _Record:
    anns = _announcements_by_index(election_id, n, t, announcements, signing_keys)
    comms = _commitments_by_index(election_id, anns, commitments)
    pairs = set()
    for c in complaints:
        check_complaint(election_id, anns.values(), c)
        pairs.add((c.accuser, c.accused))
    revealed: dict[tuple[int, int], Scalar] = {}
    for a in answers:
        # An answer that does not check (bad signature, wrong share, dealer
        # without commitments) clears nothing: the complaint stays open.
        if a.dealer not in comms or a.dealer not in anns:
            continue
        try:
            check_complaint_answer(election_id, anns[a.dealer], comms[a.dealer], a)
        except KeyCeremonyError:
            continue
        revealed[(a.dealer, a.accuser)] = a.share
    return _Record(anns, comms, frozenset(pairs), revealed)


def _qualify(record: _Record) -> frozenset[int]:
    """QUAL: dealers that revealed commitments and answered every complaint correctly."""
    return frozenset(
        i
        for i in record.commitments
        if all(
            (i, accuser) in record.revealed
            for accuser, accused in record.complaints
            if accused == i
        )
    )


def _joint_key(record: _Record, qualified: frozenset[int], t: int) -> JointKey:
    if len(qualified) < t:
        raise KeyCeremonyError(
            f"only {len(qualified)} trustees qualified ({sorted(qualified)}), threshold is {t}",
            detail={"step": STEP_NAMES[6], "qualified": sorted(qualified)},
        )
    # A_k = Σ_{i∈QUAL} C_ik; then K = A_0 and X_j = Σ_k A_k·j^k (n·t multiplications, not n²·t).
    summed = []
    for k in range(t):
        acc = IDENTITY
        for i in sorted(qualified):
            acc = acc + record.commitments[i].coefficients[k]
        summed.append(acc)
    if summed[0].is_identity():
        raise KeyCeremonyError("the joint key is the identity", detail={"step": STEP_NAMES[6]})
    keys = {}
    for j in sorted(qualified):
        x = _eval_commitments(summed, j)
        if x.is_identity():
            raise _fail(j, 6, "verification key is the identity")
        keys[j] = x
    return JointKey(summed[0], t, keys, tuple(sorted(qualified)))


def qualified_set(
    election_id: str,
    n: int,
    t: int,
    announcements: Iterable[Announcement],
    commitments: Iterable[Commitments],
    complaints: Iterable[Complaint],
    answers: Iterable[ComplaintAnswer],
) -> frozenset[int]:
    """The qualified dealers, a deterministic function of the public messages.

    Dealer i is qualified iff it revealed valid commitments (step 2) and, for
    every complaint against it, posted an answer whose share passes Feldman's
    check.  Message order does not matter; an invalid answer counts as none.
    Raises :class:`KeyCeremonyError` if a message that should never have been
    accepted is present (bad signature, commitments not matching their hash).
    """
    record = _check_record(election_id, n, t, announcements, commitments, complaints, answers)
    return _qualify(record)


def verify_ceremony(
    election_id: str,
    n: int,
    t: int,
    announcements: Iterable[Announcement],
    commitments: Iterable[Commitments],
    complaints: Iterable[Complaint],
    answers: Iterable[ComplaintAnswer],
    *,
    signing_keys: Mapping[int, VerifyKey] | None = None,
) -> JointKey:
    """Recompute the joint key and every verification key from the public messages.

    Needs no secrets and no share boxes.  ``signing_keys`` (trustee -> key
    registered by the official) pins who the trustees are; without it, the
    check shows only that the messages are self-consistent.  Raises
    :class:`KeyCeremonyError` naming the trustee and step.
    """
    record = _check_record(
        election_id, n, t, announcements, commitments, complaints, answers, signing_keys
    )
    return _joint_key(record, _qualify(record), t)


def finalize(
    state: TrusteeState,
    announcements: Iterable[Announcement],
    commitments: Iterable[Commitments],
    shares: Iterable[EncryptedShares],
    complaints: Iterable[Complaint],
    answers: Iterable[ComplaintAnswer],
) -> tuple[JointKey, TrusteeState]:
    """Compute the joint key and this trustee's share x_j = Σ_{i∈QUAL} f_i(j).

    Uses the publicly revealed share wherever this trustee's complaint was
    answered.  Checks x_j·G == X_j, then returns a state that holds x_j and no
    longer holds the polynomial.
    """
    if not state.polynomial:
        raise _fail(state.trustee, 6, "this trustee state has already been finalized")
    eid, me = state.election_id, state.trustee
    anns, comms, complaints, answers = (
        list(x) for x in (announcements, commitments, complaints, answers)
    )
    record = _check_record(eid, state.trustees, state.threshold, anns, comms, complaints, answers)
    _own_announcement_matches(state, record.announcements)
    qualified = _qualify(record)
    joint = _joint_key(record, qualified, state.threshold)
    if me not in qualified:
        raise _fail(me, 6, "this trustee was disqualified and holds no key share")
    dealt = _shares_by_dealer(shares)
    x = ZERO
    for i in sorted(qualified):
        if i == me:
            s: Scalar | None = _eval_polynomial(state.polynomial, me)
        elif (i, me) in record.revealed:
            s = record.revealed[(i, me)]
        else:
            s, reason = _receive_one(
                state, record.announcements[i], record.commitments[i], dealt.get(i)
            )
            if s is None:
                raise _fail(
                    me,
                    6,
                    f"share from dealer {i} is {reason} and no answered complaint replaces it",
                )
        x = x + s
    if Point.base_mul(x) != joint.verification_keys[me]:
        raise _fail(me, 6, "key share does not match the verification key")
    return joint, replace(state, polynomial=(), share=x)


# --------------------------------------------------------------------------
# The whole ceremony, for tests and demos
# --------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class CeremonyMessages:
    """Every public message of one ceremony, as it would stand on the board."""

    announcements: tuple[Announcement, ...]
    commitments: tuple[Commitments, ...]
    shares: tuple[EncryptedShares, ...]
    complaints: tuple[Complaint, ...]
    answers: tuple[ComplaintAnswer, ...]

    def to_json(self) -> dict:
        return {
            "announcements": [m.to_json() for m in self.announcements],
            "commitments": [m.to_json() for m in self.commitments],
            "shares": [m.to_json() for m in self.shares],
            "complaints": [m.to_json() for m in self.complaints],
            "answers": [m.to_json() for m in self.answers],
        }

    @classmethod
    def from_json(cls, obj: Any, path: str = "ceremony") -> CeremonyMessages:
        f = Fields(
            obj, path, required=("announcements", "commitments", "shares", "complaints", "answers")
        )
        limit = MAX_TRUSTEES * MAX_TRUSTEES
        return cls(
            tuple(f.list("announcements", Announcement.from_json, max_len=MAX_TRUSTEES)),
            tuple(f.list("commitments", Commitments.from_json, max_len=MAX_TRUSTEES)),
            tuple(f.list("shares", EncryptedShares.from_json, max_len=MAX_TRUSTEES)),
            tuple(f.list("complaints", Complaint.from_json, max_len=limit)),
            tuple(f.list("answers", ComplaintAnswer.from_json, max_len=limit)),
        )


def run_ceremony(
    election_id: str, n: int, t: int, rng: Rng
) -> tuple[JointKey, list[TrusteeState], CeremonyMessages]:
    """Run an honest ceremony end to end, strictly through the step functions."""
    started = [step1_announce(election_id, i, n, t, rng) for i in range(1, n + 1)]
    states = [s for s, _ in started]
    announcements = [a for _, a in started]
    commitments = [step2_reveal(s) for s in states]
    shares = [step3_shares(s, announcements, rng) for s in states]
    complaints: list[Complaint] = []
    for s in states:
        outcome = step4_receive(s, announcements, commitments, shares)
        if isinstance(outcome, list):
            complaints += outcome
    answers = [a for s in states for a in step5_answer(s, announcements, complaints)]
    qualified = qualified_set(election_id, n, t, announcements, commitments, complaints, answers)
    finished = [
        finalize(s, announcements, commitments, shares, complaints, answers)
        for s in states
        if s.trustee in qualified
    ]
    joint = finished[0][0]
    messages = CeremonyMessages(
        tuple(announcements), tuple(commitments), tuple(shares), tuple(complaints), tuple(answers)
    )
    return joint, [s for _, s in finished], messages
