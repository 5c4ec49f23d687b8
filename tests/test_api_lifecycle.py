"""Lifecycle and trustee commands through the API: signer, signature, phase and
payload rules, each refused with its own code and without writing anything.

Runs on SQLite and PostgreSQL (one database per module, one election per test)."""

from __future__ import annotations

import dataclasses

import pytest

from evote import dkg
from evote.commands import sign_command
from evote.credentials import CredentialList
from evote.dkg import Commitments, EncryptedShares, JointKey, Qualified, Reconstruct
from evote.dkg.trustee import (
    finalize,
    step1_announce,
    step2_shares,
    step3_receive,
    step4_answer,
    step5_reveal,
    step6_reconstruct,
)
from evote.drbg import SeededRng
from evote.encoding import b64decode, b64encode
from evote.fingerprint import ElectionContext
from evote.group import G
from evote.payloads import parse_ballot_cast
from evote.signing import SigningKey
from evote.tally import EncryptedTally, Result, aggregate
from tests import api_election
from tests.api_election import API, OFFICIAL, ApiElection, build_election

api_db = api_election.api_db
api_app = api_election.api_app
api_client = api_election.api_client
election = api_election.election


def refused(e: ApiElection, response, status: int, code: str, size: int) -> None:
    assert response.status_code == status, response.get_json()
    assert response.get_json()["code"] == code, response.get_json()
    assert e.size() == size


def created_body(e: ApiElection, official: SigningKey = OFFICIAL) -> dict:
    return {
        "manifest": e.manifest.to_json(),
        "official": official.verify_key.to_json(),
        "credential_authority": e.authority.verify_key.to_json(),
        "trustees": [k.verify_key.to_json() for k in e.trustee_keys],
        "threshold": e.threshold,
    }


def flip_signature(command: dict) -> dict:
    sig = bytearray(b64decode(command["signature"]))
    sig[5] ^= 0x40
    return {**command, "signature": b64encode(bytes(sig))}


# --- election_created ---------------------------------------------------------------


def not_created(e: ApiElection, response, status: int, code: str) -> None:
    assert response.status_code == status, response.get_json()
    assert response.get_json()["code"] == code
    assert e.client.get(e.url).status_code == 404
    ids = [x["id"] for x in e.client.get(f"{API}/elections").get_json()["elections"]]
    assert e.election_id not in ids


def test_create_by_an_official_not_on_the_allow_list_is_refused(api_client) -> None:
    e = build_election(api_client, stop_before="election_created")
    stranger = SigningKey.generate(e.rng)
    response = e.post("election_created", stranger, created_body(e, stranger))
    not_created(e, response, 403, "wrong_signer")


def test_create_naming_another_official_is_refused(api_client) -> None:
    e = build_election(api_client, stop_before="election_created")
    other = SigningKey.generate(SeededRng(b"another official"))  # not on the allow-list
    response = e.post("election_created", OFFICIAL, created_body(e, other))
    not_created(e, response, 403, "wrong_signer")


def test_create_with_one_key_in_two_roles_is_refused(api_client) -> None:
    """The official may not also be the credential authority (R-REC-06)."""
    e = build_election(api_client, stop_before="election_created")
    response = e.post("election_created", OFFICIAL, created_body(e, e.authority))
    not_created(e, response, 422, "bad_schema")


def test_create_with_a_bad_signature_is_refused(api_client) -> None:
    e = build_election(api_client, stop_before="election_created")
    command = sign_command(OFFICIAL, e.election_id, "election_created", created_body(e))
    response = api_client.post(f"{API}/elections", json=flip_signature(command.to_json()))
    not_created(e, response, 422, "invalid_signature")


def test_create_with_a_bad_manifest_is_refused(api_client) -> None:
    e = build_election(api_client, stop_before="election_created")
    body = created_body(e)
    body["manifest"]["questions"][0]["max"] = 5  # more than there are options
    not_created(e, e.post("election_created", OFFICIAL, body), 422, "bad_manifest")


