"""Checks 20 (mixes), 21 (mixed-decryptions) and 22 (ranked-count): the mixnet.

The rules are the projection's (:mod:`evote.mix_rules`, R-MIX-01..11): the
verifier passes every command after the close through it with an
:class:`evote.ranked.MixInputs` built from what only it holds, the counted
ballots' rows of each ranked or graded question (in board order of the
counted ballots' entries) and the tie seed from ``election_closed``.  So check
20 checks every mixer's mix in mixer order, the first one against the counted
ballots' rows and each next one against the previous output; check 22
recounts each question by its method with the documented seed.

Why the proofs are offloaded: a shuffle proof of n rows of width k costs
about 2n(k+2) exponentiations to verify, and each trustee's decryption of
the final list 4nk; on a 100,000-ballot election that is minutes of one core.
The projection hands those checks (and the check that the posted rows are
the decryption, another t DLEQ sets per question) to ``MixInputs.offload``, which submits
each (one task per mix and question, one per trustee's decryption, one per
posted count's decryption) to the
verifier's runner: the same local processes or Dask cluster that check the
ballots.  The stream goes on meanwhile (nothing after a mix depends on its
proof verifying: the projection folds a mix in either way), and the verdicts
are collected, in board order, before the runner closes.  A failed proof is
reported at its entry with the rule the projection names (R-MIX-03, R-MIX-06).

An election without ranked or graded questions passes these checks with the
note "no ranked or graded questions", as check 19 does without a witness
policy: there is nothing to mix.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from evote.board import Entry
from evote.elgamal import Ciphertext
from evote.errors import EvoteError
from evote.group import POINT_BYTES, Point
from evote.kinds import ELECTION_CLOSED, MIX_DECRYPTION, MIX_POSTED, RANKED_RESULT
from evote.mix_payloads import RankedResult
from evote.mixdecryption import RowsPartialDecryption
from evote.mixnet import Mix
from evote.ranked import MixInputs, mix_input, pending, tie_seed
from verifier.checks.registry import CheckSpec

CHECKS: tuple[CheckSpec, ...] = (
    CheckSpec(20, "mixes", "Verifiable shuffles",
              "every mixer re-encrypted and permuted the previous list, adding and "
              "dropping nothing: the decrypted rows are exactly the counted ballots"),
    CheckSpec(21, "mixed-decryptions", "Decryptions of the mixed lists",
              "each trustee decrypted the final lists with its own key share"),
    CheckSpec(22, "ranked-count", "Ranked and graded counts",
              "the published rankings are the decryption of the mixed lists, and each "
              "count sheet is their recount by the question's method"),
)

MIX_CHECKS = tuple(c.name for c in CHECKS)

#: Which check reports an offloaded proof's failure.
_CHECK_OF = {"R-MIX-03": "mixes", "R-MIX-06": "mixed-decryptions", "R-MIX-07": "ranked-count"}
_KIND_OF = {"R-MIX-03": MIX_POSTED, "R-MIX-06": MIX_DECRYPTION, "R-MIX-07": RANKED_RESULT}

NO_MIXING = "no ranked or graded questions: nothing to mix"


class MixingChecks:
    """Handlers of :class:`~verifier.checks.engine.RecordVerifier` for these checks
    (the state they use is set up by :meth:`_init_mixing`, from its ``__init__``)."""

    def _init_mixing(self) -> None:
        self.closed_entry: Entry | None = None
        self.mixing: MixInputs | None = None
        # credential -> board position of its counted ballot (only with mixed questions)
        self.counted_at: dict[bytes, int] = {}
        # (position, rule, future) of every offloaded proof check, in board order
        self.proof_tasks: list[tuple[int, str, Any]] = []
        self._mix_pos = 0
        self._proof_runner: Any = None
        #: question index -> (label, count sheet JSON, option labels) for the report
        self.count_sheets: dict[int, dict[str, Any]] = {}

    def _has_mixed(self) -> bool:
        return self.created is not None and bool(self.created.manifest.mixed_questions)

    def _counted_ballot(self, credential: bytes, position: int) -> None:
        """A counted ``ballot_cast`` (in phase): where it is, for the board order of the rows."""
        if self._has_mixed():
            self.counted_at[credential] = position

    def _mix_inputs(self, pos: int, kind: str, entry: Entry) -> MixInputs | None:
        """What the projection needs for this command (None before the close); the
        first mixes' inputs are built once, at the first command after the close."""
        if kind == ELECTION_CLOSED and self.closed_entry is None:
            self.closed_entry = entry
            return None
        if self.closed_entry is None or self.created is None:
            return None
        if self.mixing is None:
            self.mixing = MixInputs(self._initial_rows(), tie_seed(self.closed_entry),
                                    offload=self._offload)
        self._mix_pos = pos
        return self.mixing

    def _initial_rows(self) -> dict[int, Any]:
        """(R-MIX-02) each mixed question's rows of the counted ballots, in board order."""
        assert self.created is not None
        manifest = self.created.manifest
        if not manifest.mixed_questions:
            return {}
        offsets, k = [], 0
        for q in manifest.questions:
            offsets.append(k)
            k += len(q.options)
        step = 2 * POINT_BYTES

        def answers(blob: bytes) -> list[list[Ciphertext]]:
            out: list[list[Ciphertext]] = []
            for q, first in zip(manifest.questions, offsets, strict=True):
                if not q.is_mixed:
                    out.append([])
                    continue
                row = []
                for o in range(first, first + len(q.options)):
                    a = blob[o * step : o * step + POINT_BYTES]
                    row.append(Ciphertext(Point(a), Point(blob[o * step + POINT_BYTES : (o + 1) * step])))
                out.append(row)
            return out

        counted = [(self.counted_at[c], answers(blob)) for c, blob in self.last.items()
                   if c in self.counted_at]
        return mix_input(manifest, counted)

    def _offload(self, rule: str, check: Callable[..., None], *args: Any) -> None:
        """``MixInputs.offload``: run the proof check on the runner, collect it later."""
        runner = self._proof_runner
        if runner is None:  # no runner (the audit command's setup-only pass): in line
            from verifier import parallel
            runner = parallel.InlineRunner(self.ctx)
        self.proof_tasks.append((self._mix_pos, rule, runner.submit(check, args)))

    def _collect_proofs(self) -> None:
        """The offloaded proof checks' verdicts, in board order (before the runner closes)."""
        for pos, rule, task in self.proof_tasks:
            verdict = task.result()
            name = _CHECK_OF[rule]
            if verdict is None:
                self.c[name].count("proofs verified")
                continue
            code, message, detail = verdict
            kind = _KIND_OF[rule]
            check = self.c[name]
            # the first failure in board order, as an in-process replay would report it:
            # a failure found in the stream meanwhile at a later entry gives way, and so
            # does one at the same entry (the projection checks the offloaded proof first
            # there: R-MIX-07 before the recount, R-MIX-09)
            prior = check.first
            if prior is not None and (prior.index is None or prior.index >= pos):
                check.first = None  # (still counted in failures)
            check.fail(f"{kind}: {message}", code, pos, detail or None, rule=rule)
        self.proof_tasks = []

    def _on_mix_posted(self, pos: int, body: Mix, valid: bool) -> None:
        check = self.c["mixes"]
        check.count("mixes")
        check.count("rows", len(body.rows))
        check.count("ciphertexts", len(body.rows) * body.rows.width)

    def _on_mix_decryption(self, pos: int, body: RowsPartialDecryption, valid: bool) -> None:
        check = self.c["mixed-decryptions"]
        check.count("decryptions")
        check.count("factors", sum(len(r) for r in body.factors))

    def _on_ranked_result(self, pos: int, body: RankedResult, valid: bool) -> None:
        check = self.c["ranked-count"]
        check.count("results")
        check.count("rows", len(body.decrypted.rows))
        if not valid or self.created is None:
            return
        manifest = self.created.manifest
        if not 0 <= body.question < len(manifest.questions):
            return
        q = manifest.questions[body.question]
        sheet = dict(body.count)
        check.count("rounds", len(sheet.get("rounds", ())))
        self.count_sheets[body.question] = {
            "title": q.label(),
            "method": sheet.get("method"),
            "options": [q.option_label(o) for o in range(len(q.options))],
            "grades": [g["en"] if "en" in g else next(iter(g.to_json().values()))
                       for g in q.grades],
            "sheet": sheet,
        }

    def _finish_mixing(self) -> None:
        """Nothing to mix, or every mixed question mixed, decrypted and counted."""
        checks = [self.c[name] for name in MIX_CHECKS]
        if self.created is None:
            for check in checks:
                check.fail("no readable manifest, so no ranked questions to check", "no_context")
            return
        if not self._has_mixed():
            for check in checks:
                check.notes.append(NO_MIXING)
            return
        if self.board.tally is not None and self.board.tally.counted == 0:
            for check in checks:
                check.notes.append("no counted ballot: nothing to mix (R-MIX-10)")
            return
        if self.in_progress:
            return
        if self.board.tally is None:
            for check in checks:
                check.fail("the board has no tally_posted entry", "not_reached")
            return
        try:
            missing = pending(self.board)
        except EvoteError:
            return
        owner = {"mix": "mixes", "decryption": "mixed-decryptions", "result": "ranked-count"}
        for step in missing:
            check = self.c[owner[step["step"]]]
            check.fail(f"question {step['question']}: the board ends before its {step['step']}",
                       "not_reached", None, step)
            # the later steps of that question cannot have happened either
            if step["step"] == "mix":
                self.c["mixed-decryptions"].fail(
                    f"question {step['question']} was never fully mixed", "not_reached")
            if step["step"] in ("mix", "decryption"):
                self.c["ranked-count"].fail(
                    f"question {step['question']} was never decrypted", "not_reached")

    def _ranked_report(self) -> tuple[dict[str, Any], ...]:
        """The count sheets, in question order, for the report (``--json``: ``ranked``)."""
        return tuple({"question": q, **self.count_sheets[q]} for q in sorted(self.count_sheets))

    def _mixing_skip(self, name: str) -> str | None:
        """``--in-progress``: the mixnet checks of an election still mixing are skipped."""
        if not self.in_progress or name not in MIX_CHECKS or not self._has_mixed():
            return None
        if self.board.tally is None:
            return "election not tallied yet (--in-progress)"
        try:
            missing = pending(self.board)
        except EvoteError:
            return None
        if missing:
            return "mixing, decryption or count not finished (--in-progress)"
        return None


MIX_KINDS = (MIX_POSTED, MIX_DECRYPTION, RANKED_RESULT)
