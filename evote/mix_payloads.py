"""The body of ``ranked_result``: one ranked or graded question's public rows and count sheet.

The other two mixnet kinds carry types of the crypto core as they are
(``mix_posted``: :class:`evote.mixnet.Mix`; ``mix_decryption``:
:class:`evote.mixdecryption.RowsPartialDecryption`).  This one is the
official's statement of the outcome: the decrypted rows of the final mixed
list (checked against the trustees' factors, R-MIX-07) and the count sheet
(checked by recounting, R-MIX-09).

Why the sheet is kept as JSON and not parsed back into a
:class:`~evote.counting.CountResult`: the only thing anyone does with a posted
sheet is compare it, byte for byte in canonical JSON, with the sheet they
recount themselves; a parser would be a second spelling of the sheet to keep
in step with the counting code.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from evote.encoding import MAX_SAFE_INTEGER, Fields, canonical_json
from evote.errors import SchemaError
from evote.limits import MAX_SHEET_BYTES as MAX_SHEET_BYTES
from evote.mixdecryption import DecryptedRows

_MAX_DEPTH = 8


def _check_sheet_value(value: Any, path: str, depth: int) -> None:
    """A sheet holds strings, safe integers, booleans, null, lists and objects only:
    no float (the sheet writes every fraction as a ``"p/q"`` string), so its canonical
    bytes are the ones a recount produces."""
    if depth > _MAX_DEPTH:
        raise SchemaError(f"{path}: nested deeper than {_MAX_DEPTH}")
    if value is None or isinstance(value, bool | str):
        return
    if isinstance(value, int):
        if not -MAX_SAFE_INTEGER <= value <= MAX_SAFE_INTEGER:
            raise SchemaError(f"{path}: integer out of range")
        return
    if isinstance(value, list):
        for i, v in enumerate(value):
            _check_sheet_value(v, f"{path}[{i}]", depth + 1)
        return
    if isinstance(value, Mapping):
        for k, v in value.items():
            if not isinstance(k, str):
                raise SchemaError(f"{path}: object keys must be strings")
            _check_sheet_value(v, f"{path}.{k}", depth + 1)
        return
    raise SchemaError(f"{path}: not a count-sheet value ({type(value).__name__})")


@dataclass(frozen=True)
class RankedResult:
    """``decrypted``: the rows of question ``decrypted.question``'s final list;
    ``count``: :meth:`evote.counting.CountResult.to_json` of their count."""

    decrypted: DecryptedRows
    count: Mapping[str, Any]

    @property
    def question(self) -> int:
        return self.decrypted.question

    def to_json(self) -> dict[str, Any]:
        return {"decrypted": self.decrypted.to_json(), "count": dict(self.count)}

    @classmethod
    def from_json(cls, obj: Any, path: str = "ranked_result") -> RankedResult:
        f = Fields(obj, path, required=("decrypted", "count"))
        decrypted = DecryptedRows.from_json(f.raw("decrypted"), f.sub("decrypted"))
        count = f.raw("count")
        if not isinstance(count, Mapping):
            raise SchemaError(f"{f.sub('count')}: expected an object (a count sheet)")
        _check_sheet_value(count, f.sub("count"), 0)
        if len(canonical_json(count)) > MAX_SHEET_BYTES:
            raise SchemaError(f"{f.sub('count')}: longer than {MAX_SHEET_BYTES} bytes")
        return cls(decrypted, dict(count))
