"""The board store on SQLite and PostgreSQL: appends, reads, proofs, refusals.

Every test runs on both engines (the ``store`` / ``board_db`` fixtures in
conftest.py); on PostgreSQL the store connects as the restricted server role.
"""

from __future__ import annotations

import hashlib
import os
import threading

import pytest
from flask import Flask
from sqlalchemy import create_engine, make_url, select, text
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.pool import NullPool

from ballot_server import models
from ballot_server.db import (
    PG_ANALYZE_OPTIONS,
    get_store,
    init_app,
    init_db,
    make_engine,
    setup_server_role,
)
from ballot_server.store import Store, add_cosignature, login_code_hash, sign_head_locked
from ballot_server.store import frontier as store_frontier
from evote import merkle
from evote.board import Entry, verify_chain, verify_heads
from evote.election import Phase
from evote.errors import (
    AlreadyExists,
    AuthenticationError,
    BindingError,
    BoardError,
    DuplicateCiphertext,
    LifecycleError,
    MerkleError,
    NotFound,
    SchemaError,
    ServiceUnavailable,
)
from evote.signing import SigningKey

E = "city-poll-7"
BOARD_KEY = SigningKey.from_bytes(bytes(range(32)))
SETUP = ["election_created", "key_published", "credentials_published", "election_opened"]


def h(label: str) -> bytes:
    """A stand-in 32-byte hash (storage does not interpret it)."""
    return hashlib.sha256(label.encode()).digest()


def open_election(store: Store, election: str = E) -> None:
    for i, kind in enumerate(SETUP):
        with store.locked(election) as board:
            board.append(kind, {"step": i}, 1_000 + i)


def cast(store: Store, n: int, election: str = E, *, start: int = 0) -> list[Entry]:
    out = []
    for i in range(start, start + n):
        with store.locked(election) as board:
            entry = board.append("ballot_cast", {"ballot": f"b{i}"}, 2_000 + i)
            board.index_ballot(entry.index, f"t{i}", h(f"cred{i}"), [h(f"ct{i}a"), h(f"ct{i}b")])
        out.append(entry)
    return out


def raw_engine(url: str):
    return create_engine(url, poolclass=NullPool)


def row_counts(url: str, election: str = E) -> dict[str, int]:
    engine = raw_engine(url)
    try:
        with engine.connect() as conn:
            return {
                name: conn.execute(
                    text(
                        f"SELECT count(*) FROM {name} WHERE {'id' if name == 'elections' else 'election_id'} = :e"
                    ),
                    {"e": election},
                ).scalar_one()
                for name in [*models.APPEND_ONLY, "voters"]
            }
    finally:
        engine.dispose()


def snapshot(url: str) -> dict[str, list]:
    engine = raw_engine(url)
    try:
        with engine.connect() as conn:
            return {
                name: sorted(
                    map(tuple, conn.execute(select(models.metadata.tables[name]))), key=repr
                )
                for name in [*models.APPEND_ONLY, "voters"]
            }
    finally:
        engine.dispose()


# --- appending and reading --------------------------------------------------------


def test_init_db_is_idempotent(board_db):
    engine = make_engine(board_db.admin_url)
    try:
        init_db(engine)
        init_db(engine)
    finally:
        engine.dispose()
    assert row_counts(board_db.url) == dict.fromkeys([*models.APPEND_ONLY, "voters"], 0)


def test_append_and_read_back(store):
    with store.locked(E) as board:
        assert board.head() is None and board.size == 0
        assert board.state.phase is None
    open_election(store)
    cast(store, 10)
    with store.locked(E) as board:
        assert board.size == 14
        assert board.state.phase is Phase.OPEN
        assert board.head().index == 13

    entries = store.entries(E, 0, 1000)
    summary = verify_chain(entries)
    assert summary.size == 14 and summary.state.phase is Phase.OPEN
    assert [e.index for e in entries] == list(range(14))
    assert store.entry_count(E) == 14
    assert store.entry_count("no-such-election") == 0
    assert store.elections() == [E]
    assert list(store.iter_entries(E, batch=3)) == entries
    assert list(store.iter_canonical(E, batch=5)) == [e.canonical() for e in entries]
    assert list(store.iter_entries(E, start=10, stop=12)) == entries[10:12]
    assert store.entries(E, 5, 3) == entries[5:8]
    assert store.entry(E, 7) == entries[7]
    with pytest.raises(NotFound):
        store.entry(E, 14)
    with pytest.raises(SchemaError):
        store.entries(E, -1, 10)
    with pytest.raises(SchemaError):
        store.entries(E, 0, 0)


