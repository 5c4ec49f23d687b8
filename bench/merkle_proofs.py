"""Proof serving from the database on a board of a million entries.

Builds (once; cached under ``bench/.cache``) an SQLite board of N entries
(default 1,000,000) through the server's own schema: every entry is made by
:func:`evote.board.next_entry`, and the perfect subtrees each one completes
(:class:`evote.merkle.MerkleAccumulator`) are bulk-inserted next to it, as
:meth:`ballot_server.store.BoardHandle.append` would write them one by one.
Entries carry a small payload: proof serving reads only hashes, so entry size
does not matter here.

Then times :meth:`Store.inclusion_proof` and :meth:`Store.consistency_proof`
over 100 random requests each (random tree size, random index / old size),
verifying every proof against the root of its tree, and prints the median,
90th percentile and maximum: once with the page cache as found, once after
the node table has been read (as a running server's cache would hold it).
Target: median < 10 ms for both.

Run: ``.venv/bin/python bench/merkle_proofs.py [--entries N] [--rebuild]``.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from ballot_server.db import init_db, make_engine, sqlite_url  # noqa: E402
from ballot_server.store import Store  # noqa: E402
from evote import merkle  # noqa: E402
from evote.board import next_entry  # noqa: E402

CACHE = Path(__file__).resolve().parent / ".cache"
ELECTION = "bench-million"
SETUP = ["election_created", "key_published", "credentials_published", "election_opened"]
CHUNK = 20_000
REQUESTS = 100


def build(path: Path, n: int) -> None:
    """Write an ``n``-entry board to ``path`` (via a temporary file, renamed when done)."""
    tmp = path.with_suffix(".building")
    for suffix in ("", "-wal", "-shm"):
        Path(str(tmp) + suffix).unlink(missing_ok=True)
    engine = make_engine(sqlite_url(str(tmp)))
    init_db(engine)
    raw = engine.raw_connection()
    try:
        cur = raw.cursor()
        cur.execute("PRAGMA synchronous = OFF")  # a throw-away build; the server uses FULL
        acc = merkle.MerkleAccumulator()
        prev = None
        started = time.perf_counter()
        cur.execute("BEGIN")
        cur.execute("INSERT INTO elections (id, created_ms) VALUES (?, ?)", (ELECTION, 0))
        entries: list[tuple] = []
        nodes: list[tuple] = []
        for i in range(n):
            kind = SETUP[i] if i < len(SETUP) else "ballot_cast"
            prev = next_entry(
                prev,
                election=ELECTION,
                kind=kind,
                time=1_700_000_000_000 + i,
                payload={"ballot": f"b{i}"},
            )
            leaf = prev.leaf_hash()
            entries.append((ELECTION, i, kind, prev.time, leaf, prev.canonical()))
            nodes.extend((ELECTION, lvl, j, h) for lvl, j, h in acc.append(leaf))
            if len(entries) == CHUNK or i == n - 1:
                cur.executemany(
                    "INSERT INTO board_entries (election_id, idx, kind, time_ms, leaf_hash, entry)"
                    " VALUES (?, ?, ?, ?, ?, ?)",
                    entries,
                )
                cur.executemany(
                    "INSERT INTO merkle_nodes (election_id, level, idx, hash) VALUES (?, ?, ?, ?)",
                    nodes,
                )
                cur.execute("COMMIT")
                cur.execute("BEGIN")
                entries.clear()
                nodes.clear()
                done = i + 1
                rate = done / (time.perf_counter() - started)
                print(f"\r  built {done:,}/{n:,} entries ({rate:,.0f}/s)", end="", flush=True)
        cur.execute("COMMIT")
        cur.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        cur.close()
        print()
    finally:
        raw.close()
        engine.dispose()
    os.replace(tmp, path)
    for suffix in ("-wal", "-shm"):
        Path(str(tmp) + suffix).unlink(missing_ok=True)


def timed(fn: Callable[[], object]) -> tuple[float, object]:
    start = time.perf_counter()
    result = fn()
    return (time.perf_counter() - start) * 1000, result


def report(name: str, ms: list[float]) -> float:
    ms = sorted(ms)
    median = statistics.median(ms)
    p90 = ms[int(len(ms) * 0.9) - 1]
    print(f"  {name:<18} median {median:6.2f} ms   p90 {p90:6.2f} ms   max {ms[-1]:6.2f} ms")
    return median


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--entries", type=int, default=1_000_000)
    parser.add_argument("--rebuild", action="store_true")
    parser.add_argument("--seed", type=int, default=2024)
    args = parser.parse_args()

    CACHE.mkdir(exist_ok=True)
    path = CACHE / f"merkle-{args.entries}.sqlite"
    if args.rebuild or not path.exists():
        print(f"building {path} ...")
        build(path, args.entries)
    print(f"board: {args.entries:,} entries, {path.stat().st_size / 2**20:,.0f} MiB")

    engine = make_engine(sqlite_url(str(path)))
    with Store(engine) as store:
        n = store.entry_count(ELECTION)
        assert n == args.entries, f"cached board has {n} entries; use --rebuild"
        print("pass 1: the page cache as found (cold after a reboot or memory pressure)")
        worst = measure(store, n, random.Random(args.seed))
        with engine.connect() as conn:  # what a running server's page cache holds
            conn.exec_driver_sql("SELECT sum(length(hash)) FROM merkle_nodes").scalar()
        print("pass 2: node table read once, new random requests (a running server)")
        worst = max(worst, measure(store, n, random.Random(args.seed + 1)))
    engine.dispose()
    print(f"target: median < 10 ms in both passes -> {'met' if worst < 10 else 'NOT met'}")
    return 0 if worst < 10 else 1


def measure(store: Store, n: int, rng: random.Random) -> float:
    """Time REQUESTS random proofs of each kind, verify each; return the worse median."""
    roots: dict[int, bytes] = {}

    def root(size: int) -> bytes:
        if size not in roots:
            roots[size] = store.root(ELECTION, size)
        return roots[size]

    inclusion, consistency = [], []
    for _ in range(REQUESTS):
        size = rng.randint(1, n)
        index = rng.randrange(size)
        ms, proof = timed(lambda: store.inclusion_proof(ELECTION, index, size))  # noqa: B023
        inclusion.append(ms)
        leaf = store.entry(ELECTION, index).leaf_hash()
        merkle.verify_inclusion(index, size, leaf, proof, root(size))
    for _ in range(REQUESTS):
        new = rng.randint(2, n)
        old = rng.randint(1, new - 1)
        ms, proof = timed(lambda: store.consistency_proof(ELECTION, old, new))  # noqa: B023
        consistency.append(ms)
        merkle.verify_consistency(old, new, proof, root(old), root(new))
    root_ms = [timed(lambda: store.root(ELECTION, rng.randint(1, n)))[0] for _ in range(REQUESTS)]
    print(f"  {REQUESTS} random requests each, every proof verified:")
    worst = max(report("inclusion proof", inclusion), report("consistency proof", consistency))
    report("historical root", root_ms)
    return worst


if __name__ == "__main__":
    sys.exit(main())
