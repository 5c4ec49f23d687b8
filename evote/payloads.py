"""Typed payloads of the board's entries: who signs each kind, and what its body holds.

Every lifecycle entry's payload is a :class:`~evote.commands.SignedCommand`
JSON; ballots are not commands (a ballot is signed by its credential inside).
This module turns a payload into typed objects once, at the boundary, so the
server's rules and an auditor's checks both work on dataclasses, never on
dicts:

==========================  ======================  =========================================
kind                        signer (role)           body
==========================  ======================  =========================================
election_created            official (allow-list)   :class:`ElectionCreated`
trustee_announced           trustee i               :class:`evote.dkg.Announcement`
trustee_shares              trustee i               :class:`evote.dkg.EncryptedShares`
trustee_complaint           trustee j (accuser)     :class:`evote.dkg.Complaint`
trustee_complaint_answer    trustee i (dealer)      :class:`evote.dkg.ComplaintAnswer`
ceremony_qualified          official                :class:`evote.dkg.Qualified`
trustee_committed           trustee i               :class:`evote.dkg.Commitments`
ceremony_reconstruct        official                :class:`evote.dkg.Reconstruct`
trustee_reconstruction      trustee j               :class:`evote.dkg.Reconstruction`
key_published               official                :class:`KeyPublished`
credentials_published       credential authority    :class:`CredentialsPublished`
election_opened             official                :class:`ElectionOpened`
ballot_cast                 (credential, inside)    ``{"ballot": Ballot}``
ballot_audited              (credential, inside)    ``{"audited": AuditedBallot}``
election_closed             official                :class:`ElectionClosed` (``{}``)
tally_posted                official                :class:`TallyPosted`
partial_decryption          trustee j               :class:`evote.tally.PartialDecryption`
mix_posted                  mixer m                 :class:`evote.mixnet.Mix`
mix_decryption              trustee j               :class:`evote.mixdecryption.RowsPartialDecryption`
ranked_result               official                :class:`evote.mix_payloads.RankedResult`
result_published            official                :class:`ResultPublished`
==========================  ======================  =========================================

The "trustee i" of a trustee message is the index the message itself names
(``Announcement.trustee``, ``EncryptedShares.dealer``, ``Complaint.accuser``,
...); the signer must be the i-th trustee key listed in ``election_created``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from evote.ballot import AuditedBallot, Ballot
from evote.board import Entry
from evote.commands import SignedCommand
from evote.credentials import CredentialList
from evote.dkg.messages import MAX_TRUSTEES, JointKey
from evote.encoding import MAX_SAFE_INTEGER, Fields, b64encode
from evote.errors import BoardError, EncodingError, SchemaError, UnauthorisedSigner
from evote.kinds import BALLOT_KINDS as BALLOT_KINDS  # re-exported
from evote.kinds import COMMAND_KINDS as COMMAND_KINDS
from evote.kinds import CREDENTIAL_AUTHORITY as CREDENTIAL_AUTHORITY
from evote.kinds import MIXER, OFFICIAL, REGISTRY, SPECS, TRUSTEE, speaks_for
from evote.manifest import Manifest
from evote.mixnet import MixerKey
from evote.signing import VerifyKey
from evote.tally import EncryptedTally, Result

SIGNER_ROLE: dict[str, str] = {s.kind: s.role for s in REGISTRY if s.is_command}
"""Which role signs each command kind (a view of :data:`evote.kinds.REGISTRY`)."""

def _key(f: Fields, name: str) -> VerifyKey:
    try:
        return VerifyKey.from_json(f.raw(name))
    except EncodingError as exc:
        raise EncodingError(f"{f.sub(name)}: {exc.message}") from None


# --- bodies -----------------------------------------------------------------------


@dataclass(frozen=True)
class ElectionCreated:
    """Entry 0: the manifest and the keys of everyone who may sign later entries."""

    manifest: Manifest
    official: VerifyKey
    credential_authority: VerifyKey
    trustees: tuple[VerifyKey, ...]
    threshold: int

    def __post_init__(self) -> None:
        """The payload rules of entry 0 (R-REC-06), also what ``evote election create``
        checks before it signs anything."""
        n = len(self.trustees)
        if not 1 <= n <= MAX_TRUSTEES:
            raise SchemaError(
                f"election_created.trustees: an election needs 1 to {MAX_TRUSTEES} trustees, "
                f"got {n}"
            )
        if len({k.raw for k in self.trustees}) != n:
            raise SchemaError("election_created.trustees: the same trustee key is listed twice")
        if isinstance(self.threshold, bool) or not 1 <= self.threshold <= n:
            raise SchemaError(
                "election_created.threshold: threshold must be between 1 and the number of "
                f"trustees ({n}), got {self.threshold}"
            )
        roles = {self.official.raw, self.credential_authority.raw}
        if len(roles) != 2 or roles & {k.raw for k in self.trustees}:
            raise SchemaError(
                "election_created: the official, the credential authority and each trustee "
                "must use different keys"
            )

    @property
    def election_id(self) -> str:
        return self.manifest.election_id

    @property
    def mixers(self) -> tuple[MixerKey, ...]:
        """The mixers in mixing order: the manifest's, or trustee i as mixer i."""
        return self.manifest.mixers_or(self.trustees)

    def key_of(self, role: str, trustee: int | None = None) -> VerifyKey:
        """The key allowed to sign for ``role`` (trustee or mixer ``i`` is 1-based)."""
        if role == OFFICIAL:
            return self.official
        if role == CREDENTIAL_AUTHORITY:
            return self.credential_authority
        if role == MIXER:
            mixers = self.mixers
            if trustee is None or not 1 <= trustee <= len(mixers):
                raise UnauthorisedSigner(f"there is no mixer {trustee} in this election")
            return mixers[trustee - 1].verify_key
        if trustee is None or not 1 <= trustee <= len(self.trustees):
            raise UnauthorisedSigner(f"there is no trustee {trustee} in this election")
        return self.trustees[trustee - 1]

    def to_json(self) -> dict[str, Any]:
        return {
            "manifest": self.manifest.to_json(),
            "official": self.official.to_json(),
            "credential_authority": self.credential_authority.to_json(),
            "trustees": [k.to_json() for k in self.trustees],
            "threshold": self.threshold,
        }

    @classmethod
    def from_json(cls, obj: Any, path: str = "election_created") -> ElectionCreated:
        f = Fields(
            obj,
            path,
            required={"manifest", "official", "credential_authority", "trustees", "threshold"},
        )

        def trustee(value: Any, p: str) -> VerifyKey:
            try:
                return VerifyKey.from_json(value)
            except EncodingError as exc:
                raise EncodingError(f"{p}: {exc.message}") from None

        return cls(
            manifest=Manifest.from_json(f.raw("manifest")),
            official=_key(f, "official"),
            credential_authority=_key(f, "credential_authority"),
            trustees=tuple(f.list("trustees", trustee, min_len=1, max_len=MAX_TRUSTEES)),
            threshold=f.int("threshold", lo=1, hi=MAX_TRUSTEES),
        )


