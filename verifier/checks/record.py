"""Checks 1 (record-format), 6 (hash-chain) and 10 (lifecycle): the board read as a stream.

This is the one place the verifier reads board lines: framing, the entry
header (election, index), the hash chain and clock, and the phase table, then
each entry is handed to the group that concerns it (ballots, commands).  The
entry format and the rules themselves are evote's (``evote.board``,
``evote.rules``); nothing here restates them.
"""

from __future__ import annotations

from collections.abc import Iterator

from evote.board import Entry, link_faults
from evote.errors import RuleViolation
from evote.kinds import BALLOT_KINDS, SPECS
from verifier import parallel
from verifier.checks.registry import CheckSpec

CHECKS: tuple[CheckSpec, ...] = (
    CheckSpec(1, "record-format", "Record format and schema",
              "the board is a list of canonical, well-formed entries of this election",
              needs="entries"),
    CheckSpec(6, "hash-chain", "Board hash chain",
              "no entry was changed, removed or reordered after the next one was added",
              needs="entries"),
    CheckSpec(10, "lifecycle", "Lifecycle order",
              "no ballot before opening or after closing; every step in its phase",
              needs="entries"),
)


class RecordChecks:
    """Handlers of :class:`~verifier.checks.engine.RecordVerifier` for these checks
    (the state they use is set up in its ``__init__``)."""

    def _numbered_lines(self) -> Iterator[tuple[int, bytes]]:
        """(position, line without newline); format problems of the line framing are
        recorded against check 1 and the line is still checked (as it is)."""
        fmt = self.c["record-format"]
        for position, raw in enumerate(self.record.board_lines()):
            if raw.endswith(b"\n"):
                line = raw[:-1]
            else:
                line = raw
                fmt.fail("the last line of board.jsonl has no newline", "bad_framing", position)
            if line.endswith(b"\r") or not line:
                fmt.fail("empty line or CRLF line ending", "bad_framing", position)
            yield position, line

    def _chunks(self, lines: Iterator[tuple[int, bytes]]) -> Iterator[parallel.Chunk]:
        batch: list[bytes] = []
        start = None
        for position, line in lines:
            if start is None:
                start = position
            batch.append(line)
            if len(batch) >= self.chunk_size:
                yield parallel.Chunk(start, tuple(batch))
                batch, start = [], None
        if batch:
            assert start is not None
            yield parallel.Chunk(start, tuple(batch))

    def _consume_chunk(self, cr: parallel.ChunkResult) -> None:
        self.segment_sums.update(cr.sums)
        for r in cr.results:
            self._consume(r)

    def _consume(self, r: parallel.LineResult, *, entry: Entry | None = None) -> None:
        """Feed one entry (already parsed and, if a ballot, verified by a worker) to
        the sequential checks, in board order; the numbers are the checks'.
        ``entry``: a command's line already parsed in this process."""
        pos = r.position
        fmt, chain, life = self._fmt, self._chain, self._life
        self._merkle(r.leaf)  # (7, 8) roots and proof nodes, for the end
        fmt.count("entries")
        chain.count("entries")
        life.count("entries")
        if self.segment_sums:
            sums = self.segment_sums.pop(pos, None)  # (14) a run of ballots starts here
            if sums:
                for weight, blob in sums.items():
                    acc = self.sums.get(weight)
                    if acc is None:
                        self.sums[weight] = parallel.split_points(blob)
                    else:
                        parallel.add_points(acc, blob)
        # (1) the line is a canonical entry of this election at this index
        if r.header is None:
            assert r.error is not None
            fmt.fail(r.error[2], r.error[1], pos, rule=r.error[3])
            chain.fail("entry cannot be read, so its link cannot be checked", "unreadable", pos)
            self.prev_leaf = r.leaf
            return
        election, index, kind, prev, time = r.header
        # (1, 6) the link rules are evote.board's (link_faults); this reports every fault
        for code, check, message in link_faults(election, index, prev, time,
                                                election=self.election, index=pos,
                                                prev=self.prev_leaf, last_time=self.last_time):
            self.c[check].fail(message, code, pos)
        if time >= self.last_time:
            self.last_time = time
        self.prev_leaf = r.leaf
        self._on_time(pos, kind, time, r.line)  # (23) the voting window and the witnesses' clock
        # (10) the phase table, for ballots; commands go through the whole projection
        in_phase = True
        if kind in BALLOT_KINDS:
            try:
                self.board = self.board.apply_kind(kind)
            except RuleViolation as exc:
                self.c[exc.check].fail_exc(exc, pos)
                in_phase = False
        # (11-13, 18) ballots; (2-5, 13-17) commands
        if kind == parallel.CAST:
            self._on_cast(r, in_phase)
        elif kind == parallel.AUDITED:
            self._on_audited(r)
        elif kind not in SPECS:
            try:
                self.board.phase_state.apply(kind)
            except RuleViolation as exc:
                self.c[exc.check].fail_exc(exc, pos)
        else:
            assert r.line is not None
            self._on_command(pos, kind, entry if entry is not None else Entry.from_bytes(r.line))
