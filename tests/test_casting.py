"""Group commit of casts (:mod:`ballot_server.casting`, ``ElectionService._write_casts``).

Three layers, each with exact assertions:

1. :class:`~ballot_server.casting.CastQueue` on its own, with a fake batch writer
   and real threads: who ends up in which batch, and that every caller gets its
   own outcome -- written, refused, failed with its batch, or lost by the writer.
2. ``_write_casts`` with real ballots on SQLite and PostgreSQL: one batch checks
   each cast against the board *and* the casts before it, writes the rest
   consecutively under one signed tree head, and a failed transaction writes
   nothing at all.
3. ``evote serve --threads 4`` (gunicorn gthread workers): many clients casting
   at once all get receipts that match one verifiable chain, with no more tree
   heads than casts, and connections are kept alive between requests.
"""

from __future__ import annotations

import dataclasses
import http.client
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
from flask import Flask

from ballot_server.casting import Batch, CastQueue, CastWritten, PendingCast
from ballot_server.context import get_service
from ballot_server.db import make_engine
from ballot_server.service import ElectionService, _alphas, pending_cast
from ballot_server.store import Store
from cli.demo import running_server
from evote import merkle
from evote.ballot import AuditedBallot, Ballot
from evote.board import Receipt, TreeHead, next_entry, verify_chain
from evote.drbg import SeededRng
from evote.encoding import b64decode, canonical_json
from evote.errors import (
    AuthenticationError,
    BindingError,
    BoardError,
    EvoteError,
    PhaseViolation,
    RuleViolation,
    SchemaError,
    ServiceUnavailable,
)
from evote.payloads import ballot_cast_payload
from evote.signing import SigningKey
from tests import api_election
from tests.api_election import OFFICIAL, ApiElection, build_election
from tests.attacks.adversary import failures, verify_zip

api_db = api_election.api_db
api_app = api_election.api_app
api_client = api_election.api_client
election = api_election.election

#: Seconds any join or wait may take before the test fails instead of hanging.
TIMEOUT = 20.0


# --- 1. CastQueue with a fake writer ------------------------------------------------

FAKE_KEY = SigningKey.generate(SeededRng(b"test-casting fake board"))


def fake_cast(name: str) -> PendingCast:
    """A pending cast the fake writer knows by ``voter_id`` (no real ballot needed)."""
    return PendingCast(
        voter_id=name,
        known=None,
        credential=bytes(32),
        tracking_code=f"t-{name}",
        alphas=(),
        payload={"voter": name},
    )


class FakeWriter:
    """A batch writer that records each batch and writes each cast as its own entry.

    Casts named in ``refuse`` are refused with a BindingError, in ``lose`` left
    unfinished; a batch holding a cast in ``explode`` raises ServiceUnavailable;
    a batch holding a cast in ``hold`` waits for :attr:`release` (and sets
    :attr:`holding` first), so a test can queue casts behind it.  With
    ``delegate``, batches without a held cast are handed to it instead.
    """

    def __init__(
        self,
        *,
        hold: frozenset[str] = frozenset({"held"}),
        refuse: frozenset[str] = frozenset(),
        lose: frozenset[str] = frozenset(),
        explode: frozenset[str] = frozenset(),
        pause: float = 0.0,
        delegate: Batch | None = None,
    ) -> None:
        self.hold, self.refuse, self.lose, self.explode = hold, refuse, lose, explode
        self.pause = pause
        self.delegate = delegate
        self.holding = threading.Event()
        self.release = threading.Event()
        self.batches: list[tuple[str, list[str]]] = []
        self.results: dict[str, CastWritten] = {}
        self.errors: dict[str, BaseException] = {}
        self.overlapped: list[str] = []  # elections with two batches at once (must stay empty)
        self._lock = threading.Lock()
        self._running: list[str] = []

    def __call__(self, election_id: str, casts: list[PendingCast]) -> None:
        names = [c.voter_id for c in casts]
        with self._lock:
            self.batches.append((election_id, names))
            if election_id in self._running:
                self.overlapped.append(election_id)
            self._running.append(election_id)
        try:
            held = bool(self.hold & set(names))
            if held:
                self.holding.set()
                assert self.release.wait(TIMEOUT), "the test never released the held batch"
            if self.delegate is not None and not held:
                self.delegate(election_id, casts)
                return
            if self.pause:
                time.sleep(self.pause)
            if self.explode & set(names):
                raise ServiceUnavailable("the database went away")
            for n, cast in enumerate(casts):
                if cast.voter_id in self.refuse:
                    error = BindingError(f"{cast.voter_id} refused")
                    self.errors[cast.voter_id] = error
                    cast.refused(error)
                elif cast.voter_id not in self.lose:
                    written = self._written(election_id, cast, n)
                    self.results[cast.voter_id] = written
                    cast.written(written)
        finally:
            with self._lock:
                self._running.remove(election_id)

    @staticmethod
    def _written(election_id: str, cast: PendingCast, n: int) -> CastWritten:
        entry = next_entry(
            None, election=election_id, kind="ballot_cast", time=n, payload=cast.payload
        )
        head = TreeHead(election_id, 1, merkle.root([entry.leaf_hash()]), n).sign(FAKE_KEY)
        return CastWritten(entry, head, [])


