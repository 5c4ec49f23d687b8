"""Shared set-up for the tests whose elections name witnesses, and the served record.

Every witnessed test election uses the same three real witnesses (keys from
``evote witness init``, the command an operator runs) under a 2-of-3 policy,
and drives them with ``cli.witness.Witness``, the code ``evote witness run``
runs.  Keeping that here means the tests agree on the names they assert.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import pytest
from click.testing import CliRunner
from flask.testing import FlaskClient

from cli.client import Client
from cli.main import cli
from cli.witness import Witness
from evote.signing import VerifyKey
from evote.witness import WitnessKey, WitnessPolicy
from verifier.sources import ZipSource

NAMES = [f"w{i}.witness.example/evote" for i in range(3)]


def init_witness(directory: Path, name: str) -> WitnessKey:
    """``evote witness init DIRECTORY --name NAME``; the public key it prints."""
    result = CliRunner().invoke(cli, ["witness", "init", str(directory), "--name", name])
    assert result.exit_code == 0, result.output
    return WitnessKey.from_json(json.loads(result.stdout))


def init_witnesses(work: Path) -> list[tuple[Path, WitnessKey]]:
    """The three witnesses named NAMES, in ``work``/w0 .. w2."""
    return [(work / f"w{i}", init_witness(work / f"w{i}", name)) for i, name in enumerate(NAMES)]


@pytest.fixture
def witnesses(tmp_path: Path) -> list[tuple[Path, WitnessKey]]:
    return init_witnesses(tmp_path)


def policy_of(witnesses: Sequence[tuple[Path, WitnessKey]]) -> WitnessPolicy:
    """The 2-of-3 policy the witnessed test elections put in their manifest."""
    return WitnessPolicy(tuple(k for _, k in witnesses), 2)


def poll(witnesses: Iterable[Witness], election: str) -> None:
    """One round of each witness; each must cosign, or find nothing new to cosign."""
    for witness in witnesses:
        outcome = witness.round(election)
        assert outcome.startswith(("cosigned", "unchanged")), outcome


def poll_server(url: str, directories: Iterable[Path], election: str) -> None:
    """``poll`` the witnesses kept in ``directories`` against a server over HTTP."""
    with Client(url) as client:
        board_key = VerifyKey.from_json(client.get("/board-key")["board_key"])
        poll([Witness(d, client, board_key=board_key) for d in directories], election)


@contextmanager
def served_record(client: FlaskClient, election_url: str, archive: Path) -> Iterator[ZipSource]:
    """The record as ``GET .../record`` serves it, written to ``archive`` and opened.

    The zip is read from disk, as an auditor who downloaded it would read it."""
    archive.write_bytes(client.get(f"{election_url}/record").data)
    source = ZipSource(archive)
    try:
        yield source
    finally:
        source.close()
