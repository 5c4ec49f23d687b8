"""The steps after the last mix: the trustees decrypt the final lists, the official counts.

* :func:`mix_decrypt_round` (``evote trustee decrypt``): for each ranked or
  grades question whose last mixer has mixed, this trustee's factors of every
  ciphertext of the final list, with DLEQ proofs (``mix_decryption``).  The
  list it decrypts is the one the board projection reached after checking
  every mix's proof, so a trustee never decrypts rows no shuffle produced --
  which is what keeps single ballots secret.
* :func:`ranked_round` (``evote election tally``): once t trustees have
  decrypted a question, combine the factors and count the public rows with the
  question's method (:func:`evote.ranked.ranked_result`), and post the
  ``ranked_result`` -- before ``result_published``, which needs every one
  (R-MIX-10).

Both are idempotent rounds for :func:`cli.waiting.wait_until`: ``(value, "")``
when done, ``(None, reason)`` while waiting for others.
"""

from __future__ import annotations

import secrets
from pathlib import Path

from cli import api
from cli.board_view import BoardView
from cli.client import Client
from cli.console import progress
from cli.mixer import deliver_command
from cli.waiting import names
from evote.commands import sign_command
from evote.kinds import ELECTION_CLOSED, MIX_DECRYPTION, RANKED_RESULT
from evote.mixdecryption import partial_decrypt_rows
from evote.ranked import final_rows, pending, ranked_result
from evote.signing import SigningKey


def mix_decrypt_round(client: Client, path: str | Path, *, quiet: bool = False) -> tuple[int | None, str]:
    """Post this trustee's ``mix_decryption`` of every final list not yet decrypted by it;
    ``(number posted, "")`` once every mixed question has its final list."""
    from cli.trustee import _finalized, load_state

    state = load_state(path)
    ceremony = state.ceremony
    if ceremony is None:
        return 0, ""
    eid, me = ceremony.election_id, ceremony.trustee
    view = api.fetch_board(client, eid)
    manifest = view.setup.manifest
    if not manifest.mixed_questions or not view.has(ELECTION_CLOSED):
        return 0, ""
    board, mixing = view.board, view.mixing()
    assert mixing is not None
    if board.result is not None:
        return 0, ""
    joint = view.joint_key()
    if joint is None or me not in joint.qualified:
        return 0, ""
    posted, waiting = 0, []
    for q in manifest.mixed_questions:
        if q not in mixing.initial or (q, me) in board.mix_partials or q in board.ranked:
            continue
        rows = final_rows(board, q)
        if rows is None:
            waiting.append(q)
            continue
        share = _finalized(state, ceremony, view)
        label = manifest.questions[q].label()
        with progress(f"decrypting the mixed {label!r} ({len(rows)} rows)", 1,
                      quiet=quiet) as advance:
            partial = partial_decrypt_rows(view.context().fingerprint, q, me, share, rows,
                                           secrets.token_bytes)
            command = sign_command(state.signing_key, eid, MIX_DECRYPTION, partial.to_json())
            deliver_command(client, eid, MIX_DECRYPTION, command, state.signing_key)
            advance(1)
        posted += 1
    if waiting:
        labels = ", ".join(repr(manifest.questions[q].label()) for q in waiting)
        return None, f"waiting for the mixers to finish {labels} (`evote trustee mix`)"
    return posted, ""


def ranked_round(client: Client, key: SigningKey, election_id: str) -> tuple[int | None, str]:
    """Post the ``ranked_result`` of every question t trustees have decrypted;
    ``(number posted, "")`` when none is missing."""
    view = api.fetch_board(client, election_id)
    board, mixing = view.board, view.mixing()
    if mixing is None or not view.setup.manifest.mixed_questions:
        return 0, ""
    posted, reasons = 0, []
    for step in pending(board):
        q = step["question"]
        label = repr(view.setup.manifest.questions[q].label())
        if step["step"] == "mix":
            reasons.append(f"{label}: waiting for {names([step['mixer']], 'mixer')} to mix")
        elif step["step"] == "decryption":
            have, t = step["trustees"], step["threshold"]
            reasons.append(f"{label}: {len(have)} of {t} mixed-list decryptions "
                           "(`evote trustee decrypt`)")
        else:
            result = ranked_result(board, q, mixing.tie_seed)
            command = sign_command(key, election_id, RANKED_RESULT, result.to_json())
            deliver_command(client, election_id, RANKED_RESULT, command, key)
            posted += 1
    if reasons:
        return None, "; ".join(reasons)
    return posted, ""


def mixnet_status(view: BoardView) -> list[tuple[str, str]]:
    """``evote election status`` lines for the ranked and graded questions (none without)."""
    manifest = view.setup.manifest
    if not manifest.mixed_questions:
        return []
    board = view.board
    mixers = len(view.setup.mixers)
    out = []
    for q in manifest.mixed_questions:
        question = manifest.questions[q]
        mixed = len(board.mixes.get(q, ()))
        decrypted = sum(1 for (qq, _) in board.mix_partials if qq == q)
        state = "counted" if q in board.ranked else (
            f"{mixed}/{mixers} mixes, {decrypted}/{view.setup.threshold} decryptions")
        out.append((f"{question.id} ({question.method})", state))
    return out
