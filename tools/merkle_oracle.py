"""A naive RFC 9162 §2.1 Merkle model, transcribed recursively with hashlib only.

It is the one oracle that ``evote.merkle`` is checked against: by
``tests/core/test_merkle.py`` directly, and by ``tools/make_merkle_vectors.py``,
which takes the expected outcome of every published probe from it (never from
the code under test).  It is deliberately slow and obvious; it must not import
``evote``, or it would stop being independent.
"""

from __future__ import annotations

import hashlib

EMPTY_ROOT = hashlib.sha256(b"").digest()

# The leaves of the Certificate Transparency test suites (their roots are published
# by every CT implementation, e.g. transparency-dev/merkle testdata).
CT_LEAVES = [
    bytes.fromhex(h)
    for h in (
        "",
        "00",
        "10",
        "2021",
        "3031",
        "40414243",
        "5051525354555657",
        "606162636465666768696a6b6c6d6e6f",
    )
]


def leaf_hash(d: bytes) -> bytes:
    return hashlib.sha256(b"\x00" + d).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + left + right).digest()


def split(n: int) -> int:
    """The largest power of two smaller than ``n`` (RFC 9162's k)."""
    k = 1
    while k * 2 < n:
        k *= 2
    return k


def mth(d: list[bytes]) -> bytes:
    """MTH(D[n]) over leaf hashes."""
    if not d:
        return EMPTY_ROOT
    if len(d) == 1:
        return d[0]
    k = split(len(d))
    return node_hash(mth(d[:k]), mth(d[k:]))


def path(m: int, d: list[bytes]) -> list[bytes]:
    """PATH(m, D[n]): the audit path of leaf ``m``."""
    if len(d) <= 1:
        return []
    k = split(len(d))
    if m < k:
        return path(m, d[:k]) + [mth(d[k:])]
    return path(m - k, d[k:]) + [mth(d[:k])]


def subproof(m: int, d: list[bytes], complete: bool) -> list[bytes]:
    """SUBPROOF(m, D[n], b)."""
    if m == len(d):
        return [] if complete else [mth(d)]
    k = split(len(d))
    if m <= k:
        return subproof(m, d[:k], complete) + [mth(d[k:])]
    return subproof(m - k, d[k:], False) + [mth(d[:k])]


def consistency(m: int, d: list[bytes]) -> list[bytes]:
    """PROOF(m, D[n]): empty for m = 0 and m = n."""
    if m == 0 or m == len(d):
        return []
    return subproof(m, d, True)


def inclusion_shape(m: int, n: int) -> tuple[str, ...]:
    """Which side each audit-path sibling is on; a verifier's work depends only on this."""
    if n <= 1:
        return ()
    k = split(n)
    if m < k:
        return inclusion_shape(m, k) + ("right",)
    return inclusion_shape(m - k, n - k) + ("left",)


def consistency_shape(m: int, n: int, complete: bool = True) -> tuple[str, ...]:
    """The shape of PROOF(m, D[n]): where each element comes from."""
    if m == n:
        return () if complete else ("seed",)
    k = split(n)
    if m <= k:
        return consistency_shape(m, k, complete) + ("new-right",)
    return consistency_shape(m - k, n - k, False) + ("both-left",)
