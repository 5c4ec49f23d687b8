"""Every single-byte change to board.jsonl is rejected -- a property, driven by hypothesis.

Why *every* change, with no "harmless" exceptions: a mutation either

* changes the bytes of one line and keeps the line structure: the line is
  then either not the canonical RFC 8785 JSON of a well-formed entry (check 1,
  ``record-format``) -- a verifier that re-canonicalised instead of comparing
  bytes could accept a different spelling, ours cannot -- or it is a different
  canonical entry, whose leaf hash differs (SHA-256), so the root of the
  latest signed head, which covers every entry, no longer matches (check 7,
  ``tree-heads``); or
* touches a newline (turns it into another byte, or another byte into one):
  the number of lines changes, so a line fails to parse (check 1) and the
  board's size no longer matches the signed head (check 7).

So the property asserted is the strong one: the report is not ok *and* the
structural checks (1 or 7) are among the failures.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from evote.record import BOARD_FILE
from tests.support import recordgen
from verifier.checks import verify_record
from verifier.record import Record
from verifier.sources import DirectorySource


@pytest.fixture(scope="module")
def small(tmp_path_factory) -> tuple[Path, bytes]:
    g = recordgen.build_record(tmp_path_factory.mktemp("small"), voters=2, revotes=1, audits=1,
                               trustees=2, threshold=1, seed=b"mutations")
    return g.path, (g.path / BOARD_FILE).read_bytes()


def test_the_unmutated_record_is_valid(small):
    path, _ = small
    assert verify_record(Record.load(DirectorySource(path))).ok


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_every_single_byte_mutation_is_rejected(small, data):
    path, original = small
    pos = data.draw(st.integers(0, len(original) - 1), label="position")
    old = original[pos]
    new = data.draw(st.integers(0, 255).filter(lambda b: b != old), label="new byte")
    mutated = original[:pos] + bytes([new]) + original[pos + 1:]
    (path / BOARD_FILE).write_bytes(mutated)
    try:
        report = verify_record(Record.load(DirectorySource(path)))
    finally:
        (path / BOARD_FILE).write_bytes(original)
    assert not report.ok
    assert {"record-format", "tree-heads"} & set(report.failed()), report.failed()
