"""Scheduled elections: the manifest's voting window and the time rules (R-TIME-*).

A manifest may name ``opens_at`` and ``closes_at`` (RFC 3339, UTC only, e.g.
``"2026-12-14T08:00:00Z"``).  The server then opens and closes the election by
itself, appending commands the official signed in advance; what keeps that
honest is a handful of rules over the board's own clock (entry ``time``, in
milliseconds) and, with a witness policy, over the witnesses' cosignature
timestamps.  The rules are stated once, in :mod:`evote.rulebook`; this module
holds the pure functions that decide them, which the projection
(:meth:`evote.rules.BoardState.check_time`), the server's cast path and the
verifier's check 23 (``time-window``) all call.

Why only UTC with a ``Z``: a time with an offset names the same instant in
many spellings, and the manifest's bytes are hashed into the fingerprint; one
spelling per instant keeps "the same schedule" and "the same digest" the same
thing, and a voter's booth converts to local time for display anyway.

What a witness cosignature proves (docs/threat-model.md, "Time"): a witness
that cosigns the checkpoint of size N at time T (tlog-cosignature/v1 signs T
with the checkpoint) saw, at T, a board whose first N entries are exactly the
ones in the record.  So every entry with index < N existed by T: an entry at
index < N whose board time is after T + skew claims to be younger than a
witness saw it, and the board's clock is shown to be wrong.  A cosignature is
an upper bound only: it cannot show that an entry at index >= N did not exist
earlier (the server may have held it back).  But the server serves the
checkpoint of its current board (docs/witness.md), so an entry at index >= N
whose time is before T - skew claims to have been on the board while the
witness was shown a board without it: either backdated or withheld, and both
are the server's fault.  That second bound is what catches a late ballot
backdated into the window, as long as some witness cosigned a checkpoint after
the close time and before the ballot was added.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from evote.errors import ManifestError, RuleViolation
from evote.kinds import BALLOT_KINDS
from evote.rulebook import violation

#: The one accepted spelling: seconds, optional milliseconds, and ``Z``.
_RFC3339_UTC = re.compile(r"(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,3}))?Z")
_OFFSET = re.compile(r".*T.*[+-]\d{2}:?\d{2}$")

#: How far the board's clock and a witness's may disagree before it is a verdict
#: (milliseconds); the witness poll itself adds no delay because a witness signs
#: the checkpoint it has just fetched.
WITNESS_SKEW_MS = 120_000

ELECTION_OPENED = "election_opened"
ELECTION_CLOSED = "election_closed"


def parse_time(value: Any, path: str) -> int:
    """Milliseconds since the epoch of a strict RFC 3339 UTC time, or ManifestError."""
    if not isinstance(value, str):
        raise ManifestError(f"{path}: expected an RFC 3339 UTC time such as "
                            "\"2026-12-14T08:00:00Z\"")
    m = _RFC3339_UTC.fullmatch(value)
    if m is None:
        if re.fullmatch(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?", value):
            raise ManifestError(f"{path}: {value!r} has no time zone: write it in UTC ending "
                                "in Z, such as \"2026-12-14T08:00:00Z\"")
        if _OFFSET.fullmatch(value) or value.endswith("z"):
            raise ManifestError(f"{path}: {value!r} is not in UTC: write the time in UTC "
                                "ending in Z, such as \"2026-12-14T08:00:00Z\"")
        raise ManifestError(f"{path}: {value!r} is not an RFC 3339 UTC time "
                            "(YYYY-MM-DDTHH:MM:SSZ, such as \"2026-12-14T08:00:00Z\")")
    year, month, day, hour, minute, second, frac = m.groups()
    try:
        when = datetime(int(year), int(month), int(day), int(hour), int(minute), int(second),
                        tzinfo=UTC)
    except ValueError as exc:
        raise ManifestError(f"{path}: {value!r} is not a real time ({exc})") from None
    if when.year < 2000:
        raise ManifestError(f"{path}: {value!r} is before the year 2000")
    ms = int((frac or "0").ljust(3, "0"))
    return int(when.timestamp()) * 1000 + ms


def format_time(ms: int) -> str:
    """The RFC 3339 UTC spelling of ``ms`` (milliseconds only when there are some)."""
    when = datetime.fromtimestamp(ms // 1000, tz=UTC)
    text = when.strftime("%Y-%m-%dT%H:%M:%S")
    return f"{text}.{ms % 1000:03d}Z" if ms % 1000 else text + "Z"


@dataclass(frozen=True, slots=True)
class Schedule:
    """The voting window in milliseconds: ballots at ``opens_at <= time < closes_at``.

    Either bound may be absent (None): an election without a schedule is
    opened and closed by the official's commands only."""

    opens_at: int | None = None
    closes_at: int | None = None

    @classmethod
    def from_manifest(cls, manifest: Any) -> Schedule:
        """The manifest's window.  Parsed once per distinct pair of times: the rule is
        asked on every cast (R-TIME-02/03), and the manifest's times never change."""
        return _window(getattr(manifest, "opens_at", None), getattr(manifest, "closes_at", None))

    @property
    def scheduled(self) -> bool:
        return self.opens_at is not None or self.closes_at is not None

    def window_text(self) -> str:
        opens = "-" if self.opens_at is None else format_time(self.opens_at)
        closes = "-" if self.closes_at is None else format_time(self.closes_at)
        return f"{opens} .. {closes}"


