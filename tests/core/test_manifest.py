"""The election manifest: every rule, every message path, stable canonical bytes."""

from __future__ import annotations

import copy
from collections.abc import Callable

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from evote.encoding import canonical_json, parse_json
from evote.errors import ManifestError, SchemaError
from evote.hashing import TAG_MANIFEST, tagged_hash
from evote.manifest import (
    MAX_BALLOT_BRANCHES,
    Manifest,
    Question,
    Translations,
    text_in,
)

BASE = {
    "version": 1,
    "election_id": "city-2025",
    "title": {"en": "City poll", "ru": "Городской опрос"},
    "description": "Weekly poll",
    "questions": [
        {
            "id": "park",
            "title": "Build a park?",
            "options": ["Yes", "No"],
            "kind": "choice",
            "min": 1,
            "max": 1,
            "max_score": 1,
        },
        {
            "id": "projects",
            "title": {"en": "Pick projects", "ru": "Выберите проекты"},
            "options": [
                {"en": "Library", "ru": "Библиотека"},
                {"en": "Pool", "ru": "Бассейн"},
                {"en": "Bridge", "ru": "Мост"},
            ],
            "kind": "choice",
            "min": 0,
            "max": 2,
            "max_score": 1,
        },
        {
            "id": "rate",
            "title": "Rate the services",
            "options": ["Buses", "Trams", "Metro"],
            "kind": "score",
            "min": 0,
            "max": 12,
            "max_score": 5,
        },
    ],
}


def edited(edit: Callable[[dict], object]) -> dict:
    doc = copy.deepcopy(BASE)
    edit(doc)
    return doc


def q(i: int) -> Callable[[dict], dict]:
    return lambda d: d["questions"][i]


# -- valid forms -------------------------------------------------------------


def test_base_manifest_parses_and_round_trips() -> None:
    m = Manifest.from_json(BASE)
    assert m.to_json() == BASE
    assert Manifest.from_json(m.to_json()) == m
    assert [x.id for x in m.questions] == ["park", "projects", "rate"]
    assert m.label("ru") == "Городской опрос"
    assert m.questions[1].option_label(2, "ru") == "Мост"
    assert m.questions[1].option_label(2, "en") == "Bridge"
    assert m.question("rate").kind == "score"


def test_properties_follow_the_rules() -> None:
    park, projects, rate = Manifest.from_json(BASE).questions
    assert park.option_range == (0, 1) and park.sum_range == (1, 1) and park.needs_sum_proof
    assert projects.sum_range == (0, 2) and projects.needs_sum_proof
    assert rate.option_range == (0, 5) and rate.sum_range == (0, 12) and rate.needs_sum_proof
    unbounded = Question("all", "t", ("a", "b", "c"), "choice", 0, 3)
    assert not unbounded.needs_sum_proof
    full_score = Question("s", "t", ("a", "b"), "score", 0, 20, 10)
    assert not full_score.needs_sum_proof
    assert full_score.proof_branches == 2 * 11
    assert park.proof_branches == 2 * 2 + 1


def test_optional_fields_have_one_canonical_form() -> None:
    """description, version and a choice's max_score may be omitted; the digest is the same."""
    short = copy.deepcopy(BASE)
    del short["description"], short["version"]
    del short["questions"][0]["max_score"]
    full = copy.deepcopy(BASE)
    full["description"] = ""
    assert Manifest.from_json(short).digest() == Manifest.from_json(full).digest()
    assert Manifest.from_json(short).to_json()["questions"][0]["max_score"] == 1


def test_canonical_bytes_and_digest_are_pinned() -> None:
    """A regression vector: any change to the manifest encoding changes every fingerprint."""
    doc = {
        "election_id": "e1",
        "title": "T",
        "questions": [
            {"id": "q", "title": "Q", "options": ["a", "b"], "kind": "choice", "min": 0, "max": 1}
        ],
    }
    m = Manifest.from_json(doc)
    assert m.canonical() == (
        b'{"description":"","election_id":"e1","questions":[{"id":"q","kind":"choice",'
        b'"max":1,"max_score":1,"min":0,"options":["a","b"],"title":"Q"}],"title":"T",'
        b'"version":1}'
    )
    assert m.digest() == tagged_hash(TAG_MANIFEST, m.canonical())
    assert m.digest().hex() == "fcc475ae3e24f23d636d01b0266e25e43b8ab26ed66dff909937538f64ddd354"


