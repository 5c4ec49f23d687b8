"""The election manifest: what is asked, and which answers are allowed.

The manifest is the one document every other artefact points back to: its
digest is the first field of the election fingerprint, so a ballot, a proof or
a tally made for one manifest can never be presented as belonging to another.
The rules it states (how many options a voter may mark, how many points they
may give) are exactly the ranges the ballot proofs prove, so they are checked
here once, strictly, with a message naming the offending field
(``manifest.questions[1].max: must be <= 3 (number of options)``).

Two kinds of question:

* ``"choice"``: every option is marked (1) or not (0); the number of marks lies
  in [min, max]; ``max_score`` is 1.
* ``"score"``: every option gets 0..max_score points; the total lies in
  [min, max].

Two more are counted by the mixnet (``docs/protocol-mixnet.md``), never
by the homomorphic tally:

* ``"ranked"``: every option gets a rank 1..k (k = number of options) or 0
  for unranked; ``method`` is ``irv``, ``stv`` (with ``seats``), ``schulze``
  or ``borda``.  ``min``/``max``/``max_score`` are not written: each option's
  range proof is 0..k and there is no sum proof (what an ill-formed ranking
  counts as is :mod:`evote.counting.ballots`' rule).
* ``"grades"``: every option gets a grade 0..G−1 (worst first); ``grades``
  names the G grades in English and Russian; counted by Majority Judgment.

An election with such questions names its ``mixers`` (:class:`MixerKey`
list); without the field the trustees mix, in trustee order
(:meth:`Manifest.mixers_or` ).

Voter weights are not here: they belong to the credential list
(:mod:`evote.credentials`), which is published separately and bound into the
fingerprint on its own.

Titles, option labels and the description may be a plain string or a mapping
from two-letter language tag to text (``{"en": "Yes", "ru": "Да"}``); they are
stored as given and read with ``label(lang)``.

Why one module of ~700 lines: the four question kinds, their translations and
the manifest's cross-question checks are one schema, validated together
(a question's rules depend on its kind, the manifest's on every question's),
and the fingerprint hashes the result as one document.
"""

from __future__ import annotations

import dataclasses
import difflib
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from evote.commands import check_election_id
from evote.encoding import MAX_SAFE_INTEGER, Fields, canonical_json
from evote.errors import EncodingError, ManifestError, SchemaError
from evote.hashing import TAG_MANIFEST, tagged_hash
from evote.limits import MAX_BALLOT_BRANCHES as MAX_BALLOT_BRANCHES
from evote.limits import MAX_DESCRIPTION as MAX_DESCRIPTION
from evote.limits import MAX_GRADES as MAX_GRADES
from evote.limits import MAX_OPTION as MAX_OPTION
from evote.limits import MAX_OPTIONS as MAX_OPTIONS
from evote.limits import MAX_QUESTION_TITLE as MAX_QUESTION_TITLE
from evote.limits import MAX_QUESTIONS as MAX_QUESTIONS
from evote.limits import MAX_RANKED_OPTIONS as MAX_RANKED_OPTIONS
from evote.limits import MAX_SCORE as MAX_SCORE
from evote.limits import MAX_TITLE as MAX_TITLE
from evote.mixnet import MixerKey, check_mixers
from evote.proofs import MAX_RANGE_WIDTH
from evote.schedule import check_window
from evote.signing import VerifyKey
from evote.witness import WitnessPolicy

MANIFEST_VERSION = 1
KINDS = ("choice", "score", "ranked", "grades")
#: The kinds counted after the mixnet (never in the homomorphic tally).
MIXED_KINDS = ("ranked", "grades")
#: The ranked methods (``evote.counting``); a graded question is Majority Judgment.
RANKED_METHODS = ("irv", "stv", "schulze", "borda")
GRADES_METHOD = "majority_judgment"
MIN_GRADES = 2
#: The languages every grade name must be given in (the booth's two languages).
GRADE_LANGUAGES = ("en", "ru")
MIN_OPTIONS = 2


