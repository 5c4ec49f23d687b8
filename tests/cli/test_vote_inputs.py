"""``evote vote`` with what a voter actually holds: the printed credential code from the
letter (or the credential file), and the login code (or the ``.login`` file); asked
for without echo when left out.  Against a real server (gunicorn, SQLite)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from tests.support.cli_server import fails, invoke, make_election, ok, start_server


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    yield from start_server(tmp_path_factory.mktemp("vote-inputs"))


def letter_code(e, voter: str) -> str:
    """The code printed in the voter's letter (the credential file holds the same code)."""
    return json.loads(e.credential(voter).read_text())["code"]


def login_code(e, voter: str) -> str:
    return json.loads(e.login(voter).read_text())["login_code"]


def cast_ok(result) -> str:
    ok(result)
    found = re.search(r"tracking code ([0-9A-Z-]{19})", result.output)
    assert found, result.output
    return found.group(1)


def test_the_letter_code_and_the_login_file(server, tmp_path: Path) -> None:
    e = make_election(server, tmp_path, "inputs-a")
    code = letter_code(e, e.voters[0])
    result = invoke(server, "vote", "--credential", code, "--login", e.login(e.voters[0]),
                    "--choices", "park=1;priorities=", "--receipt", tmp_path / "r.json")
    cast_ok(result)
    assert "on the command line can stay in your shell history" in result.output
    assert (tmp_path / "r.json").exists()


def test_both_codes_and_the_election(server, tmp_path: Path) -> None:
    e = make_election(server, tmp_path, "inputs-b")
    v = e.voters[1]
    cast_ok(invoke(server, "vote", "--election", e.id, "--credential", letter_code(e, v).lower(),
                   "--login", login_code(e, v), "--choices", "park=2;priorities=1",
                   "--receipt", tmp_path / "r.json"))


def test_the_codes_are_asked_for_without_echo(server, tmp_path: Path) -> None:
    e = make_election(server, tmp_path, "inputs-c")
    v = e.voters[0]
    secret = letter_code(e, v)
    result = invoke(server, "vote", "--election", e.id, "--choices", "park=1;priorities=",
                    "--receipt", tmp_path / "r.json",
                    input=f"{secret}\n{login_code(e, v)}\n")
    cast_ok(result)
    assert secret not in result.output  # hidden input is not echoed
    assert "shell history" not in result.output


def test_a_mistyped_code_is_a_clear_error(server, tmp_path: Path) -> None:
    e = make_election(server, tmp_path, "inputs-d")
    v = e.voters[0]
    code = letter_code(e, v)
    wrong = code[:-1] + ("0" if code[-1] != "0" else "1")
    fails(invoke(server, "vote", "--credential", wrong, "--login", e.login(v),
                 "--choices", "park=1;priorities="),
          "neither a credential file nor a valid credential code")


def test_a_code_alone_needs_the_election(server, tmp_path: Path) -> None:
    e = make_election(server, tmp_path, "inputs-e")
    v = e.voters[0]
    fails(invoke(server, "vote", "--credential", letter_code(e, v), "--login", login_code(e, v),
                 "--choices", "park=1;priorities="),
          "add --election")


def test_inputs_for_different_elections_are_refused(server, tmp_path: Path) -> None:
    e = make_election(server, tmp_path, "inputs-f")
    v = e.voters[0]
    fails(invoke(server, "vote", "--election", "another-poll", "--credential", e.credential(v),
                 "--login", e.login(v), "--choices", "park=1;priorities="),
          "different elections", "another-poll", "inputs-f")


def test_a_missing_file_is_named(server, tmp_path: Path) -> None:
    e = make_election(server, tmp_path, "inputs-g")
    fails(invoke(server, "vote", "--credential", tmp_path / "nope.json",
                 "--login", e.login(e.voters[0]), "--choices", "park=1;priorities="),
          "nope.json")


def test_a_receipt_is_fetched_by_tracking_code(server, tmp_path: Path) -> None:
    """A voter whose answer was lost fetches the original receipt from the board by the
    tracking code; `evote receipt check` accepts it."""
    e = make_election(server, tmp_path, "inputs-h")
    v = e.voters[0]
    code = cast_ok(invoke(server, "vote", "--credential", e.credential(v), "--login", e.login(v),
                          "--choices", "park=1;priorities=", "--receipt", tmp_path / "cast.json"))
    fetched = tmp_path / "fetched.json"
    result = ok(invoke(server, "receipt", "fetch", code.lower(), "--election", e.id,
                       "--out", fetched))
    assert "is on the board (cast" in result.output
    assert json.loads(fetched.read_text()) == json.loads((tmp_path / "cast.json").read_text())
    ok(invoke(server, "receipt", "check", fetched))
    fails(invoke(server, "receipt", "fetch", "AAAA-AAAA-AAAA-AAAA", "--election", e.id,
                 "--out", tmp_path / "none.json"),
          "no ballot with tracking code AAAA-AAAA-AAAA-AAAA")
