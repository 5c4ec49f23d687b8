"""The serialised part of casting alone: the board append of casts already verified.

``bench/server.py`` measures whole casts (HTTP, parsing, proofs, append).  Of
those, only the append is serialised: every verifying host writes its batch of
casts under the election's one append lock (an advisory lock on PostgreSQL,
``ballot_server/store``), so the board's rate can never exceed what one writer
reaches, however many hosts verify.  This module measures that rate.

Given an open election on a database and casts verified beforehand (the bench
parsed them and checked their proofs and signatures outside the timing, as a
server's request thread does before it queues a cast), it hands them to the
server's own batch writer, :func:`ballot_server.cast_path.write_casts` -- the
function the :class:`~ballot_server.casting.CastQueue` calls: under the lock,
the phase, the logins' bindings and the ciphertexts already on the board are
read, every cast appended and indexed, the logins bound, one tree head signed
and one inclusion proof made per cast -- in batches of a fixed size, from one
thread (the lock admits one writer at a time anyway).  The batch size stands for
how many casts arrive while the previous batch is being written: 1 on an idle
server, up to :data:`ballot_server.casting.MAX_BATCH` under load.

Reported per batch size: casts per second, and the CPU per cast of this
(writing) process and of the database's processes.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any

from ballot_server.cast_path import write_casts
from ballot_server.casting import PendingCast
from ballot_server.config import read_board_key
from ballot_server.db import make_engine
from ballot_server.store import Store
from bench import server_cpu
from evote.ballot import Ballot
from evote.encoding import parse_json
from evote.fingerprint import ElectionContext
from evote.payloads import ballot_cast_payload
from evote.rules import ballot_alphas, check_cast


@dataclass(frozen=True)
class AppendRun:
    batch: int
    casts: int
    seconds: float
    writer_cpu_s: float
    database_cpu_s: float | None

    @property
    def per_s(self) -> float:
        return self.casts / self.seconds

    @property
    def writer_ms(self) -> float:
        return self.writer_cpu_s / self.casts * 1e3

    @property
    def database_ms(self) -> float | None:
        return None if self.database_cpu_s is None else self.database_cpu_s / self.casts * 1e3


def verified_casts(ctx: ElectionContext, jobs: Sequence[tuple[str, bytes]]) -> list[PendingCast]:
    """``(voter id, request body)`` -> the casts a request thread would queue, each ballot
    parsed and verified here (R-BAL-01/02), outside any timing."""
    out = []
    for voter_id, body in jobs:
        ballot = Ballot.from_json(parse_json(body), ctx.manifest)
        check_cast(ctx, ballot)
        out.append(PendingCast(
            voter_id=voter_id,
            known=None,  # as a login not yet bound: its row is re-read under the lock
            credential=ballot.credential.raw,
            tracking_code=ballot.tracking_code,
            alphas=ballot_alphas(ballot),
            payload=ballot_cast_payload(ballot),
        ))
    return out


def measure_append(
    database_url: str,
    board_key_path: str,
    election_id: str,
    casts: Sequence[PendingCast],
    batch_sizes: Sequence[int],
    pgdata: str | None = None,
) -> list[AppendRun]:
    """Write ``casts`` (split evenly over ``batch_sizes``) through the server's batch writer;
    every cast must be written (raises otherwise)."""
    engine = make_engine(database_url)
    key = read_board_key(board_key_path)
    runs = []
    share = len(casts) // len(batch_sizes)
    try:
        with Store(engine) as store:
            svc: Any = SimpleNamespace(store=store, board_key=key,
                                       clock=lambda: int(time.time() * 1000))
            for k, size in enumerate(batch_sizes):
                part = casts[k * share : (k + 1) * share]
                db_pids = server_cpu.postgres_processes(pgdata)
                db_before = server_cpu.cpu_seconds(db_pids)
                cpu0, t0 = time.process_time(), time.perf_counter()
                for i in range(0, len(part), size):
                    write_casts(svc, election_id, list(part[i : i + size]))
                seconds = time.perf_counter() - t0
                cpu = time.process_time() - cpu0
                db = None
                if db_pids:
                    db_after = server_cpu.cpu_seconds(server_cpu.postgres_processes(pgdata))
                    db = server_cpu.spent(db_before, db_after)
                for one in part:
                    one.outcome()  # raises the error of a cast that was not written
                runs.append(AppendRun(size, len(part), seconds, cpu, db))
    finally:
        engine.dispose()
    return runs
