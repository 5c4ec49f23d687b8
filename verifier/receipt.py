"""The voter's check: is my ballot on the board, unchanged, and was the board never rewritten?

``evote-verify receipt RECEIPT SOURCE`` runs five checks, numbered as in
``docs/verifier.md`` (section "Receipts"):

    1  receipt-signature  the receipt and its tree head are signed by the record's
                          board key, for this election, and the inclusion proof
                          leads from the entry hash to the signed root
    2  entry-on-board     the board's entry at that index has exactly that hash,
                          is a ballot (cast, or audited), and its tracking code is
                          the receipt's
    3  receipt-tree       the board's first ``size`` entries hash to the root the
                          receipt's head signed: that board is a prefix of this one
    4  not-rewritten      the RFC 9162 consistency proof from the receipt's head to
                          the record's latest signed head verifies, and that head
                          covers the whole board
    5  receipt-checkpoint only with a witness policy in the record's manifest:
                          the cosigned checkpoint the receipt carries is signed by
                          the board key for this election's origin, cosigned by at
                          least ``threshold`` of the policy's witnesses, and its
                          root is the root of the record's first ``size`` entries
                          (skipped if the receipt carries none)

Passing 1-4 means the server cannot have dropped, altered or moved the
ballot after handing out the receipt without also forging its own signature.
Whether a later ballot of the same credential replaces it (re-voting) is
reported as a note on check 2, not a failure.  Check 5 adds that the record is
the history the election's witnesses saw when the ballot was cast, not a copy
made for this voter; the policy comes from the record's manifest only, never
from the receipt, which cannot choose who vouches for it.
"""

from __future__ import annotations

from typing import Any

from evote.board import Entry, Receipt, verify_heads
from evote.checkpoint import checkpoint_size, open_checkpoint
from evote.encoding import b64encode, parse_json
from evote.errors import EvoteError, MerkleError
from evote.kinds import BALLOT_AUDITED, BALLOT_CAST
from evote.manifest import Manifest
from evote.merkle import MerkleAccumulator, consistency_nodes, consistency_proof, leaf_hash
from evote.receipts import manifest_of, receipt_ballot, receipt_policy
from evote.witness import check_cosigners
from verifier.checks import CheckSpec, CheckState
from verifier.errors import FileUnreadable
from verifier.record import Record
from verifier.report import Report

RECEIPT_CHECKS: tuple[CheckSpec, ...] = (
    CheckSpec(1, "receipt-signature", "Receipt signature and inclusion proof",
              "the board promised, in writing, this entry at this index", needs="receipts"),
    CheckSpec(2, "entry-on-board", "Ballot on the board",
              "the entry at that index is the receipt's ballot, byte for byte",
              needs="entries"),
    CheckSpec(3, "receipt-tree", "Receipt's tree is a prefix of the board",
              "the board the receipt was issued on is the start of this board", needs="roots"),
    CheckSpec(4, "not-rewritten", "Board not rewritten since the receipt",
              "the board was only appended to after the receipt", needs="proofs"),
    CheckSpec(5, "receipt-checkpoint", "Receipt's checkpoint cosigned by the witnesses",
              "the board the ballot was cast on is the one history the witnesses saw"),
)

NO_CHECKPOINT = (
    "the receipt carries no cosigned checkpoint: the server attaches one only once the "
    "witnesses have cosigned a checkpoint of this board (a ballot cast before that has none)"
)
"""Check 5's skip message: a witnessed election's receipt without a checkpoint."""


def parse_receipt(obj: Any) -> Receipt:
    """A receipt as the server returns it, bare or as ``{"receipt": {...}, ...}``."""
    if isinstance(obj, dict) and "receipt" in obj:
        obj = obj["receipt"]
    try:
        return Receipt.from_json(obj)
    except EvoteError as exc:
        raise FileUnreadable(f"not a receipt: {exc.message}") from None


def _manifest_of(entry: Entry) -> Manifest | None:
    """The manifest in entry 0 (election_created), or None if it cannot be read."""
    try:
        return manifest_of(entry)
    except EvoteError:
        return None


