"""The board projection: one pure fold over board entries that holds every rule of a valid board.

``BoardState()`` is the empty board; ``state.apply(command)`` checks one more
command entry against every rule (docs/rules.md) and returns the state after
it, or raises :class:`~evote.errors.RuleViolation` naming the rule.  The
server calls it under the append lock before every command append and refuses
with the rule's code; the verifier replays the record through it and fails
the rule's check with the rule id; the CLI's board view and ``evote election
status`` read the folded state.  Nothing else decides whether an entry may
stand where it stands.

Three layers, each a pure function of the board prefix:

* the phase table (:mod:`evote.election`, rules ``R-PHASE-*``), over kinds only
  -- cheap enough for every ballot;
* the command rules (:meth:`BoardState.check`): signer (``R-SIG-*``), key
  ceremony order and validity (``R-DKG-*``), credential batches (``R-CRED-*``),
  the fingerprint (``R-OPEN-*``), tally, partials and result (``R-TAL-*``),
  and the mixnet of ranked and graded questions (``R-MIX-*``, the mixin
  :class:`evote.mix_rules.MixnetRules`, fed by ``check(..., mixing=)``);
* the ballot rules (``R-BAL-*``): :func:`check_cast`, :func:`check_audit`,
  :func:`check_fresh` (or :func:`resend_of`, where a send may be a resend)
  and the counting rule :class:`CountedSet`.  They are functions, not state,
  because a board holds millions of ballots: the server looks the
  ciphertexts up in its index, the verifier in a set, and both ask these
  functions what follows.

The key ceremony is kept as data (``announcements``, ``commitments``, ...)
and checked by one method per message kind (``_check_trustee_committed``
...), so a new ceremony message is one registry row, one method and one rule
id (the DKG helper's extension point: see :meth:`BoardState._rule_for`).

``fold`` is ``apply`` without the checks, for replaying a board that was
checked when it was written (the server's own database).

Why one module of ~840 lines: :class:`BoardState` is one fold, and every
command rule reads and extends the same state; the rule table is apart
(:mod:`evote.rulebook`) and the mixnet rules are a mixin of their own
(:class:`evote.mix_rules.MixnetRules`).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Generic, Protocol, TypeVar

from evote import dkg
from evote.ballot import AuditedBallot, Ballot, verify_audit, verify_ballot
from evote.board import Entry
from evote.credentials import CredentialList
from evote.election import ElectionState, Phase
from evote.encoding import b64encode, canonical_json
from evote.errors import CredentialError, EvoteError, InvalidSignature, RuleViolation, TallyError
from evote.fingerprint import ElectionContext
from evote.kinds import ELECTION_CREATED, SPECS, TRUSTEE
from evote.mix_payloads import RankedResult
from evote.mix_rules import MixnetRules
from evote.mixdecryption import RowsPartialDecryption
from evote.mixnet import Mix
from evote.payloads import (
    Command,
    CredentialsPublished,
    ElectionCreated,
    ElectionOpened,
    KeyPublished,
    ResultPublished,
    TallyPosted,
)
from evote.ranked import MixInputs
from evote.rulebook import RULES, violation
from evote.schedule import Schedule, check_entry_time
from evote.signing import VerifyKey
from evote.tally import (
    EncryptedTally,
    PartialDecryption,
    Result,
    check_partial_shape,
    verify_aggregate,
    verify_result,
)

__all__ = [
    "RULES",
    "BoardState",
    "CountedSet",
    "RuleViolation",
    "TallyExpectation",
    "check_audit",
    "check_cast",
    "check_fresh",
    "duplicate_of",
    "is_resend",
    "merged_credentials",
    "resend_of",
]


class TallyExpectation(Protocol):
    """What the counted ballots add up to, computed by whoever holds them.

    The server computes it from its database, the verifier from its running
    sums; R-TAL-01/02 compare ``tally_posted`` with it here, in one place.
    """

    counted: int
    total_weight: int

    def verify(self, tally: EncryptedTally) -> None:
        """Raise TallyError unless ``tally`` is the aggregate of the counted ballots."""



_QUAL_TABLES = frozenset({"announcements", "shares", "complaints", "answers"})
"""The ceremony tables QUAL is computed from (phase 1 of docs/protocol-trustees.md §5)."""

@dataclass(frozen=True)
class ExpectedTally:
    """A :class:`TallyExpectation` from an already computed aggregate (the server's)."""

    expected: TallyPosted

    @property
    def counted(self) -> int:
        return self.expected.counted

    @property
    def total_weight(self) -> int:
        return self.expected.total_weight

    def verify(self, tally: EncryptedTally) -> None:
        if canonical_json(tally.to_json()) != canonical_json(self.expected.tally.to_json()):
            raise TallyError("the tally is not the aggregate of the counted ballots")


@dataclass(frozen=True)
class AggregateExpectation:
    """A :class:`TallyExpectation` from the counted ballots themselves: their number,
    total weight, and (weight, ciphertexts per question and option) rows or per-weight
    sums, which :func:`evote.tally.verify_aggregate` adds up (the verifier's and a
    trustee's)."""

    counted: int
    total_weight: int
    shape: tuple[int, ...]
    rows: list[tuple[int, Any]]

    def verify(self, tally: EncryptedTally) -> None:
        verify_aggregate(self.shape, self.rows, tally)


def check_tally(posted: TallyPosted, expected: TallyExpectation) -> None:
    """R-TAL-01/02 for a tally already on the board (a trustee, before decrypting)."""
    found = BoardState().tally_violations(posted, expected)
    if found:
        raise found[0]


def merged_credentials(
    published: CredentialList | None, batch: CredentialList
) -> CredentialList:
    """The election's list after one more batch: the union, sorted by key bytes (R-CRED-01).

    The union is a :class:`CredentialList`, which holds its entries sorted by
    the credential key's 32 raw bytes whatever the order of the batches; that
    sorted list is what the fingerprint hashes (docs/rules.md, "Credential union").
    """
    if published is None:
        return batch
    try:
        return CredentialList(published.entries + batch.entries)
    except CredentialError as exc:
        raise violation(
            "R-CRED-01", "this batch repeats a credential that is already published", cause=exc
        ) from None


@dataclass(frozen=True)
class BoardState(MixnetRules):
    """Everything the rules need to know about a board prefix (ballots only counted).

    Frozen: :meth:`apply` and :meth:`fold` return a new state, sharing what
    did not change.  The mappings are never mutated once built.
    """

    phase_state: ElectionState = field(default_factory=ElectionState)
    size: int = 0
    created: ElectionCreated | None = None
    counts: Mapping[str, int] = field(default_factory=dict)
    announcements: Mapping[int, dkg.Announcement] = field(default_factory=dict)
    commitments: Mapping[int, dkg.Commitments] = field(default_factory=dict)
    shares: Mapping[int, dkg.EncryptedShares] = field(default_factory=dict)
    complaints: Mapping[tuple[int, int], dkg.Complaint] = field(default_factory=dict)
    answers: Mapping[tuple[int, int], dkg.ComplaintAnswer] = field(default_factory=dict)
    qualified: tuple[int, ...] | None = None  # ceremony_qualified (GJKR's cut)
    reconstruct: tuple[int, ...] | None = None  # ceremony_reconstruct
    reconstructions: Mapping[tuple[int, int], dkg.Reconstruction] = field(default_factory=dict)
    joint_key: dkg.JointKey | None = None
    batches: tuple[CredentialList, ...] = ()
    credentials: CredentialList | None = None
    fingerprint: bytes | None = None
    booth_sha256: bytes | None = None
    tally: TallyPosted | None = None
    partials: Mapping[int, PartialDecryption] = field(default_factory=dict)
    result: Result | None = None
    # --- the mixnet (R-MIX-*): question index -> mixes in mixer order; (question,
    # trustee) -> that trustee's factors for the final list; question -> its count.
    mixes: Mapping[int, tuple[Mix, ...]] = field(default_factory=dict)
    mix_partials: Mapping[tuple[int, int], RowsPartialDecryption] = field(default_factory=dict)
    ranked: Mapping[int, RankedResult] = field(default_factory=dict)

    # --- reading ---------------------------------------------------------------

    @property
    def phase(self) -> Phase | None:
        return self.phase_state.phase

    @property
    def election_id(self) -> str:
        if self.created is None:
            raise violation("R-PHASE-01", "the board has no election_created entry")
        return self.created.election_id

    def count(self, kind: str) -> int:
        return self.counts.get(kind, 0)

    def allowed_kinds(self) -> frozenset[str]:
        """The kinds the phase table allows next (the other rules may still refuse one)."""
        return self.phase_state.allowed_kinds()

    def ceremony_outcome(self) -> dkg.CeremonyOutcome:
        """QUAL, the Feldman values and the joint key the board's ceremony gives (R-DKG-11)."""
        c = self._created()
        return dkg.ceremony_outcome(
            c.election_id,
            len(c.trustees),
            c.threshold,
            self.announcements.values(),
            self.complaints.values(),
            self.answers.values(),
            self.commitments.values(),
            self.reconstructions.values(),
            signing_keys={i + 1: key for i, key in enumerate(c.trustees)},
            dealt=self.shares.keys(),
        )

    def recomputed_joint_key(self) -> dkg.JointKey:
        """The joint key the board's ceremony messages give (R-DKG-11)."""
        return self.ceremony_outcome().joint

    def context(self) -> ElectionContext:
        """Manifest, joint key, QUAL's Feldman values and the credential union (R-OPEN-01)."""
        c = self._created()
        if self.joint_key is None or self.credentials is None:
            raise violation(
                "R-PHASE-04", "the joint key and the credential list are not both published"
            )
        try:
            feldman = self.ceremony_outcome().feldman
        except EvoteError as exc:
            raise violation(
                "R-OPEN-01", f"the ceremony gives no Feldman values: {exc.message}", cause=exc
            ) from None
        return ElectionContext.build(
            c.manifest, self.joint_key.joint_key, dkg.trustee_commitments(feldman),
            self.credentials,
        )

    def opened_context(self) -> ElectionContext:
        """What every ballot, audit and partial after the first ``election_opened`` is
        checked against: :meth:`context` with the fingerprint **as posted** there.

        Why: after a broken R-OPEN-01 the voters and trustees went on with the
        fingerprint the board gives, so checking them against the recomputed one
        would fail each on the opening's account; docs/rules.md §3.6 ("the
        fingerprint is the posted one") makes the posted value the state.  Before
        an opening, or when the posted fingerprint is right, it is :meth:`context`.
        """
        ctx = self.context()
        if self.fingerprint is None or self.fingerprint == ctx.fingerprint:
            return ctx
        return dataclasses.replace(ctx, fingerprint=self.fingerprint)

    def _created(self) -> ElectionCreated:
        if self.created is None:
            raise violation("R-PHASE-01", "the board has no election_created entry")
        return self.created

    # --- the fold ------------------------------------------------------------------

    def apply(
        self,
        command: Command,
        *,
        tally: TallyExpectation | None = None,
        mixing: MixInputs | None = None,
    ) -> BoardState:
        """Check ``command`` as the next entry (:meth:`check`), then fold it in."""
        self.check(command, tally=tally, mixing=mixing)
        return self.fold(command)

    def apply_kind(self, kind: str) -> BoardState:
        """A ballot entry (``ballot_cast``/``ballot_audited``): the phase table, then count it.

        The ballot's own rules are :func:`check_cast`, :func:`check_audit` and
        :func:`check_fresh`, which need the election context and the
        ciphertext index the caller holds."""
        phase_state = self.phase_state.apply(kind)
        return dataclasses.replace(
            self, phase_state=phase_state, size=self.size + 1,
            counts={**self.counts, kind: self.count(kind) + 1},
        )

    def check(
        self,
        command: Command,
        *,
        tally: TallyExpectation | None = None,
        mixing: MixInputs | None = None,
    ) -> None:
        """Raise :class:`RuleViolation` unless ``command`` may be the next entry.

        Order: the phase table, the signature, the signer, then the kind's own
        rules (each names its id).  ``tally``: what the counted ballots add up
        to; without it R-TAL-01/02 are left to the caller (who must then pass
        one: the server and the verifier always do).  ``mixing``: the first
        mixes' inputs and the tie seed (:class:`evote.ranked.MixInputs`); without
        it the first mix's input and proof (R-MIX-02/03) and the recount
        (R-MIX-09) are left to the caller, who must then pass one.
        """
        kind = command.kind
        self.phase_state.apply(kind)  # R-PHASE-*
        self.check_signer(command)  # R-SIG-*
        rule = self._rule_for(kind)
        if rule is not None:
            rule(command.body, tally)
        mix_rule = getattr(self, "_mixing_" + kind, None)  # R-MIX-* (the mixnet hunk below)
        if mix_rule is not None:
            mix_rule(command.body, mixing)

    def _rule_for(self, kind: str) -> Callable[[Any, TallyExpectation | None], None] | None:
        """The kind's own rules: the method ``_check_<kind>`` (None if it has none).

        Extension point: a new entry kind gets a registry row in
        :mod:`evote.kinds`, a ``_check_<kind>`` method and ``_fold_<kind>``
        here, and its rule ids in :mod:`evote.rulebook`."""
        return getattr(self, "_check_" + kind, None)

    def fold(self, command: Command) -> BoardState:
        """The state after ``command`` without checking it (a board already checked)."""
        kind = command.kind
        try:
            phase_state = self.phase_state.apply(kind)
        except RuleViolation:
            phase_state = self.phase_state  # a replay that goes on after a violation
        out = dataclasses.replace(
            self, phase_state=phase_state, size=self.size + 1,
            counts={**self.counts, kind: self.count(kind) + 1},
        )
        folder = getattr(out, "_fold_" + kind, None)
        return out if folder is None else folder(command.body)

    def replay(self, commands: Iterable[Command]) -> BoardState:
        """Apply every command in turn (raises on the first violation)."""
        state = self
        for command in commands:
            state = state.apply(command)
        return state

    def check_time(self, kind: str, body: Any, time_ms: int) -> None:
        """R-TIME-01..04: ``kind`` (``body``: its typed body, None for a ballot) may
        stand at board time ``time_ms`` under the manifest's window (evote.schedule)."""
        if self.created is None:
            return
        schedule = Schedule.from_manifest(self.created.manifest)
        if schedule.scheduled or kind == "election_closed":
            check_entry_time(schedule, kind, body, time_ms)

    # --- R-SIG ---------------------------------------------------------------------

    def check_signer(self, command: Command) -> None:
        """R-SIG-01/02: the signature, then the signer named in election_created."""
        kind, body, signed = command.kind, command.body, command.signed
        if kind == ELECTION_CREATED:
            election_id = body.election_id
            allowed = body.official
            who = "the official it names"
        else:
            created = self._created()
            election_id = created.election_id
            spec = SPECS[kind]
            trustee = getattr(body, spec.speaks_for) if spec.speaks_for else None
            try:
                allowed = created.key_of(spec.role, trustee)
            except EvoteError as exc:
                raise violation("R-SIG-02", f"{kind}: {exc.message}", cause=exc) from None
            who = (f"trustee {trustee}" if spec.role == TRUSTEE
                   else "the " + spec.role.replace("_", " "))
        try:
            signed.verify(election_id, kind)
        except InvalidSignature as exc:
            raise violation("R-SIG-01", f"{kind}: {exc.message}", cause=exc) from None
        if signed.signer.raw != allowed.raw:
            raise violation(
                "R-SIG-02",
                f"{kind} must be signed by {who}'s key named in election_created",
                detail={"role": SPECS[kind].role},
            )

    # --- R-DKG: the key ceremony (GJKR, docs/protocol-trustees.md §5) ----------------------

    def _ceremony_open(self, kind: str) -> None:
        if self.joint_key is not None or self.count("key_published"):
            raise violation("R-DKG-06", f"{kind}: trustee message after the key was published")

    def _phase1_open(self, kind: str) -> None:
        """R-DKG-14: QUAL is fixed (ceremony_qualified) before any Feldman value is public,
        so no phase-1 message may come after it."""
        self._ceremony_open(kind)
        if self.qualified is not None or self.count("ceremony_qualified"):
            raise violation("R-DKG-14", f"{kind}: phase-1 message after ceremony_qualified")

    def _n(self) -> int:
        return len(self._created().trustees)

    def _all_announced(self) -> list[int]:
        return [i for i in range(1, self._n() + 1) if i not in self.announcements]

    def _check_trustee_announced(self, a: dkg.Announcement, _t: Any) -> None:
        self._phase1_open("trustee_announced")
        if a.trustee in self.announcements:
            raise violation("R-DKG-01", f"trustee {a.trustee} has already announced")
        c = self._created()
        _dkg(lambda: dkg.check_announcement(
            c.election_id, len(c.trustees), c.threshold, a,
            signing_key=c.key_of(TRUSTEE, a.trustee)))

    def _check_trustee_shares(self, s: dkg.EncryptedShares, _t: Any) -> None:
        self._phase1_open("trustee_shares")
        if s.dealer in self.shares:
            raise violation("R-DKG-05", f"trustee {s.dealer} has already dealt its shares")
        missing = self._all_announced()
        if missing:
            raise violation(
                "R-DKG-04",
                f"shares are dealt only after every trustee announced (missing {missing})",
                detail={"missing": missing},
            )
        own = self.announcements.get(s.dealer)
        if own is None:
            raise violation("R-DKG-04", f"trustee {s.dealer} has not announced")
        _dkg(lambda: dkg.check_shares(self.election_id, own, s))

    def _check_trustee_complaint(self, c: dkg.Complaint, _t: Any) -> None:
        self._phase1_open("trustee_complaint")
        if (c.accuser, c.accused) in self.complaints:
            raise violation(
                "R-DKG-07", f"trustee {c.accuser} has already complained about {c.accused}"
            )
        _dkg(lambda: dkg.check_complaint(self.election_id, self.announcements.values(), c))

    def _check_trustee_complaint_answer(self, a: dkg.ComplaintAnswer, _t: Any) -> None:
        self._phase1_open("trustee_complaint_answer")
        if (a.dealer, a.accuser) in self.answers:
            raise violation(
                "R-DKG-09", f"trustee {a.dealer} has already answered trustee {a.accuser}"
            )
        if (a.accuser, a.dealer) not in self.complaints:
            raise violation(
                "R-DKG-08",
                f"trustee {a.accuser} has no complaint against trustee {a.dealer} to answer",
            )
        if a.dealer not in self.announcements:
            raise violation("R-DKG-12", f"trustee {a.dealer} answers before announcing")
        dealer = self.announcements[a.dealer]
        _dkg(lambda: dkg.check_complaint_answer(self.election_id, dealer, a))

    def _check_ceremony_qualified(self, body: dkg.Qualified, _t: Any) -> None:
        self._ceremony_open("ceremony_qualified")
        if self.qualified is not None or self.count("ceremony_qualified"):
            raise violation("R-DKG-15", "QUAL is already fixed (ceremony_qualified is on the board)")
        missing = self._all_announced()
        if missing:
            raise violation("R-DKG-15", f"QUAL is fixed only after every trustee announced "
                                        f"(missing {missing})", detail={"missing": missing})
        c = self._created()
        try:
            expected = dkg.qualified_set(
                c.election_id, len(c.trustees), c.threshold, self.announcements.values(),
                self.complaints.values(), self.answers.values(), dealt=self.shares.keys())
        except EvoteError as exc:
            raise violation("R-DKG-15", exc.message, cause=exc) from None
        if body.qualified != expected:
            raise violation(
                "R-DKG-15",
                f"ceremony_qualified names {list(body.qualified)}; the phase-1 messages "
                f"qualify {list(expected)}",
                detail={"posted": list(body.qualified), "recomputed": list(expected)},
            )

    def _check_trustee_committed(self, m: dkg.Commitments, _t: Any) -> None:
        self._ceremony_open("trustee_committed")
        if m.trustee in self.commitments:
            raise violation("R-DKG-03", f"trustee {m.trustee} has already revealed its commitments")
        if self.qualified is None:
            raise violation(
                "R-DKG-02", "Feldman values are revealed only after ceremony_qualified fixed QUAL"
            )
        if m.trustee not in self.qualified:
            raise violation("R-DKG-02", f"trustee {m.trustee} is not in QUAL {list(self.qualified)}")
        if self.reconstruct is not None:
            raise violation(
                "R-DKG-16", f"trustee {m.trustee} reveals after ceremony_reconstruct (too late: it "
                            "is being rebuilt from the others' shares)")
        own = self.announcements.get(m.trustee)
        if own is None:  # only on a replay past a violation (R-DKG-15 failed it)
            raise violation("R-DKG-02", f"trustee {m.trustee} has not announced")
        _dkg(lambda: dkg.check_commitments(self.election_id, own, m))

    def _check_ceremony_reconstruct(self, body: dkg.Reconstruct, _t: Any) -> None:
        self._ceremony_open("ceremony_reconstruct")
        if self.qualified is None:
            raise violation("R-DKG-16", "ceremony_reconstruct needs ceremony_qualified first")
        if self.reconstruct is not None or self.count("ceremony_reconstruct"):
            raise violation("R-DKG-16", "ceremony_reconstruct is already on the board")
        expected = dkg.unrevealed(self.qualified, self.commitments.values())
        if body.dealers != expected:
            raise violation(
                "R-DKG-16",
                f"ceremony_reconstruct names {list(body.dealers)}; the QUAL dealers without a "
                f"reveal are {list(expected)}",
                detail={"posted": list(body.dealers), "recomputed": list(expected)},
            )

    def _check_trustee_reconstruction(self, r: dkg.Reconstruction, _t: Any) -> None:
        self._ceremony_open("trustee_reconstruction")
        if self.reconstruct is None or r.dealer not in self.reconstruct:
            raise violation(
                "R-DKG-17", f"trustee {r.dealer} is not named by a ceremony_reconstruct entry: "
                            "only a QUAL dealer that missed its reveal is rebuilt")
        if (r.trustee, r.dealer) in self.reconstructions:
            raise violation(
                "R-DKG-17", f"trustee {r.trustee} has already published its share from {r.dealer}"
            )
        if r.trustee not in self.announcements or r.dealer not in self.announcements:
            raise violation("R-DKG-17", f"trustee {r.trustee} or {r.dealer} has not announced")
        _dkg(lambda: dkg.check_reconstruction(
            self.election_id, self.announcements[r.trustee], self.announcements[r.dealer], r))

    def _check_key_published(self, body: KeyPublished, _t: Any) -> None:
        if self.qualified is None:
            raise violation("R-DKG-18", "key_published needs ceremony_qualified first")
        try:
            expected = self.recomputed_joint_key()
        except EvoteError as exc:
            raise violation("R-DKG-11", exc.message, cause=exc) from None
        undealt = [i for i in expected.qualified if i not in self.shares]
        if undealt:
            raise violation(
                "R-DKG-13",
                f"trustees {undealt} are qualified but have not dealt their shares",
                detail={"missing": undealt},
            )
        if canonical_json(expected.to_json()) != canonical_json(body.joint_key.to_json()):
            raise violation(
                "R-DKG-11",
                "the published joint key is not the one the trustees' messages give",
                detail={"published": body.joint_key.to_json(), "recomputed": expected.to_json()},
            )

    def _fold_trustee_announced(self, a: dkg.Announcement) -> BoardState:
        return self._put("announcements", a.trustee, a)

    def _fold_trustee_committed(self, m: dkg.Commitments) -> BoardState:
        return self._put("commitments", m.trustee, m)

    def _fold_trustee_shares(self, s: dkg.EncryptedShares) -> BoardState:
        return self._put("shares", s.dealer, s)

    def _fold_trustee_complaint(self, c: dkg.Complaint) -> BoardState:
        return self._put("complaints", (c.accuser, c.accused), c)

    def _fold_trustee_complaint_answer(self, a: dkg.ComplaintAnswer) -> BoardState:
        return self._put("answers", (a.dealer, a.accuser), a)

    def _fold_ceremony_qualified(self, body: dkg.Qualified) -> BoardState:
        if self.qualified is not None:
            return self
        return dataclasses.replace(self, qualified=body.qualified)

    def _fold_ceremony_reconstruct(self, body: dkg.Reconstruct) -> BoardState:
        if self.reconstruct is not None:
            return self
        return dataclasses.replace(self, reconstruct=body.dealers)

    def _fold_trustee_reconstruction(self, r: dkg.Reconstruction) -> BoardState:
        return self._put("reconstructions", (r.trustee, r.dealer), r)

    def _fold_key_published(self, body: KeyPublished) -> BoardState:
        if self.joint_key is not None:
            return self
        return dataclasses.replace(self, joint_key=body.joint_key)

    def _put(self, name: str, key: Any, value: Any) -> BoardState:
        table = getattr(self, name)
        if key in table:  # a replay past a violation keeps the first
            return self
        if self.joint_key is not None and name in _QUAL_TABLES:
            # R-DKG-06: a phase-1 message after key_published does not change QUAL
            # (docs/rules.md 3.6), so a replay past it leaves QUAL as posted.
            return self
        return dataclasses.replace(self, **{name: {**table, key: value}})

    # --- election_created, credentials, opening ------------------------------------------

    def _fold_election_created(self, body: ElectionCreated) -> BoardState:
        if self.created is not None:
            return self
        return dataclasses.replace(self, created=body)

    def _check_credentials_published(self, body: CredentialsPublished, _t: Any) -> None:
        merged_credentials(self.credentials, body.credentials)

    def _fold_credentials_published(self, body: CredentialsPublished) -> BoardState:
        try:
            merged = merged_credentials(self.credentials, body.credentials)
        except RuleViolation:
            return self
        return dataclasses.replace(
            self, batches=(*self.batches, body.credentials), credentials=merged
        )

    def _check_election_opened(self, body: ElectionOpened, _t: Any) -> None:
        ctx = self.context()
        if ctx.fingerprint != body.fingerprint:
            raise violation(
                "R-OPEN-01",
                "the fingerprint is not the one recomputed from the manifest, joint key, "
                "trustee commitments and credential list",
                detail={"posted": _b64(body.fingerprint), "recomputed": _b64(ctx.fingerprint)},
            )

    def _fold_election_opened(self, body: ElectionOpened) -> BoardState:
        if self.fingerprint is not None:
            return self
        return dataclasses.replace(
            self, fingerprint=body.fingerprint, booth_sha256=body.booth_sha256
        )

    # --- R-TAL: tally, partials, result --------------------------------------------------

    def _check_tally_posted(self, body: TallyPosted, expected: TallyExpectation | None) -> None:
        # The shape first (R-MIX-11): a tally that sums the ranked questions too is
        # that rule's violation, not "not the sum" of the tallied ones (R-TAL-02).
        self._mixing_tally_posted(body, None)
        found = self.tally_violations(body, expected)
        if found:
            raise found[0]

    def tally_violations(
        self, body: TallyPosted, expected: TallyExpectation | None
    ) -> list[RuleViolation]:
        """Every way ``tally_posted`` breaks R-TAL-01/02 (the verifier reports each in
        its own check; :meth:`check` raises the first)."""
        if expected is None:
            return []
        out = []
        if body.counted != expected.counted:
            out.append(violation(
                "R-TAL-01",
                f"the tally says {body.counted} ballots were counted; the board has "
                f"{expected.counted} (the last ballot of each credential)",
            ))
        elif body.total_weight != expected.total_weight:
            out.append(violation(
                "R-TAL-01",
                f"the tally says total weight {body.total_weight}; the counted ballots weigh "
                f"{expected.total_weight}",
            ))
        try:
            expected.verify(body.tally)
        except EvoteError as exc:
            out.append(violation("R-TAL-02", exc.message, cause=exc))
        return out

    def _fold_tally_posted(self, body: TallyPosted) -> BoardState:
        if self.tally is not None:
            return self
        return dataclasses.replace(self, tally=body)

    def _decryption_inputs(self) -> tuple[bytes, dkg.JointKey, TallyPosted]:
        if self.fingerprint is None or self.joint_key is None or self.tally is None:
            raise violation("R-PHASE-06", "there is no tally to decrypt yet")
        return self.fingerprint, self.joint_key, self.tally

    def _check_partial_decryption(self, p: PartialDecryption, _t: Any) -> None:
        if p.trustee in self.partials:
            raise violation(
                "R-TAL-04", f"trustee {p.trustee} has already posted its partial decryption"
            )
        fingerprint, joint, tally = self._decryption_inputs()
        key = joint.verification_keys.get(p.trustee)
        if key is None:
            raise violation(
                "R-TAL-03", f"trustee {p.trustee} is not a qualified trustee",
                detail={"trustee": p.trustee},
            )
        # Robust decryption (R-TAL-06, docs/protocol-trustees.md §5.13): a signed partial
        # of the tally's shape is recorded even if its proofs fail; combine skips it.
        try:
            check_partial_shape(tally.tally, p)
        except EvoteError as exc:
            raise violation("R-TAL-03", exc.message, cause=exc) from None

    def _fold_partial_decryption(self, p: PartialDecryption) -> BoardState:
        return self._put("partials", p.trustee, p)

    def _check_result_published(self, body: ResultPublished, _t: Any) -> None:
        fingerprint, joint, tally = self._decryption_inputs()
        try:
            verify_result(fingerprint, tally.tally, self.partials.values(), joint, body.result)
        except EvoteError as exc:
            raise violation("R-TAL-05", exc.message, cause=exc) from None

    def _fold_result_published(self, body: ResultPublished) -> BoardState:
        if self.result is not None:
            return self
        return dataclasses.replace(self, result=body.result)




def _dkg(run: Callable[[], None]) -> None:
    """R-DKG-10: the core's check of one trustee message."""
    try:
        run()
    except EvoteError as exc:
        raise violation("R-DKG-10", exc.message, cause=exc) from None


def _b64(data: bytes) -> str:
    return b64encode(data)


# --- R-BAL: ballots --------------------------------------------------------------------


def check_cast(ctx: ElectionContext, ballot: Ballot) -> int:
    """R-BAL-01/02: the ballot's credential is listed and the ballot verifies; its weight."""
    try:
        return verify_ballot(ctx, ballot)
    except CredentialError as exc:
        raise violation("R-BAL-01", exc.message, cause=exc) from None
    except EvoteError as exc:
        raise violation("R-BAL-02", exc.message, cause=exc) from None


def check_audit(ctx: ElectionContext, audited: AuditedBallot) -> None:
    """R-BAL-01/04: the audited ballot's credential is listed and it re-encrypts."""
    try:
        verify_audit(ctx, audited)
    except CredentialError as exc:
        raise violation("R-BAL-01", exc.message, cause=exc) from None
    except EvoteError as exc:
        raise violation("R-BAL-04", exc.message, cause=exc) from None


def ballot_alphas(ballot: Ballot) -> list[bytes]:
    """The ballot's ciphertext alphas (R-BAL-03: none repeated inside the ballot)."""
    alphas = [ct.alpha.raw for answer in ballot.answers for ct in answer.choices]
    if len(set(alphas)) != len(alphas):
        raise violation("R-BAL-03", "the ballot reuses the randomness of one of its ciphertexts")
    return alphas


def check_fresh(alphas: Iterable[bytes], taken: Mapping[bytes, int] | Any) -> None:
    """R-BAL-03: no alpha of a ballot is already on the board (``taken``: alpha -> index)."""
    for alpha in alphas:
        if alpha in taken:
            where = taken[alpha] if isinstance(taken, Mapping) else None
            raise violation(
                "R-BAL-03",
                "a ciphertext of this ballot is already on the board",
                detail={} if where is None else {"index": where},
            )


def resend_of(alphas: Sequence[bytes], taken: Mapping[bytes, int]) -> int | None:
    """R-BAL-03 for a ballot that may be sent again (docs/rules.md §3.5).

    None: no ciphertext of the ballot is taken (``taken``: alpha -> index), it is fresh.
    An index: every one of its ciphertexts is that one entry's, so the send may be the
    same ballot again -- :func:`is_resend` decides, and a resend is answered from the
    entry, appending nothing, which is why it never breaks R-BAL-03.  Any other reuse
    breaks R-BAL-03 (:func:`duplicate_of`).
    """
    found = [taken[a] for a in alphas if a in taken]
    if not found:
        return None
    if len(found) == len(alphas) and len(set(found)) == 1:
        return found[0]
    raise duplicate_of(found[0])


def is_resend(entry: Entry, kind: str, payload: Mapping[str, Any]) -> bool:
    """``entry`` (found by :func:`resend_of`) is a ``kind`` entry holding exactly
    ``payload`` (canonical bytes): the same ballot, sent again."""
    return entry.kind == kind and canonical_json(entry.payload) == canonical_json(payload)


def duplicate_of(index: int) -> RuleViolation:
    """R-BAL-03 broken: a ciphertext of the ballot is entry ``index``'s."""
    return violation(
        "R-BAL-03", "a ciphertext of this ballot is already on the board", detail={"index": index}
    )


V = TypeVar("V")


class CountedSet(Generic[V]):
    """The counting rule (docs/rules.md "Which ballot counts"): the last *valid*
    ``ballot_cast`` of each credential, cast while the election was open.

    A ballot that breaks R-BAL-01/02 is never appended by the server, and
    makes a record fail verification; it is also never counted, so on a
    failing record the verifier's counts still describe the valid ballots.
    On every record that verifies, "last" and "last valid" are the same ballot.

    Mutable on purpose (one per replay, millions of ballots): ``cast`` returns
    the value it replaces, which the verifier subtracts from its running sums.
    """

    def __init__(self) -> None:
        self._last: dict[bytes, V] = {}

    def cast(self, credential: bytes, value: V) -> V | None:
        """A valid ballot of ``credential`` (in board order); the one it replaces, if any."""
        previous = self._last.get(credential)
        self._last[credential] = value
        return previous

    def __len__(self) -> int:
        return len(self._last)

    def __iter__(self) -> Iterator[bytes]:
        return iter(self._last)

    def items(self) -> Iterator[tuple[bytes, V]]:
        return iter(self._last.items())

    def values(self) -> Iterator[V]:
        return iter(self._last.values())

    def weight(self, credentials: CredentialList | None) -> int:
        if credentials is None:
            return 0
        return sum(credentials.weight_of(VerifyKey(c)) for c in self._last)

