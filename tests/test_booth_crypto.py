"""The browser booth's JavaScript against evote's Python, through a node bridge.

``ballot_server/booth/scripts/bridge.mjs`` runs the booth's own modules (the same
sources the bundle is built from).  Here Python checks what the JavaScript
makes: ballots made in JS pass :func:`evote.ballot.verify_ballot`, their
audits pass :func:`evote.ballot.verify_audit`, and their tracking codes are
Python's; and the JavaScript checks what Python makes: board receipts
(RFC 9162 inclusion proof plus the tree-head and receipt signatures),
credential codes and RFC 8785 canonical bytes.  The byte-for-byte vectors are
checked by ``node --test`` in ballot_server/booth (run below as well).
"""

from __future__ import annotations

import json
import random
import shutil
import subprocess
from pathlib import Path

import pytest

from evote import merkle
from evote.ballot import AuditedBallot, Ballot, verify_audit, verify_ballot
from evote.board import Receipt, TreeHead, next_entry
from evote.credentials import CredentialList, PublicCredential, format_credential_code
from evote.drbg import SeededRng
from evote.encoding import b64encode, canonical_json
from evote.errors import AuditMismatch
from evote.fingerprint import ElectionContext
from evote.group import Point, Scalar
from evote.manifest import Manifest
from evote.signing import SigningKey

ROOT = Path(__file__).resolve().parent.parent
BOOTH = ROOT / "ballot_server" / "booth"
NODE = shutil.which("node")

pytestmark = pytest.mark.skipif(NODE is None, reason="node is not installed")

MANIFEST = {
    "election_id": "bridge-poll",
    "title": {"en": "Bridge poll", "ru": "Опрос"},
    "questions": [
        {"id": "one", "title": "Choose one", "options": ["A", "B", "C"],
         "kind": "choice", "min": 1, "max": 1},
        {"id": "some", "title": "Choose 1 or 2", "options": ["N", "S", "E", "W"],
         "kind": "choice", "min": 1, "max": 2},
        {"id": "score", "title": "Score 0..3", "options": ["X", "Y"],
         "kind": "score", "min": 0, "max": 4, "max_score": 3},
        {"id": "any", "title": "Any", "options": ["P", "Q"],
         "kind": "choice", "min": 0, "max": 2},
    ],
}


