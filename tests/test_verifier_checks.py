"""The record checks on real records: a valid one passes, every tampering is caught by name.

Records are built with the real core (tests/recordgen.py): real keys, a real
key ceremony, real ballots and proofs.  Two kinds of tampering:

* *naive*: a line of board.jsonl is edited, dropped or moved and nothing else
  changes -- the hash chain and the signed heads catch it;
* *dishonest server*: the edit is re-chained and the heads are re-signed with
  the board key (and, where the scenario says so, commands re-signed with the
  official's or the authority's key).  Chain and heads then pass, and the
  check that owns the broken rule must catch it.

Every test asserts the named check that fails and that the report is not ok.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from evote.ballot import encrypt_ballot, sign_ballot
from evote.board import Entry, TreeHead
from evote.commands import sign_command
from evote.dkg import Complaint, ComplaintAnswer
from evote.dkg.trustee import open_share
from evote.drbg import SeededRng
from evote.encoding import b64decode, b64encode
from evote.group import Scalar
from evote.merkle import MemoryTree
from evote.record import TREE_HEADS_FILE, tree_head_line
from evote.signing import SigningKey
from tests import recordgen
from verifier.checks import CHECKS, RecordVerifier, verify_record
from verifier.record import Record
from verifier.report import FAIL, PASS
from verifier.sources import DirectorySource, ZipSource

Pairs = list[tuple[str, dict[str, Any]]]


@pytest.fixture(scope="module")
def base(tmp_path_factory) -> recordgen.GeneratedRecord:
    return recordgen.build_record(
        tmp_path_factory.mktemp("record"), voters=5, revotes=2, audits=1,
        weights=[1, 2, 1, 1, 3],
    )


def verify(path: Path, **options: Any):
    return verify_record(Record.load(DirectorySource(path)), **options)


def copy(base: recordgen.GeneratedRecord, tmp_path: Path) -> Path:
    out = tmp_path / "copy"
    shutil.copytree(base.path, out)
    return out


def pairs_of(base: recordgen.GeneratedRecord) -> Pairs:
    # A deep copy through JSON, so edits never touch the module fixture.
    return [(e.kind, json.loads(json.dumps(e.payload))) for e in base.entries]


def index_of(pairs: Pairs, kind: str, nth: int = 0) -> int:
    return [i for i, (k, _) in enumerate(pairs) if k == kind][nth]


def dishonest(base: recordgen.GeneratedRecord, tmp_path: Path, edit: Callable[[Pairs], Pairs | None]):
    """Apply ``edit`` to the (kind, payload) list, re-chain, re-sign the heads, verify."""
    pairs = pairs_of(base)
    out = edit(pairs)
    pairs = out if out is not None else pairs
    path = copy(base, tmp_path)
    entries = recordgen.rechain(base.election, [], pairs)
    recordgen.rewrite_board(path, recordgen.iter_lines(entries))
    recordgen.resign_heads(path, base.election, entries)
    return verify(path)


def resign(base: recordgen.GeneratedRecord, key: SigningKey, kind: str, body: dict) -> dict:
    return sign_command(key, base.election.election_id, kind, body).to_json()


def assert_caught(report, name: str, *, chain_intact: bool = True) -> None:
    assert not report.ok
    assert name in report.failed(), (name, report.failed(), [
        (c.name, c.first_failure) for c in report.checks if c.status == FAIL])
    if chain_intact:
        for other in ("hash-chain", "tree-heads", "consistency", "equivocation"):
            assert report.check(other).status == PASS, (other, report.check(other).first_failure)


# --------------------------------------------------------------------------
# the valid record
# --------------------------------------------------------------------------


def test_valid_record_passes_every_check(base):
    report = verify(base.path)
    assert report.ok, [(c.name, c.first_failure) for c in report.checks if c.status != PASS]
    assert [c.number for c in report.checks] == list(range(1, len(CHECKS) + 1))
    assert report.check("ballots").counts == {"ballots": 7, "valid": 7, "re-votes": 2}
    assert report.check("counted-set").counts["counted"] == 5
    assert report.check("counted-set").counts["total weight"] == 8
    assert report.check("audited-ballots").counts["audited"] == 1
    # The published totals come out for the chart, matching the generated result.
    assert [[o.total for o in q.options] for q in report.result] == [
        list(row) for row in base.result.counts
    ]


def test_zip_archive_gives_the_same_report(base, tmp_path):
    archive = shutil.make_archive(str(tmp_path / "record"), "zip", base.path.parent,
                                  base.path.name)
    from_zip = verify_record(Record.load(ZipSource(Path(archive))))
    from_dir = verify(base.path)
    assert [c.to_json() for c in from_zip.checks] == [c.to_json() for c in from_dir.checks]


def test_an_election_in_progress_skips_only_the_late_checks(base, tmp_path):
    pairs = pairs_of(base)
    cut = index_of(pairs, "election_closed")

    report = dishonest(base, tmp_path, lambda p: p[:cut])
    assert set(report.failed()) == {"counted-set", "aggregation", "partial-decryptions",
                                     "combination", "result"}
    assert report.check("counted-set").first_failure.code == "not_reached"

    path = tmp_path / "copy"
    live = verify(path, in_progress=True)
    assert live.ok
    assert {c.name for c in live.checks if c.status == "skipped"} == {
        "counted-set", "aggregation", "partial-decryptions", "combination", "result"}


def test_empty_lists_fail_rather_than_pass(base, tmp_path):
    # A board that stops right after election_created: no trustees' messages,
    # no credentials, no ballots.  Nothing may pass for lack of items.
    report = dishonest(base, tmp_path, lambda p: p[:1])
    for name in ("key-ceremony", "credentials", "ballots", "unique-ciphertexts", "counted-set"):
        assert report.check(name).status == FAIL, name
    assert report.check("ballots").first_failure.code == "no_context"


# --------------------------------------------------------------------------
# naive edits: the chain and the heads
# --------------------------------------------------------------------------


def test_dropping_an_entry_breaks_the_chain(base, tmp_path):
    path = copy(base, tmp_path)
    lines = recordgen.read_board(path)
    del lines[15]
    recordgen.rewrite_board(path, lines)
    report = verify(path)
    assert_caught(report, "hash-chain", chain_intact=False)
    assert report.check("hash-chain").first_failure.index == 15
    assert "tree-heads" in report.failed()


def test_reordering_two_entries_breaks_the_chain(base, tmp_path):
    path = copy(base, tmp_path)
    lines = recordgen.read_board(path)
    lines[14], lines[15] = lines[15], lines[14]
    recordgen.rewrite_board(path, lines)
    report = verify(path)
    assert_caught(report, "hash-chain", chain_intact=False)
    assert report.check("record-format").first_failure.code == "wrong_index"


def test_editing_the_last_entry_is_caught_by_the_signed_head(base, tmp_path):
    path = copy(base, tmp_path)
    lines = recordgen.read_board(path)
    entry = Entry.from_bytes(lines[-1])
    edited = Entry(entry.election, entry.index, entry.kind, entry.prev, entry.time + 1,
                   entry.payload)
    lines[-1] = edited.canonical()
    recordgen.rewrite_board(path, lines)
    report = verify(path)
    # No later entry covers the last one: only the signed root can.
    assert report.check("hash-chain").status == PASS
    assert report.check("tree-heads").first_failure.code == "root_mismatch"
    assert not report.ok


def test_an_unsigned_tail_is_refused(base, tmp_path):
    path = copy(base, tmp_path)
    entries = [Entry.from_bytes(line) for line in recordgen.read_board(path)]
    recordgen.resign_heads(path, base.election, entries, sizes=[len(entries) - 3])
    report = verify(path)
    assert report.check("tree-heads").first_failure.code == "unsigned_entries"


def test_a_forged_head_signature_is_refused(base, tmp_path):
    path = copy(base, tmp_path)
    heads = (path / TREE_HEADS_FILE).read_bytes().split(b"\n")
    obj = json.loads(heads[0])
    sig = bytearray(b64decode(obj["signature"], length=64))
    sig[0] ^= 1
    obj["signature"] = b64encode(bytes(sig))
    heads[0] = json.dumps(obj, separators=(",", ":"), sort_keys=True).encode()
    (path / TREE_HEADS_FILE).write_bytes(b"\n".join(heads))
    report = verify(path)
    assert report.check("tree-heads").first_failure.code == "invalid_signature"
    assert not report.ok


def test_a_forked_board_is_reported_as_equivocation_with_both_heads(base, tmp_path):
    """The server shows two boards of the same size: both signed heads are the evidence."""
    path = copy(base, tmp_path)
    entries = [Entry.from_bytes(line) for line in recordgen.read_board(path)]
    size = Record.load(DirectorySource(path)).heads[-2].size  # a size the server really signed
    forked = list(entries[: size - 1]) + [
        Entry(entries[size - 1].election, entries[size - 1].index, entries[size - 1].kind,
              entries[size - 1].prev, entries[size - 1].time + 7, entries[size - 1].payload)
    ]
    other_root = MemoryTree(e.leaf_hash() for e in forked).root()
    fork_head = TreeHead(base.election.election_id, size, other_root, 10**13).sign(
        base.election.board_key)
    heads = list(Record.load(DirectorySource(path)).heads)
    heads.append(fork_head)
    heads.sort(key=lambda h: (h.size, h.head.time))
    (path / TREE_HEADS_FILE).write_bytes(b"".join(tree_head_line(h) for h in heads))
    report = verify(path)
    eq = report.check("equivocation")
    assert eq.status == FAIL and eq.first_failure.code == "equivocation"
    roots = {eq.first_failure.evidence["first"]["head"]["root"],
             eq.first_failure.evidence["second"]["head"]["root"]}
    assert b64encode(other_root) in roots and len(roots) == 2
    # The forged head does not match this board either.
    assert report.check("tree-heads").first_failure.code == "root_mismatch"


def test_a_rewritten_history_fails_consistency(base, tmp_path):
    """An early head from the real board, later heads over a rewritten one."""
    path = copy(base, tmp_path)
    real_first = Record.load(DirectorySource(path)).heads[2]  # signed mid-vote
    pairs = pairs_of(base)
    i = index_of(pairs, "ballot_cast", 0)
    del pairs[i]
    entries = recordgen.rechain(base.election, [], pairs)
    recordgen.rewrite_board(path, recordgen.iter_lines(entries))
    recordgen.resign_heads(path, base.election, entries)
    heads = [real_first, *Record.load(DirectorySource(path)).heads]
    (path / TREE_HEADS_FILE).write_bytes(b"".join(tree_head_line(h) for h in heads))
    assert real_first.size > i  # the head was signed after the dropped ballot
    report = verify(path)
    cons = report.check("consistency").first_failure
    assert cons.code == "root_mismatch"
    assert {"older", "newer", "expected", "computed"} <= set(cons.evidence)
    assert report.check("tree-heads").first_failure.code == "root_mismatch"
    assert not report.ok


# --------------------------------------------------------------------------
# a dishonest server: re-chained, re-signed; the semantic check must catch it
# --------------------------------------------------------------------------


def test_changed_election_created_field(base, tmp_path):
    def edit(p: Pairs) -> None:
        p[0][1]["body"]["threshold"] = 1

    report = dishonest(base, tmp_path, edit)
    assert_caught(report, "command-signatures")
    assert report.check("command-signatures").first_failure.index == 0


@pytest.mark.parametrize("kind,field", [
    ("trustee_announced", "box_key"),
    ("trustee_committed", "coefficients"),
    ("trustee_shares", "boxes"),
])
def test_changed_trustee_message(base, tmp_path, kind, field):
    def edit(p: Pairs) -> None:
        body = p[index_of(p, kind, 1)][1]["body"]
        if field == "coefficients":
            body[field][0], body[field][1] = body[field][1], body[field][0]
        elif field == "boxes":
            body[field].reverse()
        else:
            raw = bytearray(b64decode(body[field], length=32))
            raw[3] ^= 0x10
            body[field] = b64encode(bytes(raw))

    report = dishonest(base, tmp_path, edit)
    assert_caught(report, "command-signatures")
    assert_caught(report, "key-ceremony")


def test_trustee_message_resigned_by_the_trustee_still_fails_the_ceremony(base, tmp_path):
    """Even the trustee's own envelope signature cannot rescue a swapped commitment."""
    keys = {s.trustee: s.signing_key for s in base.election.states}

    def edit(p: Pairs) -> None:
        i = index_of(p, "trustee_committed", 0)
        body = p[i][1]["body"]
        body["coefficients"][0], body["coefficients"][1] = (
            body["coefficients"][1], body["coefficients"][0])
        p[i] = (p[i][0], resign(base, keys[body["trustee"]], "trustee_committed", body))

    report = dishonest(base, tmp_path, edit)
    assert "command-signatures" not in report.failed()
    assert_caught(report, "key-ceremony")


