"""Server and verifier agree on every order of setup and lifecycle messages (docs/rules.md).

A live server (the Flask app on SQLite and on PostgreSQL as its restricted
role) is sent validly signed messages in orders the rules forbid and in
random orders (hypothesis).  For every message, we also build the board a
dishonest server would have written by appending it anyway -- the accepted
entries plus this one, re-chained and with tree heads re-signed by a board
key we hold -- and run the verifier on it:

* a message the server accepts (201) leaves a board the verifier passes on
  every rule;
* a message the server refuses (4xx) is rejected by the verifier at exactly
  that entry, with the rule id the server's error named.

So the server refuses exactly what the verifier rejects, rule for rule.  The
verifier's "nothing to check yet" failures of an election still in setup
(no ballots, no tally) carry no rule id and are not verdicts on the order.
"""

from __future__ import annotations

import copy
import itertools
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from evote.board import TreeHead, next_entry
from evote.commands import sign_command
from evote.credentials import CredentialList, issue_credentials
from evote.dkg import Complaint, Qualified, Reconstruct
from evote.dkg.trustee import (
    finalize,
    step1_announce,
    step2_shares,
    step4_answer,
    step5_reveal,
    step6_reconstruct,
)
from evote.drbg import SeededRng
from evote.encoding import b64encode
from evote.fingerprint import ElectionContext
from evote.manifest import Manifest
from evote.merkle import MemoryTree
from evote.record import RecordHeader, record_json, tree_head_line
from evote.signing import SigningKey
from tests import api_election
from tests.api_election import API, MANIFEST, OFFICIAL, unique_election_id
from tests.recordgen import START_TIME
from verifier.checks import verify_record
from verifier.record import Record
from verifier.sources import DirectorySource

api_db = api_election.api_db
api_app = api_election.api_app
api_client = api_election.api_client

BOARD_KEY = SigningKey.generate(SeededRng(b"differential board"))
N, T = 3, 2


@dataclass
class Msg:
    kind: str
    key: SigningKey
    body: dict[str, Any]


def universe(election_id: str) -> dict[str, Msg]:
    """Every message the parties of one election may sign, named; honest and hostile."""
    rng = SeededRng(b"differential/" + election_id.encode())
    manifest = Manifest.from_json({**MANIFEST, "election_id": election_id})
    authority = SigningKey.generate(rng)
    tkeys = [SigningKey.generate(rng) for _ in range(N)]
    started = [step1_announce(election_id, i, N, T, rng, signing_key=tkeys[i - 1])
               for i in range(1, N + 1)]
    states = [s for s, _ in started]
    anns = [a for _, a in started]
    shares = [step2_shares(s, anns, rng) for s in states]
    comms = [step5_reveal(s, rng) for s in states]
    joint, _ = finalize(copy.deepcopy(states[0]), anns, shares, [], [], comms)
    recs = {r.trustee: r for s in states[:2]
            for r in step6_reconstruct(s, anns, shares, [], [3])}
    creds_a = CredentialList.of(k.verify_key for k in issue_credentials(2, rng))
    creds_b = CredentialList.of(k.verify_key for k in issue_credentials(2, rng))
    union = CredentialList(creds_a.entries + creds_b.entries)
    coeffs = [list(c.coefficients) for c in comms]

    def fp(creds: CredentialList) -> str:
        return b64encode(ElectionContext.build(manifest, joint.joint_key, coeffs, creds)
                         .fingerprint)

    complaint = Complaint.create(election_id, tkeys[1], accuser=2, accused=1, reason="bad-share")
    [answer] = step4_answer(states[0], anns, [complaint])  # dealer 1 reveals f_1(2), f'_1(2)
    m: dict[str, Msg] = {
        "create": Msg("election_created", OFFICIAL, {
            "manifest": manifest.to_json(),
            "official": OFFICIAL.verify_key.to_json(),
            "credential_authority": authority.verify_key.to_json(),
            "trustees": [k.verify_key.to_json() for k in tkeys],
            "threshold": T,
        }),
        "key": Msg("key_published", OFFICIAL, {"joint_key": joint.to_json()}),
        "creds_a": Msg("credentials_published", authority, {"credentials": creds_a.to_json()}),
        "creds_b": Msg("credentials_published", authority, {"credentials": creds_b.to_json()}),
        "open": Msg("election_opened", OFFICIAL, {"fingerprint": fp(union)}),
        "open_a": Msg("election_opened", OFFICIAL, {"fingerprint": fp(creds_a)}),
        "complain": Msg("trustee_complaint", tkeys[1], complaint.to_json()),
        "answer": Msg("trustee_complaint_answer", tkeys[0], answer.to_json()),
        "close": Msg("election_closed", OFFICIAL, {}),
        "forged_announce": Msg("trustee_announced", tkeys[1], anns[0].to_json()),  # R-SIG-02
        # GJKR (docs/rules.md §3.6): the cut, a wrong cut, and the public reconstruction
        "qualify": Msg("ceremony_qualified", OFFICIAL, Qualified((1, 2, 3)).to_json()),
        "qualify_wrong": Msg("ceremony_qualified", OFFICIAL, Qualified((1, 2)).to_json()),
        "reconstruct3": Msg("ceremony_reconstruct", OFFICIAL, Reconstruct((3,)).to_json()),
        "rec1_3": Msg("trustee_reconstruction", tkeys[0], recs[1].to_json()),
        "rec2_3": Msg("trustee_reconstruction", tkeys[1], recs[2].to_json()),
    }
    for i in range(N):
        m[f"announce{i + 1}"] = Msg("trustee_announced", tkeys[i], anns[i].to_json())
        m[f"commit{i + 1}"] = Msg("trustee_committed", tkeys[i], comms[i].to_json())
        m[f"deal{i + 1}"] = Msg("trustee_shares", tkeys[i], shares[i].to_json())
    return m