def test_create_with_a_threshold_above_the_trustees_is_refused(api_client) -> None:
    e = build_election(api_client, stop_before="election_created")
    body = {**created_body(e), "threshold": 4}
    not_created(e, e.post("election_created", OFFICIAL, body), 422, "bad_schema")


def test_an_election_id_is_created_once(election: ApiElection) -> None:
    size = election.size()
    response = election.post("election_created", OFFICIAL, created_body(election))
    refused(election, response, 409, "already_exists", size)


def test_election_created_is_not_a_command(election: ApiElection) -> None:
    size = election.size()
    command = sign_command(OFFICIAL, election.election_id, "election_created", created_body(election))
    response = election.client.post(
        f"{election.url}/commands/election_created", json=command.to_json()
    )
    refused(election, response, 409, "wrong_phase", size)


def test_an_unknown_command_kind_is_not_found(election: ApiElection) -> None:
    size = election.size()
    response = election.post("ballot_cast", OFFICIAL, {})
    refused(election, response, 404, "not_found", size)
    response = election.post("make_me_winner", OFFICIAL, {})
    refused(election, response, 404, "not_found", size)


def test_a_command_for_an_unknown_election_is_not_found(api_client) -> None:
    e = build_election(api_client, stop_before="election_created")
    response = e.post("election_closed", OFFICIAL, {})
    assert response.status_code == 404 and response.get_json()["code"] == "not_found"


# --- phase rules ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("stop_before", "kind"),
    [
        ("trustee_announced", "election_closed"),
        ("key_published", "election_opened"),
        ("credentials_published", "election_opened"),
        (None, "tally_posted"),
        (None, "result_published"),
    ],
)
def test_a_command_out_of_phase_is_wrong_phase(api_client, stop_before, kind) -> None:
    e = build_election(api_client, stop_before=stop_before)
    size = e.size()
    body = {"fingerprint": b64encode(bytes(32))} if kind == "election_opened" else {}
    if kind == "tally_posted":
        body = {"tally": aggregate([3], []).to_json(), "counted": 0, "total_weight": 0}
    if kind == "result_published":
        body = {"result": {"counts": [[0, 0, 0]]}}
    refused(e, e.post(kind, OFFICIAL, body), 409, "wrong_phase", size)


def test_a_trustee_message_after_opening_is_wrong_phase(election: ApiElection) -> None:
    size = election.size()
    a = election.announcements[0]
    response = election.post("trustee_announced", election.trustee_keys[0], a.to_json())
    refused(election, response, 409, "wrong_phase", size)


def test_shares_wait_for_every_announcement(api_client) -> None:
    e = build_election(api_client, stop_before="trustee_announced")
    for a in e.announcements[:2]:
        e.ok("trustee_announced", e.trustee_keys[a.trustee - 1], a.to_json())
    size = e.size()
    dealt = step2_shares(e.states[0], e.announcements, e.rng)
    response = e.post("trustee_shares", e.trustee_keys[0], dealt.to_json())
    refused(e, response, 409, "wrong_phase", size)
    assert response.get_json()["rule"] == "R-DKG-04"


def _rule(response) -> str:
    return response.get_json()["rule"]


def test_no_feldman_value_before_qual_is_fixed(api_client) -> None:
    """GJKR's cut: a reveal before ceremony_qualified is refused (R-DKG-02), and so is
    the key (R-DKG-18); QUAL must be the recomputed one (R-DKG-15)."""
    e = build_election(api_client, stop_before="ceremony_qualified")
    size = e.size()
    early = step5_reveal(e.states[0], e.rng)
    response = e.post("trustee_committed", e.trustee_keys[0], early.to_json())
    refused(e, response, 409, "wrong_phase", size)
    assert _rule(response) == "R-DKG-02"
    wrong = e.post("ceremony_qualified", OFFICIAL, Qualified((1, 2)).to_json())
    refused(e, wrong, 422, "key_ceremony", size)
    assert _rule(wrong) == "R-DKG-15" and "qualify [1, 2, 3]" in wrong.get_json()["message"]
    by_trustee = e.post("ceremony_qualified", e.trustee_keys[0], Qualified((1, 2, 3)).to_json())
    refused(e, by_trustee, 403, "wrong_signer", size)
    e.ok("ceremony_qualified", OFFICIAL, Qualified((1, 2, 3)).to_json())
    size = e.size()
    again = e.post("ceremony_qualified", OFFICIAL, Qualified((1, 2, 3)).to_json())
    refused(e, again, 422, "key_ceremony", size)


