"""Reading the board through the API: pages, entries, tree heads, inclusion and
consistency proofs (checked with evote.merkle / evote.board, never trusted), the
election's public material, and the record archive.

Runs on SQLite and PostgreSQL (one database per module, one election per test)."""

from __future__ import annotations

import io
import zipfile

import pytest

from evote import merkle
from evote.board import Entry, SignedTreeHead, verify_chain, verify_heads
from evote.credentials import CredentialList
from evote.dkg import JointKey
from evote.encoding import b64decode
from evote.record import (
    BOARD_FILE,
    FILES,
    RECORD_FILE,
    TREE_HEADS_FILE,
    iter_board,
    parse_record_json,
    parse_tree_heads,
)
from tests.support import api_election
from tests.support.api_election import API, ApiElection, build_election

api_db = api_election.api_db
api_app = api_election.api_app
api_client = api_election.api_client
election = api_election.election


def get(e: ApiElection, path: str, status: int = 200):
    response = e.client.get(f"{e.url}{path}")
    assert response.status_code == status, (path, response.get_json())
    return response.get_json()


def head_of(e: ApiElection) -> SignedTreeHead:
    head = SignedTreeHead.from_json(get(e, "/tree-head"))
    head.verify(e.board_key)
    return head


# --- entries -------------------------------------------------------------------------


def test_entries_page_through_the_whole_chain(election: ApiElection) -> None:
    election.cast_ok(0)
    election.cast_ok(1)
    size = election.size()
    seen: list[Entry] = []
    start = 0
    while start is not None:
        page = get(election, f"/entries?start={start}&limit=4")
        assert page["start"] == start and page["size"] == size
        seen += [Entry.from_json(x) for x in page["entries"]]
        assert len(page["entries"]) <= 4
        start = page["next"]
    assert [e.index for e in seen] == list(range(size))
    summary = verify_chain(seen)
    assert summary.size == size
    assert [e.kind for e in seen][:2] == ["election_created", "trustee_announced"]


def test_a_page_past_the_end_is_empty(election: ApiElection) -> None:
    page = get(election, "/entries?start=1000")
    assert page["entries"] == [] and page["next"] is None


@pytest.mark.parametrize(
    "query", ["limit=0", "limit=1001", "start=-1", "start=abc", "start=1.5", "limit=", "start=٣"]
)
def test_bad_page_parameters_are_bad_requests(election: ApiElection, query: str) -> None:
    body = get(election, f"/entries?{query}", 400)
    assert body["code"] == "bad_request"


def test_one_entry_by_index(election: ApiElection) -> None:
    page = get(election, "/entries?start=2&limit=1")
    assert get(election, "/entries/2") == page["entries"][0]
    assert get(election, "/entries/999", 404)["code"] == "not_found"
    assert get(election, f"/entries/{2**70}", 404)["code"] == "not_found"
    assert election.client.get(f"{election.url}/entries/-1").status_code == 404


def test_an_unknown_or_impossible_election_is_not_found(api_client) -> None:
    for eid in ("no-such-poll", "Upper", "a" * 65, "..", "x%00y"):
        response = api_client.get(f"{API}/elections/{eid}/entries")
        assert response.status_code == 404, eid
        assert response.get_json()["code"] == "not_found"


# --- tree heads and proofs ------------------------------------------------------------


def test_the_tree_head_signs_the_whole_board(election: ApiElection) -> None:
    election.cast_ok(0)
    head = head_of(election)
    entries = election.entries()
    assert head.size == len(entries)
    assert verify_chain(entries, expect=head.head).root == head.root


def test_inclusion_by_index_verifies(election: ApiElection) -> None:
    election.cast_ok(0)
    entries = election.entries()
    for index in (0, 5, len(entries) - 1):
        body = get(election, f"/inclusion?index={index}")
        head = SignedTreeHead.from_json(body["tree_head"])
        head.verify(election.board_key)
        assert b64decode(body["entry_hash"]) == entries[index].leaf_hash()
        proof = [b64decode(h) for h in body["proof"]]
        merkle.verify_inclusion(index, head.size, entries[index].leaf_hash(), proof, head.root)


def test_inclusion_by_tracking_code_at_an_older_size_verifies(election: ApiElection) -> None:
    receipt = election.cast_ok(0)
    election.cast_ok(1)
    election.cast_ok(2)
    old_size = receipt.tree_head.size
    body = get(election, f"/inclusion?tracking_code={receipt.tracking_code}&size={old_size}")
    assert body["index"] == receipt.index and body["size"] == old_size
    assert body["tree_head"] is None
    proof = [b64decode(h) for h in body["proof"]]
    merkle.verify_inclusion(receipt.index, old_size, receipt.entry_hash, proof, receipt.tree_head.root)


@pytest.mark.parametrize(
    ("query", "status", "code"),
    [
        ("", 400, "bad_request"),
        ("index=0&tracking_code=ABCD", 400, "bad_request"),
        ("index=999", 404, "not_found"),
        ("tracking_code=0000-0000-0000-0000", 404, "not_found"),
        ("index=5&size=3", 400, "merkle"),
        ("index=0&size=999", 400, "merkle"),
        ("index=0&size=0", 400, "bad_request"),
        ("tracking_code=AB%00CD", 400, "bad_request"),
        ("tracking_code=%C3%A9", 400, "bad_request"),
    ],
)
def test_bad_inclusion_requests(election: ApiElection, query: str, status: int, code: str) -> None:
    assert get(election, f"/inclusion?{query}", status)["code"] == code