def verify_receipt(record: Record, obj: Any) -> Report:
    """Run the receipt checks of ``obj`` (decoded JSON) against ``record``."""
    receipt = parse_receipt(obj)
    c = {spec.name: CheckState(spec) for spec in RECEIPT_CHECKS}
    sig, on_board, tree, rewritten, witnessed = (c[s.name] for s in RECEIPT_CHECKS)
    key = record.board_key
    sig.count("receipts")
    try:
        receipt.verify(key)
        if receipt.election != record.election:
            raise EvoteError(f"receipt is for election {receipt.election!r}")
    except EvoteError as exc:
        sig.fail_exc(exc, receipt.index)

    head, latest = receipt.tree_head, record.latest_head
    sizes = {head.size, latest.size}
    cosigned_size = checkpoint_size(receipt.cosigned_checkpoint)  # check 5 verifies it
    if cosigned_size is not None:
        sizes.add(cosigned_size)
    needed: dict[tuple[int, int], bytes | None] = {}
    if head.size <= latest.size:
        for element in consistency_nodes(head.size, latest.size):
            for node in element:
                needed[node] = None
    acc = MerkleAccumulator()
    roots: dict[int, bytes] = {}
    manifest: Manifest | None = None
    credential: str | None = None
    superseded: list[int] = []
    for position, raw in enumerate(record.board_lines()):
        line = raw[:-1] if raw.endswith(b"\n") else raw
        for level, idx, h in acc.append(leaf_hash(line)):
            if (level, idx) in needed:
                needed[(level, idx)] = h
        if acc.size in sizes:
            roots[acc.size] = acc.root()
        if position == 0:
            try:
                manifest = _manifest_of(Entry.from_bytes(line))
            except EvoteError:
                manifest = None
        if position == receipt.index:
            credential = _check_entry(on_board, receipt, line, manifest)
        elif credential is not None and position > receipt.index:
            if _credential_of(line) == credential:
                superseded.append(position)
    if not on_board.counts.get("entries"):
        on_board.fail(f"the board has no entry {receipt.index}", "missing_entry", receipt.index)
    if superseded and on_board.first is None:
        on_board.notes.append(
            f"a later ballot of the same credential (entry {superseded[-1]}) replaces this one "
            "in the count (re-voting)")
    elif credential is not None and on_board.first is None:
        on_board.notes.append("this is the credential's latest ballot: it is the one counted")

    tree.count("roots")
    root = roots.get(head.size)
    if root is None:
        tree.fail(f"the receipt's head covers {head.size} entries; the board has {acc.size}",
                  "board_truncated", None, {"receipt_head": head.to_json()})
    elif root != head.root:
        tree.fail("the board's first entries do not hash to the root signed in the receipt: "
                  "the board was rewritten after the receipt was issued", "root_mismatch", None,
                  {"receipt_head": head.to_json(), "computed_root": b64encode(root)})

    rewritten.count("proofs")
    try:
        latest.verify(key)
        if latest.size != acc.size or roots.get(latest.size) != latest.root:
            raise EvoteError("the record's latest signed head does not match its board",
                             detail={"latest": latest.to_json()})
        if head.size > latest.size:
            raise EvoteError(f"the receipt's tree ({head.size} entries) is newer than the "
                             f"record's latest head ({latest.size})")

        def node(level: int, index: int) -> bytes:
            h = needed.get((level, index))
            if h is None:
                raise MerkleError(f"subtree ({level}, {index}) is not on the board")
            return h

        proof = consistency_proof(head.size, latest.size, node)
        verify_heads(head, latest, proof, board_key=key)
    except EvoteError as exc:
        rewritten.fail_exc(exc, None)

    skip = _check_cosigned(witnessed, record, receipt, manifest, roots, acc.size)
    stats: dict[str, Any] = {"entries": acc.size, "receipt index": receipt.index,
                             "tracking code": receipt.tracking_code}
    if cosigned_size is not None:
        stats["checkpoint size"] = cosigned_size
    return Report(
        command="receipt",
        source=record.source.description,
        election=record.election,
        checks=tuple(c[s.name].result(skip=skip if s is witnessed.spec else None)
                     for s in RECEIPT_CHECKS),
        stats=stats,
    )


