"""The write path of ballots: casting and auditing, and the receipts they are answered with.

Rules for a cast (``POST .../ballots``), each with its own code:

* the election is open (409 wrong_phase);
* the login is valid (401 unauthenticated);
* the ballot parses against the manifest (422 bad_schema, 400 bad_encoding, ...);
* its credential is on the list (403 bad_credential), its signature and every
  proof verify (422 invalid_signature / invalid_proof);
* the credential binding holds: the first login to use a credential binds it,
  a credential never serves two logins, a login never casts with two
  credentials (403 binding);
* none of its ciphertexts is on this board already, cast or audited, under any
  credential (409 duplicate_ciphertext).  A ciphertext is identified by its
  alpha (r·G), i.e. by its randomness: an audited ballot makes its randomness
  public, so any ciphertext reusing it could be decrypted by anyone.
  The one exception is the same ballot sent again (docs/api.md §5.1): a cast
  whose every ciphertext belongs to one ``ballot_cast`` entry holding exactly
  this ballot, from a login bound to its credential, is answered with that
  entry's original receipt (200) and appends nothing -- a voter whose answer
  was lost resends the same bytes and must end with a receipt, not an error.
  Audits likewise.  R-BAL-03 decides (:func:`evote.rules.resend_of`,
  :func:`~evote.rules.is_resend`); the binding is this module's.

Re-voting is allowed: each cast is a new entry and the credential's last one
counts.  Nothing about the login or the connection is written on the board;
the ``voters`` binding row is the only link, and it is never exported.

This is a module of its own (not part of :mod:`ballot_server.casting`, which
holds the :class:`~ballot_server.casting.CastQueue`) because the queue is
rule-free concurrency plumbing -- who writes the next batch, who waits --
while this module holds the rules one batch applies and the answers it
gives.  The functions take the :class:`~ballot_server.service.ElectionService`
whose methods call them, for its store, keys, clock, cache and queue.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from ballot_server.auth import VoterLogin
from ballot_server.casting import CastWritten, PendingCast
from ballot_server.commands import next_time
from ballot_server.responses import Posted
from ballot_server.store import BoardHandle, binding_needed
from evote.ballot import AuditedBallot, Ballot
from evote.board import Entry, Receipt, SignedTreeHead
from evote.checkpoint import Note
from evote.commands import check_election_id
from evote.errors import AuthenticationError, EvoteError, LifecycleError, RuleViolation
from evote.fingerprint import ElectionContext
from evote.kinds import BALLOT_AUDITED, BALLOT_CAST
from evote.payloads import ballot_audited_payload, ballot_cast_payload
from evote.rules import (
    ballot_alphas,
    check_audit,
    check_cast,
    duplicate_of,
    is_resend,
    resend_of,
)

if TYPE_CHECKING:
    from ballot_server.service import ElectionService


def cast(svc: ElectionService, election_id: str, login: VoterLogin, ballot_json: Any) -> Posted:
    """Cast a ballot for ``login``; return the receipt (see
    :meth:`ballot_server.service.ElectionService.cast`).

    Everything up to the append runs in this request's thread, in parallel
    with other requests: parsing and verifying the ballot.  The append goes
    through the process's :class:`~ballot_server.casting.CastQueue`, which
    writes it in one transaction with the other casts queued meanwhile
    (:func:`write_casts`); the receipt is signed here once that transaction
    has committed.

    In an election with a witness policy the receipt carries the latest
    cosigned checkpoint, read before the append (nothing may fail after the
    commit, or an acknowledged ballot would get no receipt)."""
    ctx = open_context(svc, election_id)
    ballot = Ballot.from_json(ballot_json, ctx.manifest)
    check_cast(ctx, ballot)  # R-BAL-01/02
    pending = pending_cast(login, ballot)
    cosigned = receipt_checkpoint(svc, ctx, election_id)
    written = svc.casts.submit(election_id, pending, svc._write_casts)
    # Committed (and fsynced): only now is the ballot acknowledged.
    if written.resent and ctx.manifest.witnesses is not None:
        # The checkpoint read above may include the earlier entry; a receipt's never does.
        cosigned = svc.cosigned_checkpoint(
            election_id, ctx.manifest.witnesses, max_size=written.entry.index
        )
    receipt = issue_receipt(
        svc, written.entry, ballot.tracking_code, written.head, written.proof, cosigned
    )
    return Posted(receipt, appended=not written.resent)


def write_casts(svc: ElectionService, election_id: str, casts: list[PendingCast]) -> None:
    """Write a batch of verified casts in one locked transaction (the
    :class:`~ballot_server.casting.CastQueue` calls this in one of their threads).

    Each cast is checked against the board under the lock and against the
    casts before it in the batch, in the order of the rules of one cast:
    the phase, the login's binding, then its ciphertexts.  A cast that
    fails is refused on its own and writes nothing; the others are
    appended, one tree head signed over them all, and each gets its
    inclusion proof in that head -- handed over only after the commit.
    """
    time_ms = svc.clock()
    facts = svc.facts(election_id)  # the window is the manifest's: fixed at entry 0
    appended: list[tuple[PendingCast, Entry]] = []
    # Casts of a ballot already on the board (or earlier in this batch): answered
    # from that entry, appending nothing (docs/api.md §5.1).
    resent: list[tuple[PendingCast, Entry]] = []
    answers: list[tuple[PendingCast, CastWritten]] = []
    head: SignedTreeHead | None = None
    with svc.store.locked(election_id, batched=True) as board:
        try:
            facts.check_time(BALLOT_CAST, None, next_time(board, time_ms))  # R-TIME-02/03
            board.state.apply(BALLOT_CAST)
        except LifecycleError as exc:
            for one in casts:
                one.refused(exc)
            return
        except RuleViolation as exc:
            for one in casts:
                one.refused(exc)
            return
        # Logins not known to be bound when they logged in are re-read under the
        # lock, with the owners of their credentials: bindings only change here.
        unsure = [c for c in casts if c.known is None or c.known.credential is None]
        logins, owners = board.login_bindings(
            (c.voter_id for c in unsure), (c.credential for c in unsure)
        )
        taken = board.ciphertext_entries(a for c in casts for a in c.alphas)
        to_bind: dict[str, bytes] = {}
        in_batch: dict[int, Entry] = {}
        for one in casts:
            try:
                bind = _check_binding(one, logins, owners, to_bind)
                original = resend_of(one.alphas, taken)  # R-BAL-03
                if original is not None:
                    resent.append((one, _resent_cast(board, one, original, in_batch, bind)))
                    continue
            except EvoteError as exc:
                one.refused(exc)
                continue
            entry = board.append(BALLOT_CAST, one.payload, time_ms)
            in_batch[entry.index] = entry
            board.index_ballot(entry.index, one.tracking_code, one.credential, one.alphas)
            taken.update(dict.fromkeys(one.alphas, entry.index))
            if bind:
                to_bind[one.voter_id] = one.credential
                owners[one.credential] = one.voter_id
            appended.append((one, entry))
        if appended:
            board.bind_credentials(list(to_bind.items()))
            head = board.sign_head(svc.board_key, appended[-1][1].time)
            for one, entry in appended:
                proof = board.inclusion_proof(entry.index, head.size)
                answers.append((one, CastWritten(entry, head, proof)))
        for one, entry in resent:
            if head is not None and entry.index in in_batch:
                first_head = head  # its first send is in this batch: the same head
            else:
                first_head = first_head_locked(svc, board, entry)
            proof = board.inclusion_proof(entry.index, first_head.size)
            answers.append((one, CastWritten(entry, first_head, proof, resent=True)))
    # Committed: only now is any cast of the batch answered.
    for one, written in answers:
        one.written(written)


def audit(svc: ElectionService, election_id: str, login: VoterLogin, audited_json: Any) -> Posted:
    """Post an audited ballot; its ciphertexts can never be cast afterwards.

    The same audited ballot sent again gets its original receipt and appends
    nothing (docs/api.md §5.1), unless the login's binding shows it is another
    voter's (audits record no login; the binding is all there is)."""
    ctx = open_context(svc, election_id)
    audited = AuditedBallot.from_json(audited_json, ctx.manifest)
    check_audit(ctx, audited)  # R-BAL-01/04
    ballot = audited.ballot
    alphas = _alphas(ballot)
    cosigned = receipt_checkpoint(svc, ctx, election_id)
    payload = ballot_audited_payload(audited)
    facts = svc.facts(election_id)  # the window is the manifest's: fixed at entry 0
    with svc.store.locked(election_id, batched=True) as board:
        now = svc.clock()
        facts.check_time(BALLOT_AUDITED, None, next_time(board, now))  # R-TIME-02/03
        board.state.apply(BALLOT_AUDITED)
        original = resend_of(alphas, board.ciphertext_entries(alphas))
        if original is not None:
            entry = _resent_audit(board, login, ballot, payload, original)
            head = first_head_locked(svc, board, entry)
            proof = board.inclusion_proof(entry.index, head.size)
        else:
            entry = board.append(BALLOT_AUDITED, payload, now)
            board.index_ballot(entry.index, ballot.tracking_code, None, alphas)
            head = board.sign_head(svc.board_key, entry.time)
            # Stored in the same transaction as the entry, so the receipt's head is
            # on record whenever the entry is.
            proof = board.inclusion_proof(entry.index, head.size)
    if original is not None and ctx.manifest.witnesses is not None:
        cosigned = svc.cosigned_checkpoint(
            election_id, ctx.manifest.witnesses, max_size=entry.index
        )
    receipt = issue_receipt(svc, entry, ballot.tracking_code, head, proof, cosigned)
    return Posted(receipt, appended=original is None)