class Caller(threading.Thread):
    """One request thread: submits one cast and keeps what came back."""

    def __init__(self, queue: CastQueue, election_id: str, cast: PendingCast, write: Any) -> None:
        super().__init__(daemon=True, name=f"cast-{cast.voter_id}")
        self.queue, self.election_id, self.cast, self.write = queue, election_id, cast, write
        self.result: CastWritten | None = None
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            self.result = self.queue.submit(self.election_id, self.cast, self.write)
        except BaseException as exc:  # noqa: BLE001 - the test inspects it
            self.error = exc

    def finish(self) -> Caller:
        self.join(TIMEOUT)
        assert not self.is_alive(), f"{self.name} still waiting after {TIMEOUT} s"
        return self


def queued(queue: CastQueue, election_id: str) -> int:
    """Casts waiting in ``queue`` for ``election_id`` (white-box: reads the queue under its lock)."""
    with queue._cond:
        return len(queue._queues.get(election_id, ()))


def wait_until(predicate: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + TIMEOUT
    while not predicate():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.002)


def behind_a_held_batch(
    queue: CastQueue, writer: FakeWriter, casts: list[PendingCast], election_id: str = "e"
) -> tuple[Caller, dict[str, Caller]]:
    """Start a batch of the cast ``"held"`` that blocks in ``writer``, queue ``casts``
    behind it one by one (in this order), then release it; every caller has
    finished on return (callers keyed by voter id)."""
    holder = Caller(queue, election_id, fake_cast("held"), writer)
    holder.start()
    assert writer.holding.wait(TIMEOUT)
    callers: dict[str, Caller] = {}
    for k, cast in enumerate(casts, start=1):
        callers[cast.voter_id] = caller = Caller(queue, election_id, cast, writer)
        caller.start()
        wait_until(lambda k=k: queued(queue, election_id) == k, f"{cast.voter_id} to queue")
    writer.release.set()
    holder.finish()
    for caller in callers.values():
        caller.finish()
    return holder, callers


def fakes(*names: str) -> list[PendingCast]:
    return [fake_cast(n) for n in names]


def test_casts_queued_during_a_batch_all_go_into_the_next_one() -> None:
    queue, writer = CastQueue(), FakeWriter()
    names = ["a", "b", "c", "d", "e"]
    holder, callers = behind_a_held_batch(queue, writer, fakes(*names))
    assert writer.batches == [("e", ["held"]), ("e", names)]
    assert holder.error is None and holder.result is writer.results["held"]
    for name, caller in callers.items():
        assert caller.error is None
        assert caller.result is writer.results[name]  # its own result, no one else's
        assert caller.result.entry.payload == {"voter": name}
    assert writer.overlapped == []
    assert queued(queue, "e") == 0


def test_a_refused_cast_does_not_affect_the_others_of_its_batch() -> None:
    queue = CastQueue()
    writer = FakeWriter(refuse=frozenset({"b"}))
    _, callers = behind_a_held_batch(queue, writer, fakes("a", "b", "c"))
    assert writer.batches[1] == ("e", ["a", "b", "c"])
    assert isinstance(callers["b"].error, BindingError)
    assert callers["b"].error is writer.errors["b"] and callers["b"].error.code == "binding"
    assert callers["b"].result is None
    for name in ("a", "c"):
        assert callers[name].error is None and callers[name].result is writer.results[name]


