"""The prime-order subgroup of edwards25519, through libsodium only.

.. warning:: hazmat layer.  These are raw group operations; they give no
   meaning to what they compute.  Use :mod:`evote.ballot`, :mod:`evote.dkg` and
   :mod:`evote.tally` for protocol work.

Why this shape:

* All curve arithmetic and all scalar arithmetic mod L is done by libsodium
  (``crypto_core_ed25519_*``, ``crypto_scalarmult_ed25519_*noclamp``); Python
  only moves 32-byte strings around.
* Every value that comes from outside enters through ``Point.from_bytes`` /
  ``Scalar.from_bytes`` (or their JSON forms), which reject non-canonical
  encodings, small-order points, points with a torsion component and the
  identity.  Values computed internally are trusted (libsodium outputs canonical
  encodings), so hot paths do not re-validate.
* The identity point is needed by exponential ElGamal (g^0, the sum of no
  ballots), but libsodium's scalar multiplication refuses it.  It is therefore a
  named constant handled explicitly here, and accepted from outside only where a
  caller opts in (``allow_identity=True``) for a value it will compare against
  its own recomputation.
* At import, a self-test refuses to run if the linked libsodium accepts the
  CVE-2025-69277 vector (a main-subgroup point plus the order-2 point (0, -1)) or
  any of the eight small-order points.
"""

from __future__ import annotations

import hmac
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any

from nacl import bindings
from nacl.exceptions import RuntimeError as SodiumRuntimeError

from evote.encoding import b64decode, b64encode
from evote.errors import EncodingError, InvalidPoint, InvalidScalar

#: Order of the prime-order subgroup (and of the base point G).
L = 2**252 + 27742317777372353535851937790883648493
#: The field prime of Curve25519.
P = 2**255 - 19

SCALAR_BYTES = 32
POINT_BYTES = 32

Rng = Callable[[int], bytes]
"""A source of random bytes: ``rng(n)`` returns ``n`` uniformly random bytes.

evote's core never reads the OS itself; the edges pass ``secrets.token_bytes``
and the tests pass a seeded generator so that vectors reproduce."""

# libsodium entry points, looked up through one namespace so that
# ``instrumented`` can swap in wrappers (counting, or recording for bench/crypto.py).
_S = SimpleNamespace(
    add=bindings.crypto_core_ed25519_add,
    sub=bindings.crypto_core_ed25519_sub,
    is_valid_point=bindings.crypto_core_ed25519_is_valid_point,
    scalarmult=bindings.crypto_scalarmult_ed25519_noclamp,
    scalarmult_base=bindings.crypto_scalarmult_ed25519_base_noclamp,
    scalar_add=bindings.crypto_core_ed25519_scalar_add,
    scalar_sub=bindings.crypto_core_ed25519_scalar_sub,
    scalar_mul=bindings.crypto_core_ed25519_scalar_mul,
    scalar_negate=bindings.crypto_core_ed25519_scalar_negate,
    scalar_invert=bindings.crypto_core_ed25519_scalar_invert,
    scalar_reduce=bindings.crypto_core_ed25519_scalar_reduce,
    from_uniform=bindings.crypto_core_ed25519_from_uniform,
)
_ORIGINAL = dict(vars(_S))


@contextmanager
def instrumented(
    wrap: Callable[[str, Callable[..., Any]], Callable[..., Any]],
) -> Iterator[None]:
    """Inside the ``with`` block, every libsodium group call goes through
    ``wrap(name, fn)``'s wrapper.  For ``bench/`` and tests only (not thread-safe;
    never used by protocol code)."""
    for name, fn in _ORIGINAL.items():
        setattr(_S, name, wrap(name, fn))
    try:
        yield
    finally:
        for name, fn in _ORIGINAL.items():
            setattr(_S, name, fn)


@contextmanager
def count_operations() -> Iterator[Counter]:
    """Count every libsodium group call made inside the ``with`` block."""
    counts: Counter = Counter()

    def wrap(name: str, fn: Callable[..., Any]) -> Callable[..., Any]:
        def counted(*args: Any) -> Any:
            counts[name] += 1
            return fn(*args)

        return counted

    with instrumented(wrap):
        yield counts


