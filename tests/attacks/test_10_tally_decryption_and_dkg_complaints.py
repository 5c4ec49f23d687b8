"""Item 10 — decrypting the tally without proof, with a wrong proof, with too few
trustees; and a trustee dealing a bad share during key generation.

Threshold decryption is where a verifiable election turns ciphertexts into a
result, and where a dishonest authority can substitute one: the Swiss Post /
Scytl sVote review (Haines, Lewis, Pereira, Teague, "How not to prove your
election outcome", IEEE S&P 2020) showed decryption proofs that could be
forged; systems without decryption proofs (or whose verifiers skip them) simply
trust the authority's number.  In key generation, Pedersen's DKG (Gennaro,
Jarecki, Krawczyk, Rabin, "Secure distributed key generation for discrete-log
based cryptosystems", EUROCRYPT 1999) is only robust with a complaint phase:
otherwise one trustee dealing inconsistent shares leaves honest trustees with
shares that cannot decrypt.

evote's defences: every partial decryption carries a Chaum–Pedersen proof per
option against the trustee's public verification key (a signed one that fails is
recorded and never used; verifier: partial-decryptions names it), a result is accepted only from t valid partials of
distinct qualified trustees (server: 422 decryption; verifier: combination and
result), and a trustee who receives a bad share files a public complaint that
the dealer must answer with a share everybody can check against its Pedersen
commitments, or be disqualified; the joint key is recomputed from the board.
"""

from __future__ import annotations

import pytest
from flask import Flask

from evote import dkg
from evote.ballot import encrypt_ballot
from evote.credentials import CredentialList, issue_credentials
from evote.dkg import trustee as dkg_trustee
from evote.encoding import b64encode
from evote.errors import DecryptionError
from evote.fingerprint import ElectionContext
from evote.group import Scalar
from evote.tally import PartialDecryption, combine, partial_decrypt
from tests.api_election import ApiElection, build_election
from tests.attacks.adversary import (
    command,
    cut_at,
    download_record,
    failures,
    forge_board,
    pairs_of,
    verify,
    verify_zip,
)
from tests.recordgen import GeneratedRecord
from tests.test_dkg import evaluate


def _closed_with_tally(live: ApiElection):
    live.cast_ok(0)
    live.cast_ok(1)
    live.close()
    tally, counted, total = live.counted_tally()
    live.ok("tally_posted", live.official,
            {"tally": tally.to_json(), "counted": counted, "total_weight": total})
    return tally, total


def _refused(e: ApiElection, kind: str, key, body: dict, status: int, code: str) -> dict:
    """Post a command; it must be refused with ``status``/``code`` and write nothing."""
    size = e.size()
    response = e.post(kind, key, body)
    assert response.status_code == status, response.get_json()
    body = response.get_json()
    assert body["code"] == code, body
    assert e.size() == size
    return body


# --- partial decryptions ------------------------------------------------------------------


def test_swiss_post_2019_partial_decryption_without_proof_is_refused(live: ApiElection) -> None:
    tally, _ = _closed_with_tally(live)
    partial = live.partials(tally, [1])[0].to_json()
    del partial["shares"][0][0]["proof"]
    body = _refused(live, "partial_decryption", live.trustee_keys[0], partial, 422, "bad_schema")
    assert "proof" in body["message"]


