"""The `evote` command tree without a server: help, local commands, and the error paths
that must end in one line and a non-zero exit (never a traceback unless --debug)."""

from __future__ import annotations

import os
import socket
import stat
import subprocess
import sys

import pytest
from click.testing import CliRunner

from cli.client import ServerError, ServerUnreachable, error_from_body, normalise_server
from cli.console import CliError
from cli.demo import DEMO_MANIFEST, expected_counts, random_ballot
from cli.vote import parse_choices
from cli.waiting import wait_until
from evote.ballot import check_selections
from evote.drbg import SeededRng
from evote.errors import InvalidBallot, LifecycleError, RateLimited
from evote.manifest import Manifest
from tests.support.cli_server import fails, invoke, ok, write_manifest

SCORED = Manifest.from_json(
    {
        "election_id": "s",
        "title": "S",
        "questions": [
            {
                "id": "pick",
                "title": "Pick",
                "kind": "choice",
                "min": 0,
                "max": 2,
                "options": ["a", "b", "c"],
            },
            {
                "id": "rate",
                "title": "Rate",
                "kind": "score",
                "min": 0,
                "max": 5,
                "max_score": 3,
                "options": ["x", "y"],
            },
        ],
    }
)


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_help_reads_like_a_manual():
    top = ok(invoke(None, "--help"))
    for command in (
        "official",
        "election",
        "credentials",
        "voters",
        "trustee",
        "vote",
        "receipt",
        "serve",
        "demo",
    ):
        assert command in top.output
    for path in (
        ["official", "init"],
        ["election", "create"],
        ["election", "tally"],
        ["credentials", "issue"],
        ["voters", "register"],
        ["trustee", "decrypt"],
        ["vote"],
        ["receipt", "check"],
        ["serve"],
        ["demo"],
        ["election", "result"],
    ):
        assert "Usage:" in ok(invoke(None, *path, "--help")).output


def test_official_init_writes_a_private_key_once(tmp_path):
    key = tmp_path / "official.key"
    first = ok(invoke(None, "official", "init", "--key", key))
    assert first.stdout.strip() == (tmp_path / "official.pub").read_text().strip()
    assert stat.S_IMODE(os.stat(key).st_mode) == 0o600
    before = key.read_bytes()
    fails(
        invoke(None, "official", "init", "--key", key),
        f"{key} already exists; refusing to overwrite",
    )
    assert key.read_bytes() == before


def test_create_check_validates_without_a_server(tmp_path):
    ok(invoke(None, "official", "init", "--key", tmp_path / "o.key"))
    ok(invoke(None, "credentials", "init", "--key", tmp_path / "ca.key"))
    ok(invoke(None, "trustee", "init", "--state", tmp_path / "t.state"))
    manifest = write_manifest(tmp_path / "m.json", "checked")
    common = [
        "--server",
        "http://127.0.0.1:1",
        "--key",
        tmp_path / "o.key",
        "--credential-authority",
        tmp_path / "ca.pub",
        "--trustee",
        tmp_path / "t.pub",
    ]
    good = ok(invoke(None, "election", "create", manifest, *common, "--check"))
    assert "is valid: election 'checked', 2 questions, 1 of 1 trustees" in good.output
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        "election_id: x\ntitle: T\nquestions:\n  - id: q\n    title: Q\n"
        "    kind: choice\n    min: 0\n    max: 3\n    options: [a, b]\n"
    )
    fails(
        invoke(None, "election", "create", bad, *common, "--check"),
        f"error: {bad}:8: manifest.questions[0].max: must be <= 2",
    )
    fails(
        invoke(None, "election", "create", tmp_path / "none.yaml", *common),
        "manifest",
        "none.yaml does not exist",
    )
    directory = invoke(None, "election", "create", tmp_path, *common)
    assert directory.exit_code == 2 and "is a directory" in directory.output
    binary = tmp_path / "binary.yaml"
    binary.write_bytes(b"\xff\xfe\x00garbage")
    fails(invoke(None, "election", "create", binary, *common), "binary.yaml: not UTF-8 text")
    fails(
        invoke(
            None,
            "election",
            "create",
            manifest,
            *common[:2],
            "--key",
            tmp_path / "ca.key",
            *common[4:],
        ),
        "wrong key file",
        "expected the official key",
    )
    fails(
        invoke(None, "election", "create", manifest, *common, "--threshold", "2", "--check"),
        "threshold must be between 1 and the number of trustees (1)",
    )
    fails(
        invoke(
            None,
            "election",
            "create",
            manifest,
            *common,
            "--trustee",
            tmp_path / "t.pub",
            "--check",
        ),
        "the same trustee key is listed twice",
    )
    fails(
        invoke(
            None,
            "election",
            "create",
            manifest,
            *common[:4],
            "--credential-authority",
            "not-a-key",
            *common[6:],
            "--check",
        ),
        "credential authority key: 'not-a-key'",
    )


def test_server_down_is_one_line(tmp_path):
    url = f"http://127.0.0.1:{closed_port()}"
    fails(
        invoke(None, "election", "status", "poll", "--server", url),
        f"cannot reach the server at {url}",
        "[server_unreachable]",
    )
    fails(
        invoke(None, "election", "status", "poll", "--server", "ftp://example.org"),
        "must start with http:// or https://",
    )


