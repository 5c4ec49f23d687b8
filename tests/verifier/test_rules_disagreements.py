"""The three disagreements of issue 12, each fixed by the one board projection.

Each test fails on the code before the rulebook: the verifier accepted a key
ceremony that broke commit-then-reveal and shares dealt before commitments;
the server accepted a complaint after ``key_published`` that its verifier
then failed; the CLI read only the first credential batch, so a second
``evote credentials issue`` made ``evote election open`` fail.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from evote.dkg import Complaint
from tests.support import recordgen
from tests.support.cli_server import fails, invoke, make_election, ok, start_server
from verifier.checks import verify_record
from verifier.record import Record
from verifier.sources import DirectorySource


def _setup_pairs(e: recordgen.Election, order: list[tuple[str, int]]) -> list:
    """election_created, then the ceremony messages in ``order`` ((kind, trustee) pairs),
    then key, credentials, opening: every message validly signed by its own party."""
    m = e.messages
    keys = {s.trustee: s.signing_key for s in e.states}
    by_kind = {
        "trustee_announced": {a.trustee: a for a in m.announcements},
        "trustee_committed": {c.trustee: c for c in m.commitments},
        "trustee_shares": {s.dealer: s for s in m.shares},
    }
    b = recordgen.BoardBuilder(e)
    recordgen.post_created(b)
    for kind, i in order:
        if kind == "ceremony_qualified":  # the official's cut (GJKR, docs/rules.md §3.6)
            b.command(kind, e.official, m.qualified.to_json())
            continue
        b.command(kind, keys[i], by_kind[kind][i].to_json())
    b.command("key_published", e.official, {"joint_key": e.joint.to_json()})
    b.command("credentials_published", e.authority, {"credentials": e.credentials.to_json()})
    from evote.encoding import b64encode

    b.command("election_opened", e.official, {"fingerprint": b64encode(e.ctx.fingerprint)})
    b.sign_head()
    return b


def _verify(tmp_path: Path, b: recordgen.BoardBuilder):
    recordgen.write_files(tmp_path, b.election, b)
    return verify_record(Record.load(DirectorySource(tmp_path)), in_progress=True)


@pytest.fixture(scope="module")
def election() -> recordgen.Election:
    return recordgen.make_election(seed=b"disagreements")


HONEST_ORDER = (
    [("trustee_announced", i) for i in (1, 2, 3)] + [("trustee_shares", i) for i in (1, 2, 3)]
    + [("ceremony_qualified", 0)] + [("trustee_committed", i) for i in (1, 2, 3)]
)


def test_honest_ceremony_order_verifies(election, tmp_path):
    order = HONEST_ORDER
    report = _verify(tmp_path, _setup_pairs(election, order))
    assert report.check("key-ceremony").status == "pass", report.check("key-ceremony")
    assert report.check("lifecycle").status == "pass"


def test_early_reveal_is_rejected_with_its_rule(election, tmp_path):
    """Trustee 1 reveals its Feldman values before the official fixed QUAL (issue 12,
    item 1, in its GJKR form: the reveal must follow ceremony_qualified)."""
    order = [*HONEST_ORDER[:6], ("trustee_committed", 1), *HONEST_ORDER[6:7],
             *HONEST_ORDER[8:]]
    report = _verify(tmp_path, _setup_pairs(election, order))
    check = report.check("key-ceremony")
    assert check.status == "fail"
    first = check.first_failure
    assert (first.rule, first.code, first.index) == ("R-DKG-02", "wrong_phase", 7)
    assert "only after ceremony_qualified" in first.message
    # every other check of the setup is fine: only the rule catches it
    assert report.check("command-signatures").status == "pass"
    assert report.check("hash-chain").status == "pass"
    assert report.check("lifecycle").status == "pass"


def test_shares_before_every_announcement_are_rejected_with_its_rule(election, tmp_path):
    order = [("trustee_announced", 1), ("trustee_announced", 2), ("trustee_shares", 1),
             *HONEST_ORDER[2:3], *HONEST_ORDER[4:]]
    report = _verify(tmp_path, _setup_pairs(election, order))
    first = report.check("key-ceremony").first_failure
    assert first is not None
    assert (first.rule, first.code, first.index) == ("R-DKG-04", "wrong_phase", 3)
    assert report.check("command-signatures").status == "pass"
    # the JSON report carries the rule id too
    assert report.to_json()["checks"][2]["first_failure"]["rule"] == "R-DKG-04"


def test_late_complaint_breaks_r_dkg_06_in_the_projection(election):
    """The fold itself: a validly signed complaint after key_published is refused."""
    b = _setup_pairs(election, HONEST_ORDER)
    from evote.payloads import Command
    from evote.rules import BoardState

    state = BoardState()
    for entry in b.entries[:-2]:  # up to key_published
        state = state.apply(Command.from_entry(entry))
    assert state.joint_key is not None
    s2 = election.states[1]
    complaint = Complaint.create(election.election_id, s2.signing_key, accuser=2, accused=1,
                                 reason="bad-share")
    from evote.commands import sign_command

    cmd = Command.parse("trustee_complaint", sign_command(
        s2.signing_key, election.election_id, "trustee_complaint", complaint.to_json()).to_json())
    with pytest.raises(Exception) as info:
        state.apply(cmd)
    assert getattr(info.value, "rule", None) == "R-DKG-06"
    assert (info.value.code, info.value.http_status) == ("wrong_phase", 409)


# --- the CLI: two credential batches (issue 12, item 3) --------------------------------


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    yield from start_server(tmp_path_factory.mktemp("rules-server"))


def test_two_credential_batches_open_and_verify(server, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    e = make_election(server, tmp_path, "two-batches", credentials=False, open_it=False)
    ok(invoke(None, "credentials", "init", "--key", "ca2.key"))  # unused: the CA is e.ca
    (tmp_path / "first.csv").write_text("voter_id,weight\nalice,1\nbob,2\ncarol,1\n")
    (tmp_path / "second.csv").write_text("voter_id,weight\ndave,1\nerin,3\n")
    out1 = ok(invoke(server, "credentials", "issue", "--election", e.id, "--from", "first.csv",
                     "--out", "creds1", "--key", e.ca))
    assert "published 3 public credentials" in out1.output
    out2 = ok(invoke(server, "credentials", "issue", "--election", e.id, "--from", "second.csv",
                     "--out", "creds2", "--key", e.ca))
    assert "published 2 public credentials" in out2.output
    status = ok(invoke(server, "election", "status", e.id))
    assert "5 published" in status.output, status.output
    opened = ok(invoke(server, "election", "open", e.id, "--key", e.official))
    assert "is open; fingerprint" in opened.output
    # the same batch again is refused by the rule, with its id
    again = invoke(server, "credentials", "issue", "--election", e.id, "--from", "second.csv",
                   "--out", "creds3", "--key", e.ca)
    assert again.exit_code != 0
    (tmp_path / "all.csv").write_text("voter_id\nbob\nerin\n")
    ok(invoke(server, "voters", "register", "--election", e.id, "--from", "all.csv",
              "--out", "logins", "--key", e.official))
    for voter, creds in (("bob", "creds1"), ("erin", "creds2")):  # one of each batch
        ok(invoke(server, "vote", "--login", f"logins/{voter}.login", "--credential",
                  f"{creds}/credentials/{voter}.json", "--choices", "park=1;priorities=1"))
    ok(invoke(server, "election", "export", e.id, "--out", "record"))
    run = subprocess.run([sys.executable, "-c", "from verifier.main import main; main()",
                          "record", "record", "--in-progress", "--json", "--workers", "1"],
                         capture_output=True, text=True, cwd=tmp_path)
    report = json.loads(run.stdout)
    checks = {c["name"]: c for c in report["checks"]}
    assert checks["credentials"]["status"] == "pass", checks["credentials"]
    assert checks["credentials"]["counts"]["credentials"] == 5
    assert checks["credentials"]["counts"]["batches"] == 2
    assert checks["manifest"]["status"] == "pass", checks["manifest"]
    assert checks["ballots"]["counts"]["valid"] == 2
    assert run.returncode == 0, run.stdout


def test_server_refuses_a_late_complaint(server, tmp_path):
    """Issue 12 item 2: the complaint used to get 201 and then fail the verifier."""
    e = make_election(server, tmp_path, "late-complaint", credentials=False, open_it=False)
    # `evote election open` publishes the joint key, then stops: no credential list yet
    fails(invoke(server, "election", "open", e.id, "--key", e.official),
          "credential authority has not published")
    from cli import trustee
    from cli.client import Client
    from evote.commands import sign_command

    st = trustee.load_state(e.trustees[1])
    complaint = Complaint.create(e.id, st.signing_key, accuser=2, accused=1, reason="bad-share")
    body = sign_command(st.signing_key, e.id, "trustee_complaint", complaint.to_json()).to_json()
    import httpx

    resp = httpx.post(f"{server.url}/api/v1/elections/{e.id}/commands/trustee_complaint",
                      json=body)
    assert resp.status_code == 409, resp.text
    err = resp.json()
    assert err["code"] == "wrong_phase" and err["rule"] == "R-DKG-06"
    # and nothing was written: the ceremony is unchanged
    with Client(server.url) as client:
        trustees = client.get(f"/elections/{e.id}/trustees")
    assert trustees["complaints"] == []
