"""Ballot server throughput on SQLite and PostgreSQL, and proof serving on a 1M-entry board.

For each engine (``--engine sqlite|postgres|both``):

1. the real server starts: ``evote serve`` with gunicorn and 2 workers, on a
   fresh SQLite file, or on a fresh PostgreSQL database reached as the
   restricted server role (``ballot_server.db.setup_server_role``), in the
   cluster of ``scripts/with-postgres.sh``;
2. a whole election is set up over HTTP with the functions ``evote demo``
   uses (``cli/demo.py``): official key on the server's allow-list, a key
   ceremony with 3 trustees (2 needed), ``--ballots`` credentials published
   by the credential authority, as many voters registered (each gets a login
   code), the election opened.  One question, 5 options, choose 1: the
   ``1x5`` shape of ``bench/crypto.py``;
3. one ballot per voter is encrypted, proved and signed *beforehand*, by a
   process pool on every core (``bench/server_ballots.py``), against the
   context a voter's device checks (``cli.vote.election_context``);
4. a separate load process (``bench/server_load.py``, started with
   ``spawn``) casts them all from ``--threads`` threads, each ballot with its
   voter's login code, timing every request; every answer must be
   ``201 Created`` (errors are counted and must be 0);
5. the board is checked over the API: every entry fetched, the hash chain
   and lifecycle verified (``evote.board.verify_chain``) against a freshly
   signed tree head, the number of cast ballots, and every receipt the load
   process got back (signatures, inclusion proof, and that its entry holds
   exactly the ballot that was sent).

The ratio the issue asks for is ballots/s over the crypto floor, "2 cores
divided by the per-ballot verification cost from ``bench/crypto.py``": that
cost is ``bench/crypto.wire_verify_cost`` (parse, validate every point and
verify one 1x5 ballot from its JSON bytes, the median over 20 ballots, the
least of 3 samples).  Target: at least 0.7.  Two more ratios put it in
context: over 2 cores divided by the libsodium calls of that verification
alone, replayed (stricter; from the same 3 samples, the least), and over the
ballots/s that two processes verifying side by side reach together, measured
once over 4 seconds (on this virtual machine two busy cores give less than
twice one core).  All three are measured just before and just after the
casts and averaged, since the machine's speed drifts by tens of per cent
within minutes.
The same comparison is also made in CPU time, which neighbours cannot move:
the server's CPU seconds per ballot (gunicorn master and workers, plus the
PostgreSQL cluster's processes; ``bench/server_cpu.py``) against the floor
with each operation at its minimum CPU cost (``bench/verifier.py``'s
``cpu_floor``).  The load average is printed next to every figure.

``--server-threads N`` runs gunicorn's gthread workers with N threads each
(keep-alive; casts that arrive together share one transaction, see
``ballot_server/casting.py``); the default is the sync workers.

Then (unless ``--append-ballots 0``) the serialised part of casting alone
(``bench/server_append.py``): ``--append-ballots`` more voters (registered
with the others; they have not cast) get ballots made and verified
beforehand, which are handed to the server's own batch writer
(``ballot_server/cast_path.py:write_casts``) in batches of 1, 8 and 64 casts,
from the bench process on the same database: casts per second, and the CPU
per cast of the writer and of the database.  With the server CPU per verified
cast of the HTTP run, that gives the capacity model of ``docs/capacity.md``
(N verifying hosts on one database), printed last.

Then (unless ``--skip-proofs``) the time to serve proofs: the real server
(gunicorn, 2 workers) is pointed at the 1,000,000-entry board that
``bench/merkle_proofs.py`` builds and caches in ``bench/.cache`` (built here
if missing, which takes several minutes), and ``--proof-requests`` random
inclusion proofs (random tree size, random index) and as many random
consistency proofs are fetched one after another through
``GET /api/v1/elections/<id>/inclusion?index=&size=`` and
``.../consistency?first=&second=``, each verified against the root of its
tree; client-side latency (request sent to body read) is reported.  That
board is hash-chained and Merkle-stored exactly as the server stores a board,
but its entries carry placeholder payloads, not valid commands and ballots:
the proof routes read only the entry count, leaf hashes and Merkle nodes and
never interpret an entry, so a valid election would be served the same way.
Every request names its tree size, so the server signs no head and writes
nothing into the cached file.  Target: median under 10 ms for each proof.

Run (PostgreSQL needs the throw-away server of scripts/with-postgres.sh)::

    bash scripts/with-postgres.sh .venv/bin/python bench/server.py
    .venv/bin/python bench/server.py --engine sqlite [--ballots 5000] [--skip-proofs]

Exit status 0 when every cast was acknowledged and every board check passed;
1 otherwise.  Missed speed targets are reported, not turned into failures:
on a shared machine they measure the neighbours too.

Why one module of ~840 lines: it is one benchmark run end to end (start the
server, set up, cast, check, report, then the proof-serving part); the
ballot making and the load process are apart (``bench/server_ballots.py``,
``bench/server_load.py``) because they run in other processes.
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import json
import multiprocessing
import os
import random
import secrets
import statistics
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from sqlalchemy import create_engine, make_url  # noqa: E402
from sqlalchemy.pool import NullPool  # noqa: E402

from ballot_server.db import init_db, make_engine, setup_server_role, sqlite_url  # noqa: E402
from ballot_server.store import Store  # noqa: E402
from bench import crypto as bench_crypto  # noqa: E402
from bench import (  # noqa: E402
    merkle_proofs,
    server_append,
    server_ballots,
    server_cpu,
    server_load,
)
from bench.verifier import cpu_floor  # noqa: E402
from cli import api, election, trustee  # noqa: E402
from cli.client import Client  # noqa: E402
from cli.credentials import issue_to_directory, numbered_labels, publish_credentials  # noqa: E402
from cli.demo import running_server  # noqa: E402
from cli.official import create_signing_key  # noqa: E402
from cli.vote import election_context  # noqa: E402
from cli.voters import read_login_file, register_voters  # noqa: E402
from evote import merkle  # noqa: E402
from evote.board import Receipt, verify_chain  # noqa: E402
from evote.encoding import b64decode, parse_json  # noqa: E402
from evote.errors import BoardError, EvoteError  # noqa: E402
from evote.fingerprint import ElectionContext  # noqa: E402
from evote.manifest import Manifest  # noqa: E402
from evote.signing import SigningKey  # noqa: E402

CORES = 2  # the issue's ceiling: 2 cores / per-ballot verification cost
WORKERS = 2  # gunicorn workers, as the issue asks; --workers N to compare
SERVER_THREADS = 1  # threads per worker (sync workers; gthread when > 1)
SHAPE = "1x5"
RATIO_TARGET = 0.7
PROOF_TARGET_MS = 10.0
TRUSTEES, THRESHOLD = 3, 2
ELECTION_ID = "bench-server"
MANIFEST = {
    "version": 1,
    "election_id": ELECTION_ID,
    "title": "Ballot server benchmark",
    "questions": [
        {
            "id": "q0",
            "title": "Pick one",
            "kind": "choice",
            "min": 1,
            "max": 1,
            "options": [f"Option {o}" for o in range(5)],
        }
    ],
}
POSTGRES_ENV = "EVOTE_TEST_POSTGRES_URL"
PGDATA_ENV = "EVOTE_TEST_PGDATA"  # exported by scripts/with-postgres.sh
PROOF_ENTRIES = 1_000_000
PROOF_BOARD = merkle_proofs.CACHE / f"merkle-{PROOF_ENTRIES}.sqlite"
PROOF_WARMUP = 10
FLOOR_SAMPLES = 3
PAIR_SECONDS = 4.0


def say(message: str = "") -> None:
    print(message, flush=True)


def load_average() -> float:
    return os.getloadavg()[0]


def percentile(values: Sequence[float], q: float) -> float:
    """The nearest-rank ``q`` percentile (0 < q <= 100) of a non-empty list."""
    ordered = sorted(values)
    rank = max(1, -(-len(ordered) * q // 100))  # ceil(n q / 100)
    return ordered[int(rank) - 1]


@contextlib.contextmanager
def environ(**values: str | None) -> Iterator[None]:
    """Set (or, for None, remove) environment variables for the block.

    ``cli.demo.running_server`` hands the server a copy of ``os.environ``; this
    is how the benchmark chooses the server's database (``EVOTE_DATABASE_URL``,
    which ``evote serve --database`` reads) without a new option there.
    """
    saved = {name: os.environ.get(name) for name in values}
    try:
        for name, value in values.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


# --- databases -----------------------------------------------------------------------------


@contextlib.contextmanager
def board_database(engine: str) -> Iterator[str | None]:
    """The server's database URL for ``engine``: None for SQLite (the server's default file in
    its instance folder), or a fresh PostgreSQL database reached as the restricted server
    role, dropped (with the role) afterwards."""
    if engine == "sqlite":
        yield None
        return
    server = os.environ[POSTGRES_ENV]
    name = "evote_bench_" + secrets.token_hex(4)
    role = name + "_server"
    admin = create_engine(make_url(server), poolclass=NullPool, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    try:
        owner_url = make_url(server).set(database=name).render_as_string(hide_password=False)
        owner = make_engine(owner_url)
        init_db(owner)
        owner.dispose()
        yield setup_server_role(owner_url, role, secrets.token_hex(16))
    finally:
        with admin.connect() as conn:
            conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            conn.exec_driver_sql(f'DROP ROLE IF EXISTS "{role}"')
        admin.dispose()


# --- the election ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Parties:
    """The keys made before the server starts (it needs the official's public key)."""

    official: SigningKey
    authority: SigningKey
    trustee_states: list[Path]
    trustee_keys: list[Any]


@dataclass(frozen=True)
class OpenElection:
    """An open election: the voters' checked context, and per voter (in order) the
    credential and the login code."""

    ctx: ElectionContext
    credentials: list[SigningKey]
    logins: list[str]


def make_parties(keys: Path) -> Parties:
    keys.mkdir(mode=0o700)
    states = [keys / f"trustee{i}.state" for i in range(1, TRUSTEES + 1)]
    return Parties(
        official=create_signing_key(keys / "official.key", "official"),
        authority=create_signing_key(keys / "credential-authority.key", "credential-authority"),
        trustee_states=states,
        trustee_keys=[trustee.init_trustee(path) for path in states],
    )


def open_election(client: Client, parties: Parties, work: Path, voters: int) -> OpenElection:
    """Create, run the key ceremony, issue credentials and logins, open (as ``evote demo``)."""
    manifest = Manifest.from_json(MANIFEST)
    eid = manifest.election_id
    setup = election.created_body(
        manifest,
        parties.official.verify_key,
        parties.authority.verify_key,
        parties.trustee_keys,
        THRESHOLD,
    )
    election.create_election(client, parties.official, setup)
    trustee.run_ceremony(client, parties.trustee_states, eid, parties.official)
    labels = numbered_labels(voters)
    issued = issue_to_directory(
        eid, manifest.label(), labels, work / "credentials", sheets=False, quiet=True
    )
    publish_credentials(client, parties.authority, eid, issued.credentials)
    ids = [v.voter_id for v in labels]
    register_voters(client, parties.official, eid, ids, work / "logins")
    election.open_election(client, parties.official, eid)
    return OpenElection(
        ctx=election_context(client, eid),
        credentials=[issued.private[v] for v in ids],
        logins=[read_login_file(work / "logins" / f"{v}.login")[1] for v in ids],
    )


@dataclass(frozen=True)
class Costs:
    """What one ballot's verification costs on this machine, measured around a run.

    ``verify_s``: ``bench/crypto.py``'s per-ballot verification cost from the
    wire (parse, validate every point, verify; the median over ballots), the
    least of :data:`FLOOR_SAMPLES` measurements -- one sample can catch a
    neighbour's burst and swell it, which would flatter the ratio.
    ``floor_s``: the libsodium calls of that verification alone, replayed
    (same sampling).  ``cpu_floor_s``: those calls with each operation at its
    least CPU time (``bench/verifier.py``).  ``pair_per_s``: ballots per second
    that two processes verifying side by side reach together, one measurement
    of :data:`PAIR_SECONDS` -- on a virtual machine two busy cores rarely give
    twice one core's speed.
    """

    verify_s: float
    floor_s: float
    cpu_floor_s: float
    pair_per_s: float


def _pair_worker(seconds: float, start: Any, answer: Any) -> None:
    ctx, creds = bench_crypto.make_context(SHAPE)
    wires = bench_crypto.wire_ballots(ctx, creds, 20)
    start.wait()
    done, t0 = 0, time.perf_counter()
    while (elapsed := time.perf_counter() - t0) < seconds:
        bench_crypto.wire_verify(ctx, wires[done % len(wires)])
        done += 1
    answer.put(done / elapsed)


def pair_capacity(seconds: float = PAIR_SECONDS) -> float:
    """Ballots per second :data:`CORES` processes verify together from the wire."""
    fork = multiprocessing.get_context("fork")
    start, answer = fork.Barrier(CORES), fork.Queue()
    procs = [
        fork.Process(target=_pair_worker, args=(seconds, start, answer)) for _ in range(CORES)
    ]
    for p in procs:
        p.start()
    rates = [answer.get(timeout=seconds + 120) for _ in procs]
    for p in procs:
        p.join()
    return sum(rates)


def measure_costs() -> Costs:
    """:class:`Costs`, measured now."""
    cpu = cpu_floor()
    samples = [bench_crypto.wire_verify_cost(SHAPE) for _ in range(FLOOR_SAMPLES)]
    return Costs(
        verify_s=min(x["verify_s"] for x in samples),
        floor_s=min(x["floor_s"] for x in samples),
        cpu_floor_s=cpu,
        pair_per_s=pair_capacity(),
    )


# --- the load -------------------------------------------------------------------------------


def cast_all(
    url: str, election_id: str, jobs: list[tuple[str, bytes]], threads: int
) -> server_load.LoadResult:
    """Run the load in its own process and wait for its :class:`~bench.server_load.LoadResult`."""
    parts = urlsplit(url)
    plan = server_load.LoadPlan(
        host=parts.hostname or "127.0.0.1",
        port=parts.port or 80,
        path=f"/api/v1/elections/{quote(election_id, safe='')}/ballots",
        jobs=jobs,
        threads=threads,
    )
    spawn = multiprocessing.get_context("spawn")
    receiver, sender = spawn.Pipe(duplex=False)
    process = spawn.Process(
        target=server_load.load_process, args=(plan, sender), name="evote-bench-load"
    )
    process.start()
    sender.close()
    try:
        result = receiver.recv()
    except EOFError:
        process.join()
        raise RuntimeError(f"the load process died (exit status {process.exitcode})") from None
    finally:
        receiver.close()
    process.join()
    return result


def check_board(
    client: Client,
    election_id: str,
    bodies: list[bytes],
    receipts: list[tuple[int, bytes]],
) -> str:
    """Check the board over the API after the load; a one-line summary, or raise EvoteError."""
    board_key = api.board_key(client)
    entries = api.fetch_entries(client, election_id)
    head = api.signed_head(client, election_id)
    head.verify(board_key)
    summary = verify_chain(entries, expect=head.head)  # chain, lifecycle, size and root
    cast = Counter(e.kind for e in entries)["ballot_cast"]
    if cast != len(bodies):
        raise BoardError(f"the board holds {cast} cast ballots, {len(bodies)} were sent")
    seen: set[int] = set()
    for job, raw in receipts:
        receipt = Receipt.from_json(parse_json(raw))
        receipt.verify(board_key)
        if receipt.index >= len(entries):
            raise BoardError(f"a receipt names entry {receipt.index}, beyond the board's end")
        entry = entries[receipt.index]
        receipt.verify_entry(entry)
        if entry.kind != "ballot_cast" or entry.payload.get("ballot") != parse_json(bodies[job]):
            raise BoardError(f"entry {receipt.index} does not hold ballot {job} as sent")
        seen.add(receipt.index)
    if len(seen) != len(receipts):
        raise BoardError("two receipts name the same board entry")
    return (
        f"{summary.size} entries, chain and lifecycle verified to a signed head; "
        f"{cast} cast ballots; {len(receipts)} receipts verified against their entries"
    )


# --- one engine -----------------------------------------------------------------------------


@dataclass
class EngineRun:
    engine: str
    ballots: int
    workers: int
    seconds: float = 0.0
    latencies: list[float] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    before: Costs | None = None  # measured just before the casts
    after: Costs | None = None  # and just after
    server_cpu_s: float = 0.0
    database_cpu_s: float | None = None
    client_cpu_s: float = 0.0
    load_before: float = 0.0
    load_after: float = 0.0
    setup_s: float = 0.0
    generate_s: float = 0.0
    board: str = ""
    board_ok: bool = False
    appends: list[server_append.AppendRun] = field(default_factory=list)

    @property
    def acknowledged(self) -> int:
        return len(self.latencies)

    @property
    def ballots_per_s(self) -> float:
        return self.acknowledged / self.seconds if self.seconds else 0.0

    def _mean(self, name: str) -> float:
        values = [getattr(c, name) for c in (self.before, self.after) if c is not None]
        return sum(values) / len(values) if values else float("nan")

    @property
    def verify_s(self) -> float:
        return self._mean("verify_s")

    @property
    def floor_s(self) -> float:
        return self._mean("floor_s")

    @property
    def cpu_floor_s(self) -> float:
        return self._mean("cpu_floor_s")

    @property
    def pair_per_s(self) -> float:
        return self._mean("pair_per_s")

    @property
    def ceiling_per_s(self) -> float:
        """The issue's crypto floor: 2 cores / per-ballot verification cost."""
        return CORES / self.verify_s

    @property
    def ratio(self) -> float:
        return self.ballots_per_s / self.ceiling_per_s

    @property
    def floor_per_s(self) -> float:
        """Stricter: 2 cores / the libsodium calls of one verification alone."""
        return CORES / self.floor_s

    @property
    def floor_ratio(self) -> float:
        return self.ballots_per_s / self.floor_per_s

    @property
    def pair_ratio(self) -> float:
        return self.ballots_per_s / self.pair_per_s

    @property
    def cpu_per_ballot_s(self) -> float:
        return (self.server_cpu_s + (self.database_cpu_s or 0.0)) / max(1, self.acknowledged)

    @property
    def cpu_ratio(self) -> float:
        return self.cpu_floor_s / self.cpu_per_ballot_s if self.cpu_per_ballot_s else 0.0

    @property
    def cores_used(self) -> float:
        return (
            (self.server_cpu_s + (self.database_cpu_s or 0.0)) / self.seconds
            if self.seconds
            else 0.0
        )

    @property
    def ok(self) -> bool:
        return not self.errors and self.acknowledged == self.ballots and self.board_ok


def run_engine(
    engine: str,
    ballots: int,
    threads: int,
    processes: int,
    server_threads: int,
    workers: int,
    append_ballots: int = 0,
) -> EngineRun:
    run = EngineRun(engine, ballots, workers)
    say(
        f"\n=== {engine}: {ballots:,} ballots, gunicorn {workers} workers x {server_threads} "
        f"threads, {threads} client connections ==="
    )
    with tempfile.TemporaryDirectory(prefix=f"evote-bench-{engine}-") as tmp:
        work = Path(tmp)
        parties = make_parties(work / "keys")
        with (
            board_database(engine) as database_url,
            environ(EVOTE_DATABASE_URL=database_url),
            running_server(
                work, work / "keys" / "official.pub", workers=workers, threads=server_threads
            ) as url,
            Client(url, timeout=300) as client,
        ):
            t0 = time.monotonic()
            opened = open_election(client, parties, work, ballots + append_ballots)
            run.setup_s = time.monotonic() - t0
            say(
                f"  election open in {run.setup_s:.1f} s (fingerprint "
                f"{opened.ctx.fingerprint.hex()[:16]}…); encrypting {ballots:,} ballots on "
                f"{processes} processes ..."
            )
            t0 = time.monotonic()
            bodies = server_ballots.make_ballots(
                opened.ctx, opened.credentials[:ballots], processes
            )
            run.generate_s = time.monotonic() - t0
            jobs = list(zip(opened.logins[:ballots], bodies, strict=True))
            run.before = measure_costs()
            say(f"  ballots made in {run.generate_s:.1f} s; before: {describe(run.before)}")
            say("  casting ...")

            port = urlsplit(url).port or 80
            pgdata = os.environ.get(PGDATA_ENV) if engine == "postgres" else None
            server_pids = server_cpu.server_processes(port)
            if len(server_pids) != 1 + workers:
                say(f"  note: found {len(server_pids)} server processes, expected {1 + workers}")
            server_before = server_cpu.cpu_seconds(server_pids)
            db_before = server_cpu.cpu_seconds(server_cpu.postgres_processes(pgdata))
            run.load_before = load_average()
            result = cast_all(url, ELECTION_ID, jobs, threads)
            run.load_after = load_average()
            run.server_cpu_s = server_cpu.spent(
                server_before, server_cpu.cpu_seconds(server_cpu.server_processes(port))
            )
            if pgdata and db_before:
                db_after = server_cpu.cpu_seconds(server_cpu.postgres_processes(pgdata))
                run.database_cpu_s = server_cpu.spent(db_before, db_after)
            run.seconds, run.client_cpu_s = result.seconds, result.cpu_seconds
            run.after = measure_costs()
            run.latencies, run.errors = result.latencies, result.errors
            say(
                f"  cast: {run.acknowledged:,} acknowledged, {len(run.errors)} errors in "
                f"{run.seconds:.1f} s (load average {run.load_before:.1f} -> {run.load_after:.1f})"
            )
            say(f"  after: {describe(run.after)}")
            for message in run.errors[:5]:
                say(f"    error: {message}")
            try:
                run.board = check_board(client, ELECTION_ID, bodies, result.receipts)
                run.board_ok = True
            except EvoteError as exc:
                run.board = f"FAILED: {type(exc).__name__}: {exc.message}"
            say(f"  board: {run.board}")
            if append_ballots:
                run.appends = append_only(
                    opened, ballots, processes, work, database_url, os.environ.get(PGDATA_ENV)
                    if engine == "postgres" else None
                )
    return run


#: Batch sizes of the append-only measurement: an idle server's (1) up to the
#: cast queue's largest batch (ballot_server.casting.MAX_BATCH).
APPEND_BATCHES = (1, 8, 64)


def append_only(
    opened: OpenElection,
    first: int,
    processes: int,
    work: Path,
    database_url: str | None,
    pgdata: str | None,
) -> list[server_append.AppendRun]:
    """The serialised board append alone (``bench/server_append.py``), with the voters
    after the first ``first`` (they have not cast yet): their ballots made and verified
    beforehand, then written through the server's batch writer."""
    say(f"  append only: encrypting and verifying {len(opened.credentials) - first:,} more "
        "ballots beforehand ...")
    bodies = server_ballots.make_ballots(opened.ctx, opened.credentials[first:], processes)
    voter_ids = [v.voter_id for v in numbered_labels(len(opened.credentials))][first:]
    casts = server_append.verified_casts(opened.ctx, list(zip(voter_ids, bodies, strict=True)))
    url = database_url or sqlite_url(str(work / "server" / "evote.sqlite"))
    runs = server_append.measure_append(
        url, str(work / "server" / "board-key"), ELECTION_ID, casts, APPEND_BATCHES, pgdata
    )
    for r in runs:
        db = "" if r.database_ms is None else f", database {r.database_ms:.2f} ms CPU/cast"
        say(f"  append only, batches of {r.batch:>2}: {r.casts:,} casts in {r.seconds:.1f} s = "
            f"{r.per_s:,.0f} casts/s; writer {r.writer_ms:.2f} ms CPU/cast{db}")
    return runs


def describe(c: Costs) -> str:
    return (
        f"verify {c.verify_s * 1e3:.2f} ms/ballot (libsodium floor {c.floor_s * 1e3:.2f}, "
        f"CPU floor {c.cpu_floor_s * 1e3:.2f}); {CORES} processes verify "
        f"{c.pair_per_s:.0f} ballots/s together"
    )


def print_runs(runs: list[EngineRun]) -> None:
    workers = sorted({r.workers for r in runs})
    say(f"\n=== ballot casting (gunicorn, {'/'.join(map(str, workers))} workers; shape {SHAPE}) ===")
    header = (
        f"{'engine':<9}{'ballots':>8}{'errors':>7}{'seconds':>9}{'ballots/s':>10}"
        f"{'p50 ms':>8}{'p99 ms':>8}{'ceiling/s':>10}{'ratio':>7}{'floor/s':>9}{'ratio':>7}"
        f"{'pair/s':>8}{'ratio':>7}   load"
    )
    say(header)
    say("-" * len(header))
    for r in runs:
        p50 = percentile(r.latencies, 50) * 1e3 if r.latencies else float("nan")
        p99 = percentile(r.latencies, 99) * 1e3 if r.latencies else float("nan")
        say(
            f"{r.engine:<9}{r.acknowledged:>8,}{len(r.errors):>7}{r.seconds:>9.1f}"
            f"{r.ballots_per_s:>10.1f}{p50:>8.1f}{p99:>8.1f}{r.ceiling_per_s:>10.1f}"
            f"{r.ratio:>7.2f}{r.floor_per_s:>9.1f}{r.floor_ratio:>7.2f}"
            f"{r.pair_per_s:>8.1f}{r.pair_ratio:>7.2f}   {r.load_before:.1f}->{r.load_after:.1f}"
        )
    say(
        f"ceiling/s = {CORES} cores / per-ballot verification cost from the wire "
        f"(bench/crypto.py), the issue's crypto floor: ratio = ballots/s / ceiling/s, "
        f"target >= {RATIO_TARGET}.  floor/s = {CORES} cores / the libsodium calls of "
        f"that verification alone (stricter).  pair/s = ballots/s {CORES} processes "
        f"verify together, measured.  Each is the mean of a measurement just before and "
        f"one just after the casts (ceiling/s and floor/s each the least of {FLOOR_SAMPLES} "
        f"samples, pair/s one {PAIR_SECONDS:.0f} s run)."
    )
    say("\nCPU time (independent of the neighbours' load):")
    header = (
        f"{'engine':<9}{'server ms/b':>12}{'db ms/b':>9}{'cpu floor':>10}{'cpu ratio':>10}"
        f"{'cores used':>11}{'client ms/b':>12}{'setup s':>9}{'encrypt s':>10}"
    )
    say(header)
    say("-" * len(header))
    for r in runs:
        n = max(1, r.acknowledged)
        db = "-" if r.database_cpu_s is None else f"{r.database_cpu_s / n * 1e3:.2f}"
        say(
            f"{r.engine:<9}{r.server_cpu_s / n * 1e3:>12.2f}{db:>9}{r.cpu_floor_s * 1e3:>10.2f}"
            f"{r.cpu_ratio:>10.2f}{r.cores_used:>11.2f}{r.client_cpu_s / n * 1e3:>12.2f}"
            f"{r.setup_s:>9.1f}"
            f"{r.generate_s:>10.1f}"
        )
    say(
        "server = gunicorn master + workers; db = the PostgreSQL cluster's processes; "
        "cpu ratio = cpu floor / (server + db) CPU per ballot, i.e. what 2 idle cores "
        "would give over the floor with a free load generator; cores used = (server + db) "
        "CPU seconds / wall seconds of the run, i.e. how much of the 2 cores the server got"
    )
    for r in runs:
        met = "met" if r.ratio >= RATIO_TARGET else "NOT met"
        say(f"{r.engine}: ratio {r.ratio:.2f} (target {RATIO_TARGET}: {met}); board: {r.board}")


def print_capacity(runs: list[EngineRun]) -> None:
    """The append-only rates, and the capacity model of docs/capacity.md that follows."""
    runs = [r for r in runs if r.appends and r.acknowledged]
    if not runs:
        return
    say("\n=== the serialised append alone (casts verified beforehand; bench/server_append.py) ===")
    header = f"{'engine':<9}{'batch':>6}{'casts':>7}{'casts/s':>9}{'writer ms/c':>12}{'db ms/c':>9}"
    say(header)
    say("-" * len(header))
    for r in runs:
        for a in r.appends:
            db = "-" if a.database_ms is None else f"{a.database_ms:.2f}"
            say(f"{r.engine:<9}{a.batch:>6}{a.casts:>7,}{a.per_s:>9,.0f}{a.writer_ms:>12.2f}{db:>9}")
    say(
        "\ncapacity model (docs/capacity.md): N verifying hosts of C cores on one database cast "
        "min(N x C / s, A) ballots/s, s = server CPU per verified cast (the HTTP run above: "
        "gunicorn processes only, the database's CPU excluded), A = the append-alone rate "
        "at the cast queue's largest batch"
    )
    for r in runs:
        s = r.server_cpu_s / r.acknowledged
        largest = max(r.appends, key=lambda x: x.batch)
        a = largest.per_s
        per_host = CORES / s
        hosts = [1, 2, 4, 8, 16, 32]
        model = ", ".join(f"N={n}: {min(n * per_host, a):,.0f}" for n in hosts)
        say(
            f"{r.engine}: s = {s * 1e3:.2f} ms CPU, one {CORES}-core host {per_host:,.0f}/s; "
            f"A = {a:,.0f}/s; saturates at N = {a / per_host:.1f} hosts; {model}"
        )
        if largest.database_ms is not None:
            bound = 1e3 / (largest.writer_ms + largest.database_ms)
            say(
                f"  (the lock holder's CPU alone, writer {largest.writer_ms:.2f} + database "
                f"{largest.database_ms:.2f} ms per cast in batches of {largest.batch}, would "
                f"allow at most {bound:,.0f} casts/s: A measured = {a / bound:.2f} of that; "
                "the rest is waiting: round trips, the commit's fsync, the neighbours)"
            )


# --- proofs on a million entries ------------------------------------------------------------


@dataclass
class ProofTimes:
    inclusion_ms: list[float]
    consistency_ms: list[float]
    warmup_ms: list[float]
    load_before: float
    load_after: float


def _get_json(conn: http.client.HTTPConnection, path: str) -> tuple[float, Any]:
    t0 = time.perf_counter()
    conn.request("GET", path, headers={"Accept": "application/json"})
    response = conn.getresponse()
    data = response.read()
    ms = (time.perf_counter() - t0) * 1e3
    if response.status != 200:
        raise RuntimeError(f"GET {path}: HTTP {response.status}: {data[:300]!r}")
    return ms, json.loads(data)


def _hashes(values: Any, what: str) -> list[bytes]:
    return [
        b64decode(h, length=merkle.HASH_SIZE, what=f"{what}[{i}]") for i, h in enumerate(values)
    ]


def proof_benchmark(requests: int, seed: int) -> ProofTimes:
    """Random inclusion and consistency proofs from the real server on the cached 1M board."""
    if not PROOF_BOARD.exists():
        say(f"building {PROOF_BOARD} (bench/merkle_proofs.py; several minutes) ...")
        merkle_proofs.CACHE.mkdir(exist_ok=True)
        merkle_proofs.build(PROOF_BOARD, PROOF_ENTRIES)
    election_id = merkle_proofs.ELECTION
    base = f"/api/v1/elections/{quote(election_id, safe='')}"
    engine = make_engine(sqlite_url(str(PROOF_BOARD)))
    rng = random.Random(seed)
    try:
        with Store(engine) as store:
            n = store.entry_count(election_id)
            if n != PROOF_ENTRIES:
                raise SystemExit(
                    f"{PROOF_BOARD} holds {n:,} entries, not {PROOF_ENTRIES:,}: rebuild it with "
                    "`.venv/bin/python bench/merkle_proofs.py --rebuild`"
                )
            roots: dict[int, bytes] = {}

            def root(size: int) -> bytes:
                if size not in roots:
                    roots[size] = store.root(election_id, size)
                return roots[size]

            with tempfile.TemporaryDirectory(prefix="evote-bench-proofs-") as tmp:
                work = Path(tmp)
                create_signing_key(work / "official.key", "official")
                with (
                    environ(EVOTE_DATABASE_URL=sqlite_url(str(PROOF_BOARD))),
                    running_server(work, work / "official.pub", workers=WORKERS) as url,
                ):
                    parts = urlsplit(url)
                    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=60)
                    try:
                        times = _measure_proofs(conn, base, n, requests, rng, store, root)
                    finally:
                        conn.close()
    finally:
        engine.dispose()
    return times


