"""Bounded soak run: gunicorn (2 workers) under mixed load from locust, then the verifier.

    .venv/bin/python bench/soak.py                  # 5 minutes, private PostgreSQL
    .venv/bin/python bench/soak.py --minutes 1 --database sqlite
    .venv/bin/python bench/soak.py --database postgresql+psycopg://...

What happens, in order:

1. a board database is prepared: by default a private, throw-away PostgreSQL
   cluster (the production engine; ``tests/attacks/pgcluster.py``), or SQLite,
   or the URL given;
2. ``evote serve --workers 2`` starts in its own process (gunicorn, the
   product's production path; the access log goes to ``server.log`` in the
   work directory);
3. an election is set up through the HTTP API exactly as the parties do it
   (``tests/support/api_election.py``: official, three trustees with a real key
   ceremony, credential authority, voter logins) and a pool of ballots is
   encrypted beforehand, on every core, so that the load generator does not
   compete with the server for CPU while it runs;
4. locust runs headless in its own process for ``--minutes``: ``--casters``
   users each cast about one ballot a second (until the pool is used up), and
   ``--readers`` users read the board (tree head, pages of entries, inclusion
   proofs by index and by tracking code, consistency proofs, ballot lookups);
   every acknowledged cast's receipt is written to a file;
5. the election is closed and tallied through the API, the record is
   downloaded, and the verifier runs over it; every receipt is checked against
   the record (signature, inclusion, the entry at its index).

Reported (stdout, and ``summary.json`` in the work directory): requests and
failures per kind, the error rate (must be 0: every request sent is a valid
one), p50/p95/p99 latency per kind and overall, casts acknowledged, and the
verifier's verdict.  Exit status 0 only if the error rate is 0, every receipt
checks out and the record verifies.

Not part of ``make test``: it takes ``--minutes`` plus setup and verification.
Needs the ``bench`` extra (locust).
"""

from __future__ import annotations

import argparse
import csv
import json
import multiprocessing
import os
import random
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

LOCUST_ENV = "EVOTE_SOAK_LOCUST"
API = "/api/v1"


# ==========================================================================================
# The load generator (imported by locust, in locust's own process)
# ==========================================================================================

if os.environ.get(LOCUST_ENV):
    from locust import HttpUser, between, constant_throughput, events, task

    _PLAN = json.loads(Path(os.environ[LOCUST_ENV]).read_text())
    _ELECTION = _PLAN["election"]
    _BASE = f"{API}/elections/{_ELECTION}"
    _POOL = [json.loads(line) for line in Path(_PLAN["ballots"]).read_text().splitlines()]
    _NEXT = iter(_POOL)
    _LOCK = threading.Lock()
    _RECEIPTS = open(_PLAN["receipts"], "a", encoding="utf-8")  # noqa: SIM115 -- closed at quit
    _CODES: list[str] = []
    _SIZE = [_PLAN["start_size"]]

    @events.quitting.add_listener
    def _close(**_: Any) -> None:
        _RECEIPTS.close()

    class Caster(HttpUser):
        """A voter casting a pre-encrypted ballot, about once a second."""

        fixed_count = int(_PLAN["casters"])
        wait_time = constant_throughput(1)

        @task
        def cast(self) -> None:
            with _LOCK:
                item = next(_NEXT, None)
            if item is None:
                return  # the pool is used up: this user only waits now
            with self.client.post(
                f"{_BASE}/ballots", json=item["ballot"], name="POST ballots",
                headers={"Authorization": f"Bearer {item['login']}"}, catch_response=True,
            ) as response:
                if response.status_code != 201:
                    response.failure(f"HTTP {response.status_code}: {response.text[:200]}")
                    return
                receipt = response.json()
                with _LOCK:
                    _RECEIPTS.write(json.dumps(receipt) + "\n")
                    _RECEIPTS.flush()
                    _CODES.append(receipt["tracking_code"])
                    _SIZE[0] = max(_SIZE[0], receipt["tree_head"]["head"]["size"])
                response.success()

    class Reader(HttpUser):
        """An auditor or a voter checking: tree heads, board pages, proofs, lookups."""

        fixed_count = int(_PLAN["readers"])
        wait_time = between(0.05, 0.3)

        def _get(self, path: str, name: str) -> Any:
            with self.client.get(path, name=name, catch_response=True) as response:
                if response.status_code != 200:
                    response.failure(f"HTTP {response.status_code}: {response.text[:200]}")
                    return None
                response.success()
                return response.json()

        @task(3)
        def tree_head(self) -> None:
            head = self._get(f"{_BASE}/tree-head", "GET tree-head")
            if head is not None:
                _SIZE[0] = max(_SIZE[0], head["head"]["size"])

        @task(3)
        def entries(self) -> None:
            start = random.randrange(max(1, _SIZE[0] - 50))
            self._get(f"{_BASE}/entries?start={start}&limit=50", "GET entries")

        @task(4)
        def inclusion_by_index(self) -> None:
            index = random.randrange(_SIZE[0])
            self._get(f"{_BASE}/inclusion?index={index}", "GET inclusion (index)")

        @task(2)
        def inclusion_by_code(self) -> None:
            if _CODES:
                code = random.choice(_CODES)
                self._get(f"{_BASE}/inclusion?tracking_code={code}", "GET inclusion (code)")

        @task(2)
        def ballot_lookup(self) -> None:
            if _CODES:
                self._get(f"{_BASE}/ballots/{random.choice(_CODES)}", "GET ballot")

        @task(1)
        def consistency(self) -> None:
            first = random.randrange(1, max(2, _SIZE[0]))
            self._get(f"{_BASE}/consistency?first={first}", "GET consistency")


