"""The encrypted tally and its threshold decryption.

1. :func:`aggregate` adds up the counted ballots option by option (each scaled
   by its voter's public weight).  Anyone can redo it: :func:`verify_aggregate`.
2. Each trustee j posts a :class:`PartialDecryption`: D = x_j·alpha for every
   aggregate ciphertext, with a Chaum–Pedersen proof that it used the same x_j
   as its public verification key X_j = x_j·G (:func:`partial_decrypt`,
   :func:`verify_partial`).
3. :func:`combine` takes any t valid partial decryptions, interpolates in the
   exponent (Lagrange coefficients at 0) to get x·alpha = Σ λ_j·D_j, and
   recovers each count m from m·G = beta − x·alpha by a bounded discrete log.
4. :func:`verify_result` checks a posted :class:`Result` against the tally and
   the partial decryptions without any discrete log (m·G is recomputed).

Only aggregates are ever decrypted; a single ballot never is, because no fewer
than t trustees can produce x·alpha and the trustees only ever see aggregates.

Why the proof context: the DLEQ proof for trustee j, question q, option o binds
[``"decryption"``, election fingerprint, j, q, o], so a factor proved for one
option, trustee or election cannot be moved to another.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar

from evote.dkg.messages import MAX_TRUSTEES, JointKey
from evote.elgamal import Ciphertext, discrete_log
from evote.encoding import MAX_SAFE_INTEGER, Fields, expect_matrix
from evote.errors import DecryptionError, EncodingError, InvalidProof, SchemaError, TallyError
from evote.group import IDENTITY, Point, Rng, Scalar, small_multiple
from evote.hashing import CTX_DECRYPTION, enc_int
from evote.limits import MAX_TALLY_OPTIONS as MAX_OPTIONS
from evote.limits import MAX_TALLY_QUESTIONS as MAX_QUESTIONS
from evote.proofs import DleqProof, prove_dleq, verify_dleq

# --------------------------------------------------------------------------
# The encrypted tally
# --------------------------------------------------------------------------


def _check_shape(shape: Sequence[int]) -> tuple[int, ...]:
    shape = tuple(shape)
    # 0 questions: an election of ranked and graded questions only (counted after the
    # mixnet, docs/protocol-mixnet.md) still posts its tally, which fixes the counted set.
    if not 0 <= len(shape) <= MAX_QUESTIONS:
        raise TallyError(f"a tally needs 0..{MAX_QUESTIONS} questions, got {len(shape)}")
    for q, k in enumerate(shape):
        if not isinstance(k, int) or isinstance(k, bool) or not 1 <= k <= MAX_OPTIONS:
            raise TallyError(f"question {q}: needs 1..{MAX_OPTIONS} options, got {k!r}")
    return shape


def _matrix(value: Any, path: str, item: Any) -> tuple[tuple[Any, ...], ...]:
    """A JSON list of non-empty lists (questions of options), decoded item by item."""
    # 0 questions: only mixed questions (see _check_shape)
    return expect_matrix(
        value, path, item, rows=(0, MAX_QUESTIONS, "questions"), cells=(1, MAX_OPTIONS, "options")
    )


@dataclass(frozen=True, slots=True)
class EncryptedTally:
    """The per-option homomorphic sums, ``questions[q][o]``."""

    questions: tuple[tuple[Ciphertext, ...], ...]

    @property
    def shape(self) -> tuple[int, ...]:
        return tuple(len(options) for options in self.questions)

    def to_json(self) -> dict:
        return {"questions": [[ct.to_json() for ct in options] for options in self.questions]}

    @classmethod
    def from_json(cls, obj: Any, path: str = "tally") -> EncryptedTally:
        """Decode; an aggregate may be the identity (no ballots), so callers must
        compare the result with their own :func:`aggregate` (:func:`verify_aggregate`)."""
        f = Fields(obj, path, required=("questions",))

        def ciphertext(value: Any, p: str) -> Ciphertext:
            try:
                return Ciphertext.from_json(value, p, allow_identity=True)
            except EncodingError as exc:
                raise type(exc)(f"{p}: {exc.message}") from None

        return cls(_matrix(f.raw("questions"), f.sub("questions"), ciphertext))


def aggregate(
    shape: Sequence[int], counted: Iterable[tuple[int, Sequence[Sequence[Ciphertext]]]]
) -> EncryptedTally:
    """Sum the counted ballots per option, each scaled by its public weight.

    ``counted`` yields (weight, ballot ciphertexts per question and option) and
    is consumed once, streaming: only the running sums are held.  The ballots
    must already be verified; this only checks their shape.
    """
    shape = _check_shape(shape)
    alphas = [[IDENTITY] * k for k in shape]
    betas = [[IDENTITY] * k for k in shape]
    for n, (weight, ballot) in enumerate(counted):
        if (
            not isinstance(weight, int)
            or isinstance(weight, bool)
            or not 1 <= weight <= MAX_SAFE_INTEGER
        ):
            raise TallyError(
                f"counted ballot {n}: weight must be a positive integer, got {weight!r}"
            )
        if len(ballot) != len(shape):
            raise TallyError(
                f"counted ballot {n}: has {len(ballot)} questions, expected {len(shape)}"
            )
        w = None if weight == 1 else Scalar.from_int(weight)
        for q, (options, k) in enumerate(zip(ballot, shape, strict=True)):
            if len(options) != k:
                raise TallyError(
                    f"counted ballot {n}: question {q} has {len(options)} options, expected {k}"
                )
            qa, qb = alphas[q], betas[q]
            for o, ct in enumerate(options):
                if w is None:
                    qa[o] = qa[o] + ct.alpha
                    qb[o] = qb[o] + ct.beta
                else:
                    qa[o] = qa[o] + ct.alpha * w
                    qb[o] = qb[o] + ct.beta * w
    return EncryptedTally(
        tuple(
            tuple(Ciphertext(a, b) for a, b in zip(qa, qb, strict=True))
            for qa, qb in zip(alphas, betas, strict=True)
        )
    )


def verify_aggregate(
    shape: Sequence[int],
    counted: Iterable[tuple[int, Sequence[Sequence[Ciphertext]]]],
    tally: EncryptedTally,
) -> None:
    """Raise :class:`TallyError` unless ``tally`` is exactly the aggregate of ``counted``."""
    expected = aggregate(shape, counted)
    if tally.shape != expected.shape:
        raise TallyError(
            f"the posted tally has shape {list(tally.shape)}, expected {list(expected.shape)}"
        )
    for q, (mine, theirs) in enumerate(zip(expected.questions, tally.questions, strict=True)):
        for o, (a, b) in enumerate(zip(mine, theirs, strict=True)):
            if a != b:
                raise TallyError(
                    f"the posted tally differs from the counted ballots at question {q} option {o}",
                    detail={"question": q, "option": o},
                )


# --------------------------------------------------------------------------
# Partial decryptions
# --------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class PartialDecryption:
    """Trustee j's decryption factors D = x_j·alpha, one (D, proof) per option."""

    trustee: int
    shares: tuple[tuple[tuple[Point, DleqProof], ...], ...]

    def to_json(self) -> dict:
        return {
            "trustee": self.trustee,
            "shares": [
                [{"factor": d.to_json(), "proof": proof.to_json()} for d, proof in options]
                for options in self.shares
            ],
        }

    @classmethod
    def from_json(cls, obj: Any, path: str = "partial_decryption") -> PartialDecryption:
        f = Fields(obj, path, required=("trustee", "shares"))

        def share(value: Any, p: str) -> tuple[Point, DleqProof]:
            g = Fields(value, p, required=("factor", "proof"))
            try:
                # The identity is a legitimate factor of an empty aggregate;
                # verify_partial decides whether it is the right one.
                factor = Point.from_json(g.raw("factor"), allow_identity=True)
                proof = DleqProof.from_json(g.raw("proof"), g.sub("proof"))
            except EncodingError as exc:
                raise type(exc)(f"{p}: {exc.message}") from None
            return factor, proof

        return cls(
            f.int("trustee", lo=1, hi=MAX_TRUSTEES),
            _matrix(f.raw("shares"), f.sub("shares"), share),
        )