def test_swiss_post_2019_partial_decryption_with_a_wrong_proof_is_never_used(
    live: ApiElection,
) -> None:
    """Trustee 1 posts factors computed with a wrong share (x_1 + 1) and honest
    proofs *for those factors*: they are not proofs for its verification key X_1.
    Robust decryption (docs/protocol-trustees.md §5.13) records the signed partial
    as evidence against trustee 1 but never uses it: a result resting on it is
    refused with 422 decryption naming trustee 1, question 0, option 0.  Trustee 2
    swapping two options' (valid) factor/proof pairs is treated alike; trustee 3's
    valid partial then completes the result."""
    tally, total = _closed_with_tally(live)
    state = next(s for s in live.states if s.trustee == 1)
    wrong = partial_decrypt(live.ctx.fingerprint, 1, state.share + Scalar.from_int(1), tally,
                            live.rng)
    live.ok("partial_decryption", live.trustee_keys[0], wrong.to_json())

    good = live.partials(tally, [2])[0]
    row = list(good.shares[0])
    row[0], row[1] = row[1], row[0]
    swapped = PartialDecryption(2, (tuple(row),))
    live.ok("partial_decryption", live.trustee_keys[1], swapped.to_json())

    honest = live.partials(tally, [2, 3])
    result = combine(live.ctx.fingerprint, tally, honest, live.joint_key, [[total] * 3])
    body = _refused(live, "result_published", live.official, {"result": result.to_json()},
                    422, "decryption")
    assert "need 2 valid partial decryptions, have 0" in body["message"]
    assert "trustee 1: invalid proof for question 0 option 0" in body["message"]
    assert "trustee 2: invalid proof for question 0 option 0" in body["message"]
    live.ok("partial_decryption", live.trustee_keys[2], honest[1].to_json())
    body = _refused(live, "result_published", live.official, {"result": result.to_json()},
                    422, "decryption")
    assert "have 1" in body["message"]


def test_swiss_post_2019_result_from_fewer_than_t_trustees_is_refused(live: ApiElection) -> None:
    """With one of the two partial decryptions needed, the official's result
    (right or wrong) is refused: 422 decryption, need 2 valid partials."""
    tally, total = _closed_with_tally(live)
    partials = live.partials(tally, [1, 2])
    live.ok("partial_decryption", live.trustee_keys[0], partials[0].to_json())
    bounds = [[total] * 3]
    result = combine(live.ctx.fingerprint, tally, partials, live.joint_key, bounds)
    body = _refused(live, "result_published", live.official, {"result": result.to_json()},
                    422, "decryption")
    assert "need 2 valid partial decryptions, have 1" in body["message"]
    live.ok("partial_decryption", live.trustee_keys[1], partials[1].to_json())
    live.ok("result_published", live.official, {"result": result.to_json()})


def test_swiss_post_2019_result_without_t_partials_on_the_board_fails_the_verifier(
    honest: GeneratedRecord, record_copy
) -> None:
    """An official who learned the result privately from colluding trustees posts
    it with a single partial decryption on the board: combination fails (need
    2, have 1) and so does result."""
    e = honest.election
    pairs = pairs_of(honest.entries)
    first_partial = next(i for i, (k, _) in enumerate(pairs) if k == "partial_decryption")
    kept = [p for i, p in enumerate(pairs) if p[0] != "partial_decryption" or i == first_partial]
    forge_board(record_copy, e, kept)
    failed = failures(verify(record_copy))
    assert failed["combination"] == "decryption"
    assert failed["result"] == "decryption"


def test_swiss_post_2019_partial_from_an_unqualified_trustee_fails_the_verifier(
    honest: GeneratedRecord, record_copy
) -> None:
    """A partial decryption signed for trustee index 4 of a 3-trustee election
    (an outsider, or a disqualified dealer) is never used."""
    e = honest.election
    pairs = cut_at(honest.entries, "result_published")
    at = next(i for i, (k, _) in enumerate(pairs) if k == "partial_decryption")
    body = dict(pairs[at][1]["body"])
    body["trustee"] = 4
    pairs[at] = command(e, "partial_decryption", e.states[0].signing_key, body)
    rest = pairs_of(honest.entries)[len(cut_at(honest.entries, "result_published")):]
    forge_board(record_copy, e, [*pairs, *rest])
    report = verify(record_copy)
    failed = failures(report)
    # no trustee 4 may sign anything: the signer rule breaks first (docs/rules.md §2)
    assert failed["command-signatures"] == "wrong_signer"
    assert report.check("command-signatures").first_failure.rule == "R-SIG-02"
    assert failed["combination"] == "decryption"


# --- key generation: a trustee deals a bad share --------------------------------------------


