"""The HTTP edge: body cap, malformed JSON, media types, JSON errors for every
status, security headers on every response (errors included), the rate limiter,
configuration from the environment, and the OpenAPI document's coverage."""

from __future__ import annotations

import io
import logging
import os
import re
import stat

import pytest

from ballot_server import create_app, db
from ballot_server.config import ConfigError, load_or_create_board_key, load_settings
from ballot_server.openapi import openapi_document
from ballot_server.security import CONTENT_SECURITY_POLICY
from evote.ballot import AuditedBallot
from evote.signing import SigningKey
from tests.support import api_election
from tests.support.api_election import API, OFFICIAL, ApiElection, build_election, server_config

api_db = api_election.api_db
api_app = api_election.api_app
api_client = api_election.api_client
election = api_election.election


def assert_security_headers(response) -> None:
    h = response.headers
    csp = h["Content-Security-Policy"]
    assert csp == CONTENT_SECURITY_POLICY
    assert "default-src 'self'" in csp and "script-src 'self'" in csp
    assert "frame-ancestors 'none'" in csp
    assert "unsafe-inline" not in csp and "http" not in csp
    assert h["X-Content-Type-Options"] == "nosniff"
    assert h["Referrer-Policy"] == "no-referrer"
    assert h["Strict-Transport-Security"].startswith("max-age=")


def assert_error(response, status: int, code: str) -> None:
    assert response.status_code == status, response.data
    assert response.mimetype == "application/json"
    body = response.get_json()
    assert body["code"] == code and isinstance(body["message"], str)
    assert "Traceback" not in response.get_data(as_text=True)
    assert_security_headers(response)


# --- bodies ----------------------------------------------------------------------------


@pytest.fixture
def small_app(api_db, tmp_path):
    return create_app(
        server_config(
            api_db, str(tmp_path / "i"), EVOTE_MAX_BODY=4096, EVOTE_MAX_COMMAND_BODY=8192
        )
    )


def test_a_body_over_the_cap_is_413_and_writes_nothing(small_app) -> None:
    e = build_election(small_app.test_client())
    size = e.size()
    ballot, _ = e.ballot(0)
    doc = ballot.to_json()
    doc["padding"] = "x" * 5000
    response = e.cast(doc, login=e.login(0))
    assert_error(response, 413, "body_too_large")
    assert e.size() == size
    # A command has the same small cap (only a signed credential list may be larger:
    # tests/server/test_hostile_traffic.py).
    response = e.post("election_closed", OFFICIAL, {"padding": "x" * 3000})
    assert_error(response, 422, "bad_schema")
    response = e.post("election_closed", OFFICIAL, {"padding": "x" * 5000})
    assert_error(response, 413, "body_too_large")
    assert e.size() == size


def test_a_streamed_body_over_the_cap_is_413(small_app) -> None:
    """No Content-Length (chunked upload): the cap applies while reading."""
    e = build_election(small_app.test_client())
    size = e.size()
    response = e.client.post(
        f"{e.url}/ballots",
        input_stream=io.BytesIO(b"[" + b"1," * 4000 + b"1]"),
        content_type="application/json",
        headers={"Authorization": f"Bearer {e.login(0)}", "Transfer-Encoding": "chunked"},
        environ_overrides={"wsgi.input_terminated": True},
    )
    assert_error(response, 413, "body_too_large")
    assert e.size() == size


@pytest.mark.parametrize(
    ("data", "code"),
    [
        (b"{", "bad_encoding"),
        (b'{"a": 1, "a": 2}', "bad_encoding"),
        (b'{"a": NaN}', "bad_encoding"),
        (b"\xff\xfe{}", "bad_encoding"),
        (b"", "bad_request"),
        (b"[" * 100_000, "bad_encoding"),
    ],
)
def test_malformed_json_is_400(election: ApiElection, data: bytes, code: str) -> None:
    size = election.size()
    for path in ("/ballots", "/commands/election_closed", "/voters", "/audits"):
        response = election.client.post(
            f"{election.url}{path}",
            data=data,
            content_type="application/json",
            headers={"Authorization": f"Bearer {election.login(0)}"},
        )
        assert_error(response, 400, code)
    assert election.size() == size


def test_json_of_the_wrong_shape_is_422(election: ApiElection) -> None:
    for body in (b"[]", b'"ballot"', b"3", b"null", b'{"election_id": 1}'):
        response = election.client.post(
            f"{election.url}/ballots",
            data=body,
            content_type="application/json",
            headers={"Authorization": f"Bearer {election.login(0)}"},
        )
        assert_error(response, 422, "bad_schema")


