"""The board's tree heads as C2SP checkpoints, and witness cosignatures.

Three public formats of the transparency-log ecosystem, byte for byte, so
that any witness or monitor written for Certificate-Transparency-style logs
(Go's ``sumdb/note``, ``transparency-dev/formats``, ...) can read, check and
cosign our boards:

* **signed note** (c2sp.org/signed-note): a text ending in a newline, a blank
  line, then one line ``"— <key name> <base64(key ID || signature)>\\n"`` per
  signature.  The key ID is ``SHA-256(name || 0x0A || type || public key)[:4]``;
  type ``0x01`` is an Ed25519 signature over the note text.
* **checkpoint** (c2sp.org/tlog-checkpoint): a note whose text is the origin
  line, the tree size in decimal, the base64 RFC 6962/9162 root, then optional
  extension lines.
* **cosignature/v1** (c2sp.org/tlog-cosignature): a note signature of type
  ``0x04`` whose bytes are ``timestamp (8 bytes, big-endian) || Ed25519 sig``
  over ``"cosignature/v1\\ntime <timestamp>\\n" || checkpoint text``.

Unlike the rest of evote these formats use *standard* padded base64 (RFC 4648
§4), because the specifications say so; decoding is still strict (one
spelling per value).

The board signs its checkpoints with its own Ed25519 board key, key name =
origin.  These signatures are over raw note text, not over an evote
transcript (:mod:`evote.hashing`).  The two can never be confused: a
transcript begins with an 8-byte length whose first byte is ``0x00``, which no
note text may contain (control characters other than newline are refused
here, before anything is signed).

This module is the hazmat layer for these formats: it parses and verifies,
but decides nothing; :mod:`evote.witness` holds what a witness and an auditor
conclude.

Why one module of ~550 lines: the note and checkpoint formats nest (a
checkpoint is a note's text, a cosignature is a note signature), so parsing,
serialising and verifying them is one grammar kept in one place.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from collections.abc import Iterable
from dataclasses import dataclass, field

from nacl.exceptions import BadSignatureError
from nacl.signing import SigningKey as _NaclSigningKey
from nacl.signing import VerifyKey as _NaclVerifyKey

from evote.errors import EncodingError, EvoteError, InvalidSignature, SchemaError
from evote.limits import MAX_CHECKPOINT_NAME as MAX_NAME
from evote.limits import MAX_CHECKPOINT_TIMESTAMP as MAX_TIMESTAMP
from evote.limits import MAX_CHECKPOINT_TREE_SIZE as MAX_TREE_SIZE
from evote.limits import MAX_NOTE_BYTES as MAX_NOTE_BYTES
from evote.limits import MAX_SIGNATURES as MAX_SIGNATURES
from evote.merkle import HASH_SIZE
from evote.signing import PUBLIC_KEY_BYTES, SIGNATURE_BYTES, SigningKey, VerifyKey

__all__ = [
    "COSIGNATURE_HEADER",
    "EM_DASH",
    "SIG_COSIGNATURE_V1",
    "SIG_ED25519",
    "Checkpoint",
    "Note",
    "NoteKey",
    "NoteSignature",
    "board_note_key",
    "check_key_name",
    "checkpoint_size",
    "cosign",
    "cosignature_message",
    "cosignature_timestamp",
    "election_origin",
    "key_id",
    "open_checkpoint",
    "sign_checkpoint",
    "sign_note",
    "verify_cosignature",
    "verify_note",
]

SIG_ED25519 = 0x01
"""c2sp.org/signed-note signature type: Ed25519 over the note text."""

SIG_COSIGNATURE_V1 = 0x04
"""c2sp.org/signed-note signature type: timestamped Ed25519 witness cosignature."""

EM_DASH = "\u2014"
SIGNATURE_PREFIX = EM_DASH + " "
COSIGNATURE_HEADER = "cosignature/v1"
KEY_ID_BYTES = 4
TIMESTAMP_BYTES = 8
COSIGNATURE_BYTES = TIMESTAMP_BYTES + SIGNATURE_BYTES


# --- strict standard base64 (RFC 4648 §4, padded) ------------------------------


def _b64encode(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _b64decode(text: str, what: str) -> bytes:
    """Decode padded standard base64, refusing any second spelling of the bytes."""
    try:
        raw = base64.b64decode(text.encode("ascii"), validate=True)
    except (binascii.Error, ValueError, UnicodeEncodeError):
        raise EncodingError(f"{what}: not standard base64") from None
    if _b64encode(raw) != text:
        raise EncodingError(f"{what}: non-canonical base64")
    return raw


# --- names, key IDs, verifier keys ---------------------------------------------


def check_key_name(name: object, what: str = "key name") -> str:
    """A key name: non-empty, no Unicode space, no ``+`` (c2sp.org/signed-note)."""
    if not isinstance(name, str) or not name:
        raise EncodingError(f"{what}: must be a non-empty string")
    if len(name) > MAX_NAME:
        raise EncodingError(f"{what}: longer than {MAX_NAME} characters")
    if "+" in name or any(c.isspace() or c < " " for c in name):
        raise EncodingError(f"{what}: {name!r} contains a space, a control character or '+'")
    return name


def key_id(name: str, sig_type: int, public_key: bytes) -> bytes:
    """``SHA-256(name || 0x0A || type || public key)[:4]`` (c2sp.org/signed-note).

    The type byte is inside the hash, so one Ed25519 key gets different IDs
    as a note signer (``0x01``) and as a cosigner (``0x04``).
    """
    check_key_name(name)
    if not isinstance(sig_type, int) or not 0 <= sig_type <= 0xFF:
        raise EncodingError("signature type must be one byte")
    return hashlib.sha256(name.encode() + b"\n" + bytes([sig_type]) + public_key).digest()[
        :KEY_ID_BYTES
    ]


@dataclass(frozen=True, slots=True)
class NoteKey:
    """A trusted (name, signature type, Ed25519 public key): who may sign a note.

    ``sig_type`` is :data:`SIG_ED25519` for the board (and any note signer) or
    :data:`SIG_COSIGNATURE_V1` for a witness.  Its text form is the Go /
    C2SP verifier key ``<name>+<hex key ID>+<base64(type || key)>``.
    """

    name: str
    sig_type: int
    public_key: VerifyKey
    key_id: bytes = field(init=False)

    def __post_init__(self) -> None:
        if self.sig_type not in (SIG_ED25519, SIG_COSIGNATURE_V1):
            raise EncodingError(f"unsupported note signature type {self.sig_type!r}")
        if not isinstance(self.public_key, VerifyKey):
            raise TypeError("public_key must be a VerifyKey")
        object.__setattr__(
            self, "key_id", key_id(self.name, self.sig_type, self.public_key.raw)
        )

    def to_vkey(self) -> str:
        material = _b64encode(bytes([self.sig_type]) + self.public_key.raw)
        return f"{self.name}+{self.key_id.hex()}+{material}"

    @classmethod
    def from_vkey(cls, text: object) -> NoteKey:
        """Parse ``<name>+<8 hex digits>+<base64(type || key)>``; the ID must match."""
        if not isinstance(text, str):
            raise EncodingError("verifier key: expected a string")
        parts = text.split("+", 2)
        if len(parts) != 3:
            raise EncodingError("verifier key: expected <name>+<key ID>+<key>")
        name, hex_id, material = parts
        check_key_name(name, "verifier key name")
        if len(hex_id) != 2 * KEY_ID_BYTES or hex_id != hex_id.lower():
            raise EncodingError("verifier key: the key ID must be 8 lowercase hex digits")
        try:
            claimed = bytes.fromhex(hex_id)
        except ValueError:
            raise EncodingError("verifier key: the key ID must be 8 lowercase hex digits") from None
        raw = _b64decode(material, "verifier key material")
        if len(raw) != 1 + PUBLIC_KEY_BYTES:
            raise EncodingError("verifier key: expected a type byte and a 32-byte Ed25519 key")
        key = cls(name, raw[0], VerifyKey.from_bytes(raw[1:]))
        if key.key_id != claimed:
            raise EncodingError(
                f"verifier key: key ID {hex_id} does not match the name and key"
            )
        return key

    def matches(self, sig: NoteSignature) -> bool:
        """Whether ``sig`` names this key (name and key ID): only then is it checked."""
        return sig.name == self.name and sig.key_id == self.key_id


# --- signed notes --------------------------------------------------------------


def _check_text(text: object, what: str) -> str:
    """Note text: UTF-8, no control character but newline, ends with a newline."""
    if not isinstance(text, str):
        raise EncodingError(f"{what}: expected text")
    if not text.endswith("\n"):
        raise EncodingError(f"{what}: must end with a newline")
    bad = next((c for c in text if c < " " and c != "\n"), None)
    if bad is not None:
        raise EncodingError(f"{what}: control character U+{ord(bad):04X} is not allowed")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise EncodingError(f"{what}: not valid UTF-8 (lone surrogate)") from None
    return text


@dataclass(frozen=True, slots=True)
class NoteSignature:
    """One signature line: key name, 4-byte key ID, and the signature bytes
    that follow the key ID (64 bytes for Ed25519, 72 for cosignature/v1)."""

    name: str
    key_id: bytes
    signature: bytes

    def __post_init__(self) -> None:
        check_key_name(self.name, "signature key name")
        if not isinstance(self.key_id, bytes) or len(self.key_id) != KEY_ID_BYTES:
            raise EncodingError("signature key ID must be 4 bytes")
        if not isinstance(self.signature, bytes) or not self.signature:
            raise EncodingError("signature must not be empty")

    def line(self) -> str:
        """``"— <name> <base64(key ID || signature)>\\n"``."""
        return f"{SIGNATURE_PREFIX}{self.name} {_b64encode(self.key_id + self.signature)}\n"

    @classmethod
    def parse_line(cls, line: str) -> NoteSignature:
        """Parse one signature line, without its newline."""
        if not line.startswith(SIGNATURE_PREFIX):
            raise EncodingError("note signature line must start with an em dash and a space")
        name, sep, b64 = line[len(SIGNATURE_PREFIX) :].partition(" ")
        if not sep:
            raise EncodingError("note signature line: expected '<name> <signature>'")
        check_key_name(name, "note signature key name")
        raw = _b64decode(b64, f"signature of {name}")
        if len(raw) <= KEY_ID_BYTES:
            raise EncodingError(f"signature of {name}: shorter than a key ID and a signature")
        return cls(name, raw[:KEY_ID_BYTES], raw[KEY_ID_BYTES:])


@dataclass(frozen=True, slots=True)
class Note:
    """A signed note: ``text`` (ending in a newline) and its signature lines.

    Valid by construction.  :meth:`parse` and :meth:`to_bytes` are exact
    inverses; parsing checks the format only -- which signatures count is for
    the reader to decide with the keys it trusts (:meth:`signatures_by`).
    """

    text: str
    signatures: tuple[NoteSignature, ...]

    def __post_init__(self) -> None:
        _check_text(self.text, "note text")
        sigs = tuple(self.signatures)
        if not sigs:
            raise EncodingError("a signed note needs at least one signature")
        if len(sigs) > MAX_SIGNATURES:
            raise EncodingError(f"a note may carry at most {MAX_SIGNATURES} signatures")
        if not all(isinstance(s, NoteSignature) for s in sigs):
            raise TypeError("signatures must be NoteSignature objects")
        object.__setattr__(self, "signatures", sigs)

    def to_bytes(self) -> bytes:
        return self.to_text().encode("utf-8")

    def to_text(self) -> str:
        return self.text + "\n" + "".join(s.line() for s in self.signatures)

    @classmethod
    def parse(cls, data: bytes | str) -> Note:
        """Parse a signed note strictly (c2sp.org/signed-note, Go ``note.Open``).

        The text ends at the *last* blank line; every line after it must be a
        signature line, and the note must end with a newline.  Raises
        :class:`EncodingError` for anything else.
        """
        if isinstance(data, bytes):
            if len(data) > MAX_NOTE_BYTES:
                raise EncodingError(f"note is larger than {MAX_NOTE_BYTES} bytes")
            try:
                data = data.decode("utf-8")
            except UnicodeDecodeError:
                raise EncodingError("note is not valid UTF-8") from None
        if not isinstance(data, str):
            raise EncodingError("note: expected bytes or text")
        if len(data.encode("utf-8", "surrogatepass")) > MAX_NOTE_BYTES:
            raise EncodingError(f"note is larger than {MAX_NOTE_BYTES} bytes")
        split = data.rfind("\n\n")
        if split < 0:
            raise EncodingError("note has no blank line before its signatures")
        text, block = data[: split + 1], data[split + 2 :]
        if not block.endswith("\n"):
            raise EncodingError("note must end with a signature line and a newline")
        lines = block[:-1].split("\n")
        if len(lines) > MAX_SIGNATURES:
            raise EncodingError(f"a note may carry at most {MAX_SIGNATURES} signatures")
        _check_text(text, "note text")
        if any(c < " " for c in block.replace("\n", "")):
            raise EncodingError("note signatures contain a control character")
        return cls(text, tuple(NoteSignature.parse_line(line) for line in lines))

    def signatures_by(self, key: NoteKey) -> list[NoteSignature]:
        """The signatures whose name and key ID are ``key``'s (others are ignored)."""
        return [s for s in self.signatures if key.matches(s)]

    def with_signatures(self, extra: Iterable[NoteSignature]) -> Note:
        """This note with ``extra`` appended; an existing signature by the same
        (name, key ID) is replaced, as Go's ``note.Sign`` does."""
        extra = tuple(extra)
        fresh = {(s.name, s.key_id) for s in extra}
        kept = tuple(s for s in self.signatures if (s.name, s.key_id) not in fresh)
        return Note(self.text, kept + extra)


