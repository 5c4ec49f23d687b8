"""The one way evote turns values into bytes and back.

* JSON documents are serialised with RFC 8785 (JSON Canonicalization Scheme), so
  that a hash or signature over a document is the same in every implementation.
* Binary values (points, scalars, keys, hashes, signatures) travel inside JSON as
  unpadded base64url strings.  Decoding is strict: the string must re-encode to
  itself, so every value has exactly one accepted spelling and a flipped padding
  bit cannot produce a second, different-looking copy of the same ballot.
* :class:`Fields` reads a decoded JSON object with exact key sets, so that
  unknown or missing keys are rejected at the boundary with a message naming the
  field (the "parse, don't validate" habit).
"""

from __future__ import annotations

import base64
import binascii
import json
import math
from collections.abc import Callable, Iterable
from typing import Any, TypeVar

import rfc8785

from evote.errors import EncodingError, SchemaError

T = TypeVar("T")

# Integers in documents must survive a round trip through IEEE doubles (RFC 8785
# and every JavaScript parser); larger ones are rejected rather than rounded.
MAX_SAFE_INTEGER = 2**53 - 1


def canonical_json(value: Any) -> bytes:
    """Serialise ``value`` with RFC 8785; the bytes every hash and signature covers.

    Documents made only of ASCII strings, safe integers, booleans, null, lists
    and objects -- every entry, ballot, tree head and receipt evote makes --
    take :func:`json.dumps` (C): for them RFC 8785 and sorted, compact JSON
    are the same bytes (no float to format, key order by UTF-16 code units
    equals order by code points, identical escapes).  Anything else goes
    through :mod:`rfc8785`.  ``tests/test_encoding.py`` checks the two agree.
    """
    try:
        plain = _plain(value)
    except RecursionError:
        raise EncodingError("value nested too deeply to canonicalise") from None
    if plain:
        return _dumps_plain(value).encode("ascii")
    try:
        return rfc8785.dumps(value)
    except RecursionError:
        raise EncodingError("value nested too deeply to canonicalise") from None
    except (rfc8785.CanonicalizationError, TypeError, ValueError) as exc:
        raise EncodingError(f"value cannot be canonicalised: {exc}") from None


_dumps_plain = json.JSONEncoder(
    ensure_ascii=False, sort_keys=True, separators=(",", ":"), allow_nan=False
).encode


def _plain(value: Any) -> bool:
    """True if ``value`` may take the fast path of :func:`canonical_json`: exact
    ``str`` (ASCII), ``int`` within +-(2**53 - 1), ``bool``, ``None``, ``list``,
    ``tuple`` and ``dict`` with ASCII ``str`` keys, all the way down.
    Subclasses and floats take the slow path."""
    t = type(value)
    if t is str:
        return value.isascii()
    if t is dict:
        if not all(type(k) is str and k.isascii() for k in value):
            return False
        members: Iterable[Any] = value.values()
    elif t is list or t is tuple:
        members = value
    elif t is int:
        return -MAX_SAFE_INTEGER <= value <= MAX_SAFE_INTEGER
    else:
        return value is None or t is bool
    # String members are checked here (most leaves of a document are strings: a
    # call each would be most of the walk's cost).
    for v in members:
        if type(v) is str:
            if not v.isascii():
                return False
        elif not _plain(v):
            return False
    return True


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict:
    """:func:`parse_json`'s object hook: refuse an object that repeats a key."""
    obj = dict(pairs)
    if len(obj) != len(pairs):  # name the first repeated key
        seen: set[str] = set()
        for key, _ in pairs:
            if key in seen:
                raise EncodingError(f"duplicate key {key!r} in JSON object")
            seen.add(key)
    return obj


def _no_constants(name: str) -> Any:
    raise EncodingError(f"JSON constant {name} is not allowed")


def _finite_float(text: str) -> float:
    """:func:`parse_json`'s float hook: ``1e999`` would silently become infinity."""
    value = float(text)
    if math.isinf(value):
        raise EncodingError(f"number {text[:40]!r} is out of range")
    return value