@pytest.mark.parametrize("content_type", ["text/plain", "application/x-www-form-urlencoded", None])
def test_a_body_that_is_not_json_is_415(election: ApiElection, content_type) -> None:
    kwargs = {"content_type": content_type} if content_type else {}
    response = election.client.post(f"{election.url}/ballots", data=b"{}", **kwargs)
    assert_error(response, 415, "unsupported_media_type")


# --- routing errors -----------------------------------------------------------------------


def test_unknown_paths_and_methods_are_json(api_client) -> None:
    assert_error(api_client.get("/nowhere"), 404, "not_found")
    assert_error(api_client.get(f"{API}/nothing"), 404, "not_found")
    response = api_client.delete(f"{API}/elections")
    assert_error(response, 405, "method_not_allowed")
    assert "POST" in response.headers["Allow"]
    assert_error(api_client.put(f"{API}/elections/x/ballots", json={}), 405, "method_not_allowed")


def test_an_unexpected_exception_is_a_bare_json_500(api_db, tmp_path, caplog) -> None:
    app = create_app(server_config(api_db, str(tmp_path / "i")))

    def broken() -> None:
        raise RuntimeError("secret internal detail")

    app.add_url_rule("/api/v1/broken", view_func=broken)
    with caplog.at_level(logging.ERROR):
        response = app.test_client().get("/api/v1/broken")
    assert_error(response, 500, "internal")
    assert "secret internal detail" not in response.get_data(as_text=True)
    assert "secret internal detail" in caplog.text  # logged, with its traceback


# --- headers on every kind of response ------------------------------------------------------


def test_security_headers_on_every_response(election: ApiElection) -> None:
    c = election.client
    ballot, secrets = election.ballot(0)
    responses = [
        c.get(f"{API}/openapi.json"),
        c.get(f"{API}/board-key"),
        c.get(election.url),
        c.get(f"{election.url}/record", buffered=True),
        election.cast(ballot, login=election.login(0)),  # 201
        election.cast(ballot, login=election.login(0)),  # 200: the same ballot again
        election.audit(AuditedBallot.from_secrets(ballot, secrets), login=election.login(0)),  # 409
        election.cast(ballot, login=None),  # 401
        c.get(f"{election.url}/entries?limit=0"),  # 400
        c.get(f"{election.url}/entries/12345"),  # 404
        c.delete(election.url),  # 405
        c.post(f"{election.url}/ballots", data=b"x"),  # 415
        c.post(f"{election.url}/ballots", json=[]),  # 422 (after auth? no: 401 first)
        c.options(f"{API}/elections"),
    ]
    statuses = {r.status_code for r in responses}
    assert {200, 201, 400, 401, 404, 405, 409, 415} <= statuses
    for r in responses:
        assert_security_headers(r)


def test_api_answers_are_not_cached(election: ApiElection) -> None:
    receipt = election.cast(election.ballot(0)[0], login=election.login(0))
    assert receipt.headers["Cache-Control"] == "no-store"


# --- configuration ----------------------------------------------------------------------------


def test_settings_come_from_the_environment_and_the_mapping_wins(tmp_path) -> None:
    key = SigningKey.generate(lambda n: bytes(range(n)))
    env = {
        "EVOTE_DATABASE_URL": "sqlite:////tmp/x.sqlite",
        "EVOTE_OFFICIALS": f" {key.verify_key.to_json()} ,{OFFICIAL.verify_key.to_json()}",
        "EVOTE_MAX_BODY": "2048",
        "EVOTE_CAST_RATE": "12.5",
        "EVOTE_CAST_BURST": "3",
    }
    s = load_settings(str(tmp_path), None, env)
    assert s.database_url == "sqlite:////tmp/x.sqlite"
    assert s.officials == (key.verify_key, OFFICIAL.verify_key)
    assert (s.max_body, s.cast_rate_per_minute, s.cast_burst) == (2048, 12.5, 3)
    s = load_settings(str(tmp_path), {"EVOTE_MAX_BODY": 4096}, env)
    assert s.max_body == 4096
    defaults = load_settings(str(tmp_path), None, {})
    assert defaults.database_url == "sqlite:///" + os.path.join(str(tmp_path), "evote.sqlite")
    assert defaults.max_body == 1 << 20 and defaults.officials == ()
    assert defaults.board_key_path == os.path.join(str(tmp_path), "board-key")


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("EVOTE_OFFICIALS", "not-a-key"),
        ("EVOTE_MAX_BODY", "lots"),
        ("EVOTE_MAX_BODY", "10"),
        ("EVOTE_CAST_RATE", "-1"),
        ("EVOTE_CAST_BURST", "0"),
    ],
)
def test_a_bad_setting_stops_the_server(tmp_path, name: str, value: str) -> None:
    with pytest.raises(ConfigError, match=name):
        load_settings(str(tmp_path), None, {name: value})


