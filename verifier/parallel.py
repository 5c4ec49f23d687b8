"""Checking board lines in parallel: local processes or a Dask cluster, same results.

The expensive part of verification is the ballots (a range proof per option,
a sum proof per question, a signature).  Everything else is sequential but
cheap: the hash chain, the Merkle tree, the lifecycle and the bookkeeping of
who voted last.  So the work is split like this:

* the main process reads the board line by line and sends *chunks of raw
  lines* (``Chunk``) to workers, keeping at most ``window`` chunks in flight so
  that memory stays bounded however long the board is;
* a worker (:func:`check_chunk`) parses each line into an entry, checks that it
  is canonical, hashes it, and -- for ``ballot_cast`` and ``ballot_audited`` --
  parses and verifies the ballot against the election context; it returns one
  compact :class:`LineResult` per line and, for each run of consecutive cast
  ballots in the chunk, the homomorphic sum of its valid ballots per
  credential weight (so the main process never adds ciphertexts one by one);
* the main process consumes the results *in board order* (whatever order the
  workers finish in), so every sequential check sees exactly what a one-process
  run sees: the report does not depend on the number of workers or on the
  runner (:class:`InlineRunner`, :class:`ProcessRunner`, :class:`DaskRunner`).

Lines of other kinds (commands, tally, partial decryptions) are returned
unparsed beyond their header; the main process handles them, since they are
few and need the sequential state.
"""

from __future__ import annotations

import collections
import dataclasses
import multiprocessing
import os
import threading
import time
from array import array
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from typing import Any, NamedTuple, Protocol

from evote.ballot import Ballot
from evote.board import Entry, foreign_kind_header
from evote.credentials import CredentialList
from evote.errors import EvoteError
from evote.fingerprint import ElectionContext
from evote.group import POINT_BYTES, Point
from evote.kinds import BALLOT_AUDITED, BALLOT_CAST
from evote.merkle import leaf_hash
from evote.payloads import parse_ballot_audited, parse_ballot_cast
from evote.rulebook import RULES
from evote.rules import check_audit, check_cast
from verifier.errors import CannotRun

#: Lines per chunk sent to a worker: large enough that the inter-process cost
#: (pickling ~2.5 kB per ballot) is small next to ~2-3 ms of proofs per ballot,
#: small enough to keep every worker busy until the end.
DEFAULT_CHUNK = 64

CAST = BALLOT_CAST
AUDITED = BALLOT_AUDITED

#: Which check a line-level error belongs to.
FORMAT = "record-format"
BALLOTS = "ballots"
AUDITS = "audited-ballots"


@dataclass(frozen=True, slots=True)
class Chunk:
    """Consecutive board lines starting at board position ``start`` (newlines stripped)."""

    start: int
    lines: tuple[bytes, ...]


class LineResult(NamedTuple):
    """What a worker learned from one board line.

    ``header`` is ``(election, index, kind, prev, time)`` of a well-formed
    canonical entry, else None and ``error`` says why (check ``record-format``).
    For a ballot (cast or audited): ``credential`` (32 bytes), ``weight``, and
    ``ciphertexts`` (every option's alpha || beta, 64 bytes each, in manifest
    order); ``error`` names the failing check when the ballot does not verify.
    ``line`` is set for kinds the main process handles itself.

    A named tuple, not a dataclass: one crosses the process boundary per board
    line, and a tuple pickles and unpickles in C.
    """

    position: int
    leaf: bytes
    header: tuple[str, int, str, bytes, int] | None = None
    # (check name, error code, message, rule id of docs/rules.md or None)
    error: tuple[str, str, str, str | None] | None = None
    credential: bytes | None = None
    weight: int = 0
    ciphertexts: bytes = b""
    line: bytes | None = None


@dataclass(frozen=True, slots=True)
class ChunkResult:
    """The results of one chunk, in line order, and the chunk's ballot sums.

    ``sums[p][w]`` is the component-wise sum of the (unweighted) ciphertexts of
    the *valid cast* ballots of weight ``w`` in the run of consecutive
    ``ballot_cast`` lines whose first valid ballot is at position ``p``, as
    concatenated 32-byte encodings (alpha, beta, alpha, beta, ...; the identity
    is allowed).  Runs end at every other kind of line, so the main process can
    add a run's sum when it reaches the run and still see, at a
    ``tally_posted`` line, exactly the ballots before it.
    """

    start: int
    results: tuple[LineResult, ...]
    sums: dict[int, dict[int, bytes]]


