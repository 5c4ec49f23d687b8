"""The mixnet's generators and the proof of a shuffle of rows.

Tampering first: every change to a real shuffle's lists, proof, context,
key or generators is rejected with the named check; then the vectors; then
the honest path (proofs verify, the multiset of plaintext rows survives).
"""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from collections import Counter
from dataclasses import replace
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from nacl import bindings

from evote.drbg import SeededRng
from evote.elgamal import Ciphertext, decrypt_to_point, encrypt_random
from evote.encoding import b64encode, canonical_json, parse_json
from evote.errors import InvalidPoint, InvalidScalar, InvalidShuffle, SchemaError
from evote.generators import Generators, derive_generators, hash_to_group
from evote.group import IDENTITY, SMALL_ORDER_POINTS, G, Point, Scalar, small_multiple
from evote.shuffle import (  # the exact hashes, for the weak-variant forger
    RowList,
    ShuffleContext,
    ShuffleProof,
    ShuffleWitness,
    _challenge,
    _challenges,
    apply_shuffle,
    gen_shuffle,
    prove_shuffle,
    random_permutation,
    reencrypt,
    verify_shuffle,
)

ROOT = Path(__file__).resolve().parents[2]
VECTOR = json.loads((ROOT / "tests" / "vectors" / "mixnet.json").read_text())

_rng = SeededRng(b"test_shuffle")
SECRET = Scalar.random(_rng)
KEY = Point.base_mul(SECRET)
CTX = ShuffleContext(b"\x07" * 32, 2, 1, b"\x11" * 32)
PLAIN = [[1, 2, 0], [2, 1, 3], [3, 0, 1], [0, 3, 2], [1, 1, 1]]


def make_rows(plain, rng=_rng) -> RowList:
    return RowList.of([[encrypt_random(KEY, m, rng)[0] for m in row] for row in plain])


INPUTS = make_rows(PLAIN)
OUTPUTS, WITNESS = gen_shuffle(KEY, INPUTS, _rng)
PROOF = prove_shuffle(CTX, KEY, INPUTS, OUTPUTS, WITNESS, _rng)


def rejected(check: str, ctx=CTX, key=KEY, inputs=INPUTS, outputs=OUTPUTS, proof=PROOF, **kw):
    with pytest.raises(InvalidShuffle) as info:
        verify_shuffle(ctx, key, inputs, outputs, proof, **kw)
    assert info.value.detail["check"] == check
    return info.value


def plaintexts(rows: RowList) -> list[tuple[int, ...]]:
    table = {small_multiple(m).raw: m for m in range(10)}
    return [tuple(table[decrypt_to_point(SECRET, ct).raw] for ct in row) for row in rows.rows]


def with_row(rows: RowList, i: int, row) -> RowList:
    new = list(rows.rows)
    new[i] = tuple(row)
    return RowList(rows.width, tuple(new))


# -- tampering with the lists -------------------------------------------------------


def test_the_honest_proof_verifies() -> None:
    verify_shuffle(CTX, KEY, INPUTS, OUTPUTS, PROOF)


def test_two_output_rows_swapped_after_proving_are_rejected() -> None:
    rows = list(OUTPUTS.rows)
    rows[0], rows[3] = rows[3], rows[0]
    rejected("challenge", outputs=RowList(OUTPUTS.width, tuple(rows)))


def test_one_output_ciphertext_reencrypted_again_is_rejected() -> None:
    row = list(OUTPUTS.rows[2])
    row[1] = reencrypt(KEY, row[1], Scalar.random(_rng))
    rejected("challenge", outputs=with_row(OUTPUTS, 2, row))


def test_one_input_row_substituted_is_rejected() -> None:
    rejected("challenge", inputs=with_row(INPUTS, 1, make_rows([[0, 0, 0]]).rows[0]))


