"""The record checks, numbered exactly as in ``docs/verifier.md``, and the engine.

One module per group of checks (``record``: 1, 6, 10; ``setup``: 2–5;
``log``: 7–9; ``ballots``: 11, 12, 18; ``tally``: 13–17; ``witnesses``: 19;
``mixing``: 20–22),
:mod:`~verifier.checks.registry` for what a check is, and
:mod:`~verifier.checks.engine` for the verifier that streams the board through
them.  ``engine.GROUPS`` is where a new group of checks is added.
"""

from verifier.checks.engine import CHECKS, GROUPS, SPEC_BY_NAME, RecordVerifier, verify_record
from verifier.checks.registry import LATE_CHECKS, NOT_A_VERDICT, CheckSpec, CheckState, rule_of

__all__ = [
    "CHECKS",
    "GROUPS",
    "LATE_CHECKS",
    "NOT_A_VERDICT",
    "SPEC_BY_NAME",
    "CheckSpec",
    "CheckState",
    "RecordVerifier",
    "rule_of",
    "verify_record",
]
