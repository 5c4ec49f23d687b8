"""Check 23 (time-window): the board's clock against the manifest's window and the witnesses.

For a scheduled election (``opens_at`` / ``closes_at`` in the manifest,
:mod:`evote.schedule`) this check replays every entry's time through the
rules R-TIME-01..04, finds the first signed tree head covering each ballot and
holds it to the window (R-TIME-05), and, with a witness policy, holds every
entry's time to the cosignature timestamps of the record's checkpoint
(R-TIME-06).  The rules and their arithmetic are :mod:`evote.schedule`'s; this
module only feeds it the stream.

Why a check of its own and not part of the lifecycle check: the phase table
is about order, this is about the clock, and a reader of the report should
see at once that a ballot was late (or the board's clock contradicted by a
witness) and not only "lifecycle failed".  Without a window and without a
witness policy the check passes with a note.
"""

from __future__ import annotations

from bisect import bisect_right
from typing import Any

from evote.board import Entry
from evote.errors import EvoteError, RuleViolation
from evote.kinds import BALLOT_KINDS
from evote.payloads import ElectionClosed
from evote.schedule import (
    ClockBound,
    Schedule,
    check_entry_time,
    clock_violations,
    cosignature_bounds,
    head_violation,
)
from verifier.checks.registry import CheckSpec

CHECKS: tuple[CheckSpec, ...] = (
    CheckSpec(23, "time-window", "Voting window and board clock",
              "every ballot was cast and acknowledged inside the manifest's window, the "
              "election opened and closed on time, and no witness contradicts the "
              "board's clock"),
)


class TimeChecks:
    """Handlers of :class:`~verifier.checks.engine.RecordVerifier` for check 23 (its
    state is made on the first call, so ``__init__`` needs no hunk)."""

    def _time_state(self) -> dict[str, Any]:
        state = self.__dict__.get("_time")
        if state is None:
            heads: dict[int, int] = {}
            for h in self.record.heads:  # the earliest head of each size
                t = h.head.time
                heads[h.size] = min(t, heads.get(h.size, t))
            sizes = sorted(heads)
            state = {"schedule": None, "bounds": [], "sizes": sizes,
                     "head_times": [heads[s] for s in sizes], "ready": False}
            self.__dict__["_time"] = state
        return state

    def _time_context(self, state: dict[str, Any]) -> None:
        """Once the manifest is known: the window and the witnesses' clock bounds."""
        check = self.c["time-window"]
        state["ready"] = True
        manifest = self.created.manifest
        try:
            state["schedule"] = Schedule.from_manifest(manifest)
        except EvoteError as exc:  # the manifest check reports it as well
            check.fail_exc(exc, 0)
            state["schedule"] = Schedule()
        policy = manifest.witnesses
        if policy is not None and self.record.checkpoint is not None:
            try:
                state["bounds"] = cosignature_bounds(self.record.checkpoint, policy,
                                                     self.record.board_key, self.election)
            except EvoteError:
                state["bounds"] = []  # not the board's checkpoint: check 19 says so
        if state["bounds"]:
            check.count("witness clock bounds", len(state["bounds"]))
        if not state["schedule"].scheduled:
            check.notes.append("no voting window in the manifest")
        else:
            check.notes.append(f"window {state['schedule'].window_text()}")

    def _on_time(self, pos: int, kind: str, time: int, line: bytes | None) -> None:
        """(23) One entry's time, in board order (called from the stream)."""
        if self.created is None:
            return
        state = self._time_state()
        if not state["ready"]:
            self._time_context(state)
        check = self.c["time-window"]
        schedule: Schedule = state["schedule"]
        bounds: list[ClockBound] = state["bounds"]
        if bounds:
            found = clock_violations(bounds, pos, time)
            if found is not None:
                check.fail_exc(found, pos)
        if not schedule.scheduled and kind != "election_closed":
            return
        body = None
        if kind == "election_closed" and line is not None:
            try:
                payload = Entry.from_bytes(line).payload
                body = ElectionClosed.from_json(payload.get("body", {}))
            except (EvoteError, AttributeError):
                return  # unreadable: the command checks report it
        try:
            check_entry_time(schedule, kind, body, time)
        except RuleViolation as exc:
            check.fail_exc(exc, pos)
        if kind in BALLOT_KINDS:
            check.count("ballots")
            if schedule.scheduled:
                self._time_head(state, pos)

    def _time_head(self, state: dict[str, Any], pos: int) -> None:
        """R-TIME-05: the first head covering the ballot at ``pos``."""
        sizes = state["sizes"]
        k = bisect_right(sizes, pos)  # first size > pos
        if k == len(sizes):
            return  # no head covers it: check 7 fails the record
        found = head_violation(state["schedule"], pos, sizes[k], state["head_times"][k])
        if found is not None:
            self.c["time-window"].fail_exc(found, pos)
