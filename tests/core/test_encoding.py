"""Canonical serialisation and the injective hash transcript."""

from __future__ import annotations

import pytest
import rfc8785
from hypothesis import given, settings
from hypothesis import strategies as st

from evote.encoding import Fields, _plain, b64decode, b64encode, canonical_json, parse_json
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


# JSON values mixing what takes canonical_json's fast path (ASCII strings with
# control characters and DEL, safe integers) with what must not: non-ASCII and
# astral keys and strings (UTF-16 key order differs from code point order),
# floats, integers beyond 2**53 - 1.
_json_text = st.text(
    alphabet=st.one_of(
        st.characters(max_codepoint=0x7F),
        st.sampled_from(["é", "я", "\u2028", "\ue000", "\uffff", "\U00010000", "\U0001f600"]),
    ),
    max_size=6,
)
_json_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**53) + 1, max_value=2**53 - 1),
    st.integers(min_value=2**53 - 3, max_value=2**53 + 3),
    st.floats(allow_nan=False, allow_infinity=False),
    _json_text,
)
_json_values = st.recursive(
    _json_scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4),
        st.tuples(inner, inner),
        st.dictionaries(_json_text, inner, max_size=4),
    ),
    max_leaves=20,
)


@settings(max_examples=300)
@given(_json_values)
def test_canonical_json_matches_rfc8785_on_every_path(value: object) -> None:
    try:
        expected = rfc8785.dumps(value)
    except rfc8785.CanonicalizationError:
        with pytest.raises(EncodingError):
            canonical_json(value)
        return
    assert canonical_json(value) == expected


def test_canonical_json_fast_path_is_ascii_only() -> None:
    every_ascii = "".join(chr(i) for i in range(128))  # control characters and DEL too
    plain = {every_ascii: [every_ascii, 0, 2**53 - 1, -(2**53) + 1, True, None, (1, "a")]}
    assert _plain(plain) and canonical_json(plain) == rfc8785.dumps(plain)
    # U+10000 sorts before U+FFFF in UTF-16 (RFC 8785) but after it by code point.
    astral = {"\uffff": 1, "\U00010000": 2}
    assert not _plain(astral)
    assert canonical_json(astral) == rfc8785.dumps(astral) == '{"\U00010000":2,"\uffff":1}'.encode()
    for value in ({"é": 1}, ["я"], 1.5, {"n": 1.0}):
        assert canonical_json(value) == rfc8785.dumps(value)
    assert not _plain({"é": 1}) and not _plain(["я"]) and not _plain(1.5) and not _plain(2**53)
    for bad in ({"n": 2**53}, {1: 2}, float("nan")):
        with pytest.raises(EncodingError):
            canonical_json(bad)


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
