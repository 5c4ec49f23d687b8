"""The HTML front door (ballot_server/site.py): ``/`` and ``/booth/`` list the
elections in English and Russian; ``/booth/<id>/`` is the booth page.

The markup is checked structurally here (lang, one h1, landmarks, a labelled
language switch, a heading and a link per election, no script), and with
axe-core in Debian's Chromium in both languages at 360 and 1280 px.
"""

from __future__ import annotations

import contextlib
import json
import os
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest

from ballot_server.booth_assets import STATIC
from tests import api_election
from tests.api_election import ApiElection

api_db = api_election.api_db
api_app = api_election.api_app
api_client = api_election.api_client
election = api_election.election

ROOT = Path(__file__).resolve().parent.parent
ARTIFACTS = ROOT / "test-artifacts" / "site"


class Outline(HTMLParser):
    """The parts of a page the checks look at."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.text: list[str] = []
        self._in: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))

    def handle_data(self, data: str) -> None:
        if data.strip():
            self.text.append(data.strip())

    def all(self, tag: str) -> list[dict[str, str | None]]:
        return [a for t, a in self.tags if t == tag]


def outline(response: Any) -> Outline:
    assert response.status_code == 200, response.data[:300]
    assert response.mimetype == "text/html"
    parsed = Outline()
    parsed.feed(response.get_data(as_text=True))
    return parsed


def test_the_catalogues_have_the_same_keys() -> None:
    en = json.loads((STATIC / "i18n" / "site-en.json").read_text())
    ru = json.loads((STATIC / "i18n" / "site-ru.json").read_text())
    assert en.keys() == ru.keys()
    for phase in ("setup", "open", "closed", "tallied"):
        assert f"site.phase.{phase}" in en and f"site.action.{phase}" in en
    assert all(en[k] != ru[k] for k in en)  # every string translated


@pytest.mark.parametrize("path", ["/", "/booth/"])
def test_the_root_lists_the_elections_in_english(election: ApiElection, path: str) -> None:
    page = outline(election.client.get(path, headers={"Accept-Language": "en-GB,en;q=0.9"}))
    html = page.all("html")[0]
    assert html["lang"] == "en"
    assert len(page.all("h1")) == 1
    assert page.all("main") and page.all("header") and page.all("footer")
    navs = page.all("nav")
    assert navs and navs[0]["aria-label"] == "Language"
    assert not page.all("script")  # plain HTML: works before any script loads
    links = [a["href"] for a in page.all("a")]
    assert f"/booth/{election.election_id}/" in links
    items = [a for a in page.all("li") if a.get("data-election") == election.election_id]
    assert items and items[0]["data-phase"] == "open"
    assert "open for voting" in page.text and "Vote in this election" in page.text
    assert "Elections on this server" in page.text


def test_the_root_in_russian(election: ApiElection) -> None:
    by_query = outline(election.client.get("/?lang=ru"))
    by_header = outline(election.client.get("/", headers={"Accept-Language": "ru-RU,ru;q=0.9"}))
    for page in (by_query, by_header):
        assert page.all("html")[0]["lang"] == "ru"
        assert "Голосования на этом сервере" in page.text
        assert "идёт голосование" in page.text and "Голосовать" in page.text
        assert page.all("nav")[0]["aria-label"] == "Язык"
    # The language switch names each language in itself and marks the current one.
    langs = [a for a in by_query.all("a") if a.get("hreflang")]
    assert {(a["lang"], a.get("aria-current")) for a in langs} == {("en", None), ("ru", "page")}
    response = election.client.get("/?lang=ru")
    assert response.headers["Content-Language"] == "ru"
    assert "Accept-Language" in response.headers["Vary"]


def test_an_unknown_language_falls_back_to_english(election: ApiElection) -> None:
    page = outline(election.client.get("/?lang=xx", headers={"Accept-Language": "de"}))
    assert page.all("html")[0]["lang"] == "en"


def test_each_state_is_named(election: ApiElection) -> None:
    election.close()
    page = outline(election.client.get("/?lang=en"))
    item = [a for a in page.all("li") if a.get("data-election") == election.election_id][0]
    assert item["data-phase"] == "closed"
    assert "closed, being counted" in page.text


def test_the_page_escapes_titles(api_client) -> None:
    """A manifest title is the official's text, never markup."""
    from tests.api_election import MANIFEST, build_election

    e = build_election(api_client, manifest={**MANIFEST, "title": "<b>x</b> & <script>"})
    body = api_client.get("/").get_data(as_text=True)
    assert "&lt;b&gt;x&lt;/b&gt; &amp; &lt;script&gt;" in body
    assert "<script>" not in body
    assert e.election_id in body


def test_the_booth_answers_with_a_trailing_slash(election: ApiElection) -> None:
    for path in (f"/booth/{election.election_id}", f"/booth/{election.election_id}/"):
        response = election.client.get(path)
        assert response.status_code == 200, path
        assert response.mimetype == "text/html"
        assert f'data-election="{election.election_id}"' in response.get_data(as_text=True)
    # An id that could never exist is still the JSON 404, with or without the slash.
    for path in ("/booth/Not_An_Id/", "/booth/Not_An_Id"):
        response = election.client.get(path)
        assert response.status_code == 404 and response.get_json()["code"] == "not_found"


def test_every_html_page_carries_the_security_headers(election: ApiElection) -> None:
    response = election.client.get("/")
    assert "script-src 'self'" in response.headers["Content-Security-Policy"]
    assert response.headers["X-Content-Type-Options"] == "nosniff"


# --- axe-core in a real browser -------------------------------------------------------------


@pytest.mark.slow
@pytest.mark.skipif(
    not os.path.exists(os.environ.get("EVOTE_CHROMIUM", "/usr/bin/chromium")),
    reason="chromium is not installed",
)
def test_the_list_is_accessible_in_both_languages(tmp_path: Path) -> None:
    from axe_playwright_python.sync_playwright import Axe

    from tests.booth_browser import chromium, make_booth_election
    from tests.cli_server import start_server

    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    (tmp_path / "server").mkdir()
    with contextlib.contextmanager(start_server)(tmp_path / "server") as server:
        make_booth_election(server.url, server.keys / "official.key", tmp_path / "e", "site-a11y",
                            voters=1)
        with chromium() as browser:
            context = browser.new_context(viewport={"width": 1280, "height": 800})
            page = context.new_page()
            errors: list[str] = []
            page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
            axe = Axe()
            for lang in ("en", "ru"):
                page.goto(f"{server.url}/?lang={lang}")
                assert page.evaluate("document.documentElement.lang") == lang
                page.get_by_role("heading", level=1).wait_for()
                results = axe.run(page)
                assert results.violations_count == 0, results.generate_report()
                assert len(results.response["passes"]) > 10
                for width in (360, 1280):
                    page.set_viewport_size({"width": width, "height": 800})
                    assert page.evaluate("document.documentElement.scrollWidth") <= width
                    page.screenshot(path=str(ARTIFACTS / f"elections-{lang}-{width}.png"),
                                    full_page=True)
                page.set_viewport_size({"width": 1280, "height": 800})
            # The election's link leads to its booth.
            page.goto(f"{server.url}/")
            page.get_by_role("link", name="Vote in this election").first.click()
            page.wait_for_url(f"{server.url}/booth/site-a11y/")
            assert page.locator("#booth[data-election='site-a11y']").count() == 1
            assert not errors, errors
