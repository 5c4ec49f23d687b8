"""The scheduler in real server processes, on the real clock (both engines).

* two gunicorn servers (two workers each, so four scheduler threads) on one
  database race to open and to close: the board gets exactly one of each;
* a server killed (SIGKILL) before closes_at and started again after it closes
  the election on its first look.

The schedule is a few seconds from now (whole seconds, as the manifest writes
them), so each test waits that long.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from ballot_server import create_app, db
from evote.commands import sign_command
from evote.encoding import b64encode
from evote.schedule import format_time
from tests.support import api_election
from tests.support.api_election import MANIFEST, ApiElection, build_election, server_config
from tests.support.served import Server, whole_board

api_db = api_election.api_db


class ScheduledServer(Server):
    def env(self) -> dict[str, str]:
        env = super().env()
        env["EVOTE_SCHEDULER_INTERVAL"] = "0.2"
        return env


def schedule_soon(api_db: str, tmp_path: Path, *, close_in: float) -> tuple[ApiElection, int]:
    """An election whose window opens now and closes in ``close_in`` s, set up in-process
    (no scheduler there), with its open and close scheduled; and closes_at in ms."""
    now = int(time.time())
    opens, closes = now * 1000, (now + int(close_in) + 1) * 1000
    manifest = {**MANIFEST, "opens_at": format_time(opens), "closes_at": format_time(closes)}
    app = create_app(server_config(api_db, str(tmp_path / "instance"),
                                   EVOTE_BOARD_KEY=str(tmp_path / "board-key")))
    client = app.test_client()
    e = build_election(client, manifest=manifest, stop_before="election_opened")
    assert e.ctx is not None
    body = {
        "election_opened": sign_command(e.official, e.election_id, "election_opened",
                                        {"fingerprint": b64encode(e.ctx.fingerprint)}).to_json(),
        "election_closed": sign_command(e.official, e.election_id, "election_closed",
                                        {"at": manifest["closes_at"]}).to_json(),
    }
    r = client.post(f"{e.url}/schedule", json=body)
    assert r.status_code == 201, r.get_json()
    with app.app_context():
        db.get_engine().dispose()
    return e, closes


def wait_for(base: str, election_id: str, kind: str, timeout: float = 30) -> list:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        entries = whole_board(base, election_id)
        if any(x.kind == kind for x in entries):
            return entries
        time.sleep(0.2)
    raise AssertionError(f"no {kind} within {timeout} s")


@pytest.fixture
def servers(api_db: str, tmp_path: Path) -> Iterator[list[ScheduledServer]]:
    made: list[ScheduledServer] = []
    try:
        yield made
    finally:
        for s in made:
            s.stop()


def test_two_servers_racing_append_exactly_one_open_and_one_close(
    api_db: str, tmp_path: Path, servers: list[ScheduledServer]
) -> None:
    e, closes = schedule_soon(api_db, tmp_path, close_in=3)
    servers += [ScheduledServer(api_db, tmp_path), ScheduledServer(api_db, tmp_path)]
    for s in servers:
        s.start()
    wait_for(servers[0].base, e.election_id, "election_closed")
    time.sleep(1.0)  # every scheduler has had several more looks
    entries = whole_board(servers[1].base, e.election_id)
    kinds = [x.kind for x in entries]
    assert kinds.count("election_opened") == 1
    assert kinds.count("election_closed") == 1
    assert kinds[-1] == "election_closed"
    assert entries[-1].time >= closes


def test_killed_scheduler_closes_on_restart_after_closes_at(
    api_db: str, tmp_path: Path, servers: list[ScheduledServer]
) -> None:
    e, closes = schedule_soon(api_db, tmp_path, close_in=10)  # time to start and kill it
    server = ScheduledServer(api_db, tmp_path)
    servers.append(server)
    server.start()
    wait_for(server.base, e.election_id, "election_opened")
    server.kill()  # SIGKILL, before closes_at
    assert time.time() * 1000 < closes
    time.sleep(max(0.0, closes / 1000 - time.time()) + 0.5)
    server.start()
    entries = wait_for(server.base, e.election_id, "election_closed")
    assert [x.kind for x in entries].count("election_closed") == 1
    assert entries[-1].time >= closes
