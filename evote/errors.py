"""Every exception evote raises on purpose.

One module so that the server and the CLI can map each class to a stable error
``code`` and a human message, and so that callers never have to catch anything
broader than :class:`EvoteError`.  Any other exception escaping ``evote`` is a
bug, not a verdict on the input.

Each class carries ``code`` (a stable machine-readable string used in HTTP error
bodies and verifier reports) and ``http_status`` (the status the server answers
with when the error comes from client input).
"""

from __future__ import annotations


class EvoteError(Exception):
    """Base class: something about the input or the protocol state is wrong."""

    code = "invalid"
    http_status = 400

    def __init__(self, message: str, *, detail: dict | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.detail = detail or {}

    def to_json(self) -> dict:
        """The JSON error body the server returns and the CLI prints."""
        body: dict = {"code": self.code, "message": self.message}
        if self.detail:
            body["detail"] = self.detail
        return body


class EncodingError(EvoteError):
    """Bytes, base64 or JSON that are not in the one canonical form we accept."""

    code = "bad_encoding"


class InvalidScalar(EncodingError):
    """A scalar that is not canonical (>= L) or has the wrong length."""

    code = "invalid_scalar"


class InvalidPoint(EncodingError):
    """A point that is non-canonical, off the curve, of small order, has a
    torsion component, or is the identity."""

    code = "invalid_point"


class SchemaError(EvoteError):
    """A JSON document with missing, extra or mistyped fields."""

    code = "bad_schema"
    http_status = 422


class ManifestError(SchemaError):
    """An election manifest that is inconsistent (e.g. min > max)."""

    code = "bad_manifest"


class InvalidProof(EvoteError):
    """A zero-knowledge proof that does not verify."""

    code = "invalid_proof"
    http_status = 422


class InvalidSignature(EvoteError):
    """An Ed25519 signature that does not verify for the claimed key."""

    code = "invalid_signature"
    http_status = 422


class InvalidBallot(EvoteError):
    """A ballot that is well formed but breaks a rule of the election."""

    code = "invalid_ballot"
    http_status = 422


class AuditMismatch(EvoteError):
    """An audited ballot whose revealed randomness does not re-encrypt to the
    published ciphertexts: the device that made it lied."""

    code = "audit_mismatch"
    http_status = 422


class CredentialError(EvoteError):
    """A credential that is malformed, mistyped (checksum) or not on the list."""

    code = "bad_credential"
    http_status = 403


class KeyCeremonyError(EvoteError):
    """A trustee message that breaks the key-generation protocol."""

    code = "key_ceremony"
    http_status = 422


class DecryptionError(EvoteError):
    """Threshold decryption cannot complete: missing, duplicate or wrong shares."""

    code = "decryption"
    http_status = 422


class TallyError(EvoteError):
    """A tally or result that does not match the counted ballots."""

    code = "tally"
    http_status = 422


class LifecycleError(EvoteError):
    """A step taken in the wrong phase of the election (e.g. a cast after close)."""

    code = "wrong_phase"
    http_status = 409


class BoardError(EvoteError):
    """A bulletin-board entry or chain that is malformed or inconsistent."""

    code = "board"
    http_status = 409


class MerkleError(EvoteError):
    """A Merkle proof request or proof that is malformed (bad index, size or
    length)."""

    code = "merkle"


class RootMismatchError(MerkleError):
    """A proof that is well formed but leads to a different root.

    Carries both roots so that evidence of a forked or rewritten board can be
    shown to a third party."""

    code = "root_mismatch"

    def __init__(self, message: str, *, expected: bytes, computed: bytes) -> None:
        super().__init__(
            message, detail={"expected": expected.hex(), "computed": computed.hex()}
        )
        self.expected = expected
        self.computed = computed


# --- Raised by the ballot server's rules (casting, commands, access). ---------
# Kept here so that every stable ``code`` a client can see lives in one module.


class AuthenticationError(EvoteError):
    """No voter login, or one the server does not know for this election."""

    code = "unauthenticated"
    http_status = 401


class BindingError(EvoteError):
    """A cast that breaks the credential–login binding: the credential is bound
    to another login, or this login already cast with another credential."""

    code = "binding"
    http_status = 403


class UnauthorisedSigner(EvoteError):
    """A signed command whose signer is not the key allowed to issue that kind."""

    code = "wrong_signer"
    http_status = 403


class DuplicateCiphertext(BoardError):
    """A ballot reusing a ciphertext already on this board (cast or audited)."""

    code = "duplicate_ciphertext"
    http_status = 409


class NotFound(EvoteError):
    """An election, entry or tracking code that does not exist."""

    code = "not_found"
    http_status = 404


class AlreadyExists(EvoteError):
    """Creating something whose id is taken (an election, a voter id)."""

    code = "already_exists"
    http_status = 409


class RateLimited(EvoteError):
    """Too many requests from one client; ``retry_after`` is in whole seconds."""

    code = "rate_limited"
    http_status = 429

    def __init__(self, message: str, *, retry_after: int) -> None:
        super().__init__(message, detail={"retry_after": retry_after})
        self.retry_after = retry_after


class Equivocation(BoardError):
    """Two tree heads, both validly signed by the board key, for the same size
    but different roots: the board showed different histories to different
    people.

    Carries both heads' JSON so the pair can be published as proof."""

    code = "equivocation"

    def __init__(self, message: str, *, first: dict, second: dict) -> None:
        super().__init__(message, detail={"first": first, "second": second})
        self.first = first
        self.second = second


class ServiceUnavailable(EvoteError):
    """The board is busy (its append lock could not be taken in time) or its
    database is unreachable; nothing was written, so the client may retry."""

    code = "unavailable"
    http_status = 503


class FingerprintMismatch(EvoteError):
    """A claimed election fingerprint that differs from the one recomputed from
    the manifest, joint key, trustee commitments and credential list."""

    code = "fingerprint_mismatch"
    http_status = 422


class BoothMismatch(EvoteError):
    """A booth digest (``election_opened.booth_sha256``) that is not the SHA-256 of
    the booth bundle the server actually serves, or that the official pinned."""

    code = "booth_mismatch"
    http_status = 422


# --- Witnesses and C2SP checkpoints (evote/checkpoint.py, evote/witness.py). ---


class WitnessPolicyError(EvoteError):
    """A checkpoint without enough valid cosignatures from the election's
    witnesses (the manifest's k-of-n policy), or a policy that cannot be used.

    ``detail["signed"]`` lists the witnesses whose cosignatures did verify."""

    code = "witness_policy"
    http_status = 422


class BoardMisbehaviour(BoardError):
    """A witness refused a board-signed checkpoint: it is smaller than, a
    different root at the same size as, or not provably an extension of the
    checkpoint the witness cosigned last.

    ``reason`` is ``"rollback"``, ``"equivocation"`` or ``"inconsistent"``;
    ``evidence`` is the JSON evidence record (both checkpoints, the proof that
    failed) that :func:`evote.witness.verify_evidence` re-checks."""

    code = "board_misbehaviour"

    def __init__(self, message: str, *, reason: str, evidence: dict) -> None:
        super().__init__(message, detail={"reason": reason, "evidence": evidence})
        self.reason = reason
        self.evidence = evidence


# --- The rulebook (evote/rulebook.py, docs/rules.md). ------------------------------


class RuleViolation(EvoteError):
    """An entry that breaks a rule of a valid board (docs/rules.md).

    The one error the board projection (:mod:`evote.rules`) raises.  ``rule`` is
    the stable rule id (``R-DKG-02``); ``code`` and ``http_status`` are that
    rule's, so the server refuses with them, and ``check`` names the verifier
    check that reports it.  ``cause`` is the core error a rule wraps (a bad
    Schnorr proof under R-DKG-10), kept for its message and detail (``detail``
    is the cause's, so evidence such as the question and option stays where
    it was; the rule id travels beside ``code``, not inside ``detail``).
    """

    def __init__(
        self,
        rule: str,
        message: str,
        *,
        code: str,
        http_status: int,
        check: str,
        detail: dict | None = None,
        cause: EvoteError | None = None,
    ) -> None:
        merged = dict(cause.detail) if cause is not None else {}
        merged.update(detail or {})
        super().__init__(message, detail=merged)
        self.rule = rule
        self.code = code
        self.http_status = http_status
        self.check = check
        self.cause = cause

    def to_json(self) -> dict:
        """The error body, with the broken rule's id beside the code."""
        return {**super().to_json(), "rule": self.rule}


class PhaseViolation(RuleViolation, LifecycleError):
    """A rule of the phase table (``R-PHASE-*``): also a :class:`LifecycleError`,
    which is what callers that only ask "is this the wrong phase?" catch."""


class NotABallot(BoardError):
    """A receipt that points at an entry that is not a cast or audited ballot."""

    code = "not_a_ballot"


class TrackingMismatch(BoardError):
    """A receipt whose tracking code is not the one of the ballot in its entry (a
    clash attack: the board signed one voter's code onto another voter's ballot)."""

    code = "tracking_mismatch"


# --- Mixnet (evote/shuffle.py, evote/mixnet.py, evote/mixdecryption.py, evote/counting/). ---


class InvalidShuffle(InvalidProof):
    """A proof of a shuffle that does not verify, or does not fit its lists
    (wrong number of rows, wrong width, wrong number of responses).

    ``detail["check"]`` names the part that failed: ``"shape"`` or ``"challenge"``."""

    code = "invalid_shuffle"


class MixnetError(EvoteError):
    """A mix that does not fit the chain: posted by a mixer out of turn or not
    named in the manifest, or shuffling a list other than the previous output."""

    code = "mixnet"
    http_status = 422


class CountError(EvoteError):
    """Decrypted rows a counting rule cannot take (a value out of range, a row
    of the wrong width, an impossible number of seats)."""

    code = "count"
    http_status = 422


class TrusteeKeyReused(AlreadyExists):
    """A new election names a trustee key that is already a trustee of another election.

    Trustee keys (and the state file behind each) belong to one election: a
    trustee cannot run a second key ceremony with them, so such an election
    could never finish its set-up."""

    code = "trustee_key_reused"
