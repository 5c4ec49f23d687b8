"""The election record's files, line by line (format in ``docs/record-format.md``).

A record is three files (and, for an election with a witness policy, a
fourth), as a directory or as the members of one .zip:

* ``record.json`` -- ``{"format": "evote-record", "version": 1, "election": id,
  "board_key": b64}``: what the record is and which key signed its heads;
* ``board.jsonl`` -- every board entry's RFC 8785 bytes, one per line, in index
  order;
* ``tree-heads.jsonl`` -- signed tree heads the board issued, one per line, in
  ascending (size, time) order;
* ``checkpoint.txt`` -- only when the manifest has a witness policy: the latest
  checkpoint the witnesses cosigned, as a C2SP signed note (``docs/witness.md``).

Everything here is pure: the server writes these bytes, the verifier and the
CLI read them, and neither needs the other's code.  Every line must be the
canonical (RFC 8785) spelling of its object, so the bytes an auditor hashes are
the only bytes there are.  Parsing errors are :class:`SchemaError` or
:class:`EncodingError` whose message names the file and line.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any, TypeVar

from evote.board import Entry, SignedTreeHead
from evote.checkpoint import Checkpoint, Note
from evote.commands import check_election_id
from evote.encoding import Fields, canonical_json, parse_json
from evote.errors import EncodingError, EvoteError, SchemaError
from evote.signing import VerifyKey

T = TypeVar("T")

FORMAT = "evote-record"
VERSION = 1

RECORD_FILE = "record.json"
BOARD_FILE = "board.jsonl"
TREE_HEADS_FILE = "tree-heads.jsonl"
CHECKPOINT_FILE = "checkpoint.txt"
FILES = (RECORD_FILE, TREE_HEADS_FILE, BOARD_FILE)
"""The members every record has, in the order the server writes them into an archive."""
OPTIONAL_FILES = (CHECKPOINT_FILE,)
"""Members a record may have (written after :data:`FILES`): the cosigned checkpoint."""

ARCHIVE_SUFFIX = ".zip"
MEDIA_TYPE = "application/zip"


@dataclass(frozen=True, slots=True)
class RecordHeader:
    """The contents of ``record.json``."""

    election: str
    board_key: VerifyKey

    def to_json(self) -> dict[str, Any]:
        return {
            "format": FORMAT,
            "version": VERSION,
            "election": self.election,
            "board_key": self.board_key.to_json(),
        }

    @classmethod
    def from_json(cls, obj: Any, path: str = RECORD_FILE) -> RecordHeader:
        f = Fields(obj, path, required={"format", "version", "election", "board_key"})
        if f.raw("format") != FORMAT:
            raise SchemaError(f"{f.sub('format')}: expected {FORMAT!r}")
        version = f.raw("version")
        if not isinstance(version, int) or isinstance(version, bool) or version != VERSION:
            raise SchemaError(f"{f.sub('version')}: unsupported version {version!r}")
        election = check_election_id(f.raw("election"), f.sub("election"))
        try:
            board_key = VerifyKey.from_json(f.raw("board_key"))
        except EncodingError as exc:
            raise EncodingError(f"{f.sub('board_key')}: {exc.message}") from None
        return cls(election=election, board_key=board_key)


def _canonical_document(data: bytes, where: str) -> Any:
    """Parse ``data`` and insist it is already in RFC 8785 form."""
    obj = parse_json(data)
    if canonical_json(obj) != data:
        raise EncodingError(f"{where}: not in canonical (RFC 8785) form")
    return obj


def _located(where: str, exc: EvoteError) -> EvoteError:
    """The same error class with the file and line in front of its message."""
    located = type(exc).__new__(type(exc))
    EvoteError.__init__(located, f"{where}: {exc.message}", detail=exc.detail)
    return located


def record_json(header: RecordHeader) -> bytes:
    """``record.json``: the canonical header and one newline."""
    return canonical_json(header.to_json()) + b"\n"


def parse_record_json(data: bytes) -> RecordHeader:
    """Read ``record.json`` (canonical JSON, optionally followed by one newline)."""
    body = data[:-1] if data.endswith(b"\n") else data
    try:
        return RecordHeader.from_json(_canonical_document(body, RECORD_FILE))
    except EvoteError as exc:
        if exc.message.startswith(RECORD_FILE):
            raise
        raise _located(RECORD_FILE, exc) from None


def board_line(entry: Entry) -> bytes:
    """One line of ``board.jsonl``: the entry's canonical bytes and a newline.

    RFC 8785 escapes every control character inside strings, so the canonical
    bytes never contain a newline and one line is always one entry.
    """
    return entry.canonical() + b"\n"


def tree_head_line(head: SignedTreeHead) -> bytes:
    """One line of ``tree-heads.jsonl``."""
    return canonical_json(head.to_json()) + b"\n"


def iter_lines(data: bytes | Iterable[bytes], name: str) -> Iterator[tuple[int, bytes]]:
    """Split a JSON-lines file into ``(line number, line without newline)``.

    Accepts the whole file or an iterable of chunks (a stream).  Every line,
    the last included, must end with ``\\n``; empty lines and ``\\r`` are refused
    (a second spelling of the same record).
    """
    chunks = [data] if isinstance(data, bytes | bytearray) else data
    pending = b""
    number = 0
    for chunk in chunks:
        pending += bytes(chunk)
        *lines, pending = pending.split(b"\n")
        for line in lines:
            number += 1
            if not line or line.endswith(b"\r"):
                raise EncodingError(f"{name} line {number}: empty line or CRLF line ending")
            yield number, line
    if pending:
        raise EncodingError(f"{name} line {number + 1}: missing final newline")


def parse_board_line(line: bytes, number: int) -> Entry:
    """The entry on line ``number`` (1-based) of ``board.jsonl``."""
    return _parse_line(Entry.from_json, BOARD_FILE, line, number)


def parse_tree_head_line(line: bytes, number: int) -> SignedTreeHead:
    """The signed head on line ``number`` (1-based) of ``tree-heads.jsonl``."""
    return _parse_line(SignedTreeHead.from_json, TREE_HEADS_FILE, line, number)


def _parse_line(decode: Callable[[Any], T], name: str, line: bytes, number: int) -> T:
    """One canonical JSON line of file ``name``, decoded; every error names the file and line."""
    where = f"{name} line {number}"
    try:
        return decode(_canonical_document(line.rstrip(b"\n"), where))
    except EvoteError as exc:
        if exc.message.startswith(where):
            raise
        raise _located(where, exc) from None


def checkpoint_text(note: Note) -> bytes:
    """``checkpoint.txt``: the cosigned checkpoint note, byte for byte as C2SP writes it."""
    return note.to_bytes()


def parse_checkpoint_file(data: bytes) -> Note:
    """Read ``checkpoint.txt`` as a signed note whose text is a checkpoint.

    Only the formats are checked here; whether the board signed it, for which
    tree, and who cosigned it is the verifier's check against the manifest's
    witness policy (:func:`evote.witness.verify_final_checkpoint`).
    """
    try:
        note = Note.parse(data)
        Checkpoint.parse(note.text)
    except EvoteError as exc:
        raise _located(CHECKPOINT_FILE, exc) from None
    return note


def iter_board(data: bytes | Iterable[bytes]) -> Iterator[Entry]:
    """Every entry of ``board.jsonl``, streamed (feed to :func:`evote.board.verify_chain`)."""
    for number, line in iter_lines(data, BOARD_FILE):
        yield parse_board_line(line, number)


def parse_tree_heads(data: bytes | Iterable[bytes], header: RecordHeader) -> list[SignedTreeHead]:
    """Every head of ``tree-heads.jsonl``, checked against the header.

    Checks the format's own rules only: at least one head, in strictly
    ascending (size, time) order (several heads may share a size), each for the header's election and naming the header's board key.
    Signatures and consistency are the verifier's checks.
    """
    heads: list[SignedTreeHead] = []
    for number, line in iter_lines(data, TREE_HEADS_FILE):
        head = parse_tree_head_line(line, number)
        where = f"{TREE_HEADS_FILE} line {number}"
        if head.election != header.election:
            raise SchemaError(f"{where}: head is for election {head.election!r}")
        if head.board_key.raw != header.board_key.raw:
            raise SchemaError(f"{where}: head names a board key other than record.json's")
        if heads and (head.size, head.head.time) <= (heads[-1].size, heads[-1].head.time):
            raise SchemaError(f"{where}: heads must be in ascending (size, time) order")
        heads.append(head)
    if not heads:
        raise SchemaError(f"{TREE_HEADS_FILE}: at least one signed tree head is required")
    return heads
