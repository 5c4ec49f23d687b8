"""A ballot's types and their strict wire decoding: what :mod:`evote.ballot` makes and checks.

:class:`Ballot` (signed, as cast), :class:`EncryptedAnswer` (one question's
ciphertexts and proofs), :class:`BallotRandomness` and :class:`BallotSecrets`
(what only the voter's device knows), each with a ``from_json`` that checks
counts and widths against the manifest and names the path of every error.
``Ballot.from_json`` first tries a tolerant fast reader (``_read_ballot``) and
falls back to the reporting one only to word an error.

Why apart from :mod:`evote.ballot`: these are the values; the recipes that
encrypt, prove, sign, verify and audit them stay there (and re-export every
name here, so ``from evote.ballot import Ballot`` keeps working).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import Any

from evote.credentials import crockford_encode, group_code
from evote.elgamal import Ciphertext
from evote.encoding import (
    Fields,
    b64decode,
    b64decode_or_none,
    b64encode,
    canonical_json,
    expect_list,
)
from evote.errors import (
    EncodingError,
    InvalidPoint,
    InvalidScalar,
    SchemaError,
)
from evote.group import POINT_BYTES, SCALAR_BYTES, L, Point, Rng, Scalar
from evote.hashing import (
    TAG_BALLOT,
    tagged_hash,
)
from evote.manifest import Manifest, Question
from evote.proofs import RangeProof
from evote.signing import PUBLIC_KEY_BYTES, SIGNATURE_BYTES, VerifyKey

#: Bytes of the ballot hash shown to voters as the tracking code (80 bits, 16 characters).
TRACKING_BYTES = 10
Selections = tuple[tuple[int, ...], ...]


# --------------------------------------------------------------------------
# Strict decoding helpers (every error names its path)
# --------------------------------------------------------------------------


def _b64(value: Any, path: str, length: int, error: type[EncodingError]) -> bytes:
    if not isinstance(value, str):
        raise SchemaError(f"{path}: expected a base64url string")
    try:
        return b64decode(value, length=length, what=path)
    except EncodingError as exc:
        raise error(exc.message) from None


def _point(value: Any, path: str) -> Point:
    raw = _b64(value, path, POINT_BYTES, InvalidPoint)
    try:
        return Point.from_bytes(raw)
    except InvalidPoint as exc:
        raise InvalidPoint(f"{path}: {exc.message}") from None


def _scalar(value: Any, path: str) -> Scalar:
    raw = _b64(value, path, SCALAR_BYTES, InvalidScalar)
    try:
        return Scalar.from_bytes(raw)
    except InvalidScalar as exc:
        raise InvalidScalar(f"{path}: {exc.message}") from None


def _ciphertext(value: Any, path: str) -> Ciphertext:
    f = Fields(value, path, required=("alpha", "beta"))
    return Ciphertext(_point(f.raw("alpha"), f.sub("alpha")), _point(f.raw("beta"), f.sub("beta")))


def _range_proof(value: Any, path: str, width: int) -> RangeProof:
    branches = []
    for i, pair in enumerate(expect_list(value, path, length=width)):
        where = f"{path}[{i}]"
        c, s = expect_list(pair, where, length=2)
        branches.append((_scalar(c, f"{where}[0]"), _scalar(s, f"{where}[1]")))
    return RangeProof(tuple(branches))


# --------------------------------------------------------------------------
# Reading a well-formed ballot without error reporting (the fast path)
# --------------------------------------------------------------------------
#
# Every ballot on a board is well formed, and the general readers above spend
# most of their time naming paths for errors that do not happen.  The
# ``_read_*`` functions below accept exactly what they do (same key sets,
# counts, canonical base64url, scalars < L, points validated by
# Point.from_bytes) and build the same values, but answer None at the first
# irregularity instead of raising: Ballot.from_json then runs the general
# readers to say what is wrong.  tests/test_ballot.py checks the two agree.

_BALLOT_KEYS = frozenset({"election_id", "credential", "answers", "signature"})
_ANSWER_KEYS = frozenset({"choices", "proofs"})
_ANSWER_KEYS_WITH_SUM = _ANSWER_KEYS | {"sum_proof"}
_CIPHERTEXT_KEYS = frozenset({"alpha", "beta"})


def _read_scalar(value: Any) -> Scalar | None:
    raw = b64decode_or_none(value, SCALAR_BYTES)
    if raw is None or int.from_bytes(raw, "little") >= L:
        return None
    return Scalar(raw)


def _read_range_proof(value: Any, width: int) -> RangeProof | None:
    if type(value) is not list or len(value) != width:
        return None
    branches = []
    for pair in value:
        if type(pair) is not list or len(pair) != 2:
            return None
        c, s = _read_scalar(pair[0]), _read_scalar(pair[1])
        if c is None or s is None:
            return None
        branches.append((c, s))
    return RangeProof(tuple(branches))


def _read_answer(value: Any, question: Question) -> EncryptedAnswer | None:
    """Scalars first, points (the expensive part) last."""
    needs_sum = question.needs_sum_proof
    keys = _ANSWER_KEYS_WITH_SUM if needs_sum else _ANSWER_KEYS
    if type(value) is not dict or value.keys() != keys:
        return None
    n = len(question.options)
    rows, cts = value["proofs"], value["choices"]
    if type(rows) is not list or len(rows) != n or type(cts) is not list or len(cts) != n:
        return None
    proofs = []
    for row in rows:
        proof = _read_range_proof(row, question.max_score + 1)
        if proof is None:
            return None
        proofs.append(proof)
    sum_proof = None
    if needs_sum:
        lo, hi = question.sum_range
        sum_proof = _read_range_proof(value["sum_proof"], hi - lo + 1)
        if sum_proof is None:
            return None
    raws = []
    for ct in cts:
        if type(ct) is not dict or ct.keys() != _CIPHERTEXT_KEYS:
            return None
        alpha = b64decode_or_none(ct["alpha"], POINT_BYTES)
        beta = b64decode_or_none(ct["beta"], POINT_BYTES)
        if alpha is None or beta is None:
            return None
        raws.append((alpha, beta))
    try:
        choices = tuple(Ciphertext(Point.from_bytes(a), Point.from_bytes(b)) for a, b in raws)
    except InvalidPoint:
        return None
    return EncryptedAnswer(choices, tuple(proofs), sum_proof)


def _read_ballot(value: Any, manifest: Manifest) -> Ballot | None:
    if type(value) is not dict or value.keys() != _BALLOT_KEYS:
        return None
    election_id, rows = value["election_id"], value["answers"]
    if type(election_id) is not str or not 0 < len(election_id) <= 64:
        return None
    questions = manifest.questions
    if type(rows) is not list or len(rows) != len(questions):
        return None
    raw_key = b64decode_or_none(value["credential"], PUBLIC_KEY_BYTES)
    signature = b64decode_or_none(value["signature"], SIGNATURE_BYTES)
    if raw_key is None or signature is None:
        return None
    try:
        credential = VerifyKey.from_bytes(raw_key)
    except EncodingError:
        return None
    answers = []
    for question, row in zip(questions, rows, strict=True):
        answer = _read_answer(row, question)
        if answer is None:
            return None
        answers.append(answer)
    return Ballot(election_id, credential, tuple(answers), signature)


@dataclass(frozen=True, slots=True)
class BallotRandomness:
    """The encryption randomness, one non-zero scalar per option (``values[q][o]``).

    Secret while the ballot is cast; revealed only when the voter audits it.
    """

    values: tuple[tuple[Scalar, ...], ...]

    @classmethod
    def random(cls, manifest: Manifest, rng: Rng) -> BallotRandomness:
        return cls(tuple(tuple(Scalar.random(rng) for _ in q.options) for q in manifest.questions))

    def check_shape(self, manifest: Manifest) -> None:
        """ValueError unless there is one non-zero scalar per option of the manifest."""
        if len(self.values) != len(manifest.questions):
            raise ValueError("randomness: one list per question is needed")
        for q, (question, row) in enumerate(zip(manifest.questions, self.values, strict=True)):
            if len(row) != len(question.options):
                raise ValueError(f"randomness[{q}]: one scalar per option is needed")
            for o, r in enumerate(row):
                if not isinstance(r, Scalar) or r.is_zero():
                    raise ValueError(f"randomness[{q}][{o}]: must be a non-zero Scalar")

    @classmethod
    def from_json(cls, obj: Any, manifest: Manifest, path: str = "randomness") -> BallotRandomness:
        rows = expect_list(obj, path, length=len(manifest.questions))
        return cls(
            tuple(
                tuple(
                    _scalar(v, f"{path}[{q}][{o}]")
                    for o, v in enumerate(
                        expect_list(row, f"{path}[{q}]", length=len(question.options))
                    )
                )
                for q, (question, row) in enumerate(zip(manifest.questions, rows, strict=True))
            )
        )

    def to_json(self) -> list[list[str]]:
        return [[r.to_json() for r in row] for row in self.values]


@dataclass(frozen=True, slots=True, repr=False)
class BallotSecrets:
    """What only the voter's device knows about a ballot: needed to audit it."""

    selections: Selections
    randomness: BallotRandomness

    def __repr__(self) -> str:  # never log a voter's choices
        return "BallotSecrets(<secret>)"