@dataclass(frozen=True)
class KeyPublished:
    joint_key: JointKey

    def to_json(self) -> dict[str, Any]:
        return {"joint_key": self.joint_key.to_json()}

    @classmethod
    def from_json(cls, obj: Any, path: str = "key_published") -> KeyPublished:
        f = Fields(obj, path, required={"joint_key"})
        return cls(JointKey.from_json(f.raw("joint_key"), f.sub("joint_key")))


@dataclass(frozen=True)
class CredentialsPublished:
    credentials: CredentialList

    def to_json(self) -> dict[str, Any]:
        return {"credentials": self.credentials.to_json()}

    @classmethod
    def from_json(cls, obj: Any, path: str = "credentials_published") -> CredentialsPublished:
        f = Fields(obj, path, required={"credentials"})
        return cls(CredentialList.from_json(f.raw("credentials"), f.sub("credentials")))


@dataclass(frozen=True)
class ElectionOpened:
    """The official opens the election for this fingerprint.

    ``booth_sha256`` (optional) is the SHA-256 of the web booth's bundle
    (``ballot_server/static/booth.js``, built reproducibly): published here so
    that anyone can rebuild the booth from its sources and compare, and so that
    the server and the booth itself can refuse a bundle other than the one the
    official vouched for.  Absent: the election publishes no booth digest.
    """

    fingerprint: bytes
    booth_sha256: bytes | None = None

    def __post_init__(self) -> None:
        if self.booth_sha256 is not None and (
            not isinstance(self.booth_sha256, bytes) or len(self.booth_sha256) != 32
        ):
            raise SchemaError("election_opened.booth_sha256: expected 32 bytes")

    def to_json(self) -> dict[str, Any]:
        out = {"fingerprint": b64encode(self.fingerprint)}
        if self.booth_sha256 is not None:
            out["booth_sha256"] = b64encode(self.booth_sha256)
        return out

    @classmethod
    def from_json(cls, obj: Any, path: str = "election_opened") -> ElectionOpened:
        f = Fields(obj, path, required={"fingerprint"}, optional={"booth_sha256"})
        booth = f.bytes("booth_sha256", length=32) if f.has("booth_sha256") else None
        return cls(f.bytes("fingerprint", length=32), booth)


