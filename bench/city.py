"""A city-sized election on this machine: ``--voters`` (default 1,000,000) voters, end to end.

Every step but one is the real thing, run as an operator would run it, each in
its own process so that its time and memory are its own:

1. set-up (not a target): keys, the real server (``evote serve``, gunicorn, 2
   workers, SQLite in the work directory), the election created and the key
   ceremony run (3 trustees, 2 needed) with the functions ``evote demo`` uses;
2. **credentials**: ``evote credentials issue --count N --no-sheets`` (one
   private file per voter, the public list published to the server);
3. **registration**: ``evote voters register --from voters.csv`` (N logins,
   one login file per voter);
4. the election is opened; the first :data:`HTTP_CASTS` voters cast through
   the API with their login code and credential (``cli.vote.cast_or_audit``),
   to show the logins and credentials work;
5. **ballots** (the one shortcut, said here and in the output): every other
   voter's ballot is encrypted, proved and signed *beforehand* by a process pool
   (``--procs``, default every core) with that voter's credential file, and
   cached under the work directory; then the **board** is built by writing them
   through the store's batched path (``Store.locked(..., batched=True)``:
   ``append``, ``index_ballot``, ``bind_credentials`` binding each voter's login
   to its credential, one signed tree head per batch of ``--batch``), the path
   the server's cast queue takes after it has verified a batch of casts.  The
   server's own checks of each ballot (R-BAL-01/02) are skipped: their cost is
   ``bench/server.py``'s subject; the verifier re-checks every ballot below;
6. **tally**: ``evote election close``, ``evote election tally`` (aggregate and
   post), ``evote trustee decrypt --skip-ballot-proofs`` by 2 trustees (the
   trustees' own re-verification of every ballot would repeat the verifier's
   work on one core), ``evote election tally`` (combine, publish);
7. **export**: ``evote election export`` (the record directory);
8. **verify**: ``evote-verify record --workers 2``;
9. **verify on Dask**: a ``dask.distributed.LocalCluster`` of ``--dask-workers``
   worker processes (one thread each) started in a process of its own, and
   ``evote-verify record --dask-scheduler ADDRESS``.

For each step: wall-clock seconds, the rate (items per second), and the peak
memory of *every* process involved -- the step's processes and their children,
and the server's processes during the steps that talk to it -- each process's
own ``VmHWM`` (``bench/proc_memory.py``; the server's and the bench's are reset
at the start of each step), with the ratio to the targets: verification under
45 minutes with every process under 300 MB, every other step under 10 minutes.

Run::

    nice -n 10 .venv/bin/python bench/city.py --voters 1000000 > bench/.cache/city.log 2>&1
    .venv/bin/python bench/city.py --voters 10000 --skip-dask

The work directory (``--work``, default ``bench/.cache/city-<N>``) is replaced
at the start; ``--keep`` leaves it after the run (the record, credentials and
the pre-made ballots).  Pre-made ballots bind one election's fingerprint, and
every run makes a fresh election (fresh keys), so they are not reused across
runs.  Exit status 0 when every step succeeded and the record verified.
"""

from __future__ import annotations

import argparse
import base64
import json
import multiprocessing
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.proc_memory import PeakSampler, ProcessPeak, reset_peak  # noqa: E402

CACHE = ROOT / "bench" / ".cache"
ELECTION_ID = "city-poll"
MANIFEST = {
    "version": 1,
    "election_id": ELECTION_ID,
    "title": "City weekly poll",
    "questions": [
        {
            "id": "q0",
            "title": "Which project should the city fund first?",
            "kind": "choice",
            "min": 1,
            "max": 1,
            "options": [f"Project {o}" for o in range(5)],
        }
    ],
}
TRUSTEES, THRESHOLD = 3, 2
HTTP_CASTS = 10
CHUNK = 500  # ballots per task of the making pool, and per cache file
STEP_TARGET_S = 600.0
VERIFY_TARGET_S = 45 * 60.0
MEMORY_TARGET_MB = 300.0
PY = sys.executable
#: The tally command's request makes the server recompute the aggregate of every
#: counted ballot before it answers: minutes for a city (the CLI's 60 s is too short).
CLIENT_TIMEOUT_S = 3600.0


