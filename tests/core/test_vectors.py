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
from evote.group import Point, Scalar, small_multiple
from evote.hashing import hash_to_scalar, tagged_hash, transcript
from evote.proofs import (
    DleqProof,
    RangeProof,
    SchnorrProof,
    verify_dleq,
    verify_range,
    verify_schnorr,
)

ROOT = Path(__file__).resolve().parents[2]
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
