"""Voter credentials: printable codes, the public list, the credential file."""

from __future__ import annotations

import base64
import re
from collections import Counter

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from evote.credentials import (
    CHECKSUM_MESSAGE,
    CODE_CHARS,
    CROCKFORD_ALPHABET,
    LEGACY_CODE_CHARS,
    MAX_WEIGHT,
    CredentialFile,
    CredentialList,
    PublicCredential,
    check_symbol_holds,
    crockford_encode,
    format_credential_code,
    format_legacy_credential_code,
    gf32_double,
    issue_credentials,
    parse_credential_code,
    shuffled,
)
from evote.drbg import SeededRng
from evote.encoding import b64encode, canonical_json
from evote.errors import CredentialError, EncodingError, SchemaError
from evote.hashing import TAG_CREDENTIAL_CODE, TAG_CREDENTIAL_LIST, tagged_hash
from evote.signing import SigningKey

seeds = st.binary(min_size=32, max_size=32)
KEYS = issue_credentials(4, SeededRng(b"test_credentials"))


def ungrouped(code: str) -> str:
    return code.replace("-", "")


# -- Crockford base32 ----------------------------------------------------------

_RFC4648 = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"


@given(st.binary(max_size=40))
def test_crockford_matches_rfc4648_base32_with_the_crockford_alphabet(data: bytes) -> None:
    """An independent reference: same bit order as RFC 4648, only the alphabet differs."""
    reference = base64.b32encode(data).decode().rstrip("=")
    assert crockford_encode(data) == reference.translate(
        str.maketrans(_RFC4648, CROCKFORD_ALPHABET)
    )


# -- printable codes -------------------------------------------------------------


def test_code_vectors_are_pinned() -> None:
    """The browser booth must produce exactly these strings.

    Checked by hand for the zero seed: hash byte 0xeb gives the body's last two
    symbols 01110 = E and 10110 = P (after 51 zeros); Horner over GF(32):
    s = 2·14 ⊕ 22 = 28 ⊕ 22 = 10, check = 2·10 = 20 = M.
    """
    assert format_credential_code(SigningKey(bytes(range(32)))) == (
        "000G-40R4-0M30-E209-185G-R38E-1W81-24GK-2GAH-C5RR-34D1-P70X-3RFQ-RV"
    )
    assert format_credential_code(SigningKey(bytes(32))) == (
        "0000-0000-0000-0000-0000-0000-0000-0000-0000-0000-0000-0000-000E-PM"
    )
    assert tagged_hash(TAG_CREDENTIAL_CODE, bytes(32))[:1] == b"\xeb"
    assert crockford_encode(bytes(32) + b"\xeb") == "0" * 51 + "EP"
    # format 1, as issued before, unchanged
    assert format_legacy_credential_code(SigningKey(bytes(32))) == (
        "0000-0000-0000-0000-0000-0000-0000-0000-0000-0000-0000-0000-000E-Q9R"
    )


@settings(max_examples=100)
@given(seeds)
def test_code_round_trips_in_every_accepted_spelling(seed: bytes) -> None:
    key = SigningKey(seed)
    code = format_credential_code(key)
    assert re.fullmatch(r"([0-9A-HJKMNP-TV-Z]{4}-){13}[0-9A-HJKMNP-TV-Z]{2}", code)
    for spelling in (code, code.lower(), ungrouped(code), " ".join(code.split("-"))):
        assert parse_credential_code(spelling) == key


@settings(max_examples=50)
@given(seeds)
def test_ambiguous_characters_are_normalised(seed: bytes) -> None:
    key = SigningKey(seed)
    code = format_credential_code(key)
    swapped = code.replace("0", "O").replace("1", "l")
    assert parse_credential_code(swapped) == key
    assert parse_credential_code(code.replace("1", "I").replace("0", "o").lower()) == key


# -- the check symbol: certainty, not probability ---------------------------------


def _op(x: int, y: int) -> int:
    """The quasigroup of the check symbol: x∘y = 2x ⊕ y in GF(32)."""
    return gf32_double(x) ^ y