def _bad_dealer_election(app: Flask, *, answer: str) -> tuple[ApiElection, dkg.JointKey]:
    """Trustee 3 deals trustee 1 a share that fails Pedersen's check.  Trustee 1
    complains in public; trustee 3 then answers with ``answer``: "nothing",
    "the bad share" (refused by the server) or "the right share".  Then the
    official fixes QUAL (GJKR's cut) and QUAL reveals its Feldman values."""
    e = build_election(app.test_client(), seed=b"attacks-bad-dealer", stop_before="trustee_shares")
    eid = e.election_id
    shares = []
    for s in e.states:
        msg = dkg_trustee.step2_shares(s, e.announcements, e.rng)
        if s.trustee == 3:
            bad = evaluate(s.polynomial, 1) + Scalar.from_int(1)
            blinding = evaluate(s.blinding, 1)
            box = dkg_trustee.seal_share(eid, 3, 1, s.box_secret, e.announcements[0].box_key, bad,
                                 blinding, e.rng(dkg.NONCE_BYTES))
            boxes = [(j, box if j == 1 else b) for j, b in msg.boxes]
            msg = dkg.EncryptedShares.create(eid, s.signing_key, dealer=3, boxes=boxes)
        shares.append(msg)
        e.ok("trustee_shares", e.trustee_keys[s.trustee - 1], msg.to_json())
    e.shares = shares
    outcome = dkg_trustee.step3_receive(e.states[0], e.announcements, shares)
    assert isinstance(outcome, list) and [(c.accuser, c.accused, c.reason) for c in outcome] == [
        (1, 3, "bad-share")]
    complaint = outcome[0]
    e.ok("trustee_complaint", e.trustee_keys[0], complaint.to_json())

    answers: list[dkg.ComplaintAnswer] = []
    if answer == "the bad share":
        lie = dkg.ComplaintAnswer.create(eid, e.states[2].signing_key, dealer=3, accuser=1,
                                         share=bad, blinding=blinding)
        body = _refused(e, "trustee_complaint_answer", e.trustee_keys[2], lie.to_json(),
                        422, "key_ceremony")
        assert "trustee 3, step 4" in body["message"]
    elif answer == "the right share":
        answers = dkg_trustee.step4_answer(e.states[2], e.announcements, [complaint])
        e.ok("trustee_complaint_answer", e.trustee_keys[2], answers[0].to_json())

    qualified = dkg.qualified_set(eid, 3, 2, e.announcements, [complaint], answers)
    e.ok("ceremony_qualified", e.official, dkg.Qualified(qualified).to_json())
    e.commitments = [dkg_trustee.step5_reveal(s, e.rng) for s in e.states]
    for c in e.commitments:
        if c.trustee in qualified:
            e.ok("trustee_committed", e.trustee_keys[c.trustee - 1], c.to_json())
        else:  # a disqualified dealer's reveal is refused (R-DKG-02)
            _refused(e, "trustee_committed", e.trustee_keys[c.trustee - 1], c.to_json(),
                     409, "wrong_phase")
    reveals = [c for c in e.commitments if c.trustee in qualified]
    joint = dkg.verify_ceremony(eid, 3, 2, e.announcements, [complaint], answers, reveals)
    finished = {
        s.trustee: dkg_trustee.finalize(s, e.announcements, shares, [complaint], answers, reveals)[1]
        for s in e.states
        if s.trustee in joint.qualified
    }
    e.states = [finished[i] for i in sorted(finished)]
    e.joint_key = joint
    return e, joint


def _open(e: ApiElection, joint: dkg.JointKey) -> None:
    e.ok("key_published", e.official, {"joint_key": joint.to_json()})
    e.credentials = issue_credentials(3, e.rng)
    e.credential_list = CredentialList.of(k.verify_key for k in e.credentials)
    e.ok("credentials_published", e.authority, {"credentials": e.credential_list.to_json()})
    comms = {c.trustee: c.coefficients for c in e.commitments if c.trustee in joint.qualified}
    e.ctx = ElectionContext.build(e.manifest, joint.joint_key, dkg.trustee_commitments(comms),
                                  e.credential_list)
    e.logins = e.ok("register_voters", e.official, {"voters": ["v0", "v1", "v2"]})["logins"]
    e.ok("election_opened", e.official, {"fingerprint": b64encode(e.ctx.fingerprint)})


