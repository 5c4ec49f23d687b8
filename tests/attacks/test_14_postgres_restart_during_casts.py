"""Faults — the database restarts in the middle of a stream of casts.

A voting server that answers "OK" for a ballot it then loses is worse than one
that is down: the voter stops trying.  The design brief's rule is that a
ballot is acknowledged only after it is durably on the board, and a database
restart (a crash, a fail-over, an upgrade) is the everyday way to test it.

What is checked: PostgreSQL is killed (``pg_ctl -m immediate``, no checkpoint:
a crash) and started again while three clients cast ballots.  Clients get 503
``unavailable`` (never a 500, never an acknowledgement that was not committed),
retry (a retry whose first send had committed gets that ballot's original
receipt, 200), every voter ends with a receipt, and every ballot is on the
board once at its receipt's index with its receipt's hash; the election then tallies and the
downloaded record verifies.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Iterator

import pytest
from flask import Flask

from ballot_server import create_app, db
from evote.ballot import Ballot
from evote.board import Receipt
from tests.attacks.adversary import download_record, failures, verify_zip
from tests.attacks.pgcluster import PrivateCluster, postgres_bin
from tests.support.api_election import ApiElection, build_election, server_config

VOTERS = 24
CLIENTS = 3

pytestmark = pytest.mark.postgres


@pytest.fixture
def cluster() -> Iterator[PrivateCluster]:
    bindir = postgres_bin()
    if bindir is None:
        pytest.fail("PostgreSQL binaries not found (apt-get install postgresql)", pytrace=False)
    c = PrivateCluster(bindir)
    try:
        yield c
    finally:
        c.close()


@pytest.fixture
def pg_app(cluster: PrivateCluster, tmp_path) -> Iterator[Flask]:
    app = create_app(server_config(cluster.board_database(), str(tmp_path / "instance")))
    yield app
    with app.app_context():
        db.get_engine().dispose()


class Voter(threading.Thread):
    """Casts its voters' ballots one after another, retrying on 503."""

    def __init__(self, app: Flask, e: ApiElection, ballots: list[tuple[int, Ballot]]) -> None:
        super().__init__(daemon=True)
        self.client = app.test_client()
        self.e = e
        self.ballots = ballots
        self.receipts: list[Receipt] = []
        self.statuses: Counter = Counter()
        self.errors: list[str] = []

    def run(self) -> None:
        for voter, ballot in self.ballots:
            deadline = time.monotonic() + 60
            while True:
                response = self.client.post(
                    f"{self.e.url}/ballots", json=ballot.to_json(),
                    headers={"Authorization": f"Bearer {self.e.login(voter)}"},
                )
                self.statuses[response.status_code] += 1
                if response.status_code in (200, 201):
                    # 200: a retry of a cast whose commit succeeded but whose answer was
                    # lost -- answered with its original receipt (docs/api.md §5.1).
                    self.receipts.append(Receipt.from_json(response.get_json()))
                    break
                body = response.get_json() or {}
                if response.status_code == 503 and body.get("code") == "unavailable":
                    if time.monotonic() > deadline:
                        self.errors.append(f"voter {voter}: still unavailable after 60 s")
                        return
                    time.sleep(0.1)
                    continue
                self.errors.append(f"voter {voter}: HTTP {response.status_code} {body}")
                return


def test_postgres_crash_during_casts_loses_no_acknowledged_ballot(
    pg_app: Flask, cluster: PrivateCluster, tmp_path
) -> None:
    e = build_election(pg_app.test_client(), voters=VOTERS, seed=b"attacks-pg-restart")
    ballots = [(v, e.ballot(v)[0]) for v in range(VOTERS)]
    clients = [Voter(pg_app, e, ballots[i::CLIENTS]) for i in range(CLIENTS)]
    for c in clients:
        c.start()
    deadline = time.monotonic() + 60
    while sum(len(c.receipts) for c in clients) < VOTERS // 4:
        assert time.monotonic() < deadline, "no casts went through before the restart"
        time.sleep(0.02)
    cluster.restart("immediate")
    for c in clients:
        c.join(timeout=180)
        assert not c.is_alive()
    errors = [err for c in clients for err in c.errors]
    assert not errors, errors
    statuses = sum((c.statuses for c in clients), Counter())
    assert set(statuses) <= {200, 201, 503}, statuses
    assert statuses[503] >= 1, f"the restart was not noticed by any client: {statuses}"

    receipts = [r for c in clients for r in c.receipts]
    assert len(receipts) == VOTERS  # every voter ends with a receipt
    entries = e.entries()
    board_key = e.board_key
    for receipt in receipts:
        receipt.verify(board_key)
        receipt.verify_entry(entries[receipt.index])
    cast = {entry.payload["ballot"]["signature"] for entry in entries
            if entry.kind == "ballot_cast"}
    assert {b.to_json()["signature"] for _, b in ballots} == cast  # every ballot, once

    e.tally()
    report = verify_zip(download_record(e, tmp_path / "record.zip"))
    assert report.ok, failures(report)
    assert report.check("counted-set").counts["counted"] == VOTERS