def test_no_phase_1_message_after_the_cut(api_client) -> None:
    """After ceremony_qualified a complaint (or answer, shares, announcement) could change
    QUAL after Feldman values are public: refused (R-DKG-14)."""
    e = build_election(api_client, stop_before="trustee_committed")
    complaint = dkg.Complaint.create(e.election_id, e.trustee_keys[1], accuser=2, accused=3,
                                     reason="bad-share")
    size = e.size()
    response = e.post("trustee_complaint", e.trustee_keys[1], complaint.to_json())
    refused(e, response, 409, "wrong_phase", size)
    assert _rule(response) == "R-DKG-14"


def test_a_wrong_reveal_is_refused(api_client) -> None:
    """Feldman values that do not open the announced Pedersen commitments (here:
    trustee 2's reveal re-signed as trustee 1's) are refused (R-DKG-10)."""
    e = build_election(api_client, stop_before="trustee_committed")
    other = e.commitments[1]
    forged = Commitments.create(
        e.election_id, e.trustee_keys[0], trustee=1, coefficients=other.coefficients,
        proofs=other.proofs, blindings=other.blindings, blinding_proofs=other.blinding_proofs)
    size = e.size()
    response = e.post("trustee_committed", e.trustee_keys[0], forged.to_json())
    refused(e, response, 422, "key_ceremony", size)
    assert _rule(response) == "R-DKG-10"
    assert "does not open the announced commitment" in response.get_json()["message"]


def test_a_dealer_that_withholds_its_reveal_is_rebuilt_and_the_election_opens(api_client) -> None:
    """Trustee 3 is in QUAL and never reveals.  The official names it in
    ceremony_reconstruct; trustees 1 and 2 publish the shares it dealt them; the
    key the server accepts is the one with trustee 3's contribution in it, and
    trustee 3 can still decrypt (it stays in QUAL)."""
    e = build_election(api_client, stop_before="trustee_committed")
    keys = e.trustee_keys
    for c in e.commitments[:2]:
        e.ok("trustee_committed", keys[c.trustee - 1], c.to_json())
    size = e.size()
    # reconstruction needs the official's entry first (R-DKG-17), which must name exactly 3
    early = step6_reconstruct(e.states[0], e.announcements, e.shares, [], [3])
    response = e.post("trustee_reconstruction", keys[0], early[0].to_json())
    refused(e, response, 422, "key_ceremony", size)
    assert _rule(response) == "R-DKG-17"
    wrong = e.post("ceremony_reconstruct", OFFICIAL, Reconstruct((2, 3)).to_json())
    refused(e, wrong, 422, "key_ceremony", size)
    assert _rule(wrong) == "R-DKG-16"
    refused(e, e.post("key_published", OFFICIAL, {"joint_key": {}}), 422, "bad_schema", size)
    e.ok("ceremony_reconstruct", OFFICIAL, Reconstruct((3,)).to_json())
    size = e.size()
    late = e.post("trustee_committed", keys[2], e.commitments[2].to_json())
    refused(e, late, 422, "key_ceremony", size)
    assert _rule(late) == "R-DKG-16"
    recs = [r for s in e.states[:2]
            for r in step6_reconstruct(s, e.announcements, e.shares, [], [3])]
    for r in recs:
        e.ok("trustee_reconstruction", keys[r.trustee - 1], r.to_json())
    joint, final3 = finalize(e.states[2], e.announcements, e.shares, [], [],
                             e.commitments[:2], recs)
    honest, _ = finalize(e.states[0], e.announcements, e.shares, [], [], e.commitments, [])
    assert joint == honest  # withholding changed nothing
    e.ok("key_published", OFFICIAL, {"joint_key": joint.to_json()})
    assert final3.share is not None and 3 in joint.qualified


