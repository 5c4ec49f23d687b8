"""Several OS processes appending to one board at once never fork the chain.

Four spawned processes (like four gunicorn workers, each with its own engine,
pool and state cache) append 50 ballots each to one election; two of them as
the cast path does (batched blocks, each signing a tree head from its cached
Merkle frontier).  The result must be one contiguous chain holding every
ballot exactly once, in each worker's own order, whose Merkle tree -- every
stored subtree and every signed root -- matches a recomputation from the
entries.
"""

from __future__ import annotations

import hashlib
import multiprocessing
import multiprocessing.synchronize

from sqlalchemy import create_engine, select
from sqlalchemy.pool import NullPool

from ballot_server import models
from ballot_server.db import make_engine
from ballot_server.store import Store, sign_head_locked
from evote import merkle
from evote.board import verify_chain
from evote.election import Phase
from evote.signing import SigningKey

E = "concurrent"
WORKERS = 4
APPENDS = 50
SETUP = ["election_created", "key_published", "credentials_published", "election_opened"]
BOARD_KEY = SigningKey.from_bytes(bytes(range(32)))


def _append_many(url: str, worker: int, start: multiprocessing.synchronize.Barrier) -> None:
    """Child process: 50 locked appends, each with its ballot index rows."""
    engine = make_engine(url, lock_timeout=60)
    store = Store(engine)
    start.wait(60)  # all workers imported and connected: go together
    batched = worker % 2 == 1
    for n in range(APPENDS):
        with store.locked(E, batched=batched) as board:
            entry = board.append("ballot_cast", {"worker": worker, "n": n}, 10_000 + n)
            cred = hashlib.sha256(b"cred%d" % worker).digest()
            ct = hashlib.sha256(b"ct%d-%d" % (worker, n)).digest()
            board.index_ballot(entry.index, f"w{worker}-{n}", cred, [ct])
            if batched:
                sign_head_locked(board, BOARD_KEY, entry.time)
    store.close()
    engine.dispose()


def test_concurrent_processes_append_one_chain(db_url):
    engine = make_engine(db_url)
    store = Store(engine)
    try:
        for i, kind in enumerate(SETUP):
            with store.locked(E) as board:
                board.append(kind, {"step": i}, 1_000 + i)

        ctx = multiprocessing.get_context("spawn")
        start = ctx.Barrier(WORKERS)
        procs = [ctx.Process(target=_append_many, args=(db_url, w, start)) for w in range(WORKERS)]
        for p in procs:
            p.start()
        for p in procs:
            p.join(120)
        assert [p.exitcode for p in procs] == [0] * WORKERS

        size = len(SETUP) + WORKERS * APPENDS
        assert store.entry_count(E) == size
        entries = list(store.iter_entries(E))
        summary = verify_chain(entries)  # contiguous indices, prev links, lifecycle
        assert summary.size == size and summary.state.phase is Phase.OPEN

        ballots = [(e.payload["worker"], e.payload["n"]) for e in entries[len(SETUP) :]]
        assert sorted(ballots) == [(w, n) for w in range(WORKERS) for n in range(APPENDS)]
        for w in range(WORKERS):  # each worker's appends landed in its own order
            assert [n for worker, n in ballots if worker == w] == list(range(APPENDS))

        tree = merkle.MemoryTree(e.leaf_hash() for e in entries)
        assert store.root(E, size) == tree.root() == summary.root
        raw = create_engine(db_url, poolclass=NullPool)
        try:
            with raw.connect() as conn:
                nodes = conn.execute(
                    select(
                        models.merkle_nodes.c.level,
                        models.merkle_nodes.c.idx,
                        models.merkle_nodes.c.hash,
                    ).where(models.merkle_nodes.c.election_id == E)
                ).all()
        finally:
            raw.dispose()
        expected = sum(size >> level for level in range(size.bit_length()))  # level 0: leaves
        assert len(nodes) == expected
        for level, idx, h in nodes:
            assert bytes(h) == tree.get(level, idx)
        heads = store.signed_heads(E)
        assert len(heads) == APPENDS * (WORKERS // 2)
        for head in heads:
            head.verify(BOARD_KEY.verify_key)
            assert head.root == tree.root(head.size)
        assert len(store.counted_ballot_indices(E)) == WORKERS
    finally:
        store.close()
        engine.dispose()
