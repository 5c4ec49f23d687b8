"""Counting rules: hand-worked and published examples first (figures from the
rules' own descriptions), then the rules for ill-formed rows and ties, then
properties over random profiles."""

from __future__ import annotations

import random
from fractions import Fraction

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from evote.counting import borda, count, irv, majority_judgment, schulze, stv
from evote.counting.ballots import preferences, tie_priority
from evote.counting.majority_judgment import compare_profiles
from evote.errors import CountError

SEED = b"\x00" * 32


def ranks(order: str, names: str) -> list[int]:
    """Rank row for a preference string: ranks("CAB", "ABCDE") == [2, 3, 1, 0, 0]."""
    row = [0] * len(names)
    for r, c in enumerate(order, start=1):
        row[names.index(c)] = r
    return row


def profile(groups: list[tuple[int, str]], names: str) -> list[list[int]]:
    return [ranks(order, names) for n, order in groups for _ in range(n)]


# Tennessee capital example (Wikipedia, "Instant-runoff voting", "Borda count",
# "Schulze method"): M(emphis) 42 %, N(ashville) 26 %, C(hattanooga) 15 %, K(noxville) 17 %.
TN = "MNCK"
TENNESSEE = profile([(42, "MNCK"), (26, "NCKM"), (15, "CKNM"), (17, "KCNM")], TN)


def test_irv_tennessee_elects_knoxville_in_three_rounds() -> None:
    r = irv(TENNESSEE, 4, SEED)
    assert [TN[w] for w in r.winners] == ["K"]
    votes = [[None if v is None else int(v) for v in rnd.votes] for rnd in r.rounds]
    assert votes == [[42, 26, 15, 17], [42, 26, None, 32], [42, None, None, 58]]
    assert [(rnd.action, rnd.subject) for rnd in r.rounds] == [
        ("first", None), ("exclusion", TN.index("C")), ("exclusion", TN.index("N"))
    ]


def test_borda_tennessee_points() -> None:
    r = borda(TENNESSEE, 4, SEED)
    assert dict(zip(TN, r.details["points"], strict=True)) == {"M": 126, "N": 194, "C": 173, "K": 107}
    assert "".join(TN[c] for c in r.ranking) == "NCMK"


def test_schulze_tennessee_elects_the_condorcet_winner_nashville() -> None:
    assert schulze(TENNESSEE, 4, SEED).winners == (TN.index("N"),)


# Schulze's own example (Wikipedia, "Schulze method"): 45 voters, A..E.
AE = "ABCDE"
SCHULZE_45 = profile(
    [(5, "ACBED"), (5, "ADECB"), (8, "BEDAC"), (3, "CABED"), (7, "CAEBD"), (2, "CBADE"),
     (7, "DCEBA"), (8, "EBADC")],
    AE,
)


def test_schulze_wikipedia_example() -> None:
    r = schulze(SCHULZE_45, 5, SEED)
    d = r.details["pairwise"]
    assert d[0] == [0, 20, 26, 30, 22] and d[4] == [23, 27, 21, 31, 0]
    assert r.details["strongest"] == [
        [0, 28, 28, 30, 24], [25, 0, 28, 33, 24], [25, 29, 0, 29, 24],
        [25, 28, 28, 0, 24], [25, 28, 28, 31, 0],
    ]
    assert "".join(AE[c] for c in r.ranking) == "EACBD"


# STV (Wikipedia, "Single transferable vote", the party-food example): 20 voters, 3 seats.
FOOD = "OPCSH"  # Oranges, Pears, Chocolate, Strawberries, Hamburgers
FOOD_BALLOTS = profile([(4, "O"), (2, "PO"), (8, "CS"), (4, "CH"), (1, "S"), (1, "H")], FOOD)


def test_stv_wikipedia_food_example() -> None:
    r = stv(FOOD_BALLOTS, 5, 3, SEED)
    assert r.details["quota"] == 6
    assert "".join(FOOD[c] for c in r.winners) == "COS"
    first, surplus = r.rounds[0], r.rounds[1]
    assert first.elected == (FOOD.index("C"),)
    assert surplus.action == "surplus" and surplus.transfer_value == Fraction(1, 2)
    assert [None if v is None else v for v in surplus.votes] == [4, 2, 6, 5, 3]
    assert r.rounds[2].action == "exclusion" and r.rounds[2].subject == FOOD.index("P")
    assert r.rounds[2].elected == (FOOD.index("O"),)


