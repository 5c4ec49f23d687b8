"""The web booth over an unreliable network (issue 13 acceptance): a fault matrix.

Debian's Chromium (headless, Playwright) against a real ballot server
(gunicorn, ``evote serve``) that this module can SIGKILL and restart on the
same port and database.  Each case makes a voter sign in, mark, encrypt, and
then meets one fault at Cast:

* offline at Cast, then back online;
* the request reaches the server, which commits, and the answer is dropped
  (``route.fetch()`` then ``route.abort()``);
* the server SIGKILLed just before its commit (the request never reaches it)
  and just after (it committed, the answer dies with it), then restarted;
* a reload of the tab 5, 40, 80 and 150 ms after Cast;
* double and quadruple clicks on Cast over a slow network;
* a whole vote on a 3G profile (CDP Network.emulateNetworkConditions).

Every case asserts the board (the voter's credential has exactly one ballot,
the one whose tracking code the booth showed before Cast), the receipt
(downloaded from the booth and accepted by ``evote receipt check``), and the
requests: every POST of a ballot carries the same bytes, no request goes to
/audits, and no body carries an opening (``randomness``/``selections``).
Screens of each state are saved under test-artifacts/booth-faults/.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from cli.api import fetch_entries
from cli.client import Client
from cli.demo import _wait_ready, free_port
from cli.official import create_signing_key
from evote.signing import SigningKey
from tests.support import booth_browser
from tests.support.booth_browser import (
    CHROMIUM,
    BoothElection,
    RequestLog,
    Voter,
    make_booth_election,
)

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts" / "booth-faults"
BUNDLE = ROOT / "ballot_server" / "static" / "booth.js"

if not os.path.exists(CHROMIUM) and not os.environ.get("CI"):
    pytest.skip(f"{CHROMIUM} is not installed (apt-get install chromium)", allow_module_level=True)

pytestmark = pytest.mark.slow
browser = booth_browser.browser

CHOICE = {"park": "Yes", "priorities": ["Lighting"], "budget": {"Pool": 2}}
PROFILE_3G = {"offline": False, "latency": 300, "downloadThroughput": 750 * 1024 // 8,
              "uploadThroughput": 250 * 1024 // 8}
SLOW = {"offline": False, "latency": 600, "downloadThroughput": 200 * 1024, "uploadThroughput": 200 * 1024}


# --- a server this module can kill and restart --------------------------------------------


class KillableServer:
    """``evote serve`` on a fixed port and data directory, SIGKILLable and restartable."""

    def __init__(self, work: Path) -> None:
        self.work = work
        self.keys = work / "keys"
        self.keys.mkdir()
        create_signing_key(self.keys / "official.key", "official")
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.process: subprocess.Popen | None = None
        self.starts = 0

    def start(self) -> None:
        self.starts += 1
        log_path = self.work / f"server-{self.starts}.log"
        command = [sys.executable, "-m", "cli.main", "serve", "--host", "127.0.0.1",
                   "--port", str(self.port), "--workers", "2", "--threads", "1",
                   "--data-dir", str(self.work / "server"), "--official", str(self.keys / "official.pub")]
        env = {**os.environ, "EVOTE_HSTS_MAX_AGE": "0", "EVOTE_CAST_RATE": "100000",
               "EVOTE_CAST_BURST": "100000"}
        with open(log_path, "wb") as log:
            self.process = subprocess.Popen(  # noqa: S603 - our own interpreter and module
                command, stdout=log, stderr=subprocess.STDOUT, env=env, start_new_session=True)
        _wait_ready(self.url, self.process, log_path)

    def kill(self) -> None:
        """SIGKILL the server's whole process group (gunicorn master and workers): no clean shutdown."""
        assert self.process is not None
        os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=10)
        self.process = None

    def stop(self) -> None:
        if self.process is not None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=10)
            self.process = None


@pytest.fixture(scope="module")
def server(tmp_path_factory) -> Iterator[KillableServer]:
    assert BUNDLE.exists(), "the booth bundle is not built: run `make install`"
    s = KillableServer(tmp_path_factory.mktemp("booth-faults"))
    s.start()
    try:
        yield s
    finally:
        s.stop()


@pytest.fixture(scope="module")
def election(server, tmp_path_factory) -> BoothElection:
    return make_booth_election(server.url, server.keys / "official.key",
                               tmp_path_factory.mktemp("faults-election"), "booth-faults", voters=22)


_next_voter = iter(range(100))
RESERVED = 3  # the last voters are the accessibility walk's


