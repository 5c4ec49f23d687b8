"""`evote mixer`, `evote trustee mix` and the ranked count through the CLI, on a real server.

Unhappy paths first: a key that is no mixer, a mix before the close, mixer 2
before mixer 1, a lost answer to a mix (a proxy drops it after the server has
committed it), a mixer process killed while it waits and then run again.  Then
a whole ranked and graded election through the command line with named mixers,
on SQLite and on PostgreSQL (``scripts/with-postgres.sh``).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from cli import api
from cli.client import Client
from cli.keyfiles import read_key_file
from evote.mixnet import MixerKey
from tests.support.api_election import fresh_database
from tests.support.cli_server import Server, fails, invoke, make_election, ok, start_server, vote
from tests.support.faulty_proxy import FaultyProxy, first_post_to

QUESTIONS = [
    {"id": "park", "title": "Park?", "kind": "choice", "min": 0, "max": 1,
     "options": ["Yes", "No"]},
    {"id": "mayor", "title": "Mayor", "kind": "ranked", "method": "irv",
     "options": ["Ann", "Bob", "Cid"]},
    {"id": "plans", "title": "Plans", "kind": "grades",
     "grades": [{"en": "Poor", "ru": "Плохо"}, {"en": "Good", "ru": "Хорошо"},
                {"en": "Great", "ru": "Отлично"}],
     "options": ["Tram", "Bridge"]},
]
BALLOTS = ["park=1;mayor=2,1;plans=3,1", "park=2;mayor=1,3,2;plans=2,2",
           "park=1;mayor=2;plans=1,3"]


@pytest.fixture(scope="module", params=["sqlite", pytest.param("postgres",
                                                                marks=pytest.mark.postgres)])
def server(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
           ) -> Iterator[Server]:
    work = tmp_path_factory.mktemp("mixer-server")
    if request.param == "sqlite":
        yield from start_server(work)
        return
    for url in fresh_database("postgres", work):
        with pytest.MonkeyPatch.context() as mp:
            mp.setenv("EVOTE_DATABASE_URL", url)
            yield from start_server(work)


@pytest.fixture(autouse=True)
def _in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """`evote vote` writes its receipt to the working directory."""
    monkeypatch.chdir(tmp_path)


def _mixers(work: Path, n: int = 2) -> tuple[list[Path], list[dict]]:
    keys, listed = [], []
    for i in range(1, n + 1):
        path = work / f"mixer{i}.key"
        ok(invoke(None, "mixer", "init", "--key", path))
        assert oct(path.stat().st_mode & 0o777) == "0o600"
        key = read_key_file(path, "mixer")
        keys.append(path)
        listed.append(MixerKey(i, key.verify_key).to_json())
    return keys, listed


def _election(server: Server, work: Path, eid: str, *, mixers: int = 2):
    keys, listed = _mixers(work, mixers) if mixers else ([], [])
    extra = {"questions": QUESTIONS} | ({"mixers": listed} if listed else {})
    e = make_election(server, work, eid, voters=len(BALLOTS), extra_manifest=extra)
    for voter, choices in zip(e.voters, BALLOTS, strict=True):
        ok(vote(server, e, voter, choices, "--yes"))
    return e, keys


def _mixes(server: Server, eid: str) -> list[dict]:
    with Client(server.url) as client:
        return [x.payload["body"] for x in api.fetch_entries(client, eid)
                if x.kind == "mix_posted"]


def _mix(server: Server, key: Path, eid: str, *extra: object):
    return invoke(server, "mixer", "mix", "--key", key, "--election", eid, *extra)


# --- unhappy paths -----------------------------------------------------------------------


def test_a_mixer_refuses_to_mix_out_of_turn_and_with_a_foreign_key(server, tmp_path):
    e, keys = _election(server, tmp_path, "mix-turns")
    stranger = tmp_path / "stranger.key"
    ok(invoke(None, "mixer", "init", "--key", stranger))
    fails(_mix(server, stranger, e.id, "--timeout", "0"), "not one of the election's mixers")
    fails(_mix(server, keys[0], e.id, "--timeout", "0"), "close the election")
    ok(invoke(server, "election", "close", e.id, "--key", e.official))
    fails(_mix(server, keys[1], e.id, "--timeout", "0"), "waiting for mixer 1")
    assert _mixes(server, e.id) == []
    out = ok(_mix(server, keys[0], e.id, "--timeout", "0"))
    assert "2 mixes posted" in out.output
    again = ok(_mix(server, keys[0], e.id, "--timeout", "0"))
    assert "already on the board" in again.output
    assert [(m["question"], m["mixer"]) for m in _mixes(server, e.id)] == [(1, 1), (2, 1)]


def test_a_lost_answer_to_a_mix_is_found_on_the_board_not_mixed_again(server, tmp_path):
    e, keys = _election(server, tmp_path, "mix-lost")
    ok(invoke(server, "election", "close", e.id, "--key", e.official))
    port = int(server.url.rsplit(":", 1)[1])
    with FaultyProxy(port, plan=first_post_to("/commands/mix_posted", "drop")) as proxy:
        result = invoke(None, "mixer", "mix", "--key", keys[0], "--election", e.id,
                        "--server", proxy.url, "--timeout", "0")
        dropped = proxy.actions("drop")
    ok(result)
    assert len(dropped) == 1  # the first mix reached the server; its answer never came back
    assert "looking at the board" in result.output
    assert [(m["question"], m["mixer"]) for m in _mixes(server, e.id)] == [(1, 1), (2, 1)]


def test_a_mixer_killed_while_it_waits_is_simply_run_again(server, tmp_path):
    e, keys = _election(server, tmp_path, "mix-killed")
    env = {**os.environ, "EVOTE_SERVER": server.url}
    process = subprocess.Popen(  # noqa: S603 - our own interpreter and module
        [sys.executable, "-m", "cli.main", "mixer", "mix", "--key", str(keys[0]),
         "--election", e.id, "--timeout", "120"],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True,
        cwd=Path(__file__).resolve().parents[1],  # this checkout's cli package
    )
    deadline = time.monotonic() + 60
    line = b""
    while b"close" not in line and time.monotonic() < deadline:  # it says what it waits for
        line = process.stdout.readline() if process.stdout else b""
    assert b"waiting for the official to close" in line, line
    os.killpg(process.pid, signal.SIGKILL)
    process.wait(timeout=30)
    ok(invoke(server, "election", "close", e.id, "--key", e.official))
    assert _mixes(server, e.id) == []
    assert "2 mixes posted" in ok(_mix(server, keys[0], e.id, "--timeout", "0")).output
    assert "2 mixes posted" in ok(_mix(server, keys[1], e.id, "--timeout", "0")).output
    assert len(_mixes(server, e.id)) == 4


def test_the_voter_is_told_what_a_bad_ranking_or_grading_is(server, tmp_path):
    e, _ = _election(server, tmp_path, "mix-bad-votes", mixers=0)
    voter = e.voters[0]
    fails(vote(server, e, voter, "park=1;mayor=2,2;plans=1,1", "--yes"), "ranked twice")
    fails(vote(server, e, voter, "park=1;mayor=4;plans=1,1", "--yes"), "option numbers are 1 to 3")
    fails(vote(server, e, voter, "park=1;mayor=1;plans=1", "--yes"), "one grade to each")
    fails(vote(server, e, voter, "park=1;mayor=1;plans=1,4", "--yes"), "grade numbers are 1 to 3")


# --- the happy path ----------------------------------------------------------------------


def test_a_ranked_and_graded_election_through_the_command_line(server, tmp_path):
    e, keys = _election(server, tmp_path, "mix-flow")
    official = ["--key", e.official]
    ok(invoke(server, "election", "close", e.id, *official))
    for key in keys:
        ok(_mix(server, key, e.id, "--timeout", "0"))
    # The official's tally posts the encrypted tally, then waits for the decryptions.
    fails(invoke(server, "election", "tally", e.id, *official, "--timeout", "0"),
          "mixed-list decryptions")
    for state in e.trustees[:2]:
        out = ok(invoke(server, "trustee", "decrypt", "--state", state, "--timeout", "0"))
        assert "2 mixed lists decrypted" in out.output
    status = ok(invoke(server, "election", "status", e.id)).output
    assert "mayor (irv)" in status and "2/2 mixes, 2/2 decryptions" in status
    chart = tmp_path / "tally.svg"
    tallied = ok(invoke(server, "election", "tally", e.id, *official, "--chart", chart))
    assert "Mayor (irv)" in tallied.output and "elected: Bob" in tallied.output
    result = ok(invoke(server, "election", "result", e.id, "--chart", tmp_path / "r.svg"))
    # IRV: Bob has 2 of the 3 first preferences, so he is elected in round 1.
    assert "round 1" in result.output
    assert "Plans (majority_judgment)" in result.output
    assert "3 ballots, 0 blank" in result.output
    svg = (tmp_path / "r.svg").read_text(encoding="utf-8")
    assert "Mayor: final round" in svg and "Plans: majority grade" in svg
    with Client(server.url) as client:
        view = api.fetch_board(client, e.id)
    rows = sorted(tuple(r) for r in view.board.ranked[1].decrypted.rows)
    assert rows == sorted([(2, 1, 0), (1, 3, 2), (0, 1, 0)])
    assert json.loads(json.dumps(view.board.ranked[1].count))["winners"] == [1]


def test_a_voter_ranks_and_grades_at_the_prompt_and_reviews_in_words(server, tmp_path):
    e, _ = _election(server, tmp_path, "mix-prompt", mixers=0)
    voter = e.voters[0]
    # park: 1; mayor: a repeat is refused and asked again, then 3 1; plans: 3 2; then cast.
    answers = "1\n3 3\n3 1\n3 2\ny\n"
    result = invoke(server, "vote", "--login", e.login(voter), "--credential",
                    e.credential(voter), input=answers)
    ok(result)
    assert "enter the options in order of preference" in result.output
    assert "option 3 is ranked twice" in result.output
    assert "1st: Cid, 2nd: Ann" in result.output
    assert "Tram: Great, Bridge: Good" in result.output