# --------------------------------------------------------------------------
# The ballot
# --------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class EncryptedAnswer:
    """One question's part of a ballot: per-option ciphertexts and proofs, and the
    proof on the total when the question needs one."""

    choices: tuple[Ciphertext, ...]
    proofs: tuple[RangeProof, ...]
    sum_proof: RangeProof | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "choices", tuple(self.choices))
        object.__setattr__(self, "proofs", tuple(self.proofs))

    @classmethod
    def from_json(cls, obj: Any, question: Question, path: str = "answer") -> EncryptedAnswer:
        """Parse against ``question``: exact counts, proof widths, sum proof iff needed."""
        keys = (
            ("choices", "proofs", "sum_proof")
            if question.needs_sum_proof
            else ("choices", "proofs")
        )
        f = Fields(obj, path, required=keys)
        n = len(question.options)
        choices = tuple(
            _ciphertext(v, f"{f.sub('choices')}[{o}]")
            for o, v in enumerate(expect_list(f.raw("choices"), f.sub("choices"), length=n))
        )
        width = question.max_score + 1
        proofs = tuple(
            _range_proof(v, f"{f.sub('proofs')}[{o}]", width)
            for o, v in enumerate(expect_list(f.raw("proofs"), f.sub("proofs"), length=n))
        )
        sum_proof = None
        if question.needs_sum_proof:
            lo, hi = question.sum_range
            sum_proof = _range_proof(f.raw("sum_proof"), f.sub("sum_proof"), hi - lo + 1)
        return cls(choices, proofs, sum_proof)

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "choices": [ct.to_json() for ct in self.choices],
            "proofs": [p.to_json() for p in self.proofs],
        }
        if self.sum_proof is not None:
            out["sum_proof"] = self.sum_proof.to_json()
        return out