def check_window(opens_at: str | None, closes_at: str | None, path: str = "manifest") -> None:
    """The manifest's two times parse, and the window is not empty (ManifestError)."""
    opens = None if opens_at is None else parse_time(opens_at, f"{path}.opens_at")
    closes = None if closes_at is None else parse_time(closes_at, f"{path}.closes_at")
    if opens is not None and closes is not None and closes <= opens:
        raise ManifestError(f"{path}.closes_at: {closes_at} is not after opens_at {opens_at} "
                            "(the election must close after it opens)")


def close_at(body: Any) -> str | None:
    """The scheduled time an ``election_closed`` body names (None: an early close)."""
    return getattr(body, "at", None)


def check_entry_time(schedule: Schedule, kind: str, body: Any, time_ms: int) -> None:
    """R-TIME-01..04 for one entry of ``kind`` at board time ``time_ms``.

    ``body`` is the command's typed body (None for a ballot).  Raises the
    rule's :class:`RuleViolation`; the server refuses with it (409) and writes
    nothing, the verifier fails check 23 with it.
    """
    opens, closes = schedule.opens_at, schedule.closes_at
    if kind == ELECTION_OPENED and opens is not None and time_ms < opens:
        raise violation("R-TIME-01", f"the election opens at {format_time(opens)}; "
                                     f"election_opened at {format_time(time_ms)} is too early",
                        detail=_times(schedule, time_ms))
    if kind in BALLOT_KINDS:
        if opens is not None and time_ms < opens:
            raise violation("R-TIME-02", f"the election is not open yet: it opens at "
                                         f"{format_time(opens)}", detail=_times(schedule, time_ms))
        if closes is not None and time_ms >= closes:
            raise violation("R-TIME-03", f"the election closed at {format_time(closes)}",
                            detail=_times(schedule, time_ms))
    if kind == ELECTION_CLOSED:
        at = close_at(body)
        if at is None:
            return  # the official's early (or manual) close: valid whenever the phase allows
        if closes is None or parse_time(at, "election_closed.at") != closes:
            raise violation("R-TIME-04", f"this close is signed for {at}, which is not the "
                                         "manifest's closes_at", detail=_times(schedule, time_ms))
        if time_ms < closes:
            raise violation("R-TIME-04", f"the scheduled close is for {at}; appending it at "
                                         f"{format_time(time_ms)} would close early",
                            detail=_times(schedule, time_ms))


def _times(schedule: Schedule, time_ms: int) -> dict[str, Any]:
    out: dict[str, Any] = {"time": format_time(time_ms)}
    if schedule.opens_at is not None:
        out["opens_at"] = format_time(schedule.opens_at)
    if schedule.closes_at is not None:
        out["closes_at"] = format_time(schedule.closes_at)
    return out