def test_gf32_doubling_is_multiplication_by_x_modulo_x5_x2_1() -> None:
    """An independent reference: carry-less multiplication by 0b10, reduced by 0b100101."""
    for x in range(32):
        product = x << 1
        if product & 0b100000:
            product ^= 0b100101
        assert gf32_double(x) == product
    assert sorted(gf32_double(x) for x in range(32)) == list(range(32))  # a bijection


def test_the_quasigroup_is_latin_and_totally_anti_symmetric_exhaustively() -> None:
    """The two properties the proof needs, over the whole alphabet (32^3 cases).

    Latin: x ↦ c∘x and c ↦ c∘x are bijections (a substitution changes the
    running value, and the change survives every later step).  Totally
    anti-symmetric: (c∘x)∘y = (c∘y)∘x only when x = y (swapping neighbours
    changes the running value).  Together: every single substitution and every
    adjacent transposition, anywhere in the code, is caught.
    """
    for c in range(32):
        assert sorted(_op(c, x) for x in range(32)) == list(range(32))
        assert sorted(_op(x, c) for x in range(32)) == list(range(32))
        for x in range(32):
            for y in range(32):
                if x != y:
                    assert _op(_op(c, x), y) != _op(_op(c, y), x), (c, x, y)


def _typos(code: str):
    """Every single substitution by another code character, and every adjacent
    transposition of two different characters, of an ungrouped code."""
    for pos, ch in enumerate(code):
        for c in CROCKFORD_ALPHABET:
            if c != ch:
                yield "substitution", pos, code[:pos] + c + code[pos + 1 :]
    for pos in range(len(code) - 1):
        if code[pos] != code[pos + 1]:
            yield "transposition", pos, code[:pos] + code[pos + 1] + code[pos] + code[pos + 2 :]


@settings(max_examples=25, deadline=None)
@given(seeds)
def test_every_single_substitution_and_adjacent_transposition_is_caught(seed: bytes) -> None:
    """Not derandomized, not probabilistic: each of the 54·31 substitutions and up
    to 53 transpositions of every code is refused, by the check symbol alone."""
    code = ungrouped(format_credential_code(SigningKey(seed)))
    values = [CROCKFORD_ALPHABET.index(c) for c in code]
    assert len(code) == CODE_CHARS == 54 and check_symbol_holds(values)
    n = 0
    for what, pos, typo in _typos(code):
        assert not check_symbol_holds([CROCKFORD_ALPHABET.index(c) for c in typo]), (what, pos)
        with pytest.raises(CredentialError) as info:
            parse_credential_code(typo)
        assert info.value.message == CHECKSUM_MESSAGE, (what, pos)
        assert info.value.detail == {"reason": "checksum"}
        n += 1
    assert n >= 54 * 31


@settings(max_examples=50)
@given(seeds)
def test_old_format_codes_still_parse(seed: bytes) -> None:
    """Migration: a format-1 code (55 characters) already printed keeps working."""
    key = SigningKey(seed)
    legacy = format_legacy_credential_code(key)
    assert len(ungrouped(legacy)) == LEGACY_CODE_CHARS == 55
    assert parse_credential_code(legacy) == key
    assert parse_credential_code(legacy.lower().replace("-", " ")) == key


@settings(max_examples=200, derandomize=True)
@given(seeds, st.integers(0, 54), st.integers(1, 31))
def test_a_typo_in_an_old_format_code_is_caught_by_its_checksum(
    seed: bytes, pos: int, shift: int
) -> None:
    """Format 1 has no check symbol: typos are caught by its 16-bit checksum except
    with probability 2^-16 (hence derandomized) -- the weakness format 2 removes."""
    chars = list(ungrouped(format_legacy_credential_code(SigningKey(seed))))
    chars[pos] = CROCKFORD_ALPHABET[(CROCKFORD_ALPHABET.index(chars[pos]) + shift) % 32]
    with pytest.raises(CredentialError) as info:
        parse_credential_code("".join(chars))
    assert info.value.detail == {"reason": "checksum"}


