"""Fuzzing the mixnet's decoders: a hostile mix, partial decryption or decrypted
list may only fail with a typed :class:`evote.errors.EvoteError`.

Arbitrary JSON and structure-aware mutations of real documents (a signed mix
of three rows of width 2, a trustee's partial decryption of it, its decrypted
rows, a mixer key), with the mutation helpers of tests/core/test_fuzz_decoders.py.
"""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from evote.drbg import SeededRng
from evote.elgamal import encrypt_random
from evote.group import Point, Scalar
from evote.mixdecryption import DecryptedRows, RowsPartialDecryption, partial_decrypt_rows
from evote.mixnet import Mix, MixerKey, mix
from evote.shuffle import RowList
from evote.signing import SigningKey
from tests.core.test_fuzz_decoders import FUZZ, json_values, must_be_typed, mutate

_rng = SeededRng(b"fuzz-mixnet")
_x = Scalar.random(_rng)
_key = Point.base_mul(_x)
_signer = SigningKey.generate(_rng)
_rows = RowList.of([[encrypt_random(_key, m, _rng)[0] for m in (1, 2)] for _ in range(3)])
_mix = mix(b"\x01" * 32, _key, 0, 1, _signer, _rows, _rng)
_partial = partial_decrypt_rows(b"\x01" * 32, 0, 1, _x, _mix.rows, _rng)

DOCS: dict[str, tuple[Any, Any]] = {
    "mix": (_mix.to_json(), lambda d: Mix.from_json(d, width=2, count=3)),
    "mix_unpinned": (_mix.to_json(), Mix.from_json),
    "rows": (_rows.to_json(), RowList.from_json),
    "partial": (_partial.to_json(), RowsPartialDecryption.from_json),
    "decrypted": (
        DecryptedRows(0, _mix.rows.digest(), ((1, 2), (2, 1), (1, 1))).to_json(),
        DecryptedRows.from_json,
    ),
    "mixer": (MixerKey(1, _signer.verify_key).to_json(), MixerKey.from_json),
}


@pytest.mark.parametrize("name", sorted(DOCS))
def test_every_document_decodes_unmutated(name: str) -> None:
    doc, decode = DOCS[name]
    assert decode(doc).to_json() == doc


@pytest.mark.parametrize("name", sorted(DOCS))
@FUZZ
@given(data=st.data())
def test_mutated_documents_fail_only_with_typed_errors(name: str, data: st.DataObject) -> None:
    doc, decode = DOCS[name]
    mutated = mutate(doc, data)
    must_be_typed(lambda: decode(mutated))


@pytest.mark.parametrize("name", sorted(DOCS))
@FUZZ
@given(value=json_values)
def test_arbitrary_json_fails_only_with_typed_errors(name: str, value: Any) -> None:
    must_be_typed(lambda: DOCS[name][1](value))
