"""The schemas of the OpenAPI description (``components/schemas``): every body the
API sends or takes, as JSON Schema.

Apart from :mod:`ballot_server.openapi` (the paths and the document) because
the two change for different reasons: a schema when a wire format changes
(``docs/board.md``, ``docs/protocol.md``), a path when a route does.  Shared
pieces (a hash, a key, a signed tree head, the error body) are written once
here and referred to by name.
"""

from __future__ import annotations

from typing import Any

from evote.commands import MAX_ELECTION_ID
from evote.election import KINDS
from evote.payloads import COMMAND_KINDS


def ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def closed(required: dict[str, Any], optional: dict[str, Any] | None = None) -> dict[str, Any]:
    """A closed object: exactly these properties, the ``required`` ones always present."""
    return {
        "type": "object",
        "properties": {**required, **(optional or {})},
        "required": list(required),
        "additionalProperties": False,
    }


def nullable(schema: dict[str, Any]) -> dict[str, Any]:
    return {"oneOf": [schema, {"type": "null"}]}


INT = {"type": "integer", "minimum": 0, "maximum": 2**53 - 1}
B64 = {"type": "string", "pattern": "^[A-Za-z0-9_-]*$", "description": "unpadded base64url"}
HASH = {"type": "string", "pattern": "^[A-Za-z0-9_-]{43}$", "description": "32 bytes, base64url"}
KEY = {**HASH, "description": "Ed25519 public key (32 bytes, base64url)"}
SIGNATURE = {
    "type": "string",
    "pattern": "^[A-Za-z0-9_-]{86}$",
    "description": "Ed25519 signature (64 bytes, base64url)",
}
ELECTION_ID = {
    "type": "string",
    "pattern": f"^[a-z0-9][a-z0-9_-]{{0,{MAX_ELECTION_ID - 1}}}$",  # evote.commands.check_election_id
    "example": "city-poll",
}
PHASE = {"type": "string", "enum": ["setup", "open", "closed", "tallied", "abandoned"]}
TEXT = {
    "oneOf": [
        {"type": "string"},
        {"type": "object", "additionalProperties": {"type": "string"}},
    ],
    "description": "plain text, or an object from two-letter language tag to text",
}