def ballot_ciphertexts(ballot: Ballot) -> bytes:
    """Every ciphertext of a ballot as alpha || beta, in manifest order."""
    return b"".join(ct.alpha.raw + ct.beta.raw for a in ballot.answers for ct in a.choices)


def split_points(blob: bytes) -> list[Point]:
    """Concatenated 32-byte encodings back into points (trusted: computed by us)."""
    return [Point(blob[i : i + POINT_BYTES]) for i in range(0, len(blob), POINT_BYTES)]


def add_points(acc: list[Point], blob: bytes) -> None:
    """``acc[i] += point i of blob`` in place."""
    for i in range(len(acc)):
        acc[i] = acc[i] + Point(blob[i * POINT_BYTES : (i + 1) * POINT_BYTES])


def sub_points(acc: list[Point], blob: bytes) -> None:
    """``acc[i] -= point i of blob`` in place (a replaced ballot leaves the count)."""
    for i in range(len(acc)):
        acc[i] = acc[i] - Point(blob[i * POINT_BYTES : (i + 1) * POINT_BYTES])


def join_points(points: Iterable[Point]) -> bytes:
    return b"".join(p.raw for p in points)


def _error(check: str, exc: EvoteError) -> tuple[str, str, str, str | None]:
    """``check`` reports a parse error; a broken rule goes to the check the rulebook
    names for it (an audited ballot's unlisted credential is R-BAL-01, check 11
    ``ballots``, not ``audited-ballots``: docs/verifier.md check 18)."""
    rule = getattr(exc, "rule", None)
    owner = RULES[rule].check if rule in RULES else None
    if owner is not None and not owner.startswith("("):  # not "(owner of the kind)"
        check = owner
    return (check, exc.code, exc.message, rule)


def check_command_line(
    ctx: ElectionContext | None, position: int, line: bytes
) -> tuple[LineResult, Entry | None]:
    """:func:`_check_line`'s result, and the parsed entry when it is one the main process
    handles itself (a command), so that it need not parse the line again."""
    result, parsed = _check_line(ctx, position, line)
    return result, (parsed if isinstance(parsed, Entry) else None)


def _check_line(
    ctx: ElectionContext | None, position: int, line: bytes
) -> tuple[LineResult, Entry | Ballot | None]:
    """Parse and check one board line (without its newline), never raising EvoteError;
    with the result, the entry of a command or the ballot of a valid cast ballot (for
    the sums)."""
    leaf = leaf_hash(line)
    try:
        entry = Entry.from_bytes(line)
    except EvoteError as exc:
        # a kind no registry has is a well-formed entry that breaks R-PHASE-02 only
        # (docs/rules.md, docs/verifier.md check 1): the main process gives it to
        # the phase table
        foreign = foreign_kind_header(line)
        if foreign is not None:
            return LineResult(position, leaf, foreign, line=line), None
        return LineResult(position, leaf, error=_error(FORMAT, exc)), None
    header = (entry.election, entry.index, entry.kind, entry.prev, entry.time)
    kind = entry.kind
    if kind != CAST and kind != AUDITED:
        return LineResult(position, leaf, header, line=line), entry
    check = BALLOTS if kind == CAST else AUDITS
    if ctx is None:
        error = (check, "no_context", "the board has no valid election_opened before it", None)
        return LineResult(position, leaf, header, error), None
    try:
        if kind == CAST:
            ballot = parse_ballot_cast(entry, ctx.manifest)
            weight = check_cast(ctx, ballot)  # R-BAL-01/02
        else:
            audited = parse_ballot_audited(entry, ctx.manifest)
            check_audit(ctx, audited)  # R-BAL-01/04
            ballot, weight = audited.ballot, 0
    except EvoteError as exc:
        return LineResult(position, leaf, header, _error(check, exc)), None
    result = LineResult(
        position, leaf, header, None, ballot.credential.raw, weight, ballot_ciphertexts(ballot)
    )
    return result, (ballot if kind == CAST else None)


def check_chunk(ctx: ElectionContext | None, chunk: Chunk) -> ChunkResult:
    """Check every line of a chunk and sum its valid cast ballots per run and weight."""
    results = []
    runs: dict[int, dict[int, list[Point]]] = {}
    run: dict[int, list[Point]] | None = None
    position = chunk.start
    for line in chunk.lines:
        r, ballot = _check_line(ctx, position, line)
        position += 1
        results.append(r)
        if not isinstance(ballot, Ballot):
            if r.header is None or r.header[2] != CAST:
                run = None  # an invalid cast ballot does not end the run
            continue
        if run is None:
            run = runs[r.position] = {}
        points = [p for a in ballot.answers for ct in a.choices for p in (ct.alpha, ct.beta)]
        acc = run.get(r.weight)
        if acc is None:
            run[r.weight] = points
        else:
            for i, p in enumerate(points):
                acc[i] = acc[i] + p
    sums = {
        p: {w: join_points(acc) for w, acc in by_weight.items()} for p, by_weight in runs.items()
    }
    return ChunkResult(chunk.start, tuple(results), sums)


