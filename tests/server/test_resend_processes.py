"""Idempotent casting across server processes: gunicorn with two workers on one
database (SQLite and PostgreSQL), and identical casts and audits racing into both.

Each worker has its own group-commit queue, so the copies meet only at the
database's append lock: exactly one entry, every answer 2xx with the same
receipt (docs/api.md §5.1).
"""

from __future__ import annotations

import threading
from typing import Any

import httpx

from evote.ballot import AuditedBallot
from evote.board import Receipt, verify_chain
from evote.kinds import BALLOT_AUDITED
from tests.server.test_server_process import served  # noqa: F401 - fixture
from tests.support import api_election
from tests.support.served import board_key, whole_board

api_db = api_election.api_db

COPIES = 8


def race(url: str, body: dict[str, Any], login: str) -> list[httpx.Response]:
    """``COPIES`` threads, each with its own connection, post ``body`` at once."""
    barrier = threading.Barrier(COPIES)
    out: list[httpx.Response | None] = [None] * COPIES

    def run(n: int) -> None:
        with httpx.Client(timeout=60) as http:
            barrier.wait()
            out[n] = http.post(url, json=body, headers={"Authorization": f"Bearer {login}"})

    threads = [threading.Thread(target=run, args=(n,)) for n in range(COPIES)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert all(r is not None for r in out)
    return [r for r in out if r is not None]


def test_identical_casts_into_two_workers_make_one_entry(served) -> None:  # noqa: F811
    server, e = served
    ballot, secrets = e.ballot(0)
    base = f"{server.base}/elections/{e.election_id}"
    size = len(whole_board(server.base, e.election_id))

    answers = race(f"{base}/ballots", ballot.to_json(), e.login(0))

    assert sorted(r.status_code for r in answers) == [200] * (COPIES - 1) + [201], [
        r.text for r in answers
    ]
    bodies = [r.json() for r in answers]
    assert all(b == bodies[0] for b in bodies)
    entries = whole_board(server.base, e.election_id)
    verify_chain(entries)
    assert len(entries) == size + 1
    receipt = Receipt.from_json(bodies[0])
    receipt.verify(board_key(server.base))
    receipt.verify_entry(entries[receipt.index])
    # The lookup agrees with every answer.
    found = httpx.get(f"{base}/ballots/{ballot.tracking_code}/receipt").json()
    assert found["receipt"] == bodies[0]

    # An audit of the same ballot, racing, is refused every time (it was cast).
    audited = AuditedBallot.from_secrets(ballot, secrets).to_json()
    refusals = race(f"{base}/audits", audited, e.login(0))
    assert {r.status_code for r in refusals} == {409}
    assert {r.json()["code"] for r in refusals} == {"duplicate_ciphertext"}
    assert len(whole_board(server.base, e.election_id)) == size + 1


def test_identical_audits_into_two_workers_make_one_entry(served) -> None:  # noqa: F811
    server, e = served
    ballot, secrets = e.ballot(1)
    base = f"{server.base}/elections/{e.election_id}"
    size = len(whole_board(server.base, e.election_id))
    audited = AuditedBallot.from_secrets(ballot, secrets).to_json()

    answers = race(f"{base}/audits", audited, e.login(1))

    assert sorted(r.status_code for r in answers) == [200] * (COPIES - 1) + [201]
    assert all(r.json() == answers[0].json() for r in answers)
    entries = whole_board(server.base, e.election_id)
    assert len(entries) == size + 1 and entries[-1].kind == BALLOT_AUDITED