SCHEMAS: dict[str, Any] = {
    "Error": closed(
        {
            "code": {"type": "string", "description": "stable machine-readable error code"},
            "message": {"type": "string"},
        },
        {"detail": {"type": "object"}},
    ),
    "SignedCommand": closed(
        {
            "body": {"type": "object", "description": "the command's body (docs/api.md)"},
            "signer": KEY,
            "signature": SIGNATURE,
        }
    ),
    "Entry": closed(
        {
            "v": {"const": 1},
            "election": {"type": "string"},
            "index": INT,
            "kind": {"type": "string", "enum": list(KINDS)},
            "prev": HASH,
            "time": INT,
            "payload": {"type": "object"},
        }
    ),
    "TreeHead": closed(
        {
            "v": {"const": 1},
            "election": {"type": "string"},
            "size": INT,
            "root": HASH,
            "time": INT,
        }
    ),
    "SignedTreeHead": closed(
        {"head": ref("TreeHead"), "signature": SIGNATURE, "board_key": KEY}
    ),
    "Receipt": closed(
        {
            "v": {"const": 1},
            "election": {"type": "string"},
            "index": INT,
            "tracking_code": {"type": "string"},
            "entry_hash": HASH,
            "tree_head": ref("SignedTreeHead"),
            "inclusion_proof": {"type": "array", "items": HASH},
            "signature": SIGNATURE,
        },
        {
            "cosigned_checkpoint": {
                "type": "string",
                "description": "elections with a witness policy: the latest checkpoint the "
                "witnesses had cosigned at cast time, a C2SP signed note (docs/witness.md); "
                "not covered by the receipt's signature",
            }
        },
    ),
    "BallotReceipt": closed({"entry": ref("Entry"), "receipt": ref("Receipt")}),
    "Appended": closed(
        {
            "index": INT,
            "entry_hash": HASH,
            "entry": ref("Entry"),
            "tree_head": ref("SignedTreeHead"),
        }
    ),
    "BoardKey": closed({"board_key": KEY}),
    # GET /oidc (ballot_server/oidc.py): the city's identity provider, for the booth's button
    "OidcProvider": closed(
        {"name": {"type": "string"}, "issuer": {"type": "string", "format": "uri"}}
    ),
    "ElectionList": closed(
        {
            "elections": {
                "type": "array",
                "items": closed({"id": ELECTION_ID, "title": TEXT, "phase": PHASE, "size": INT}),
            }
        }
    ),
    "Manifest": {
        "type": "object",
        "required": ["election_id", "title", "questions"],
        "properties": {
            "version": {"const": 1},
            "election_id": ELECTION_ID,
            "title": TEXT,
            "description": TEXT,
            "questions": {"type": "array", "items": {"type": "object"}},
        },
        "description": "the election manifest (docs/protocol.md)",
    },
    "ElectionSummary": closed(
        {
            "id": ELECTION_ID,
            "phase": PHASE,
            "size": INT,
            "manifest": ref("Manifest"),
            "official": KEY,
            "credential_authority": KEY,
            "trustees": {"type": "array", "items": KEY},
            "threshold": INT,
            "allowed_commands": {
                "type": "array",
                "items": {"type": "string", "enum": sorted(COMMAND_KINDS)},
            },
            "counts": closed(
                {
                    "ballots_cast": INT,
                    "ballots_audited": INT,
                    "credentials": nullable(INT),
                    "trustees_announced": INT,
                    "trustees_committed": INT,
                    "trustees_dealt": INT,
                    "complaints": INT,
                    "partial_decryptions": INT,
                }
            ),
            "fingerprint": nullable(HASH),
            "result": nullable({"type": "object"}),
            "tree_head": nullable(ref("SignedTreeHead")),
        }
    ),
    "Trustees": closed(
        {
            "trustees": {"type": "array", "items": KEY},
            "threshold": INT,
            "announcements": {"type": "array", "items": {"type": "object"}},
            "commitments": {"type": "array", "items": {"type": "object"}},
            "qualified": nullable({"type": "array", "items": INT}),
            "reconstructions": {"type": "array", "items": {"type": "object"}},
            "shares": {"type": "array", "items": {"type": "object"}},
            "complaints": {"type": "array", "items": {"type": "object"}},
            "answers": {"type": "array", "items": {"type": "object"}},
            "joint_key": nullable({"type": "object"}),
        }
    ),
    "JointKey": closed({"joint_key": {"type": "object"}}),
    "Credentials": closed(
        {
            "credentials": {
                "type": "array",
                "items": closed({"key": KEY, "weight": {"type": "integer", "minimum": 1}}),
            }
        }
    ),
    "Fingerprint": closed({"fingerprint": HASH, "opened": {"type": "boolean"}}),
    # scheduled opening and closing (ballot_server/scheduler.py, docs/api.md §4.0)
    "ScheduleRequest": closed({}, {"election_opened": ref("SignedCommand"),
                                   "election_closed": ref("SignedCommand")}),
    "Scheduled": closed({"scheduled": {"type": "array", "items": closed(
        {"kind": {"type": "string"}, "due": {"type": "string"}})}}),
    "Schedule": closed({
        "opens_at": nullable({"type": "string"}),
        "closes_at": nullable({"type": "string"}),
        "scheduled": {"type": "array", "items": closed(
            {"kind": {"type": "string"}, "due": {"type": "string"},
             "on_board": {"type": "boolean"}})},
    }),
    "Logins": closed(
        {
            "logins": {
                "type": "object",
                "additionalProperties": {"type": "string"},
                "description": "voter id -> login code (shown only in this answer)",
            }
        }
    ),
    "Ballot": {
        "type": "object",
        "required": ["election_id", "credential", "answers", "signature"],
        "properties": {
            "election_id": ELECTION_ID,
            "credential": KEY,
            "answers": {"type": "array", "items": {"type": "object"}},
            "signature": SIGNATURE,
        },
        "description": "an encrypted, signed ballot (docs/protocol.md)",
    },
    "AuditedBallot": {
        "type": "object",
        "required": ["ballot", "selections", "randomness"],
        "properties": {
            "ballot": ref("Ballot"),
            "selections": {"type": "array", "items": {"type": "array", "items": INT}},
            "randomness": {"type": "array", "items": {"type": "array", "items": HASH}},
        },
    },
    "EntriesPage": closed(
        {
            "start": INT,
            "size": INT,
            "entries": {"type": "array", "items": ref("Entry")},
            "next": nullable(INT),
        }
    ),
    "InclusionProof": closed(
        {
            "index": INT,
            "size": INT,
            "entry_hash": HASH,
            "proof": {"type": "array", "items": HASH},
            "tree_head": nullable(ref("SignedTreeHead")),
        }
    ),
    "ConsistencyProof": closed(
        {
            "first": INT,
            "second": INT,
            "proof": {"type": "array", "items": HASH},
            "tree_head": nullable(ref("SignedTreeHead")),
        }
    ),
    # --- witness checkpoints (ballot_server/witness_api.py, docs/witness.md) ---
    "Checkpoint": closed(
        {
            "origin": {"type": "string"},
            "size": INT,
            "root": HASH,
            "board_key": {"type": "string", "description": "the board's note verifier key"},
            "checkpoint": {"type": "string", "description": "C2SP signed note"},
            "witnesses": {"type": "array", "items": {"type": "string"}},
        }
    ),
    "Cosignature": closed(
        {
            "checkpoint": {"type": "string", "description": "the checkpoint note cosigned"},
            "cosignature": {"type": "string", "description": "one cosignature/v1 line"},
        }
    ),
    "CosignatureKept": closed(
        {
            "size": INT,
            "witness": {"type": "string"},
            "witnesses": {"type": "array", "items": {"type": "string"}},
        }
    ),
}
