"""``evote vote`` over an unreliable network: the answer to the cast is lost, the
server is SIGKILLed just before or just after committing and restarted, the
answer never comes (timeout), or the server stays out of reach.

A real gunicorn server (two workers, SQLite and PostgreSQL) behind a loopback
proxy (tests/support/faulty_proxy.py) that loses the answer on purpose.  The voter
holds only the printed credential code and the login code.  In every case:
exactly one ballot on the board, the voter ends with a receipt that ``evote
receipt check`` accepts (or, when the server never comes back, a clear
message and a saved ballot that ``evote vote --resend`` finishes later), and
no request ever goes to ``/audits``.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from cli.main import cli
from evote.board import Entry, Receipt
from evote.credentials import format_credential_code
from evote.kinds import BALLOT_CAST
from tests.support import api_election
from tests.support.api_election import ApiElection
from tests.support.faulty_proxy import FaultyProxy, Plan, first_post_to
from tests.support.served import Server, serve_election, whole_board

api_db = api_election.api_db

pytestmark = pytest.mark.slow


@pytest.fixture
def served(api_db: str, tmp_path: Path) -> Iterator[tuple[Server, ApiElection]]:
    """An open election (set up in-process), served by gunicorn on the same database."""
    yield from serve_election(api_db, tmp_path, voters=2)


def vote(url: str, e: ApiElection, work: Path, *extra: str) -> Result:
    """``evote vote`` as a voter holding only the letter's code and the login code."""
    args = [
        "vote",
        "--server", url,
        "--election", e.election_id,
        "--credential", format_credential_code(e.credentials[0]),
        "--login", e.login(0),
        "--choices", "park=2",
        "--receipt", str(work / "receipt.json"),
        *extra,
    ]
    return CliRunner().invoke(cli, args)


def ballots_on(server: Server, e: ApiElection) -> list[Entry]:
    return [x for x in whole_board(server.base, e.election_id) if x.kind.startswith("ballot_")]


def receipt_check(server: Server, path: Path) -> Result:
    root = server.base.removesuffix("/api/v1")
    return CliRunner().invoke(cli, ["receipt", "check", str(path), "--server", root])


def assert_one_ballot_and_a_good_receipt(
    server: Server, e: ApiElection, work: Path, result: Result, proxy: FaultyProxy
) -> Receipt:
    assert result.exit_code == 0, result.output
    board = ballots_on(server, e)
    assert [x.kind for x in board] == [BALLOT_CAST], board
    receipt = Receipt.from_json(json.loads((work / "receipt.json").read_text()))
    assert receipt.index == board[0].index
    assert board[0].payload["ballot"]["credential"] == e.credentials[0].verify_key.to_json()
    checked = receipt_check(server, work / "receipt.json")
    assert checked.exit_code == 0, checked.output
    # Never an audit, no request carries randomness or choices, and every cast sent the
    # very same bytes; the saved ballot is gone once the receipt is stored.
    assert not [s for s in proxy.seen if s.path.endswith("/audits")]
    assert not [s for s in proxy.seen if b'"randomness"' in s.body or b'"selections"' in s.body]
    casts = {s.body for s in proxy.seen if s.method == "POST" and s.path.endswith("/ballots")}
    assert len(casts) == 1
    assert not list(work.glob("ballot-*.json"))
    return receipt


def run_with(server: Server, e: ApiElection, work: Path, plan: Plan, *extra: str,
             restart_after: float | None = None) -> tuple[Result, FaultyProxy]:
    """``evote vote`` through a proxy with ``plan``; ``restart_after``: the plan's kill
    hook SIGKILLs the server, which is started again that many seconds later."""
    restarts: list[threading.Thread] = []

    def kill() -> None:
        server.kill()
        if restart_after is not None:
            timer = threading.Timer(restart_after, server.start)
            restarts.append(timer)
            timer.start()

    with FaultyProxy(server.port, plan=plan, on_kill=kill) as proxy:
        result = vote(proxy.url, e, work, *extra)
    for t in restarts:
        t.join(timeout=90)
    return result, proxy


def sent_ballots(proxy: FaultyProxy) -> int:
    return sum(1 for s in proxy.seen if s.method == "POST" and s.path.endswith("/ballots"))


def test_the_answer_is_dropped_after_the_commit(served, tmp_path: Path) -> None:
    server, e = served
    result, proxy = run_with(server, e, tmp_path, first_post_to("/ballots", "drop"))
    receipt = assert_one_ballot_and_a_good_receipt(server, e, tmp_path, result, proxy)
    assert len(proxy.actions("drop")) == 1
    # It recovered by looking the tracking code up (the board had it), without a resend.
    lookups = [s for s in proxy.seen if s.path.endswith(f"/ballots/{receipt.tracking_code}/receipt")]
    assert lookups and sent_ballots(proxy) == 1
    assert "receipt was recovered" in result.output