def test_a_prover_that_changes_one_vote_cannot_prove() -> None:
    """The mixer re-encrypts one ciphertext to a different value (beta + G) and
    proves with its real witness: the proof fails, for the honest generators."""
    row = list(OUTPUTS.rows[0])
    row[0] = Ciphertext(row[0].alpha, row[0].beta + G)
    cheat = with_row(OUTPUTS, 0, row)
    proof = prove_shuffle(CTX, KEY, INPUTS, cheat, WITNESS, _rng)
    rejected("challenge", outputs=cheat, proof=proof)


def test_a_prover_that_swaps_two_rows_before_proving_cannot_prove() -> None:
    rows = list(OUTPUTS.rows)
    rows[1], rows[4] = rows[4], rows[1]
    cheat = RowList(OUTPUTS.width, tuple(rows))
    proof = prove_shuffle(CTX, KEY, INPUTS, cheat, WITNESS, _rng)
    rejected("challenge", outputs=cheat, proof=proof)


def test_a_prover_that_moves_a_vote_between_columns_cannot_prove() -> None:
    """Swapping two columns inside one row keeps the row's product: only the
    per-column responses s4_l catch it."""
    row = list(OUTPUTS.rows[0])
    row[0], row[2] = row[2], row[0]
    cheat = with_row(OUTPUTS, 0, row)
    proof = prove_shuffle(CTX, KEY, INPUTS, cheat, WITNESS, _rng)
    rejected("challenge", outputs=cheat, proof=proof)


def test_a_row_width_change_is_rejected() -> None:
    narrow_in = RowList(2, tuple(r[:2] for r in INPUTS.rows))
    narrow_out = RowList(2, tuple(r[:2] for r in OUTPUTS.rows))
    rejected("shape", inputs=narrow_in, outputs=narrow_out)
    rejected("shape", outputs=narrow_out)
    with pytest.raises(SchemaError, match="s4: expected 2 items, got 3"):
        ShuffleProof.from_json(PROOF.to_json(), rows=5, width=2)


def test_a_dropped_row_is_rejected() -> None:
    rejected("shape", outputs=RowList(3, OUTPUTS.rows[:4]))


# -- tampering with the proof, the context, the key, the generators --------------------

SCALAR_FIELDS = ("challenge", "s1", "s2", "s3")
VECTOR_FIELDS = ("s4", "s_hat", "s_prime", "commitments", "chain")


@pytest.mark.parametrize("name", SCALAR_FIELDS)
def test_each_scalar_of_the_proof_altered_is_rejected(name: str) -> None:
    rejected("challenge", proof=replace(PROOF, **{name: getattr(PROOF, name) + Scalar.from_int(1)}))


@pytest.mark.parametrize("name", VECTOR_FIELDS)
@pytest.mark.parametrize("position", [0, -1])
def test_each_vector_entry_of_the_proof_altered_is_rejected(name: str, position: int) -> None:
    items = list(getattr(PROOF, name))
    one = Scalar.from_int(1)
    items[position] = items[position] + (one if isinstance(items[position], Scalar) else G)
    rejected("challenge", proof=replace(PROOF, **{name: tuple(items)}))


@pytest.mark.parametrize(
    "ctx",
    [
        replace(CTX, fingerprint=b"\x08" * 32),
        replace(CTX, question=3),
        replace(CTX, mixer=2),
        replace(CTX, mixer_key=b"\x12" * 32),
    ],
    ids=["fingerprint", "question", "mixer-index", "mixer-key"],
)
def test_a_proof_moved_to_another_context_is_rejected(ctx: ShuffleContext) -> None:
    rejected("challenge", ctx=ctx)


def test_another_election_key_is_rejected() -> None:
    rejected("challenge", key=KEY + G)


def changed_generators(position: int) -> Generators:
    """The election's generators with one of H_0..H_N replaced by another point."""
    gens = derive_generators(CTX.fingerprint, len(INPUTS))
    if position == 0:
        return replace(gens, h0=gens.h0 + G)
    hs = list(gens.hs)
    hs[position - 1] = hs[position - 1] + G
    return replace(gens, hs=tuple(hs))