@pytest.mark.parametrize(
    ("text", "message", "reason"),
    [
        (
            "U" + "0" * 54,
            "credential code contains 'U' at position 1, which is not a code character",
            "character",
        ),
        (
            "00-0*",
            "credential code contains '*' at position 5, which is not a code character",
            "character",
        ),
        # Non-ASCII look-alikes must not be case-folded into code characters.
        (
            "\u0130" * 55,
            "credential code contains 'İ' at position 1, which is not a code character",
            "character",
        ),
        (
            "0000\t",
            "credential code contains '\\t' at position 5, which is not a code character",
            "character",
        ),
        (
            "0" * 53,
            "credential code has 53 characters, expected 54 (not counting hyphens)",
            "length",
        ),
        ("", "credential code has 0 characters, expected 54 (not counting hyphens)", "length"),
        (
            "0" * 56,
            "credential code has 56 characters, expected 54 (not counting hyphens)",
            "length",
        ),
    ],
)
def test_bad_codes_say_what_is_wrong(text: str, message: str, reason: str) -> None:
    with pytest.raises(CredentialError) as info:
        parse_credential_code(text)
    assert info.value.message == message
    assert info.value.detail["reason"] == reason


def test_dropped_character_is_a_length_error_not_a_checksum_error() -> None:
    code = format_credential_code(KEYS[0])
    with pytest.raises(CredentialError, match="has 53 characters"):
        parse_credential_code(code[:-1])


def test_code_input_types_are_checked() -> None:
    with pytest.raises(TypeError):
        parse_credential_code(b"0000")  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        format_credential_code(KEYS[0].verify_key)  # type: ignore[arg-type]


# -- issuing and shuffling -----------------------------------------------------


def test_issue_is_reproducible_and_distinct() -> None:
    a = issue_credentials(20, SeededRng(b"issue"))
    b = issue_credentials(20, SeededRng(b"issue"))
    assert a == b and len({k.seed for k in a}) == 20
    with pytest.raises(ValueError):
        issue_credentials(0, SeededRng(b"issue"))
    with pytest.raises(ValueError, match="same key twice"):
        issue_credentials(2, lambda n: bytes(n))


def test_shuffle_is_a_uniform_permutation() -> None:
    rng = SeededRng(b"shuffle")
    counts = Counter(tuple(shuffled([0, 1, 2], rng)) for _ in range(6000))
    assert sorted(counts) == sorted(
        [(0, 1, 2), (0, 2, 1), (1, 0, 2), (1, 2, 0), (2, 0, 1), (2, 1, 0)]
    )
    # Each of the 6 permutations expects 1000; 5 sigma is about 150.
    assert all(850 < c < 1150 for c in counts.values()), counts
    assert sorted(shuffled(list(range(50)), rng)) == list(range(50))


# -- the public list -----------------------------------------------------------


def test_list_is_held_in_canonical_order_and_round_trips() -> None:
    entries = [PublicCredential(k.verify_key, w) for k, w in zip(KEYS, (1, 2, 3, MAX_WEIGHT))]
    lst = CredentialList(tuple(reversed(entries)))
    assert [e.key.raw for e in lst.entries] == sorted(e.key.raw for e in entries)
    doc = lst.to_json()
    assert CredentialList.from_json(doc) == lst
    assert lst.canonical() == canonical_json(doc)
    assert lst.digest() == tagged_hash(TAG_CREDENTIAL_LIST, canonical_json(doc))
    assert lst.total_weight == 6 + MAX_WEIGHT
    assert len(lst) == 4 and KEYS[0].verify_key in lst
    assert lst.weight_of(KEYS[3].verify_key) == MAX_WEIGHT
    assert sorted(e.key.raw for e in lst.shuffled(SeededRng(b"s"))) == [
        e.key.raw for e in lst.entries
    ]


def test_digest_binds_weights() -> None:
    keys = [k.verify_key for k in KEYS]
    assert CredentialList.of(keys).digest() != CredentialList.of(keys, 2).digest()


def test_lookup_of_unlisted_key() -> None:
    lst = CredentialList.of([k.verify_key for k in KEYS[:2]])
    with pytest.raises(CredentialError) as info:
        lst.weight_of(KEYS[2].verify_key)
    assert info.value.message == "credential is not on the published list"
    assert info.value.http_status == 403


