"""``evote demo``: a whole election on this machine, through the real pieces.

Nothing is simulated: a real ballot server runs as a gunicorn subprocess on
127.0.0.1 (a free port, SQLite in a temporary directory), and every party
uses the same functions as the ``evote`` commands, over HTTP:

1. the official, the credential authority and n trustees make their keys;
2. the official creates the election; the trustees run the key ceremony;
3. the credential authority issues N credentials and publishes the public
   list; the official registers N voter logins; the official opens;
4. N voters cast encrypted ballots over HTTP, a few of them vote twice (the
   last ballot counts) and a few audit a ballot before casting;
5. the official closes; every trustee mixes the ranked and graded ballots
   (the mayor by instant runoff, the city plans by majority judgment) in turn,
   with proofs of a shuffle; the official tallies; t of the n trustees each
   check the tally and post a partial decryption of it and of the mixed lists
   (one trustee stays away, to show that t suffice); the official counts the
   ranked questions and publishes the result;
6. the record is exported to ``--out`` and checked by the verifier
   (``evote-verify``, a separate process), and the result is compared with
   the choices the demo's voters made.

The voters' choices come from a seeded generator (``--seed``), so a run is
reproducible in what it votes; every key and every encryption uses fresh
system randomness, as in a real election.

Why one module of ~520 lines: it is a script of the six steps above, in
order, each a few calls to the commands' own functions; splitting it would
scatter one walk-through over files without making any step reusable.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import click

from cli import api, election, trustee
from cli.chart import write_chart
from cli.client import Client, ServerUnreachable
from cli.console import CliError, note, progress, say
from cli.credentials import issue_to_directory, numbered_labels, publish_credentials
from cli.keyfiles import read_key_file
from cli.mixer import mix_round
from cli.official import create_signing_key
from cli.ranked_steps import mix_decrypt_round, ranked_round
from cli.ranked_view import print_sheets, sheet_totals
from cli.results import print_result, question_totals
from cli.vote import cast_or_audit, election_context
from cli.voters import register_voters
from evote.drbg import SeededRng
from evote.encoding import parse_json
from evote.errors import EvoteError
from evote.manifest import Manifest, Question
from evote.record import FILES

ELECTION_ID = "demo-city-poll"
SERVER_START_TIMEOUT = 60.0
DEMO_MANIFEST = {
    "version": 1,
    "election_id": ELECTION_ID,
    "title": {"en": "Demo city poll", "ru": "Демонстрационный городской опрос"},
    "description": "An election run by `evote demo`.",
    "questions": [
        {
            "id": "park",
            "title": {"en": "Renovate the riverside park?", "ru": "Реконструировать парк у реки?"},
            "kind": "choice",
            "min": 1,
            "max": 1,
            "options": [{"en": "Yes", "ru": "Да"}, {"en": "No", "ru": "Нет"}],
        },
        {
            "id": "priorities",
            "title": {"en": "Pick up to two priorities", "ru": "Выберите до двух приоритетов"},
            "kind": "choice",
            "min": 0,
            "max": 2,
            "options": ["Cycle lanes", "Playgrounds", "Street lighting", "Public toilets"],
        },
        {
            "id": "budget",
            "title": "Give up to 5 points to the projects you like",
            "kind": "score",
            "min": 0,
            "max": 5,
            "max_score": 3,
            "options": ["Library", "Swimming pool", "Tram line"],
        },
        {
            "id": "mayor",
            "title": {"en": "Mayor (rank the candidates)", "ru": "Мэр (расставьте кандидатов)"},
            "kind": "ranked",
            "method": "irv",
            "options": ["Anna Petrova", "Boris Ivanov", "Chen Wei", "Dara Okafor"],
        },
        {
            "id": "plans",
            "title": {"en": "Grade the city plans", "ru": "Оцените планы города"},
            "kind": "grades",
            "grades": [
                {"en": "Reject", "ru": "Отклонить"},
                {"en": "Poor", "ru": "Плохо"},
                {"en": "Fair", "ru": "Удовлетворительно"},
                {"en": "Good", "ru": "Хорошо"},
                {"en": "Excellent", "ru": "Отлично"},
            ],
            "options": ["Riverside housing", "Night buses", "Market hall"],
        },
    ],
}


# --- deterministic voters ---------------------------------------------------------------


def _below(rng: SeededRng, n: int) -> int:
    """Uniform in [0, n) from the seeded stream (rejection sampling, no modulo bias)."""
    limit = (1 << 32) - (1 << 32) % n
    while True:
        v = int.from_bytes(rng(4), "big")
        if v < limit:
            return v % n


def random_selection(question: Question, rng: SeededRng) -> tuple[int, ...]:
    """A valid answer to ``question``, drawn from the seeded generator."""
    k = len(question.options)
    if question.kind == "ranked":  # rank a random number of candidates, in random order
        order = list(range(k))
        for i in range(k - 1, 0, -1):
            j = _below(rng, i + 1)
            order[i], order[j] = order[j], order[i]
        ranks = [0] * k
        for rank, o in enumerate(order[: 1 + _below(rng, k)], start=1):
            ranks[o] = rank
        return tuple(ranks)
    if question.kind == "grades":
        return tuple(_below(rng, len(question.grades)) for _ in range(k))
    while True:
        if question.kind == "choice":
            marks = question.min + _below(rng, question.max - question.min + 1)
            chosen: set[int] = set()
            while len(chosen) < marks:
                chosen.add(_below(rng, k))
            row = tuple(1 if o in chosen else 0 for o in range(k))
        else:
            row = tuple(_below(rng, question.max_score + 1) for _ in range(k))
        if question.min <= sum(row) <= question.max:
            return row


def random_ballot(manifest: Manifest, rng: SeededRng) -> list[tuple[int, ...]]:
    return [random_selection(q, rng) for q in manifest.questions]


def expected_counts(manifest: Manifest, final: list[list[tuple[int, ...]]]) -> list[list[int]]:
    """What the tally must say: the sum of every voter's last ballot (all weights are 1),
    for the choice and score questions (the ranked and graded ones are mixed)."""
    tallied = manifest.tallied_questions
    counts = [[0] * len(manifest.questions[q].options) for q in tallied]
    for ballot in final:
        for i, q in enumerate(tallied):
            for o, v in enumerate(ballot[q]):
                counts[i][o] += v
    return counts


def expected_rows(final: list[list[tuple[int, ...]]], question: int) -> list[tuple[int, ...]]:
    """What the decrypted mixed list must hold, in some order: every voter's last row."""
    return sorted(ballot[question] for ballot in final)


