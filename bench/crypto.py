"""Ballot encryption and verification cost against the libsodium floor.

For a ballot of one question with 5 options (choose 1) and one of 3 questions x
10 options (choose 1 to 3) this prints:

* encrypt time per ballot, and verify time per ballot, both for a parsed
  ballot (``verify_ballot``) and from the wire (JSON bytes -> parse -> validate
  every point -> ``verify_ballot``), which is what the server and verifier do;
* the count of each libsodium operation each path makes;
* the operation-cost floor: the time of making exactly the libsodium calls
  that ballot's encryption or verification made (recorded with their
  arguments, replayed right after the timed run so both see the same machine:
  count x cost per operation, with each cost measured on the very inputs), and
  the ratio measured / floor (target for verification: <= 1.3).  For
  reference it also prints count x the cost of each operation timed alone.

``bench/verifier.py`` imports ``floor_per_ballot(shape)`` and
``bench/server.py`` imports ``wire_verify_cost(shape)`` (the same
verification and the same replayed floor) and ``wire_ballots``, so every
benchmark compares against the same floor.

Run: ``.venv/bin/python bench/crypto.py [--ballots N]``.
"""

from __future__ import annotations

import argparse
import secrets
import statistics
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from types import SimpleNamespace
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from nacl import bindings  # noqa: E402

import evote.group as group_module  # noqa: E402
import evote.hashing as hashing_module  # noqa: E402
import evote.signing as signing_module  # noqa: E402
from evote.ballot import Ballot, encrypt_ballot, verify_ballot  # noqa: E402
from evote.credentials import CredentialList, issue_credentials  # noqa: E402
from evote.encoding import canonical_json, parse_json  # noqa: E402
from evote.fingerprint import ElectionContext  # noqa: E402
from evote.group import G, Point, Scalar  # noqa: E402
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


Call = tuple[str, Callable[..., Any], tuple]


@contextmanager
def recording() -> Iterator[list[Call]]:
    """Record every libsodium call (group operations, hashes, Ed25519) with
    its arguments, so the floor can be timed by replaying exactly those calls."""
    calls: list[Call] = []

    def recorded(name: str, fn: Callable[..., Any]) -> Callable[..., Any]:
        def wrapper(*a: Any) -> Any:
            calls.append((name, fn, a))
            return fn(*a)

        return wrapper

    hashing_bindings = hashing_module.bindings
    verify_orig = signing_module.VerifyKey.verify
    sign_orig = signing_module.SigningKey.sign
    hashing_module.bindings = SimpleNamespace(
        crypto_hash_sha512=recorded("sha512", bindings.crypto_hash_sha512),
        crypto_hash_sha256=recorded("sha256", bindings.crypto_hash_sha256),
        crypto_core_ed25519_scalar_reduce=recorded(
            "scalar_reduce", bindings.crypto_core_ed25519_scalar_reduce
        ),
    )
    signing_module.VerifyKey.verify = recorded("ed25519_verify", verify_orig)  # type: ignore[method-assign]
    signing_module.SigningKey.sign = recorded("ed25519_sign", sign_orig)  # type: ignore[method-assign]
    try:
        with group_module.instrumented(recorded):
            yield calls
    finally:
        hashing_module.bindings = hashing_bindings
        signing_module.VerifyKey.verify = verify_orig  # type: ignore[method-assign]
        signing_module.SigningKey.sign = sign_orig  # type: ignore[method-assign]


def counts_of(calls: list[Call]) -> Counter:
    return Counter(name for name, _, _ in calls)


def replay_time(calls: list[Call]) -> float:
    """Seconds to make exactly the recorded libsodium calls, and nothing else."""
    t0 = time.perf_counter()
    for _, fn, args in calls:
        fn(*args)
    return time.perf_counter() - t0


def floor_of(counts: Counter, costs: dict[str, float]) -> float:
    missing = set(counts) - set(costs)
    if missing:
        raise KeyError(f"no measured cost for {sorted(missing)}")
    return sum(counts[name] * costs[name] for name in counts)


def wire_verify(ctx: ElectionContext, data: bytes) -> int:
    """What the server does with a ballot: parse, validate, verify."""
    ballot = Ballot.from_json(parse_json(data), ctx.manifest)
    return verify_ballot(ctx, ballot)


def wire_ballots(
    ctx: ElectionContext, creds: Sequence[signing_module.SigningKey], n: int
) -> list[bytes]:
    """``n`` fresh ballots as the server receives them (canonical JSON bytes):
    ballot ``i`` by credential ``i mod len(creds)`` with ``selections_for(ctx, i)``.

    Made before any timing starts, so encryption never counts as verification.
    """
    return [
        canonical_json(
            encrypt_ballot(
                ctx, creds[i % len(creds)], selections_for(ctx, i), secrets.token_bytes
            )[0].to_json()
        )
        for i in range(n)
    ]


