"""The `evote` commands against a real ballot server (gunicorn on loopback).

The first test runs a whole election through the command line only, one
command per role, including the waits of the key ceremony, re-voting,
auditing, receipts, a tally that must wait for a second trustee, the result
table and chart, and the export checked by the verifier.  The other tests
each make their own election and drive one failure.
"""

from __future__ import annotations

import json
import os
import re
import stat
import subprocess
import sys

import pytest

from cli.client import Client
from cli.keyfiles import read_key_file
from cli.official import create_signing_key
from evote.credentials import CredentialFile, CredentialList
from evote.signing import SigningKey
from tests.support.cli_server import (
    fails,
    invoke,
    make_election,
    ok,
    parties,
    start_server,
    vote,
    write_manifest,
)


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    yield from start_server(tmp_path_factory.mktemp("cli-server"))


def tracking_code(result) -> str:
    match = re.search(r"tracking code ([0-9A-Z]{4}(?:-[0-9A-Z]{4}){3})", result.output)
    assert match, result.output
    return match.group(1)


def test_whole_election_through_the_command_line(server, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    eid = "cli-flow"
    ok(invoke(None, "credentials", "init", "--key", "ca.key"))
    for i in (1, 2, 3):
        ok(invoke(None, "trustee", "init", "--state", f"t{i}.state"))
    assert stat.S_IMODE(os.stat("t1.state").st_mode) == 0o600
    official = server.keys / "official.key"
    ok(
        invoke(
            server,
            "election",
            "create",
            write_manifest(tmp_path / "m.json", eid),
            "--key",
            official,
            "--credential-authority",
            "ca.pub",
            "--trustee",
            "t1.pub",
            "--trustee",
            "t2.pub",
            "--trustee",
            "t3.pub",
            "--threshold",
            "2",
        )
    )

    # Key ceremony: each trustee runs keygen, then shares; early runs say whom they wait for.
    fails(
        invoke(
            server, "trustee", "keygen", "--state", "t1.state", "--election", eid, "--timeout", "0"
        ),
        "waiting for trustees 2, 3 to announce",
    )
    fails(
        invoke(
            server, "trustee", "keygen", "--state", "t2.state", "--election", eid, "--timeout", "0"
        ),
        "waiting for trustee 3 to announce",
    )
    ok(invoke(server, "trustee", "keygen", "--state", "t3.state", "--election", eid))
    ok(invoke(server, "trustee", "keygen", "--state", "t1.state", "--timeout", "0"))
    fails(
        invoke(server, "trustee", "shares", "--state", "t1.state", "--timeout", "0"),
        "waiting for trustee 2 to deal theirs",
    )
    # GJKR: the official fixes QUAL only after phase 1, before anything about the key is public
    fails(invoke(server, "election", "qualify", eid, "--key", official),
          "waiting for trustee 2 to deal shares")
    ok(invoke(server, "trustee", "keygen", "--state", "t2.state", "--timeout", "0"))
    fails(
        invoke(server, "trustee", "shares", "--state", "t1.state", "--timeout", "0"),
        "waiting for the official to fix the qualified trustees",
    )
    fails(invoke(server, "election", "open", eid, "--key", official),
          "the qualified trustees are not fixed yet")
    out = ok(invoke(server, "election", "qualify", eid, "--key", official))
    assert "qualified trustees [1, 2, 3]" in out.output
    fails(
        invoke(server, "trustee", "shares", "--state", "t1.state", "--timeout", "0"),
        "waiting for trustees 2, 3 to reveal",
    )
    fails(
        invoke(server, "trustee", "shares", "--state", "t2.state", "--timeout", "0"),
        "waiting for trustee 3 to reveal",
    )
    ok(invoke(server, "trustee", "shares", "--state", "t3.state"))
    for i in (1, 2):
        ok(invoke(server, "trustee", "shares", "--state", f"t{i}.state", "--timeout", "0"))

    fails(
        invoke(server, "election", "open", eid, "--key", official),
        "credential authority has not published",
    )

    (tmp_path / "voters.csv").write_text("voter_id,weight\nalice,1\nbob,1\ncarol,2\ndave,1\n")
    out = ok(
        invoke(
            server,
            "credentials",
            "issue",
            "--election",
            eid,
            "--from",
            "voters.csv",
            "--out",
            "creds",
            "--key",
            "ca.key",
        )
    )
    assert "published 4 public credentials" in out.output and "total weight 5" in out.output
    assert stat.S_IMODE(os.stat("creds/credentials/alice.json").st_mode) == 0o600
    assert stat.S_IMODE(os.stat("creds").st_mode) == 0o700
    sheet = (tmp_path / "creds/sheets/alice.txt").read_text()
    code = json.loads((tmp_path / "creds/credentials/alice.json").read_text())["code"]
    assert "alice" in sheet and code.split("-")[0] in sheet
    assert "<path" in (tmp_path / "creds/sheets/alice.svg").read_text()
    public = (tmp_path / "creds/public-credentials.json").read_text()
    assert "alice" not in public and len(CredentialList.from_json(json.loads(public))) == 4

    ok(
        invoke(
            server,
            "voters",
            "register",
            "--election",
            eid,
            "--from",
            "voters.csv",
            "--out",
            "logins",
            "--key",
            official,
        )
    )
    assert stat.S_IMODE(os.stat("logins/bob.login").st_mode) == 0o600

    def cast(voter, choices, *extra):
        return invoke(
            server,
            "vote",
            "--login",
            f"logins/{voter}.login",
            "--credential",
            f"creds/credentials/{voter}.json",
            "--choices",
            choices,
            *extra,
        )

    fails(cast("alice", "park=1;priorities=1"), "is not open (phase setup)")
    opened = ok(invoke(server, "election", "open", eid, "--key", official))
    assert "is open; fingerprint" in opened.output

    ok(cast("alice", "park=2;priorities="))  # alice changes her mind below
    ok(cast("alice", "park=1;priorities=1,3"))
    ok(cast("carol", "1=2;2=2"))  # weight 2
    audited = ok(cast("dave", "park=1;priorities=2", "--audit"))
    assert "NOT counted" in audited.output
    code = tracking_code(audited)
    assert not list(tmp_path.glob(f"receipt-{code}.json"))
    checked = subprocess.run(
        [
            sys.executable,
            "-m",
            "verifier.main",
            "audit",
            f"audited-{code}.json",
            "--source",
            server.url,
            "--election",
            eid,
            "-q",
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr
    interactive = ok(
        invoke(
            server,
            "vote",
            "--login",
            "logins/dave.login",
            "--credential",
            "creds/credentials/dave.json",
            input="3\n1\n1,2,3\n1,2\ny\n",
        )
    )
    assert "choose exactly 1" in interactive.output  # the answer "3" was refused, then 1 taken
    bob = ok(cast("bob", "park=2;priorities=3", "--receipt", "bob-receipt.json"))
    assert "tracking code" in bob.output
    ok(invoke(server, "receipt", "check", "bob-receipt.json"))

    # Bob's credential used with Alice's login: the server's binding refuses it.
    fails(
        invoke(
            server,
            "vote",
            "--login",
            "logins/alice.login",
            "--credential",
            "creds/credentials/bob.json",
            "--choices",
            "park=1;priorities=",
        ),
        "[binding]",
    )

    status = ok(invoke(server, "election", "status", eid))
    assert re.search(r"phase\s+open", status.output)
    assert "5 cast, 4 counted" in status.output and "1 audited" in status.output

    fails(invoke(server, "trustee", "decrypt", "--state", "t1.state"), "no tally to decrypt yet")
    ok(invoke(server, "election", "close", eid, "--key", official))
    fails(cast("bob", "park=1;priorities="), "is not open (phase closed)")

    fails(
        invoke(server, "election", "tally", eid, "--key", official, "--timeout", "0"),
        "0 of the 2 partial decryptions",
        "waiting for trustees 1, 2, 3",
    )
    ok(invoke(server, "trustee", "decrypt", "--state", "t1.state"))
    fails(
        invoke(server, "election", "tally", eid, "--key", official, "--timeout", "0"),
        "1 of the 2 partial decryptions",
    )
    ok(invoke(server, "trustee", "decrypt", "--state", "t3.state", "--skip-ballot-proofs"))
    tallied = ok(
        invoke(server, "election", "tally", eid, "--key", official, "--chart", "tally.svg")
    )
    # alice: Yes + lanes + lighting; carol (x2): No + playgrounds; dave: Yes + lanes + playgrounds;
    # bob: No + lighting.
    for option, count in (
        ("Yes", 2),
        ("No", 3),
        ("Cycle lanes", 2),
        ("Playgrounds", 3),
        ("Lighting", 2),
    ):
        assert re.search(rf"{option}\s*│\s*{count}\b", tallied.output), tallied.output
    assert "4 ballots counted (total weight 5)" in tallied.output

    result = ok(invoke(server, "election", "result", eid, "--chart", "result.svg"))
    assert re.search(r"Playgrounds\s*│\s*3\b", result.output)
    assert (tmp_path / "result.svg").read_text().startswith("<svg")
    fails(
        invoke(server, "election", "result", eid, "--chart", "result.gif"),
        "must end in .svg or .png",
    )
    late = ok(invoke(server, "trustee", "decrypt", "--state", "t2.state"))
    assert "not needed" in late.output
    again = ok(invoke(server, "trustee", "decrypt", "--state", "t1.state"))
    assert "already on the board" in again.output

    ok(invoke(server, "election", "export", eid, "--out", "record"))
    ok(invoke(server, "election", "export", eid, "--out", "record.zip"))
    fails(invoke(server, "election", "export", eid, "--out", "record"), "not empty")
    verified = subprocess.run(
        [sys.executable, "-m", "verifier.main", "record", "-q", "record"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert verified.returncode == 0, verified.stdout + verified.stderr


def test_unknown_credential_is_refused_before_encrypting(server, tmp_path):
    e = make_election(server, tmp_path, "cli-unknown-cred", voters=1)
    stranger = tmp_path / "stranger.json"
    key = SigningKey.generate(os.urandom)
    stranger.write_text(json.dumps(CredentialFile(e.id, key).to_json()))
    fails(
        invoke(
            server,
            "vote",
            "--login",
            e.login(e.voters[0]),
            "--credential",
            stranger,
            "--choices",
            "park=1;priorities=",
        ),
        "unknown credential",
        "[bad_credential]",
    )


def test_mistyped_or_foreign_credential_files(server, tmp_path):
    e = make_election(server, tmp_path, "cli-bad-cred", voters=1, open_it=False)
    good = json.loads(e.credential(e.voters[0]).read_text())
    typo = tmp_path / "typo.json"
    typo.write_text(
        json.dumps({**good, "code": good["code"][:-1] + ("0" if good["code"][-1] != "0" else "1")})
    )
    fails(
        invoke(
            server,
            "vote",
            "--login",
            e.login(e.voters[0]),
            "--credential",
            typo,
            "--choices",
            "park=1;priorities=",
        ),
        "checksum",
    )
    fails(
        invoke(
            server,
            "vote",
            "--login",
            e.credential(e.voters[0]),
            "--credential",
            e.credential(e.voters[0]),
            "--choices",
            "park=1",
        ),
        "not an evote login file",
    )


def test_bad_choices_and_wrong_login(server, tmp_path):
    e = make_election(server, tmp_path, "cli-choices", voters=2)
    fails(vote(server, e, e.voters[0], "park=1,2;priorities="), "at most 1 allowed")
    fails(vote(server, e, e.voters[0], "park=1"), "no answer for question 'priorities'")
    fails(vote(server, e, e.voters[0], "park=3;priorities="), "options 1 to 2")
    fails(vote(server, e, e.voters[0], "votes=1"), "no question 'votes'")
    other = tmp_path / "forged.login"
    other.write_text("bm9ib2R5.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\n")
    fails(
        invoke(
            server,
            "vote",
            "--login",
            other,
            "--credential",
            e.credential(e.voters[0]),
            "--choices",
            "park=1;priorities=",
        ),
        "[unauthenticated]",
    )


def test_tampered_receipt_is_caught(server, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    e = make_election(server, tmp_path, "cli-receipt", voters=1)
    ok(vote(server, e, e.voters[0], "park=1;priorities=", "--receipt", "r.json"))
    receipt = json.loads((tmp_path / "r.json").read_text())
    receipt["index"] -= 1
    (tmp_path / "bad.json").write_text(json.dumps(receipt))
    fails(invoke(server, "receipt", "check", "bad.json"), "signature does not verify")
    fails(invoke(server, "receipt", "check", "missing.json"), "receipt missing.json does not exist")


def test_official_commands_need_the_official_key(server, tmp_path):
    e = make_election(server, tmp_path, "cli-wrong-key", open_it=False)
    fails(
        invoke(server, "election", "open", e.id, "--key", e.ca),
        "wrong key file",
        "credential authority key, expected the official key",
    )
    other = tmp_path / "other-official.key"
    create_signing_key(other, "official")
    fails(
        invoke(server, "election", "open", e.id, "--key", other),
        "not the official key of election 'cli-wrong-key'",
    )
    fails(
        invoke(server, "election", "close", e.id, "--key", server.keys / "official.key"),
        "is not open (phase setup)",
    )
    # An official not on the server's allow-list cannot create elections at all.
    (tmp_path / "p").mkdir()
    ca, states = parties(tmp_path / "p", 1)
    fails(
        invoke(
            server,
            "election",
            "create",
            write_manifest(tmp_path / "m.json", "cli-unlisted"),
            "--key",
            other,
            "--credential-authority",
            ca.with_suffix(".pub"),
            "--trustee",
            states[0].with_suffix(".pub"),
        ),
        "[wrong_signer]",
    )
    fails(
        invoke(
            server,
            "election",
            "create",
            write_manifest(tmp_path / "m2.json", e.id),
            "--key",
            server.keys / "official.key",
            "--credential-authority",
            ca.with_suffix(".pub"),
            "--trustee",
            states[0].with_suffix(".pub"),
        ),
        "already exists",
    )


def test_trustee_errors(server, tmp_path):
    e = make_election(
        server, tmp_path, "cli-trustee", ceremony=False, credentials=False, open_it=False
    )
    stranger = tmp_path / "stranger.state"
    ok(invoke(None, "trustee", "init", "--state", stranger))
    fails(
        invoke(server, "trustee", "keygen", "--state", stranger, "--election", e.id),
        "not one of the election's trustees",
    )
    fails(
        invoke(server, "trustee", "shares", "--state", stranger),
        "has not taken part in a key ceremony",
    )
    fails(
        invoke(server, "trustee", "keygen", "--state", e.trustees[0]),
        "not bound to an election yet: pass --election",
    )
    ok(invoke(server, "trustee", "init", "--state", tmp_path / "new.state"))
    fails(
        invoke(server, "trustee", "init", "--state", tmp_path / "new.state"),
        "refusing to overwrite",
    )
    fails(
        invoke(server, "election", "open", e.id, "--key", server.keys / "official.key"),
        "the qualified trustees are not fixed yet",
    )
    fails(
        invoke(server, "election", "qualify", e.id, "--key", server.keys / "official.key",
               "--now"),
        "trustee 1, step 1 (announcement): no announcement",
    )


def test_credentials_issue_and_publish_errors(server, tmp_path):
    e = make_election(server, tmp_path, "cli-publish", credentials=False, open_it=False)
    (tmp_path / "v.csv").write_text("voter_id\nx\ny\n")
    fails(
        invoke(
            server,
            "credentials",
            "issue",
            "--election",
            e.id,
            "--from",
            tmp_path / "v.csv",
            "--out",
            tmp_path / "c",
            "--key",
            server.keys / "official.key",
        ),
        "wrong key file",
    )
    ok(
        invoke(
            server,
            "credentials",
            "issue",
            "--election",
            e.id,
            "--count",
            "2",
            "--out",
            tmp_path / "c",
            "--key",
            e.ca,
            "--no-sheets",
        )
    )
    assert not (tmp_path / "c" / "sheets").exists()
    fails(
        invoke(
            server,
            "credentials",
            "publish",
            tmp_path / "c/public-credentials.json",
            "--election",
            e.id,
            "--key",
            e.ca,
        ),
        "already published",
        "[already_exists]",
    )
    usage = invoke(
        server,
        "credentials",
        "issue",
        "--election",
        e.id,
        "--count",
        "1",
        "--from",
        "x",
        "--out",
        tmp_path / "d",
        "--key",
        e.ca,
    )
    assert usage.exit_code == 2 and "exactly one of --count N or --from" in usage.output


def test_status_of_an_unknown_election(server):
    fails(invoke(server, "election", "status", "no-such-election"), "no election", "[not_found]")


def test_client_reads_server_errors_as_typed_exceptions(server):
    from evote.errors import NotFound

    with Client(server.url) as client, pytest.raises(NotFound):
        client.get("/elections/nope")
    assert read_key_file(server.keys / "official.key", "official")


def test_registering_a_voter_twice_writes_nothing(server, tmp_path):
    e = make_election(server, tmp_path, "cli-register", voters=2, open_it=False)
    roster = tmp_path / "again.csv"
    roster.write_text(f"voter_id\nnew-voter\n{e.voters[0]}\n")
    fails(
        invoke(
            server,
            "voters",
            "register",
            "--election",
            e.id,
            "--from",
            roster,
            "--out",
            tmp_path / "again",
            "--key",
            e.official,
        ),
        "[already_exists]",
    )
    assert not (tmp_path / "again").exists()
    fails(
        invoke(
            server,
            "voters",
            "register",
            "--election",
            e.id,
            "--from",
            roster,
            "--out",
            e.logins,
            "--key",
            e.official,
        ),
        "not empty",
    )
