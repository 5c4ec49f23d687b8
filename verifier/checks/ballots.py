"""Checks 11 (ballots), 12 (unique-ciphertexts) and 18 (audited-ballots).

Workers (``verifier.parallel``) verify each ballot's proofs; what arrives here
is the verdict, the credential and the raw ciphertexts, which feed the
counting rule and the table of alphas.  Neither keeps ciphertexts: see
:mod:`verifier.checks.compact` for what they keep instead and why the record
is read a second time (only the lines of re-voted ballots and of alphas whose
8-byte prefixes collide).
"""

from __future__ import annotations

from collections.abc import Iterator

from evote.encoding import b64encode
from evote.group import POINT_BYTES
from verifier import parallel
from verifier.checks import compact
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
        """(12) Note every alpha; duplicates are found at the end (``_finish_ballots``)."""
        add = self.alphas.add
        step = 2 * POINT_BYTES
        self._unique.count("ciphertexts", len(cts) // step)
        for i in range(0, len(cts), step):
            add(pos, cts[i : i + POINT_BYTES])

    def _reread(self, positions: set[int]) -> dict[int, bytes] | None:
        """The ciphertexts of the ballots at ``positions``, read again from the record
        (its board up to the entries checked so far, which must hash to the same root)."""
        assert self.ctx is not None
        size = self.acc.size

        def lines() -> Iterator[bytes]:
            for n, line in enumerate(self.record.board_lines()):
                if n >= size:
                    return
                yield line

        return compact.reread_ciphertexts(lines(), self.ctx.manifest, positions,
                                          self.acc.root())

    def _flush_replaced(self) -> None:
        """Subtract the ballots that re-votes replaced (their ciphertexts read again)."""
        if not self.replaced:
            return
        pending, self.replaced = self.replaced, []
        full = self._reread({p for _, p in pending})
        if full is None:
            self.c["counted-set"].fail(
                "the record read again differs from the record checked: the replaced "
                "ballots cannot be subtracted", "record_changed")
            return
        for weight, p in pending:
            self._subtract(weight, full[p])

    def _finish_ballots(self) -> None:
        """(12, 13) The end of the stream: replaced ballots, then duplicate alphas, the
        first failure being the first alpha (in board order) seen before."""
        self._flush_replaced()
        table = self.alphas
        candidates = table.candidates()
        if not candidates:
            return
        where = {i: table.locate(i) for i in candidates}
        full = self._reread({p for p, _ in where.values()})
        if full is None:
            self._unique.fail("the record read again differs from the record checked: "
                              "alphas with the same prefix cannot be compared",
                              "record_changed")
            return
        step = 2 * POINT_BYTES
        alphas = {i: full[p][k * step : k * step + POINT_BYTES] for i, (p, k) in where.items()}
        for i in compact.find_duplicates(candidates, alphas):
            self._unique.fail("a ciphertext (its alpha) already appeared in an earlier ballot",
                              "duplicate_ciphertext", where[i][0], {"alpha": b64encode(alphas[i])})

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
        if self._has_mixed():
            self.last.keep_values()  # (20) the mixnet's input needs the ciphertexts
        previous = self.last.cast(r.credential, r.position, r.ciphertexts)
        self._counted_ballot(r.credential, r.position)  # (20) the board order of the rows
        if previous is not None:
            ballots.count("re-votes")
            self.replaced.append((r.weight, previous))  # subtracted by _flush_replaced

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