def test_the_joint_key_is_published_once(election: ApiElection) -> None:
    size = election.size()
    assert election.joint_key is not None
    response = election.post("key_published", OFFICIAL, {"joint_key": election.joint_key.to_json()})
    refused(election, response, 409, "wrong_phase", size)


def test_a_trustee_announces_once(api_client) -> None:
    e = build_election(api_client, stop_before="trustee_shares")
    size = e.size()
    a = e.announcements[1]
    refused(e, e.post("trustee_announced", e.trustee_keys[1], a.to_json()), 409, "already_exists", size)


def test_a_credential_batch_repeating_a_credential_is_refused(api_client) -> None:
    e = build_election(api_client, stop_before="election_opened")
    size = e.size()
    assert e.credential_list is not None
    repeat = CredentialList(e.credential_list.entries[:1])
    body = {"credentials": repeat.to_json()}
    refused(e, e.post("credentials_published", e.authority, body), 409, "already_exists", size)


def test_credentials_may_come_in_batches(api_client) -> None:
    """The election's list is the union of its batches (docs/board.md §7)."""
    e = build_election(api_client, stop_before="credentials_published", voters=5)
    assert e.credential_list is not None
    entries = e.credential_list.entries
    for batch in (entries[:2], entries[2:]):
        e.ok("credentials_published", e.authority, {"credentials": CredentialList(batch).to_json()})
    listed = CredentialList.from_json(e.client.get(f"{e.url}/credentials").get_json()["credentials"])
    assert listed == e.credential_list
    e.ctx = ElectionContext.build(
        e.manifest,
        e.joint_key.joint_key,
        [list(c.coefficients) for c in e.commitments],
        e.credential_list,
    )
    e.logins = e.ok("register_voters", OFFICIAL, {"voters": ["a", "b", "c", "d", "e"]})["logins"]
    e.ok("election_opened", OFFICIAL, {"fingerprint": b64encode(e.ctx.fingerprint)})
    e.cast_ok(4)


# --- signer and signature -------------------------------------------------------------


def test_a_trustee_message_signed_by_another_trustee_is_refused(api_client) -> None:
    e = build_election(api_client, stop_before="trustee_announced")
    size = e.size()
    a = e.announcements[0]  # trustee 1's announcement, signed by trustee 2's key
    refused(e, e.post("trustee_announced", e.trustee_keys[1], a.to_json()), 403, "wrong_signer", size)


@pytest.mark.parametrize(
    ("stop_before", "kind", "signer"),
    [
        ("key_published", "key_published", "trustee"),
        ("credentials_published", "credentials_published", "official"),
        ("election_opened", "election_opened", "authority"),
        (None, "election_closed", "authority"),
    ],
)
def test_a_command_signed_by_the_wrong_role_is_refused(api_client, stop_before, kind, signer) -> None:
    e = build_election(api_client, stop_before=stop_before)
    key = {"trustee": e.trustee_keys[0], "official": OFFICIAL, "authority": e.authority}[signer]
    body = {
        "key_published": lambda: {"joint_key": e.joint_key.to_json()},
        "credentials_published": lambda: {"credentials": e.credential_list.to_json()},
        "election_opened": lambda: {"fingerprint": b64encode(e.ctx.fingerprint)},
        "election_closed": dict,
    }[kind]()
    size = e.size()
    refused(e, e.post(kind, key, body), 403, "wrong_signer", size)


def test_a_command_with_a_bad_signature_is_refused(election: ApiElection) -> None:
    size = election.size()
    command = sign_command(OFFICIAL, election.election_id, "election_closed", {}).to_json()
    response = election.client.post(
        f"{election.url}/commands/election_closed", json=flip_signature(command)
    )
    refused(election, response, 422, "invalid_signature", size)


