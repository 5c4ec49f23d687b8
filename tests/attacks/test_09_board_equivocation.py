"""Item 9 — board equivocation (split view).

A bulletin board that shows different histories to different people defeats
individual verifiability: each voter finds their own ballot, yet the tally is
computed over a board nobody else saw.  Certificate Transparency (RFC 6962,
RFC 9162) met the same threat with signed tree heads and gossip: two heads
the log signed for the same size but different roots are, by themselves,
proof of misbehaviour; a later head that is not an extension of an earlier one
(failed consistency proof) is proof of a rewrite.  Equivocation by voting
bulletin boards is discussed by Culnane and Schneider ("A peered bulletin board
for robust use in verifiable voting systems", CSF 2014).

evote's defence: the board signs every tree head (size, root, time) with its
Ed25519 key; ``detect_equivocation`` turns two signed heads of one size with
different roots into an :class:`~evote.errors.Equivocation` carrying both; the
verifier checks every pair of heads in the record (check 9) and every head
against the next and the latest by RFC 9162 consistency proofs (check 8), and
``evote-verify`` prints the signed heads as evidence.
"""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from evote.board import SignedTreeHead, TreeHead, detect_equivocation, verify_heads
from evote.errors import Equivocation, InvalidSignature, RootMismatchError
from evote.merkle import MemoryTree
from evote.signing import SigningKey
from tests.attacks.adversary import (
    credential_of,
    failures,
    pairs_of,
    signed_heads,
    verify,
    write_heads,
)
from tests.support.recordgen import START_TIME, GeneratedRecord, rechain, rewrite_board
from verifier.main import cli as verify_cli


def forked(gen: GeneratedRecord) -> list:
    """The same board with two adjacent ballots of different voters swapped: same
    size, same tally, a different root (the view shown to someone else)."""
    pairs = pairs_of(gen.entries)
    i = next(
        i for i in range(len(pairs) - 1)
        if pairs[i][0] == pairs[i + 1][0] == "ballot_cast"
        and credential_of(pairs[i][1]) != credential_of(pairs[i + 1][1])
    )
    pairs[i], pairs[i + 1] = pairs[i + 1], pairs[i]
    return rechain(gen.election, [], pairs)


def _write(directory, gen: GeneratedRecord, entries, heads: list[SignedTreeHead]) -> None:
    rewrite_board(directory, [e.canonical() for e in entries])
    write_heads(directory, sorted(heads, key=lambda h: (h.size, h.head.time)))


def test_ct_split_view_two_signed_heads_of_one_size_are_proof(honest: GeneratedRecord) -> None:
    """Two heads, both validly signed, same size, different roots: Equivocation,
    with both heads' JSON as its detail (publishable as they are)."""
    e = honest.election
    honest_entries = rechain(e, [], pairs_of(honest.entries))
    n = len(honest_entries)
    (a,) = signed_heads(e, honest_entries, [n], time=START_TIME * 3)
    (b,) = signed_heads(e, forked(honest), [n], time=START_TIME * 3 + 10)
    with pytest.raises(Equivocation) as info:
        detect_equivocation(a, b, board_key=e.board_key.verify_key)
    detail = info.value.detail
    assert {detail["first"]["head"]["root"], detail["second"]["head"]["root"]} == {
        a.to_json()["head"]["root"], b.to_json()["head"]["root"]}
    for side in ("first", "second"):
        SignedTreeHead.from_json(detail[side]).verify(e.board_key.verify_key)


def test_ct_split_view_claims_need_valid_signatures(honest: GeneratedRecord) -> None:
    """A head with a forged signature is not evidence of anything: refused with
    InvalidSignature, so nobody can frame an honest board."""
    e = honest.election
    entries = rechain(e, [], pairs_of(honest.entries))
    (a,) = signed_heads(e, entries, [len(entries)], time=1)
    other = MemoryTree(x.leaf_hash() for x in forked(honest))
    framed = SignedTreeHead(TreeHead(e.election_id, len(entries), other.root(), 2),
                            a.signature, a.board_key)
    with pytest.raises(InvalidSignature):
        detect_equivocation(a, framed, board_key=e.board_key.verify_key)
    impostor = TreeHead(e.election_id, len(entries), other.root(), 3).sign(SigningKey(b"\x01" * 32))
    with pytest.raises(InvalidSignature):
        detect_equivocation(a, impostor, board_key=e.board_key.verify_key)