def _raw_sign(key: SigningKey, message: bytes) -> bytes:
    """Plain Ed25519 (RFC 8032) over ``message``: only ever note texts and
    cosignature messages, which cannot be evote transcripts (see module doc)."""
    return _NaclSigningKey(key.seed).sign(message).signature


def _raw_verify(key: VerifyKey, message: bytes, signature: bytes, who: str) -> None:
    if len(signature) != SIGNATURE_BYTES:
        raise InvalidSignature(f"signature of {who} is not {SIGNATURE_BYTES} bytes")
    try:
        _NaclVerifyKey(key.raw).verify(message, signature)
    except BadSignatureError:
        raise InvalidSignature(f"note signature of {who} does not verify") from None


def sign_note(text: str, name: str, key: SigningKey) -> NoteSignature:
    """An Ed25519 (type ``0x01``) note signature by ``key`` under ``name``."""
    _check_text(text, "note text")
    nk = NoteKey(name, SIG_ED25519, key.verify_key)
    return NoteSignature(name, nk.key_id, _raw_sign(key, text.encode()))


def verify_note(note: Note, key: NoteKey) -> None:
    """Raise :class:`InvalidSignature` unless ``note`` carries a valid type
    ``0x01`` signature by ``key``; every signature naming ``key`` must verify."""
    if key.sig_type != SIG_ED25519:
        raise InvalidSignature(f"{key.name} is not a note-signing (Ed25519) key")
    sigs = note.signatures_by(key)
    if not sigs:
        raise InvalidSignature(f"note is not signed by {key.name}")
    for sig in sigs:
        _raw_verify(key.public_key, note.text.encode(), sig.signature, key.name)


