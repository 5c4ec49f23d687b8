"""The RFC 9162 (Certificate Transparency v2) Merkle tree over board entries.

Every board entry is a leaf; the server signs tree heads (size, root) and hands
out inclusion proofs (this entry is in that tree) and consistency proofs (that
tree is a prefix of this one).  Anyone holding two signed heads and a
consistency proof can show that the board was only ever appended to, or hold
the proof that it was rewritten or forked.

Hashing follows RFC 9162 §2.1.1 exactly (SHA-256, one-byte domain prefixes, no
evote transcript): ``leaf_hash(d) = SHA-256(0x00 || d)`` and
``node_hash(l, r) = SHA-256(0x01 || l || r)``, so that any off-the-shelf CT
verifier can check our proofs.

Proof *generation* never walks the leaves.  A tree is described by the hashes
of its perfect subtrees: node ``(level, index)`` is the root of the complete
subtree over leaves ``[index * 2**level, (index + 1) * 2**level)``.  Each
appended leaf completes at most ``log2(n) + 1`` such nodes
(:func:`completed_subtrees`), which the server persists once; afterwards every
proof or historical root needs only ``O(log n)`` look-ups of those nodes
(:func:`inclusion_nodes`, :func:`consistency_nodes` say which ones, so a
database can fetch them in one query).

Verification (:func:`verify_inclusion`, :func:`verify_consistency`) follows the
algorithms of RFC 9162 §2.1.3.2 and §2.1.4.2, after rejecting a bad index, size,
hash length or proof length without hashing anything.

Why one module of ~560 lines: the tree hashing, the node indexing and both
proof algorithms must agree bit for bit (RFC 9162); they are one specification
and are tested together against its vectors (``tools/make_merkle_vectors.py``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Protocol

from evote.errors import MerkleError, RootMismatchError
from evote.hashing import sha256
from evote.limits import MAX_TREE_SIZE as MAX_TREE_SIZE

LEAF_PREFIX = b"\x00"
"""RFC 9162 §2.1.1: prefix of a leaf hash preimage, ``0x00 || entry``."""

NODE_PREFIX = b"\x01"
"""RFC 9162 §2.1.1: prefix of an interior node preimage, ``0x01 || left || right``."""

HASH_SIZE = 32

EMPTY_ROOT = sha256(b"")
"""RFC 9162 §2.1.1: the hash of the empty tree is the hash of the empty string."""


NodeId = tuple[int, int]
"""``(level, index)``: the perfect subtree over leaves ``[index << level, (index + 1) << level)``."""

NodeGetter = Callable[[int, int], bytes]
"""``get(level, index) -> 32-byte hash`` of a stored perfect subtree."""


class SubtreeStore(Protocol):
    """Anything that can return the hash of a complete, aligned subtree.

    Level 0 holds the leaf hashes.  A store only ever needs the nodes returned
    by :func:`completed_subtrees`; they never change once written, so the
    server can keep them in an append-only table next to the entries.
    """

    def get(self, level: int, index: int) -> bytes: ...


# --- hashing (RFC 9162 §2.1.1) -------------------------------------------------


def leaf_hash(entry: bytes) -> bytes:
    """RFC 9162 §2.1.1: ``MTH({d}) = SHA-256(0x00 || d)``.

    The prefix keeps a leaf from ever being reinterpreted as an interior node
    (second-preimage attacks on the tree shape).
    """
    if not isinstance(entry, bytes | bytearray):
        raise MerkleError("leaf data must be bytes")
    return sha256(LEAF_PREFIX + bytes(entry))


def node_hash(left: bytes, right: bytes) -> bytes:
    """RFC 9162 §2.1.1: the interior node ``SHA-256(0x01 || left || right)``.

    Requires two 32-byte child hashes.
    """
    _check_hash("left child", left)
    _check_hash("right child", right)
    return sha256(NODE_PREFIX + left + right)


def root(leaf_hashes: Iterable[bytes]) -> bytes:
    """RFC 9162 §2.1.1: the Merkle Tree Hash of a list of leaf hashes.

    The empty list gives :data:`EMPTY_ROOT`.  Streams the input with a
    :class:`MerkleAccumulator`, so memory stays ``O(log n)``.
    """
    acc = MerkleAccumulator()
    for h in leaf_hashes:
        acc.append(h)
    return acc.root()


# --- which perfect subtrees make up a range (RFC 9162 §2.1.1 shape) ------------


def _split(n: int) -> int:
    """RFC 9162 §2.1.1: the largest power of two smaller than ``n`` (n > 1)."""
    return 1 << ((n - 1).bit_length() - 1)


def subtree_nodes(start: int, end: int) -> list[NodeId]:
    """The perfect subtrees, left to right, whose right fold is ``MTH(D[start:end])``.

    Folding means ``node_hash(n0, node_hash(n1, ... node_hash(n_{k-1}, n_k)))``.
    Requires ``0 <= start < end`` and ``start`` a multiple of the largest power
    of two not above ``end - start`` -- true of every range the RFC 9162
    recursion visits, and of ``[0, size)``.  At most ``log2(end - start) + 1``
    nodes.
    """
    n = end - start
    if start < 0 or n <= 0:
        raise MerkleError(f"empty or negative range [{start}, {end})")
    top = n.bit_length() - 1
    if start % (1 << top):
        raise MerkleError(f"range [{start}, {end}) is not aligned to a subtree")
    nodes: list[NodeId] = []
    pos = start
    for level in range(top, -1, -1):
        if n >> level & 1:
            nodes.append((level, pos >> level))
            pos += 1 << level
    return nodes


def inclusion_nodes(index: int, size: int) -> list[list[NodeId]]:
    """RFC 9162 §2.1.3.1 PATH(m, D[n]), as perfect-subtree ids instead of hashes.

    One inner list per proof element, bottom-up; each element is the right fold
    of its nodes.  Requires ``0 <= index < size``.  ``O(log n)`` nodes in total.
    """
    _check_index(index, size)
    path: list[list[NodeId]] = []
    lo, hi = 0, size
    while hi - lo > 1:
        k = _split(hi - lo)
        if index < lo + k:
            path.append(subtree_nodes(lo + k, hi))
            hi = lo + k
        else:
            path.append(subtree_nodes(lo, lo + k))
            lo += k
    path.reverse()
    return path


def consistency_nodes(old_size: int, new_size: int) -> list[list[NodeId]]:
    """RFC 9162 §2.1.4.1 PROOF(m, D[n]) = SUBPROOF(m, D[n], true), as subtree ids.

    Requires ``0 <= old_size <= new_size``; the proof is empty when the sizes
    are equal or ``old_size`` is 0 (nothing to prove).  Elements bottom-up.
    """
    _check_size("old size", old_size)
    _check_size("new size", new_size)
    if old_size > new_size:
        raise MerkleError(f"old size {old_size} is larger than new size {new_size}")
    if old_size == 0 or old_size == new_size:
        return []
    proof: list[list[NodeId]] = []
    lo, hi, complete = 0, new_size, True
    while True:
        m, n = old_size - lo, hi - lo
        if m == n:
            if not complete:
                proof.append(subtree_nodes(lo, hi))
            break
        k = _split(n)
        if m <= k:
            proof.append(subtree_nodes(lo + k, hi))
            hi = lo + k
        else:
            proof.append(subtree_nodes(lo, lo + k))
            lo += k
            complete = False
    proof.reverse()
    return proof


def _fold(nodes: Sequence[NodeId], get: NodeGetter) -> bytes:
    """Right fold of stored perfect subtrees: the hash of the range they cover."""
    acc = _stored(get, *nodes[-1])
    for level, idx in reversed(nodes[:-1]):
        acc = sha256(NODE_PREFIX + _stored(get, level, idx) + acc)
    return acc


def _stored(get: NodeGetter, level: int, index: int) -> bytes:
    h = get(level, index)
    if not isinstance(h, bytes) or len(h) != HASH_SIZE:
        raise MerkleError(f"subtree store returned a malformed hash for node ({level}, {index})")
    return h


# --- generation from a subtree store ------------------------------------------


def tree_root(size: int, get: NodeGetter) -> bytes:
    """RFC 9162 §2.1.1: MTH of the first ``size`` leaves, from ``O(log n)`` stored nodes."""
    _check_size("size", size)
    if size == 0:
        return EMPTY_ROOT
    return _fold(subtree_nodes(0, size), get)


def inclusion_proof(index: int, size: int, get: NodeGetter) -> list[bytes]:
    """RFC 9162 §2.1.3.1: the audit path of leaf ``index`` in the tree of ``size``.

    Requires ``0 <= index < size`` and that ``get`` knows every perfect subtree
    of that tree (see :func:`inclusion_nodes` for exactly which).
    """
    return [_fold(element, get) for element in inclusion_nodes(index, size)]


def consistency_proof(old_size: int, new_size: int, get: NodeGetter) -> list[bytes]:
    """RFC 9162 §2.1.4.1: the proof that tree ``old_size`` is a prefix of tree ``new_size``.

    Requires ``0 <= old_size <= new_size``; see :func:`consistency_nodes`.
    """
    return [_fold(element, get) for element in consistency_nodes(old_size, new_size)]


def completion_siblings(index: int) -> list[NodeId]:
    """The stored nodes :func:`completed_subtrees` reads when leaf ``index`` is appended.

    They are the left siblings along the leaf's path for as long as the leaf
    is a right child; a database can fetch them in one query.
    """
    _check_size("index", index)
    needed: list[NodeId] = []
    level, i = 0, index
    while i & 1:
        needed.append((level, i - 1))
        level, i = level + 1, i >> 1
    return needed


def completed_subtrees(
    index: int, leaf: bytes, get: NodeGetter
) -> list[tuple[int, int, bytes]]:
    """The perfect subtrees that appending leaf hash ``leaf`` at ``index`` completes.

    Returns ``[(0, index, leaf), (1, index >> 1, h1), ...]``: the leaf itself
    and every ancestor whose leaves are now all present.  Requires that the
    leaves ``0 .. index - 1`` are already in the store; reads only the nodes of
    :func:`completion_siblings`.  Persisting the result is all a server must do
    per entry to serve any later proof in ``O(log n)``.
    """
    _check_hash("leaf hash", leaf)
    done = [(0, index, leaf)]
    h = leaf
    for level, sibling in completion_siblings(index):
        h = sha256(NODE_PREFIX + _stored(get, level, sibling) + h)
        done.append((level + 1, sibling >> 1, h))
    return done


class MerkleAccumulator:
    """Streaming RFC 9162 root in ``O(log n)`` memory.

    Keeps one perfect-subtree hash per set bit of the size (the tree's left
    frontier), so a verifier can hash a board of any length without holding
    its leaves.  :meth:`append` also reports the subtrees each leaf completes,
    so the same object can feed a :class:`SubtreeStore`.
    """

    __slots__ = ("_frontier", "_size")

    def __init__(self) -> None:
        self._size = 0
        self._frontier: list[bytes] = []  # largest (leftmost) subtree first

    @classmethod
    def resume(cls, size: int, get: NodeGetter) -> MerkleAccumulator:
        """Continue a tree of ``size`` leaves from its stored perfect subtrees."""
        _check_size("size", size)
        acc = cls()
        if size:
            acc._frontier = [_stored(get, level, idx) for level, idx in subtree_nodes(0, size)]
            acc._size = size
        return acc

    @property
    def size(self) -> int:
        return self._size

    def append(self, leaf: bytes) -> list[tuple[int, int, bytes]]:
        """Add one leaf hash; return ``(level, index, hash)`` of every subtree it completes."""
        _check_hash("leaf hash", leaf)
        index = self._size
        done = [(0, index, leaf)]
        h, level, i = leaf, 0, index
        while i & 1:
            h = sha256(NODE_PREFIX + self._frontier.pop() + h)
            level, i = level + 1, i >> 1
            done.append((level, i, h))
        self._frontier.append(h)
        self._size += 1
        return done

    def root(self) -> bytes:
        """RFC 9162 §2.1.1 MTH of the leaves appended so far."""
        if not self._frontier:
            return EMPTY_ROOT
        h = self._frontier[-1]
        for left in reversed(self._frontier[:-1]):
            h = sha256(NODE_PREFIX + left + h)
        return h


class MemoryTree:
    """An in-memory :class:`SubtreeStore`: a whole tree that serves any proof.

    Stores each level as one ``bytearray`` of concatenated hashes (about 64
    bytes per leaf in total), so a million-entry board costs ~64 MB and every
    proof or historical root is ``O(log n)`` look-ups.  Used by tests, by the
    verifier and as the server's cache.
    """

    __slots__ = ("_levels", "_size")

    def __init__(self, leaf_hashes: Iterable[bytes] = ()) -> None:
        self._levels: list[bytearray] = []
        self._size = 0
        self.extend(leaf_hashes)

    @property
    def size(self) -> int:
        return self._size

    def __len__(self) -> int:
        return self._size

    def get(self, level: int, index: int) -> bytes:
        """The stored hash of perfect subtree ``(level, index)``; MerkleError if incomplete."""
        if level < 0 or index < 0 or level >= len(self._levels):
            raise MerkleError(f"no complete subtree ({level}, {index}) in a tree of {self._size}")
        row = self._levels[level]
        start = index * HASH_SIZE
        if start + HASH_SIZE > len(row):
            raise MerkleError(f"no complete subtree ({level}, {index}) in a tree of {self._size}")
        return bytes(row[start : start + HASH_SIZE])

    def append(self, leaf: bytes) -> int:
        """Append one leaf hash; returns its index."""
        index = self._size
        for level, _idx, h in completed_subtrees(index, leaf, self.get):
            if level == len(self._levels):
                self._levels.append(bytearray())
            self._levels[level] += h
        self._size += 1
        return index

    def extend(self, leaf_hashes: Iterable[bytes]) -> None:
        for h in leaf_hashes:
            self.append(h)

    def leaf(self, index: int) -> bytes:
        """The leaf hash at ``index``."""
        _check_index(index, self._size)
        return self.get(0, index)

    def root(self, size: int | None = None) -> bytes:
        """The root of the tree of the first ``size`` leaves (default: all)."""
        return tree_root(self._within(size), self.get)

    def inclusion_proof(self, index: int, size: int | None = None) -> list[bytes]:
        return inclusion_proof(index, self._within(size), self.get)

    def consistency_proof(self, old_size: int, new_size: int | None = None) -> list[bytes]:
        return consistency_proof(old_size, self._within(new_size), self.get)

    def _within(self, size: int | None) -> int:
        if size is None:
            return self._size
        _check_size("size", size)
        if size > self._size:
            raise MerkleError(f"tree size {size} is beyond the {self._size} leaves held")
        return size


# --- verification (RFC 9162 §2.1.3.2, §2.1.4.2) ---------------------------------


def inclusion_proof_length(index: int, size: int) -> int:
    """The exact length of the RFC 9162 inclusion proof for ``index`` in ``size``.

    The path has one sibling per level below the point where the paths to
    ``index`` and ``size - 1`` meet (``inner``), then one per left border
    subtree above it (``border``).  Requires ``0 <= index < size``.
    """
    _check_index(index, size)
    inner = (index ^ (size - 1)).bit_length()
    return inner + (index >> inner).bit_count()


def consistency_proof_length(old_size: int, new_size: int) -> int:
    """The exact length of the RFC 9162 consistency proof between two sizes.

    Requires ``0 < old_size <= new_size``.  It is the inclusion path of the
    last old leaf, minus the levels inside the largest perfect subtree ending
    at ``old_size``, plus that subtree's hash unless it is the whole old tree.
    """
    _check_sizes(old_size, new_size)
    if old_size == new_size:
        return 0
    shift = (old_size & -old_size).bit_length() - 1
    inner = (old_size - 1 ^ new_size - 1).bit_length()
    border = ((old_size - 1) >> inner).bit_count()
    seed = 0 if old_size == 1 << shift else 1
    return seed + inner - shift + border


def root_from_inclusion_proof(
    index: int, size: int, leaf: bytes, proof: Sequence[bytes]
) -> bytes:
    """RFC 9162 §2.1.3.2: the root that ``proof`` implies for leaf hash ``leaf``.

    Requires ``0 <= index < size``, a 32-byte leaf hash and a proof of exactly
    :func:`inclusion_proof_length` 32-byte hashes; anything else raises
    :class:`MerkleError` before any hashing.
    """
    _check_index(index, size)
    _check_hash("leaf hash", leaf)
    _check_proof(proof, inclusion_proof_length(index, size))
    fn, sn, r = index, size - 1, leaf
    for p in proof:
        if fn & 1 or fn == sn:
            r = sha256(NODE_PREFIX + p + r)
            fn, sn = _skip_border(fn, sn)
        else:
            r = sha256(NODE_PREFIX + r + p)
        fn, sn = fn >> 1, sn >> 1
    return r


def verify_inclusion(
    index: int, size: int, leaf: bytes, proof: Sequence[bytes], root_hash: bytes
) -> None:
    """RFC 9162 §2.1.3.2: check that leaf hash ``leaf`` is entry ``index`` of the tree.

    Requires ``0 <= index < size``.  Raises :class:`MerkleError` for malformed
    input and :class:`RootMismatchError` (carrying both roots) when the proof
    leads elsewhere.  ``size`` must come from a signed tree head: a proof alone
    does not authenticate the size of the tree.
    """
    _check_hash("root", root_hash)
    computed = root_from_inclusion_proof(index, size, leaf, proof)
    _match(computed, root_hash, f"inclusion proof for entry {index} does not lead to the root of tree {size}")


def verify_consistency(
    size1: int, size2: int, proof: Sequence[bytes], root1: bytes, root2: bytes
) -> None:
    """RFC 9162 §2.1.4.2: check that tree ``(size1, root1)`` is a prefix of ``(size2, root2)``.

    Requires ``0 < size1 <= size2`` (a consistency proof from the empty tree is
    meaningless) and 32-byte roots; equal sizes need an empty proof and equal
    roots.  Raises :class:`MerkleError` for malformed input and
    :class:`RootMismatchError` when either root does not follow from the proof.
    """
    _check_sizes(size1, size2)
    _check_hash("first root", root1)
    _check_hash("second root", root2)
    _check_proof(proof, consistency_proof_length(size1, size2))
    if size1 == size2:
        _match(root2, root1, f"two trees of size {size1} have different roots")
        return
    first, second = _consistency_roots(size1, size2, proof, root1)
    _match(first, root1, f"consistency proof does not reproduce the root of tree {size1}")
    _match(second, root2, f"consistency proof does not lead from tree {size1} to tree {size2}")


def _consistency_roots(
    size1: int, size2: int, proof: Sequence[bytes], root1: bytes
) -> tuple[bytes, bytes]:
    """RFC 9162 §2.1.4.2 steps 2-6: the old and new roots the proof implies.

    The old root is rebuilt from the left-hand hashes only; the new root from
    all of them.  When ``size1`` is a power of two the old tree is itself the
    starting subtree, so ``root1`` seeds the walk.
    """
    path = [root1, *proof] if size1 & (size1 - 1) == 0 else list(proof)
    fn, sn = size1 - 1, size2 - 1
    while fn & 1:
        fn, sn = fn >> 1, sn >> 1
    fr = sr = path[0]
    for c in path[1:]:
        if fn & 1 or fn == sn:
            fr = sha256(NODE_PREFIX + c + fr)
            sr = sha256(NODE_PREFIX + c + sr)
            fn, sn = _skip_border(fn, sn)
        else:
            sr = sha256(NODE_PREFIX + sr + c)
        fn, sn = fn >> 1, sn >> 1
    return fr, sr


def _skip_border(fn: int, sn: int) -> tuple[int, int]:
    """Climb past the levels where the node on the right border has no sibling."""
    while fn and not fn & 1:
        fn, sn = fn >> 1, sn >> 1
    return fn, sn


def _match(computed: bytes, expected: bytes, message: str) -> None:
    if computed != expected:
        raise RootMismatchError(message, expected=expected, computed=computed)


# --- input checks (before any hashing) ----------------------------------------


def _check_size(name: str, n: object) -> None:
    if not isinstance(n, int) or isinstance(n, bool):
        raise MerkleError(f"{name} must be an integer")
    if not 0 <= n < MAX_TREE_SIZE:
        raise MerkleError(f"{name} {n} is out of range")


def _check_index(index: int, size: int) -> None:
    _check_size("index", index)
    _check_size("tree size", size)
    if index >= size:
        raise MerkleError(f"index {index} is beyond tree size {size}")


def _check_sizes(size1: int, size2: int) -> None:
    _check_size("first size", size1)
    _check_size("second size", size2)
    if size1 > size2:
        raise MerkleError(f"first size {size1} is larger than second size {size2}")
    if size1 == 0 and size2 > 0:
        raise MerkleError("a consistency proof from the empty tree is meaningless")


def _check_hash(name: str, h: object) -> None:
    if not isinstance(h, bytes) or len(h) != HASH_SIZE:
        raise MerkleError(f"{name} must be {HASH_SIZE} bytes")


def _check_proof(proof: Sequence[bytes], want: int) -> None:
    if isinstance(proof, bytes | str) or not isinstance(proof, Sequence):
        raise MerkleError("proof must be a list of hashes")
    if len(proof) != want:
        raise MerkleError(f"wrong proof length {len(proof)}, want {want}")
    for i, h in enumerate(proof):
        _check_hash(f"proof[{i}]", h)
