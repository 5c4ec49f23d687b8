"""The web voting booth in a real browser (issue 6 acceptance).

Debian's Chromium (headless, via Playwright) against a real ballot server
(gunicorn on loopback, ``evote serve``), with an election set up through the
CLI's functions.  Voters use the booth as a person would:

* one casts and checks the receipt in the browser;
* one loads the credential file, audits (the audit data then passes
  ``evote-verify audit``), gets a fresh encryption and casts it;
* one casts and re-votes (only the last ballot may count);
* one mistypes the credential and is stopped by the checksum;
* one breaks a question's rules and is stopped by the inline messages;

then the election is closed and tallied, and the result must be exactly what
the browser voters chose.  Every request of every page is recorded: none may
carry the private credential in any spelling, and none may go to another
origin.  Separately: a keyboard-only vote, axe-core on every screen in both
languages, and screenshots at 360 and 1280 px under test-artifacts/booth/.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support import booth_browser
from tests.support.booth_browser import (
    CHROMIUM,
    RequestLog,
    Voter,
    make_booth_election,
    sign_in_by_keyboard,
    tally,
)
from tests.support.cli_server import Server, start_server

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts" / "booth"
BUNDLE = ROOT / "ballot_server" / "static" / "booth.js"

if not os.path.exists(CHROMIUM) and not os.environ.get("CI"):
    pytest.skip(f"{CHROMIUM} is not installed (apt-get install chromium)", allow_module_level=True)

pytestmark = pytest.mark.slow
browser = booth_browser.browser


@pytest.fixture(scope="module")
def server(tmp_path_factory) -> Iterator[Server]:
    assert BUNDLE.exists(), "the booth bundle is not built: run `make install`"
    yield from start_server(tmp_path_factory.mktemp("booth-server"))


pages: list[Any] = []


def new_page(browser: Any, log: RequestLog | None = None, width: int = 1280) -> Any:
    context = browser.new_context(viewport={"width": width, "height": 900}, accept_downloads=True,
                                  locale="en-GB")
    if log is not None:
        log.attach(context)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.js_errors = errors
    pages.append(page)
    return page


# --- the voter's steps, as a person does them ---------------------------------------------


def sign_in(page: Any, e: Any, voter: Voter) -> None:
    page.goto(e.booth_url)
    page.get_by_label("Login code").fill(voter.login)
    page.get_by_role("button", name="Sign in").click()
    page.get_by_role("heading", name="Your private credential").wait_for()


def enter_code(page: Any, code: str) -> None:
    page.get_by_label("Credential code").fill(code)
    page.get_by_role("button", name="Continue").click()


def mark(page: Any, choice: dict[str, Any]) -> None:
    """{'park': 'Yes', 'priorities': ['Lighting'], 'budget': {'Library': 2}}"""
    page.get_by_role("heading", name="Your ballot").wait_for()
    page.get_by_label(choice["park"], exact=True).check()
    for label in ("Cycle lanes", "Playgrounds", "Lighting", "Benches"):
        box = page.get_by_label(label, exact=True)
        if label in choice["priorities"]:
            box.check()
        else:
            box.uncheck()
    for label in ("Library", "Pool", "Tram"):
        page.get_by_label(label, exact=True).select_option(str(choice["budget"].get(label, 0)))


def encrypt(page: Any) -> str:
    page.get_by_role("button", name="Review my choices").click()
    page.get_by_role("heading", name="Review your choices").wait_for()
    page.get_by_role("button", name="Encrypt my ballot").click()
    page.get_by_role("heading", name="Your ballot is encrypted").wait_for()
    return page.get_by_test_id("tracking-code").inner_text()


def cast(page: Any) -> str:
    page.get_by_role("button", name="Cast this ballot").click()
    page.get_by_role("heading", name="Your ballot is cast").wait_for()
    return page.get_by_test_id("tracking-code").inner_text()


def check_receipt(page: Any) -> None:
    page.get_by_role("button", name="Check my ballot on the board").click()
    page.get_by_role("button", name="Check", exact=True).click()
    verdict = page.get_by_test_id("check-verdict")
    verdict.wait_for()
    assert verdict.inner_text() == "Your ballot is on the board: every check passed."
    assert page.locator(".check-results li").count() == 4


def vector(choice: dict[str, Any]) -> list[list[int]]:
    return [
        [int(choice["park"] == o) for o in ("Yes", "No")],
        [int(o in choice["priorities"]) for o in ("Cycle lanes", "Playgrounds", "Lighting", "Benches")],
        [choice["budget"].get(o, 0) for o in ("Library", "Pool", "Tram")],
    ]


# --- the acceptance run -------------------------------------------------------------------


def test_browser_voters_and_the_tally(server, browser, tmp_path) -> None:
    url, official = server.url, server.keys / "official.key"
    e = make_booth_election(url, official, tmp_path / "e", "booth-accept", voters=5)
    logs = [RequestLog() for _ in e.voters]
    final: list[dict[str, Any]] = []
    pages.clear()

    # 1. casts, then checks the receipt in the browser.
    v = e.voters[0]
    page = new_page(browser, logs[0])
    sign_in(page, e, v)
    enter_code(page, v.code)
    first = {"park": "Yes", "priorities": ["Cycle lanes"], "budget": {"Library": 2}}
    mark(page, first)
    sealed = encrypt(page)
    assert cast(page) == sealed  # the code shown before the decision is the one cast
    check_receipt(page)
    final.append(first)

    # 2. loads the credential file, audits, then casts a fresh encryption.
    v = e.voters[1]
    page = new_page(browser, logs[1])
    sign_in(page, e, v)
    page.get_by_label("Or load your credential file").set_input_files(str(v.credential_file))
    second = {"park": "No", "priorities": ["Playgrounds", "Lighting"], "budget": {"Pool": 3, "Tram": 2}}
    mark(page, second)
    audited_code = encrypt(page)
    page.get_by_role("button", name="Audit this ballot").click()
    page.get_by_role("heading", name="Audited ballot").wait_for()
    assert "this device encrypted faithfully" in page.get_by_test_id("audit-verdict").inner_text()
    assert page.get_by_role("img", name="QR code of the link to the audited ballot on the board").is_visible()
    with page.expect_download() as download:
        page.get_by_role("link", name="Download the audit data").click()
    audit_file = tmp_path / "audit.json"
    download.value.save_as(audit_file)
    page.get_by_role("button", name="Encrypt my ballot again").click()
    page.get_by_role("heading", name="Your ballot is encrypted").wait_for()
    fresh = page.get_by_test_id("tracking-code").inner_text()
    assert fresh != audited_code
    assert cast(page) == fresh
    final.append(second)
    verified = subprocess.run(
        [sys.executable, "-m", "verifier.main", "audit", str(audit_file), "--source", url,
         "--election", e.id],
        capture_output=True, text=True, timeout=300, check=False,
    )
    assert verified.returncode == 0, verified.stdout + verified.stderr
    assert "VERIFIED" in verified.stdout

    # 3. casts, then re-votes: only the second ballot may count.
    v = e.voters[2]
    page = new_page(browser, logs[2])
    sign_in(page, e, v)
    enter_code(page, v.code.lower().replace("-", " "))  # lenient reading of the code
    mark(page, {"park": "Yes", "priorities": ["Benches"], "budget": {}})
    encrypt(page)
    cast(page)
    assert "only your last ballot counts" in page.locator("main").inner_text()
    page.get_by_role("button", name="Vote again").click()
    third = {"park": "No", "priorities": ["Cycle lanes"], "budget": {"Tram": 1}}
    mark(page, third)
    encrypt(page)
    cast(page)
    final.append(third)

    # 4. mistypes the credential: the checksum catches it, with a clear message.
    v = e.voters[3]
    page = new_page(browser, logs[3])
    sign_in(page, e, v)
    chars = list(v.code)
    chars[5] = "Z" if chars[5] != "Z" else "Y"
    enter_code(page, "".join(chars))
    alert = page.locator("p.error[data-field='code']")
    alert.wait_for()
    assert "a character is probably mistyped" in alert.inner_text()
    assert page.get_by_label("Credential code").get_attribute("aria-invalid") == "true"
    enter_code(page, v.code[:-5])
    assert "it must have 54" in alert.inner_text()
    enter_code(page, v.code)
    fourth = {"park": "Yes", "priorities": ["Lighting"], "budget": {"Library": 1}}
    mark(page, fourth)
    encrypt(page)
    cast(page)
    final.append(fourth)

    # 5. breaks the rules: too many priorities, then too few, then too many points.
    v = e.voters[4]
    page = new_page(browser, logs[4])
    sign_in(page, e, v)
    enter_code(page, v.code)
    mark(page, {"park": "No", "priorities": ["Cycle lanes", "Playgrounds", "Lighting"], "budget": {}})
    q2 = page.locator("#qerr-1")
    assert q2.inner_text() == "Too many options chosen (3): choose at most 2."
    page.get_by_role("button", name="Review my choices").click()
    assert page.locator("p.error[data-field='ballot']").is_visible()
    assert page.get_by_role("heading", name="Review your choices").count() == 0
    mark(page, {"park": "No", "priorities": [], "budget": {}})
    page.get_by_role("button", name="Review my choices").click()
    assert q2.inner_text() == "Too few options chosen (0): choose at least 1."
    mark(page, {"park": "No", "priorities": ["Playgrounds"], "budget": {"Library": 3, "Pool": 3}})
    assert page.locator("#qerr-2").inner_text() == "Too many points given (6): at most 5 in total."
    fifth = {"park": "No", "priorities": ["Playgrounds"], "budget": {"Library": 3, "Pool": 2}}
    mark(page, fifth)
    assert not page.locator("#qerr-2").is_visible()
    encrypt(page)
    cast(page)
    final.append(fifth)

    # The tally is exactly what the browser voters chose (last ballots only).
    expected = [[sum(col) for col in zip(*rows, strict=True)]
                for rows in zip(*(vector(c) for c in final), strict=True)]
    assert tally(e) == expected

    # What the pages sent: never the credential, never to another origin.
    for voter, log in zip(e.voters, logs, strict=True):
        assert any(r["method"] == "POST" and r["url"].endswith("/ballots") for r in log.requests)
        assert log.leaks(voter) == []
        assert log.foreign(url) == []
    assert [p.js_errors for p in pages] == [[] for _ in pages]


# --- keyboard only ------------------------------------------------------------------------


def tab_to(page: Any, text: str, *, limit: int = 40) -> None:
    """Press Tab until the focused element's label or text is ``text``."""
    for _ in range(limit):
        page.keyboard.press("Tab")
        name = page.evaluate(
            """() => { const el = document.activeElement;
                       if (el.labels && el.labels.length) return el.labels[0].textContent;
                       return el.textContent; }"""
        )
        if name.strip() == text:
            return
    raise AssertionError(f"Tab never reached {text!r}")


