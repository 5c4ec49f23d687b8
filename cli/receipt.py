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
   ballot in it has the receipt's tracking code.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

import click

from cli import api
from cli.client import Client
from cli.console import say
from cli.keyfiles import read_json
from cli.options import OrderedGroup, server_option
from evote.board import Entry, Receipt, SignedTreeHead, verify_heads
from evote.errors import BoardError, EvoteError
from evote.manifest import Manifest
from evote.payloads import parse_ballot_audited, parse_ballot_cast


def read_receipt(path: str | Path) -> Receipt:
    obj = read_json(path, "receipt")
    try:
        return Receipt.from_json(obj, str(path))
    except EvoteError as exc:
        raise type(exc)(f"receipt {path}: {exc.message}") from None


@dataclass(frozen=True)
class ReceiptCheck:
    receipt: Receipt
    current: SignedTreeHead


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
    receipt.verify_entry(entry)  # (3)
    _check_tracking_code(client, receipt, entry)  # (3)
    return ReceiptCheck(receipt, current)


def _check_tracking_code(client: Client, receipt: Receipt, entry: Entry) -> None:
    """The ballot in the entry has the receipt's tracking code.

    ``verify_entry`` shows only that the entry is the one the board signed for
    this index; a dishonest board can also sign a receipt that puts one voter's
    tracking code on another voter's entry (a clash attack: two voters shown one
    ballot), so the code is recomputed from the ballot on the board.
    """
    path = "/elections/" + quote(receipt.election, safe="") + "/manifest"
    manifest = Manifest.from_json(client.get(path))
    if entry.kind == "ballot_cast":
        ballot = parse_ballot_cast(entry, manifest)
    elif entry.kind == "ballot_audited":
        ballot = parse_ballot_audited(entry, manifest).ballot
    else:
        raise BoardError(f"entry {entry.index} is a {entry.kind}, not a ballot")
    if ballot.tracking_code != receipt.tracking_code:
        raise BoardError(
            f"entry {entry.index} holds ballot {ballot.tracking_code}, not the receipt's "
            f"{receipt.tracking_code}: the board signed a receipt for someone else's ballot"
        )


@click.group(cls=OrderedGroup)
def receipt() -> None:
    """Ballot receipts: check that a cast ballot is still on the board."""


@receipt.command("check")
@click.argument("receipt_path", metavar="RECEIPT", type=click.Path(dir_okay=False))
@server_option
def check_command(receipt_path: str, server: str) -> None:
    """Check RECEIPT against the board's current signed tree head.

    Verifies the receipt's signatures and inclusion proof, that the board
    only grew since (consistency proof) and that the entry is unchanged.
    Exits non-zero if anything fails.
    """
    r = read_receipt(receipt_path)
    with Client(server) as client:
        done = check_receipt(client, r)
    say(
        f"receipt OK: ballot {r.tracking_code} is entry {r.index} of {r.election}; "
        f"the board's current head ({done.current.size} entries) is consistent with the "
        f"receipt's ({r.tree_head.size} entries)"
    )