# --- checkpoints ----------------------------------------------------------------


def _parse_decimal(text: str, what: str, hi: int) -> int:
    if not text or not text.isascii() or not text.isdigit():
        raise EncodingError(f"{what}: expected an ASCII decimal number, got {text!r}")
    if len(text) > 1 and text[0] == "0":
        raise EncodingError(f"{what}: leading zero in {text!r}")
    value = int(text)
    if value > hi:
        raise EncodingError(f"{what}: {value} is larger than {hi}")
    return value


@dataclass(frozen=True, slots=True)
class Checkpoint:
    """A tree head as c2sp.org/tlog-checkpoint note text.

    ``origin`` names the log (here: one election's board, see
    :func:`election_origin`); ``root`` is the RFC 9162 root of the first
    ``size`` entries.  Extension lines are parsed and kept but never
    produced by evote (the specification advises against them).
    """

    origin: str
    size: int
    root: bytes
    extensions: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if not isinstance(self.origin, str) or not self.origin or "\n" in self.origin:
            raise SchemaError("checkpoint origin: expected a non-empty line")
        if not isinstance(self.size, int) or isinstance(self.size, bool):
            raise SchemaError("checkpoint size: expected an integer")
        if not 0 <= self.size <= MAX_TREE_SIZE:
            raise SchemaError(f"checkpoint size: must be between 0 and {MAX_TREE_SIZE}")
        if not isinstance(self.root, bytes) or len(self.root) != HASH_SIZE:
            raise SchemaError(f"checkpoint root: expected {HASH_SIZE} bytes")
        ext = tuple(self.extensions)
        if any(not isinstance(e, str) or not e or "\n" in e for e in ext):
            raise SchemaError("checkpoint extension lines must be non-empty lines")
        object.__setattr__(self, "extensions", ext)
        _check_text(self.body(), "checkpoint")

    def body(self) -> str:
        """The note text: origin, size, base64 root, extensions, each ending ``\\n``."""
        lines = [self.origin, str(self.size), _b64encode(self.root), *self.extensions]
        return "".join(line + "\n" for line in lines)

    @classmethod
    def parse(cls, text: str) -> Checkpoint:
        """Parse checkpoint note text (the part before the blank line)."""
        _check_text(text, "checkpoint")
        lines = text[:-1].split("\n")
        if len(lines) < 3:
            raise EncodingError("checkpoint: expected origin, size and root lines")
        origin, size, root, *extensions = lines
        if not origin:
            raise EncodingError("checkpoint: empty origin line")
        if any(not e for e in extensions):
            raise EncodingError("checkpoint: empty extension line")
        root_bytes = _b64decode(root, "checkpoint root")
        if len(root_bytes) != HASH_SIZE:
            raise EncodingError(f"checkpoint root: expected {HASH_SIZE} bytes")
        return cls(
            origin, _parse_decimal(size, "checkpoint size", MAX_TREE_SIZE), root_bytes, tuple(extensions)
        )