def parse_json(data: bytes | str) -> Any:
    """Parse JSON strictly: no NaN/Infinity, no duplicate keys, UTF-8 only.

    Duplicate keys are rejected because two parsers may keep different copies,
    letting a server and a verifier see different documents under one hash.
    Every failure of the JSON layer -- Python's 4300-digit integer limit,
    nesting deep enough to exhaust the stack, a float that overflows to
    infinity, running out of memory -- is an :class:`EncodingError`, so a
    hostile document is a 400 on the server and a failed check in the
    verifier, never a 500 or a traceback (tests/test_hostile_traffic.py).
    """
    if isinstance(data, bytes):
        try:
            data = data.decode("utf-8")
        except UnicodeDecodeError:
            raise EncodingError("document is not valid UTF-8") from None

    try:
        return json.loads(
            data,
            object_pairs_hook=_no_duplicates,
            parse_constant=_no_constants,
            parse_float=_finite_float,
        )
    except json.JSONDecodeError as exc:
        raise EncodingError(f"malformed JSON: {exc.msg} at line {exc.lineno}") from None
    except RecursionError:
        raise EncodingError("JSON nested too deeply") from None
    except MemoryError:
        raise EncodingError("JSON document too large to parse") from None
    except ValueError as exc:
        # Python's own integer limit (a number of more than 4300 digits) and
        # anything else the decoder refuses: bad input, never a crash.
        if "digits" in str(exc):
            raise EncodingError("malformed JSON: a number has more than 4300 digits") from None
        raise EncodingError(f"malformed JSON: {exc}") from None


#: base64url to standard base64 for :func:`b64decode_or_none`; the standard
#: alphabet's own ``+`` and ``/``, and ``=``, become a character no decoder accepts.
_TO_STANDARD_ALPHABET = bytes.maketrans(b"-_+/=", b"+/!!!")


def b64encode(data: bytes) -> str:
    """Unpadded base64url, the spelling of every binary value in a document."""
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64decode(text: Any, *, length: int | None = None, what: str = "value") -> bytes:
    """Decode unpadded base64url strictly; ``length`` pins the decoded size.

    Raises :class:`EncodingError` naming ``what`` for: a non-string, characters
    outside the base64url alphabet, padding, a wrong length, or non-zero spare
    bits (which would give the same bytes a second spelling).
    """
    raw = b64decode_or_none(text, length)
    if raw is not None:
        return raw
    # Only bad input gets here: work out what is wrong with it.
    if not isinstance(text, str):
        raise EncodingError(f"{what}: expected a base64url string")
    if length is not None and len(text) != (length * 4 + 2) // 3:  # ceil(4 * length / 3)
        raise EncodingError(f"{what}: expected {length} bytes of base64url")
    try:
        raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError):
        raise EncodingError(f"{what}: not base64url") from None
    if b64encode(raw) != text:
        raise EncodingError(f"{what}: non-canonical base64url")
    if length is not None and len(raw) != length:
        raise EncodingError(f"{what}: expected {length} bytes, got {len(raw)}")
    return raw


def b64decode_or_none(text: Any, length: int | None = None) -> bytes | None:
    """What :func:`b64decode` returns for ``text``, or None where it raises.

    For readers of many values (every point and scalar of a ballot) that need
    an error message only when there is an error: they take the general path
    for it then.  A strict decode and a re-encode compare accept exactly the
    canonical spellings; ``+``, ``/`` and ``=`` are mapped out of the alphabet
    first, so only unpadded base64url gets through.
    """
    if not isinstance(text, str) or not text.isascii():
        return None
    if length is not None and len(text) != (length * 4 + 2) // 3:
        return None
    data = text.encode("ascii").translate(_TO_STANDARD_ALPHABET)
    data += b"=" * (-len(data) % 4)
    try:
        raw = binascii.a2b_base64(data, strict_mode=True)
    except binascii.Error:
        return None
    if binascii.b2a_base64(raw, newline=False) != data:
        return None
    return raw