def test_a_command_signed_for_another_kind_is_refused(election: ApiElection) -> None:
    """The signature binds the kind: an 'election_closed' signature cannot open anything else."""
    size = election.size()
    command = sign_command(OFFICIAL, election.election_id, "election_closed", {}).to_json()
    other = build_election(election.client)
    response = election.client.post(f"{other.url}/commands/election_closed", json=command)
    refused(other, response, 422, "invalid_signature", other.size())
    assert election.size() == size


def test_a_malformed_command_body_is_a_schema_error(election: ApiElection) -> None:
    size = election.size()
    refused(election, election.post("election_closed", OFFICIAL, {"now": True}), 422, "bad_schema", size)


# --- payload semantics ---------------------------------------------------------------


def test_an_announcement_with_the_wrong_threshold_is_refused(api_client) -> None:
    e = build_election(api_client, stop_before="trustee_announced")
    _, bad = step1_announce(e.election_id, 1, 3, 3, e.rng, signing_key=e.trustee_keys[0])
    size = e.size()
    refused(e, e.post("trustee_announced", e.trustee_keys[0], bad.to_json()), 422, "key_ceremony", size)


def test_a_wrong_joint_key_is_refused(api_client) -> None:
    e = build_election(api_client, stop_before="key_published")
    assert e.joint_key is not None
    wrong = JointKey(
        e.joint_key.joint_key + G,
        e.joint_key.threshold,
        e.joint_key.verification_keys,
        e.joint_key.qualified,
    )
    size = e.size()
    refused(e, e.post("key_published", OFFICIAL, {"joint_key": wrong.to_json()}), 422, "key_ceremony", size)
    e.ok("key_published", OFFICIAL, {"joint_key": e.joint_key.to_json()})


def test_a_joint_key_with_wrong_verification_keys_is_refused(api_client) -> None:
    e = build_election(api_client, stop_before="key_published")
    assert e.joint_key is not None
    keys = dict(e.joint_key.verification_keys)
    keys[1], keys[2] = keys[2], keys[1]
    wrong = dataclasses.replace(e.joint_key, verification_keys=keys)
    size = e.size()
    refused(e, e.post("key_published", OFFICIAL, {"joint_key": wrong.to_json()}), 422, "key_ceremony", size)


def test_a_wrong_fingerprint_is_refused(api_client) -> None:
    e = build_election(api_client, stop_before="election_opened")
    assert e.ctx is not None
    wrong = bytearray(e.ctx.fingerprint)
    wrong[0] ^= 1
    size = e.size()
    response = e.post("election_opened", OFFICIAL, {"fingerprint": b64encode(bytes(wrong))})
    refused(e, response, 422, "fingerprint_mismatch", size)
    e.ok("election_opened", OFFICIAL, {"fingerprint": b64encode(e.ctx.fingerprint)})


def closed_with_ballots(e: ApiElection) -> tuple[EncryptedTally, int, int]:
    e.cast_ok(0, [[1, 0, 0]])
    e.cast_ok(1, [[0, 1, 0]])
    e.cast_ok(1, [[0, 0, 1]])  # re-vote: only this one counts for voter 1
    e.close()
    return e.counted_tally()


@pytest.mark.parametrize("mistake", ["counted", "total_weight", "drop-a-ballot", "count-the-first-vote"])
def test_a_wrong_tally_is_refused(election: ApiElection, mistake: str) -> None:
    tally, counted, total = closed_with_ballots(election)
    body = {"tally": tally.to_json(), "counted": counted, "total_weight": total}
    if mistake == "counted":
        body["counted"] = counted + 1
    elif mistake == "total_weight":
        body["total_weight"] = total + 1
    elif mistake == "drop-a-ballot":
        entries = [e for e in election.entries() if e.kind == "ballot_cast"]
        last = parse_ballot_cast(entries[-1], election.manifest)
        body["tally"] = aggregate([3], [(1, [list(last.answers[0].choices)])]).to_json()
    else:  # aggregate the superseded first vote of voter 1 instead of the re-vote
        entries = [e for e in election.entries() if e.kind == "ballot_cast"]
        first, second = (parse_ballot_cast(x, election.manifest) for x in entries[:2])
        rows = [(1, [list(b.answers[0].choices)]) for b in (first, second)]
        body["tally"] = aggregate([3], rows).to_json()
    size = election.size()
    refused(election, election.post("tally_posted", OFFICIAL, body), 422, "tally", size)
    election.ok("tally_posted", OFFICIAL, {"tally": tally.to_json(), "counted": counted, "total_weight": total})


