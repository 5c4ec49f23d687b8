"""Checkpoints for witnesses: the board's tree heads in C2SP form, and cosignatures.

Witnesses *poll* (docs/witness.md explains the choice): a witness GETs the
latest checkpoint, GETs a consistency proof from the size it last cosigned
(the existing ``/consistency`` route), and POSTs its cosignature back.  The
server never calls a witness, so a witness needs no open port and the server
needs no list of addresses; the server only keeps what witnesses bring.

Routes, under ``/api/v1/elections/<election_id>``:

``GET  /checkpoint[?size=N]``   the board-signed checkpoint of the board now (or of
                                its first N entries), with every cosignature kept
                                for it; JSON ``{origin, size, root, board_key,
                                checkpoint, witnesses}``
``GET  /checkpoint.txt``        the same note as ``text/plain``, for C2SP tools
``GET  /checkpoint/cosigned[?max_size=N]``  the largest checkpoint (of at most N
                                entries) that meets the manifest's witness policy
                                (404 until there is one)
``POST /checkpoint/cosignatures``  ``{"checkpoint": note, "cosignature": line}``

A cosignature is kept only if the checkpoint is this board's and the line is
a valid cosignature/v1 by a witness the manifest lists (403 ``wrong_signer``
for anyone else).  These routes only parse HTTP: what a checkpoint is, which
one a policy is met for and whether a cosignature is kept are decided in
:mod:`ballot_server.witnessing`, which the receipts and the record archive
use too.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, jsonify

from ballot_server import witnessing
from ballot_server.context import get_service, int_arg, json_body, rate_limited, server_state
from ballot_server.db import get_store
from evote.checkpoint import Checkpoint, Note
from evote.encoding import Fields
from evote.errors import NotFound
from evote.limits import MAX_WITNESS_LINE as MAX_LINE
from evote.witness import WitnessPolicy, check_witness_policy

bp = Blueprint("witness", __name__, url_prefix="/api/v1/elections/<election:election_id>")



def _size(election_id: str) -> int:
    size = get_store().entry_count(election_id)
    if size == 0:
        raise NotFound(f"no election {election_id!r}")
    return size


def policy_of(election_id: str) -> WitnessPolicy | None:
    """The manifest's witness policy (None: the election requires no witnesses)."""
    return get_service().facts(election_id).created.manifest.witnesses


def cosigned_note(election_id: str, size: int) -> tuple[Checkpoint, Note]:
    """The board-signed checkpoint of the first ``size`` entries, with the kept cosignatures."""
    return witnessing.checkpoint_note(get_store(), server_state().board_key, election_id, size)


def _body(election_id: str, cp: Checkpoint, note: Note) -> dict[str, Any]:
    return witnessing.checkpoint_json(server_state().board_key, cp, note, policy_of(election_id))


@bp.get("/checkpoint")
def checkpoint(election_id: str) -> Response:
    """The checkpoint of the board now, or of its first ``size`` entries."""
    current = _size(election_id)
    size = int_arg("size", lo=1, hi=current) or current
    cp, note = cosigned_note(election_id, size)
    return jsonify(_body(election_id, cp, note))


@bp.get("/checkpoint.txt")
def checkpoint_text(election_id: str) -> Response:
    """The latest checkpoint note as C2SP tools expect it: plain text."""
    _, note = cosigned_note(election_id, _size(election_id))
    return Response(note.to_text(), mimetype="text/plain")


@bp.get("/checkpoint/cosigned")
def cosigned(election_id: str) -> Response:
    """The largest checkpoint whose cosignatures meet the manifest's witness policy;
    with ``max_size``, of at most that many entries (an auditor that has fixed the
    board it checks asks for a checkpoint within it)."""
    _size(election_id)
    limit = int_arg("max_size", lo=1)
    policy = policy_of(election_id)
    if policy is None:
        raise NotFound("this election's manifest names no witnesses")
    found = witnessing.largest_cosigned(
        get_store(), server_state().board_key, election_id, policy, max_size=limit
    )
    if found is None:
        raise NotFound("no checkpoint of this election is cosigned by enough witnesses yet")
    cp, note = found
    check_witness_policy(note, policy)  # rows were checked on insert; never serve less
    return jsonify(_body(election_id, cp, note))


@bp.post("/checkpoint/cosignatures")
@rate_limited("command")
def add_cosignature(election_id: str) -> Response:
    """Keep a witness's cosignature of one of this board's checkpoints.

    422 ``bad_schema``/400 ``bad_encoding`` for a malformed body or note, 422
    ``invalid_signature`` if the checkpoint is not the board's or the
    cosignature does not verify, 422 ``witness_policy`` if the election has
    no witnesses, 403 ``wrong_signer`` for a key the manifest does not list,
    409 ``board`` for a checkpoint this board never had.
    """
    f = Fields(json_body(), "cosignature", required={"checkpoint", "cosignature"})
    text = f.str("checkpoint", max_len=1 << 16)
    line = f.str("cosignature", max_len=MAX_LINE).removesuffix("\n")
    answer = witnessing.keep_cosignature(
        get_store(), server_state().board_key, election_id, policy_of(election_id), text, line
    )
    return jsonify(answer)
