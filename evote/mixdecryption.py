"""Threshold decryption of the mixed rows, ciphertext by ciphertext.

After the last mixer, each row is a ballot nobody can link to its voter, so
every ciphertext of the final list is decrypted: trustee j posts
D = x_j·alpha for each with a Chaum–Pedersen (DLEQ) proof against its
verification key X_j (the same proof as the tally's, :mod:`evote.proofs`), and
any t of them give m·G = beta − Σ λ_j·D_j (Lagrange weights from
:func:`evote.tally.lagrange_at_zero`).  The values are small (a rank 0..k or
a grade 0..G−1), so m is found in a table of 0·G..max·G.

Why a context of its own: the DLEQ proof binds [``"mix-decryption"``,
fingerprint, question, the digest of the final list, trustee, row, column],
so a factor proved for the homomorphic tally, another question, another list
or another position cannot be replayed here.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from evote.dkg.messages import MAX_TRUSTEES, JointKey
from evote.encoding import MAX_SAFE_INTEGER, Fields, b64encode, expect_matrix
from evote.errors import DecryptionError, EncodingError, InvalidProof, SchemaError, TallyError
from evote.group import Point, Rng, Scalar, small_multiple
from evote.hashing import CTX_MIX_DECRYPTION, enc_int
from evote.proofs import DleqProof, prove_dleq, verify_dleq
from evote.shuffle import MAX_ROWS, MAX_WIDTH, RowList
from evote.tally import choose_valid, combine_factors

Factor = tuple[Point, DleqProof]


@dataclass(frozen=True, slots=True)
class RowsPartialDecryption:
    """Trustee j's factors for one question's final list: ``factors[row][column]``."""

    question: int
    trustee: int
    list_digest: bytes
    factors: tuple[tuple[Factor, ...], ...]

    def to_json(self) -> dict:
        return {
            "question": self.question,
            "trustee": self.trustee,
            "list_digest": b64encode(self.list_digest),
            "factors": [
                [{"factor": d.to_json(), "proof": p.to_json()} for d, p in row] for row in self.factors
            ],
        }

    @classmethod
    def from_json(cls, obj: Any, path: str = "partial_decryption") -> RowsPartialDecryption:
        f = Fields(obj, path, required=("question", "trustee", "list_digest", "factors"))
        question = f.int("question", lo=0, hi=2**32)
        trustee = f.int("trustee", lo=1, hi=MAX_TRUSTEES)
        digest = f.bytes("list_digest", length=32)
        out = _row_matrix(f.raw("factors"), f.sub("factors"), "factors", _factor)
        return cls(question, trustee, digest, tuple(out))


def _row_matrix(value: Any, path: str, word: str, item: Callable[[Any, str], Any]) -> tuple:
    """A JSON list of 1..MAX_ROWS rows of 1..MAX_WIDTH cells (``word`` names the cells),
    each cell decoded by ``item(cell, its path)``: the one shape of both messages here."""
    return expect_matrix(value, path, item, rows=(1, MAX_ROWS, "rows"), cells=(1, MAX_WIDTH, word))


def _factor(cell: Any, path: str) -> Factor:
    g = Fields(cell, path, required=("factor", "proof"))
    try:
        # alpha of a mixed row is never the identity, so neither is x_j·alpha.
        return Point.from_json(g.raw("factor")), DleqProof.from_json(g.raw("proof"), g.sub("proof"))
    except EncodingError as exc:
        raise type(exc)(f"{path}: {exc.message}") from None


def _small_value(cell: Any, path: str) -> int:
    if not isinstance(cell, int) or isinstance(cell, bool) or not 0 <= cell <= MAX_SAFE_INTEGER:
        raise SchemaError(f"{path}: expected a non-negative integer")
    return cell


def _context(fingerprint: bytes, question: int, digest: bytes, trustee: int, row: int, col: int) -> list[bytes]:
    return [
        CTX_MIX_DECRYPTION,
        fingerprint,
        enc_int(question),
        digest,
        enc_int(trustee),
        enc_int(row),
        enc_int(col),
    ]


def partial_decrypt_rows(
    fingerprint: bytes, question: int, trustee: int, share: Scalar, rows: RowList, rng: Rng
) -> RowsPartialDecryption:
    """Trustee ``trustee``'s factor x_j·alpha for every ciphertext, with DLEQ proofs."""
    digest = rows.digest()
    return RowsPartialDecryption(
        question,
        trustee,
        digest,
        tuple(
            tuple(
                prove_dleq(_context(fingerprint, question, digest, trustee, i, col), share, ct.alpha, rng)
                for col, ct in enumerate(row)
            )
            for i, row in enumerate(rows.rows)
        ),
    )