def test_published_key_that_is_not_the_ceremony_key(base, tmp_path):
    """A dishonest official publishes a key of its own (signed properly)."""
    e = base.election

    def edit(p: Pairs) -> None:
        i = index_of(p, "key_published")
        body = p[i][1]["body"]
        body["joint_key"]["joint_key"] = body["joint_key"]["verification_keys"]["1"]
        p[i] = ("key_published", resign(base, e.official, "key_published", body))

    report = dishonest(base, tmp_path, edit)
    assert_caught(report, "key-ceremony")
    first = report.check("key-ceremony").first_failure
    assert (first.rule, first.code) == ("R-DKG-11", "key_ceremony")


def test_credential_list_with_a_ghost_voter(base, tmp_path):
    """A dishonest authority adds a credential after the fact: the fingerprint no longer matches."""
    e = base.election
    ghost = SigningKey(bytes(range(32))).verify_key

    def edit(p: Pairs) -> None:
        i = index_of(p, "credentials_published")
        body = p[i][1]["body"]
        body["credentials"].append({"key": ghost.to_json(), "weight": 1})
        body["credentials"].sort(key=lambda c: b64decode(c["key"], length=32))
        p[i] = ("credentials_published", resign(base, e.authority, "credentials_published", body))

    report = dishonest(base, tmp_path, edit)
    assert_caught(report, "manifest")
    assert report.check("manifest").first_failure.code == "fingerprint_mismatch"


