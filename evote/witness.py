"""Independent witnesses: what a witness cosigns, and what an auditor requires.

A board that shows one history to some people and another to others can
sign both: only someone who has seen both can tell.  Witnesses are that
someone.  Each witness keeps, per board (checkpoint origin), the last
checkpoint it cosigned, and cosigns a new one only if it is the same tree or
an RFC 9162 consistency proof shows it extends that one.  So no witness ever
cosigns two sides of a fork, and a k-of-n witness policy in the manifest
(:class:`WitnessPolicy`) with ``2k > n`` -- or simply k honest witnesses in
every audience -- means two different histories cannot both meet the policy.

Pure (the h11 habit): no files, network or clock.  ``cli/witness.py`` does
the fetching, the durable state file and the posting; this module decides:

* :func:`proof_needed` -- which consistency proof to fetch for a checkpoint;
* :func:`observe` -- the witness's new state, or :class:`BoardMisbehaviour`
  carrying the evidence (both board-signed checkpoints and the failed proof);
* :func:`verify_evidence` -- whether an evidence record proves a fork by
  itself (two board-signed checkpoints of one size with different roots);
* :func:`check_witness_policy` -- which policy witnesses cosigned a
  checkpoint; raises :class:`WitnessPolicyError` below the threshold;
* :func:`verify_final_checkpoint` -- the auditor's whole check of the final
  cosigned checkpoint against the board it has recomputed.

Why one module of ~580 lines: the witness's decision (:func:`observe`) and
the auditor's checks (:func:`verify_evidence`, :func:`verify_final_checkpoint`)
must reach the same verdict on the same checkpoints, so they share the state
and evidence types here.  (Its witness state holds a witness signing key only
as a parameter of :func:`cosign_state`.)
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from evote import merkle
from evote.checkpoint import (
    SIG_COSIGNATURE_V1,
    Checkpoint,
    Note,
    NoteKey,
    NoteSignature,
    board_note_key,
    check_key_name,
    cosign,
    open_checkpoint,
    verify_cosignature,
)
from evote.encoding import Fields, b64decode, b64encode
from evote.errors import (
    BoardError,
    BoardMisbehaviour,
    EncodingError,
    InvalidSignature,
    MerkleError,
    SchemaError,
    WitnessPolicyError,
)
from evote.limits import MAX_WITNESSES as MAX_WITNESSES
from evote.signing import PUBLIC_KEY_BYTES, SigningKey, VerifyKey

__all__ = [
    "Evidence",
    "LogState",
    "WitnessKey",
    "WitnessPolicy",
    "WitnessState",
    "check_cosigners",
    "check_witness_policy",
    "cosign_state",
    "observe",
    "proof_needed",
    "verify_cosigned_inclusion",
    "verify_evidence",
    "verify_final_checkpoint",
]

STATE_FORMAT = "evote-witness-state"
EVIDENCE_FORMAT = "evote-witness-evidence"
VERSION = 1

ROLLBACK = "rollback"
EQUIVOCATION = "equivocation"
INCONSISTENT = "inconsistent"
REASONS = (ROLLBACK, EQUIVOCATION, INCONSISTENT)


def _verify_key(f: Fields, key: str) -> VerifyKey:
    try:
        return VerifyKey.from_bytes(f.bytes(key, length=PUBLIC_KEY_BYTES))
    except EncodingError as exc:
        raise SchemaError(f"{f.sub(key)}: {exc.message}") from None


def _name(f: Fields, key: str) -> str:
    try:
        return check_key_name(f.str(key, max_len=256), f.sub(key))
    except EncodingError as exc:
        raise SchemaError(exc.message) from None


# --- the manifest's witness policy ----------------------------------------------


@dataclass(frozen=True, slots=True)
class WitnessKey:
    """One witness: its key name (a schema-less URL, e.g. ``witness.example.org/w1``)
    and its Ed25519 cosigning key.  JSON ``{"name": ..., "key": b64url}``."""

    name: str
    key: VerifyKey

    def __post_init__(self) -> None:
        try:
            check_key_name(self.name, "witness name")
        except EncodingError as exc:
            raise SchemaError(exc.message) from None
        if not isinstance(self.key, VerifyKey):
            raise SchemaError("witness key: expected a VerifyKey")

    @property
    def note_key(self) -> NoteKey:
        """The cosignature/v1 (type ``0x04``) verifier key."""
        return NoteKey(self.name, SIG_COSIGNATURE_V1, self.key)

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "key": self.key.to_json()}

    @classmethod
    def from_json(cls, obj: Any, path: str = "witness") -> WitnessKey:
        f = Fields(obj, path, required={"name", "key"})
        return cls(_name(f, "name"), _verify_key(f, "key"))


@dataclass(frozen=True, slots=True)
class WitnessPolicy:
    """``threshold`` of the listed witnesses must cosign the final checkpoint.

    JSON ``{"keys": [{"name", "key"}, ...], "threshold": k}``, the optional
    ``witnesses`` field of the manifest.  Names and keys must be distinct: the
    Ed25519 cosignature does not sign the witness's name, so one key listed
    under two names would count twice.
    """

    keys: tuple[WitnessKey, ...]
    threshold: int

    def __post_init__(self) -> None:
        keys = tuple(self.keys)
        object.__setattr__(self, "keys", keys)
        if not 1 <= len(keys) <= MAX_WITNESSES:
            raise SchemaError(f"witnesses.keys: expected 1 to {MAX_WITNESSES} witnesses")
        if not all(isinstance(k, WitnessKey) for k in keys):
            raise SchemaError("witnesses.keys: expected WitnessKey objects")
        if len({k.name for k in keys}) != len(keys):
            raise SchemaError("witnesses.keys: two witnesses have the same name")
        if len({k.key.raw for k in keys}) != len(keys):
            raise SchemaError("witnesses.keys: two witnesses have the same key")
        t = self.threshold
        if not isinstance(t, int) or isinstance(t, bool) or not 1 <= t <= len(keys):
            raise SchemaError(
                f"witnesses.threshold: must be an integer from 1 to {len(keys)}"
            )

    def to_json(self) -> dict[str, Any]:
        return {"keys": [k.to_json() for k in self.keys], "threshold": self.threshold}

    @classmethod
    def from_json(cls, obj: Any, path: str = "witnesses") -> WitnessPolicy:
        f = Fields(obj, path, required={"keys", "threshold"})
        keys = f.list("keys", WitnessKey.from_json, min_len=1, max_len=MAX_WITNESSES)
        return cls(tuple(keys), f.int("threshold", lo=1, hi=MAX_WITNESSES))


def check_witness_policy(
    checkpoint_note: Note | bytes | str,
    policy: WitnessPolicy,
    *,
    not_after: int | None = None,
) -> list[str]:
    """The names of the policy's witnesses that cosigned ``checkpoint_note``.

    Checks only cosignatures (the board's own signature is
    :func:`evote.checkpoint.open_checkpoint`'s job, and
    :func:`verify_final_checkpoint` does both).  Signature lines from keys
    not in the policy are ignored, as c2sp.org/signed-note requires; one
    that names a policy key (name and key ID) must verify, or the note is
    refused with :class:`InvalidSignature`; a witness counts once however
    many lines it has.  With ``not_after`` (POSIX seconds), a cosignature
    dated later is refused as :class:`WitnessPolicyError`.

    Raises :class:`WitnessPolicyError` (``detail["signed"]`` = who did) when
    fewer than ``policy.threshold`` witnesses cosigned, and
    :class:`EncodingError` for a malformed note.  Returns the names in
    policy order.
    """
    note = checkpoint_note if isinstance(checkpoint_note, Note) else Note.parse(checkpoint_note)
    Checkpoint.parse(note.text)  # cosignatures are only meaningful over a checkpoint
    signed: list[str] = []
    for witness in policy.keys:
        nk = witness.note_key
        lines = note.signatures_by(nk)
        for sig in lines:
            ts = verify_cosignature(note.text, sig, nk)
            if not_after is not None and ts > not_after:
                raise WitnessPolicyError(
                    f"cosignature of {witness.name} is dated {ts}, in the future",
                    detail={"witness": witness.name, "time": ts},
                )
        if lines:
            signed.append(witness.name)
    if len(signed) < policy.threshold:
        raise WitnessPolicyError(
            f"checkpoint is cosigned by {len(signed)} of the election's witnesses "
            f"({', '.join(signed) or 'none'}); the policy needs {policy.threshold} "
            f"of {len(policy.keys)}",
            detail={"signed": signed, "threshold": policy.threshold},
        )
    return signed


def check_cosigners(
    checkpoint_note: Note | bytes | str,
    policy: WitnessPolicy,
    board_key: VerifyKey,
    *,
    not_after: int | None = None,
) -> list[str]:
    """:func:`check_witness_policy`, after refusing a policy that lists the board's own
    key: a board must not witness itself, so every check of a cosigned checkpoint
    (the auditor's, the voter's, the CLI's) goes through here."""
    if any(w.key.raw == board_key.raw for w in policy.keys):
        raise WitnessPolicyError("the board key is listed as one of its own witnesses")
    return check_witness_policy(checkpoint_note, policy, not_after=not_after)


def verify_final_checkpoint(
    checkpoint_note: Note | bytes | str,
    *,
    board_key: VerifyKey,
    election: str,
    size: int,
    root: bytes,
    policy: WitnessPolicy,
    not_after: int | None = None,
) -> list[str]:
    """The auditor's check of an election's final cosigned checkpoint.

    In order: (1) the note is a checkpoint signed by ``board_key`` under its
    origin, and the origin names ``election``; (2) its size and root are the
    ``size`` and ``root`` the auditor recomputed from the whole board; (3)
    the board key is not one of the witnesses and (4) enough of them cosigned
    (:func:`check_cosigners`).  Returns the witnesses that
    cosigned.  Raises the error of the failing step:
    :class:`EncodingError`/:class:`InvalidSignature`/:class:`SchemaError`,
    :class:`BoardError`, :class:`WitnessPolicyError`.
    """
    cp, note = open_checkpoint(checkpoint_note, board_key, election=election)  # (1)
    if cp.size != size or cp.root != root:  # (2)
        raise BoardError(
            f"the cosigned checkpoint (size {cp.size}) is not the final board "
            f"(size {size}{', another root' if cp.size == size else ''})",
            detail={"checkpoint_size": cp.size, "board_size": size},
        )
    return check_cosigners(note, policy, board_key, not_after=not_after)  # (3), (4)


def verify_cosigned_inclusion(
    checkpoint_note: Note | bytes | str,
    *,
    board_key: VerifyKey,
    election: str,
    index: int,
    entry_hash: bytes,
    proof: Sequence[bytes],
    policy: WitnessPolicy,
    not_after: int | None = None,
) -> list[str]:
    """"Check my ballot" against a cosigned checkpoint: the entry at ``index``
    with leaf hash ``entry_hash`` is in the tree the witnesses cosigned.

    (1) board signature and origin, as in :func:`verify_final_checkpoint`;
    (2) the RFC 9162 inclusion proof to the checkpoint's size and root
    (:class:`MerkleError`/:class:`~evote.errors.RootMismatchError`);
    (3) :func:`check_cosigners`.  Returns the witnesses that cosigned.
    A ballot shown in a tree the witnesses cosigned is in the one history
    every auditor checks, not in a copy shown only to its voter.
    """
    cp, note = open_checkpoint(checkpoint_note, board_key, election=election)  # (1)
    merkle.verify_inclusion(index, cp.size, entry_hash, list(proof), cp.root)  # (2)
    return check_cosigners(note, policy, board_key, not_after=not_after)  # (3)


# --- a witness's state ---------------------------------------------------------


@dataclass(frozen=True, slots=True)
class LogState:
    """What a witness remembers of one board: the checkpoint it cosigned last.

    ``checkpoint`` is that note as the board signed it (cosignatures
    stripped), kept so that it can be shown as evidence later.
    """

    origin: str
    board_key: VerifyKey
    size: int
    root: bytes
    checkpoint: str

    def __post_init__(self) -> None:
        cp, _ = open_checkpoint(self.checkpoint, self.board_key)
        if (cp.origin, cp.size, cp.root) != (self.origin, self.size, self.root):
            raise SchemaError("witness state: the stored checkpoint does not match its fields")

    def to_json(self) -> dict[str, Any]:
        return {
            "origin": self.origin,
            "board_key": self.board_key.to_json(),
            "size": self.size,
            "root": b64encode(self.root),
            "checkpoint": self.checkpoint,
        }

    @classmethod
    def from_json(cls, obj: Any, path: str = "log") -> LogState:
        f = Fields(obj, path, required={"origin", "board_key", "size", "root", "checkpoint"})
        return cls(
            origin=f.str("origin", max_len=256),
            board_key=_verify_key(f, "board_key"),
            size=f.int("size"),
            root=f.bytes("root", length=merkle.HASH_SIZE),
            checkpoint=f.str("checkpoint", max_len=1 << 16),
        )


@dataclass(frozen=True, slots=True)
class WitnessState:
    """A witness's whole durable state: its name and one :class:`LogState` per origin."""

    name: str
    logs: tuple[LogState, ...] = ()

    def __post_init__(self) -> None:
        try:
            check_key_name(self.name, "witness name")
        except EncodingError as exc:
            raise SchemaError(exc.message) from None
        logs = tuple(sorted(self.logs, key=lambda log: log.origin))
        if len({log.origin for log in logs}) != len(logs):
            raise SchemaError("witness state: two entries for one origin")
        object.__setattr__(self, "logs", logs)

    def log(self, origin: str) -> LogState | None:
        return next((log for log in self.logs if log.origin == origin), None)

    def with_log(self, log: LogState) -> WitnessState:
        return WitnessState(self.name, (*(x for x in self.logs if x.origin != log.origin), log))

    def to_json(self) -> dict[str, Any]:
        return {
            "format": STATE_FORMAT,
            "version": VERSION,
            "name": self.name,
            "logs": [log.to_json() for log in self.logs],
        }

    @classmethod
    def from_json(cls, obj: Any, path: str = "state") -> WitnessState:
        f = Fields(obj, path, required={"format", "version", "name", "logs"})
        if f.raw("format") != STATE_FORMAT or f.raw("version") != VERSION:
            raise SchemaError(f"{path}: not an {STATE_FORMAT} version {VERSION} file")
        return cls(_name(f, "name"), tuple(f.list("logs", LogState.from_json)))


# --- deciding ------------------------------------------------------------------


def proof_needed(prior: LogState | None, presented: Checkpoint) -> tuple[int, int] | None:
    """The consistency proof ``(old size, new size)`` to fetch before
    :func:`observe` can accept ``presented``, or None if none is needed
    (first sight, same size, or a smaller tree that will be refused)."""
    if prior is None or presented.size <= prior.size:
        return None
    return prior.size, presented.size


@dataclass(frozen=True, slots=True)
class Evidence:
    """A witness's record of a refused checkpoint: enough for anyone to re-check.

    ``cosigned`` is the board-signed checkpoint the witness had cosigned,
    ``presented`` the one it refused, ``proof`` the consistency proof that
    failed (if any) and ``old_view`` the board's signed checkpoint at
    ``cosigned``'s size *as the presenting view has it* (if the witness
    could fetch it): when that root differs, the pair is a self-standing
    proof of equivocation.
    """

    reason: str
    origin: str
    board_key: VerifyKey
    cosigned: str
    presented: str
    proof: tuple[bytes, ...] | None = None
    old_view: str | None = None
    witness: str | None = None
    observed_at: int | None = None

    def __post_init__(self) -> None:
        if self.reason not in REASONS:
            raise SchemaError(f"evidence.reason: expected one of {', '.join(REASONS)}")

    def to_json(self) -> dict[str, Any]:
        return {
            "format": EVIDENCE_FORMAT,
            "version": VERSION,
            "reason": self.reason,
            "origin": self.origin,
            "board_key": self.board_key.to_json(),
            "cosigned": self.cosigned,
            "presented": self.presented,
            "proof": None if self.proof is None else [b64encode(h) for h in self.proof],
            "old_view": self.old_view,
            "witness": self.witness,
            "observed_at": self.observed_at,
        }

    @classmethod
    def from_json(cls, obj: Any, path: str = "evidence") -> Evidence:
        names = {
            "format", "version", "reason", "origin", "board_key", "cosigned", "presented",
            "proof", "old_view", "witness", "observed_at",
        }  # fmt: skip
        f = Fields(obj, path, required=names)
        if f.raw("format") != EVIDENCE_FORMAT or f.raw("version") != VERSION:
            raise SchemaError(f"{path}: not an {EVIDENCE_FORMAT} version {VERSION} record")
        proof = f.raw("proof")
        return cls(
            reason=f.str("reason", max_len=32),
            origin=f.str("origin", max_len=256),
            board_key=_verify_key(f, "board_key"),
            cosigned=f.str("cosigned", max_len=1 << 16),
            presented=f.str("presented", max_len=1 << 16),
            proof=None
            if proof is None
            else tuple(
                f.list(
                    "proof",
                    lambda v, p: b64decode(v, length=merkle.HASH_SIZE, what=p),
                    max_len=128,
                )
            ),
            old_view=None if f.raw("old_view") is None else f.str("old_view", max_len=1 << 16),
            witness=None if f.raw("witness") is None else f.str("witness", max_len=256),
            observed_at=None if f.raw("observed_at") is None else f.int("observed_at"),
        )


def _board_only(note: Note, board: NoteKey) -> str:
    """The note with only the board's signature lines: what the board itself said."""
    return Note(note.text, tuple(note.signatures_by(board))).to_text()


def _refuse(reason: str, message: str, evidence: Evidence) -> BoardMisbehaviour:
    return BoardMisbehaviour(message, reason=reason, evidence=evidence.to_json())


def observe(
    prior: LogState | None,
    note: Note | bytes | str,
    *,
    board_key: VerifyKey,
    origin: str,
    proof: Sequence[bytes] | None = None,
    old_view: Note | bytes | str | None = None,
    witness: str | None = None,
    now: int | None = None,
) -> LogState:
    """The witness's decision on a presented checkpoint: the state to cosign from.

    Steps: (1) ``note`` is a checkpoint for ``origin`` signed by ``board_key``
    (else :class:`EncodingError`/:class:`InvalidSignature`/:class:`SchemaError`:
    garbage, not evidence); (2) with no ``prior`` it is accepted as the first
    tree; (3) a smaller tree is refused (``rollback``); (4) the same size
    must have the same root (else ``equivocation``: proven, both are
    board-signed); (5) a larger tree needs ``proof`` (from
    :func:`proof_needed`) to verify under RFC 9162 §2.1.4.2 (else
    ``inconsistent``; with ``old_view``, the board's own checkpoint at the
    prior size from the presenting view, a different root there upgrades it
    to ``equivocation``).

    Refusals raise :class:`BoardMisbehaviour` whose ``evidence`` is an
    :class:`Evidence` JSON.  Returning a state is the permission to cosign
    it (:func:`cosign_state`) -- after the caller has stored it durably.
    """
    board = board_note_key(origin, board_key)
    cp, parsed = open_checkpoint(note, board_key)  # (1)
    if cp.origin != origin:
        raise SchemaError(f"checkpoint origin {cp.origin!r} is not {origin!r}")
    if cp.size == 0:
        raise SchemaError("an evote board has at least one entry: a size-0 checkpoint is refused")
    presented = _board_only(parsed, board)
    accepted = LogState(origin, board_key, cp.size, cp.root, presented)
    if prior is None:  # (2)
        return accepted
    if prior.origin != origin or prior.board_key.raw != board_key.raw:
        raise SchemaError("witness state is for another origin or board key")

    def evidence(reason: str, **extra: Any) -> Evidence:
        return Evidence(
            reason, origin, board_key, prior.checkpoint, presented,
            witness=witness, observed_at=now, **extra,
        )  # fmt: skip

    if cp.size < prior.size:  # (3)
        raise _refuse(
            ROLLBACK,
            f"board presented size {cp.size} after the witness cosigned size {prior.size}",
            evidence(ROLLBACK),
        )
    if cp.size == prior.size:  # (4)
        if cp.root != prior.root:
            raise _refuse(
                EQUIVOCATION,
                f"board signed two different roots for size {cp.size} of {origin}",
                evidence(EQUIVOCATION),
            )
        return prior
    if proof is None:  # (5)
        raise MerkleError(f"a consistency proof from {prior.size} to {cp.size} is needed")
    try:
        merkle.verify_consistency(prior.size, cp.size, list(proof), prior.root, cp.root)
    except MerkleError as exc:  # RootMismatchError included: well formed, wrong roots
        reason, view = INCONSISTENT, None
        if old_view is not None:
            view = _board_only(open_checkpoint(old_view, board_key)[1], board)
            old = Checkpoint.parse(Note.parse(view).text)
            if old.origin == origin and old.size == prior.size and old.root != prior.root:
                reason = EQUIVOCATION
        raise _refuse(
            reason,
            f"board's tree {cp.size} does not extend the cosigned tree {prior.size} "
            f"of {origin} ({exc.message})",
            evidence(reason, proof=tuple(proof), old_view=view),
        ) from None
    return accepted


def cosign_state(state: LogState, name: str, key: SigningKey, timestamp: int) -> NoteSignature:
    """The witness's cosignature line for the checkpoint in ``state``.

    Only ever call this on a state that :func:`observe` returned and the
    caller has already made durable: that order is what makes a crash unable
    to produce a cosignature the witness would not remember.
    """
    return cosign(Note.parse(state.checkpoint).text, name, key, timestamp)


def verify_evidence(evidence: Evidence | dict[str, Any], board_key: VerifyKey) -> str:
    """Re-check a witness's evidence; return ``"equivocation"`` if it proves a fork.

    Proof means two checkpoints, both validly signed by ``board_key`` for
    the evidence's origin, with the same size and different roots: no honest
    board ever signs that.  Anything weaker (a rollback to an older tree, a
    consistency proof that failed) is a complaint the board must answer, not
    a proof, and raises :class:`BoardError` saying so.  Forged or malformed
    evidence raises :class:`InvalidSignature`/:class:`EncodingError`/
    :class:`SchemaError`.
    """
    ev = evidence if isinstance(evidence, Evidence) else Evidence.from_json(evidence)
    if ev.board_key.raw != board_key.raw:
        raise InvalidSignature("evidence is about another board key")
    heads = [ev.cosigned, ev.presented] + ([ev.old_view] if ev.old_view else [])
    opened = [open_checkpoint(h, board_key)[0] for h in heads]
    if any(cp.origin != ev.origin for cp in opened):
        raise SchemaError("evidence mixes checkpoints of different origins")
    first = opened[0]
    for other in opened[1:]:
        if other.size == first.size and other.root != first.root:
            return EQUIVOCATION
    raise BoardError(
        f"evidence ({ev.reason}) shows no two board-signed roots for one size: "
        "it is a complaint for the board to answer, not a proof of a fork"
    )
