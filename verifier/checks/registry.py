"""The registry of record checks: what a check is, its running state, and the groups.

The board is streamed once, by one :class:`~verifier.checks.engine.RecordVerifier`;
each group of checks is a module of this package holding its ``CHECKS`` (the
checks' numbers and names, as ``docs/verifier.md`` numbers them) and a mixin
class with its handlers, so a group's code sits in its own module while sharing
the state of that one pass (set up in ``RecordVerifier.__init__``).

Adding a group (as ``mixing`` was): a new module with ``CHECKS``,
numbered after the last check, and a mixin; add the module to
``engine.GROUPS`` and the mixin to ``RecordVerifier``'s bases; call its
handlers from the stream (``_on_<kind>`` for a command kind is found by name)
or from ``_finish``.  ``CHECKS`` of the package, and so the report, follow.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from evote.errors import EvoteError, RuleViolation
from evote.rulebook import RULES
from verifier.report import FAIL, PASS, SKIPPED, CheckResult, Failure


@dataclass(frozen=True, slots=True)
class CheckSpec:
    """One check: its number and name (stable), title, and what passing it proves."""

    number: int
    name: str
    title: str
    proves: str
    #: The count that must be non-zero for the check to pass (empty never passes).
    needs: str | None = None


#: The checks that can only run once the election has reached a later phase;
#: ``--in-progress`` reports them as skipped instead of failed.
LATE_CHECKS = ("counted-set", "aggregation", "partial-decryptions", "combination", "result")

#: Codes that say a check had nothing (yet) to judge, not that a rule broke.
NOT_A_VERDICT = frozenset({"empty", "not_reached", "no_context"})


def rule_of(check: str, code: str) -> str | None:
    """The rule (docs/rules.md) a failure of ``check`` with ``code`` reports, for the
    failures the verifier finds itself (the chain, the heads, the ballots' proofs);
    the projection's own violations name their rule directly."""
    if code in NOT_A_VERDICT:
        return None
    ids = [r for r in RULES.values() if r.check == check]
    for candidates in ([r for r in ids if r.code == code], [r for r in ids if r.cause_code], ids):
        if len(candidates) == 1:
            return candidates[0].id
    return None


class CheckState:
    """The running state of one check: counts and the first failure."""

    __slots__ = ("spec", "counts", "failures", "first", "notes")

    def __init__(self, spec: CheckSpec) -> None:
        self.spec = spec
        self.counts: dict[str, int] = {}
        self.failures = 0
        self.first: Failure | None = None
        self.notes: list[str] = []

    def count(self, key: str, n: int = 1) -> None:
        self.counts[key] = self.counts.get(key, 0) + n

    def fail(
        self, message: str, code: str, index: int | None = None,
        evidence: dict[str, Any] | None = None, rule: str | None = None,
    ) -> None:
        self.failures += 1
        if self.first is None:
            if rule is None:
                rule = rule_of(self.spec.name, code)
            self.first = Failure(message=message, code=code, index=index, evidence=evidence,
                                 rule=rule)

    def fail_exc(self, exc: EvoteError, index: int | None = None, prefix: str = "") -> None:
        evidence = exc.detail if exc.detail else None
        rule = exc.rule if isinstance(exc, RuleViolation) else None
        self.fail(prefix + exc.message, exc.code, index, evidence, rule)

    def result(self, *, skip: str | None = None) -> CheckResult:
        counts = dict(self.counts)
        s = self.spec
        if s.needs is not None:
            counts.setdefault(s.needs, 0)
        note = "; ".join(self.notes)
        if self.first is None and skip is not None:
            return CheckResult(s.number, s.name, s.title, SKIPPED, counts, 0, None, skip)
        first, failures = self.first, self.failures
        if first is None and s.needs is not None and counts[s.needs] == 0:
            # An empty list never passes: nothing checked is not "all good".
            first, failures = Failure(f"nothing to check: no {s.needs}", "empty"), 1
        status = PASS if first is None else FAIL
        return CheckResult(s.number, s.name, s.title, status, counts, failures, first, note)