def head_violation(
    schedule: Schedule, index: int, head_size: int, head_time: int
) -> RuleViolation | None:
    """R-TIME-05 for the ballot at ``index``: the first signed head covering it (of
    ``head_size`` entries, signed at ``head_time`` ms) is inside the window.

    Why the head and not only the entry: the head is what the voter's receipt
    carries, signed when the ballot was acknowledged; a ballot acknowledged
    after the close is late whatever time its entry claims."""
    closes, opens = schedule.closes_at, schedule.opens_at
    if closes is not None and head_time >= closes:
        return violation("R-TIME-05", f"the ballot at entry {index} was first signed into the "
                                      f"board (head of size {head_size}) at "
                                      f"{format_time(head_time)}, after the close at "
                                      f"{format_time(closes)}",
                         detail={"index": index, "head_size": head_size,
                                 "head_time": format_time(head_time)})
    if opens is not None and head_time < opens:
        return violation("R-TIME-05", f"the ballot at entry {index} is in a head signed at "
                                      f"{format_time(head_time)}, before the opening",
                         detail={"index": index, "head_size": head_size})
    return None


@dataclass(frozen=True, slots=True)
class ClockBound:
    """One witness cosignature: ``witness`` saw the board's first ``size`` entries at
    ``at_ms`` (the cosignature's timestamp, seconds in the note, here in ms)."""

    witness: str
    size: int
    at_ms: int


def clock_violations(
    bounds: Iterable[ClockBound], index: int, time_ms: int, skew_ms: int = WITNESS_SKEW_MS
) -> RuleViolation | None:
    """R-TIME-06 for the entry at ``index`` with board time ``time_ms``: no witness
    cosignature contradicts it (see the module docstring for why each bound holds)."""
    for b in bounds:
        if index < b.size and time_ms > b.at_ms + skew_ms:
            return violation(
                "R-TIME-06",
                f"entry {index} claims {format_time(time_ms)}, but witness {b.witness} "
                f"cosigned a board of {b.size} entries, which holds it, at {format_time(b.at_ms)}",
                detail={"index": index, "witness": b.witness, "size": b.size,
                        "cosigned_at": format_time(b.at_ms), "time": format_time(time_ms)})
        if index >= b.size and time_ms < b.at_ms - skew_ms:
            return violation(
                "R-TIME-06",
                f"entry {index} claims {format_time(time_ms)}, but at {format_time(b.at_ms)} "
                f"witness {b.witness} was shown a board of {b.size} entries without it "
                "(backdated or withheld)",
                detail={"index": index, "witness": b.witness, "size": b.size,
                        "cosigned_at": format_time(b.at_ms), "time": format_time(time_ms)})
    return None


def cosignature_bounds(note: Any, policy: Any, board_key: Any, election: str) -> list[ClockBound]:
    """The :class:`ClockBound` of every valid cosignature of ``note`` (a board-signed
    checkpoint of ``election``) by a witness of ``policy``.

    Only signatures that verify count: a forged timestamp proves nothing, and
    whether enough witnesses cosigned is check 19's verdict, not this one's.
    Raises the checkpoint's own errors (EncodingError, InvalidSignature) when
    the note is not the board's checkpoint of this election."""
    from evote.checkpoint import open_checkpoint, verify_cosignature
    from evote.errors import EvoteError

    cp, opened = open_checkpoint(note, board_key, election=election)
    out = []
    for witness in policy.keys:
        nk = witness.note_key
        for sig in opened.signatures_by(nk):
            try:
                ts = verify_cosignature(opened.text, sig, nk)
            except EvoteError:
                continue
            out.append(ClockBound(witness.name, cp.size, ts * 1000))
    return out


@functools.lru_cache(maxsize=256)
def _window(opens: str | None, closes: str | None) -> Schedule:
    return Schedule(
        None if opens is None else parse_time(opens, "manifest.opens_at"),
        None if closes is None else parse_time(closes, "manifest.closes_at"),
    )
