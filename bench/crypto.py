"""Ballot encryption and verification cost against the libsodium floor.

For a ballot of one question with 5 options (choose 1) and one of 3 questions x
10 options (choose 1 to 3) this prints:

* encrypt time per ballot, and verify time per ballot, both for a parsed
  ballot (``verify_ballot``) and from the wire (JSON bytes -> parse -> validate
  every point -> ``verify_ballot``), which is what the server and verifier do;
* the count of each libsodium operation each path makes;
* the operation-cost floor: sum over operations of count x measured cost of
  that operation alone, and the ratio measured / floor (target for
  verification: <= 1.3).

``floor_per_ballot(shape)`` is imported by ``bench/server.py`` and
``bench/verifier.py`` so every benchmark compares against the same floor.

Run: ``.venv/bin/python bench/crypto.py [--ballots N]``.
"""

from __future__ import annotations

import argparse
import secrets
import statistics
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from types import SimpleNamespace
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from nacl import bindings  # noqa: E402

import evote.hashing as hashing_module  # noqa: E402
import evote.signing as signing_module  # noqa: E402
from evote.ballot import Ballot, encrypt_ballot, verify_ballot  # noqa: E402
from evote.credentials import CredentialList, issue_credentials  # noqa: E402
from evote.encoding import canonical_json, parse_json  # noqa: E402
from evote.fingerprint import ElectionContext  # noqa: E402
from evote.group import G, Point, Scalar, count_operations  # noqa: E402
from evote.manifest import Manifest  # noqa: E402

SHAPES = {"1x5": (1, 5, 1, 1), "3x10": (3, 10, 1, 3)}


def make_manifest(questions: int, options: int, lo: int, hi: int) -> Manifest:
    return Manifest.from_json(
        {
            "election_id": f"bench-{questions}x{options}",
            "title": "Benchmark",
            "questions": [
                {
                    "id": f"q{q}",
                    "title": f"Question {q}",
                    "kind": "choice",
                    "options": [f"Option {o}" for o in range(options)],
                    "min": lo,
                    "max": hi,
                }
                for q in range(questions)
            ],
        }
    )


def make_context(shape: str, n_voters: int = 4) -> tuple[ElectionContext, list]:
    q, o, lo, hi = SHAPES[shape]
    manifest = make_manifest(q, o, lo, hi)
    joint_key = Point.base_mul(Scalar.random(secrets.token_bytes))
    creds = issue_credentials(n_voters, secrets.token_bytes)
    credentials = CredentialList.of([c.verify_key for c in creds])
    ctx = ElectionContext.build(manifest, joint_key, [[joint_key]], credentials)
    return ctx, creds


def selections_for(ctx: ElectionContext, i: int) -> list[list[int]]:
    out = []
    for question in ctx.manifest.questions:
        n = len(question.options)
        marks = max(question.min, 1)
        row = [0] * n
        for k in range(marks):
            row[(i + k) % n] = 1
        out.append(row)
    return out


# -- operation costs -------------------------------------------------------------


def _time(fn: Callable[[], Any], n: int) -> float:
    fn()
    t0 = time.perf_counter()
    for _ in range(n):
        fn()
    return (time.perf_counter() - t0) / n


def measure_op_costs(n: int = 400) -> dict[str, float]:
    """Seconds per call of each libsodium operation, alone."""
    rnd = secrets.token_bytes
    s = Scalar.random(rnd).raw
    t = Scalar.random(rnd).raw
    p = Point.base_mul(Scalar.random(rnd)).raw
    q = (Point(p) + G).raw
    sk = signing_module.SigningKey.generate(rnd)
    msg = rnd(2000)
    sig = sk.sign(b"bench", [msg])
    vk = sk.verify_key
    transcript_600 = rnd(600)
    return {
        "add": _time(lambda: bindings.crypto_core_ed25519_add(p, q), n),
        "sub": _time(lambda: bindings.crypto_core_ed25519_sub(p, q), n),
        "is_valid_point": _time(lambda: bindings.crypto_core_ed25519_is_valid_point(p), n),
        "scalarmult": _time(lambda: bindings.crypto_scalarmult_ed25519_noclamp(s, p), n),
        "scalarmult_base": _time(lambda: bindings.crypto_scalarmult_ed25519_base_noclamp(s), n),
        "scalar_add": _time(lambda: bindings.crypto_core_ed25519_scalar_add(s, t), n),
        "scalar_sub": _time(lambda: bindings.crypto_core_ed25519_scalar_sub(s, t), n),
        "scalar_mul": _time(lambda: bindings.crypto_core_ed25519_scalar_mul(s, t), n),
        "scalar_negate": _time(lambda: bindings.crypto_core_ed25519_scalar_negate(s), n),
        "scalar_invert": _time(lambda: bindings.crypto_core_ed25519_scalar_invert(s), n),
        "scalar_reduce": _time(lambda: bindings.crypto_core_ed25519_scalar_reduce(msg[:64]), n),
        "sha512": _time(lambda: bindings.crypto_hash_sha512(transcript_600), n),
        "sha256": _time(lambda: bindings.crypto_hash_sha256(transcript_600), n),
        "ed25519_verify": _time(lambda: vk.verify(b"bench", [msg], sig), n),
        "ed25519_sign": _time(lambda: sk.sign(b"bench", [msg]), n),
    }


