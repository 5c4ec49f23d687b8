"""Regenerate tests/vectors/mixnet.json: the mixnet's generators and a shuffle
proof of a small list, known-answer vectors for an outside implementation.

Run ``python tools/make_mixnet_vectors.py``; ``--check`` exits non-zero if the
file on disk differs (tests/core/test_shuffle.py runs that).  Randomness comes from
``evote.drbg.SeededRng`` with the seed written into the vector.  Points and
scalars are base64url as in every evote document; generators also in hex.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from evote.drbg import SeededRng  # noqa: E402
from evote.elgamal import encrypt_random  # noqa: E402
from evote.generators import derive_generators  # noqa: E402
from evote.group import Point, Scalar  # noqa: E402
from evote.shuffle import RowList, ShuffleContext, gen_shuffle, prove_shuffle  # noqa: E402
from evote.signing import SigningKey  # noqa: E402

OUT = ROOT / "tests" / "vectors" / "mixnet.json"


def vectors() -> dict:
    seeds = [bytes(32), bytes(range(32))]
    generators = []
    for seed in seeds:
        gens = derive_generators(seed, 4)
        generators.append(
            {
                "seed": seed.hex(),
                "points": [{"index": 0, "hex": gens.h0.raw.hex()}]
                + [{"index": i + 1, "hex": h.raw.hex()} for i, h in enumerate(gens.hs)],
            }
        )
    rng_seed = b"vectors/mixnet/shuffle"
    rng = SeededRng(rng_seed)
    secret = Scalar.random(rng)
    key = Point.base_mul(secret)
    mixer = SigningKey.generate(rng)
    fingerprint = bytes(range(32))
    plain = [[1, 2, 0], [2, 1, 3], [3, 0, 1], [0, 3, 2]]
    inputs = RowList.of([[encrypt_random(key, m, rng)[0] for m in row] for row in plain])
    outputs, witness = gen_shuffle(key, inputs, rng)
    ctx = ShuffleContext(fingerprint, 0, 1, mixer.verify_key.raw)
    proof = prove_shuffle(ctx, key, inputs, outputs, witness, rng)
    return {
        "generators": generators,
        "shuffle": {
            "rng_seed": rng_seed.decode(),
            "secret_key": secret.to_json(),
            "election_key": key.to_json(),
            "fingerprint": fingerprint.hex(),
            "question": 0,
            "mixer": 1,
            "mixer_key": mixer.verify_key.to_json(),
            "plaintexts": plain,
            "permutation": list(witness.permutation),
            "input_digest": inputs.digest().hex(),
            "output_digest": outputs.digest().hex(),
            "inputs": inputs.to_json(),
            "outputs": outputs.to_json(),
            "proof": proof.to_json(),
        },
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--check", action="store_true", help="compare instead of writing")
    args = parser.parse_args()
    text = json.dumps(vectors(), indent=1, sort_keys=True) + "\n"
    if args.check:
        if not OUT.exists() or OUT.read_text() != text:
            print(f"{OUT.relative_to(ROOT)} differs from what this script produces", file=sys.stderr)
            return 1
        return 0
    OUT.write_text(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
