"""Regenerate the RFC 9162 Merkle proof vectors under tests/vectors/merkle/.

    .venv/bin/python tools/make_merkle_vectors.py [OUT_DIR]

Writes, for a fixed 8-leaf tree (the leaves used by the Certificate
Transparency test suites, so the roots can be cross-checked against any CT
implementation):

* ``tree.json``: the leaves, their leaf hashes and the root of every prefix;
* ``inclusion/<index>-in-<size>/<mutation>.json`` and
  ``consistency/<size1>-to-<size2>/<mutation>.json``: one probe per file, a
  ``happy-path`` and mutants named after the mutation (``wrong-leaf``,
  ``modified-proof[0]-bit-3``, ``trailing-garbage``, ...), with one bit-flip
  mutant per proof element.

Each probe has ``desc``, ``want_err`` and ``want_code`` (``"merkle"`` for input
a verifier must reject before hashing, ``"root_mismatch"`` for a well-formed
proof that leads to another root, ``null`` when it must verify).  Proofs come
from ``evote.merkle`` and are cross-checked here against the naive recursive
transcription of RFC 9162 §2.1 in ``tools/merkle_oracle.py``; expected outcomes come from that naive model,
never from the verifier under test.  Binary values are unpadded base64url.
Never edit the output by hand; tests/core/test_merkle.py checks it is up to date.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from evote import merkle  # noqa: E402
from evote.encoding import b64encode  # noqa: E402
from tools.merkle_oracle import CT_LEAVES, EMPTY_ROOT, consistency_shape, inclusion_shape  # noqa: E402
from tools.merkle_oracle import consistency as naive_consistency  # noqa: E402
from tools.merkle_oracle import leaf_hash as _leaf  # noqa: E402
from tools.merkle_oracle import mth as naive_mth  # noqa: E402
from tools.merkle_oracle import path as naive_path  # noqa: E402

DEFAULT_OUT = ROOT / "tests" / "vectors" / "merkle"

LEAVES = CT_LEAVES
INCLUSION_CASES = [(0, 1), (0, 8), (5, 8), (2, 3), (2, 5), (6, 7), (3, 4)]
CONSISTENCY_CASES = [(1, 1), (1, 8), (6, 8), (2, 5), (6, 7), (4, 8), (3, 7), (7, 8)]

GARBAGE = hashlib.sha256(b"garbage").digest()
WRONG_LEAF = hashlib.sha256(b"WrongLeaf").digest()
SOME_ROOT = hashlib.sha256(b"some other root").digest()

def expect_inclusion(base: tuple[int, int], index: Any, size: Any, leaf: bytes, proof, root) -> str | None:
    """The outcome an RFC 9162 verifier must give for a (possibly mutated) probe."""
    index0, size0 = base
    if not (isinstance(index, int) and isinstance(size, int) and 0 <= index < size):
        return "merkle"
    if len(leaf) != 32 or len(root) != 32 or any(len(p) != 32 for p in proof):
        return "merkle"
    if len(proof) != len(inclusion_shape(index, size)):
        return "merkle"
    honest = naive_path(index0, HASHES[:size0])
    if (
        index == index0
        and leaf == HASHES[index0]
        and root == naive_mth(HASHES[:size0])
        and list(proof) == honest
        and inclusion_shape(index, size) == inclusion_shape(index0, size0)
    ):
        return None
    return "root_mismatch"


def expect_consistency(base: tuple[int, int], size1, size2, proof, root1, root2) -> str | None:
    s1, s2 = base
    if not (isinstance(size1, int) and isinstance(size2, int) and 0 <= size1 <= size2):
        return "merkle"
    if size1 == 0 and size2 > 0:
        return "merkle"
    if len(root1) != 32 or len(root2) != 32 or any(len(p) != 32 for p in proof):
        return "merkle"
    want_len = 0 if size1 == size2 else len(consistency_shape(size1, size2))
    if len(proof) != want_len:
        return "merkle"
    if size1 == size2:
        return None if root1 == root2 else "root_mismatch"
    same = (
        list(proof) == naive_consistency(s1, HASHES[:s2])
        and root1 == naive_mth(HASHES[:s1])
        and root2 == naive_mth(HASHES[:s2])
    )
    if same and consistency_shape(size1, size2) == consistency_shape(s1, s2):
        return None
    return "root_mismatch"


HASHES = [_leaf(d) for d in LEAVES]


# --- probes ---------------------------------------------------------------------


def _flip(h: bytes, bit: int) -> bytes:
    return bytes([h[0] ^ (1 << bit)]) + h[1:]


def _b64(hashes: list[bytes]) -> list[str]:
    return [b64encode(h) for h in hashes]


def inclusion_probes(index: int, size: int) -> dict[str, dict[str, Any]]:
    tree = merkle.MemoryTree(HASHES[:size])
    proof = tree.inclusion_proof(index)
    root = tree.root()
    if proof != naive_path(index, HASHES[:size]) or root != naive_mth(HASHES[:size]):
        raise SystemExit(f"evote.merkle disagrees with the naive model at {index}/{size}")
    leaf = HASHES[index]
    n = len(proof)
    mutants: list[tuple[str, str, dict[str, Any]]] = [
        ("happy-path", "the honest proof", {}),
        ("wrong-leaf", "a different leaf hash", {"leaf": WRONG_LEAF}),
        ("short-leaf", "a 31-byte leaf hash", {"leaf": leaf[:31]}),
        ("wrong-root", "an unrelated root", {"root": SOME_ROOT}),
        ("empty-tree-root", "the root of the empty tree", {"root": EMPTY_ROOT}),
        ("index-minus-1", "leaf index - 1", {"index": index - 1}),
        ("index-plus-1", "leaf index + 1", {"index": index + 1}),
        ("index-xor-2", "leaf index XOR 2", {"index": index ^ 2}),
        ("index-equals-size", "leaf index = tree size", {"index": size}),
        ("size-minus-1", "tree size - 1", {"size": size - 1}),
        ("size-plus-1", "tree size + 1", {"size": size + 1}),
        ("size-times-2", "tree size * 2", {"size": size * 2}),
        ("size-div-2", "tree size / 2", {"size": size // 2}),
        ("trailing-garbage", "an extra hash at the end", {"proof": proof + [GARBAGE]}),
        ("trailing-root", "the root appended to the proof", {"proof": proof + [root]}),
        ("preceding-garbage", "an extra hash at the front", {"proof": [GARBAGE] + proof}),
        ("preceding-root", "the root prepended to the proof", {"proof": [root] + proof}),
    ]
    if n:
        mutants += [
            ("truncated-proof", "the last proof element removed", {"proof": proof[:-1]}),
            ("empty-proof", "no proof at all", {"proof": []}),
            ("short-proof[0]", "proof[0] is 31 bytes", {"proof": [proof[0][:31]] + proof[1:]}),
            (
                "inserted-component",
                "an extra hash after proof[0]",
                {"proof": proof[:1] + [GARBAGE] + proof[1:]},
            ),
        ]
    if n > 1:
        mutants.append(
            ("swapped-proof[0]-[1]", "the first two elements swapped", {"proof": [proof[1], proof[0]] + proof[2:]})
        )
    for i in range(n):
        bad = list(proof)
        bad[i] = _flip(bad[i], 3)
        mutants.append((f"modified-proof[{i}]-bit-3", f"bit 3 of proof[{i}][0] flipped", {"proof": bad}))

    out = {}
    for name, desc, change in mutants:
        probe = {"index": index, "size": size, "leaf": leaf, "proof": proof, "root": root} | change
        code = expect_inclusion((index, size), probe["index"], probe["size"], probe["leaf"], probe["proof"], probe["root"])
        if code is None and name != "happy-path":
            desc += " (same audit-path shape, so it verifies: the size must come from a signed tree head)"
        out[name] = {
            "desc": desc,
            "want_err": code is not None,
            "want_code": code,
            "index": probe["index"],
            "size": probe["size"],
            "leaf_hash": b64encode(probe["leaf"]),
            "proof": _b64(probe["proof"]),
            "root": b64encode(probe["root"]),
        }
    return out


def consistency_probes(size1: int, size2: int) -> dict[str, dict[str, Any]]:
    tree = merkle.MemoryTree(HASHES[:size2])
    proof = tree.consistency_proof(size1)
    root1, root2 = tree.root(size1), tree.root()
    if proof != naive_consistency(size1, HASHES[:size2]):
        raise SystemExit(f"evote.merkle disagrees with the naive model at {size1}->{size2}")
    n = len(proof)
    mutants: list[tuple[str, str, dict[str, Any]]] = [
        ("happy-path", "the honest proof", {}),
        ("wrong-root1", "an unrelated first root", {"root1": SOME_ROOT}),
        ("wrong-root2", "an unrelated second root", {"root2": SOME_ROOT}),
        ("short-root1", "a 31-byte first root", {"root1": root1[:31]}),
        ("size1-minus-1", "first size - 1", {"size1": size1 - 1}),
        ("size1-plus-1", "first size + 1", {"size1": size1 + 1}),
        ("size2-minus-1", "second size - 1", {"size2": size2 - 1}),
        ("size2-plus-1", "second size + 1", {"size2": size2 + 1}),
        ("size2-times-2", "second size * 2", {"size2": size2 * 2}),
        ("size2-div-2", "second size / 2", {"size2": size2 // 2}),
        ("trailing-garbage", "an extra hash at the end", {"proof": proof + [GARBAGE]}),
        ("preceding-garbage", "an extra hash at the front", {"proof": [GARBAGE] + proof}),
    ]
    if size1 != size2:
        mutants += [
            ("swapped-roots", "the two roots swapped", {"root1": root2, "root2": root1}),
            ("size1-xor-2", "first size XOR 2", {"size1": size1 ^ 2}),
            ("trailing-root1", "the first root appended", {"proof": proof + [root1]}),
            ("trailing-root2", "the second root appended", {"proof": proof + [root2]}),
            ("preceding-root1", "the first root prepended", {"proof": [root1] + proof}),
            ("preceding-root2", "the second root prepended", {"proof": [root2] + proof}),
            ("preceding-proof[0]", "proof[0] repeated at the front", {"proof": [proof[0]] + proof}),
            ("truncated-proof", "the last proof element removed", {"proof": proof[:-1]}),
            ("empty-proof", "no proof at all", {"proof": []}),
        ]
    for i in range(n):
        bad = list(proof)
        bad[i] = _flip(bad[i], 4)
        mutants.append((f"modified-proof[{i}]-bit-4", f"bit 4 of proof[{i}][0] flipped", {"proof": bad}))

    out = {}
    for name, desc, change in mutants:
        probe = {"size1": size1, "size2": size2, "proof": proof, "root1": root1, "root2": root2} | change
        code = expect_consistency(
            (size1, size2), probe["size1"], probe["size2"], probe["proof"], probe["root1"], probe["root2"]
        )
        if code is None and name != "happy-path":
            desc += " (same proof shape, so it verifies: sizes must come from signed tree heads)"
        out[name] = {
            "desc": desc,
            "want_err": code is not None,
            "want_code": code,
            "size1": probe["size1"],
            "size2": probe["size2"],
            "proof": _b64(probe["proof"]),
            "root1": b64encode(probe["root1"]),
            "root2": b64encode(probe["root2"]),
        }
    return out


def build() -> dict[str, dict[str, Any]]:
    """Every vector file, by path relative to the output directory."""
    files: dict[str, dict[str, Any]] = {
        "tree.json": {
            "desc": "the 8-leaf tree of the Certificate Transparency test suites; "
            "roots[n] is the RFC 9162 root of the first n leaves",
            "leaves": _b64(LEAVES),
            "leaf_hashes": _b64(HASHES),
            "roots": _b64([naive_mth(HASHES[:n]) for n in range(len(HASHES) + 1)]),
        }
    }
    for index, size in INCLUSION_CASES:
        for name, probe in inclusion_probes(index, size).items():
            files[f"inclusion/{index}-in-{size}/{name}.json"] = probe
    for size1, size2 in CONSISTENCY_CASES:
        for name, probe in consistency_probes(size1, size2).items():
            files[f"consistency/{size1}-to-{size2}/{name}.json"] = probe
    return files


def render(obj: dict[str, Any]) -> str:
    return json.dumps(obj, indent=2) + "\n"


def main(argv: list[str]) -> int:
    out = Path(argv[1]) if len(argv) > 1 else DEFAULT_OUT
    for sub in ("inclusion", "consistency"):
        shutil.rmtree(out / sub, ignore_errors=True)
    files = build()
    for rel, obj in files.items():
        path = out / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(render(obj), encoding="utf-8")
    print(f"wrote {len(files)} files under {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv))