def say(message: str = "") -> None:
    print(message, flush=True)


# --- measuring a step -----------------------------------------------------------------------


@dataclass
class Step:
    name: str
    seconds: float
    items: int
    unit: str
    target_s: float
    peaks: list[ProcessPeak] = field(default_factory=list)
    memory_target: bool = False
    note: str = ""

    @property
    def rate(self) -> float:
        return self.items / self.seconds if self.seconds > 0 else 0.0

    @property
    def cpu_s(self) -> float:
        return sum(p.cpu_s for p in self.peaks)

    @property
    def idle_s(self) -> float:
        """What the step's CPU would take on 2 idle cores: its busiest process alone, or all
        of them spread over both cores, whichever is longer."""
        return max(max((p.cpu_s for p in self.peaks), default=0.0), self.cpu_s / 2)

    @property
    def worst_mb(self) -> float:
        return max((p.peak_mb for p in self.peaks), default=0.0)

    @property
    def met(self) -> bool:
        ok = self.seconds <= self.target_s
        return ok and (not self.memory_target or self.worst_mb <= MEMORY_TARGET_MB)


def _server_pids(server: subprocess.Popen | None) -> list[int]:
    return [server.pid] if server is not None else []


def run_step(
    name: str,
    commands: Sequence[Sequence[str]],
    *,
    items: int,
    unit: str,
    target_s: float = STEP_TARGET_S,
    also: Sequence[int] = (),
    memory_target: bool = False,
    cwd: Path | None = None,
    waits: Sequence[int] = (),
) -> tuple[Step, list[str]]:
    """Run ``commands`` one after another as child processes; time them and sample the
    peak memory of each child (and its descendants) and of ``also`` (the server).
    Commands whose index is in ``waits`` may exit with 1 (``election tally`` posting the
    tally, then waiting for the trustees)."""
    from bench.proc_memory import descendants

    reset_peak(descendants(also))
    current: list[int] = []
    outputs: list[str] = []
    say(f"--- {name}")
    started = time.perf_counter()
    with PeakSampler(lambda: [*current, *also]) as sampler:
        for k, cmd in enumerate(commands):
            say("    $ " + " ".join(_short(c) for c in cmd))
            proc = subprocess.Popen(  # noqa: S603 - our own interpreter and modules
                cmd, cwd=cwd or ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
            )
            current[:] = [proc.pid]
            out, err = proc.communicate()
            current[:] = []
            outputs.append(out)
            for line in (out.strip().splitlines()[-3:] if len(out) < 20_000 else []):
                say("      " + line)
            for line in err.strip().splitlines()[-4:]:
                say("      " + line)
            if proc.returncode not in ((0, 1) if k in waits else (0,)):
                raise SystemExit(f"{name}: {cmd[2:4]} exited with {proc.returncode}")
    seconds = time.perf_counter() - started
    step = Step(name, seconds, items, unit, target_s, sampler.peaks, memory_target)
    report(step)
    return step, outputs


def _short(arg: str) -> str:
    return os.path.relpath(arg, ROOT) if arg.startswith(str(ROOT)) else arg


def report(step: Step) -> None:
    say(
        f"    {step.name}: {step.seconds:,.1f} s for {step.items:,} {step.unit} = "
        f"{step.rate:,.0f} {step.unit}/s; {step.seconds / step.target_s:.2f}x the "
        f"{step.target_s / 60:.0f}-minute target"
        + (f"; {step.note}" if step.note else "")
    )
    for p in step.peaks:
        flag = " (over 300 MB)" if p.peak_mb > MEMORY_TARGET_MB else ""
        say(
            f"      pid {p.pid:>7} {'  ' * p.depth}{p.role[:50]:<{52 - 2 * p.depth}} "
            f"peak {p.peak_mb:7.1f} MB = {p.peak_mb / MEMORY_TARGET_MB:.2f}x 300 MB{flag} "
            f"(anon {p.anon_mb:.0f} MB); "
            f"CPU {p.cpu_s:,.1f} s"
        )
    if step.peaks:
        say(f"      CPU of all these processes: {step.cpu_s:,.1f} s = {step.cpu_s / step.items * 1e3:.3f}"
            f" ms per {step.unit.rstrip('s')}")


