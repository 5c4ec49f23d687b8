"""Non-interactive zero-knowledge proofs (strong Fiat–Shamir).

.. warning:: hazmat layer: each proof is only as good as the context it is
   bound to.  Callers pass ``ctx``, the list of fields that pins the proof to
   its place in the election (protocol step, election fingerprint, voter
   credential, question and option index); see ``docs/protocol.md``.

Three proofs, all in compact (challenge, response) form:

* :class:`SchnorrProof` — knowledge of x with X = x·G (trustee keys and
  polynomial commitments).
* :class:`DleqProof` — Chaum–Pedersen: log_G(X) = log_A(D) (a partial
  decryption D = x·A is correct for the trustee key X).
* :class:`RangeProof` — disjunctive Chaum–Pedersen: an ElGamal ciphertext under
  K encrypts one of lo, lo+1, ..., hi (0/1 per option, score ranges, and the
  [min, max] bound on a question's total).

The challenge is *strong* Fiat–Shamir: it hashes the context, the whole
statement (keys, ciphertexts, the value range) and every commitment.  A weak
challenge over the commitments alone lets a prover pick the statement after
the challenge; tests/test_proofs.py shows that forgery and its rejection.

Every ``verify_*`` returns None or raises :class:`InvalidProof`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from evote.elgamal import Ciphertext
from evote.encoding import expect_list
from evote.errors import InvalidProof, SchemaError
from evote.group import G, Point, Rng, Scalar, small_multiple
from evote.hashing import TAG_DLEQ, TAG_RANGE, TAG_SCHNORR, enc_int, hash_to_scalar
from evote.limits import MAX_RANGE_WIDTH as MAX_RANGE_WIDTH

Context = Sequence[bytes]


def _scalar_pair(obj: Any, path: str) -> tuple[Scalar, Scalar]:
    pair = expect_list(obj, path, length=2)
    return Scalar.from_json(pair[0]), Scalar.from_json(pair[1])


# --------------------------------------------------------------------------
# Schnorr proof of knowledge of a discrete logarithm
# --------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _ChallengeResponse:
    """A compact proof (c, s); the verifier recomputes the commitments."""

    challenge: Scalar
    response: Scalar

    @classmethod
    def from_json(cls, obj: Any, path: str = "proof") -> Any:
        return cls(*_scalar_pair(obj, path))

    def to_json(self) -> list[str]:
        return [self.challenge.to_json(), self.response.to_json()]


class SchnorrProof(_ChallengeResponse):
    """Proof of knowledge of x with X = x·G: U = s·G − c·X, c = H(ctx, X, U)."""

    __slots__ = ()


def _schnorr_challenge(ctx: Context, public: Point, commitment: Point) -> Scalar:
    return hash_to_scalar(TAG_SCHNORR, *ctx, public.raw, commitment.raw)


def prove_schnorr(ctx: Context, secret: Scalar, rng: Rng) -> SchnorrProof:
    """Prove knowledge of ``secret`` for the public value ``secret·G``."""
    w = Scalar.random(rng)
    public = Point.base_mul(secret)
    c = _schnorr_challenge(ctx, public, Point.base_mul(w))
    return SchnorrProof(c, w + c * secret)


def verify_schnorr(ctx: Context, public: Point, proof: SchnorrProof) -> None:
    """Raise :class:`InvalidProof` unless ``proof`` shows knowledge of log_G(public)."""
    u = Point.base_mul(proof.response) - public * proof.challenge
    if _schnorr_challenge(ctx, public, u) != proof.challenge:
        raise InvalidProof("Schnorr proof does not verify")


# --------------------------------------------------------------------------
# Chaum–Pedersen proof of equal discrete logarithms
# --------------------------------------------------------------------------


class DleqProof(_ChallengeResponse):
    """Proof that log_G(X) = log_A(D): U = s·G − c·X, V = s·A − c·D, c = H(ctx, X, A, D, U, V)."""

    __slots__ = ()


def _dleq_challenge(ctx: Context, x: Point, a: Point, d: Point, u: Point, v: Point) -> Scalar:
    return hash_to_scalar(TAG_DLEQ, *ctx, x.raw, a.raw, d.raw, u.raw, v.raw)


def prove_dleq(ctx: Context, secret: Scalar, base: Point, rng: Rng) -> tuple[Point, DleqProof]:
    """Return D = secret·base with a proof that it uses the same secret as secret·G."""
    w = Scalar.random(rng)
    x = Point.base_mul(secret)
    d = base * secret
    c = _dleq_challenge(ctx, x, base, d, Point.base_mul(w), base * w)
    return d, DleqProof(c, w + c * secret)


def verify_dleq(ctx: Context, x: Point, base: Point, d: Point, proof: DleqProof) -> None:
    """Raise :class:`InvalidProof` unless log_G(x) = log_base(d)."""
    s, c = proof.response, proof.challenge
    u = Point.base_mul(s) - x * c
    v = base * s - d * c
    if _dleq_challenge(ctx, x, base, d, u, v) != c:
        raise InvalidProof("Chaum–Pedersen (DLEQ) proof does not verify")


# --------------------------------------------------------------------------
# Disjunctive Chaum–Pedersen range proof for an ElGamal ciphertext
# --------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class RangeProof:
    """Proof that a ciphertext encrypts one of lo..hi: one (c_j, s_j) per value.

    For each value v_j: A_j = s_j·G − c_j·alpha and B_j = s_j·K − c_j·(beta − v_j·G);
    the proof holds when the c_j sum to H(ctx, K, alpha, beta, lo, hi, A_0, B_0, ...).
    """

    branches: tuple[tuple[Scalar, Scalar], ...]

    @classmethod
    def from_json(cls, obj: Any, path: str = "proof", *, width: int | None = None) -> RangeProof:
        items = expect_list(obj, path, length=width)
        if not 1 <= len(items) <= MAX_RANGE_WIDTH:
            raise SchemaError(f"{path}: range proof must have 1..{MAX_RANGE_WIDTH} branches")
        return cls(tuple(_scalar_pair(item, f"{path}[{i}]") for i, item in enumerate(items)))

    def to_json(self) -> list[list[str]]:
        return [[c.to_json(), s.to_json()] for c, s in self.branches]


def _range_challenge(
    ctx: Context, key: Point, ct: Ciphertext, lo: int, hi: int, commitments: list[bytes]
) -> Scalar:
    return hash_to_scalar(
        TAG_RANGE, *ctx, key.raw, ct.alpha.raw, ct.beta.raw, enc_int(lo), enc_int(hi), *commitments
    )


def _shifted_betas(ct: Ciphertext, lo: int, hi: int) -> list[Point]:
    """beta − v·G for v = lo..hi, by repeated subtraction of G."""
    cur = ct.beta - small_multiple(lo) if lo else ct.beta
    out = [cur]
    for _ in range(hi - lo):
        cur = cur - G
        out.append(cur)
    return out


def _check_range(lo: int, hi: int) -> None:
    if not 0 <= lo <= hi or hi - lo + 1 > MAX_RANGE_WIDTH:
        raise ValueError(f"invalid proof range [{lo}, {hi}]")


def prove_range(
    ctx: Context, key: Point, ct: Ciphertext, m: int, r: Scalar, lo: int, hi: int, rng: Rng
) -> RangeProof:
    """Prove that ``ct`` (= encrypt(key, m, r)) encrypts a value in [lo, hi].

    Simulates every branch but the true one with random (c_j, s_j); the true
    branch's challenge is whatever makes the sum match the hash.
    """
    _check_range(lo, hi)
    if not lo <= m <= hi:
        raise ValueError("the encrypted value is outside the range being proved")
    betas = _shifted_betas(ct, lo, hi)
    real = m - lo
    w = Scalar.random(rng)
    sims: dict[int, tuple[Scalar, Scalar]] = {}
    commitments: list[bytes] = []
    for j, beta_j in enumerate(betas):
        if j == real:
            a, b = Point.base_mul(w), key * w
        else:
            c_j, s_j = Scalar.random(rng), Scalar.random(rng)
            sims[j] = (c_j, s_j)
            a = Point.base_mul(s_j) - ct.alpha * c_j
            b = key * s_j - beta_j * c_j
        commitments += [a.raw, b.raw]
    c = _range_challenge(ctx, key, ct, lo, hi, commitments)
    c_real = c
    for c_j, _ in sims.values():
        c_real = c_real - c_j
    branches = [
        (c_real, w + c_real * r) if j == real else sims[j] for j in range(len(betas))
    ]
    return RangeProof(tuple(branches))


def verify_range(
    ctx: Context, key: Point, ct: Ciphertext, lo: int, hi: int, proof: RangeProof
) -> None:
    """Raise :class:`InvalidProof` unless ``proof`` shows ``ct`` encrypts a value in [lo, hi]."""
    _check_range(lo, hi)
    if len(proof.branches) != hi - lo + 1:
        raise InvalidProof(f"range proof has {len(proof.branches)} branches, expected {hi - lo + 1}")
    betas = _shifted_betas(ct, lo, hi)
    commitments: list[bytes] = []
    total = None
    for (c_j, s_j), beta_j in zip(proof.branches, betas, strict=True):
        a = Point.base_mul(s_j) - ct.alpha * c_j
        b = key * s_j - beta_j * c_j
        commitments += [a.raw, b.raw]
        total = c_j if total is None else total + c_j
    if _range_challenge(ctx, key, ct, lo, hi, commitments) != total:
        raise InvalidProof("range proof does not verify")
