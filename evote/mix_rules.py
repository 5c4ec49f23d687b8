"""The projection's rules for the mixnet (R-MIX-*): mixes, mixed-row decryptions, ranked counts.

A mixin of :class:`evote.rules.BoardState` (which holds the state: ``mixes``,
``mix_partials``, ``ranked``), kept in its own module so that the projection
stays one readable file per concern.  :meth:`BoardState.check` calls
``_mixing_<kind>(body, mixing)`` after the kind's own rules, with the
:class:`evote.ranked.MixInputs` the caller passed (the first mix's input and
the tie seed, which a state holding no ballots and no entry hashes cannot
know); :meth:`BoardState.fold` calls ``_fold_<kind>``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from evote.encoding import canonical_json
from evote.errors import EvoteError
from evote.mix_payloads import RankedResult
from evote.mixdecryption import RowsPartialDecryption, verify_decrypted_rows, verify_partial_rows
from evote.mixnet import Mix, verify_mix
from evote.ranked import MixInputs, expected_count, next_mixer, pending, tally_shape
from evote.rulebook import violation

if TYPE_CHECKING:  # pragma: no cover
    from evote import dkg
    from evote.payloads import ResultPublished, TallyPosted
    from evote.rules import BoardState


def _proof_check(mixing: MixInputs | None, rule: str, check: Callable[..., None], *args: Any) -> None:
    """``check(*args)`` here, a failure raised as ``rule``; or handed to the caller's
    ``mixing.offload`` (:class:`evote.ranked.MixInputs` says what it promises)."""
    if mixing is not None and mixing.offload is not None:
        mixing.offload(rule, check, *args)
        return
    try:
        check(*args)
    except EvoteError as exc:
        raise violation(rule, exc.message, cause=exc) from None


class MixnetRules:
    """R-MIX-01..11 (docs/rules.md, "The mixnet")."""

    __slots__ = ()

    def _mixing_tally_posted(self: BoardState, body: TallyPosted, _m: MixInputs | None) -> None:
        shape = tally_shape(self._created().manifest)
        if body.tally.shape != shape:
            raise violation(
                "R-MIX-11",
                f"the tally has shape {list(body.tally.shape)}; the choice and score questions "
                f"give {list(shape)} (ranked and grades questions are never summed)",
                detail={"posted": list(body.tally.shape), "expected": list(shape)},
            )

    def _mixed_question(self: BoardState, q: int, rule: str) -> int:
        manifest = self._created().manifest
        if not 0 <= q < len(manifest.questions) or not manifest.questions[q].is_mixed:
            raise violation(rule, f"question {q} is not a ranked or grades question",
                            detail={"question": q})
        return len(manifest.questions[q].options)

    def _mixing_mix_posted(self: BoardState, m: Mix, mixing: MixInputs | None) -> None:
        width = self._mixed_question(m.question, "R-MIX-01")
        expected = next_mixer(self, m.question)
        if expected is None:
            raise violation("R-MIX-01", f"question {m.question}: every mixer has already mixed",
                            detail={"question": m.question, "mixer": m.mixer})
        if m.mixer != expected:
            raise violation(
                "R-MIX-01",
                f"question {m.question}: mixer {m.mixer} mixed, mixer {expected} is next",
                detail={"question": m.question, "mixer": m.mixer, "expected": expected},
            )
        done = self.mixes.get(m.question, ())
        if done:
            inputs = done[-1].rows
        elif mixing is not None:
            inputs = mixing.initial.get(m.question)
            if inputs is None:
                raise violation("R-MIX-02", f"question {m.question}: no counted ballot to mix")
        else:
            return  # the caller checks the first mix (docstring of check)
        if m.rows.width != width or len(m.rows) != len(inputs) or inputs.width != width:
            raise violation(
                "R-MIX-02",
                f"question {m.question}: mixer {m.mixer} posted {len(m.rows)} rows of "
                f"{m.rows.width}; its input has {len(inputs)} rows of {width}",
                detail={"question": m.question, "mixer": m.mixer},
            )
        if m.input_digest != inputs.digest():
            raise violation(
                "R-MIX-02",
                f"question {m.question}: mixer {m.mixer} shuffled a list other than "
                + ("the previous mix's output" if done else "the counted ballots' rows"),
                detail={"question": m.question, "mixer": m.mixer},
            )
        fingerprint, joint = self._mixing_keys()
        mixer = self._created().mixers[m.mixer - 1]
        _proof_check(mixing, "R-MIX-03", verify_mix,
                     fingerprint, joint.joint_key, m.question, mixer, inputs, m)

    def _mixing_keys(self: BoardState) -> tuple[bytes, dkg.JointKey]:
        if self.fingerprint is None or self.joint_key is None:
            raise violation("R-PHASE-04", "the election was never opened")
        return self.fingerprint, self.joint_key

    def _final_list(self: BoardState, q: int, rule: str, what: str) -> Any:
        self._mixed_question(q, rule)
        if next_mixer(self, q) is not None:
            raise violation(
                rule, f"question {q}: {what} comes after the last mixer's mix",
                detail={"question": q, "next_mixer": next_mixer(self, q)},
            )
        return self.mixes[q][-1].rows

    def _mixing_mix_decryption(self: BoardState, p: RowsPartialDecryption, mixing: MixInputs | None) -> None:
        rows = self._final_list(p.question, "R-MIX-04", "a mix_decryption")
        if (p.question, p.trustee) in self.mix_partials:
            raise violation(
                "R-MIX-05",
                f"trustee {p.trustee} has already decrypted question {p.question}'s list",
                detail={"question": p.question, "trustee": p.trustee},
            )
        fingerprint, joint = self._mixing_keys()
        key = joint.verification_keys.get(p.trustee)
        if key is None:
            raise violation("R-MIX-04", f"trustee {p.trustee} is not a qualified trustee",
                            detail={"trustee": p.trustee})
        if p.list_digest != rows.digest() or tuple(len(r) for r in p.factors) != (
            (rows.width,) * len(rows)
        ):
            raise violation(
                "R-MIX-04",
                f"trustee {p.trustee}'s factors are not for question {p.question}'s final list",
                detail={"question": p.question, "trustee": p.trustee},
            )
        _proof_check(mixing, "R-MIX-06", verify_partial_rows, fingerprint, p.question, key, rows, p)

    def _mixing_ranked_result(self: BoardState, r: RankedResult, mixing: MixInputs | None) -> None:
        q = r.question
        rows = self._final_list(q, "R-MIX-07", "ranked_result")
        if q in self.ranked:
            raise violation("R-MIX-08", f"question {q}'s result is already on the board",
                            detail={"question": q})
        fingerprint, joint = self._mixing_keys()
        partials = [p for (qq, _j), p in sorted(self.mix_partials.items()) if qq == q]
        _proof_check(mixing, "R-MIX-07", verify_decrypted_rows,
                     fingerprint, q, rows, partials, joint, r.decrypted)
        if mixing is None:
            return  # the caller recounts (docstring of check)
        try:
            recount = expected_count(self._created().manifest, q, r.decrypted, mixing.tie_seed)
        except EvoteError as exc:
            raise violation("R-MIX-09", exc.message, cause=exc) from None
        if canonical_json(recount.to_json()) != canonical_json(dict(r.count)):
            raise violation(
                "R-MIX-09",
                f"question {q}: the posted count is not the recount by "
                f"{recount.method} (winners {list(recount.winners)})",
                detail={"question": q, "recounted_winners": list(recount.winners)},
            )

    def _mixing_result_published(self: BoardState, _body: ResultPublished, _m: MixInputs | None) -> None:
        missing = pending(self)
        if missing:
            raise violation(
                "R-MIX-10",
                "result_published comes after every ranked and grades question is mixed, "
                f"decrypted and counted; missing: {missing}",
                detail={"pending": missing},
            )

    def _fold_mix_posted(self: BoardState, m: Mix) -> BoardState:
        done = self.mixes.get(m.question, ())
        if m.mixer != len(done) + 1:  # a replay past R-MIX-01 keeps the chain as it was
            return self
        return dataclasses.replace(self, mixes={**self.mixes, m.question: (*done, m)})

    def _fold_mix_decryption(self: BoardState, p: RowsPartialDecryption) -> BoardState:
        return self._put("mix_partials", (p.question, p.trustee), p)

    def _fold_ranked_result(self: BoardState, r: RankedResult) -> BoardState:
        return self._put("ranked", r.question, r)