_ZERO32 = bytes(32)


@dataclass(frozen=True, slots=True)
class Scalar:
    """An integer mod L, held as its canonical 32-byte little-endian encoding."""

    raw: bytes

    # -- construction -------------------------------------------------------
    @classmethod
    def from_bytes(cls, data: bytes) -> Scalar:
        """Decode a scalar from outside; rejects wrong length and values >= L."""
        if not isinstance(data, bytes | bytearray) or len(data) != SCALAR_BYTES:
            raise InvalidScalar("scalar must be exactly 32 bytes")
        if int.from_bytes(data, "little") >= L:
            raise InvalidScalar("scalar is not canonical (>= L)")
        return cls(bytes(data))

    @classmethod
    def from_int(cls, n: int) -> Scalar:
        """The scalar ``n mod L``; negative ``n`` gives ``L - |n|`` (e.g. -1 -> L-1)."""
        return cls((n % L).to_bytes(SCALAR_BYTES, "little"))

    @classmethod
    def random(cls, rng: Rng) -> Scalar:
        """A uniformly random non-zero scalar, by rejection sampling.

        253-bit candidates are drawn and those >= L (or zero) discarded, so the
        result is exactly uniform on [1, L): no short or biased nonces.
        """
        while True:
            buf = bytearray(rng(SCALAR_BYTES))
            if len(buf) != SCALAR_BYTES:
                raise ValueError("rng returned the wrong number of bytes")
            buf[31] &= 0x1F
            n = int.from_bytes(buf, "little")
            if 0 < n < L:
                return cls(bytes(buf))

    @classmethod
    def from_json(cls, value: Any) -> Scalar:
        try:
            raw = b64decode(value, length=SCALAR_BYTES, what="scalar")
        except EncodingError as exc:
            raise InvalidScalar(exc.message) from None
        return cls.from_bytes(raw)

    def to_json(self) -> str:
        return b64encode(self.raw)

    # -- arithmetic (libsodium) ---------------------------------------------
    @property
    def value(self) -> int:
        return int.from_bytes(self.raw, "little")

    def is_zero(self) -> bool:
        return self.raw == _ZERO32

    def __add__(self, other: Scalar) -> Scalar:
        return Scalar(_S.scalar_add(self.raw, other.raw))

    def __sub__(self, other: Scalar) -> Scalar:
        return Scalar(_S.scalar_sub(self.raw, other.raw))

    def __mul__(self, other: Scalar) -> Scalar:
        if not isinstance(other, Scalar):
            # scalar·Point must reach Point.__rmul__, not multiply the point's
            # encoding as if it were a scalar.
            return NotImplemented
        return Scalar(_S.scalar_mul(self.raw, other.raw))

    def __neg__(self) -> Scalar:
        return Scalar(_S.scalar_negate(self.raw))

    def inverse(self) -> Scalar:
        """Multiplicative inverse mod L; the zero scalar has none."""
        if self.is_zero():
            raise InvalidScalar("zero has no inverse")
        return Scalar(_S.scalar_invert(self.raw))

    def ct_equal(self, other: Scalar) -> bool:
        """Constant-time equality, for comparisons that involve secrets."""
        return hmac.compare_digest(self.raw, other.raw)

    def __repr__(self) -> str:  # never print secret scalars in full
        return f"Scalar({self.raw[:4].hex()}…)"


ZERO = Scalar(_ZERO32)
ONE = Scalar.from_int(1)

_IDENTITY_BYTES = (1).to_bytes(POINT_BYTES, "little")
_BASE_BYTES = (4 * pow(5, P - 2, P) % P).to_bytes(POINT_BYTES, "little")

# The eight points of small order (the torsion subgroup E[8]): the identity, the
# order-2 point (0, -1), two of order 4 and four of order 8.
SMALL_ORDER_POINTS: tuple[bytes, ...] = tuple(
    bytes.fromhex(h)
    for h in (
        "0100000000000000000000000000000000000000000000000000000000000000",
        "ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
        "0000000000000000000000000000000000000000000000000000000000000000",
        "0000000000000000000000000000000000000000000000000000000000000080",
        "26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc05",
        "26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc85",
        "c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac037a",
        "c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac03fa",
    )
)


