"""The officials' rough edges (issue 17), tried as a new operator following docs/guide.md.

Unhappy paths first, each with its ``[code]`` and exit status: every CLI failure
carries a code; ``election export`` of a witnessed election refuses (or, with
``--allow-uncosigned``, warns about) a record without a cosigned checkpoint of
the whole board, and waits for one; a second election naming a trustee key of
another one is refused; ``election abandon`` refuses an open election; a pinned
board key that is not the server's says so; a re-registered voter id is named.
Then the happy paths those fixes enable, against a real ballot server
(gunicorn on loopback) and real witnesses.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from cli import trustee
from cli.chart import write_chart
from cli.console import CliError
from cli.credentials import issue_to_directory, numbered_labels
from cli.main import cli as evote_cli
from cli.official import create_signing_key
from cli.vote import answer_hint, check_row, parse_row
from cli.voters import login_file_json
from evote.manifest import Question
from tests.cli_server import (
    MANIFEST,
    fails,
    invoke,
    make_election,
    manifest_for,
    ok,
    start_server,
    write_manifest,
)
from tests.witnesses import init_witnesses, policy_of, poll_server
from verifier.main import cli as verify_cli
from verifier.report import CheckResult, Report, report_title

ROOT = Path(__file__).resolve().parent.parent  # run `-m verifier.main` from this checkout
CODE = re.compile(r"\[[a-z_]+\]")


def error_line(result) -> str:
    """The one line that reports the failure (click's usage errors: the 'Error:' line)."""
    lines = [ln for ln in result.output.splitlines() if ln.startswith(("error:", "Error:"))]
    assert len(lines) == 1, result.output
    return lines[0]


def assert_coded(result, code: str, *needles: str) -> str:
    assert result.exit_code != 0, result.output
    assert "Traceback" not in result.output
    line = error_line(result)
    assert CODE.search(line), line
    assert line.rstrip().endswith(f"[{code}]"), line
    for needle in needles:
        assert needle in line, line
    return line


# --- without a server ----------------------------------------------------------------------


@pytest.fixture
def parties(tmp_path, monkeypatch):
    """official.key, ca.key and three trustee states in a fresh working directory."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("EVOTE_SERVER", raising=False)
    create_signing_key(tmp_path / "official.key", "official")
    create_signing_key(tmp_path / "ca.key", "credential-authority")
    pubs = []
    for i in (1, 2, 3):
        trustee.init_trustee(tmp_path / f"t{i}.state")
        pubs.append(trustee.load_state(tmp_path / f"t{i}.state").public.to_json())
    return pubs


def create_args(manifest: str, pubs: list[str]) -> list[str]:
    args = ["election", "create", manifest, "--key", "official.key",
            "--credential-authority", "ca.pub"]
    for p in pubs:
        args += ["--trustee", p]
    return args


def test_every_failure_of_the_command_line_carries_its_code(parties, tmp_path):
    """Many failing invocations, one per kind of local mistake: each says ``[code]``, exit != 0."""
    (tmp_path / "other.login").write_text(json.dumps(login_file_json("nope", "v1", "ABCD-EFGH")))
    write_manifest(tmp_path / "m.json", "rough-local")
    issue_to_directory("rough-local", "T", numbered_labels(1), tmp_path / "creds", quiet=True)
    credential = next((tmp_path / "creds" / "credentials").glob("*.json"))
    (tmp_path / "not-a-key.key").write_text("{}")
    cases = [
        (create_args("nosuch.yaml", parties) + ["--check"], "not_found",
         "manifest nosuch.yaml does not exist"),
        (["official", "init", "--key", "official.key"], "already_exists",
         "official.key already exists; refusing to overwrite it"),
        (["vote", "--server", "http://127.0.0.1:9", "--credential", "nosuch.json", "--login",
          "other.login"], "not_found", "credential file nosuch.json does not exist"),
        (["vote", "--server", "http://127.0.0.1:9", "--credential", str(credential),
          "--login", "other.login"], "wrong_election", "'nope'"),
        (create_args("m.json", parties) + ["--key", "not-a-key.key", "--check"], "wrong_file",
         "not-a-key.key"),
        (["trustee", "init", "--state", "t1.state"], "already_exists", "t1.state"),
        (["trustee", "keygen", "--state", "nosuch.state", "--server", "http://127.0.0.1:9"],
         "not_found", "nosuch.state"),
        (["witness", "init", str(tmp_path / "w"), "--name", "not a name"], "bad_encoding", ""),
        (["election", "status", "x", "--server", "http://127.0.0.1:9"], "server_unreachable",
         "cannot reach the server"),
        (["election", "create", "m.json", "--check"], "usage", "--credential-authority"),
        (["election", "nosuch"], "usage", "nosuch"),
    ]
    for args, code, needle in cases:
        assert_coded(invoke(None, *args), code, needle)


def test_chart_errors_carry_their_code(tmp_path):
    with pytest.raises(CliError) as err:
        write_chart(tmp_path / "r.bmp", "T", [])
    assert err.value.format_message().endswith("[unsupported]")
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        with pytest.raises(CliError) as err:
            write_chart(tmp_path / "r.png", "T", [])
        assert err.value.code == "missing_dependency"
        assert err.value.format_message().endswith("[missing_dependency]")


def test_create_check_needs_no_server_but_create_does(parties):
    write_manifest(Path("m.json"), "rough-check")
    assert_coded(invoke(None, *create_args("m.json", parties)), "usage", "--server")
    checked = ok(invoke(None, *create_args("m.json", parties), "--check"))
    assert "is valid: election 'rough-check'" in checked.output


def test_a_mistyped_field_is_named_with_its_near_name(parties):
    text = Path("m.yaml")
    text.write_text(
        "version: 1\nelection_id: rough-typo\ntitle: T\nquestions:\n"
        "  - id: q\n    title: Q\n    kind: choice\n    minimum: 1\n    max: 1\n"
        "    options: [a, b]\n"
    )
    line = assert_coded(invoke(None, *create_args("m.yaml", parties), "--check"),
                        "bad_manifest")
    assert "m.yaml:5: manifest.questions[0]: unknown field 'minimum' (did you mean 'min'?)" in line
    assert "missing field" not in line


def test_a_witness_policy_error_names_its_line(parties, tmp_path):
    (_, key), = init_witnesses(tmp_path / "ws")[:1]
    policy = {"keys": [key.to_json()], "threshold": 2}  # more than the one witness listed
    Path("m.json").write_text(json.dumps({**manifest_for("rough-wit"), "witnesses": policy},
                                         indent=1))
    line = assert_coded(invoke(None, *create_args("m.json", parties), "--check"),
                        "bad_manifest")
    number = next(i for i, ln in enumerate(Path("m.json").read_text().splitlines(), 1)
                  if '"threshold"' in ln and ln.startswith('  "threshold"'))
    assert f"m.json:{number}: manifest.witnesses.threshold:" in line, line


def test_witness_init_names_the_manifest_line_it_means(tmp_path):
    result = CliRunner().invoke(
        evote_cli, ["witness", "init", str(tmp_path / "w"), "--name", "w.example/evote"])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    at = next(i for i, ln in enumerate(lines) if "add the JSON entry just above" in ln)
    entry = json.loads(lines[at - 1])  # the line above the instruction is the manifest entry
    assert entry["name"] == "w.example/evote" and "key" in entry
    assert json.loads(result.stdout) == entry  # and it is all that goes to standard output


def test_the_report_title_names_the_election_once():
    check = CheckResult(1, "record-format", "Record format", "pass", {"entries": 1})
    served = Report("record", "http://x (election e1)", "e1", (check,))
    assert report_title(served).count("(election e1)") == 1
    local = Report("record", "/tmp/e1", "e1", (check,))
    assert report_title(local) == "evote-verify record: /tmp/e1 (election e1)"


def _example(hint: str) -> str:
    match = re.search(r"e\.g\. ([0-9:,]+)", hint)
    assert match, hint
    return match.group(1)


@pytest.mark.parametrize("question", [
    *MANIFEST["questions"],
    {"id": "one", "title": "T", "kind": "choice", "min": 1, "max": 1, "options": ["a", "b"]},
    {"id": "s", "title": "T", "kind": "score", "max_score": 1, "min": 0, "max": 2,
     "options": ["a", "b", "c"]},
    {"id": "s3", "title": "T", "kind": "score", "max_score": 3, "min": 0, "max": 5,
     "options": ["a", "b", "c"]},
    {"id": "all", "title": "T", "kind": "score", "max_score": 2, "min": 4, "max": 4,
     "options": ["a", "b"]},
], ids=lambda q: q["id"])
def test_the_vote_prompt_offers_only_answers_the_question_accepts(question):
    q = Question.from_json(question)
    hint = answer_hint(q)
    check_row(q, parse_row(q, _example(hint)))  # the example is itself a valid answer
    if q.min == 0:
        assert "empty for none" in hint
        check_row(q, parse_row(q, ""))
    else:
        assert "empty for none" not in hint, hint


# --- against a real server ---------------------------------------------------------------


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    yield from start_server(tmp_path_factory.mktemp("rough-server"))


def sub(tmp_path: Path, name: str) -> Path:
    (tmp_path / name).mkdir()
    return tmp_path / name


def _pub(state: Path) -> str:
    return trustee.load_state(state).public.to_json()


def test_a_trustee_key_of_another_election_is_refused(server, tmp_path):
    first = make_election(server, sub(tmp_path, "a"), "rough-first", open_it=False,
                          ceremony=False, credentials=False)
    write_manifest(tmp_path / "second.json", "rough-second")
    ca_pub = (tmp_path / "a" / "ca.pub")
    args = ["election", "create", tmp_path / "second.json", "--key", first.official,
            "--credential-authority", ca_pub]
    trustee.init_trustee(tmp_path / "fresh1.state")
    trustee.init_trustee(tmp_path / "fresh2.state")
    keys = [_pub(tmp_path / "fresh1.state"), _pub(first.trustees[1]),
            _pub(tmp_path / "fresh2.state")]
    for k in keys:
        args += ["--trustee", k]
    line = assert_coded(invoke(server, *args), "trustee_key_reused",
                        "trustee 2's key is already trustee 2's key of election 'rough-first'")
    assert "per election" in line
    fails(invoke(server, "election", "status", "rough-second"), "[not_found]")
    # with its own keys the same election is created
    trustee.init_trustee(tmp_path / "fresh3.state")
    keys[1] = _pub(tmp_path / "fresh3.state")
    args = args[: args.index("--trustee")]
    for k in keys:
        args += ["--trustee", k]
    assert "created election rough-second" in ok(invoke(server, *args)).output


def test_abandoning_an_election(server, tmp_path):
    opened = make_election(server, sub(tmp_path, "o"), "rough-opened")
    assert_coded(invoke(server, "election", "abandon", opened.id, "--key", opened.official,
                        "--reason", "r", "--yes"), "wrong_phase", "cannot be abandoned")
    e = make_election(server, sub(tmp_path, "s"), "rough-stuck", open_it=False, ceremony=False,
                      credentials=False)
    assert_coded(invoke(server, "election", "abandon", e.id, "--key", e.ca, "--reason", "r",
                        "--yes"), "wrong_file", "expected the official key")
    assert_coded(invoke(server, "election", "abandon", e.id, "--key", e.official, "--reason",
                        "", "--yes"), "usage", "--reason")
    refused = invoke(server, "election", "abandon", e.id, "--key", e.official, "--reason", "r",
                     input="n\n")
    assert refused.exit_code != 0
    assert re.search(r"phase\s+setup", ok(invoke(server, "election", "status", e.id)).output)
    done = ok(invoke(server, "election", "abandon", e.id, "--key", e.official, "--reason",
                     "trustee 2 lost its state file", "--yes"))
    assert f"election {e.id} is abandoned" in done.output
    status = ok(invoke(server, "election", "status", e.id)).output
    assert re.search(r"phase\s+abandoned", status), status
    assert re.search(r"abandoned\s+by the official, in setup: trustee 2 lost its state file",
                     status), status
    assert_coded(invoke(server, "election", "abandon", e.id, "--key", e.official, "--reason",
                        "again", "--yes"), "wrong_phase")
    ok(invoke(server, "election", "export", e.id, "--out", tmp_path / "record"))
    report = CliRunner().invoke(verify_cli, [str(tmp_path / "record"), "--workers", "1"])
    assert report.exit_code == 0, report.output
    assert "VERIFIED as the record of an ABANDONED election" in " ".join(report.output.split())


def test_a_second_registration_names_the_voter(server, tmp_path):
    e = make_election(server, tmp_path, "rough-register", voters=2, open_it=False)
    roster = tmp_path / "again.csv"
    roster.write_text(f"voter_id\nnew-voter\n{e.voters[1]}\n")
    assert_coded(invoke(server, "voters", "register", "--election", e.id, "--from", roster,
                        "--out", tmp_path / "again", "--key", e.official),
                 "already_exists", f"voter id '{e.voters[1]}' is already registered")
    assert not (tmp_path / "again").exists()


def test_nothing_to_decrypt_carries_its_code(server, tmp_path):
    e = make_election(server, tmp_path, "rough-decrypt")
    ok(invoke(server, "election", "close", e.id, "--key", e.official))  # closed, no tally yet
    assert_coded(invoke(server, "trustee", "decrypt", "--state", e.trustees[0], "--timeout", "0"),
                 "not_ready", "nothing to decrypt")


def test_a_pinned_board_key_that_is_not_the_servers(server, tmp_path):
    e = make_election(server, tmp_path, "rough-pinned")
    wrong = trustee.load_state(e.trustees[0]).public.to_json()
    run = subprocess.run(
        [sys.executable, "-m", "verifier.main", server.url, "--election", e.id,
         "--board-key", wrong, "-q"], capture_output=True, text=True, check=False, cwd=ROOT)
    assert run.returncode == 2, run.stdout + run.stderr
    assert "the server's board key" in run.stderr and "is not the pinned --board-key" in run.stderr
    assert "tree-heads.jsonl" not in run.stderr and "must be a record directory" not in run.stderr


@pytest.fixture
def witnessed(server, tmp_path):
    ws = init_witnesses(tmp_path / "witnesses")
    e = make_election(server, sub(tmp_path, "e"), f"rough-wit-{tmp_path.name[-12:]}".lower()[:60],
                      extra_manifest={"witnesses": policy_of(ws).to_json()})
    return e, [d for d, _ in ws]


def test_export_refuses_a_record_the_witnesses_have_not_cosigned(server, tmp_path, witnessed):
    e, dirs = witnessed
    out = tmp_path / "record"
    line = assert_coded(invoke(server, "election", "export", e.id, "--out", out, "--timeout", "0"),
                        "no_cosigned_checkpoint", "check 19")
    assert "no cosigned checkpoint yet" in line
    assert not out.exists()
    # --allow-uncosigned writes it, loudly
    forced = ok(invoke(server, "election", "export", e.id, "--out", out, "--timeout", "0",
                       "--allow-uncosigned"))
    assert "warning: EXPORTING WITHOUT A COSIGNED CHECKPOINT" in forced.output
    assert (out / "board.jsonl").exists()
    # cosigned, then the board grows: the checkpoint no longer covers it
    poll_server(server.url, dirs, e.id)
    ok(invoke(server, "election", "close", e.id, "--key", e.official))
    stale = assert_coded(invoke(server, "election", "export", e.id, "--out", tmp_path / "r2",
                                "--timeout", "0"), "no_cosigned_checkpoint")
    assert re.search(r"covers \d+ entries", stale), stale


def test_export_waits_for_the_witnesses(server, tmp_path, witnessed):
    e, dirs = witnessed
    ok(invoke(server, "election", "close", e.id, "--key", e.official))

    def witnesses_poll_later() -> None:
        time.sleep(2.0)
        poll_server(server.url, dirs, e.id)

    poller = threading.Thread(target=witnesses_poll_later)
    poller.start()
    try:
        out = tmp_path / "record"
        done = ok(invoke(server, "election", "export", e.id, "--out", out, "--timeout", "60"))
    finally:
        poller.join()
    assert "waiting for the witnesses to cosign the whole board" in done.output
    assert "the witnesses have cosigned the whole board" in done.output
    report = CliRunner().invoke(verify_cli, [str(out), "--workers", "1", "--json",
                                             "--in-progress"])
    checks = {c["name"]: c for c in json.loads(report.stdout)["checks"]}
    assert checks["witnesses"]["status"] == "pass", checks["witnesses"]


def test_status_shows_the_witness_policy(server, tmp_path, witnessed):
    e, _ = witnessed
    status = ok(invoke(server, "election", "status", e.id)).output
    assert re.search(r"witnesses\s+2 of 3 must cosign: w0\.witness\.example/evote", status), status
    plain = make_election(server, sub(tmp_path, "plain"), "rough-plain", open_it=False,
                          ceremony=False, credentials=False)
    assert "no witness policy" in ok(invoke(server, "election", "status", plain.id)).output


def test_audit_takes_its_source_like_receipt(server, tmp_path, monkeypatch):
    e = make_election(server, tmp_path, "rough-audit")
    monkeypatch.chdir(tmp_path)
    audited = ok(invoke(server, "vote", "--login", e.login(e.voters[0]), "--credential",
                        e.credential(e.voters[0]), "--choices", "park=1;priorities=2",
                        "--audit"))
    assert "evote-verify audit" in audited.output and "--source" not in audited.output
    audit_file = next(tmp_path.glob("audited-*.json"))

    def verify(*args: str):
        return subprocess.run([sys.executable, "-m", "verifier.main", "audit", *args],
                              capture_output=True, text=True, check=False, cwd=ROOT)

    both = verify(str(audit_file), server.url, "--source", "http://elsewhere", "--election",
                  e.id)
    assert both.returncode == 2 and "give SOURCE once" in both.stderr
    missing = verify(str(audit_file), "--election", e.id)
    assert missing.returncode == 2 and "Missing argument 'SOURCE'" in missing.stderr
    new = verify(str(audit_file), server.url, "--election", e.id)
    assert new.returncode == 0, new.stdout + new.stderr
    old = verify(str(audit_file), "--source", server.url, "--election", e.id)
    assert old.returncode == 0, old.stdout + old.stderr
    assert "deprecated" in old.stderr
