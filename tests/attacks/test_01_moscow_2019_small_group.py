"""Item 1 — undersized or home-made group (Moscow City Duma election, 2019).

Pierrick Gaudry and Alexander Golovnev, "Breaking the encryption scheme of
the Moscow internet voting system" (Financial Cryptography 2020): the system
tested for the September 2019 election encrypted ballots with ElGamal in
multiplicative groups modulo primes of under 256 bits (applied three times
with three keys), and each private key fell to a discrete-log computation in
about twenty minutes on a personal computer.  The replacement, with 1024-bit
keys weeks before the vote, was not semantically secure either: it worked in
the full group modulo p instead of a prime-order subgroup, so each ciphertext
leaked whether the plaintext was a quadratic residue.

evote's defence: one group, fixed in code — the prime-order subgroup of
edwards25519 (order L, about 2^252, where the best attack is generic,
about 2^126 operations) — with every key, point and scalar from outside
validated into it, and no setting, manifest field or record field that could
name another group.
"""

from __future__ import annotations

import dataclasses
import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from nacl import bindings

from ballot_server.config import Settings, load_settings
from evote.dkg import Commitments, ComplaintAnswer, JointKey
from evote.drbg import SeededRng
from evote.encoding import b64encode
from evote.errors import InvalidPoint, InvalidScalar, ManifestError, SchemaError
from evote.group import IDENTITY, SMALL_ORDER_POINTS, G, L, P, Point, Scalar, small_multiple
from evote.manifest import Manifest
from evote.payloads import ElectionCreated, KeyPublished
from evote.record import RecordHeader
from evote.tally import PartialDecryption
from tests.attacks.adversary import command, failures, forge_board, pairs_of, verify
from tests.support.recordgen import DEFAULT_MANIFEST, GeneratedRecord


def _is_probable_prime(n: int, rounds: int = 40) -> bool:
    """Miller–Rabin with seeded bases (error below 4^-40): test code, not protocol code."""
    d, s = n - 1, 0
    while d % 2 == 0:
        d, s = d // 2, s + 1
    rng = SeededRng(b"miller-rabin")
    for _ in range(rounds):
        a = 2 + int.from_bytes(rng(40), "big") % (n - 3)
        x = pow(a, d, n)
        if x in (1, n - 1):
            continue
        for _ in range(s - 1):
            x = pow(x, 2, n)
            if x == n - 1:
                break
        else:
            return False
    return True


def _b64(raw: bytes) -> str:
    return b64encode(raw)  # any 32 bytes; decoding is what is tested


# Encodings of points that are not in the prime-order subgroup (or not points at all).
OUTSIDE_POINTS = {
    **{f"small-order-{i}": p for i, p in enumerate(SMALL_ORDER_POINTS)},
    "cve-2025-69277": bindings.crypto_core_ed25519_add(G.raw, SMALL_ORDER_POINTS[1]),
    "torsion-order-8": bindings.crypto_core_ed25519_add(small_multiple(5).raw, SMALL_ORDER_POINTS[4]),
    "non-canonical-y": (P + 3).to_bytes(32, "little"),
    "off-curve": (2).to_bytes(32, "little"),
}
OUTSIDE_SCALARS = {
    "L": L,
    "L+1": L + 1,
    "2^255": 2**255,
    "2^256-1": 2**256 - 1,
}


def test_moscow_2019_the_group_is_the_fixed_prime_order_subgroup() -> None:
    """The group is prime order L (253 bits) and G generates it: there is no
    small subgroup to confine a key to and no smaller group to fall back to."""
    assert L.bit_length() == 253
    assert _is_probable_prime(L)
    assert G * Scalar.from_int(L - 1) + G == IDENTITY  # order of G divides L, and L is prime
    assert G != IDENTITY
    # The curve's full order is 8·L; the cofactor is exactly what Point rejects.
    assert len(SMALL_ORDER_POINTS) == 8


@settings(max_examples=200, deadline=None)
@given(st.binary(min_size=32, max_size=32))
def test_moscow_2019_any_32_bytes_decode_into_the_group_or_are_refused(raw: bytes) -> None:
    """Whatever 32 bytes an attacker sends as a key, either it is refused with
    InvalidPoint or it is an element of order L (never a point of a smaller group)."""
    try:
        point = Point.from_bytes(raw)
    except InvalidPoint:
        return
    assert point * Scalar.from_int(L - 1) + point == IDENTITY
    assert point != IDENTITY


@pytest.mark.parametrize("name", sorted(OUTSIDE_POINTS))
def test_moscow_2019_election_keys_outside_the_group_are_refused(
    name: str, honest: GeneratedRecord
) -> None:
    """The joint key, each trustee verification key and every coefficient
    commitment are decoded into the group or refused, wherever they arrive."""
    bad = _b64(OUTSIDE_POINTS[name])
    joint = honest.election.joint.to_json()
    with pytest.raises(InvalidPoint):
        JointKey.from_json({**joint, "joint_key": bad})
    with pytest.raises(InvalidPoint):
        KeyPublished.from_json({"joint_key": {**joint, "joint_key": bad}})
    first = str(joint["qualified"][0])
    with pytest.raises(InvalidPoint):
        JointKey.from_json({**joint, "verification_keys": {**joint["verification_keys"], first: bad}})
    commitments = honest.election.messages.commitments[0].to_json()
    coefficients = list(commitments["coefficients"])
    coefficients[0] = bad
    with pytest.raises(InvalidPoint):
        Commitments.from_json({**commitments, "coefficients": coefficients})