def open_context(svc: ElectionService, election_id: str) -> ElectionContext:
    """The context, after a cheap early refusal when the election is known to be past open."""
    check_election_id(election_id)
    # R-TIME-02/03 first: outside a scheduled window the answer is "not open yet" or
    # "closed" (with the times), not the phase; re-checked under the lock.
    svc.facts(election_id).check_time(BALLOT_CAST, None, svc.clock())
    ctx = svc.context(election_id)
    cached = svc.cache.facts(election_id)
    if cached is not None:
        cached.board.phase_state.apply(BALLOT_CAST)  # R-PHASE-03, re-checked under the lock
    return ctx


# --- receipts -------------------------------------------------------------------------


def first_head_locked(svc: ElectionService, board: BoardHandle, entry: Entry) -> SignedTreeHead:
    """Inside the lock: the head the receipt of ``entry`` (already on the board) was
    issued with -- the first one that includes it; a new one if none does (not
    expected: every append stores its head)."""
    head = board.first_head_covering(entry.index)
    if head is None:
        head = board.sign_head(svc.board_key, svc.clock())
    return head


def issue_receipt(
    svc: ElectionService,
    entry: Entry,
    tracking_code: str,
    head: SignedTreeHead,
    proof: list[bytes],
    cosigned: Note | None = None,
) -> Receipt:
    """The board-signed receipt of ``entry``, carrying ``cosigned`` if there is one
    (also ``ElectionService._receipt``, for the lookup of a lost receipt)."""
    receipt = Receipt.issue(
        entry=entry,
        tracking_code=tracking_code,
        tree_head=head,
        inclusion_proof=proof,
        key=svc.board_key,
    )
    if cosigned is None:
        return receipt
    return dataclasses.replace(receipt, cosigned_checkpoint=cosigned.to_text())


