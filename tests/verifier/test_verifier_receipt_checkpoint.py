"""Check 5 of ``evote-verify receipt`` (``receipt-checkpoint``): the cosigned checkpoint a
receipt carries, checked offline against the record and the record's witness policy.

The election, server and witnesses are those of ``tests/e2e/test_witness_record.py``
(a 2-of-3 policy in the manifest, three real witnesses polling over HTTP).  A
ballot is cast after the witnesses cosigned, so its receipt carries a real
cosigned checkpoint; the record is exported with ``evote election``'s
``export_record``.  Each tampered checkpoint is built from real artefacts: the
real note with a cosignature flipped or dropped, cosignatures by keys outside
the policy, another election's real checkpoint, and checkpoints of another
history signed with the server's own board key and cosigned with the real
witnesses' keys (a board that forked with colluding witnesses).  Checks 1-4
pass for every one of them: only the checkpoint was changed, and check 5
alone must catch it, with the exact code and message.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
from click.testing import CliRunner

from ballot_server import EXTENSION
from cli import api
from cli.election import export_record
from cli.witness import Witness
from evote.board import Receipt
from evote.checkpoint import (
    Checkpoint,
    Note,
    NoteSignature,
    cosign,
    election_origin,
    open_checkpoint,
    sign_checkpoint,
)
from evote.drbg import SeededRng
from evote.encoding import b64encode
from evote.signing import SigningKey
from evote.witness import WitnessKey, WitnessPolicy
from tests.e2e import test_witness_record as witness_record
from tests.e2e.test_witness_record import _other_root
from tests.support import api_election
from tests.support import witnesses as shared_witnesses
from tests.support.api_election import MANIFEST, ApiElection, build_election
from tests.support.witnesses import NAMES, poll
from verifier.main import cli as verify_cli
from verifier.receipt import NO_CHECKPOINT, RECEIPT_CHECKS, verify_receipt
from verifier.record import Record
from verifier.report import CheckResult, Report
from verifier.sources import DirectorySource

api_db = api_election.api_db
api_app = api_election.api_app
api_client = api_election.api_client
election = api_election.election
http = witness_record.http
witnesses = shared_witnesses.witnesses
witnessed = witness_record.witnessed

CHECK = "receipt-checkpoint"
WHEN = 1_700_000_000  # cosignature time of the forged notes (not checked offline)


@dataclass(frozen=True)
class Cast:
    """A witnessed election after two ballots, and its record."""

    election: ApiElection
    witnesses: list[Witness]
    policy: WitnessPolicy
    board: SigningKey  # the server's board key, to forge what a dishonest board could sign
    early: Receipt  # cast before any cosignature: carries no checkpoint
    receipt: Receipt  # cast after all three cosigned: carries their checkpoint
    record: Path
    size: int  # entries in the record

    @property
    def note(self) -> Note:
        assert self.receipt.cosigned_checkpoint is not None
        return Note.parse(self.receipt.cosigned_checkpoint)

    @property
    def checkpoint(self) -> Checkpoint:
        return Checkpoint.parse(self.note.text)

    def verify(self, receipt: dict) -> Report:
        return verify_receipt(Record.load(DirectorySource(self.record)), receipt)

    def with_note(self, note: str) -> dict:
        return {**self.receipt.to_json(), "cosigned_checkpoint": note}

    def forged(self, size: int, root: bytes, signers: list[int]) -> str:
        """A checkpoint of this election signed by the real board key and cosigned by
        the real keys of ``signers``: what a forking board with colluding witnesses shows."""
        origin = election_origin(self.board.verify_key, self.election.election_id)
        note = sign_checkpoint(Checkpoint(origin, size, root), self.board)
        sigs = [cosign(note.text, self.witnesses[i].name, self.witnesses[i].key, WHEN)
                for i in signers]
        return note.with_signatures(sigs).to_text()


@pytest.fixture
def cast(witnessed, http, api_app, tmp_path) -> Cast:
    e, witnesses, policy = witnessed
    early = e.cast_ok(0)
    poll(witnesses, e.election_id)  # all three cosign the board as it is now
    receipt = e.cast_ok(1)
    assert early.cosigned_checkpoint is None and receipt.cosigned_checkpoint is not None
    size, _ = export_record(http, e.election_id, tmp_path / "record")
    board = api_app.extensions[EXTENSION].board_key
    return Cast(e, witnesses, policy, board, early, receipt, tmp_path / "record", size)


def check5(c: Cast, receipt: dict) -> CheckResult:
    """Check 5's result; checks 1-4 must pass (only the checkpoint was touched)."""
    report = c.verify(receipt)
    others = [(r.name, r.first_failure) for r in report.checks if r.name != CHECK]
    assert all(r.passed for r in report.checks if r.name != CHECK), others
    return report.check(CHECK)