# --- the server subprocess ---------------------------------------------------------------


def free_port() -> int:
    with contextlib.closing(socket.socket(socket.AF_INET, socket.SOCK_STREAM)) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def running_server(
    workdir: Path, official_pub: Path, *, workers: int = 2, threads: int = 1
) -> Iterator[str]:
    """Start ``evote serve`` (gunicorn) on a free loopback port; yield its URL; stop it."""
    port = free_port()
    log_path = workdir / "server.log"
    command = [
        sys.executable,
        "-m",
        "cli.main",
        "serve",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--workers",
        str(workers),
        "--threads",
        str(threads),
        "--data-dir",
        str(workdir / "server"),
        "--official",
        str(official_pub),
    ]
    env = {
        **os.environ,
        "EVOTE_HSTS_MAX_AGE": "0",
        "EVOTE_CAST_RATE": "100000",
        "EVOTE_CAST_BURST": "100000",
    }
    url = f"http://127.0.0.1:{port}"
    with open(log_path, "wb") as log:
        process = subprocess.Popen(  # noqa: S603 - our own interpreter and module
            command, stdout=log, stderr=subprocess.STDOUT, env=env, start_new_session=True
        )
        try:
            _wait_ready(url, process, log_path)
            yield url
        finally:
            _stop(process)


def _wait_ready(url: str, process: subprocess.Popen, log_path: Path) -> None:
    deadline = time.monotonic() + SERVER_START_TIMEOUT
    with Client(url, timeout=5) as client:
        while True:
            if process.poll() is not None:
                tail = log_path.read_text(errors="replace")[-2000:]
                raise CliError(f"the demo server exited with status {process.returncode}:\n{tail}",
                               code="server_failed")
            try:
                api.board_key(client)
                return
            except ServerUnreachable:
                if time.monotonic() > deadline:
                    raise CliError(
                        f"the demo server did not start within {SERVER_START_TIMEOUT:.0f} s", code="not_ready"
                    ) from None
                time.sleep(0.2)


def _stop(process: subprocess.Popen) -> None:
    if process.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait()


# --- the election ------------------------------------------------------------------------


@dataclass
class DemoVoters:
    """What the demo's voters did, to compare with the published result."""

    final: list[list[tuple[int, ...]]] = field(default_factory=list)
    cast: int = 0
    revotes: int = 0
    audited: int = 0


def _prepare_out(out: Path) -> None:
    """``--out`` may be replaced only if it holds nothing but a previous demo's output."""
    if not out.exists():
        return
    ours = {*FILES, "result.svg"}
    if not out.is_dir() or any(p.name not in ours for p in out.iterdir()):
        raise CliError(f"{out} exists and holds other files; choose another --out",
                       code="already_exists")
    shutil.rmtree(out)