def test_the_answer_never_comes_and_the_client_times_out(served, tmp_path: Path) -> None:
    server, e = served
    result, proxy = run_with(server, e, tmp_path, first_post_to("/ballots", "hang"),
                             "--timeout", "3")
    assert_one_ballot_and_a_good_receipt(server, e, tmp_path, result, proxy)
    assert len(proxy.actions("hang")) == 1
    assert "did not answer in time" in result.output


def test_the_server_is_killed_just_before_committing(served, tmp_path: Path) -> None:
    """Half the request had reached the server when it died: nothing was committed;
    the retry reaches the restarted server and is appended (201)."""
    server, e = served
    result, proxy = run_with(server, e, tmp_path, first_post_to("/ballots", "kill_before"),
                             restart_after=1.0)
    assert_one_ballot_and_a_good_receipt(server, e, tmp_path, result, proxy)
    assert len(proxy.actions("kill_before")) == 1
    assert sent_ballots(proxy) >= 2  # the same ballot was sent again


def test_the_server_is_killed_just_after_committing(served, tmp_path: Path) -> None:
    """The ballot was committed, then the server died before answering; while it is down
    the lookups fail too; once it is back, the board gives the receipt."""
    server, e = served
    result, proxy = run_with(server, e, tmp_path, first_post_to("/ballots", "kill_after"),
                             restart_after=1.5)
    assert_one_ballot_and_a_good_receipt(server, e, tmp_path, result, proxy)
    assert len(proxy.actions("kill_after")) == 1


def test_a_resend_of_a_committed_ballot_gets_the_same_receipt(served, tmp_path: Path) -> None:
    """The lookups are lost too, so the client resends the same bytes: the server answers
    200 with the original receipt, nothing is appended."""
    server, e = served

    def plan(method: str, path: str, n: int) -> str:
        if method == "POST" and path.endswith("/ballots") and n == 0:
            return "drop"
        if method == "GET" and path.endswith("/receipt"):
            return "drop"
        return "pass"

    result, proxy = run_with(server, e, tmp_path, plan)
    assert_one_ballot_and_a_good_receipt(server, e, tmp_path, result, proxy)
    assert sent_ballots(proxy) == 2


def test_a_server_out_of_reach_leaves_a_clear_next_step(served, tmp_path: Path) -> None:
    """Nothing ever answers: the voter is told the outcome is unknown, with the
    tracking code; the saved ballot (no secret in it) is sent later with --resend,
    which gets its receipt -- and the ballot is on the board once."""
    server, e = served

    def plan(method: str, path: str, n: int) -> str:
        return "drop" if path.endswith(("/ballots", "/receipt")) else "pass"

    result, proxy = run_with(server, e, tmp_path, plan, "--retries", "2")
    assert result.exit_code == 1, result.output
    assert "Traceback" not in result.output
    assert "may or may not have arrived" in result.output and "--resend" in result.output
    saved = list(tmp_path.glob("ballot-*.json"))
    assert len(saved) == 1
    text = saved[0].read_text()
    assert "randomness" not in text and '"r"' not in text  # only the signed ballot
    assert sent_ballots(proxy) == 3  # the first send and two resends of the same bytes
    assert not (tmp_path / "receipt.json").exists()
    assert len(ballots_on(server, e)) == 1  # it had arrived (the proxy dropped the answers)

    root = server.base.removesuffix("/api/v1")
    again = CliRunner().invoke(cli, [
        "vote", "--server", root, "--resend", str(saved[0]), "--login", e.login(0),
        "--receipt", str(tmp_path / "receipt.json"),
    ])
    assert again.exit_code == 0, again.output
    assert len(ballots_on(server, e)) == 1
    assert receipt_check(server, tmp_path / "receipt.json").exit_code == 0


def test_a_certain_refusal_is_not_retried(served, tmp_path: Path) -> None:
    """A login that is not this election's: 401 at once, one request, and no saved
    ballot left to mislead (the server said no for certain)."""
    server, e = served
    with FaultyProxy(server.port) as proxy:
        result = CliRunner().invoke(cli, [
            "vote", "--server", proxy.url, "--election", e.election_id,
            "--credential", format_credential_code(e.credentials[0]),
            "--login", "not-a-login-code", "--choices", "park=1",
            "--receipt", str(tmp_path / "receipt.json"),
        ])
    assert result.exit_code == 1, result.output
    assert sent_ballots(proxy) == 1
    assert ballots_on(server, e) == []
    assert "unknown voter login" in result.output or "login" in result.output
    assert not list(tmp_path.glob("ballot-*.json"))