def test_ct_split_view_in_a_record_fails_check_9_with_both_heads(
    honest: GeneratedRecord, record_copy
) -> None:
    """The record holds the board one group was shown plus the head another group
    was given (same size, other root).  Check 9 fails with both signed heads as
    evidence; check 7 fails too (one head does not match the board)."""
    e = honest.election
    board = forked(honest)
    n = len(board)
    other = rechain(e, [], pairs_of(honest.entries))
    heads = signed_heads(e, board, [n // 2, n], time=START_TIME * 3)
    heads += signed_heads(e, other, [n], time=START_TIME * 4)
    _write(record_copy, honest, board, heads)
    report = verify(record_copy)
    failed = failures(report)
    assert failed["equivocation"] == "equivocation"
    assert failed["tree-heads"] == "root_mismatch"
    evidence = report.check("equivocation").first_failure.evidence
    roots = {evidence["first"]["head"]["root"], evidence["second"]["head"]["root"]}
    assert roots == {heads[1].to_json()["head"]["root"], heads[2].to_json()["head"]["root"]}


def test_ct_split_view_evote_verify_prints_both_signed_heads(
    honest: GeneratedRecord, record_copy
) -> None:
    """``evote-verify`` exits 1 and prints, under "evidence for check 9", both
    signed heads (their signatures included) — in the table and in --json."""
    e = honest.election
    board = forked(honest)
    n = len(board)
    heads = signed_heads(e, board, [n], time=START_TIME * 3)
    heads += signed_heads(e, rechain(e, [], pairs_of(honest.entries)), [n], time=START_TIME * 4)
    _write(record_copy, honest, board, heads)
    runner = CliRunner()
    table = runner.invoke(verify_cli, ["record", str(record_copy), "--workers", "1"],
                          terminal_width=400)
    assert table.exit_code == 1, table.output
    assert "evidence for check 9 (equivocation)" in table.output
    flat = "".join(table.output.split())
    for h in heads:
        assert h.to_json()["signature"] in flat
        assert h.to_json()["head"]["root"] in flat

    as_json = runner.invoke(verify_cli, ["record", str(record_copy), "--workers", "1", "--json"])
    assert as_json.exit_code == 1
    check = next(c for c in json.loads(as_json.output)["checks"] if c["name"] == "equivocation")
    evidence = check["first_failure"]["evidence"]
    assert {evidence["first"]["signature"], evidence["second"]["signature"]} == {
        h.to_json()["signature"] for h in heads}


def test_ct_split_view_head_inconsistent_with_an_earlier_one_fails_check_8(
    honest: GeneratedRecord, record_copy
) -> None:
    """An earlier head (size k) was signed over one history; the final board has
    a different first k entries.  Sizes differ, so there is no same-size pair:
    the RFC 9162 consistency proof from the earlier head fails, with both heads
    as evidence."""
    e = honest.election
    original = rechain(e, [], pairs_of(honest.entries))
    board = forked(honest)
    n = len(board)
    k = n - 3
    assert original[k - 1].leaf_hash() != board[k - 1].leaf_hash()
    heads = signed_heads(e, original, [k], time=START_TIME * 3)
    heads += signed_heads(e, board, [n], time=START_TIME * 4)
    _write(record_copy, honest, board, heads)
    report = verify(record_copy)
    failed = failures(report)
    assert failed["consistency"] == "root_mismatch"
    evidence = report.check("consistency").first_failure.evidence
    assert evidence["older"] == heads[0].to_json()
    assert evidence["newer"] == heads[1].to_json()
    # The same check, by hand, with the proof an honest server would give.
    proof = MemoryTree(x.leaf_hash() for x in board).consistency_proof(k, n)
    with pytest.raises(RootMismatchError):
        verify_heads(heads[0], heads[1], proof, board_key=e.board_key.verify_key)