def test_a_failing_batch_fails_all_its_casts_and_no_other() -> None:
    queue = CastQueue()
    writer = FakeWriter(explode=frozenset({"y"}))
    holder, callers = behind_a_held_batch(queue, writer, fakes("x", "y", "z"))
    assert writer.batches == [("e", ["held"]), ("e", ["x", "y", "z"])]
    assert holder.error is None and holder.result is writer.results["held"]
    for caller in callers.values():
        assert caller.result is None
        assert type(caller.error) is ServiceUnavailable and caller.error.code == "unavailable"
        assert caller.error.message == "the database went away"
    # Each waiting thread raised an exception object of its own (tracebacks do not mix).
    assert len({id(c.error) for c in callers.values()}) == len(callers)
    assert set(writer.results) == {"held"}
    # The queue goes on: the next cast is written by a batch of its own.
    after = Caller(queue, "e", fake_cast("after"), writer)
    after.start()
    after.finish()
    assert after.error is None and after.result is writer.results["after"]
    assert writer.batches[-1] == ("e", ["after"])


def test_a_cast_the_writer_leaves_unfinished_gets_a_board_error() -> None:
    queue = CastQueue()
    writer = FakeWriter(lose=frozenset({"lost"}))
    _, callers = behind_a_held_batch(queue, writer, fakes("a", "lost", "b"))
    assert type(callers["lost"].error) is BoardError and callers["lost"].error.code == "board"
    assert callers["lost"].result is None
    for name in ("a", "b"):
        assert callers[name].error is None and callers[name].result is writer.results[name]


def test_max_batch_bounds_every_batch() -> None:
    with pytest.raises(ValueError):
        CastQueue(max_batch=0)
    queue = CastQueue(max_batch=2)
    writer = FakeWriter()
    names = ["a", "b", "c", "d", "e"]
    _, callers = behind_a_held_batch(queue, writer, fakes(*names))
    # FIFO slices of at most two, whichever waiting thread leads each batch.
    assert writer.batches == [
        ("e", ["held"]),
        ("e", ["a", "b"]),
        ("e", ["c", "d"]),
        ("e", ["e"]),
    ]
    assert all(callers[n].result is writer.results[n] for n in names)


def test_max_ciphertexts_bounds_every_batch_but_one_big_cast_still_goes() -> None:
    """Batches stop before the ciphertext cap (a PostgreSQL statement holds at most 65,535
    parameters); a single cast above the cap still makes a batch of its own."""
    with pytest.raises(ValueError):
        CastQueue(max_ciphertexts=0)
    queue = CastQueue(max_ciphertexts=10)
    writer = FakeWriter()
    sizes = {"a": 4, "b": 4, "c": 4, "big": 25, "d": 1, "e": 9}
    casts = [
        dataclasses.replace(fake_cast(n), alphas=tuple(bytes([k, i]) * 16 for i in range(m)))
        for k, (n, m) in enumerate(sizes.items())
    ]
    _, callers = behind_a_held_batch(queue, writer, casts)
    assert writer.batches == [
        ("e", ["held"]),
        ("e", ["a", "b"]),  # + c would be 12
        ("e", ["c"]),  # + big would be 29
        ("e", ["big"]),  # alone above the cap
        ("e", ["d", "e"]),  # exactly 10
    ]
    assert all(callers[n].result is writer.results[n] for n in sizes)


def test_a_batch_of_one_election_does_not_block_another() -> None:
    queue = CastQueue()
    writer = FakeWriter()
    held = Caller(queue, "a", fake_cast("held"), writer)
    held.start()
    assert writer.holding.wait(TIMEOUT)
    other = Caller(queue, "b", fake_cast("other"), writer)
    other.start()
    other.finish()  # while election a's batch is still being written
    assert held.is_alive()
    assert other.error is None and other.result is writer.results["other"]
    assert other.result.entry.election == "b"
    writer.release.set()
    held.finish()
    assert held.error is None and held.result is writer.results["held"]
    assert writer.batches == [("a", ["held"]), ("b", ["other"])]


def test_many_threads_each_cast_lands_in_exactly_one_batch() -> None:
    queue = CastQueue(max_batch=4)
    writer = FakeWriter(pause=0.003, refuse=frozenset({"e0-7", "e1-3"}))
    start = threading.Barrier(24)
    callers = [
        Caller(queue, f"e{n % 2}", fake_cast(f"e{n % 2}-{n // 2}"), writer) for n in range(24)
    ]

    def submit(caller: Caller) -> None:
        start.wait(TIMEOUT)
        caller.run()

    threads = [threading.Thread(target=submit, args=(c,), daemon=True) for c in callers]
    for t in threads:
        t.start()
    for t in threads:
        t.join(TIMEOUT)
        assert not t.is_alive()
    batched = [n for _, names in writer.batches for n in names]
    assert sorted(batched) == sorted(c.cast.voter_id for c in callers)  # each exactly once
    assert all(1 <= len(names) <= 4 for _, names in writer.batches)
    assert all(all(n.startswith(e) for n in names) for e, names in writer.batches)
    assert writer.overlapped == []  # never two batches of one election at once
    for c in callers:
        if c.cast.voter_id in writer.refuse:
            assert c.error is writer.errors[c.cast.voter_id] and c.result is None
        else:
            assert c.error is None and c.result is writer.results[c.cast.voter_id]