@dataclass(frozen=True, slots=True)
class Point:
    """An element of the prime-order subgroup, held as its canonical encoding."""

    raw: bytes

    @classmethod
    def from_bytes(cls, data: bytes, *, allow_identity: bool = False) -> Point:
        """Decode and fully validate a point from outside.

        Rejects: wrong length; non-canonical y (>= p); off-curve encodings; the
        eight small-order points; any point with a torsion component (not in
        the prime-order subgroup); and the identity unless ``allow_identity``.
        """
        if not isinstance(data, bytes | bytearray) or len(data) != POINT_BYTES:
            raise InvalidPoint("point must be exactly 32 bytes")
        data = bytes(data)
        y = int.from_bytes(data, "little") & ((1 << 255) - 1)
        if y >= P:
            raise InvalidPoint("point encoding is not canonical (y >= p)")
        if data == _IDENTITY_BYTES:
            if allow_identity:
                return IDENTITY
            raise InvalidPoint("point is the identity")
        if data in SMALL_ORDER_POINTS:
            raise InvalidPoint("point has small order")
        if not _S.is_valid_point(data):
            raise InvalidPoint("point is not on the curve or not in the prime-order subgroup")
        return cls(data)

    @classmethod
    def from_json(cls, value: Any, *, allow_identity: bool = False) -> Point:
        try:
            raw = b64decode(value, length=POINT_BYTES, what="point")
        except EncodingError as exc:
            raise InvalidPoint(exc.message) from None
        return cls.from_bytes(raw, allow_identity=allow_identity)

    def to_json(self) -> str:
        return b64encode(self.raw)

    @classmethod
    def base_mul(cls, k: Scalar) -> Point:
        """k·G (fixed-base, libsodium's precomputed table)."""
        if k.is_zero():
            return IDENTITY
        return cls(_S.scalarmult_base(k.raw))

    def is_identity(self) -> bool:
        return self.raw == _IDENTITY_BYTES

    def __add__(self, other: Point) -> Point:
        return Point(_S.add(self.raw, other.raw))

    def __sub__(self, other: Point) -> Point:
        return Point(_S.sub(self.raw, other.raw))

    def __neg__(self) -> Point:
        return IDENTITY - self

    def __mul__(self, k: Scalar) -> Point:
        """self·k (variable base).  0·P and k·identity are the identity."""
        if k.is_zero() or self.raw == _IDENTITY_BYTES:
            return IDENTITY
        return Point(_S.scalarmult(k.raw, self.raw))

    __rmul__ = __mul__

    def __repr__(self) -> str:
        return f"Point({self.raw.hex()[:12]}…)"


IDENTITY = Point(_IDENTITY_BYTES)
G = Point(_BASE_BYTES)


def small_multiple(m: int) -> Point:
    """m·G for a small non-negative integer m (a vote, a count), 0 allowed."""
    if m < 0:
        raise ValueError("small_multiple takes m >= 0")
    return Point.base_mul(Scalar.from_int(m))


def _self_test() -> None:
    """Refuse to run on a libsodium that accepts points outside the subgroup."""
    order2 = SMALL_ORDER_POINTS[1]
    cve_vector = bindings.crypto_core_ed25519_add(_BASE_BYTES, order2)
    if bindings.crypto_core_ed25519_is_valid_point(cve_vector):
        raise ImportError(
            "the linked libsodium accepts a point with a torsion component "
            "(CVE-2025-69277); upgrade PyNaCl to >= 1.6.2"
        )
    for pt in SMALL_ORDER_POINTS:
        if bindings.crypto_core_ed25519_is_valid_point(pt):
            raise ImportError("the linked libsodium accepts a small-order point")
    try:
        bindings.crypto_scalarmult_ed25519_noclamp(ONE.raw, cve_vector)
    except SodiumRuntimeError:
        pass
    else:
        raise ImportError("libsodium scalar multiplication accepts a torsion point")
    if not bindings.crypto_core_ed25519_is_valid_point(_BASE_BYTES):
        raise ImportError("libsodium rejects the base point")


_self_test()