def test_duplicate_credential_in_a_second_batch(base, tmp_path):
    e = base.election

    def edit(p: Pairs) -> Pairs:
        i = index_of(p, "credentials_published")
        first = p[i][1]["body"]["credentials"][:1]
        extra = ("credentials_published",
                 resign(base, e.authority, "credentials_published", {"credentials": first}))
        return p[: i + 1] + [extra] + p[i + 1:]

    report = dishonest(base, tmp_path, edit)
    assert_caught(report, "credentials")


def test_changed_fingerprint_at_opening(base, tmp_path):
    e = base.election

    def edit(p: Pairs) -> None:
        i = index_of(p, "election_opened")
        p[i] = ("election_opened",
                resign(base, e.official, "election_opened", {"fingerprint": b64encode(bytes(32))}))

    report = dishonest(base, tmp_path, edit)
    assert_caught(report, "manifest")


def test_command_signed_by_the_wrong_party(base, tmp_path):
    """election_closed signed by the credential authority instead of the official."""
    e = base.election

    def edit(p: Pairs) -> None:
        i = index_of(p, "election_closed")
        p[i] = ("election_closed", resign(base, e.authority, "election_closed", {}))

    report = dishonest(base, tmp_path, edit)
    assert_caught(report, "command-signatures")
    assert report.check("command-signatures").first_failure.code == "wrong_signer"


