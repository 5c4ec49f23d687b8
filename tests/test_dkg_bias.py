"""The rushing-adversary bias of docs/protocol-trustees.md §5.8 (issue 14 item 8).

c colluding trustees wait until the first information about the joint key is
public, compute the key each way of dropping some of themselves out would give
(2^c candidates), pick the one they like, and drop exactly those colluders.

On evote v1's Pedersen DKG the Feldman values a_i0·G were revealed *before*
QUAL was fixed, and a colluder dropped out by dealing a bad share and not
answering the complaint: this test, at commit 19f6547 ("The bias attack of
protocol-trustees §5.8 as a test"), reached all 2^c = 4 keys with c = 2 of 4.

On the GJKR ceremony the first information about the key (a Feldman reveal)
comes only after ``ceremony_qualified`` has fixed QUAL, and a QUAL dealer that
withholds its reveal, or tries a wrong one, is rebuilt in public from the
shares it dealt.  The same strategy now reaches exactly one key.
"""

from __future__ import annotations

import itertools

import pytest

from evote import dkg
from evote.dkg import trustee as dkg_trustee
from evote.drbg import SeededRng
from evote.errors import KeyCeremonyError
from evote.group import Point, Scalar

EID = "dkg-bias-election"
N, T = 4, 2
COLLUDERS = (3, 4)
SUBSETS = [frozenset(d) for r in range(len(COLLUDERS) + 1)
           for d in itertools.combinations(COLLUDERS, r)]


class Phase1:
    """Phase 1 done honestly by everyone (the colluders have no reason to cheat yet:
    nothing about the key is public) and QUAL fixed."""

    def __init__(self, seed: bytes) -> None:
        rng = SeededRng(seed)
        started = [dkg_trustee.step1_announce(EID, i, N, T, rng) for i in range(1, N + 1)]
        self.states = {s.trustee: s for s, _ in started}
        self.anns = [a for _, a in started]
        self.shares = [dkg_trustee.step2_shares(s, self.anns, rng) for s in self.states.values()]
        for s in self.states.values():
            assert not isinstance(dkg_trustee.step3_receive(s, self.anns, self.shares), list)
        self.qualified = dkg.qualified_set(EID, N, T, self.anns, [], [])
        assert self.qualified == (1, 2, 3, 4)
        self.reveals = {i: dkg_trustee.step5_reveal(s, SeededRng(seed + b"/reveal/%d" % i))
                        for i, s in self.states.items()}

    def key_if_withheld(self, withheld: frozenset[int]) -> dkg.JointKey:
        """The colluders in ``withheld`` do not reveal (having seen the honest reveals):
        the official names them in ceremony_reconstruct and every other trustee
        publishes the shares they dealt it."""
        reveals = [c for i, c in self.reveals.items() if i not in withheld]
        missing = dkg.unrevealed(self.qualified, reveals)
        assert set(missing) == set(withheld)
        recs = [r for s in self.states.values() if s.trustee not in withheld
                for r in dkg_trustee.step6_reconstruct(s, self.anns, self.shares, [], missing)]
        return dkg.verify_ceremony(EID, N, T, self.anns, [], [], reveals, recs)


def test_colluders_who_withhold_their_reveal_cannot_change_the_key() -> None:
    ceremony = Phase1(b"bias/1")
    # What the colluders see before deciding: the honest trustees' reveals.
    honest_sum = ceremony.reveals[1].coefficients[0] + ceremony.reveals[2].coefficients[0]
    assert isinstance(honest_sum, Point)
    keys = {withheld: ceremony.key_if_withheld(withheld) for withheld in SUBSETS}
    assert len({k.joint_key.raw for k in keys.values()}) == 1  # 2^c strategies, one key
    assert len({canonical(k) for k in keys.values()}) == 1  # verification keys too
    for k in keys.values():
        assert k.qualified == (1, 2, 3, 4)  # nobody dropped out


def canonical(joint: dkg.JointKey) -> str:
    return repr(sorted((j, p.raw) for j, p in joint.verification_keys.items()))


def test_a_wrong_reveal_is_refused_and_the_dealer_is_rebuilt() -> None:
    """A colluder 'reveals' Feldman values of its own choice (a fresh polynomial it
    knows, with valid Schnorr proofs): they do not open its Pedersen commitments,
    so the reveal is refused and it is rebuilt, with the same key as honesty."""
    ceremony = Phase1(b"bias/2")
    rng = SeededRng(b"bias/2/liar")
    liar = ceremony.states[3]
    fake_poly = tuple(Scalar.random(rng) for _ in range(T))
    fake = dkg_trustee.step5_reveal(
        dkg_trustee.TrusteeState(EID, 3, N, T, liar.signing_key, liar.box_secret, fake_poly,
                         liar.blinding, tuple(Point.base_mul(a) + dkg.H * b
                                              for a, b in zip(fake_poly, liar.blinding,
                                                              strict=True))), rng)
    with pytest.raises(KeyCeremonyError, match="does not open the announced commitment"):
        dkg.check_commitments(EID, ceremony.anns[2], fake)
    with pytest.raises(KeyCeremonyError, match="trustee 3, step 5"):
        dkg.verify_ceremony(EID, N, T, ceremony.anns, [], [],
                            [c for i, c in ceremony.reveals.items() if i != 3] + [fake])
    assert ceremony.key_if_withheld(frozenset({3})) == ceremony.key_if_withheld(frozenset())


def test_dropping_out_in_phase_1_is_decided_blind() -> None:
    """The colluders' only remaining lever is to leave QUAL in phase 1, when the
    board holds only Pedersen commitments.  Those are perfectly hiding: for any
    candidate constant term a there is a blinding b with a·G + b·H = E_0, so
    the phase-1 board is consistent with every joint key.  Shown here for the
    one thing a test can check: the phase-1 messages carry no Feldman value
    of any trustee (no a_i0·G appears in them)."""
    ceremony = Phase1(b"bias/3")
    feldman = {c.coefficients[0].raw for c in ceremony.reveals.values()}
    phase1_points = {e.raw for a in ceremony.anns for e in a.pedersen}
    assert not feldman & phase1_points
    blob = b"".join(repr(a.to_json()).encode() + repr(s.to_json()).encode()
                    for a, s in zip(ceremony.anns, ceremony.shares, strict=True))
    from evote.encoding import b64encode
    for raw in feldman:
        assert b64encode(raw).encode() not in blob