def _decryption_context(fingerprint: bytes, trustee: int, q: int, o: int) -> list[bytes]:
    return [CTX_DECRYPTION, fingerprint, enc_int(trustee), enc_int(q), enc_int(o)]


def partial_decrypt(
    fingerprint: bytes, trustee_index: int, share: Scalar, tally: EncryptedTally, rng: Rng
) -> PartialDecryption:
    """Trustee ``trustee_index``'s factors x_j·alpha for the whole tally, with DLEQ proofs."""
    return PartialDecryption(
        trustee_index,
        tuple(
            tuple(
                prove_dleq(
                    _decryption_context(fingerprint, trustee_index, q, o), share, ct.alpha, rng
                )
                for o, ct in enumerate(options)
            )
            for q, options in enumerate(tally.questions)
        ),
    )


def check_partial_shape(tally: EncryptedTally, partial: PartialDecryption) -> None:
    """Raise :class:`DecryptionError` unless ``partial`` has one factor per option of ``tally``.

    This is the form a partial decryption must have to be *recorded* at all
    (docs/protocol-trustees.md §5.13): a well-formed partial whose proofs fail
    is still recorded, as evidence against its trustee, and skipped when
    combining; one of the wrong shape is not a partial decryption of this tally.
    """
    if tuple(len(options) for options in partial.shares) != tally.shape:
        j = partial.trustee
        raise DecryptionError(
            f"trustee {j}: partial decryption does not have the tally's shape",
            detail={"trustee": j},
        )


