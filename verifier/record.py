"""An election record, loaded into values that are valid by construction.

``Record.load(source)`` reads the two small files of a record
(``record.json`` and ``tree-heads.jsonl``) and refuses, with
:class:`RecordUnreadable`, anything that is not a version-1 evote record: after
that, a :class:`Record` holds a parsed :class:`RecordHeader` and every
:class:`~evote.board.SignedTreeHead` the board issued, in file order.  Whether
those heads are *true* (signatures, roots, consistency) is for the checks to
say, not the loader.

The board itself (``board.jsonl``) is never loaded: :meth:`Record.board_lines`
streams it, and :mod:`verifier.checks` parses each line as it goes.  The
optional ``checkpoint.txt`` (witnessed elections) is kept as bytes; check 19
judges it.

The file formats are :mod:`evote.record`'s (``docs/record-format.md``); this
module adds only what the verifier needs on top.  Like sigstore's ``Bundle``, the constructor is not the entry point:
:meth:`Record.load` is, and ``__post_init__`` re-checks the invariants so a
malformed ``Record`` cannot exist.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from evote.board import SignedTreeHead
from evote.errors import EvoteError
from evote.record import (
    RECORD_FILE,
    TREE_HEADS_FILE,
    VERSION,
    RecordHeader,
    parse_record_json,
    parse_tree_heads,
)
from evote.signing import VerifyKey
from verifier.errors import RecordUnreadable
from verifier.sources import Source


def parse_header(data: bytes) -> RecordHeader:
    """``record.json`` as a :class:`RecordHeader`; anything else is unreadable."""
    try:
        return parse_record_json(data)
    except EvoteError as exc:
        raise RecordUnreadable(
            f"not an evote version-{VERSION} record header: {exc.message}", where=RECORD_FILE
        ) from None


def parse_heads(data: bytes, header: RecordHeader) -> tuple[SignedTreeHead, ...]:
    """Every signed tree head of ``tree-heads.jsonl``, in the file's order.

    The format's own rules (canonical lines, ascending (size, time), the
    header's election and board key, at least one head) are checked by
    :func:`evote.record.parse_tree_heads`; breaking them makes the record
    unreadable.  Signatures, roots and consistency are checks 7-9.
    """
    try:
        return tuple(parse_tree_heads(data, header))
    except EvoteError as exc:
        raise RecordUnreadable(exc.message, where=TREE_HEADS_FILE) from None


@dataclass(frozen=True)
class Record:
    """A readable election record: its header, its signed heads, and its board stream."""

    source: Source
    header: RecordHeader
    heads: tuple[SignedTreeHead, ...]
    #: ``checkpoint.txt``: the witness-cosigned checkpoint, or None if the record has none.
    checkpoint: bytes | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.header, RecordHeader):
            raise TypeError("header must be a RecordHeader")
        if not self.heads or not all(isinstance(h, SignedTreeHead) for h in self.heads):
            raise RecordUnreadable("the record has no signed tree head", where=TREE_HEADS_FILE)

    @classmethod
    def load(cls, source: Source) -> Record:
        """Read and parse ``record.json`` and ``tree-heads.jsonl`` from ``source``."""
        header = parse_header(source.record_json())
        heads = parse_heads(source.tree_heads(), header)
        checkpoint = source.checkpoint()
        return cls(source, header, heads, checkpoint)

    @property
    def election(self) -> str:
        return self.header.election

    @property
    def board_key(self) -> VerifyKey:
        return self.header.board_key

    @property
    def latest_head(self) -> SignedTreeHead:
        """The largest signed head (the last of the file if the file is in order)."""
        return max(self.heads, key=lambda h: h.size)

    def board_lines(self) -> Iterator[bytes]:
        """The raw lines of ``board.jsonl`` (with their newline), streamed."""
        return self.source.board_lines()
