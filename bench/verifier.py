"""The verifier's throughput and memory on a large synthetic record, against the crypto floor.

Builds a fully valid record of ``--ballots`` ballots (default 100,000; one
choice question with 5 options, about 5% re-votes) with real keys, a real key
ceremony, real ballots and proofs, a real tally and decryption; then runs the
whole verification (every check) with each ``--workers`` count, each in a
fresh process, and prints:

* ballots/s and seconds;
* peak RSS: the verifying process plus its largest worker
  (``resource.getrusage`` of self and children), and an upper bound counting
  every worker at that peak;
* the ratio to the crypto floor: ``seconds x workers / ballots`` divided by the
  libsodium cost of verifying one ballot (``bench/crypto.py:floor_per_ballot``:
  the wall-clock time of replaying exactly the group operations, hashes and
  signature check that verifying a ballot from the wire made, the median over
  20 ballots).  1.0 would be a verifier that does nothing but libsodium calls.
  Because wall-clock ratios mean little on a shared machine, the same ratio is
  also given in CPU time: the verifier's CPU seconds (main process and
  workers) per ballot over the CPU floor, one ballot's operation counts x
  each operation's least CPU time (``cpu_floor``).

Targets (brief): 2 workers within 1.3x of the floor; peak RSS < 300 MB.

Generation is the slow part (about 3.5 ms of proofs per ballot) and is
resumable: ballots are made by a process pool in chunks of 1,000, each chunk
cached under ``bench/.cache/<tag>/`` as soon as it is done; a rerun skips the
chunks it has.  The record itself is assembled from the cache once.

Run: ``.venv/bin/python bench/verifier.py [--ballots N] [--workers 1,2]``
     ``.venv/bin/python bench/verifier.py --generate-only`` (e.g. in the background)
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import resource
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from evote.ballot import encrypt_ballot  # noqa: E402
from evote.drbg import SeededRng  # noqa: E402
from evote.elgamal import Ciphertext  # noqa: E402
from evote.encoding import b64decode, canonical_json, parse_json  # noqa: E402
from evote.group import Point  # noqa: E402
from evote.record import BOARD_FILE  # noqa: E402
from evote.tally import aggregate, combine, partial_decrypt  # noqa: E402
from tests.support import recordgen  # noqa: E402

CACHE = ROOT / "bench" / ".cache"
CHUNK = 1000
SEED = b"bench-verifier"
REVOTE_EVERY = 20  # one ballot in 20 is a re-vote


def plan(n: int) -> tuple[int, list[int]]:
    """(number of voters, voter of each ballot): ballot i is a re-vote when i % 20 == 19."""
    voters = n - n // REVOTE_EVERY
    who, first = [], 0
    for i in range(n):
        if i % REVOTE_EVERY == REVOTE_EVERY - 1:
            who.append((i * 7919) % max(1, first))  # an earlier voter votes again
        else:
            who.append(first)
            first += 1
    assert first == voters
    return voters, who


def election(n: int) -> recordgen.Election:
    voters, _ = plan(n)
    return recordgen.make_election(manifest=recordgen.bench_manifest(), voters=voters,
                                   trustees=3, threshold=2, seed=SEED + str(n).encode())


# --------------------------------------------------------------------------
# generation (resumable)
# --------------------------------------------------------------------------

_E: recordgen.Election | None = None
_WHO: list[int] = []


def _init(n: int) -> None:
    global _E, _WHO
    _E = election(n)
    _WHO = plan(n)[1]


def _make_chunk(args: tuple[int, Path]) -> int:
    """Encrypt ballots [k*CHUNK, (k+1)*CHUNK) into one cache file (atomic rename)."""
    k, directory = args
    target = directory / f"ballots-{k:05d}.jsonl"
    if target.exists():
        return k
    assert _E is not None
    lines = []
    for i in range(k * CHUNK, min((k + 1) * CHUNK, len(_WHO))):
        choice = [[1 if o == (i * 3 + i // 7) % 5 else 0 for o in range(5)]]
        ballot, _ = encrypt_ballot(_E.ctx, _E.voters[_WHO[i]], choice,
                                   SeededRng(SEED + i.to_bytes(8, "big")))
        lines.append(canonical_json({"ballot": ballot.to_json()}))
    tmp = target.with_suffix(".tmp")
    tmp.write_bytes(b"\n".join(lines) + b"\n")
    tmp.rename(target)
    return k


def generate(n: int, procs: int) -> Path:
    """Make (or finish making) the record of ``n`` ballots; returns its directory."""
    tag = CACHE / f"record-{n}"
    chunks_dir = tag / "chunks"
    record_dir = tag / "record"
    chunks_dir.mkdir(parents=True, exist_ok=True)
    if (record_dir / "DONE").exists():
        return record_dir
    todo = [(k, chunks_dir) for k in range(-(-n // CHUNK))
            if not (chunks_dir / f"ballots-{k:05d}.jsonl").exists()]
    if todo:
        print(f"generating {len(todo)} chunks of {CHUNK} ballots with {procs} processes "
              "(resumable)...", flush=True)
        t0 = time.perf_counter()
        with multiprocessing.get_context("forkserver").Pool(
                procs, initializer=_init, initargs=(n,)) as pool:
            for done, k in enumerate(pool.imap_unordered(_make_chunk, todo), 1):
                if done % 5 == 0 or done == len(todo):
                    rate = done * CHUNK / (time.perf_counter() - t0)
                    print(f"  chunk {k} ({done}/{len(todo)}, {rate:.0f} ballots/s)", flush=True)
    print("assembling the record...", flush=True)
    assemble(n, chunks_dir, record_dir)
    (record_dir / "DONE").write_text("ok\n")
    return record_dir


def _ciphertexts(payload: dict[str, Any]) -> list[list[Ciphertext]]:
    """The ballot's ciphertexts without re-validating points (we made them)."""
    return [
        [Ciphertext(Point(b64decode(c["alpha"], length=32)), Point(b64decode(c["beta"], length=32)))
         for c in answer["choices"]]
        for answer in payload["ballot"]["answers"]
    ]