def test_duplicates_and_empty_lists_are_rejected() -> None:
    k = KEYS[0].verify_key
    with pytest.raises(CredentialError, match="duplicate credential key"):
        CredentialList((PublicCredential(k), PublicCredential(k, 2)))
    with pytest.raises(CredentialError, match="empty"):
        CredentialList(())
    doc = CredentialList.of([k]).to_json()
    with pytest.raises(CredentialError, match=r"^credentials\[1\]\.key: duplicate credential key$"):
        CredentialList.from_json(doc + doc)
    with pytest.raises(CredentialError, match=r"^credentials: the credential list is empty$"):
        CredentialList.from_json([])


def test_unsorted_document_is_rejected() -> None:
    doc = CredentialList.of([k.verify_key for k in KEYS]).to_json()
    with pytest.raises(
        SchemaError, match=r"^credentials\[1\]\.key: credentials must be sorted by key bytes$"
    ):
        CredentialList.from_json([doc[1], doc[0], *doc[2:]])


@pytest.mark.parametrize("weight", [0, -1, MAX_WEIGHT + 1])
def test_weight_bounds(weight: int) -> None:
    with pytest.raises(CredentialError, match="between 1 and 1000000"):
        PublicCredential(KEYS[0].verify_key, weight)
    doc = [{"key": KEYS[0].verify_key.to_json(), "weight": weight}]
    with pytest.raises(
        SchemaError, match=r"^credentials\[0\]\.weight: must be between 1 and 1000000$"
    ):
        CredentialList.from_json(doc)


@pytest.mark.parametrize(
    ("entry", "error", "message"),
    [
        (
            {"key": KEYS[0].verify_key.to_json()},
            SchemaError,
            r"^credentials\[0\]: missing field 'weight'$",
        ),
        (
            {"key": KEYS[0].verify_key.to_json(), "weight": True},
            SchemaError,
            r"weight: expected an integer",
        ),
        (
            {"key": KEYS[0].verify_key.to_json(), "weight": 1, "name": "x"},
            SchemaError,
            "unknown field 'name'",
        ),
        (
            {"key": b64encode(bytes(31)), "weight": 1},
            EncodingError,
            r"^credentials\[0\]\.key: expected 32 bytes",
        ),
        (
            {"key": b64encode(bytes(32)), "weight": 1},
            EncodingError,
            r"^credentials\[0\]\.key: public key has small order$",
        ),
        ({"key": b64encode(b"\xff" * 31 + b"\x7f"), "weight": 1}, EncodingError, "not canonical"),
    ],
)
def test_bad_entries_name_the_field(entry: dict, error: type, message: str) -> None:
    with pytest.raises(error, match=message):
        CredentialList.from_json([entry])


def test_list_document_must_be_a_list() -> None:
    with pytest.raises(SchemaError, match=r"^credentials: expected a list$"):
        CredentialList.from_json({"key": "x"})


# -- the credential file -------------------------------------------------------


def test_credential_file_round_trips() -> None:
    f = CredentialFile("city-2025", KEYS[1])
    doc = f.to_json()
    assert doc == {
        "type": "evote-credential",
        "v": 1,
        "election": "city-2025",
        "code": format_credential_code(KEYS[1]),
    }
    assert CredentialFile.from_json(doc) == f


@pytest.mark.parametrize(
    ("change", "error", "message"),
    [
        ({"type": "evote-ballot"}, SchemaError, r"^credential\.type: must be 'evote-credential'$"),
        ({"v": 2}, SchemaError, r"^credential\.v: must be 1$"),
        ({"election": "Bad Id"}, SchemaError, r"^credential\.election: only a-z"),
        ({"code": "0" * 55}, CredentialError, "checksum does not match"),
        ({"extra": 1}, SchemaError, "unknown field 'extra'"),
    ],
)
def test_bad_credential_files(change: dict, error: type, message: str) -> None:
    doc = {**CredentialFile("city-2025", KEYS[1]).to_json(), **change}
    with pytest.raises(error, match=message):
        CredentialFile.from_json(doc)