def test_changed_ballot_ciphertext(base, tmp_path):
    def edit(p: Pairs) -> None:
        ballot = p[index_of(p, "ballot_cast", 2)][1]["ballot"]
        a = ballot["answers"][0]["choices"]
        a[0]["beta"], a[1]["beta"] = a[1]["beta"], a[0]["beta"]

    report = dishonest(base, tmp_path, edit)
    assert_caught(report, "ballots")
    assert report.check("ballots").first_failure.code == "invalid_signature"


def test_forged_ballot_from_an_unlisted_credential(base, tmp_path):
    """A ballot made properly, but with a credential nobody issued."""
    e = base.election
    stranger = SigningKey(b"\x07" * 32)
    # Sign with the real context, so only the credential's membership is wrong.
    real, _ = encrypt_ballot(e.ctx, e.voters[0], [[1, 0, 0], [1, 1]], SeededRng(b"x"))
    forged = sign_ballot(e.ctx, stranger, real.answers)

    def edit(p: Pairs) -> Pairs:
        i = index_of(p, "election_closed")
        return p[:i] + [("ballot_cast", {"ballot": forged.to_json()})] + p[i:]

    report = dishonest(base, tmp_path, edit)
    assert_caught(report, "ballots")
    assert report.check("ballots").first_failure.code == "bad_credential"