def test_entry_time_never_goes_backwards(store):
    with store.locked(E) as board:
        board.append("election_created", {}, 5_000)
    with store.locked(E) as board:
        entry = board.append("key_published", {}, 4_000)  # this host's clock is behind
    assert entry.time == 5_000
    verify_chain(store.entries(E), lifecycle=False)


def test_proofs_verify_against_signed_heads(store):
    open_election(store)
    heads = []
    sizes = {4, 5, 7, 8, 9, 13, 16, 17, 31, 32, 33, 45}
    for i in range(4, 45):
        cast(store, 1, start=i)
        if i + 1 in sizes:
            heads.append(store.sign_head(E, BOARD_KEY, 10_000 + i))
    entries = store.entries(E, 0, 1000)
    leaves = [e.leaf_hash() for e in entries]

    for sth in heads:
        sth.verify(BOARD_KEY.verify_key)
        assert sth.root == merkle.root(leaves[: sth.size])
        assert store.root(E, sth.size) == sth.root
        for index in range(sth.size):
            proof = store.inclusion_proof(E, index, sth.size)
            merkle.verify_inclusion(index, sth.size, leaves[index], proof, sth.root)
    for i, older in enumerate(heads):
        for newer in heads[i:]:
            proof = store.consistency_proof(E, older.size, newer.size)
            verify_heads(older, newer, proof, board_key=BOARD_KEY.verify_key)

    # A wrong leaf does not verify against a served proof.
    proof = store.inclusion_proof(E, 3, 45)
    with pytest.raises(merkle.RootMismatchError):
        merkle.verify_inclusion(3, 45, leaves[4], proof, heads[-1].root)

    assert store.latest_signed_head(E) == heads[-1]
    assert store.signed_heads(E) == heads
    assert store.root(E, 0) == merkle.EMPTY_ROOT


def test_sign_head_twice_in_one_millisecond(store):
    open_election(store)
    first = store.sign_head(E, BOARD_KEY, 7_000)
    again = store.sign_head(E, BOARD_KEY, 7_000)
    assert again == first
    assert store.signed_heads(E) == [first]
    with pytest.raises(NotFound):
        store.sign_head("empty", BOARD_KEY, 7_000)
    assert store.latest_signed_head("empty") is None


def test_proof_requests_out_of_range(store):
    open_election(store)
    cast(store, 3)
    with pytest.raises(MerkleError):
        store.inclusion_proof(E, 7, 7)
    with pytest.raises(MerkleError):
        store.inclusion_proof(E, 0, 8)  # beyond the board
    with pytest.raises(MerkleError):
        store.inclusion_proof(E, -1, 3)
    with pytest.raises(MerkleError):
        store.consistency_proof(E, 5, 3)
    with pytest.raises(MerkleError):
        store.consistency_proof(E, 3, 8)
    with pytest.raises(MerkleError):
        store.root(E, 8)
    assert store.consistency_proof(E, 7, 7) == []


# --- lifecycle and atomicity ------------------------------------------------------


def test_lifecycle_violation_writes_nothing(store, db_url):
    with pytest.raises(LifecycleError):
        with store.locked(E) as board:
            board.append("ballot_cast", {}, 1)  # no election yet
    assert store.elections() == []
    open_election(store)
    before = row_counts(db_url)
    with pytest.raises(LifecycleError):
        with store.locked(E) as board:
            board.append("election_created", {}, 9_000)
    with pytest.raises(LifecycleError):
        with store.locked(E) as board:
            board.append("tally_posted", {}, 9_000)  # before close
    assert row_counts(db_url) == before