def test_untampered_checkpoint_passes(cast, http, tmp_path):
    size = cast.checkpoint.size
    assert size <= cast.receipt.index  # cosigned before the ballot was appended
    report = cast.verify(cast.receipt.to_json())
    assert report.ok and [r.status for r in report.checks] == ["pass"] * 5
    assert report.stats["checkpoint size"] == size
    check = report.check(CHECK)
    assert check.number == 5 and check.counts == {"checkpoints": 1}
    assert check.note == (f"the board's first {size} entries, cosigned by {', '.join(NAMES)} "
                          "(2 of 3 needed); it predates the ballot (witnesses cosign after "
                          "each append)")

    # From the command line, as a voter runs it (the receipt wrapped as the server sends it).
    path = tmp_path / "receipt.json"
    path.write_text(json.dumps({"receipt": cast.receipt.to_json()}))
    result = CliRunner().invoke(verify_cli, ["receipt", str(path), str(cast.record), "--json"])
    assert result.exit_code == 0, result.output
    out = json.loads(result.output)
    assert [c["name"] for c in out["checks"]] == [s.name for s in RECEIPT_CHECKS]
    assert out["checks"][4]["status"] == "pass"

    # A later cosigned checkpoint (one that includes the ballot) passes too, against
    # a record exported after it.
    poll([cast.witnesses[0], cast.witnesses[2]], cast.election.election_id)
    later = api.cosigned_checkpoint(http, cast.election.election_id)
    export_record(http, cast.election.election_id, tmp_path / "later")
    report = verify_receipt(Record.load(DirectorySource(tmp_path / "later")),
                            cast.with_note(later))
    assert report.ok, report.failed()
    assert report.check(CHECK).note.endswith("; it includes the ballot")


def test_receipt_cast_before_any_cosignature_is_skipped(cast):
    report = cast.verify(cast.early.to_json())
    assert report.ok and report.failed() == []
    check = report.check(CHECK)
    assert (check.status, check.note) == ("skipped", NO_CHECKPOINT)
    assert all(r.passed for r in report.checks if r.name != CHECK)


def _flip_cosignature(c: Cast) -> str:
    note = c.note
    sigs = [s if s.name != NAMES[1] else
            NoteSignature(s.name, s.key_id, s.signature[:-1] + bytes([s.signature[-1] ^ 1]))
            for s in note.signatures]
    return Note(note.text, tuple(sigs)).to_text()


def _impostors() -> list[SigningKey]:
    rng = SeededRng(b"impostor witnesses")
    return [SigningKey.generate(rng) for _ in range(2)]


def _outside_the_policy(c: Cast) -> str:
    """w0's real cosignature, plus one by a stranger and one by another key under w2's name."""
    note = c.note
    kept = [s for s in note.signatures if s.name not in NAMES[1:]]
    a, b = _impostors()
    extra = [cosign(note.text, "w9.witness.example/evote", a, WHEN),
             cosign(note.text, NAMES[2], b, WHEN)]
    return Note(note.text, (*kept, *extra)).to_text()


def _too_few(c: Cast) -> str:
    note = c.note
    return Note(note.text, tuple(s for s in note.signatures if s.name not in NAMES[:2])).to_text()


def _another_election(c: Cast) -> str:
    """The real, fully cosigned checkpoint of a second election on the same board."""
    other = build_election(c.election.client,
                           manifest={**MANIFEST, "witnesses": c.policy.to_json()})
    other.cast_ok(0)
    poll(c.witnesses, other.election_id)
    receipt = other.cast_ok(1)
    assert receipt.cosigned_checkpoint is not None
    open_checkpoint(receipt.cosigned_checkpoint, c.board.verify_key,
                    election=other.election_id)  # genuine, for its own election
    return receipt.cosigned_checkpoint


def _other_root_cosigned(c: Cast) -> str:
    cp = c.checkpoint
    return c.forged(cp.size, bytes(32), [0, 1])


def _beyond_the_board(c: Cast) -> str:
    return c.forged(c.size + 3, bytes(32), [0, 1, 2])


def _origin_of(note: str) -> str:
    return Checkpoint.parse(Note.parse(note).text).origin


Message = Callable[[Cast, str], str]  # (cast, tampered note) -> check 5's exact message

