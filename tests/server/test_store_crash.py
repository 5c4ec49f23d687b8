"""A process killed mid-append loses no acknowledged entry and leaves no fork.

The child appends in a loop and writes each entry's index to its stdout pipe
only after the locked block has exited, i.e. after the commit: that line is
the acknowledgement a voter would get.  The parent SIGKILLs it mid-stream
(most likely inside an open transaction), reads every line that made it into
the pipe, reopens the database and checks that every acknowledged index is
there, that the chain verifies, and that the next append continues it.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

from ballot_server.db import make_engine
from ballot_server.store import Store
from evote.board import verify_chain

E = "crashy"
SETUP = ["election_created", "key_published", "credentials_published", "election_opened"]
ROUNDS = 2
ACKS_BEFORE_KILL = 15


def child(url: str) -> None:
    """Append ballots forever, acknowledging each committed index on stdout."""
    store = Store(make_engine(url))
    n = 0
    while True:
        with store.locked(E) as board:
            entry = board.append("ballot_cast", {"n": n, "pid": os.getpid()}, 50_000 + n)
        sys.stdout.write(f"{entry.index}\n")
        sys.stdout.flush()
        n += 1


def _kill_mid_stream(url: str) -> list[int]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "tests.server.test_store_crash", url],
        stdout=subprocess.PIPE,
        cwd=os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))),
    )
    acked: list[int] = []
    try:
        assert proc.stdout is not None
        while len(acked) < ACKS_BEFORE_KILL:
            line = proc.stdout.readline()
            assert line, f"child exited early with {proc.wait()}"
            acked.append(int(line))
        time.sleep(0.003 * (len(acked) % 5))  # land the kill at varying points
        os.kill(proc.pid, signal.SIGKILL)
        acked.extend(int(line) for line in proc.stdout.read().splitlines())
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait(30)
        if proc.stdout is not None:
            proc.stdout.close()
    assert proc.returncode == -signal.SIGKILL
    return acked


def test_sigkill_mid_append_loses_no_acknowledged_entry(db_url):
    engine = make_engine(db_url)
    with Store(engine) as store:
        for i, kind in enumerate(SETUP):
            with store.locked(E) as board:
                board.append(kind, {"step": i}, 1_000 + i)
    engine.dispose()

    for _ in range(ROUNDS):
        acked = _kill_mid_stream(db_url)
        assert acked == list(range(acked[0], acked[0] + len(acked)))

        engine = make_engine(db_url)  # reopen, as a restarted server would
        with Store(engine) as store:
            size = store.entry_count(E)
            assert size > acked[-1], f"acknowledged entry {acked[-1]} is missing"
            entries = list(store.iter_entries(E))
            summary = verify_chain(entries)
            assert store.root(E, size) == summary.root
            for index in acked:
                assert entries[index].kind == "ballot_cast"
            with store.locked(E) as board:
                assert board.head() == entries[-1]
                nxt = board.append("ballot_cast", {"after": "crash"}, 99_000)
            assert nxt.index == size and nxt.prev == entries[-1].leaf_hash()
            verify_chain(store.iter_entries(E))
        engine.dispose()


if __name__ == "__main__":
    child(sys.argv[1])