# --- 2. _write_casts on a real board (SQLite and PostgreSQL) -------------------------


@contextmanager
def service(app: Flask) -> Iterator[ElectionService]:
    with app.test_request_context():
        yield get_service()


def pending(svc: ElectionService, e: ApiElection, login_of: int, ballot: Ballot) -> PendingCast:
    """What ``ElectionService.cast`` queues for ``ballot`` cast by voter ``login_of``'s login."""
    login = svc.authenticate(e.election_id, "Bearer " + e.login(login_of))
    return pending_cast(login, ballot)


def outcome(cast: PendingCast) -> CastWritten | EvoteError:
    assert cast.finished, "the batch left a cast unfinished"
    try:
        return cast.outcome()
    except EvoteError as exc:
        return exc


def written(cast: PendingCast) -> CastWritten:
    result = outcome(cast)
    assert isinstance(result, CastWritten), result
    return result


def refused(
    cast: PendingCast, cls: type[EvoteError], code: str, rule: str | None = None
) -> EvoteError:
    error = outcome(cast)
    assert type(error) is cls, error
    assert error.code == code
    assert getattr(error, "rule", None) == rule
    return error


def heads(svc: ElectionService, e: ApiElection) -> int:
    return len(svc.store.signed_heads(e.election_id))


def check_receipt(svc: ElectionService, e: ApiElection, cast: PendingCast) -> Receipt:
    """The written cast's head and proof verify, and so does the receipt built from them."""
    w = written(cast)
    w.head.verify(e.board_key)
    merkle.verify_inclusion(w.entry.index, w.head.size, w.entry.leaf_hash(), w.proof, w.head.root)
    receipt = svc._receipt(w.entry, cast.tracking_code, w.head, w.proof)
    receipt.verify(e.board_key)
    receipt.verify_entry(e.entries()[w.entry.index])
    return receipt


def test_one_batch_writes_every_voter_under_one_tree_head(api_app: Flask, election) -> None:
    e = election
    ballots = [e.ballot(v)[0] for v in range(4)]
    size = e.size()
    with service(api_app) as svc:
        before = heads(svc, e)
        casts = [pending(svc, e, v, ballots[v]) for v in range(4)]
        svc._write_casts(e.election_id, casts)
        assert heads(svc, e) == before + 1  # one signed head for the whole batch
        results = [written(c) for c in casts]
        assert [r.entry.index for r in results] == list(range(size, size + 4))
        assert all(r.head == results[0].head for r in results)
        assert results[0].head.size == size + 4
        assert svc.store.latest_signed_head(e.election_id) == results[0].head
        receipts = [check_receipt(svc, e, c) for c in casts]
    assert e.size() == size + 4
    entries = e.entries()
    verify_chain(entries, expect=results[0].head.head)
    for ballot, r, receipt in zip(ballots, results, receipts, strict=True):
        assert entries[r.entry.index] == r.entry
        assert r.entry.kind == "ballot_cast" and r.entry.payload == {"ballot": ballot.to_json()}
        assert receipt.tracking_code == ballot.tracking_code
    # The bindings were made: each login keeps its credential.
    other, _ = e.ballot(1)
    response = e.cast(other, login=e.login(0))
    assert response.status_code == 403 and response.get_json()["code"] == "binding"


def test_ciphertext_lookup_of_thousands_of_hashes(api_app: Flask, election) -> None:
    """The duplicate lookup splits a long list (a batch of big ballots) into several
    statements and still finds exactly the hashes on the board, with their entries."""
    e = election
    receipt = e.cast_ok(0)
    fresh = [ct.alpha.raw for a in e.ballot(0)[0].answers for ct in a.choices]  # not cast
    entry = e.entries()[receipt.index]
    cast_alphas = [
        b64decode(c["alpha"])
        for answer in entry.payload["ballot"]["answers"]
        for c in answer["choices"]
    ]
    rng = SeededRng(b"test-casting lookup")
    unknown = [rng(32) for _ in range(2500)]
    with service(api_app) as svc, svc.store.locked(e.election_id) as board:
        found = board.ciphertext_entries([*unknown, *cast_alphas, *fresh, *unknown[:10]])
    assert found == dict.fromkeys(cast_alphas, receipt.index)