def test_missing_trustee_state_file(tmp_path):
    for command in ("keygen", "shares", "decrypt"):
        fails(
            invoke(
                None,
                "trustee",
                command,
                "--state",
                tmp_path / "gone.state",
                "--server",
                "http://127.0.0.1:1",
                "--election",
                "e",
            )
            if command == "keygen"
            else invoke(
                None,
                "trustee",
                command,
                "--state",
                tmp_path / "gone.state",
                "--server",
                "http://127.0.0.1:1",
            ),
            "gone.state does not exist",
            "evote trustee init",
        )
    (tmp_path / "wrong.state").write_text('{"type": "evote-signing-key"}')
    fails(
        invoke(
            None,
            "trustee",
            "shares",
            "--state",
            tmp_path / "wrong.state",
            "--server",
            "http://127.0.0.1:1",
        ),
        "is not an evote trustee state file",
    )


def test_debug_shows_the_traceback_and_plain_runs_do_not():
    url = f"http://127.0.0.1:{closed_port()}"
    base = [sys.executable, "-m", "cli.main"]
    plain = subprocess.run(
        [*base, "election", "status", "x", "--server", url],
        capture_output=True,
        text=True,
        check=False,
    )
    assert plain.returncode == 1
    assert (
        plain.stderr.startswith("error: cannot reach the server")
        and "Traceback" not in plain.stderr
    )
    assert plain.stderr.count("\n") == 1
    debug = subprocess.run(
        [*base, "--debug", "election", "status", "x", "--server", url],
        capture_output=True,
        text=True,
        check=False,
    )
    assert (
        debug.returncode == 1
        and "Traceback" in debug.stderr
        and "ServerUnreachable" in debug.stderr
    )
    usage = subprocess.run([*base, "election", "open"], capture_output=True, text=True, check=False)
    assert usage.returncode == 2 and "Missing argument" in usage.stderr


def test_choices_text():
    assert parse_choices(SCORED, "pick=1,3;rate=1:3,2:2") == [(1, 0, 1), (3, 2)]
    assert parse_choices(SCORED, " 2 = ; 1 = 2 ") == [(0, 1, 0), (0, 0)]
    for text, message in [
        ("pick=1", "no answer for question 'rate'"),
        ("pick=1;rate=1", "write option:points"),
        ("pick=1,1;rate=", "option 1 of 'pick' is given twice"),
        ("pick=4;rate=", "options 1 to 3"),
        ("pick=1;pick=2;rate=", "'pick' is given twice"),
        ("pick", "expected QUESTION=OPTIONS"),
    ]:
        with pytest.raises(InvalidBallot, match=message):
            parse_choices(SCORED, text)
    with pytest.raises(InvalidBallot, match="at most 5 allowed"):
        check_selections(SCORED, parse_choices(SCORED, "pick=;rate=1:3,2:3"))


def test_interactive_questions_repeat_until_the_answer_is_valid(tmp_path):
    from cli.vote import ask_choices

    runner = CliRunner()
    with runner.isolation(input="1,2,3\n1,2\n1:3,2:3\n1:3,2:2\n") as (out, _err, _):
        rows = ask_choices(SCORED, None)
    assert rows == [(1, 1, 0), (3, 2)]
    text = out.getvalue().decode()
    assert "choose 0 to 2" in text and "you gave 3 options" in text and "you gave 6 points" in text


def test_server_errors_become_typed_exceptions():
    exc = error_from_body(409, {"code": "wrong_phase", "message": "closed"})
    assert isinstance(exc, LifecycleError) and exc.message == "closed"
    limited = error_from_body(
        429, {"code": "rate_limited", "message": "slow", "detail": {"retry_after": 7}}
    )
    assert isinstance(limited, RateLimited) and limited.retry_after == 7
    assert isinstance(error_from_body(500, {"code": "internal", "message": "x"}), ServerError)
    assert isinstance(error_from_body(502, None), ServerError)
    odd = error_from_body(413, {"code": "body_too_large", "message": "too big"})
    assert odd.code == "body_too_large" and odd.http_status == 413
    assert normalise_server(" https://vote.example.org/ ") == "https://vote.example.org"
    with pytest.raises(ServerUnreachable):
        normalise_server("vote.example.org")


def test_waiting_gives_up_with_the_reason():
    now = [0.0]
    with pytest.raises(CliError, match="not finished: waiting for trustee 2; run it again"):
        wait_until(
            lambda: (None, "waiting for trustee 2"),
            timeout=3,
            what="not finished",
            retry_hint="run it again",
            clock=lambda: now[0],
            sleep=lambda s: now.__setitem__(0, now[0] + s),
        )
    assert now[0] == 3
    assert wait_until(lambda: (5, ""), timeout=0, what="", retry_hint="") == 5


def test_demo_voters_choose_valid_reproducible_ballots():
    manifest = Manifest.from_json(DEMO_MANIFEST)
    one = [random_ballot(manifest, SeededRng(b"s")) for _ in range(1)]
    rng = SeededRng(b"seed")
    ballots = [random_ballot(manifest, rng) for _ in range(200)]
    for b in ballots:
        check_selections(manifest, b)
    assert one == [random_ballot(manifest, SeededRng(b"s"))]
    counts = expected_counts(manifest, ballots)
    assert counts[0][0] + counts[0][1] == 200  # exactly one of yes/no per voter
    assert len({tuple(map(tuple, b)) for b in ballots}) > 50  # not all the same
