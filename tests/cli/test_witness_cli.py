"""``evote witness init|run``: files, refusals and one-line errors (no live server)."""

from __future__ import annotations

import json
import os
import stat

from click.testing import CliRunner

from cli.main import cli
from cli.witness import directory_lock, read_witness_key
from evote.encoding import parse_json
from evote.witness import WitnessKey, WitnessState


def invoke(*args: str):
    return CliRunner().invoke(cli, list(args))


def test_init_creates_a_private_key_an_empty_state_and_prints_the_manifest_entry(tmp_path):
    d = tmp_path / "w"
    result = invoke("witness", "init", str(d), "--name", "w1.example.org/evote")
    assert result.exit_code == 0, result.output
    entry = WitnessKey.from_json(json.loads(result.stdout))
    assert entry.name == "w1.example.org/evote"
    name, key = read_witness_key(d / "witness.key")
    assert (name, key.verify_key) == (entry.name, entry.key)
    assert stat.S_IMODE(os.stat(d / "witness.key").st_mode) == 0o600
    state = WitnessState.from_json(parse_json((d / "state.json").read_bytes()))
    assert state == WitnessState(entry.name)
    assert "w1.example.org/evote+" in result.stderr  # the C2SP verifier key


def test_init_refuses_to_overwrite_and_bad_names(tmp_path):
    d = tmp_path / "w"
    assert invoke("witness", "init", str(d), "--name", "w1").exit_code == 0
    before = (d / "witness.key").read_bytes()
    again = invoke("witness", "init", str(d), "--name", "w1")
    assert again.exit_code == 1 and "already a witness directory" in again.output
    assert (d / "witness.key").read_bytes() == before
    bad = invoke("witness", "init", str(tmp_path / "x"), "--name", "has space")
    assert bad.exit_code == 1 and "witness name" in bad.output


def test_run_refuses_a_corrupt_state_file_without_touching_it(tmp_path):
    d = tmp_path / "w"
    assert invoke("witness", "init", str(d), "--name", "w1").exit_code == 0
    (d / "state.json").write_text('{"format": "evote-witness-state", "version": 1}')
    result = invoke(
        "witness", "run", str(d), "--server", "http://127.0.0.1:9", "--election", "poll",
        "--rounds", "1",
    )  # fmt: skip
    assert result.exit_code == 1 and "missing field" in result.output
    assert "Traceback" not in result.output


def test_run_survives_an_unreachable_server_and_a_second_run_is_refused(tmp_path):
    d = tmp_path / "w"
    assert invoke("witness", "init", str(d), "--name", "w1").exit_code == 0
    _, wkey = read_witness_key(d / "witness.key")
    key = wkey.verify_key.to_json()  # any valid key will do: the server is never reached
    args = ["witness", "run", str(d), "--server", "http://127.0.0.1:9", "--election", "poll",
            "--board-key", key, "--interval", "0.01", "--rounds", "2"]  # fmt: skip
    result = invoke(*args)
    assert result.exit_code == 0, result.output
    assert result.stderr.count("cannot reach the server") == 2
    with directory_lock(d):
        busy = invoke(*args)
    assert busy.exit_code == 1 and "already running" in busy.output
    bad = invoke(*args[:-6], "--board-key", "not-a-key", "--rounds", "1")
    assert bad.exit_code == 1 and "--board-key" in bad.output
    bad = invoke("witness", "run", str(d), "--server", "http://x", "--election", "Bad/Id")
    assert bad.exit_code == 1