def bridge(requests: list[dict]) -> list[dict]:
    if not (BOOTH / "node_modules").is_dir():
        pytest.fail("ballot_server/booth/node_modules is missing: run `make install`", pytrace=False)
    proc = subprocess.run(
        [NODE, str(BOOTH / "scripts" / "bridge.mjs")],
        input=json.dumps(requests).encode(),
        capture_output=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr.decode()
    return json.loads(proc.stdout)


@pytest.fixture(scope="module")
def election() -> tuple[ElectionContext, list[SigningKey]]:
    rng = SeededRng(b"test_booth_crypto")
    manifest = Manifest.from_json(MANIFEST)
    coefficients = [[Scalar.random(rng) for _ in range(2)] for _ in range(3)]
    commitments = [[Point.base_mul(a) for a in row] for row in coefficients]
    joint = commitments[0][0] + commitments[1][0] + commitments[2][0]
    voters = [SigningKey.generate(rng) for _ in range(4)]
    creds = CredentialList(tuple(PublicCredential(k.verify_key, 1 + i) for i, k in enumerate(voters)))
    return ElectionContext.build(manifest, joint, commitments, creds), voters


def _request(ctx: ElectionContext, commitments: list[list[str]], **extra) -> dict:
    return {
        "manifest": MANIFEST,
        "joint_key": ctx.joint_key.to_json(),
        "trustee_commitments": commitments,
        "credentials_digest_hex": ctx.credentials.digest().hex(),
        **extra,
    }


def _commitments_json() -> list[list[str]]:
    rng = SeededRng(b"test_booth_crypto")
    coefficients = [[Scalar.random(rng) for _ in range(2)] for _ in range(3)]
    return [[Point.base_mul(a).to_json() for a in row] for row in coefficients]


def test_node_unit_tests_pass() -> None:
    """The byte-for-byte vector tests of the booth (node --test)."""
    proc = subprocess.run(
        [NODE, "--test", "test/"], cwd=BOOTH, capture_output=True, timeout=300, check=False
    )
    out = proc.stdout.decode()
    assert proc.returncode == 0, out[-4000:] + proc.stderr.decode()
    assert "# fail 0" in out


def test_js_ballots_verify_in_python(election) -> None:
    ctx, voters = election
    commitments = _commitments_json()
    selections = [
        [[1, 0, 0], [1, 1, 0, 0], [3, 1], [0, 0]],
        [[0, 0, 1], [0, 0, 0, 1], [0, 0], [1, 1]],
        [[0, 1, 0], [0, 1, 0, 1], [2, 2], [1, 0]],
    ]
    reqs = [
        _request(ctx, commitments, op="ballot", seed_hex=voters[i].seed.hex(), selections=sel)
        for i, sel in enumerate(selections)
    ]
    for i, (sel, out) in enumerate(zip(selections, bridge(reqs), strict=True)):
        assert out["fingerprint_hex"] == ctx.fingerprint.hex()
        ballot = Ballot.from_json(out["ballot"], ctx.manifest)
        assert verify_ballot(ctx, ballot) == 1 + i  # the credential's weight
        assert ballot.tracking_code == out["tracking_code"]
        assert ballot.canonical() == canonical_json(out["ballot"])
        audited = AuditedBallot.from_json(out["audited"], ctx.manifest)
        assert [list(row) for row in audited.selections] == sel
        verify_audit(ctx, audited)


def test_a_lying_audit_from_js_is_caught(election) -> None:
    ctx, voters = election
    out = bridge([_request(ctx, _commitments_json(), op="ballot", seed_hex=voters[0].seed.hex(),
                           selections=[[1, 0, 0], [1, 0, 0, 0], [0, 0], [0, 0]])])[0]
    lie = out["audited"]
    lie["selections"][0] = [0, 1, 0]
    with pytest.raises(AuditMismatch):
        verify_audit(ctx, AuditedBallot.from_json(lie, ctx.manifest))


def test_js_refuses_selections_outside_the_rules(election) -> None:
    ctx, voters = election
    bad = [
        ([[1, 1, 0], [1, 0, 0, 0], [0, 0], [0, 0]], "too_many"),
        ([[1, 0, 0], [0, 0, 0, 0], [0, 0], [0, 0]], "too_few"),
        ([[1, 0, 0], [1, 0, 0, 0], [4, 0], [0, 0]], "value"),
    ]
    commitments = _commitments_json()
    outs = bridge([
        _request(ctx, commitments, op="ballot", seed_hex=voters[0].seed.hex(), selections=sel)
        for sel, _ in bad
    ])
    assert [(o["error"], o["reason"]) for o in outs] == [("invalid_ballot", r) for _, r in bad]


def test_python_ballot_verifies_in_js_and_a_wrong_fingerprint_fails(election) -> None:
    from evote.ballot import encrypt_ballot

    ctx, voters = election
    ballot, _ = encrypt_ballot(ctx, voters[2], [[0, 1, 0], [0, 0, 1, 1], [1, 0], [0, 1]],
                               SeededRng(b"py-ballot"))
    commitments = _commitments_json()
    good = _request(ctx, commitments, op="verify_ballot", ballot=ballot.to_json())
    other = dict(good, credentials_digest_hex="00" * 32)
    assert bridge([good, other]) == [
        {"ok": True},
        {"error": "invalid_signature", "reason": None,
         "message": "ballot-signature signature does not verify"},
    ]


def _board(n: int, key: SigningKey) -> tuple[list, merkle.MemoryTree]:
    entries = []
    prev = None
    for i in range(n):
        kind = "election_created" if i == 0 else "ballot_cast"
        prev = next_entry(prev, election="bridge-poll", kind=kind, time=1000 + i, payload={"i": i})
        entries.append(prev)
    tree = merkle.MemoryTree(e.leaf_hash() for e in entries)
    return entries, tree


def test_receipts_from_python_verify_in_js_and_tampering_is_caught() -> None:
    key = SigningKey.generate(SeededRng(b"board-key"))
    other = SigningKey.generate(SeededRng(b"other-key"))
    entries, tree = _board(11, key)
    head = TreeHead("bridge-poll", tree.size, tree.root(), 5000).sign(key)
    reqs = []
    for index in (0, 5, 10):
        receipt = Receipt.issue(
            entry=entries[index], tracking_code="ABCD-EFGH-JKMN-PQRS", tree_head=head,
            inclusion_proof=tree.inclusion_proof(index), key=key,
        ).to_json()
        reqs.append({"op": "verify_receipt", "receipt": receipt, "board_key": key.verify_key.to_json()})
    good = reqs[1]["receipt"]
    wrong_key = {**reqs[1], "board_key": other.verify_key.to_json()}
    bad_proof = json.loads(json.dumps(good))
    bad_proof["inclusion_proof"][0] = b64encode(bytes(32))
    bad_index = {**json.loads(json.dumps(good)), "index": 6}
    bad_head = json.loads(json.dumps(good))
    bad_head["tree_head"]["head"]["size"] = 12
    outs = bridge(reqs + [
        wrong_key,
        {**reqs[1], "receipt": bad_proof},
        {**reqs[1], "receipt": bad_index},
        {**reqs[1], "receipt": bad_head},
    ])
    assert outs[:3] == [{"ok": True}] * 3
    assert [o["error"] for o in outs[3:]] == [
        "invalid_signature",  # signed by a key other than the one the voter trusts
        "root_mismatch",  # the proof is not signed; it must lead to the signed root
        "invalid_signature",  # the index is in the signed statement
        "invalid_signature",  # the tree head's signature breaks
    ]


def test_credential_codes_and_canonical_json_agree() -> None:
    rng = SeededRng(b"codes")
    keys = [SigningKey.generate(rng) for _ in range(20)]
    r = random.Random(7)
    alphabet = ["a", "é", "\u2028", "\"", "\\", "\x01", "\U0001f600", "\ue000", "Ж", " "]

    def doc(depth: int):
        pick = r.randrange(6 if depth < 3 else 3)
        if pick == 0:
            return r.randrange(-(2**53) + 1, 2**53)
        if pick == 1:
            return "".join(r.choice(alphabet) for _ in range(r.randrange(5)))
        if pick == 2:
            return r.choice([True, False, None])
        if pick == 3:
            return [doc(depth + 1) for _ in range(r.randrange(4))]
        return {"".join(r.choice(alphabet) for _ in range(r.randrange(1, 4))): doc(depth + 1)
                for _ in range(r.randrange(4))}

    docs = [doc(0) for _ in range(60)]
    reqs = [{"op": "parse_code", "code": format_credential_code(k)} for k in keys]
    reqs += [{"op": "canonical", "value": d} for d in docs]
    outs = bridge(reqs)
    assert [o["seed_hex"] for o in outs[:20]] == [k.seed.hex() for k in keys]
    assert [o["hex"] for o in outs[20:]] == [canonical_json(d).hex() for d in docs]


def test_credential_code_typos_are_judged_alike_by_js_and_python() -> None:
    """Format-2 and old format-1 codes parse to the same seed on both sides, and
    every single substitution and adjacent transposition of a code is refused by
    both with reason "checksum" (shared inputs made here, judged by the booth)."""
    from evote.credentials import CROCKFORD_ALPHABET, format_legacy_credential_code

    keys = [SigningKey.generate(SeededRng(b"typos/%d" % i)) for i in range(2)]
    codes = [format_credential_code(k) for k in keys] + [
        format_legacy_credential_code(k) for k in keys
    ]
    code = codes[0].replace("-", "")
    typos = [code[:i] + c + code[i + 1 :] for i in range(len(code))
             for c in CROCKFORD_ALPHABET if c != code[i]]
    typos += [code[:i] + code[i + 1] + code[i] + code[i + 2 :] for i in range(len(code) - 1)
              if code[i] != code[i + 1]]
    outs = bridge([{"op": "parse_code", "code": c} for c in codes + typos])
    assert [o["seed_hex"] for o in outs[:4]] == [k.seed.hex() for k in keys] * 2
    assert len(typos) > 54 * 31
    assert all(o.get("reason") == "checksum" for o in outs[4:]), [
        (t, o) for t, o in zip(typos, outs[4:], strict=True) if o.get("reason") != "checksum"][:3]


RANKED_MANIFEST = {
    "election_id": "bridge-ranked",
    "title": "Ranked bridge poll",
    "questions": [
        {"id": "council", "title": "Rank", "options": ["A", "B", "C", "D", "E"],
         "kind": "ranked", "method": "stv", "seats": 2},
        {"id": "mayor", "title": "Rank", "options": ["M", "N"], "kind": "ranked", "method": "borda"},
        {"id": "plans", "title": "Grade", "options": ["P", "Q", "R"], "kind": "grades",
         "grades": [{"en": "Bad", "ru": "Плохо"}, {"en": "Good", "ru": "Хорошо"}]},
    ],
}


def test_js_ranked_and_graded_ballots_verify_in_python(election) -> None:
    """A booth ballot for ranked and graded questions passes Python's verify_ballot and
    verify_audit (ranges 0..k and 0..G-1, no sum proof); so does an ill-formed ranking,
    which the proofs do not exclude (the booth's screen does; the counting rule decides)."""
    _, voters = election
    rng = SeededRng(b"test_booth_crypto/ranked")
    coefficients = [[Scalar.random(rng) for _ in range(2)] for _ in range(2)]
    commitments = [[Point.base_mul(a) for a in row] for row in coefficients]
    joint = commitments[0][0] + commitments[1][0]
    creds = CredentialList(tuple(PublicCredential(k.verify_key, 1) for k in voters))
    manifest = Manifest.from_json(RANKED_MANIFEST)
    ctx = ElectionContext.build(manifest, joint, commitments, creds)
    base = {
        "manifest": RANKED_MANIFEST,
        "joint_key": joint.to_json(),
        "trustee_commitments": [[c.to_json() for c in row] for row in commitments],
        "credentials_digest_hex": creds.digest().hex(),
    }
    selections = [
        [[3, 1, 2, 0, 0], [1, 2], [1, 0, 1]],
        [[0, 0, 0, 0, 0], [0, 0], [0, 0, 0]],
        [[5, 4, 3, 2, 1], [2, 1], [1, 1, 1]],
        [[2, 2, 0, 5, 0], [0, 2], [0, 1, 0]],  # ill-formed: a repeat and a gap
    ]
    reqs = [{**base, "op": "ballot", "seed_hex": voters[i].seed.hex(), "selections": sel}
            for i, sel in enumerate(selections)]
    reqs.append({**base, "op": "manifest_digest"})
    *outs, digest = bridge(reqs)
    assert digest["hex"] == manifest.digest().hex()
    for sel, out in zip(selections, outs, strict=True):
        assert out["fingerprint_hex"] == ctx.fingerprint.hex()
        ballot = Ballot.from_json(out["ballot"], manifest)
        verify_ballot(ctx, ballot)
        assert ballot.tracking_code == out["tracking_code"]
        audited = AuditedBallot.from_json(out["audited"], manifest)
        assert [list(row) for row in audited.selections] == sel
        verify_audit(ctx, audited)
    # A rank above k is refused by the booth before anything is encrypted.
    bad = bridge([{**base, "op": "ballot", "seed_hex": voters[0].seed.hex(),
                   "selections": [[6, 0, 0, 0, 0], [0, 0], [0, 0, 0]]}])[0]
    assert (bad["error"], bad["reason"]) == ("invalid_ballot", "value")
