"""Checks 11 (ballots), 12 (unique-ciphertexts) and 18 (audited-ballots).

Workers (``verifier.parallel``) verify each ballot's proofs; what arrives here
is the verdict, the credential and the raw ciphertexts, which feed the
counting rule and the set of alphas.
"""

from __future__ import annotations

from evote.encoding import b64encode
from evote.group import POINT_BYTES
from verifier import parallel
from verifier.checks.registry import CheckSpec

CHECKS: tuple[CheckSpec, ...] = (
    CheckSpec(11, "ballots", "Cast ballots",
              "every ballot is well formed, from a listed credential, and proves it is valid",
              needs="ballots"),
    CheckSpec(12, "unique-ciphertexts", "No duplicated ciphertexts",
              "no ballot replays another's (or an audited ballot's) encryption",
              needs="ciphertexts"),
    CheckSpec(18, "audited-ballots", "Audited ballots",
              "the devices that made audited ballots encrypted what the voters chose"),
)


class BallotChecks:
    """Handlers of :class:`~verifier.checks.engine.RecordVerifier` for these checks
    (the state they use is set up in its ``__init__``)."""

    def _alphas(self, pos: int, cts: bytes) -> None:
        check = self._unique
        alphas = self.alphas
        step = 2 * POINT_BYTES
        check.count("ciphertexts", len(cts) // step)
        for i in range(0, len(cts), step):
            alpha = cts[i : i + POINT_BYTES]
            if alpha in alphas:
                check.fail("a ciphertext (its alpha) already appeared in an earlier ballot",
                           "duplicate_ciphertext", pos, {"alpha": b64encode(alpha)})
            else:
                alphas.add(alpha)

    def _on_cast(self, r: parallel.LineResult, in_phase: bool) -> None:
        ballots = self._ballots
        ballots.count("ballots")
        self.ballots += 1
        if r.error is not None:
            check = self.c[r.error[0]]
            check.fail(r.error[2], r.error[1], r.position, rule=r.error[3])
            return
        assert r.credential is not None
        ballots.count("valid")
        self._alphas(r.position, r.ciphertexts)
        if not in_phase:
            # The worker summed it, but a ballot outside the voting phase never counts.
            self._subtract(r.weight, r.ciphertexts)
            return
        previous = self.last.cast(r.credential, r.ciphertexts)
        self._counted_ballot(r.credential, r.position)  # (20) the board order of the rows
        if previous is not None:
            ballots.count("re-votes")
            self._subtract(r.weight, previous)

    def _subtract(self, weight: int, cts: bytes) -> None:
        acc = self.sums.get(weight)
        if acc is None:  # impossible: the ballot was added to this weight's sum
            raise AssertionError("subtracting a ballot that was never added")
        parallel.sub_points(acc, cts)

    def _on_audited(self, r: parallel.LineResult) -> None:
        check = self.c["audited-ballots"]
        check.count("audited")
        if r.error is not None:
            self.c[r.error[0]].fail(r.error[2], r.error[1], r.position, rule=r.error[3])
            return
        self._alphas(r.position, r.ciphertexts)