@dataclass(frozen=True)
class ElectionClosed:
    """The official closes the election.

    ``at`` (optional, RFC 3339 UTC): a close signed in advance for the
    manifest's ``closes_at``, which the server appends when that time comes
    and never earlier (R-TIME-04).  Absent (``{}``, the old form): the
    official's own close, valid at any time in the open phase (an early close).
    """

    at: str | None = None

    def __post_init__(self) -> None:
        if self.at is not None:
            from evote.schedule import parse_time  # evote.schedule imports the rulebook

            try:
                parse_time(self.at, "election_closed.at")
            except SchemaError as exc:
                raise SchemaError(exc.message) from None

    def to_json(self) -> dict[str, Any]:
        return {} if self.at is None else {"at": self.at}

    @classmethod
    def from_json(cls, obj: Any, path: str = "election_closed") -> ElectionClosed:
        f = Fields(obj, path, required=(), optional=("at",))
        return cls(f.str("at", max_len=40) if f.has("at") else None)


@dataclass(frozen=True)
class TallyPosted:
    """The encrypted tally of the counted set, its size and its total weight.

    ``total_weight`` (the sum of the counted credentials' weights) times the
    top score is the discrete-log bound of every option."""

    tally: EncryptedTally
    counted: int
    total_weight: int

    def to_json(self) -> dict[str, Any]:
        return {
            "tally": self.tally.to_json(),
            "counted": self.counted,
            "total_weight": self.total_weight,
        }

    @classmethod
    def from_json(cls, obj: Any, path: str = "tally_posted") -> TallyPosted:
        f = Fields(obj, path, required={"tally", "counted", "total_weight"})
        return cls(
            EncryptedTally.from_json(f.raw("tally"), f.sub("tally")),
            f.int("counted", hi=MAX_SAFE_INTEGER),
            f.int("total_weight", hi=MAX_SAFE_INTEGER),
        )


@dataclass(frozen=True)
class ResultPublished:
    result: Result

    def to_json(self) -> dict[str, Any]:
        return {"result": self.result.to_json()}

    @classmethod
    def from_json(cls, obj: Any, path: str = "result_published") -> ResultPublished:
        f = Fields(obj, path, required={"result"})
        return cls(Result.from_json(f.raw("result"), f.sub("result")))


def parse_body(kind: str, body: Any) -> Any:
    """The typed body of a ``kind`` command (SchemaError and friends name the field)."""
    spec = SPECS.get(kind)
    if spec is None or not spec.is_command:
        raise SchemaError(f"{kind!r} is not a command kind")
    return spec.parser()(body, f"{kind}.body")


def claimed_trustee(kind: str, body: Any) -> int | None:
    """The trustee index a trustee message speaks for (None for other roles)."""
    return speaks_for(kind, body)