TAMPERS: dict[str, tuple[Callable[[Cast], str], str, Message]] = {
    "flipped-cosignature": (
        _flip_cosignature, "invalid_signature",
        lambda c, n: f"receipt's checkpoint: note signature of {NAMES[1]} does not verify"),
    "non-policy-witness-keys": (
        _outside_the_policy, "witness_policy",
        lambda c, n: "receipt's checkpoint: checkpoint is cosigned by 1 of the election's "
                     f"witnesses ({NAMES[0]}); the policy needs 2 of 3"),
    "too-few-cosignatures": (
        _too_few, "witness_policy",
        lambda c, n: "receipt's checkpoint: checkpoint is cosigned by 1 of the election's "
                     f"witnesses ({NAMES[2]}); the policy needs 2 of 3"),
    "board-signature-broken": (
        lambda c: _other_root(c.receipt.cosigned_checkpoint), "invalid_signature",
        lambda c, n: f"receipt's checkpoint: note signature of {_origin_of(n)} does not verify"),
    "another-election": (
        _another_election, "bad_schema",
        lambda c, n: f"receipt's checkpoint: checkpoint origin {_origin_of(n)!r} is not the "
                     f"origin of election {c.election.election_id!r}"),
    "root-not-the-records": (
        _other_root_cosigned, "root_mismatch",
        lambda c, n: f"the board's first {c.checkpoint.size} entries do not hash to the root "
                     "the witnesses cosigned in the receipt's checkpoint: this board is not "
                     "the history they saw"),
    "beyond-the-board": (
        _beyond_the_board, "board_truncated",
        lambda c, n: f"receipt's checkpoint covers {c.size + 3} entries; the board has "
                     f"{c.size}"),
}


@pytest.mark.parametrize("name", list(TAMPERS))
def test_tampered_checkpoint_fails_check_5(cast, name):
    tamper, code, message = TAMPERS[name]
    note = tamper(cast)
    assert note != cast.receipt.cosigned_checkpoint
    check = check5(cast, cast.with_note(note))
    assert check.status == "fail" and check.first_failure is not None
    assert (check.first_failure.code, check.first_failure.message) == (code, message(cast, note))
    evidence = check.first_failure.evidence
    if code == "witness_policy":
        assert len(evidence["signed"]) == 1
    if code == "root_mismatch":  # the record's root at that size: the one really cosigned
        assert evidence["checkpoint_size"] == cast.checkpoint.size
        assert evidence["computed_root"] == b64encode(cast.checkpoint.root)


def test_the_policy_comes_from_the_record_not_the_receipt(cast):
    """A receipt that brings its own "policy" (its impostor witnesses) gains nothing."""
    a, b = _impostors()
    names = ["w8.witness.example/evote", "w9.witness.example/evote"]
    note = cast.note
    own = Note(note.text, (*(s for s in note.signatures if s.name not in NAMES),
                           cosign(note.text, names[0], a, WHEN),
                           cosign(note.text, names[1], b, WHEN)))
    theirs = WitnessPolicy((WitnessKey(names[0], a.verify_key),
                            WitnessKey(names[1], b.verify_key)), 2)
    wrapped = {"receipt": cast.with_note(own.to_text()), "witnesses": theirs.to_json()}
    check = check5(cast, wrapped)
    assert check.status == "fail" and check.first_failure.code == "witness_policy"
    assert check.first_failure.evidence["signed"] == []


def test_elections_without_witnesses_are_unchanged(election, api_app, tmp_path, http):
    receipt = election.cast_ok(0)
    export_record(http, election.election_id, tmp_path / "record")

    def verify(obj: dict) -> Report:
        return verify_receipt(Record.load(DirectorySource(tmp_path / "record")), obj)

    report = verify(receipt.to_json())
    assert report.ok and [r.status for r in report.checks] == ["pass"] * 5
    assert report.check(CHECK).note == "no witness policy"
    assert "checkpoint size" not in report.stats

    # A genuine board-signed checkpoint of this very board, attached to the receipt: the
    # manifest names no witnesses, so the receipt claims a witnessing the record denies.
    board = api_app.extensions[EXTENSION].board_key
    head = receipt.tree_head
    origin = election_origin(board.verify_key, election.election_id)
    note = sign_checkpoint(Checkpoint(origin, head.size, head.root), board).to_text()
    failed = verify({**receipt.to_json(), "cosigned_checkpoint": note})
    check = failed.check(CHECK)
    assert failed.failed() == [CHECK] and check.first_failure.code == "witness_policy"
    assert check.first_failure.message == ("the receipt carries a cosigned checkpoint, but the "
                                           "election's manifest names no witnesses")
