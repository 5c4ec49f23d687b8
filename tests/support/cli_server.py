"""Shared helpers for the CLI tests that need a real ballot server.

One gunicorn server per test module (``evote serve`` in a subprocess on a
free loopback port, SQLite in a temporary directory), exactly as `evote demo`
starts it; each test makes its own election on it, so tests stay independent
of each other's order (and of how pytest-xdist splits a module).
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from click.testing import CliRunner, Result

from cli import election, trustee
from cli.client import Client
from cli.credentials import issue_to_directory, numbered_labels, publish_credentials
from cli.demo import running_server
from cli.keyfiles import read_key_file
from cli.main import cli
from cli.official import create_signing_key
from cli.voters import register_voters
from evote.manifest import Manifest

MANIFEST = {
    "version": 1,
    "title": "Test poll",
    "questions": [
        {
            "id": "park",
            "title": "Park?",
            "kind": "choice",
            "min": 1,
            "max": 1,
            "options": ["Yes", "No"],
        },
        {
            "id": "priorities",
            "title": "Priorities",
            "kind": "choice",
            "min": 0,
            "max": 2,
            "options": ["Cycle lanes", "Playgrounds", "Lighting"],
        },
    ],
}


@dataclass(frozen=True)
class Server:
    url: str
    keys: Path  # official.key / official.pub (on the server's allow-list)


@dataclass(frozen=True)
class Election:
    """An election set up through the CLI functions, with every party's files."""

    id: str
    dir: Path
    official: Path
    ca: Path
    trustees: tuple[Path, ...]
    credentials: Path  # DIR/credentials/<voter>.json
    logins: Path  # DIR/<voter>.login
    voters: tuple[str, ...]

    def credential(self, voter: str) -> Path:
        return self.credentials / "credentials" / f"{voter}.json"

    def login(self, voter: str) -> Path:
        return self.logins / f"{voter}.login"


def start_server(work: Path) -> Iterator[Server]:
    keys = work / "keys"
    keys.mkdir()
    create_signing_key(keys / "official.key", "official")
    with running_server(work, keys / "official.pub", workers=2) as url:
        yield Server(url, keys)


def manifest_for(election_id: str) -> dict:
    return {**MANIFEST, "election_id": election_id}


def write_manifest(path: Path, election_id: str) -> Path:
    path.write_text(json.dumps(manifest_for(election_id)))
    return path


def invoke(server: Server | None, *args: object, input: str | None = None) -> Result:
    """Run ``evote ARGS`` in-process (click's runner), with EVOTE_SERVER set."""
    env = {"EVOTE_SERVER": server.url} if server else {}
    return CliRunner(env=env).invoke(cli, [str(a) for a in args], input=input)


def parties(work: Path, trustees: int = 3) -> tuple[Path, list[Path]]:
    """A credential authority key and ``trustees`` trustee state files in ``work``."""
    ca = work / "ca.key"
    create_signing_key(ca, "credential-authority")
    states = [work / f"t{i}.state" for i in range(1, trustees + 1)]
    for s in states:
        trustee.init_trustee(s)
    return ca, states


def make_election(
    server: Server,
    work: Path,
    election_id: str,
    *,
    voters: int = 3,
    trustees: int = 3,
    threshold: int = 2,
    open_it: bool = True,
    ceremony: bool = True,
    credentials: bool = True,
    extra_manifest: dict | None = None,
) -> Election:
    """Create (and by default fully set up and open) an election through the CLI's functions.

    ``extra_manifest`` adds fields to the test manifest (e.g. a witness policy)."""
    ca, states = parties(work, trustees)
    official = read_key_file(server.keys / "official.key", "official")
    manifest = Manifest.from_json({**manifest_for(election_id), **(extra_manifest or {})})
    labels = numbered_labels(voters)
    with Client(server.url) as client:
        setup = election.created_body(
            manifest,
            official.verify_key,
            read_key_file(ca, "credential-authority").verify_key,
            [trustee.load_state(s).public for s in states],
            threshold,
        )
        election.create_election(client, official, setup)
        if ceremony:
            trustee.run_ceremony(client, states, election_id, official)
        if credentials:
            issued = issue_to_directory(
                election_id, "Test poll", labels, work / "creds", quiet=True
            )
            publish_credentials(
                client, read_key_file(ca, "credential-authority"), election_id, issued.credentials
            )
            register_voters(
                client, official, election_id, [v.voter_id for v in labels], work / "logins"
            )
        if open_it:
            election.open_election(client, official, election_id)
    return Election(
        election_id,
        work,
        server.keys / "official.key",
        ca,
        tuple(states),
        work / "creds",
        work / "logins",
        tuple(v.voter_id for v in labels),
    )


def vote(server: Server, e: Election, voter: str, choices: str, *extra: object) -> Result:
    return invoke(
        server,
        "vote",
        "--login",
        e.login(voter),
        "--credential",
        e.credential(voter),
        "--choices",
        choices,
        *extra,
    )


def ok(result: Result) -> Result:
    assert result.exit_code == 0, result.output
    return result


def fails(result: Result, *needles: str) -> Result:
    """The command failed with exit 1, one 'error:' line, no traceback, naming every needle."""
    assert result.exit_code == 1, result.output
    assert "Traceback" not in result.output
    text = " ".join(result.output.split())
    for needle in needles:
        assert needle in text, result.output
    return result


def lines_with(result: Result, words: Sequence[str]) -> list[str]:
    return [line for line in result.output.splitlines() if all(w in line for w in words)]
