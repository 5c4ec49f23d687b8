"""The election service: the one object the API asks, over one request's store.

No Flask here: the views in :mod:`ballot_server.api` parse HTTP and call one
method of :class:`ElectionService`; the service decides, and
:mod:`ballot_server.store` stores.  Every write happens inside one
``store.locked(election)`` block, so a rule that fails anywhere leaves nothing
behind, and every entry is checked against the board *as it is under the
lock* (two racing requests cannot both pass a "not yet posted" check).  Every
rule of a valid board is the board projection's (:mod:`evote.rules`, ids in
``docs/rules.md``).

This module is a façade: it holds the reads (facts, context, board, proofs,
the record) and hands each job to the module that holds it --

* :mod:`ballot_server.facts`: what the board says (:class:`ElectionFacts`) and
  the per-process :class:`BoardCache`;
* :mod:`ballot_server.commands`: the officials' and trustees' signed commands;
* :mod:`ballot_server.cast_path`: casting and auditing, their rules and receipts
  (the group commit itself is :mod:`ballot_server.casting`);
* :mod:`ballot_server.witnessing`: cosigned checkpoints;
* :mod:`ballot_server.record_export`: the record archive;
* :mod:`ballot_server.responses`: the JSON shape of the answers.

The names those modules used to have here are re-exported, so
``from ballot_server.service import ...`` keeps working.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from ballot_server import cast_path, commands, witnessing
from ballot_server.auth import Authenticator, VoterLogin
from ballot_server.cast_path import _alphas, pending_cast
from ballot_server.casting import CastQueue, PendingCast
from ballot_server.commands import MAX_VOTERS_PER_REQUEST, REGISTER_VOTERS
from ballot_server.facts import BoardCache, ElectionFacts
from ballot_server.record_export import record_archive, zip_stream
from ballot_server.responses import (
    Appended,
    Posted,
    board_page_json,
    consistency_json,
    fingerprint_json,
    inclusion_json,
    summary_json,
    trustees_json,
)
from ballot_server.store import Store
from evote.board import Entry, Receipt, SignedTreeHead
from evote.checkpoint import Note
from evote.credentials import CredentialList
from evote.errors import LifecycleError, NotFound, SchemaError
from evote.fingerprint import ElectionContext
from evote.group import Rng
from evote.record import RecordHeader
from evote.rulebook import violation
from evote.signing import SigningKey, VerifyKey
from evote.witness import WitnessPolicy

__all__ = [
    "MAX_VOTERS_PER_REQUEST",
    "REGISTER_VOTERS",
    "Appended",
    "BoardCache",
    "ElectionFacts",
    "ElectionService",
    "Posted",
    "_alphas",
    "now_ms",
    "pending_cast",
    "zip_stream",
]


def now_ms() -> int:
    return time.time_ns() // 1_000_000


class ElectionService:
    """The rules, over one request's :class:`Store`.

    ``officials`` is the allow-list for ``election_created``; ``clock`` returns
    milliseconds and ``rng`` is ``rng(n) -> n bytes`` (login codes).
    ``booth_sha256`` is the SHA-256 of the booth bundle this server serves
    (None: it serves none), which an ``election_opened`` naming a booth digest
    must match.
    """

    def __init__(
        self,
        store: Store,
        *,
        board_key: SigningKey,
        officials: Iterable[VerifyKey],
        cache: BoardCache,
        authenticator: Authenticator,
        clock: Callable[[], int] = now_ms,
        rng: Rng = secrets.token_bytes,
        booth_sha256: bytes | None = None,
        casts: CastQueue | None = None,
    ) -> None:
        self.store = store
        self.board_key = board_key
        self.officials = frozenset(k.raw for k in officials)
        self.cache = cache
        self.authenticator = authenticator
        self.clock = clock
        self.rng = rng
        self.booth_sha256 = booth_sha256
        self.casts = casts if casts is not None else CastQueue()

    # -- reading ---------------------------------------------------------------

    def elections(self) -> list[str]:
        return self.store.elections()

    def facts(self, election_id: str) -> ElectionFacts:
        """The election's facts as of now; :class:`NotFound` for an unknown election."""
        size = self._size(election_id)
        cached = self.cache.facts(election_id)
        if cached is not None and cached.size == size:
            return cached
        start = cached.size if cached is not None and cached.size < size else 0
        entries = self.store.command_entries(election_id, start, size)
        counts = self.store.kind_counts(election_id, start, size)
        if start == 0:
            facts = ElectionFacts.from_entries(entries, counts, size)
        else:
            assert cached is not None
            facts = cached.extended(entries, counts, size)
        self.cache.put_facts(facts)
        return facts

    def context(self, election_id: str) -> ElectionContext:
        """The ballot context of an election that has been opened (409 before)."""
        ctx = self.cache.context(election_id)
        if ctx is not None:
            return ctx
        facts = self.facts(election_id)
        if facts.fingerprint is None:
            raise LifecycleError(
                f"election {election_id!r} is not open (phase {facts.phase.value})"
            )
        ctx = facts.context()
        if ctx.fingerprint != facts.fingerprint:  # R-OPEN-01 held when it was appended
            raise violation("R-OPEN-01", "the board's fingerprint differs from its recomputation")
        self.cache.put_context(election_id, ctx)
        return ctx

    def summary(self, election_id: str) -> dict[str, Any]:
        facts = self.facts(election_id)
        return summary_json(election_id, facts, self.store.latest_signed_head(election_id))

    def trustees(self, election_id: str) -> dict[str, Any]:
        """Public key-ceremony material: every trustee message so far and the joint key."""
        return trustees_json(self.facts(election_id))

    def credentials(self, election_id: str) -> CredentialList:
        facts = self.facts(election_id)
        if facts.credentials is None:
            raise NotFound("the credential list is not published yet")
        return facts.credentials

    def fingerprint(self, election_id: str) -> dict[str, Any]:
        """The fingerprint on the board (``opened``), or the one the board now implies."""
        facts = self.facts(election_id)
        if facts.fingerprint is not None:
            return fingerprint_json(facts.fingerprint, opened=True)
        if facts.joint_key is None or facts.credentials is None:
            raise NotFound("the fingerprint needs the joint key and the credential list")
        return fingerprint_json(facts.context().fingerprint, opened=False)

    def board(self, election_id: str, start: int, limit: int) -> dict[str, Any]:
        size = self._size(election_id)
        entries = self.store.entries(election_id, start, limit) if start < size else []
        return board_page_json(start, size, entries)

    def entry(self, election_id: str, index: int) -> Entry:
        self._size(election_id)
        return self.store.entry(election_id, index)

    def ballot(self, election_id: str, tracking_code: str) -> Entry:
        """The cast or audited ballot entry with this tracking code (404 if none)."""
        self._size(election_id)
        entry = self.store.entry_by_tracking_code(election_id, tracking_code)
        if entry is None:
            raise NotFound(f"no ballot with tracking code {tracking_code!r}")
        return entry

    def ballot_receipt(self, election_id: str, tracking_code: str) -> tuple[Entry, Receipt]:
        """The entry of the ballot with this tracking code and its original receipt
        (docs/api.md §5.2), in any phase: what a device that lost the answer to its
        cast recovers.  The receipt is the one the cast was answered with (the first
        head that includes the entry), so a lookup and a resend agree byte for byte."""
        entry = self.ballot(election_id, tracking_code)
        head = self.store.first_head_covering(election_id, entry.index)
        if head is None:  # not expected: every append stores its head
            head = self.tree_head(election_id)
        proof = self.store.inclusion_proof(election_id, entry.index, head.size)
        cosigned = self._policy_checkpoint(election_id, max_size=entry.index)
        return entry, self._receipt(entry, tracking_code, head, proof, cosigned)

    def tree_head(self, election_id: str) -> SignedTreeHead:
        """The latest signed head; a fresh one if the board has grown since (or none exists)."""
        size = self._size(election_id)
        head = self.store.latest_signed_head(election_id)
        if head is None or head.size < size:
            head = self.store.sign_head(election_id, self.board_key, self.clock())
        return head

    def inclusion(
        self,
        election_id: str,
        *,
        index: int | None,
        tracking_code: str | None,
        size: int | None,
    ) -> dict[str, Any]:
        """Audit path of one entry (by index or ballot tracking code).

        Without ``size`` the proof is to the latest signed head, which is
        included; with it, to the tree of that size (the client holds its head).
        """
        if (index is None) == (tracking_code is None):
            raise SchemaError("give exactly one of index and tracking_code")
        self._size(election_id)
        if tracking_code is not None:
            entry = self.ballot(election_id, tracking_code)
        else:
            assert index is not None
            entry = self.store.entry(election_id, index)
        head = None
        if size is None:
            head = self.tree_head(election_id)
            size = head.size
        proof = self.store.inclusion_proof(election_id, entry.index, size)
        return inclusion_json(entry, size, proof, head)

    def consistency(self, election_id: str, first: int, second: int | None) -> dict[str, Any]:
        """RFC 9162 proof that tree ``first`` is a prefix of tree ``second``
        (default: the latest signed head, which is included)."""
        self._size(election_id)
        head = None
        if second is None:
            head = self.tree_head(election_id)
            second = head.size
        proof = self.store.consistency_proof(election_id, first, second)
        return consistency_json(first, second, proof, head)

    def record(self, election_id: str) -> Iterator[bytes]:
        """The election record as a zip archive, streamed (docs/record-format.md).

        The board is cut at the size of a head signed now, so the archive is
        consistent with its last tree head even while ballots keep arriving.
        For an election with a witness policy, ``checkpoint.txt`` follows: the
        largest cosigned checkpoint within that cut (absent while there is none,
        which the verifier then reports).
        """
        head = self.tree_head(election_id)
        cosigned = self._policy_checkpoint(election_id, max_size=head.size)
        header = RecordHeader(election_id, self.board_key.verify_key)
        return record_archive(self.store, header, head.size, cosigned)

    def _size(self, election_id: str) -> int:
        """The board's size; :class:`NotFound` for an unknown election (size 0)."""
        size = self.store.entry_count(election_id)
        if size == 0:
            raise NotFound(f"no election {election_id!r}")
        return size

    # -- commands (ballot_server.commands) ---------------------------------------

    def create_election(self, command_json: Any) -> Appended:
        """Entry 0.  The signer must be on the allow-list and be the body's official."""
        return commands.create_election(self, command_json)

    def command(self, election_id: str, kind: str, command_json: Any) -> Appended:
        """Append a lifecycle or trustee command if the board projection accepts it."""
        return commands.command(self, election_id, kind, command_json)

    def register_voters(self, election_id: str, command_json: Any) -> list[tuple[str, str]]:
        """Create a login for each listed voter id; return ``(voter id, login code)``."""
        return commands.register_voters(self, election_id, command_json)

    # -- ballots (ballot_server.cast_path) ---------------------------------------

    def authenticate(self, election_id: str, authorization: str | None) -> VoterLogin:
        return self.authenticator.authenticate(self.store, election_id, authorization)

    def cast(self, election_id: str, login: VoterLogin, ballot_json: Any) -> Posted:
        """Cast a ballot for ``login`` (from :meth:`authenticate`, which the API calls
        before it reads the body, so the login is looked up once); return the receipt.

        The same ballot sent again by its login gets the original receipt and
        appends nothing (``Posted.appended`` False, docs/api.md §5.1)."""
        return cast_path.cast(self, election_id, login, ballot_json)

    def _write_casts(self, election_id: str, casts: list[PendingCast]) -> None:
        """Write a batch of verified casts in one locked transaction (what the
        :class:`~ballot_server.casting.CastQueue` runs; :func:`cast_path.write_casts`)."""
        cast_path.write_casts(self, election_id, casts)

    def audit(self, election_id: str, login: VoterLogin, audited_json: Any) -> Posted:
        """Post an audited ballot; its ciphertexts can never be cast afterwards."""
        return cast_path.audit(self, election_id, login, audited_json)

    _receipt = cast_path.issue_receipt
    """The board-signed receipt of an entry (:func:`cast_path.issue_receipt`)."""

    # -- witnesses (ballot_server.witnessing, docs/witness.md) ---------------------

    def cosigned_checkpoint(
        self, election_id: str, policy: WitnessPolicy, *, max_size: int | None = None
    ) -> Note | None:
        """The largest checkpoint (up to ``max_size``) that ``policy.threshold``
        witnesses cosigned, with every kept cosignature; None while there is none."""
        found = witnessing.largest_cosigned(
            self.store, self.board_key, election_id, policy, max_size=max_size
        )
        return None if found is None else found[1]

    def _policy_checkpoint(self, election_id: str, *, max_size: int) -> Note | None:
        """:meth:`cosigned_checkpoint` under the manifest's policy (None without one)."""
        policy = self.facts(election_id).created.manifest.witnesses
        return None if policy is None else self.cosigned_checkpoint(
            election_id, policy, max_size=max_size
        )
