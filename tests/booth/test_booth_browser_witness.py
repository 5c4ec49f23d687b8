"""The web booth in a real browser: its own digest against the board, and witnesses.

Debian's Chromium (headless, Playwright) against a real ballot server
(gunicorn, ``evote serve``) whose election names three witnesses (2-of-3) in
its manifest; the witnesses are the real ``cli.witness.Witness`` polling that
server over HTTP.

* A voter casts in the booth; "check my ballot" fails while no cosigned
  checkpoint includes the ballot, and passes, naming the witnesses, once two
  of them have cosigned.
* The booth refuses to run when the bundle it runs is not the one whose
  SHA-256 the official published in ``election_opened`` (simulated by
  rewriting the served bundle and its SRI hash in flight, which is what a
  server serving another build amounts to).
"""

from __future__ import annotations

import base64
import hashlib
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.booth.test_booth_browser import (
    ARTIFACTS,
    audit_screen,
    cast,
    encrypt,
    enter_code,
    mark,
    new_page,
    sign_in,
)
from tests.support import booth_browser
from tests.support.booth_browser import CHROMIUM, MANIFEST, make_booth_election
from tests.support.cli_server import Server, start_server
from tests.support.witnesses import NAMES, init_witnesses, policy_of, poll_server

if not os.path.exists(CHROMIUM) and not os.environ.get("CI"):
    pytest.skip(f"{CHROMIUM} is not installed (apt-get install chromium)", allow_module_level=True)

pytestmark = pytest.mark.slow
expect = pytest.importorskip("playwright.sync_api").expect

ROOT = Path(__file__).resolve().parents[2]
BUNDLE = ROOT / "ballot_server" / "static" / "booth.js"
browser = booth_browser.browser


@pytest.fixture(scope="module")
def server(tmp_path_factory) -> Iterator[Server]:
    assert BUNDLE.exists(), "the booth bundle is not built: run `make install`"
    yield from start_server(tmp_path_factory.mktemp("booth-witness-server"))


@pytest.fixture(scope="module")
def witnessed(server, tmp_path_factory):
    work = tmp_path_factory.mktemp("witnesses")
    witnesses = init_witnesses(work)
    manifest = {**MANIFEST, "witnesses": policy_of(witnesses).to_json()}
    e = make_booth_election(server.url, server.keys / "official.key", work / "e", "booth-witness",
                            voters=2, manifest=manifest)
    return e, [d for d, _ in witnesses]


def run_check(page: Any, previous: str | None = None) -> tuple[str, list[str]]:
    """Press "Check" and wait for the verdict (a new one, if one is shown already)."""
    page.get_by_role("button", name="Check", exact=True).click()
    verdict = page.get_by_test_id("check-verdict")
    if previous is None:
        verdict.wait_for()
    else:
        expect(verdict).not_to_have_text(previous)
    page.locator('main[aria-busy="false"]').wait_for()
    return verdict.inner_text(), page.locator(".check-results li").all_inner_texts()


def test_check_my_ballot_requires_the_witnesses(server, browser, witnessed) -> None:
    e, dirs = witnessed
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    poll_server(server.url, dirs, e.id)  # the witnesses follow the election from its opening
    page = new_page(browser)
    v = e.voters[0]
    sign_in(page, e, v)
    footer = page.locator("footer").inner_text()
    assert hashlib.sha256(BUNDLE.read_bytes()).hexdigest() in footer
    assert "matches the digest published on the board" in footer
    enter_code(page, v.code)
    mark(page, {"park": "Yes", "priorities": ["Lighting"], "budget": {"Tram": 1}})
    encrypt(page)
    cast(page)  # the receipt carries a cosigned checkpoint; the booth accepts it
    page.get_by_role("button", name="Check my ballot on the board").click()

    verdict, steps = run_check(page)
    # not cosigned yet is pending, not a failure: a status, no alarm, checked again by itself
    assert "have not yet cosigned a checkpoint that includes it" in verdict
    assert "FAILED" not in verdict
    assert page.get_by_test_id("check-verdict").get_attribute("role") == "status"
    assert page.get_by_role("alert").filter(has_text="FAILED").count() == 0
    assert len(steps) == 4  # the board's own proofs did pass
    audit_screen(page, "13-check-witness-pending", "English")

    poll_server(server.url, dirs[:2], e.id)  # w0 and w1 cosign the board with the ballot; w2 is down
    # no click: the booth re-checks a pending cosignature by itself
    expect(page.get_by_test_id("check-verdict")).to_have_text(
        "Your ballot is on the board: every check passed.", timeout=30_000)
    page.locator('main[aria-busy="false"]').wait_for()
    steps = page.locator(".check-results li").all_inner_texts()
    assert len(steps) == 5
    assert f"cosigned by {NAMES[0]}, {NAMES[1]} (2 of the election's 3 witnesses needed)" in steps[-1]
    assert page.js_errors == []


def test_the_booth_refuses_a_bundle_other_than_the_one_on_the_board(server, browser, witnessed):
    e, _ = witnessed
    original = BUNDLE.read_bytes()
    other = original + b"\n/* another build */\n"
    sri = "sha384-" + base64.b64encode(hashlib.sha384(other).digest()).decode()
    page = new_page(browser)

    def html(route: Any) -> None:
        response = route.fetch()
        body = response.text()
        start = body.index('integrity="sha384-', body.index("booth.js"))
        end = body.index('"', start + len('integrity="'))
        route.fulfill(response=response, body=body[:start] + f'integrity="{sri}' + body[end:])

    page.route(f"**/booth/{e.id}", html)
    page.route("**/static/booth.js", lambda route: route.fulfill(
        status=200, body=other, headers={"Content-Type": "text/javascript; charset=utf-8"}))
    page.goto(e.booth_url)
    alert = page.get_by_role("alert")
    alert.wait_for()
    assert "is not the one the election officials published on the board" in alert.inner_text()
    assert page.get_by_label("Login code").count() == 0  # nothing to vote with
