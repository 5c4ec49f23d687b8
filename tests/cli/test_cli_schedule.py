"""A scheduled election through the command line, on a real server and the real clock:
`election create` with times (and its loader errors), `election schedule`, the
server opening by itself, a vote outside the window refused with its [code],
`election status` showing the schedule, and an early `election close`."""

from __future__ import annotations

import time

import pytest

from evote.schedule import format_time
from tests.support.cli_server import (
    fails,
    invoke,
    make_election,
    ok,
    start_server,
    vote,
)


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    yield from start_server(tmp_path_factory.mktemp("cli-schedule"))


def common(tmp_path):
    ok(invoke(None, "official", "init", "--key", tmp_path / "o.key"))
    ok(invoke(None, "credentials", "init", "--key", tmp_path / "ca.key"))
    ok(invoke(None, "trustee", "init", "--state", tmp_path / "t.state"))
    return ["--server", "http://127.0.0.1:1", "--key", tmp_path / "o.key",
            "--credential-authority", tmp_path / "ca.pub", "--trustee", tmp_path / "t.pub"]


def test_create_refuses_bad_times_with_the_line_and_code(tmp_path):
    args = common(tmp_path)
    for times, needle in [
        ('opens_at: "2026-12-14T09:00:00+01:00"\n', "manifest.opens_at: '2026-12-14T09:00:00+01:00' is not in UTC"),
        ("opens_at: 2026-12-14T08:00:00Z\ncloses_at: 2026-12-14T07:00:00Z\n",
         "must close after it opens"),
        ("closes_at: next tuesday\n", "is not an RFC 3339 UTC time"),
    ]:
        bad = tmp_path / "bad.yaml"
        bad.write_text("election_id: x\ntitle: T\nquestions:\n  - id: q\n    title: Q\n"
                       "    kind: choice\n    min: 1\n    max: 1\n    options: [a, b]\n" + times)
        fails(invoke(None, "election", "create", bad, *args, "--check"), needle, "[bad_manifest]")
    good = tmp_path / "good.yaml"
    good.write_text("election_id: x\ntitle: T\nquestions:\n  - id: q\n    title: Q\n"
                    "    kind: choice\n    min: 1\n    max: 1\n    options: [a, b]\n"
                    "opens_at: 2026-12-14T08:00:00Z\ncloses_at: 2026-12-14T20:00:00Z\n")
    ok(invoke(None, "election", "create", good, *args, "--check"))


def test_vote_before_opens_at_is_refused_with_its_code(server, tmp_path):
    soon = int(time.time()) + 3600
    e = make_election(server, tmp_path, "sched-later", open_it=False, extra_manifest={
        "opens_at": format_time(soon * 1000), "closes_at": format_time((soon + 60) * 1000)})
    out = ok(invoke(server, "election", "schedule", e.id, "--key", e.official))
    assert f"opens it at {format_time(soon * 1000)}" in out.output
    fails(vote(server, e, e.voters[0], "park=1;priorities="), "[not_open_yet]", "opens at")
    status = ok(invoke(server, "election", "status", e.id))
    assert "election_opened due" in status.output and "election_closed due" in status.output
    # a plain open before opens_at is refused too
    fails(invoke(server, "election", "open", e.id, "--key", e.official), "[not_open_yet]")


def test_server_opens_by_itself_and_the_official_closes_early(server, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # `evote vote` writes its receipt here
    now = int(time.time())
    e = make_election(server, tmp_path, "sched-now", open_it=False, extra_manifest={
        "opens_at": format_time(now * 1000), "closes_at": format_time((now + 3600) * 1000)})
    ok(invoke(server, "election", "open", e.id, "--at", "--key", e.official))
    deadline = time.monotonic() + 30
    while "phase          open" not in (st := invoke(server, "election", "status", e.id)).output:
        assert time.monotonic() < deadline, st.output
        time.sleep(0.3)
    assert "election_opened done" in st.output
    ok(vote(server, e, e.voters[0], "park=1;priorities="))
    closed = ok(invoke(server, "election", "close", e.id, "--key", e.official))
    assert "is closed (1 ballots cast" in closed.output
    fails(vote(server, e, e.voters[1], "park=2;priorities=1"), "[wrong_phase]")
