"""Regenerate tests/vectors/*.json: deterministic vectors for every encoding,
hash, ciphertext, proof and a full small ballot.

Run ``python tools/make_vectors.py`` (or ``make vectors``); never edit the JSON by
hand.  ``--check`` exits non-zero if the files on disk differ from what this
script produces (the test suite runs that).  All randomness comes from
``evote.drbg.SeededRng`` with the seed written into each vector, so another
implementation (the browser booth) can reproduce every byte.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from nacl import bindings  # noqa: E402

from evote.drbg import SeededRng  # noqa: E402
from evote.elgamal import encrypt  # noqa: E402
from evote.group import SMALL_ORDER_POINTS, G, L, P, Point, Scalar, small_multiple  # noqa: E402
from evote.hashing import hash_to_scalar, tagged_hash, transcript  # noqa: E402
from evote.proofs import prove_dleq, prove_range, prove_schnorr  # noqa: E402

OUT = ROOT / "tests" / "vectors"


def hx(b: bytes) -> str:
    return b.hex()


def group_vectors() -> dict:
    rng = SeededRng(b"vectors/group")
    mults = []
    for _ in range(4):
        k = Scalar.random(rng)
        mults.append({"scalar": k.to_json(), "point": Point.base_mul(k).to_json()})
    small = [{"m": m, "point": small_multiple(m).raw.hex()} for m in (0, 1, 2, 3, 10, 1000)]
    invalid_points = []
    for i, enc in enumerate(SMALL_ORDER_POINTS):
        invalid_points.append({"hex": hx(enc), "why": "identity" if i == 0 else "small order"})
    order2 = SMALL_ORDER_POINTS[1]
    invalid_points.append(
        {"hex": hx(bindings.crypto_core_ed25519_add(G.raw, order2)), "why": "torsion component (CVE-2025-69277)"}
    )
    for t in SMALL_ORDER_POINTS[2:]:
        invalid_points.append(
            {"hex": hx(bindings.crypto_core_ed25519_add(small_multiple(5).raw, t)), "why": "torsion component"}
        )
    for y in (P, P + 1, 2**255 - 1):
        invalid_points.append({"hex": hx(y.to_bytes(32, "little")), "why": "non-canonical"})
    invalid_points.append({"hex": hx((2).to_bytes(32, "little")), "why": "not on curve"})
    invalid_points.append({"hex": "00" * 31, "why": "wrong length"})
    invalid_scalars = [
        {"hex": hx(n.to_bytes(32, "little")), "why": "not below L"} for n in (L, L + 1, 2**256 - 1)
    ]
    invalid_scalars.append({"hex": "00" * 33, "why": "wrong length"})
    return {
        "description": "Point and scalar encodings. 'point' values are base64url of 32 bytes.",
        "generator": G.to_json(),
        "base_mul": mults,
        "small_multiples": small,
        "valid_scalars": [{"hex": hx((L - 1).to_bytes(32, "little"))}, {"hex": "00" * 32}],
        "invalid_points": invalid_points,
        "invalid_scalars": invalid_scalars,
    }


def hashing_vectors() -> dict:
    cases = [
        (b"tracking", [b""]),
        (b"tracking", [b"ab", b"c"]),
        (b"tracking", [b"a", b"bc"]),
        (b"schnorr", [bytes(range(32)), b"\xff" * 40]),
        (b"range", []),
    ]
    out = []
    for tag, fields in cases:
        out.append(
            {
                "tag": tag.decode(),
                "fields_hex": [hx(f) for f in fields],
                "transcript_hex": hx(transcript(tag, fields)),
                "tagged_hash_hex": hx(tagged_hash(tag, *fields)),
                "hash_to_scalar": hash_to_scalar(tag, *fields).to_json(),
            }
        )
    drbg = SeededRng(b"vectors/drbg")
    return {
        "description": "transcript = lp('evote/v1/edwards25519') || lp(tag) || lp(field)...; lp = 8-byte BE length || bytes",
        "cases": out,
        "drbg": {"seed_hex": hx(b"vectors/drbg"), "first_100_bytes_hex": hx(drbg(100))},
        "random_scalars": {
            "seed_hex": hx(b"vectors/scalars"),
            "scalars": [s.to_json() for s in _scalars(b"vectors/scalars", 4)],
        },
    }


def _scalars(seed: bytes, n: int) -> list[Scalar]:
    rng = SeededRng(seed)
    return [Scalar.random(rng) for _ in range(n)]


def elgamal_vectors() -> dict:
    rng = SeededRng(b"vectors/elgamal")
    x = Scalar.random(rng)
    key = Point.base_mul(x)
    cases = []
    for m in (0, 1, 2, 5):
        r = Scalar.random(rng)
        cases.append({"m": m, "r": r.to_json(), "ciphertext": encrypt(key, m, r).to_json()})
    return {"secret": x.to_json(), "key": key.to_json(), "encryptions": cases}


def proof_vectors() -> dict:
    seed = b"vectors/proofs"
    rng = SeededRng(seed)
    x = Scalar.random(rng)
    key = Point.base_mul(x)
    ctx = [b"vector-context", bytes(32)]
    schnorr = prove_schnorr(ctx, x, rng)
    base = Point.base_mul(Scalar.random(rng))
    d, dleq = prove_dleq(ctx, x, base, rng)
    ranges = []
    for m, lo, hi in ((0, 0, 1), (1, 0, 1), (3, 1, 4)):
        r = Scalar.random(rng)
        ct = encrypt(key, m, r)
        ranges.append(
            {"m": m, "lo": lo, "hi": hi, "r": r.to_json(), "ciphertext": ct.to_json(),
             "proof": prove_range(ctx, key, ct, m, r, lo, hi, rng).to_json()}
        )
    return {
        "description": "Proofs made with SeededRng(seed); proving consumes the stream in the order of tools/make_vectors.py",
        "seed_hex": hx(seed),
        "ctx_hex": [hx(c) for c in ctx],
        "secret": x.to_json(),
        "key": key.to_json(),
        "schnorr": {"public": key.to_json(), "proof": schnorr.to_json()},
        "dleq": {"x": key.to_json(), "base": base.to_json(), "d": d.to_json(), "proof": dleq.to_json()},
        "range": ranges,
    }


GENERATORS: dict[str, Callable[[], dict]] = {
    "group.json": group_vectors,
    "hashing.json": hashing_vectors,
    "elgamal.json": elgamal_vectors,
    "proofs.json": proof_vectors,
}


def _register_ballot_vectors() -> None:
    """Ballot vectors need the manifest/ballot layer; added when it is importable."""
    try:
        from tools.ballot_vectors import ballot_vectors, ranked_ballot_vectors
    except ImportError:
        return
    GENERATORS["ballot.json"] = ballot_vectors
    GENERATORS["ballot_ranked.json"] = ranked_ballot_vectors


def render(gen: Callable[[], dict]) -> str:
    return json.dumps(gen(), indent=1, sort_keys=True) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="compare instead of writing")
    args = parser.parse_args()
    _register_ballot_vectors()
    OUT.mkdir(parents=True, exist_ok=True)
    stale = []
    for name, gen in GENERATORS.items():
        text = render(gen)
        path = OUT / name
        if args.check:
            if not path.exists() or path.read_text() != text:
                stale.append(name)
        else:
            path.write_text(text)
    if stale:
        print("stale vectors (run tools/make_vectors.py):", ", ".join(stale))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