# --- cosignatures (c2sp.org/tlog-cosignature, Ed25519) --------------------------


def _check_timestamp(timestamp: object) -> int:
    if not isinstance(timestamp, int) or isinstance(timestamp, bool):
        raise EncodingError("cosignature time: expected an integer")
    if not 0 <= timestamp <= MAX_TIMESTAMP:
        raise EncodingError(f"cosignature time: must be between 0 and {MAX_TIMESTAMP}")
    return timestamp


def cosignature_message(body: str, timestamp: int) -> bytes:
    """``"cosignature/v1\\ntime <t>\\n" || checkpoint text``: what a witness signs.

    ``timestamp`` is POSIX seconds.  The whole note text is covered,
    extension lines included.
    """
    _check_text(body, "checkpoint")
    _check_timestamp(timestamp)
    return f"{COSIGNATURE_HEADER}\ntime {timestamp}\n{body}".encode()


def cosign(body: str, name: str, key: SigningKey, timestamp: int) -> NoteSignature:
    """A cosignature/v1 (type ``0x04``) note signature over checkpoint ``body``.

    Pure: the caller supplies the time.  Deciding *whether* to cosign is
    :mod:`evote.witness`'s job.
    """
    nk = NoteKey(name, SIG_COSIGNATURE_V1, key.verify_key)
    sig = _raw_sign(key, cosignature_message(body, timestamp))
    return NoteSignature(name, nk.key_id, timestamp.to_bytes(TIMESTAMP_BYTES, "big") + sig)