def test_consistency_between_two_heads_verifies(election: ApiElection) -> None:
    older = head_of(election)
    election.cast_ok(0)
    election.cast_ok(1)
    newer = head_of(election)
    assert newer.size == older.size + 2
    body = get(election, f"/consistency?first={older.size}&second={newer.size}")
    proof = [b64decode(h) for h in body["proof"]]
    verify_heads(older, newer, proof, board_key=election.board_key)
    latest = get(election, f"/consistency?first={older.size}")
    assert latest["second"] == newer.size
    assert SignedTreeHead.from_json(latest["tree_head"]).root == newer.root


@pytest.mark.parametrize(
    ("query", "code"),
    [("", "bad_request"), ("first=0", "bad_request"), ("first=5&second=3", "merkle"), ("first=1&second=999", "merkle")],
)
def test_bad_consistency_requests(election: ApiElection, query: str, code: str) -> None:
    assert get(election, f"/consistency?{query}", 400)["code"] == code


# --- public election material -----------------------------------------------------------


def test_summary_and_list(election: ApiElection) -> None:
    election.cast_ok(0)
    summary = get(election, "")
    assert summary["id"] == election.election_id
    assert summary["phase"] == "open"
    assert summary["size"] == election.size()
    assert summary["counts"]["ballots_cast"] == 1
    assert summary["counts"]["credentials"] == 4
    assert summary["allowed_commands"] == ["election_closed"]
    assert summary["manifest"] == election.manifest.to_json()
    assert summary["official"] == election.official.verify_key.to_json()
    SignedTreeHead.from_json(summary["tree_head"]).verify(election.board_key)
    listed = election.client.get(f"{API}/elections").get_json()["elections"]
    mine = [x for x in listed if x["id"] == election.election_id]
    assert mine == [
        {"id": election.election_id, "title": summary["manifest"]["title"], "phase": "open",
         "size": summary["size"]}
    ]


def test_keys_credentials_and_fingerprint(election: ApiElection) -> None:
    assert election.joint_key is not None and election.ctx is not None
    assert get(election, "/manifest") == election.manifest.to_json()
    assert JointKey.from_json(get(election, "/key")["joint_key"]) == election.joint_key
    creds = CredentialList.from_json(get(election, "/credentials")["credentials"])
    assert creds == election.credential_list
    fp = get(election, "/fingerprint")
    assert fp["opened"] is True
    assert b64decode(fp["fingerprint"]) == election.ctx.fingerprint
    material = get(election, "/trustees")
    assert [a["trustee"] for a in material["announcements"]] == [1, 2, 3]
    assert len(material["commitments"]) == 3 and len(material["shares"]) == 3
    assert material["complaints"] == [] and material["answers"] == []
    assert material["joint_key"] == election.joint_key.to_json()


def test_material_before_it_is_published(api_client) -> None:
    e = build_election(api_client, stop_before="key_published")
    assert e.client.get(f"{e.url}/key").status_code == 404
    assert e.client.get(f"{e.url}/credentials").status_code == 404
    assert e.client.get(f"{e.url}/fingerprint").status_code == 404
    summary = e.client.get(e.url).get_json()
    assert summary["phase"] == "setup" and summary["fingerprint"] is None
    assert "key_published" in summary["allowed_commands"]
    e.ok("key_published", e.official, {"joint_key": e.joint_key.to_json()})
    fp = e.client.get(f"{e.url}/fingerprint")
    assert fp.status_code == 404  # the credential list is still missing


# --- the record ---------------------------------------------------------------------


def test_the_record_archive_is_complete_and_verifies(election: ApiElection) -> None:
    election.cast_ok(0)
    election.cast_ok(1)
    election.tally()
    response = election.client.get(f"{election.url}/record", buffered=True)
    assert response.status_code == 200
    assert response.mimetype == "application/zip"
    assert response.headers["Content-Disposition"] == (
        f'attachment; filename="{election.election_id}.zip"'
    )
    archive = zipfile.ZipFile(io.BytesIO(response.data))
    assert archive.namelist() == list(FILES)
    header = parse_record_json(archive.read(RECORD_FILE))
    assert header.election == election.election_id
    assert header.board_key == election.board_key
    heads = parse_tree_heads(archive.read(TREE_HEADS_FILE), header)
    entries = list(iter_board(archive.read(BOARD_FILE)))
    for head in heads:
        head.verify(header.board_key)
    summary = verify_chain(entries, expect=heads[-1].head)
    assert summary.state is not None and summary.state.phase.value == "tallied"
    assert entries == election.entries()
    # Every head the server issued is a prefix of the final board.
    tree = merkle.MemoryTree(entry.leaf_hash() for entry in entries)
    for head in heads:
        assert tree.root(head.size) == head.root


def test_the_record_of_an_unknown_election_is_not_found(api_client) -> None:
    response = api_client.get(f"{API}/elections/nothing-here/record")
    assert response.status_code == 404
    assert response.get_json()["code"] == "not_found"


def test_the_head_export_pages_through_every_head_in_order(election: ApiElection, api_db) -> None:
    from ballot_server.db import make_engine
    from ballot_server.store import Store, iter_signed_head_bytes
    from evote.encoding import parse_json

    election.cast_ok(0)
    election.cast_ok(1)
    engine = make_engine(api_db)
    try:
        with Store(engine) as store:
            eid = election.election_id
            every = store.signed_heads(eid)
            streamed = [
                SignedTreeHead.from_json(parse_json(data))
                for data in iter_signed_head_bytes(store, eid, max_size=10**9, batch=2)
            ]
            assert streamed == every
            # Every append signed a head that includes it, in the same transaction.
            assert {h.size for h in every} >= set(range(1, election.size() + 1))
            upto = [
                SignedTreeHead.from_json(parse_json(data))
                for data in iter_signed_head_bytes(store, eid, max_size=5, batch=3)
            ]
            assert upto == [h for h in every if h.size <= 5]
    finally:
        engine.dispose()
