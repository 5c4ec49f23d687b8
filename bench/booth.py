"""The web booth's ballot cost, measured in Chromium.

Builds a benchmark bundle from the booth's own sources
(``ballot_server/booth/scripts/bench-entry.js``: the same ``src/ballot.js`` the
booth runs, plus the count of scalar multiplications a ballot needs), loads it into Debian's
headless Chromium and times encrypt + prove + sign + ballot hash for

* 1 question x 5 options (choose 1), and
* 3 questions x 10 options (choose 1 to 3; the booth's target is < 150 ms),

the same shapes as ``bench/crypto.py``.  Besides the median and best time per
ballot it prints the number of scalar multiplications a ballot needs, the
measured cost of one constant-time multiplication (by G, and by the joint key
with its precomputed table) in the same browser, the floor (count x cost) and
the ratio of the ballot time to that floor; and, for scale, the
time the Python/libsodium implementation takes for the same ballot.

Run: ``.venv/bin/python bench/booth.py [--rounds N]`` (needs node, the booth's
``node_modules`` from ``make install``, and /usr/bin/chromium).
"""

from __future__ import annotations

import argparse
import secrets
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from evote.ballot import encrypt_ballot  # noqa: E402
from evote.credentials import CredentialList  # noqa: E402
from evote.fingerprint import ElectionContext  # noqa: E402
from evote.group import Point, Scalar  # noqa: E402
from evote.manifest import Manifest  # noqa: E402
from evote.signing import SigningKey  # noqa: E402
from tests.support.booth_browser import chromium  # noqa: E402

BOOTH = ROOT / "ballot_server" / "booth"
SHAPES = {"1x5": (1, 5, 1, 1), "3x10": (3, 10, 1, 3)}
TARGET_MS = {"3x10": 150.0}


def bench_bundle() -> str:
    """The benchmark entry bundled by the booth's pinned esbuild."""
    esbuild = BOOTH / "node_modules" / ".bin" / "esbuild"
    if not esbuild.exists():
        raise SystemExit("ballot_server/booth/node_modules is missing: run `make install`")
    out = subprocess.run(
        [str(esbuild), "scripts/bench-entry.js", "--bundle", "--format=iife", "--log-level=warning"],
        cwd=BOOTH, capture_output=True, text=True, check=True,
    )
    return out.stdout


def python_ms(questions: int, options: int, lo: int, hi: int, rounds: int) -> float:
    """Median time of evote.ballot.encrypt_ballot (libsodium) for the same shape."""
    manifest = Manifest.from_json({
        "election_id": "bench", "title": "bench",
        "questions": [{"id": f"q{q}", "title": "Q", "options": [f"o{o}" for o in range(options)],
                       "kind": "choice", "min": lo, "max": hi} for q in range(questions)],
    })
    voter = SigningKey.generate(secrets.token_bytes)
    key = Point.base_mul(Scalar.random(secrets.token_bytes))
    ctx = ElectionContext.build(manifest, key, [[key]], CredentialList.of([voter.verify_key]))
    selections = [[1 if o < lo else 0 for o in range(options)] for _ in range(questions)]
    times = []
    for _ in range(rounds):
        t0 = time.perf_counter()
        encrypt_ballot(ctx, voter, selections, secrets.token_bytes)
        times.append((time.perf_counter() - t0) * 1000)
    return statistics.median(times)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=15, help="ballots timed per shape")
    args = parser.parse_args()
    bundle = bench_bundle()
    with chromium() as browser:
        page = browser.new_page()
        page.set_content("<!doctype html><title>evote booth bench</title>")
        page.add_script_tag(content=bundle)
        version = browser.version
        mult = page.evaluate("(n) => evoteBench.multiplyCost(n)", 300)
        rows = [
            (name, page.evaluate("([q, o, lo, hi, n]) => evoteBench.run(q, o, lo, hi, n)",
                                 [*shape, args.rounds]))
            for name, shape in SHAPES.items()
        ]
    print(f"web booth ballot cost in Chromium {version} ({args.rounds} ballots per shape)")
    print(f"one constant-time scalar multiplication (noble-curves): by G {mult['g']:.3f} ms, "
          f"by the joint key (precomputed table) {mult['k']:.3f} ms")
    print(f"{'shape':<6} {'median ms':>10} {'best ms':>8} {'mults':>6} {'floor ms':>9} "
          f"{'ratio':>6} {'python ms':>10} {'target':>8}")
    failed = False
    for name, r in rows:
        n = r["multiplications"]
        floor = n["g"] * mult["g"] + n["k"] * mult["k"]
        py = python_ms(*SHAPES[name], rounds=max(3, args.rounds // 3))
        target = TARGET_MS.get(name)
        verdict = "" if target is None else ("ok" if r["median_ms"] < target else "MISSED")
        failed |= verdict == "MISSED"
        print(f"{name:<6} {r['median_ms']:>10.1f} {r['min_ms']:>8.1f} {n['g'] + n['k']:>6} "
              f"{floor:>9.1f} {r['median_ms'] / floor:>6.2f} {py:>10.1f} "
              f"{'' if target is None else f'<{target:.0f} {verdict}':>8}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