def verify_partial(
    fingerprint: bytes, verification_key: Point, tally: EncryptedTally, partial: PartialDecryption
) -> None:
    """Raise :class:`DecryptionError` naming trustee, question and option unless every
    factor is proved to be X_j's secret times the option's alpha."""
    j = partial.trustee
    check_partial_shape(tally, partial)
    for q, (cts, factors) in enumerate(zip(tally.questions, partial.shares, strict=True)):
        for o, (ct, (d, proof)) in enumerate(zip(cts, factors, strict=True)):
            where = {"trustee": j, "question": q, "option": o}
            if ct.alpha.is_identity() and not d.is_identity():
                raise DecryptionError(
                    f"trustee {j}: factor for question {q} option {o} must be the identity",
                    detail=where,
                )
            try:
                verify_dleq(
                    _decryption_context(fingerprint, j, q, o), verification_key, ct.alpha, d, proof
                )
            except InvalidProof:
                raise DecryptionError(
                    f"trustee {j}: invalid proof for question {q} option {o}", detail=where
                ) from None


# --------------------------------------------------------------------------
# Combining
# --------------------------------------------------------------------------


def lagrange_at_zero(indices: Sequence[int], j: int) -> Scalar:
    """λ_j = Π_{m≠j} m / (m − j) mod L: the weight of f(j) in f(0), by libsodium."""
    if j not in indices or len(set(indices)) != len(indices):
        raise ValueError("indices must be distinct and include j")
    sj = Scalar.from_int(j)
    num = Scalar.from_int(1)
    den = Scalar.from_int(1)
    for m in indices:
        if m != j:
            sm = Scalar.from_int(m)
            num = num * sm
            den = den * (sm - sj)
    return num * den.inverse()


def _choose_partials(
    fingerprint: bytes,
    tally: EncryptedTally,
    partials: Iterable[PartialDecryption],
    joint_key: JointKey,
) -> list[PartialDecryption]:
    """The t lowest-indexed valid partial decryptions, or a DecryptionError naming why not."""
    return choose_valid(
        partials, joint_key, lambda key, p: verify_partial(fingerprint, key, tally, p)
    )


class _ByTrustee(Protocol):
    """A partial decryption of either kind: all :func:`choose_valid` reads of it."""

    @property
    def trustee(self) -> int: ...


P = TypeVar("P", bound=_ByTrustee)


def choose_valid(
    partials: Iterable[P], joint_key: JointKey, verify: Callable[[Point, P], None]
) -> list[P]:
    """The t lowest-indexed partial decryptions that ``verify(trustee's key, partial)``
    accepts, or a DecryptionError naming why not: one trustee posting twice, a trustee
    outside QUAL, each proof that failed.  The tally's and the mixed rows' rule."""
    by_trustee: dict[int, P] = {}
    for p in partials:
        if p.trustee in by_trustee:
            raise DecryptionError(
                f"trustee {p.trustee}: more than one partial decryption",
                detail={"trustee": p.trustee},
            )
        by_trustee[p.trustee] = p
    t = joint_key.threshold
    chosen: list[P] = []
    problems: list[str] = []
    for j in sorted(by_trustee):
        if len(chosen) == t:
            break
        key = joint_key.verification_keys.get(j)
        if key is None:
            problems.append(f"trustee {j}: not a qualified trustee")
            continue
        try:
            verify(key, by_trustee[j])
        except DecryptionError as exc:
            problems.append(exc.message)
            continue
        chosen.append(by_trustee[j])
    if len(chosen) < t:
        why = f" ({'; '.join(problems)})" if problems else ""
        raise DecryptionError(
            f"need {t} valid partial decryptions, have {len(chosen)}{why}",
            detail={"valid": [p.trustee for p in chosen], "problems": problems},
        )
    return chosen