def cosignature_timestamp(sig: NoteSignature) -> int:
    """The POSIX time inside a cosignature/v1 signature (not authenticated by itself)."""
    if len(sig.signature) != COSIGNATURE_BYTES:
        raise EncodingError(
            f"cosignature of {sig.name}: expected {COSIGNATURE_BYTES} bytes, "
            f"got {len(sig.signature)}"
        )
    ts = int.from_bytes(sig.signature[:TIMESTAMP_BYTES], "big")
    if ts > MAX_TIMESTAMP:
        raise EncodingError(f"cosignature of {sig.name}: time exceeds 2^63 - 1")
    return ts


def verify_cosignature(body: str, sig: NoteSignature, key: NoteKey) -> int:
    """Check a cosignature by ``key`` over checkpoint ``body``; return its time.

    Raises :class:`InvalidSignature` if ``sig`` is not ``key``'s (name, ID) or
    does not verify, :class:`EncodingError` if it is not 72 bytes.
    """
    if key.sig_type != SIG_COSIGNATURE_V1 or not key.matches(sig):
        raise InvalidSignature(f"signature is not a cosignature by {key.name}")
    ts = cosignature_timestamp(sig)
    _raw_verify(
        key.public_key, cosignature_message(body, ts), sig.signature[TIMESTAMP_BYTES:], key.name
    )
    return ts


