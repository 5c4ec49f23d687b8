"""Helpers for the web booth's browser tests (tests/booth/test_booth_browser*.py) and bench/booth.py.

A real ballot server (gunicorn, ``evote serve``) on a free loopback port, an
election set up through the CLI's own functions with a manifest that has one
question of each rule shape, and Debian's Chromium driven by Playwright.
Every request a page makes is recorded, so a test can show that the private
credential never left the browser and that no other origin was contacted.
"""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from cli import election, trustee
from cli.client import Client
from cli.credentials import issue_to_directory, numbered_labels, publish_credentials
from cli.keyfiles import read_key_file
from cli.official import create_signing_key
from cli.voters import read_login_file, register_voters
from evote.credentials import format_credential_code
from evote.encoding import b64encode
from evote.manifest import Manifest

CHROMIUM = os.environ.get("EVOTE_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]

MANIFEST: dict[str, Any] = {
    "version": 1,
    "title": {"en": "Riverside poll", "ru": "Опрос о набережной"},
    "description": {"en": "A poll for the browser tests.", "ru": "Опрос для браузерных тестов."},
    "questions": [
        {"id": "park", "title": {"en": "Renovate the park?", "ru": "Обновить парк?"},
         "kind": "choice", "min": 1, "max": 1,
         "options": [{"en": "Yes", "ru": "Да"}, {"en": "No", "ru": "Нет"}]},
        {"id": "priorities", "title": {"en": "Pick one or two priorities", "ru": "Выберите один или два приоритета"},
         "kind": "choice", "min": 1, "max": 2,
         "options": [{"en": "Cycle lanes", "ru": "Велодорожки"}, {"en": "Playgrounds", "ru": "Площадки"},
                     {"en": "Lighting", "ru": "Освещение"}, {"en": "Benches", "ru": "Скамейки"}]},
        {"id": "budget", "title": {"en": "Share up to 5 points", "ru": "Распределите до 5 баллов"},
         "kind": "score", "min": 0, "max": 5, "max_score": 3,
         "options": [{"en": "Library", "ru": "Библиотека"}, {"en": "Pool", "ru": "Бассейн"},
                     {"en": "Tram", "ru": "Трамвай"}]},
    ],
}


@dataclass(frozen=True)
class Voter:
    voter_id: str
    login: str  # the login code (Bearer)
    code: str  # the printed credential code (secret)
    seed: bytes  # the credential's seed (secret)
    credential_file: Path


@dataclass(frozen=True)
class BoothElection:
    id: str
    url: str
    official: Path
    trustees: tuple[Path, ...]
    voters: tuple[Voter, ...]

    @property
    def booth_url(self) -> str:
        return f"{self.url}/booth/{self.id}"


def make_booth_election(url: str, official_key: Path, work: Path, election_id: str,
                        voters: int = 6, manifest: dict[str, Any] | None = None) -> BoothElection:
    """Create, set up and open an election with ``manifest`` (default MANIFEST;
    3 trustees, t = 2)."""
    work.mkdir(parents=True, exist_ok=True)
    ca = work / "ca.key"
    create_signing_key(ca, "credential-authority")
    states = [work / f"t{i}.state" for i in range(1, 4)]
    for s in states:
        trustee.init_trustee(s)
    official = read_key_file(official_key, "official")
    manifest = Manifest.from_json({**(manifest or MANIFEST), "election_id": election_id})
    labels = numbered_labels(voters)
    with Client(url) as client:
        setup = election.created_body(
            manifest, official.verify_key, read_key_file(ca, "credential-authority").verify_key,
            [trustee.load_state(s).public for s in states], 2,
        )
        election.create_election(client, official, setup)
        trustee.run_ceremony(client, states, election_id, official)
        issued = issue_to_directory(election_id, "Riverside poll", labels, work / "creds", quiet=True)
        publish_credentials(client, read_key_file(ca, "credential-authority"), election_id,
                            issued.credentials)
        register_voters(client, official, election_id, [v.voter_id for v in labels], work / "logins")
        election.open_election(client, official, election_id)
    people = []
    for label in labels:
        key = issued.private[label.voter_id]
        login = read_login_file(work / "logins" / f"{label.voter_id}.login")[1]
        people.append(Voter(label.voter_id, login, format_credential_code(key), key.seed,
                            work / "creds" / "credentials" / f"{label.voter_id}.json"))
    return BoothElection(election_id, url, official_key, tuple(states), tuple(people))


def tally(e: BoothElection) -> list[list[int]]:
    """Close, tally with 2 of the 3 trustees, publish; return the result counts."""
    official = read_key_file(e.official, "official")
    with Client(e.url) as client:
        election.close_election(client, official, e.id)
        election.post_tally(client, official, e.id, quiet=True)
        for s in e.trustees[:2]:
            trustee.decrypt_round(client, s, quiet=True)
        tallied, waiting = election.finish_tally(client, official, e.id)
    assert tallied is not None, waiting
    return [list(row) for row in tallied.result.counts]


# --- watching what the browser sends ------------------------------------------------------


@dataclass
class RequestLog:
    """Every request of a browser context: method, URL, headers and body."""

    requests: list[dict[str, Any]] = field(default_factory=list)

    def attach(self, context: Any) -> None:
        context.on("request", self._record)

    def _record(self, request: Any) -> None:
        try:
            body = request.post_data_buffer or b""
        except UnicodeDecodeError:  # binary bodies are kept as bytes
            body = b""
        self.requests.append({
            "method": request.method,
            "url": request.url,
            "headers": request.headers,
            "body": body,
        })

    def foreign(self, origin: str) -> list[str]:
        """URLs of requests that went anywhere but ``origin`` (data: and blob: stay local)."""
        return [r["url"] for r in self.requests
                if not r["url"].startswith((origin + "/", "data:", "blob:"))]

    def leaks(self, voter: Voter) -> list[str]:
        """Requests carrying any spelling of the voter's private credential."""
        code = voter.code
        spellings = {
            code, code.replace("-", ""), code.lower(), code.replace("-", "").lower(),
            voter.seed.hex(), b64encode(voter.seed), json.dumps(code),
        }
        out = []
        for r in self.requests:
            blob = (r["url"] + json.dumps(r["headers"])).encode() + r["body"]
            text = blob.decode("utf-8", "replace")
            if any(s in text for s in spellings) or voter.seed in blob:
                out.append(r["url"])
        return out


@contextlib.contextmanager
def chromium() -> Iterator[Any]:
    """Debian's Chromium, headless, through Playwright."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """One browser per test module (pages get their own contexts)."""
    with chromium() as b:
        yield b


def sign_in_by_keyboard(page: Any, login: str, code: str) -> None:
    """From the booth's sign-in screen to the ballot with the keyboard only: the login
    field has the focus (type, Enter), then the credential field (type, Enter)."""
    page.get_by_role("heading", name="Sign in").wait_for()
    page.keyboard.type(login)
    page.keyboard.press("Enter")
    page.get_by_role("heading", name="Your private credential").wait_for()
    page.keyboard.type(code)
    page.keyboard.press("Enter")
    page.get_by_role("heading", name="Your ballot").wait_for()