def test_a_bad_partial_decryption_is_recorded_once_and_not_used(election: ApiElection) -> None:
    """Robust decryption (docs/protocol-trustees.md §5.13): trustee 1's signed partial
    made of trustee 2's factors is recorded (evidence against trustee 1), trustee 1
    cannot post a second one, and the result needs t *valid* partials."""
    tally, counted, total = closed_with_ballots(election)
    election.ok("tally_posted", OFFICIAL, {"tally": tally.to_json(), "counted": counted, "total_weight": total})
    good = election.partials(tally, [1])[0]
    # Trustee 1's label on factors computed with trustee 2's key share.
    other = election.partials(tally, [2])[0]
    forged = dataclasses.replace(other, trustee=1)
    election.ok("partial_decryption", election.trustee_keys[0], forged.to_json())
    size = election.size()
    refused(election, election.post("partial_decryption", election.trustee_keys[0], good.to_json()), 409, "already_exists", size)
    election.ok("partial_decryption", election.trustee_keys[1], other.to_json())
    response = election.post("result_published", OFFICIAL, {"result": {"counts": [[1, 0, 1]]}})
    refused(election, response, 422, "decryption", size + 1)
    assert "trustee 1: invalid proof" in response.get_json()["message"]
    election.ok("partial_decryption", election.trustee_keys[2], election.partials(tally, [3])[0].to_json())
    election.ok("result_published", OFFICIAL, {"result": {"counts": [[1, 0, 1]]}})


def test_a_wrong_result_is_refused(election: ApiElection) -> None:
    tally, counted, total = closed_with_ballots(election)
    election.ok("tally_posted", OFFICIAL, {"tally": tally.to_json(), "counted": counted, "total_weight": total})
    for p in election.partials(tally, [1, 3]):
        election.ok("partial_decryption", election.trustee_keys[p.trustee - 1], p.to_json())
    size = election.size()
    wrong = Result(((1, 1, 0),))  # the truth is (1, 0, 1): voter 1 re-voted
    refused(election, election.post("result_published", OFFICIAL, {"result": wrong.to_json()}), 422, "tally", size)
    election.ok("result_published", OFFICIAL, {"result": Result(((1, 0, 1),)).to_json()})
    summary = election.client.get(election.url).get_json()
    assert summary["phase"] == "tallied" and summary["result"] == {"counts": [[1, 0, 1]]}


def test_a_result_before_enough_partials_is_refused(election: ApiElection) -> None:
    tally, counted, total = closed_with_ballots(election)
    election.ok("tally_posted", OFFICIAL, {"tally": tally.to_json(), "counted": counted, "total_weight": total})
    p = election.partials(tally, [2])[0]
    election.ok("partial_decryption", election.trustee_keys[1], p.to_json())
    size = election.size()
    response = election.post("result_published", OFFICIAL, {"result": {"counts": [[1, 0, 1]]}})
    refused(election, response, 422, "decryption", size)


# --- voter registration ----------------------------------------------------------------


def test_registered_logins_are_shown_once_and_work(api_client) -> None:
    e = build_election(api_client, stop_before="register_voters")
    logins = e.ok("register_voters", OFFICIAL, {"voters": ["anna", "boris"]})["logins"]
    assert sorted(logins) == ["anna", "boris"]
    assert len(set(logins.values())) == 2
    e.logins = logins
    e.ok("election_opened", OFFICIAL, {"fingerprint": b64encode(e.ctx.fingerprint)})
    e.cast_ok(0)