def receipt_checkpoint(
    svc: ElectionService, ctx: ElectionContext, election_id: str
) -> Note | None:
    """The cosigned checkpoint a receipt carries (None without a witness policy)."""
    policy = ctx.manifest.witnesses
    return None if policy is None else svc.cosigned_checkpoint(election_id, policy)


# --- one cast's checks ----------------------------------------------------------------


def _alphas(ballot: Ballot) -> list[bytes]:
    """The ballot's ciphertext alphas; repeated randomness inside one ballot is refused
    (R-BAL-03, :func:`evote.rules.ballot_alphas`)."""
    return ballot_alphas(ballot)


def pending_cast(login: VoterLogin, ballot: Ballot) -> PendingCast:
    """What a verified cast of ``ballot`` by ``login`` queues for its batch: the login and
    its row as read at login, the credential, the ciphertext alphas (refusing repeated
    randomness inside the ballot) and the ``ballot_cast`` entry payload."""
    return PendingCast(
        voter_id=login.voter_id,
        known=login.voter,
        credential=ballot.credential.raw,
        tracking_code=ballot.tracking_code,
        alphas=_alphas(ballot),
        payload=ballot_cast_payload(ballot),
    )


def _check_binding(
    cast: PendingCast,
    logins: Mapping[str, bytes | None],
    owners: Mapping[bytes, str],
    batch_bound: Mapping[str, bytes],
) -> bool:
    """:func:`~ballot_server.store.binding_needed` for one cast of a batch.  ``logins``
    and ``owners`` are read under the lock
    (:meth:`~ballot_server.store.BoardHandle.login_bindings`) and ``owners`` includes
    the credentials bound earlier in the batch, ``batch_bound`` the logins bound
    earlier in the batch.  A binding already made never changes, so a login known
    bound when it logged in needs no read."""
    if cast.voter_id in batch_bound:
        current: bytes | None = batch_bound[cast.voter_id]
    elif cast.known is not None and cast.known.credential is not None:
        current = cast.known.credential
    elif cast.voter_id in logins:
        current = logins[cast.voter_id]
    else:
        raise AuthenticationError("unknown voter login for this election")
    return binding_needed(cast.voter_id, cast.credential, current, owners.get(cast.credential))


def _resent_cast(
    board: BoardHandle,
    cast: PendingCast,
    index: int,
    in_batch: Mapping[int, Entry],
    bind: bool,
) -> Entry:
    """The entry a resent cast is answered from: entry ``index`` must be a cast of this
    very ballot, and the login already bound to its credential (``bind`` False: the
    login that cast it, since a credential serves one login).  Otherwise 409
    duplicate_ciphertext, as for any reuse of a ciphertext."""
    entry = in_batch.get(index) or board.entry(index)
    if bind or not is_resend(entry, BALLOT_CAST, cast.payload):
        raise duplicate_of(index)  # R-BAL-03
    return entry


def _resent_audit(
    board: BoardHandle, login: VoterLogin, ballot: Ballot, payload: Mapping[str, Any], index: int
) -> Entry:
    """The entry a resent audit is answered from: entry ``index`` must be this very
    audited ballot, and the login's binding must not contradict its credential (neither
    the login bound to another credential nor the credential to another login: audits
    record no login, so that is all that tells voters apart).  Otherwise 409
    duplicate_ciphertext, the refusal of any reuse of an audited ballot's ciphertexts."""
    entry = board.entry(index)
    if not is_resend(entry, BALLOT_AUDITED, payload):
        raise duplicate_of(index)  # R-BAL-03
    credential = ballot.credential.raw
    logins, owners = board.login_bindings([login.voter_id], [credential])
    if logins.get(login.voter_id) not in (None, credential) or owners.get(credential) not in (
        None,
        login.voter_id,
    ):
        raise duplicate_of(index)  # R-BAL-03
    return entry
