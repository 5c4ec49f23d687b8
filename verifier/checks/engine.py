"""The checks, numbered exactly as in ``docs/verifier.md``, and the engine that runs them.

Verification is a pure function of the record.  The board is read once, in
order, as a stream; every entry feeds the checks it concerns, and each check
keeps counts and its *first* failure (entry index, error code, message, and
evidence where there is some).  A failing check never stops the others: the
report shows everything that is wrong.

The checks (``CHECKS``; the numbers are part of the interface)::

     1  record-format        every line is the canonical JSON of a well-formed entry
                             of this election at its position
     2  manifest             the manifest is valid; election_opened's fingerprint
                             equals the one recomputed from manifest, key, commitments
                             and credential list
     3  key-ceremony         trustee messages, commitments and their Schnorr proofs;
                             the joint key recomputed (evote.dkg.verify_ceremony)
                             equals key_published
     4  credentials          the credential list: valid keys and weights, sorted, no
                             duplicates, count and total weight reported
     5  command-signatures   every command is signed, by the key allowed to issue it
     6  hash-chain           every entry's prev is the hash of the one before; times
                             never go back
     7  tree-heads           every signed head: board-key signature, and root equal to
                             the root recomputed from the board; the latest head covers
                             the whole board
     8  consistency          RFC 9162 consistency proofs, built from the board, between
                             successive heads and from every head to the latest
     9  equivocation         no two validly signed heads of one size with different roots
    10  lifecycle            entry kinds in an order evote.election allows (no ballot
                             before open or after close)
    11  ballots              every cast ballot: shape, listed credential, signature,
                             every range proof, all bound to the election fingerprint
    12  unique-ciphertexts   no ciphertext (its alpha = r·G) appears twice among cast
                             and audited ballots
    13  counted-set          the newest valid ballot of each credential is counted; the
                             tally's count and total weight match; count <= credentials
    14  aggregation          the posted encrypted tally equals the homomorphic sum of
                             the counted ballots, weighted
    15  partial-decryptions  every trustee's partial decryption and its DLEQ proofs; an
                             invalid one (signed, of the tally's shape) is named, not used
    16  combination          t valid partials of distinct qualified trustees combine
                             (Lagrange at 0) and every count is within its bound
    17  result               the published result equals that decryption
    18  audited-ballots      every audited ballot re-encrypts to its ciphertexts and
                             its proofs verify
    19  witnesses            with a witness policy in the manifest: the record's
                             checkpoint.txt is the board-signed checkpoint of the whole
                             board, cosigned by at least k of the listed witnesses
    20  mixes                every mixer's shuffle proof and signature, in mixer order:
                             the first input is the counted ballots' rows, each next
                             input the previous output (proofs checked on the workers)
    21  mixed-decryptions    every trustee's decryption factors of the final lists and
                             their DLEQ proofs (on the workers)
    22  ranked-count         each ranked_result is the decryption of its final list and
                             its count sheet the recount by the method, tie seed from
                             election_closed

How the aggregate is kept (memory does not grow with the number of ballots):
workers return, per run of consecutive ``ballot_cast`` lines, the sum of the
valid ballots' ciphertexts grouped by credential weight; the main process adds
those sums and, when a credential votes again, *subtracts* its previous
ballot's ciphertexts (Point subtraction).  For that it keeps, per credential,
only the board position of its latest ballot; the ballots a re-vote replaced
are read again from the record after the stream and subtracted then
(:mod:`verifier.checks.compact`).  The weights are applied once per distinct
weight at the end (:func:`evote.tally.verify_aggregate` over the per-weight
sums), not once per ballot.  Check 12 keeps an 8-byte prefix and a position
per alpha; the few alphas whose prefixes collide are compared in full, read
again from the record, at the end.
"""

from __future__ import annotations

import time as _time
from collections.abc import Callable, Iterator
from typing import Any