def test_one_credential_under_two_logins_in_one_batch(api_app: Flask, election) -> None:
    e = election
    first, second = e.ballot(0)[0], e.ballot(0)[0]  # both with credential 0
    size = e.size()
    with service(api_app) as svc:
        before = heads(svc, e)
        casts = [pending(svc, e, 0, first), pending(svc, e, 1, second)]
        svc._write_casts(e.election_id, casts)
        assert written(casts[0]).entry.index == size
        error = refused(casts[1], BindingError, "binding")
        assert "another login" in error.message
        assert heads(svc, e) == before + 1
    assert e.size() == size + 1
    # Voter 1's login was left unbound: it can still cast with its own credential.
    e.cast_ok(1)


def test_one_login_with_two_credentials_in_one_batch(api_app: Flask, election) -> None:
    e = election
    mine, theirs = e.ballot(0)[0], e.ballot(1)[0]
    size = e.size()
    with service(api_app) as svc:
        casts = [pending(svc, e, 0, mine), pending(svc, e, 0, theirs)]
        svc._write_casts(e.election_id, casts)
        assert written(casts[0]).entry.index == size
        error = refused(casts[1], BindingError, "binding")
        assert "another credential" in error.message
    assert e.size() == size + 1
    e.cast_ok(1)  # credential 1 was not bound to voter 0's login


def test_re_voting_twice_in_one_batch(api_app: Flask, election) -> None:
    e = election
    ballots = [e.ballot(0, [[1, 0, 0]])[0], e.ballot(0, [[0, 0, 1]])[0]]
    size = e.size()
    with service(api_app) as svc:
        casts = [pending(svc, e, 0, b) for b in ballots]
        svc._write_casts(e.election_id, casts)
        assert [written(c).entry.index for c in casts] == [size, size + 1]
        for c in casts:
            check_receipt(svc, e, c)
    assert e.size() == size + 2
    # Bound once, to credential 0: the login can neither switch nor lend it.
    response = e.cast(e.ballot(1)[0], login=e.login(0))
    assert response.status_code == 403 and response.get_json()["code"] == "binding"
    response = e.cast(e.ballot(0)[0], login=e.login(1))
    assert response.status_code == 403 and response.get_json()["code"] == "binding"


def test_the_same_ballot_twice_in_one_batch(api_app: Flask, election) -> None:
    """The second copy is a resend (docs/api.md §5.1): answered from the first one's
    entry and head, appended once."""
    e = election
    ballot = e.ballot(0)[0]
    size = e.size()
    with service(api_app) as svc:
        casts = [pending(svc, e, 0, ballot), pending(svc, e, 0, ballot)]
        svc._write_casts(e.election_id, casts)
        first, again = written(casts[0]), written(casts[1])
        assert first.entry.index == size and not first.resent
        assert again.resent and (again.entry, again.head, again.proof) == (
            first.entry, first.head, first.proof
        )
        check_receipt(svc, e, casts[1])
    assert e.size() == size + 1


def test_the_same_ballot_from_another_login_in_one_batch_is_refused(
    api_app: Flask, election
) -> None:
    e = election
    ballot = e.ballot(0)[0]
    size = e.size()
    with service(api_app) as svc:
        casts = [pending(svc, e, 0, ballot), pending(svc, e, 1, ballot)]
        svc._write_casts(e.election_id, casts)
        assert written(casts[0]).entry.index == size
        refused(casts[1], BindingError, "binding")
    assert e.size() == size + 1


def test_a_ballot_already_on_the_board_is_a_resend_in_a_batch(api_app: Flask, election) -> None:
    e = election
    ballot = e.ballot(0)[0]
    response = e.cast(ballot, login=e.login(0))
    assert response.status_code == 201
    original = Receipt.from_json(response.get_json())
    fresh = e.ballot(1)[0]
    size = e.size()
    with service(api_app) as svc:
        before = heads(svc, e)
        casts = [pending(svc, e, 0, ballot), pending(svc, e, 1, fresh)]
        svc._write_casts(e.election_id, casts)
        again = written(casts[0])
        assert again.resent and again.entry.index == original.index
        assert again.head == original.tree_head  # the head its first send got
        assert check_receipt(svc, e, casts[0]) == original
        assert written(casts[1]).entry.index == size  # no gap where the resend was
        assert heads(svc, e) == before + 1
    assert e.size() == size + 1