# --- ballots made beforehand ------------------------------------------------------------------

_WORKER: dict[str, Any] = {}


def _init_maker(ctx: Any, credentials: str, width: int) -> None:
    _WORKER.update(ctx=ctx, credentials=Path(credentials), width=width)


def _make_chunk(args: tuple[int, int, int, str]) -> int:
    """Encrypt voters ``[start, stop)``'s ballots into ``target`` (one JSON line each, with
    what the batched write needs: login, credential, tracking code, alphas, payload)."""
    import secrets

    from bench.crypto import selections_for
    from cli.keyfiles import read_json
    from evote.ballot import encrypt_ballot
    from evote.credentials import CredentialFile
    from evote.payloads import ballot_cast_payload
    from evote.rules import ballot_alphas

    start, stop, _, target = args
    ctx, width = _WORKER["ctx"], _WORKER["width"]
    lines = []
    for i in range(start, stop):
        voter = f"voter-{i + 1:0{width}d}"
        cred = CredentialFile.from_json(
            read_json(_WORKER["credentials"] / f"{voter}.json", "credential")
        )
        ballot, _ = encrypt_ballot(ctx, cred.key, selections_for(ctx, i), secrets.token_bytes)
        lines.append(json.dumps({
            "voter": voter,
            "credential": base64.b64encode(ballot.credential.raw).decode(),
            "tracking_code": ballot.tracking_code,
            "alphas": [base64.b64encode(a).decode() for a in ballot_alphas(ballot)],
            "payload": ballot_cast_payload(ballot),
        }, separators=(",", ":")))
    tmp = Path(target + ".tmp")
    tmp.write_text("\n".join(lines) + "\n")
    tmp.rename(target)
    return stop - start


def make_ballots(ctx: Any, work: Path, first: int, voters: int, width: int, procs: int) -> Step:
    out = work / "ballots"
    out.mkdir(exist_ok=True)
    tasks = [
        (s, min(s + CHUNK, voters), k, str(out / f"chunk-{k:06d}.jsonl"))
        for k, s in enumerate(range(first, voters, CHUNK))
    ]
    say(f"--- ballots made beforehand (bench's own cost, not a target): {voters - first:,} "
        f"ballots by {procs} processes")
    started = time.perf_counter()
    done = 0
    last = started
    with PeakSampler(lambda: [os.getpid()]) as sampler, multiprocessing.get_context("spawn").Pool(
        procs, initializer=_init_maker, initargs=(ctx, str(work / "credentials" / "credentials"),
                                                   width)
    ) as pool:
        for n in pool.imap_unordered(_make_chunk, tasks):
            done += n
            now = time.perf_counter()
            if now - last > 30 or done == voters - first:
                last = now
                say(f"    made {done:,}/{voters - first:,} ({done / (now - started):,.0f} "
                    f"ballots/s, load {os.getloadavg()[0]:.1f})")
    step = Step("ballots made", time.perf_counter() - started, voters - first, "ballots",
                float("inf"), sampler.peaks)
    step.target_s = max(step.seconds, 1.0)  # no target: shown for the record
    return step


def _batches(work: Path, size: int) -> Iterator[list[dict[str, Any]]]:
    batch: list[dict[str, Any]] = []
    for path in sorted((work / "ballots").glob("chunk-*.jsonl")):
        with open(path, "rb") as fh:
            for line in fh:
                batch.append(json.loads(line))
                if len(batch) == size:
                    yield batch
                    batch = []
    if batch:
        yield batch


