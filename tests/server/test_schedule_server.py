"""Scheduled elections on the server: the window refused at both edges, the scheduler's
pre-signed open and close, an early close that wins, and a restart that catches up.

A controllable clock (``EVOTE_CLOCK``) drives the server; the scheduler is
driven by :meth:`ballot_server.scheduler.Scheduler.tick` with that clock, so
each test says exactly which millisecond it is.  Both engines (``api_db``).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from ballot_server import create_app, db
from ballot_server.scheduler import EXTENSION
from evote.ballot import AuditedBallot
from evote.commands import sign_command
from evote.encoding import b64encode
from evote.schedule import parse_time
from tests.support.api_election import (
    MANIFEST,
    ApiElection,
    api_db,  # noqa: F401 (fixture)
    build_election,
    server_config,
)

OPENS = "2026-12-14T08:00:00Z"
CLOSES = "2026-12-14T20:00:00Z"
T_OPEN = parse_time(OPENS, "t")
T_CLOSE = parse_time(CLOSES, "t")
SCHEDULED = {**MANIFEST, "opens_at": OPENS, "closes_at": CLOSES}


class Clock:
    def __init__(self, now: int) -> None:
        self.now = now

    def __call__(self) -> int:
        return self.now


@pytest.fixture(scope="module")
def clock() -> Clock:
    return Clock(T_OPEN - 3_600_000)


@pytest.fixture(scope="module")
def app(api_db: str, tmp_path_factory: pytest.TempPathFactory, clock: Clock) -> Iterator[Flask]:  # noqa: F811
    app = create_app(server_config(api_db, str(tmp_path_factory.mktemp("instance")),
                                   EVOTE_CLOCK=clock))
    yield app
    with app.app_context():
        db.get_engine().dispose()


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


def tick(app: Flask, e: ApiElection) -> list[str]:
    """One scheduler look; the kinds it appended to ``e`` (the module's other
    elections share the database and may be due too)."""
    return [k for eid, k in app.extensions[EXTENSION].tick() if eid == e.election_id]


def scheduled_election(client: FlaskClient, clock: Clock) -> ApiElection:
    """Set up (before opens_at), then schedule the signed open and close."""
    clock.now = T_OPEN - 3_600_000
    e = build_election(client, manifest=SCHEDULED, stop_before="election_opened")
    assert e.ctx is not None
    body = {
        "election_opened": sign_command(e.official, e.election_id, "election_opened",
                                        {"fingerprint": b64encode(e.ctx.fingerprint)}).to_json(),
        "election_closed": sign_command(e.official, e.election_id, "election_closed",
                                        {"at": CLOSES}).to_json(),
    }
    r = client.post(f"{e.url}/schedule", json=body)
    assert r.status_code == 201, r.get_json()
    return e


def kinds(e: ApiElection) -> list[str]:
    return [x.kind for x in e.entries()]


def refused(r: Any, status: int, code: str, rule: str) -> None:
    body = r.get_json()
    assert r.status_code == status, body
    assert body["code"] == code, body
    assert body.get("rule") == rule, body


# --- unhappy paths first -----------------------------------------------------------


def test_cast_one_ms_before_opens_at_is_refused_and_writes_nothing(
    app: Flask, client: FlaskClient, clock: Clock
) -> None:
    e = scheduled_election(client, clock)
    clock.now = T_OPEN - 1
    assert tick(app, e) == []  # not due yet
    size = e.size()
    ballot, _ = e.ballot(0)
    refused(e.cast(ballot, login=e.login(0)), 409, "not_open_yet", "R-TIME-02")
    assert e.size() == size
    # the official cannot open early either, even with a fresh signature
    refused(e.post("election_opened", e.official, {"fingerprint": b64encode(e.ctx.fingerprint)}),
            409, "not_open_yet", "R-TIME-01")
    assert e.size() == size


def test_cast_at_closes_at_is_refused_before_the_scheduler_closes(
    app: Flask, client: FlaskClient, clock: Clock
) -> None:
    e = scheduled_election(client, clock)
    clock.now = T_OPEN
    assert tick(app, e) == ["election_opened"]
    clock.now = T_CLOSE - 1
    e.cast_ok(0)
    clock.now = T_CLOSE  # the scheduler has not run yet: the board is still open
    size = e.size()
    ballot, _ = e.ballot(1)
    refused(e.cast(ballot, login=e.login(1)), 409, "closed", "R-TIME-03")
    audited = AuditedBallot.from_secrets(*e.ballot(2))
    refused(e.audit(audited, login=e.login(2)), 409, "closed", "R-TIME-03")
    assert e.size() == size
    assert tick(app, e) == ["election_closed"]
    entries = e.entries()
    assert entries[-1].kind == "election_closed" and entries[-1].time >= T_CLOSE
    assert entries[-2].kind == "ballot_cast" and entries[-2].time == T_CLOSE - 1


def test_scheduled_close_cannot_be_posted_early(app: Flask, client: FlaskClient,
                                                clock: Clock) -> None:
    e = scheduled_election(client, clock)
    clock.now = T_OPEN + 5
    tick(app, e)
    refused(e.post("election_closed", e.official, {"at": CLOSES}), 409, "too_early", "R-TIME-04")
    wrong = "2026-12-14T21:00:00Z"
    refused(e.post("election_closed", e.official, {"at": wrong}), 409, "too_early", "R-TIME-04")
    assert kinds(e)[-1] == "election_opened"


def test_early_official_close_wins_and_the_scheduled_close_is_dropped(
    app: Flask, client: FlaskClient, clock: Clock
) -> None:
    e = scheduled_election(client, clock)
    clock.now = T_OPEN
    tick(app, e)
    e.cast_ok(0)
    clock.now = T_OPEN + 60_000
    e.close()  # {} : the official's early close
    size = e.size()
    clock.now = T_CLOSE + 1
    assert tick(app, e) == []  # the scheduled close finds the board closed
    assert e.size() == size and kinds(e).count("election_closed") == 1
    status = client.get(f"{e.url}/schedule").get_json()
    assert status["closes_at"] == CLOSES
    assert {s["kind"]: s["on_board"] for s in status["scheduled"]} == {
        "election_opened": True, "election_closed": True}


def test_a_restarted_server_past_closes_at_opens_and_closes_on_its_first_tick(
    api_db: str, tmp_path_factory: pytest.TempPathFactory, client: FlaskClient, clock: Clock,  # noqa: F811
) -> None:
    e = scheduled_election(client, clock)
    # The server was down from before opens_at until after closes_at: a new process
    # (new app, same database) catches up, in order, on its first look.
    late = Clock(T_CLOSE + 3_600_000)
    again = create_app(server_config(api_db, str(tmp_path_factory.mktemp("restart")),
                                     EVOTE_CLOCK=late))
    try:
        assert tick(again, e) == ["election_opened", "election_closed"]
        assert tick(again, e) == []
    finally:
        with again.app_context():
            db.get_engine().dispose()
    assert kinds(e)[-2:] == ["election_opened", "election_closed"]


def test_schedule_refuses_bad_commands(app: Flask, client: FlaskClient, clock: Clock) -> None:
    clock.now = T_OPEN - 3_600_000
    e = build_election(client, manifest=SCHEDULED, stop_before="election_opened")
    url = f"{e.url}/schedule"
    fp = b64encode(e.ctx.fingerprint)
    # an early-close body cannot be scheduled (the server could append it any time)
    r = client.post(url, json={"election_closed": sign_command(
        e.official, e.election_id, "election_closed", {}).to_json()})
    assert r.status_code == 422 and r.get_json()["code"] == "bad_schema", r.get_json()
    # a close for a time that is not closes_at
    r = client.post(url, json={"election_closed": sign_command(
        e.official, e.election_id, "election_closed", {"at": OPENS}).to_json()})
    refused(r, 409, "too_early", "R-TIME-04")
    # signed by someone else
    r = client.post(url, json={"election_opened": sign_command(
        e.authority, e.election_id, "election_opened", {"fingerprint": fp}).to_json()})
    refused(r, 403, "wrong_signer", "R-SIG-02")
    # a wrong fingerprint is refused now, not at 08:00
    r = client.post(url, json={"election_opened": sign_command(
        e.official, e.election_id, "election_opened",
        {"fingerprint": b64encode(bytes(32))}).to_json()})
    refused(r, 422, "fingerprint_mismatch", "R-OPEN-01")
    r = client.post(url, json={})
    assert r.status_code == 422
    assert client.get(url).get_json()["scheduled"] == []
    # scheduling again replaces the earlier command (the newest counts) ...
    ok = {"election_opened": sign_command(e.official, e.election_id, "election_opened",
                                          {"fingerprint": fp}).to_json()}
    assert client.post(url, json=ok).status_code == 201
    assert client.post(url, json=ok).status_code == 201
    assert [s["kind"] for s in client.get(url).get_json()["scheduled"]] == ["election_opened"]
    # ... until that kind is on the board
    clock.now = T_OPEN
    assert tick(app, e) == ["election_opened"]
    refused(client.post(url, json=ok), 409, "wrong_phase", None)


def test_unscheduled_election_is_unchanged(client: FlaskClient, clock: Clock) -> None:
    """Without opens_at/closes_at, casts and closes behave as before (any time)."""
    clock.now = T_CLOSE + 10**9
    e = build_election(client)
    e.cast_ok(0)
    e.close()
    assert kinds(e)[-1] == "election_closed"


def test_the_record_of_a_scheduled_election_verifies_and_a_backdated_head_fails(
    app: Flask, client: FlaskClient, clock: Clock, tmp_path
) -> None:
    """The whole record, as exported, passes check 23; the same record with the head
    after the ballots re-signed after closes_at (a late ballot backdated) fails it."""
    import json
    import zipfile

    from evote.board import SignedTreeHead, TreeHead
    from evote.encoding import canonical_json
    from evote.record import TREE_HEADS_FILE
    from verifier.checks import verify_record
    from verifier.record import Record
    from verifier.sources import ZipSource

    e = scheduled_election(client, clock)
    clock.now = T_OPEN
    tick(app, e)
    clock.now = T_OPEN + 1000
    e.cast_ok(0)
    clock.now = T_CLOSE - 1
    e.cast_ok(1)
    clock.now = T_CLOSE
    assert tick(app, e) == ["election_closed"]
    e.tally()
    archive = tmp_path / "record.zip"
    archive.write_bytes(client.get(f"{e.url}/record").data)
    report = verify_record(Record.load(ZipSource(archive)))
    assert report.ok, [(c.name, c.first_failure) for c in report.checks if c.status != "pass"]
    assert report.check("time-window").counts["ballots"] == 2

    # The server's board key re-signs the head of the last ballot at closes_at.
    with app.app_context():
        board_key = app.extensions["evote"].board_key
    entries = e.entries()
    last_ballot = max(x.index for x in entries if x.kind == "ballot_cast")
    with zipfile.ZipFile(archive) as z:
        files = {n: z.read(n) for n in z.namelist()}
    lines = []
    for line in files[TREE_HEADS_FILE].splitlines():
        head = SignedTreeHead.from_json(json.loads(line))
        if head.size == last_ballot + 1:
            late = TreeHead(head.head.election, head.size, head.root, T_CLOSE)
            head = late.sign(board_key)
        lines.append(canonical_json(head.to_json()))
    files[TREE_HEADS_FILE] = b"\n".join(lines) + b"\n"
    tampered = tmp_path / "tampered.zip"
    with zipfile.ZipFile(tampered, "w") as z:
        for name, data in files.items():
            z.writestr(name, data)
    report = verify_record(Record.load(ZipSource(tampered)))
    check = report.check("time-window")
    assert check.status == "fail"
    assert (check.first_failure.rule, check.first_failure.code, check.first_failure.index) == (
        "R-TIME-05", "head_outside_window", last_ballot)