def test_a_batch_of_only_resends_writes_nothing(api_app: Flask, election) -> None:
    e = election
    ballot = e.ballot(0)[0]
    assert e.cast(ballot, login=e.login(0)).status_code == 201
    size = e.size()
    with service(api_app) as svc:
        before = heads(svc, e)
        casts = [pending(svc, e, 0, ballot), pending(svc, e, 0, ballot)]
        svc._write_casts(e.election_id, casts)
        assert all(written(c).resent for c in casts)
        assert heads(svc, e) == before
    assert e.size() == size


def test_an_audited_ballot_cannot_be_cast_and_its_refusal_binds_nothing(
    api_app: Flask, election
) -> None:
    """The ciphertexts of an audited ballot are refused in a batch, and the refused
    cast's binding is not kept: a later cast in the same batch may take the credential."""
    e = election
    ballot, secrets = e.ballot(2)
    response = e.audit(AuditedBallot.from_secrets(ballot, secrets), login=e.login(2))
    assert response.status_code == 201
    audited_at = Receipt.from_json(response.get_json()).index
    lent = e.ballot(2)[0]  # credential 2 again, fresh ciphertexts
    size = e.size()
    with service(api_app) as svc:
        casts = [pending(svc, e, 2, ballot), pending(svc, e, 3, lent)]
        svc._write_casts(e.election_id, casts)
        error = refused(casts[0], RuleViolation, "duplicate_ciphertext", "R-BAL-03")
        assert error.detail == {"index": audited_at}
        assert written(casts[1]).entry.index == size
    assert e.size() == size + 1
    # Credential 2 now belongs to voter 3's login, not to voter 2's.
    response = e.cast(e.ballot(2)[0], login=e.login(2))
    assert response.status_code == 403 and response.get_json()["code"] == "binding"


def test_refusals_in_the_middle_leave_consecutive_entries(api_app: Flask, election) -> None:
    e = election
    b0, b1, b2 = (e.ballot(v)[0] for v in range(3))
    size = e.size()
    with service(api_app) as svc:
        casts = [
            pending(svc, e, 0, b0),
            pending(svc, e, 1, b0),  # voter 0's ballot, bound to voter 0 just before
            pending(svc, e, 1, b1),
            pending(svc, e, 2, b1),  # credential 1 now bound to voter 1
            pending(svc, e, 2, b2),
        ]
        svc._write_casts(e.election_id, casts)
        refused(casts[1], BindingError, "binding")
        refused(casts[3], BindingError, "binding")
        assert [written(casts[i]).entry.index for i in (0, 2, 4)] == [size, size + 1, size + 2]
        assert len({written(casts[i]).head for i in (0, 2, 4)}) == 1
    assert e.size() == size + 3
    verify_chain(e.entries())


def test_bindings_are_re_read_under_the_lock(api_app: Flask, election) -> None:
    """A login unbound when it logged in but bound since (another request, another
    process) is checked against the binding it has now."""
    e = election
    with service(api_app) as svc:
        stale = pending(svc, e, 0, e.ballot(1)[0])  # voter 0 logs in, not bound yet
        lender = pending(svc, e, 1, e.ballot(2)[0])
        assert stale.known is not None and stale.known.credential is None
        e.cast_ok(0)  # meanwhile: voter 0 binds credential 0
        e.cast_ok(2)  # and voter 2 credential 2
        # A cast whose authenticator gave no row is decided by the row read under the lock.
        unread = pending(svc, e, 0, e.ballot(0)[0])
        unread.known = None
        size = e.size()
        svc._write_casts(e.election_id, [stale, lender, unread])
        assert "another credential" in refused(stale, BindingError, "binding").message
        assert "another login" in refused(lender, BindingError, "binding").message
        assert written(unread).entry.index == size
    assert e.size() == size + 1


def test_a_closed_election_refuses_the_whole_batch(api_app: Flask, election) -> None:
    e = election
    ballots = [e.ballot(v)[0] for v in range(3)]
    with service(api_app) as svc:
        casts = [pending(svc, e, v, ballots[v]) for v in range(3)]
        e.close()
        size, before = e.size(), heads(svc, e)
        svc._write_casts(e.election_id, casts)
        for c in casts:
            refused(c, PhaseViolation, "wrong_phase", "R-PHASE-03")
        assert heads(svc, e) == before
    assert e.size() == size


