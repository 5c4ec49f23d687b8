"""``issue_to_directory`` makes and writes credentials in batches, keeping only the public keys."""

from __future__ import annotations

import itertools
import json

import pytest

from cli import credentials as cred_cli
from cli.console import CliError
from evote.credentials import CredentialFile, CredentialList
from evote.errors import CredentialError


def _issue(tmp_path, n, **kw):
    labels = cred_cli.numbered_labels(n)
    return labels, cred_cli.issue_to_directory(
        "city-poll", "City poll", labels, tmp_path / "out", sheets=False, quiet=True, **kw
    )


def test_batches_write_every_file_and_the_whole_sorted_list(tmp_path, monkeypatch):
    monkeypatch.setattr(cred_cli, "ISSUE_BATCH", 3)
    labels, issued = _issue(tmp_path, 7, keep_private=False)
    assert issued.private == {}  # the issue command keeps no private key in memory
    out = tmp_path / "out"
    keys = [
        CredentialFile.from_json(
            json.loads((out / "credentials" / f"{v.voter_id}.json").read_text())
        ).key
        for v in labels
    ]
    assert len({k.seed for k in keys}) == 7
    published = CredentialList.from_json(json.loads((out / cred_cli.PUBLIC_LIST_FILE).read_text()))
    assert published == issued.credentials
    assert sorted(k.verify_key.raw for k in keys) == [e.key.raw for e in published.entries]


def test_default_keeps_the_private_keys_of_every_batch(tmp_path, monkeypatch):
    monkeypatch.setattr(cred_cli, "ISSUE_BATCH", 2)
    labels, issued = _issue(tmp_path, 5)
    assert sorted(issued.private) == [v.voter_id for v in labels]
    assert {k.verify_key.raw for k in issued.private.values()} == {
        e.key.raw for e in issued.credentials.entries
    }


def test_a_key_repeated_in_a_later_batch_leaves_no_directory(tmp_path, monkeypatch):
    """A broken random source that repeats itself across batches (each batch alone is
    fine) is caught by the whole list, and the all-or-nothing directory is not kept."""
    monkeypatch.setattr(cred_cli, "ISSUE_BATCH", 2)
    seeds = itertools.cycle([b"\x01" * 32, b"\x02" * 32])
    monkeypatch.setattr(cred_cli.secrets, "token_bytes", lambda n: next(seeds)[:n])
    with pytest.raises((CredentialError, CliError), match="duplicate credential key"):
        _issue(tmp_path, 4)
    assert not (tmp_path / "out").exists()
    assert [p.name for p in tmp_path.iterdir()] == []
