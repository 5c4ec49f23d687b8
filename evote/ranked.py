"""The mixnet on the board: what each party computes, as pure functions.

The server (before it appends a mix), the verifier (replaying a record), the
CLI (a mixer about to mix, a trustee about to decrypt, the official about to
count) all need the same few values from the board, and each is computed here
once:

* :func:`mix_input` -- the list mixer 1 shuffles for each ranked or graded
  question: that question's ciphertexts of every counted ballot, one row per
  ballot, **in board order of the counted ballot entries** (the entry index of
  the ballot that counts, rules.md §3.1, ascending);
* :func:`tie_seed` -- the count's tie-break seed, from ``election_closed``;
* :func:`expected_count` -- the recount of a question's decrypted rows by its
  method, i.e. what ``ranked_result.count`` must be (R-MIX-09);
* :func:`tally_shape` / :func:`tally_ciphertexts` / :func:`tally_bounds` --
  the homomorphic tally's view of a ballot: only the choice and score
  questions (R-MIX-11);
* :class:`MixInputs` -- what the projection (:meth:`evote.rules.BoardState.check`,
  ``mixing=``) needs from the caller for R-MIX-02/09, as :class:`TallyExpectation`
  is for R-TAL-01/02; :func:`next_mixer`, :func:`final_rows`,
  :func:`pending` -- where the mixing of a board stands.

Why the tie seed is taken from ``election_closed`` and not from the entry just
before the count: every entry after the close is posted by someone who may
already know the decrypted rows (a trustee posting the last factors can
combine them with the others'), and could grind its proof randomness, or the
official could order the results, until the seed breaks a tie its way.  At the
close nobody knows any plaintext (the ballots are encrypted, the mixes not yet
done), and afterwards nobody can change the entry.  So the seed is the hash of
the board's last entry before any counting input exists:
``tie_seed = tagged_hash("count-tie-seed", leaf_hash(election_closed))``
(docs/protocol-mixnet.md §7.1).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from evote.board import Entry
from evote.counting import CountResult, count
from evote.elgamal import Ciphertext
from evote.errors import MixnetError
from evote.hashing import TAG_TIE_SEED, tagged_hash
from evote.kinds import ELECTION_CLOSED
from evote.manifest import Manifest
from evote.mixdecryption import DecryptedRows
from evote.mixnet import initial_rows
from evote.shuffle import RowList

if TYPE_CHECKING:  # pragma: no cover
    from evote.mix_payloads import RankedResult
    from evote.rules import BoardState

__all__ = [
    "MixInputs",
    "expected_count",
    "final_rows",
    "mix_input",
    "mix_inputs",
    "next_mixer",
    "pending",
    "ranked_result",
    "tally_bounds",
    "tally_ciphertexts",
    "tally_shape",
    "tie_seed",
]

Answers = Sequence[Sequence[Ciphertext]]
"""A ballot's ciphertexts per question and option (``[a.choices for a in ballot.answers]``)."""


def tie_seed(closed: Entry) -> bytes:
    """``tagged_hash("count-tie-seed", closed.leaf_hash())`` of the board's ``election_closed``."""
    if closed.kind != ELECTION_CLOSED:
        raise MixnetError(f"the tie seed comes from election_closed, not {closed.kind}")
    return tagged_hash(TAG_TIE_SEED, closed.leaf_hash())


def mix_input(
    manifest: Manifest, counted: Iterable[tuple[int, Answers]]
) -> dict[int, RowList]:
    """The list mixer 1 shuffles, for every ranked or graded question (question index -> rows).

    ``counted``: (board entry index, ciphertexts) of every counted ballot, in
    any order; the rows are sorted by entry index.  A question gets no list
    when no ballot was counted (nothing to mix; see :func:`pending`).
    """
    ballots = [answers for _, answers in sorted(counted, key=lambda pair: pair[0])]
    if not ballots:
        return {}
    return {q: initial_rows(ballots, q) for q in manifest.mixed_questions}


def mix_inputs(
    manifest: Manifest, counted: Iterable[tuple[int, Answers]], closed: Entry
) -> MixInputs:
    """:class:`MixInputs` for the projection from the counted ballots and ``election_closed``."""
    return MixInputs(mix_input(manifest, counted), tie_seed(closed))


@dataclass(frozen=True)
class MixInputs:
    """What the caller of :meth:`evote.rules.BoardState.check` knows and the state does
    not (it holds no ballots and no entry hashes): the first mix's input per question
    (:func:`mix_input`) and the tie seed (:func:`tie_seed`)."""

    initial: Mapping[int, RowList]
    tie_seed: bytes
    #: Who runs the expensive proof checks: R-MIX-03's shuffle proof
    #: (:func:`evote.mixnet.verify_mix`), R-MIX-06's DLEQ proofs
    #: (:func:`evote.mixdecryption.verify_partial_rows`) and R-MIX-07's decryption
    #: (:func:`evote.mixdecryption.verify_decrypted_rows`).  None: the projection, in
    #: line.  Else ``offload(rule, check, *args)`` is called instead, and the caller
    #: promises to run ``check(*args)`` and report its failure as ``rule``'s violation
    #: at this entry: the verifier spreads these checks over its workers, so a long
    #: mixed list is not verified on one core (docs/verifier.md checks 20-22).
    offload: Callable[..., None] | None = None


