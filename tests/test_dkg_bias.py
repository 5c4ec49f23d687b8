"""The rushing-adversary bias of docs/protocol-trustees.md §5.8 (issue 14 item 8).

c colluding trustees wait until every trustee's Feldman commitments are on the
board, compute the joint key each way of disqualifying some of themselves would
give (2^c candidates), pick the one they like, and get exactly those
colluders disqualified (deal a bad share, never answer the complaint).

On Pedersen's DKG (evote before issue 14) this works: the test shows the
colluders reach every one of the 2^c keys, so they choose among them.
"""

from __future__ import annotations

import itertools

from evote import dkg
from evote.drbg import SeededRng
from evote.group import Point, Scalar

EID = "dkg-bias-election"
N, T = 4, 2
COLLUDERS = (3, 4)


def _ceremony_with_dropouts(drop: frozenset[int], seed: bytes) -> tuple[dkg.JointKey, dict]:
    """One ceremony from ``seed``; the colluders in ``drop`` get themselves disqualified
    *after* seeing all commitments: a bad share to trustee 1, no answer to its complaint."""
    rng = SeededRng(seed)
    started = [dkg.step1_announce(EID, i, N, T, rng) for i in range(1, N + 1)]
    states = {s.trustee: s for s, _ in started}
    anns = [a for _, a in started]
    comms = [dkg.step2_reveal(s) for s in states.values()]
    # --- here every C_i0 is public: the colluders know all 2^c candidate keys ---
    shares = []
    for s in states.values():
        msg = dkg.step3_shares(s, anns, SeededRng(seed + b"/boxes/%d" % s.trustee))
        if s.trustee in drop:
            bad = dkg._eval_polynomial(s.polynomial, 1) + Scalar.from_int(1)
            box = dkg.seal_share(EID, s.trustee, 1, s.box_secret, anns[0].box_key, bad,
                                 SeededRng(seed + b"/bad")(dkg.NONCE_BYTES))
            msg = dkg.EncryptedShares.create(
                EID, s.signing_key, dealer=s.trustee,
                boxes=[(j, box if j == 1 else b) for j, b in msg.boxes])
        shares.append(msg)
    complaints = []
    for s in states.values():
        out = dkg.step4_receive(s, anns, comms, shares)
        if isinstance(out, list):
            complaints += out
    answers = [a for s in states.values() if s.trustee not in drop
               for a in dkg.step5_answer(s, anns, complaints)]
    joint = dkg.verify_ceremony(EID, N, T, anns, comms, complaints, answers)
    return joint, {c.trustee: c.coefficients[0] for c in comms}


def _candidates(constant_terms: dict[int, Point]) -> dict[frozenset[int], Point]:
    """What the colluders compute from the revealed commitments alone."""
    out = {}
    for r in range(len(COLLUDERS) + 1):
        for drop in itertools.combinations(COLLUDERS, r):
            acc = None
            for i, c in constant_terms.items():
                if i not in drop:
                    acc = c if acc is None else acc + c
            out[frozenset(drop)] = acc
    return out


def _preferred(keys: dict[frozenset[int], Point]) -> frozenset[int]:
    """The colluders' taste: e.g. the key with the smallest encoding."""
    return min(keys, key=lambda d: keys[d].raw)


def test_colluders_choose_among_2_to_the_c_keys_on_pedersens_dkg() -> None:
    seed = b"bias/1"
    _, constant_terms = _ceremony_with_dropouts(frozenset(), seed)
    candidates = _candidates(constant_terms)
    assert len({k.raw for k in candidates.values()}) == 2 ** len(COLLUDERS)
    reached = {}
    for drop in candidates:
        joint, _ = _ceremony_with_dropouts(drop, seed)
        assert set(joint.qualified) == set(range(1, N + 1)) - drop
        reached[drop] = joint.joint_key
    # every candidate is reachable, so the colluders get the one they prefer
    assert reached == candidates
    choice = _preferred(candidates)
    joint, _ = _ceremony_with_dropouts(choice, seed)
    assert joint.joint_key == candidates[choice]