def test_replayed_ballot_is_a_duplicate_ciphertext(base, tmp_path):
    """The same ballot cast twice (a replay): valid twice, but its ciphertexts repeat."""
    def edit(p: Pairs) -> Pairs:
        i = index_of(p, "ballot_cast", 0)
        j = index_of(p, "election_closed")
        return p[:j] + [p[i]] + p[j:]

    report = dishonest(base, tmp_path, edit)
    assert_caught(report, "unique-ciphertexts")
    assert report.check("unique-ciphertexts").first_failure.code == "duplicate_ciphertext"


def test_casting_an_audited_ballot_is_a_duplicate_ciphertext(base, tmp_path):
    def edit(p: Pairs) -> Pairs:
        audited = p[index_of(p, "ballot_audited")][1]["audited"]["ballot"]
        j = index_of(p, "election_closed")
        return p[:j] + [("ballot_cast", {"ballot": audited})] + p[j:]

    report = dishonest(base, tmp_path, edit)
    assert_caught(report, "unique-ciphertexts")


def test_ballot_after_close_is_a_lifecycle_error(base, tmp_path):
    def edit(p: Pairs) -> Pairs:
        i = index_of(p, "ballot_cast", 0)
        j = index_of(p, "tally_posted")
        moved = p[i]
        rest = p[:i] + p[i + 1:]
        return rest[: j - 1] + [moved] + rest[j - 1:]

    report = dishonest(base, tmp_path, edit)
    assert_caught(report, "lifecycle")


def test_dropped_ballot_changes_the_counted_set_and_the_tally(base, tmp_path):
    def edit(p: Pairs) -> Pairs:
        i = index_of(p, "ballot_cast", 4)  # the last ballot of a voter who did not re-vote
        return p[:i] + p[i + 1:]

    report = dishonest(base, tmp_path, edit)
    assert_caught(report, "counted-set")
    # the projection reports the first broken rule of the entry (docs/rules.md §2)
    assert report.check("counted-set").first_failure.rule == "R-TAL-01"


def test_reordered_revote_changes_which_ballot_counts(base, tmp_path):
    """Swap a voter's first ballot and re-vote: the older one would count, but the
    posted (honest) tally is of the newer one."""

    def credential(payload: dict) -> str:
        return payload["ballot"]["credential"]

    def edit(p: Pairs) -> None:
        casts = [i for i, (k, _) in enumerate(p) if k == "ballot_cast"]
        first = casts[0]
        again = next(i for i in casts[1:] if credential(p[i][1]) == credential(p[first][1]))
        p[first], p[again] = p[again], p[first]

    report = dishonest(base, tmp_path, edit)
    assert_caught(report, "aggregation")


def test_changed_audited_ballot_randomness(base, tmp_path):
    def edit(p: Pairs) -> None:
        audited = p[index_of(p, "ballot_audited")][1]["audited"]
        audited["randomness"][0][0], audited["randomness"][0][1] = (
            audited["randomness"][0][1], audited["randomness"][0][0])

    report = dishonest(base, tmp_path, edit)
    assert_caught(report, "audited-ballots")
    assert report.check("audited-ballots").first_failure.code == "audit_mismatch"


def test_tally_with_a_wrong_count_signed_by_the_official(base, tmp_path):
    e = base.election

    def edit(p: Pairs) -> None:
        i = index_of(p, "tally_posted")
        body = p[i][1]["body"]
        body["counted"] += 1
        p[i] = ("tally_posted", resign(base, e.official, "tally_posted", body))

    report = dishonest(base, tmp_path, edit)
    assert_caught(report, "counted-set")
    first = report.check("counted-set").first_failure
    assert (first.rule, first.code) == ("R-TAL-01", "tally")


def test_tally_that_is_not_the_sum_of_the_ballots(base, tmp_path):
    e = base.election

    def edit(p: Pairs) -> None:
        i = index_of(p, "tally_posted")
        body = p[i][1]["body"]
        q = body["tally"]["questions"][0]
        q[0], q[1] = q[1], q[0]
        p[i] = ("tally_posted", resign(base, e.official, "tally_posted", body))

    report = dishonest(base, tmp_path, edit)
    assert_caught(report, "aggregation")


