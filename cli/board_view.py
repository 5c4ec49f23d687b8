"""What the CLI reads off a board: the entries of one election, parsed and checked.

Commands never take the server's word for anything they act on.  A trustee
about to decrypt, a voter about to encrypt, an official about to publish the
key all fetch the board's entries, check the hash chain
(:func:`evote.board.verify_chain`) and the signature and signer of every
command they use, and recompute what they need from that (the joint key from
the trustees' messages, the fingerprint from its parts, the aggregate from the
counted ballots).  The full audit of a record is the verifier's job
(``evote-verify``); this module checks what each command relies on.

Every command entry goes through the board projection (:mod:`evote.rules`,
docs/rules.md): the same rules the server applied before appending it and
the verifier applies to the record, so the CLI's view of an election (its
phase, credential batches, key, fingerprint) is theirs.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

from evote import dkg
from evote.ballot import AuditedBallot, Ballot
from evote.board import Entry, verify_chain
from evote.credentials import CredentialList
from evote.election import ElectionState, Phase
from evote.errors import BoardError, EvoteError, RuleViolation, SchemaError, UnauthorisedSigner
from evote.fingerprint import ElectionContext
from evote.kinds import BALLOT_AUDITED, BALLOT_CAST, BALLOT_KINDS, ELECTION_CLOSED
from evote.manifest import Manifest
from evote.payloads import (
    Command,
    ElectionCreated,
    parse_ballot_audited,
    parse_ballot_cast,
)
from evote.ranked import MixInputs, mix_inputs, tally_bounds, tally_ciphertexts
from evote.rules import BoardState, CountedSet
from evote.signing import VerifyKey
from evote.tally import EncryptedTally, PartialDecryption, Result

T = TypeVar("T")


def trustee_index(created: ElectionCreated, key: VerifyKey) -> int:
    """1-based index of ``key`` among the trustees (:class:`UnauthorisedSigner` if absent)."""
    for i, k in enumerate(created.trustees, start=1):
        if k.raw == key.raw:
            return i
    raise UnauthorisedSigner(
        f"this trustee key ({key.to_json()[:12]}…) is not one of the election's trustees"
    )


def signing_keys(created: ElectionCreated) -> dict[int, VerifyKey]:
    return {i: k for i, k in enumerate(created.trustees, start=1)}


@dataclass(frozen=True)
class Ceremony:
    """The key-ceremony messages of one board, by kind (GJKR: phase 1, cut, phase 2)."""

    announcements: list[dkg.Announcement]
    shares: list[dkg.EncryptedShares]
    complaints: list[dkg.Complaint]
    answers: list[dkg.ComplaintAnswer]
    qualified: tuple[int, ...] | None
    commitments: list[dkg.Commitments]
    reconstruct: tuple[int, ...] | None
    reconstructions: list[dkg.Reconstruction]


@dataclass
class BoardView:
    """The entries of one election (a prefix of its board), chain-checked."""

    election_id: str
    entries: list[Entry]
    _cache: dict[str, Any] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        if not self.entries:
            raise BoardError(f"election {self.election_id!r} has an empty board")
        verify_chain(self.entries)
        if self.entries[0].election != self.election_id:
            raise BoardError(
                f"the server sent the board of {self.entries[0].election!r}, "
                f"not {self.election_id!r}"
            )

    # --- the projection --------------------------------------------------------

    @property
    def board(self) -> BoardState:
        """The board projection (:mod:`evote.rules`) over every entry, every rule checked.

        The same fold the server ran before appending and the verifier runs on the
        record, so the CLI sees exactly what they see (several credential batches,
        the joint key, the fingerprint).  A broken rule is a :class:`BoardError`
        naming the entry and the rule id: a command never acts on such a board.
        R-TAL-01/02 need the counted ballots' aggregate, which the commands that
        rely on the tally recompute themselves (``evote election tally``).
        """

        def compute() -> BoardState:
            state = BoardState()
            mixing = None  # known from election_closed on (no ballot may follow it)
            for entry in self.entries:
                try:
                    if entry.kind in BALLOT_KINDS:
                        state = state.apply_kind(entry.kind)
                    else:
                        state = state.apply(Command.from_entry(entry), mixing=mixing)
                    if entry.kind == ELECTION_CLOSED:
                        mixing = self.mixing()
                except RuleViolation as exc:
                    raise BoardError(
                        f"entry {entry.index} ({entry.kind}) breaks {exc.rule}: {exc.message}",
                        detail={"rule": exc.rule, "index": entry.index},
                    ) from None
                except EvoteError as exc:
                    raise BoardError(
                        f"entry {entry.index} ({entry.kind}): {exc.message}"
                    ) from None
            return state

        return self._memo("board", compute)

    def mixing(self) -> MixInputs | None:
        """The mixnet's inputs (:func:`evote.ranked.mix_inputs`) once the board holds
        ``election_closed``: the counted ballots' rows and the tie seed, so that the
        projection checks the first mix of each question and every recount too."""
        closed = self.of_kind(ELECTION_CLOSED)
        if not closed:
            return None

        def compute() -> MixInputs:
            manifest = self.entries_manifest()
            pairs = [(i, [list(a.choices) for a in b.answers]) for i, b in self.counted()]
            return mix_inputs(manifest, pairs if manifest.mixed_questions else [], closed[0])

        return self._memo("mixing", compute)

    def entries_manifest(self) -> Manifest:
        """Entry 0's manifest, read without the projection (which asks :meth:`mixing`)."""
        return Command.from_entry(self.entries[0]).body.manifest

    # --- generic -------------------------------------------------------------

    @property
    def size(self) -> int:
        return len(self.entries)

    @property
    def state(self) -> ElectionState:
        return self.board.phase_state

    @property
    def phase(self) -> Phase | None:
        return self.board.phase

    def allows(self, kind: str) -> bool:
        """Whether the phase table (R-PHASE-*) lets ``kind`` come next: the first
        thing the server will ask, asked here for an early, friendly refusal."""
        return kind in self.board.allowed_kinds()

    def of_kind(self, kind: str) -> list[Entry]:
        return [e for e in self.entries if e.kind == kind]

    def has(self, kind: str) -> bool:
        return self.board.count(kind) > 0

    def _memo(self, key: str, compute: Callable[[], T]) -> T:
        if key not in self._cache:
            self._cache[key] = compute()
        return self._cache[key]

    # --- setup ---------------------------------------------------------------

    @property
    def setup(self) -> ElectionCreated:
        """Entry 0's body, signed by the official it names (R-SIG-02)."""

        def compute() -> ElectionCreated:
            created = self.board.created
            if created is None:
                raise BoardError("entry 0 is not election_created")
            if created.election_id != self.election_id:
                raise BoardError("entry 0's manifest is for another election")
            return created

        return self._memo("setup", compute)

    # --- trustees ------------------------------------------------------------

    def ceremony(self) -> Ceremony:
        """Every key-ceremony message on the board, each in trustee order (checked by the
        projection, R-DKG-*; docs/protocol-trustees.md §5)."""
        b = self.board

        def ordered(table: Any) -> list[Any]:
            return [m for _, m in sorted(table.items())]

        return Ceremony(
            announcements=ordered(b.announcements),
            shares=ordered(b.shares),
            complaints=ordered(b.complaints),
            answers=ordered(b.answers),
            qualified=b.qualified,
            commitments=ordered(b.commitments),
            reconstruct=b.reconstruct,
            reconstructions=ordered(b.reconstructions),
        )

    def trustee_messages(self, kind: str) -> list[Any]:
        """Every message of a trustee kind (one of :data:`evote.kinds.CEREMONY_KINDS`)."""
        c = self.ceremony()
        return {
            "trustee_announced": c.announcements,
            "trustee_shares": c.shares,
            "trustee_complaint": c.complaints,
            "trustee_complaint_answer": c.answers,
            "trustee_committed": c.commitments,
            "trustee_reconstruction": c.reconstructions,
        }[kind]

    def ceremony_outcome(self) -> dkg.CeremonyOutcome:
        """QUAL, the Feldman values and the joint key recomputed from the trustees' messages."""
        return self.board.ceremony_outcome()

    def computed_joint_key(self) -> dkg.JointKey:
        """The joint key recomputed from the trustees' messages."""
        return self.board.recomputed_joint_key()

    def joint_key(self) -> dkg.JointKey | None:
        """The published joint key; the projection checked it is the recomputed one (R-DKG-11)."""
        return self.board.joint_key

    # --- credentials and context ---------------------------------------------

    def credentials(self) -> CredentialList | None:
        """The election's list: the union of every batch (docs/rules.md §3.2)."""
        return self.board.credentials

    def context(self) -> ElectionContext:
        """Manifest, joint key, trustee commitments and credential list, bound by their
        fingerprint (the projection checked election_opened's, R-OPEN-01)."""

        def compute() -> ElectionContext:
            if self.board.joint_key is None or self.board.credentials is None:
                missing = "the joint key" if self.board.joint_key is None else (
                    "the credential list")
                raise BoardError(f"{missing} is not on the board yet")
            try:
                return self.board.context()
            except EvoteError as exc:
                raise BoardError(exc.message) from None

        return self._memo("context", compute)

    # --- ballots and tally -----------------------------------------------------

    def ballots(self) -> list[tuple[int, Ballot]]:
        """Every cast ballot as (entry index, ballot), in board order."""

        def compute() -> list[tuple[int, Ballot]]:
            manifest = self.entries_manifest()  # not the projection's: it asks for ballots
            out = []
            for entry in self.of_kind(BALLOT_CAST):
                try:
                    out.append((entry.index, parse_ballot_cast(entry, manifest)))
                except EvoteError as exc:
                    raise BoardError(f"entry {entry.index} ({BALLOT_CAST}): {exc.message}") from None
            return out

        return self._memo("ballots", compute)

    def audited(self) -> list[tuple[int, AuditedBallot]]:
        manifest = self.setup.manifest
        out = []
        for entry in self.of_kind(BALLOT_AUDITED):
            try:
                out.append((entry.index, parse_ballot_audited(entry, manifest)))
            except EvoteError as exc:
                raise BoardError(f"entry {entry.index} ({BALLOT_AUDITED}): {exc.message}") from None
        return out

    def counted(self) -> list[tuple[int, Ballot]]:
        """The counted set (docs/rules.md §3.1, :class:`evote.rules.CountedSet`): the
        last ballot of each credential, as (entry index, ballot) in board order."""
        last: CountedSet[tuple[int, Ballot]] = CountedSet()
        for index, ballot in self.ballots():
            last.cast(ballot.credential.raw, (index, ballot))
        return sorted(last.values(), key=lambda item: item[0])

    def posted_tally(self) -> tuple[EncryptedTally, int, int] | None:
        """(tally, counted, total_weight) from tally_posted, or None."""
        body = self.board.tally
        return None if body is None else (body.tally, body.counted, body.total_weight)

    def partials(self) -> list[PartialDecryption]:
        return [p for _, p in sorted(self.board.partials.items())]

    def result(self) -> Result | None:
        return self.board.result


def counted_weights(
    ctx: ElectionContext, counted: Sequence[tuple[int, Ballot]]
) -> Iterable[tuple[int, Sequence[Sequence[Any]]]]:
    """(weight, ciphertexts of the tallied questions) for :func:`evote.tally.aggregate`:
    ranked and grades questions are mixed, never summed (R-MIX-11)."""
    for _, ballot in counted:
        yield (
            ctx.credentials.weight_of(ballot.credential),
            tally_ciphertexts(ctx.manifest, [answer.choices for answer in ballot.answers]),
        )


def result_bounds(manifest: Manifest, total_weight: int) -> list[list[int]]:
    """The largest count each tallied option can reach: total counted weight × max score."""
    if total_weight < 0:
        raise SchemaError("total weight must not be negative")
    return tally_bounds(manifest, total_weight)