def test_exception_inside_locked_rolls_everything_back(store, db_url):
    class Boom(Exception):
        pass

    with pytest.raises(Boom):
        with store.locked(E) as board:
            board.append("election_created", {}, 1)
            raise Boom
    assert store.elections() == []
    assert row_counts(db_url) == dict.fromkeys([*models.APPEND_ONLY, "voters"], 0)

    open_election(store)
    cast(store, 3)  # 7 entries: the next one completes subtrees at levels 1, 2 and 3
    before = row_counts(db_url)
    with pytest.raises(Boom):
        with store.locked(E) as board:
            entry = board.append("ballot_cast", {"ballot": "x"}, 5_000)
            board.index_ballot(entry.index, "tx", h("credx"), [h("ctx")])
            board.append("election_closed", {}, 5_001)
            raise Boom
    assert row_counts(db_url) == before
    with pytest.raises(BoardError):  # the handle is closed
        board.append("ballot_cast", {}, 5_002)

    # The rolled-back close left no trace in the cached state: ballots still go in.
    entry = cast(store, 1, start=3)[0]
    assert entry.index == 7
    assert store.entry_by_tracking_code(E, "tx") is None
    summary = verify_chain(store.entries(E, 0, 100))
    assert summary.root == store.root(E, 8)


def test_two_stores_see_each_others_appends(db_url):
    engine_a, engine_b = make_engine(db_url), make_engine(db_url)
    a, b = Store(engine_a), Store(engine_b)  # separate caches, like two workers
    try:
        open_election(a)
        cast(b, 2)
        with a.locked(E) as board:
            assert board.size == 6
            board.append("election_closed", {}, 3_000)
        with pytest.raises(LifecycleError):
            cast(b, 1, start=2)
        with b.locked(E) as board:
            assert board.state.phase is Phase.CLOSED
            assert board.head().kind == "election_closed"
        verify_chain(a.entries(E))
    finally:
        a.close(), b.close()
        engine_a.dispose(), engine_b.dispose()