class Fields:
    """A strict reader over one decoded JSON object.

    ``Fields(obj, "ballot", required={...}, optional={...})`` rejects a non-object,
    a missing required key or any key not named; the getters reject wrong types.
    Every message names the path, e.g. ``ballot.answers[1].choices: expected a list``.
    """

    def __init__(
        self,
        obj: Any,
        path: str,
        *,
        required: Iterable[str],
        optional: Iterable[str] = (),
    ) -> None:
        if not isinstance(obj, dict):
            raise SchemaError(f"{path}: expected an object")
        req = set(required)
        allowed = req | set(optional)
        missing = sorted(req - obj.keys())
        if missing:
            raise SchemaError(f"{path}: missing field {missing[0]!r}")
        extra = sorted(obj.keys() - allowed)
        if extra:
            raise SchemaError(f"{path}: unknown field {extra[0]!r}")
        self.obj = obj
        self.path = path

    def has(self, key: str) -> bool:
        return key in self.obj

    def sub(self, key: str) -> str:
        return f"{self.path}.{key}"

    def raw(self, key: str, default: Any = None) -> Any:
        return self.obj.get(key, default)

    def str(self, key: str, *, max_len: int = 10_000, allow_empty: bool = False) -> str:
        val = self.obj.get(key)
        if not isinstance(val, str):
            raise SchemaError(f"{self.sub(key)}: expected a string")
        if not allow_empty and not val:
            raise SchemaError(f"{self.sub(key)}: must not be empty")
        if len(val) > max_len:
            raise SchemaError(f"{self.sub(key)}: longer than {max_len} characters")
        return val

    def int(self, key: str, *, lo: int = 0, hi: int = MAX_SAFE_INTEGER) -> int:
        val = self.obj.get(key)
        # bool is a subclass of int in Python; JSON true is not a number.
        if not isinstance(val, int) or isinstance(val, bool):
            raise SchemaError(f"{self.sub(key)}: expected an integer")
        if not lo <= val <= hi:
            raise SchemaError(f"{self.sub(key)}: must be between {lo} and {hi}")
        return val

    def bool(self, key: str) -> bool:
        val = self.obj.get(key)
        if not isinstance(val, bool):
            raise SchemaError(f"{self.sub(key)}: expected true or false")
        return val

    def bytes(self, key: str, *, length: int | None = None) -> bytes:
        return b64decode(self.obj.get(key), length=length, what=self.sub(key))

    def list(
        self, key: str, item: Callable[[Any, str], T], *, min_len: int = 0, max_len: int = 100_000
    ) -> list[T]:
        val = self.obj.get(key)
        if not isinstance(val, list):
            raise SchemaError(f"{self.sub(key)}: expected a list")
        if not min_len <= len(val) <= max_len:
            raise SchemaError(
                f"{self.sub(key)}: expected between {min_len} and {max_len} items"
            )
        return [item(v, f"{self.sub(key)}[{i}]") for i, v in enumerate(val)]

    def obj_of(self, key: str) -> Any:
        return self.obj.get(key)


def expect_list(value: Any, path: str, *, length: int | None = None) -> list:
    """A JSON value that must be a list (of a given length, when pinned)."""
    if not isinstance(value, list):
        raise SchemaError(f"{path}: expected a list")
    if length is not None and len(value) != length:
        raise SchemaError(f"{path}: expected {length} items, got {len(value)}")
    return value


def expect_matrix(
    value: Any,
    path: str,
    item: Callable[[Any, str], Any],
    *,
    rows: tuple[int, int, str],
    cells: tuple[int, int, str],
) -> tuple[tuple[Any, ...], ...]:
    """A JSON list of lists, bounded at both levels, each cell decoded by ``item(cell,
    its path)``.  ``rows`` and ``cells`` are (least, most, what they are called), so an
    error reads ``tally.questions[2]: expected 1..64 options``.  The tally's and the
    mixed rows' messages share this shape."""
    lo, hi, what = rows
    cell_lo, cell_hi, cell_what = cells
    out = expect_list(value, path)
    if not lo <= len(out) <= hi:
        raise SchemaError(f"{path}: expected {lo}..{hi} {what}")
    decoded = []
    for i, row in enumerate(out):
        items = expect_list(row, f"{path}[{i}]")
        if not cell_lo <= len(items) <= cell_hi:
            raise SchemaError(f"{path}[{i}]: expected {cell_lo}..{cell_hi} {cell_what}")
        decoded.append(tuple(item(cell, f"{path}[{i}][{j}]") for j, cell in enumerate(items)))
    return tuple(decoded)
