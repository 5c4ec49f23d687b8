"""The server side of witnessing: checkpoints served, cosignatures checked and kept."""

from __future__ import annotations

import pytest

from evote import merkle
from evote.checkpoint import Checkpoint, Note, NoteKey, cosign, election_origin, open_checkpoint
from evote.errors import WitnessPolicyError
from evote.manifest import Manifest
from evote.signing import SigningKey
from evote.witness import WitnessKey, WitnessPolicy, check_witness_policy, verify_final_checkpoint
from tests.support import api_election
from tests.support.api_election import API, MANIFEST, build_election

# The shared fixtures (one database per module, a new election per test).
api_db = api_election.api_db
api_app = api_election.api_app
api_client = api_election.api_client

W = [SigningKey.from_bytes(bytes([0x40 + i]) * 32) for i in range(3)]
NAMES = [f"witness{i}.example.net/w" for i in range(3)]
POLICY = WitnessPolicy(tuple(WitnessKey(n, k.verify_key) for n, k in zip(NAMES, W)), 2)
NOW = 1_750_000_000


@pytest.fixture
def witnessed(api_client):
    return build_election(api_client, manifest={**MANIFEST, "witnesses": POLICY.to_json()})


def checkpoint(e, **params):
    response = e.client.get(f"{e.url}/checkpoint", query_string=params)
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def post(e, note_text: str, line: str):
    return e.client.post(
        f"{e.url}/checkpoint/cosignatures", json={"checkpoint": note_text, "cosignature": line}
    )


def cosign_line(note_text: str, i: int, key: SigningKey | None = None) -> str:
    return cosign(Note.parse(note_text).text, NAMES[i], key or W[i], NOW).line()


def test_manifest_carries_the_policy_and_old_manifests_keep_their_digest():
    plain = Manifest.from_json({**MANIFEST, "election_id": "e1"})
    assert "witnesses" not in plain.to_json() and plain.witnesses is None
    with_policy = Manifest.from_json({**MANIFEST, "election_id": "e1", "witnesses": POLICY.to_json()})
    assert with_policy.witnesses == POLICY
    assert Manifest.from_json(with_policy.to_json()) == with_policy
    assert with_policy.digest() != plain.digest()  # the policy is bound into the fingerprint


def test_checkpoint_is_the_board_signed_tree_now(witnessed):
    e = witnessed
    body = checkpoint(e)
    key = e.board_key
    cp, _ = open_checkpoint(body["checkpoint"], key, election=e.election_id)
    entries = e.entries()
    assert cp.size == body["size"] == len(entries)
    assert cp.root == merkle.root(x.leaf_hash() for x in entries)
    assert cp.origin == body["origin"] == election_origin(key, e.election_id)
    assert NoteKey.from_vkey(body["board_key"]).public_key == key
    assert body["witnesses"] == []
    old = checkpoint(e, size=2)
    assert Checkpoint.parse(Note.parse(old["checkpoint"]).text).size == 2
    text = e.client.get(f"{e.url}/checkpoint.txt")
    assert text.mimetype == "text/plain" and text.get_data(as_text=True) == body["checkpoint"]
    assert e.client.get(f"{e.url}/checkpoint?size=999").status_code == 400


def test_cosignatures_are_kept_and_served_until_the_policy_is_met(witnessed):
    e = witnessed
    note_text = checkpoint(e)["checkpoint"]
    assert e.client.get(f"{e.url}/checkpoint/cosigned").status_code == 404
    r = post(e, note_text, cosign_line(note_text, 0))
    assert r.status_code == 200 and r.get_json()["witnesses"] == [NAMES[0]]
    assert post(e, note_text, cosign_line(note_text, 0)).status_code == 200  # idempotent
    assert e.client.get(f"{e.url}/checkpoint/cosigned").status_code == 404
    assert post(e, note_text, cosign_line(note_text, 2)).get_json()["witnesses"] == [NAMES[0], NAMES[2]]
    best = e.client.get(f"{e.url}/checkpoint/cosigned").get_json()
    entries = e.entries()
    names = verify_final_checkpoint(
        best["checkpoint"],
        board_key=e.board_key,
        election=e.election_id,
        size=len(entries),
        root=merkle.root(x.leaf_hash() for x in entries),
        policy=POLICY,
    )
    assert names == [NAMES[0], NAMES[2]]
    assert checkpoint(e)["witnesses"] == [NAMES[0], NAMES[2]]
    # The board grows: the latest checkpoint has no cosignatures yet, the cosigned one stays.
    e.cast_ok(0)
    assert checkpoint(e)["witnesses"] == []
    assert e.client.get(f"{e.url}/checkpoint/cosigned").get_json()["size"] == best["size"]
    # An auditor that fixed a smaller board asks for a checkpoint within it.
    within = f"{e.url}/checkpoint/cosigned?max_size="
    assert e.client.get(f"{within}{best['size']}").get_json()["size"] == best["size"]
    assert e.client.get(f"{within}{best['size'] - 1}").status_code == 404
    assert e.client.get(f"{within}0").status_code == 400


def test_bad_cosignatures_are_refused(witnessed):
    e = witnessed
    note_text = checkpoint(e)["checkpoint"]
    stranger = SigningKey.from_bytes(b"\x77" * 32)
    r = post(e, note_text, cosign(Note.parse(note_text).text, "stranger.example/w", stranger, NOW).line())
    assert (r.status_code, r.get_json()["code"]) == (403, "wrong_signer")
    line = cosign_line(note_text, 1)
    flipped = line[:-3] + ("A" if line[-3] != "A" else "B") + line[-2:]
    r = post(e, note_text, flipped)
    assert r.status_code in (400, 422) and r.get_json()["code"] in ("invalid_signature", "bad_encoding")
    other = checkpoint(e, size=2)["checkpoint"]
    r = post(e, note_text, cosign_line(other, 1))  # a cosignature of another checkpoint
    assert (r.status_code, r.get_json()["code"]) == (422, "invalid_signature")
    forged = note_text.replace(f"\n{checkpoint(e)['size']}\n", "\n1\n", 1)
    r = post(e, forged, cosign_line(forged, 1))
    assert (r.status_code, r.get_json()["code"]) == (422, "invalid_signature")
    r = post(e, note_text, cosign_line(note_text, 1) + "\n" + cosign_line(note_text, 2))
    assert r.status_code == 400
    r = e.client.post(f"{e.url}/checkpoint/cosignatures", json={"checkpoint": note_text})
    assert (r.status_code, r.get_json()["code"]) == (422, "bad_schema")
    assert checkpoint(e)["witnesses"] == []
    with pytest.raises(WitnessPolicyError):  # nothing was kept
        check_witness_policy(checkpoint(e)["checkpoint"], POLICY)


def test_an_election_without_witnesses_takes_no_cosignatures(api_client):
    e = build_election(api_client)
    note_text = checkpoint(e)["checkpoint"]
    r = post(e, note_text, cosign_line(note_text, 0))
    assert (r.status_code, r.get_json()["code"]) == (422, "witness_policy")
    assert e.client.get(f"{e.url}/checkpoint/cosigned").status_code == 404
    assert e.client.get(f"{API}/elections/no-such-poll/checkpoint").status_code == 404
