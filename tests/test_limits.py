"""One limits module: the bounds the board, the commands and the rest share.

The election id used to be bounded at 64 by the commands and at 200 by the
board's entry format; both now read ``evote.limits.MAX_ELECTION_ID``, so an
entry refuses exactly what a command refuses.
"""

from __future__ import annotations

import pytest

from evote import board, commands, limits, manifest, tally
from evote.board import ZERO_HASH, Entry, TreeHead, link_faults
from evote.errors import SchemaError


def _entry(election: str) -> Entry:
    return Entry(election, 0, "election_created", ZERO_HASH, 0, {})


def test_the_board_and_the_commands_refuse_the_same_election_ids():
    longest = "e" * limits.MAX_ELECTION_ID
    assert commands.check_election_id(longest) == longest
    assert _entry(longest).election == longest
    too_long = longest + "e"
    with pytest.raises(SchemaError, match="1 to 64 characters"):
        commands.check_election_id(too_long)
    with pytest.raises(SchemaError, match=r"entry\.election: must be 1 to 64 characters"):
        _entry(too_long)
    with pytest.raises(SchemaError, match=r"tree_head\.election: must be 1 to 64"):
        TreeHead(too_long, 1, bytes(32), 0)


def test_old_names_are_the_limits_module_values():
    assert board.MAX_ELECTION_ID is commands.MAX_ELECTION_ID is limits.MAX_ELECTION_ID
    assert manifest.MAX_OPTIONS == limits.MAX_OPTIONS == 64
    # a tally's shape is bounded more widely than a manifest's, under its own name
    assert tally.MAX_OPTIONS == limits.MAX_TALLY_OPTIONS == 1024


def test_link_faults_names_every_broken_link_in_order():
    faults = link_faults("other", 3, b"\x01" * 32, 5,
                         election="poll", index=2, prev=bytes(32), last_time=9)
    assert [(code, check) for code, check, _ in faults] == [
        ("wrong_index", "record-format"),
        ("wrong_election", "record-format"),
        ("broken_chain", "hash-chain"),
        ("time_goes_back", "hash-chain"),
    ]
    assert link_faults("poll", 2, bytes(32), 9,
                       election="poll", index=2, prev=bytes(32), last_time=9) == []