ProofVerdict = tuple[str, str, dict[str, Any]] | None
"""What :func:`run_proof` returns: None when the proof verifies, else the error's
(code, message, detail)."""


def run_proof(check: Callable[..., None], args: tuple[Any, ...]) -> ProofVerdict:
    """Run one of the mixnet's proof checks (``evote.mixnet.verify_mix``,
    ``evote.mixdecryption.verify_partial_rows``: checks 20, 21) in a worker; never
    raises EvoteError, so the verdict crosses the process boundary as a tuple."""
    try:
        check(*args)
    except EvoteError as exc:
        return (exc.code, exc.message, dict(exc.detail or {}))
    return None


class _Done:
    """A finished task, for :meth:`InlineRunner.submit` (the same ``result()`` as a future)."""

    __slots__ = ("_value",)

    def __init__(self, value: Any) -> None:
        self._value = value

    def result(self) -> Any:
        return self._value


# --------------------------------------------------------------------------
# Runners: the same ordered, bounded map on three kinds of executor
# --------------------------------------------------------------------------


class Runner(Protocol):
    """Maps :func:`check_chunk` over chunks and yields results in input order."""

    workers: int
    description: str

    def map(self, chunks: Iterable[Chunk]) -> Iterator[ChunkResult]: ...

    def submit(self, check: Callable[..., None], args: tuple[Any, ...]) -> Any:
        """:func:`run_proof` of one proof check on a worker: a future (``result()``)."""
        ...

    def close(self) -> None: ...


class InlineRunner:
    """No parallelism: every chunk is checked in this process (``--workers 1``)."""

    description = "in-process"

    def __init__(self, ctx: ElectionContext | None) -> None:
        self.ctx = ctx
        self.workers = 1

    def map(self, chunks: Iterable[Chunk]) -> Iterator[ChunkResult]:
        for chunk in chunks:
            yield check_chunk(self.ctx, chunk)

    def submit(self, check: Callable[..., None], args: tuple[Any, ...]) -> Any:
        return _Done(run_proof(check, args))

    def close(self) -> None:
        pass


def _ordered_window(
    submit: Callable[[Chunk], Any], result: Callable[[Any], ChunkResult], window: int,
    chunks: Iterable[Chunk],
) -> Iterator[ChunkResult]:
    """Submit chunks keeping at most ``window`` in flight; yield results in order.

    Bounded on purpose: ``Pool.imap`` and ``Client.map`` would read the whole
    board ahead of the workers and hold it in memory.
    """
    pending: collections.deque[Any] = collections.deque()
    for chunk in chunks:
        pending.append(submit(chunk))
        if len(pending) >= window:
            yield result(pending.popleft())
    while pending:
        yield result(pending.popleft())


class WorkerCredentials(CredentialList):
    """The credential list as a worker uses it: the weight of a listed key, nothing else.

    A worker only asks ``weight_of`` (R-BAL-01); the full list (every key as a
    :class:`~evote.credentials.PublicCredential`, plus the weight index) took
    about 0.5 kB per voter in each worker -- 500 MB for a million voters.  This
    one holds only the index, and pickles as two flat byte strings (32 bytes
    per key, 4 per weight) instead of a million objects.
    """

    def __init__(self, weights: dict[bytes, int]) -> None:  # noqa: D107 - see the class
        object.__setattr__(self, "entries", ())
        object.__setattr__(self, "_weights", weights)

    def __len__(self) -> int:
        return len(self._weights)

    def __reduce__(self) -> tuple[Any, tuple[bytes, bytes]]:
        keys = b"".join(self._weights)
        return _worker_credentials, (keys, array("I", self._weights.values()).tobytes())


def _worker_credentials(keys: bytes, weights: bytes) -> WorkerCredentials:
    w = array("I")
    w.frombytes(weights)
    return WorkerCredentials({keys[32 * i : 32 * i + 32]: int(x) for i, x in enumerate(w)})


def worker_context(ctx: ElectionContext | None) -> ElectionContext | None:
    """``ctx`` with its credential list reduced to what :func:`check_chunk` needs, to be
    sent to every worker (weights are at most 10**6, so 4 bytes hold them)."""
    if ctx is None:
        return None
    weights = {e.key.raw: e.weight for e in ctx.credentials.entries}
    return dataclasses.replace(ctx, credentials=WorkerCredentials(weights))


