"""The CLI's view of a count sheet (cli/ranked_view.py) and of a ranked answer
(cli/ranked_input.py), on sheets the counting code really produced."""

from __future__ import annotations

from fractions import Fraction

import pytest

from cli.ranked_input import describe_mixed, parse_mixed
from cli.ranked_view import ordinal, print_sheets, sheet_totals
from evote.counting import count
from evote.errors import InvalidBallot
from evote.manifest import Manifest

MANIFEST = Manifest.from_json({
    "election_id": "view", "title": "View",
    "questions": [
        {"id": "irv", "title": "Mayor", "options": ["A", "B", "C"], "kind": "ranked",
         "method": "irv"},
        {"id": "stv", "title": "Council", "options": ["D", "E", "F", "G"], "kind": "ranked",
         "method": "stv", "seats": 2},
        {"id": "sch", "title": "Flag", "options": ["Red", "Blue", "Green"], "kind": "ranked",
         "method": "schulze"},
        {"id": "bor", "title": "Logo", "options": ["X", "Y"], "kind": "ranked",
         "method": "borda"},
        {"id": "mj", "title": "Plans", "options": ["Tram", "Bridge"], "kind": "grades",
         "grades": [{"en": "Poor", "ru": "Плохо"}, {"en": "Fair", "ru": "Средне"},
                    {"en": "Good", "ru": "Хорошо"}]},
    ],
})
ROWS = {
    0: [[1, 2, 0], [1, 0, 2], [2, 1, 0], [0, 2, 1], [3, 1, 2]],
    1: [[1, 2, 3, 4], [1, 3, 2, 0], [2, 1, 0, 0], [0, 0, 1, 2], [1, 0, 0, 2]],
    2: [[1, 2, 3], [2, 1, 3], [1, 3, 2], [3, 1, 2], [1, 2, 3]],
    3: [[1, 2], [2, 1], [1, 2]],
    4: [[2, 0], [2, 1], [1, 2], [0, 2], [2, 2]],
}


def sheets():
    out = {}
    for q, rows in ROWS.items():
        question = MANIFEST.questions[q]
        out[q] = count(question.method, rows, len(question.options), b"seed",
                       seats=question.seats,
                       grades=len(question.grades) if question.kind == "grades" else None
                       ).to_json()
    return out


def test_every_method_s_sheet_is_printed_with_its_figures(capsys):
    s = sheets()
    print_sheets(MANIFEST, s)
    out = capsys.readouterr().out
    assert "Mayor (irv)" in out and "round 1" in out and "exhausted" in out
    assert "Council (stv)" in out
    assert "Flag (schulze)" in out and "over Blue" in out
    assert "Logo (borda)" in out and "points" in out
    assert "Plans (majority_judgment)" in out and "majority grade" in out
    for q, sheet in s.items():
        names = ", ".join(MANIFEST.questions[q].option_label(w) for w in sheet["winners"])
        assert f"elected: {names}" in out


def test_a_question_without_ballots_is_said_so(capsys):
    print_sheets(MANIFEST, {})
    assert capsys.readouterr().out.count("no ballot was counted") == 5
    assert sheet_totals(MANIFEST, {}) == []


def test_the_chart_shows_the_deciding_figures():
    s = sheets()
    totals = {t.title: dict(t.options) for t in sheet_totals(MANIFEST, s)}
    last = s[0]["rounds"][-1]["votes"]
    assert totals["Mayor: final round"] == {
        o: (0 if v is None else round(Fraction(v))) for o, v in zip("ABC", last, strict=True)}
    assert totals["Logo: points"] == dict(zip("XY", s[3]["details"]["points"], strict=True))
    mj = totals["Plans: majority grade (0 = Poor)"]
    assert mj == dict(zip(["Tram", "Bridge"], s[4]["details"]["majority_grade"], strict=True))


def test_rankings_and_grades_are_parsed_and_described_in_words():
    mayor, plans = MANIFEST.questions[0], MANIFEST.questions[4]
    assert parse_mixed(mayor, "3 1") == (2, 0, 1)
    assert parse_mixed(mayor, "3,1,2") == (2, 3, 1)
    assert parse_mixed(mayor, "") == (0, 0, 0)
    assert describe_mixed(mayor, (2, 0, 1)) == ["1st: C", "2nd: A"]
    assert parse_mixed(plans, "3 1") == (2, 0)
    assert describe_mixed(plans, (2, 0)) == ["Tram: Good", "Bridge: Poor"]
    for bad, needle in [("1 1", "ranked twice"), ("4", "1 to 3"), ("x", "1 to 3")]:
        with pytest.raises(InvalidBallot, match=needle):
            parse_mixed(mayor, bad)
    for bad, needle in [("3", "one grade to each"), ("1 4", "1 to 3"), ("1 2 3", "you gave 3")]:
        with pytest.raises(InvalidBallot, match=needle):
            parse_mixed(plans, bad)
    assert [ordinal(n) for n in (1, 2, 3, 4, 11, 12, 13, 21, 22, 101)] == [
        "1st", "2nd", "3rd", "4th", "11th", "12th", "13th", "21st", "22nd", "101st"]
