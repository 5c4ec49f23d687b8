"""The public pages in Debian's Chromium (Playwright): the in-browser tracking-code
check, a tampered proof, the no-script fallback, axe-core, 360 px, CSP, origins.

A real server (gunicorn, ``evote serve``) with two elections made through the
CLI's own functions: one open with a ballot cast by ``evote vote``, one tallied.
The tampering tests change the server's real answer on its way to the page
(``page.route``): a flipped byte in the inclusion proof must be shown as the
failed proof check, a flipped byte in the tree head's signature as the failed
signature check -- the page has no other way to know than checking.
"""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from evote.encoding import b64decode, b64encode

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        not os.path.exists(os.environ.get("EVOTE_CHROMIUM", "/usr/bin/chromium")),
        reason="chromium is not installed",
    ),
]

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts" / "public-pages"

POLL = {
    "version": 1,
    "title": {"en": "Riverside park", "ru": "Парк у реки"},
    "description": {"en": "Which entrance first?", "ru": "Какой вход первым?"},
    "questions": [
        {"id": "park", "title": {"en": "Renovate which entrance?", "ru": "Какой вход обновить?"},
         "kind": "choice", "min": 1, "max": 1,
         "options": [{"en": "North", "ru": "Северный"}, {"en": "South", "ru": "Южный"}]},
    ],
}


@dataclass(frozen=True)
class Site:
    url: str
    open_id: str
    tallied_id: str
    code: str  # the tracking code of a ballot on the open election's board


def _cast(server: Any, e: Any, voter: int, choice: int, work: Path) -> str:
    from tests.support.cli_server import invoke

    v = e.voters[voter]
    receipt = work / f"receipt-{e.id}-{voter}.json"
    result = invoke(server, "vote", "--login", _login_file(work, e, v), "--credential", v.credential_file,
                    "--choices", f"park={choice}", "--receipt", receipt, "--yes")
    assert result.exit_code == 0, result.output
    return json.loads(receipt.read_text())["tracking_code"]


def _login_file(work: Path, e: Any, voter: Any) -> Path:
    return work / e.id / "logins" / f"{voter.voter_id}.login"


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    from tests.support.booth_browser import make_booth_election, tally
    from tests.support.cli_server import start_server

    work = tmp_path_factory.mktemp("public-pages")
    (work / "server").mkdir()
    with contextlib.contextmanager(start_server)(work / "server") as server:
        official = server.keys / "official.key"
        opened = make_booth_election(server.url, official, work / "pp-open", "pp-open",
                                     voters=2, manifest=POLL)
        code = _cast(server, opened, 0, 1, work)
        counted = make_booth_election(server.url, official, work / "pp-tallied", "pp-tallied",
                                      voters=2, manifest=POLL)
        _cast(server, counted, 0, 2, work)
        _cast(server, counted, 1, 2, work)
        assert tally(counted) == [[0, 2]]
        yield Site(server.url, opened.id, counted.id, code)


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    from tests.support.booth_browser import chromium

    with chromium() as b:
        yield b


@contextlib.contextmanager
def new_page(browser: Any, *, width: int = 1280, js: bool = True) -> Iterator[tuple[Any, Any]]:
    from tests.support.booth_browser import RequestLog

    context = browser.new_context(viewport={"width": width, "height": 900}, java_script_enabled=js)
    log = RequestLog()
    log.attach(context)
    page = context.new_page()
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    try:
        yield page, (log, errors)
    finally:
        context.close()


def check_code(page: Any, code: str) -> Any:
    """Type the code and press Enter (keyboard only); return the verdict element."""
    page.locator("#tracking-code").focus()  # labelled "Tracking code" / "Код отслеживания"
    page.keyboard.type(code)
    page.keyboard.press("Enter")
    verdict = page.locator("#check-output [data-verdict]:not([data-verdict=checking])")
    verdict.wait_for(timeout=20000)
    return verdict


def open_election(page: Any, site: Site, election_id: str, lang: str = "en") -> None:
    page.goto(f"{site.url}/elections/{election_id}/?lang={lang}")
    page.wait_for_selector("#check-form[data-ready=true]")


# --- unhappy paths ------------------------------------------------------------------------


def test_a_code_not_on_the_board_is_said_so(site: Site, browser: Any) -> None:
    with new_page(browser) as (page, (log, errors)):
        open_election(page, site, site.open_id)
        verdict = check_code(page, "NOTONTHEBOARD")
        assert verdict.get_attribute("data-verdict") == "not-found"
        assert "No ballot with this tracking code is on the board." in verdict.inner_text()
        assert not log.foreign(site.url)
        # The only console error is the browser noting the lookup's 404 answer.
        assert all("status of 404" in e for e in errors), errors


def test_a_tampered_proof_is_a_failed_check(site: Site, browser: Any) -> None:
    """One byte of the real inclusion proof flipped on its way: the proof check fails."""
    with new_page(browser) as (page, (log, _errors)):
        tampered: list[str] = []

        def flip_proof(route: Any) -> None:
            response = route.fetch()
            body = response.json()
            assert body["proof"], "the ballot's proof must have a node to tamper with"
            node = bytearray(b64decode(body["proof"][0]))
            node[0] ^= 0x01
            body["proof"][0] = b64encode(bytes(node))
            tampered.append(route.request.url)
            route.fulfill(response=response, body=json.dumps(body))

        page.route("**/inclusion?tracking_code=*", flip_proof)
        open_election(page, site, site.open_id)
        verdict = check_code(page, site.code)
        assert tampered  # the page really got the modified proof
        assert verdict.get_attribute("data-verdict") == "failed"
        assert verdict.get_attribute("data-reason") == "check.reason.proof"
        assert "the inclusion proof does not lead to the signed root" in verdict.inner_text()
        # The head's signature step passed before the proof failed; nothing else did.
        steps = page.locator("#check-output li").all_inner_texts()
        assert len(steps) == 1 and "is signed by the board key" in steps[0]


