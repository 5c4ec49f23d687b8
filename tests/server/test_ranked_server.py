"""Ranked and graded elections through the ballot server's HTTP API (R-MIX-* on the server).

Unhappy paths first: a mix before the close, by the wrong mixer, twice, tampered,
oversize; a mixed-list decryption before the last mix; a tally that sums a
ranked question.  Each is refused with its rule id in the JSON error and
leaves the board as it was.  Then a whole ranked and graded election over
HTTP, on SQLite and PostgreSQL (the module's ``api_db`` fixture).
"""

from __future__ import annotations

import copy
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from ballot_server import create_app, db
from ballot_server.mix_bodies import mix_body_cap
from evote.body_signature import HEADER, sign_body
from evote.commands import sign_command
from evote.drbg import SeededRng
from evote.encoding import canonical_json
from evote.kinds import BALLOT_KINDS
from evote.mixdecryption import partial_decrypt_rows
from evote.mixnet import initial_rows, mix
from evote.payloads import Command, parse_ballot_cast
from evote.ranked import mix_inputs, ranked_result, tally_bounds, tally_ciphertexts, tally_shape
from evote.rules import BoardState
from evote.shuffle import RowList
from evote.tally import aggregate, combine, partial_decrypt
from tests.support import api_election
from tests.support.api_election import ApiElection, build_election, server_config
from tests.support.rankedgen import RANKED_MANIFEST, SELECTIONS

api_db = api_election.api_db
api_app = api_election.api_app
api_client = api_election.api_client


@pytest.fixture
def ranked(api_client: FlaskClient) -> ApiElection:
    """An open ranked + graded election (the trustees are the mixers), 5 ballots cast."""
    e = build_election(api_client, voters=len(SELECTIONS), manifest=RANKED_MANIFEST)
    for v, sel in enumerate(SELECTIONS):
        e.cast_ok(v, sel)
    return e


def _board(e: ApiElection) -> BoardState:
    """The projection over the board as the server stored it (folded, not re-checked)."""
    state = BoardState()
    for entry in e.entries():
        if entry.kind in BALLOT_KINDS:
            state = state.apply_kind(entry.kind)
        else:
            state = state.fold(Command.from_entry(entry))
    return state


def _inputs(e: ApiElection) -> Any:
    entries = e.entries()
    last: dict[bytes, tuple[int, list[list[Any]]]] = {}
    for entry in entries:
        if entry.kind == "ballot_cast":
            b = parse_ballot_cast(entry, e.manifest)
            last[b.credential.raw] = (entry.index, [list(a.choices) for a in b.answers])
    closed = next(x for x in entries if x.kind == "election_closed")
    return mix_inputs(e.manifest, list(last.values()), closed)


def _mix(e: ApiElection, q: int, mixer: int, rows: RowList, seed: bytes = b"m") -> Any:
    assert e.ctx is not None and e.joint_key is not None
    return mix(e.ctx.fingerprint, e.joint_key.joint_key, q, mixer, e.trustee_keys[mixer - 1],
               rows, SeededRng(seed + bytes([q, mixer])))


def _refused(response: Any, status: int, rule: str) -> dict[str, Any]:
    body = response.get_json()
    assert response.status_code == status, body
    assert body["rule"] == rule, body
    assert body["code"] and body["message"]
    return body


def _post_tally(e: ApiElection) -> tuple[Any, int]:
    rows, total = [], 0
    assert e.credential_list is not None
    for entry in e.entries():
        if entry.kind == "ballot_cast":
            b = parse_ballot_cast(entry, e.manifest)
            w = e.credential_list.weight_of(b.credential)
            total += w
            rows.append((w, tally_ciphertexts(e.manifest, [list(a.choices) for a in b.answers])))
    tally = aggregate(tally_shape(e.manifest), rows)
    e.ok("tally_posted", e.official,
         {"tally": tally.to_json(), "counted": len(rows), "total_weight": total})
    return tally, total


MAYOR = 1  # the IRV question of RANKED_MANIFEST
DUEL: dict[str, Any] = {
    "election_id": "duel", "title": "Duel",
    "questions": [{"id": "duel", "title": "Who?", "options": ["A", "B"], "kind": "ranked",
                   "method": "irv"}],
}


# --- unhappy paths ---------------------------------------------------------------------