@pytest.mark.parametrize("answer", ["nothing", "the bad share"])
def test_gjkr1999_bad_dealer_is_disqualified_and_the_election_still_works(
    server_app: Flask, answer: str, tmp_path
) -> None:
    """The bad dealer does not (or cannot) answer the complaint: it is out of
    QUAL; an official who publishes the key *with* trustee 3 is refused (422
    key_ceremony); the key without it is accepted, trustees 1 and 2 decrypt, a
    partial from trustee 3 is refused as unqualified, and the record verifies
    with 2 qualified trustees."""
    e, joint = _bad_dealer_election(server_app, answer=answer)
    assert joint.qualified == (1, 2)

    everyone = dkg.JointKey(
        sum((c.coefficients[0] for c in e.commitments[1:]), e.commitments[0].coefficients[0]),
        2,
        {**joint.verification_keys, 3: e.commitments[2].coefficients[0]},
        (1, 2, 3),
    )
    _refused(e, "key_published", e.official, {"joint_key": everyone.to_json()},
             422, "key_ceremony")
    _open(e, joint)

    ballot, _ = encrypt_ballot(e.ctx, e.credentials[0], [[0, 0, 1]], e.rng)
    assert e.cast(ballot, login=e.login(0)).status_code == 201
    e.close()
    tally, counted, total = e.counted_tally()
    e.ok("tally_posted", e.official,
         {"tally": tally.to_json(), "counted": counted, "total_weight": total})
    fake = partial_decrypt(e.ctx.fingerprint, 3, Scalar.from_int(5), tally, e.rng)
    _refused(e, "partial_decryption", e.trustee_keys[2], fake.to_json(), 422, "decryption")
    partials = e.partials(tally, [1, 2])
    for p in partials:
        e.ok("partial_decryption", e.trustee_keys[p.trustee - 1], p.to_json())
    result = combine(e.ctx.fingerprint, tally, partials, joint, [[total] * 3])
    assert result.counts == ((0, 0, 1),)
    e.ok("result_published", e.official, {"result": result.to_json()})

    report = verify_zip(download_record(e, tmp_path / "record.zip"))
    assert report.ok, failures(report)
    assert report.check("key-ceremony").counts["qualified"] == 2


def test_gjkr1999_complaint_answered_with_the_right_share_keeps_the_dealer(
    server_app: Flask,
) -> None:
    """A dealer that answers with a share passing Pedersen's check stays in QUAL,
    and the complaining trustee uses the revealed share (it can still decrypt)."""
    e, joint = _bad_dealer_election(server_app, answer="the right share")
    assert joint.qualified == (1, 2, 3)
    _open(e, joint)
    ballot, _ = encrypt_ballot(e.ctx, e.credentials[1], [[1, 0, 0]], e.rng)
    assert e.cast(ballot, login=e.login(1)).status_code == 201
    e.close()
    tally, _, total = e.counted_tally()
    partials = e.partials(tally, [1, 3])  # the complainer and the accused, together
    result = combine(e.ctx.fingerprint, tally, partials, joint, [[total] * 3])
    assert result.counts == ((1, 0, 0),)


def test_gjkr1999_decryption_with_a_disqualified_dealers_share_is_useless(
    server_app: Flask,
) -> None:
    """Control: the bad dealer's old polynomial share is not a share of the joint
    key, so its "partial decryption" cannot be combined into the result."""
    e, joint = _bad_dealer_election(server_app, answer="nothing")
    _open(e, joint)
    ballot, _ = encrypt_ballot(e.ctx, e.credentials[2], [[0, 1, 0]], e.rng)
    assert e.cast(ballot, login=e.login(2)).status_code == 201
    tally, _, total = e.counted_tally()
    with pytest.raises(DecryptionError, match="not a qualified trustee"):
        combine(e.ctx.fingerprint, tally,
                [e.partials(tally, [1])[0],
                 partial_decrypt(e.ctx.fingerprint, 3, Scalar.from_int(9), tally, e.rng)],
                joint, [[total] * 3])