def _plaintext_points(
    tally: EncryptedTally, chosen: Sequence[PartialDecryption]
) -> list[list[Point]]:
    """m·G = beta − Σ_j λ_j·D_j for every option."""
    return combine_factors(tally.questions, [p.trustee for p in chosen], [p.shares for p in chosen])


def combine_factors(
    grid: Sequence[Sequence[Ciphertext]],
    indices: Sequence[int],
    factors: Sequence[Sequence[Sequence[tuple]]],
) -> list[list[Point]]:
    """Lagrange combination at 0 of t trustees' decryption factors over a grid of
    ciphertexts: ``out[r][c] = grid[r][c].beta − Σ_j λ_j·factors[j][r][c][0]``.

    One routine for the homomorphic tally and the mixed rows (evote.mixdecryption), so
    the combination an auditor re-checks is the same code for both."""
    lambdas = [lagrange_at_zero(indices, j) for j in indices]
    out = []
    for r, cts in enumerate(grid):
        row = []
        for c, ct in enumerate(cts):
            acc = ct.beta
            for lam, grid_j in zip(lambdas, factors, strict=True):
                acc = acc - grid_j[r][c][0] * lam
            row.append(acc)
        out.append(row)
    return out


@dataclass(frozen=True, slots=True)
class Result:
    """The decrypted counts, ``counts[q][o]``."""

    counts: tuple[tuple[int, ...], ...]

    def to_json(self) -> dict:
        return {"counts": [list(row) for row in self.counts]}

    @classmethod
    def from_json(cls, obj: Any, path: str = "result") -> Result:
        f = Fields(obj, path, required=("counts",))

        def count(value: Any, p: str) -> int:
            if (
                not isinstance(value, int)
                or isinstance(value, bool)
                or not 0 <= value <= MAX_SAFE_INTEGER
            ):
                raise SchemaError(f"{p}: expected a count between 0 and {MAX_SAFE_INTEGER}")
            return value

        return cls(_matrix(f.raw("counts"), f.sub("counts"), count))


def combine(
    fingerprint: bytes,
    tally: EncryptedTally,
    partials: Iterable[PartialDecryption],
    joint_key: JointKey,
    bounds: Sequence[Sequence[int]],
) -> Result:
    """Decrypt the tally from t valid partial decryptions of distinct qualified trustees.

    ``bounds[q][o]`` is the largest possible count (total counted weight times
    the top score); the discrete log searches [0, bound] only.  Invalid or
    unqualified partials are skipped and named in the error if fewer than t
    valid ones remain; a trustee appearing twice is an error.
    """
    if tuple(len(row) for row in bounds) != tally.shape:
        raise TallyError("bounds do not have the tally's shape")
    chosen = _choose_partials(fingerprint, tally, partials, joint_key)
    points = _plaintext_points(tally, chosen)
    counts = []
    for q, (row, row_bounds) in enumerate(zip(points, bounds, strict=True)):
        out = []
        for o, (point, bound) in enumerate(zip(row, row_bounds, strict=True)):
            try:
                out.append(discrete_log(point, bound))
            except DecryptionError as exc:
                raise DecryptionError(
                    f"question {q} option {o}: {exc.message}", detail={"question": q, "option": o}
                ) from None
        counts.append(tuple(out))
    return Result(tuple(counts))


def verify_result(
    fingerprint: bytes,
    tally: EncryptedTally,
    partials: Iterable[PartialDecryption],
    joint_key: JointKey,
    result: Result,
) -> None:
    """Raise :class:`TallyError` unless ``result`` is the decryption of ``tally``.

    Checks counts[q][o]·G against beta − Σ λ_j·D_j over t valid partial
    decryptions, so no discrete log is needed.  Raises :class:`DecryptionError`
    (from :func:`combine`'s selection) if there are not t valid partials.
    """
    if tuple(len(row) for row in result.counts) != tally.shape:
        raise TallyError("the result does not have the tally's shape")
    chosen = _choose_partials(fingerprint, tally, partials, joint_key)
    points = _plaintext_points(tally, chosen)
    for q, (row, counts) in enumerate(zip(points, result.counts, strict=True)):
        for o, (point, m) in enumerate(zip(row, counts, strict=True)):
            if small_multiple(m) != point:
                raise TallyError(
                    f"the posted result is wrong at question {q} option {o} ({m})",
                    detail={"question": q, "option": o},
                )