def _check_cosigned(check: CheckState, record: Record, receipt: Receipt,
                    manifest: Manifest | None, roots: dict[int, bytes],
                    board_size: int) -> str | None:
    """Check 5; returns the skip message if there is nothing to check.

    Steps, each a failure of its own: (0) the record's manifest says whether
    the election has witnesses -- a checkpoint in a receipt of an election
    without them is refused, since a record whose manifest lost its policy
    must not silently turn the witnesses off; (1) the note is a checkpoint
    signed by the record's board key under this election's origin
    (:func:`evote.checkpoint.open_checkpoint`); (2) the board key is not one of
    its own witnesses, and at least ``threshold`` of the *manifest's* witnesses
    cosigned it (:func:`evote.witness.check_cosigners`); (3) its root is the
    root of the record's first ``size`` entries.
    """
    note = receipt.cosigned_checkpoint
    if manifest is None:
        check.fail("entry 0 has no readable manifest to read the witness policy from",
                   "no_manifest", 0)
        return None
    try:
        policy = receipt_policy(receipt, manifest)
    except EvoteError as exc:
        check.fail_exc(exc, None)
        return None
    if policy is None:
        check.notes.append("no witness policy")
        return None
    if note is None:
        return NO_CHECKPOINT
    check.count("checkpoints")
    key = record.board_key
    try:
        cp, opened = open_checkpoint(note, key, election=record.election)  # (1)
        signed = check_cosigners(opened, policy, key)  # (2)
    except EvoteError as exc:
        check.fail_exc(exc, None, "receipt's checkpoint: ")
        return None
    evidence = {"checkpoint_size": cp.size, "checkpoint_root": b64encode(cp.root)}
    root = roots.get(cp.size)  # (3)
    if cp.size == 0:
        check.fail("receipt's checkpoint: a checkpoint of the empty board vouches for "
                   "nothing (an evote board has at least one entry)", "empty_checkpoint")
    elif root is None:
        check.fail(f"receipt's checkpoint covers {cp.size} entries; the board has "
                   f"{board_size}", "board_truncated", None, evidence)
    elif root != cp.root:
        check.fail(f"the board's first {cp.size} entries do not hash to the root the "
                   "witnesses cosigned in the receipt's checkpoint: this board is not the "
                   "history they saw", "root_mismatch", None,
                   {**evidence, "computed_root": b64encode(root)})
    else:
        rule = f"{policy.threshold} of {len(policy.keys)} needed"
        where = ("it includes the ballot" if cp.size > receipt.index else
                 "it predates the ballot (witnesses cosign after each append)")
        check.notes.append(f"the board's first {cp.size} entries, cosigned by "
                           f"{', '.join(signed)} ({rule}); {where}")
    return None


def _check_entry(check: CheckState, receipt: Receipt, line: bytes,
                 manifest: Manifest | None) -> str | None:
    """Check the receipt's entry; return its ballot's credential (b64) if it is one."""
    check.count("entries")
    try:
        entry = Entry.from_bytes(line)
    except EvoteError as exc:
        check.fail_exc(exc, receipt.index)
        return None
    if manifest is None and entry.kind in (BALLOT_CAST, BALLOT_AUDITED):
        check.fail("entry 0 has no readable manifest to read the ballot with", "no_manifest",
                   receipt.index)
        return None
    try:  # evote.receipts: the same decision as `evote receipt check`
        ballot = receipt_ballot(receipt, entry, manifest)  # type: ignore[arg-type]
    except EvoteError as exc:
        check.fail_exc(exc, receipt.index)
        return None
    if entry.kind == BALLOT_AUDITED:
        check.notes.append("an audited ballot: posted for checking, never counted")
        return None
    return ballot.credential.to_json()


def _credential_of(line: bytes) -> str | None:
    """The credential of a cast ballot line, cheaply (no proof is checked here)."""
    if b'"kind":"ballot_cast"' not in line:
        return None
    try:
        obj = parse_json(line)
        return obj["payload"]["ballot"]["credential"]
    except (EvoteError, KeyError, TypeError):
        return None