@pytest.fixture
def voter(election) -> Voter:
    n = next(_next_voter)
    assert n < len(election.voters) - RESERVED, "add voters to the module's election"
    return election.voters[n]


# --- the voter's steps --------------------------------------------------------------------


@dataclass
class Booth:
    page: Any
    log: RequestLog
    context: Any


def open_booth(browser: Any, e: BoothElection, *, network: dict | None = None) -> Booth:
    context = browser.new_context(viewport={"width": 1280, "height": 900}, accept_downloads=True, locale="en-GB")
    log = RequestLog()
    log.attach(context)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.js_errors = errors
    if network is not None:
        cdp = context.new_cdp_session(page)
        cdp.send("Network.enable")
        cdp.send("Network.emulateNetworkConditions", network)
    return Booth(page, log, context)


def sign_in(page: Any, v: Voter) -> None:
    page.get_by_label("Login code").fill(v.login)
    page.get_by_role("button", name="Sign in").click()


def to_sealed(b: Booth, e: BoothElection, v: Voter) -> str:
    """Sign in, enter the credential, mark, encrypt: the tracking code shown before Cast."""
    page = b.page
    page.goto(e.booth_url)
    sign_in(page, v)
    page.get_by_label("Credential code").fill(v.code)
    page.get_by_role("button", name="Continue").click()
    page.get_by_role("heading", name="Your ballot").wait_for()
    page.get_by_label(CHOICE["park"], exact=True).check()
    page.get_by_label("Lighting", exact=True).check()
    page.get_by_label("Pool", exact=True).select_option("2")
    page.get_by_role("button", name="Review my choices").click()
    page.get_by_role("button", name="Encrypt my ballot").click()
    page.get_by_role("heading", name="Your ballot is encrypted").wait_for()
    return page.get_by_test_id("tracking-code").inner_text()


def wait_cast(page: Any, timeout: float = 60_000) -> str:
    page.get_by_role("heading", name="Your ballot is cast").wait_for(timeout=timeout)
    return page.get_by_test_id("tracking-code").inner_text()


