"""Check 19 (witnesses): the final checkpoint meets the manifest's witness policy."""

from __future__ import annotations

from evote.errors import EvoteError
from evote.witness import verify_final_checkpoint
from verifier.checks.registry import CheckSpec

CHECKS: tuple[CheckSpec, ...] = (
    CheckSpec(19, "witnesses", "Witness cosignatures",
              "the board is the one history the election's independent witnesses saw"),
)


class WitnessChecks:
    """Handlers of :class:`~verifier.checks.engine.RecordVerifier` for these checks
    (the state they use is set up in its ``__init__``)."""

    def _finish_witnesses(self) -> None:
        """(19) The final checkpoint meets the manifest's witness policy (docs/witness.md §6).

        With ``in_progress``, a cosigned checkpoint of a prefix of the board is
        accepted (the witnesses cosign after each poll); otherwise it must be
        the checkpoint of the whole board.
        """
        check = self.c["witnesses"]
        if self.created is None:
            check.fail("no readable manifest, so no witness policy to check", "no_context")
            return
        policy = self.created.manifest.witnesses
        if policy is None:
            check.notes.append("no witness policy")
            return
        check.count("witnesses", len(policy.keys))
        rule = f"{policy.threshold} of {len(policy.keys)}"
        note = self.record.checkpoint
        if note is None:
            if not self.in_progress:
                check.fail(f"the manifest requires {rule} witnesses to cosign the final "
                           "checkpoint, but the record has no checkpoint.txt",
                           "missing_checkpoint")
            return
        size, root = self.acc.size, self.acc.root()
        cut = self.checkpoint_size
        prefix = self.in_progress and cut is not None and cut < size and cut in self.roots
        if prefix:
            assert cut is not None
            size, root = cut, self.roots[cut]
        try:
            names = verify_final_checkpoint(note, board_key=self.record.board_key,
                                            election=self.election, size=size, root=root,
                                            policy=policy)
        except EvoteError as exc:
            check.fail_exc(exc, None)
            return
        check.count("cosigned by", len(names))
        check.notes.append(f"cosigned by {', '.join(names)} ({rule} needed)")
        if prefix:
            check.notes.append(f"in progress: cosigned up to entry {size} of {self.acc.size}")