HONEST = ["announce1", "announce2", "announce3", "deal1", "deal2", "deal3", "qualify",
          "commit1", "commit2", "commit3", "key", "creds_a", "creds_b", "open", "close"]


def post(client: Any, election_id: str, msg: Msg) -> Any:
    command = sign_command(msg.key, election_id, msg.kind, msg.body).to_json()
    if msg.kind == "election_created":
        return client.post(f"{API}/elections", json=command)
    return client.post(f"{API}/elections/{election_id}/commands/{msg.kind}", json=command)


def forced_record(directory: Path, election_id: str, msgs: list[Msg]) -> Path:
    """The board a server that appends ``msgs`` regardless would write (and its heads)."""
    return forced_board(directory, election_id, [
        (m.kind, sign_command(m.key, election_id, m.kind, m.body).to_json()) for m in msgs])


def forced_board(directory: Path, election_id: str, pairs: list[tuple[str, Any]]) -> Path:
    """A record of the (kind, payload) entries, chained and with a head signed by our key."""
    directory.mkdir(parents=True, exist_ok=True)
    tree = MemoryTree()
    lines = []
    prev = None
    for n, (kind, payload) in enumerate(pairs):
        prev = next_entry(prev, election=election_id, kind=kind,
                          time=START_TIME + 1000 * (n + 1), payload=payload)
        tree.append(prev.leaf_hash())
        lines.append(prev.canonical() + b"\n")
    head = TreeHead(election_id, tree.size, tree.root(), START_TIME + 1000 * (len(pairs) + 1))
    (directory / "record.json").write_bytes(
        record_json(RecordHeader(election_id, BOARD_KEY.verify_key)))
    (directory / "tree-heads.jsonl").write_bytes(tree_head_line(head.sign(BOARD_KEY)))
    (directory / "board.jsonl").write_bytes(b"".join(lines))
    return directory


def rule_failures(directory: Path) -> list[tuple[str, str | None, int | None]]:
    """(check, rule, entry) of every failed check whose failure names a rule."""
    report = verify_record(Record.load(DirectorySource(directory)), in_progress=True)
    return [(c.name, c.first_failure.rule, c.first_failure.index)
            for c in report.checks
            if c.first_failure is not None and c.first_failure.rule is not None]