# --- the board's checkpoints ----------------------------------------------------


def election_origin(board_key: VerifyKey, election: str) -> str:
    """The origin line of an election's board: ``evote/<b64url board key>/<election id>``.

    Fixed by the board key and the election, not chosen by the server: a
    server that could pick a second origin for the same election could
    start a second, separately witnessed history.  Witnesses and auditors
    compute it themselves and accept no other.  It is also the board's key
    name, so it obeys the key-name rules (base64url has no ``+``).
    """
    if not isinstance(election, str) or not election or "/" in election:
        raise EncodingError("election id cannot be used in a checkpoint origin")
    return check_key_name(f"evote/{board_key.to_json()}/{election}", "checkpoint origin")


def board_note_key(origin: str, board_key: VerifyKey) -> NoteKey:
    """The board key as a note signer: name = origin, type ``0x01``."""
    return NoteKey(origin, SIG_ED25519, board_key)


def sign_checkpoint(checkpoint: Checkpoint, board_key: SigningKey) -> Note:
    """The board's signed checkpoint note (deterministic: Ed25519 is)."""
    body = checkpoint.body()
    return Note(body, (sign_note(body, checkpoint.origin, board_key),))


def open_checkpoint(
    note: Note | bytes | str, board_key: VerifyKey, *, election: str | None = None
) -> tuple[Checkpoint, Note]:
    """Parse a checkpoint note and check the board's signature on it.

    The board's key name must be the origin (so a board key cannot vouch for
    another log's origin); with ``election``, the origin must be exactly
    :func:`election_origin` of the board key and that election.
    Raises :class:`EncodingError` (malformed), :class:`InvalidSignature`
    (unsigned or forged) or :class:`SchemaError` (another election's origin).
    Cosignatures are left for :func:`evote.witness.check_witness_policy`.
    """
    parsed = note if isinstance(note, Note) else Note.parse(note)
    cp = Checkpoint.parse(parsed.text)
    check_key_name(cp.origin, "checkpoint origin")
    verify_note(parsed, board_note_key(cp.origin, board_key))
    if election is not None and cp.origin != election_origin(board_key, election):
        raise SchemaError(
            f"checkpoint origin {cp.origin!r} is not the origin of election {election!r}"
        )
    return cp, parsed


def checkpoint_size(note: bytes | str | None) -> int | None:
    """The tree size a checkpoint note names, unverified; None when there is no note or
    it does not parse.  For readers that must know the size before checking the note
    (to keep the root at that size while streaming the board); the check that follows
    (:func:`open_checkpoint`) reports what is wrong with an unreadable one."""
    if note is None:
        return None
    try:
        return Checkpoint.parse(Note.parse(note).text).size
    except EvoteError:
        return None
