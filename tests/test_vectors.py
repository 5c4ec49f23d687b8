"""The shared test vectors: regenerate identically, and each one holds.

The browser booth runs the same files through its own implementation
(`node --test`), so these are the byte-for-byte contract between the two.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from evote.drbg import SeededRng
from evote.elgamal import Ciphertext, encrypt
from evote.errors import InvalidPoint, InvalidScalar
from evote.fingerprint import ElectionContext
from evote.group import Point, Scalar, small_multiple
from evote.hashing import hash_to_scalar, tagged_hash, transcript
from evote.manifest import Manifest
from evote.proofs import (
    DleqProof,
    RangeProof,
    SchnorrProof,
    verify_dleq,
    verify_range,
    verify_schnorr,
)

ROOT = Path(__file__).resolve().parent.parent
VECTORS = ROOT / "tests" / "vectors"


def load(name: str) -> dict:
    return json.loads((VECTORS / name).read_text())


def test_vectors_are_regenerated_identically() -> None:
    proc = subprocess.run(
        [sys.executable, str(ROOT / "tools" / "make_vectors.py"), "--check"],
        capture_output=True, text=True, check=False,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_group_vectors() -> None:
    v = load("group.json")
    for case in v["base_mul"]:
        assert Point.base_mul(Scalar.from_json(case["scalar"])).to_json() == case["point"]
    for case in v["small_multiples"]:
        assert small_multiple(case["m"]).raw.hex() == case["point"]
    for case in v["invalid_points"]:
        with pytest.raises(InvalidPoint):
            Point.from_bytes(bytes.fromhex(case["hex"]))
    for case in v["invalid_scalars"]:
        with pytest.raises(InvalidScalar):
            Scalar.from_bytes(bytes.fromhex(case["hex"]))
    for case in v["valid_scalars"]:
        Scalar.from_bytes(bytes.fromhex(case["hex"]))


def test_hashing_vectors() -> None:
    v = load("hashing.json")
    for case in v["cases"]:
        tag = case["tag"].encode()
        fields = [bytes.fromhex(f) for f in case["fields_hex"]]
        assert transcript(tag, fields).hex() == case["transcript_hex"]
        assert tagged_hash(tag, *fields).hex() == case["tagged_hash_hex"]
        assert hash_to_scalar(tag, *fields).to_json() == case["hash_to_scalar"]
    drbg = SeededRng(bytes.fromhex(v["drbg"]["seed_hex"]))
    assert drbg(100).hex() == v["drbg"]["first_100_bytes_hex"]
    rng = SeededRng(bytes.fromhex(v["random_scalars"]["seed_hex"]))
    assert [Scalar.random(rng).to_json() for _ in v["random_scalars"]["scalars"]] == v["random_scalars"]["scalars"]


def test_elgamal_vectors() -> None:
    v = load("elgamal.json")
    key = Point.from_json(v["key"])
    assert Point.base_mul(Scalar.from_json(v["secret"])) == key
    for case in v["encryptions"]:
        ct = encrypt(key, case["m"], Scalar.from_json(case["r"]))
        assert ct == Ciphertext.from_json(case["ciphertext"])


def test_proof_vectors_verify() -> None:
    v = load("proofs.json")
    ctx = [bytes.fromhex(c) for c in v["ctx_hex"]]
    key = Point.from_json(v["key"])
    verify_schnorr(ctx, key, SchnorrProof.from_json(v["schnorr"]["proof"]))
    d = v["dleq"]
    verify_dleq(ctx, Point.from_json(d["x"]), Point.from_json(d["base"]), Point.from_json(d["d"]),
                DleqProof.from_json(d["proof"]))
    for case in v["range"]:
        ct = Ciphertext.from_json(case["ciphertext"])
        verify_range(ctx, key, ct, case["lo"], case["hi"], RangeProof.from_json(case["proof"]))


def test_ranked_ballot_vector_verifies_and_its_tampered_forms_do_not() -> None:
    """tests/vectors/ballot_ranked.json (ranked and graded questions, mixers in the
    manifest): the booth reproduces it byte for byte (test/ranked.test.js); here
    Python reads it back and checks the ballot, the audit, and what tampering does."""
    from evote.ballot import AuditedBallot, Ballot, verify_audit, verify_ballot
    from evote.errors import AuditMismatch, InvalidSignature, SchemaError
    from tools.ballot_vectors import ranked_ballot_vectors

    v = load("ballot_ranked.json")
    manifest = Manifest.from_json(v["manifest"])
    assert manifest.canonical().hex() == v["manifest_canonical_hex"]
    assert [q.kind for q in manifest.questions] == ["ranked", "ranked", "grades", "choice"]
    assert not any(q.needs_sum_proof for q in manifest.questions[:3])
    # The vector's credential list is rebuilt by the generator; its digest is in the file.
    assert ranked_ballot_vectors()["credentials_digest_hex"] == v["credentials_digest_hex"]
    ballot = Ballot.from_json(v["ballot"], manifest)
    assert ballot.tracking_code == v["tracking_code"]
    assert all("sum_proof" not in a for a in v["ballot"]["answers"][:3])
    assert len(v["ballot"]["answers"][0]["proofs"][0]) == 5  # one branch per rank 0..4
    assert len(v["ballot"]["answers"][2]["proofs"][0]) == 4  # one branch per grade 0..3

    swapped = json.loads(json.dumps(v["ballot"]))
    row = swapped["answers"][0]["choices"]
    row[0], row[1] = row[1], row[0]
    lying = json.loads(json.dumps(v["audited"]))
    lying["selections"][0] = [1, 2, 3, 0]
    extra = json.loads(json.dumps(v["ballot"]))
    extra["answers"][0]["sum_proof"] = extra["answers"][0]["proofs"][0]
    with pytest.raises(SchemaError):
        Ballot.from_json(extra, manifest)
    ctx = _ranked_context(v, manifest)
    assert ctx.fingerprint.hex() == v["fingerprint_hex"]
    verify_ballot(ctx, ballot)
    verify_audit(ctx, AuditedBallot.from_json(v["audited"], manifest))
    with pytest.raises(InvalidSignature):
        verify_ballot(ctx, Ballot.from_json(swapped, manifest))
    with pytest.raises(AuditMismatch):
        verify_audit(ctx, AuditedBallot.from_json(lying, manifest))


def _ranked_context(v: dict, manifest: Manifest) -> ElectionContext:
    """The vector's election context, rebuilt the way tools/ballot_vectors.py makes it."""
    from evote.credentials import CredentialList, PublicCredential
    from evote.signing import SigningKey
    from tools.ballot_vectors import RANKED_SEED

    rng = SeededRng(RANKED_SEED)
    for _ in range(2):
        SigningKey.generate(rng)  # the mixers
    for _ in range(4):
        Scalar.random(rng)  # the trustees' coefficients (their commitments are in the file)
    voters = [SigningKey.generate(rng) for _ in range(2)]
    credentials = CredentialList(tuple(PublicCredential(k.verify_key, 1) for k in voters))
    assert credentials.digest().hex() == v["credentials_digest_hex"]
    commitments = [[Point.from_json(c) for c in row] for row in v["trustee_commitments"]]
    return ElectionContext.build(manifest, Point.from_json(v["joint_key"]), commitments, credentials)
