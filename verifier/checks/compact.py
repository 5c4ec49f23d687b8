"""Compact per-ballot state of checks 12 and 13, so the main process stays small.

A million voters with five options each is five million alphas: a Python
``set`` of 32-byte ``bytes`` costs ~100 bytes per alpha, and keeping each
credential's latest ciphertexts for the re-vote subtraction costs 64 bytes per
option plus object overhead.  Instead:

* :class:`AlphaTable` (check 12) keeps an open-addressing table of the first
  8 bytes of every alpha (``array('Q')``) and, per alpha, its board position
  (``array('q')``).  Two alphas that share a prefix are only *candidates*; the
  full alphas of every candidate are read again from the record at the end
  (:func:`reread_ciphertexts`) and only equal full values are duplicates.  So
  a prefix collision that is not a duplicate is never reported.
* The counting rule keeps per credential only the board position of its
  latest ballot (:class:`CountedPositions`); the ciphertexts of the ballots a
  re-vote replaced are read again at the end and subtracted then (the sums are
  only compared after the stream, and addition commutes).

Reading the record twice is safe only if it is the same record: the second
pass recomputes the Merkle root of the whole board and it must equal the first
pass's root (a server source could answer differently the second time).
"""

from __future__ import annotations

from array import array
from collections.abc import Iterable, Iterator
from typing import Any

from evote.board import Entry
from evote.errors import EvoteError
from evote.kinds import BALLOT_AUDITED, BALLOT_CAST
from evote.merkle import MerkleAccumulator, leaf_hash
from evote.payloads import parse_ballot_audited, parse_ballot_cast
from evote.signing import VerifyKey

_EMPTY = 0  # a prefix of 0 is stored as 1: only a false candidate, confirmed later


class AlphaTable:
    """Every alpha's 8-byte prefix and board position, in stream order.

    ``add`` returns nothing; :meth:`candidates` gives the alpha indices whose
    prefix is shared with another alpha (rare: ~n²/2⁶⁵ by accident).
    """

    def __init__(self) -> None:
        self.positions = array("q")  # alpha index -> board position (non-decreasing)
        self._keys = array("Q", bytes(8 * 16))
        self._slots = array("q", [-1]) * 16  # table slot -> first alpha index
        self._mask = 15
        self._shared: dict[int, list[int]] = {}  # prefix -> every alpha index with it

    def __len__(self) -> int:
        return len(self.positions)

    def add(self, position: int, alpha: bytes) -> None:
        key = int.from_bytes(alpha[:8], "little") or 1
        i = len(self.positions)
        self.positions.append(position)
        if 2 * i >= self._mask:
            self._grow()
        keys, mask = self._keys, self._mask
        slot = (key * 0x9E3779B97F4A7C15 >> 20) & mask
        while True:
            k = keys[slot]
            if k == _EMPTY:
                keys[slot] = key
                self._slots[slot] = i
                return
            if k == key:
                group = self._shared.get(key)
                if group is None:
                    self._shared[key] = [self._slots[slot], i]
                else:
                    group.append(i)
                return
            slot = (slot + 1) & mask

    def _grow(self) -> None:
        old_keys, old_slots = self._keys, self._slots
        size = 2 * (self._mask + 1)
        self._keys = keys = array("Q", bytes(8 * size))
        self._slots = slots = array("q", [-1]) * size
        self._mask = mask = size - 1
        for k, s in zip(old_keys, old_slots, strict=True):
            if k != _EMPTY:
                slot = (k * 0x9E3779B97F4A7C15 >> 20) & mask
                while keys[slot] != _EMPTY:
                    slot = (slot + 1) & mask
                keys[slot] = k
                slots[slot] = s

    def candidates(self) -> list[int]:
        """Alpha indices that share their prefix with another alpha, sorted."""
        return sorted(i for group in self._shared.values() for i in group)

    def locate(self, i: int) -> tuple[int, int]:
        """(board position, index of the alpha within its ballot) of alpha ``i``."""
        pos = self.positions[i]
        lo = i
        while lo > 0 and self.positions[lo - 1] == pos:
            lo -= 1
        return pos, i - lo


def find_duplicates(candidates: Iterable[int], full: dict[int, bytes]) -> list[int]:
    """The alpha indices (in stream order) whose full alpha appeared at a smaller index.

    ``full`` maps each candidate index to its full alpha; this is the streaming
    rule of check 12 ("already appeared in an earlier ballot") applied to the
    candidates only, which are all the alphas that could be duplicates.
    """
    seen: set[bytes] = set()
    out = []
    for i in sorted(candidates):
        alpha = full[i]
        if alpha in seen:
            out.append(i)
        else:
            seen.add(alpha)
    return out


class CountedPositions:
    """The counting rule's state in the verifier: credential -> board position of
    its latest valid in-phase ballot (evote.rules.CountedSet with ints as values).

    With mixed questions the mixnet input needs every counted ballot's
    ciphertexts, so ``keep_values`` keeps them as well (``items``).
    """

    def __init__(self, keep_values: bool = False) -> None:
        self._last: dict[bytes, int] = {}
        self._values: dict[bytes, bytes] | None = {} if keep_values else None

    def keep_values(self) -> None:
        """Keep the counted ballots' ciphertexts from now on (set before the first ballot)."""
        if self._values is None:
            self._values = {}

    def cast(self, credential: bytes, position: int, value: bytes) -> int | None:
        previous = self._last.get(credential)
        self._last[credential] = position
        if self._values is not None:
            self._values[credential] = value
        return previous

    def __len__(self) -> int:
        return len(self._last)

    def __iter__(self) -> Iterator[bytes]:
        return iter(self._last)

    def items(self) -> Iterator[tuple[bytes, bytes]]:
        if self._values is None:
            raise RuntimeError("the counted ciphertexts were not kept (no mixed question)")
        return iter(self._values.items())

    def weight(self, credentials: Any) -> int:
        if credentials is None:
            return 0
        return sum(credentials.weight_of(VerifyKey(c)) for c in self._last)


def reread_ciphertexts(lines: Iterable[bytes], manifest: Any, positions: set[int],
                       expected_root: bytes) -> dict[int, bytes] | None:
    """The ciphertexts (alpha || beta, manifest order) of the ballots at ``positions``,
    read again from the board; None if the board read now is not the board checked
    (its Merkle root differs, or a wanted line no longer holds a ballot)."""
    from verifier.parallel import ballot_ciphertexts

    acc = MerkleAccumulator()
    out: dict[int, bytes] = {}
    for position, raw in enumerate(lines):
        line = raw[:-1] if raw.endswith(b"\n") else raw
        acc.append(leaf_hash(line))
        if position not in positions:
            continue
        try:
            entry = Entry.from_bytes(line)
            if entry.kind == BALLOT_CAST:
                ballot = parse_ballot_cast(entry, manifest)
            elif entry.kind == BALLOT_AUDITED:
                ballot = parse_ballot_audited(entry, manifest).ballot
            else:
                return None
        except EvoteError:
            return None
        out[position] = ballot_ciphertexts(ballot)
    if acc.root() != expected_root or len(out) != len(positions):
        return None
    return out
