"""Fuzzing every JSON decoder: the only exception a hostile document may cause is
a typed :class:`evote.errors.EvoteError`.

Two kinds of input, with hypothesis:

* arbitrary JSON values (deep, wide, huge integers, odd strings) fed to every
  decoder: most die at the first shape check, which is what a scanner sends;
* structure-aware mutations of *valid* documents taken from a complete election
  record (ballots, audited ballots, trustee messages, joint key, partial
  decryptions, tally, result, board entries, commands, tree heads, receipts,
  record files): one to three edits at random paths -- replace a value, delete
  or add a key, drop or duplicate a list item, flip a character, change a
  number -- so that decoding gets deep into the document before it fails.

Any other exception (KeyError, TypeError, IndexError, ValueError, a libsodium
error, RecursionError, ...) is a bug and fails the test.  The server's HTTP
layer gets the same treatment (never a 500), and the verifier too (a mutated
record gives a report or RecordUnreadable, never a traceback).

Bounded in time: a few dozen examples per decoder, about 30 s in all on a
loaded 2-core machine.
"""

from __future__ import annotations

import copy
import string
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from evote.ballot import AuditedBallot, Ballot, BallotRandomness
from evote.board import ConsistencyProof, Entry, Receipt, SignedTreeHead, TreeHead
from evote.commands import SignedCommand, sign_command
from evote.credentials import CredentialFile, CredentialList, parse_credential_code
from evote.dkg import (
    Announcement,
    CeremonyMessages,
    Commitments,
    Complaint,
    ComplaintAnswer,
    EncryptedShares,
    JointKey,
    Reconstruction,
)
from evote.dkg.trustee import TrusteeState
from evote.elgamal import Ciphertext
from evote.encoding import b64decode, canonical_json, parse_json
from evote.errors import EvoteError
from evote.group import Point, Scalar
from evote.manifest import Manifest
from evote.payloads import COMMAND_KINDS, Command, parse_ballot_audited, parse_ballot_cast
from evote.proofs import DleqProof, RangeProof, SchnorrProof
from evote.record import (
    RecordHeader,
    parse_board_line,
    parse_record_json,
    parse_tree_heads,
)
from evote.signing import SigningKey, VerifyKey
from evote.tally import EncryptedTally, PartialDecryption, Result
from tests.recordgen import GeneratedRecord, build_record

FUZZ = settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                           HealthCheck.function_scoped_fixture],
)


@pytest.fixture(scope="module")
def gen(tmp_path_factory: pytest.TempPathFactory) -> GeneratedRecord:
    return build_record(tmp_path_factory.mktemp("fuzz") / "record", voters=3, revotes=1,
                        seed=b"fuzz")


def must_be_typed(decode: Callable[[], Any]) -> None:
    """Run ``decode``; a typed EvoteError is the only acceptable failure."""
    try:
        decode()
    except EvoteError as exc:
        assert isinstance(exc.code, str) and exc.code
        assert isinstance(exc.message, str) and exc.message
        exc.to_json()  # the server can always render it


# --- the documents and their decoders ------------------------------------------------------


def _payload(gen: GeneratedRecord, kind: str) -> dict:
    return next(e.payload for e in gen.entries if e.kind == kind)


def _mixnet_payloads() -> dict[str, dict]:
    """A mix_posted, mix_decryption and ranked_result payload of a small ranked election."""
    from tests.rankedgen import build_ranked

    board = build_ranked(seed=b"fuzz-ranked", selections=[
        [[1, 0], [1, 2, 0, 0], [0, 1, 2, 0], [2, 0]], [[0, 1], [2, 1, 0, 0], [1, 0, 0, 0], [0, 1]]])
    return {k: next(e.payload for e in board.entries if e.kind == k)
            for k in ("mix_posted", "mix_decryption", "ranked_result")}


