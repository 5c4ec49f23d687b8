"""``evote receipt check``: is my ballot still on the board, and is the board the same one?

A receipt (stored by ``evote vote``) is the board's signed statement that the
ballot is entry ``index`` of a tree of ``size`` entries with root ``root``,
plus the inclusion proof.  Checking it later against the board's *current*
signed head shows three things, each by a proof rather than by trust:

1. the receipt itself is genuine: board signature, tree-head signature,
   inclusion of the entry in the receipt's tree;
2. the current head is signed by the same board key and the board only grew
   since: an RFC 9162 consistency proof from the receipt's tree to the
   current one (a rewritten or forked board fails here, and the two signed
   heads are the evidence);
3. the entry at ``index`` is still exactly the receipt's entry, and the
   ballot in it has the receipt's tracking code;
4. only for an election whose manifest (entry 0, proven to be on the current
   head) has a witness policy (``docs/witness.md``): the checkpoint the
   receipt carries, if any, is board-signed, meets the policy and is a prefix
   of (or extends) the receipt's tree; and the latest cosigned checkpoint
   includes the ballot (:func:`evote.witness.verify_cosigned_inclusion`), so
   the ballot is in the one history the witnesses saw, not in a copy shown
   only to this voter.  Witnesses cosign after a ballot is appended, so right
   after casting this step may not pass yet: run the check again later.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import click

from cli import api
from cli.client import Client
from cli.console import say
from cli.keyfiles import read_json
from cli.options import OrderedGroup, server_option
from evote import merkle
from evote.board import Receipt, SignedTreeHead, verify_heads
from evote.checkpoint import Checkpoint, Note, open_checkpoint
from evote.errors import BoardError, EvoteError, WitnessPolicyError
from evote.manifest import Manifest
from evote.receipts import manifest_of, receipt_ballot, receipt_policy
from evote.witness import WitnessPolicy, check_cosigners, verify_cosigned_inclusion


def read_receipt(path: str | Path) -> Receipt:
    obj = read_json(path, "receipt")
    try:
        return Receipt.from_json(obj, str(path))
    except EvoteError as exc:
        raise type(exc)(f"receipt {path}: {exc.message}") from None


@dataclass(frozen=True)
class WitnessCheck:
    """Step 4: the cosigned checkpoint that includes the ballot and who cosigned it;
    ``at_cast``: who cosigned the checkpoint the receipt carries (None: it has none)."""

    policy: WitnessPolicy
    size: int
    signed: list[str]
    at_cast: list[str] | None
    at_cast_size: int | None


@dataclass(frozen=True)
class ReceiptCheck:
    receipt: Receipt
    current: SignedTreeHead
    witnesses: WitnessCheck | None = None  # None: the election has no witness policy


def check_receipt(client: Client, receipt: Receipt) -> ReceiptCheck:
    """Steps 1-3 of the module docstring; raises the evote error of the first failure."""
    key = receipt.tree_head.board_key
    receipt.verify(key)  # (1)
    current = api.signed_head(client, receipt.election)
    if current.size < receipt.tree_head.size:
        raise BoardError(
            f"the board now has {current.size} entries, fewer than the {receipt.tree_head.size} "
            "your receipt was issued for: it was rolled back or forked"
        )
    proof = (
        api.consistency_proof(client, receipt.election, receipt.tree_head.size, current.size)
        if current.size > receipt.tree_head.size
        else []
    )
    verify_heads(receipt.tree_head, current, proof, board_key=key)  # (2)
    entry = api.entry(client, receipt.election, receipt.index)
    manifest = _proven_manifest(client, receipt, current)
    receipt_ballot(receipt, entry, manifest)  # (3), evote.receipts: shared with the verifier
    policy = receipt_policy(receipt, manifest)  # (4)
    if policy is None:
        return ReceiptCheck(receipt, current)
    return ReceiptCheck(receipt, current, _check_witnesses(client, receipt, policy))


def _proven_manifest(client: Client, receipt: Receipt, current: SignedTreeHead) -> Manifest:
    """The election's manifest, from entry 0 proven to be in the current head (the
    server cannot swap the manifest, nor drop its witness policy, without failing that
    proof)."""
    first = api.entry(client, receipt.election, 0)
    proof = api.inclusion_proof(client, receipt.election, 0, current.size)
    merkle.verify_inclusion(0, current.size, first.leaf_hash(), proof, current.root)
    return manifest_of(first)


def _check_witnesses(client: Client, receipt: Receipt, policy: WitnessPolicy) -> WitnessCheck:
    """Step 4 of the module docstring."""
    key, election = receipt.tree_head.board_key, receipt.election
    at_cast = at_cast_size = None
    if receipt.cosigned_checkpoint is not None:
        cp, note = open_checkpoint(receipt.cosigned_checkpoint, key, election=election)
        at_cast = check_cosigners(note, policy, key)
        _check_same_history(client, receipt, cp)
        at_cast_size = cp.size
    latest = api.cosigned_checkpoint(client, election)
    size = None if latest is None else Checkpoint.parse(Note.parse(latest).text).size
    if size is None or size <= receipt.index:
        cosigned = "none yet" if size is None else f"{size} entries"
        raise WitnessPolicyError(
            f"no checkpoint cosigned by {policy.threshold} of the election's witnesses "
            f"includes entry {receipt.index} yet (latest cosigned: {cosigned}); witnesses "
            "cosign after each poll, so check again in a few minutes",
            detail={"index": receipt.index, "cosigned_size": size},
        )
    proof = api.inclusion_proof(client, election, receipt.index, size)
    signed = verify_cosigned_inclusion(
        latest, board_key=key, election=election, index=receipt.index,
        entry_hash=receipt.entry_hash, proof=proof, policy=policy,
    )  # fmt: skip
    return WitnessCheck(policy, size, signed, at_cast, at_cast_size)


def _check_same_history(client: Client, receipt: Receipt, cp: Checkpoint) -> None:
    """The receipt's cosigned checkpoint and its signed tree are one history:
    an RFC 9162 consistency proof from the smaller tree to the larger."""
    head = receipt.tree_head
    trees = sorted([(cp.size, cp.root), (head.size, head.root)])
    (small, small_root), (large, large_root) = trees
    proof = [] if small == large else api.consistency_proof(client, receipt.election, small, large)
    try:
        merkle.verify_consistency(small, large, proof, small_root, large_root)
    except EvoteError as exc:
        raise BoardError(
            f"the cosigned checkpoint in the receipt (size {cp.size}) and the receipt's tree "
            f"(size {head.size}) are not one history: {exc.message}",
            detail={"checkpoint_size": cp.size, "receipt_size": head.size},
        ) from None


@click.group(cls=OrderedGroup)
def receipt() -> None:
    """Ballot receipts: check that a cast ballot is still on the board."""


@receipt.command("check")
@click.argument("receipt_path", metavar="RECEIPT", type=click.Path(dir_okay=False))
@server_option
def check_command(receipt_path: str, server: str) -> None:
    """Check RECEIPT against the board's current signed tree head.

    Verifies the receipt's signatures and inclusion proof, that the board
    only grew since (consistency proof) and that the entry is unchanged.  If
    the election has witnesses, also that a checkpoint they cosigned includes
    the ballot, and names who cosigned it.  Exits non-zero if anything fails.
    """
    r = read_receipt(receipt_path)
    with Client(server) as client:
        done = check_receipt(client, r)
    say(
        f"receipt OK: ballot {r.tracking_code} is entry {r.index} of {r.election}; "
        f"the board's current head ({done.current.size} entries) is consistent with the "
        f"receipt's ({r.tree_head.size} entries)"
    )
    w = done.witnesses
    if w is None:
        return
    rule = f"{w.policy.threshold} of {len(w.policy.keys)} needed"
    say(
        f"witnesses OK: entry {r.index} is in the checkpoint of {w.size} entries cosigned by "
        f"{', '.join(w.signed)} ({rule})"
    )
    if w.at_cast is not None:
        say(
            f"the receipt's checkpoint ({w.at_cast_size} entries, cosigned by "
            f"{', '.join(w.at_cast)}) is the same history as the receipt's tree"
        )
