"""Checks 7 (tree-heads), 8 (consistency) and 9 (equivocation): the signed log.

While the board streams, the Merkle accumulator keeps the roots at every
signed head's size and the subtree nodes the consistency proofs will need, so
the heads are checked at the end without a second pass over the board.
"""

from __future__ import annotations

from evote.board import detect_equivocation, verify_heads
from evote.encoding import b64encode
from evote.errors import Equivocation, EvoteError, MerkleError
from evote.merkle import consistency_nodes, consistency_proof
from verifier.checks.registry import CheckSpec

CHECKS: tuple[CheckSpec, ...] = (
    CheckSpec(7, "tree-heads", "Signed tree heads",
              "the board is the one the server signed, to its last entry", needs="heads"),
    CheckSpec(8, "consistency", "Consistency between tree heads",
              "the board was only ever appended to between the heads", needs="heads"),
    CheckSpec(9, "equivocation", "No equivocation",
              "the server did not sign two different boards of one size", needs="heads"),
)


class LogChecks:
    """Handlers of :class:`~verifier.checks.engine.RecordVerifier` for these checks
    (the state they use is set up in its ``__init__``)."""

    def _merkle(self, leaf: bytes) -> None:
        needed = self.needed
        for level, idx, h in self.acc.append(leaf):
            if (level, idx) in needed:
                needed[(level, idx)] = h
        if self.acc.size in self.head_sizes:
            self.roots[self.acc.size] = self.acc.root()

    def _plan_consistency(self) -> None:
        """Which perfect subtrees the consistency proofs will need (captured while streaming)."""
        sizes = sorted({h.size for h in self.record.heads})
        latest = sizes[-1]
        pairs = set(zip(sizes, sizes[1:], strict=False)) | {(s, latest) for s in sizes[:-1]}
        self.pairs = sorted(pairs)
        for old, new in self.pairs:
            for element in consistency_nodes(old, new):
                for node in element:
                    self.needed.setdefault(node, None)

    def _finish_heads(self) -> None:
        heads_check, cons, equiv = (self.c[n] for n in ("tree-heads", "consistency",
                                                         "equivocation"))
        key = self.record.board_key
        size = self.acc.size
        heads = []  # the validly signed ones: a forged head is evidence of nothing
        for h in self.record.heads:
            heads_check.count("heads")
            cons.count("heads")
            equiv.count("heads")
            try:
                h.verify(key)
            except EvoteError as exc:
                heads_check.fail_exc(exc, None, f"head of size {h.size}: ")
                continue
            heads.append(h)
            root = self.roots.get(h.size)
            if root is None:
                heads_check.fail(f"a signed head covers {h.size} entries; the board has only "
                                 f"{size}", "board_truncated", None, {"head": h.to_json()})
            elif root != h.root:
                heads_check.fail(f"the board's first {h.size} entries do not hash to the signed "
                                 "root", "root_mismatch", None,
                                 {"head": h.to_json(), "computed_root": b64encode(root)})
        latest = self.record.latest_head
        if latest.size != size:
            heads_check.fail(f"the latest signed head covers {latest.size} entries; the board "
                             f"has {size}: entries after it are not signed", "unsigned_entries",
                             min(size, latest.size))
        # equivocation: every pair of heads of one size
        by_size: dict[int, list] = {}
        for h in heads:
            by_size.setdefault(h.size, []).append(h)
        for group in by_size.values():
            for a in group:
                for b in group:
                    if a.root < b.root:
                        try:
                            detect_equivocation(a, b, board_key=key)
                        except EvoteError as exc:
                            equiv.fail_exc(exc, None)
        # consistency: successive heads, and every head to the latest
        first_of = {}
        for h in heads:
            first_of.setdefault(h.size, h)
        # A live server's own consistency proofs, checked while downloading.
        for obs in getattr(self.record.source, "observations", ()):
            cons.count("server proofs")
            if isinstance(obs.error, Equivocation):
                equiv.fail_exc(obs.error, None)
            elif obs.error is not None:
                evidence = dict(obs.error.detail)
                evidence.setdefault("older", obs.older.to_json())
                evidence.setdefault("newer", obs.newer.to_json())
                cons.fail(obs.error.message, obs.error.code, None, evidence)
        for old, new in self.pairs:
            if old not in first_of or new not in first_of:
                continue  # a head with a bad signature (check 7 failed it)
            older, newer = first_of[old], first_of[new]
            cons.count("proofs")
            try:
                proof = consistency_proof(old, new, self._node)
            except MerkleError:
                cons.fail(f"the board is too short to prove tree {old} is a prefix of tree {new}",
                          "board_truncated", None)
                continue
            try:
                verify_heads(older, newer, proof, board_key=key)
            except EvoteError as exc:
                cons.fail_exc(exc, None)

    def _node(self, level: int, index: int) -> bytes:
        h = self.needed.get((level, index))
        if h is None:
            raise MerkleError(f"subtree ({level}, {index}) is not on the board")
        return h