def shot(page: Any, name: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


# --- what every case must show -------------------------------------------------------------


def board_ballots(e: BoothElection, v: Voter) -> list[dict]:
    """The voter's ballot_cast entries on the board (by public credential)."""
    public = SigningKey(v.seed).verify_key.to_json()
    with Client(e.url) as client:
        entries = [x.to_json() for x in fetch_entries(client, e.id)]
    return [x for x in entries if x["kind"] == "ballot_cast" and x["payload"]["ballot"]["credential"] == public]


def assert_outcome(b: Booth, e: BoothElection, v: Voter, code: str, tmp_path: Path) -> None:
    page = b.page
    assert wait_cast(page) == code  # the receipt is for the ballot encrypted before Cast
    mine = board_ballots(e, v)
    assert len(mine) == 1, f"{len(mine)} ballots of this voter on the board"
    # the receipt, as the voter downloads it, passes `evote receipt check`
    with page.expect_download() as download:
        page.get_by_role("link", name="Download my receipt").click()
    receipt = tmp_path / "receipt.json"
    download.value.save_as(receipt)
    assert json.loads(receipt.read_text())["tracking_code"] == code
    checked = subprocess.run([sys.executable, "-m", "cli.main", "receipt", "check", str(receipt),
                              "--server", e.url], capture_output=True, text=True, timeout=120, check=False)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert f"receipt OK: ballot {code}" in checked.stdout
    assert_requests(b, v)


def assert_requests(b: Booth, v: Voter) -> None:
    sends = [r for r in b.log.requests if r["method"] == "POST" and r["url"].endswith("/ballots")]
    assert sends, "no ballot was ever sent"
    assert {r["body"] for r in sends} == {sends[0]["body"]}, "a resend differs from the first send"
    ballot = json.loads(sends[0]["body"])
    assert sorted(ballot) == ["answers", "credential", "election_id", "signature"]
    assert [r["url"] for r in b.log.requests if "/audits" in r["url"]] == []
    for r in b.log.requests:
        body = r["body"].decode("utf-8", "replace")
        assert '"randomness"' not in body and '"selections"' not in body, r["url"]
    assert b.log.leaks(v) == []
    assert b.page.js_errors == []


def sends(b: Booth) -> int:
    return sum(1 for r in b.log.requests if r["method"] == "POST" and r["url"].endswith("/ballots"))


# --- the matrix ----------------------------------------------------------------------------


def test_offline_at_cast_then_online(browser, election, voter, tmp_path) -> None:
    b = open_booth(browser, election)
    code = to_sealed(b, election, voter)
    b.context.set_offline(True)
    b.page.get_by_role("button", name="Cast this ballot").click()
    b.page.get_by_role("heading", name="Checking whether your ballot arrived").wait_for()
    # a sent ballot is never offered for audit
    assert b.page.get_by_role("button", name="Audit this ballot").count() == 0
    assert "can no longer be audited" in b.page.locator("main").inner_text()
    shot(b.page, "unknown-offline")
    b.page.wait_for_timeout(2500)  # a few looks and retries fail while offline
    assert board_ballots(election, voter) == []
    b.context.set_offline(False)
    assert_outcome(b, election, voter, code, tmp_path)
    shot(b.page, "cast-after-offline")
    b.context.close()


def test_answer_dropped_after_the_server_committed(browser, election, voter, tmp_path) -> None:
    b = open_booth(browser, election)
    code = to_sealed(b, election, voter)
    dropped: list[int] = []

    def drop_first(route: Any) -> None:
        if route.request.method == "POST" and not dropped:
            response = route.fetch()  # the server commits and answers...
            dropped.append(response.status)
            route.abort()  # ...and the answer never reaches the booth
        else:
            route.continue_()

    b.page.route("**/api/v1/elections/*/ballots", drop_first)
    b.page.get_by_role("button", name="Cast this ballot").click()
    assert_outcome(b, election, voter, code, tmp_path)
    assert dropped == [201]
    # recovered by the lookup (or an idempotent resend answered 200): one entry either way
    assert sends(b) <= 2
    b.context.close()


def test_resend_gets_the_receipt_when_the_lookup_is_down(browser, election, voter, tmp_path) -> None:
    """The answer is lost and the board lookup is unavailable: the same bytes, resent, get the
    original receipt (idempotent casting, 200)."""
    b = open_booth(browser, election)
    code = to_sealed(b, election, voter)
    statuses: list[int] = []

    def lose_first(route: Any) -> None:
        response = route.fetch()
        statuses.append(response.status)
        if len(statuses) == 1:
            route.abort()
        else:
            route.fulfill(response=response)

    b.page.route("**/api/v1/elections/*/ballots", lose_first)
    b.page.route("**/ballots/*/receipt", lambda route: route.fulfill(status=503, json={"code": "unavailable"}))
    b.page.get_by_role("button", name="Cast this ballot").click()
    assert_outcome(b, election, voter, code, tmp_path)
    assert statuses == [201, 200]
    b.context.close()


def test_duplicate_ciphertext_is_looked_up_never_a_failure(browser, election, voter, tmp_path) -> None:
    """A resend answered 409 duplicate_ciphertext (as a server without idempotent casting
    answers) makes the booth look the ballot up and show its receipt, not an error."""
    b = open_booth(browser, election)
    code = to_sealed(b, election, voter)
    posts: list[int] = []
    lookups: list[int] = []

    def commit_then_duplicate(route: Any) -> None:
        posts.append(1)
        if len(posts) == 1:
            route.fetch()
            route.abort()
        else:
            route.fulfill(status=409, json={"code": "duplicate_ciphertext", "message": "already on the board"})

    def first_lookup_down(route: Any) -> None:
        lookups.append(1)
        if len(lookups) == 1:
            route.fulfill(status=503, json={"code": "unavailable"})
        else:
            route.continue_()

    b.page.route("**/api/v1/elections/*/ballots", commit_then_duplicate)
    b.page.route("**/ballots/*/receipt", first_lookup_down)
    b.page.get_by_role("button", name="Cast this ballot").click()
    assert_outcome(b, election, voter, code, tmp_path)
    assert len(posts) == 2 and len(lookups) == 2
    assert "refused" not in b.page.locator("main").inner_text()
    b.context.close()


def test_a_refused_ballot_is_not_sent_and_casting_again_works(browser, election, voter, tmp_path) -> None:
    """A final refusal (here a 403 the route makes up) is confirmed by a lookup; the voter is
    told nothing was cast, and a fresh encryption cast afterwards is the one ballot."""
    b = open_booth(browser, election)
    first = to_sealed(b, election, voter)
    refusals: list[str] = []

    def refuse_first(route: Any) -> None:
        if not refusals:
            refusals.append(route.request.post_data)
            route.fulfill(status=403, json={"code": "bad_credential", "message": "not on the list"})
        else:
            route.continue_()

    b.page.route("**/api/v1/elections/*/ballots", refuse_first)
    b.page.get_by_role("button", name="Cast this ballot").click()
    b.page.get_by_role("heading", name="Your ballot was not cast").wait_for()
    assert "not on the election's list of voters" in b.page.get_by_test_id("refused-reason").inner_text()
    assert board_ballots(election, voter) == []
    shot(b.page, "refused")
    b.page.get_by_role("button", name="Vote again").click()
    b.page.get_by_role("heading", name="Your ballot").wait_for()
    b.page.get_by_role("button", name="Review my choices").click()
    b.page.get_by_role("button", name="Encrypt my ballot").click()
    b.page.get_by_role("heading", name="Your ballot is encrypted").wait_for()
    second = b.page.get_by_test_id("tracking-code").inner_text()
    assert second != first
    b.page.get_by_role("button", name="Cast this ballot").click()
    assert wait_cast(b.page) == second
    assert len(board_ballots(election, voter)) == 1
    b.context.close()


@pytest.mark.parametrize("moment", ["before", "after"])
def test_server_killed_at_commit_then_restarted(browser, server, election, voter, tmp_path, moment) -> None:
    b = open_booth(browser, election)
    code = to_sealed(b, election, voter)
    killed: list[str] = []

    def kill(route: Any) -> None:
        if route.request.method != "POST" or killed:
            route.continue_()
            return
        if moment == "after":
            route.fetch()  # committed (a 201 is only sent after the commit)...
        server.kill()  # ...or not: SIGKILL before the request reaches a worker
        killed.append(moment)
        route.abort("connectionreset")

    b.page.route("**/api/v1/elections/*/ballots", kill)
    b.page.get_by_role("button", name="Cast this ballot").click()
    b.page.get_by_role("heading", name="Checking whether your ballot arrived").wait_for()
    shot(b.page, f"unknown-server-killed-{moment}")
    b.page.wait_for_timeout(1500)
    assert killed == [moment]
    server.start()
    assert len(board_ballots(election, voter)) == (1 if moment == "after" else 0)
    assert_outcome(b, election, voter, code, tmp_path)
    b.context.close()


@pytest.mark.parametrize("delay_ms", [5, 40, 80, 150])
def test_reload_right_after_cast(browser, election, voter, tmp_path, delay_ms) -> None:
    b = open_booth(browser, election)
    code = to_sealed(b, election, voter)
    b.page.get_by_role("button", name="Cast this ballot").click(no_wait_after=True)
    b.page.wait_for_timeout(delay_ms)
    b.page.reload()
    # after the reload: checking, then the receipt; or, if the ballot had not
    # reached the board, the login is asked and the very same ballot is sent
    cast = b.page.get_by_role("heading", name="Your ballot is cast")
    relogin = b.page.get_by_role("heading", name="Your ballot has not arrived yet")
    cast.or_(relogin).wait_for(timeout=30_000)
    path = "login asked" if relogin.is_visible() else "found on the board"
    print(f"reload at {delay_ms} ms: {path}")
    if relogin.is_visible():
        shot(b.page, f"need-login-reload-{delay_ms}")
        b.page.get_by_label("Login code").fill(voter.login)
        b.page.get_by_role("button", name="Sign in and send my ballot").click()
    assert_outcome(b, election, voter, code, tmp_path)
    stored = b.page.evaluate(f"sessionStorage.getItem('evote.cast.{election.id}')")
    assert voter.login not in stored and voter.code not in stored and "randomness" not in stored
    # a further reload shows the receipt again, from the stored receipt
    b.page.reload()
    assert wait_cast(b.page) == code
    b.context.close()


@pytest.mark.parametrize("clicks", [2, 4])
def test_repeated_clicks_on_a_slow_network(browser, election, voter, tmp_path, clicks) -> None:
    b = open_booth(browser, election)
    code = to_sealed(b, election, voter)
    cdp = b.context.new_cdp_session(b.page)
    cdp.send("Network.enable")
    cdp.send("Network.emulateNetworkConditions", SLOW)
    b.page.get_by_role("button", name="Cast this ballot").click(click_count=clicks, delay=30)
    b.page.get_by_role("heading", name="Sending your ballot").wait_for()
    shot(b.page, f"sending-{clicks}-clicks")
    assert_outcome(b, election, voter, code, tmp_path)
    assert sends(b) == 1
    b.context.close()


def test_a_whole_vote_on_3g(browser, election, voter, tmp_path) -> None:
    b = open_booth(browser, election, network=PROFILE_3G)
    code = to_sealed(b, election, voter)
    b.page.get_by_role("button", name="Cast this ballot").click()
    assert_outcome(b, election, voter, code, tmp_path)
    assert sends(b) == 1
    b.context.close()


def test_leaving_with_unsent_marks_asks_first(browser, election, voter) -> None:
    b = open_booth(browser, election)
    page = b.page
    page.goto(election.booth_url)
    sign_in(page, voter)
    page.get_by_label("Credential code").fill(voter.code)
    page.get_by_role("button", name="Continue").click()
    page.get_by_label("Yes", exact=True).check()
    asked: list[str] = []

    def on_dialog(dialog: Any) -> None:
        asked.append(dialog.type)
        dialog.dismiss()  # stay

    page.on("dialog", on_dialog)
    page.evaluate("location.reload()")
    page.wait_for_timeout(500)
    assert asked == ["beforeunload"]
    assert page.get_by_label("Yes", exact=True).is_checked()  # still here, marks kept
    b.context.close()


def test_a_bare_login_or_the_login_file(browser, election, voter) -> None:
    login_file = json.dumps({"type": "evote-login", "v": 1, "election": election.id,
                             "voter": voter.voter_id, "login_code": voter.login}, indent=2)
    b = open_booth(browser, election)
    page = b.page
    page.goto(election.booth_url)
    page.get_by_label("Login code").fill(json.dumps({"type": "evote-login", "v": 1, "election": "other",
                                                     "voter": "x", "login_code": voter.login}))
    page.get_by_role("button", name="Sign in").click()
    assert "for another election (other)" in page.locator("p.error[data-field='login']").inner_text()
    path = Path(election.official).parent / f"{voter.voter_id}-test.login"
    path.write_text(login_file)
    page.get_by_label("Or load your .login file").set_input_files(str(path))
    page.get_by_role("heading", name="Your private credential").wait_for()
    assert b.page.js_errors == []
    b.context.close()


def test_check_link_works_without_a_reload(browser, election) -> None:
    b = open_booth(browser, election)
    page = b.page
    page.goto(election.booth_url)
    page.get_by_role("heading", name="Sign in").wait_for()
    page.get_by_test_id("check-link").click()
    page.get_by_role("heading", name="Check a ballot on the board").wait_for()
    page.get_by_role("button", name="Back").click()
    page.get_by_role("heading", name="Sign in").wait_for()
    page.evaluate("location.hash = '#check=AAAA-BBBB-CCCC-DDDD'")
    page.get_by_test_id("check-verdict").wait_for()
    assert "No ballot with this tracking code" in page.get_by_test_id("check-verdict").inner_text()
    assert page.get_by_label("Tracking code").input_value() == "AAAA-BBBB-CCCC-DDDD"
    assert b.page.js_errors == []
    b.context.close()


# --- every new screen: axe-core in English and Russian at 360 and 1280 px -----------------


def axe(page: Any, name: str) -> None:
    from tests.booth.test_booth_browser import ARTIFACTS as SHOTS
    from tests.booth.test_booth_browser import audit_screen

    SHOTS.mkdir(parents=True, exist_ok=True)
    audit_screen(page, name, "English")


def footer_is_clean(page: Any) -> None:
    footer = page.locator("footer").inner_text()
    assert "null" not in footer and "undefined" not in footer, footer


def test_new_screens_are_accessible_in_both_languages(browser, server, election, tmp_path) -> None:
    from tests.support.booth_browser import tally
    from tests.support.cli_server import Server, make_election

    v1, v2 = election.voters[-RESERVED:][:2]  # the matrix above uses the first ones
    # sending (the answer held back), then checking (the answer lost, the lookup held back)
    b = open_booth(browser, election)
    to_sealed(b, election, v1)
    held: list[Any] = []
    b.page.route("**/api/v1/elections/*/ballots", lambda route: held.append(route))
    b.page.get_by_role("button", name="Cast this ballot").click()
    b.page.get_by_role("heading", name="Sending your ballot").wait_for()
    axe(b.page, "20-sending")
    b.page.route("**/ballots/*/receipt", lambda route: held.append(route))
    held[0].abort()
    b.page.get_by_role("heading", name="Checking whether your ballot arrived").wait_for()
    b.page.get_by_text("Checking whether your ballot arrived…").wait_for()
    axe(b.page, "21-unknown")
    # a reload while it is not on the board: the login is asked to send the same ballot
    # (the newest route wins: a held lookup that dies with the page must not let a resend through)
    b.page.route("**/api/v1/elections/*/ballots", lambda route: route.abort())
    b.page.route("**/ballots/*/receipt", lambda route: route.continue_())
    b.page.reload()
    b.page.get_by_role("heading", name="Your ballot has not arrived yet").wait_for()
    assert board_ballots(election, v1) == []
    axe(b.page, "22-need-login")
    b.page.unroute_all(behavior="ignoreErrors")
    b.page.get_by_label("Login code").fill(v1.login)
    b.page.get_by_role("button", name="Sign in and send my ballot").click()
    wait_cast(b.page)
    b.context.close()

    # an audit whose answer is lost: the ballot is burnt, a fresh encryption is offered
    b = open_booth(browser, election)
    to_sealed(b, election, v2)
    b.page.route("**/audits", lambda route: route.abort())
    b.page.get_by_role("button", name="Audit this ballot").click()
    b.page.get_by_role("heading", name="The audit could not be completed").wait_for()
    assert b.page.get_by_role("button", name="Cast this ballot").count() == 0
    axe(b.page, "23-audit-failed")
    b.context.close()

    # an election being set up (no key yet), and one set up but not opened: not yet open, no alarm
    s = Server(server.url, server.keys)
    for eid, ceremony in (("a11y-setup", False), ("a11y-ready", True)):
        (tmp_path / eid).mkdir()
        make_election(s, tmp_path / eid, eid, open_it=False, ceremony=ceremony, credentials=ceremony)
        b = open_booth(browser, election)
        b.page.goto(f"{server.url}/booth/{eid}")
        b.page.get_by_role("heading", name="Voting has not opened yet").wait_for()
        assert b.page.get_by_role("alert").count() == 0
        assert "Do not vote here" not in b.page.locator("body").inner_text()
        footer_is_clean(b.page)
        axe(b.page, f"24-not-open-{eid}")
        b.context.close()

    # refused: the election closes while the ballot is on screen; then closed, then tallied
    other = make_booth_election(server.url, server.keys / "official.key", tmp_path / "closing", "a11y-closing",
                                voters=2)
    voter = other.voters[0]
    b = open_booth(browser, other)
    code = to_sealed(b, other, voter)
    from cli import election as official_cli
    from cli.keyfiles import read_key_file
    with Client(other.url) as client:
        official_cli.close_election(client, read_key_file(other.official, "official"), other.id)
    b.page.get_by_role("button", name="Cast this ballot").click()
    b.page.get_by_role("heading", name="Your ballot was not cast").wait_for()
    assert "not open for voting" in b.page.get_by_test_id("refused-reason").inner_text()
    assert board_ballots(other, voter) == []
    assert_requests(b, voter)
    axe(b.page, "25-refused")
    b.page.goto(other.booth_url)
    b.page.get_by_role("heading", name="Voting has closed").wait_for()
    axe(b.page, "26-closed")
    b.context.close()
    # a voter of the closed election can still check a ballot: here one that was never cast
    b = open_booth(browser, other)
    b.page.goto(f"{other.booth_url}#check={code}")
    b.page.get_by_test_id("check-verdict").wait_for()
    assert "No ballot with this tracking code" in b.page.get_by_test_id("check-verdict").inner_text()
    b.context.close()

    tallied = make_booth_election(server.url, server.keys / "official.key", tmp_path / "tallied", "a11y-tallied",
                                  voters=1)
    b = open_booth(browser, tallied)
    code = to_sealed(b, tallied, tallied.voters[0])
    b.page.get_by_role("button", name="Cast this ballot").click()
    wait_cast(b.page)
    counts = tally(tallied)
    b.page.goto(tallied.booth_url)
    b.page.get_by_role("heading", name="The result is published").wait_for()
    result = b.page.get_by_test_id("result").inner_text()
    assert f"Yes: {counts[0][0]}" in result and "Pool: 2" in result
    assert b.page.get_by_test_id("result-link").get_attribute("href") == f"/api/v1/elections/{tallied.id}"
    axe(b.page, "27-tallied")
    b.page.get_by_role("link", name="Check a ballot on the board").first.click()
    b.page.get_by_role("heading", name="Check a ballot on the board").wait_for()
    b.page.get_by_label("Tracking code").fill(code)
    b.page.get_by_role("button", name="Check", exact=True).click()
    assert b.page.get_by_test_id("check-verdict").inner_text() == "Your ballot is on the board: every check passed."
    b.context.close()