from evote.checkpoint import checkpoint_size
from evote.credentials import CredentialList
from evote.dkg import messages as dkg
from evote.fingerprint import ElectionContext
from evote.group import Point
from evote.kinds import Phase
from evote.merkle import MerkleAccumulator
from evote.payloads import ElectionCreated
from evote.rules import BoardState
from evote.tally import EncryptedTally, PartialDecryption, Result
from verifier import parallel
from verifier.checks import ballots, log, mixing, record, setup, tally, timing, witnesses
from verifier.checks.ballots import BallotChecks
from verifier.checks.compact import AlphaTable, CountedPositions
from verifier.checks.log import LogChecks
from verifier.checks.mixing import MixingChecks
from verifier.checks.record import RecordChecks
from verifier.checks.registry import LATE_CHECKS, NOT_A_VERDICT, CheckSpec, CheckState
from verifier.checks.setup import SetupChecks
from verifier.checks.tally import TallyChecks
from verifier.checks.timing import TimeChecks
from verifier.checks.witnesses import WitnessChecks
from verifier.record import Record
from verifier.report import FAIL, SKIPPED, CheckResult, QuestionTotals, Report

#: The groups of checks, in report order; each gives ``CHECKS`` and a mixin of
#: :class:`RecordVerifier`.  A new group is a module here and a base class below.
GROUPS = (record, setup, log, ballots, tally, witnesses, mixing, timing)

CHECKS: tuple[CheckSpec, ...] = tuple(
    sorted((spec for group in GROUPS for spec in group.CHECKS), key=lambda s: s.number))

SPEC_BY_NAME = {c.name: c for c in CHECKS}


ProgressFn = Callable[[int, int], None]
"""``progress(entries_done, ballots_done)``, called after each chunk."""


#: The note of a check an abandoned election (R-PHASE-07) never reached.
ABANDONED_NOTE = "election abandoned in setup (R-PHASE-07): nothing to check"