@pytest.mark.parametrize("position", [0, 1, 5])
def test_a_changed_generator_is_rejected(position: int) -> None:
    """Verifying with one generator changed, or verifying (with the right
    ones) a proof made with one changed: rejected either way."""
    rejected("challenge", generators=changed_generators(position))
    proof = prove_shuffle(
        CTX, KEY, INPUTS, OUTPUTS, WITNESS, _rng, generators=changed_generators(position)
    )
    rejected("challenge", proof=proof)


def test_generators_of_another_election_are_refused() -> None:
    with pytest.raises(ValueError, match="another election"):
        verify_shuffle(
            CTX, KEY, INPUTS, OUTPUTS, PROOF, generators=derive_generators(b"\x09" * 32, 5)
        )


def test_a_proof_of_the_wrong_length_is_rejected() -> None:
    rejected("shape", proof=replace(PROOF, s_hat=PROOF.s_hat[:-1]))


# -- decoding -----------------------------------------------------------------------


def test_decoding_rejects_identity_small_order_and_non_canonical_values() -> None:
    doc = OUTPUTS.to_json()
    doc["rows"][1][2]["beta"] = b64encode(IDENTITY.raw)
    with pytest.raises(InvalidPoint, match=r"rows\.rows\[1\]\[2\]: point is the identity"):
        RowList.from_json(doc)
    doc = PROOF.to_json()
    doc["chain"][0] = b64encode(SMALL_ORDER_POINTS[4])
    with pytest.raises(InvalidPoint, match=r"proof\.chain\[0\]: point has small order"):
        ShuffleProof.from_json(doc, rows=5, width=3)
    doc = PROOF.to_json()
    doc["s3"] = b64encode(b"\xff" * 32)
    with pytest.raises(InvalidScalar, match=r"proof\.s3: scalar is not canonical"):
        ShuffleProof.from_json(doc, rows=5, width=3)
    with pytest.raises(SchemaError, match="unknown field 'extra'"):
        ShuffleProof.from_json({**PROOF.to_json(), "extra": 1}, rows=5, width=3)
    with pytest.raises(SchemaError, match=r"rows\.rows\[0\]: expected 3 items, got 2"):
        RowList.from_json({"width": 3, "rows": [doc_row[:2] for doc_row in OUTPUTS.to_json()["rows"]]})


def test_json_round_trip_keeps_the_proof_valid() -> None:
    proof = ShuffleProof.from_json(parse_json(canonical_json(PROOF.to_json())), rows=5, width=3)
    outputs = RowList.from_json(parse_json(canonical_json(OUTPUTS.to_json())), width=3, count=5)
    assert proof == PROOF and outputs == OUTPUTS
    verify_shuffle(CTX, KEY, INPUTS, outputs, proof)


def test_apply_shuffle_refuses_a_non_permutation() -> None:
    bad = ShuffleWitness((0, 0, 1, 2, 3), WITNESS.randomness)
    with pytest.raises(ValueError, match="not a permutation"):
        apply_shuffle(KEY, INPUTS, bad)


# -- generators -----------------------------------------------------------------------


def _lp(b: bytes) -> bytes:
    return len(b).to_bytes(8, "big") + b


def test_generators_follow_the_documented_derivation() -> None:
    """Recomputed from docs/protocol-mixnet.md §2 with hashlib and the raw
    libsodium map, independently of evote.hashing."""
    seed = bytes(range(32))
    for index in (0, 1, 7):
        data = (
            _lp(b"evote/v1/edwards25519")
            + _lp(b"mixnet-generator")
            + _lp(seed)
            + _lp(index.to_bytes(8, "big"))
            + _lp((0).to_bytes(8, "big"))
        )
        expected = bindings.crypto_core_ed25519_from_uniform(hashlib.sha256(data).digest())
        assert hash_to_group(seed, index).raw == expected