def test_keyboard_only_vote(server, browser, tmp_path) -> None:
    url, official = server.url, server.keys / "official.key"
    e = make_booth_election(url, official, tmp_path / "e", "booth-keys", voters=1)
    v = e.voters[0]
    page = new_page(browser)
    page.goto(e.booth_url)
    sign_in_by_keyboard(page, v.login, v.code)
    tab_to(page, "Yes")
    page.keyboard.press("Space")
    tab_to(page, "Lighting")
    page.keyboard.press("Space")
    tab_to(page, "Pool")
    page.keyboard.press("ArrowDown")
    page.keyboard.press("ArrowDown")
    tab_to(page, "Review my choices")
    page.keyboard.press("Enter")
    page.get_by_role("heading", name="Review your choices").wait_for()
    review = page.locator("main").inner_text()
    assert "Yes" in review and "Lighting" in review and "Pool: 2 points" in review
    tab_to(page, "Encrypt my ballot")
    page.keyboard.press("Enter")
    page.get_by_role("heading", name="Your ballot is encrypted").wait_for()
    tab_to(page, "Cast this ballot")
    page.keyboard.press("Enter")
    page.get_by_role("heading", name="Your ballot is cast").wait_for()
    tab_to(page, "Check my ballot on the board")
    page.keyboard.press("Enter")
    tab_to(page, "Check")
    page.keyboard.press("Enter")
    page.get_by_test_id("check-verdict").wait_for()
    assert page.get_by_test_id("check-verdict").inner_text().endswith("every check passed.")
    assert tally(e) == [[1, 0], [0, 0, 1, 0], [0, 2, 0]]