def _measure_proofs(
    conn: http.client.HTTPConnection,
    base: str,
    n: int,
    requests: int,
    rng: random.Random,
    store: Store,
    root: Callable[[int], bytes],
) -> ProofTimes:
    election_id = merkle_proofs.ELECTION
    load_before = load_average()
    warmup = [
        _get_json(conn, f"{base}/inclusion?index={rng.randrange(n)}&size={n}")[0]
        for _ in range(PROOF_WARMUP)
    ]
    inclusion: list[float] = []
    for _ in range(requests):
        size = rng.randint(1, n)
        index = rng.randrange(size)
        ms, body = _get_json(conn, f"{base}/inclusion?index={index}&size={size}")
        inclusion.append(ms)
        leaf = store.entry(election_id, index).leaf_hash()
        if body["index"] != index or body["size"] != size:
            raise BoardError(f"inclusion answer for ({index}, {size}) names another proof")
        if b64decode(body["entry_hash"], length=merkle.HASH_SIZE, what="entry_hash") != leaf:
            raise BoardError(f"the server's hash of entry {index} differs from the database")
        merkle.verify_inclusion(index, size, leaf, _hashes(body["proof"], "proof"), root(size))
    consistency: list[float] = []
    for _ in range(requests):
        new = rng.randint(2, n)
        old = rng.randint(1, new - 1)
        ms, body = _get_json(conn, f"{base}/consistency?first={old}&second={new}")
        consistency.append(ms)
        if body["first"] != old or body["second"] != new:
            raise BoardError(f"consistency answer for ({old}, {new}) names another proof")
        merkle.verify_consistency(old, new, _hashes(body["proof"], "proof"), root(old), root(new))
    return ProofTimes(inclusion, consistency, warmup, load_before, load_average())