_QUESTION_ID = re.compile(r"[a-z0-9_-]{1,64}")
_LANG = re.compile(r"[a-z]{2}")


class Translations(Mapping[str, str]):
    """An immutable, hashable ``{language tag: text}`` mapping, kept in the order given."""

    __slots__ = ("_items",)

    def __init__(self, items: Mapping[str, str]) -> None:
        self._items = dict(items)

    def __getitem__(self, lang: str) -> str:
        return self._items[lang]

    def __iter__(self) -> Iterator[str]:
        return iter(self._items)

    def __len__(self) -> int:
        return len(self._items)

    def __hash__(self) -> int:
        return hash(tuple(sorted(self._items.items())))

    def __repr__(self) -> str:
        return f"Translations({self._items!r})"

    def to_json(self) -> dict[str, str]:
        return dict(self._items)


Text = str | Translations


def text_in(text: Text, lang: str | None = None) -> str:
    """The text in ``lang``; falls back to English, then to the first tag in sorted order.

    The fallback is deterministic (it does not depend on the order the document
    listed the languages in), so every booth shows the same label.
    """
    if isinstance(text, str):
        return text
    if lang is not None and lang in text:
        return text[lang]
    if "en" in text:
        return text["en"]
    return text[min(text)]


def _text(value: Any, path: str, *, max_len: int, allow_empty: bool = False) -> Text:
    """Validate a string or a translations object; dicts become :class:`Translations`."""

    def one(s: Any, where: str) -> str:
        if not isinstance(s, str):
            raise ManifestError(f"{where}: expected a string")
        if not allow_empty and not s.strip():
            raise ManifestError(f"{where}: must not be empty")
        if len(s) > max_len:
            raise ManifestError(f"{where}: longer than {max_len} characters")
        return s

    if isinstance(value, str):
        return one(value, path)
    if not isinstance(value, Mapping):
        raise ManifestError(f"{path}: expected a string or an object of translations")
    if not value:
        raise ManifestError(f"{path}: translations must name at least one language")
    for lang, s in value.items():
        if not isinstance(lang, str) or not _LANG.fullmatch(lang):
            raise ManifestError(f"{path}: language tag {lang!r} is not two lowercase letters")
        one(s, f"{path}.{lang}")
    return value if isinstance(value, Translations) else Translations(value)


def _text_json(text: Text) -> str | dict[str, str]:
    return text if isinstance(text, str) else text.to_json()


def _int(value: Any, path: str) -> int:
    if not isinstance(value, int) or isinstance(value, bool):
        raise ManifestError(f"{path}: expected an integer")
    if not -MAX_SAFE_INTEGER <= value <= MAX_SAFE_INTEGER:
        raise ManifestError(f"{path}: out of range")
    return value


def _same_label(s: str) -> str:
    """Labels that differ only in case or spacing would confuse a voter."""
    return " ".join(s.split()).casefold()


def _options(value: Any, path: str) -> tuple[Text, ...]:
    if not isinstance(value, list | tuple):
        raise ManifestError(f"{path}: expected a list")
    if not MIN_OPTIONS <= len(value) <= MAX_OPTIONS:
        raise ManifestError(
            f"{path}: expected between {MIN_OPTIONS} and {MAX_OPTIONS} options, got {len(value)}"
        )
    options = tuple(_text(v, f"{path}[{i}]", max_len=MAX_OPTION) for i, v in enumerate(value))
    langs = sorted({lang for o in options if not isinstance(o, str) for lang in o}) or [None]
    for lang in langs:
        seen: dict[str, int] = {}
        for i, o in enumerate(options):
            key = _same_label(text_in(o, lang))
            if key in seen:
                raise ManifestError(
                    f"{path}[{i}]: duplicate option {text_in(o, lang)!r} "
                    f"(same as {path}[{seen[key]}])"
                )
            seen[key] = i
    return options


