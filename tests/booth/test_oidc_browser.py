"""The booth's "Sign in with <city>" in Chromium, against a real OpenID provider.

A real ballot server (gunicorn, ``evote serve``, two workers) configured with
the city's provider (panva's ``oidc-provider`` on 127.0.0.1, see
tests/support/oidc_provider.py); the official registers provider subjects with
``evote voters register --oidc-subjects``'s function.  A voter clicks the
button, signs in at the provider's page, comes back signed in, enters the
credential, casts; the ballot is on the board and the credential is bound to
that subject, so a second credential is refused.  A subject the provider
knows but the voter list does not is sent back to the booth, which says why
in the voter's language (axe-core: no violations on that screen).  The
browser talks to no origin but the server's and the provider's, and never
carries the private credential anywhere.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import pytest

from cli.client import Client
from cli.keyfiles import read_key_file
from cli.voters import register_subjects
from tests.booth.test_booth_browser import ARTIFACTS, audit_screen, cast, encrypt, enter_code, mark
from tests.support import booth_browser
from tests.support.booth_browser import CHROMIUM, RequestLog, make_booth_election
from tests.support.cli_server import Server, start_server
from tests.support.oidc_provider import RunningProvider, free_port, start_provider

if not os.path.exists(CHROMIUM) and not os.environ.get("CI"):
    pytest.skip(f"{CHROMIUM} is not installed (apt-get install chromium)", allow_module_level=True)

pytestmark = pytest.mark.slow
browser = booth_browser.browser

CLIENT_ID = "evote-booth"
SECRET = "booth-test-client-secret-0123"


@pytest.fixture(scope="module")
def city(tmp_path_factory) -> Iterator[tuple[Server, RunningProvider]]:
    """A ballot server with EVOTE_OIDC_* set, and the provider it names (started after the
    server, once its callback URL is known: the server reads discovery on first use)."""
    port = free_port()
    with pytest.MonkeyPatch.context() as env:
        env.setenv("EVOTE_OIDC_ISSUER", f"http://127.0.0.1:{port}")
        env.setenv("EVOTE_OIDC_CLIENT_ID", CLIENT_ID)
        env.setenv("EVOTE_OIDC_CLIENT_SECRET", SECRET)
        env.setenv("EVOTE_OIDC_NAME", "Testville")
        servers = start_server(tmp_path_factory.mktemp("oidc-booth"))
        server = next(servers)
    try:
        client = {"client_id": CLIENT_ID, "client_secret": SECRET,
                  "redirect_uris": [f"{server.url}/api/v1/oidc/callback"]}
        with start_provider([client], ["alice", "bob", "mallory"], port=port) as provider:
            yield server, provider
    finally:
        servers.close()


def new_page(browser: Any, log: RequestLog) -> Any:
    context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="en-GB")
    log.attach(context)
    page = context.new_page()
    page.js_errors = []
    page.on("pageerror", lambda exc: page.js_errors.append(str(exc)))
    return page


def entries(url: str, election_id: str) -> list[dict[str, Any]]:
    with Client(url) as client:
        return client.get(f"/elections/{election_id}/entries?start=0&limit=1000")["entries"]


def sign_in_at_city(page: Any, booth_url: str, subject: str) -> None:
    page.goto(booth_url)
    page.get_by_role("button", name="Sign in with Testville").click()
    page.get_by_role("heading", name="City login").wait_for()
    page.get_by_label("Subject").fill(subject)
    page.get_by_role("button", name="Sign in").click()


def test_sign_in_with_the_city_and_cast(city, browser, tmp_path) -> None:
    server, provider = city
    e = make_booth_election(server.url, server.keys / "official.key", tmp_path / "e", "oidc-booth", voters=2)
    official = read_key_file(server.keys / "official.key", "official")
    with Client(server.url) as client:
        assert register_subjects(client, official, e.id, ["alice"]) == 1

    # mallory has an account at the city but is not on this election's list
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    log = RequestLog()
    page = new_page(browser, log)
    sign_in_at_city(page, e.booth_url, "mallory")
    # back at the booth (not a bare JSON page), told in words why, in the voter's language
    page.get_by_role("heading", name="Sign in").wait_for()
    assert page.url.rstrip("/") == e.booth_url.rstrip("/")  # the fragment was taken out
    alert = page.get_by_role("alert").filter(has_text="voter list")
    assert "not on this election's voter list" in alert.inner_text()
    assert page.get_by_role("button", name="Sign in with Testville").is_visible()
    audit_screen(page, "oidc-refused", "English")
    page.get_by_role("button", name="Русский").click()
    assert "нет в списке избирателей" in page.get_by_role("alert").filter(has_text="списке").inner_text()
    assert page.js_errors == []

    # alice signs in at the city, comes back signed in, and casts with her credential
    log = RequestLog()
    page = new_page(browser, log)
    sign_in_at_city(page, e.booth_url, "alice")
    page.get_by_role("heading", name="Your private credential").wait_for()
    assert "#" not in page.url  # the session token was taken out of the address bar
    voter = e.voters[0]
    enter_code(page, voter.code)
    mark(page, {"park": "Yes", "priorities": ["Lighting"], "budget": {"Tram": 1}})
    sealed = encrypt(page)
    assert cast(page) == sealed
    assert [e["kind"] for e in entries(server.url, e.id)].count("ballot_cast") == 1
    # the only other origin the browser went to is the provider (for the login page)
    assert {u.split("/")[2] for u in log.foreign(server.url)} == {provider.issuer.split("/")[2]}
    assert log.leaks(voter) == []
    casts = [r for r in log.requests if r["method"] == "POST" and r["url"].endswith("/ballots")]
    assert casts and all(r["headers"]["authorization"].startswith("Bearer oidc.") for r in casts)
    assert page.js_errors == []

    # the credential is now bound to alice: another credential is refused for her
    page = new_page(browser, RequestLog())
    sign_in_at_city(page, e.booth_url, "alice")
    page.get_by_role("heading", name="Your private credential").wait_for()
    enter_code(page, e.voters[1].code)
    mark(page, {"park": "No", "priorities": ["Benches"], "budget": {}})
    encrypt(page)
    page.get_by_role("button", name="Cast this ballot").click()
    page.get_by_role("alert").first.wait_for()
    assert "credential" in page.get_by_role("alert").first.inner_text().lower()
    assert [e["kind"] for e in entries(server.url, e.id)].count("ballot_cast") == 1


def test_sign_in_again_with_the_city_sends_the_same_sealed_ballot(city, browser, tmp_path) -> None:
    """The cast's answer is lost and the tab reloaded: the ballot is not on the board and
    the booth asks to sign in again.  The voter signs in with the city (leaving the page
    for the provider, whose session sends him straight back); back, the booth sends the
    very bytes it sealed before."""
    server, provider = city
    e = make_booth_election(server.url, server.keys / "official.key", tmp_path / "e", "oidc-relogin", voters=1)
    official = read_key_file(server.keys / "official.key", "official")
    with Client(server.url) as client:
        assert register_subjects(client, official, e.id, ["bob"]) == 1
    page = new_page(browser, RequestLog())
    sign_in_at_city(page, e.booth_url, "bob")
    page.get_by_role("heading", name="Your private credential").wait_for()
    enter_code(page, e.voters[0].code)
    mark(page, {"park": "Yes", "priorities": ["Lighting"], "budget": {"Tram": 1}})
    sealed = encrypt(page)
    sent: list[bytes] = []

    def lose(route: Any) -> None:
        sent.append(route.request.post_data_buffer)
        route.abort()

    page.route("**/api/v1/elections/*/ballots", lose)
    page.get_by_role("button", name="Cast this ballot").click()
    page.get_by_role("heading", name="Checking whether your ballot arrived").wait_for()
    page.reload()
    page.get_by_role("heading", name="Your ballot has not arrived yet").wait_for()
    assert sent and [x["kind"] for x in entries(server.url, e.id)].count("ballot_cast") == 0
    page.unroute_all(behavior="ignoreErrors")

    def keep(route: Any) -> None:
        sent.append(route.request.post_data_buffer)
        route.continue_()

    page.route("**/api/v1/elections/*/ballots", keep)
    before = len(sent)
    page.get_by_role("button", name="Sign in with Testville").click()
    # the provider still has bob's session from the first login: it sends him straight back
    page.get_by_role("heading", name="Your ballot is cast").wait_for()
    assert page.get_by_test_id("tracking-code").inner_text() == sealed
    assert len(sent) > before and set(sent) == {sent[0]}  # the same sealed bytes, every time
    assert [x["kind"] for x in entries(server.url, e.id)].count("ballot_cast") == 1
    assert page.js_errors == []