def test_canonical_bytes_do_not_depend_on_input_key_order() -> None:
    reordered = parse_json(canonical_json(BASE))
    reordered = {k: reordered[k] for k in reversed(list(reordered))}
    assert Manifest.from_json(reordered).canonical() == Manifest.from_json(BASE).canonical()
    assert Manifest.from_json(BASE).canonical() == canonical_json(BASE)


def test_any_change_changes_the_digest() -> None:
    base = Manifest.from_json(BASE).digest()
    assert Manifest.from_json(edited(lambda d: q(0)(d).update(max=1, min=0))).digest() != base
    assert Manifest.from_json(edited(lambda d: q(2)(d).update(title="x"))).digest() != base
    assert Manifest.from_json(edited(lambda d: d.update(election_id="city-2026"))).digest() != base


def test_label_fallback_is_english_then_first_sorted_tag() -> None:
    assert text_in("plain", "ru") == "plain"
    t = Translations({"ru": "Да", "en": "Yes"})
    assert text_in(t, "ru") == "Да"
    assert text_in(t, "de") == "Yes"
    assert text_in(Translations({"uk": "Так", "ru": "Да"}), "de") == "Да"
    assert hash(t) == hash(Translations({"en": "Yes", "ru": "Да"}))


def test_question_constructor_validates() -> None:
    with pytest.raises(ManifestError, match=r"^question\.max: must be <= 2 \(number of options\)$"):
        Question("q", "t", ("a", "b"), "choice", 0, 3)
    q_ = Question("q", {"en": "t"}, ["a", "b"], "choice", 0, 1)
    assert isinstance(q_.title, Translations) and q_.options == ("a", "b")
    with pytest.raises(ManifestError, match=r"^manifest\.questions: expected between 1 and 50"):
        Manifest("e", "t", ())


# -- invalid forms, each with its exact message ------------------------------