def test_the_board_key_is_made_once_with_mode_0600(tmp_path) -> None:
    path = tmp_path / "keys" / "board-key"
    key = load_or_create_board_key(str(path))
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert load_or_create_board_key(str(path)) == key
    assert [p.name for p in path.parent.iterdir()] == ["board-key"]  # no temporary left over


def test_a_damaged_board_key_stops_the_server(tmp_path) -> None:
    path = tmp_path / "board-key"
    path.write_text("not base64!\n")
    with pytest.raises(ConfigError, match="EVOTE_BOARD_KEY"):
        load_or_create_board_key(str(path))


def test_the_app_uses_the_configured_board_key(api_db, tmp_path) -> None:
    path = tmp_path / "my-key"
    key = load_or_create_board_key(str(path))
    app = create_app(server_config(api_db, str(tmp_path / "i"), EVOTE_BOARD_KEY=str(path)))
    body = app.test_client().get(f"{API}/board-key").get_json()
    assert body == {"board_key": key.verify_key.to_json()}


# --- the OpenAPI document ------------------------------------------------------------------


def routed_operations(app) -> set[tuple[str, str]]:
    routed = set()
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith(API + "/"):
            continue
        path = re.sub(r"<(?:[a-z]+:)?([a-z_]+)>", r"{\1}", rule.rule[len(API):])
        for method in rule.methods - {"HEAD", "OPTIONS"}:
            routed.add((path, method.lower()))
    return routed


def test_openapi_describes_the_provider_login_routes(api_db, tmp_path) -> None:
    """With a provider configured, its routes exist, and the document has every one."""
    from ballot_server.openapi import OIDC_PATHS

    app = create_app(server_config(
        api_db, str(tmp_path / "instance"), EVOTE_OIDC_ISSUER="https://login.city.example",
        EVOTE_OIDC_CLIENT_ID="evote", EVOTE_OIDC_CLIENT_SECRET="s" * 32,
    ))
    try:
        doc = app.test_client().get(f"{API}/openapi.json").get_json()
        documented = {(p, m) for p, ops in doc["paths"].items() for m in ops}
        assert routed_operations(app) == documented
        assert {p for p, _ in documented} >= set(OIDC_PATHS)
    finally:
        with app.app_context():
            db.get_engine().dispose()


def test_openapi_describes_every_route_and_nothing_else(api_app) -> None:
    from ballot_server.openapi import OIDC_PATHS

    doc = api_app.test_client().get(f"{API}/openapi.json").get_json()
    assert doc == openapi_document()
    assert doc["openapi"].startswith("3.")
    routed = set()
    for rule in api_app.url_map.iter_rules():
        if not rule.rule.startswith(API + "/"):
            continue
        path = re.sub(r"<(?:[a-z]+:)?([a-z_]+)>", r"{\1}", rule.rule[len(API):])
        for method in rule.methods - {"HEAD", "OPTIONS"}:
            routed.add((path, method.lower()))
    documented = {(p, m) for p, ops in doc["paths"].items() for m in ops}
    # without a provider configured, only its routes are documented and not routed
    assert routed == {(p, m) for p, m in documented if p not in OIDC_PATHS}
    for path, ops in doc["paths"].items():
        for method, op in ops.items():
            assert "default" in op["responses"], (path, method)
            ok = [s for s in op["responses"] if s[0] in "23"]  # 303: the login redirects
            assert ok, (path, method)


def test_the_default_database_is_sqlite_in_wal_mode_in_the_instance_folder(tmp_path) -> None:
    from sqlalchemy import text

    instance = tmp_path / "instance"
    app = create_app({"EVOTE_INSTANCE_PATH": str(instance)})
    assert app.config["EVOTE_DATABASE_URL"] == f"sqlite:///{instance / 'evote.sqlite'}"
    with app.app_context():
        engine = db.get_engine()
        with engine.connect() as conn:
            assert conn.execute(text("PRAGMA journal_mode")).scalar() == "wal"
        engine.dispose()
    assert stat.S_IMODE((instance / "board-key").stat().st_mode) == 0o600
    assert app.test_client().get(f"{API}/elections").get_json() == {"elections": []}
