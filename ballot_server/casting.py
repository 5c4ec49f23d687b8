"""Group commit of cast ballots: the casts that arrive while one is being written share
the next transaction.

Verifying a ballot takes milliseconds and runs in parallel (each request in its
own thread or worker process); appending it is short but serial -- one
election's board has one append lock -- and ends in a commit that waits for the
disk.  Done one cast per transaction, every ballot pays for taking the lock,
reading the board's head, signing a tree head and a disk flush, and the threads
of a worker queue behind each other's flushes.  Here a verified cast joins its
election's queue, and whichever thread finds no transaction under way takes
every cast queued so far (up to :attr:`CastQueue.max_batch`) into one locked
block, which checks each cast against the board *and against the casts before
it in the batch*, writes the ones that pass, signs one tree head that covers
them all, and commits once.  Casts that arrive meanwhile wait for the next
batch, led by one of their threads.

Each cast still gets its own answer: a refused cast (a credential bound to
another login, a ciphertext already on the board) gets its own error, writes
nothing, and does not affect the others; the same ballot sent again (its answer
was lost) is answered from its entry, in this batch or on the board, and writes
nothing either (docs/api.md §5.1); a failure of the transaction itself
(the database is unreachable, the commit fails) fails every cast of the batch,
none of which was then written.  A cast is acknowledged only after the commit
that wrote it, exactly as without batching.

The queue is per process (gunicorn workers each have their own); the
database's append lock still orders the batches of different processes.

This module is the queue only, free of any voting rule: what one batch checks
and writes, and the receipts casts are answered with, are in
:mod:`ballot_server.cast_path` (kept apart so that each stays one job).
"""

from __future__ import annotations

import copy
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from ballot_server.store import Voter
from evote.board import Entry, SignedTreeHead
from evote.errors import BoardError
from evote.limits import MAX_BATCH as MAX_BATCH
from evote.limits import MAX_BATCH_CIPHERTEXTS as MAX_BATCH_CIPHERTEXTS


@dataclass(frozen=True, slots=True)
class CastWritten:
    """What the batch that wrote a cast returns to it: its entry, the signed head of the
    board after the batch, and the entry's inclusion proof in that head.

    ``resent``: the cast was the same ballot as an entry already on the board (or
    earlier in the batch), and is answered from that entry with the head its first
    send got (docs/api.md §5.1); nothing was appended for it."""

    entry: Entry
    head: SignedTreeHead
    proof: list[bytes]
    resent: bool = False


@dataclass(eq=False)
class PendingCast:
    """One verified cast waiting for its batch.

    ``voter_id`` is the login that casts and ``known`` its row as read when it
    logged in (None if the authenticator gave none; a row not yet bound to a
    credential is re-read under the lock, a bound one never changes);
    ``credential`` is the ballot's; ``alphas`` its ciphertext alphas (distinct);
    ``payload`` the ``ballot_cast`` entry payload.
    """

    voter_id: str
    known: Voter | None
    credential: bytes
    tracking_code: str
    alphas: Sequence[bytes]
    payload: dict[str, Any]
    _written: CastWritten | None = field(default=None, init=False, repr=False)
    _error: BaseException | None = field(default=None, init=False, repr=False)

    @property
    def finished(self) -> bool:
        return self._written is not None or self._error is not None

    def written(self, result: CastWritten) -> None:
        """Called by the batch after its commit."""
        if not self.finished:
            self._written = result

    def refused(self, error: BaseException) -> None:
        """Called by the batch for a cast it did not write (refused, or the batch failed)."""
        if not self.finished:
            self._error = error

    def outcome(self) -> CastWritten:
        if self._error is not None:
            raise self._error
        if self._written is None:
            raise BoardError("the cast was not processed")
        return self._written


Batch = Callable[[str, list[PendingCast]], None]
"""Writes a batch of one election's casts; must finish every cast it is given (the
queue fails any it leaves unfinished, and every one if it raises)."""


class CastQueue:
    """Per-process queues of verified casts, one per election, each drained by one
    thread at a time (see the module docstring)."""

    def __init__(
        self, max_batch: int = MAX_BATCH, max_ciphertexts: int = MAX_BATCH_CIPHERTEXTS
    ) -> None:
        if max_batch < 1 or max_ciphertexts < 1:
            raise ValueError("max_batch and max_ciphertexts must be at least 1")
        self.max_batch = max_batch
        self.max_ciphertexts = max_ciphertexts
        self._cond = threading.Condition(threading.Lock())
        self._queues: dict[str, list[PendingCast]] = {}
        self._leading: set[str] = set()

    def submit(self, election_id: str, cast: PendingCast, write: Batch) -> CastWritten:
        """Queue ``cast``; return once a batch has written it (or raise its error).

        The calling thread either waits for the batch under way to end, or
        writes the next batch itself with ``write`` -- its own cast and every
        other one queued by then.
        """
        with self._cond:
            self._queues.setdefault(election_id, []).append(cast)
            while not cast.finished:
                if election_id in self._leading:
                    self._cond.wait()
                    continue
                # No batch under way and this cast unfinished: it is still queued.
                queue = self._queues.pop(election_id)
                taken = self._batch_size(queue)
                batch, rest = queue[:taken], queue[taken:]
                if rest:
                    self._queues[election_id] = rest
                self._leading.add(election_id)
                self._cond.release()
                try:
                    _run(write, election_id, batch)
                finally:
                    self._cond.acquire()
                    self._leading.discard(election_id)
                    self._cond.notify_all()
        return cast.outcome()

    def _batch_size(self, queue: list[PendingCast]) -> int:
        """How many casts from the head of ``queue`` the next batch takes: at most
        :attr:`max_batch`, and no more ciphertexts than :attr:`max_ciphertexts` unless
        the first cast alone has more."""
        count = weight = 0
        for cast in queue[: self.max_batch]:
            weight += len(cast.alphas)
            if count and weight > self.max_ciphertexts:
                break
            count += 1
        return count


def _run(write: Batch, election_id: str, batch: list[PendingCast]) -> None:
    try:
        write(election_id, batch)
    except BaseException as exc:  # noqa: BLE001 - handed to every cast of the batch
        for n, cast in enumerate(batch):
            cast.refused(exc if n == 0 else _own_copy(exc))
    for cast in batch:
        if not cast.finished:
            cast.refused(BoardError("the batch ended without writing or refusing this cast"))


def _own_copy(exc: BaseException) -> BaseException:
    """A copy of ``exc`` for another waiting thread to raise: each thread's raise sets the
    exception's traceback, so one shared object would carry frames of several threads
    into the log.  An exception that cannot be copied is shared as it is."""
    try:
        return copy.copy(exc)
    except (TypeError, ValueError, AttributeError):  # e.g. required keyword arguments
        return exc