def test_an_unknown_login_is_refused_alone(api_app: Flask, election) -> None:
    e = election
    ballot, good = e.ballot(0)[0], e.ballot(1)[0]
    size = e.size()
    with service(api_app) as svc:
        ghost = PendingCast(
            voter_id="voter-999",
            known=None,
            credential=ballot.credential.raw,
            tracking_code=ballot.tracking_code,
            alphas=_alphas(ballot),
            payload=ballot_cast_payload(ballot),
        )
        casts = [ghost, pending(svc, e, 1, good)]
        svc._write_casts(e.election_id, casts)
        refused(ghost, AuthenticationError, "unauthenticated")
        assert written(casts[1]).entry.index == size
    assert e.size() == size + 1
    e.cast_ok(0)  # credential 0 was not taken by the unknown login


def test_a_failed_transaction_writes_nothing_of_the_batch(api_app: Flask, election) -> None:
    """An error the per-cast checks do not catch (here: a malformed credential the
    store refuses after the append) ends the block: nothing of the batch is kept,
    and through the queue every cast of the batch gets that error."""
    e = election
    good, bad = e.ballot(1)[0], e.ballot(2)[0]
    size = e.size()
    with service(api_app) as svc:
        before = heads(svc, e)
        casts = [pending(svc, e, 1, good), pending(svc, e, 2, bad)]
        casts[1].credential = b"short"
        with pytest.raises(SchemaError):
            svc._write_casts(e.election_id, casts)
        assert not casts[0].finished  # the queue, not the writer, answers for a failed batch
        # The same batch through a queue (queued behind a held batch so both share one).
        again = [pending(svc, e, 1, good), pending(svc, e, 2, bad)]
        again[1].credential = b"short"
        writer = FakeWriter(delegate=svc._write_casts)
        _, callers = behind_a_held_batch(CastQueue(), writer, again, e.election_id)
        assert writer.batches[1] == (e.election_id, [c.voter_id for c in again])
        for caller in callers.values():
            assert type(caller.error) is SchemaError and caller.error.code == "bad_schema"
            assert caller.result is None
        assert heads(svc, e) == before
    assert e.size() == size
    e.cast_ok(1)  # voter 1 was not bound by the failed batch
    e.cast_ok(2)


def test_the_service_queue_batches_real_casts(api_app: Flask, election) -> None:
    """Casts queued behind a batch under way are written together by ``_write_casts``:
    consecutive entries, one new tree head, each caller its own receipt material."""
    e = election
    ballots = [e.ballot(v)[0] for v in range(4)]
    size = e.size()
    with service(api_app) as svc:
        before = heads(svc, e)
        casts = [pending(svc, e, v, ballots[v]) for v in range(4)]
        writer = FakeWriter(delegate=svc._write_casts)
        _, callers = behind_a_held_batch(CastQueue(), writer, casts, e.election_id)
        assert writer.batches[1] == (e.election_id, [c.voter_id for c in casts])
        results = [callers[c.voter_id].result for c in casts]
        assert all(isinstance(r, CastWritten) for r in results)
        assert [r.entry.index for r in results] == list(range(size, size + 4))
        assert heads(svc, e) == before + 1
        for c in casts:
            check_receipt(svc, e, c)
    assert e.size() == size + 4


# --- 3. a real gunicorn server with gthread workers -----------------------------------


class HttpClient:
    """Just enough of Flask's test client over real HTTP for :func:`build_election`."""

    class Response:
        def __init__(self, response: httpx.Response) -> None:
            self.status_code = response.status_code
            self._response = response

        def get_json(self) -> Any:
            return self._response.json()

    def __init__(self, base_url: str) -> None:
        self.http = httpx.Client(base_url=base_url, timeout=60)

    def get(self, path: str, **kwargs: Any) -> HttpClient.Response:
        return self.Response(self.http.get(path, **kwargs))

    def post(self, path: str, **kwargs: Any) -> HttpClient.Response:
        return self.Response(self.http.post(path, **kwargs))

    def close(self) -> None:
        self.http.close()


CLIENT_THREADS = 8
CASTS_PER_THREAD = 5


