"""The voting window in the core: strict manifest times, the R-TIME rules at their edges,
and what a witness cosignature bounds (evote/schedule.py)."""

from __future__ import annotations

from typing import Any

import pytest

from evote.errors import ManifestError, RuleViolation, SchemaError
from evote.manifest import Manifest
from evote.payloads import ElectionClosed
from evote.rules import BoardState
from evote.schedule import (
    WITNESS_SKEW_MS,
    ClockBound,
    Schedule,
    check_entry_time,
    clock_violations,
    format_time,
    head_violation,
    parse_time,
)
from tests.support.api_election import MANIFEST

OPENS, CLOSES = "2026-12-14T08:00:00Z", "2026-12-14T20:00:00Z"
T_OPEN, T_CLOSE = parse_time(OPENS, "t"), parse_time(CLOSES, "t")
WINDOW = Schedule(T_OPEN, T_CLOSE)


def manifest(**extra: Any) -> Manifest:
    return Manifest.from_json({**MANIFEST, "election_id": "sched", **extra})


# --- the manifest: strict times, clear errors --------------------------------------


@pytest.mark.parametrize(("value", "words"), [
    ("2026-12-14T09:00:00+01:00", "not in UTC"),
    ("2026-12-14T08:00:00-00:00", "not in UTC"),
    ("2026-12-14T08:00:00z", "not in UTC"),
    ("2026-12-14T08:00:00", "has no time zone"),
    ("2026-12-14 08:00:00Z", "not an RFC 3339 UTC time"),
    ("2026-12-14", "not an RFC 3339 UTC time"),
    ("2026-12-14T08:00:00.1234Z", "not an RFC 3339 UTC time"),
    ("2026-02-30T08:00:00Z", "not a real time"),
    ("2026-12-14T24:00:00Z", "not a real time"),
    ("1999-12-31T23:59:59Z", "before the year 2000"),
    (1797235200, "expected an RFC 3339 UTC time"),
])
def test_bad_times_are_refused_naming_the_field(value: Any, words: str) -> None:
    with pytest.raises(ManifestError) as info:
        manifest(opens_at=value)
    assert info.value.message.startswith("manifest.opens_at: "), info.value.message
    assert words in info.value.message


def test_closes_at_must_be_after_opens_at() -> None:
    for closes in (OPENS, "2026-12-14T07:59:59Z"):
        with pytest.raises(ManifestError) as info:
            manifest(opens_at=OPENS, closes_at=closes)
        assert info.value.message.startswith("manifest.closes_at: ")
        assert "must close after it opens" in info.value.message


def test_a_manifest_without_times_keeps_its_bytes_and_digest() -> None:
    plain = manifest()
    assert "opens_at" not in plain.to_json() and "closes_at" not in plain.to_json()
    again = Manifest.from_json(plain.to_json())
    assert again.canonical() == plain.canonical() and again.digest() == plain.digest()
    timed = manifest(opens_at=OPENS, closes_at=CLOSES)
    assert timed.digest() != plain.digest()
    assert Manifest.from_json(timed.to_json()).canonical() == timed.canonical()
    assert timed.to_json()["opens_at"] == OPENS


def test_either_bound_alone_is_allowed() -> None:
    assert Schedule.from_manifest(manifest(closes_at=CLOSES)) == Schedule(None, T_CLOSE)
    assert Schedule.from_manifest(manifest(opens_at=OPENS)) == Schedule(T_OPEN, None)
    assert not Schedule.from_manifest(manifest()).scheduled


def test_times_round_trip_to_the_millisecond() -> None:
    assert parse_time("2026-12-14T08:00:00.5Z", "t") == T_OPEN + 500
    assert format_time(T_OPEN + 500) == "2026-12-14T08:00:00.500Z"
    assert format_time(T_OPEN) == OPENS


# --- the rules at their edges -------------------------------------------------------


def rule_of(fn: Any) -> str:
    with pytest.raises(RuleViolation) as info:
        fn()
    return info.value.rule


def test_ballot_one_ms_before_opening_and_at_closing_are_refused() -> None:
    v = rule_of(lambda: check_entry_time(WINDOW, "ballot_cast", None, T_OPEN - 1))
    assert v == "R-TIME-02"
    assert rule_of(lambda: check_entry_time(WINDOW, "ballot_audited", None, T_CLOSE)) == "R-TIME-03"
    check_entry_time(WINDOW, "ballot_cast", None, T_OPEN)  # the edges that are inside
    check_entry_time(WINDOW, "ballot_cast", None, T_CLOSE - 1)