def _grades(value: Any, path: str) -> tuple[Translations, ...]:
    """The grade names, worst first, each in every language of GRADE_LANGUAGES."""
    if not isinstance(value, list | tuple):
        raise ManifestError(f"{path}: expected a list of grade names, worst first")
    if not MIN_GRADES <= len(value) <= MAX_GRADES:
        raise ManifestError(
            f"{path}: expected between {MIN_GRADES} and {MAX_GRADES} grades, got {len(value)}"
        )
    out = []
    for i, v in enumerate(value):
        name = _text(v, f"{path}[{i}]", max_len=MAX_OPTION)
        if isinstance(name, str):
            raise ManifestError(
                f"{path}[{i}]: a grade name must be given in {' and '.join(GRADE_LANGUAGES)} "
                '(an object such as {"en": "Good", "ru": "Хорошо"})'
            )
        missing = [lang for lang in GRADE_LANGUAGES if lang not in name]
        if missing:
            raise ManifestError(f"{path}[{i}]: missing the grade name in {', '.join(missing)}")
        out.append(name)
    for lang in GRADE_LANGUAGES:
        seen: dict[str, int] = {}
        for i, g in enumerate(out):
            key = _same_label(g[lang])
            if key in seen:
                raise ManifestError(
                    f"{path}[{i}]: duplicate grade {g[lang]!r} (same as {path}[{seen[key]}])"
                )
            seen[key] = i
    return tuple(out)


def _check_mixed(
    path: str, kind: str, n: int, method: Any, seats: Any, grades: Any
) -> dict[str, Any]:
    """A ranked or graded question's own fields; min/max/max_score are derived
    (per-option range 0..top, any total, so no sum proof)."""
    if kind == "ranked":
        if method not in RANKED_METHODS:
            raise ManifestError(
                f"{path}.method: must be one of {', '.join(RANKED_METHODS)}, got {method!r}"
            )
        if n > MAX_RANKED_OPTIONS:
            raise ManifestError(
                f"{path}.options: a ranked question may have at most {MAX_RANKED_OPTIONS} "
                f"options (each option's range proof covers ranks 0..{n}), got {n}"
            )
        if method == "stv":
            if seats is None:
                raise ManifestError(f"{path}.seats: required for method stv")
            seats = _int(seats, f"{path}.seats")
            if not 1 <= seats < n:
                raise ManifestError(
                    f"{path}.seats: must be between 1 and {n - 1} (fewer than the options)"
                )
        elif seats is not None:
            raise ManifestError(f"{path}.seats: only for method stv")
        if grades:
            raise ManifestError(f"{path}.grades: only for a grades question")
        top, grade_names = n, ()
    else:
        if method is not None and method != GRADES_METHOD:
            raise ManifestError(f'{path}.method: a grades question is counted by "{GRADES_METHOD}"')
        if seats is not None:
            raise ManifestError(f"{path}.seats: only for method stv")
        grade_names = _grades(grades, f"{path}.grades")
        method, top = GRADES_METHOD, len(grade_names) - 1
    return {
        "min": 0,
        "max": top * n,
        "max_score": top,
        "method": method,
        "seats": seats,
        "grades": grade_names,
    }