def write_board(work: Path, count: int, batch: int) -> Step:
    """Write the pre-made ballots through the store's batched path (see the docstring)."""
    from ballot_server.config import read_board_key
    from ballot_server.db import make_engine, sqlite_url
    from ballot_server.store import Store, sign_head_locked
    from evote.kinds import BALLOT_CAST

    say(f"--- board: {count:,} pre-made ballots written through Store.locked(batched=True), "
        f"{batch} per transaction and signed head")
    data = work / "server"
    key = read_board_key(str(data / "board-key"))
    engine = make_engine(sqlite_url(str(data / "evote.sqlite")))
    reset_peak([os.getpid()])
    started = time.perf_counter()
    written = 0
    last = started
    with PeakSampler(lambda: [os.getpid()], descend=False) as sampler, Store(engine) as store:
        for group in _batches(work, batch):
            now_ms = int(time.time() * 1000)
            with store.locked(ELECTION_ID, batched=True) as board:
                bindings = []
                for b in group:
                    entry = board.append(BALLOT_CAST, b["payload"], now_ms)
                    credential = base64.b64decode(b["credential"])
                    board.index_ballot(entry.index, b["tracking_code"], credential,
                                       [base64.b64decode(a) for a in b["alphas"]])
                    bindings.append((b["voter"], credential))
                board.bind_credentials(bindings)
                sign_head_locked(board, key, entry.time)
            written += len(group)
            now = time.perf_counter()
            if now - last > 30:
                last = now
                say(f"    wrote {written:,}/{count:,} ({written / (now - started):,.0f} ballots/s)")
    engine.dispose()
    step = Step("board", time.perf_counter() - started, written, "ballots", STEP_TARGET_S,
                sampler.peaks, note="pre-made ballots, the server's per-ballot checks skipped")
    report(step)
    return step


# --- the tally without the CLI's whole-board downloads (--tally bench) ---------------------


def _cached_ciphertexts(work: Path) -> Iterator[list[list[Any]]]:
    """The pre-made ballots' ciphertexts, from the cache (points not re-validated: the bench
    made them, and the server and the verifier check every one)."""
    from evote.elgamal import Ciphertext
    from evote.encoding import b64decode
    from evote.group import Point

    for path in sorted((work / "ballots").glob("chunk-*.jsonl")):
        with open(path, "rb") as fh:
            for line in fh:
                answers = json.loads(line)["payload"]["ballot"]["answers"]
                yield [[Ciphertext(Point(b64decode(c["alpha"], length=32)),
                                   Point(b64decode(c["beta"], length=32))) for c in a["choices"]]
                       for a in answers]


def bench_tally(client: Any, work: Path, official: Any, states: Sequence[Path], ctx: Any,
                http_ballots: Sequence[Any], voters: int, also: Sequence[int],
                close: bool = True) -> Step:
    """Close, post the tally, 2 partial decryptions and the result, each a signed command
    over the API as the CLI posts it -- but the aggregate is summed from the bench's own
    ballots instead of from the board downloaded by each command (``evote election tally``
    and ``evote trustee decrypt`` each fetch and parse the whole board: see the output).
    The server still recomputes the aggregate before accepting the tally."""
    import secrets

    from bench.proc_memory import descendants
    from cli import api
    from cli.board_view import result_bounds
    from cli.trustee import _post, load_state
    from evote.commands import sign_command
    from evote.kinds import ELECTION_CLOSED, PARTIAL_DECRYPTION, RESULT_PUBLISHED, TALLY_POSTED
    from evote.tally import aggregate, combine, partial_decrypt

    say("--- tally (--tally bench: the aggregate summed by the bench, commands over the API)")
    reset_peak([os.getpid(), *descendants(also)])
    started = time.perf_counter()
    with PeakSampler(lambda: [os.getpid(), *also]) as sampler:
        eid = ELECTION_ID
        if close:
            api.post_command(client, eid, ELECTION_CLOSED, sign_command(official, eid,
                                                                        ELECTION_CLOSED, {}))
        shape = [len(q.options) for q in ctx.manifest.questions]

        def counted() -> Iterator[tuple[int, list[list[Any]]]]:
            for ballot in http_ballots:
                yield 1, [list(a.choices) for a in ballot.answers]
            for cts in _cached_ciphertexts(work):
                yield 1, cts

        tally = aggregate(shape, counted())
        body = {"tally": tally.to_json(), "counted": voters, "total_weight": voters}
        t_post = time.perf_counter()
        api.post_command(client, eid, TALLY_POSTED, sign_command(official, eid, TALLY_POSTED,
                                                                 body))
        say(f"    aggregate summed in {t_post - started:.1f} s; the server checked and "
            f"appended the tally in {time.perf_counter() - t_post:.1f} s")
        partials = []
        for path in states[:THRESHOLD]:
            state = load_state(path)
            ceremony = state.ceremony
            assert ceremony is not None and ceremony.share is not None
            partial = partial_decrypt(ctx.fingerprint, ceremony.trustee, ceremony.share, tally,
                                      secrets.token_bytes)
            _post(client, state, PARTIAL_DECRYPTION, partial.to_json())
            partials.append(partial)
        joint = api.fetch_setup(client, eid).joint_key()
        result = combine(ctx.fingerprint, tally, partials, joint,
                         result_bounds(ctx.manifest, voters))
        api.post_command(client, eid, RESULT_PUBLISHED, sign_command(
            official, eid, RESULT_PUBLISHED, {"result": result.to_json()}))
        say(f"    result: {result.to_json()}")
    step = Step("tally", time.perf_counter() - started, voters, "ballots", STEP_TARGET_S,
                sampler.peaks, note="--tally bench")
    report(step)
    return step


