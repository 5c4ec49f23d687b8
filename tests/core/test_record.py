"""The record's files (evote/record.py): exact spelling, line rules, header checks."""

from __future__ import annotations

import pytest

from evote.board import TreeHead, next_entry
from evote.drbg import SeededRng
from evote.encoding import canonical_json
from evote.errors import EncodingError, SchemaError
from evote.record import (
    BOARD_FILE,
    RecordHeader,
    board_line,
    iter_board,
    iter_lines,
    parse_board_line,
    parse_record_json,
    parse_tree_heads,
    record_json,
    tree_head_line,
)
from evote.signing import SigningKey

KEY = SigningKey.generate(SeededRng(b"test-record"))
HEADER = RecordHeader("poll", KEY.verify_key)


def entries(n: int = 3):
    out, prev = [], None
    for i in range(n):
        prev = next_entry(
            prev, election="poll", kind="election_created" if i == 0 else "trustee_announced",
            time=1000 + i, payload={"i": i, "text": "line\nbreak"},
        )
        out.append(prev)
    return out


def test_header_round_trips() -> None:
    data = record_json(HEADER)
    assert data.endswith(b"}\n") and data.count(b"\n") == 1
    assert parse_record_json(data) == HEADER
    assert parse_record_json(data[:-1]) == HEADER


@pytest.mark.parametrize(
    ("doc", "error"),
    [
        ({"format": "other", "version": 1}, SchemaError),
        ({"format": "evote-record", "version": 2}, SchemaError),
        ({"format": "evote-record", "version": True}, SchemaError),
        ({"format": "evote-record", "version": 1, "election": "Bad Id"}, SchemaError),
        ({"format": "evote-record", "version": 1, "extra": 1}, SchemaError),
        ({"format": "evote-record", "version": 1, "board_key": "x"}, EncodingError),
    ],
)
def test_bad_headers_name_the_file(doc, error) -> None:
    full = {"election": "poll", "board_key": KEY.verify_key.to_json(), **doc}
    with pytest.raises(error, match="record.json"):
        parse_record_json(canonical_json(full))


def test_a_non_canonical_header_is_refused() -> None:
    spaced = b'{"board_key": "%s", "election": "poll", "format": "evote-record", "version": 1}' % (
        KEY.verify_key.to_json().encode()
    )
    with pytest.raises(EncodingError, match="canonical"):
        parse_record_json(spaced)


def test_board_lines_round_trip_even_with_newlines_in_strings() -> None:
    es = entries()
    data = b"".join(board_line(e) for e in es)
    assert data.count(b"\n") == len(es)
    assert list(iter_board(data)) == es
    # Streamed in arbitrary chunks, the same entries come out.
    chunks = [data[i : i + 7] for i in range(0, len(data), 7)]
    assert list(iter_board(chunks)) == es


@pytest.mark.parametrize(
    ("data", "match"),
    [
        (b"{}\n\n", "line 2: empty line"),
        (b"{}\r\n", "line 1: empty line or CRLF"),
        (b"{}", "line 1: missing final newline"),
    ],
)
def test_line_rules(data: bytes, match: str) -> None:
    with pytest.raises(EncodingError, match=match):
        list(iter_lines(data, BOARD_FILE))


def test_a_non_canonical_board_line_is_refused_with_its_line_number() -> None:
    e = entries(1)[0]
    spaced = canonical_json(e.to_json()).replace(b",", b", ")
    with pytest.raises(EncodingError, match="board.jsonl line 4: not in canonical"):
        parse_board_line(spaced, 4)
    with pytest.raises(SchemaError, match="board.jsonl line 2"):
        parse_board_line(canonical_json({**e.to_json(), "kind": "nonsense"}), 2)


def heads(*sizes_times: tuple[int, int], key: SigningKey = KEY, election: str = "poll"):
    return [TreeHead(election, s, bytes(32), t).sign(key) for s, t in sizes_times]


def test_tree_heads_in_order_parse() -> None:
    hs = heads((1, 10), (3, 20), (3, 30), (5, 40))
    data = b"".join(tree_head_line(h) for h in hs)
    assert parse_tree_heads(data, HEADER) == hs


@pytest.mark.parametrize(
    ("hs", "match"),
    [
        (heads((3, 10), (2, 20)), "ascending"),
        (heads((3, 10), (3, 10)), "ascending"),
        (heads((1, 10), key=SigningKey.generate(SeededRng(b"other"))), "board key"),
        (heads((1, 10), election="other"), "election"),
        ([], "at least one"),
    ],
)
def test_bad_tree_head_files(hs, match: str) -> None:
    data = b"".join(tree_head_line(h) for h in hs)
    with pytest.raises(SchemaError, match=match):
        parse_tree_heads(data, HEADER)