def test_appends_interleaved_by_three_processes_keep_roots_and_proofs_right(
    db_url, monkeypatch
):
    """Each store caches the board's Merkle frontier and serves the locked root and the
    new entry's audit path from it; interleaved with other writers' appends (caught up
    in memory, or -- far behind -- re-read), every figure matches a tree built here."""
    monkeypatch.setattr(store_frontier, "CATCH_UP", 4)  # exercise the re-read path too
    engines = [make_engine(db_url) for _ in range(3)]
    stores = [Store(engine) for engine in engines]  # separate caches, like three workers
    tree = merkle.MemoryTree()
    # Which store appends (and how many entries in one block), in turn; store 2 often
    # stays behind by more than _CATCH_UP entries.
    plan = [(0, 4), (1, 1), (0, 1), (1, 2), (0, 1), (2, 1), (1, 3), (0, 1), (1, 1), (0, 2)]
    plan += [(0, 1), (1, 1)] * 6 + [(2, 2), (0, 1), (2, 1), (1, 5), (2, 1)]
    try:
        n = 0
        for who, count in plan:
            with stores[who].locked(E) as board:
                assert board.size == tree.size and board.root() == tree.root()
                for _ in range(count):
                    kind = SETUP[n] if n < len(SETUP) else "ballot_cast"
                    entry = board.append(kind, {"n": n}, 1_000 + n)
                    tree.append(entry.leaf_hash())
                    n += 1
                    assert board.root() == tree.root()
                    assert board.inclusion_proof(entry.index, tree.size) == (
                        tree.inclusion_proof(entry.index)
                    )
                for index in {0, tree.size // 2, tree.size - 1}:
                    assert board.inclusion_proof(index, tree.size) == tree.inclusion_proof(index)
                head = sign_head_locked(board, BOARD_KEY, 1_000 + n)
                assert head.root == tree.root() and head.size == tree.size
            assert stores[(who + 1) % 3].root(E, tree.size) == tree.root()
        assert verify_chain(stores[2].entries(E, 0, 1000)).root == tree.root()
        for index in range(tree.size):
            assert stores[1].inclusion_proof(E, index, tree.size) == tree.inclusion_proof(index)
    finally:
        for s, engine in zip(stores, engines, strict=True):
            s.close()
            engine.dispose()


def test_a_batched_block_writes_all_or_nothing(store, db_url):
    open_election(store)
    cast(store, 2)
    before = row_counts(db_url)
    # A copied ciphertext is refused by the database when the queued rows are sent
    # (at the end of the block): the same error as unbatched, and nothing is kept.
    with pytest.raises(DuplicateCiphertext) as info:
        with store.locked(E, batched=True) as board:
            entry = board.append("ballot_cast", {"ballot": "copy"}, 3_000)
            board.index_ballot(entry.index, "t-copy", h("cred-x"), [h("ct-new"), h("ct0a")])
            sign_head_locked(board, BOARD_KEY, 3_000)
    assert info.value.detail == {"index": 6}
    assert row_counts(db_url) == before
    # A refused write caught inside the block spoils it (here the queued rows are sent
    # before the binding's statement): later writes are refused, and it commits
    # nothing although the caller went on.
    with pytest.raises(BoardError, match="nothing was written"):
        with store.locked(E, batched=True) as board:
            entry = board.append("ballot_cast", {"ballot": "copy"}, 3_000)
            board.index_ballot(entry.index, "t-copy", h("cred-x"), [h("ct0a")])
            with pytest.raises(DuplicateCiphertext):
                board.bind_credential("nobody", h("cred-x"))
            with pytest.raises(BoardError, match="can only roll back"):
                board.append("ballot_cast", {"ballot": "more"}, 3_001)
    assert row_counts(db_url) == before
    # The cached head did not move: the next append follows entry 5, and a batched
    # block that succeeds writes every row.
    with store.locked(E, batched=True) as board:
        entry = board.append("ballot_cast", {"ballot": "ok"}, 3_002)
        board.index_ballot(entry.index, "t-ok", h("cred-x"), [h("ct-new")])
        head = sign_head_locked(board, BOARD_KEY, 3_002)
        proof = board.inclusion_proof(entry.index, head.size)
    assert entry.index == 6 and store.entry_by_tracking_code(E, "t-ok") == entry
    assert store.inclusion_proof(E, entry.index, head.size) == proof
    assert store.latest_signed_head(E) == head and store.root(E, 7) == head.root
    after = row_counts(db_url)
    assert after["board_entries"] == before["board_entries"] + 1
    assert after["ballot_ciphertexts"] == before["ballot_ciphertexts"] + 1


def test_binding_from_the_row_read_at_login(store, db_url):
    open_election(store)
    codes = {f"v{i}": bytes([i]) * 32 for i in range(4)}
    store.add_voters(E, [(v, login_code_hash(c)) for v, c in codes.items()])
    unbound = store.voter(E, "v1")
    assert unbound is not None and unbound.credential is None
    with store.locked(E, batched=True) as board:
        board.bind_credential("v1", h("cred-a"), known=unbound)  # read again, then bound
    bound = store.voter(E, "v1")
    assert bound is not None and bound.credential == h("cred-a")
    with store.locked(E, batched=True) as board:
        board.bind_credential("v1", h("cred-a"), known=bound)  # re-voting: no statement
    with pytest.raises(BindingError), store.locked(E, batched=True) as board:
        board.bind_credential("v1", h("cred-b"), known=bound)
    # Read unbound at login, bound by a concurrent request since: decided as of the lock.
    with pytest.raises(BindingError, match="already cast"), store.locked(E) as board:
        board.bind_credential("v1", h("cred-b"), known=unbound)
    with store.locked(E) as board:
        board.bind_credential("v1", h("cred-a"), known=unbound)
    # cred-a belongs to v1: refused for v2 (read under the lock), and nothing is kept.
    before = row_counts(db_url)
    v2 = store.voter(E, "v2")
    for batched in (False, True):
        with pytest.raises(BindingError, match="another login"):
            with store.locked(E, batched=batched) as board:
                board.append("ballot_cast", {"ballot": "x"}, 3_000)
                board.bind_credential("v2", h("cred-a"), known=v2)
        assert row_counts(db_url) == before
    assert store.voter(E, "v2").credential is None
    with pytest.raises(BoardError), store.locked(E) as board:
        board.bind_credential("v3", h("cred-c"), known=v2)  # a row of another login


def test_sqlite_appenders_queue_on_a_lock_file(board_db, store, tmp_path):
    """On SQLite, appenders wait on a flock next to the database (prompt hand-over)
    rather than in SQLite's busy handler; the queue only orders them."""
    if board_db.kind != "sqlite":
        pytest.skip("PostgreSQL appenders queue on an advisory lock")
    gate = store._gate_path
    assert gate == make_url(board_db.url).database + "-evote-append-lock"
    open_election(store)
    assert os.stat(gate).st_mode & 0o777 == 0o600
    other_engine = make_engine(board_db.url)
    other = Store(other_engine)
    done = threading.Event()

    def second_writer() -> None:
        cast(other, 1, start=1)
        done.set()

    try:
        with store.locked(E) as board:
            board.append("ballot_cast", {"ballot": "first"}, 2_000)
            writer = threading.Thread(target=second_writer)
            writer.start()
            assert not done.wait(0.3)  # queued behind this block
        assert done.wait(10)
        writer.join()
        assert [e.payload for e in store.entries(E, 4, 10)] == [{"ballot": "first"}, {"ballot": "b1"}]
        # Without a usable lock file the database's own lock still serialises appends.
        other._gate_path = str(tmp_path / "missing-dir" / "lock")
        cast(other, 1, start=2)
        assert store.entry_count(E) == 7
    finally:
        other.close()
        other_engine.dispose()


def test_lock_timeout_is_service_unavailable(board_db, store):
    open_election(store)
    impatient = make_engine(board_db.url, lock_timeout=0.3)
    other = Store(impatient)
    try:
        with store.locked(E) as board:
            board.append("ballot_cast", {}, 3_000)
            with pytest.raises(ServiceUnavailable) as info:
                with other.locked(E):
                    pass
            assert info.value.http_status == 503
            if board_db.kind == "postgres":
                # The lock is per election: another election is not held up.
                with other.locked("other-election") as board2:
                    board2.append("election_created", {}, 3_000)
            # Readers are never blocked by the writer.
            assert other.entry_count(E) == 4
        with other.locked(E) as board:
            assert board.size == 5
    finally:
        other.close()
        impatient.dispose()


# --- ballots ----------------------------------------------------------------------


def test_ballot_index_tracking_codes_and_counted_set(store):
    open_election(store)
    cast(store, 3)
    with store.locked(E) as board:  # credential 1 votes again
        again = board.append("ballot_cast", {"ballot": "again"}, 3_000)
        board.index_ballot(again.index, "t-again", h("cred1"), [h("ct-again")])
    with store.locked(E) as board:  # an audited (spoiled) ballot is never counted
        audited = board.append("ballot_audited", {"audited": "a"}, 3_001)
        board.index_ballot(audited.index, "t-audit", h("cred0"), [h("ct-audit")])

    assert store.entry_by_tracking_code(E, "t1").payload == {"ballot": "b1"}
    assert store.entry_by_tracking_code(E, "t-audit") == audited
    assert store.entry_by_tracking_code(E, "nope") is None
    assert store.last_ballot_index(E, h("cred1")) == again.index
    assert store.last_ballot_index(E, h("cred0")) == 4
    assert store.last_ballot_index(E, h("stranger")) is None
    assert store.counted_ballot_indices(E) == [4, 6, again.index]


def test_copied_ciphertext_is_refused(store, board_db):
    open_election(store)
    cast(store, 2)
    before = row_counts(board_db.url)
    with pytest.raises(DuplicateCiphertext) as info:
        with store.locked(E) as board:
            entry = board.append("ballot_cast", {"ballot": "copy"}, 3_000)
            # Another credential, one of ballot 0's ciphertexts.
            board.index_ballot(entry.index, "t-copy", h("cred-other"), [h("ct-new"), h("ct0b")])
    assert info.value.code == "duplicate_ciphertext" and info.value.http_status == 409
    assert row_counts(board_db.url) == before

    with pytest.raises(DuplicateCiphertext):
        with store.locked(E) as board:
            entry = board.append("ballot_cast", {"ballot": "self-copy"}, 3_000)
            board.index_ballot(entry.index, "t-self", h("cred9"), [h("ct-z"), h("ct-z")])

    # Caught inside the block, the failed index leaves nothing half-written.
    with store.locked(E) as board:
        entry = board.append("ballot_cast", {"ballot": "ok"}, 3_000)
        with pytest.raises(DuplicateCiphertext):
            board.index_ballot(entry.index, "t-ok", h("cred8"), [h("ct-fresh"), h("ct1a")])
        board.index_ballot(entry.index, "t-ok", h("cred8"), [h("ct-fresh")])
    assert store.entry_by_tracking_code(E, "t-ok") == entry

    # The database itself refuses the copy, whatever the code does.
    engine = raw_engine(board_db.url)
    try:
        with pytest.raises(IntegrityError), engine.begin() as conn:
            conn.execute(
                models.ballot_ciphertexts.insert(),
                {"election_id": E, "ciphertext_hash": h("ct0a"), "idx": entry.index},
            )
    finally:
        engine.dispose()


# --- voters -----------------------------------------------------------------------


def test_voter_login_and_credential_binding(store):
    codes = {f"v{i}": bytes([i]) * 32 for i in range(3)}
    with pytest.raises(NotFound):
        store.add_voters(E, [("v0", login_code_hash(codes["v0"]))])
    open_election(store)
    assert store.add_voters(E, [(v, login_code_hash(c)) for v, c in codes.items()]) == 3
    with pytest.raises(AlreadyExists):
        store.add_voters(E, [("v9", login_code_hash(b"x" * 32)), ("v1", login_code_hash(b"y"))])
    assert store.voter(E, "v9") is None  # all or nothing

    assert store.authenticate(E, "v1", codes["v1"]).voter_id == "v1"
    with pytest.raises(AuthenticationError):
        store.authenticate(E, "v1", codes["v2"])
    with pytest.raises(AuthenticationError):
        store.authenticate(E, "nobody", codes["v1"])
    assert store.voter(E, "v1").login_hash == login_code_hash(codes["v1"])

    with store.locked(E) as board:
        board.bind_credential("v1", h("cred-a"))
    with store.locked(E) as board:
        board.bind_credential("v1", h("cred-a"))  # re-voting with the same pair
    assert store.voter(E, "v1").credential == h("cred-a")
    with pytest.raises(BindingError), store.locked(E) as board:
        board.bind_credential("v1", h("cred-b"))  # this login cast with cred-a
    with pytest.raises(BindingError), store.locked(E) as board:
        board.bind_credential("v2", h("cred-a"))  # cred-a belongs to v1
    with pytest.raises(AuthenticationError), store.locked(E) as board:
        board.bind_credential("nobody", h("cred-c"))
    assert store.voter(E, "v2").credential is None
    assert store.voter(E, "v1").credential == h("cred-a")


# --- the database refuses rewrites ------------------------------------------------


def _fill_every_table(store: Store) -> None:
    open_election(store)
    cast(store, 4)
    store.sign_head(E, BOARD_KEY, 9_000)
    store.add_voters(E, [("v1", login_code_hash(b"1" * 32)), ("v2", login_code_hash(b"2" * 32))])
    with store.locked(E) as board:
        board.bind_credential("v1", h("cred0"))
    assert add_cosignature(
        store,
        E,
        size=8,
        root=store.root(E, 8),
        witness="witness.example",
        key_id=b"\x00\x01\x02\x03",
        cosigned_at=1_700_000_000,
        line="\u2014 witness.example AAAA",
    )
    store.add_scheduled(E, "election_closed", 9_500, '{"body":{"at":"x"}}')


MUTATIONS = {
    "elections": ("created_ms = created_ms + 1", "id = id"),
    "board_entries": ("kind = 'ballot_audited'", "idx = 5"),
    "merkle_nodes": ("hash = hash", "level = 1"),
    "tree_heads": ("time_ms = 0", "size = size"),
    "ballots": ("credential = NULL", "idx = 4"),
    "ballot_ciphertexts": ("idx = idx", "idx = 4"),
    "voters": ("login_hash = credential", "voter_id = 'v1'"),
    "witness_cosignatures": ("line = 'forged'", "size = 8"),
    "scheduled_commands": ("due_ms = 0", "kind = kind"),
}
"""Per table: an UPDATE's SET clause and the WHERE clause picking rows to touch."""


REFUSAL = "append-only table|refused|permission denied|a row with this key exists|only binding"
"""What the triggers and the missing privileges say (not, say, a foreign-key error)."""


def _refused(url: str, statement: str, match: str = REFUSAL) -> None:
    engine = raw_engine(url)
    try:
        with pytest.raises(DBAPIError, match=match), engine.begin() as conn:
            conn.execute(text(statement))
    finally:
        engine.dispose()


def test_update_and_delete_are_refused(board_db, store):
    _fill_every_table(store)
    before = snapshot(board_db.admin_url)
    assert set(MUTATIONS) == {*models.APPEND_ONLY, "voters"}  # a new table needs a row here
    assert all(before[name] for name in MUTATIONS)

    # As the server connects: SQLite's triggers; PostgreSQL's role and triggers.
    urls = [board_db.url] if board_db.kind == "sqlite" else [board_db.url, board_db.admin_url]
    for url in urls:
        for table, (assignment, where) in MUTATIONS.items():
            _refused(url, f"UPDATE {table} SET {assignment} WHERE {where}")
            _refused(url, f"DELETE FROM {table} WHERE {where}")
            _refused(url, f"DELETE FROM {table}")
            if board_db.kind == "postgres":
                _refused(url, f"TRUNCATE {table} CASCADE")
    if board_db.kind == "sqlite":
        # REPLACE deletes the old row to make room: refused before it can.
        for table, (_assignment, where) in MUTATIONS.items():
            _refused(
                board_db.url,
                f"INSERT OR REPLACE INTO {table} SELECT * FROM {table} WHERE {where} LIMIT 1",
            )
    else:
        for url in urls:  # an upsert is an UPDATE: refused by privilege, then trigger
            _refused(
                url,
                "INSERT INTO board_entries SELECT * FROM board_entries WHERE idx = 5 "
                "ON CONFLICT (election_id, idx) DO UPDATE SET kind = 'ballot_audited'",
            )
    # Rebinding a bound voter is refused; binding an unbound one is what the server may do.
    _refused(board_db.url, "UPDATE voters SET credential = NULL WHERE voter_id = 'v1'")
    assert snapshot(board_db.admin_url) == before

    engine = raw_engine(board_db.url)
    try:
        with engine.begin() as conn:
            conn.execute(
                text("UPDATE voters SET credential = :c WHERE voter_id = 'v2'"), {"c": h("c2")}
            )
    finally:
        engine.dispose()
    assert store.voter(E, "v2").credential == h("c2")


def test_used_login_states_are_kept_once_never_updated_and_expire(board_db, store):
    """``oidc_states`` (ballot_server/store/oidc_states.py): a second use is refused,
    an UPDATE is refused by trigger (and role), expired rows go with the next insert."""
    assert models.INSERT_ONCE == ("oidc_states",)  # a new insert-once table needs a case here
    assert store.use_oidc_state(h("s1"), 2_000, 1_000)
    assert store.use_oidc_state(h("s2"), 9_000, 1_000)
    assert not store.use_oidc_state(h("s1"), 2_000, 1_500)  # a replay, still in its window
    urls = [board_db.url] if board_db.kind == "sqlite" else [board_db.url, board_db.admin_url]
    for url in urls:
        _refused(url, "UPDATE oidc_states SET expires_ms = 99999", match="UPDATE refused|refused|"
                 "permission denied")
    engine = raw_engine(board_db.admin_url)
    try:
        def kept() -> list[bytes]:
            with engine.connect() as conn:
                return sorted(conn.execute(text("SELECT state_hash FROM oidc_states")).scalars())

        assert kept() == sorted([h("s1"), h("s2")])
        assert store.use_oidc_state(h("s3"), 12_000, 5_000)  # s1 expired at 2 000: gone now
        assert kept() == sorted([h("s2"), h("s3")])
    finally:
        engine.dispose()


def test_a_second_entry_at_one_index_is_refused(board_db, store):
    """The primary key is the backstop against a fork, even for the owner."""
    open_election(store)
    for url in {board_db.url, board_db.admin_url}:
        _refused(
            url,
            "INSERT INTO board_entries SELECT election_id, idx, 'ballot_audited', time_ms, "
            "leaf_hash, entry FROM board_entries WHERE idx = 3",
            match="UNIQUE|unique|duplicate key|a row with this key exists",
        )
    assert store.entry(E, 3).kind == "election_opened"


@pytest.mark.parametrize("board_db", ["postgres"], indirect=True)
def test_server_role_cannot_change_the_schema(board_db):
    """PostgreSQL only: SQLite has no roles (its triggers are tested above)."""
    for statement in [
        "DROP TRIGGER board_entries_append_only ON board_entries",
        "ALTER TABLE board_entries DISABLE TRIGGER USER",
        "DROP TABLE board_entries",
        "CREATE TABLE sneaky (x int)",
    ]:
        _refused(board_db.url, statement, match="must be owner|permission denied")


@pytest.mark.parametrize("board_db", ["postgres"], indirect=True)
def test_setup_server_role_again_resets_the_password(board_db):
    url = setup_server_role(board_db.admin_url, "evote_t_again", "first")
    try:
        url = setup_server_role(board_db.admin_url, "evote_t_again", "second")
        assert ":second@" in url
        engine = make_engine(url)
        with Store(engine) as store:
            open_election(store)
            assert store.entry_count(E) == 4
        engine.dispose()
        _refused(url, "DELETE FROM board_entries")
    finally:
        admin = raw_engine(board_db.admin_url)
        with admin.begin() as conn:
            conn.exec_driver_sql("DROP OWNED BY evote_t_again")
            conn.exec_driver_sql("DROP ROLE evote_t_again")
        admin.dispose()


def test_flask_glue_one_store_per_app_context(db_url):
    app = Flask(__name__)
    app.config["EVOTE_DATABASE_URL"] = db_url
    init_app(app)
    try:
        with app.app_context():
            store = get_store()
            assert get_store() is store
            open_election(store)
            assert store.entry_count(E) == 4
        assert store._conn is None  # returned to the pool at teardown
        with app.app_context():
            assert get_store() is not store
            assert get_store().entries(E, 0, 10)[0].kind == "election_created"
    finally:
        app.extensions["evote_db"].engine.dispose()


@pytest.mark.parametrize("board_db", ["postgres"], indirect=True)
def test_board_tables_are_analysed_early_and_init_is_idempotent(board_db):
    """PostgreSQL only (SQLite has no autovacuum): every board table carries the
    analyse thresholds of ``PG_ANALYZE_OPTIONS``, and a second ``init_db`` on the set-up
    database changes nothing."""
    admin = raw_engine(board_db.admin_url)
    tables = [*models.APPEND_ONLY, "voters"]

    def options() -> dict[str, list[str]]:
        with admin.connect() as conn:
            rows = conn.exec_driver_sql(
                "SELECT relname, reloptions FROM pg_class WHERE relname = ANY(%(t)s)",
                {"t": tables},
            )
            return {r.relname: sorted(r.reloptions or ()) for r in rows}

    try:
        before = options()
        assert set(before) == set(tables)
        for table in tables:
            assert set(PG_ANALYZE_OPTIONS) <= set(before[table]), table
        with admin.connect() as conn:
            conn.exec_driver_sql("ALTER TABLE ballots RESET (autovacuum_analyze_threshold)")
            conn.commit()
        assert "autovacuum_analyze_threshold=200" not in options()["ballots"]
        init_db(admin)  # puts back what is missing, leaves the rest
        assert options() == before
    finally:
        admin.dispose()
