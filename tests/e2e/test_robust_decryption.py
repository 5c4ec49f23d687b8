"""Robust decryption (issue 14 item 9): one trustee's invalid partial decryption is
recorded on the board, named by the verifier, and does not stop a tally that has
t valid ones.

3 trustees, threshold 2.  Trustee 1 posts a validly *signed* partial decryption
that is wrong (factors from a wrong key share, with honest DLEQ proofs for those
wrong factors, so the proofs do not verify against X_1).  The server records it,
trustees 2 and 3 post valid ones, the official's result is accepted, and the
verifier passes the record while naming trustee 1's partial as invalid.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask

from ballot_server import create_app, db
from ballot_server.db import sqlite_url
from evote.group import Scalar
from evote.tally import PartialDecryption, combine, partial_decrypt
from tests.attacks.adversary import download_record, verify_zip
from tests.support.api_election import ApiElection, build_election, server_config


@pytest.fixture
def live(tmp_path: Path) -> Iterator[ApiElection]:
    app: Flask = create_app(
        server_config(sqlite_url(str(tmp_path / "board.sqlite")), str(tmp_path / "instance"))
    )
    yield build_election(app.test_client(), voters=3, seed=b"robust-decryption")
    with app.app_context():
        db.get_engine().dispose()


def _closed_with_tally(e: ApiElection):
    for voter in range(3):
        e.cast_ok(voter)
    e.close()
    tally, counted, total = e.counted_tally()
    e.ok("tally_posted", e.official,
         {"tally": tally.to_json(), "counted": counted, "total_weight": total})
    return tally, total


def _wrong_partial(e: ApiElection, tally, how: str) -> PartialDecryption:
    state = next(s for s in e.states if s.trustee == 1)
    if how == "wrong share":
        return partial_decrypt(e.ctx.fingerprint, 1, state.share + Scalar.from_int(1), tally,
                               e.rng)
    good = e.partials(tally, [1])[0]
    (d0, p0), rest = good.shares[0][0], good.shares[0][1:]
    if how == "wrong value":  # the right proof, a wrong factor (another option's)
        d1 = good.shares[0][1][0]
        return PartialDecryption(1, (((d1, p0), *rest),))
    assert how == "wrong proof"  # the right factor, another option's proof
    p1 = good.shares[0][1][1]
    return dataclasses.replace(good, shares=(((d0, p1), *rest),))


@pytest.mark.parametrize("how", ["wrong share", "wrong value", "wrong proof"])
def test_an_invalid_partial_is_recorded_named_and_does_not_stop_the_tally(
    live: ApiElection, tmp_path: Path, how: str
) -> None:
    e = live
    tally, total = _closed_with_tally(e)
    bad = _wrong_partial(e, tally, how)
    size = e.size()
    response = e.post("partial_decryption", e.trustee_keys[0], bad.to_json())
    assert response.status_code == 201, response.get_json()
    assert e.size() == size + 1  # on the board: evidence against trustee 1
    # the same trustee cannot post a second one (one partial per trustee)
    good1 = e.partials(tally, [1])[0]
    again = e.post("partial_decryption", e.trustee_keys[0], good1.to_json())
    assert again.status_code == 409 and again.get_json()["code"] == "already_exists"

    # one invalid + one valid is not enough: the result is refused
    valid = e.partials(tally, [2, 3])
    e.ok("partial_decryption", e.trustee_keys[1], valid[0].to_json())
    bounds = [[total] * 3]
    result = combine(e.ctx.fingerprint, tally, [bad, *valid], e.joint_key, bounds)
    early = e.post("result_published", e.official, {"result": result.to_json()})
    assert early.status_code == 422 and early.get_json()["code"] == "decryption"
    assert "trustee 1: invalid proof for question 0 option 0" in early.get_json()["message"]

    e.ok("partial_decryption", e.trustee_keys[2], valid[1].to_json())
    e.ok("result_published", e.official, {"result": result.to_json()})
    assert result.counts == ((1, 1, 1),)

    report = verify_zip(download_record(e, tmp_path / "record.zip"))
    assert report.ok, report.failed()
    partials = next(c for c in report.checks if c.name == "partial-decryptions")
    assert partials.counts["partials"] == 3
    assert partials.counts["valid"] == 2
    assert partials.counts["invalid"] == 1
    assert "trustee 1's partial decryption" in partials.note
    assert "invalid proof for question 0 option 0" in partials.note
    assert "not used" in partials.note
    result_check = next(c for c in report.checks if c.name == "result")
    assert result_check.passed
    assert [[o.total for o in q.options] for q in report.result] == [[1, 1, 1]]


def test_a_partial_of_the_wrong_shape_is_still_refused(live: ApiElection) -> None:
    """Only a well-formed partial is recorded: one that does not even have the
    tally's shape is bad input (422, nothing written)."""
    e = live
    tally, _ = _closed_with_tally(e)
    good = e.partials(tally, [1])[0]
    short = PartialDecryption(1, (good.shares[0][:2],))
    size = e.size()
    response = e.post("partial_decryption", e.trustee_keys[0], short.to_json())
    assert response.status_code == 422 and response.get_json()["code"] == "decryption"
    assert e.size() == size