# The worker processes' copy of the election context, set once by the initializer.
_WORKER_CTX: ElectionContext | None = None


def _init_worker(ctx: ElectionContext | None) -> None:
    global _WORKER_CTX
    _WORKER_CTX = ctx
    threading.Thread(target=_exit_with_parent, args=(os.getppid(),), daemon=True).start()


def _exit_with_parent(parent: int) -> None:
    """End this worker when the verifier that started it is gone (killed, not shut down):
    an orphaned worker would otherwise wait for work forever."""
    while os.getppid() == parent:
        time.sleep(1.0)
    os._exit(1)


def _check_chunk_in_worker(chunk: Chunk) -> ChunkResult:
    return check_chunk(_WORKER_CTX, chunk)


class ProcessRunner:
    """A pool of local worker processes (``--workers N``, default: every core).

    Workers are started with ``spawn``, not ``fork``: the main process runs a
    progress-bar thread, and forking a threaded process can deadlock the
    child.  (Not ``forkserver`` either: spawned workers are this process's own
    children, so ``getrusage(RUSAGE_CHILDREN)`` accounts for their memory.)
    The election context is pickled to each worker once, by the initializer.
    """

    def __init__(self, ctx: ElectionContext | None, workers: int) -> None:
        if workers < 1:
            raise ValueError("workers must be >= 1")
        method = "spawn"
        self.workers = workers
        self.description = f"{workers} local processes"
        self._pool = ProcessPoolExecutor(
            max_workers=workers,
            mp_context=multiprocessing.get_context(method),
            initializer=_init_worker,
            initargs=(worker_context(ctx),),
        )

    def map(self, chunks: Iterable[Chunk]) -> Iterator[ChunkResult]:
        def result(fut: Future) -> ChunkResult:
            try:
                return fut.result()
            except BrokenProcessPool:
                raise CannotRun(
                    "a worker process died (out of memory?); try fewer --workers"
                ) from None

        return _ordered_window(
            lambda c: self._pool.submit(_check_chunk_in_worker, c), result, 3 * self.workers, chunks
        )

    def submit(self, check: Callable[..., None], args: tuple[Any, ...]) -> Any:
        return self._pool.submit(run_proof, check, args)

    def close(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)


class DaskRunner:
    """Ballot checks on an existing Dask distributed cluster (``--dask-scheduler``).

    Needs the ``dask`` extra; imported only here, so the verifier runs without
    it.  The election context is scattered to every worker once.
    """

    def __init__(self, ctx: ElectionContext | None, address: Any) -> None:
        try:
            from distributed import Client
        except ImportError:
            raise CannotRun(
                "--dask-scheduler needs the dask extra: pip install 'evote[dask]'"
            ) from None
        self._own_client = not hasattr(address, "scheduler_info")
        try:
            self._client = Client(address, timeout=30) if self._own_client else address
        except (OSError, TimeoutError, ValueError) as exc:
            raise CannotRun(f"cannot reach the Dask scheduler at {address}: {exc}") from None
        info = self._client.scheduler_info()
        self.workers = max(1, sum(w.get("nthreads", 1) for w in info.get("workers", {}).values()))
        self.description = f"dask cluster {self._client.scheduler.address} ({self.workers} threads)"
        [self._ctx] = self._client.scatter([worker_context(ctx)], broadcast=True)

    def map(self, chunks: Iterable[Chunk]) -> Iterator[ChunkResult]:
        def submit(chunk: Chunk) -> Any:
            # The chunk is scattered, then named by its future; not passed inline.  The
            # client keeps what it sent of a task's inline arguments after the task is
            # done and its future released: 156 MB after 600 chunks of 64 lines of 2 kB
            # in a test with distributed 2026.11 (8 MB when scattered), i.e. about 4 GB
            # in this process for a million ballots.  Scattered data goes with its future.
            [data] = self._client.scatter([chunk], hash=False)
            return self._client.submit(check_chunk, self._ctx, data, pure=False)

        def result(fut: Any) -> ChunkResult:
            return fut.result()

        return _ordered_window(submit, result, 3 * self.workers, chunks)

    def submit(self, check: Callable[..., None], args: tuple[Any, ...]) -> Any:
        return self._client.submit(run_proof, check, args, pure=False)

    def close(self) -> None:
        if self._own_client:
            self._client.close()


def default_workers() -> int:
    """Every core this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1