@pytest.mark.parametrize("name", sorted(OUTSIDE_SCALARS))
def test_moscow_2019_scalars_outside_the_group_are_refused(
    name: str, honest: GeneratedRecord
) -> None:
    """A scalar >= L (a second spelling of a value mod L, or none at all) is refused
    in proofs and in revealed shares."""
    bad = Scalar(OUTSIDE_SCALARS[name].to_bytes(32, "little")).to_json()
    commitments = honest.election.messages.commitments[0].to_json()
    proofs = [list(p) for p in commitments["proofs"]]
    proofs[0][1] = bad
    with pytest.raises(InvalidScalar):
        Commitments.from_json({**commitments, "proofs": proofs})
    e = honest.election
    answer = ComplaintAnswer.create(
        e.election_id, e.states[0].signing_key, dealer=1, accuser=2, share=Scalar.from_int(7),
        blinding=Scalar.from_int(8),
    ).to_json()
    with pytest.raises(InvalidScalar):
        ComplaintAnswer.from_json({**answer, "share": bad})
    with pytest.raises(InvalidScalar):
        ComplaintAnswer.from_json({**answer, "blinding": bad})
    partial = next(
        p for kind, p in pairs_of(honest.entries) if kind == "partial_decryption"
    )["body"]
    share = dict(partial["shares"][0][0])
    share["proof"] = [share["proof"][0], bad]
    with pytest.raises(InvalidScalar):
        PartialDecryption.from_json({**partial, "shares": [[share, *partial["shares"][0][1:]],
                                                           *partial["shares"][1:]]})


@pytest.mark.parametrize(
    "field", ["group", "curve", "modulus", "generator", "key_bits", "prime"]
)
def test_moscow_2019_no_parameter_lets_a_deployment_choose_the_group(
    field: str, honest: GeneratedRecord
) -> None:
    """Neither the manifest, nor election_created, nor the record header, nor
    the joint key, nor the server's settings has a field that names a group:
    each is refused as an unknown field (or is simply not a setting)."""
    with pytest.raises(ManifestError, match=f"unknown field '{field}'"):
        Manifest.from_json({**DEFAULT_MANIFEST, field: "modp-256"})
    created = next(p for k, p in pairs_of(honest.entries) if k == "election_created")["body"]
    with pytest.raises(SchemaError, match=f"unknown field '{field}'"):
        ElectionCreated.from_json({**created, field: "modp-256"})
    header = honest.election.board_key.verify_key.to_json()
    with pytest.raises(SchemaError, match=f"unknown field '{field}'"):
        RecordHeader.from_json(
            {"format": "evote-record", "version": 1, "election": "x", "board_key": header,
             field: "modp-256"}
        )
    with pytest.raises(SchemaError, match=f"unknown field '{field}'"):
        JointKey.from_json({**honest.election.joint.to_json(), field: 256})
    names = " ".join(f.name for f in dataclasses.fields(Settings)).lower()
    assert field not in names
    env = {"EVOTE_" + field.upper(): "modp-256", "EVOTE_GROUP": "modp-256"}
    assert load_settings("/nonexistent", None, env) == load_settings("/nonexistent", None, {})


def test_moscow_2019_official_publishing_a_torsion_key_fails_the_election(
    honest: GeneratedRecord, record_copy
) -> None:
    """An official who signs key_published with a key outside the group (so that
    ballots could be decrypted by anyone who knows the small subgroup) fails the
    verifier's key-ceremony check at that entry, with invalid_point."""
    e = honest.election
    torsion = _b64(OUTSIDE_POINTS["cve-2025-69277"])
    pairs = pairs_of(honest.entries)
    at = next(i for i, (k, _) in enumerate(pairs) if k == "key_published")
    joint = {**e.joint.to_json(), "joint_key": torsion}
    pairs[at] = command(e, "key_published", e.official, {"joint_key": joint})
    forge_board(record_copy, e, pairs)
    report = verify(record_copy)
    assert failures(report)["key-ceremony"] == "invalid_point"
    assert report.check("key-ceremony").first_failure.index == at


def test_moscow_2019_official_publishing_a_home_made_key_fails_the_election(
    honest: GeneratedRecord, record_copy
) -> None:
    """A valid group element that is not the trustees' joint key (the official's
    own key, whose secret the official holds) is caught: the verifier recomputes
    the joint key from the trustees' messages and finds it breaks R-DKG-11."""
    e = honest.election
    own = Point.base_mul(Scalar.from_int(123456789))
    pairs = pairs_of(honest.entries)
    at = next(i for i, (k, _) in enumerate(pairs) if k == "key_published")
    joint = {**e.joint.to_json(), "joint_key": own.to_json()}
    pairs[at] = command(e, "key_published", e.official, {"joint_key": joint})
    forge_board(record_copy, e, pairs)
    report = verify(record_copy)
    failure = report.check("key-ceremony").first_failure
    assert (failure.rule, failure.code) == ("R-DKG-11", "key_ceremony")
    assert failure.evidence["published"]["joint_key"] == own.to_json()
    assert json.dumps(failure.evidence["recomputed"]) == json.dumps(e.joint.to_json())