# --- accessibility and screenshots ----------------------------------------------------------


def audit_screen(page: Any, name: str, lang_button: str) -> None:
    """axe-core finds nothing on this screen, in English and in Russian; screenshots."""
    from axe_playwright_python.sync_playwright import Axe

    axe = Axe()
    for lang, button in (("ru", "Русский"), ("en", lang_button)):
        page.get_by_role("button", name=button).click()
        assert page.evaluate("document.documentElement.lang") == lang
        results = axe.run(page)
        assert results.violations_count == 0, f"{name} ({lang}):\n{results.generate_report()}"
        assert len(results.response["passes"]) > 10  # axe really ran its rules on this page
        for width in (360, 1280):
            page.set_viewport_size({"width": width, "height": 800})
            # Nothing may need horizontal scrolling on a small phone.
            assert page.evaluate("document.documentElement.scrollWidth") <= width, f"{name} at {width}px"
            page.screenshot(path=str(ARTIFACTS / f"{name}-{lang}-{width}.png"), full_page=True)
    page.set_viewport_size({"width": 1280, "height": 800})


def test_every_screen_is_accessible_in_both_languages(server, browser, tmp_path) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    url, official = server.url, server.keys / "official.key"
    e = make_booth_election(url, official, tmp_path / "e", "booth-a11y", voters=1)
    v = e.voters[0]
    page = new_page(browser)
    page.goto(e.booth_url)
    page.get_by_role("heading", name="Sign in").wait_for()
    audit_screen(page, "01-login", "English")
    page.get_by_role("button", name="Sign in").click()
    audit_screen(page, "02-login-error", "English")
    page.get_by_label("Login code").fill(v.login)
    page.get_by_role("button", name="Sign in").click()
    page.get_by_role("heading", name="Your private credential").wait_for()
    audit_screen(page, "03-credential", "English")
    enter_code(page, v.code[:-1] + ("0" if v.code[-1] != "0" else "1"))
    audit_screen(page, "04-credential-error", "English")
    enter_code(page, v.code)
    mark(page, {"park": "Yes", "priorities": ["Cycle lanes", "Playgrounds", "Lighting"], "budget": {"Tram": 3}})
    page.get_by_role("button", name="Review my choices").click()
    audit_screen(page, "05-ballot-errors", "English")
    mark(page, {"park": "Yes", "priorities": ["Cycle lanes"], "budget": {"Tram": 3}})
    audit_screen(page, "06-ballot", "English")
    page.get_by_role("button", name="Review my choices").click()
    page.get_by_role("heading", name="Review your choices").wait_for()
    audit_screen(page, "07-review", "English")
    page.get_by_role("button", name="Encrypt my ballot").click()
    page.get_by_role("heading", name="Your ballot is encrypted").wait_for()
    audit_screen(page, "08-sealed", "English")
    page.get_by_role("button", name="Audit this ballot").click()
    page.get_by_role("heading", name="Audited ballot").wait_for()
    audit_screen(page, "09-audited", "English")
    page.get_by_role("button", name="Encrypt my ballot again").click()
    page.get_by_role("heading", name="Your ballot is encrypted").wait_for()
    cast(page)
    audit_screen(page, "10-cast", "English")
    check_receipt(page)
    audit_screen(page, "11-check", "English")
    page.goto(f"{url}/booth/no-such-election")
    page.get_by_role("heading", name="Something went wrong").wait_for()
    audit_screen(page, "12-no-election", "English")
    assert page.js_errors == []


