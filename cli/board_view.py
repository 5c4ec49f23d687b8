"""What the CLI reads off a board: the entries of one election, parsed and checked.

Commands never take the server's word for anything they act on.  A trustee
about to decrypt, a voter about to encrypt, an official about to publish the
key all fetch the board's entries, check the hash chain
(:func:`evote.board.verify_chain`) and the signature and signer of every
command they use, and recompute what they need from that (the joint key from
the trustees' messages, the fingerprint from its parts, the aggregate from the
counted ballots).  The full audit of a record is the verifier's job
(``evote-verify``); this module checks what each command relies on.

Every command body is parsed and its signer checked by :mod:`evote.payloads`
(the same rules the server applies: the official, the credential authority
or trustee i named in ``election_created``, per kind).
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
from evote.errors import BoardError, EvoteError, KeyCeremonyError, SchemaError, UnauthorisedSigner
from evote.fingerprint import ElectionContext
from evote.manifest import Manifest
from evote.payloads import (
    Command,
    ElectionCreated,
    parse_ballot_audited,
    parse_ballot_cast,
)
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

    # --- generic -------------------------------------------------------------

    @property
    def size(self) -> int:
        return len(self.entries)

    @property
    def state(self) -> ElectionState:
        return ElectionState.replay(e.kind for e in self.entries)

    @property
    def phase(self) -> Phase | None:
        return self.state.phase

    def of_kind(self, kind: str) -> list[Entry]:
        return [e for e in self.entries if e.kind == kind]

    def has(self, kind: str) -> bool:
        return any(e.kind == kind for e in self.entries)

    def _memo(self, key: str, compute: Callable[[], T]) -> T:
        if key not in self._cache:
            self._cache[key] = compute()
        return self._cache[key]

    def _body(self, entry: Entry) -> Any:
        """The typed body of a command entry, after its signature and signer checks."""
        try:
            command = Command.from_entry(entry)
            command.check(self.election_id, self.setup)
        except EvoteError as exc:
            raise BoardError(f"entry {entry.index} ({entry.kind}): {exc.message}") from None
        return command.body

    def bodies(self, kind: str) -> list[Any]:
        """Every checked body of ``kind``, in board order."""
        return self._memo(f"bodies:{kind}", lambda: [self._body(e) for e in self.of_kind(kind)])

    def first_body(self, kind: str) -> Any | None:
        found = self.bodies(kind)
        return found[0] if found else None

    # --- setup ---------------------------------------------------------------

    @property
    def setup(self) -> ElectionCreated:
        """Entry 0's body, signed by the official it names."""

        def compute() -> ElectionCreated:
            first = self.entries[0]
            try:
                command = Command.from_entry(first)
                if command.kind != "election_created":
                    raise BoardError("entry 0 is not election_created")
                created: ElectionCreated = command.body
                command.signed.verify(self.election_id, "election_created")
            except EvoteError as exc:
                raise BoardError(f"entry 0 (election_created): {exc.message}") from None
            if command.signed.signer.raw != created.official.raw:
                raise BoardError("entry 0 is not signed by the official it names")
            if created.election_id != self.election_id:
                raise BoardError("entry 0's manifest is for another election")
            return created

        return self._memo("setup", compute)

    # --- trustees ------------------------------------------------------------

    def trustee_messages(self, kind: str) -> list[Any]:
        """Every message of a trustee kind, parsed, signed by the trustee it names."""
        return self.bodies(kind)

    def ceremony(self) -> Ceremony:
        """Every key-ceremony message on the board (docs/protocol-trustees.md §5)."""
        qualified = self.first_body("ceremony_qualified")
        reconstruct = self.first_body("ceremony_reconstruct")
        return Ceremony(
            announcements=self.bodies("trustee_announced"),
            shares=self.bodies("trustee_shares"),
            complaints=self.bodies("trustee_complaint"),
            answers=self.bodies("trustee_complaint_answer"),
            qualified=None if qualified is None else qualified.qualified,
            commitments=self.bodies("trustee_committed"),
            reconstruct=None if reconstruct is None else reconstruct.dealers,
            reconstructions=self.bodies("trustee_reconstruction"),
        )

    def ceremony_outcome(self) -> dkg.CeremonyOutcome:
        """QUAL, the Feldman values and the joint key recomputed from the trustees' messages."""
        setup = self.setup
        c = self.ceremony()
        return dkg.ceremony_outcome(
            self.election_id,
            len(setup.trustees),
            setup.threshold,
            c.announcements,
            c.complaints,
            c.answers,
            c.commitments,
            c.reconstructions,
            signing_keys=signing_keys(setup),
        )

    def computed_joint_key(self) -> dkg.JointKey:
        """The joint key recomputed from the trustees' messages."""
        return self.ceremony_outcome().joint

    def joint_key(self) -> dkg.JointKey | None:
        """The published joint key, checked against the recomputed one (None if not posted)."""

        def compute() -> dkg.JointKey | None:
            body = self.first_body("key_published")
            if body is None:
                return None
            if body.joint_key != self.computed_joint_key():
                raise KeyCeremonyError(
                    "the published joint key is not the one the trustees' messages give"
                )
            return body.joint_key

        return self._memo("joint_key", compute)

    # --- credentials and context ---------------------------------------------

    def credentials(self) -> CredentialList | None:
        body = self.first_body("credentials_published")
        return None if body is None else body.credentials

    def context(self) -> ElectionContext:
        """Manifest, joint key, trustee commitments and credential list, bound by their fingerprint.

        When the election has been opened, the fingerprint the official posted
        must equal the recomputed one.
        """

        def compute() -> ElectionContext:
            joint = self.joint_key()
            credentials = self.credentials()
            if joint is None or credentials is None:
                missing = "the joint key" if joint is None else "the credential list"
                raise BoardError(f"{missing} is not on the board yet")
            ctx = ElectionContext.build(
                self.setup.manifest,
                joint.joint_key,
                dkg.trustee_commitments(self.ceremony_outcome().feldman),
                credentials,
            )
            opened = self.first_body("election_opened")
            if opened is not None and opened.fingerprint != ctx.fingerprint:
                raise BoardError(
                    "the fingerprint posted at opening is not the one recomputed from the board"
                )
            return ctx

        return self._memo("context", compute)

    # --- ballots and tally -----------------------------------------------------

    def ballots(self) -> list[tuple[int, Ballot]]:
        """Every cast ballot as (entry index, ballot), in board order."""

        def compute() -> list[tuple[int, Ballot]]:
            manifest = self.setup.manifest
            out = []
            for entry in self.of_kind("ballot_cast"):
                try:
                    out.append((entry.index, parse_ballot_cast(entry, manifest)))
                except EvoteError as exc:
                    raise BoardError(f"entry {entry.index} (ballot_cast): {exc.message}") from None
            return out

        return self._memo("ballots", compute)

    def audited(self) -> list[tuple[int, AuditedBallot]]:
        manifest = self.setup.manifest
        out = []
        for entry in self.of_kind("ballot_audited"):
            try:
                out.append((entry.index, parse_ballot_audited(entry, manifest)))
            except EvoteError as exc:
                raise BoardError(f"entry {entry.index} (ballot_audited): {exc.message}") from None
        return out

    def counted(self) -> list[tuple[int, Ballot]]:
        """The last ballot of each credential (re-voting: the last one counts)."""
        last: dict[bytes, tuple[int, Ballot]] = {}
        for index, ballot in self.ballots():
            last[ballot.credential.raw] = (index, ballot)
        return sorted(last.values(), key=lambda item: item[0])

    def posted_tally(self) -> tuple[EncryptedTally, int, int] | None:
        """(tally, counted, total_weight) from tally_posted, or None."""
        body = self.first_body("tally_posted")
        return None if body is None else (body.tally, body.counted, body.total_weight)

    def partials(self) -> list[PartialDecryption]:
        return self.bodies("partial_decryption")

    def result(self) -> Result | None:
        body = self.first_body("result_published")
        return None if body is None else body.result


def counted_weights(
    ctx: ElectionContext, counted: Sequence[tuple[int, Ballot]]
) -> Iterable[tuple[int, Sequence[Sequence[Any]]]]:
    """(weight, ciphertexts per question and option) for :func:`evote.tally.aggregate`."""
    for _, ballot in counted:
        yield (
            ctx.credentials.weight_of(ballot.credential),
            [answer.choices for answer in ballot.answers],
        )


def result_bounds(manifest: Manifest, total_weight: int) -> list[list[int]]:
    """The largest count each option can reach: total counted weight × max score."""
    if total_weight < 0:
        raise SchemaError("total weight must not be negative")
    return [[total_weight * q.max_score] * len(q.options) for q in manifest.questions]
