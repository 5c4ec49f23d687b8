"""The OpenAPI 3.1 description of ``/api/v1``, served at ``/api/v1/openapi.json``.

Built as Python data rather than kept as a JSON file so that shared
schemas (an entry, a signed tree head, the error body) are written once --
they are :mod:`ballot_server.openapi_schemas`; this module holds the paths,
one per route, and assembles the document.  A test checks that every route
of the blueprints is described, and schemathesis checks every response
against these schemas.  The prose reference is
``docs/api.md``; the byte-level formats are in ``docs/board.md``,
``docs/protocol.md`` and ``docs/record-format.md``.
"""

from __future__ import annotations

import copy
from typing import Any

from ballot_server.openapi_schemas import ELECTION_ID, INT, SCHEMAS, ref
from evote.payloads import COMMAND_KINDS

JSON = "application/json"


def _json(schema: str, description: str) -> dict[str, Any]:
    return {"description": description, "content": {JSON: {"schema": ref(schema)}}}


ERRORS = {"default": _json("Error", "an error: {code, message[, detail]} (docs/api.md)")}
ELECTION_PARAM = {
    "name": "election_id",
    "in": "path",
    "required": True,
    "schema": ELECTION_ID,
}
# the path parameter of the two by-tracking-code routes (entry, receipt)
TRACKING_CODE_PARAM = {
    "name": "tracking_code",
    "in": "path",
    "required": True,
    "schema": {"type": "string", "maxLength": 200},
}
BEARER = [{"loginCode": []}]


def _query(name: str, description: str, *, minimum: int = 0, required: bool = False) -> dict:
    return {
        "name": name,
        "in": "query",
        "required": required,
        "description": description,
        "schema": {"type": "integer", "minimum": minimum, "maximum": 2**53 - 1},
    }


def _op(
    summary: str,
    ok: dict[str, Any],
    *,
    status: str = "200",
    body: str | None = None,
    params: list[dict[str, Any]] | None = None,
    security: list[dict[str, list]] | None = None,
) -> dict[str, Any]:
    op: dict[str, Any] = {"summary": summary, "responses": {status: ok, **ERRORS}}
    if params:
        op["parameters"] = params
    if body:
        op["requestBody"] = {"required": True, "content": {JSON: {"schema": ref(body)}}}
    if security:
        op["security"] = security
    return op


def _resendable(op: dict[str, Any]) -> dict[str, Any]:
    """A cast or audit also answers 200 with the same Receipt: the ballot was already on
    the board (sent again after a lost answer, docs/api.md §5.1)."""
    op["responses"]["200"] = _json(
        "Receipt", "the same ballot was already on the board: its original receipt"
    )
    return op


def _redirect(description: str) -> dict[str, Any]:
    return {
        "description": description,
        "headers": {"Location": {"required": True, "schema": {"type": "string"}}},
    }


def _election(path: str = "") -> str:
    return "/elections/{election_id}" + path