def test_the_request_inspection_would_see_a_leak() -> None:
    """The checks above are only as good as RequestLog: show it catches each spelling."""
    seed = bytes(range(32))
    from evote.credentials import format_credential_code
    from evote.signing import SigningKey

    code = format_credential_code(SigningKey(seed))
    voter = Voter("v", "login", code, seed, Path("unused"))
    origin = "http://127.0.0.1:1"
    for body in (code.encode(), code.replace("-", "").lower().encode(), seed.hex().encode(), seed,
                 b'{"x": "' + base64url(seed) + b'"}'):
        log = RequestLog([{"method": "POST", "url": f"{origin}/x", "headers": {}, "body": body}])
        assert log.leaks(voter) == [f"{origin}/x"], body
    clean = RequestLog([{"method": "GET", "url": f"{origin}/a", "headers": {}, "body": b""},
                        {"method": "GET", "url": "data:image/gif;base64,R0lG", "headers": {}, "body": b""},
                        {"method": "GET", "url": "https://elsewhere.example/a", "headers": {}, "body": b""}])
    assert clean.leaks(voter) == []
    assert clean.foreign(origin) == ["https://elsewhere.example/a"]


def base64url(data: bytes) -> bytes:
    import base64

    return base64.urlsafe_b64encode(data).rstrip(b"=")
