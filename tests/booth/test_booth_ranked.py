"""Ranked and graded questions in the web booth, in a real browser (issue 16).

Debian's Chromium (Playwright) against a real ballot server with an election
whose manifest has a ranked question (IRV) and a graded one (majority
judgment).  A voter ranks and grades by keyboard only, reviews the ranking in
words, and casts; the server accepts the ballot (the generic cast path checks
its range proofs 0..k and 0..G-1).  An ill-formed ranking (a repeated rank, a
gap) is refused on screen with a message that says what is wrong.  A ranked
ballot is audited (the booth's verdict and the revealed ranking in words).
axe-core finds nothing on the ranking, review and audit screens in English
and Russian, and a 360 px phone needs no horizontal scrolling.  The count
after the mixnet is not part of this (no tally here).
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support import booth_browser
from tests.support.booth_browser import CHROMIUM, make_booth_election, sign_in_by_keyboard
from tests.support.cli_server import Server, start_server

ROOT = Path(__file__).resolve().parents[2]
BUNDLE = ROOT / "ballot_server" / "static" / "booth.js"

if not os.path.exists(CHROMIUM) and not os.environ.get("CI"):
    pytest.skip(f"{CHROMIUM} is not installed (apt-get install chromium)", allow_module_level=True)

from tests.booth.test_booth_browser import (  # noqa: E402  (after the skip: it needs Playwright)
    ARTIFACTS,
    audit_screen,
    enter_code,
    new_page,
    sign_in,
    tab_to,
)

pytestmark = pytest.mark.slow
browser = booth_browser.browser

RANKED_MANIFEST: dict[str, Any] = {
    "version": 1,
    "title": {"en": "Riverside council", "ru": "Совет набережной"},
    "description": {"en": "Rank and grade.", "ru": "Ранжируйте и оцените."},
    "questions": [
        {"id": "mayor", "title": {"en": "Rank the candidates for mayor", "ru": "Расставьте кандидатов в мэры"},
         "kind": "ranked", "method": "irv",
         "options": [{"en": "Ada", "ru": "Ада"}, {"en": "Boris", "ru": "Борис"}, {"en": "Chen", "ru": "Чэнь"}]},
        {"id": "plans", "title": {"en": "Grade each plan", "ru": "Оцените каждый план"},
         "kind": "grades",
         "options": [{"en": "Tram", "ru": "Трамвай"}, {"en": "Parks", "ru": "Парки"}],
         "grades": [{"en": "Reject", "ru": "Отвергнуть"}, {"en": "Fair", "ru": "Удовлетворительно"},
                    {"en": "Good", "ru": "Хорошо"}, {"en": "Excellent", "ru": "Отлично"}]},
    ],
}
CANDIDATES = ("Ada", "Boris", "Chen")


@pytest.fixture(scope="module")
def server(tmp_path_factory) -> Iterator[Server]:
    assert BUNDLE.exists(), "the booth bundle is not built: run `make install`"
    yield from start_server(tmp_path_factory.mktemp("booth-ranked-server"))


def ranked_election(server: Server, work: Path, election_id: str, voters: int = 1) -> Any:
    return make_booth_election(server.url, server.keys / "official.key", work, election_id,
                               voters=voters, manifest=RANKED_MANIFEST)


def rank(page: Any, ranks: dict[str, int]) -> None:
    """{'Ada': 2, 'Boris': 1}: the others are left unranked (—)."""
    for name in CANDIDATES:
        page.get_by_label(name, exact=True).select_option(str(ranks.get(name, 0)))


def grade(page: Any, grades: dict[str, str]) -> None:
    for option, name in grades.items():
        page.get_by_role("group", name=option, exact=True).get_by_label(name, exact=True).check()


def question_error(page: Any, qi: int) -> str:
    box = page.locator(f"#qerr-{qi}")
    return "" if box.is_hidden() else box.inner_text()


def cast_and_check(page: Any) -> None:
    page.get_by_role("button", name="Cast this ballot").click()
    page.get_by_role("heading", name="Your ballot is cast").wait_for()
    page.get_by_role("button", name="Check my ballot on the board").click()
    page.get_by_role("button", name="Check", exact=True).click()
    verdict = page.get_by_test_id("check-verdict")
    verdict.wait_for()
    assert verdict.inner_text() == "Your ballot is on the board: every check passed."


# --- unhappy paths first ------------------------------------------------------------------


def test_an_ill_formed_ranking_is_refused_on_screen(server, browser, tmp_path) -> None:
    e = ranked_election(server, tmp_path / "e", "ranked-bad")
    page = new_page(browser)
    sign_in(page, e, e.voters[0])
    enter_code(page, e.voters[0].code)
    page.get_by_role("heading", name="Your ballot").wait_for()
    # A repeated rank is said at once, naming the rank and the options.
    rank(page, {"Ada": 1, "Boris": 1})
    assert question_error(page, 0) == (
        "1st is given to more than one option (Ada, Boris): give each rank to one option only.")
    assert page.get_by_label("Ada", exact=True).get_attribute("aria-invalid") == "true"
    page.get_by_role("button", name="Review my choices").click()
    assert page.get_by_role("heading", name="Your ballot").is_visible()
    assert page.evaluate("document.activeElement.id") == "q0-o0"  # focus on the broken question
    # A gap (1st, then 3rd) is refused too once the voter asks to review.
    rank(page, {"Ada": 1, "Boris": 3})
    assert question_error(page, 0) == (
        "No option is ranked 2nd, but one is ranked 3rd: "
        "use the ranks in order (1st, 2nd, 3rd…) without skipping one.")
    page.get_by_role("button", name="Review my choices").click()
    assert page.get_by_role("heading", name="Your ballot").is_visible()
    assert page.get_by_role("heading", name="Review your choices").count() == 0
    # Fixed: the message goes, and the review shows the ranking in words.
    rank(page, {"Ada": 1, "Boris": 2})
    assert question_error(page, 0) == ""
    page.get_by_role("button", name="Review my choices").click()
    page.get_by_role("heading", name="Review your choices").wait_for()
    items = page.locator("dl.review ol.ranking li").all_inner_texts()
    assert items == ["1st: Ada", "2nd: Boris"]
    assert page.js_errors == []


# --- the vote -------------------------------------------------------------------------------


def test_keyboard_only_ranked_and_graded_vote(server, browser, tmp_path) -> None:
    e = ranked_election(server, tmp_path / "e", "ranked-keys")
    v = e.voters[0]
    page = new_page(browser)
    page.goto(e.booth_url)
    sign_in_by_keyboard(page, v.login, v.code)
    # Chen 1st, Ada 2nd, Boris unranked: arrow keys on each rank select.
    tab_to(page, "Ada")
    page.keyboard.press("ArrowDown")
    page.keyboard.press("ArrowDown")
    tab_to(page, "Chen")
    page.keyboard.press("ArrowDown")
    live = page.locator("#count-0")
    assert live.get_attribute("aria-live") == "polite"
    assert live.inner_text() == "2 options ranked. Your ranking: 1st: Chen, 2nd: Ada."
    # Tram: from "Reject" two to the right is "Good"; Parks: one to the right, "Fair".
    tab_to(page, "Reject")
    page.keyboard.press("ArrowRight")
    page.keyboard.press("ArrowRight")
    page.keyboard.press("Tab")
    page.keyboard.press("ArrowRight")
    tab_to(page, "Review my choices")
    page.keyboard.press("Enter")
    page.get_by_role("heading", name="Review your choices").wait_for()
    assert page.locator("dl.review ol.ranking li").all_inner_texts() == ["1st: Chen", "2nd: Ada"]
    assert page.locator("dl.review ul li").all_inner_texts() == ["Tram — Good", "Parks — Fair"]
    tab_to(page, "Encrypt my ballot")
    page.keyboard.press("Enter")
    page.get_by_role("heading", name="Your ballot is encrypted").wait_for()
    tab_to(page, "Cast this ballot")
    page.keyboard.press("Enter")
    page.get_by_role("heading", name="Your ballot is cast").wait_for()
    assert page.js_errors == []


def test_a_ranked_ballot_is_audited_then_cast(server, browser, tmp_path) -> None:
    e = ranked_election(server, tmp_path / "e", "ranked-audit")
    page = new_page(browser)
    sign_in(page, e, e.voters[0])
    enter_code(page, e.voters[0].code)
    page.get_by_role("heading", name="Your ballot").wait_for()
    rank(page, {"Boris": 1, "Chen": 2, "Ada": 3})
    grade(page, {"Tram": "Excellent", "Parks": "Reject"})
    page.get_by_role("button", name="Review my choices").click()
    page.get_by_role("button", name="Encrypt my ballot").click()
    page.get_by_role("heading", name="Your ballot is encrypted").wait_for()
    page.get_by_role("button", name="Audit this ballot").click()
    page.get_by_role("heading", name="Audited ballot").wait_for()
    assert "this device encrypted faithfully" in page.get_by_test_id("audit-verdict").inner_text()
    assert page.locator("dl.review ol.ranking li").all_inner_texts() == ["1st: Boris", "2nd: Chen", "3rd: Ada"]
    assert page.locator("dl.review ul li").all_inner_texts() == ["Tram — Excellent", "Parks — Reject"]
    # The audit data the booth offers reveals exactly these ranks and grades.
    with page.expect_download() as info:
        page.get_by_role("link", name="Download the audit data").click()
    audited = json.loads(Path(info.value.path()).read_text())
    assert audited["selections"] == [[3, 1, 2], [3, 0]]
    page.get_by_role("button", name="Encrypt my ballot again").click()
    page.get_by_role("heading", name="Your ballot is encrypted").wait_for()
    cast_and_check(page)
    assert page.js_errors == []


# --- accessibility, the phone and Russian --------------------------------------------------


def test_ranking_review_and_audit_screens_are_accessible(server, browser, tmp_path) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    e = ranked_election(server, tmp_path / "e", "ranked-a11y")
    page = new_page(browser, width=360)
    sign_in(page, e, e.voters[0])
    enter_code(page, e.voters[0].code)
    page.get_by_role("heading", name="Your ballot").wait_for()
    rank(page, {"Ada": 2, "Chen": 2})
    page.get_by_role("button", name="Review my choices").click()
    audit_screen(page, "r1-ranking-errors", "English")
    page.get_by_role("button", name="Русский").click()
    assert question_error(page, 0) == (
        "2-е место дано нескольким вариантам (Ада, Чэнь): каждое место можно дать только одному варианту.")
    page.get_by_role("button", name="English").click()
    rank(page, {"Ada": 2, "Chen": 1})
    grade(page, {"Tram": "Good"})
    audit_screen(page, "r2-ranking", "English")
    # In Russian: the rule, the ranks and the grade names in the voter's language.
    page.get_by_role("button", name="Русский").click()
    main = page.locator("main").inner_text()
    assert "Расставьте варианты в порядке предпочтения" in main
    assert "Ваш порядок мест: 1-е: Чэнь, 2-е: Ада." in main
    assert page.get_by_role("group", name="Трамвай", exact=True).get_by_label("Хорошо", exact=True).is_checked()
    page.get_by_role("button", name="Просмотреть выбор").click()
    page.get_by_role("heading", name="Просмотрите свой выбор").wait_for()
    assert page.locator("dl.review ol.ranking li").all_inner_texts() == ["1-е: Чэнь", "2-е: Ада"]
    assert page.locator("dl.review ul li").all_inner_texts() == ["Трамвай — Хорошо", "Парки — Отвергнуть"]
    page.get_by_role("button", name="English").click()
    audit_screen(page, "r3-review", "English")
    page.get_by_role("button", name="Encrypt my ballot").click()
    page.get_by_role("heading", name="Your ballot is encrypted").wait_for()
    page.get_by_role("button", name="Audit this ballot").click()
    page.get_by_role("heading", name="Audited ballot").wait_for()
    audit_screen(page, "r4-audited", "English")
    assert page.js_errors == []