@dataclass(frozen=True)
class Ballot:
    """A signed encrypted ballot, as cast to the board.

    JSON: ``{"election_id", "credential", "answers": [EncryptedAnswer...], "signature"}``.
    Every binary field is fixed-length base64url and the shape is fixed by the
    manifest, so all ballots of one election canonicalise to the same length
    (their size tells a network observer nothing).
    """

    election_id: str
    credential: VerifyKey
    answers: tuple[EncryptedAnswer, ...]
    signature: bytes

    def __post_init__(self) -> None:
        if not isinstance(self.election_id, str):
            raise TypeError("election_id must be a str")
        if not isinstance(self.credential, VerifyKey):
            raise TypeError("credential must be a VerifyKey")
        answers = tuple(self.answers)
        if not all(isinstance(a, EncryptedAnswer) for a in answers):
            raise TypeError("answers must be EncryptedAnswer values")
        object.__setattr__(self, "answers", answers)
        if not isinstance(self.signature, bytes) or len(self.signature) != SIGNATURE_BYTES:
            raise TypeError(f"signature must be {SIGNATURE_BYTES} bytes")

    @classmethod
    def from_json(cls, obj: Any, manifest: Manifest, path: str = "ballot") -> Ballot:
        """Parse strictly against ``manifest``: exact key sets and counts, every
        point and scalar validated (SchemaError / InvalidPoint / InvalidScalar /
        EncodingError, each naming the field)."""
        ballot = _read_ballot(obj, manifest)
        return ballot if ballot is not None else cls._from_json_reporting(obj, manifest, path)

    @classmethod
    def _from_json_reporting(cls, obj: Any, manifest: Manifest, path: str) -> Ballot:
        """The general reader: same result as the fast path, and for bad input the
        error that names the first wrong field."""
        f = Fields(obj, path, required=("election_id", "credential", "answers", "signature"))
        election_id = f.str("election_id", max_len=64)
        raw_key = _b64(f.raw("credential"), f.sub("credential"), PUBLIC_KEY_BYTES, EncodingError)
        try:
            credential = VerifyKey.from_bytes(raw_key)
        except EncodingError as exc:
            raise EncodingError(f"{f.sub('credential')}: {exc.message}") from None
        rows = expect_list(f.raw("answers"), f.sub("answers"), length=len(manifest.questions))
        answers = tuple(
            EncryptedAnswer.from_json(row, question, f"{f.sub('answers')}[{q}]")
            for q, (question, row) in enumerate(zip(manifest.questions, rows, strict=True))
        )
        signature = _b64(f.raw("signature"), f.sub("signature"), SIGNATURE_BYTES, EncodingError)
        return cls(election_id, credential, answers, signature)

    @classmethod
    def _from_json_in_canonical(
        cls, obj: Any, manifest: Manifest, path: str, canonical: bytes
    ) -> Ballot:
        """:meth:`from_json`, reusing ``canonical`` as this ballot's RFC 8785 bytes.

        Only for :func:`evote.payloads.parse_ballot_cast`, which cuts
        ``canonical`` out of a board entry's own canonical bytes: a canonical
        document holds each member's canonical bytes verbatim, and a ballot
        that :meth:`from_json` accepts serialises back to ``obj`` exactly, so
        those bytes *are* :meth:`canonical` and, less the signature member,
        :meth:`content_for_signature`.  Checking a ballot from the board then
        never serialises it again.  Bytes that do not end with this ballot's
        signature member are ignored (the ballot serialises itself, as usual).
        """
        ballot = cls.from_json(obj, manifest, path)
        member = b',"signature":"' + b64encode(ballot.signature).encode("ascii") + b'"}'
        if canonical.startswith(b'{"answers":') and canonical.endswith(member):
            # The same values the cached properties would compute (see _canonical).
            ballot.__dict__["_canonical"] = canonical
            ballot.__dict__["_content"] = canonical[: -len(member)] + b"}"
        return ballot

    def _unsigned_json(self) -> dict[str, Any]:
        return {
            "election_id": self.election_id,
            "credential": self.credential.to_json(),
            "answers": [a.to_json() for a in self.answers],
        }

    def to_json(self) -> dict[str, Any]:
        out = self._unsigned_json()
        out["signature"] = b64encode(self.signature)
        return out

    @cached_property
    def _content(self) -> bytes:
        return canonical_json(self._unsigned_json())

    @cached_property
    def _canonical(self) -> bytes:
        # RFC 8785 orders keys by UTF-16 code units, and "signature" sorts after
        # "answers", "credential" and "election_id": the full canonical form is
        # the unsigned one with the signature member appended (no second pass
        # over the proofs; tests check equality with canonical_json(to_json())).
        sig = canonical_json(b64encode(self.signature))
        return self._content[:-1] + b',"signature":' + sig + b"}"

    def content_for_signature(self) -> bytes:
        """RFC 8785 bytes of the ballot without its ``signature`` member."""
        return self._content

    def canonical(self) -> bytes:
        """RFC 8785 bytes of :meth:`to_json`: what the board stores."""
        return self._canonical

    def ballot_hash(self) -> bytes:
        """``tagged_hash(TAG_BALLOT, canonical())``: the ballot's 32-byte name on the board."""
        return tagged_hash(TAG_BALLOT, self._canonical)

    @property
    def tracking_code(self) -> str:
        """First 10 bytes of the ballot hash in Crockford base32, ``XXXX-XXXX-XXXX-XXXX``."""
        return group_code(crockford_encode(self.ballot_hash()[:TRACKING_BYTES]))

    def ciphertext_alphas(self) -> frozenset[bytes]:
        """The alpha (r·G) of every ciphertext: identifies the randomness used.

        The server stores these for every audited ballot and refuses to cast a
        ballot sharing any of them (its randomness is public)."""
        return frozenset(ct.alpha.raw for a in self.answers for ct in a.choices)