def run_demo(
    *, voters: int, trustees: int, threshold: int, out: Path, seed: str, workers: int
) -> None:
    started = time.monotonic()
    _prepare_out(out)
    rng = SeededRng(seed.encode("utf-8"))
    manifest = Manifest.from_json(DEMO_MANIFEST)
    eid = manifest.election_id
    with tempfile.TemporaryDirectory(prefix="evote-demo-") as tmp:
        work = Path(tmp)
        keys = work / "keys"
        keys.mkdir(mode=0o700)
        official = create_signing_key(keys / "official.key", "official")
        ca = create_signing_key(keys / "credential-authority.key", "credential-authority")
        states = [keys / f"trustee{i}.state" for i in range(1, trustees + 1)]
        trustee_keys = [trustee.init_trustee(path) for path in states]
        note(f"[1/6] keys made: official, credential authority, {trustees} trustees")

        with (
            running_server(work, keys / "official.pub", workers=workers) as url,
            Client(url) as client,
        ):
            note(f"[2/6] ballot server (gunicorn, {workers} workers) on {url}")
            setup = election.created_body(
                manifest, official.verify_key, ca.verify_key, trustee_keys, threshold
            )
            election.create_election(client, official, setup)
            trustee.run_ceremony(client, states, eid, official)
            note(f"      key ceremony done: {threshold} of {trustees} trustees needed to decrypt")

            labels = numbered_labels(voters)
            issued = issue_to_directory(
                eid, manifest.label(), labels, work / "credentials", quiet=True
            )
            publish_credentials(
                client,
                read_key_file(keys / "credential-authority.key", "credential-authority"),
                eid,
                issued.credentials,
            )
            register_voters(client, official, eid, [v.voter_id for v in labels], work / "logins")
            logins = {
                v.voter_id: _login_code(work / "logins" / f"{v.voter_id}.login") for v in labels
            }
            fingerprint, _ = election.open_election(client, official, eid)
            note(
                f"[3/6] {voters} credentials and logins issued; election open "
                f"(fingerprint {fingerprint.hex()[:16]}…)"
            )

            done = _vote(client, manifest, issued.private, logins, rng, eid)
            note(
                f"[4/6] {done.cast} ballots cast ({done.revotes} re-votes), {done.audited} audited"
            )

            election.close_election(client, official, eid)
            _mix(client, states, eid)
            election.post_tally(client, official, eid, quiet=True)
            present = [s for i, s in enumerate(states, start=1) if i != 2 or threshold == trustees][
                :threshold
            ]
            for path in present:
                trustee.decrypt_round(client, path, quiet=True)
                mix_decrypt_round(client, path, quiet=True)
            posted, waiting = ranked_round(client, official, eid)
            if posted is None:
                raise CliError(f"demo: the ranked questions could not be counted: {waiting}")
            ranked = api.fetch_board(client, eid).board.ranked
            sheets = {q: r.count for q, r in ranked.items()}
            tallied, waiting = election.finish_tally(client, official, eid)
            if tallied is None:
                raise CliError(f"demo: the result could not be computed: {waiting}",
                               code="not_ready")
            note(
                f"[5/6] closed and tallied with {len(present)} of {trustees} trustees "
                f"({', '.join(p.stem for p in present)})"
            )

            size, heads = election.export_record(client, eid, out)
        write_chart(out / "result.svg", manifest.label(),
                    question_totals(manifest, tallied.result) + sheet_totals(manifest, sheets))
    note(
        f"[6/6] record exported to {out} ({size} entries, {heads} signed tree heads); verifying it"
    )

    say("")
    print_result(
        manifest, tallied.result, counted=tallied.counted, total_weight=tallied.total_weight
    )
    expected = expected_counts(manifest, done.final)
    if [list(row) for row in tallied.result.counts] != expected:
        raise CliError(
            f"the published result {tallied.result.counts} does not match the "
            f"voters' choices {expected}", code="result_mismatch"
        )
    print_sheets(manifest, sheets)
    for q in manifest.mixed_questions:
        rows = sorted(tuple(r) for r in ranked[q].decrypted.rows)
        if rows != expected_rows(done.final, q):
            raise CliError(f"the decrypted mixed list of {manifest.questions[q].id!r} is not "
                           "the voters' rankings")
    say("result matches the voters' choices (the mixed lists hold every voter's last ranking)")
    status = _verify(out)
    elapsed = time.monotonic() - started
    if status != 0:
        raise CliError(f"the verifier rejected the record (exit status {status})",
                       code="not_verified")
    say(f"demo finished in {elapsed:.1f} s; chart: {out / 'result.svg'}")