def test_refusals_carry_the_409_codes_the_booth_shows() -> None:
    with pytest.raises(RuleViolation) as early:
        check_entry_time(WINDOW, "ballot_cast", None, T_OPEN - 1)
    with pytest.raises(RuleViolation) as late:
        check_entry_time(WINDOW, "ballot_cast", None, T_CLOSE)
    assert (early.value.code, early.value.http_status) == ("not_open_yet", 409)
    assert (late.value.code, late.value.http_status) == ("closed", 409)
    assert early.value.detail["opens_at"] == OPENS


def test_open_not_before_opens_at() -> None:
    assert rule_of(lambda: check_entry_time(WINDOW, "election_opened", None, T_OPEN - 1)) \
        == "R-TIME-01"
    check_entry_time(WINDOW, "election_opened", None, T_OPEN)


def test_scheduled_close_not_early_and_only_for_closes_at() -> None:
    scheduled = ElectionClosed(CLOSES)
    assert rule_of(lambda: check_entry_time(WINDOW, "election_closed", scheduled,
                                            T_CLOSE - 1)) == "R-TIME-04"
    check_entry_time(WINDOW, "election_closed", scheduled, T_CLOSE)
    other = ElectionClosed("2026-12-14T21:00:00Z")
    assert rule_of(lambda: check_entry_time(WINDOW, "election_closed", other,
                                            T_CLOSE + 10**7)) == "R-TIME-04"
    # in an election without closes_at no close may claim to be scheduled
    assert rule_of(lambda: check_entry_time(Schedule(), "election_closed", scheduled,
                                            T_CLOSE)) == "R-TIME-04"
    # the official's early close ({}) is valid at any time
    check_entry_time(WINDOW, "election_closed", ElectionClosed(), T_OPEN + 1)


def test_the_projection_asks_the_same_rules() -> None:
    """BoardState.check_time is the server's entry point: nothing of its own."""
    from evote.payloads import ElectionCreated

    created = ElectionCreated.__new__(ElectionCreated)
    object.__setattr__(created, "manifest", manifest(opens_at=OPENS, closes_at=CLOSES))
    state = BoardState(created=created)
    assert rule_of(lambda: state.check_time("ballot_cast", None, T_CLOSE)) == "R-TIME-03"
    state.check_time("ballot_cast", None, T_OPEN)


def test_election_closed_body_is_strict() -> None:
    assert ElectionClosed.from_json({}) == ElectionClosed()
    assert ElectionClosed.from_json({"at": CLOSES}).to_json() == {"at": CLOSES}
    for bad in ({"at": "tomorrow"}, {"at": 5}, {"when": CLOSES}):
        with pytest.raises(SchemaError):
            ElectionClosed.from_json(bad)


# --- receipts' heads and the witnesses' clock ----------------------------------------


def test_a_head_signed_after_closing_makes_its_ballots_late() -> None:
    assert head_violation(WINDOW, 14, 15, T_CLOSE - 1) is None
    late = head_violation(WINDOW, 14, 15, T_CLOSE)
    assert late is not None and late.rule == "R-TIME-05" and late.code == "head_outside_window"


def test_a_cosignature_bounds_the_board_clock_both_ways() -> None:
    seen = [ClockBound("w1", 10, T_CLOSE)]
    # an entry the witness saw cannot be younger than the cosignature (+ skew)
    assert clock_violations(seen, 9, T_CLOSE + WITNESS_SKEW_MS) is None
    ahead = clock_violations(seen, 9, T_CLOSE + WITNESS_SKEW_MS + 1)
    assert ahead is not None and ahead.rule == "R-TIME-06" and ahead.detail["witness"] == "w1"
    # an entry the witness did not see cannot be older than the cosignature (- skew):
    # a ballot backdated into the window after a post-close cosignature is caught
    assert clock_violations(seen, 10, T_CLOSE - WITNESS_SKEW_MS) is None
    backdated = clock_violations(seen, 10, T_CLOSE - WITNESS_SKEW_MS - 1)
    assert backdated is not None and "backdated or withheld" in backdated.message
