"""Witnessing: the board's checkpoints, and the cosignatures witnesses bring back.

The one place that assembles a board-signed checkpoint with the cosignatures
kept for it, finds the largest checkpoint a witness policy is met for, and
decides whether a posted cosignature is kept (docs/witness.md).  Both the
receipts and the record archive of :mod:`ballot_server.service` (which carry
the cosigned checkpoint) and the routes of :mod:`ballot_server.witness_api`
(which serve checkpoints and take cosignatures) call it, so they cannot come
to disagree on what a cosigned checkpoint is.  No Flask here: the routes
parse HTTP, this module decides, :mod:`ballot_server.store` stores.

Checkpoint notes are signed on demand: Ed25519 is deterministic, so the same
size always gives the same bytes, and nothing but the cosignatures needs
storing.
"""

from __future__ import annotations

from typing import Any

from ballot_server.store import Store
from evote.checkpoint import (
    Checkpoint,
    Note,
    NoteSignature,
    board_note_key,
    cosignature_timestamp,
    election_origin,
    open_checkpoint,
    sign_checkpoint,
    verify_cosignature,
)
from evote.encoding import b64encode
from evote.errors import BoardError, EncodingError, UnauthorisedSigner, WitnessPolicyError
from evote.signing import SigningKey
from evote.witness import WitnessKey, WitnessPolicy


def checkpoint_note(
    store: Store, board_key: SigningKey, election_id: str, size: int
) -> tuple[Checkpoint, Note]:
    """The board-signed checkpoint of the first ``size`` entries, with the kept cosignatures."""
    cp = Checkpoint(
        election_origin(board_key.verify_key, election_id), size, store.root(election_id, size)
    )
    lines = store.cosignature_lines(election_id, size, cp.root)
    note = sign_checkpoint(cp, board_key).with_signatures(
        NoteSignature.parse_line(line) for line in lines
    )
    return cp, note


def largest_cosigned(
    store: Store,
    board_key: SigningKey,
    election_id: str,
    policy: WitnessPolicy,
    *,
    max_size: int | None = None,
) -> tuple[Checkpoint, Note] | None:
    """The largest checkpoint (up to ``max_size``) that ``policy.threshold`` witnesses
    cosigned, signed by the board and carrying every kept cosignature; None while
    there is none.

    The rows were verified against the policy and the stored root when the
    witnesses posted them (:func:`keep_cosignature`), so this only reassembles
    the note.
    """
    size = store.largest_cosigned_size(election_id, policy.threshold, max_size=max_size)
    if size is None:
        return None
    return checkpoint_note(store, board_key, election_id, size)


def signed_by(note: Note, policy: WitnessPolicy | None) -> list[str]:
    """The names of the policy's witnesses whose cosignature ``note`` carries."""
    if policy is None:
        return []
    return [w.name for w in policy.keys if note.signatures_by(w.note_key)]


def checkpoint_json(
    board_key: SigningKey, cp: Checkpoint, note: Note, policy: WitnessPolicy | None
) -> dict[str, Any]:
    """A checkpoint as the API serves it (docs/witness.md)."""
    board = board_note_key(cp.origin, board_key.verify_key)
    return {
        "origin": cp.origin,
        "size": cp.size,
        "root": b64encode(cp.root),
        "board_key": board.to_vkey(),
        "checkpoint": note.to_text(),
        "witnesses": signed_by(note, policy),
    }


def witness_for(policy: WitnessPolicy, sig: NoteSignature) -> WitnessKey:
    """The policy's witness whose key made ``sig`` (403 wrong_signer for anyone else)."""
    for witness in policy.keys:
        if witness.note_key.matches(sig):
            return witness
    raise UnauthorisedSigner(f"{sig.name} is not one of this election's witnesses")


def keep_cosignature(
    store: Store,
    board_key: SigningKey,
    election_id: str,
    policy: WitnessPolicy | None,
    checkpoint_text: str,
    line: str,
) -> dict[str, Any]:
    """Keep a witness's cosignature ``line`` of the checkpoint note ``checkpoint_text``;
    return ``{size, witness, witnesses}`` (who has cosigned that checkpoint now).

    Kept only if the checkpoint is this board's (its signature, its origin,
    and its root recomputed from the stored tree) and the line is a valid
    cosignature/v1 by a witness ``policy`` lists: 422 ``witness_policy`` if
    the election has no witnesses, 422 ``invalid_signature`` for a note not
    the board's or a cosignature that does not verify, 409 ``board`` for a
    checkpoint this board never had, 400 ``bad_encoding`` for more than one
    line, 403 ``wrong_signer`` for a key the policy does not list.
    """
    if policy is None:
        raise WitnessPolicyError("this election's manifest names no witnesses")
    cp, _ = open_checkpoint(checkpoint_text, board_key.verify_key, election=election_id)
    size_now = store.entry_count(election_id)
    if not 1 <= cp.size <= size_now or store.root(election_id, cp.size) != cp.root:
        raise BoardError(f"this board never had the checkpoint of size {cp.size} presented")
    if "\n" in line:
        raise EncodingError("cosignature: expected one signature line")
    sig = NoteSignature.parse_line(line)
    witness = witness_for(policy, sig)
    verify_cosignature(cp.body(), sig, witness.note_key)
    store.add_cosignature(
        election_id,
        size=cp.size,
        root=cp.root,
        witness=witness.name,
        key_id=sig.key_id,
        cosigned_at=cosignature_timestamp(sig),
        line=sig.line().removesuffix("\n"),
    )
    _, note = checkpoint_note(store, board_key, election_id, cp.size)
    return {"size": cp.size, "witness": witness.name, "witnesses": signed_by(note, policy)}
