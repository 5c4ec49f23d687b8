"""Signed commands (evote/commands.py) and their typed payloads (evote/payloads.py)."""

from __future__ import annotations

import pytest

from evote.commands import SignedCommand, check_election_id, sign_command
from evote.drbg import SeededRng
from evote.encoding import b64decode, b64encode, canonical_json
from evote.errors import EncodingError, InvalidSignature, SchemaError, UnauthorisedSigner
from evote.kinds import REGISTRY, SPECS
from evote.payloads import (
    COMMAND_KINDS,
    SIGNER_ROLE,
    Command,
    ElectionCreated,
)
from evote.signing import SigningKey

RNG = SeededRng(b"test-commands")
OFFICIAL, AUTHORITY, T1, T2 = (SigningKey.generate(RNG) for _ in range(4))
MANIFEST = {
    "election_id": "poll",
    "title": "Poll",
    "questions": [
        {"id": "q", "title": "Q?", "options": ["a", "b"], "kind": "choice", "min": 1, "max": 1}
    ],
}


def created_body(**changes) -> dict:
    body = {
        "manifest": MANIFEST,
        "official": OFFICIAL.verify_key.to_json(),
        "credential_authority": AUTHORITY.verify_key.to_json(),
        "trustees": [T1.verify_key.to_json(), T2.verify_key.to_json()],
        "threshold": 2,
    }
    body.update(changes)
    return body


def test_a_signed_command_round_trips_and_verifies() -> None:
    cmd = sign_command(OFFICIAL, "poll", "election_closed", {"note": ["x", 1]})
    again = SignedCommand.from_json(cmd.to_json())
    assert again == cmd
    again.verify("poll", "election_closed")
    assert canonical_json(again.to_json()) == canonical_json(cmd.to_json())


@pytest.mark.parametrize(
    ("election", "kind"), [("poll-2", "election_closed"), ("poll", "election_opened")]
)
def test_a_signature_binds_election_and_kind(election: str, kind: str) -> None:
    cmd = sign_command(OFFICIAL, "poll", "election_closed", {})
    with pytest.raises(InvalidSignature):
        cmd.verify(election, kind)


def test_a_changed_body_or_signer_fails() -> None:
    cmd = sign_command(OFFICIAL, "poll", "key_published", {"a": 1}).to_json()
    tampered = {**cmd, "body": {"a": 2}}
    with pytest.raises(InvalidSignature):
        SignedCommand.from_json(tampered).verify("poll", "key_published")
    other = {**cmd, "signer": AUTHORITY.verify_key.to_json()}
    with pytest.raises(InvalidSignature):
        SignedCommand.from_json(other).verify("poll", "key_published")
    sig = bytearray(b64decode(cmd["signature"]))
    sig[63] ^= 0x80
    with pytest.raises(InvalidSignature):
        SignedCommand.from_json({**cmd, "signature": b64encode(bytes(sig))}).verify(
            "poll", "key_published"
        )


@pytest.mark.parametrize(
    ("mutate", "error"),
    [
        (lambda c: {**c, "extra": 1}, SchemaError),
        (lambda c: {k: v for k, v in c.items() if k != "signer"}, SchemaError),
        (lambda c: {**c, "body": []}, SchemaError),
        (lambda c: {**c, "body": {"x": 1.5e300}}, None),
        (lambda c: {**c, "signer": "short"}, EncodingError),
        (lambda c: {**c, "signature": c["signature"][:-2]}, EncodingError),
        (lambda c: {**c, "signer": b64encode(bytes(32))}, EncodingError),  # small order
        (lambda c: "not an object", SchemaError),
    ],
)
def test_malformed_commands_are_refused_by_name(mutate, error) -> None:
    cmd = sign_command(OFFICIAL, "poll", "election_closed", {}).to_json()
    if error is None:
        SignedCommand.from_json(mutate(cmd))  # well formed; only the signature is wrong
        return
    with pytest.raises(error):
        SignedCommand.from_json(mutate(cmd))


@pytest.mark.parametrize("good", ["a", "city-poll-2025", "x_1", "9" * 64])
def test_good_election_ids(good: str) -> None:
    assert check_election_id(good) == good


@pytest.mark.parametrize("bad", ["", "A", "-x", "_x", "a b", "a/b", "é", "9" * 65, 7, None])
def test_bad_election_ids(bad) -> None:
    with pytest.raises(SchemaError):
        check_election_id(bad)


# --- payloads --------------------------------------------------------------------


def test_every_command_kind_has_a_role_and_a_parser() -> None:
    assert set(SIGNER_ROLE) == COMMAND_KINDS == {s.kind for s in REGISTRY if s.is_command}
    assert "ballot_cast" not in COMMAND_KINDS and "ballot_audited" not in COMMAND_KINDS
    for kind in COMMAND_KINDS:  # every payload type of the registry resolves to a parser
        assert callable(SPECS[kind].parser())


def test_election_created_parses_and_names_its_signers() -> None:
    created = ElectionCreated.from_json(created_body())
    assert created.election_id == "poll"
    assert created.key_of("official") == OFFICIAL.verify_key
    assert created.key_of("credential_authority") == AUTHORITY.verify_key
    assert created.key_of("trustee", 2) == T2.verify_key
    with pytest.raises(UnauthorisedSigner):
        created.key_of("trustee", 3)
    assert ElectionCreated.from_json(created.to_json()) == created


@pytest.mark.parametrize(
    "changes",
    [
        {"threshold": 3},
        {"threshold": 0},
        {"trustees": []},
        {"trustees": [T1.verify_key.to_json(), T1.verify_key.to_json()]},
        {"official": "nope"},
        {"extra": True},
    ],
)
def test_bad_election_created_bodies(changes) -> None:
    with pytest.raises((SchemaError, EncodingError)):
        ElectionCreated.from_json(created_body(**changes))


def test_command_check_wants_the_key_of_the_role() -> None:
    created = ElectionCreated.from_json(created_body())
    ok = Command.parse("election_closed", sign_command(OFFICIAL, "poll", "election_closed", {}).to_json())
    ok.check("poll", created)
    by_ca = Command.parse(
        "election_closed", sign_command(AUTHORITY, "poll", "election_closed", {}).to_json()
    )
    with pytest.raises(UnauthorisedSigner):
        by_ca.check("poll", created)
    with pytest.raises(InvalidSignature):
        ok.check("other", created)


def test_command_parse_refuses_unknown_kinds_and_bad_bodies() -> None:
    with pytest.raises(SchemaError):
        Command.parse("ballot_cast", sign_command(OFFICIAL, "poll", "ballot_cast", {}).to_json())
    with pytest.raises(SchemaError):
        Command.parse(
            "election_opened", sign_command(OFFICIAL, "poll", "election_opened", {}).to_json()
        )
