"""Abandoning an election that never opened (``election_abandoned``, R-PHASE-07).

Unhappy paths first: abandoning an open election, abandoning twice, anything
after an abandonment, the wrong signer, a malformed reason, each refused by the
projection (core), by the server (409/403/422 with the rule, nothing written)
and by ``evote election abandon`` (a ``[code]``, exit 1).  Then the honest path:
the record of an abandoned election verifies as such, and a real failure in it
is still a failure.

Runs on SQLite and PostgreSQL (one database per module, one election per test).
"""

from __future__ import annotations

import json
import zipfile

import pytest
from click.testing import CliRunner

from evote.election import ElectionState
from evote.encoding import canonical_json
from evote.errors import RuleViolation, SchemaError
from evote.kinds import ELECTION_ABANDONED, SPECS, Phase
from evote.payloads import MAX_ABANDON_REASON, ElectionAbandoned
from tests.support import api_election
from tests.support.api_election import OFFICIAL, build_election
from tests.support.witnesses import served_record
from verifier.checks import verify_record
from verifier.main import cli as verify_cli
from verifier.record import Record

api_db = api_election.api_db
api_app = api_election.api_app
api_client = api_election.api_client

OPENED = ["election_created", "key_published", "credentials_published", "election_opened"]


# --- the phase table and the payload ------------------------------------------------


@pytest.mark.parametrize("before", [OPENED, [*OPENED, "election_closed"]])
def test_only_an_election_in_setup_can_be_abandoned(before) -> None:
    with pytest.raises(RuleViolation) as err:
        ElectionState.replay(before).apply(ELECTION_ABANDONED)
    assert err.value.rule == "R-PHASE-07" and err.value.code == "wrong_phase"


def test_an_empty_board_cannot_start_with_an_abandonment() -> None:
    with pytest.raises(RuleViolation) as err:
        ElectionState().apply(ELECTION_ABANDONED)
    assert err.value.rule == "R-PHASE-01"


@pytest.mark.parametrize("kind", ["trustee_announced", "key_published", "election_opened",
                                  "ballot_cast", ELECTION_ABANDONED, "election_closed"])
def test_nothing_is_appended_after_an_abandonment(kind) -> None:
    state = ElectionState.replay(["election_created", "trustee_announced", ELECTION_ABANDONED])
    assert state.phase is Phase.ABANDONED
    assert state.allowed_kinds() == frozenset()
    with pytest.raises(RuleViolation) as err:
        state.apply(kind)
    assert err.value.rule == "R-PHASE-07"


@pytest.mark.parametrize("body", [{}, {"reason": ""}, {"reason": 7},
                                  {"reason": "x" * (MAX_ABANDON_REASON + 1)},
                                  {"reason": "ok", "extra": 1}])
def test_a_malformed_reason_is_refused(body) -> None:
    with pytest.raises(SchemaError):
        ElectionAbandoned.from_json(body)


def test_the_registry_gives_the_official_the_abandonment() -> None:
    spec = SPECS[ELECTION_ABANDONED]
    assert (spec.role, spec.phase, spec.then, spec.check) == (
        "official", Phase.SETUP, Phase.ABANDONED, "lifecycle")
    assert ElectionAbandoned.from_json({"reason": "lost a trustee"}).to_json() == {
        "reason": "lost a trustee"}


# --- through the server ----------------------------------------------------------------


def _abandon(e, key=OFFICIAL, reason: str = "trustee 2 lost its state file"):
    return e.post(ELECTION_ABANDONED, key, {"reason": reason})


def test_the_server_refuses_to_abandon_an_open_election(api_client) -> None:
    e = build_election(api_client)
    size = e.size()
    response = _abandon(e)
    assert response.status_code == 409, response.get_json()
    body = response.get_json()
    assert body["code"] == "wrong_phase" and body["rule"] == "R-PHASE-07", body
    assert e.size() == size


def test_the_server_refuses_an_abandonment_by_another_key(api_client) -> None:
    e = build_election(api_client, stop_before="trustee_shares")
    size = e.size()
    response = _abandon(e, key=e.authority)
    assert response.status_code == 403, response.get_json()
    assert response.get_json()["code"] == "wrong_signer"
    bad = e.post(ELECTION_ABANDONED, OFFICIAL, {"reason": ""})
    assert bad.status_code == 422 and bad.get_json()["code"] == "bad_schema", bad.get_json()
    assert e.size() == size