@pytest.fixture
def threaded_server(
    api_db: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[tuple[str, ApiElection]]:
    """``evote serve --workers 2 --threads 4`` on the module's database, with an open
    election set up over HTTP."""
    monkeypatch.setenv("EVOTE_DATABASE_URL", api_db)  # `evote serve --database`'s variable
    official_pub = tmp_path / "official.pub"
    official_pub.write_text(OFFICIAL.verify_key.to_json())
    with running_server(tmp_path, official_pub, workers=2, threads=4) as url:
        client = HttpClient(url)
        try:
            yield url, build_election(client, voters=2 * CLIENT_THREADS)  # type: ignore[arg-type]
        finally:
            client.close()


def test_concurrent_casts_on_gthread_workers(
    threaded_server, api_db: str, tmp_path: Path
) -> None:
    url, e = threaded_server
    engine = make_engine(api_db)
    store = Store(engine)
    try:
        setup_heads = len(store.signed_heads(e.election_id))
        size = e.size()
        # Thread t casts for voters 2t and 2t+1 alternately (re-voting included).
        work = [
            [
                (e.login(2 * t + n % 2), e.ballot(2 * t + n % 2)[0].to_json())
                for n in range(CASTS_PER_THREAD)
            ]
            for t in range(CLIENT_THREADS)
        ]
        start = threading.Barrier(CLIENT_THREADS)
        answers: list[list[tuple[int, Any]]] = [[] for _ in range(CLIENT_THREADS)]

        def client(t: int) -> None:
            with httpx.Client(base_url=url, timeout=60) as http:
                start.wait(TIMEOUT)
                for login, ballot in work[t]:
                    r = http.post(
                        f"{e.url}/ballots",
                        json=ballot,
                        headers={"Authorization": f"Bearer {login}"},
                    )
                    answers[t].append((r.status_code, r.json()))

        threads = [
            threading.Thread(target=client, args=(t,), daemon=True) for t in range(CLIENT_THREADS)
        ]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
            assert not t.is_alive(), "a client thread is still casting after 60 s"
        total = CLIENT_THREADS * CASTS_PER_THREAD
        results = [a for per in answers for a in per]
        assert len(results) == total
        assert [s for s, _ in results] == [201] * total, [b for s, b in results if s != 201][:3]
        receipts = [Receipt.from_json(body) for _, body in results]
        entries = e.entries()
        assert len(entries) == size + total
        summary = verify_chain(entries)
        assert summary.size == size + total
        key = e.board_key
        flat_work = [ballot for per in work for _, ballot in per]
        for receipt, ballot in zip(receipts, flat_work, strict=True):
            receipt.verify(key)
            receipt.verify_entry(entries[receipt.index])
            assert entries[receipt.index].payload == {"ballot": ballot}
        assert sorted(r.index for r in receipts) == list(range(size, size + total))
        stored = store.signed_heads(e.election_id)
        new_heads = stored[setup_heads:]
        assert 1 <= len(new_heads) <= total
        # Every head signed while casting is the head of the receipts of its batch.
        assert {h.size for h in new_heads} == {r.tree_head.size for r in receipts}
        for r in receipts:
            assert r.tree_head in new_heads
        # The whole election, tallied, passes the standalone verifier: heads signed
        # per batch (not per entry) are what the record's tree-heads file holds.
        e.tally()
        record = e.client.http.get(f"{e.url}/record")  # type: ignore[attr-defined]
        assert record.status_code == 200
        (tmp_path / "record.zip").write_bytes(record.content)
        report = verify_zip(tmp_path / "record.zip")
        assert failures(report) == {}
        assert report.ok
    finally:
        store.close()
        engine.dispose()


def test_gthread_workers_keep_connections_alive(threaded_server) -> None:
    url, e = threaded_server
    parts = urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=TIMEOUT)
    try:
        ballot = e.ballot(0)[0]
        body = canonical_json(ballot.to_json())
        conn.request(
            "POST",
            f"{e.url}/ballots",
            body=body,
            headers={"Content-Type": "application/json", "Authorization": f"Bearer {e.login(0)}"},
        )
        first = conn.getresponse()
        first.read()
        assert first.status == 201
        assert not first.will_close
        sock = conn.sock
        assert sock is not None
        local = sock.getsockname()
        conn.request("GET", "/api/v1/board-key")
        second = conn.getresponse()
        second.read()
        assert second.status == 200
        assert conn.sock is sock and sock.getsockname() == local  # no reconnect
    finally:
        conn.close()
