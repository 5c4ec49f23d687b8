"""``evote voters``: register who may log in to vote, and hand out their login codes.

A voter needs two secrets to vote: a *login code* from the ballot server (this
command) and a *credential* from the credential authority (``evote
credentials issue``).  The server binds a credential to the first login that
casts with it; since the server never learns credentials and the credential
authority never learns login codes, neither can vote for an abstaining voter
alone (the Belenios split).

The server generates each login code, stores only its hash and shows it once,
in the answer to this command, which writes it to ``DIR/<voter id>.login``
(mode 0600, inside a new directory 0700, all or nothing).  A login file::

    {"type": "evote-login", "v": 1, "election": "...", "voter": "...", "login_code": "..."}
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from cli import api
from cli.client import Client
from cli.console import CliError, note, say
from cli.keyfiles import json_bytes, new_directory, read_bytes, read_key_file
from cli.options import OrderedGroup, election_option, official_key_option, server_option
from cli.roster import load_roster
from evote.commands import sign_command
from evote.encoding import Fields, parse_json
from evote.errors import EncodingError, EvoteError, SchemaError
from evote.limits import MAX_LOGIN_FILE as MAX_LOGIN_FILE
from evote.signing import SigningKey

LOGIN_FILE_TYPE = "evote-login"
LOGIN_FILE_VERSION = 1
#: The signed request kind (not a board entry: logins are never published).
REGISTER_KIND = "register_voters"
#: The register body's id_kind for OpenID provider subjects (ballot_server/oidc.py).
OIDC_SUBJECT = "oidc_subject"
#: Voter ids per request (the server takes at most 100,000).
REGISTER_BATCH = 50_000


def login_file_json(election_id: str, voter_id: str, code: str) -> dict[str, Any]:
    return {
        "type": LOGIN_FILE_TYPE,
        "v": LOGIN_FILE_VERSION,
        "election": election_id,
        "voter": voter_id,
        "login_code": code,
    }


def read_login_file(path: str | Path) -> tuple[str | None, str]:
    """``(election id or None, login code)`` from a login file or a file holding just the code."""
    data = read_bytes(path, "login file")
    if len(data) > MAX_LOGIN_FILE:
        raise CliError(f"login file {path} is too large to be a login file", code="wrong_file")
    text = data.decode("utf-8", "replace").strip()
    if not text.startswith("{"):
        if not text or any(c.isspace() for c in text):
            raise CliError(f"login file {path} does not hold a login code", code="wrong_file")
        return None, text
    try:
        obj = parse_json(data)
    except EncodingError as exc:
        raise CliError(f"login file {path} is damaged: {exc.message}", code="wrong_file") from None
    if not isinstance(obj, dict) or obj.get("type") != LOGIN_FILE_TYPE:
        raise CliError(f"wrong file: {path} is not an evote login file", code="wrong_file")
    try:
        f = Fields(obj, "login file", required=("type", "v", "election", "voter", "login_code"))
        if f.int("v") != LOGIN_FILE_VERSION:
            raise SchemaError(f"{f.sub('v')}: unsupported version, expected {LOGIN_FILE_VERSION}")
        return f.str("election", max_len=64), f.str("login_code", max_len=1000)
    except EvoteError as exc:
        raise CliError(f"login file {path} is damaged: {exc.message}", code="wrong_file") from None


def register_voters(
    client: Client, key: SigningKey, election_id: str, voter_ids: list[str], out: Path
) -> int:
    """Register ``voter_ids`` and write one login file per voter into the new directory ``out``.

    The directory is checked first, so that codes the server shows only once
    are not lost to an existing directory; the files are written only after
    the server has accepted every id.
    """
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise CliError(f"{out} already exists and is not empty; refusing to overwrite it", code="already_exists")
    logins: dict[str, str] = {}
    failure: EvoteError | None = None
    for start in range(0, len(voter_ids), REGISTER_BATCH):
        batch = voter_ids[start : start + REGISTER_BATCH]
        command = sign_command(key, election_id, REGISTER_KIND, {"voters": batch})
        try:
            answer = api.register_voters(client, election_id, command, key)
        except EvoteError as exc:
            if not logins:
                raise
            failure = exc  # keep the codes already issued: the server will not show them again
            break
        if set(answer) != set(batch):
            raise CliError("the server's answer does not list exactly the registered voters",
                           code="bad_answer")
        logins.update(answer)
    with new_directory(out, private=True) as put:
        for voter_id, code in logins.items():
            put(f"{voter_id}.login", json_bytes(login_file_json(election_id, voter_id, code)), True)
    if failure is not None:
        raise CliError(
            f"registered {len(logins)} of {len(voter_ids)} voters "
            f"(their login files are in {out}); "
            f"the rest failed: {failure.message}", code=failure.code
        )
    return len(logins)


def register_subjects(
    client: Client, key: SigningKey, election_id: str, subjects: list[str]
) -> int:
    """Register the city's OpenID provider subjects (``id_kind: "oidc_subject"``).

    The server stores a keyed hash of each, never the subject, and issues no
    login code: the voter signs in at the provider (ballot_server/oidc.py)."""
    done = 0
    for start in range(0, len(subjects), REGISTER_BATCH):
        batch = subjects[start : start + REGISTER_BATCH]
        body = {"voters": batch, "id_kind": OIDC_SUBJECT}
        command = sign_command(key, election_id, REGISTER_KIND, body)
        try:
            answer = api.register_voters(client, election_id, command, key)
        except EvoteError as exc:
            if not done:
                raise
            raise CliError(
                f"registered {done} of {len(subjects)} subjects; "
                f"the rest failed: {exc.message} [{exc.code}]"
            ) from None
        if answer:
            raise CliError("the server answered login codes for provider subjects [bad_answer]")
        done += len(batch)
    return done


@click.group(cls=OrderedGroup)
def voters() -> None:
    """Voter logins: who may cast a ballot (checked by the server)."""


@voters.command("register")
@election_option
@click.option(
    "--from",
    "roster_path",
    required=True,
    type=click.Path(dir_okay=False),
    help="voters.csv with a voter_id column.",
)
@click.option(
    "--out",
    "out_dir",
    type=click.Path(file_okay=False),
    help="New directory for the login files (one per voter, mode 0600).",
)
@click.option(
    "--oidc-subjects",
    is_flag=True,
    help="The voter_id column holds the city's OpenID provider subjects: no login codes.",
)
@server_option
@official_key_option
def register_command(
    election_id: str,
    roster_path: str,
    out_dir: str | None,
    oidc_subjects: bool,
    server: str,
    key_path: str,
) -> None:
    """Register voter ids with the server and save each voter's login code.

    The server stores only a hash of each login code and never learns any
    credential; deliver each DIR/<voter id>.login to its voter by a channel
    separate from the credential sheet.
    """
    if oidc_subjects == (out_dir is not None):
        raise CliError("give --out DIR for login codes, or --oidc-subjects (not both) [usage]")
    roster = load_roster(roster_path)
    key = read_key_file(key_path, "official")
    if oidc_subjects:
        with Client(server) as client:
            n = register_subjects(client, key, election_id, [v.voter_id for v in roster])
        say(f"registered {n} provider subjects for {election_id}")
        return
    assert out_dir is not None
    with Client(server) as client:
        n = register_voters(client, key, election_id, [v.voter_id for v in roster], Path(out_dir))
    note(f"login files are in {out_dir}")
    say(f"registered {n} voters for {election_id}")
