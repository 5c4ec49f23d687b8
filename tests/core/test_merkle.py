"""RFC 9162 Merkle tree: known answers, an independent naive oracle, every
mutation of real proofs, the generated vector files, and large trees."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from evote import merkle
from evote.encoding import b64decode
from evote.errors import MerkleError, RootMismatchError
from tools.merkle_oracle import CT_LEAVES, consistency_shape, inclusion_shape, mth, path, subproof
from tools.merkle_oracle import leaf_hash as h_leaf
from tools.merkle_oracle import node_hash as h_node

VECTORS = Path(__file__).parents[1] / "vectors" / "merkle"
TOOL = Path(__file__).parents[2] / "tools" / "make_merkle_vectors.py"

# The independent oracle (RFC 9162 §2.1 transcribed recursively, hashlib only) is
# tools/merkle_oracle.py, shared with the vector generator.


# The leaves of the Certificate Transparency test suites, and the roots every CT
# implementation publishes for them (e.g. transparency-dev/merkle testdata).
CT_ROOTS = [
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
]
CT_HASHES = [h_leaf(d) for d in CT_LEAVES]

BIG = 300
BIG_HASHES = [h_leaf(b"entry %d" % i) for i in range(BIG)]
BIG_TREE = merkle.MemoryTree(BIG_HASHES)


def flip(h: bytes, bit: int) -> bytes:
    i, b = divmod(bit, 8)
    return h[:i] + bytes([h[i] ^ (1 << b)]) + h[i + 1 :]


# --- hashing and roots -----------------------------------------------------------


def test_prefixes_and_empty_root_are_rfc_values():
    assert merkle.LEAF_PREFIX == b"\x00" and merkle.NODE_PREFIX == b"\x01"
    assert merkle.EMPTY_ROOT.hex() == (
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    )
    assert merkle.root([]) == merkle.EMPTY_ROOT == merkle.MemoryTree().root()
    assert merkle.leaf_hash(b"abc") == h_leaf(b"abc")
    assert merkle.node_hash(b"a" * 32, b"b" * 32) == h_node(b"a" * 32, b"b" * 32)


def test_known_answer_roots_of_ct_tree():
    tree = merkle.MemoryTree(merkle.leaf_hash(d) for d in CT_LEAVES)
    for n in range(1, 9):
        assert tree.root(n).hex() == CT_ROOTS[n - 1]
        assert merkle.root(CT_HASHES[:n]).hex() == CT_ROOTS[n - 1]
        assert mth(CT_HASHES[:n]).hex() == CT_ROOTS[n - 1]  # the oracle agrees too


def test_node_hash_rejects_wrong_length():
    with pytest.raises(MerkleError):
        merkle.node_hash(b"a" * 31, b"b" * 32)
    with pytest.raises(MerkleError):
        merkle.leaf_hash("text")  # type: ignore[arg-type]


# --- every proof of the reference trees of 0..8 leaves ---------------------------


@pytest.mark.parametrize("size", range(0, 9))
def test_reference_tree_every_proof(size):
    d = CT_HASHES[:size]
    tree = merkle.MemoryTree(d)
    assert tree.root() == mth(d)
    for m in range(size):
        proof = tree.inclusion_proof(m)
        assert proof == path(m, d)
        assert len(proof) == merkle.inclusion_proof_length(m, size)
        merkle.verify_inclusion(m, size, d[m], proof, mth(d))
        assert merkle.root_from_inclusion_proof(m, size, d[m], proof) == mth(d)
    for old in range(1, size + 1):
        proof = tree.consistency_proof(old)
        assert proof == (subproof(old, d, True) if old < size else [])
        assert len(proof) == merkle.consistency_proof_length(old, size)
        merkle.verify_consistency(old, size, proof, mth(d[:old]), mth(d))


def test_ct_published_proofs():
    # Proofs quoted in transparency-dev/merkle's proof generator (hex).
    tree = merkle.MemoryTree(CT_HASHES)
    assert [p.hex()[:8] for p in tree.inclusion_proof(0)] == ["96a296d2", "5f083f0a", "6b47aaf2"]
    assert [p.hex()[:8] for p in tree.inclusion_proof(5)] == ["bc1a0643", "ca854ea1", "d37ee418"]
    assert [p.hex()[:8] for p in tree.consistency_proof(6)] == ["0ebc5d34", "ca854ea1", "d37ee418"]
    assert [p.hex()[:8] for p in tree.consistency_proof(2, 5)] == ["5f083f0a", "bc1a0643"]


# --- properties over random trees ------------------------------------------------


@settings(max_examples=50, deadline=None)
@given(st.data())
def test_inclusion_proofs_verify_and_every_mutation_fails(data):
    size = data.draw(st.integers(1, BIG), label="size")
    index = data.draw(st.integers(0, size - 1), label="index")
    d = BIG_HASHES[:size]
    root, leaf = BIG_TREE.root(size), d[index]
    proof = BIG_TREE.inclusion_proof(index, size)
    assert root == mth(d) and proof == path(index, d)
    merkle.verify_inclusion(index, size, leaf, proof, root)

    for i in range(len(proof)):  # one bit flip per element
        bit = data.draw(st.integers(0, 255), label=f"bit{i}")
        bad = list(proof)
        bad[i] = flip(bad[i], bit)
        with pytest.raises(RootMismatchError) as exc:
            merkle.verify_inclusion(index, size, leaf, bad, root)
        assert exc.value.expected == root and exc.value.computed != root
    with pytest.raises(RootMismatchError):
        merkle.verify_inclusion(index, size, flip(leaf, 0), proof, root)
    with pytest.raises(MerkleError) as exc:
        merkle.verify_inclusion(index, size, leaf, proof + [leaf], root)
    assert type(exc.value) is MerkleError
    if proof:
        with pytest.raises(MerkleError) as exc:
            merkle.verify_inclusion(index, size, leaf, proof[:-1], root)
        assert type(exc.value) is MerkleError

    other = data.draw(st.integers(0, BIG).filter(lambda j: j != index), label="other index")
    with pytest.raises(MerkleError) as exc:  # a leaf sits at exactly one position
        merkle.verify_inclusion(other, size, leaf, proof, root)
    if other >= size or len(proof) != len(inclusion_shape(other, size)):
        assert type(exc.value) is MerkleError
    else:
        assert type(exc.value) is RootMismatchError

    # A different size verifies exactly when the audit path has the same shape:
    # the size is bound by the signed tree head, not by the proof.
    size2 = data.draw(st.integers(0, 2 * BIG).filter(lambda s: s != size), label="other size")
    if index >= size2 or len(proof) != len(inclusion_shape(index, size2)):
        with pytest.raises(MerkleError) as exc:
            merkle.verify_inclusion(index, size2, leaf, proof, root)
        assert type(exc.value) is MerkleError
    elif inclusion_shape(index, size2) == inclusion_shape(index, size):
        merkle.verify_inclusion(index, size2, leaf, proof, root)
    else:
        with pytest.raises(RootMismatchError):
            merkle.verify_inclusion(index, size2, leaf, proof, root)


@settings(max_examples=50, deadline=None)
@given(st.data())
def test_consistency_proofs_verify_and_every_mutation_fails(data):
    size2 = data.draw(st.integers(1, BIG), label="size2")
    size1 = data.draw(st.integers(1, size2), label="size1")
    d = BIG_HASHES[:size2]
    root1, root2 = BIG_TREE.root(size1), BIG_TREE.root(size2)
    proof = BIG_TREE.consistency_proof(size1, size2)
    assert proof == (subproof(size1, d, True) if size1 < size2 else [])
    merkle.verify_consistency(size1, size2, proof, root1, root2)

    for i in range(len(proof)):
        bad = list(proof)
        bad[i] = flip(bad[i], data.draw(st.integers(0, 255), label=f"bit{i}"))
        with pytest.raises(RootMismatchError):
            merkle.verify_consistency(size1, size2, bad, root1, root2)
    with pytest.raises(RootMismatchError):
        merkle.verify_consistency(size1, size2, proof, flip(root1, 7), root2)
    with pytest.raises(RootMismatchError):
        merkle.verify_consistency(size1, size2, proof, root1, flip(root2, 7))
    with pytest.raises(MerkleError) as exc:
        merkle.verify_consistency(size1, size2, proof + [root1], root1, root2)
    assert type(exc.value) is MerkleError
    if proof:
        with pytest.raises(MerkleError) as exc:
            merkle.verify_consistency(size1, size2, proof[:-1], root1, root2)
        assert type(exc.value) is MerkleError
        with pytest.raises(RootMismatchError):
            merkle.verify_consistency(size1, size2, proof, root2, root1)

    # Another first size: refused, unless the proof has exactly the same shape.
    other = data.draw(st.integers(0, size2 + 3).filter(lambda s: s != size1), label="size1'")
    if other == 0 or other > size2 or len(proof) != merkle.consistency_proof_length(other, size2):
        with pytest.raises(MerkleError) as exc:
            merkle.verify_consistency(other, size2, proof, root1, root2)
        assert type(exc.value) is MerkleError
    elif other < size2 and size1 < size2 and (
        consistency_shape(other, size2) == consistency_shape(size1, size2)
    ):
        merkle.verify_consistency(other, size2, proof, root1, root2)
    else:
        with pytest.raises(RootMismatchError):
            merkle.verify_consistency(other, size2, proof, root1, root2)


def test_consistency_length_formula_matches_oracle():
    for n in range(1, 70):
        for m in range(1, n + 1):
            want = len(consistency_shape(m, n)) if m < n else 0
            assert merkle.consistency_proof_length(m, n) == want
            for i in range(0, n, 7):
                assert merkle.inclusion_proof_length(i, n) == len(inclusion_shape(i, n))


# --- preconditions are checked before any hashing --------------------------------


@pytest.fixture
def no_hashing(monkeypatch):
    def refuse(_data: bytes) -> bytes:
        raise AssertionError("hashed before rejecting malformed input")

    monkeypatch.setattr(merkle, "sha256", refuse)


GOOD = b"\x11" * 32


@pytest.mark.parametrize(
    ("index", "size", "leaf", "proof", "root"),
    [
        (3, 3, GOOD, [GOOD, GOOD], GOOD),  # index == size
        (-1, 3, GOOD, [GOOD, GOOD], GOOD),  # negative index
        (0, 0, GOOD, [], GOOD),  # empty tree
        (True, 3, GOOD, [GOOD, GOOD], GOOD),  # bool is not an index
        (0, 2**63, GOOD, [GOOD] * 63, GOOD),  # beyond 63-bit sizes
        (0, 3, GOOD[:31], [GOOD, GOOD], GOOD),  # short leaf hash
        (0, 3, GOOD, [GOOD, GOOD], GOOD + b"x"),  # long root
        (0, 3, GOOD, [GOOD], GOOD),  # proof too short
        (0, 3, GOOD, [GOOD, GOOD, GOOD], GOOD),  # proof too long
        (0, 3, GOOD, [GOOD, GOOD[:31]], GOOD),  # short proof element
        (0, 3, GOOD, GOOD + GOOD, GOOD),  # bytes is not a list of hashes
        (0, 3, GOOD, [GOOD, "x" * 32], GOOD),  # str element
    ],
)
def test_inclusion_rejects_malformed_input_before_hashing(no_hashing, index, size, leaf, proof, root):
    with pytest.raises(MerkleError) as exc:
        merkle.verify_inclusion(index, size, leaf, proof, root)
    assert type(exc.value) is MerkleError


@pytest.mark.parametrize(
    ("size1", "size2", "proof", "root1", "root2"),
    [
        (4, 3, [], GOOD, GOOD),  # shrinking
        (0, 3, [], merkle.EMPTY_ROOT, GOOD),  # from the empty tree
        (3, 3, [GOOD], GOOD, GOOD),  # equal sizes need an empty proof
        (3, 5, [], GOOD, GOOD),  # empty proof
        (4, 8, [GOOD, GOOD], GOOD, GOOD),  # too long (needs 1)
        (3, 5, [GOOD, GOOD, GOOD], GOOD[:1], GOOD),  # short root
        (-1, 5, [GOOD], GOOD, GOOD),
        (3, 5, [GOOD, GOOD, b""], GOOD, GOOD),
    ],
)
def test_consistency_rejects_malformed_input_before_hashing(
    no_hashing, size1, size2, proof, root1, root2
):
    with pytest.raises(MerkleError) as exc:
        merkle.verify_consistency(size1, size2, proof, root1, root2)
    assert type(exc.value) is MerkleError


def test_equal_sizes_with_different_roots_is_a_mismatch():
    merkle.verify_consistency(5, 5, [], BIG_TREE.root(5), BIG_TREE.root(5))
    with pytest.raises(RootMismatchError):
        merkle.verify_consistency(5, 5, [], BIG_TREE.root(5), BIG_TREE.root(6))


def test_root_mismatch_error_carries_both_roots_as_json():
    proof = BIG_TREE.inclusion_proof(3, 10)
    with pytest.raises(RootMismatchError) as exc:
        merkle.verify_inclusion(3, 10, BIG_HASHES[4], proof, BIG_TREE.root(10))
    body = exc.value.to_json()
    assert body["code"] == "root_mismatch"
    assert body["detail"]["expected"] == BIG_TREE.root(10).hex()
    assert body["detail"]["computed"] == exc.value.computed.hex()


# --- the subtree store -------------------------------------------------------------


def test_completed_subtrees_accumulator_and_store_agree():
    tree = merkle.MemoryTree()
    acc = merkle.MerkleAccumulator()
    for i, h in enumerate(BIG_HASHES[:70]):
        needed = merkle.completion_siblings(i)
        done = merkle.completed_subtrees(i, h, tree.get)
        assert done == acc.append(h)
        assert [lvl for lvl, _, _ in done] == list(range(len(needed) + 1))
        tree.append(h)
        for level, idx, node in done:
            lo, hi = idx << level, (idx + 1) << level
            assert hi == i + 1 and node == mth(BIG_HASHES[lo:hi]) == tree.get(level, idx)
        assert acc.root() == tree.root() == mth(BIG_HASHES[: i + 1])
        assert acc.size == tree.size == i + 1
    resumed = merkle.MerkleAccumulator.resume(37, tree.get)
    for h in BIG_HASHES[37:70]:
        resumed.append(h)
    assert resumed.root() == acc.root()


def test_memory_tree_refuses_what_it_does_not_hold():
    tree = merkle.MemoryTree(BIG_HASHES[:5])
    with pytest.raises(MerkleError):
        tree.get(2, 1)  # leaves 4..7 are not all there
    with pytest.raises(MerkleError):
        tree.root(6)
    with pytest.raises(MerkleError):
        tree.inclusion_proof(5)
    with pytest.raises(MerkleError):
        tree.consistency_proof(3, 6)
    with pytest.raises(MerkleError):
        merkle.consistency_nodes(4, 3)
    with pytest.raises(MerkleError):
        merkle.subtree_nodes(2, 6)  # not aligned: not a subtree of any RFC 9162 tree


def test_a_corrupt_store_is_reported():
    with pytest.raises(MerkleError):
        merkle.inclusion_proof(0, 2, lambda level, index: b"short")


class ConstantLeaves:
    """A consistent store for a huge tree whose leaves are all equal: each level's
    perfect subtree hash is the same, so any size is cheap.  Counts look-ups."""

    def __init__(self) -> None:
        self.levels = [h_leaf(b"same")]
        self.calls = 0

    def get(self, level: int, index: int) -> bytes:
        self.calls += 1
        while len(self.levels) <= level:
            self.levels.append(h_node(self.levels[-1], self.levels[-1]))
        return self.levels[level]


@pytest.mark.parametrize("size", [1_000_000, 1_048_576, 2**40 + 12345])
def test_proofs_on_huge_trees_need_only_logarithmic_lookups(size):
    store = ConstantLeaves()
    root = merkle.tree_root(size, store.get)
    log = size.bit_length()
    for index in (0, 1, size // 3, size - 2, size - 1):
        store.calls = 0
        proof = merkle.inclusion_proof(index, size, store.get)
        assert store.calls <= 2 * log
        merkle.verify_inclusion(index, size, store.levels[0], proof, root)
    for old in (1, 2, size // 2 + 1, size - 1):
        store.calls = 0
        proof = merkle.consistency_proof(old, size, store.get)
        assert store.calls <= 2 * log
        merkle.verify_consistency(old, size, proof, merkle.tree_root(old, store.get), root)


# --- the generated vector files -----------------------------------------------------


def _load_tool():
    spec = importlib.util.spec_from_file_location("make_merkle_vectors", TOOL)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _vector_files(kind: str) -> list[Path]:
    return sorted((VECTORS / kind).glob("*/*.json"))


def test_vector_files_are_generated_not_edited():
    files = _load_tool().build()
    on_disk = {
        str(p.relative_to(VECTORS)) for p in VECTORS.rglob("*.json")
    }
    assert on_disk == set(files)
    tool = _load_tool()
    for rel, obj in files.items():
        assert (VECTORS / rel).read_text(encoding="utf-8") == tool.render(obj), rel


def test_vector_tree_roots():
    tree = json.loads((VECTORS / "tree.json").read_text())
    leaves = [b64decode(x) for x in tree["leaves"]]
    assert [b64decode(x).hex() for x in tree["roots"][1:]] == CT_ROOTS
    assert [merkle.leaf_hash(x) for x in leaves] == [b64decode(x) for x in tree["leaf_hashes"]]


def _expect(probe: dict, call) -> None:
    if not probe["want_err"]:
        call()
        return
    with pytest.raises(MerkleError) as exc:
        call()
    assert exc.value.code == probe["want_code"], probe["desc"]


@pytest.mark.parametrize("path", _vector_files("inclusion"), ids=lambda p: f"{p.parent.name}/{p.stem}")
def test_inclusion_vectors(path):
    v = json.loads(path.read_text())
    proof = [b64decode(x) for x in v["proof"]]
    _expect(
        v,
        lambda: merkle.verify_inclusion(
            v["index"], v["size"], b64decode(v["leaf_hash"]), proof, b64decode(v["root"])
        ),
    )


@pytest.mark.parametrize(
    "path", _vector_files("consistency"), ids=lambda p: f"{p.parent.name}/{p.stem}"
)
def test_consistency_vectors(path):
    v = json.loads(path.read_text())
    proof = [b64decode(x) for x in v["proof"]]
    _expect(
        v,
        lambda: merkle.verify_consistency(
            v["size1"], v["size2"], proof, b64decode(v["root1"]), b64decode(v["root2"])
        ),
    )


def test_vectors_include_one_mutant_per_proof_element():
    for kind, bit in (("inclusion", 3), ("consistency", 4)):
        for case in (VECTORS / kind).iterdir():
            happy = json.loads((case / "happy-path.json").read_text())
            assert not happy["want_err"]
            for i in range(len(happy["proof"])):
                mutant = json.loads((case / f"modified-proof[{i}]-bit-{bit}.json").read_text())
                assert mutant["want_err"] and mutant["want_code"] == "root_mismatch"