def expected_count(
    manifest: Manifest, question: int, decrypted: DecryptedRows | Sequence[Sequence[int]],
    seed: bytes,
) -> CountResult:
    """The count ``ranked_result`` must carry (R-MIX-09): the question's method over its
    public rows, ``seats`` for STV, the number of grades for Majority Judgment."""
    q = manifest.questions[question]
    if not q.is_mixed or q.method is None:
        raise MixnetError(f"question {question} ({q.id!r}) is not a ranked or grades question")
    rows = decrypted.rows if isinstance(decrypted, DecryptedRows) else decrypted
    return count(
        q.method, rows, len(q.options), seed,
        seats=q.seats, grades=len(q.grades) if q.kind == "grades" else None,
    )


def ranked_result(
    state: BoardState, question: int, seed: bytes
) -> RankedResult:
    """What the official posts for ``question`` once t trustees have decrypted its final
    list: the decrypted rows (from the board's ``mix_decryption`` entries) and their count.

    Raises :class:`~evote.errors.DecryptionError` with fewer than t valid factors,
    :class:`MixnetError` before the last mix."""
    from evote.mix_payloads import RankedResult
    from evote.mixdecryption import combine_rows

    rows = final_rows(state, question)
    if rows is None:
        raise MixnetError(f"question {question}: not every mixer has mixed yet")
    created = state._created()
    if state.fingerprint is None or state.joint_key is None:
        raise MixnetError("the election was never opened")
    partials = [p for (q, _), p in sorted(state.mix_partials.items()) if q == question]
    decrypted = combine_rows(state.fingerprint, question, rows, partials, state.joint_key,
                             max_value(created.manifest, question))
    sheet = expected_count(created.manifest, question, decrypted, seed)
    return RankedResult(decrypted, sheet.to_json())


def max_value(manifest: Manifest, question: int) -> int:
    """The largest value a row of the question holds: k for ranks, G−1 for grades
    (:func:`evote.mixdecryption.combine_rows`' ``max_value``)."""
    return manifest.questions[question].max_score


# --- the homomorphic tally's view (R-MIX-11) ---------------------------------------------


def tally_shape(manifest: Manifest) -> tuple[int, ...]:
    """The tally's shape: the number of options of each choice and score question, in order."""
    return tuple(len(manifest.questions[q].options) for q in manifest.tallied_questions)


def tally_ciphertexts(manifest: Manifest, answers: Answers) -> list[Sequence[Ciphertext]]:
    """The part of one ballot the homomorphic tally adds up (ranked and graded rows left out)."""
    return [answers[q] for q in manifest.tallied_questions]


def tally_bounds(manifest: Manifest, total_weight: int) -> list[list[int]]:
    """``evote.tally.combine``'s bounds for the tallied questions (total weight × max score)."""
    return [
        [total_weight * manifest.questions[q].max_score] * len(manifest.questions[q].options)
        for q in manifest.tallied_questions
    ]


# --- where the mixing stands -------------------------------------------------------------


def next_mixer(state: BoardState, question: int) -> int | None:
    """The 1-based index of the mixer whose mix of ``question`` comes next (None: all mixed)."""
    done = len(state.mixes.get(question, ()))
    return None if done >= len(state._created().mixers) else done + 1


def final_rows(state: BoardState, question: int) -> RowList | None:
    """The last mixer's output for ``question`` (what the trustees decrypt), None before it."""
    if next_mixer(state, question) is not None:
        return None
    return state.mixes[question][-1].rows


def pending(state: BoardState) -> list[dict[str, Any]]:
    """What is still missing before ``result_published`` may come (R-MIX-10), per question:
    ``{"question", "step": "mix"|"decryption"|"result", ...}``; empty when none.

    A board with no counted ballot (``tally_posted.counted == 0``) has nothing to mix."""
    created = state._created()
    if state.tally is not None and state.tally.counted == 0:
        return []
    out: list[dict[str, Any]] = []
    threshold = state.joint_key.threshold if state.joint_key is not None else None
    for q in created.manifest.mixed_questions:
        if q in state.ranked:
            continue
        m = next_mixer(state, q)
        if m is not None:
            out.append({"question": q, "step": "mix", "mixer": m})
            continue
        have = sorted(j for (qq, j) in state.mix_partials if qq == q)
        if threshold is None or len(have) < threshold:
            out.append({"question": q, "step": "decryption", "trustees": have,
                        "threshold": threshold})
            continue
        out.append({"question": q, "step": "result"})
    return out