PATHS: dict[str, Any] = {
    "/openapi.json": {
        "get": _op(
            "This document",
            {"description": "OpenAPI 3.1", "content": {JSON: {"schema": {"type": "object"}}}},
        )
    },
    "/board-key": {
        "get": _op("The key that signs tree heads and receipts", _json("BoardKey", "the key"))
    },
    "/elections": {
        "get": _op("List elections", _json("ElectionList", "every election on this server")),
        "post": _op(
            "Create an election (a signed election_created command from an allowed official)",
            _json("Appended", "entry 0 of the new board"),
            status="201",
            body="SignedCommand",
        ),
    },
    _election(): {
        "get": _op(
            "Election summary: phase, counts, keys, manifest",
            _json("ElectionSummary", "the summary"),
            params=[ELECTION_PARAM],
        )
    },
    _election("/manifest"): {
        "get": _op("The manifest", _json("Manifest", "the manifest"), params=[ELECTION_PARAM])
    },
    _election("/trustees"): {
        "get": _op(
            "Trustee keys and every key-ceremony message so far",
            _json("Trustees", "the ceremony material"),
            params=[ELECTION_PARAM],
        )
    },
    _election("/key"): {
        "get": _op(
            "The joint election key (404 until published)",
            _json("JointKey", "the key"),
            params=[ELECTION_PARAM],
        )
    },
    _election("/credentials"): {
        "get": _op(
            "The published voter credential list (404 until published)",
            _json("Credentials", "the list"),
            params=[ELECTION_PARAM],
        )
    },
    _election("/fingerprint"): {
        "get": _op(
            "The election fingerprint (on the board once opened; recomputed before)",
            _json("Fingerprint", "the fingerprint"),
            params=[ELECTION_PARAM],
        )
    },
    _election("/commands/{kind}"): {
        "post": _op(
            "Append a signed lifecycle or trustee command",
            _json("Appended", "the new entry"),
            status="201",
            body="SignedCommand",
            params=[
                ELECTION_PARAM,
                {
                    "name": "kind",
                    "in": "path",
                    "required": True,
                    "schema": {"type": "string", "enum": sorted(COMMAND_KINDS)},
                },
            ],
        )
    },
    _election("/schedule"): {
        "post": _op(
            "Keep the official's pre-signed election_opened / election_closed for the "
            "manifest's opens_at / closes_at",
            _json("Scheduled", "what is scheduled, and when"),
            status="201",
            body="ScheduleRequest",
            params=[ELECTION_PARAM],
        ),
        "get": _op("The voting window and the scheduled commands",
                   _json("Schedule", "the schedule"), params=[ELECTION_PARAM]),
    },
    _election("/voters"): {
        "post": _op(
            "Register voter logins (signed register_voters command); codes are shown once",
            _json("Logins", "one login code per voter id"),
            status="201",
            body="SignedCommand",
            params=[ELECTION_PARAM],
        )
    },
    _election("/ballots"): {
        "post": _resendable(
            _op(
                "Cast a ballot (Authorization: Bearer <login code>)",
                _json("Receipt", "the voter's receipt"),
                status="201",
                body="Ballot",
                params=[ELECTION_PARAM],
                security=BEARER,
            )
        )
    },
    _election("/ballots/{tracking_code}"): {
        "get": _op(
            "The board entry of a cast or audited ballot, by tracking code",
            _json("Entry", "the entry"),
            params=[ELECTION_PARAM, TRACKING_CODE_PARAM],
        )
    },
    _election("/audits"): {
        "post": _resendable(
            _op(
                "Post an audited ballot (its ciphertexts can never be cast)",
                _json("Receipt", "the receipt for the ballot_audited entry"),
                status="201",
                body="AuditedBallot",
                params=[ELECTION_PARAM],
                security=BEARER,
            )
        )
    },
    _election("/ballots/{tracking_code}/receipt"): {
        "get": _op(
            "A cast or audited ballot's entry and original receipt, by tracking code "
            "(recovering a lost answer, docs/api.md §5.2)",
            _json("BallotReceipt", "the entry and its receipt"),
            params=[ELECTION_PARAM, TRACKING_CODE_PARAM],
        )
    },
    _election("/entries"): {
        "get": _op(
            "A page of board entries",
            _json("EntriesPage", "entries [start, start+limit) that exist"),
            params=[
                ELECTION_PARAM,
                _query("start", "first index (default 0)"),
                {
                    **_query("limit", "page size, 1..1000 (default 100)", minimum=1),
                    "schema": {"type": "integer", "minimum": 1, "maximum": 1000},
                },
            ],
        )
    },
    _election("/entries/{index}"): {
        "get": _op(
            "One board entry",
            _json("Entry", "the entry"),
            params=[
                ELECTION_PARAM,
                {"name": "index", "in": "path", "required": True, "schema": INT},
            ],
        )
    },
    _election("/tree-head"): {
        "get": _op(
            "The latest signed tree head (signed now if the board has grown)",
            _json("SignedTreeHead", "the head"),
            params=[ELECTION_PARAM],
        )
    },
    _election("/inclusion"): {
        "get": _op(
            "RFC 9162 inclusion proof of one entry (by index or tracking code)",
            _json("InclusionProof", "the audit path"),
            params=[
                ELECTION_PARAM,
                _query("index", "entry index (or give tracking_code)"),
                {
                    "name": "tracking_code",
                    "in": "query",
                    "required": False,
                    "schema": {"type": "string", "minLength": 1, "maxLength": 200},
                },
                _query("size", "tree size (default: the latest signed head's)", minimum=1),
            ],
        )
    },
    _election("/consistency"): {
        "get": _op(
            "RFC 9162 consistency proof between two tree sizes",
            _json("ConsistencyProof", "the proof"),
            params=[
                ELECTION_PARAM,
                _query("first", "older tree size", minimum=1, required=True),
                _query("second", "newer tree size (default: latest signed head)", minimum=1),
            ],
        )
    },
    _election("/record"): {
        "get": _op(
            "The election record as one zip archive (docs/record-format.md)",
            {
                "description": "record.json, tree-heads.jsonl and board.jsonl",
                "content": {"application/zip": {"schema": {"type": "string", "format": "binary"}}},
            },
            params=[ELECTION_PARAM],
        )
    },
    # --- witness checkpoints (ballot_server/witness_api.py, docs/witness.md) ---
    _election("/checkpoint"): {
        "get": _op(
            "The board-signed checkpoint (C2SP) of the board now, or of its first size entries",
            _json("Checkpoint", "the checkpoint with the cosignatures kept for it"),
            params=[ELECTION_PARAM, _query("size", "tree size (default: now)", minimum=1)],
        )
    },
    _election("/checkpoint.txt"): {
        "get": _op(
            "The latest checkpoint note as plain text",
            {
                "description": "a C2SP signed note",
                "content": {"text/plain": {"schema": {"type": "string"}}},
            },
            params=[ELECTION_PARAM],
        )
    },
    _election("/checkpoint/cosigned"): {
        "get": _op(
            "The largest checkpoint cosigned by enough witnesses (404 until there is one)",
            _json("Checkpoint", "the checkpoint"),
            params=[
                ELECTION_PARAM,
                _query("max_size", "at most this many entries (default: any)", minimum=1),
            ],
        )
    },
    _election("/checkpoint/cosignatures"): {
        "post": _op(
            "Keep a witness's cosignature of one of this board's checkpoints",
            _json("CosignatureKept", "the cosignature was kept"),
            body="Cosignature",
            params=[ELECTION_PARAM],
        )
    },
    # --- login through the city's identity provider (ballot_server/oidc.py, docs/api.md
    # §4.3): routed only when EVOTE_OIDC_ISSUER is set (a 404 otherwise) ---
    "/oidc": {
        "get": _op(
            "The configured identity provider (404 when there is none)",
            _json("OidcProvider", "its display name and issuer"),
        )
    },
    _election("/oidc/start"): {
        "get": _op(
            "Start a provider login: a pending-login cookie and a redirect to the provider",
            _redirect("to the provider's authorization endpoint (state, nonce, PKCE S256)"),
            status="303",
            params=[ELECTION_PARAM],
        )
    },
    "/oidc/callback": {
        "get": _op(
            "The provider's answer: a redirect to the booth with a session token "
            "(#oidc=...) or, for a browser, the refusal (#oidc-error=<code>); a client "
            "that asks for application/json gets the JSON error",
            _redirect("to /booth/<election>/ with #oidc=<token> or #oidc-error=<code>"),
            status="303",
            params=[
                {"name": "state", "in": "query", "required": False, "schema": {"type": "string"}},
                {"name": "code", "in": "query", "required": False, "schema": {"type": "string"}},
            ],
        )
    },
}

OIDC_PATHS = ("/oidc", _election("/oidc/start"), "/oidc/callback")
"""Documented always, routed only on a server with a provider configured."""


def openapi_document() -> dict[str, Any]:
    """The whole document (a fresh copy each call)."""
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "evote ballot server",
            "version": "1",
            "description": (
                "The public bulletin board and casting API of an evote server. "
                "Every error is a JSON object {code, message[, detail]}; "
                "see docs/api.md for the rules behind each code."
            ),
        },
        "servers": [{"url": "/api/v1"}],
        "paths": copy.deepcopy(PATHS),
        "components": {
            "schemas": copy.deepcopy(SCHEMAS),
            "securitySchemes": {
                "loginCode": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "the voter's login code issued at registration",
                }
            },
        },
    }