# --- the election ---------------------------------------------------------------------------


def start_server(work: Path, official_pub: Path) -> tuple[subprocess.Popen, str]:
    from cli.demo import _wait_ready, free_port

    port = free_port()
    log = open(work / "server.log", "wb")  # noqa: SIM115 - closed with the process
    cmd = [PY, "-m", "cli.main", "serve", "--host", "127.0.0.1", "--port", str(port),
           "--workers", "2", "--data-dir", str(work / "server"), "--official", str(official_pub)]
    env = {**os.environ, "EVOTE_HSTS_MAX_AGE": "0", "EVOTE_CAST_RATE": "100000",
           "EVOTE_CAST_BURST": "100000"}
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, env=env,  # noqa: S603
                            start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    _wait_ready(url, proc, work / "server.log")
    return proc, url


def stop_server(proc: subprocess.Popen) -> None:
    from cli.demo import _stop

    _stop(proc)


def dir_size(path: Path) -> tuple[int, int]:
    files = size = 0
    for root, _, names in os.walk(path):
        for n in names:
            files += 1
            size += os.path.getsize(os.path.join(root, n))
    return files, size


def start_dask(workers: int) -> tuple[subprocess.Popen, str]:
    code = (
        "import sys\n"
        "from distributed import LocalCluster\n"
        f"c = LocalCluster(n_workers={workers}, threads_per_worker=1, processes=True,"
        " dashboard_address=None, memory_limit=0)\n"
        "print(c.scheduler_address, flush=True)\n"
        "sys.stdin.read()\n"
        "c.close()\n"
    )
    proc = subprocess.Popen([PY, "-c", code], cwd=ROOT, stdin=subprocess.PIPE,  # noqa: S603
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    assert proc.stdout is not None
    address = proc.stdout.readline().strip()
    if not address:
        raise SystemExit("the Dask cluster did not start")
    return proc, address


def verify_step(name: str, record: Path, args: list[str], ballots: int,
                also: Sequence[int] = ()) -> Step:
    step, outputs = run_step(
        name, [[PY, "-m", "verifier.main", "record", "--json", *args, str(record)]],
        items=ballots, unit="ballots", target_s=VERIFY_TARGET_S, also=also, memory_target=True,
    )
    result = json.loads(outputs[0])
    failed = [c["title"] for c in result["checks"] if c["status"] not in ("pass", "skip")]
    counted = next((c.get("counts", {}) for c in result["checks"]
                    if c.get("counts", {}).get("ballots")), {})
    step.note = (f"{'VERIFIED' if result.get('ok', not failed) and not failed else 'FAILED'}: "
                 f"{sum(c['status'] == 'pass' for c in result['checks'])} of "
                 f"{len(result['checks'])} checks passed; {counted}")
    if failed:
        say(f"    failed checks: {failed}")
    say("    " + step.note)
    return step


def run(args: argparse.Namespace) -> list[Step]:
    from bench.crypto import selections_for
    from cli import api, election, trustee
    from cli.client import Client
    from cli.keyfiles import read_json
    from cli.official import create_signing_key
    from cli.trustee import _finalized, load_state
    from cli.vote import cast_or_audit, election_context
    from cli.voters import read_login_file
    from evote.credentials import CredentialFile
    from evote.manifest import Manifest

    n = args.voters
    width = max(6, len(str(n)))
    work: Path = args.work or CACHE / f"city-{n}"
    if work.exists():
        shutil.rmtree(work)
    work.mkdir(parents=True)
    keys = work / "keys"
    keys.mkdir(mode=0o700)
    say(f"city bench: {n:,} voters; work directory {_short(str(work))}; "
        f"{os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f}")
    t0 = time.perf_counter()
    official = create_signing_key(keys / "official.key", "official")
    authority = create_signing_key(keys / "ca.key", "credential-authority")
    states = [keys / f"trustee{i}.state" for i in range(1, TRUSTEES + 1)]
    trustee_keys = [trustee.init_trustee(p) for p in states]
    server, url = start_server(work, keys / "official.pub")
    steps: list[Step] = []
    try:
        with Client(url, timeout=CLIENT_TIMEOUT_S) as client:
            manifest = Manifest.from_json(MANIFEST)
            setup = election.created_body(manifest, official.verify_key, authority.verify_key,
                                          trustee_keys, THRESHOLD)
            election.create_election(client, official, setup)
            trustee.run_ceremony(client, states, ELECTION_ID, official)
            say(f"--- set-up: server on {url}, election created, key ceremony done "
                f"({time.perf_counter() - t0:.1f} s)")
            srv = _server_pids(server)
            cli = [PY, "-m", "cli.main"]
            common = ["--election", ELECTION_ID, "--server", url]

            step, _ = run_step("credentials", [[
                *cli, "credentials", "issue", *common, "--count", str(n), "--no-sheets",
                "--out", str(work / "credentials"), "--key", str(keys / "ca.key")]],
                items=n, unit="credentials", also=srv)
            files, size = dir_size(work / "credentials")
            step.note = f"{files:,} files, {size / 2**20:,.1f} MB"
            say(f"    {step.note}")
            steps.append(step)

            roster = work / "voters.csv"
            with open(roster, "w") as fh:
                fh.write("voter_id\n")
                for i in range(1, n + 1):
                    fh.write(f"voter-{i:0{width}d}\n")
            step, _ = run_step("registration", [[
                *cli, "voters", "register", *common, "--from", str(roster),
                "--out", str(work / "logins"), "--key", str(keys / "official.key")]],
                items=n, unit="logins", also=srv)
            files, size = dir_size(work / "logins")
            step.note = f"{files:,} login files, {size / 2**20:,.1f} MB"
            say(f"    {step.note}")
            steps.append(step)

            if args.until == "registration":
                return steps
            election.open_election(client, official, ELECTION_ID)
            setup_view = api.fetch_setup(client, ELECTION_ID)
            for path in states:  # each trustee's share, computed from the ceremony and saved
                state = load_state(path)
                assert state.ceremony is not None
                _finalized(state, state.ceremony, setup_view)
            ctx = election_context(client, ELECTION_ID)
            http = min(HTTP_CASTS, n)
            t1 = time.perf_counter()
            http_ballots = []
            for i in range(http):
                voter = f"voter-{i + 1:0{width}d}"
                cred = CredentialFile.from_json(read_json(
                    work / "credentials" / "credentials" / f"{voter}.json", "credential"))
                login = read_login_file(work / "logins" / f"{voter}.login")[1]
                http_ballots.append(
                    cast_or_audit(client, ctx, cred.key, login, selections_for(ctx, i)).ballot)
            say(f"--- opened; {http} voters cast through the API with their login and "
                f"credential ({time.perf_counter() - t1:.1f} s)")

            if n > http:
                steps.append(make_ballots(ctx, work, http, n, width, args.procs))
                steps.append(write_board(work, n - http, args.batch))

            if args.tally == "bench":
                steps.append(bench_tally(client, work, official, states, ctx, http_ballots, n,
                                         srv))
            tally_cmds = [
                [*cli, "election", "close", ELECTION_ID, *common[2:], "--key", str(keys / "official.key")],
                [*cli, "election", "tally", ELECTION_ID, *common[2:], "--key",
                 str(keys / "official.key"), "--timeout", "0"],
                *[[*cli, "trustee", "decrypt", "--state", str(s), "--server", url,
                   "--timeout", "0", "--skip-ballot-proofs"] for s in states[:THRESHOLD]],
                [*cli, "election", "tally", ELECTION_ID, *common[2:], "--key",
                 str(keys / "official.key"), "--timeout", "0"],
            ]
            if args.tally == "cli":
                step, _ = run_step("tally", tally_cmds, items=n, unit="ballots", also=srv,
                                   waits=[1])
                steps.append(step)

            record = work / "record"
            step, _ = run_step("export", [[*cli, "election", "export", ELECTION_ID, *common[2:],
                                           "--out", str(record)]],
                               items=n, unit="ballots", also=srv)
            files, size = dir_size(record)
            step.note = f"{files} files, {size / 2**20:,.1f} MB"
            say(f"    {step.note}")
            steps.append(step)
    finally:
        stop_server(server)

    steps.extend(verify_steps(args, record, n))
    if not args.keep:
        shutil.rmtree(work, ignore_errors=True)
    return steps


def resume(args: argparse.Namespace) -> list[Step]:
    """After a run that stopped once the board was built and the election closed (kept
    work directory): restart the server on its data, then tally (bench), export, verify."""
    from ballot_server.db import make_engine, sqlite_url
    from ballot_server.store import Store
    from cli import api
    from cli.client import Client
    from cli.keyfiles import read_key_file
    from evote.kinds import BALLOT_CAST
    from evote.payloads import parse_ballot_cast

    n, work = args.voters, args.work or CACHE / f"city-{args.voters}"
    keys = work / "keys"
    official = read_key_file(keys / "official.key", "official")
    states = [keys / f"trustee{i}.state" for i in range(1, TRUSTEES + 1)]
    say(f"city bench: resuming {_short(str(work))} ({n:,} voters) at the tally; "
        f"load average {os.getloadavg()[0]:.1f}")
    engine = make_engine(sqlite_url(str(work / "server" / "evote.sqlite")))
    http_ballots = []
    with Store(engine) as store:
        for entry in store.iter_entries(ELECTION_ID):
            if entry.kind == BALLOT_CAST:
                http_ballots.append(entry)
                if len(http_ballots) == min(HTTP_CASTS, n):
                    break
    engine.dispose()
    server, url = start_server(work, keys / "official.pub")
    steps: list[Step] = []
    try:
        with Client(url, timeout=CLIENT_TIMEOUT_S) as client:
            ctx = api.fetch_setup(client, ELECTION_ID).context()  # closed: not the voters' call
            ballots = [parse_ballot_cast(e, ctx.manifest) for e in http_ballots]
            steps.append(bench_tally(client, work, official, states, ctx, ballots, n,
                                     _server_pids(server), close=False))
            record = work / "record"
            step, _ = run_step("export", [[PY, "-m", "cli.main", "election", "export",
                                           ELECTION_ID, "--server", url, "--out", str(record)]],
                               items=n, unit="ballots", also=_server_pids(server))
            files, size = dir_size(record)
            step.note = f"{files} files, {size / 2**20:,.1f} MB"
            say(f"    {step.note}")
            steps.append(step)
    finally:
        stop_server(server)
    steps.extend(verify_steps(args, record, n))
    return steps


def verify_steps(args: argparse.Namespace, record: Path, n: int) -> list[Step]:
    """``evote-verify --workers``, then (unless ``--skip-dask``) on a Dask LocalCluster."""
    steps = [verify_step(f"verify (--workers {args.workers})", record,
                         ["--workers", str(args.workers)], n)]
    if not args.skip_dask:
        cluster, address = start_dask(args.dask_workers)
        try:
            steps.append(verify_step(
                f"verify (Dask LocalCluster, {args.dask_workers} worker processes)", record,
                ["--dask-scheduler", address], n, also=[cluster.pid]))
        finally:
            assert cluster.stdin is not None
            cluster.stdin.close()
            try:
                cluster.wait(timeout=30)
            except subprocess.TimeoutExpired:
                cluster.kill()
    return steps


def summary(steps: Sequence[Step], voters: int, extrapolate: int = 0) -> bool:
    say("")
    say(f"=== summary: {voters:,} voters, {os.cpu_count()} cores, load average now "
        f"{os.getloadavg()[0]:.1f}")
    say(f"{'step':<44} {'seconds':>9} {'CPU s':>9} {'rate/s':>9} {'x target':>9} {'worst MB':>9} "
        f"{'x 300MB':>8}")
    ok = True
    for s in steps:
        made = s.name == "ballots made"
        ratio = "-" if made else f"{s.seconds / s.target_s:.2f}"
        mem = f"{s.worst_mb / MEMORY_TARGET_MB:.2f}" if s.memory_target else "-"
        say(f"{s.name:<44} {s.seconds:>9.1f} {s.cpu_s:>9.1f} {s.rate:>9,.0f} {ratio:>9} "
            f"{s.worst_mb:>9.1f} "
            f"{mem:>8}" + ("" if made or s.met else "  MISSED"))
        if s.note.startswith("FAILED"):
            ok = False
    if extrapolate and extrapolate != voters:
        k = extrapolate / voters
        say(f"\nLINEAR EXTRAPOLATION to {extrapolate:,} voters (x{k:,.1f}; not measured): "
            "wall seconds x k as measured here (at this load average), and CPU seconds x k "
            "on 2 idle cores (the busiest process's CPU, or all the step's CPU over 2 cores, "
            "whichever is more; fixed costs are scaled too, so small runs overestimate)")
        for s in steps:
            say(f"  {s.name:<44} {s.seconds * k:>9,.0f} s wall   {s.idle_s * k:>9,.0f} s "
                f"on 2 idle cores" + ("" if s.name == "ballots made" else
                                     f"   target {s.target_s:,.0f} s"))
    return ok


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--voters", type=int, default=1_000_000)
    ap.add_argument("--workers", type=int, default=2, help="evote-verify --workers")
    ap.add_argument("--dask-workers", type=int, default=3,
                    help="worker processes of the Dask LocalCluster")
    ap.add_argument("--skip-dask", action="store_true")
    ap.add_argument("--procs", type=int, default=os.cpu_count() or 2,
                    help="processes making the ballots beforehand")
    ap.add_argument("--batch", type=int, default=1000, help="ballots per board transaction")
    ap.add_argument("--work", type=Path, help="work directory (replaced)")
    ap.add_argument("--keep", action="store_true", help="keep the work directory")
    ap.add_argument("--resume", action="store_true",
                    help="continue a kept run (--work, --voters) that stopped after the board, "
                    "its election closed: tally (bench), export, verify")
    ap.add_argument("--verify-only", type=Path, metavar="RECORD",
                    help="only the verification steps, on the record of an earlier --keep run "
                    "(give its --voters too)")
    ap.add_argument("--until", choices=("registration",),
                    help="stop after this step (to measure the first steps alone)")
    ap.add_argument("--extrapolate", type=int, default=1_000_000,
                    help="also print the figures scaled linearly to this many voters (labelled)")
    ap.add_argument("--tally", choices=("cli", "bench"), default="cli",
                    help="cli: the evote commands (each downloads the whole board); bench: "
                    "the aggregate summed by the bench, the commands posted over the API")
    args = ap.parse_args(argv)
    if args.voters < 1:
        ap.error("--voters must be at least 1")
    if args.resume:
        steps = resume(args)
    elif args.verify_only:
        say(f"city bench: verifying the record {_short(str(args.verify_only))} of "
            f"{args.voters:,} voters again; load average {os.getloadavg()[0]:.1f}")
        steps = verify_steps(args, args.verify_only, args.voters)
    else:
        steps = run(args)
    return 0 if summary(steps, args.voters, args.extrapolate) else 1


if __name__ == "__main__":
    sys.exit(main())