class RecordVerifier(RecordChecks, SetupChecks, LogChecks, BallotChecks, TallyChecks,
                     WitnessChecks, MixingChecks, TimeChecks):
    """Runs every check over one record.

    ``runner_factory(ctx)`` makes the :class:`~verifier.parallel.Runner` that
    checks ballot lines once the election context is known (the default checks
    them in this process).  ``in_progress`` reports the late checks of an
    election that is not tallied yet as skipped instead of failed.
    """

    def __init__(
        self,
        record: Record,
        *,
        runner_factory: Callable[[ElectionContext | None], parallel.Runner] | None = None,
        chunk_size: int = parallel.DEFAULT_CHUNK,
        progress: ProgressFn | None = None,
        in_progress: bool = False,
    ) -> None:
        self.record = record
        self.runner_factory = runner_factory or parallel.InlineRunner
        self.chunk_size = chunk_size
        self.progress = progress
        self.in_progress = in_progress
        self.c = {spec.name: CheckState(spec) for spec in CHECKS}
        # the checks every entry or ballot feeds, looked up once
        self._fmt, self._chain, self._life = (
            self.c["record-format"], self.c["hash-chain"], self.c["lifecycle"])
        self._ballots, self._unique = self.c["ballots"], self.c["unique-ciphertexts"]
        self.election = record.election
        # chain and tree
        self.acc = MerkleAccumulator()
        self.prev_leaf = bytes(32)
        self.last_time = 0
        self.head_sizes = {h.size for h in record.heads}
        # (19) capture the root at the cosigned checkpoint's size too (--in-progress)
        self.checkpoint_size = checkpoint_size(record.checkpoint)  # check 19 says why if None
        if self.checkpoint_size is not None:
            self.head_sizes.add(self.checkpoint_size)
        self.roots: dict[int, bytes] = {}
        self.needed: dict[tuple[int, int], bytes | None] = {}
        # the board projection (evote.rules): every rule of docs/rules.md
        self.board = BoardState()
        # setup
        self.created: ElectionCreated | None = None
        self.joint: dkg.JointKey | None = None
        self.credentials: CredentialList | None = None
        self.ctx: ElectionContext | None = None
        # ballots and tally
        self.n_options = 0
        self.shape: tuple[int, ...] = ()
        self.sums: dict[int, list[Point]] = {}
        self.segment_sums: dict[int, dict[int, bytes]] = {}
        # credential -> board position of its last valid ballot (the counting rule);
        # the ballots a re-vote replaced, (weight, position), subtracted at the end
        self.last = CountedPositions()
        self.replaced: list[tuple[int, int]] = []
        # (12) every alpha's 8-byte prefix and position (verifier.checks.compact)
        self.alphas = AlphaTable()
        self.ballots = 0
        self.tally: EncryptedTally | None = None
        self.tally_index: int | None = None
        self.partials: dict[int, PartialDecryption] = {}
        self.result: Result | None = None
        self.result_index: int | None = None
        self.totals: tuple[QuestionTotals, ...] = ()
        self.runner_description = "in-process"
        self.workers = 1
        self.abandoned_reason: str | None = None
        self._init_mixing()

    def run(self) -> Report:
        started = _time.perf_counter()
        lines = self.setup()
        # Voting and tally phases: chunks of lines, checked by the runner.
        if self.ctx is not None:
            runner = self.runner_factory(self.ctx)
            self.runner_description = runner.description
            self.workers = runner.workers
            self._proof_runner = runner  # (20, 21) the mixnet's proofs go to it too
            try:
                for chunk_result in runner.map(self._chunks(lines)):
                    self._consume_chunk(chunk_result)
                    if self.progress:
                        last = chunk_result.results[-1].position
                        self.progress(last + 1, self.ballots)
                self._collect_proofs()
            finally:
                self._proof_runner = None
                runner.close()
        self._finish()
        elapsed = _time.perf_counter() - started
        return self._report(elapsed)

    def setup(self) -> Iterator[tuple[int, bytes]]:
        """Check the setup phase, in this process, until the election context exists.

        Returns the rest of the board, unread.  Used by :meth:`run` and by the
        audit command, which needs the context but not the ballots.
        """
        self._plan_consistency()
        lines = self._numbered_lines()
        for position, line in lines:
            result, entry = parallel.check_command_line(self.ctx, position, line)
            self._consume(result, entry=entry)
            if self.ctx is not None:
                break
            if self.progress:
                self.progress(position + 1, self.ballots)
        return lines

    def _finish(self) -> None:
        self._finish_heads()
        self._finish_ballots()
        self._finish_tally()
        if self.ctx is None:
            self.c["ballots"].fail("the board never reached a valid election_opened: no "
                                   "ballot could be checked", "no_context")
        audited = self.c["audited-ballots"]
        if not audited.counts.get("audited"):
            audited.notes.append("no audited ballots on the board (auditing is optional)")
        self.c["counted-set"].count("credentials", len(self.credentials or ()))
        self._finish_witnesses()
        self._collect_proofs()  # any left (a record whose context came only at its end)
        self._finish_mixing()

    @property
    def abandoned(self) -> bool:
        """The board's replay ended in the abandoned phase (a valid ``election_abandoned``)."""
        return self.board.phase is Phase.ABANDONED

    def _report(self, elapsed: float) -> Report:
        results = []
        for spec in CHECKS:
            check = self.c[spec.name]
            skip = None
            if self.in_progress and spec.name in LATE_CHECKS and self.tally is None:
                skip = "election not tallied yet (--in-progress)"
            if (self.in_progress and spec.name in ("combination", "result")
                    and self.result is None):
                skip = "no result yet (--in-progress)"
            if (self.in_progress and spec.name == "witnesses" and self.record.checkpoint is None
                    and self.created is not None and self.created.manifest.witnesses is not None):
                skip = "no cosigned checkpoint yet (--in-progress)"
            skip = skip or self._mixing_skip(spec.name)
            result = check.result(skip=skip)
            # An abandoned election (R-PHASE-07) never reached the checks that find
            # nothing on its board: exactly those empty verdicts become skips that say
            # why; every real failure stays one.  The projection alone decides whether
            # the abandonment was valid (only then does the replay end ABANDONED).
            f = result.first_failure
            if (self.abandoned and f is not None and f.code in NOT_A_VERDICT
                    and result.failures == 1):
                result = CheckResult(result.number, result.name, result.title, SKIPPED,
                                     result.counts, 0, None, ABANDONED_NOTE)
            results.append(result)
        stats = {
            "entries": self.acc.size,
            "ballots": self.ballots,
            "seconds": round(elapsed, 3),
            "ballots_per_second": round(self.ballots / elapsed, 1) if elapsed > 0 else 0,
            "runner": self.runner_description,
            "workers": self.workers,
        }
        # The result is shown (and charted) only for a record that verified
        # completely: a correct decryption of a tampered board is no result.
        verified = all(r.status != FAIL for r in results)
        return Report(
            command="record",
            source=self.record.source.description,
            election=self.election,
            checks=tuple(results),
            result=self.totals if verified else (),
            stats=stats,
            abandoned=self.abandoned,
            ranked=self._ranked_report() if verified else (),
        )


def verify_record(record: Record, **options: Any) -> Report:
    """Run every check over ``record`` and return the report (see :class:`RecordVerifier`)."""
    return RecordVerifier(record, **options).run()
