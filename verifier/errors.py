"""The errors the verifier itself raises, and the exit codes they map to.

One base class, :class:`VerifierError` (an :class:`evote.errors.EvoteError`),
with :meth:`~VerifierError.diagnostics` for the human-readable explanation the
CLI prints and an ``exit_code`` for the process.  A *failed check* is not an
exception: checks record failures in the report and keep going, so that one
run shows everything that is wrong.  Exceptions are for the cases where there
is nothing to check: the record cannot be read at all.

Exit codes (documented in ``docs/verifier.md``):

* ``0`` -- every check passed;
* ``1`` -- at least one check failed (the report says which);
* ``2`` -- the record could not be read (missing file, not a record, an
  unsupported format version, an unreachable server), or the command line was
  wrong (click's usage errors also exit 2).
"""

from __future__ import annotations

from evote.errors import EvoteError

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_UNREADABLE = 2


class VerifierError(EvoteError):
    """Base class of every error the verifier raises on purpose."""

    code = "verifier"
    exit_code = EXIT_FAILED

    def diagnostics(self) -> str:
        """A human explanation: what went wrong, where, and what to do about it."""
        lines = [self.message]
        for key, value in self.detail.items():
            lines.append(f"  {key}: {value}")
        hint = self.hint()
        if hint:
            lines.append(hint)
        return "\n".join(lines)

    def hint(self) -> str:
        return ""


class Unreadable(VerifierError):
    """An input that cannot be read at all, so no check can run (exit code 2)."""

    code = "unreadable"
    exit_code = EXIT_UNREADABLE

    def __init__(self, message: str, *, where: str | None = None) -> None:
        super().__init__(message, detail={"where": where} if where else None)
        self.where = where


class RecordUnreadable(Unreadable):
    """The election record cannot be read: not a record, a missing file, an
    unsupported format version, an unreachable server.

    ``where`` names the file (and line) or URL that could not be read.
    """

    code = "record_unreadable"

    def hint(self) -> str:
        return (
            "The source must be a record directory, a .zip of one, or a server URL "
            "with --election (see docs/record-format.md)."
        )


class BoardKeyMismatch(RecordUnreadable):
    """The source signs with another board key than the one the auditor pinned
    (``--board-key``): nothing it says can be trusted as the election's board."""

    code = "board_key_mismatch"

    def hint(self) -> str:
        return (
            "Pin the board key published with the election (docs/verifier.md), or check "
            "that the URL is the election's server."
        )


class FileUnreadable(Unreadable):
    """A voter's file (receipt, audited ballot) that is not what it should be."""

    code = "file_unreadable"


class CannotRun(VerifierError):
    """The verifier cannot run as asked: a Dask scheduler that cannot be reached or
    is not installed, a worker process that died.  Nothing was decided (exit 2)."""

    code = "cannot_run"
    exit_code = EXIT_UNREADABLE
