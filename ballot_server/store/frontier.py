"""The Merkle frontier and the per-process cache of each board's head and state.

An append needs the previous entry's index, time and leaf hash, the lifecycle
state, and the left frontier of the Merkle tree (the perfect subtrees
:func:`evote.merkle.subtree_nodes` ``(0, size)`` names), from which the new
entry's completed subtrees, the new root and its audit path follow without
reading ``merkle_nodes``.  This module holds that snapshot (:class:`Cached`),
the process-wide cache of it (:class:`ElectionStates`), and :func:`current`,
which brings it up to date under the append lock from the rows appended since
(by any process).  It is separate because it is the one piece of the store
that keeps state between requests: everything else reads committed rows.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.engine import Connection

from ballot_server import models as m
from ballot_server.store import sql
from evote import merkle
from evote.board import ChainHead, Entry
from evote.election import ElectionState
from evote.errors import BoardError, MerkleError

CATCH_UP = 1000
"""Most rows the locked read brings a cached board forward by; beyond, it replays."""


@dataclass(frozen=True, slots=True)
class Cached:
    """An election's board as of ``size`` entries, enough to append the next one.

    ``frontier`` holds the hashes of the perfect subtrees
    :func:`evote.merkle.subtree_nodes` ``(0, size)`` names (the tree's left
    frontier), from which the next entry's completed subtrees, the new root
    and the new entry's audit path follow without reading ``merkle_nodes``.
    ``head`` is the last entry when this process has it parsed, else None.
    """

    size: int
    leaf: bytes
    time: int
    state: ElectionState
    frontier: tuple[bytes, ...]
    head: Entry | None = None

    def chain_head(self, election_id: str) -> ChainHead:
        return ChainHead(election_id, self.size - 1, self.time, self.leaf)

    def extended(self, rows: Sequence[Any]) -> Cached:
        """After the rows ``(idx, kind, leaf_hash, time_ms)`` that follow, in order."""
        size, state, leaf, last_time = self.size, self.state, self.leaf, self.time
        nodes = frontier_nodes(size, self.frontier)
        for row in rows:
            if row.idx != size:
                raise BoardError(f"entry {size} is missing from the board")
            leaf, last_time = bytes(row.leaf_hash), row.time_ms
            state = state.apply(row.kind)
            nodes.update(completed(size, leaf, nodes))
            size += 1
        return Cached(size, leaf, last_time, state, frontier(size, nodes))


class ElectionStates:
    """Per-process cache of each election's head, lifecycle state and Merkle frontier.

    Shared by the stores of one app (thread-safe).  An entry is valid only
    while the board's last row has the cached index and leaf hash; otherwise
    the locked transaction catches up from the rows appended since (by any
    process), in one short read.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._by_election: dict[str, Cached] = {}

    def get(self, election_id: str) -> Cached | None:
        with self._lock:
            return self._by_election.get(election_id)

    def put(self, election_id: str, cached: Cached) -> None:
        with self._lock:
            old = self._by_election.get(election_id)
            if old is None or old.size <= cached.size:
                self._by_election[election_id] = cached


def frontier_nodes(size: int, frontier: Sequence[bytes]) -> dict[tuple[int, int], bytes]:
    """The frontier of a tree of ``size`` leaves, keyed by node."""
    return dict(zip(merkle.subtree_nodes(0, size), frontier, strict=True))


def frontier(size: int, nodes: dict[tuple[int, int], bytes]) -> tuple[bytes, ...]:
    """The frontier of a tree of ``size`` leaves, picked from ``nodes``."""
    return tuple(nodes[node] for node in merkle.subtree_nodes(0, size))


def completed(
    index: int, leaf: bytes, nodes: dict[tuple[int, int], bytes]
) -> dict[tuple[int, int], bytes]:
    """The subtrees leaf ``index`` completes, from the frontier nodes before it."""
    done = merkle.completed_subtrees(index, leaf, getter(nodes))
    return {(level, i): h for level, i, h in done}


def getter(nodes: dict[tuple[int, int], bytes]) -> merkle.NodeGetter:
    """``nodes`` as the :mod:`evote.merkle` node getter (MerkleError for a missing one)."""

    def get(level: int, index: int) -> bytes:
        try:
            return nodes[(level, index)]
        except KeyError:
            raise MerkleError(f"subtree ({level}, {index}) is not stored") from None

    return get


def stored_root(conn: Connection, election_id: str, size: int) -> bytes:
    """The root of the first ``size`` entries, from the stored frontier subtrees."""
    if size == 0:
        return merkle.EMPTY_ROOT
    nodes = sql.fetch_nodes(conn, election_id, merkle.subtree_nodes(0, size))
    return merkle.tree_root(size, getter(nodes))


def current(conn: Connection, states: ElectionStates, election_id: str) -> Cached | None:
    """The head, state and Merkle frontier of the board as committed now (under the lock).

    With this process's cache of the board at ``n`` entries, one read of
    the rows from index ``n - 1`` on shows whether the cache is still a
    prefix (row ``n - 1`` has the cached leaf hash, which the hash chain
    ties to every earlier entry) and brings it up to date -- typically
    with the one or two entries another worker appended meanwhile.
    Otherwise (no cache, a different board, or far behind) the state is
    replayed from the kinds and the frontier read from ``merkle_nodes``.
    """
    e = m.board_entries.c
    cached = states.get(election_id)
    state, start = ElectionState(), 0
    if cached is not None:
        rows = sql.run(
            conn,
            sql.SQL_ROWS_SINCE,
            {"e": election_id, "start": cached.size - 1, "limit": CATCH_UP},
        ).all()
        if rows and rows[0].idx == cached.size - 1 and bytes(rows[0].leaf_hash) == cached.leaf:
            if len(rows) == 1:
                return cached
            if len(rows) < CATCH_UP:
                fresh = cached.extended(rows[1:])
                states.put(election_id, fresh)
                return fresh
            state, start = cached.state, cached.size
    last = conn.execute(
        select(e.idx, e.leaf_hash, e.time_ms)
        .where(e.election_id == election_id)
        .order_by(e.idx.desc())
        .limit(1)
    ).first()
    if last is None:
        return None
    kinds = conn.execute(
        select(e.kind)
        .where(e.election_id == election_id, e.idx >= start, e.idx <= last.idx)
        .order_by(e.idx)
    ).scalars()
    for kind in kinds:
        state = state.apply(kind)
    size = last.idx + 1
    nodes = sql.fetch_nodes(conn, election_id, merkle.subtree_nodes(0, size))
    fresh = Cached(size, bytes(last.leaf_hash), last.time_ms, state, frontier(size, nodes))
    states.put(election_id, fresh)
    return fresh


def board_size(conn: Connection, election_id: str) -> int:
    """Number of committed entries (0 for an unknown election): the last index, plus one."""
    e = m.board_entries.c
    last = conn.execute(
        select(e.idx).where(e.election_id == election_id).order_by(e.idx.desc()).limit(1)
    ).scalar()
    return 0 if last is None else last + 1