def test_a_mix_before_the_close_is_refused_and_nothing_is_written(ranked: ApiElection) -> None:
    ballots = [parse_ballot_cast(x, ranked.manifest) for x in ranked.entries()
               if x.kind == "ballot_cast"]
    rows = initial_rows([[list(a.choices) for a in b.answers] for b in ballots], MAYOR)
    posted = _mix(ranked, MAYOR, 1, rows)
    size = ranked.size()
    body = _refused(ranked.post("mix_posted", ranked.trustee_keys[0], posted.to_json()),
                    409, "R-PHASE-03")
    assert "mix_posted" in body["message"]
    assert ranked.size() == size


def test_a_mix_by_the_wrong_mixer_a_second_mix_and_a_tampered_mix_are_refused(
    ranked: ApiElection,
) -> None:
    ranked.close()
    inputs = _inputs(ranked)
    rows = inputs.initial[MAYOR]
    size = ranked.size()
    # Mixer 2 before mixer 1 (signed by mixer 2's own key): R-MIX-01.
    early = _mix(ranked, MAYOR, 2, rows)
    _refused(ranked.post("mix_posted", ranked.trustee_keys[1], early.to_json()), 409, "R-MIX-01")
    # Mixer 1's mix signed by trustee 2's key: the signer is not mixer 1 (R-SIG).
    first = _mix(ranked, MAYOR, 1, rows)
    wrong = ranked.post("mix_posted", ranked.trustee_keys[1], first.to_json())
    assert wrong.status_code in (401, 403), wrong.get_json()
    assert wrong.get_json()["rule"].startswith("R-SIG"), wrong.get_json()
    # One ciphertext of the output replaced by another: the proof no longer holds.
    tampered = copy.deepcopy(first.to_json())
    out = tampered["rows"]["rows"]
    out[0][0], out[1][0] = out[1][0], out[0][0]
    _refused(ranked.post("mix_posted", ranked.trustee_keys[0], tampered), 422, "R-MIX-03")
    assert ranked.size() == size
    ranked.ok("mix_posted", ranked.trustee_keys[0], first.to_json())
    # The same mixer again, with a fresh mix of the same list: R-MIX-01.
    again = _mix(ranked, MAYOR, 1, rows, seed=b"again")
    _refused(ranked.post("mix_posted", ranked.trustee_keys[0], again.to_json()), 409, "R-MIX-01")
    # Mixer 2 shuffling the counted rows instead of mixer 1's output: R-MIX-02.
    stale = _mix(ranked, MAYOR, 2, rows)
    _refused(ranked.post("mix_posted", ranked.trustee_keys[1], stale.to_json()), 422, "R-MIX-02")
    assert ranked.size() == size + 1


def test_a_mix_decryption_before_the_last_mix_is_refused(ranked: ApiElection) -> None:
    ranked.close()
    inputs = _inputs(ranked)
    first = _mix(ranked, MAYOR, 1, inputs.initial[MAYOR])
    ranked.ok("mix_posted", ranked.trustee_keys[0], first.to_json())
    assert ranked.ctx is not None
    s = ranked.states[0]
    partial = partial_decrypt_rows(ranked.ctx.fingerprint, MAYOR, s.trustee, s.share,
                                   first.rows, SeededRng(b"early"))
    size = ranked.size()
    body = _refused(ranked.post("mix_decryption", ranked.trustee_keys[0], partial.to_json()),
                    409, "R-MIX-04")
    assert body["detail"]["next_mixer"] == 2
    assert ranked.size() == size


def test_a_tally_that_sums_a_ranked_question_is_refused(ranked: ApiElection) -> None:
    ranked.close()
    rows = [(1, [list(a.choices) for a in parse_ballot_cast(x, ranked.manifest).answers])
            for x in ranked.entries() if x.kind == "ballot_cast"]
    every = aggregate([len(q.options) for q in ranked.manifest.questions], rows)
    size = ranked.size()
    response = ranked.post("tally_posted", ranked.official,
                           {"tally": every.to_json(), "counted": len(rows),
                            "total_weight": len(rows)})
    # The tally's shape is checked before its sums (docs/rules.md R-MIX-11): a tally
    # that includes the ranked question is refused as such, not as a wrong aggregate.
    _refused(response, 422, "R-MIX-11")
    assert ranked.size() == size
    _post_tally(ranked)  # the choice-only tally the server computed too
    assert ranked.size() == size + 1


@pytest.fixture(scope="module")
def small_app(api_db: str, tmp_path_factory: pytest.TempPathFactory) -> Any:
    """A server whose small and command caps are 4 KiB: a mix of 16 rows of width 2
    (~8 KiB) needs the mix route's own cap (from the election's size), and a padded one
    is 413."""
    app: Flask = create_app(server_config(
        api_db, str(tmp_path_factory.mktemp("small")),
        EVOTE_MAX_BODY=4 * 1024, EVOTE_MAX_COMMAND_BODY=4 * 1024))
    yield app
    with app.app_context():
        db.get_engine().dispose()


