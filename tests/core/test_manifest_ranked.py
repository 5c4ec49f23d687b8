"""Ranked and graded questions in the manifest, and its mixers: every loader error
first, then the shapes they give the ballot, then canonical bytes.  Old manifests
keep their bytes (tests/core/test_vectors.py pins their digests)."""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from evote.ballot import check_selections, encrypt_ballot, verify_ballot
from evote.drbg import SeededRng
from evote.encoding import canonical_json
from evote.errors import InvalidBallot, ManifestError
from evote.manifest import MAX_RANKED_OPTIONS, Manifest, Question
from evote.mixnet import MixerKey
from evote.signing import SigningKey

GRADES = [{"en": "Poor", "ru": "Плохо"}, {"en": "Fair", "ru": "Средне"},
          {"en": "Good", "ru": "Хорошо"}]
KEYS = [SigningKey.generate(SeededRng(bytes([i]) * 8)) for i in range(3)]

BASE: dict[str, Any] = {
    "election_id": "ranked-2026",
    "title": {"en": "Elections", "ru": "Выборы"},
    "questions": [
        {"id": "mayor", "title": "Mayor", "options": ["Ann", "Bob", "Cid"],
         "kind": "ranked", "method": "irv"},
        {"id": "council", "title": "Council", "options": ["A", "B", "C", "D"],
         "kind": "ranked", "method": "stv", "seats": 2},
        {"id": "rate", "title": "Rate", "options": ["Tram", "Bridge"], "kind": "grades",
         "grades": GRADES},
    ],
}


def q(i: int) -> Callable[[dict], dict]:
    return lambda d: d["questions"][i]


def mixers(*keys: SigningKey) -> list[dict]:
    return [MixerKey(i, k.verify_key).to_json() for i, k in enumerate(keys, start=1)]


BAD: list[tuple[str, Callable[[dict], None], str]] = [
    ("unknown method", lambda d: q(0)(d).update(method="approval"),
     "manifest.questions[0].method: must be one of irv, stv, schulze, borda, got 'approval'"),
    ("method missing", lambda d: q(0)(d).pop("method"),
     "manifest.questions[0]: missing field 'method'"),
    ("majority judgment is for grades", lambda d: q(0)(d).update(method="majority_judgment"),
     "manifest.questions[0].method: must be one of"),
    ("seats missing", lambda d: q(1)(d).pop("seats"),
     "manifest.questions[1].seats: required for method stv"),
    ("seats zero", lambda d: q(1)(d).update(seats=0),
     "manifest.questions[1].seats: must be between 1 and 3 (fewer than the options)"),
    ("seats = options", lambda d: q(1)(d).update(seats=4),
     "manifest.questions[1].seats: must be between 1 and 3"),
    ("seats not an integer", lambda d: q(1)(d).update(seats="2"),
     "manifest.questions[1].seats: expected an integer"),
    ("seats on irv", lambda d: q(0)(d).update(seats=1),
     "manifest.questions[0].seats: only for method stv"),
    ("min on a ranked question", lambda d: q(0)(d).update(min=0),
     "manifest.questions[0]: unknown field 'min'"),
    ("max_score on a ranked question", lambda d: q(0)(d).update(max_score=3),
     "manifest.questions[0]: unknown field 'max_score'"),
    ("too many options for the range proof",
     lambda d: q(0)(d).update(options=[f"c{i}" for i in range(MAX_RANKED_OPTIONS + 1)]),
     f"manifest.questions[0].options: a ranked question may have at most {MAX_RANKED_OPTIONS}"),
    ("grades missing", lambda d: q(2)(d).pop("grades"),
     "manifest.questions[2]: missing field 'grades'"),
    ("one grade", lambda d: q(2)(d).update(grades=GRADES[:1]),
     "manifest.questions[2].grades: expected between 2 and 20 grades, got 1"),
    ("grade name missing Russian", lambda d: q(2)(d).update(grades=[GRADES[0], {"en": "Good"}]),
     "manifest.questions[2].grades[1]: missing the grade name in ru"),
    ("grade name as plain string", lambda d: q(2)(d).update(grades=["Poor", "Good"]),
     "manifest.questions[2].grades[0]: a grade name must be given in en and ru"),
    ("duplicate grade", lambda d: q(2)(d).update(grades=[GRADES[0], GRADES[0]]),
     "manifest.questions[2].grades[1]: duplicate grade 'Poor'"),
    ("grades on a ranked question", lambda d: q(0)(d).update(grades=GRADES),
     "manifest.questions[0]: unknown field 'grades'"),
    ("another method for grades", lambda d: q(2)(d).update(method="borda"),
     'manifest.questions[2].method: a grades question is counted by "majority_judgment"'),
    ("method on a choice question",
     lambda d: d["questions"].append({"id": "c", "title": "C", "options": ["a", "b"],
                                      "kind": "choice", "min": 0, "max": 1, "method": "irv"}),
     "manifest.questions[3]: unknown field 'method'"),
    ("mixers not a list", lambda d: d.update(mixers={}), "manifest.mixers: expected a list"),
    ("no mixers", lambda d: d.update(mixers=[]), "manifest.mixers: an election needs 1..64"),
    ("mixers out of order", lambda d: d.update(mixers=mixers(*KEYS[:2])[::-1]),
     "manifest.mixers: mixers must be numbered 1..2 in order"),
    ("one mixer twice", lambda d: d.update(mixers=mixers(KEYS[0], KEYS[0])),
     "manifest.mixers: two mixers share a key"),
    ("a bad mixer key",
     lambda d: d.update(mixers=[{"index": 1, "verify_key": "AAAA"}]),
     "manifest.mixers[0].verify_key"),
    ("mixers without a mixed question",
     lambda d: d.update(questions=[{"id": "c", "title": "C", "options": ["a", "b"],
                                    "kind": "choice", "min": 0, "max": 1}],
                        mixers=mixers(KEYS[0])),
     "manifest.mixers: only for an election with a ranked or grades question"),
]