def _mix(client: Client, states: list[Path], eid: str) -> None:
    """Every trustee mixes in turn (the demo's manifest names no mixers: trustee i is
    mixer i), as `evote trustee mix` does on each trustee's machine."""
    for path in states:
        status = mix_round(client, trustee.load_state(path).signing_key, eid)
        if not status.done:
            raise CliError(f"demo: {path.stem} could not mix: {status.waiting}")
    note(f"      ranked and graded ballots mixed by {len(states)} trustees, with proofs")


def _login_code(path: Path) -> str:
    from cli.voters import read_login_file

    return read_login_file(path)[1]


def _vote(
    client: Client,
    manifest: Manifest,
    private: dict,
    logins: dict[str, str],
    rng: SeededRng,
    eid: str,
) -> DemoVoters:
    """Every voter casts; every 10th re-votes, every 17th audits a ballot first."""
    ctx = election_context(client, eid)
    done = DemoVoters()
    ids = sorted(private)
    with progress("voters casting ballots", len(ids)) as advance:
        for n, voter_id in enumerate(ids):
            key, login = private[voter_id], logins[voter_id]
            if n % 17 == 5:
                cast_or_audit(client, ctx, key, login, random_ballot(manifest, rng), audit=True)
                done.audited += 1
            if n % 10 == 3:
                cast_or_audit(client, ctx, key, login, random_ballot(manifest, rng))
                done.cast += 1
                done.revotes += 1
            final = random_ballot(manifest, rng)
            cast_or_audit(client, ctx, key, login, final)
            done.cast += 1
            done.final.append(final)
            advance(1)
    return done


def _verify(record: Path) -> int:
    """Run the verifier as a separate process, as an auditor would; print its checks."""
    command = [sys.executable, "-m", "verifier.main", "record", "--json", str(record)]
    completed = subprocess.run(command, capture_output=True, text=True, check=False)  # noqa: S603
    say("")
    try:
        report = parse_json(completed.stdout)
        checks = report["checks"]
        say(f"verifier (evote-verify record {record}):")
        for check in checks:
            counts = ", ".join(f"{v} {k}" for k, v in check.get("counts", {}).items())
            failure = check.get("first_failure") or check.get("note") or ""
            say(
                f"  {check['number']:>2} {check['status'].upper():<4} {check['title']}"
                f"{f' ({counts})' if counts else ''}{f': {failure}' if failure else ''}"
            )
        passed = sum(1 for c in checks if c.get("status") == "pass")
        say(f"verifier: {passed} of {len(checks)} checks passed")
    except (EvoteError, KeyError, TypeError):
        say(completed.stdout.rstrip())
    if completed.stderr.strip():
        note(completed.stderr.rstrip())
    return completed.returncode


@click.command("demo")
@click.option(
    "--voters",
    type=click.IntRange(1, 10_000),
    default=50,
    show_default=True,
    help="How many voters cast ballots.",
)
@click.option("--trustees", type=click.IntRange(1, 32), default=3, show_default=True)
@click.option(
    "--threshold",
    type=click.IntRange(1, 32),
    default=2,
    show_default=True,
    help="Trustees needed to decrypt (the demo decrypts with exactly this many).",
)
@click.option(
    "--out",
    "out_dir",
    default="demo-out",
    show_default=True,
    type=click.Path(file_okay=False),
    help="Where the election record (and result.svg) is written; a previous demo's is replaced.",
)
@click.option(
    "--seed",
    default="evote-demo",
    show_default=True,
    help="Seed of the voters' choices (keys and encryption always use system randomness).",
)
@click.option(
    "--workers",
    type=click.IntRange(1, 16),
    default=2,
    show_default=True,
    help="gunicorn workers of the demo server.",
)
def demo(voters: int, trustees: int, threshold: int, out_dir: str, seed: str, workers: int) -> None:
    """Run a complete election on this machine and verify it.

    Starts a real ballot server on 127.0.0.1, plays every role (official,
    credential authority, trustees, voters) over HTTP, tallies with THRESHOLD
    of TRUSTEES, exports the record to OUT, runs the verifier on it and
    checks the result against the choices the demo's voters made.
    """
    if threshold > trustees:
        raise click.UsageError(f"--threshold {threshold} is more than --trustees {trustees}")
    run_demo(
        voters=voters,
        trustees=trustees,
        threshold=threshold,
        out=Path(out_dir),
        seed=seed,
        workers=workers,
    )