def _check_question(
    path: str,
    id: Any,
    title: Any,
    options: Any,
    kind: Any,
    min: Any,
    max: Any,
    max_score: Any,
    method: Any = None,
    seats: Any = None,
    grades: Any = (),
) -> dict[str, Any]:
    """Every rule for one question, in field order; returns the normalised fields."""
    if not isinstance(id, str) or not _QUESTION_ID.fullmatch(id):
        raise ManifestError(f"{path}.id: must be 1 to 64 characters of a-z, 0-9, '_' and '-'")
    title = _text(title, f"{path}.title", max_len=MAX_QUESTION_TITLE)
    options = _options(options, f"{path}.options")
    if kind not in KINDS:
        raise ManifestError(f'{path}.kind: must be "choice", "score", "ranked" or "grades"')
    n = len(options)
    base = {"id": id, "title": title, "options": options, "kind": kind}
    if kind in MIXED_KINDS:
        return base | _check_mixed(path, kind, n, method, seats, grades)
    if method is not None or seats is not None or grades:
        extra = "method" if method is not None else "seats" if seats is not None else "grades"
        raise ManifestError(f"{path}.{extra}: only for a ranked or grades question")
    max_score = _int(max_score, f"{path}.max_score")
    if kind == "choice":
        if max_score != 1:
            raise ManifestError(f"{path}.max_score: must be 1 for a choice question")
        top, top_why = n, "number of options"
    else:
        if not 1 <= max_score <= MAX_SCORE:
            raise ManifestError(f"{path}.max_score: must be between 1 and {MAX_SCORE}")
        top, top_why = max_score * n, "max_score × number of options"
    max = _int(max, f"{path}.max")
    if max < 1:
        raise ManifestError(f"{path}.max: must be >= 1")
    if max > top:
        raise ManifestError(f"{path}.max: must be <= {top} ({top_why})")
    min = _int(min, f"{path}.min")
    if min < 0:
        raise ManifestError(f"{path}.min: must be >= 0")
    if min > max:
        raise ManifestError(f"{path}.min: must be <= {max} (max)")
    if not (min == 0 and max == top) and max - min + 1 > MAX_RANGE_WIDTH:
        raise ManifestError(
            f"{path}.min: the allowed total [{min}, {max}] spans {max - min + 1} values; "
            f"a bounded total may span at most {MAX_RANGE_WIDTH}"
        )
    return base | {
        "min": min,
        "max": max,
        "max_score": max_score,
        "method": None,
        "seats": None,
        "grades": (),
    }


