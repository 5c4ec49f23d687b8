"""Item 11 — traffic analysis: a ballot's size must not reveal the vote.

TLS hides content, not length.  Length side channels have recovered user
choices from encrypted traffic again and again (Chen, Wang, Wang, Zhang,
"Side-channel leaks in web applications", IEEE S&P 2010); in voting,
variable-length encodings of the vote (a number of selections, a write-in, a
ranked list, or just a JSON integer without leading zeros) would let a network
observer tell ballots apart.

evote's defence: a ballot's shape is fixed by the manifest (one ciphertext and
one proof of fixed width per option, one sum proof per question that needs
it), every binary value is fixed-length base64url, and the canonical encoding
has no optional fields, so every ballot of an election — whatever the choices,
the voter, the weight or the randomness — has exactly the same length, on the
wire and on the board.
"""

from __future__ import annotations

import json

from hypothesis import given, settings
from hypothesis import strategies as st

from evote.ballot import encrypt_ballot
from evote.credentials import CredentialList, PublicCredential, issue_credentials
from evote.drbg import SeededRng
from evote.encoding import canonical_json
from evote.fingerprint import ElectionContext
from evote.group import Point, Scalar
from evote.manifest import Manifest
from tests.support.api_election import ApiElection
from tests.support.recordgen import GeneratedRecord

rng = SeededRng(b"attack-traffic-analysis")


def wire_bytes(ballot_json: dict) -> bytes:
    """The request body exactly as ``evote vote`` (cli/client.py) sends it."""
    return json.dumps(ballot_json, ensure_ascii=False, separators=(",", ":")).encode()


def honest_selections() -> st.SearchStrategy[list[list[int]]]:
    """Every valid answer to the honest record's two questions."""
    park = st.integers(0, 2).map(lambda i: [int(i == j) for j in range(3)])
    budget = st.tuples(st.integers(0, 3), st.integers(0, 3)).filter(lambda t: sum(t) <= 4)
    return st.tuples(park, budget.map(list)).map(list)


@settings(max_examples=25, deadline=None)
@given(honest_selections(), st.integers(0, 5), st.binary(min_size=8, max_size=8))
def test_chen_2010_length_leak_every_ballot_has_the_same_length(
    honest: GeneratedRecord, selections: list[list[int]], voter: int, seed: bytes
) -> None:
    e = honest.election
    reference, _ = encrypt_ballot(e.ctx, e.voters[0], [[1, 0, 0], [0, 0]], SeededRng(b"ref"))
    ballot, _ = encrypt_ballot(e.ctx, e.voters[voter], selections, SeededRng(seed))
    assert len(ballot.canonical()) == len(reference.canonical())
    assert len(wire_bytes(ballot.to_json())) == len(wire_bytes(reference.to_json()))
    assert len(canonical_json({"ballot": ballot.to_json()})) == len(
        canonical_json({"ballot": reference.to_json()})
    )


@settings(max_examples=10, deadline=None)
@given(
    st.integers(2, 5),  # options
    st.integers(1, 4),  # max_score
    st.lists(st.integers(1, 1000), min_size=2, max_size=4),  # weights
    st.data(),
)
def test_chen_2010_length_leak_length_depends_only_on_the_manifest(
    options: int, max_score: int, weights: list[int], data
) -> None:
    """For random score questions with random voter weights, a blank ballot, a
    full ballot and random ballots all have one length; the weight (which is
    public in the credential list) is not in the ballot at all."""
    manifest = Manifest.from_json({
        "election_id": "traffic",
        "title": "t",
        "questions": [{
            "id": "q", "title": "q", "options": [f"option {i}" for i in range(options)],
            "kind": "score", "min": 0, "max": max_score * options - 1, "max_score": max_score,
        }],
    })
    voters = issue_credentials(len(weights), rng)
    creds = CredentialList(tuple(PublicCredential(v.verify_key, w)
                                 for v, w in zip(voters, weights, strict=True)))
    key = Point.base_mul(Scalar.random(rng))
    ctx = ElectionContext.build(manifest, key, [[key]], creds)
    top = max_score * options - 1
    blank = [0] * options
    full = [max_score] * (options - 1) + [max_score - 1]
    chosen = data.draw(st.lists(st.integers(0, max_score), min_size=options, max_size=options)
                       .filter(lambda v: sum(v) <= top))
    lengths = {
        len(encrypt_ballot(ctx, voters[i % len(voters)], [sel], rng)[0].canonical())
        for i, sel in enumerate([blank, full, chosen])
    }
    assert len(lengths) == 1


def test_chen_2010_length_leak_ballots_on_the_live_board_have_one_length(live: ApiElection) -> None:
    """Different voters, different choices, re-votes: every ballot the server
    stored (and every request body) has the same length."""
    sizes = set()
    for voter, choice in [(0, 0), (1, 1), (2, 2), (0, 2), (3, 1)]:
        sel = [[int(o == choice) for o in range(3)]]
        ballot, _ = live.ballot(voter, sel)
        sizes.add(len(wire_bytes(ballot.to_json())))
        assert live.cast(ballot, login=live.login(voter)).status_code == 201
    stored = {
        len(canonical_json(entry.payload["ballot"]))
        for entry in live.entries()
        if entry.kind == "ballot_cast"
    }
    assert len(sizes) == 1 and len(stored) == 1