def test_stv_fractional_transfers_stay_exact() -> None:
    """Hand-worked: 10 voters, 2 seats, quota 4; A's surplus of 3 moves at 3/7."""
    rows = profile([(4, "AB"), (3, "AC"), (2, "C"), (1, "B")], "ABC")
    r = stv(rows, 3, 2, SEED)
    assert r.details["quota"] == 4
    assert r.rounds[1].transfer_value == Fraction(3, 7)
    # B: 1 + 4·3/7 = 19/7; C: 2 + 3·3/7 = 23/7; nobody at quota; B excluded ... C elected.
    assert r.rounds[1].votes == (Fraction(4), Fraction(19, 7), Fraction(23, 7))
    assert r.winners == (0, 2)


# Majority Judgment on the Tennessee example as Wikipedia grades it: each voter
# gives Excellent (3), Good (2), Fair (1), Poor (0) to its 1st..4th choice.
TN_GRADES = [[4 - r for r in row] for row in TENNESSEE]


def test_majority_judgment_tennessee() -> None:
    r = majority_judgment(TN_GRADES, 4, 4, SEED)
    assert r.details["grades"][TN.index("N")] == [0, 32, 42, 26]
    assert r.details["grades"][TN.index("C")] == [0, 42, 43, 15]
    assert r.details["majority_grade"] == [0, 2, 2, 1]
    # Nashville and Chattanooga share "Good"; removing medians, Chattanooga drops first.
    assert "".join(TN[c] for c in r.ranking) == "NCKM"


# -- ill-formed rows, bad input, ties -----------------------------------------------------


@pytest.mark.parametrize(
    ("row", "expected"),
    [
        ([2, 1, 0], (1, 0)),
        ([1, 3, 0], (0,)),  # gap: rank 2 missing
        ([1, 2, 2], (0,)),  # repeat at rank 2
        ([1, 1, 2], ()),  # repeat at rank 1
        ([0, 0, 0], ()),
        ([3, 1, 2], (1, 2, 0)),
    ],
)
def test_ranks_after_the_first_gap_or_repeat_are_ignored(row, expected) -> None:
    assert preferences(row) == expected


def test_out_of_range_rows_are_refused() -> None:
    with pytest.raises(CountError, match=r"row 1 option 2: 4 is not in \[0, 3\]"):
        irv([[1, 2, 3], [1, 2, 4]], 3, SEED)
    with pytest.raises(CountError, match="row 0 has 2 values, expected 3"):
        schulze([[1, 2]], 3, SEED)
    with pytest.raises(CountError, match="seats must be between 1 and the 3 candidates"):
        stv([[1, 2, 3]], 3, 4, SEED)
    with pytest.raises(CountError, match="unknown counting method 'approval'"):
        count("approval", [[1]], 1, SEED)


def test_ties_follow_the_seeded_priority() -> None:
    """Two candidates, one ballot each: the one with the larger priority wins,
    and a different seed can change the winner."""
    rows = [[1, 2], [2, 1]]
    winners = set()
    for s in range(16):
        seed = bytes([s]) * 32
        prio = tie_priority(seed, 2)
        expected = 0 if prio[0] > prio[1] else 1
        for method in ("irv", "schulze", "borda"):
            assert count(method, rows, 2, seed).winners == (expected,)
        assert stv(rows, 2, 1, seed).winners == (expected,)
        winners.add(expected)
    assert winners == {0, 1}


def test_irv_backwards_tie_break_uses_the_earlier_round() -> None:
    """B and C tie at 4 in round 2, but C had fewer first preferences (3 v 4): C goes."""
    rows = profile([(6, "A"), (4, "B"), (3, "C"), (1, "DC"), (5, "E")], "ABCDE")
    r = irv(rows, 5, SEED)
    assert r.rounds[1].subject == 3 and r.rounds[1].votes[1] == r.rounds[1].votes[2] == 4
    assert r.rounds[2].subject == 2


