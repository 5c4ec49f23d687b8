"""A whole ranked election through the mixnet: mix, decrypt, count and verify, timed.

``bench/mixnet.py --ballots N`` runs this: an election with a choice question
and a ranked question of width 5 (instant-runoff), N voters, 3 mixers (the
trustees) and 2-of-3 decryption, built with the conformance kit (every entry
signed by its party, the board chained, the heads signed).  Then, each timed
(wall clock) with its peak resident memory (this process and its children,
sampled every 50 ms with psutil):

* **mix**: each of the 3 mixers shuffles and proves in turn (one core each:
  a mixer runs on its own machine);
* **decrypt**: trustees 1 and 2 compute their decryption factors of the final
  list, in parallel on 2 cores (each is its own machine), then the rows are
  combined;
* **count**: the recount by instant-runoff (``evote.ranked.expected_count``);
* **verify**: ``evote-verify``'s record verifier with 2 worker processes over
  the written record: every ballot, the tally, every shuffle proof and every
  decryption proof (checks 1-22).

Building the ballots is not timed (it is the voters' work); it runs on 2 cores.
"""

from __future__ import annotations

import os
import secrets
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from evote.ballot import Ballot, encrypt_ballot
from evote.fingerprint import ElectionContext
from evote.mix_payloads import RankedResult
from evote.mixdecryption import combine_rows, partial_decrypt_rows
from evote.mixnet import mix
from evote.ranked import expected_count, max_value, tie_seed
from evote.signing import SigningKey
from tools.conformance_kit import Builder, Plan, make_election, render, write_record
from tools.conformance_mixnet import closed_entry, initial_lists
from verifier import parallel
from verifier.checks import verify_record
from verifier.record import Record
from verifier.sources import DirectorySource

MANIFEST: dict[str, Any] = {
    "election_id": "bench-ranked",
    "title": "Mayor",
    "questions": [
        {"id": "q", "title": "Approve the budget?", "options": ["Yes", "No"], "kind": "choice",
         "min": 1, "max": 1},
        {"id": "mayor", "title": "Mayor", "options": ["A", "B", "C", "D", "E"],
         "kind": "ranked", "method": "irv"},
    ],
}


@contextmanager
def peak_memory() -> Iterator[dict[str, float]]:
    """Peak RSS (MiB) of this process plus its children while the block runs."""
    import psutil

    me = psutil.Process()
    out = {"peak_mib": 0.0}
    stop = threading.Event()

    def sample() -> None:
        while not stop.is_set():
            try:
                rss = me.memory_info().rss + sum(
                    c.memory_info().rss for c in me.children(recursive=True))
            except psutil.Error:
                rss = 0
            out["peak_mib"] = max(out["peak_mib"], rss / 2**20)
            stop.wait(0.05)

    t = threading.Thread(target=sample, daemon=True)
    t.start()
    try:
        yield out
    finally:
        stop.set()
        t.join()


def _ballots(args: tuple[ElectionContext, list[bytes], int]) -> list[dict[str, Any]]:
    ctx, seeds, first = args
    out = []
    for i, seed in enumerate(seeds, start=first):
        ranks = [0] * 5
        for r in range(5 - i % 3):  # full and short rankings, rotated
            ranks[(i * 7 + r) % 5] = r + 1
        sel = [[1, 0] if i % 2 else [0, 1], ranks]
        ballot, _ = encrypt_ballot(ctx, SigningKey(seed), sel, secrets.token_bytes)
        out.append({"ballot": ballot.to_json()})
    return out


def _decrypt(args: tuple[bytes, int, int, Any, Any]) -> Any:
    fingerprint, q, j, share, rows = args
    return partial_decrypt_rows(fingerprint, q, j, share, rows, secrets.token_bytes)


def _cpu() -> float:
    """CPU seconds of this process and of its reaped children (worker pools)."""
    t = os.times()
    return t.user + t.system + t.children_user + t.children_system


def timed(label: str, fn: Callable[[], Any], log: Callable[[str], None]) -> tuple[Any, float, float]:
    """Wall-clock seconds and peak memory of ``fn``; the CPU seconds are printed too,
    because on a shared machine the wall clock also measures the other jobs."""
    with peak_memory() as mem:
        c0, t0 = _cpu(), time.perf_counter()
        out = fn()
        elapsed, cpu = time.perf_counter() - t0, _cpu() - c0
    log(f"  {label:34s} {elapsed:9.1f} s wall  {cpu:9.1f} s CPU   peak {mem['peak_mib']:8.0f} MiB")
    return out, elapsed, mem["peak_mib"]


