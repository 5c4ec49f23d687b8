"""The DKG's public wire messages and the joint key (``docs/protocol-trustees.md`` §5).

Every value a trustee posts on the board is a frozen dataclass here with a
validating ``to_json``/``from_json``; signing takes the trustee's key as a
parameter and keeps nothing.  This module, :mod:`evote.dkg.algebra` and
:mod:`evote.dkg.verify` are what an auditor needs; none of them imports
:mod:`evote.dkg.trustee`, which holds the secrets.

Why one module of ~550 lines: the eight wire types share the field readers
and the signing helpers above them, and ``CeremonyMessages`` bundles them all.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from evote.encoding import Fields, b64encode, canonical_json
from evote.errors import EncodingError, InvalidScalar, KeyCeremonyError, SchemaError
from evote.group import Point, Scalar
from evote.hashing import TAG_TRUSTEE_MESSAGE, enc_str
from evote.limits import MAX_BOX_BYTES as MAX_BOX_BYTES
from evote.limits import MAX_TRUSTEES as MAX_TRUSTEES
from evote.proofs import SchnorrProof
from evote.signing import SIGNATURE_BYTES, SigningKey, VerifyKey

BOX_KEY_BYTES = 32
NONCE_BYTES = 24

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