def print_proofs(times: ProofTimes, requests: int) -> None:
    say(
        f"\n=== proofs over HTTP on a {PROOF_ENTRIES:,}-entry board (gunicorn, {WORKERS} workers) ==="
    )
    say(
        f"{requests} random requests of each kind, one at a time, every proof verified; "
        f"client-side latency (load average {times.load_before:.1f} -> {times.load_after:.1f})"
    )
    say(f"{'proof':<13}{'median ms':>10}{'p90 ms':>9}{'p99 ms':>9}{'max ms':>9}")
    worst = 0.0
    for name, ms in (("inclusion", times.inclusion_ms), ("consistency", times.consistency_ms)):
        median = statistics.median(ms)
        worst = max(worst, median)
        say(
            f"{name:<13}{median:>10.2f}{percentile(ms, 90):>9.2f}{percentile(ms, 99):>9.2f}"
            f"{max(ms):>9.2f}"
        )
    say(
        f"(first {PROOF_WARMUP} requests, not counted: max {max(times.warmup_ms):.1f} ms, "
        f"each worker opening its database connection)"
    )
    met = "met" if worst < PROOF_TARGET_MS else "NOT met"
    say(f"target: median < {PROOF_TARGET_MS:.0f} ms for each proof -> {met}")


# --- main -----------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ballots", type=int, default=5000, help="ballots to cast (default 5000)")
    parser.add_argument(
        "--engine", choices=("sqlite", "postgres", "both"), default="both", help="default: both"
    )
    parser.add_argument("--skip-proofs", action="store_true", help="skip the 1M-board proofs")
    parser.add_argument("--threads", type=int, default=12, help="load process threads (default 12)")
    parser.add_argument(
        "--workers",
        type=int,
        default=WORKERS,
        help=f"gunicorn workers for the casts (default {WORKERS}, as the issue asks; the "
        f"ceiling stays {CORES} cores)",
    )
    parser.add_argument(
        "--server-threads",
        type=int,
        default=SERVER_THREADS,
        help=f"threads per gunicorn worker, gthread when > 1 (default {SERVER_THREADS})",
    )
    parser.add_argument(
        "--processes",
        type=int,
        default=os.cpu_count() or 2,
        help="processes encrypting the ballots beforehand (default: every core)",
    )
    parser.add_argument(
        "--proof-requests", type=int, default=200, help="proofs of each kind (default 200)"
    )
    parser.add_argument("--seed", type=int, default=2024, help="seed of the proof requests")
    parser.add_argument(
        "--append-ballots",
        type=int,
        default=3000,
        help="more voters whose ballots, verified beforehand, are written through the server's "
        f"batch writer alone, in batches of {'/'.join(map(str, APPEND_BATCHES))} (default 3000; "
        "0: skip)",
    )
    args = parser.parse_args(argv)
    if args.append_ballots < 0:
        parser.error("--append-ballots must not be negative")
    if min(args.ballots, args.threads, args.processes, args.proof_requests, args.workers) < 1:
        parser.error(
            "--ballots, --threads, --processes, --proof-requests and --workers must be positive"
        )
    engines = ["sqlite", "postgres"] if args.engine == "both" else [args.engine]
    if "postgres" in engines and not os.environ.get(POSTGRES_ENV):
        parser.error(
            f"PostgreSQL needs {POSTGRES_ENV}: run `bash scripts/with-postgres.sh "
            ".venv/bin/python bench/server.py`, or pass --engine sqlite"
        )

    say(
        f"bench/server.py: {os.cpu_count()} cores, load average "
        f"{' '.join(f'{x:.2f}' for x in os.getloadavg())}"
    )
    runs = [
        run_engine(
            e,
            args.ballots,
            args.threads,
            args.processes,
            args.server_threads,
            args.workers,
            args.append_ballots,
        )
        for e in engines
    ]
    print_runs(runs)
    print_capacity(runs)
    if not args.skip_proofs:
        print_proofs(proof_benchmark(args.proof_requests, args.seed), args.proof_requests)
    ok = all(r.ok for r in runs)
    say(f"\n{'all casts acknowledged and boards verified' if ok else 'FAILED'}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
