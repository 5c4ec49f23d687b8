"""The booth's witness checks (``ballot_server/booth/src/{checkpoint,witness}.js``) against
evote's Python, through the node bridge of ``tests/booth/test_booth_crypto.py``.

Python makes real artefacts -- a board tree, its board-signed C2SP checkpoint,
cosignatures of three witnesses under a 2-of-3 policy, inclusion proofs -- and
the JavaScript must reach the same verdict as
:func:`evote.witness.verify_cosigned_inclusion` on each, valid or tampered:
the same witnesses named, or the same error code.  The manifest with a
witness policy must have the same digest in both, or the booth could not run
a witnessed election at all.
"""

from __future__ import annotations

from typing import Any

import pytest

from evote import merkle
from evote.checkpoint import Checkpoint, cosign, election_origin, sign_checkpoint
from evote.encoding import b64decode, b64encode
from evote.errors import EvoteError
from evote.manifest import Manifest
from evote.signing import SigningKey
from evote.witness import WitnessKey, WitnessPolicy, verify_cosigned_inclusion
from tests.booth.test_booth_crypto import MANIFEST, NODE, bridge

pytestmark = pytest.mark.skipif(NODE is None, reason="node is not installed")

BOARD = SigningKey.from_bytes(b"\x21" * 32)
WITNESSES = [SigningKey.from_bytes(bytes([0x31 + i]) * 32) for i in range(3)]
NAMES = [f"w{i}.witness.example/evote" for i in range(3)]
POLICY = WitnessPolicy(tuple(WitnessKey(n, k.verify_key) for n, k in zip(NAMES, WITNESSES)), 2)
ELECTION = "bridge-poll"
LEAVES = [merkle.leaf_hash(f"entry {i}".encode()) for i in range(11)]
TREE = merkle.MemoryTree(LEAVES)
NOW = 1_750_000_000


def note_of(size: int, signers: list[int], *, election: str = ELECTION) -> str:
    origin = election_origin(BOARD.verify_key, election)
    note = sign_checkpoint(Checkpoint(origin, size, TREE.root(size)), BOARD)
    cosigs = [cosign(note.text, NAMES[i], WITNESSES[i], NOW + i) for i in signers]
    return note.with_signatures(cosigs).to_text()


def request(note: str, index: int, *, entry_hash: bytes | None = None,
            proof: list[bytes] | None = None, size: int | None = None) -> dict[str, Any]:
    size = size if size is not None else int(note.split("\n")[1])
    return {
        "op": "verify_cosigned_inclusion",
        "note": note,
        "board_key": BOARD.verify_key.to_json(),
        "election": ELECTION,
        "index": index,
        "entry_hash": b64encode(entry_hash if entry_hash is not None else LEAVES[index]),
        "proof": [b64encode(h) for h in (proof if proof is not None else TREE.inclusion_proof(index, size))],
        "policy": POLICY.to_json(),
    }


def python_verdict(req: dict[str, Any]) -> dict[str, Any]:
    try:
        signed = verify_cosigned_inclusion(
            req["note"], board_key=BOARD.verify_key, election=req["election"], index=req["index"],
            entry_hash=b64decode(req["entry_hash"], length=32),
            proof=[b64decode(h, length=32) for h in req["proof"]], policy=POLICY,
        )  # fmt: skip
    except EvoteError as exc:
        return {"error": exc.code}
    return {"signed": signed}


def flip_last_cosignature(note: str) -> str:
    lines = note.rstrip("\n").split("\n")
    last = lines[-1]
    i = len(last) - 6  # a character of the signature, well before the padding
    lines[-1] = last[:i] + ("A" if last[i] != "A" else "B") + last[i + 1 :]
    return "\n".join(lines) + "\n"


def test_the_booth_reaches_pythons_verdict_on_cosigned_checkpoints():
    good = note_of(9, [0, 2])
    requests = [
        request(good, 4),  # valid: w0 and w2
        request(note_of(9, [0, 1, 2]), 0),  # all three
        request(note_of(11, [1, 2]), 10),  # the last entry of the tree
        request(note_of(9, [1]), 4),  # one of three: below the policy
        request(good, 4, entry_hash=LEAVES[5]),  # another entry
        request(good, 9, size=10),  # index beyond the checkpoint
        request(flip_last_cosignature(good), 4),  # a forged cosignature of a listed witness
        request(good.replace("\n9\n", "\n8\n", 1), 4, size=8),  # text changed: board sig fails
        request(note_of(9, [0, 2], election="other-poll"), 4),  # another election's origin
        request(good.replace(NAMES[2], "stranger.example/w"), 4),  # unknown name: ignored
    ]
    want = [python_verdict(r) for r in requests]
    assert want[0] == {"signed": [NAMES[0], NAMES[2]]} and want[1] == {"signed": NAMES}
    assert [w.get("error") for w in want[3:]] == [
        "witness_policy", "root_mismatch", "merkle", "invalid_signature", "invalid_signature",
        "bad_schema", "witness_policy"]
    got = bridge(requests)
    assert [{k: v for k, v in g.items() if k in ("signed", "error")} for g in got] == want


def test_a_manifest_with_witnesses_has_the_same_digest_in_the_booth():
    plain = {**MANIFEST}
    witnessed = {**MANIFEST, "witnesses": POLICY.to_json()}
    bad = {**MANIFEST, "witnesses": {**POLICY.to_json(), "threshold": 4}}
    got = bridge([{"op": "manifest_digest", "manifest": m} for m in (plain, witnessed, bad)])
    assert got[0] == {"hex": Manifest.from_json(plain).digest().hex()}
    assert got[1] == {"hex": Manifest.from_json(witnessed).digest().hex()}
    assert got[0] != got[1]
    assert got[2]["error"] == "bad_manifest"
