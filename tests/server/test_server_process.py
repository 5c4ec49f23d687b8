"""The real server: gunicorn with two worker processes, on SQLite and PostgreSQL.

(a) Several client processes cast at once: every cast is acknowledged, the
    board stays one contiguous hash chain and every receipt matches its entry.
(b) The whole gunicorn process group is SIGKILLed in the middle of a stream of
    casts, then restarted: every ballot that was acknowledged before the kill
    is on the board, the chain verifies, and the board keeps accepting ballots.

The election is set up in this process through the API (a test client on the
same database and board key), then served by gunicorn; the clients only use
HTTP.
"""

from __future__ import annotations

import json
import multiprocessing
import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from evote.board import Entry, Receipt, SignedTreeHead, verify_chain, verify_heads
from evote.encoding import b64decode
from tests.support import api_election
from tests.support.api_election import ApiElection
from tests.support.served import Server, board_key, serve_election, whole_board

api_db = api_election.api_db

CLIENTS = 3
VOTERS_PER_CLIENT = 3
BALLOTS_PER_VOTER = 3


@pytest.fixture
def served(api_db: str, tmp_path: Path) -> Iterator[tuple[Server, ApiElection]]:
    """An open election (set up in-process), then served by gunicorn on the same database."""
    yield from serve_election(api_db, tmp_path, voters=CLIENTS * VOTERS_PER_CLIENT)


def prepared_casts(e: ApiElection, client: int, count: int) -> list[tuple[str, dict[str, Any]]]:
    """``count`` (login, ballot JSON) casts by client ``client``'s voters, round robin."""
    voters = [client * VOTERS_PER_CLIENT + v for v in range(VOTERS_PER_CLIENT)]
    out = []
    for n in range(count):
        voter = voters[n % len(voters)]
        ballot, _ = e.ballot(voter)
        out.append((e.login(voter), ballot.to_json()))
    return out


def cast_stream(base: str, election_id: str, casts: list, out_path: str) -> None:
    """Client process: cast one after another; log each answer (one JSON line, flushed).

    Stops quietly when the server disappears."""
    with httpx.Client(base_url=base, timeout=60) as http, open(out_path, "a") as out:
        for login, ballot in casts:
            try:
                r = http.post(
                    f"/elections/{election_id}/ballots",
                    json=ballot,
                    headers={"Authorization": f"Bearer {login}"},
                )
            except httpx.TransportError:
                return
            out.write(json.dumps({"status": r.status_code, "body": r.json()}) + "\n")
            out.flush()
            os.fsync(out.fileno())


def answers(path: Path) -> list[dict[str, Any]]:
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def check_receipts(base: str, receipts: list[Receipt], entries: list[Entry]) -> None:
    key = board_key(base)
    for receipt in receipts:
        receipt.verify(key)
        receipt.verify_entry(entries[receipt.index])


def test_concurrent_clients_keep_one_chain(served, tmp_path: Path) -> None:
    server, e = served
    ctx = multiprocessing.get_context("spawn")
    logs = [tmp_path / f"client-{c}.jsonl" for c in range(CLIENTS)]
    jobs = [
        ctx.Process(
            target=cast_stream,
            args=(server.base, e.election_id, prepared_casts(e, c, VOTERS_PER_CLIENT * BALLOTS_PER_VOTER), str(logs[c])),
        )
        for c in range(CLIENTS)
    ]
    for job in jobs:
        job.start()
    for job in jobs:
        job.join(timeout=300)
        assert job.exitcode == 0
    results = [a for log in logs for a in answers(log)]
    assert len(results) == CLIENTS * VOTERS_PER_CLIENT * BALLOTS_PER_VOTER
    assert all(a["status"] == 201 for a in results), [a for a in results if a["status"] != 201][:3]
    receipts = [Receipt.from_json(a["body"]) for a in results]
    entries = whole_board(server.base, e.election_id)
    summary = verify_chain(entries)
    assert summary.size == len(entries)
    assert sorted(r.index for r in receipts) == [
        i for i, entry in enumerate(entries) if entry.kind == "ballot_cast"
    ]
    check_receipts(server.base, receipts, entries)
    head = SignedTreeHead.from_json(httpx.get(f"{server.base}/elections/{e.election_id}/tree-head").json())
    head.verify(board_key(server.base))
    assert verify_chain(entries, expect=head.head).size == head.size
    # Every receipt's head is consistent with the latest one.
    oldest = min(receipts, key=lambda r: r.tree_head.size).tree_head
    proof = httpx.get(
        f"{server.base}/elections/{e.election_id}/consistency",
        params={"first": oldest.size, "second": head.size},
    ).json()["proof"]
    verify_heads(oldest, head, [b64decode(h) for h in proof], board_key=board_key(server.base))


def test_a_killed_server_loses_no_acknowledged_ballot(served, tmp_path: Path) -> None:
    server, e = served
    ctx = multiprocessing.get_context("spawn")
    logs = [tmp_path / f"stream-{c}.jsonl" for c in range(2)]
    jobs = [
        ctx.Process(
            target=cast_stream,
            args=(server.base, e.election_id, prepared_casts(e, c, 40), str(logs[c])),
        )
        for c in range(2)
    ]
    for job in jobs:
        job.start()
    deadline = time.monotonic() + 120
    while sum(len(answers(log)) for log in logs) < 12 and time.monotonic() < deadline:
        time.sleep(0.02)
    server.kill()  # mid-stream: some requests are in flight
    for job in jobs:
        job.join(timeout=120)
        assert job.exitcode == 0
    acknowledged = [a for log in logs for a in answers(log) if a["status"] == 201]
    assert 12 <= len(acknowledged) < 80  # the kill came in the middle of the streams
    assert all(a["status"] == 201 for log in logs for a in answers(log))
    receipts = [Receipt.from_json(a["body"]) for a in acknowledged]

    server.start()
    entries = whole_board(server.base, e.election_id)
    verify_chain(entries)
    check_receipts(server.base, receipts, entries)
    assert len([x for x in entries if x.kind == "ballot_cast"]) >= len(receipts)
    # The board goes on after the crash (locks, bindings and caches are sane).
    after = tmp_path / "after.jsonl"
    cast_stream(server.base, e.election_id, prepared_casts(e, 0, 2), str(after))
    assert [a["status"] for a in answers(after)] == [201, 201]
    verify_chain(whole_board(server.base, e.election_id))
