"""Login through the city's OpenID provider (ballot_server/oidc.py), against a real provider.

The provider is panva's ``oidc-provider`` on 127.0.0.1 (tests/support/oidc_provider.py),
not a mock: the server discovers it, redeems real codes with PKCE and checks
real signed ID tokens.  Three of its clients carry a test knob (the provider
signs, with its real key, an ID token for another audience, with another
nonce, or already expired) so that the relying party's own checks are what
refuses them.  Every refusal has its own code, and nothing changes: no
binding, no board entry, and the pending login stays usable where it should.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import text

from ballot_server import create_app, db
from ballot_server.auth import format_login_code
from ballot_server.db import get_store
from ballot_server.oidc import COOKIE, subject_voter_id
from tests.support import api_election
from tests.support.api_election import ApiElection, build_election, server_config
from tests.support.oidc_provider import RunningProvider, login_at_provider, start_provider

api_db = api_election.api_db
api_app = api_election.api_app
api_client = api_election.api_client

CALLBACK = "http://localhost/api/v1/oidc/callback"
SECRET = "test-client-secret-0123456789-and-more-for-hs256"
ON_LIST = ["alice", "bob", "carol", "dave", "erin"]
ACCOUNTS = [*ON_LIST, "mallory"]
CLIENTS = {
    "evote": None,
    "evote-aud": "aud",
    "evote-nonce": "nonce",
    "evote-expired": "expired",
    "evote-hs256": None,  # plain client metadata: ID tokens MACed with the client secret
}


@pytest.fixture(scope="module")
def provider() -> Iterator[RunningProvider]:
    clients = [
        {"client_id": cid, "client_secret": SECRET, "redirect_uris": [CALLBACK],
         **({"tamper": knob} if knob else {}),
         **({"id_token_signed_response_alg": "HS256"} if cid == "evote-hs256" else {})}
        for cid, knob in CLIENTS.items()
    ]
    with start_provider(clients, ACCOUNTS) as running:
        yield running


def make_app(api_db: str, tmp_path_factory: pytest.TempPathFactory, issuer: str, client_id: str) -> Flask:
    return create_app(server_config(
        api_db, str(tmp_path_factory.mktemp("instance")),
        EVOTE_OIDC_ISSUER=issuer, EVOTE_OIDC_CLIENT_ID=client_id,
        EVOTE_OIDC_CLIENT_SECRET=SECRET, EVOTE_OIDC_NAME="Testville",
    ))


@pytest.fixture(scope="module")
def apps(api_db: str, tmp_path_factory: pytest.TempPathFactory, provider: RunningProvider) -> Iterator[dict[str, Flask]]:
    made = {cid: make_app(api_db, tmp_path_factory, provider.issuer, cid) for cid in CLIENTS}
    yield made
    for app in made.values():
        with app.app_context():
            db.get_engine().dispose()


def oidc_election(app: Flask) -> tuple[FlaskClient, ApiElection]:
    client = app.test_client()
    e = build_election(client, voters=len(ON_LIST))
    answer = e.ok("register_voters", e.official, {"voters": ON_LIST, "id_kind": "oidc_subject"})
    assert answer == {"logins": {}}  # no login code exists for a provider subject
    return client, e


def start(client: FlaskClient, e: ApiElection) -> str:
    answer = client.get(f"/api/v1/elections/{e.election_id}/oidc/start")
    assert answer.status_code == 303, answer.get_json()
    return answer.headers["Location"]


def callback_path(url: str) -> str:
    assert url.startswith(CALLBACK + "?"), url
    return url[len("http://localhost"):]


def session_token(answer: Any, e: ApiElection) -> str:
    assert answer.status_code == 303, answer.get_json()
    location = answer.headers["Location"]
    prefix = f"/booth/{e.election_id}/#oidc="
    assert location.startswith(prefix), location
    return location[len(prefix):]


def bindings(app: Flask, e: ApiElection, subjects: list[str]) -> list[bytes | None]:
    with app.app_context():
        key = app.extensions["evote"].authenticator.subject_key
        issuer = app.extensions["evote"].authenticator.settings.issuer
        store = get_store()
        return [store.voter(e.election_id, subject_voter_id(key, issuer, s)).credential for s in subjects]


def refused(answer: Any, status: int, code: str) -> None:
    assert answer.status_code == status, (answer.status_code, answer.get_data(as_text=True)[:300])
    assert answer.get_json()["code"] == code, answer.get_json()


# --- unhappy paths first ---------------------------------------------------------------


def test_a_subject_not_on_the_voter_list_is_refused(apps, provider) -> None:
    app = apps["evote"]
    client, e = oidc_election(app)
    size = e.size()
    back = login_at_provider(start(client, e), provider.issuer, "mallory")
    refused(client.get(callback_path(back)), 403, "oidc_not_registered")
    assert e.size() == size


def test_a_state_mismatch_is_refused_and_the_real_answer_still_works(apps, provider) -> None:
    app = apps["evote"]
    client, e = oidc_election(app)
    back = login_at_provider(start(client, e), provider.issuer, "alice")
    forged = back.replace("state=", "state=x")
    refused(client.get(callback_path(forged)), 400, "oidc_state_mismatch")
    assert bindings(app, e, ["alice"]) == [None]
    session_token(client.get(callback_path(back)), e)  # the genuine answer was not spent


def test_a_callback_without_a_started_login_is_refused(apps, provider) -> None:
    app = apps["evote"]
    client, e = oidc_election(app)
    back = login_at_provider(start(client, e), provider.issuer, "alice")
    stranger = app.test_client()  # another browser: no pending-login cookie
    refused(stranger.get(callback_path(back)), 400, "oidc_no_pending_login")
    stranger.set_cookie(COOKIE, "forged.cookie", domain="localhost", path="/api/v1/oidc/")
    refused(stranger.get(callback_path(back)), 400, "oidc_bad_pending_login")


def test_the_pending_cookie_is_encrypted_and_a_flipped_byte_is_refused(apps, provider) -> None:
    from nacl.secret import SecretBox

    from evote.encoding import b64decode, b64encode

    app = apps["evote"]
    client, e = oidc_election(app)
    authorize = start(client, e)
    value = client.get_cookie(COOKIE, domain="localhost", path="/api/v1/oidc/").value
    state = parse_qs(urlsplit(authorize).query)["state"][0]
    raw = b64decode(value, what="cookie")
    # the server's own key opens it, and only then is the verifier seen
    verifier = __import__("json").loads(
        SecretBox(app.extensions["evote"].authenticator.cookie_key).decrypt(raw))["c"]
    for secret in (verifier, state):
        assert secret not in value and secret.encode() not in raw
    back = login_at_provider(authorize, provider.issuer, "alice")
    for at in (0, 30, len(raw) - 1):  # the nonce, the ciphertext, the tag
        flipped = raw[:at] + bytes([raw[at] ^ 1]) + raw[at + 1:]
        client.set_cookie(COOKIE, b64encode(flipped), domain="localhost", path="/api/v1/oidc/")
        refused(client.get(callback_path(back)), 400, "oidc_bad_pending_login")
    assert bindings(app, e, ["alice"]) == [None]
    client.set_cookie(COOKIE, value, domain="localhost", path="/api/v1/oidc/")
    session_token(client.get(callback_path(back)), e)  # the untouched cookie still works


def test_a_browser_is_sent_back_to_the_booth_with_the_refusal(apps, provider) -> None:
    app = apps["evote"]
    client, e = oidc_election(app)
    back = callback_path(login_at_provider(start(client, e), provider.issuer, "mallory"))
    html = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"  # Chromium's
    answer = client.get(back, headers={"Accept": html})
    assert answer.status_code == 303
    assert answer.headers["Location"] == f"/booth/{e.election_id}/#oidc-error=oidc_not_registered"
    assert answer.headers["Referrer-Policy"] == "no-referrer"
    # an API client asking for JSON gets the error itself (the state is spent: a replay now)
    refused(client.get(back, headers={"Accept": "application/json"}), 409, "oidc_replayed")


def test_a_burst_on_the_login_routes_is_rate_limited(api_db, tmp_path_factory, provider) -> None:
    app = create_app(server_config(
        api_db, str(tmp_path_factory.mktemp("instance")),
        EVOTE_OIDC_ISSUER=provider.issuer, EVOTE_OIDC_CLIENT_ID="evote",
        EVOTE_OIDC_CLIENT_SECRET=SECRET, EVOTE_CAST_BURST=2, EVOTE_CAST_RATE=1,
    ))
    try:
        client, e = oidc_election(app)
        # an address of its own: the buckets are shared by every app on this database
        client.environ_base["REMOTE_ADDR"] = "192.0.2.77"
        first = start(client, e)
        cookie = client.get_cookie(COOKIE, domain="localhost", path="/api/v1/oidc/").value
        back = callback_path(login_at_provider(first, provider.issuer, "alice"))
        start(client, e)
        client.set_cookie(COOKIE, cookie, domain="localhost", path="/api/v1/oidc/")
        for path in (f"/api/v1/elections/{e.election_id}/oidc/start", back):
            answer = client.get(path)
            refused(answer, 429, "rate_limited")
            assert int(answer.headers["Retry-After"]) >= 1
            assert "Set-Cookie" not in answer.headers  # no new pending login, none spent
        assert bindings(app, e, ["alice"]) == [None]
        client.environ_base["REMOTE_ADDR"] = "192.0.2.78"  # another address is not limited
        session_token(client.get(back), e)  # and the login was not spent by the refusal
    finally:
        with app.app_context():
            db.get_engine().dispose()


def test_a_replayed_callback_and_a_replayed_code_are_refused(apps, provider) -> None:
    app = apps["evote"]
    client, e = oidc_election(app)
    authorize = start(client, e)
    cookie = client.get_cookie(COOKIE, domain="localhost", path="/api/v1/oidc/").value
    back = login_at_provider(authorize, provider.issuer, "bob")
    session_token(client.get(callback_path(back)), e)
    # the same answer with the same pending login (cookie kept by an attacker): refused by us
    client.set_cookie(COOKIE, cookie, domain="localhost", path="/api/v1/oidc/")
    refused(client.get(callback_path(back)), 409, "oidc_replayed")
    # the same code under a fresh login of one's own: refused by the provider (code spent, wrong PKCE)
    fresh = parse_qs(urlsplit(start(client, e)).query)["state"][0]
    code = parse_qs(urlsplit(back).query)["code"][0]
    refused(client.get(f"/api/v1/oidc/callback?code={code}&state={fresh}"), 401, "oidc_code_rejected")


@pytest.mark.parametrize(
    ("client_id", "status", "code"),
    [
        ("evote-aud", 401, "oidc_wrong_audience"),
        ("evote-nonce", 401, "oidc_nonce_mismatch"),
        ("evote-expired", 401, "oidc_token_expired"),
        # a symmetric signature is not one the provider's JWKS can vouch for (alg confusion)
        ("evote-hs256", 401, "oidc_bad_signature"),
    ],
)
def test_a_bad_id_token_is_refused_and_changes_nothing(apps, provider, client_id, status, code) -> None:
    app = apps[client_id]
    client, e = oidc_election(app)
    size = e.size()
    back = login_at_provider(start(client, e), provider.issuer, "carol")
    refused(client.get(callback_path(back)), status, code)
    assert e.size() == size and bindings(app, e, ["carol"]) == [None]


def test_session_tokens_are_checked(apps, provider) -> None:
    app = apps["evote"]
    client, e = oidc_election(app)
    token = session_token(client.get(callback_path(
        login_at_provider(start(client, e), provider.issuer, "dave"))), e)
    ballot, _ = e.ballot(0)
    body, mac = token.rsplit(".", 1)
    forged = body + "." + ("A" if mac[0] != "A" else "B") + mac[1:]
    refused(e.cast(ballot, login=forged), 401, "unauthenticated")
    _, other = oidc_election(app)
    refused(other.cast(ballot, login=token), 401, "unauthenticated")  # another election's voter
    assert bindings(app, e, ["dave"]) == [None]


def test_the_voter_list_holds_keyed_hashes_not_subjects(apps) -> None:
    app = apps["evote"]
    _, e = oidc_election(app)
    with app.app_context(), db.get_engine().connect() as conn:
        rows = conn.execute(text("SELECT voter_id FROM voters WHERE election_id = :e"),
                            {"e": e.election_id}).scalars().all()
    auth = app.extensions["evote"].authenticator
    expected = {subject_voter_id(auth.subject_key, auth.settings.issuer, s) for s in ON_LIST}
    assert expected <= set(rows)
    assert not any(s in r for s in ON_LIST for r in rows)  # no subject in the clear
    # a provider subject's row opens with no login code (its login hash is of a discarded secret)
    ballot, _ = e.ballot(0)
    forged = format_login_code(sorted(expected)[0], bytes(32))
    refused(e.cast(ballot, login=forged), 401, "unauthenticated")
    refused(e.post("register_voters", e.official, {"voters": ["alice"], "id_kind": "oidc_subject"}),
            409, "already_exists")
    refused(e.post("register_voters", e.official, {"voters": ["zed"], "id_kind": "email"}),
            422, "bad_schema")


def test_without_a_provider_the_routes_and_the_kind_are_refused(api_client) -> None:
    refused(api_client.get("/api/v1/oidc"), 404, "not_found")
    e = build_election(api_client, voters=1)
    refused(e.post("register_voters", e.official, {"voters": ["alice"], "id_kind": "oidc_subject"}),
            400, "oidc_not_configured")


# --- the happy path --------------------------------------------------------------------


def test_login_binds_the_credential_and_casts(apps, provider) -> None:
    app = apps["evote"]
    client, e = oidc_election(app)
    assert client.get("/api/v1/oidc").get_json() == {"name": "Testville", "issuer": provider.issuer}
    token = session_token(client.get(callback_path(
        login_at_provider(start(client, e), provider.issuer, "erin"))), e)
    assert client.post(f"/booth/{e.election_id}/login",
                       headers={"Authorization": f"Bearer {token}"}).status_code == 204
    ballot, _ = e.ballot(1)
    answer = e.cast(ballot, login=token)
    assert answer.status_code == 201, answer.get_json()
    assert bindings(app, e, ["erin"]) == [ballot.credential.raw]
    # the first login bound the credential: another credential is refused for this voter
    other, _ = e.ballot(2)
    answer = e.cast(other, login=token)
    assert (answer.status_code, answer.get_json()["code"]) == (403, "binding")
    # and the login codes of the same election still work beside it
    e.cast_ok(3)


@pytest.mark.parametrize("extra", [[], ["--out", "logins", "--oidc-subjects"]])
def test_voters_register_wants_login_files_or_subjects_not_both(tmp_path, extra) -> None:
    from tests.support.cli_server import invoke

    roster = tmp_path / "voters.csv"
    roster.write_text("voter_id\nalice\n")
    result = invoke(None, "voters", "register", "--election", "poll-1", "--from", roster,
                    "--server", "http://127.0.0.1:9", "--key", tmp_path / "none.key", *extra)
    assert result.exit_code != 0
    assert "[usage]" in result.output and "--oidc-subjects" in result.output


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"EVOTE_OIDC_ISSUER": "http://login.city.example"}, "https://"),
        ({"EVOTE_OIDC_ISSUER": "https://login.city.example"}, "EVOTE_OIDC_CLIENT_ID"),
        ({"EVOTE_OIDC_ISSUER": "https://login.city.example", "EVOTE_OIDC_CLIENT_ID": "e"},
         "EVOTE_OIDC_CLIENT_SECRET"),
    ],
)
def test_a_half_configured_provider_stops_the_server(tmp_path, settings, message) -> None:
    from ballot_server.config import ConfigError

    with pytest.raises(ConfigError, match=message):
        create_app({"EVOTE_INSTANCE_PATH": str(tmp_path), **settings})


def test_a_callback_replayed_to_another_server_process_is_a_replay(
    api_db, tmp_path, provider, monkeypatch
) -> None:
    """Two gunicorn servers (two workers each) on one database: the state used at one
    is refused as ``oidc_replayed`` at the other, not redeemed again at the provider."""
    import shutil

    import httpx

    from tests.support.served import Server

    for name, value in {"EVOTE_OIDC_ISSUER": provider.issuer, "EVOTE_OIDC_CLIENT_ID": "evote",
                        "EVOTE_OIDC_CLIENT_SECRET": SECRET}.items():
        monkeypatch.setenv(name, value)
    first, second = Server(api_db, tmp_path / "a"), Server(api_db, tmp_path / "b")
    for server in (first, second):
        server.directory.mkdir()
    app = create_app(server_config(api_db, str(tmp_path / "a" / "instance"),
                                   EVOTE_BOARD_KEY=str(tmp_path / "a" / "board-key")))
    _, e = oidc_election(app)
    with app.app_context():
        db.get_engine().dispose()
    shutil.copy(tmp_path / "a" / "board-key", tmp_path / "b" / "board-key")
    # the provider knows the callback as http://localhost/...: say so in the Host header
    host = {"Host": "localhost"}
    try:
        first.start()
        second.start()
        answer = httpx.get(f"{first.base}/elections/{e.election_id}/oidc/start", headers=host)
        assert answer.status_code == 303, answer.text[:300]
        cookie = {COOKIE: answer.cookies[COOKIE]}
        back = callback_path(login_at_provider(answer.headers["Location"], provider.issuer, "bob"))
        origin = f"http://127.0.0.1:{first.port}"
        answer = httpx.get(origin + back, headers=host, cookies=cookie)
        assert answer.status_code == 303, answer.text[:300]
        assert "#oidc=" in answer.headers["Location"]
        replay = httpx.get(f"http://127.0.0.1:{second.port}" + back, headers=host, cookies=cookie)
        assert (replay.status_code, replay.json()["code"]) == (409, "oidc_replayed"), replay.text
    finally:
        first.stop()
        second.stop()
