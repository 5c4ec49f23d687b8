"""Ballot vectors for tests/vectors/ballot.json (picked up by tools/make_vectors.py).

A full small election made with :class:`evote.drbg.SeededRng`: a manifest with
one question of each rule shape ("choose exactly 1", "choose up to 2", a score
question with a bounded total, and one whose total needs no proof), trustee
commitments, the joint key, a credential list, one voter's credential (seed
and printable code), the voter's selections, the encryption randomness and the
expected ballot JSON, canonical bytes' hash and tracking code, plus the
audited form.  The browser booth (ballot_server/booth) reproduces the ballot
byte for byte from the same seed; never edit the output by hand.

Randomness is consumed as :func:`evote.ballot.encrypt_ballot` does: first one
scalar per option (question by question), then, with the same stream, each
option's range proof in order followed by the question's sum proof.
"""

from __future__ import annotations

from evote.ballot import AuditedBallot, encrypt_ballot
from evote.credentials import (
    CredentialList,
    PublicCredential,
    crockford_encode,
    format_credential_code,
    format_legacy_credential_code,
    group_code,
)
from evote.drbg import SeededRng
from evote.fingerprint import ElectionContext
from evote.group import Point, Scalar
from evote.manifest import Manifest
from evote.signing import SigningKey

SEED = b"vectors/ballot"

MANIFEST = {
    "election_id": "vector-poll",
    "title": {"en": "Vector poll", "ru": "Тестовый опрос"},
    "description": "Deterministic ballot vectors",
    "questions": [
        {"id": "mayor", "title": "Choose one", "options": ["Ada", "Boris", "Chen"],
         "kind": "choice", "min": 1, "max": 1},
        {"id": "parks", "title": {"en": "Up to two parks", "ru": "До двух парков"},
         "options": ["North", "South", "East"], "kind": "choice", "min": 0, "max": 2},
        {"id": "budget", "title": "Score", "options": ["Roads", "Schools"],
         "kind": "score", "min": 1, "max": 3, "max_score": 2},
        {"id": "free", "title": "Any", "options": ["Yes", "No"],
         "kind": "choice", "min": 0, "max": 2},
    ],
}
SELECTIONS = [[0, 1, 0], [1, 0, 1], [2, 1], [0, 0]]


def _hex(b: bytes) -> str:
    return b.hex()


def ballot_vectors() -> dict:
    rng = SeededRng(SEED)
    manifest = Manifest.from_json(MANIFEST)
    # Two trustees with threshold 2: commitments C_i,0 and C_i,1; the joint
    # key is the sum of the constant terms, as in the real key ceremony.
    secrets = [[Scalar.random(rng) for _ in range(2)] for _ in range(2)]
    commitments = [[Point.base_mul(a) for a in row] for row in secrets]
    joint_secret = secrets[0][0] + secrets[1][0]
    joint_key = commitments[0][0] + commitments[1][0]
    voters = [SigningKey.generate(rng) for _ in range(3)]
    credentials = CredentialList(
        tuple(PublicCredential(k.verify_key, w) for k, w in zip(voters, (1, 2, 1), strict=True))
    )
    ctx = ElectionContext.build(manifest, joint_key, commitments, credentials)
    voter = voters[1]
    ballot_rng = SeededRng(SEED + b"/encrypt")
    ballot, ballot_secrets = encrypt_ballot(ctx, voter, SELECTIONS, ballot_rng)
    audited = AuditedBallot.from_secrets(ballot, ballot_secrets)
    return {
        "description": (
            "A full ballot. encrypt_seed_hex seeds SeededRng for encrypt_ballot: randomness "
            "(one scalar per option) then every option proof and sum proof, in order."
        ),
        "manifest": MANIFEST,
        "manifest_canonical_hex": _hex(manifest.canonical()),
        "manifest_digest_hex": _hex(manifest.digest()),
        "joint_secret": joint_secret.to_json(),
        "joint_key": joint_key.to_json(),
        "trustee_commitments": [[c.to_json() for c in row] for row in commitments],
        "credentials": credentials.to_json(),
        "credentials_digest_hex": _hex(credentials.digest()),
        "fingerprint_hex": _hex(ctx.fingerprint),
        "voter_seed_hex": _hex(voter.seed),
        "voter_public": voter.verify_key.to_json(),
        "voter_code": format_credential_code(voter),
        "selections": SELECTIONS,
        "encrypt_seed_hex": _hex(SEED + b"/encrypt"),
        "randomness": ballot_secrets.randomness.to_json(),
        "ballot": ballot.to_json(),
        "ballot_content_hex": _hex(ballot.content_for_signature()),
        "ballot_hash_hex": _hex(ballot.ballot_hash()),
        "tracking_code": ballot.tracking_code,
        "audited": audited.to_json(),
        "credential_codes": [
            {"seed_hex": _hex(k.seed), "code": format_credential_code(k)} for k in voters
        ],
        # Format-1 codes (55 characters, hash checksum only), as issued before
        # format 2: both sides must still read them (docs/protocol-ballots.md §2.2).
        "legacy_credential_codes": [
            {"seed_hex": _hex(k.seed), "code": format_legacy_credential_code(k)} for k in voters
        ],
        "crockford": [
            {"hex": _hex(data), "code": crockford_encode(data), "grouped": group_code(crockford_encode(data))}
            for data in (b"", b"\x00", b"\xff", bytes(range(10)), b"\xff" * 7)
        ],
    }


