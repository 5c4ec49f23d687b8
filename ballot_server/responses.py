"""What the service answers: its outcome types and the JSON shape of its reads.

The dictionaries the API sends for an election's summary, its key-ceremony
material, a page of the board, an inclusion or consistency proof, and the
outcomes of a command (:class:`Appended`) or a cast (:class:`Posted`).
Separate from :mod:`ballot_server.service` so that the façade reads as the
rules of each request -- what is looked up, what is checked -- and the wire
shapes (docs/api.md) stand in one place, next to each other.  Pure functions
of values already read: nothing here touches the store.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from ballot_server.facts import ElectionFacts
from evote.board import Entry, Receipt, SignedTreeHead
from evote.encoding import b64encode
from evote.kinds import BALLOT_AUDITED, BALLOT_CAST
from evote.payloads import COMMAND_KINDS


@dataclass(frozen=True, slots=True)
class Posted:
    """A cast's or audit's outcome: its receipt, and whether this request appended the
    entry (False: the same ballot was already on the board, docs/api.md §5.1)."""

    receipt: Receipt
    appended: bool = True


@dataclass(frozen=True, slots=True)
class Appended:
    """A command's outcome: its entry and a signed tree head that includes it."""

    entry: Entry
    tree_head: SignedTreeHead

    def to_json(self) -> dict[str, Any]:
        return {
            "index": self.entry.index,
            "entry_hash": b64encode(self.entry.leaf_hash()),
            "entry": self.entry.to_json(),
            "tree_head": self.tree_head.to_json(),
        }


def _head_json(head: SignedTreeHead | None) -> dict[str, Any] | None:
    return None if head is None else head.to_json()


def summary_json(
    election_id: str, facts: ElectionFacts, head: SignedTreeHead | None
) -> dict[str, Any]:
    """The election's summary: phase, parties, counts, result and latest signed head."""
    c = facts.created
    return {
        "id": election_id,
        "phase": facts.phase.value,
        "size": facts.size,
        "manifest": c.manifest.to_json(),
        "official": c.official.to_json(),
        "credential_authority": c.credential_authority.to_json(),
        "trustees": [k.to_json() for k in c.trustees],
        "threshold": c.threshold,
        "allowed_commands": sorted(facts.board.allowed_kinds() & COMMAND_KINDS),
        "counts": {
            "ballots_cast": facts.counts.get(BALLOT_CAST, 0),
            "ballots_audited": facts.counts.get(BALLOT_AUDITED, 0),
            "credentials": None if facts.credentials is None else len(facts.credentials),
            "trustees_announced": len(facts.announcements),
            "trustees_committed": len(facts.commitments),
            "trustees_dealt": len(facts.shares),
            "complaints": len(facts.complaints),
            "partial_decryptions": len(facts.partials),
        },
        "fingerprint": None if facts.fingerprint is None else b64encode(facts.fingerprint),
        "result": None if facts.result is None else facts.result.to_json(),
        "tree_head": _head_json(head),
    }


def trustees_json(facts: ElectionFacts) -> dict[str, Any]:
    """Public key-ceremony material: every trustee message so far and the joint key."""
    return {
        "trustees": [k.to_json() for k in facts.created.trustees],
        "threshold": facts.created.threshold,
        "announcements": [m.to_json() for _, m in sorted(facts.announcements.items())],
        "commitments": [m.to_json() for _, m in sorted(facts.commitments.items())],
        "qualified": None if facts.qualified is None else list(facts.qualified),
        "reconstructions": [m.to_json() for _, m in sorted(facts.reconstructions.items())],
        "shares": [m.to_json() for _, m in sorted(facts.shares.items())],
        "complaints": [m.to_json() for _, m in sorted(facts.complaints.items())],
        "answers": [m.to_json() for _, m in sorted(facts.answers.items())],
        "joint_key": None if facts.joint_key is None else facts.joint_key.to_json(),
    }


def fingerprint_json(fingerprint: bytes, *, opened: bool) -> dict[str, Any]:
    """The fingerprint on the board (``opened``), or the one the board now implies."""
    return {"fingerprint": b64encode(fingerprint), "opened": opened}


def board_page_json(start: int, size: int, entries: Sequence[Entry]) -> dict[str, Any]:
    """A page of entries from ``start``, and where the next page starts (None: the end)."""
    end = start + len(entries)
    return {
        "start": start,
        "size": size,
        "entries": [e.to_json() for e in entries],
        "next": end if end < size else None,
    }


def inclusion_json(
    entry: Entry, size: int, proof: Sequence[bytes], head: SignedTreeHead | None
) -> dict[str, Any]:
    """The audit path of ``entry`` in the tree of ``size`` (with its head, if signed now)."""
    return {
        "index": entry.index,
        "size": size,
        "entry_hash": b64encode(entry.leaf_hash()),
        "proof": [b64encode(h) for h in proof],
        "tree_head": _head_json(head),
    }


def consistency_json(
    first: int, second: int, proof: Sequence[bytes], head: SignedTreeHead | None
) -> dict[str, Any]:
    """The RFC 9162 consistency proof from tree ``first`` to tree ``second``."""
    return {
        "first": first,
        "second": second,
        "proof": [b64encode(h) for h in proof],
        "tree_head": _head_json(head),
    }