@dataclass(frozen=True)
class Command:
    """A parsed command entry payload: the signed command and its typed body."""

    kind: str
    signed: SignedCommand
    body: Any

    @classmethod
    def parse(cls, kind: str, obj: Any) -> Command:
        """Parse a command JSON of ``kind`` (signature not checked here)."""
        if kind not in COMMAND_KINDS:
            raise SchemaError(f"{kind!r} is not a command kind")
        signed = SignedCommand.from_json(obj, kind)
        return cls(kind, signed, parse_body(kind, signed.body))

    @classmethod
    def from_entry(cls, entry: Entry) -> Command:
        return cls.parse(entry.kind, entry.payload)

    def check(self, election_id: str, created: ElectionCreated) -> None:
        """Signature, then signer: the key ``created`` names for this kind's role.

        Raises InvalidSignature, or UnauthorisedSigner naming the role.
        """
        self.signed.verify(election_id, self.kind)
        role = SIGNER_ROLE[self.kind]
        trustee = claimed_trustee(self.kind, self.body)
        allowed = created.key_of(role, trustee)
        if self.signed.signer.raw != allowed.raw:
            who = f"trustee {trustee}" if role == TRUSTEE else role.replace("_", " ")
            raise UnauthorisedSigner(
                f"{self.kind} must be signed by the {who}'s key named in election_created",
                detail={"role": role},
            )


# --- ballots ----------------------------------------------------------------------


def ballot_cast_payload(ballot: Ballot) -> dict[str, Any]:
    return {"ballot": ballot.to_json()}


def ballot_audited_payload(audited: AuditedBallot) -> dict[str, Any]:
    return {"audited": audited.to_json()}


def parse_ballot_cast(entry: Entry, manifest: Manifest) -> Ballot:
    """The ballot of a ``ballot_cast`` entry, parsed strictly against ``manifest``.

    Its canonical bytes are cut out of the entry's (:func:`_ballot_bytes`),
    so checking its signature does not serialise the ballot a second time.
    """
    if entry.kind != "ballot_cast":
        raise BoardError(f"entry {entry.index} is {entry.kind}, not ballot_cast")
    f = Fields(entry.payload, f"entry {entry.index} payload", required={"ballot"})
    return Ballot._from_json_in_canonical(
        f.raw("ballot"), manifest, f.sub("ballot"), _ballot_bytes(entry)
    )


_BALLOT_AT = b'"payload":{"ballot":'
_PAYLOAD_END = b'},"prev":'


def _ballot_bytes(entry: Entry) -> bytes:
    """The RFC 8785 bytes of a ``ballot_cast`` entry's ballot, as they stand in
    ``entry.canonical()``: a canonical document holds each member's canonical bytes
    verbatim, the payload's only member is ``ballot``, and ``prev`` is the member
    after ``payload``.  Neither marker can occur inside a JSON string, whose quotes
    are all escaped, nor inside the ballot, which has no ``prev`` member."""
    data = entry.canonical()
    return data[data.index(_BALLOT_AT) + len(_BALLOT_AT) : data.rindex(_PAYLOAD_END)]


def parse_ballot_audited(entry: Entry, manifest: Manifest) -> AuditedBallot:
    if entry.kind != "ballot_audited":
        raise BoardError(f"entry {entry.index} is {entry.kind}, not ballot_audited")
    f = Fields(entry.payload, f"entry {entry.index} payload", required={"audited"})
    return AuditedBallot.from_json(f.raw("audited"), manifest, f.sub("audited"))


MAX_ABANDON_REASON = 1000
"""Characters in ``election_abandoned.reason`` (a sentence for the record, not a file)."""


@dataclass(frozen=True)
class ElectionAbandoned:
    """The official gives up an election that never opened (R-PHASE-07).

    Why a signed entry and not a server-side delete: the board is append-only
    and public, so the honest way to end an election whose set-up cannot
    finish (reused trustee keys, a lost trustee) is to say so, signed, on the
    board itself; the record then verifies as an abandoned election.
    """

    reason: str

    def __post_init__(self) -> None:
        if not isinstance(self.reason, str) or not 1 <= len(self.reason) <= MAX_ABANDON_REASON:
            raise SchemaError(
                f"election_abandoned.reason: expected 1 to {MAX_ABANDON_REASON} characters"
            )

    def to_json(self) -> dict[str, Any]:
        return {"reason": self.reason}

    @classmethod
    def from_json(cls, obj: Any, path: str = "election_abandoned") -> ElectionAbandoned:
        f = Fields(obj, path, required={"reason"})
        return cls(f.str("reason", max_len=MAX_ABANDON_REASON))
