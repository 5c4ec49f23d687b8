"""The record of an abandoned election: one that the official gave up in setup.

``election_abandoned`` (R-PHASE-07, docs/rules.md) ends a board whose set-up
could never finish.  Such a record has no key, perhaps no credentials, no
ballots and no tally, so the checks that would judge those find nothing; this
module turns *exactly those* empty verdicts into skips that say why, and marks
the report as the record of an abandoned election.  Every real failure stays
a failure, and the board projection (:mod:`evote.rules`) alone decides whether
the abandonment itself was valid: only then does the replay end in
:attr:`~evote.kinds.Phase.ABANDONED`.

Why a separate module: :mod:`verifier.checks` is being split into a package
while this lands.  When that is done, :meth:`AbandonAwareVerifier._on_election_abandoned`
and :func:`as_abandoned` belong in it (the per-kind handler next to
``_on_election_closed``, the skips next to the ``--in-progress`` ones in
``RecordVerifier._report``), and this module goes away.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from evote.kinds import Phase
from evote.payloads import ElectionAbandoned
from verifier.checks import NOT_A_VERDICT, RecordVerifier
from verifier.record import Record
from verifier.report import SKIPPED, CheckResult, Report

ABANDONED_NOTE = "election abandoned in setup (R-PHASE-07): nothing to check"


class AbandonAwareVerifier(RecordVerifier):
    """:class:`RecordVerifier` that knows the ``election_abandoned`` kind."""

    def _on_election_abandoned(self, pos: int, body: ElectionAbandoned, valid: bool) -> None:
        # The projection has checked it (phase, signer); there is nothing to count.
        if valid:
            self.abandoned_reason = body.reason

    @property
    def abandoned(self) -> bool:
        """True when the board's replay ended in the abandoned phase (a valid abandonment)."""
        return self.board.phase is Phase.ABANDONED


def as_abandoned(report: Report) -> Report:
    """``report`` as the report of an abandoned election (see the module docstring)."""
    checks = []
    for c in report.checks:
        f = c.first_failure
        if f is not None and f.code in NOT_A_VERDICT and c.failures == 1:
            c = CheckResult(c.number, c.name, c.title, SKIPPED, c.counts, 0, None,
                            ABANDONED_NOTE)
        checks.append(c)
    return dataclasses.replace(report, checks=tuple(checks), abandoned=True)


def verify_record_or_abandoned(record: Record, **options: Any) -> Report:
    """:func:`verifier.checks.verify_record`, which also reads abandoned records."""
    run = AbandonAwareVerifier(record, **options)
    report = run.run()
    return as_abandoned(report) if run.abandoned else report