# --- ranked and graded questions (issue 16): tests/vectors/ballot_ranked.json ------------

RANKED_SEED = b"vectors/ballot-ranked"

RANKED_MANIFEST = {
    "election_id": "vector-ranked",
    "title": {"en": "Ranked vector poll", "ru": "Тестовое рейтинговое голосование"},
    "questions": [
        {"id": "council", "title": {"en": "Rank the council candidates", "ru": "Расставьте кандидатов"},
         "options": ["Ada", "Boris", "Chen", "Dara"], "kind": "ranked", "method": "stv", "seats": 2},
        {"id": "mayor", "title": "Rank for mayor", "options": ["Eve", "Farid", "Gleb"],
         "kind": "ranked", "method": "irv"},
        {"id": "plans", "title": {"en": "Grade each plan", "ru": "Оцените каждый план"},
         "options": [{"en": "Tram", "ru": "Трамвай"}, {"en": "Parks", "ru": "Парки"}, "Library"],
         "kind": "grades",
         "grades": [{"en": "Reject", "ru": "Отвергнуть"}, {"en": "Fair", "ru": "Удовлетворительно"},
                    {"en": "Good", "ru": "Хорошо"}, {"en": "Excellent", "ru": "Отлично"}]},
        {"id": "park", "title": "Choose one", "options": ["Yes", "No"],
         "kind": "choice", "min": 1, "max": 1},
    ],
}
#: Rank 1..k per option (0 unranked); a grade 0..G-1 (worst first); then a choice.
RANKED_SELECTIONS = [[2, 1, 3, 0], [0, 1, 0], [3, 0, 2], [1, 0]]


def ranked_ballot_vectors() -> dict:
    """A ballot with two ranked questions, a graded one and a choice, for manifests
    that also name their mixers: the booth must write the same manifest
    canonical form (method, seats, grades, mixers) and make the same ballot."""
    rng = SeededRng(RANKED_SEED)
    mixers = [SigningKey.generate(rng).verify_key for _ in range(2)]
    doc = {**RANKED_MANIFEST,
           "mixers": [{"index": i, "verify_key": k.to_json()} for i, k in enumerate(mixers, start=1)]}
    manifest = Manifest.from_json(doc)
    secrets = [[Scalar.random(rng) for _ in range(2)] for _ in range(2)]
    commitments = [[Point.base_mul(a) for a in row] for row in secrets]
    joint_key = commitments[0][0] + commitments[1][0]
    voters = [SigningKey.generate(rng) for _ in range(2)]
    credentials = CredentialList(tuple(PublicCredential(k.verify_key, 1) for k in voters))
    ctx = ElectionContext.build(manifest, joint_key, commitments, credentials)
    voter = voters[0]
    ballot, ballot_secrets = encrypt_ballot(ctx, voter, RANKED_SELECTIONS, SeededRng(RANKED_SEED + b"/encrypt"))
    audited = AuditedBallot.from_secrets(ballot, ballot_secrets)
    return {
        "description": (
            "A ballot of ranked (rank 1..k, 0 unranked) and graded (grade 0..G-1) questions: "
            "one range proof per option over 0..k or 0..G-1 and no sum proof. encrypt_seed_hex "
            "seeds SeededRng for encrypt_ballot as in ballot.json."
        ),
        "manifest": doc,
        "manifest_canonical_hex": _hex(manifest.canonical()),
        "manifest_digest_hex": _hex(manifest.digest()),
        "joint_key": joint_key.to_json(),
        "trustee_commitments": [[c.to_json() for c in row] for row in commitments],
        "credentials_digest_hex": _hex(credentials.digest()),
        "fingerprint_hex": _hex(ctx.fingerprint),
        "voter_seed_hex": _hex(voter.seed),
        "selections": RANKED_SELECTIONS,
        "encrypt_seed_hex": _hex(RANKED_SEED + b"/encrypt"),
        "randomness": ballot_secrets.randomness.to_json(),
        "ballot": ballot.to_json(),
        "ballot_content_hex": _hex(ballot.content_for_signature()),
        "ballot_hash_hex": _hex(ballot.ballot_hash()),
        "tracking_code": ballot.tracking_code,
        "audited": audited.to_json(),
    }