INVALID: list[tuple[str, Callable[[dict], object], str]] = [
    ("not an object", lambda d: d.clear(), "manifest: missing field 'election_id'"),
    ("unknown key", lambda d: d.update(extra=1), "manifest: unknown field 'extra'"),
    ("missing title", lambda d: d.pop("title"), "manifest: missing field 'title'"),
    (
        "upper-case id",
        lambda d: d.update(election_id="City"),
        "manifest.election_id: only a-z, 0-9, '-' and '_' (not first) are allowed",
    ),
    (
        "long id",
        lambda d: d.update(election_id="a" * 65),
        "manifest.election_id: expected 1 to 64 characters",
    ),
    ("empty title", lambda d: d.update(title=""), "manifest.title: must not be empty"),
    ("blank title", lambda d: d.update(title="  "), "manifest.title: must not be empty"),
    (
        "title not text",
        lambda d: d.update(title=5),
        "manifest.title: expected a string or an object of translations",
    ),
    (
        "bad language tag",
        lambda d: d.update(title={"EN": "x"}),
        "manifest.title: language tag 'EN' is not two lowercase letters",
    ),
    (
        "no languages",
        lambda d: d.update(title={}),
        "manifest.title: translations must name at least one language",
    ),
    (
        "translation not text",
        lambda d: d.update(title={"en": 3}),
        "manifest.title.en: expected a string",
    ),
    (
        "too long title",
        lambda d: d.update(title="x" * 501),
        "manifest.title: longer than 500 characters",
    ),
    (
        "description not text",
        lambda d: d.update(description=None),
        "manifest.description: expected a string or an object of translations",
    ),
    ("version 2", lambda d: d.update(version=2), "manifest.version: must be 1"),
    ("version bool", lambda d: d.update(version=True), "manifest.version: expected an integer"),
    ("questions not list", lambda d: d.update(questions={}), "manifest.questions: expected a list"),
    (
        "no questions",
        lambda d: d.update(questions=[]),
        "manifest.questions: expected between 1 and 50 questions, got 0",
    ),
    (
        "51 questions",
        lambda d: d.update(questions=[dict(BASE["questions"][0], id=f"q{i}") for i in range(51)]),
        "manifest.questions: expected between 1 and 50 questions, got 51",
    ),
    (
        "question not object",
        lambda d: d["questions"].__setitem__(1, []),
        "manifest.questions[1]: expected an object",
    ),
    (
        "question unknown key",
        lambda d: q(1)(d).update(weight=2),
        "manifest.questions[1]: unknown field 'weight'",
    ),
    (
        "duplicate question id",
        lambda d: q(2)(d).update(id="park"),
        "manifest.questions[2].id: duplicate question id 'park' (same as manifest.questions[0])",
    ),
    (
        "bad question id",
        lambda d: q(1)(d).update(id="Projects"),
        "manifest.questions[1].id: must be 1 to 64 characters of a-z, 0-9, '_' and '-'",
    ),
    (
        "question id not str",
        lambda d: q(1)(d).update(id=1),
        "manifest.questions[1].id: must be 1 to 64 characters of a-z, 0-9, '_' and '-'",
    ),
    (
        "one option",
        lambda d: q(0)(d).update(options=["Yes"]),
        "manifest.questions[0].options: expected between 2 and 64 options, got 1",
    ),
    (
        "65 options",
        lambda d: q(2)(d).update(options=[f"o{i}" for i in range(65)]),
        "manifest.questions[2].options: expected between 2 and 64 options, got 65",
    ),
    (
        "options not list",
        lambda d: q(0)(d).update(options="Yes"),
        "manifest.questions[0].options: expected a list",
    ),
    (
        "empty option",
        lambda d: q(0)(d).update(options=["Yes", ""]),
        "manifest.questions[0].options[1]: must not be empty",
    ),
    (
        "duplicate option (case and spacing)",
        lambda d: q(0)(d).update(options=["Yes", "No", " yes"]),
        "manifest.questions[0].options[2]: duplicate option ' yes' (same as manifest.questions[0].options[0])",
    ),
    (
        "duplicate option in one language",
        lambda d: q(1)(d)["options"][1].update(ru="Библиотека"),
        "manifest.questions[1].options[1]: duplicate option 'Библиотека' (same as manifest.questions[1].options[0])",
    ),
    (
        "option bad language",
        lambda d: q(1)(d)["options"][1].update(rus="x"),
        "manifest.questions[1].options[1]: language tag 'rus' is not two lowercase letters",
    ),
    (
        "unknown kind",
        lambda d: q(0)(d).update(kind="rank"),
        'manifest.questions[0].kind: must be "choice", "score", "ranked" or "grades"',
    ),
    (
        "choice with max_score 2",
        lambda d: q(0)(d).update(max_score=2),
        "manifest.questions[0].max_score: must be 1 for a choice question",
    ),
    (
        "choice max above options",
        lambda d: q(1)(d).update(max=4),
        "manifest.questions[1].max: must be <= 3 (number of options)",
    ),
    (
        "choice max 0",
        lambda d: q(1)(d).update(max=0, min=0),
        "manifest.questions[1].max: must be >= 1",
    ),
    ("min negative", lambda d: q(1)(d).update(min=-1), "manifest.questions[1].min: must be >= 0"),
    (
        "min above max",
        lambda d: q(1)(d).update(min=3),
        "manifest.questions[1].min: must be <= 2 (max)",
    ),
    (
        "max not int",
        lambda d: q(1)(d).update(max="2"),
        "manifest.questions[1].max: expected an integer",
    ),
    (
        "min float",
        lambda d: q(1)(d).update(min=0.0),
        "manifest.questions[1].min: expected an integer",
    ),
    ("missing min", lambda d: q(1)(d).pop("min"), "manifest.questions[1]: missing field 'min'"),
    (
        "score without max_score",
        lambda d: q(2)(d).pop("max_score"),
        "manifest.questions[2]: missing field 'max_score'",
    ),
    (
        "score max_score 0",
        lambda d: q(2)(d).update(max_score=0),
        "manifest.questions[2].max_score: must be between 1 and 100",
    ),
    (
        "score max_score 101",
        lambda d: q(2)(d).update(max_score=101),
        "manifest.questions[2].max_score: must be between 1 and 100",
    ),
    (
        "score max above total",
        lambda d: q(2)(d).update(max=16),
        "manifest.questions[2].max: must be <= 15 (max_score × number of options)",
    ),
    (
        "bounded total too wide for one proof",
        lambda d: q(2)(d).update(
            options=[f"o{i}" for i in range(30)], max_score=100, min=1, max=2000
        ),
        "manifest.questions[2].min: the allowed total [1, 2000] spans 2000 values; "
        "a bounded total may span at most 1024",
    ),
    (
        "ballot too large",
        lambda d: d.update(
            questions=[
                {
                    "id": f"q{i}",
                    "title": "t",
                    "options": ["a", "b"],
                    "kind": "score",
                    "min": 0,
                    "max": 200,
                    "max_score": 100,
                }
                for i in range(50)
            ]
        ),
        f"manifest.questions: a ballot would carry 10100 proof branches; at most {MAX_BALLOT_BRANCHES} are allowed",
    ),
]