def test_a_tampered_tree_head_signature_is_a_failed_check(site: Site, browser: Any) -> None:
    with new_page(browser) as (page, _):

        def flip_signature(route: Any) -> None:
            response = route.fetch()
            body = response.json()
            sig = bytearray(b64decode(body["tree_head"]["signature"]))
            sig[10] ^= 0x80
            body["tree_head"]["signature"] = b64encode(bytes(sig))
            route.fulfill(response=response, body=json.dumps(body))

        page.route("**/inclusion?tracking_code=*", flip_signature)
        open_election(page, site, site.open_id)
        verdict = check_code(page, site.code)
        assert verdict.get_attribute("data-verdict") == "failed"
        assert verdict.get_attribute("data-reason") == "check.reason.signature"
        assert page.locator("#check-output li").count() == 0


def test_an_unreachable_server_is_not_a_verdict(site: Site, browser: Any) -> None:
    with new_page(browser) as (page, _):
        page.route("**/inclusion?tracking_code=*", lambda route: route.abort())
        open_election(page, site, site.open_id)
        verdict = check_code(page, site.code)
        assert verdict.get_attribute("data-verdict") == "error"
        assert "nothing was checked" in verdict.inner_text()


# --- the honest check ----------------------------------------------------------------------


@pytest.mark.parametrize("lang", ["en", "ru"])
def test_a_code_on_the_board_is_checked_in_the_browser(site: Site, browser: Any, lang: str) -> None:
    with new_page(browser, width=360) as (page, (log, errors)):
        open_election(page, site, site.open_id, lang)
        verdict = check_code(page, site.code.lower())  # typed in lower case, as people do
        assert verdict.get_attribute("data-verdict") == "ok"
        steps = page.locator("#check-output li").all_inner_texts()
        assert len(steps) == 3, steps
        if lang == "ru":
            assert page.evaluate("document.documentElement.lang") == "ru"
            assert "Проверить код отслеживания" in page.content()
        # The browser fetched the proof and the entry itself, from this origin only.
        urls = [r["url"] for r in log.requests]
        assert any("/inclusion?tracking_code=" in u for u in urls)
        assert any(f"/ballots/{site.code}" in u for u in urls)
        assert not log.foreign(site.url), log.foreign(site.url)
        assert page.evaluate("document.documentElement.scrollWidth") <= 360
        assert not errors, errors


def test_without_script_the_server_answers_and_says_so(site: Site, browser: Any) -> None:
    with new_page(browser, js=False) as (page, (log, _)):
        page.goto(f"{site.url}/elections/{site.open_id}/")
        page.get_by_role("textbox", name="Tracking code").fill(site.code)
        page.get_by_role("button", name="Check on the board").click()
        page.wait_for_url("**tracking_code=*")
        verdict = page.locator("#check-output [data-verdict]")
        assert verdict.get_attribute("data-verdict") == "server-present"
        assert "This answer is the server's word." in page.locator("#check-output").inner_text()
        # No script ran, yet the result table and chart of the tallied election are there.
        page.goto(f"{site.url}/elections/{site.tallied_id}/")
        assert page.locator("table[data-testid=result-0] tbody tr").count() == 2
        assert page.locator("svg[role=img]").count() == 1
        assert not log.foreign(site.url)


# --- accessibility, layout, headers and origins on every page --------------------------------


def test_every_page_is_accessible_narrow_and_same_origin(site: Site, browser: Any) -> None:
    from axe_playwright_python.sync_playwright import Axe

    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    axe = Axe()
    paths = {
        "list": "/",
        "open": f"/elections/{site.open_id}/",
        "tallied": f"/elections/{site.tallied_id}/",
        "board": f"/elections/{site.open_id}/board/?limit=5",
        "board-kind": f"/elections/{site.tallied_id}/board/?kind=ballot_cast",
        "missing": "/elections/no-such-poll/",
        "bad-query": f"/elections/{site.open_id}/board/?start=-1",
    }
    with new_page(browser) as (page, (log, errors)):
        for name, path in paths.items():
            for lang in ("en", "ru"):
                sep = "&" if "?" in path else "?"
                response = page.goto(f"{site.url}{path}{sep}lang={lang}")
                assert response is not None
                csp = response.headers["content-security-policy"]
                assert "script-src 'self'" in csp and "style-src 'self'" in csp, name
                assert page.evaluate("document.documentElement.lang") == lang
                assert page.locator("h1").count() == 1, name
                assert page.locator("main").count() == 1 and page.locator("nav").count() >= 1
                results = axe.run(page)
                assert results.violations_count == 0, (name, lang, results.generate_report())
                assert len(results.response["passes"]) > 10
                for width in (360, 1280):
                    page.set_viewport_size({"width": width, "height": 900})
                    scroll = page.evaluate("document.documentElement.scrollWidth")
                    assert scroll <= width, (name, lang, width, scroll)
                    page.screenshot(path=str(ARTIFACTS / f"{name}-{lang}-{width}.png"),
                                    full_page=True)
                page.set_viewport_size({"width": 1280, "height": 900})
        assert not log.foreign(site.url), log.foreign(site.url)
        # Stylesheets and the check's script load (their SRI hashes match), nothing is blocked.
        assert not [e for e in errors if "Refused" in e or "integrity" in e], errors
