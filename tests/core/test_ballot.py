"""Ballots end to end with real crypto: encrypt, verify, decrypt, tamper, attack, audit."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from evote.ballot import (
    AuditedBallot,
    Ballot,
    BallotRandomness,
    EncryptedAnswer,
    encrypt_ballot,
    encrypt_ballot_deterministic,
    option_proof_context,
    sign_ballot,
    sum_proof_context,
    verify_audit,
    verify_ballot,
)
from evote.credentials import CredentialList, PublicCredential, issue_credentials
from evote.drbg import SeededRng
from evote.elgamal import Ciphertext, decrypt_to_point, discrete_log, encrypt, sum_ciphertexts
from evote.encoding import b64decode, b64encode, canonical_json, parse_json
from evote.errors import (
    AuditMismatch,
    CredentialError,
    EncodingError,
    InvalidBallot,
    InvalidPoint,
    InvalidProof,
    InvalidScalar,
    InvalidSignature,
    SchemaError,
)
from evote.fingerprint import ElectionContext, election_fingerprint
from evote.group import IDENTITY, G, L, Point, Scalar
from evote.hashing import TAG_BALLOT, TAG_FINGERPRINT, enc_int, tagged_hash, transcript
from evote.manifest import Manifest
from evote.proofs import prove_range, verify_range

rng = SeededRng(b"test_ballot")
SECRET = Scalar.random(rng)
KEY = Point.base_mul(SECRET)
COMMITMENTS = [[KEY, Point.base_mul(Scalar.random(rng))]]

MANIFEST = Manifest.from_json(
    {
        "election_id": "city-2025",
        "title": "City poll",
        "questions": [
            # q0: pick exactly one of three (sum proof over [1, 1]).
            {
                "id": "mayor",
                "title": "Mayor",
                "options": ["Ann", "Bob", "Cy"],
                "kind": "choice",
                "min": 1,
                "max": 1,
            },
            # q1: 0..3 points each, at most 6 in total (sum proof over [0, 6]).
            {
                "id": "rate",
                "title": "Rate",
                "options": ["Buses", "Trams", "Metro"],
                "kind": "score",
                "min": 0,
                "max": 6,
                "max_score": 3,
            },
            # q2: any subset of two (no sum proof needed).
            {
                "id": "parks",
                "title": "Parks",
                "options": ["North", "South"],
                "kind": "choice",
                "min": 0,
                "max": 2,
            },
        ],
    }
)
VOTERS = issue_credentials(3, rng)
OUTSIDER = issue_credentials(1, SeededRng(b"outsider"))[0]
CREDENTIALS = CredentialList(
    (
        PublicCredential(VOTERS[0].verify_key),
        PublicCredential(VOTERS[1].verify_key, 5),
        PublicCredential(VOTERS[2].verify_key),
    )
)
CTX = ElectionContext.build(MANIFEST, KEY, COMMITMENTS, CREDENTIALS)

SELECTION = [[0, 1, 0], [3, 0, 2], [1, 1]]
BALLOT, SECRETS = encrypt_ballot(CTX, VOTERS[0], SELECTION, rng)
BASE_JSON = BALLOT.to_json()
CANONICAL_LENGTH = len(BALLOT.canonical())


def selections() -> st.SearchStrategy[list[list[int]]]:
    one_hot = st.integers(0, 2).map(lambda i: [int(i == j) for j in range(3)])
    scores = st.lists(st.integers(0, 3), min_size=3, max_size=3).filter(lambda v: sum(v) <= 6)
    subset = st.lists(st.integers(0, 1), min_size=2, max_size=2)
    return st.tuples(one_hot, scores, subset).map(list)


def reparse(ballot: Ballot) -> Ballot:
    """What the server does with the bytes it receives."""
    return Ballot.from_json(parse_json(ballot.canonical()), MANIFEST)


def decrypt_all(ballot: Ballot) -> list[list[int]]:
    return [
        [discrete_log(decrypt_to_point(SECRET, ct), q.max_score) for ct in a.choices]
        for q, a in zip(MANIFEST.questions, ballot.answers, strict=True)
    ]


def no_rng(n: int) -> bytes:
    raise AssertionError("randomness was drawn before the selections were checked")


# -- round trip ----------------------------------------------------------------


@settings(max_examples=15, deadline=None)
@given(selections(), st.integers(0, 2))
def test_encrypt_verify_decrypt_round_trip(sel: list[list[int]], voter: int) -> None:
    ballot, secrets = encrypt_ballot(CTX, VOTERS[voter], sel, rng)
    received = reparse(ballot)
    assert received == ballot
    assert verify_ballot(CTX, received) == (5 if voter == 1 else 1)
    assert decrypt_all(received) == sel
    assert secrets.selections == tuple(map(tuple, sel))
    # Traffic-analysis defence: the length never depends on the choices or the voter.
    assert len(ballot.canonical()) == CANONICAL_LENGTH


def test_canonical_forms_and_hashes() -> None:
    assert BALLOT.canonical() == canonical_json(BALLOT.to_json())
    unsigned = BALLOT.to_json()
    del unsigned["signature"]
    assert BALLOT.content_for_signature() == canonical_json(unsigned)
    assert BALLOT.ballot_hash() == tagged_hash(TAG_BALLOT, BALLOT.canonical())
    code = BALLOT.tracking_code
    assert len(code) == 19 and code.count("-") == 3
    assert reparse(BALLOT).tracking_code == code


def test_shape_follows_the_manifest() -> None:
    assert "sum_proof" in BASE_JSON["answers"][0] and "sum_proof" in BASE_JSON["answers"][1]
    assert "sum_proof" not in BASE_JSON["answers"][2]
    assert len(BASE_JSON["answers"][0]["sum_proof"]) == 1  # [1, 1]
    assert len(BASE_JSON["answers"][1]["sum_proof"]) == 7  # [0, 6]
    assert [len(p) for p in BASE_JSON["answers"][1]["proofs"]] == [4, 4, 4]


def test_deterministic_variant_reproduces_bytes() -> None:
    randomness = BallotRandomness.random(MANIFEST, SeededRng(b"r"))
    a = encrypt_ballot_deterministic(CTX, VOTERS[2], SELECTION, randomness, SeededRng(b"p"))
    b = encrypt_ballot_deterministic(CTX, VOTERS[2], SELECTION, randomness, SeededRng(b"p"))
    assert a.canonical() == b.canonical()
    assert a.answers[0].choices[1] == encrypt(KEY, 1, randomness.values[0][1])


def test_equal_length_for_extreme_ballots() -> None:
    lengths = {
        len(encrypt_ballot(CTX, v, s, rng)[0].canonical())
        for v in VOTERS
        for s in ([[1, 0, 0], [0, 0, 0], [0, 0]], [[0, 0, 1], [3, 3, 0], [1, 1]])
    }
    assert lengths == {CANONICAL_LENGTH}


# -- invalid selections, rejected before any randomness is drawn ------------------

INVALID_SELECTIONS = [
    ([[0, 1, 0], [0, 0, 0]], "selections: expected 3 questions, got 2"),
    ("abc", "selections: expected one list of values per question"),
    (
        [[0, 1], [0, 0, 0], [0, 0]],
        "selections[0] (question 'mayor'): expected 3 values, one per option, got 2",
    ),
    (
        [[0, 1, 0], 5, [0, 0]],
        "selections[1] (question 'rate'): expected a list of 3 values, one per option",
    ),
    ([[0, 2, 0], [0, 0, 0], [0, 0]], "selections[0][1]: must be 0 or 1, got 2"),
    ([[0, -1, 1], [0, 0, 0], [0, 0]], "selections[0][1]: must be 0 or 1, got -1"),
    ([[0, 1, 0], [4, 0, 0], [0, 0]], "selections[1][0]: must be between 0 and 3, got 4"),
    ([[0, True, 0], [0, 0, 0], [0, 0]], "selections[0][1]: expected an integer"),
    ([[0, 1.0, 0], [0, 0, 0], [0, 0]], "selections[0][1]: expected an integer"),
    (
        [[1, 1, 0], [0, 0, 0], [0, 0]],
        "selections[0] (question 'mayor'): 2 options marked, at most 1 allowed",
    ),
    (
        [[0, 0, 0], [0, 0, 0], [0, 0]],
        "selections[0] (question 'mayor'): 0 options marked, at least 1 required",
    ),
    (
        [[0, 0, 1], [3, 3, 1], [0, 0]],
        "selections[1] (question 'rate'): 7 points given, at most 6 allowed",
    ),
]


@pytest.mark.parametrize(("sel", "message"), INVALID_SELECTIONS)
def test_invalid_selections_are_rejected_before_encryption(sel: Any, message: str) -> None:
    with pytest.raises(InvalidBallot) as info:
        encrypt_ballot(CTX, VOTERS[0], sel, no_rng)
    assert info.value.message == message


def test_unlisted_credential_cannot_encrypt_or_cast() -> None:
    with pytest.raises(CredentialError, match="not on the published list"):
        encrypt_ballot(CTX, OUTSIDER, SELECTION, rng)
    forged = sign_ballot(CTX, OUTSIDER, BALLOT.answers)
    with pytest.raises(CredentialError, match="not on the published list"):
        verify_ballot(CTX, reparse(forged))


def test_ballot_for_another_election_is_rejected() -> None:
    doc = copy.deepcopy(BASE_JSON)
    doc["election_id"] = "city-2026"
    with pytest.raises(InvalidBallot, match="ballot is for election 'city-2026', not 'city-2025'"):
        verify_ballot(CTX, Ballot.from_json(doc, MANIFEST))


# -- tampering: flip one bit of one field ----------------------------------------


def leaves(obj: Any, path: tuple = ()) -> list[tuple[tuple, str]]:
    """Every base64 leaf of a ballot document with the kind of field it is."""
    if isinstance(obj, dict):
        return [
            leaf for k, v in obj.items() if k != "election_id" for leaf in leaves(v, (*path, k))
        ]
    if isinstance(obj, list):
        return [leaf for i, v in enumerate(obj) for leaf in leaves(v, (*path, i))]
    if path[0] in ("credential", "signature"):
        return [(path, path[0])]
    return [(path, "ciphertext" if "choices" in path else "proof")]


LEAVES = leaves(BASE_JSON)


def flipped(doc: dict, path: tuple, bit: int) -> dict:
    out = copy.deepcopy(doc)
    parent = out
    for k in path[:-1]:
        parent = parent[k]
    raw = bytearray(b64decode(parent[path[-1]]))
    raw[(bit // 8) % len(raw)] ^= 1 << (bit % 8)
    parent[path[-1]] = b64encode(bytes(raw))
    return out


def test_leaf_enumeration_covers_every_field() -> None:
    kinds = {kind for _, kind in LEAVES}
    assert kinds == {"ciphertext", "proof", "credential", "signature"}
    # 8 ciphertexts x 2 points; (3x2 + 3x4 + 2x2) option branches + 1 + 7 sum branches, x 2 scalars.
    assert len(LEAVES) == 16 + 2 * (6 + 12 + 4 + 8) + 2


#: Without the credential (a network attacker or the server): the signature catches
#: every change that still parses.
EXPECTED_UNSIGNED = {
    "ciphertext": (InvalidPoint, InvalidSignature),
    "proof": (InvalidScalar, InvalidSignature),
    "credential": (CredentialError,),
    "signature": (InvalidSignature,),
}


@settings(max_examples=25, deadline=None)
@given(st.sampled_from(LEAVES), st.integers(0, 511))
def test_one_bit_change_without_the_key_is_rejected(leaf: tuple[tuple, str], bit: int) -> None:
    path, kind = leaf
    doc = flipped(BASE_JSON, path, bit)
    with pytest.raises(EXPECTED_UNSIGNED[kind]):
        verify_ballot(CTX, Ballot.from_json(doc, MANIFEST))


#: With the credential (the voter's own device re-signs): the proofs catch it.
EXPECTED_RESIGNED = {
    "ciphertext": (InvalidPoint, InvalidProof),
    "proof": (InvalidScalar, InvalidProof),
}


@settings(max_examples=25, deadline=None)
@given(
    st.sampled_from([leaf for leaf in LEAVES if leaf[1] in EXPECTED_RESIGNED]), st.integers(0, 255)
)
def test_one_bit_change_re_signed_by_the_voter_is_rejected(
    leaf: tuple[tuple, str], bit: int
) -> None:
    path, kind = leaf
    doc = flipped(BASE_JSON, path, bit)
    with pytest.raises(EXPECTED_RESIGNED[kind]):
        tampered = Ballot.from_json(doc, MANIFEST)
        verify_ballot(CTX, reparse(sign_ballot(CTX, VOTERS[0], tampered.answers)))


@settings(max_examples=10, deadline=None)
@given(st.integers(0, 255))
def test_one_bit_change_of_the_fingerprint_is_rejected(bit: int) -> None:
    fp = bytearray(CTX.fingerprint)
    fp[bit // 8] ^= 1 << (bit % 8)
    other = ElectionContext(MANIFEST, KEY, bytes(fp), CREDENTIALS)
    with pytest.raises(InvalidSignature):
        verify_ballot(other, BALLOT)
    # Even re-signed for the other fingerprint, the proofs still name the real one.
    with pytest.raises(InvalidProof):
        verify_ballot(other, sign_ballot(other, VOTERS[0], BALLOT.answers))


# -- named attacks -----------------------------------------------------------------


def test_ballot_copied_to_another_credential_is_rejected() -> None:
    """Same ciphertexts and proofs, re-signed by another listed voter: the proofs
    are bound to the first credential (strong Fiat–Shamir), so they fail."""
    copied = sign_ballot(CTX, VOTERS[1], BALLOT.answers)
    with pytest.raises(InvalidProof) as info:
        verify_ballot(CTX, reparse(copied))
    assert info.value.detail == {"question": 0, "option": 0}


def with_choices(
    q: int, choices: list[Ciphertext], sum_proof: Any = "keep"
) -> list[EncryptedAnswer]:
    answers = list(BALLOT.answers)
    old = answers[q]
    answers[q] = EncryptedAnswer(
        tuple(choices), old.proofs, old.sum_proof if sum_proof == "keep" else sum_proof
    )
    return answers


def minus_one(r: Scalar) -> Ciphertext:
    """An encryption of -1: (r·G, -G + r·K)."""
    return Ciphertext(Point.base_mul(r), -G + KEY * r)


def test_minus_one_and_l_minus_one_are_the_same_point() -> None:
    r = Scalar.random(rng)
    assert minus_one(r) == Ciphertext(
        Point.base_mul(r), Point.base_mul(Scalar.from_int(L - 1)) + KEY * r
    )


@pytest.mark.parametrize(
    ("changes", "bad_option"),
    [
        ({1: 2}, 1),  # a 2 where a 0/1 belongs
        ({2: -1}, 2),  # -1, i.e. L-1 as a scalar
        ({0: 2, 1: -1}, 0),  # [2, -1, 0]: the total is still 1, only option proofs catch it
        ({1: -1, 2: 2}, 1),  # [0, -1, 2]: likewise
    ],
)
def test_out_of_range_ciphertexts_with_copied_proofs_are_rejected(
    changes: dict[int, int], bad_option: int
) -> None:
    """Replace some of the voter's ciphertexts, keep the copied option proofs, re-sign.

    When the forged values still add up to 1, the sum proof is a genuine one
    (the forger knows all the randomness); otherwise it is copied too.
    """
    values = list(SELECTION[0])
    rs = list(SECRETS.randomness.values[0])
    choices = list(BALLOT.answers[0].choices)
    for o, v in changes.items():
        values[o], rs[o] = v, Scalar.random(rng)
        choices[o] = minus_one(rs[o]) if v == -1 else encrypt(KEY, v, rs[o])
    sum_proof = BALLOT.answers[0].sum_proof
    if sum(values) == 1:
        sctx = sum_proof_context(CTX.fingerprint, VOTERS[0].verify_key, "city-2025", 0)
        total = sum_ciphertexts(choices)
        sum_proof = prove_range(sctx, KEY, total, 1, rs[0] + rs[1] + rs[2], 1, 1, rng)
        verify_range(sctx, KEY, total, 1, 1, sum_proof)  # the total really is in range
    ballot = sign_ballot(CTX, VOTERS[0], with_choices(0, choices, sum_proof))
    with pytest.raises(InvalidProof) as info:
        verify_ballot(CTX, reparse(ballot))
    assert info.value.detail == {"question": 0, "option": bad_option}


def _two_marks() -> tuple[list[Ciphertext], list[Any], Scalar]:
    """Two options marked on a pick-one question, each with a valid 0/1 proof."""
    rs = [Scalar.random(rng) for _ in range(3)]
    values = [1, 1, 0]
    choices, proofs = [], []
    for o, (v, r) in enumerate(zip(values, rs, strict=True)):
        ct = encrypt(KEY, v, r)
        pctx = option_proof_context(CTX.fingerprint, VOTERS[0].verify_key, "city-2025", 0, o)
        choices.append(ct)
        proofs.append(prove_range(pctx, KEY, ct, v, r, 0, 1, rng))
    return choices, proofs, rs[0] + rs[1] + rs[2]


def test_over_max_total_with_copied_sum_proof_is_rejected() -> None:
    choices, proofs, _ = _two_marks()
    answers = list(BALLOT.answers)
    answers[0] = EncryptedAnswer(tuple(choices), tuple(proofs), BALLOT.answers[0].sum_proof)
    with pytest.raises(InvalidProof) as info:
        verify_ballot(CTX, reparse(sign_ballot(CTX, VOTERS[0], answers)))
    assert info.value.detail == {"question": 0}
    assert "total is in [1, 1]" in info.value.message


def test_over_max_total_with_forged_sum_proof_is_rejected() -> None:
    choices, proofs, total_r = _two_marks()
    sctx = sum_proof_context(CTX.fingerprint, VOTERS[0].verify_key, "city-2025", 0)
    total = sum_ciphertexts(choices)
    with pytest.raises(ValueError):  # the honest prover refuses outright
        prove_range(sctx, KEY, total, 2, total_r, 1, 1, rng)
    # Claim the total is 1 over a ciphertext of 2: the prover runs, the proof fails.
    forged = prove_range(sctx, KEY, total, 1, total_r, 1, 1, rng)
    answers = list(BALLOT.answers)
    answers[0] = EncryptedAnswer(tuple(choices), tuple(proofs), forged)
    with pytest.raises(InvalidProof) as info:
        verify_ballot(CTX, reparse(sign_ballot(CTX, VOTERS[0], answers)))
    assert info.value.detail == {"question": 0}


# -- decoding: shape and values, with paths -----------------------------------------


def edited(edit) -> dict:
    doc = copy.deepcopy(BASE_JSON)
    edit(doc)
    return doc


def _ans(i: int):
    return lambda d: d["answers"][i]


@pytest.mark.parametrize(
    ("edit", "error", "message"),
    [
        (lambda d: d.pop("signature"), SchemaError, "ballot: missing field 'signature'"),
        (lambda d: d.update(extra=1), SchemaError, "ballot: unknown field 'extra'"),
        (lambda d: d["answers"].pop(), SchemaError, "ballot.answers: expected 3 items, got 2"),
        (
            lambda d: _ans(0)(d).pop("sum_proof"),
            SchemaError,
            "ballot.answers[0]: missing field 'sum_proof'",
        ),
        (
            lambda d: _ans(2)(d).update(sum_proof=[]),
            SchemaError,
            "ballot.answers[2]: unknown field 'sum_proof'",
        ),
        (
            lambda d: _ans(1)(d)["choices"].pop(),
            SchemaError,
            "ballot.answers[1].choices: expected 3 items, got 2",
        ),
        (
            lambda d: _ans(1)(d)["proofs"][2].pop(),
            SchemaError,
            "ballot.answers[1].proofs[2]: expected 4 items, got 3",
        ),
        (
            lambda d: _ans(0)(d)["sum_proof"].append(_ans(0)(d)["sum_proof"][0]),
            SchemaError,
            "ballot.answers[0].sum_proof: expected 1 items, got 2",
        ),
        (
            lambda d: _ans(2)(d)["choices"][1].update(alpha=IDENTITY.to_json()),
            InvalidPoint,
            "ballot.answers[2].choices[1].alpha: point is the identity",
        ),
        (
            lambda d: _ans(2)(d)["choices"][1].update(beta=b64encode(bytes(32))),
            InvalidPoint,
            "ballot.answers[2].choices[1].beta: point has small order",
        ),
        (
            lambda d: _ans(2)(d)["choices"][1].update(
                beta=b64encode(
                    (
                        G
                        + Point(
                            bytes.fromhex(
                                "ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f"
                            )
                        )
                    ).raw
                )
            ),
            InvalidPoint,
            "ballot.answers[2].choices[1].beta: point is not on the curve or not in the prime-order subgroup",
        ),
        (
            lambda d: _ans(2)(d)["choices"][0].update(alpha="AAAA"),
            InvalidPoint,
            "ballot.answers[2].choices[0].alpha: expected 32 bytes of base64url",
        ),
        (
            lambda d: _ans(2)(d)["choices"][0].update(alpha=3),
            SchemaError,
            "ballot.answers[2].choices[0].alpha: expected a base64url string",
        ),
        (
            lambda d: _ans(1)(d)["proofs"][0][3].__setitem__(
                1, b64encode(L.to_bytes(32, "little"))
            ),
            InvalidScalar,
            "ballot.answers[1].proofs[0][3][1]: scalar is not canonical (>= L)",
        ),
        (
            lambda d: d.update(credential=b64encode(bytes(32))),
            EncodingError,
            "ballot.credential: public key has small order",
        ),
        (
            lambda d: d.update(signature=b64encode(bytes(63))),
            EncodingError,
            "ballot.signature: expected 64 bytes of base64url",
        ),
        (lambda d: d.update(election_id=""), SchemaError, "ballot.election_id: must not be empty"),
    ],
)
def test_malformed_ballots_name_the_field(edit, error: type, message: str) -> None:
    with pytest.raises(error) as info:
        Ballot.from_json(edited(edit), MANIFEST)
    assert info.value.message == message


def test_ballot_built_in_code_with_wrong_shape_is_rejected() -> None:
    answers = list(BALLOT.answers)
    answers[2] = EncryptedAnswer(answers[2].choices, answers[2].proofs, answers[0].sum_proof)
    with pytest.raises(SchemaError, match=r"answers\[2\]\.sum_proof: not allowed"):
        verify_ballot(CTX, sign_ballot(CTX, VOTERS[0], answers))


# -- cast or audit -------------------------------------------------------------------


def test_audited_ballot_verifies_and_round_trips() -> None:
    audited = AuditedBallot.from_secrets(BALLOT, SECRETS)
    verify_audit(CTX, audited)
    again = AuditedBallot.from_json(parse_json(canonical_json(audited.to_json())), MANIFEST)
    assert again == audited
    verify_audit(CTX, again)
    assert "secret" in repr(SECRETS)


def test_lying_encryptor_is_caught_by_the_audit() -> None:
    """The device encrypts Cy but tells the voter it encrypted Bob."""
    randomness = BallotRandomness.random(MANIFEST, rng)
    actual = [[0, 0, 1], [3, 0, 2], [1, 1]]
    shown = [[0, 1, 0], [3, 0, 2], [1, 1]]
    ballot = encrypt_ballot_deterministic(CTX, VOTERS[0], actual, randomness, rng)
    verify_ballot(CTX, ballot)  # a perfectly valid ballot, just not the voter's choice
    with pytest.raises(AuditMismatch) as info:
        verify_audit(CTX, AuditedBallot(ballot, tuple(map(tuple, shown)), randomness))
    assert info.value.detail == {"question": 0, "option": 1}


def test_audit_with_wrong_randomness_is_a_mismatch() -> None:
    values = [list(row) for row in SECRETS.randomness.values]
    values[1][2] = Scalar.random(rng)
    bad = BallotRandomness(tuple(map(tuple, values)))
    with pytest.raises(AuditMismatch) as info:
        verify_audit(CTX, AuditedBallot(BALLOT, SECRETS.selections, bad))
    assert info.value.detail == {"question": 1, "option": 2}


def test_audit_also_checks_signature_and_selections() -> None:
    doc = copy.deepcopy(BASE_JSON)
    doc["signature"] = BALLOT.to_json()["signature"][:-2] + (
        "AA" if doc["signature"][-2:] != "AA" else "BA"
    )
    tampered = Ballot.from_json(doc, MANIFEST)
    with pytest.raises(InvalidSignature):
        verify_audit(CTX, AuditedBallot(tampered, SECRETS.selections, SECRETS.randomness))
    with pytest.raises(InvalidBallot, match="2 options marked"):
        verify_audit(CTX, AuditedBallot(BALLOT, ((1, 1, 0), (3, 0, 2), (1, 1)), SECRETS.randomness))


def test_audited_ciphertexts_are_recognisable_in_a_later_ballot() -> None:
    """The server refuses to cast a ballot reusing revealed randomness, even with
    fresh proofs (so a different ballot hash)."""
    proofs_again = encrypt_ballot_deterministic(CTX, VOTERS[0], SELECTION, SECRETS.randomness, rng)
    assert proofs_again.ballot_hash() != BALLOT.ballot_hash()
    assert proofs_again.ciphertext_alphas() == BALLOT.ciphertext_alphas()
    fresh, _ = encrypt_ballot(CTX, VOTERS[0], SELECTION, rng)
    assert not fresh.ciphertext_alphas() & BALLOT.ciphertext_alphas()


# -- the fingerprint ---------------------------------------------------------------


def test_fingerprint_preimage_is_as_documented() -> None:
    md, cd = MANIFEST.digest(), CREDENTIALS.digest()
    a, b = COMMITMENTS[0]
    expected = tagged_hash(TAG_FINGERPRINT, md, KEY.raw, enc_int(1), enc_int(2) + a.raw + b.raw, cd)
    assert election_fingerprint(md, KEY, COMMITMENTS, cd) == expected == CTX.fingerprint
    assert transcript(TAG_FINGERPRINT, [md]).startswith(b"\x00" * 7)


def test_fingerprint_is_injective_over_trustee_grouping_and_binds_every_input() -> None:
    md, cd = MANIFEST.digest(), CREDENTIALS.digest()
    p = [Point.base_mul(Scalar.from_int(i)) for i in (2, 3, 4)]
    base = election_fingerprint(md, KEY, [p[:2], p[2:]], cd)
    variants = [
        election_fingerprint(md, KEY, [p[:1], p[1:]], cd),
        election_fingerprint(md, KEY, [p], cd),
        election_fingerprint(md, KEY, [p[2:], p[:2]], cd),
        election_fingerprint(cd, KEY, [p[:2], p[2:]], md),
        election_fingerprint(md, p[0], [p[:2], p[2:]], cd),
        election_fingerprint(
            md, KEY, [p[:2], p[2:]], CredentialList.of([VOTERS[0].verify_key]).digest()
        ),
    ]
    assert len({base, *variants}) == len(variants) + 1
    with pytest.raises(ValueError):
        election_fingerprint(md, KEY, [], cd)
    with pytest.raises(TypeError):
        election_fingerprint(md[:31], KEY, [p], cd)


# -- the fast reader agrees with the reporting one ---------------------------------


def _nodes(obj: Any, path: tuple = ()) -> list[tuple]:
    """The path of every node of a document (containers and leaves)."""
    out = [path]
    if isinstance(obj, dict):
        out += [p for k, v in obj.items() for p in _nodes(v, (*path, k))]
    elif isinstance(obj, list):
        out += [p for i, v in enumerate(obj) for p in _nodes(v, (*path, i))]
    return out


NODES = _nodes(BASE_JSON)[1:]
REPLACEMENTS = st.one_of(
    st.sampled_from([None, 0, 1, True, 1.5, "", "AA", [], {}, "x" * 65, [0, 0], {"alpha": 0}]),
    st.sampled_from([b64encode(bytes(32)), b64encode(bytes([1]) + bytes(31)), b64encode(b"\xff" * 32),
                     b64encode((L).to_bytes(32, "little")), b64encode(bytes(64)),
                     b64encode(G.raw), b64encode(G.raw) + "=", "A" * 43, "_" * 43, "+" * 43,
                     # valid values, so that some edited ballots still read
                     Scalar.from_int(5).to_json(), (G + G).to_json()]),
)


def _reading(read) -> tuple[str, Any]:
    try:
        return "ok", read()
    except (SchemaError, EncodingError, InvalidPoint, InvalidScalar) as exc:
        return "error", type(exc)


@settings(max_examples=50, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(NODES), st.sampled_from(["replace", "drop", "add"]),
                          REPLACEMENTS), max_size=3))
def test_fast_reader_accepts_exactly_what_the_reporting_reader_accepts(edits) -> None:
    """Ballot.from_json's fast path (``_read_ballot``) returns the same ballot as
    the general reader, or None where the general reader raises."""
    from evote.ballot import _read_ballot

    doc = copy.deepcopy(BASE_JSON)
    for path, how, value in edits:
        parent: Any = doc
        try:
            for k in path[:-1]:
                parent = parent[k]
            if how == "replace":
                parent[path[-1]] = value
            elif how == "drop":
                parent.pop(path[-1])
            elif isinstance(parent, dict):
                parent["extra"] = value
            else:
                parent.append(value)
        except (KeyError, IndexError, TypeError, AttributeError):
            continue  # an earlier edit removed or replaced this node
    fast = _read_ballot(doc, MANIFEST)
    general = _reading(lambda: Ballot._from_json_reporting(doc, MANIFEST, "ballot"))
    if fast is None:
        assert general[0] == "error"
    else:
        assert general == ("ok", fast)
    assert _read_ballot(copy.deepcopy(BASE_JSON), MANIFEST) == BALLOT


@pytest.mark.parametrize("election", ["city-2025", 'quo"te\\é-\U0001f5f3'])
def test_a_ballot_read_from_the_board_reuses_the_entrys_bytes(election: str) -> None:
    """parse_ballot_cast cuts the ballot's canonical bytes out of the entry's: they
    are the ballot's own serialisation, with and without its signature."""
    from evote.board import Entry, next_entry
    from evote.payloads import ballot_cast_payload, parse_ballot_cast

    made = next_entry(None, election=election, kind="ballot_cast", time=7,
                      payload=ballot_cast_payload(BALLOT))
    entry = Entry.from_bytes(made.canonical())
    ballot = parse_ballot_cast(entry, MANIFEST)
    assert ballot == BALLOT
    # Reused, not recomputed: the cached bytes are set before anything asks for them.
    assert {"_canonical", "_content"} <= ballot.__dict__.keys()
    assert ballot.canonical() == canonical_json(BASE_JSON)
    assert ballot.canonical() in entry.canonical()
    unsigned = {k: v for k, v in BASE_JSON.items() if k != "signature"}
    assert ballot.content_for_signature() == canonical_json(unsigned)
    assert verify_ballot(CTX, ballot) == 1
