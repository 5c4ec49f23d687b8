"""The receipt checks that the CLI (``evote receipt check``) and the verifier
(``evote-verify receipt``) share: one module, so that both decide alike.

Each function is pure and raises a typed error from :mod:`evote.errors`; the
CLI prints it, the verifier records it against its receipt check.  What
differs between the two is only where the board comes from (the live server
with proofs, or a downloaded record) -- the decisions are these.
"""

from __future__ import annotations

from evote.ballot import Ballot
from evote.board import Entry, Receipt
from evote.errors import BoardError, NotABallot, TrackingMismatch, WitnessPolicyError
from evote.kinds import BALLOT_AUDITED, BALLOT_CAST
from evote.manifest import Manifest
from evote.payloads import Command, ElectionCreated, parse_ballot_audited, parse_ballot_cast
from evote.witness import WitnessPolicy


def manifest_of(first: Entry) -> Manifest:
    """The manifest of entry 0 (BoardError unless it is a readable election_created)."""
    body = Command.from_entry(first).body
    if not isinstance(body, ElectionCreated):
        raise BoardError(f"entry 0 is a {first.kind}, not election_created")
    return body.manifest


def receipt_ballot(receipt: Receipt, entry: Entry, manifest: Manifest) -> Ballot:
    """The ballot a receipt vouches for, after checking the entry is the receipt's.

    ``verify_entry`` shows the entry is the one the board signed for this index;
    the tracking code is then recomputed from the ballot on the board, because a
    dishonest board can sign a receipt that puts one voter's code on another
    voter's entry (a clash attack)."""
    receipt.verify_entry(entry)
    if entry.kind == BALLOT_CAST:
        ballot = parse_ballot_cast(entry, manifest)
    elif entry.kind == BALLOT_AUDITED:
        ballot = parse_ballot_audited(entry, manifest).ballot
    else:
        raise NotABallot(f"entry {entry.index} is a {entry.kind}, not a ballot")
    if ballot.tracking_code != receipt.tracking_code:
        raise TrackingMismatch(
            f"entry {entry.index} holds ballot {ballot.tracking_code}, not the receipt's "
            f"{receipt.tracking_code}: the board signed a receipt for someone else's ballot"
        )
    return ballot


def receipt_policy(receipt: Receipt, manifest: Manifest) -> WitnessPolicy | None:
    """The witness policy a receipt is checked against (the manifest's).

    A receipt carrying a cosigned checkpoint for an election whose manifest names
    no witnesses is refused: a manifest that lost its policy must not silently
    turn the witnesses off."""
    policy = manifest.witnesses
    if policy is None and receipt.cosigned_checkpoint is not None:
        raise WitnessPolicyError(
            "the receipt carries a cosigned checkpoint, but the election's manifest "
            "names no witnesses"
        )
    return policy