def assemble(n: int, chunks_dir: Path, record_dir: Path) -> None:
    e = election(n)
    _, who = plan(n)
    last = {}
    for i, v in enumerate(who):
        last[v] = i
    counted_index = set(last.values())
    record_dir.mkdir(parents=True, exist_ok=True)
    with open(record_dir / BOARD_FILE, "wb") as out:
        b = recordgen.BoardBuilder(e, keep_entries=False, lines_out=out)
        recordgen.post_setup(b)
        counted: list[tuple[int, list[list[Ciphertext]]]] = []
        i = 0
        for k in range(-(-n // CHUNK)):
            for line in (chunks_dir / f"ballots-{k:05d}.jsonl").read_bytes().splitlines():
                payload = parse_json(line)
                b.append("ballot_cast", payload)
                if i in counted_index:
                    counted.append((1, _ciphertexts(payload)))
                i += 1
                if i % 10_000 == 0:
                    b.sign_head()
        b.sign_head()
        tally = aggregate([5], counted)
        _post_tally(b, e, tally, len(counted))
    recordgen.write_files(record_dir, e, b)


def _post_tally(b: recordgen.BoardBuilder, e: recordgen.Election, tally: Any, counted: int) -> None:
    rng = SeededRng(SEED + b"/tally")
    b.command("election_closed", e.official, {})
    b.command("tally_posted", e.official,
              {"tally": tally.to_json(), "counted": counted, "total_weight": counted})
    partials = []
    for s in e.states[: e.threshold]:
        p = partial_decrypt(e.ctx.fingerprint, s.trustee, s.share, tally, rng)
        partials.append(p)
        b.command("partial_decryption", s.signing_key, p.to_json())
    result = combine(e.ctx.fingerprint, tally, partials, e.joint, [[counted] * 5])
    b.command("result_published", e.official, {"result": result.to_json()})
    b.sign_head()


# --------------------------------------------------------------------------
# measurement (each in a fresh process)
# --------------------------------------------------------------------------


def measure(record_dir: Path, workers: int) -> dict[str, Any]:
    """Verify in this process (run as a child of the bench) and report time and memory."""
    from verifier import parallel
    from verifier.checks import verify_record
    from verifier.record import Record
    from verifier.sources import DirectorySource

    record = Record.load(DirectorySource(record_dir))
    if workers == 1:
        factory = parallel.InlineRunner
    else:
        def factory(ctx: Any) -> parallel.Runner:
            return parallel.ProcessRunner(ctx, workers)
    t0 = time.perf_counter()
    report = verify_record(record, runner_factory=factory)
    seconds = time.perf_counter() - t0
    self_usage = resource.getrusage(resource.RUSAGE_SELF)
    kid_usage = resource.getrusage(resource.RUSAGE_CHILDREN)  # the (joined) workers
    cpu = sum(u.ru_utime + u.ru_stime for u in (self_usage, kid_usage))
    me = self_usage.ru_maxrss / 1024
    kids = kid_usage.ru_maxrss / 1024
    ballots = report.check("ballots").counts["ballots"]
    return {
        "workers": workers,
        "ok": report.ok,
        "failed": report.failed(),
        "ballots": ballots,
        "entries": report.stats["entries"],
        "seconds": round(seconds, 2),
        "cpu_seconds": round(cpu, 2),
        "ballots_per_s": round(ballots / seconds, 1),
        "rss_main_mb": round(me, 1),
        "rss_worker_peak_mb": round(kids, 1),
        "rss_peak_mb": round(me + (kids if workers > 1 else 0), 1),
        "rss_upper_bound_mb": round(me + kids * (workers if workers > 1 else 0), 1),
    }


def cpu_floor() -> float:
    """CPU seconds of libsodium work to verify one 1x5 ballot from the wire.

    One ballot's operation counts (``bench/crypto.py:floor_per_ballot``) x each
    operation's *least CPU time* over five runs.  On a shared machine
    wall-clock times swell with the load; this floor, compared with a
    process's own CPU time, gives a ratio that the neighbours cannot move.
    """
    # Imported here, not at the top, so that the measuring child (``--measure``)
    # and its workers do not carry bench/crypto.py into their peak RSS.
    from bench import crypto

    def cpu_time(fn: Any, n: int) -> float:
        fn()
        best = float("inf")
        for _ in range(5):
            t0 = time.process_time()
            for _ in range(n):
                fn()
            best = min(best, (time.process_time() - t0) / n)
        return best

    saved = crypto._time
    crypto._time = cpu_time
    try:
        cpu_costs = crypto.measure_op_costs(400)
    finally:
        crypto._time = saved
    return crypto.floor_per_ballot("1x5", cpu_costs)["floor_s"]


def crypto_floor() -> dict[str, Any]:
    """Seconds of libsodium work to verify one 1x5 ballot from the wire (bench/crypto.py).

    ``floor_s``: the wall-clock floor of ``floor_per_ballot``, the median over
    20 ballots of replaying exactly the libsodium calls their verification
    made; ``cpu_floor_s``: :func:`cpu_floor`; ``counts``: the operations of one
    such verification.
    """
    from bench import crypto  # not at the top: see cpu_floor

    wall = crypto.floor_per_ballot("1x5")
    return {"floor_s": wall["floor_s"], "cpu_floor_s": cpu_floor(), "counts": wall["counts"]}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--ballots", type=int, default=100_000)
    ap.add_argument("--workers", default="1,2", help="comma-separated worker counts to run")
    ap.add_argument("--procs", type=int, default=os.cpu_count() or 2,
                    help="processes for generating ballots")
    ap.add_argument("--generate-only", action="store_true")
    ap.add_argument("--measure", type=Path, help=argparse.SUPPRESS)
    ap.add_argument("--json", action="store_true", help="print the results as JSON")
    args = ap.parse_args()
    if args.measure:
        print(json.dumps(measure(args.measure, int(args.workers))))
        return
    record_dir = generate(args.ballots, args.procs)
    if args.generate_only:
        print(f"record ready: {record_dir}")
        return
    floor = crypto_floor()
    floor_s, cpu_floor_s = floor["floor_s"], floor["cpu_floor_s"]
    print(f"crypto floor: {floor_s * 1e3:.3f} ms of libsodium work per ballot, wall clock "
          f"({cpu_floor_s * 1e3:.3f} ms CPU) for {sum(floor['counts'].values())} operations; "
          f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores", flush=True)
    results = []
    for w in [int(x) for x in args.workers.split(",")]:
        out = subprocess.run(
            [sys.executable, __file__, "--measure", str(record_dir), "--workers", str(w)],
            check=True, capture_output=True, text=True,
        )
        r = json.loads(out.stdout.strip().splitlines()[-1])
        r["floor_ratio"] = round(r["seconds"] * min(w, os.cpu_count() or w) / r["ballots"]
                                 / floor_s, 3)
        r["cpu_floor_ratio"] = round(r["cpu_seconds"] / r["ballots"] / cpu_floor_s, 3)
        r["load_average"] = round(os.getloadavg()[0], 2)
        results.append(r)
        print(f"workers={w}: {'VERIFIED' if r['ok'] else 'FAILED ' + str(r['failed'])}  "
              f"{r['ballots']:,} ballots in {r['seconds']:.1f} s = {r['ballots_per_s']:,.0f} "
              f"ballots/s;  wall x workers = {r['floor_ratio']:.2f}x the floor, CPU = "
              f"{r['cpu_floor_ratio']:.2f}x the CPU floor (load {r['load_average']});  peak RSS "
              f"{r['rss_peak_mb']:.0f} MB (main {r['rss_main_mb']:.0f} MB + worker "
              f"{r['rss_worker_peak_mb']:.0f} MB; all workers <= {r['rss_upper_bound_mb']:.0f} MB)",
              flush=True)
    if args.json:
        print(json.dumps({"floor_s": floor_s, "cpu_floor_s": cpu_floor_s, "results": results},
                     indent=2))


if __name__ == "__main__":
    main()
