"""Schemathesis against ``/api/v1/openapi.json``, in process (WSGI).

For every documented operation, generated requests (valid and invalid) must
never get a 5xx, and every answer must match the documented status codes,
media types and response schemas.  The server holds a real election under the
id the document gives as its example (``city-poll``), with a cast ballot, and
one election still in set-up, so that generated requests reach the real code
paths and not only 404s.

Bounded: a few examples per operation and generation mode, on SQLite and on
PostgreSQL (which refuses some inputs SQLite takes, e.g. NUL bytes in text).
Schemathesis' own pytest plugin is not used (its lazy-fixture loader does not
run under pytest 9); each operation is one parametrized test driving
hypothesis directly with the operation's strategy.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis import GenerationMode
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)

from ballot_server import create_app, db
from ballot_server.openapi import openapi_document
from tests.support import api_election
from tests.support.api_election import build_election, server_config

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]
_PATHS = openapi_document()["paths"]
OPERATIONS = sorted(
    pytest.param(method.upper(), path, mode, id=f"{method.upper()} {path} {mode.value}")
    for path, ops in _PATHS.items()
    if path != "/openapi.json"  # schemathesis skips the document itself; test_api_http checks it
    for method, op in ops.items()
    for mode in GenerationMode
    # Negative data needs something to break: a parameter or a body.
    if mode is GenerationMode.POSITIVE or op.get("parameters") or op.get("requestBody")
)


api_db = api_election.api_db


@pytest.fixture(scope="module")
def schema_app(api_db: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    # With a provider configured, so the login routes answer too.  Its discovery
    # document is given here (no provider runs in this module; test_oidc.py has one):
    # the start route then redirects to it, as with a real one.
    app = create_app(server_config(
        api_db, str(tmp_path_factory.mktemp("instance")),
        EVOTE_OIDC_ISSUER="https://127.0.0.1:9", EVOTE_OIDC_CLIENT_ID="evote",
        EVOTE_OIDC_CLIENT_SECRET="s" * 32,
    ))
    app.extensions["evote"].authenticator.provider._meta = {
        "issuer": "https://127.0.0.1:9",
        "authorization_endpoint": "https://127.0.0.1:9/auth",
        "token_endpoint": "https://127.0.0.1:9/token",
        "jwks_uri": "https://127.0.0.1:9/jwks",
    }
    client = app.test_client()
    e = build_election(client, election_id="city-poll")
    e.cast_ok(0)
    build_election(client, election_id="city-setup", stop_before="key_published")
    yield app
    with app.app_context():
        db.get_engine().dispose()


@pytest.fixture(scope="module")
def api_schema(schema_app: Any) -> Any:
    return schemathesis.openapi.from_wsgi("/api/v1/openapi.json", schema_app)


def operation(api_schema: Any, method: str, path: str) -> Any:
    for result in api_schema.get_all_operations():
        op = result.ok()
        if op.method.upper() == method and op.path == path:
            return op
    raise LookupError(f"{method} {path} is not in the served document")


@pytest.mark.parametrize(("method", "path", "mode"), OPERATIONS)
def test_every_operation_keeps_its_contract(
    api_schema: Any, schema_app: Any, method: str, path: str, mode: GenerationMode
) -> None:
    op = operation(api_schema, method, path)

    @given(case=op.as_strategy(generation_mode=mode))
    @settings(
        max_examples=8,
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    def run(case: Any) -> None:
        response = case.call(app=schema_app)
        case.validate_response(response, checks=CHECKS)

    run()