_dirs = itertools.count()


def run_sequence(client: Any, tmp: Path, names: list[str]) -> list[tuple[str, int, str | None]]:
    """Post ``create`` then ``names``; check the agreement at every step.

    Returns (name, status, rule) per message, for the scenario tests' own asserts."""
    election_id = unique_election_id("diff")
    u = universe(election_id)
    accepted: list[Msg] = []
    out = []
    for name in ["create", *names]:
        msg = u[name]
        response = post(client, election_id, msg)
        body = response.get_json()
        board = forced_record(tmp / f"b{next(_dirs)}", election_id, [*accepted, msg])
        failures = rule_failures(board)
        if response.status_code == 201:
            assert failures == [], (name, failures)
            accepted.append(msg)
            out.append((name, 201, None))
        else:
            assert 400 <= response.status_code < 500, (name, response.status_code, body)
            rule = body.get("rule")
            assert rule is not None, (name, body)
            assert failures, (name, rule, "the verifier accepts what the server refused")
            assert failures[0][1:] == (rule, len(accepted)), (name, rule, failures)
            out.append((name, response.status_code, rule))
    return out


# --- every forbidden order, named -------------------------------------------------------

SCENARIOS: list[tuple[str, list[str], str]] = [
    # (what, sequence, the rule its last message breaks)
    ("early reveal", HONEST[:6] + ["commit1"], "R-DKG-02"),
    ("announce twice", ["announce1", "announce1"], "R-DKG-01"),
    ("reveal twice", HONEST[:10] + ["commit1"], "R-DKG-03"),
    ("shares before every announcement", ["announce1", "deal1"], "R-DKG-04"),
    ("deal twice", HONEST[:4] + ["deal1"], "R-DKG-05"),
    ("late complaint", HONEST[:11] + ["complain"], "R-DKG-06"),
    ("complain twice", HONEST[:3] + ["complain", "complain"], "R-DKG-07"),
    ("answer without complaint", HONEST[:6] + ["answer"], "R-DKG-08"),
    ("answer twice", HONEST[:3] + ["complain", "answer", "answer"], "R-DKG-09"),
    ("complaint after the cut", HONEST[:7] + ["complain"], "R-DKG-14"),
    ("wrong QUAL", HONEST[:6] + ["qualify_wrong"], "R-DKG-15"),
    ("cut twice", HONEST[:7] + ["qualify"], "R-DKG-15"),
    ("reconstruct with nobody missing", HONEST[:10] + ["reconstruct3"], "R-DKG-16"),
    ("reveal after reconstruct", HONEST[:9] + ["reconstruct3", "commit3"], "R-DKG-16"),
    ("reconstruction not asked for", HONEST[:9] + ["rec1_3"], "R-DKG-17"),
    ("key before the cut", HONEST[:6] + ["key"], "R-DKG-18"),
    ("key before the ceremony", ["key"], "R-DKG-18"),
    ("open before the key", HONEST[:10] + ["creds_a", "open"], "R-PHASE-04"),
    ("second key", HONEST[:11] + ["key"], "R-PHASE-05"),
    ("repeated batch", HONEST[:11] + ["creds_a", "creds_a"], "R-CRED-01"),
    ("fingerprint of one batch", HONEST[:13] + ["open_a"], "R-OPEN-01"),
    ("forged signer", ["forged_announce"], "R-SIG-02"),
    ("announce after opening", HONEST[:14] + ["announce1"], "R-PHASE-03"),
    ("key after closing", HONEST + ["key"], "R-PHASE-03"),
]


@pytest.mark.parametrize("what,names,rule", SCENARIOS, ids=[s[0] for s in SCENARIOS])
def test_forbidden_order_refused_by_server_and_rejected_by_verifier(
    api_client, tmp_path, what, names, rule
):
    out = run_sequence(api_client, tmp_path, names)
    assert all(status == 201 for _, status, _ in out[:-1]), out
    assert out[-1][2] == rule, out


