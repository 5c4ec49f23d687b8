"""Item 4 — clash attacks (Küsters, Truderung and Vogt, 2012).

Ralf Küsters, Tomasz Truderung, Andreas Vogt, "Clash attacks on the
verifiability of e-voting systems" (IEEE S&P 2012): a dishonest booth or server
arranges for two voters with the same choices to be shown *the same* ballot
and receipt; only one ballot goes on the board, both voters' checks pass, and
the second vote is replaced by one the attacker chooses (or dropped).

evote's defence: a ballot is signed by its voter's credential and the
tracking code is a hash of the whole signed ballot (credential and signature
included), so two voters never have the same tracking code, even when a
lying booth encrypts both with the same randomness; the voter's receipt
check confirms that the board entry holds *this voter's* ballot, signed by
this voter's credential, not merely some ballot with matching choices.
"""

from __future__ import annotations

import httpx
import pytest
from flask import Flask
from hypothesis import given, settings
from hypothesis import strategies as st

from cli.client import Client
from cli.receipt import check_receipt
from cli.vote import check_receipt_for
from evote.ballot import BallotRandomness, encrypt_ballot_deterministic
from evote.board import Receipt, TreeHead
from evote.drbg import SeededRng
from evote.errors import BoardError
from evote.merkle import MemoryTree
from tests.attacks.adversary import download_record
from tests.support.api_election import ApiElection
from tests.support.recordgen import GeneratedRecord
from verifier.receipt import verify_receipt
from verifier.record import Record
from verifier.sources import ZipSource

ONE_HOT = [[1, 0, 0], [0, 1, 0], [0, 0, 1]]


@settings(max_examples=15, deadline=None)
@given(
    st.lists(st.integers(0, 5), min_size=2, max_size=6, unique=True),
    st.integers(0, 3),
    st.binary(min_size=8, max_size=8),
)
def test_kusters_truderung_vogt_2012_no_two_voters_share_a_tracking_code(
    honest: GeneratedRecord, voters: list[int], choice: int, seed: bytes
) -> None:
    """A lying booth gives several voters the same choices *and* the same
    encryption randomness (identical ciphertexts, the raw material of a clash):
    their tracking codes are still all different, because each ballot is
    signed by its own credential and the code hashes the signed ballot."""
    e = honest.election
    selections = [[[1, 0, 0], [3, 0]], [[0, 1, 0], [0, 3]], [[0, 0, 1], [2, 2]], [[1, 0, 0], [0, 0]]]
    chosen = selections[choice]
    randomness = BallotRandomness.random(e.manifest, SeededRng(seed))
    ballots = [
        encrypt_ballot_deterministic(e.ctx, e.voters[v], chosen, randomness, SeededRng(seed))
        for v in voters
    ]
    alphas = {b.answers[0].choices[0].alpha.raw for b in ballots}
    assert len(alphas) == 1  # the booth really made the ciphertexts identical
    assert len({b.tracking_code for b in ballots}) == len(voters)
    assert len({b.credential.raw for b in ballots}) == len(voters)


def test_kusters_truderung_vogt_2012_identical_ciphertexts_cannot_both_be_cast(
    live: ApiElection,
) -> None:
    """Even if two voters' booths produce the same ciphertexts, the board takes
    them only once (409 duplicate_ciphertext for the second), so a clash cannot
    hide behind two identical-looking ballots either."""
    randomness = BallotRandomness.random(live.manifest, live.rng)
    a = encrypt_ballot_deterministic(live.ctx, live.credentials[0], [[0, 1, 0]], randomness, live.rng)
    b = encrypt_ballot_deterministic(live.ctx, live.credentials[1], [[0, 1, 0]], randomness, live.rng)
    assert a.tracking_code != b.tracking_code
    assert live.cast(a, login=live.login(0)).status_code == 201
    response = live.cast(b, login=live.login(1))
    assert response.status_code == 409
    assert response.get_json()["code"] == "duplicate_ciphertext"


def _clash_receipt(app: Flask, live: ApiElection, index: int, tracking_code: str) -> Receipt:
    """What a dishonest server (it holds the board key) hands the second voter:
    a genuinely signed receipt for the first voter's entry."""
    board_key = app.extensions["evote"].board_key
    entries = live.entries()
    tree = MemoryTree(e.leaf_hash() for e in entries)
    head = TreeHead(live.election_id, tree.size, tree.root(), entries[-1].time + 1).sign(board_key)
    return Receipt.issue(
        entry=entries[index],
        tracking_code=tracking_code,
        tree_head=head,
        inclusion_proof=tree.inclusion_proof(index),
        key=board_key,
    )


@pytest.fixture
def cli_client(server_app: Flask):
    with Client("http://evote.test", transport=httpx.WSGITransport(app=server_app)) as client:
        yield client


def test_kusters_truderung_vogt_2012_same_receipt_for_two_voters_is_caught(
    server_app: Flask, live: ApiElection, cli_client: Client
) -> None:
    """Voters 0 and 1 both choose option 2.  The server casts voter 0's ballot
    and shows voter 1 voter 0's receipt (voter 1's ballot is dropped).  Voter
    1's receipt check refuses it: the receipt is for another ballot."""
    ballot_a, _ = live.ballot(0, [[0, 0, 1]])
    ballot_b, _ = live.ballot(1, [[0, 0, 1]])
    response = live.cast(ballot_a, login=live.login(0))
    receipt_a = Receipt.from_json(response.get_json())
    check_receipt_for(cli_client, receipt_a, ballot_a)  # voter 0: fine
    with pytest.raises(BoardError, match="receipt is for another ballot"):
        check_receipt_for(cli_client, receipt_a, ballot_b)


def test_kusters_truderung_vogt_2012_relabelled_receipt_is_caught_and_is_evidence(
    server_app: Flask, live: ApiElection, cli_client: Client, tmp_path
) -> None:
    """The server signs a receipt carrying voter 1's tracking code but pointing
    at voter 0's entry.  Voter 1's check finds that the entry does not hold the
    ballot voter 1 signed (its credential is voter 0's); ``evote-verify
    receipt`` fails with tracking_mismatch; and the receipt, signed by the board
    key, proves the server's lie to anyone."""
    ballot_a, _ = live.ballot(0, [[0, 0, 1]])
    ballot_b, _ = live.ballot(1, [[0, 0, 1]])
    index = Receipt.from_json(live.cast(ballot_a, login=live.login(0)).get_json()).index
    forged = _clash_receipt(server_app, live, index, ballot_b.tracking_code)
    forged.verify(live.board_key)  # genuinely signed: this is transferable evidence

    entry = live.entries()[index]
    assert entry.payload["ballot"]["credential"] == live.credentials[0].verify_key.to_json()
    assert entry.payload["ballot"]["credential"] != ballot_b.credential.to_json()
    with pytest.raises(BoardError, match=r"entry \d+ on the board does not hold the ballot"):
        check_receipt_for(cli_client, forged, ballot_b)
    # The later check (`evote receipt check`, from the receipt file alone) too.
    with pytest.raises(BoardError, match="signed a receipt for someone else's ballot"):
        check_receipt(cli_client, forged)
    check_receipt(cli_client, _clash_receipt(server_app, live, index, ballot_a.tracking_code))

    source = ZipSource(download_record(live, tmp_path / "record.zip"))
    try:
        report = verify_receipt(Record.load(source), forged.to_json())
    finally:
        source.close()
    failure = report.check("entry-on-board").first_failure
    assert failure.code == "tracking_mismatch"
    assert ballot_b.tracking_code in failure.message and ballot_a.tracking_code in failure.message