@pytest.mark.parametrize(
    ("edit", "message"), [(e, m) for _, e, m in INVALID], ids=[n for n, _, _ in INVALID]
)
def test_invalid_manifest_names_the_field(edit: Callable[[dict], object], message: str) -> None:
    with pytest.raises(ManifestError) as info:
        Manifest.from_json(edited(edit))
    assert info.value.message == message
    assert isinstance(info.value, SchemaError) and info.value.code == "bad_manifest"


@pytest.mark.parametrize("doc", [None, [], "manifest", 3])
def test_non_object_manifest(doc: object) -> None:
    with pytest.raises(ManifestError, match=r"^manifest: expected an object$"):
        Manifest.from_json(doc)


# -- generated manifests round-trip ------------------------------------------

labels = st.text(
    st.characters(codec="utf-8", exclude_categories=("Cs",)), min_size=1, max_size=12
).filter(lambda s: s.strip())


@st.composite
def questions(draw: st.DrawFn, qid: str) -> dict:
    n = draw(st.integers(2, 6))
    opts = draw(
        st.lists(labels, min_size=n, max_size=n, unique_by=lambda s: " ".join(s.split()).casefold())
    )
    kind = draw(st.sampled_from(["choice", "score"]))
    max_score = 1 if kind == "choice" else draw(st.integers(1, 10))
    top = n * max_score
    hi = draw(st.integers(1, top))
    lo = draw(st.integers(0, hi))
    return {
        "id": qid,
        "title": draw(labels),
        "options": opts,
        "kind": kind,
        "min": lo,
        "max": hi,
        "max_score": max_score,
    }


@st.composite
def manifests(draw: st.DrawFn) -> dict:
    k = draw(st.integers(1, 4))
    return {
        "version": 1,
        "election_id": draw(st.from_regex(r"[a-z0-9][a-z0-9_-]{0,20}", fullmatch=True)),
        "title": draw(labels),
        "description": draw(st.text(max_size=30)),
        "questions": [draw(questions(f"q{i}")) for i in range(k)],
    }


@settings(max_examples=50, deadline=None)
@given(manifests())
def test_generated_manifests_round_trip_through_canonical_json(doc: dict) -> None:
    m = Manifest.from_json(doc)
    again = Manifest.from_json(parse_json(m.canonical()))
    assert again == m
    assert again.canonical() == m.canonical() == canonical_json(doc)
    assert again.digest() == m.digest()