def test_a_mix_body_above_the_small_cap_needs_a_body_signature_and_fits_the_mix_cap(
    small_app: Flask,
) -> None:
    client = small_app.test_client()
    selections = [[[1 + v % 2, 2 - v % 2]] for v in range(16)]
    e = build_election(client, voters=len(selections), manifest=DUEL)
    for v, sel in enumerate(selections):
        e.cast_ok(v, sel)  # a ballot of one ranked pair fits the 4 KiB cap
    e.close()
    posted = _mix(e, 0, 1, _inputs(e).initial[0])
    key = e.trustee_keys[0]
    raw = sign_command(key, e.election_id, "mix_posted", posted.to_json()).to_json()
    data = canonical_json(raw)
    assert 4 * 1024 < len(data)  # above both caps: only the mix route's own cap admits it
    url = f"{e.url}/commands/mix_posted"
    plain = client.post(url, data=data, content_type="application/json")
    assert plain.status_code == 413, plain.get_json()
    assert plain.get_json()["code"] == "body_too_large"
    # Padded far beyond what 12 rows of width 4 take (the mix route's cap): 413 even signed.
    cap = mix_body_cap("mix_posted", 16, 2)
    padded = data[:-1] + b" " * cap + b"}"
    header = sign_body(key, e.election_id, "mix_posted", padded).header()
    big = client.post(url, data=padded, content_type="application/json", headers={HEADER: header})
    assert big.status_code == 413, big.get_json()
    # A stranger's signature header is refused before the body is read.
    stranger = sign_body(e.official, e.election_id, "mix_posted", data).header()
    refused = client.post(url, data=data, content_type="application/json",
                          headers={HEADER: stranger})
    assert refused.status_code in (401, 403), refused.get_json()
    size = e.size()
    header = sign_body(key, e.election_id, "mix_posted", data).header()
    fine = client.post(url, data=data, content_type="application/json", headers={HEADER: header})
    assert fine.status_code == 201, fine.get_json()
    assert e.size() == size + 1


# --- the happy path --------------------------------------------------------------------


def test_a_ranked_and_graded_election_runs_to_its_result_over_http(ranked: ApiElection) -> None:
    e = ranked
    e.close()
    inputs = _inputs(e)
    tally, total = _post_tally(e)
    assert e.ctx is not None and e.joint_key is not None
    for q in e.manifest.mixed_questions:
        rows = inputs.initial[q]
        for m in (1, 2, 3):
            posted = _mix(e, q, m, rows)
            e.ok("mix_posted", e.trustee_keys[m - 1], posted.to_json())
            rows = posted.rows
        for s in e.states[: e.threshold]:
            p = partial_decrypt_rows(e.ctx.fingerprint, q, s.trustee, s.share, rows,
                                     SeededRng(b"d" + bytes([q, s.trustee])))
            e.ok("mix_decryption", e.trustee_keys[s.trustee - 1], p.to_json())
    # result_published before the ranked results: R-MIX-10
    partials = [partial_decrypt(e.ctx.fingerprint, s.trustee, s.share, tally, SeededRng(b"p"))
                for s in e.states[: e.threshold]]
    for p in partials:
        e.ok("partial_decryption", e.trustee_keys[p.trustee - 1], p.to_json())
    result = combine(e.ctx.fingerprint, tally, partials, e.joint_key,
                     tally_bounds(e.manifest, total))
    _refused(e.post("result_published", e.official, {"result": result.to_json()}),
             409, "R-MIX-10")
    for q in e.manifest.mixed_questions:
        body = ranked_result(_board(e), q, inputs.tie_seed)
        wrong = copy.deepcopy(body.to_json())
        wrong["count"]["winners"] = [(wrong["count"]["winners"][0] + 1) % 4]
        _refused(e.post("ranked_result", e.official, wrong), 422, "R-MIX-09")
        e.ok("ranked_result", e.official, body.to_json())
    e.ok("result_published", e.official, {"result": result.to_json()})
    board = _board(e)
    assert board.result is not None
    mayor = board.ranked[MAYOR]
    assert sorted(tuple(r) for r in mayor.decrypted.rows) == sorted(
        tuple(s[MAYOR]) for s in SELECTIONS)
    assert list(mayor.count["winners"]) == [1]  # Bob, as tests/test_ranked_board.py counts it
