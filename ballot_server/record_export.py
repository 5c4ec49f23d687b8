"""The election record as a streamed zip archive (docs/record-format.md).

What goes in the archive (the record header, every signed tree head and the
board up to one cut, and the cosigned checkpoint within it) and how a zip is
written piece by piece without holding it in memory.  Separate from the
service because it is byte plumbing, not a rule: the service decides the cut
and the checkpoint (:meth:`ballot_server.service.ElectionService.record`),
this module only writes them out.
"""

from __future__ import annotations

import zipfile
from collections.abc import Iterable, Iterator

from ballot_server.store import Store
from evote.checkpoint import Note
from evote.record import (
    BOARD_FILE,
    CHECKPOINT_FILE,
    RECORD_FILE,
    TREE_HEADS_FILE,
    RecordHeader,
    checkpoint_text,
    record_json,
)


def record_archive(
    store: Store, header: RecordHeader, size: int, cosigned: Note | None
) -> Iterator[bytes]:
    """The record of ``header.election`` cut at board size ``size``, as zip pieces:
    the header, the signed tree heads and the entries up to the cut, then
    ``checkpoint.txt`` if there is a cosigned checkpoint (None: the member is
    absent, which the verifier reports for an election with a witness policy)."""
    election_id = header.election
    heads = (
        data + b"\n"
        for data in store.iter_signed_head_bytes(election_id, max_size=size)
    )
    board = (data + b"\n" for data in store.iter_canonical(election_id, stop=size))
    members: list[tuple[str, Iterable[bytes]]] = [
        (RECORD_FILE, [record_json(header)]),
        (TREE_HEADS_FILE, heads),
        (BOARD_FILE, board),
    ]
    if cosigned is not None:
        members.append((CHECKPOINT_FILE, [checkpoint_text(cosigned)]))
    return zip_stream(members)


class _Sink:
    """A write-only, unseekable byte sink: zipfile then writes a streamable archive
    (local headers with data descriptors), which is what lets us send it as it is made."""

    def __init__(self) -> None:
        self._chunks: list[bytes] = []
        self.pending = 0

    def write(self, data: bytes) -> int:
        self._chunks.append(bytes(data))
        self.pending += len(data)
        return len(data)

    def flush(self) -> None:
        """Nothing to flush: :meth:`take` hands the bytes out."""

    def take(self) -> bytes:
        out = b"".join(self._chunks)
        self._chunks.clear()
        self.pending = 0
        return out


def zip_stream(
    members: Iterable[tuple[str, Iterable[bytes]]], *, chunk: int = 1 << 16
) -> Iterator[bytes]:
    """A zip archive of ``(name, byte pieces)`` members, yielded in pieces of about ``chunk``.

    Members are deflated and stamped 1980-01-01 (zip's epoch), so the same
    record always gives the same archive bytes.
    """
    sink = _Sink()
    with zipfile.ZipFile(sink, "w", compression=zipfile.ZIP_DEFLATED) as archive:  # type: ignore[arg-type]
        for name, pieces in members:
            info = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            with archive.open(info, "w", force_zip64=True) as member:
                for piece in pieces:
                    member.write(piece)
                    if sink.pending >= chunk:
                        yield sink.take()
    tail = sink.take()
    if tail:
        yield tail