def test_honest_orders_with_complaint_answered_and_two_batches(api_client, tmp_path):
    names = HONEST[:3] + ["complain"] + HONEST[3:6] + ["answer"] + HONEST[6:]
    out = run_sequence(api_client, tmp_path, names)
    assert [s for _, s, _ in out] == [201] * len(out), out


def test_honest_order_with_a_dealer_rebuilt_in_public(api_client, tmp_path):
    """Trustee 3 never reveals; the official names it, trustees 1 and 2 publish its
    shares, and the same key (and fingerprint) is accepted by server and verifier."""
    names = HONEST[:9] + ["reconstruct3", "rec1_3", "rec2_3"] + HONEST[10:]
    out = run_sequence(api_client, tmp_path, names)
    assert [s for _, s, _ in out] == [201] * len(out), out


# --- random orders ---------------------------------------------------------------------

NAMES = [*HONEST, "open_a", "complain", "answer", "forged_announce", "qualify_wrong",
         "reconstruct3", "rec1_3", "rec2_3"]


@settings(max_examples=12, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(st.lists(st.sampled_from(NAMES), min_size=1, max_size=16)
       | st.permutations(HONEST).map(list))
def test_random_sequences_server_accepts_iff_verifier_accepts(api_client, tmp_path, names):
    run_sequence(api_client, tmp_path, names)


# --- ballots: the same agreement for casts and audits ------------------------------------


def _agree_on_ballot(e: Any, tmp: Path, response: Any, kind: str, payload: Any) -> str | None:
    """Server's answer to one ballot vs the verifier on the board with it appended."""
    before = [(x.kind, x.payload) for x in e.entries()]
    if response.status_code == 200:  # an identical resend: answered, nothing appended
        board = forced_board(tmp / f"b{next(_dirs)}", e.election_id, before)
        assert rule_failures(board) == []
        return None
    if response.status_code == 201:
        before = before[:-1]  # the accepted ballot is the last entry now
    board = forced_board(tmp / f"b{next(_dirs)}", e.election_id, [*before, (kind, payload)])
    failures = rule_failures(board)
    if response.status_code == 201:
        assert failures == [], failures
        return None
    rule = response.get_json().get("rule")
    assert rule is not None, response.get_json()
    assert failures and failures[0][1:] == (rule, len(before)), (rule, failures)
    return rule


def test_ballot_orders_server_and_verifier_agree(api_client, tmp_path):
    from evote.ballot import AuditedBallot

    e = api_election.build_election(api_client)
    cast, _ = e.ballot(1)
    ok = e.cast(cast, login=e.login(1))
    assert _agree_on_ballot(e, tmp_path, ok, "ballot_cast", {"ballot": cast.to_json()}) is None
    # the same ballot again from its login: answered (200), nothing appended (rules.md §3.5)
    size = len(e.entries())
    again = e.cast(cast, login=e.login(1))
    assert again.status_code == 200 and len(e.entries()) == size
    assert _agree_on_ballot(e, tmp_path, again, "ballot_cast", {"ballot": cast.to_json()}) is None
    ballot, secrets = e.ballot(0)
    audited = AuditedBallot.from_secrets(ballot, secrets)
    shown = e.audit(audited, login=e.login(0))
    assert _agree_on_ballot(e, tmp_path, shown, "ballot_audited",
                            {"audited": audited.to_json()}) is None
    # its randomness is public now: casting it is refused, and the verifier agrees
    replay = e.cast(ballot, login=e.login(0))
    assert _agree_on_ballot(e, tmp_path, replay, "ballot_cast",
                            {"ballot": ballot.to_json()}) == "R-BAL-03"
    e.close()
    late, _ = e.ballot(2)
    after = e.cast(late, login=e.login(2))
    assert _agree_on_ballot(e, tmp_path, after, "ballot_cast",
                            {"ballot": late.to_json()}) == "R-PHASE-03"