# -- properties over random profiles ------------------------------------------------------


@st.composite
def rank_profiles(draw, min_k: int = 2, max_k: int = 5):
    k = draw(st.integers(min_k, max_k))
    n = draw(st.integers(0, 30))
    rows = []
    for _ in range(n):
        m = draw(st.integers(0, k))
        order = draw(st.permutations(range(k)))[:m]
        row = [0] * k
        for r, c in enumerate(order, start=1):
            row[c] = r
        if draw(st.booleans()) and k > 1:  # sometimes ill-formed
            row[draw(st.integers(0, k - 1))] = draw(st.integers(0, k))
        rows.append(row)
    return k, rows


@settings(max_examples=60, deadline=None)
@given(rank_profiles(), st.randoms(use_true_random=False))
def test_every_rule_is_invariant_under_ballot_order(kp, rnd: random.Random) -> None:
    k, rows = kp
    shuffled = rows[:]
    rnd.shuffle(shuffled)
    for method in ("irv", "schulze", "borda"):
        assert count(method, rows, k, SEED).to_json() == count(method, shuffled, k, SEED).to_json()
    seats = max(1, k // 2)
    assert stv(rows, k, seats, SEED).to_json() == stv(shuffled, k, seats, SEED).to_json()


@settings(max_examples=60, deadline=None)
@given(rank_profiles())
def test_stv_conserves_votes_and_fills_every_seat(kp) -> None:
    k, rows = kp
    for seats in range(1, k + 1):
        r = stv(rows, k, seats, SEED)
        assert len(r.winners) == seats == len(set(r.winners))
        valid = r.details["valid"]
        for rnd in r.rounds:
            assert sum(v for v in rnd.votes if v is not None) + rnd.exhausted == valid


@settings(max_examples=60, deadline=None)
@given(rank_profiles())
def test_stv_for_one_seat_is_irv(kp) -> None:
    k, rows = kp
    assert stv(rows, k, 1, SEED).winners == irv(rows, k, SEED).winners


@settings(max_examples=60, deadline=None)
@given(st.integers(0, 40), st.integers(0, 40), st.integers(0, 10))
def test_irv_with_two_candidates_is_majority(a: int, b: int, blank: int) -> None:
    rows = [[1, 2]] * a + [[2, 1]] * b + [[0, 0]] * blank
    r = irv(rows, 2, SEED)
    if a != b:
        assert r.winners == ((0,) if a > b else (1,))
    assert int(r.rounds[0].votes[0]) == a and r.rounds[0].exhausted == blank


@settings(max_examples=60, deadline=None)
@given(rank_profiles(min_k=3))
def test_a_condorcet_winner_wins_schulze(kp) -> None:
    k, rows = kp
    r = schulze(rows, k, SEED)
    d = r.details["pairwise"]
    condorcet = [x for x in range(k) if all(d[x][y] > d[y][x] for y in range(k) if y != x)]
    if condorcet:
        assert r.winners == (condorcet[0],)


@settings(max_examples=60, deadline=None)
@given(
    st.integers(2, 5).flatmap(
        lambda k: st.tuples(
            st.just(k), st.lists(st.lists(st.integers(0, 4), min_size=k, max_size=k), max_size=25)
        )
    )
)
def test_majority_judgment_respects_dominance_and_order(kg) -> None:
    k, rows = kg
    r = majority_judgment(rows, k, 5, SEED)
    assert sorted(r.ranking) == list(range(k))
    pos = {c: i for i, c in enumerate(r.ranking)}
    if rows:
        for x in range(k):
            for y in range(k):
                if x != y and all(row[x] > row[y] for row in rows):
                    assert pos[x] < pos[y]
    shuffled = rows[::-1]
    assert majority_judgment(shuffled, k, 5, SEED).to_json() == r.to_json()


def test_majority_grade_tie_break_by_removal() -> None:
    # Same median (Good=2); a has more above it, b more below: a wins.
    assert compare_profiles([1, 1, 2, 1], [1, 2, 1, 1]) > 0
    assert compare_profiles([0, 32, 42, 26], [0, 42, 43, 15]) > 0
    assert compare_profiles([1, 1, 1], [1, 1, 1]) == 0