def test_registration_by_someone_else_than_the_official_is_refused(election: ApiElection) -> None:
    response = election.post("register_voters", election.authority, {"voters": ["mallory"]})
    assert response.status_code == 403 and response.get_json()["code"] == "wrong_signer"


def test_a_voter_id_is_registered_once(election: ApiElection) -> None:
    first = election.voter_ids[0]
    response = election.post("register_voters", OFFICIAL, {"voters": ["new-one", first]})
    assert response.status_code == 409 and response.get_json()["code"] == "already_exists"
    # All or nothing: "new-one" was not registered either.
    response = election.post("register_voters", OFFICIAL, {"voters": ["new-one"]})
    assert response.status_code == 201


def test_registration_after_close_is_refused(election: ApiElection) -> None:
    election.close()
    response = election.post("register_voters", OFFICIAL, {"voters": ["late"]})
    assert response.status_code == 409 and response.get_json()["code"] == "wrong_phase"


@pytest.mark.parametrize("voters", [[], ["a", "a"], [""], ["tab\there"], "anna"])
def test_a_bad_voter_list_is_refused(election: ApiElection, voters) -> None:
    response = election.post("register_voters", OFFICIAL, {"voters": voters})
    assert response.status_code in (409, 422), response.get_json()
    assert response.get_json()["code"] in ("bad_schema", "already_exists")


# --- complaints ------------------------------------------------------------------------


def test_a_complaint_and_its_answer_go_through_and_the_key_still_checks(api_client) -> None:
    """Dealer 1 sends trustee 2 a box that does not open; 2 complains, 1 answers in
    public, and the joint key the server accepts is the ceremony's."""
    e = build_election(api_client, stop_before="trustee_shares")
    keys = e.trustee_keys
    first = e.shares[0]
    boxes = [(j, box if j != 2 else bytes([box[0] ^ 1]) + box[1:]) for j, box in first.boxes]
    e.shares[0] = EncryptedShares.create(e.election_id, keys[0], dealer=1, boxes=boxes)
    for s in e.shares:
        e.ok("trustee_shares", keys[s.dealer - 1], s.to_json())
    complaints = step3_receive(e.states[1], e.announcements, e.shares)
    assert isinstance(complaints, list) and [(c.accuser, c.accused) for c in complaints] == [(2, 1)]
    size = e.size()
    # An answer before the complaint is on the board answers nothing.
    early = step4_answer(e.states[0], e.announcements, complaints)[0]
    refused(e, e.post("trustee_complaint_answer", keys[0], early.to_json()), 422, "key_ceremony", size)
    # The complaint must be signed by the accuser.
    refused(e, e.post("trustee_complaint", keys[0], complaints[0].to_json()), 403, "wrong_signer", size)
    e.ok("trustee_complaint", keys[1], complaints[0].to_json())
    size = e.size()
    refused(e, e.post("trustee_complaint", keys[1], complaints[0].to_json()), 409, "already_exists", size)
    e.ok("trustee_complaint_answer", keys[0], early.to_json())
    size = e.size()
    refused(e, e.post("trustee_complaint_answer", keys[0], early.to_json()), 409, "already_exists", size)
    e.ok("ceremony_qualified", OFFICIAL, Qualified((1, 2, 3)).to_json())
    e.commitments = [step5_reveal(s, e.rng) for s in e.states]
    for c in e.commitments:
        e.ok("trustee_committed", keys[c.trustee - 1], c.to_json())
    joint, _ = finalize(e.states[1], e.announcements, e.shares, complaints, [early],
                        e.commitments)
    e.ok("key_published", OFFICIAL, {"joint_key": joint.to_json()})
    material = e.client.get(f"{e.url}/trustees").get_json()
    assert len(material["complaints"]) == 1 and len(material["answers"]) == 1
