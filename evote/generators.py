"""Independent generators for the mixnet's commitments, by a hash to the group.

The proof of a shuffle commits to a permutation with Pedersen commitments
C_i = r_i·G + H_{π(i)} and chains them from a further generator H_0.  It is sound
only if nobody knows a linear relation between G, H_0, H_1, ..., H_N, so these
points are not made by anyone: they are *hashed* into the group, and every
verifier derives the very same points from public data alone.

Exact derivation (``docs/protocol-mixnet.md`` §2)::

    H_i = the first of  E(tagged_hash(TAG_GENERATOR, seed, enc_int(i), enc_int(ctr)))
          for ctr = 0, 1, 2, ...  that is not one of the eight small-order points

where ``E`` is libsodium's ``crypto_core_ed25519_from_uniform`` (the Elligator 2
map of the 32 bytes as a field element with the top bit giving the sign of x,
then multiplied by the cofactor 8, so the point is in the prime-order subgroup)
and ``seed`` is the election fingerprint.  The retry is for completeness only:
hitting a small-order point has probability about 2^-250.

Why per election (the fingerprint as seed): the generators of one election are
then unrelated to every other election's, so no precomputation for a known set
of points carries over; and the fingerprint is already public and fixed before
any ballot is cast.  Why ``from_uniform`` and not ``k·G`` for a hashed ``k``:
a multiple of G with a known k is exactly the relation that must not exist.
"""

from __future__ import annotations

from dataclasses import dataclass

from evote.group import _S, SMALL_ORDER_POINTS, Point
from evote.hashing import TAG_GENERATOR, enc_int, tagged_hash
from evote.limits import MAX_GENERATORS as MAX_GENERATORS

_MAX_TRIES = 64


def hash_to_group(seed: bytes, index: int) -> Point:
    """The generator H_index for ``seed`` (derivation in the module docstring)."""
    if not isinstance(seed, bytes):
        raise TypeError("seed must be bytes")
    if not 0 <= index <= MAX_GENERATORS:
        raise ValueError(f"generator index must be in [0, {MAX_GENERATORS}]")
    index_field = enc_int(index)
    for counter in range(_MAX_TRIES):
        raw = _S.from_uniform(tagged_hash(TAG_GENERATOR, seed, index_field, enc_int(counter)))
        if raw not in SMALL_ORDER_POINTS:
            return Point(raw)
    raise RuntimeError("hash to the group kept hitting small-order points")  # pragma: no cover


@dataclass(frozen=True, slots=True)
class Generators:
    """H_0 (the base of the commitment chain) and H_1..H_N (one per row position)."""

    seed: bytes
    h0: Point
    hs: tuple[Point, ...]

    def __len__(self) -> int:
        return len(self.hs)


def derive_generators(seed: bytes, n: int) -> Generators:
    """H_0 and H_1..H_n for ``seed``; ``hs[i]`` is H_{i+1}."""
    if not 0 <= n <= MAX_GENERATORS:
        raise ValueError(f"number of generators must be in [0, {MAX_GENERATORS}]")
    return Generators(
        seed, hash_to_group(seed, 0), tuple(hash_to_group(seed, i) for i in range(1, n + 1))
    )


def _self_test() -> None:
    """libsodium must put from_uniform's output in the prime-order subgroup (it
    clears the cofactor since 1.0.18); refuse to run on one that does not."""
    raw = hash_to_group(b"self-test", 1).raw
    if not _S.is_valid_point(raw):
        raise ImportError("libsodium's from_uniform returns points outside the prime-order subgroup")


_self_test()
