"""Item 8 — a server that drops, alters or reorders an acknowledged ballot.

A hacked or dishonest ballot server is the central threat to any internet
election.  In the Washington, D.C. public test of 2010 (Wolchok, Wustrow,
Isabel, Halderman, "Attacking the Washington, D.C. Internet Voting System",
FC 2012) a university team took over the server and changed every ballot
already cast; the officials noticed only about a day and a half later, and
only because the attackers made the "thank you" page play a fight song.
Springall et al. ("Security Analysis of the Estonian Internet Voting
System", CCS 2014) showed how malware on Estonia's servers could change
votes.  In both, voters had nothing with which to prove that their ballot had
been changed.

evote's defences: the server acknowledges a ballot only with a *receipt* — its
signature over (entry index, entry hash, tracking code, signed tree head) and an
RFC 9162 inclusion proof — and every later board must extend that tree.  So a
dropped, altered or moved ballot makes the voter's receipt check fail, the
receipt (signed by the board key) is evidence a third party can check without
trusting the voter, and the verifier fails the record given the voter's signed
head.  The database refuses UPDATE and DELETE on board tables, so the server
process cannot even do it by accident.
"""

from __future__ import annotations

import copy
import sqlite3

import httpx
import pytest
from flask import Flask

from cli.client import Client
from cli.receipt import check_receipt
from evote.board import Entry, Receipt, SignedTreeHead
from evote.encoding import canonical_json, parse_json
from evote.errors import BoardError
from evote.group import Point, Scalar
from evote.record import TREE_HEADS_FILE, tree_head_line
from tests.attacks.adversary import (
    ballot_rows,
    credential_of,
    cut_at,
    download_record,
    failures,
    forge_board,
    pairs_of,
    stuffed_tally,
    tally_pairs,
    verify,
    verify_zip,
)
from tests.support.api_election import ApiElection
from tests.support.recordgen import GeneratedRecord
from verifier.receipt import verify_receipt
from verifier.record import Record
from verifier.sources import DirectorySource


def receipt_report(directory, receipt: Receipt):
    return verify_receipt(Record.load(DirectorySource(directory)), receipt.to_json())


def add_voter_head(directory, receipt: Receipt) -> None:
    """What an auditor does with heads collected from voters' receipts: put them
    into the record's tree-heads.jsonl (in (size, time) order) and verify."""
    path = directory / TREE_HEADS_FILE
    heads = [SignedTreeHead.from_json(parse_json(line)) for line in path.read_bytes().splitlines()]
    heads.append(receipt.tree_head)
    heads.sort(key=lambda h: (h.size, h.head.time))
    path.write_bytes(b"".join(tree_head_line(h) for h in heads))


def retallied(gen: GeneratedRecord, before_close) -> list:
    """The rest of a board after ``before_close``, re-tallied over what it now holds
    (the official and the trustees collude with the server)."""
    e = gen.election
    last: dict[bytes, dict] = {}
    for kind, payload in before_close:
        if kind == "ballot_cast":
            last[credential_of(payload).raw] = payload["ballot"]
    rows = ballot_rows(e, last.values())
    close = next(p for p in pairs_of(gen.entries) if p[0] == "election_closed")
    return [close, *tally_pairs(e, stuffed_tally(e, rows), counted=len(rows),
                                total_weight=sum(w for w, _ in rows))]


# --- drop ------------------------------------------------------------------------------------


def test_dc_2010_dropped_ballot_fails_the_receipt_and_the_verifier(
    honest: GeneratedRecord, record_copy
) -> None:
    """Server, official and trustees collude: the acknowledged ballot is removed,
    the board re-chained and re-tallied, every head re-signed.  The record alone
    is now self-consistent; the voter's receipt is what exposes it: all three
    board checks of ``evote-verify receipt`` fail, and the record fails the
    verifier as soon as the voter's signed head is added to it."""
    e = honest.election
    receipt = honest.receipts[0]
    pairs = cut_at(honest.entries, "election_closed")
    assert pairs[receipt.index][0] == "ballot_cast"
    kept = pairs[: receipt.index] + pairs[receipt.index + 1 :]
    forge_board(record_copy, e, [*kept, *retallied(honest, kept)])
    assert verify(record_copy).ok  # nothing in the rewritten record itself gives it away

    report = receipt_report(record_copy, receipt)
    assert report.check("receipt-signature").passed  # the receipt is genuine
    failed = failures(report)
    assert failed["entry-on-board"] == "board"
    assert failed["receipt-tree"] == "root_mismatch"
    assert failed["not-rewritten"] == "root_mismatch"

    add_voter_head(record_copy, receipt)
    failed = failures(verify(record_copy))
    assert failed["tree-heads"] == "root_mismatch"
    assert failed["consistency"] == "root_mismatch"


def test_dc_2010_dropped_ballot_without_collusion_fails_the_verifier_alone(
    honest: GeneratedRecord, record_copy
) -> None:
    """The server alone (it cannot sign a tally) drops an acknowledged ballot and
    re-signs the board: the official's tally no longer matches the board."""
    e = honest.election
    receipt = honest.receipts[0]
    pairs = pairs_of(honest.entries)
    forge_board(record_copy, e, pairs[: receipt.index] + pairs[receipt.index + 1 :])
    failed = failures(verify(record_copy))
    assert failed["aggregation"] == "tally"
    assert failed["counted-set"] == "tally"  # R-TAL-01


# --- alter ----------------------------------------------------------------------------------