@dataclass(frozen=True)
class Question:
    """One question of the manifest.  Validated at construction (:class:`ManifestError`)."""

    id: str
    title: Text
    options: tuple[Text, ...]
    kind: str
    min: int = 0
    max: int = 0
    max_score: int = 1
    #: Ranked: irv | stv | schulze | borda; grades: majority_judgment; else None.
    method: str | None = None
    #: STV only: the number of seats.
    seats: int | None = None
    #: Grades only: the grade names, worst (grade 0) first.
    grades: tuple[Translations, ...] = ()

    def __post_init__(self) -> None:
        fields = _check_question(
            "question",
            self.id,
            self.title,
            self.options,
            self.kind,
            self.min,
            self.max,
            self.max_score,
            self.method,
            self.seats,
            self.grades,
        )
        for name, value in fields.items():
            object.__setattr__(self, name, value)

    @property
    def is_mixed(self) -> bool:
        """Counted after the mixnet (ranked or grades), never in the homomorphic tally."""
        return self.kind in MIXED_KINDS

    def grade_label(self, grade: int, lang: str | None = None) -> str:
        return text_in(self.grades[grade], lang)

    @property
    def option_range(self) -> tuple[int, int]:
        """The values each option's ciphertext is proved to lie in."""
        return (0, self.max_score)

    @property
    def sum_range(self) -> tuple[int, int]:
        """The values the question's total is proved to lie in."""
        return (self.min, self.max)

    @property
    def needs_sum_proof(self) -> bool:
        """False when the per-option ranges already imply the total's range, so a
        sum proof would prove nothing (and cost up to 64·100 branches)."""
        return not (self.min == 0 and self.max == self.max_score * len(self.options))

    @property
    def proof_branches(self) -> int:
        """How many (challenge, response) pairs a ballot carries for this question."""
        per_option = len(self.options) * (self.max_score + 1)
        return per_option + (self.max - self.min + 1 if self.needs_sum_proof else 0)

    def label(self, lang: str | None = None) -> str:
        """The question title in ``lang`` (see :func:`text_in` for the fallback)."""
        return text_in(self.title, lang)

    def option_label(self, index: int, lang: str | None = None) -> str:
        return text_in(self.options[index], lang)

    @classmethod
    def from_json(cls, obj: Any, path: str = "question") -> Question:
        """Parse one question; ``max_score`` may be omitted for a choice question.

        The key set depends on ``kind``: choice/score take min, max (and
        max_score); ranked takes method (and seats for stv); grades takes
        grades (and optionally method "majority_judgment")."""
        kind = obj.get("kind") if isinstance(obj, Mapping) else None
        if kind in MIXED_KINDS:
            return cls._mixed_from_json(obj, path, kind)
        try:
            f = Fields(
                obj,
                path,
                required=("id", "title", "options", "kind", "min", "max"),
                optional=("max_score",),
            )
        except SchemaError as exc:
            _suggest_field(obj, exc, cls)
            raise ManifestError(exc.message) from None
        if kind == "score" and not f.has("max_score"):
            raise ManifestError(f"{path}: missing field 'max_score'")
        fields = _check_question(
            path,
            f.raw("id"),
            f.raw("title"),
            f.raw("options"),
            kind,
            f.raw("min"),
            f.raw("max"),
            f.raw("max_score", 1),
        )
        return cls(**fields)

    @classmethod
    def _mixed_from_json(cls, obj: Any, path: str, kind: str) -> Question:
        required = ("id", "title", "options", "kind") + (
            ("method",) if kind == "ranked" else ("grades",)
        )
        optional = ("seats",) if kind == "ranked" else ("method",)
        try:
            f = Fields(obj, path, required=required, optional=optional)
        except SchemaError as exc:
            raise ManifestError(exc.message) from None
        fields = _check_question(
            path,
            f.raw("id"),
            f.raw("title"),
            f.raw("options"),
            kind,
            0,
            0,
            1,
            f.raw("method", None),
            f.raw("seats", None),
            f.raw("grades", ()),
        )
        return cls(**fields)

    def to_json(self) -> dict[str, Any]:
        """Every field of the kind, always (one spelling of each question)."""
        if self.kind == "ranked":
            return {
                "id": self.id,
                "title": _text_json(self.title),
                "options": [_text_json(o) for o in self.options],
                "kind": self.kind,
                "method": self.method,
            } | ({} if self.seats is None else {"seats": self.seats})
        if self.kind == "grades":
            return {
                "id": self.id,
                "title": _text_json(self.title),
                "options": [_text_json(o) for o in self.options],
                "kind": self.kind,
                "grades": [g.to_json() for g in self.grades],
            }
        return {
            "id": self.id,
            "title": _text_json(self.title),
            "options": [_text_json(o) for o in self.options],
            "kind": self.kind,
            "min": self.min,
            "max": self.max,
            "max_score": self.max_score,
        }


def _check_manifest(
    path: str, election_id: Any, title: Any, questions: Any, description: Any, version: Any
) -> dict[str, Any]:
    try:
        check_election_id(election_id, f"{path}.election_id")
    except SchemaError as exc:
        raise ManifestError(exc.message) from None
    title = _text(title, f"{path}.title", max_len=MAX_TITLE)
    description = _text(
        description, f"{path}.description", max_len=MAX_DESCRIPTION, allow_empty=True
    )
    if _int(version, f"{path}.version") != MANIFEST_VERSION:
        raise ManifestError(f"{path}.version: must be {MANIFEST_VERSION}")
    if not isinstance(questions, list | tuple):
        raise ManifestError(f"{path}.questions: expected a list")
    if not 1 <= len(questions) <= MAX_QUESTIONS:
        raise ManifestError(
            f"{path}.questions: expected between 1 and {MAX_QUESTIONS} questions, "
            f"got {len(questions)}"
        )
    seen: dict[str, int] = {}
    for i, q in enumerate(questions):
        if not isinstance(q, Question):
            raise TypeError(f"{path}.questions[{i}] must be a Question")
        if q.id in seen:
            raise ManifestError(
                f"{path}.questions[{i}].id: duplicate question id {q.id!r} "
                f"(same as {path}.questions[{seen[q.id]}])"
            )
        seen[q.id] = i
    branches = sum(q.proof_branches for q in questions)
    if branches > MAX_BALLOT_BRANCHES:
        raise ManifestError(
            f"{path}.questions: a ballot would carry {branches} proof branches; "
            f"at most {MAX_BALLOT_BRANCHES} are allowed"
        )
    return {
        "election_id": election_id,
        "title": title,
        "questions": tuple(questions),
        "description": description,
        "version": version,
    }