def test_after_an_abandonment_the_server_appends_nothing(api_client) -> None:
    e = build_election(api_client, stop_before="trustee_shares")
    assert _abandon(e).status_code == 201
    size = e.size()
    info = api_client.get(e.url).get_json()
    assert info["phase"] == "abandoned" and info["allowed_commands"] == [], info
    for kind, key, body in [
        (ELECTION_ABANDONED, OFFICIAL, {"reason": "again"}),
        ("key_published", OFFICIAL, {"joint_key": {}}),
        ("trustee_shares", e.trustee_keys[0], e.shares[0].to_json() if e.shares else {}),
    ]:
        response = e.post(kind, key, body)
        assert response.status_code in (409, 422), (kind, response.get_json())
        if response.status_code == 409:
            assert response.get_json()["rule"] == "R-PHASE-07", response.get_json()
    voters = e.post("register_voters", OFFICIAL, {"voters": ["late-voter"]})
    assert voters.status_code == 409, voters.get_json()
    assert e.size() == size


def test_the_record_of_an_abandoned_election_verifies_as_abandoned(api_client, tmp_path) -> None:
    e = build_election(api_client, stop_before="trustee_shares")
    assert _abandon(e).status_code == 201
    with served_record(api_client, e.url, tmp_path / "record.zip") as source:
        report = verify_record(Record.load(source))
    assert report.ok and report.abandoned and report.result == ()
    statuses = {c.name: c.status for c in report.checks}
    assert statuses["lifecycle"] == "pass" and statuses["command-signatures"] == "pass"
    for name in ("ballots", "counted-set", "aggregation", "result"):
        assert statuses[name] == "skipped", (name, statuses)
        assert "R-PHASE-07" in report.check(name).note
    # the command line says it in words, and in --json
    out = CliRunner().invoke(verify_cli, ["record", str(tmp_path / "record.zip"), "--json",
                                          "--workers", "1"])
    assert out.exit_code == 0, out.output
    assert json.loads(out.stdout)["abandoned"] is True
    quiet = CliRunner().invoke(verify_cli, [str(tmp_path / "record.zip"), "-q", "--workers", "1"])
    assert quiet.exit_code == 0 and "VERIFIED (abandoned election)" in quiet.stdout
    table = CliRunner().invoke(verify_cli, [str(tmp_path / "record.zip"), "--workers", "1"])
    assert "ABANDONED" in table.stdout, table.stdout
    # an audited ballot cannot be checked against an election that never opened
    (tmp_path / "audit.json").write_text(json.dumps({"ballot": {}}))
    audit = CliRunner().invoke(verify_cli, ["audit", str(tmp_path / "audit.json"),
                                            str(tmp_path / "record.zip"), "--json"])
    assert audit.exit_code == 1, audit.output
    assert audit.exception is None or isinstance(audit.exception, SystemExit), audit.exception
    contexts = {c["name"]: c for c in json.loads(audit.stdout)["checks"]}
    assert contexts["election-context"]["first_failure"]["code"] == "no_context"


def test_an_abandoned_record_with_a_forged_entry_still_fails(api_client, tmp_path) -> None:
    """The abandonment skips only the empty verdicts: a rewritten reason still fails."""
    e = build_election(api_client, stop_before="trustee_shares")
    assert _abandon(e).status_code == 201
    archive = tmp_path / "record.zip"
    archive.write_bytes(api_client.get(f"{e.url}/record").data)
    directory = tmp_path / "dir"
    with zipfile.ZipFile(archive) as z:
        z.extractall(directory)
    board = (directory / "board.jsonl").read_bytes().splitlines()
    entry = json.loads(board[-1])
    assert entry["kind"] == ELECTION_ABANDONED
    entry["payload"]["body"] = {"reason": "someone else's words"}  # the signature is now wrong
    board[-1] = canonical_json(entry)
    (directory / "board.jsonl").write_bytes(b"\n".join(board) + b"\n")
    out = CliRunner().invoke(verify_cli, ["record", str(directory), "--json", "--workers", "1"])
    assert out.exit_code == 1, out.output
    report = json.loads(out.stdout)
    failed = {c["name"]: c["first_failure"] for c in report["checks"] if c["status"] == "fail"}
    assert failed["command-signatures"]["rule"] == "R-SIG-01", failed
    assert "tree-heads" in failed, failed  # the signed head no longer matches the board