def test_swapped_partial_decryption(base, tmp_path):
    """Trustee 2 posts trustee 1's decryption factors as its own (and signs them)."""
    keys = {s.trustee: s.signing_key for s in base.election.states}

    def edit(p: Pairs) -> None:
        first = index_of(p, "partial_decryption", 0)
        second = index_of(p, "partial_decryption", 1)
        body = dict(p[first][1]["body"])
        body["trustee"] = p[second][1]["body"]["trustee"]
        p[second] = ("partial_decryption",
                     resign(base, keys[body["trustee"]], "partial_decryption", body))

    report = dishonest(base, tmp_path, edit)
    # Robust decryption: the partial is signed by trustee 2, so it is trustee 2's
    # (invalid) partial -- named, not used -- and with only one valid partial of
    # the two needed, combination and result fail.
    partials = report.check("partial-decryptions")
    assert partials.status == PASS and partials.counts["invalid"] == 1
    assert "trustee 2's partial decryption" in partials.note
    assert "trustee 2: invalid proof for question 0 option 0" in partials.note
    assert_caught(report, "combination")
    assert "need 2 valid partial decryptions, have 1" in report.check("combination").first_failure.message


def test_result_that_is_not_the_decryption(base, tmp_path):
    e = base.election

    def edit(p: Pairs) -> None:
        i = index_of(p, "result_published")
        body = p[i][1]["body"]
        body["result"]["counts"][0][0] += 1
        p[i] = ("result_published", resign(base, e.official, "result_published", body))

    report = dishonest(base, tmp_path, edit)
    assert_caught(report, "result")
    assert report.check("result").first_failure.code == "tally"
    assert report.result == ()  # no chart for an unverified result


def test_tampering_nothing_changes_nothing(base, tmp_path):
    """The dishonest() helper itself keeps a valid record valid (no false alarms)."""
    report = dishonest(base, tmp_path, lambda p: None)
    assert report.ok, report.failed()


def test_setup_returns_the_rest_of_the_board(base):
    v = RecordVerifier(Record.load(DirectorySource(base.path)))
    rest = list(v.setup())
    assert v.ctx is not None and v.ctx.fingerprint == base.election.ctx.fingerprint
    assert len(rest) == len(base.entries) - v.acc.size


# --------------------------------------------------------------------------
# complaints in the key ceremony
# --------------------------------------------------------------------------


def _with_complaint(base: recordgen.GeneratedRecord, *, honest_answer: bool) -> Pairs:
    """Trustee 2 complains about dealer 1's share; dealer 1 answers (rightly or not)."""
    e = base.election
    eid = e.election_id
    states = {s.trustee: s for s in e.states}
    anns = {a.trustee: a for a in e.messages.announcements}
    sealed = next(s for s in e.messages.shares if s.dealer == 1).box_for(2)
    share, blinding = open_share(eid, 1, 2, states[2].box_secret, anns[1].box_key, sealed)
    if not honest_answer:
        share = share + Scalar.from_int(1)
    complaint = Complaint.create(eid, states[2].signing_key, accuser=2, accused=1,
                                 reason="bad-share")
    answer = ComplaintAnswer.create(eid, states[1].signing_key, dealer=1, accuser=2,
                                    share=share, blinding=blinding)
    pairs = pairs_of(base)
    i = index_of(pairs, "ceremony_qualified")  # phase 1 ends there (R-DKG-14)
    return pairs[:i] + [
        ("trustee_complaint",
         resign(base, states[2].signing_key, "trustee_complaint", complaint.to_json())),
        ("trustee_complaint_answer",
         resign(base, states[1].signing_key, "trustee_complaint_answer", answer.to_json())),
    ] + pairs[i:]


def test_complaint_answered_with_the_right_share_changes_nothing(base, tmp_path):
    report = dishonest(base, tmp_path, lambda p: _with_complaint(base, honest_answer=True))
    assert report.ok, report.failed()
    assert report.check("command-signatures").counts["commands"] == 21


def test_complaint_answered_wrongly_disqualifies_the_dealer(base, tmp_path):
    """Dealer 1's answer fails Pedersen's check: the answer itself breaks R-DKG-10 (the
    server refuses it, docs/rules.md §3.4), and with the complaint open, QUAL is not
    the one ceremony_qualified names (R-DKG-15) nor the key the joint key (R-DKG-11)."""
    report = dishonest(base, tmp_path, lambda p: _with_complaint(base, honest_answer=False))
    assert_caught(report, "key-ceremony")
    first = report.check("key-ceremony").first_failure
    assert (first.rule, first.code) == ("R-DKG-10", "key_ceremony")
    assert "does not match the commitments" in first.message
    assert report.check("key-ceremony").failures >= 2  # and R-DKG-15 at ceremony_qualified