def test_generators_are_valid_distinct_and_seed_bound() -> None:
    gens = derive_generators(b"\x01" * 32, 40)
    points = [gens.h0, *gens.hs]
    for p in points:
        assert Point.from_bytes(p.raw) == p  # full validation: prime-order subgroup, not identity
    raws = {p.raw for p in points}
    assert len(raws) == 41 and G.raw not in raws
    other = derive_generators(b"\x02" * 32, 40)
    assert raws.isdisjoint({p.raw for p in [other.h0, *other.hs]})


def test_mixnet_vectors_regenerate_identically() -> None:
    proc = subprocess.run(
        [sys.executable, str(ROOT / "tools" / "make_mixnet_vectors.py"), "--check"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr


def test_vector_generators_and_shuffle_hold() -> None:
    for entry in VECTOR["generators"]:
        seed = bytes.fromhex(entry["seed"])
        for point in entry["points"]:
            assert hash_to_group(seed, point["index"]).raw.hex() == point["hex"]
    v = VECTOR["shuffle"]
    key = Point.from_json(v["election_key"])
    inputs = RowList.from_json(v["inputs"])
    outputs = RowList.from_json(v["outputs"])
    proof = ShuffleProof.from_json(v["proof"], rows=len(inputs), width=inputs.width)
    ctx = ShuffleContext(
        bytes.fromhex(v["fingerprint"]), v["question"], v["mixer"],
        Point.from_json(v["mixer_key"]).raw,
    )
    assert inputs.digest().hex() == v["input_digest"]
    assert outputs.digest().hex() == v["output_digest"]
    verify_shuffle(ctx, key, inputs, outputs, proof)
    secret = Scalar.from_json(v["secret_key"])
    table = {small_multiple(m).raw: m for m in range(10)}
    out_plain = [[table[decrypt_to_point(secret, ct).raw] for ct in row] for row in outputs.rows]
    assert out_plain == [v["plaintexts"][j] for j in v["permutation"]]


# -- the honest path, as properties ------------------------------------------------------


@settings(max_examples=12, deadline=None)
@given(n=st.integers(1, 6), k=st.integers(1, 3), seed=st.binary(min_size=4, max_size=4))
def test_honest_shuffles_verify_and_keep_the_multiset_of_rows(n: int, k: int, seed: bytes) -> None:
    rng = SeededRng(b"prop" + seed)
    plain = [[int.from_bytes(rng(1), "big") % 6 for _ in range(k)] for _ in range(n)]
    inputs = make_rows(plain, rng)
    outputs, witness = gen_shuffle(KEY, inputs, rng)
    proof = prove_shuffle(CTX, KEY, inputs, outputs, witness, rng)
    verify_shuffle(CTX, KEY, inputs, outputs, proof)
    assert Counter(plaintexts(outputs)) == Counter(map(tuple, plain))
    seen = {ct for row in inputs.rows for ct in row}
    assert not any(ct in seen for row in outputs.rows for ct in row)  # every ciphertext is fresh


@settings(max_examples=15, deadline=None)
@given(data=st.data())
def test_any_single_change_to_proof_or_output_is_rejected(data) -> None:
    what = data.draw(st.sampled_from(["output", "swap", *SCALAR_FIELDS, *VECTOR_FIELDS]))
    proof, outputs = PROOF, OUTPUTS
    if what == "output":
        i = data.draw(st.integers(0, 4))
        col = data.draw(st.integers(0, 2))
        row = list(OUTPUTS.rows[i])
        row[col] = reencrypt(KEY, row[col], Scalar.random(_rng))
        outputs = with_row(OUTPUTS, i, row)
    elif what == "swap":
        i, j = data.draw(st.lists(st.integers(0, 4), min_size=2, max_size=2, unique=True))
        rows = list(OUTPUTS.rows)
        rows[i], rows[j] = rows[j], rows[i]
        outputs = RowList(3, tuple(rows))
    elif what in SCALAR_FIELDS:
        delta = Scalar.from_int(data.draw(st.integers(1, 2**64)))
        proof = replace(PROOF, **{what: getattr(PROOF, what) + delta})
    else:
        items = list(getattr(PROOF, what))
        pos = data.draw(st.integers(0, len(items) - 1))
        m = data.draw(st.integers(1, 2**64))
        items[pos] = items[pos] + (Scalar.from_int(m) if isinstance(items[pos], Scalar) else small_multiple(m))
        proof = replace(PROOF, **{what: tuple(items)})
    rejected("challenge", outputs=outputs, proof=proof)


@settings(max_examples=20, deadline=None)
@given(n=st.integers(1, 30), seed=st.binary(min_size=4, max_size=4))
def test_random_permutations_are_permutations(n: int, seed: bytes) -> None:
    assert sorted(random_permutation(n, SeededRng(seed))) == list(range(n))


# -- why the output list must be in the hash (weak Fiat–Shamir) ---------------------------

WEAK = b"\x00" * 32  # the weak variant hashes a constant where the output list's digest goes


def forge_without_output_binding() -> tuple[RowList, ShuffleProof]:
    """A mixer that replaces the last output row *after* seeing the challenge.

    It commits to T_4 at random, learns c (which, in the weak variant, does not
    depend on the outputs), and then solves the T_4 equations for the last
    row's ciphertexts.  The resulting row is no re-encryption of any input.
    """
    rng = SeededRng(b"weak-forgery")
    n, k = len(INPUTS), INPUTS.width
    gens = derive_generators(CTX.fingerprint, n)
    honest, witness = gen_shuffle(KEY, INPUTS, rng)
    perm = witness.permutation
    r = [Scalar.random(rng) for _ in range(n)]
    commitments = [G] * n
    for i, j in enumerate(perm):
        commitments[j] = Point.base_mul(r[j]) + gens.hs[i]
    d_in = INPUTS.digest()
    u = _challenges(CTX, KEY, d_in, WEAK, commitments)
    u_perm = [u[j] for j in perm]
    r_hat = [Scalar.random(rng) for _ in range(n)]
    chain, prev = [], gens.h0
    for i in range(n):
        prev = Point.base_mul(r_hat[i]) + prev * u_perm[i]
        chain.append(prev)
    w1, w2, w3 = (Scalar.random(rng) for _ in range(3))
    w_hat = [Scalar.random(rng) for _ in range(n)]
    w_prime = [Scalar.random(rng) for _ in range(n)]
    t3 = Point.base_mul(w3)
    for h, w in zip(gens.hs, w_prime, strict=True):
        t3 = t3 + h * w
    t4 = [(Point.base_mul(Scalar.random(rng)), Point.base_mul(Scalar.random(rng))) for _ in range(k)]
    t_hat, prev = [], gens.h0
    for i in range(n):
        t_hat.append(Point.base_mul(w_hat[i]) + prev * w_prime[i])
        prev = chain[i]
    c = _challenge(
        CTX, KEY, d_in, WEAK, commitments, chain, Point.base_mul(w1), Point.base_mul(w2), t3, t4, t_hat
    )
    s_prime = [w_prime[i] + c * u_perm[i] for i in range(n)]
    s4 = [Scalar.random(rng) for _ in range(k)]
    last = []
    for col in range(k):
        a_tilde = b_tilde = None
        for j in range(n):
            a, b = INPUTS.rows[j][col].alpha * u[j], INPUTS.rows[j][col].beta * u[j]
            a_tilde = a if a_tilde is None else a_tilde + a
            b_tilde = b if b_tilde is None else b_tilde + b
        acc_a = t4[col][0] + Point.base_mul(s4[col]) + a_tilde * c
        acc_b = t4[col][1] + KEY * s4[col] + b_tilde * c
        for i in range(n - 1):
            acc_a = acc_a - honest.rows[i][col].alpha * s_prime[i]
            acc_b = acc_b - honest.rows[i][col].beta * s_prime[i]
        inv = s_prime[n - 1].inverse()
        last.append(Ciphertext(acc_a * inv, acc_b * inv))
    forged_rows = with_row(honest, n - 1, last)
    v = [Scalar.from_int(1)] * n
    for i in range(n - 1, 0, -1):
        v[i - 1] = u_perm[i] * v[i]

    def total(xs):
        acc = xs[0]
        for x in xs[1:]:
            acc = acc + x
        return acc

    proof = ShuffleProof(
        commitments=tuple(commitments),
        chain=tuple(chain),
        challenge=c,
        s1=w1 + c * total(r),
        s2=w2 + c * total([a * b for a, b in zip(r_hat, v, strict=True)]),
        s3=w3 + c * total([a * b for a, b in zip(r, u, strict=True)]),
        s4=tuple(s4),
        s_hat=tuple(w_hat[i] + c * r_hat[i] for i in range(n)),
        s_prime=tuple(s_prime),
    )
    return forged_rows, proof


def test_the_weak_variants_forgery_is_rejected(monkeypatch) -> None:
    forged, proof = forge_without_output_binding()
    # The last row decrypts to no vote at all: a ballot has been replaced.
    table = {small_multiple(m).raw for m in range(200)}
    assert not any(decrypt_to_point(SECRET, ct).raw in table for ct in forged.rows[-1])
    # The strong proof (output list in both hashes) rejects it ...
    rejected("challenge", outputs=forged, proof=proof)
    # ... while a verifier that left the output list out of the hash accepts it.
    original = RowList.digest
    monkeypatch.setattr(RowList, "digest", lambda self: WEAK if self is forged else original(self))
    verify_shuffle(CTX, KEY, INPUTS, forged, proof)


# -- the tampered variants, on the published vector ---------------------------------


def _vector_statement():
    v = VECTOR["shuffle"]
    key = Point.from_json(v["election_key"])
    inputs = RowList.from_json(v["inputs"])
    outputs = RowList.from_json(v["outputs"])
    proof = ShuffleProof.from_json(v["proof"], rows=len(inputs), width=inputs.width)
    ctx = ShuffleContext(
        bytes.fromhex(v["fingerprint"]), v["question"], v["mixer"], Point.from_json(v["mixer_key"]).raw
    )
    return ctx, key, inputs, outputs, proof


def _tamper(name: str):
    ctx, key, inputs, outputs, proof = _vector_statement()
    gens = derive_generators(ctx.fingerprint, len(inputs))
    if name == "one ciphertext changed":
        row = list(outputs.rows[1])
        row[2] = Ciphertext(row[2].alpha, row[2].beta + G)
        outputs = with_row(outputs, 1, row)
    elif name == "two rows swapped after proving":
        rows = list(outputs.rows)
        rows[0], rows[2] = rows[2], rows[0]
        outputs = RowList(outputs.width, tuple(rows))
    elif name == "a proof scalar changed":
        proof = replace(proof, s3=proof.s3 + Scalar.from_int(1))
    elif name == "a generator changed":
        gens = replace(gens, hs=(gens.hs[0] + G, *gens.hs[1:]))
    elif name == "a row width changed":
        inputs = RowList(2, tuple(r[:2] for r in inputs.rows))
        outputs = RowList(2, tuple(r[:2] for r in outputs.rows))
    return ctx, key, inputs, outputs, proof, gens


@pytest.mark.parametrize(
    ("name", "check"),
    [
        ("one ciphertext changed", "challenge"),
        ("two rows swapped after proving", "challenge"),
        ("a proof scalar changed", "challenge"),
        ("a generator changed", "challenge"),
        ("a row width changed", "shape"),
    ],
)
def test_tampered_vector_is_rejected_by_the_named_check(name: str, check: str) -> None:
    ctx, key, inputs, outputs, proof, gens = _tamper(name)
    with pytest.raises(InvalidShuffle) as info:
        verify_shuffle(ctx, key, inputs, outputs, proof, generators=gens)
    assert info.value.detail["check"] == check


def test_untampered_vector_passes_with_explicit_generators() -> None:
    ctx, key, inputs, outputs, proof = _vector_statement()
    verify_shuffle(ctx, key, inputs, outputs, proof, generators=derive_generators(ctx.fingerprint, 4))
