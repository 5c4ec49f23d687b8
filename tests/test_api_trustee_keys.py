"""Trustee keys are per election: ``POST /elections`` refuses a trustee key of another
election on the server (409 ``trustee_key_reused``, JSON body naming it, nothing written);
and a re-registered voter id is named in the refusal.

Runs on SQLite and PostgreSQL (one database per module, one election per test).
"""

from __future__ import annotations

from evote.commands import sign_command
from evote.drbg import SeededRng
from evote.signing import SigningKey
from tests import api_election
from tests.api_election import API, OFFICIAL, build_election, unique_election_id

api_db = api_election.api_db
api_app = api_election.api_app
api_client = api_election.api_client


def _created(e, election_id: str, trustees: list[SigningKey]) -> dict:
    return {
        "manifest": {**e.manifest.to_json(), "election_id": election_id},
        "official": OFFICIAL.verify_key.to_json(),
        "credential_authority": e.authority.verify_key.to_json(),
        "trustees": [k.verify_key.to_json() for k in trustees],
        "threshold": 2,
    }


def test_a_trustee_key_of_another_election_is_refused(api_client) -> None:
    first = build_election(api_client, stop_before="trustee_shares")
    second = unique_election_id("reuse")
    fresh = [SigningKey.generate(SeededRng(second.encode() + bytes([i]))) for i in range(2)]
    keys = [fresh[0], first.trustee_keys[2], fresh[1]]
    command = sign_command(OFFICIAL, second, "election_created", _created(first, second, keys))
    response = api_client.post(f"{API}/elections", json=command.to_json())
    assert response.status_code == 409, response.get_json()
    body = response.get_json()
    assert body["code"] == "trustee_key_reused", body
    assert body["detail"] == {"trustee": 2, "election": first.election_id}, body
    assert f"trustee 3's key of election {first.election_id!r}" in body["message"], body
    assert api_client.get(f"{API}/elections/{second}").status_code == 404  # nothing written
    # the same election with a key of its own is created
    keys[1] = SigningKey.generate(SeededRng(second.encode() + b"new"))
    command = sign_command(OFFICIAL, second, "election_created", _created(first, second, keys))
    ok = api_client.post(f"{API}/elections", json=command.to_json())
    assert ok.status_code == 201, ok.get_json()


def test_a_second_registration_names_the_voter(api_client) -> None:
    e = build_election(api_client, stop_before="election_opened")
    taken = e.voter_ids[1]
    size = e.size()
    response = e.post("register_voters", OFFICIAL, {"voters": ["someone-new", taken]})
    assert response.status_code == 409, response.get_json()
    body = response.get_json()
    assert body["code"] == "already_exists" and body["detail"] == {"voter_id": taken}, body
    assert repr(taken) in body["message"]
    twice = e.post("register_voters", OFFICIAL, {"voters": ["dup", "x", "dup"]})
    assert twice.status_code == 409 and twice.get_json()["detail"] == {"voter_id": "dup"}
    # nothing of either request was registered: "someone-new" is still free
    again = e.post("register_voters", OFFICIAL, {"voters": ["someone-new"]})
    assert again.status_code == 201, again.get_json()
    assert e.size() == size
