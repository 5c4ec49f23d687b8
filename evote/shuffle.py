"""A verifiable re-encryption shuffle of rows of ElGamal ciphertexts.

.. warning:: hazmat layer: a shuffle proof is only as good as its context.
   Callers go through :mod:`evote.mixnet`, which binds each mix to the
   election, the question, the mixer's index and its Ed25519 key, and signs it.

A ranked ballot is a *row* of k ciphertexts (one per option).  A mixer takes a
list of N rows, re-encrypts every ciphertext (adds an encryption of 0) and
permutes the rows, all columns with the same permutation, so the rows keep
their meaning while losing their link to the voter.  It then proves, without
revealing the permutation or the randomness, that the output is such a
shuffle of the input.

The proof is Terelius–Wikström's, in the form Haenni, Locher, Koenig and
Dubuis give as pseudo-code (GenShuffle, GenShuffleProof, CheckShuffleProof; the
algorithm CHVote and Verificatum implement), written additively for the
edwards25519 group and generalised from single ciphertexts to rows the way
Verificatum does it: one permutation commitment and one commitment chain for
the whole row, and one re-encryption response s4_l per column l.  The
equations, every transcript field and the proof's JSON are specified in
``docs/protocol-mixnet.md`` §3; the names below follow that document.

Why strong Fiat–Shamir: the u_i and the challenge c hash the context (the
election fingerprint, the question, the mixer's index and key), the election
key, both lists in full (through their digests), the permutation commitment,
the chain and every proof commitment.  A challenge that left out the output
list would let a prover choose the output after seeing the challenge.

All arithmetic is libsodium's, through :mod:`evote.group`.  Points and scalars
that come from outside are validated where they are decoded (``from_json``);
a proof is then checked against lists its verifier holds itself.

Why one module of ~520 lines: the proof's commitments, challenges and
responses are one Fiat–Shamir transcript; prover and verifier must build it
identically, so both sit next to it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from evote.elgamal import Ciphertext
from evote.encoding import Fields, expect_list
from evote.errors import EncodingError, InvalidShuffle, SchemaError
from evote.generators import Generators, derive_generators
from evote.group import G, Point, Rng, Scalar
from evote.hashing import (
    CTX_SHUFFLE,
    TAG_SHUFFLE,
    TAG_SHUFFLE_LIST,
    TAG_SHUFFLE_SEED,
    TAG_SHUFFLE_U,
    enc_int,
    hash_to_scalar,
    tagged_hash,
)
from evote.limits import MAX_ROWS as MAX_ROWS
from evote.limits import MAX_WIDTH as MAX_WIDTH

Row = tuple[Ciphertext, ...]


# --------------------------------------------------------------------------
# Lists of rows
# --------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class RowList:
    """N rows of ``width`` ciphertexts each: the input or output of one mix."""

    width: int
    rows: tuple[Row, ...]

    def __post_init__(self) -> None:
        if not 1 <= self.width <= MAX_WIDTH:
            raise SchemaError(f"row width must be 1..{MAX_WIDTH}, got {self.width}")
        if not 1 <= len(self.rows) <= MAX_ROWS:
            raise SchemaError(f"a list needs 1..{MAX_ROWS} rows, got {len(self.rows)}")
        for i, row in enumerate(self.rows):
            if len(row) != self.width:
                raise SchemaError(f"row {i} has {len(row)} ciphertexts, expected {self.width}")

    @classmethod
    def of(cls, rows: Sequence[Sequence[Ciphertext]]) -> RowList:
        rows = tuple(tuple(r) for r in rows)
        if not rows:
            raise SchemaError("a list needs at least one row")
        return cls(len(rows[0]), rows)

    def __len__(self) -> int:
        return len(self.rows)

    def to_json(self) -> dict:
        return {"width": self.width, "rows": [[ct.to_json() for ct in row] for row in self.rows]}

    @classmethod
    def from_json(
        cls, obj: Any, path: str = "rows", *, width: int | None = None, count: int | None = None
    ) -> RowList:
        """Decode and validate every point (no identity: a ballot's or a
        re-encryption's component is the identity with probability ~2^-252).
        ``width`` and ``count`` pin the shape the caller expects."""
        f = Fields(obj, path, required=("width", "rows"))
        w = f.int("width", lo=1, hi=MAX_WIDTH)
        if width is not None and w != width:
            raise SchemaError(f"{f.sub('width')}: expected {width}, got {w}")
        items = expect_list(f.raw("rows"), f.sub("rows"), length=count)
        if not 1 <= len(items) <= MAX_ROWS:
            raise SchemaError(f"{f.sub('rows')}: expected 1..{MAX_ROWS} rows")
        rows = []
        for i, item in enumerate(items):
            cells = expect_list(item, f"{f.sub('rows')}[{i}]", length=w)
            row = []
            for col, cell in enumerate(cells):
                p = f"{f.sub('rows')}[{i}][{col}]"
                try:
                    row.append(Ciphertext.from_json(cell, p))
                except EncodingError as exc:
                    raise type(exc)(f"{p}: {exc.message}") from None
            rows.append(tuple(row))
        return cls(w, tuple(rows))

    def digest(self) -> bytes:
        """tagged_hash(TAG_SHUFFLE_LIST, enc_int(N), enc_int(k), alpha_1,1 || beta_1,1 || ...)."""
        body = b"".join(ct.alpha.raw + ct.beta.raw for row in self.rows for ct in row)
        return tagged_hash(TAG_SHUFFLE_LIST, enc_int(len(self.rows)), enc_int(self.width), body)


# --------------------------------------------------------------------------
# The context a proof is bound to
# --------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ShuffleContext:
    """Where a shuffle sits in the election: the fingerprint (also the seed of
    the generators), the question, and the mixer's index and Ed25519 key."""

    fingerprint: bytes
    question: int
    mixer: int
    mixer_key: bytes

    def __post_init__(self) -> None:
        if not isinstance(self.fingerprint, bytes) or len(self.fingerprint) != 32:
            raise TypeError("fingerprint must be 32 bytes")
        if not isinstance(self.mixer_key, bytes) or len(self.mixer_key) != 32:
            raise TypeError("mixer_key must be 32 bytes")
        if self.question < 0 or self.mixer < 1:
            raise ValueError("question must be >= 0 and mixer >= 1")

    def fields(self) -> list[bytes]:
        return [
            CTX_SHUFFLE,
            self.fingerprint,
            enc_int(self.question),
            enc_int(self.mixer),
            self.mixer_key,
        ]


# --------------------------------------------------------------------------
# GenShuffle
# --------------------------------------------------------------------------


def _uniform_below(n: int, rng: Rng) -> int:
    """A uniform integer in [0, n), by rejection from 64-bit draws."""
    limit = (2**64 // n) * n
    while True:
        x = int.from_bytes(rng(8), "big")
        if x < limit:
            return x % n


def random_permutation(n: int, rng: Rng) -> tuple[int, ...]:
    """A uniform permutation of range(n) (Fisher–Yates)."""
    perm = list(range(n))
    for i in range(n - 1, 0, -1):
        j = _uniform_below(i + 1, rng)
        perm[i], perm[j] = perm[j], perm[i]
    return tuple(perm)


@dataclass(frozen=True, slots=True, repr=False)
class ShuffleWitness:
    """The mixer's secrets: output i is input ``permutation[i]`` re-encrypted
    with ``randomness[permutation[i]]`` (one scalar per column).  Never posted."""

    permutation: tuple[int, ...]
    randomness: tuple[tuple[Scalar, ...], ...]

    def __repr__(self) -> str:
        return "ShuffleWitness(<secret>)"


def reencrypt(key: Point, ct: Ciphertext, r: Scalar) -> Ciphertext:
    """ct + Enc(0; r) = (alpha + r·G, beta + r·K)."""
    return Ciphertext(ct.alpha + Point.base_mul(r), ct.beta + key * r)


def apply_shuffle(key: Point, rows: RowList, witness: ShuffleWitness) -> RowList:
    """The output list the witness describes (GenShuffle without the draws)."""
    if sorted(witness.permutation) != list(range(len(rows))):
        raise ValueError("not a permutation of the rows")
    out = []
    for j in witness.permutation:
        out.append(
            tuple(
                reencrypt(key, ct, r) for ct, r in zip(rows.rows[j], witness.randomness[j], strict=True)
            )
        )
    return RowList(rows.width, tuple(out))


def gen_shuffle(key: Point, rows: RowList, rng: Rng) -> tuple[RowList, ShuffleWitness]:
    """GenShuffle: re-encrypt every ciphertext and permute the rows uniformly."""
    perm = random_permutation(len(rows), rng)
    randomness = tuple(
        tuple(Scalar.random(rng) for _ in range(rows.width)) for _ in range(len(rows))
    )
    witness = ShuffleWitness(perm, randomness)
    return apply_shuffle(key, rows, witness), witness


# --------------------------------------------------------------------------
# The proof
# --------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ShuffleProof:
    """Compact Terelius–Wikström proof (``docs/protocol-mixnet.md`` §3.4).

    ``commitments`` (C_1..C_N) commit to the permutation, ``chain``
    (Ĉ_1..Ĉ_N) to the permuted challenges; the verifier recomputes every
    proof commitment T from the responses and checks that ``challenge`` is
    their hash.
    """

    commitments: tuple[Point, ...]
    chain: tuple[Point, ...]
    challenge: Scalar
    s1: Scalar
    s2: Scalar
    s3: Scalar
    s4: tuple[Scalar, ...]
    s_hat: tuple[Scalar, ...]
    s_prime: tuple[Scalar, ...]

    def to_json(self) -> dict:
        return {
            "commitments": [p.to_json() for p in self.commitments],
            "chain": [p.to_json() for p in self.chain],
            "challenge": self.challenge.to_json(),
            "s1": self.s1.to_json(),
            "s2": self.s2.to_json(),
            "s3": self.s3.to_json(),
            "s4": [s.to_json() for s in self.s4],
            "s_hat": [s.to_json() for s in self.s_hat],
            "s_prime": [s.to_json() for s in self.s_prime],
        }

    @classmethod
    def from_json(cls, obj: Any, path: str = "proof", *, rows: int, width: int) -> ShuffleProof:
        """Decode for a list of ``rows`` rows of ``width``: every length is pinned,
        every point validated (no identity), every scalar canonical."""
        f = Fields(
            obj,
            path,
            required=("commitments", "chain", "challenge", "s1", "s2", "s3", "s4", "s_hat", "s_prime"),
        )

        def items(key: str, n: int, decode: Any) -> tuple:
            out = []
            for i, v in enumerate(expect_list(f.raw(key), f.sub(key), length=n)):
                try:
                    out.append(decode(v))
                except EncodingError as exc:
                    raise type(exc)(f"{f.sub(key)}[{i}]: {exc.message}") from None
            return tuple(out)

        def one(key: str) -> Scalar:
            try:
                return Scalar.from_json(f.raw(key))
            except EncodingError as exc:
                raise type(exc)(f"{f.sub(key)}: {exc.message}") from None

        return cls(
            commitments=items("commitments", rows, Point.from_json),
            chain=items("chain", rows, Point.from_json),
            challenge=one("challenge"),
            s1=one("s1"),
            s2=one("s2"),
            s3=one("s3"),
            s4=items("s4", width, Scalar.from_json),
            s_hat=items("s_hat", rows, Scalar.from_json),
            s_prime=items("s_prime", rows, Scalar.from_json),
        )


def _joined(points: Sequence[Point]) -> bytes:
    return b"".join(p.raw for p in points)


def _challenges(
    ctx: ShuffleContext, key: Point, in_digest: bytes, out_digest: bytes, commitments: Sequence[Point]
) -> list[Scalar]:
    """GetChallenges: u_j = H(TAG_SHUFFLE_U, seed, j), seed = H(ctx, K, lists, C)."""
    seed = tagged_hash(
        TAG_SHUFFLE_SEED, *ctx.fields(), key.raw, in_digest, out_digest, _joined(commitments)
    )
    return [hash_to_scalar(TAG_SHUFFLE_U, seed, enc_int(j)) for j in range(len(commitments))]


def _challenge(
    ctx: ShuffleContext,
    key: Point,
    in_digest: bytes,
    out_digest: bytes,
    commitments: Sequence[Point],
    chain: Sequence[Point],
    t1: Point,
    t2: Point,
    t3: Point,
    t4: Sequence[tuple[Point, Point]],
    t_hat: Sequence[Point],
) -> Scalar:
    """GetChallenge: c over the context, the statement and every commitment."""
    return hash_to_scalar(
        TAG_SHUFFLE,
        *ctx.fields(),
        key.raw,
        in_digest,
        out_digest,
        _joined(commitments),
        _joined(chain),
        t1.raw,
        t2.raw,
        t3.raw,
        b"".join(a.raw + b.raw for a, b in t4),
        _joined(t_hat),
    )


def _sum(points: Sequence[Point]) -> Point:
    acc = points[0]
    for p in points[1:]:
        acc = acc + p
    return acc


def _check_pair(inputs: RowList, outputs: RowList) -> None:
    if len(inputs) != len(outputs) or inputs.width != outputs.width:
        raise InvalidShuffle(
            f"the output list has {len(outputs)} rows of width {outputs.width}, the input "
            f"{len(inputs)} rows of width {inputs.width}",
            detail={"check": "shape"},
        )


def _generators_for(ctx: ShuffleContext, n: int, generators: Generators | None) -> Generators:
    """The election's generators: derived here, or passed in by a caller that
    derived them already (never taken from a prover: generators with a known
    relation would make the proof unsound)."""
    if generators is None:
        return derive_generators(ctx.fingerprint, n)
    if generators.seed != ctx.fingerprint:
        raise ValueError("generators were derived for another election")
    if len(generators) < n:
        raise ValueError(f"need {n} generators, have {len(generators)}")
    return generators


def prove_shuffle(
    ctx: ShuffleContext,
    key: Point,
    inputs: RowList,
    outputs: RowList,
    witness: ShuffleWitness,
    rng: Rng,
    *,
    generators: Generators | None = None,
) -> ShuffleProof:
    """GenShuffleProof for rows: prove ``outputs`` = ``apply_shuffle(key, inputs, witness)``.

    ``generators`` (H_0..H_N for the fingerprint) may be passed when the caller
    already derived them; by default they are derived here.
    """
    _check_pair(inputs, outputs)
    n, k = len(inputs), inputs.width
    gens = _generators_for(ctx, n, generators)
    perm = witness.permutation
    hs = gens.hs
    # Permutation commitment: C_{π(i)} = r_{π(i)}·G + H_i.
    r = [Scalar.random(rng) for _ in range(n)]
    commitments: list[Point] = [G] * n
    for i, j in enumerate(perm):
        commitments[j] = Point.base_mul(r[j]) + hs[i]
    in_digest, out_digest = inputs.digest(), outputs.digest()
    u = _challenges(ctx, key, in_digest, out_digest, commitments)
    u_perm = [u[j] for j in perm]
    # Commitment chain: Ĉ_0 = H_0, Ĉ_i = r̂_i·G + u'_i·Ĉ_{i-1}.
    r_hat = [Scalar.random(rng) for _ in range(n)]
    chain: list[Point] = []
    prev = gens.h0
    for i in range(n):
        prev = Point.base_mul(r_hat[i]) + prev * u_perm[i]
        chain.append(prev)
    # Commitments of the sigma protocol.
    w1, w2, w3 = Scalar.random(rng), Scalar.random(rng), Scalar.random(rng)
    w4 = [Scalar.random(rng) for _ in range(k)]
    w_hat = [Scalar.random(rng) for _ in range(n)]
    w_prime = [Scalar.random(rng) for _ in range(n)]
    t1 = Point.base_mul(w1)
    t2 = Point.base_mul(w2)
    t3 = _sum([Point.base_mul(w3)] + [h * w for h, w in zip(hs, w_prime, strict=False)])
    t4 = []
    for col in range(k):
        alphas = [outputs.rows[i][col].alpha * w_prime[i] for i in range(n)]
        betas = [outputs.rows[i][col].beta * w_prime[i] for i in range(n)]
        t4.append((_sum(alphas) - Point.base_mul(w4[col]), _sum(betas) - key * w4[col]))
    t_hat = []
    prev = gens.h0
    for i in range(n):
        t_hat.append(Point.base_mul(w_hat[i]) + prev * w_prime[i])
        prev = chain[i]
    c = _challenge(ctx, key, in_digest, out_digest, commitments, chain, t1, t2, t3, t4, t_hat)
    # Responses.
    r_bar = _scalar_sum(r)
    v = [Scalar.from_int(1)] * n  # v_i = u'_{i+1} ··· u'_N
    for i in range(n - 1, 0, -1):
        v[i - 1] = u_perm[i] * v[i]
    r_hat_sum = _scalar_sum([a * b for a, b in zip(r_hat, v, strict=True)])
    r_tilde = _scalar_sum([a * b for a, b in zip(r, u, strict=True)])
    rho = [
        _scalar_sum([witness.randomness[j][col] * u[j] for j in range(n)]) for col in range(k)
    ]
    return ShuffleProof(
        commitments=tuple(commitments),
        chain=tuple(chain),
        challenge=c,
        s1=w1 + c * r_bar,
        s2=w2 + c * r_hat_sum,
        s3=w3 + c * r_tilde,
        s4=tuple(w4[col] + c * rho[col] for col in range(k)),
        s_hat=tuple(w_hat[i] + c * r_hat[i] for i in range(n)),
        s_prime=tuple(w_prime[i] + c * u_perm[i] for i in range(n)),
    )


def _scalar_sum(items: Sequence[Scalar]) -> Scalar:
    acc = items[0]
    for s in items[1:]:
        acc = acc + s
    return acc


def verify_shuffle(
    ctx: ShuffleContext,
    key: Point,
    inputs: RowList,
    outputs: RowList,
    proof: ShuffleProof,
    *,
    generators: Generators | None = None,
) -> None:
    """CheckShuffleProof for rows: raise :class:`InvalidShuffle` unless ``proof``
    shows ``outputs`` is a re-encryption and permutation of ``inputs`` under ``key``."""
    _check_pair(inputs, outputs)
    n, k = len(inputs), inputs.width
    if not (
        len(proof.commitments) == len(proof.chain) == len(proof.s_hat) == len(proof.s_prime) == n
        and len(proof.s4) == k
    ):
        raise InvalidShuffle(
            f"the proof does not fit a list of {n} rows of width {k}", detail={"check": "shape"}
        )
    gens = _generators_for(ctx, n, generators)
    hs = gens.hs
    c = proof.challenge
    in_digest, out_digest = inputs.digest(), outputs.digest()
    u = _challenges(ctx, key, in_digest, out_digest, proof.commitments)
    # C̄ = ΣC_j − ΣH_i,  Ĉ = Ĉ_N − (Πu_j)·H_0,  C̃ = Σu_j·C_j.
    c_bar = _sum(proof.commitments) - _sum(hs[:n])
    u_prod = _scalar_product(u)
    c_hat = proof.chain[-1] - gens.h0 * u_prod
    c_tilde = _sum([cj * uj for cj, uj in zip(proof.commitments, u, strict=True)])
    t1 = Point.base_mul(proof.s1) - c_bar * c
    t2 = Point.base_mul(proof.s2) - c_hat * c
    t3 = (
        _sum([Point.base_mul(proof.s3)] + [h * s for h, s in zip(hs, proof.s_prime, strict=False)])
        - c_tilde * c
    )
    t4 = []
    for col in range(k):
        a_tilde = _sum([inputs.rows[j][col].alpha * u[j] for j in range(n)])
        b_tilde = _sum([inputs.rows[j][col].beta * u[j] for j in range(n)])
        a_prime = _sum([outputs.rows[i][col].alpha * proof.s_prime[i] for i in range(n)])
        b_prime = _sum([outputs.rows[i][col].beta * proof.s_prime[i] for i in range(n)])
        t4.append(
            (
                a_prime - Point.base_mul(proof.s4[col]) - a_tilde * c,
                b_prime - key * proof.s4[col] - b_tilde * c,
            )
        )
    t_hat = []
    prev = gens.h0
    for i in range(n):
        t_hat.append(
            Point.base_mul(proof.s_hat[i]) + prev * proof.s_prime[i] - proof.chain[i] * c
        )
        prev = proof.chain[i]
    expected = _challenge(
        ctx, key, in_digest, out_digest, proof.commitments, proof.chain, t1, t2, t3, t4, t_hat
    )
    if expected != c:
        raise InvalidShuffle("the proof of the shuffle does not verify", detail={"check": "challenge"})


def _scalar_product(items: Sequence[Scalar]) -> Scalar:
    acc = items[0]
    for s in items[1:]:
        acc = acc * s
    return acc