@dataclass(frozen=True)
class Manifest:
    """What the election asks.  Validated at construction (:class:`ManifestError`)."""

    election_id: str
    title: Text
    questions: tuple[Question, ...]
    description: Text = ""
    version: int = MANIFEST_VERSION
    #: Optional k-of-n witness policy (docs/witness.md); None = no witnesses
    #: required.  Omitted from the JSON when None, so manifests without it keep
    #: their digest.
    witnesses: WitnessPolicy | None = None
    #: The mixers of the ranked and graded questions, in mixing order; None =
    #: the trustees mix (:meth:`mixers_or`).  Omitted from the JSON when None,
    #: so manifests without it keep their digest.
    mixers: tuple[MixerKey, ...] | None = None
    #: The voting window (RFC 3339 UTC strings, :mod:`evote.schedule`); None =
    #: opened and closed by the official only.  Omitted from the JSON when None,
    #: so manifests without them keep their digest.
    opens_at: str | None = None
    closes_at: str | None = None

    def __post_init__(self) -> None:
        fields = _check_manifest(
            "manifest",
            self.election_id,
            self.title,
            self.questions,
            self.description,
            self.version,
        )
        for name, value in fields.items():
            object.__setattr__(self, name, value)
        if self.witnesses is not None and not isinstance(self.witnesses, WitnessPolicy):
            raise ManifestError("manifest.witnesses: expected a WitnessPolicy")
        if self.mixers is not None:
            if not self.mixed_questions:
                raise ManifestError(
                    "manifest.mixers: only for an election with a ranked or grades question"
                )
            if not all(isinstance(m, MixerKey) for m in self.mixers):
                raise ManifestError("manifest.mixers: expected MixerKey values")
            try:
                object.__setattr__(self, "mixers", check_mixers(self.mixers))
            except SchemaError as exc:
                raise ManifestError(f"manifest.mixers: {exc.message}") from None
        check_window(self.opens_at, self.closes_at)

    @classmethod
    def from_json(cls, obj: Any) -> Manifest:
        """Parse strictly: exact key set, every rule checked, errors name the field.

        ``description`` (default ``""``) and ``version`` (default 1) may be
        omitted; :meth:`to_json` always writes them, and the digest is taken
        over :meth:`to_json`, so both spellings have the same digest.
        """
        path = "manifest"
        try:
            f = Fields(
                obj,
                path,
                required=("election_id", "title", "questions"),
                optional=("description", "version", "witnesses", "mixers", "opens_at", "closes_at"),
            )
        except SchemaError as exc:
            _suggest_field(obj, exc, cls)
            raise ManifestError(exc.message) from None
        raw_questions = f.raw("questions")
        if not isinstance(raw_questions, list):
            raise ManifestError(f"{path}.questions: expected a list")
        if len(raw_questions) > MAX_QUESTIONS:
            raise ManifestError(
                f"{path}.questions: expected between 1 and {MAX_QUESTIONS} questions, "
                f"got {len(raw_questions)}"
            )
        questions = [
            Question.from_json(q, f"{path}.questions[{i}]") for i, q in enumerate(raw_questions)
        ]
        fields = _check_manifest(
            path,
            f.raw("election_id"),
            f.raw("title"),
            questions,
            f.raw("description", ""),
            f.raw("version", MANIFEST_VERSION),
        )
        witnesses = None
        if f.has("witnesses"):
            try:
                witnesses = WitnessPolicy.from_json(f.raw("witnesses"), f"{path}.witnesses")
            except SchemaError as exc:
                raise ManifestError(exc.message) from None
        mixers = None
        if f.has("mixers"):
            raw = f.raw("mixers")
            if not isinstance(raw, list):
                raise ManifestError(f"{path}.mixers: expected a list")
            try:
                mixers = tuple(
                    MixerKey.from_json(m, f"{path}.mixers[{i}]") for i, m in enumerate(raw)
                )
            except SchemaError as exc:
                raise ManifestError(exc.message) from None
            except EncodingError as exc:
                raise ManifestError(exc.message) from None
        return cls(**fields, witnesses=witnesses, mixers=mixers,
                   opens_at=f.raw("opens_at", None), closes_at=f.raw("closes_at", None))

    def to_json(self) -> dict[str, Any]:
        return {
            "version": self.version,
            "election_id": self.election_id,
            "title": _text_json(self.title),
            "description": _text_json(self.description),
            "questions": [q.to_json() for q in self.questions],
        } | ({} if self.witnesses is None else {"witnesses": self.witnesses.to_json()}) | (
            {} if self.mixers is None else {"mixers": [m.to_json() for m in self.mixers]}
        ) | {k: v for k, v in (("opens_at", self.opens_at), ("closes_at", self.closes_at))
             if v is not None}

    @property
    def mixed_questions(self) -> tuple[int, ...]:
        """Indices of the ranked and graded questions (counted after the mixnet)."""
        return tuple(i for i, q in enumerate(self.questions) if q.is_mixed)

    @property
    def tallied_questions(self) -> tuple[int, ...]:
        """Indices of the choice and score questions (the homomorphic tally's, in order)."""
        return tuple(i for i, q in enumerate(self.questions) if not q.is_mixed)

    def mixers_or(self, trustees: Sequence[VerifyKey]) -> tuple[MixerKey, ...]:
        """The mixers in mixing order: the manifest's list, or else trustee i as mixer i."""
        if self.mixers is not None:
            return self.mixers
        return tuple(MixerKey(i, key) for i, key in enumerate(trustees, start=1))

    def canonical(self) -> bytes:
        """RFC 8785 bytes of :meth:`to_json`: what is published and hashed."""
        return canonical_json(self.to_json())

    def digest(self) -> bytes:
        """``tagged_hash(TAG_MANIFEST, canonical())``: the manifest's 32-byte name."""
        return tagged_hash(TAG_MANIFEST, self.canonical())

    def label(self, lang: str | None = None) -> str:
        """The election title in ``lang``."""
        return text_in(self.title, lang)

    def description_in(self, lang: str | None = None) -> str:
        return text_in(self.description, lang)

    def question(self, question_id: str) -> Question:
        """The question with this id (KeyError if none)."""
        for q in self.questions:
            if q.id == question_id:
                return q
        raise KeyError(question_id)


def _suggest_field(obj: Any, exc: SchemaError, cls: type) -> None:
    """Report a mistyped field name (``minimum:`` for ``min:``) as what it is.

    The strict reader stops at the first missing field ("missing field 'min'"),
    which sends the author looking for something they did write.  When a key
    that ``cls`` does not know is a near name of the missing one (difflib, or
    one a prefix of the other), say so instead."""
    m = re.fullmatch(r"(.*): missing field '([a-z_]+)'", exc.message)
    if m is None or not isinstance(obj, dict):
        return
    path, missing = m.groups()
    known = {f.name for f in dataclasses.fields(cls)}
    for key in sorted(k for k in obj if isinstance(k, str) and k not in known):
        if (difflib.SequenceMatcher(None, key, missing).ratio() >= 0.6
                or key.startswith(missing) or missing.startswith(key)):
            raise ManifestError(f"{path}: unknown field {key!r} (did you mean {missing!r}?)")