@contextmanager
def count_all() -> Iterator[Counter]:
    """Count group operations, hashes and Ed25519 signatures/verifications."""
    counts: Counter = Counter()

    def counted(name: str, fn: Callable[..., Any]) -> Callable[..., Any]:
        def wrapper(*a: Any) -> Any:
            counts[name] += 1
            return fn(*a)

        return wrapper

    hashing_bindings = hashing_module.bindings
    hashing_module.bindings = SimpleNamespace(
        crypto_hash_sha512=counted("sha512", bindings.crypto_hash_sha512),
        crypto_hash_sha256=counted("sha256", bindings.crypto_hash_sha256),
        crypto_core_ed25519_scalar_reduce=counted(
            "scalar_reduce", bindings.crypto_core_ed25519_scalar_reduce
        ),
    )
    verify_orig = signing_module.VerifyKey.verify
    sign_orig = signing_module.SigningKey.sign
    signing_module.VerifyKey.verify = counted("ed25519_verify", verify_orig)  # type: ignore[method-assign]
    signing_module.SigningKey.sign = counted("ed25519_sign", sign_orig)  # type: ignore[method-assign]
    try:
        with count_operations() as group_counts:
            yield counts
        counts.update(group_counts)
    finally:
        hashing_module.bindings = hashing_bindings
        signing_module.VerifyKey.verify = verify_orig  # type: ignore[method-assign]
        signing_module.SigningKey.sign = sign_orig  # type: ignore[method-assign]


def floor_of(counts: Counter, costs: dict[str, float]) -> float:
    missing = set(counts) - set(costs)
    if missing:
        raise KeyError(f"no measured cost for {sorted(missing)}")
    return sum(counts[name] * costs[name] for name in counts)


def wire_verify(ctx: ElectionContext, data: bytes) -> int:
    """What the server does with a ballot: parse, validate, verify."""
    ballot = Ballot.from_json(parse_json(data), ctx.manifest)
    return verify_ballot(ctx, ballot)


def floor_per_ballot(shape: str = "1x5", costs: dict[str, float] | None = None) -> dict[str, Any]:
    """The libsodium floor of verifying one ballot from the wire, in seconds."""
    costs = costs or measure_op_costs()
    ctx, creds = make_context(shape)
    ballot, _ = encrypt_ballot(ctx, creds[0], selections_for(ctx, 0), secrets.token_bytes)
    data = canonical_json(ballot.to_json())
    with count_all() as counts:
        wire_verify(ctx, data)
    return {"floor_s": floor_of(counts, costs), "counts": dict(counts), "costs": costs}


def run_shape(shape: str, n: int, costs: dict[str, float]) -> dict[str, Any]:
    ctx, creds = make_context(shape)
    rnd = secrets.token_bytes
    # operation counts of one encryption and one verification
    with count_all() as enc_counts:
        ballot, _ = encrypt_ballot(ctx, creds[0], selections_for(ctx, 0), rnd)
    data = canonical_json(ballot.to_json())
    with count_all() as ver_counts:
        verify_ballot(ctx, ballot)
    with count_all() as wire_counts:
        wire_verify(ctx, data)

    enc_times, ballots = [], []
    for i in range(n):
        t0 = time.perf_counter()
        b, _ = encrypt_ballot(ctx, creds[i % len(creds)], selections_for(ctx, i), rnd)
        enc_times.append(time.perf_counter() - t0)
        ballots.append(b)
    wires = [canonical_json(b.to_json()) for b in ballots]
    ver_times, wire_times = [], []
    for b, w in zip(ballots, wires, strict=True):
        t0 = time.perf_counter()
        verify_ballot(ctx, b)
        ver_times.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        wire_verify(ctx, w)
        wire_times.append(time.perf_counter() - t0)
    return {
        "shape": shape,
        "bytes": len(data),
        "encrypt_s": statistics.median(enc_times),
        "verify_s": statistics.median(ver_times),
        "wire_verify_s": statistics.median(wire_times),
        "encrypt_floor_s": floor_of(enc_counts, costs),
        "verify_floor_s": floor_of(ver_counts, costs),
        "wire_floor_s": floor_of(wire_counts, costs),
        "encrypt_counts": enc_counts,
        "verify_counts": ver_counts,
        "wire_counts": wire_counts,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description="ballot crypto vs libsodium floor")
    parser.add_argument("--ballots", type=int, default=40, help="ballots per shape (default 40)")
    args = parser.parse_args()
    costs = measure_op_costs()
    print("libsodium operation costs (µs per call):")
    for name, cost in costs.items():
        print(f"  {name:16s} {cost * 1e6:9.2f}")
    for shape in SHAPES:
        r = run_shape(shape, args.ballots, costs)
        print(f"\nballot {shape} ({r['bytes']} bytes canonical JSON), median of {args.ballots}:")
        for label, key, counts in (
            ("encrypt+prove+sign", "encrypt", r["encrypt_counts"]),
            ("verify (parsed)", "verify", r["verify_counts"]),
            ("verify (from wire)", "wire_verify", r["wire_counts"]),
        ):
            t = r[f"{key}_s"]
            fl = r[f"{key.replace('wire_verify', 'wire')}_floor_s"]
            ops = ", ".join(f"{k}={v}" for k, v in sorted(counts.items()))
            print(
                f"  {label:20s} {t * 1e3:8.2f} ms   floor {fl * 1e3:8.2f} ms   "
                f"ratio {t / fl:5.2f}   ({1 / t:7.1f} ballots/s/core)"
            )
            print(f"      ops: {ops}")


if __name__ == "__main__":
    main()
