"""The booth of a scheduled election in Chromium: the "not open yet" screen shows when
voting opens and closes, in the voter's language and time zone, and stays accessible
(axe-core, 360 px) in English and Russian."""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import pytest

from tests.support import booth_browser
from tests.support.booth_browser import CHROMIUM
from tests.support.cli_server import Server, make_election, start_server

if not os.path.exists(CHROMIUM) and not os.environ.get("CI"):
    pytest.skip(f"{CHROMIUM} is not installed (apt-get install chromium)", allow_module_level=True)

pytestmark = pytest.mark.slow
browser = booth_browser.browser

OPENS, CLOSES = "2031-12-14T08:00:00Z", "2031-12-14T20:00:00Z"


@pytest.fixture(scope="module")
def server(tmp_path_factory) -> Iterator[Server]:
    yield from start_server(tmp_path_factory.mktemp("schedule-booth"))


def test_not_open_screen_shows_the_window_in_the_voters_language(server, browser, tmp_path) -> None:
    from tests.booth.test_booth_browser import audit_screen

    e = make_election(server, tmp_path, "sched-booth", open_it=False,
                      extra_manifest={"opens_at": OPENS, "closes_at": CLOSES})
    context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="ru-RU",
                                  timezone_id="Europe/Moscow")
    page: Any = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.goto(f"{server.url}/booth/{e.id}")
    schedule = page.get_by_test_id("schedule")
    schedule.wait_for()
    # Russian (the browser's language), in Moscow time (UTC+3)
    assert page.evaluate("document.documentElement.lang") == "ru"
    text = schedule.inner_text()
    assert "Голосование открывается" in text and "14 декабря 2031" in text
    assert "11:00" in text and "23:00" in text, text
    page.get_by_role("button", name="English").click()
    text = page.get_by_test_id("schedule").inner_text()
    assert "Voting opens" in text and "December 14, 2031" in text, text
    assert "11:00" in text or "11:00\u202fAM" in text, text
    audit_screen(page, "schedule-notopen", "English")
    assert errors == []
    context.close()