def verify_partial_rows(
    fingerprint: bytes, question: int, verification_key: Point, rows: RowList, partial: RowsPartialDecryption
) -> None:
    """Raise :class:`DecryptionError` naming trustee, row and column unless every
    factor is proved to be X_j's secret times that ciphertext's alpha."""
    j = partial.trustee
    digest = rows.digest()
    if partial.question != question or partial.list_digest != digest:
        raise DecryptionError(
            f"trustee {j}: partial decryption is for another list", detail={"trustee": j}
        )
    if tuple(len(r) for r in partial.factors) != (rows.width,) * len(rows):
        raise DecryptionError(
            f"trustee {j}: partial decryption does not have the list's shape", detail={"trustee": j}
        )
    for i, (row, factors) in enumerate(zip(rows.rows, partial.factors, strict=True)):
        for col, (ct, (d, proof)) in enumerate(zip(row, factors, strict=True)):
            try:
                verify_dleq(_context(fingerprint, question, digest, j, i, col), verification_key, ct.alpha, d, proof)
            except InvalidProof:
                raise DecryptionError(
                    f"trustee {j}: invalid proof for row {i} column {col}",
                    detail={"trustee": j, "row": i, "column": col},
                ) from None


def _choose(
    fingerprint: bytes, question: int, rows: RowList, partials: Iterable[RowsPartialDecryption], joint_key: JointKey
) -> list[RowsPartialDecryption]:
    """The t lowest-indexed valid partial decryptions, or a DecryptionError saying why not
    (:func:`evote.tally.choose_valid`, the tally's rule)."""
    return choose_valid(
        partials, joint_key, lambda key, p: verify_partial_rows(fingerprint, question, key, rows, p)
    )


def _plaintext_points(rows: RowList, chosen: Sequence[RowsPartialDecryption]) -> list[list[Point]]:
    return combine_factors(rows.rows, [p.trustee for p in chosen], [p.factors for p in chosen])


@dataclass(frozen=True, slots=True)
class DecryptedRows:
    """The public, unlinkable plaintext rows of one question: ``rows[i][column]``."""

    question: int
    list_digest: bytes
    rows: tuple[tuple[int, ...], ...]

    def to_json(self) -> dict:
        return {
            "question": self.question,
            "list_digest": b64encode(self.list_digest),
            "rows": [list(r) for r in self.rows],
        }

    @classmethod
    def from_json(cls, obj: Any, path: str = "decrypted") -> DecryptedRows:
        f = Fields(obj, path, required=("question", "list_digest", "rows"))
        question = f.int("question", lo=0, hi=2**32)
        digest = f.bytes("list_digest", length=32)
        out = _row_matrix(f.raw("rows"), f.sub("rows"), "values", _small_value)
        return cls(question, digest, tuple(out))


def combine_rows(
    fingerprint: bytes,
    question: int,
    rows: RowList,
    partials: Iterable[RowsPartialDecryption],
    joint_key: JointKey,
    max_value: int,
) -> DecryptedRows:
    """Decrypt every ciphertext from t valid partial decryptions; each value
    must lie in [0, max_value] (k for ranks, G−1 for grades)."""
    if not 0 <= max_value <= 4096:
        raise ValueError("max_value must be in [0, 4096]")
    table = {small_multiple(m).raw: m for m in range(max_value + 1)}
    points = _plaintext_points(rows, _choose(fingerprint, question, rows, partials, joint_key))
    out = []
    for i, row in enumerate(points):
        values = []
        for col, point in enumerate(row):
            m = table.get(point.raw)
            if m is None:
                raise DecryptionError(
                    f"row {i} column {col}: decrypted value is not in [0, {max_value}]",
                    detail={"row": i, "column": col},
                )
            values.append(m)
        out.append(tuple(values))
    return DecryptedRows(question, rows.digest(), tuple(out))


def verify_decrypted_rows(
    fingerprint: bytes,
    question: int,
    rows: RowList,
    partials: Iterable[RowsPartialDecryption],
    joint_key: JointKey,
    result: DecryptedRows,
) -> None:
    """Raise :class:`TallyError` unless ``result`` is the decryption of ``rows``
    (values recomputed as m·G, no search); :class:`DecryptionError` if fewer
    than t partial decryptions are valid."""
    if result.question != question or result.list_digest != rows.digest():
        raise TallyError("the decrypted rows are for another list")
    if tuple(len(r) for r in result.rows) != (rows.width,) * len(rows):
        raise TallyError("the decrypted rows do not have the list's shape")
    points = _plaintext_points(rows, _choose(fingerprint, question, rows, partials, joint_key))
    for i, (row, values) in enumerate(zip(points, result.rows, strict=True)):
        for col, (point, m) in enumerate(zip(row, values, strict=True)):
            if small_multiple(m) != point:
                raise TallyError(
                    f"the posted value at row {i} column {col} ({m}) is not the decryption",
                    detail={"row": i, "column": col},
                )