def test_dc_2010_altered_ballot_fails_the_receipt_and_the_verifier(
    honest: GeneratedRecord, record_copy
) -> None:
    """The server changes a ciphertext of the acknowledged ballot (it cannot
    re-sign it: the signature is the voter's credential's) and re-signs the board."""
    e = honest.election
    receipt = honest.receipts[0]
    pairs = pairs_of(honest.entries)
    kind, payload = pairs[receipt.index]
    altered = copy.deepcopy(payload)
    altered["ballot"]["answers"][0]["choices"][0]["alpha"] = Point.base_mul(
        Scalar.from_int(4242)
    ).to_json()
    pairs[receipt.index] = (kind, altered)
    forge_board(record_copy, e, pairs)
    assert failures(verify(record_copy)) == {
        "ballots": "invalid_signature",  # the voter's signature no longer covers it ...
        "counted-set": "tally",  # R-TAL-01: ... so it is not counted, and the official's
        "aggregation": "tally",  # tally (which counted it) does not match the board
    }
    failed = failures(receipt_report(record_copy, receipt))
    assert failed["entry-on-board"] == "board"
    assert failed["receipt-tree"] == "root_mismatch"


# --- reorder --------------------------------------------------------------------------------


def test_dc_2010_reordered_ballot_fails_the_receipt_and_the_verifier(
    honest: GeneratedRecord, record_copy
) -> None:
    """The server moves the acknowledged ballot one place later (swapping it with
    the next ballot, so the counted set and the tally do not change) and
    re-signs the board: the receipt check fails, and so does the verifier given
    the voter's head."""
    e = honest.election
    receipt = honest.receipts[0]
    pairs = pairs_of(honest.entries)
    i = receipt.index
    assert pairs[i + 1][0] == "ballot_cast"
    assert credential_of(pairs[i][1]) != credential_of(pairs[i + 1][1])
    pairs[i], pairs[i + 1] = pairs[i + 1], pairs[i]
    forge_board(record_copy, e, pairs)
    assert verify(record_copy).ok
    failed = failures(receipt_report(record_copy, receipt))
    assert failed["entry-on-board"] == "board"
    assert failed["receipt-tree"] == "root_mismatch"
    add_voter_head(record_copy, receipt)
    assert failures(verify(record_copy))["consistency"] == "root_mismatch"


# --- the receipt is transferable evidence -----------------------------------------------------


def test_dc_2010_receipt_and_later_head_prove_the_rewrite_to_anyone(
    honest: GeneratedRecord, record_copy
) -> None:
    """What the voter hands a court or an observer: the receipt and the server's
    later signed head.  Both verify under the board key alone, and the receipt
    check's evidence names both signed heads whose trees are inconsistent."""
    e = honest.election
    receipt = honest.receipts[0]
    pairs = cut_at(honest.entries, "election_closed")
    kept = pairs[: receipt.index] + pairs[receipt.index + 1 :]
    forge_board(record_copy, e, [*kept, *retallied(honest, kept)])
    failure = receipt_report(record_copy, receipt).check("not-rewritten").first_failure
    board_key = e.board_key.verify_key
    older = SignedTreeHead.from_json(failure.evidence["older"])
    newer = SignedTreeHead.from_json(failure.evidence["newer"])
    older.verify(board_key)
    newer.verify(board_key)
    assert older == receipt.tree_head
    Receipt.from_json(receipt.to_json()).verify(board_key)  # the receipt itself, from its JSON


# --- a compromised server process on the live board ------------------------------------------


def test_dc_2010_live_board_refuses_update_and_delete_and_tampering_is_caught(
    server_app: Flask, live: ApiElection, tmp_path
) -> None:
    """The board tables refuse UPDATE and DELETE (a trigger, even for the server's
    own connection).  An attacker who drops the triggers and rewrites the
    acknowledged entry in place is caught by ``evote receipt check`` and by the
    verifier on the downloaded record."""
    receipt = live.cast_ok(0)
    live.cast_ok(1)
    url = server_app.config["EVOTE_DATABASE_URL"]
    path = url.removeprefix("sqlite:///")
    conn = sqlite3.connect(path)
    try:
        for statement in (
            "DELETE FROM board_entries WHERE idx = ?",
            "UPDATE board_entries SET kind = 'x' WHERE idx = ?",
        ):
            with pytest.raises(sqlite3.DatabaseError, match="append-only table"):
                conn.execute(statement, (receipt.index,))
        stored = conn.execute(
            "SELECT entry FROM board_entries WHERE idx = ?", (receipt.index,)
        ).fetchone()[0]
        doc = Entry.from_bytes(bytes(stored)).to_json()
        doc["payload"]["ballot"]["answers"][0]["choices"][0]["alpha"] = Point.base_mul(
            Scalar.from_int(777)
        ).to_json()
        forged = canonical_json(doc)
        conn.execute("DROP TRIGGER board_entries_no_update")
        conn.execute("UPDATE board_entries SET entry = ? WHERE idx = ?", (forged, receipt.index))
        conn.commit()
    finally:
        conn.close()

    transport = httpx.WSGITransport(app=server_app)
    with Client("http://evote.test", transport=transport) as client, pytest.raises(
        BoardError, match="not the entry in the receipt"
    ):
        check_receipt(client, receipt)
    failed = failures(verify_zip(download_record(live, tmp_path / "record.zip")))
    assert failed["hash-chain"] == "broken_chain"
    assert failed["ballots"] == "invalid_signature"