# ==========================================================================================
# The driver
# ==========================================================================================


class _Response:
    """What tests/support/api_election.py expects of a response (the Flask test client's shape)."""

    def __init__(self, response: Any) -> None:
        self.status_code = response.status_code
        self._response = response

    def get_json(self) -> Any:
        return self._response.json() if self._response.content else None

    def get_data(self) -> bytes:
        return self._response.content


class HttpClient:
    """The Flask-test-client subset that :func:`tests.support.api_election.build_election` uses,
    over real HTTP to the gunicorn server."""

    def __init__(self, base_url: str) -> None:
        import httpx

        self._http = httpx.Client(base_url=base_url, timeout=300)

    def post(self, path: str, *, json: Any = None, headers: dict | None = None) -> _Response:
        return _Response(self._http.post(path, json=json, headers=headers or {}))

    def get(self, path: str, **_: Any) -> _Response:
        return _Response(self._http.get(path))

    def close(self) -> None:
        self._http.close()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_until_up(base: str, process: subprocess.Popen, log: Path) -> None:
    import httpx

    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"the server exited early; see {log}")
        try:
            if httpx.get(f"{base}{API}/board-key", timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    raise SystemExit(f"the server did not come up within 60 s; see {log}")


# -- ballots, encrypted before the load starts ---------------------------------------------

_WORKER: dict[str, Any] = {}


def _init_worker(ctx: Any, keys: list[Any]) -> None:
    _WORKER["ctx"], _WORKER["keys"] = ctx, keys


def _encrypt(job: tuple[int, int, bytes]) -> tuple[int, dict]:
    from evote.ballot import encrypt_ballot
    from evote.drbg import SeededRng

    voter, choice, seed = job
    ctx = _WORKER["ctx"]
    selections = [
        [1 if o == choice % len(q.options) else 0 for o in range(len(q.options))]
        for q in ctx.manifest.questions
    ]
    ballot, _ = encrypt_ballot(ctx, _WORKER["keys"][voter], selections, SeededRng(seed))
    return voter, ballot.to_json()


def encrypt_pool(election: Any, count: int, processes: int) -> list[tuple[int, dict]]:
    jobs = [(v, v * 7 + 1, b"soak/%d" % v) for v in range(count)]
    with multiprocessing.get_context("spawn").Pool(
        processes, initializer=_init_worker, initargs=(election.ctx, election.credentials)
    ) as pool:
        return pool.map(_encrypt, jobs, chunksize=16)


# -- the run --------------------------------------------------------------------------------


def _database(choice: str, workdir: Path) -> tuple[str, Any]:
    """(URL, cluster or None) for --database."""
    if choice == "sqlite":
        return "sqlite:///" + str(workdir / "board.sqlite"), None
    if choice == "postgres":
        from tests.attacks.pgcluster import PrivateCluster, postgres_bin

        bindir = postgres_bin()
        if bindir is None:
            raise SystemExit("PostgreSQL binaries not found: use --database sqlite or a URL")
        cluster = PrivateCluster(bindir)
        return cluster.board_database(), cluster
    return choice, None


def _read_stats(prefix: Path) -> dict[str, dict[str, Any]]:
    out = {}
    with open(f"{prefix}_stats.csv", newline="", encoding="utf-8") as fh:
        for row in csv.DictReader(fh):
            name = row["Name"] if row["Type"] else "all"
            out[name] = {
                "requests": int(row["Request Count"]),
                "failures": int(row["Failure Count"]),
                "p50_ms": float(row["50%"] or 0),
                "p95_ms": float(row["95%"] or 0),
                "p99_ms": float(row["99%"] or 0),
                "max_ms": float(row["Max Response Time"] or 0),
                "rps": round(float(row["Requests/s"] or 0), 2),
            }
    return out


def run(args: argparse.Namespace) -> int:
    from evote.board import Entry, Receipt
    from evote.errors import EvoteError
    from tests.support import api_election
    from tests.support.api_election import build_election
    from verifier import parallel
    from verifier.checks import verify_record
    from verifier.record import Record
    from verifier.sources import ZipSource

    workdir = Path(args.workdir or tempfile.mkdtemp(prefix="evote-soak-"))
    workdir.mkdir(parents=True, exist_ok=True)
    url, cluster = _database(args.database, workdir)
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    official = api_election.OFFICIAL  # the key build_election signs the official's commands with
    env = {
        **os.environ,
        "EVOTE_CAST_RATE": "1000000",  # every locust user comes from 127.0.0.1
        "EVOTE_CAST_BURST": "1000000",
        "EVOTE_OFFICIALS": official.verify_key.to_json(),
    }
    log = workdir / "server.log"
    summary: dict[str, Any] = {"minutes": args.minutes, "database": url.split("@")[-1],
                               "workers": 2, "workdir": str(workdir)}
    server = None
    try:
        with open(log, "wb") as log_fh:
            server = subprocess.Popen(
                [sys.executable, "-m", "cli.main", "serve", "--workers", "2", "--port", str(port),
                 "--data-dir", str(workdir / "instance"), "--database", url],
                cwd=ROOT, env=env, stdout=log_fh, stderr=subprocess.STDOUT,
            )
        _wait_until_up(base, server, log)

        pool_size = args.casters * int(args.minutes * 60) + 20
        print(f"setting up an election with {pool_size} voters ...", flush=True)
        client = HttpClient(base)
        t0 = time.monotonic()
        election = build_election(client, voters=pool_size, seed=b"soak")
        print(f"  done in {time.monotonic() - t0:.1f} s; encrypting {pool_size} ballots ...",
              flush=True)
        t0 = time.monotonic()
        ballots = encrypt_pool(election, pool_size, args.processes)
        summary["setup_seconds"] = round(time.monotonic() - t0, 1)
        pool_file, receipts_file = workdir / "ballots.jsonl", workdir / "receipts.jsonl"
        pool_file.write_text("".join(
            json.dumps({"login": election.login(v), "ballot": b}) + "\n" for v, b in ballots))
        receipts_file.write_text("")
        plan = workdir / "plan.json"
        plan.write_text(json.dumps({
            "election": election.election_id, "ballots": str(pool_file),
            "receipts": str(receipts_file), "casters": args.casters, "readers": args.readers,
            "start_size": election.size(),
        }))

        print(f"load: {args.casters} casters + {args.readers} readers for {args.minutes} min "
              f"against {base} ...", flush=True)
        prefix = workdir / "locust"
        locust = shutil.which("locust", path=str(Path(sys.executable).parent)) or "locust"
        subprocess.run(
            [locust, "-f", str(Path(__file__).resolve()), "--headless",
             "--users", str(args.casters + args.readers),
             "--spawn-rate", str(args.casters + args.readers),
             "--run-time", f"{int(args.minutes * 60)}s", "--host", base,
             "--csv", str(prefix), "--only-summary", "--loglevel", "WARNING",
             "--exit-code-on-error", "0"],
            cwd=ROOT, env={**os.environ, LOCUST_ENV: str(plan)}, check=True,
        )
        stats = _read_stats(prefix)
        summary["requests"] = stats
        total = stats["all"]
        summary["error_rate"] = total["failures"] / total["requests"] if total["requests"] else 1.0
        summary["p99_ms"] = total["p99_ms"]

        print("tallying and verifying ...", flush=True)
        t0 = time.monotonic()
        election.tally()
        record_zip = workdir / "record.zip"
        record_zip.write_bytes(client.get(f"{election.url}/record").get_data())
        source = ZipSource(record_zip)
        try:
            record = Record.load(source)
            report = verify_record(
                record, runner_factory=lambda ctx: parallel.ProcessRunner(ctx, args.processes))
        finally:
            source.close()
        summary["verifier"] = {"verdict": report.verdict, "failed": report.failed(),
                               "ballots": report.stats.get("ballots"),
                               "seconds": round(time.monotonic() - t0, 1)}

        entries = {e.index: e for e in map(Entry.from_bytes, _board_lines(record_zip))}
        board_key = record.board_key
        receipts = [Receipt.from_json(json.loads(x)) for x in receipts_file.read_text().splitlines()]
        lost = []
        for receipt in receipts:
            try:
                receipt.verify(board_key)
                receipt.verify_entry(entries[receipt.index])
            except KeyError:
                lost.append(f"{receipt.index}: no such entry on the board")
            except EvoteError as exc:
                lost.append(f"{receipt.index}: {exc.message}")
        summary["casts_acknowledged"] = len(receipts)
        summary["receipts_failing"] = lost
        client.close()
    finally:
        if server is not None:
            server.terminate()
            try:
                server.wait(timeout=30)
            except subprocess.TimeoutExpired:
                server.kill()
        if cluster is not None:
            cluster.close()

    (workdir / "summary.json").write_text(json.dumps(summary, indent=2))
    _print(summary)
    ok = (summary["error_rate"] == 0 and not summary["receipts_failing"]
          and summary["verifier"]["verdict"] == "pass")
    print("SOAK PASSED" if ok else "SOAK FAILED")
    return 0 if ok else 1


def _board_lines(record_zip: Path) -> list[bytes]:
    import zipfile

    with zipfile.ZipFile(record_zip) as z:
        name = next(n for n in z.namelist() if n.endswith("board.jsonl"))
        return z.read(name).split(b"\n")[:-1]


def _print(summary: dict[str, Any]) -> None:
    print()
    print(f"{'request':<24}{'count':>8}{'fail':>6}{'rps':>8}{'p50':>8}{'p95':>8}{'p99':>8}"
          f"{'max':>8}  (ms)")
    for name, s in summary["requests"].items():
        print(f"{name:<24}{s['requests']:>8}{s['failures']:>6}{s['rps']:>8}{s['p50_ms']:>8.0f}"
              f"{s['p95_ms']:>8.0f}{s['p99_ms']:>8.0f}{s['max_ms']:>8.0f}")
    print()
    print(f"error rate            {summary['error_rate']:.6f}")
    print(f"p99 latency (all)     {summary['p99_ms']:.0f} ms")
    print(f"casts acknowledged    {summary['casts_acknowledged']}")
    print(f"receipts failing      {len(summary['receipts_failing'])}")
    v = summary["verifier"]
    print(f"verifier              {v['verdict']} ({v['ballots']} ballots, {v['seconds']} s)"
          + (f" failed: {', '.join(v['failed'])}" if v["failed"] else ""))
    print(f"details               {summary['workdir']}/summary.json")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--minutes", type=float, default=5.0, help="load duration (default 5)")
    parser.add_argument("--database", default="postgres",
                        help="'postgres' (private cluster, default), 'sqlite', or a URL")
    parser.add_argument("--casters", type=int, default=5,
                        help="users casting about one ballot a second each (default 5)")
    parser.add_argument("--readers", type=int, default=10,
                        help="users reading the board and proofs (default 10)")
    parser.add_argument("--processes", type=int, default=os.cpu_count() or 2,
                        help="processes for encrypting the pool and for the verifier")
    parser.add_argument("--workdir", help="keep logs, CSVs, the record and summary.json here")
    return run(parser.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