@pytest.mark.parametrize(("name", "change", "message"), BAD, ids=[b[0] for b in BAD])
def test_a_bad_ranked_manifest_names_the_field(name: str, change: Callable, message: str) -> None:
    doc = copy.deepcopy(BASE)
    change(doc)
    with pytest.raises(ManifestError) as exc:
        Manifest.from_json(doc)
    assert message in exc.value.message, exc.value.message


def test_ranked_and_graded_questions_derive_their_ranges() -> None:
    m = Manifest.from_json(BASE)
    mayor, council, rate = m.questions
    assert (mayor.method, mayor.option_range, mayor.needs_sum_proof) == ("irv", (0, 3), False)
    assert (council.method, council.seats, council.option_range) == ("stv", 2, (0, 4))
    assert (rate.method, rate.option_range, rate.grade_label(2, "ru")) == (
        "majority_judgment", (0, 2), "Хорошо")
    assert mayor.proof_branches == 3 * 4  # k options × (k+1) ranks, no sum proof
    assert m.mixed_questions == (0, 1, 2) and m.tallied_questions == ()
    assert m.mixers is None
    trustees = [k.verify_key for k in KEYS]
    assert m.mixers_or(trustees) == tuple(MixerKey(i, k) for i, k in enumerate(trustees, 1))


def test_one_spelling_and_a_digest_that_covers_method_seats_grades_and_mixers() -> None:
    m = Manifest.from_json(BASE)
    assert Manifest.from_json(m.to_json()) == m
    assert m.to_json()["questions"][0] == BASE["questions"][0]  # nothing added
    digests = {m.digest()}
    for change in (lambda d: q(0)(d).update(method="schulze"),
                   lambda d: q(1)(d).update(seats=3),
                   lambda d: q(2)(d).update(grades=GRADES[:2]),
                   lambda d: d.update(mixers=mixers(KEYS[0]))):
        doc = copy.deepcopy(BASE)
        change(doc)
        digests.add(Manifest.from_json(doc).digest())
    assert len(digests) == 5
    with_mixers = Manifest.from_json(BASE | {"mixers": mixers(*KEYS)})
    assert Manifest.from_json(with_mixers.to_json()).mixers == with_mixers.mixers
    assert b'"mixers":[' in with_mixers.canonical() and b'"mixers"' not in m.canonical()


def test_a_question_built_in_code_is_checked_too() -> None:
    q = Question("m", "Mayor", ("A", "B"), "ranked", method="borda")
    assert (q.min, q.max, q.max_score) == (0, 4, 2)
    with pytest.raises(ManifestError, match="seats: required for method stv"):
        Question("m", "Mayor", ("A", "B"), "ranked", method="stv")


def test_selections_of_a_ranked_question_are_ranks_not_checked_for_form() -> None:
    m = Manifest.from_json(BASE)
    ok = check_selections(m, [[1, 1, 0], [0, 0, 0, 0], [2, 0]])  # a repeat is accepted
    assert ok[0] == (1, 1, 0)
    with pytest.raises(InvalidBallot, match=r"selections\[0\]\[2\]: must be a rank between 1 "
                                            r"and 3, or 0 for unranked, got 4"):
        check_selections(m, [[1, 2, 4], [0, 0, 0, 0], [0, 0]])
    with pytest.raises(InvalidBallot, match=r"selections\[2\]\[0\]: must be a grade between 0 and 2"):
        check_selections(m, [[1, 2, 3], [0, 0, 0, 0], [3, 0]])


def test_a_ranked_ballot_carries_one_range_proof_per_option_and_verifies() -> None:
    from tests.support.recordgen import make_election

    e = make_election(manifest=BASE, voters=1, trustees=1, threshold=1, seed=b"ranked-ballot")
    ballot, _ = encrypt_ballot(e.ctx, e.voters[0], [[3, 1, 2], [1, 2, 0, 0], [0, 2]],
                               SeededRng(b"b"))
    assert [a.sum_proof for a in ballot.answers] == [None, None, None]
    assert [len(a.proofs) for a in ballot.answers] == [3, 4, 2]
    assert verify_ballot(e.ctx, ballot) == 1


labels = st.text(alphabet="abcdefghij", min_size=1, max_size=8)


@st.composite
def mixed_questions(draw: st.DrawFn, qid: str) -> dict:
    n = draw(st.integers(2, 6))
    opts = [f"o{i}" for i in range(n)]
    if draw(st.booleans()):
        method = draw(st.sampled_from(["irv", "stv", "schulze", "borda"]))
        extra = {"seats": draw(st.integers(1, n - 1))} if method == "stv" else {}
        return {"id": qid, "title": draw(labels), "options": opts, "kind": "ranked",
                "method": method} | extra
    g = draw(st.integers(2, 5))
    return {"id": qid, "title": draw(labels), "options": opts, "kind": "grades",
            "grades": [{"en": f"g{i}", "ru": f"о{i}"} for i in range(g)]}


@settings(max_examples=60, deadline=None)
@given(st.integers(1, 4).flatmap(
    lambda k: st.tuples(*[mixed_questions(f"q{i}") for i in range(k)])))
def test_generated_mixed_manifests_round_trip(qs: tuple[dict, ...]) -> None:
    m = Manifest.from_json({"election_id": "e", "title": "T", "questions": list(qs)})
    again = Manifest.from_json(m.to_json())
    assert again == m and again.canonical() == m.canonical()
    assert canonical_json(m.to_json()["questions"]) == canonical_json(list(qs))
    assert m.mixed_questions == tuple(range(len(qs)))