def run_election(ballots: int, *, workers: int = 2, log: Callable[[str], None] = print) -> dict[str, Any]:
    """Build, mix, decrypt, count and verify; the figures per step."""
    log(f"\nranked election: {ballots} ballots, ranked width 5 (IRV), 3 mixers, 2-of-3 "
        f"decryption, {workers} cores")
    e = make_election(MANIFEST["election_id"], seed=b"bench-mixnet", voters=ballots,
                      manifest=MANIFEST)
    b = Builder(e)
    b.setup()
    t0 = time.perf_counter()
    seeds = [k.seed for k in e.voters]
    step = max(1, ballots // (4 * workers))
    jobs = [(e.ctx, seeds[i : i + step], i) for i in range(0, ballots, step)]
    with ProcessPoolExecutor(workers) as pool:
        for payloads in pool.map(_ballots, jobs):
            for p in payloads:
                b.add("ballot_cast", p, "cast")
    # the kit's counted set, for the tally (every voter votes once)
    for s in b.steps:
        if s.kind == "ballot_cast":
            ballot = Ballot.from_json(s.payload["ballot"], e.manifest)
            b.counted[ballot.credential.raw] = ballot
            b.cast_steps[ballot.credential.raw] = s
    log(f"  (ballots built in {time.perf_counter() - t0:.1f} s, not timed)")
    b.head()
    b.closed()
    b.tally()
    for j in (1, 2):
        b.partial(j)
    figures: dict[str, Any] = {"ballots": ballots}
    q = 1
    rows = initial_lists(b)[q]
    fp, key = e.ctx.fingerprint, e.joint.joint_key
    for m in (1, 2, 3):
        posted, t, peak = timed(
            f"mix {m} (shuffle + prove, 1 core)",
            lambda m=m, rows=rows: mix(fp, key, q, m, e.trustee_keys[m], rows, secrets.token_bytes),
            log)
        b.command("mix_posted", e.trustee_keys[m], posted.to_json(), f"mix:{q}:{m}")
        rows = posted.rows
        figures[f"mix{m}_s"], figures[f"mix{m}_peak_mib"] = t, peak

    def decrypt_both() -> list[Any]:
        with ProcessPoolExecutor(2) as pool:
            return list(pool.map(_decrypt, [(fp, q, j, e.finished[j].share, rows) for j in (1, 2)]))

    partials, t, peak = timed("decrypt (2 trustees, 2 cores)", decrypt_both, log)
    figures["decrypt_s"], figures["decrypt_peak_mib"] = t, peak
    for p in partials:
        b.command("mix_decryption", e.trustee_keys[p.trustee], p.to_json(), f"mixdec:{q}:{p.trustee}")
    decrypted, t, peak = timed("combine the factors", lambda: combine_rows(
        fp, q, rows, partials, e.joint, max_value(e.manifest, q)), log)
    figures["combine_s"] = t
    seed = tie_seed(closed_entry(b))
    sheet, t, peak = timed("count (IRV)", lambda: expected_count(e.manifest, q, decrypted, seed),
                           log)
    figures["count_s"], figures["count_peak_mib"] = t, peak
    b.command("ranked_result", e.official, RankedResult(decrypted, sheet.to_json()).to_json(),
              f"ranked:{q}")
    b.result()
    b.head()
    with tempfile.TemporaryDirectory(dir=os.environ.get("TMPDIR", "/tmp")) as tmp:
        t0 = time.perf_counter()
        write_record(Path(tmp), render(Plan(e, b.steps)))
        size = sum(p.stat().st_size for p in Path(tmp).iterdir())
        log(f"  (record written in {time.perf_counter() - t0:.1f} s: {size / 2**20:.0f} MiB)")
        del b

        def verify() -> Any:
            record = Record.load(DirectorySource(Path(tmp)))
            return verify_record(record, runner_factory=lambda ctx: parallel.ProcessRunner(ctx, workers))

        report, t, peak = timed(f"verify (evote-verify, {workers} workers)", verify, log)
    figures["verify_s"], figures["verify_peak_mib"] = t, peak
    figures["verified"] = report.ok
    log(f"  verdict: {'VERIFIED' if report.ok else 'NOT VERIFIED: ' + ', '.join(report.failed())}")
    return figures
