"""Canonical serialisation and the injective hash transcript."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from evote.encoding import Fields, b64decode, b64encode, canonical_json, parse_json
from evote.errors import EncodingError, SchemaError
from evote.hashing import hash_to_scalar, tagged_hash, transcript


@settings(max_examples=200)
@given(st.binary(max_size=100))
def test_b64_roundtrip(data: bytes) -> None:
    assert b64decode(b64encode(data)) == data


def test_b64_rejects_second_spellings() -> None:
    good = b64encode(b"\xff")  # "_w"
    assert good == "_w"
    with pytest.raises(EncodingError, match="non-canonical"):
        b64decode("_x")  # same byte, spare bits set
    with pytest.raises(EncodingError):
        b64decode("_w==")  # padding
    with pytest.raises(EncodingError):
        b64decode("/w")  # standard alphabet
    with pytest.raises(EncodingError, match="expected 2 bytes"):
        b64decode(good, length=2)
    with pytest.raises(EncodingError):
        b64decode(5)


def test_parse_json_rejects_duplicates_and_constants() -> None:
    with pytest.raises(EncodingError, match="duplicate key"):
        parse_json('{"a": 1, "a": 2}')
    with pytest.raises(EncodingError, match="NaN"):
        parse_json('{"a": NaN}')
    with pytest.raises(EncodingError, match="UTF-8"):
        parse_json(b'"\xff"')
    with pytest.raises(EncodingError, match="malformed"):
        parse_json("{")


def test_canonical_json_is_rfc8785() -> None:
    assert canonical_json({"b": [1, "x"], "a": {"d": True, "c": None}}) == (
        b'{"a":{"c":null,"d":true},"b":[1,"x"]}'
    )
    assert canonical_json({"n": 1.0}) == b'{"n":1}'


def test_fields_reader() -> None:
    f = Fields({"a": 1, "b": "x"}, "doc", required=["a"], optional=["b"])
    assert f.int("a") == 1 and f.str("b") == "x"
    with pytest.raises(SchemaError, match="doc: missing field 'a'"):
        Fields({}, "doc", required=["a"])
    with pytest.raises(SchemaError, match="doc: unknown field 'z'"):
        Fields({"a": 1, "z": 2}, "doc", required=["a"])
    with pytest.raises(SchemaError, match="doc.a: expected an integer"):
        Fields({"a": True}, "doc", required=["a"]).int("a")
    with pytest.raises(SchemaError, match="doc: expected an object"):
        Fields([], "doc", required=[])


field_lists = st.lists(st.binary(max_size=12), max_size=5)


@settings(max_examples=300)
@given(field_lists, field_lists, st.binary(max_size=4), st.binary(max_size=4))
def test_transcript_is_injective(a: list[bytes], b: list[bytes], ta: bytes, tb: bytes) -> None:
    if (ta, a) != (tb, b):
        assert transcript(ta, a) != transcript(tb, b)
    else:
        assert transcript(ta, a) == transcript(tb, b)


def test_concatenation_ambiguity_is_gone() -> None:
    # Without length prefixes ("ab","c") and ("a","bc") would hash alike.
    assert tagged_hash(b"t", b"ab", b"c") != tagged_hash(b"t", b"a", b"bc")
    assert hash_to_scalar(b"t", b"ab", b"c") != hash_to_scalar(b"t", b"a", b"bc")
    assert tagged_hash(b"t1", b"x") != tagged_hash(b"t2", b"x")