def floor_per_ballot(shape: str = "1x5", costs: dict[str, float] | None = None) -> dict[str, Any]:
    """The libsodium floor of verifying one ballot from the wire, in seconds.

    Without ``costs``: the median over 20 ballots of replaying exactly the
    libsodium calls their verification made (same inputs, timed right after
    the verification, so the two see the same machine).  With ``costs``
    (seconds per operation): one ballot's operation counts x cost.
    """
    ctx, creds = make_context(shape)
    counts: Counter | None = None
    floors = []
    for data in wire_ballots(ctx, creds, 20 if costs is None else 1):
        with recording() as calls:
            wire_verify(ctx, data)
        if counts is None:
            counts = counts_of(calls)
        if costs is None:
            floors.append(replay_time(calls))
    assert counts is not None
    if costs is not None:
        return {"floor_s": floor_of(counts, costs), "counts": dict(counts), "costs": costs}
    return {"floor_s": statistics.median(floors), "counts": dict(counts), "costs": None}


def wire_verify_cost(shape: str = "1x5", n: int = 20) -> dict[str, float]:
    """Per-ballot verification cost from the wire, as ``run_shape`` measures it, and its
    libsodium floor: medians over ``n`` ballots, in seconds.

    ``bench/server.py`` divides 2 cores by ``verify_s`` for the server's
    throughput ceiling (and by ``floor_s`` for the stricter one).
    """
    ctx, creds = make_context(shape)
    times, floors = [], []
    for data in wire_ballots(ctx, creds, n):
        t, f, _, _ = _timed_with_floor(lambda: wire_verify(ctx, data))  # noqa: B023
        times.append(t)
        floors.append(f)
    return {"verify_s": statistics.median(times), "floor_s": statistics.median(floors)}


def _timed_with_floor(fn: Callable[[], Any]) -> tuple[float, float, list[Call], Any]:
    """Time ``fn`` and, right after, the replay of the libsodium calls it makes.

    Returns (seconds, replay seconds, the recorded calls, what the timed call
    returned), so a caller that needs the result does not call ``fn`` again.
    """
    with recording() as calls:
        fn()
    t0 = time.perf_counter()
    result = fn()
    elapsed = time.perf_counter() - t0
    return elapsed, replay_time(calls), calls, result


def run_shape(shape: str, n: int) -> dict[str, Any]:
    ctx, creds = make_context(shape)
    rnd = secrets.token_bytes
    out: dict[str, Any] = {"shape": shape}
    enc, ver, wire = [], [], []
    for i in range(n):
        cred, sel = creds[i % len(creds)], selections_for(ctx, i)
        # Encryption draws fresh randomness, so its replay times the calls of
        # an identical-shape encryption made just before.
        t, f, enc_calls, (ballot, _) = _timed_with_floor(
            lambda: encrypt_ballot(ctx, cred, sel, rnd)  # noqa: B023
        )
        enc.append((t, f))
        data = canonical_json(ballot.to_json())
        t, f, ver_calls, _ = _timed_with_floor(lambda: verify_ballot(ctx, ballot))  # noqa: B023
        ver.append((t, f))
        t, f, wire_calls, _ = _timed_with_floor(lambda: wire_verify(ctx, data))  # noqa: B023
        wire.append((t, f))
    out["bytes"] = len(data)
    for key, pairs, calls in (
        ("encrypt", enc, enc_calls), ("verify", ver, ver_calls), ("wire_verify", wire, wire_calls)
    ):
        out[f"{key}_s"] = statistics.median(t for t, _ in pairs)
        out[f"{key}_floor_s"] = statistics.median(f for _, f in pairs)
        out[f"{key}_ratio"] = sum(t for t, _ in pairs) / sum(f for _, f in pairs)
        out[f"{key}_counts"] = counts_of(calls)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description="ballot crypto vs libsodium floor")
    parser.add_argument("--ballots", type=int, default=40, help="ballots per shape (default 40)")
    args = parser.parse_args()
    costs = measure_op_costs()
    print("libsodium operation costs (µs per call):")
    for name, cost in costs.items():
        print(f"  {name:16s} {cost * 1e6:9.2f}")
    for shape in SHAPES:
        r = run_shape(shape, args.ballots)
        print(f"\nballot {shape} ({r['bytes']} bytes canonical JSON), median of {args.ballots}:")
        for label, key in (
            ("encrypt+prove+sign", "encrypt"),
            ("verify (parsed)", "verify"),
            ("verify (from wire)", "wire_verify"),
        ):
            t, fl, counts = r[f"{key}_s"], r[f"{key}_floor_s"], r[f"{key}_counts"]
            est = floor_of(counts, costs)
            ops = ", ".join(f"{k}={v}" for k, v in sorted(counts.items()))
            print(
                f"  {label:20s} {t * 1e3:8.2f} ms   floor {fl * 1e3:8.2f} ms   "
                f"ratio {r[f'{key}_ratio']:5.2f}   ({1 / t:7.1f} ballots/s/core; "
                f"count x isolated cost = {est * 1e3:.2f} ms)"
            )
            print(f"      ops: {ops}")


if __name__ == "__main__":
    main()
