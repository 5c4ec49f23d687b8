"""`evote demo` (what `make demo` runs) and `evote serve --dev`, as subprocesses."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time

import httpx

from cli.demo import free_port
from verifier.checks import RecordVerifier

#: The demo's record holds mixnet entries (a ranked and a graded question); until the
#: verifier checks them (checks mixes, mixed-decryptions, ranked-count: a parallel task)
#: it rejects the record, and the demo says so and exits 1.
VERIFIER_KNOWS_MIXES = hasattr(RecordVerifier, "_on_mix_posted")


def test_demo_runs_a_verified_election(tmp_path):
    out = tmp_path / "demo-out"
    command = [
        sys.executable,
        "-m",
        "cli.main",
        "demo",
        "--voters",
        "6",
        "--out",
        str(out),
        "--seed",
        "test",
    ]
    done = subprocess.run(command, capture_output=True, text=True, check=False, timeout=240)
    assert "result matches the voters' choices" in done.stdout, done.stdout + done.stderr
    assert "Mayor (rank the candidates) (irv)" in done.stdout  # the count sheet, round by round
    assert "Grade the city plans (majority_judgment)" in done.stdout
    if VERIFIER_KNOWS_MIXES:
        assert done.returncode == 0, done.stdout + done.stderr
        assert "checks passed" in done.stdout
        assert "Traceback" not in done.stderr
    else:
        assert done.returncode == 1 and "the verifier rejected the record" in done.stderr
    assert sorted(p.name for p in out.iterdir()) == [
        "board.jsonl",
        "record.json",
        "result.svg",
        "tree-heads.jsonl",
    ]
    assert json.loads((out / "record.json").read_text())["election"] == "demo-city-poll"
    # A second run replaces its own output, but never a directory holding anything else.
    (out / "notes.txt").write_text("mine")
    again = subprocess.run(command, capture_output=True, text=True, check=False, timeout=240)
    assert again.returncode == 1 and "holds other files" in again.stderr
    assert (out / "notes.txt").exists()


def test_serve_dev_answers_on_loopback(tmp_path):
    port = free_port()
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "cli.main",
            "serve",
            "--dev",
            "--port",
            str(port),
            "--data-dir",
            str(tmp_path / "data"),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                body = httpx.get(f"http://127.0.0.1:{port}/api/v1/board-key", timeout=2).json()
                break
            except httpx.TransportError:
                assert process.poll() is None, process.stdout.read().decode()
                assert time.monotonic() < deadline, "server did not start"
                time.sleep(0.2)
        assert len(body["board_key"]) == 43
        assert (tmp_path / "data" / "board-key").exists()
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=10)
        process.stdout.close()