def documents(gen: GeneratedRecord) -> dict[str, tuple[Any, Callable[[Any], Any]]]:
    """name -> (a valid document, its decoder)."""
    m = gen.election.manifest
    e = gen.election

    def body(kind: str) -> Any:
        return _payload(gen, kind)["body"]

    ballot = _payload(gen, "ballot_cast")["ballot"]
    audited = _payload(gen, "ballot_audited")["audited"]
    answer = ComplaintAnswer.create(e.election_id, e.states[0].signing_key, dealer=1, accuser=2,
                                    share=Scalar.from_int(3), blinding=Scalar.from_int(4)
                                    ).to_json()
    reconstruction = Reconstruction.create(
        e.election_id, e.states[1].signing_key, trustee=2, dealer=1, share=Scalar.from_int(5),
        blinding=Scalar.from_int(6)).to_json()
    complaint = Complaint.create(e.election_id, e.states[1].signing_key, accuser=2, accused=1,
                                 reason="bad-share").to_json()
    entry = gen.entries[len(gen.entries) // 2]
    cast_entry = next(x for x in gen.entries if x.kind == "ballot_cast")
    audit_entry = next(x for x in gen.entries if x.kind == "ballot_audited")
    heads = gen.builder.heads
    tree = gen.builder.tree
    consistency = ConsistencyProof(heads[0], heads[-1],
                                   tuple(tree.consistency_proof(heads[0].size, heads[-1].size)))
    header = RecordHeader(e.election_id, e.board_key.verify_key)
    docs: dict[str, tuple[Any, Callable[[Any], Any]]] = {
        "ballot": (ballot, lambda d: Ballot.from_json(d, m)),
        "audited ballot": (audited, lambda d: AuditedBallot.from_json(d, m)),
        "randomness": (audited["randomness"], lambda d: BallotRandomness.from_json(d, m)),
        "ciphertext": (ballot["answers"][0]["choices"][0], Ciphertext.from_json),
        "range proof": (ballot["answers"][0]["proofs"][0], RangeProof.from_json),
        "manifest": (m.to_json(), Manifest.from_json),
        "credential list": (e.credentials.to_json(), CredentialList.from_json),
        "credential file": (CredentialFile(e.election_id, e.voters[0]).to_json(),
                            CredentialFile.from_json),
        "announcement": (body("trustee_announced"), Announcement.from_json),
        "commitments": (body("trustee_committed"), Commitments.from_json),
        "shares": (body("trustee_shares"), EncryptedShares.from_json),
        "complaint": (complaint, Complaint.from_json),
        "complaint answer": (answer, ComplaintAnswer.from_json),
        "reconstruction": (reconstruction, Reconstruction.from_json),
        "joint key": (body("key_published")["joint_key"], JointKey.from_json),
        "trustee state": (e.states[0].to_json(), TrusteeState.from_json),
        "ceremony": (e.messages.to_json(), CeremonyMessages.from_json),
        "schnorr proof": (body("trustee_committed")["proofs"][0], SchnorrProof.from_json),
        "tally": (body("tally_posted")["tally"], EncryptedTally.from_json),
        "partial decryption": (body("partial_decryption"), PartialDecryption.from_json),
        "dleq proof": (body("partial_decryption")["shares"][0][0]["proof"], DleqProof.from_json),
        "result": (body("result_published")["result"], Result.from_json),
        "entry": (entry.to_json(), Entry.from_json),
        "cast entry": (cast_entry.to_json(),
                       lambda d: parse_ballot_cast(Entry.from_json(d), m)),
        "audit entry": (audit_entry.to_json(),
                        lambda d: parse_ballot_audited(Entry.from_json(d), m)),
        "signed command": (_payload(gen, "key_published"), SignedCommand.from_json),
        "tree head": (heads[0].head.to_json(), TreeHead.from_json),
        "signed tree head": (heads[-1].to_json(), SignedTreeHead.from_json),
        "consistency proof": (consistency.to_json(), ConsistencyProof.from_json),
        "receipt": (gen.receipts[0].to_json(), Receipt.from_json),
        "record header": (header.to_json(), RecordHeader.from_json),
    }
    signed = {  # the kinds an honest ceremony never posts
        "ceremony_reconstruct": sign_command(e.official, e.election_id, "ceremony_reconstruct",
                                             {"dealers": [3]}).to_json(),
        "trustee_reconstruction": sign_command(e.states[1].signing_key, e.election_id,
                                               "trustee_reconstruction", reconstruction).to_json(),
        "trustee_complaint": sign_command(e.states[1].signing_key, e.election_id,
                                          "trustee_complaint", complaint).to_json(),
        "trustee_complaint_answer": sign_command(e.states[0].signing_key, e.election_id,
                                                 "trustee_complaint_answer", answer).to_json(),
        "election_abandoned": sign_command(e.official, e.election_id, "election_abandoned",
                                           {"reason": "a trustee lost its state"}).to_json(),
    }
    signed.update(_mixnet_payloads())  # a choice/score record has no mixnet entries
    for kind in sorted(COMMAND_KINDS):
        payload = signed[kind] if kind in signed else _payload(gen, kind)
        docs[f"command {kind}"] = (payload, lambda d, k=kind: Command.parse(k, d))
    return docs


DOC_NAMES = [
    "ballot", "audited ballot", "randomness", "ciphertext", "range proof", "manifest",
    "credential list", "credential file", "announcement", "commitments", "shares", "complaint",
    "complaint answer", "reconstruction", "joint key", "trustee state", "ceremony", "schnorr proof", "tally",
    "partial decryption", "dleq proof", "result", "entry", "cast entry", "audit entry",
    "signed command", "tree head", "signed tree head", "consistency proof", "receipt",
    "record header",
    *(f"command {k}" for k in sorted(COMMAND_KINDS)),
]


@pytest.fixture(scope="module")
def docs(gen: GeneratedRecord) -> dict[str, tuple[Any, Callable[[Any], Any]]]:
    return documents(gen)


def test_every_document_decodes_unmutated(docs) -> None:
    assert sorted(docs) == sorted(DOC_NAMES)
    for _name, (doc, decode) in docs.items():
        decode(copy.deepcopy(doc))


# --- strategies ----------------------------------------------------------------------------

B64 = string.ascii_letters + string.digits + "-_"
scalars = st.none() | st.booleans() | st.integers(-(2**70), 2**70) | st.floats(
    allow_nan=False, allow_infinity=False) | st.text(max_size=60) | st.text(B64 + "=+/", max_size=90)
json_values = st.recursive(
    scalars,
    lambda children: st.lists(children, max_size=6)
    | st.dictionaries(st.text(max_size=12), children, max_size=6),
    max_leaves=30,
)


def _paths(doc: Any, prefix: tuple = ()) -> list[tuple]:
    """Every path into ``doc`` (the root included)."""
    out = [prefix]
    if isinstance(doc, dict):
        for k, v in doc.items():
            out += _paths(v, (*prefix, k))
    elif isinstance(doc, list):
        for i, v in enumerate(doc):
            out += _paths(v, (*prefix, i))
    return out


def _get(doc: Any, path: tuple) -> Any:
    for k in path:
        doc = doc[k]
    return doc


def _put(doc: Any, path: tuple, value: Any) -> Any:
    if not path:
        return value
    _get(doc, path[:-1])[path[-1]] = value
    return doc


def _mutate_leaf(value: Any, data: st.DataObject) -> Any:
    if isinstance(value, str) and value:
        how = data.draw(st.sampled_from(["flip", "truncate", "extend", "pad", "case"]))
        i = data.draw(st.integers(0, len(value) - 1))
        if how == "flip":
            return value[:i] + data.draw(st.sampled_from(B64 + "=.é\x00")) + value[i + 1 :]
        if how == "truncate":
            return value[:i]
        if how == "extend":
            return value + data.draw(st.text(B64, min_size=1, max_size=4))
        if how == "pad":
            return value + "="
        return value.swapcase()
    if isinstance(value, bool):
        return not value
    if isinstance(value, int):
        return data.draw(st.sampled_from([-1, 0, 1, value + 1, value - 1, 2**53, 2**64, -(2**63)]))
    return data.draw(json_values)


def mutate(doc: Any, data: st.DataObject) -> Any:
    doc = copy.deepcopy(doc)
    for _ in range(data.draw(st.integers(1, 3))):
        path = data.draw(st.sampled_from(_paths(doc)))
        target = _get(doc, path)
        op = data.draw(st.sampled_from(["leaf", "replace", "delete", "add", "dup", "type"]))
        if op == "leaf":
            doc = _put(doc, path, _mutate_leaf(target, data))
        elif op == "replace":
            doc = _put(doc, path, data.draw(json_values))
        elif op == "delete" and path:
            parent = _get(doc, path[:-1])
            del parent[path[-1]]
        elif op == "add" and isinstance(target, dict):
            target[data.draw(st.text(max_size=10))] = data.draw(json_values)
        elif op == "dup" and isinstance(target, list) and target:
            target.append(copy.deepcopy(target[data.draw(st.integers(0, len(target) - 1))]))
        elif op == "type":
            doc = _put(doc, path, data.draw(st.sampled_from([None, [], {}, "", 0, True, [target]])))
    return doc


# --- the properties --------------------------------------------------------------------------


@pytest.mark.parametrize("name", DOC_NAMES)
@FUZZ
@given(data=st.data())
def test_mutated_documents_fail_only_with_typed_errors(docs, name: str,
                                                       data: st.DataObject) -> None:
    doc, decode = docs[name]
    mutated = mutate(doc, data)
    must_be_typed(lambda: decode(mutated))


@pytest.mark.parametrize("name", DOC_NAMES)
@settings(FUZZ, max_examples=15)
@given(value=json_values)
def test_arbitrary_json_fails_only_with_typed_errors(docs, name: str, value: Any) -> None:
    _, decode = docs[name]
    must_be_typed(lambda: decode(value))


# --- byte-level decoders ---------------------------------------------------------------------


@FUZZ
@given(st.binary(max_size=300) | st.text(max_size=200).map(str.encode))
def test_raw_bytes_fail_only_with_typed_errors(data: bytes) -> None:
    must_be_typed(lambda: parse_json(data))
    must_be_typed(lambda: Entry.from_bytes(data))
    must_be_typed(lambda: parse_board_line(data, 1))
    must_be_typed(lambda: parse_record_json(data))
    text = data.decode("latin-1")
    must_be_typed(lambda: b64decode(text))
    must_be_typed(lambda: b64decode(text, length=32))
    must_be_typed(lambda: Point.from_json(text))
    must_be_typed(lambda: Scalar.from_json(text))
    must_be_typed(lambda: VerifyKey.from_json(text))
    must_be_typed(lambda: SigningKey.from_json(text))
    must_be_typed(lambda: parse_credential_code(text))
    if len(data) == 32:
        must_be_typed(lambda: Point.from_bytes(data))
        must_be_typed(lambda: Scalar.from_bytes(data))
        must_be_typed(lambda: VerifyKey.from_bytes(data))


@FUZZ
@given(data=st.data())
def test_mutated_record_files_fail_only_with_typed_errors(gen: GeneratedRecord,
                                                          data: st.DataObject) -> None:
    """board.jsonl lines and tree-heads.jsonl, mutated as JSON and as bytes."""
    header = RecordHeader(gen.election.election_id, gen.election.board_key.verify_key)
    line = data.draw(st.sampled_from([e.canonical() for e in gen.entries]))
    doc = mutate(parse_json(line), data)
    try:
        mutated_line = canonical_json(doc)
    except EvoteError:
        mutated_line = repr(doc).encode()
    must_be_typed(lambda: parse_board_line(mutated_line, 1))
    heads = (Path(gen.path) / "tree-heads.jsonl").read_bytes()
    cut = data.draw(st.integers(0, len(heads)))
    flipped = heads[:cut] + data.draw(st.binary(max_size=3)) + heads[cut + 1 :]
    must_be_typed(lambda: list(parse_tree_heads(flipped, header)))


# --- the server: never a 500 ------------------------------------------------------------------


@pytest.fixture(scope="module")
def fuzz_server(tmp_path_factory: pytest.TempPathFactory):
    from ballot_server import create_app, db
    from ballot_server.db import sqlite_url
    from tests.api_election import build_election, server_config

    tmp = tmp_path_factory.mktemp("fuzz-server")
    app = create_app(server_config(sqlite_url(str(tmp / "board.sqlite")), str(tmp / "instance")))
    election = build_election(app.test_client(), voters=2, seed=b"fuzz-server")
    ballot, _ = election.ballot(0)
    yield app, election, ballot.to_json()
    with app.app_context():
        db.get_engine().dispose()


@settings(FUZZ, max_examples=40)
@given(data=st.data())
def test_server_answers_hostile_bodies_with_4xx(fuzz_server, data: st.DataObject) -> None:
    """Mutated ballots, audits and commands posted to the live API: every answer is
    a JSON error with a code and a status below 500 (or a 201 for the rare
    mutation that leaves a valid document)."""
    app, election, ballot = fuzz_server
    client = app.test_client()
    target = data.draw(st.sampled_from(["ballots", "audits", "commands/election_closed",
                                        "commands/partial_decryption", "voters"]))
    body = mutate(ballot, data) if target == "ballots" else data.draw(json_values)
    response = client.post(f"{election.url}/{target}", json=body,
                           headers={"Authorization": f"Bearer {election.login(1)}"})
    assert response.status_code < 500, response.get_data()[:300]
    if response.status_code >= 400:
        payload = response.get_json()
        assert isinstance(payload["code"], str) and isinstance(payload["message"], str)
    raw = data.draw(st.binary(max_size=200))
    response = client.post(f"{election.url}/ballots", data=raw,
                           headers={"Content-Type": "application/json",
                                    "Authorization": f"Bearer {election.login(1)}"})
    assert 400 <= response.status_code < 500, response.get_data()[:300]


@settings(FUZZ, max_examples=15)
@given(data=st.data())
def test_verifier_reports_on_records_with_a_mutated_entry(gen: GeneratedRecord, tmp_path_factory,
                                                          data: st.DataObject) -> None:
    """The whole verifier over a record one of whose entries is mutated (as JSON,
    then written canonically): it returns a failing report, never raises."""
    from tests.attacks.adversary import copy_record, verify

    target = copy_record(gen.path, tmp_path_factory.mktemp("mutated") / "record")
    lines = (target / "board.jsonl").read_bytes().split(b"\n")[:-1]
    i = data.draw(st.integers(0, len(lines) - 1))
    try:
        lines[i] = canonical_json(mutate(parse_json(lines[i]), data))
    except EvoteError:
        lines[i] = lines[i][: len(lines[i]) // 2]
    (target / "board.jsonl").write_bytes(b"".join(x + b"\n" for x in lines))
    must_be_typed(lambda: verify(target))
