"""Checks 13 (counted-set) to 17 (result): the tally, its decryption and the result."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from evote.elgamal import Ciphertext
from evote.errors import EvoteError
from evote.payloads import ResultPublished, TallyPosted
from evote.ranked import tally_bounds, tally_ciphertexts, tally_shape
from evote.rules import AggregateExpectation
from evote.tally import PartialDecryption, combine, verify_partial
from verifier.checks.registry import LATE_CHECKS, CheckSpec
from verifier.report import OptionTotal, QuestionTotals

CHECKS: tuple[CheckSpec, ...] = (
    CheckSpec(13, "counted-set", "Counted set",
              "exactly the newest ballot of each voter is counted, no one twice",
              needs="counted"),
    CheckSpec(14, "aggregation", "Encrypted tally",
              "the encrypted tally is the sum of the counted ballots", needs="options"),
    CheckSpec(15, "partial-decryptions", "Partial decryptions",
              "each trustee decrypted the tally with its own key share", needs="partials"),
    CheckSpec(16, "combination", "Threshold combination",
              "enough trustees' shares combine into the decryption of the tally",
              needs="options"),
    CheckSpec(17, "result", "Published result", "the published result is the decryption",
              needs="options"),
)


class TallyChecks:
    """Handlers of :class:`~verifier.checks.engine.RecordVerifier` for these checks
    (the state they use is set up in its ``__init__``)."""

    def _tally_expectation(self) -> AggregateExpectation | None:
        """What the counted ballots add up to (R-TAL-01/02 compare tally_posted with it)."""
        if not self.shape or self.created is None:
            return None
        self._flush_replaced()  # the sums must be exact now, in the stream
        counted, weight = self._counted()
        return AggregateExpectation(counted, weight, tally_shape(self.created.manifest),
                                    list(self._weighted_sums()))

    def _tally_options(self) -> int:
        """The number of options the homomorphic tally holds: those of the choice and
        score questions only (ranked and graded ones are mixed, R-MIX-11)."""
        return sum(tally_shape(self.created.manifest)) if self.created is not None else 0

    def _on_tally_posted(self, pos: int, body: TallyPosted, valid: bool) -> None:
        counted_check, agg = self.c["counted-set"], self.c["aggregation"]
        if self.tally is not None:
            return
        self.tally, self.tally_index = body.tally, pos
        counted, weight = self._counted()
        counted_check.count("counted", counted)
        counted_check.count("total weight", weight)
        if not self.shape:
            agg.fail("no manifest to give the tally its shape", "no_context", pos)
            return
        agg.count("options", self._tally_options())
        agg.count("ballots", counted)

    def _counted(self) -> tuple[int, int]:
        return len(self.last), self.last.weight(self.credentials)

    def _weighted_sums(self) -> Iterator[tuple[int, list[Any]]]:
        """Each weight's sum of counted ballots, shaped like the tallied part of one
        ballot (``evote.ranked.tally_ciphertexts``, for aggregate)."""
        assert self.created is not None
        manifest = self.created.manifest
        for weight in sorted(self.sums):
            pts = self.sums[weight]
            cts = [Ciphertext(pts[2 * i], pts[2 * i + 1]) for i in range(len(pts) // 2)]
            rows, k = [], 0
            for n in self.shape:
                rows.append(cts[k : k + n])
                k += n
            yield weight, tally_ciphertexts(manifest, rows)

    def _on_partial_decryption(self, pos: int, body: PartialDecryption, valid: bool) -> None:
        check = self.c["partial-decryptions"]
        check.count("partials")
        if not valid:
            return
        # Robust decryption (R-TAL-06, docs/protocol-trustees.md §5.13): a signed partial
        # of the tally's shape whose proofs fail is the trustee's fault, not the record's.
        # It is named here and kept (combine skips it; a second one from the same trustee
        # stays R-TAL-04); the combination check fails if fewer than t valid ones remain.
        self.partials[body.trustee] = body
        joint, ctx, tally = self.board.joint_key, self.ctx, self.board.tally
        key = joint.verification_keys.get(body.trustee) if joint is not None else None
        if key is None or ctx is None or tally is None:
            return
        try:
            verify_partial(ctx.fingerprint, key, tally.tally, body)
        except EvoteError as exc:
            check.count("invalid")
            check.notes.append(f"trustee {body.trustee}'s partial decryption (entry {pos}) "
                               f"is invalid and not used: {exc.message} (R-TAL-06)")
            return
        check.count("valid")
        check.count("proofs", self._tally_options())

    def _on_result_published(self, pos: int, body: ResultPublished, valid: bool) -> None:
        if self.result is None:
            self.result = body.result
            self.result_index = pos

    def _finish_tally(self) -> None:
        late = {name: self.c[name] for name in LATE_CHECKS}
        comb, result_check = self.c["combination"], self.c["result"]
        if self.tally is None:
            if not self.in_progress:
                for check in late.values():
                    check.fail("the board has no tally_posted entry", "not_reached")
            return
        ctx, joint = self.ctx, self.joint
        if ctx is None or joint is None or not self.shape:
            comb.fail("no election context to decrypt against", "no_context")
            return
        manifest = ctx.manifest
        _, total_weight = self._counted()
        bounds = tally_bounds(manifest, total_weight)
        try:
            decrypted = combine(ctx.fingerprint, self.tally, self.partials.values(), joint, bounds)
        except EvoteError as exc:
            comb.fail_exc(exc, None)
            decrypted = None
        else:
            comb.count("options", self._tally_options())
            comb.count("partials used", joint.threshold)
        if self.result is None:
            if not self.in_progress:
                result_check.fail("the board has no result_published entry", "not_reached")
            return
        result_check.count("options", self._tally_options())
        # R-TAL-05 itself was checked by the projection at the result's entry.
        if decrypted is not None and decrypted != self.result:
            result_check.fail("the published result is not the decryption of the tally",
                              "result_mismatch", self.result_index,
                              {"published": self.result.to_json(),
                               "decrypted": decrypted.to_json()}, rule="R-TAL-05")
        tallied = [manifest.questions[i] for i in manifest.tallied_questions]
        # shown only when confirmed by the decryption (and so of the tally's shape)
        if result_check.first is None and decrypted is not None and len(
                self.result.counts) == len(tallied):
            self.totals = tuple(
                QuestionTotals(
                    q.label(),
                    tuple(OptionTotal(q.option_label(o), n) for o, n in enumerate(row)),
                )
                for q, row in zip(tallied, self.result.counts, strict=True)
            )
